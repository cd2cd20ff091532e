# cmake/keras.cmake -- the optional Keras interchange library: target densenet_keras
# (densenet::keras, libdensenet_keras.a) from src/keras_*.c, linking densenet, HDF5 (serial C
# library), libzip and cJSON; its install (header, library, CMake package densenet_keras with
# target densenet::keras, pkg-config file densenet-keras.pc) and its test (tests/keras).
#
# DENSENET_KERAS=AUTO (default) builds it when all three libraries are found, ON requires them,
# OFF never builds it. libdensenet.a itself never depends on them.
# Included from the top-level CMakeLists.txt after the core target and its install rules.

set(DENSENET_KERAS "AUTO" CACHE STRING "Build libdensenet_keras (AUTO, ON or OFF)")
set_property(CACHE DENSENET_KERAS PROPERTY STRINGS AUTO ON OFF)
string(TOUPPER "${DENSENET_KERAS}" _dnk_mode)
if(NOT _dnk_mode MATCHES "^(AUTO|ON|OFF)$")
  message(FATAL_ERROR "DENSENET_KERAS must be AUTO, ON or OFF, not '${DENSENET_KERAS}'")
endif()

set(DENSENET_HAVE_KERAS OFF)
if(NOT _dnk_mode STREQUAL "OFF")
  set(_dnk_missing "")
  find_package(HDF5 QUIET COMPONENTS C)
  if(NOT HDF5_FOUND OR HDF5_IS_PARALLEL OR NOT TARGET hdf5::hdf5)
    list(APPEND _dnk_missing "HDF5 (serial, C; Debian: libhdf5-dev)")
  endif()
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(DN_LIBZIP QUIET IMPORTED_TARGET libzip)
    pkg_check_modules(DN_CJSON QUIET IMPORTED_TARGET libcjson)
  endif()
  if(NOT DN_LIBZIP_FOUND)
    list(APPEND _dnk_missing "libzip (pkg-config libzip; Debian: libzip-dev)")
  endif()
  if(NOT DN_CJSON_FOUND)
    list(APPEND _dnk_missing "cJSON (pkg-config libcjson; Debian: libcjson-dev)")
  endif()
  if(_dnk_missing)
    list(JOIN _dnk_missing ", " _dnk_missing_text)
    if(_dnk_mode STREQUAL "ON")
      message(FATAL_ERROR "DENSENET_KERAS=ON but not found: ${_dnk_missing_text}")
    endif()
    message(STATUS "densenet: Keras interchange (libdensenet_keras) not built; missing: "
                   "${_dnk_missing_text}")
  else()
    set(DENSENET_HAVE_KERAS ON)
  endif()
endif()

if(NOT DENSENET_HAVE_KERAS)
  return()
endif()
message(STATUS "densenet: Keras interchange (libdensenet_keras) with HDF5 ${HDF5_VERSION}, "
               "libzip ${DN_LIBZIP_VERSION}, cJSON ${DN_CJSON_VERSION}")

file(GLOB DENSENET_KERAS_SOURCES CONFIGURE_DEPENDS "${PROJECT_SOURCE_DIR}/src/keras_*.c")
list(SORT DENSENET_KERAS_SOURCES)

add_library(densenet_keras STATIC ${DENSENET_KERAS_SOURCES})
add_library(densenet::keras ALIAS densenet_keras)
set_target_properties(densenet_keras PROPERTIES OUTPUT_NAME densenet_keras EXPORT_NAME keras
                      PUBLIC_HEADER "${PROJECT_SOURCE_DIR}/include/densenet_keras.h")
target_include_directories(densenet_keras
  PUBLIC $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
         $<INSTALL_INTERFACE:${CMAKE_INSTALL_INCLUDEDIR}>
  PRIVATE "${PROJECT_SOURCE_DIR}/src")
target_link_libraries(densenet_keras PUBLIC densenet hdf5::hdf5 PkgConfig::DN_LIBZIP
                                            PkgConfig::DN_CJSON)
dn_target_settings(densenet_keras)

# ---- install: library + header, CMake package densenet_keras, densenet-keras.pc ----------------
install(TARGETS densenet_keras EXPORT densenetKerasTargets
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        PUBLIC_HEADER DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
set(DENSENET_KERAS_CMAKE_DIR "${CMAKE_INSTALL_LIBDIR}/cmake/densenet_keras")
install(EXPORT densenetKerasTargets NAMESPACE densenet:: DESTINATION "${DENSENET_KERAS_CMAKE_DIR}")
configure_package_config_file(cmake/densenet_kerasConfig.cmake.in
  "${PROJECT_BINARY_DIR}/densenet_kerasConfig.cmake"
  INSTALL_DESTINATION "${DENSENET_KERAS_CMAKE_DIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/densenet_kerasConfigVersion.cmake"
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/densenet_kerasConfig.cmake"
              "${PROJECT_BINARY_DIR}/densenet_kerasConfigVersion.cmake"
        DESTINATION "${DENSENET_KERAS_CMAKE_DIR}")

# The HDF5 library for a static link (the first entry of HDF5_C_LIBRARIES naming hdf5; the
# others are its own dependencies, which its shared library brings along).
set(DENSENET_KERAS_PC_HDF5 "-lhdf5")
foreach(_dnk_lib IN LISTS HDF5_C_LIBRARIES)
  if(_dnk_lib MATCHES "hdf5")
    get_filename_component(_dnk_dir "${_dnk_lib}" DIRECTORY)
    set(DENSENET_KERAS_PC_HDF5 "-L${_dnk_dir} -lhdf5")
    if(_dnk_lib MATCHES "hdf5_serial")
      set(DENSENET_KERAS_PC_HDF5 "-L${_dnk_dir} -lhdf5_serial")
    endif()
    break()
  endif()
endforeach()
configure_file(cmake/densenet-keras.pc.in "${PROJECT_BINARY_DIR}/densenet-keras.pc" @ONLY)
install(FILES "${PROJECT_BINARY_DIR}/densenet-keras.pc"
        DESTINATION "${CMAKE_INSTALL_LIBDIR}/pkgconfig")


# densenet-predict (tools/, added before this file) reads Keras files too when this library is
# built: tools/densenet-predict.c calls dn_keras_load under DENSENET_HAVE_KERAS.
if(TARGET densenet-predict)
  target_link_libraries(densenet-predict PRIVATE densenet_keras)
  target_compile_definitions(densenet-predict PRIVATE DENSENET_HAVE_KERAS=1)
endif()

# ---- test ---------------------------------------------------------------------------------------
if(DENSENET_BUILD_TESTS)
  add_subdirectory(tests/keras)
endif()
