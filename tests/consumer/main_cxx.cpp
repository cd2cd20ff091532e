// main_cxx.cpp -- the installed <densenet.h> used from C++: the header compiles cleanly as C++
// and its functions link with C linkage (extern "C"). C++ has no compound literals, so it uses
// the plain function twins of the macros.
#include <densenet.h>

#include <cstdio>
#include <cstring>

int main() {
  if (std::strcmp(dn_version(), DN_VERSION_STRING) != 0)
    return 1;
  dn_dense_options hidden = {};
  hidden.units = 4;
  hidden.activation = "relu";
  hidden.input_dim = 2;
  dn_dense_options output = {};
  output.units = 1;
  dn_layer *layers[] = {dn_dense_with(hidden), dn_dense_with(output)};
  dn_model *model = dn_sequential_with(2, layers);
  if (model == nullptr) {
    std::fprintf(stderr, "consumer (C++): %s\n", dn_last_error());
    return 1;
  }
  size_t params = dn_model_count_params(model); // (2*4 + 4) + (4*1 + 1)
  dn_model_free(model);
  if (params != 17) {
    std::fprintf(stderr, "consumer (C++): %zu parameters, expected 17\n", params);
    return 1;
  }
  std::printf("consumer (C++): densenet %s, %zu parameters\n", dn_version(), params);
  return 0;
}
