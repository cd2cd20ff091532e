/* test_keras_save.c -- dn_keras_save under concurrency and exhausted memory (issue 12 items 6
 * and 8): threads saving different models to one path all succeed and leave one whole model;
 * cJSON's allocations go through the dn_allocator hook; a save that fails an allocation
 * anywhere returns DN_ERR_NOMEM with the old file intact, and a save that returns DN_OK leaves
 * no failure recorded. */
#define _POSIX_C_SOURCE 200809L
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dn_test.h"
#include "core/status.h"
#include "densenet_keras.h"
#include "keras/keras_io.h"

static char g_dir[256];

static const char *in_dir(char *buf, size_t cap, const char *name) {
  snprintf(buf, cap, "%s/%s", g_dir, name);
  return buf;
}

/* Files in g_dir other than the ones named (a temporary file left behind is one). */
static int other_files(const char *keep) {
  DIR *d = opendir(g_dir);
  assert_non_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) != NULL)
    if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
        strcmp(e->d_name, keep) != 0) {
      print_message("  left behind: %s\n", e->d_name);
      n++;
    }
  closedir(d);
  return n;
}

/* A small model with weights drawn from `seed` (each seed a different model). */
static dn_model *model_with_seed(uint64_t seed) {
  dn_model *m = dn_sequential(dn_dense(5, .activation = "relu", .input_dim = 3), dn_dense(2));
  assert_non_null(m);
  assert_ok(dn_model_set_seed(m, seed));
  assert_ok(dn_model_build(m, 3));
  assert_ok(dn_compile(m, .optimizer = "adam", .loss = "mse"));
  return m;
}

enum { THREADS = 4, SAVES = 20, PARAMS = 3 * 5 + 5 + 5 * 2 + 2 };

typedef struct job {
  dn_model *model;
  const char *path;
  int failures;
  char first_error[512];
} job;

static void *save_loop(void *arg) {
  job *j = arg;
  for (int i = 0; i < SAVES; i++)
    if (dn_keras_save(j->model, j->path) != DN_OK && j->failures++ == 0)
      snprintf(j->first_error, sizeof j->first_error, "%s", dn_last_error());
  return NULL;
}

static void test_concurrent_saves_to_one_path(void **state) {
  (void)state;
  char path[300];
  in_dir(path, sizeof path, "shared.keras");
  job jobs[THREADS];
  float want[THREADS][PARAMS];
  pthread_t th[THREADS];
  for (int t = 0; t < THREADS; t++) {
    jobs[t] = (job){.model = model_with_seed(100 + (uint64_t)t), .path = path};
    assert_int_equal(dn_model_count_params(jobs[t].model), PARAMS);
    assert_ok(dn_model_get_weights(jobs[t].model, want[t], PARAMS));
  }
  for (int t = 0; t < THREADS; t++)
    assert_int_equal(pthread_create(&th[t], NULL, save_loop, &jobs[t]), 0);
  for (int t = 0; t < THREADS; t++)
    assert_int_equal(pthread_join(th[t], NULL), 0);
  for (int t = 0; t < THREADS; t++) {
    if (jobs[t].failures != 0)
      fail_msg("thread %d: %d of %d saves failed, first: %s", t, jobs[t].failures, SAVES,
               jobs[t].first_error);
  }
  assert_int_equal(other_files("shared.keras"), 0);
  dn_model *r = dn_keras_load(path);
  if (r == NULL)
    fail_msg("%s", dn_last_error());
  float got[PARAMS];
  assert_int_equal(dn_model_count_params(r), PARAMS);
  assert_ok(dn_model_get_weights(r, got, PARAMS));
  int same = -1;
  for (int t = 0; t < THREADS; t++)
    if (memcmp(got, want[t], sizeof got) == 0)
      same = t;
  assert_true(same >= 0); /* one thread's model, whole */
  dn_model_free(r);
  for (int t = 0; t < THREADS; t++)
    dn_model_free(jobs[t].model);
  unlink(path);
}

/* ---- a counting allocator that can fail the n-th allocation ---- */

static long budget = -1; /* allocations before the one that fails (that one only); -1: none */
static long n_allocs, n_frees;
static void *counting_alloc(size_t size, size_t alignment, void *ctx) {
  (void)ctx;
  if (budget >= 0 && budget-- == 0)
    return NULL;
  void *p = NULL;
  if (posix_memalign(&p, alignment, size) != 0)
    return NULL;
  n_allocs++;
  return p;
}
static void counting_free(void *p, void *ctx) {
  (void)ctx;
  n_frees++;
  free(p);
}
static const dn_allocator counting = {counting_alloc, counting_free, NULL};

static void test_cjson_allocations_go_through_the_hook(void **state) {
  (void)state;
  char path[300];
  in_dir(path, sizeof path, "counted.keras");
  dn_model *m = model_with_seed(7);
  assert_ok(dn_set_allocator(&counting));
  n_allocs = n_frees = 0;
  assert_ok(dn_keras_save(m, path));
  long save_allocs = n_allocs;
  assert_int_equal(n_allocs, n_frees);
  /* cJSON itself now allocates through the hook: a parse of at least six allocations' worth of
   * JSON (object, key, array, three numbers) is seen, and all of it freed through it. */
  n_allocs = n_frees = 0;
  cJSON *j = cJSON_Parse("{\"a\": [1, 2, 3]}");
  assert_non_null(j);
  assert_true(n_allocs >= 6);
  cJSON_Delete(j);
  assert_int_equal(n_frees, n_allocs);
  n_allocs = n_frees = 0;
  /* in this process: an isolated load parses (and allocates) in the helper process */
  dn_model *r = dn_keras_load_with(path, (dn_keras_options){.in_process = true});
  if (r == NULL)
    fail_msg("%s", dn_last_error());
  dn_model_free(r);
  long load_allocs = n_allocs;
  assert_int_equal(n_allocs, n_frees);
  assert_ok(dn_set_allocator(NULL));
  print_message("  allocations through the hook: save %ld, load %ld\n", save_allocs, load_allocs);
  /* the save's config.json alone is dozens of cJSON nodes */
  assert_true(save_allocs > 50);
  assert_true(load_allocs > 50);
  dn_model_free(m);
  unlink(path);
}

/* Every allocation of a save failed in turn, alone (the ones after it succeed, so a failure
 * that is swallowed would show as DN_OK): DN_ERR_NOMEM naming the call and the previous file
 * intact, or DN_OK with no failure recorded (0.1 returned DN_OK with DN_ERR_NOMEM left behind
 * when the directory-sync path could not be allocated; cJSON builders that fail unseen must not
 * produce an incomplete config.json either). */
static void test_save_fault_injection(void **state) {
  (void)state;
  char path[300];
  in_dir(path, sizeof path, "faults.keras");
  dn_model *old = model_with_seed(1), *m = model_with_seed(2);
  float want_old[PARAMS], want_new[PARAMS], got[PARAMS];
  assert_ok(dn_model_get_weights(old, want_old, PARAMS));
  assert_ok(dn_model_get_weights(m, want_new, PARAMS));
  long n;
  for (n = 0;; n++) {
    assert_ok(dn_keras_save(old, path));
    dn_error_state clear = {DN_OK, ""};
    dn_error_restore(&clear);
    n_allocs = n_frees = 0;
    budget = n;
    assert_ok(dn_set_allocator(&counting));
    dn_status st = dn_keras_save(m, path);
    budget = -1;
    assert_ok(dn_set_allocator(NULL));
    if (n_allocs != n_frees)
      fail_msg("allocation %ld failed: %ld allocations, %ld frees (status %d: %s)", n, n_allocs,
               n_frees, (int)st, dn_last_error());
    if (st == DN_OK) {
      assert_int_equal(dn_last_status(), DN_OK);
      break;
    }
    assert_int_equal(st, DN_ERR_NOMEM);
    assert_int_equal(dn_last_status(), DN_ERR_NOMEM);
    if (strstr(dn_last_error(), "dn_keras_save") == NULL)
      fail_msg("allocation %ld: the message does not name the call: %s", n, dn_last_error());
    dn_model *r = dn_keras_load(path);
    assert_non_null(r);
    assert_ok(dn_model_get_weights(r, got, PARAMS));
    assert_memory_equal(got, want_old, sizeof got);
    dn_model_free(r);
    assert_int_equal(other_files("faults.keras"), 0);
  }
  print_message("  a save makes %ld allocations through the hook; each failure tried\n", n);
  assert_true(n > 50);
  dn_model *r = dn_keras_load(path);
  assert_non_null(r);
  assert_ok(dn_model_get_weights(r, got, PARAMS));
  assert_memory_equal(got, want_new, sizeof got);
  dn_model_free(r);
  dn_model_free(old);
  dn_model_free(m);
  unlink(path);
}

int main(void) {
  snprintf(g_dir, sizeof g_dir, "%s/dn-keras-save.XXXXXX",
           getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
  if (mkdtemp(g_dir) == NULL) {
    perror("mkdtemp");
    return 1;
  }
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_concurrent_saves_to_one_path),
      cmocka_unit_test(test_cjson_allocations_go_through_the_hook),
      cmocka_unit_test(test_save_fault_injection),
  };
  int rc = cmocka_run_group_tests_name("keras_save", tests, NULL, NULL);
  rmdir(g_dir);
  return rc;
}
