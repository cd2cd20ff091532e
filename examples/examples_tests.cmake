# examples_tests.cmake -- ctest registrations for the example programs (included from
# examples/CMakeLists.txt). Each test runs a program through run_example.cmake and asserts on
# what it prints and writes.
#
# Labels: `examples` for the smoke tests (2 epochs on synthetic or fixture data, a few seconds
# each; those run through the cmake driver also carry `driver`: valgrind would only watch cmake
# there, so a memcheck pass can leave them out with -LE driver); `long` for the runs on the real datasets in ${DENSENET_SHARED_DIR}/data, which are
# skipped (reported as such) when that folder is absent. The MAE bars of the long tests are
# measured and explained in docs/accuracy.md.
set(DN_EXAMPLE_DRIVER "${CMAKE_CURRENT_SOURCE_DIR}/run_example.cmake")
set(DN_EXAMPLE_DATA "${DENSENET_SHARED_DIR}/data")

# dn_example_test(NAME name PROGRAM prog [LABEL l] [TIMEOUT s] [EXPECT_RC n] [FIXTURE f]
#                 [MAX_MAE x MAE_REGEX re] ARGS ... EXPECT ... REJECT ... SVGS ... FILES ...
#                 NEED ...)
function(dn_example_test)
  cmake_parse_arguments(T "" "NAME;PROGRAM;LABEL;TIMEOUT;EXPECT_RC;FIXTURE;MAX_MAE;MAE_REGEX"
                        "ARGS;EXPECT;REJECT;SVGS;FILES;NEED" ${ARGN})
  if(NOT T_LABEL)
    set(T_LABEL examples driver)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  if(NOT DEFINED T_EXPECT_RC)
    set(T_EXPECT_RC 0)
  endif()
  set(defs)
  foreach(var IN ITEMS ARGS EXPECT REJECT SVGS FILES NEED)
    string(REPLACE ";" "|" joined "${T_${var}}")
    list(APPEND defs "-D${var}=${joined}")
  endforeach()
  add_test(NAME example_${T_NAME}
           COMMAND "${CMAKE_COMMAND}" "-DEXE=$<TARGET_FILE:${T_PROGRAM}>"
                   "-DOUT=${CMAKE_CURRENT_BINARY_DIR}/test_out/${T_NAME}"
                   "-DDATA=${DN_EXAMPLE_DATA}" "-DEXPECT_RC=${T_EXPECT_RC}"
                   "-DFIXTURE=${T_FIXTURE}" "-DMAX_MAE=${T_MAX_MAE}" "-DMAE_REGEX=${T_MAE_REGEX}"
                   ${defs} -P "${DN_EXAMPLE_DRIVER}")
  set_tests_properties(example_${T_NAME} PROPERTIES LABELS "${T_LABEL}" TIMEOUT ${T_TIMEOUT}
                       SKIP_REGULAR_EXPRESSION "DN_SKIP:")
  foreach(need IN LISTS T_NEED) # (run_example.cmake skips on the same check at run time)
    if(NOT EXISTS "${need}")
      dn_note_skip(example_${T_NAME} "${need} is absent (not shipped: DENSENET_SHARED_DIR)")
      break()
    endif()
  endforeach()
endfunction()

set(DN_NUMBER "[0-9]+\\.[0-9]+")

# ---- smoke tests: every example, 2 epochs ------------------------------------------------

dn_example_test(NAME seed_network PROGRAM seed_network ARGS --epochs 2 --out @OUT@
  EXPECT "Total params: 31 " "Trainable params: 31 " "training MAE: +${DN_NUMBER}"
         "validation MAE: ${DN_NUMBER} \\(predicting the mean: ${DN_NUMBER}"
         "plot: .*seed_network_slice\\.svg"
  SVGS seed_network_slice.svg)

dn_example_test(NAME curve_fit PROGRAM curve_fit ARGS --epochs 2 --out @OUT@
  EXPECT "one Dense\\(1\\) layer +${DN_NUMBER}"
         "Dense\\(32\\) -> Dense\\(1\\), no activation +${DN_NUMBER}"
         "ReLU stack: [^\n]* ${DN_NUMBER}" "plot: .*curve_fit\\.svg"
  SVGS curve_fit.svg)

dn_example_test(NAME concrete_synthetic PROGRAM concrete ARGS --epochs 2 --out @OUT@
  EXPECT "SYNTHETIC concrete-like data set of 1030 mixes" "Total params: 530,450 "
         "validation MAE: ${DN_NUMBER} MPa \\(predicting the mean strength: ${DN_NUMBER} MPa\\)"
         "learning curves: .*concrete_learning_curves\\.svg" "model saved: .*concrete\\.dnn"
         "reloaded model: validation MAE ${DN_NUMBER} MPa \\(the same predictions\\)"
  SVGS concrete_learning_curves.svg FILES concrete.dnn)

dn_example_test(NAME concrete_csv PROGRAM concrete FIXTURE concrete
  ARGS --epochs 2 --out @OUT@ @OUT@/concrete.csv
  EXPECT "Loaded 80 concrete mixes from .*concrete\\.csv" "validation MAE: ${DN_NUMBER} MPa"
  REJECT "SYNTHETIC"
  SVGS concrete_learning_curves.svg)

dn_example_test(NAME red_wine_synthetic PROGRAM red_wine ARGS --epochs 2 --out @OUT@
  EXPECT "SYNTHETIC wine-like data set of 1599 wines" "dropout \\(Dropout\\)"
         "batch_normalization \\(BatchNormali"
         "validation MAE: ${DN_NUMBER} quality points \\(predicting the mean quality: "
         "learning curves: .*red_wine_learning_curves\\.svg"
  SVGS red_wine_learning_curves.svg)

dn_example_test(NAME red_wine_csv PROGRAM red_wine FIXTURE red_wine
  ARGS --epochs 2 --out @OUT@ @OUT@/red_wine.csv
  EXPECT "Loaded 80 wines from .*red_wine\\.csv" "validation MAE: ${DN_NUMBER} quality points"
  REJECT "SYNTHETIC"
  SVGS red_wine_learning_curves.svg)

dn_example_test(NAME fuel_economy_synthetic PROGRAM fuel_economy ARGS --epochs 2 --out @OUT@
  EXPECT "SYNTHETIC car data set of 392 cars" "\\(None, 9\\)"
         "validation MAE: ${DN_NUMBER} mpg \\(predicting the mean mpg: ${DN_NUMBER}\\)"
         "learning curves: .*fuel_economy_learning_curves\\.svg"
  SVGS fuel_economy_learning_curves.svg)

dn_example_test(NAME fuel_economy_csv PROGRAM fuel_economy FIXTURE auto_mpg
  ARGS --epochs 2 --out @OUT@ @OUT@/auto_mpg.csv
  EXPECT "Loaded 80 cars from .*auto_mpg\\.csv" "validation MAE: ${DN_NUMBER} mpg"
  REJECT "SYNTHETIC"
  SVGS fuel_economy_learning_curves.svg)

# The protocol mode on fixture files (60 rows, identity-like split files): the whole path from
# split file to the printed MAE, in 2 epochs.
foreach(p IN ITEMS concrete red_wine fuel_economy)
  if(p STREQUAL "red_wine")
    set(csv red_wine.csv)
  elseif(p STREQUAL "fuel_economy")
    set(csv auto_mpg.csv)
  else()
    set(csv concrete.csv)
  endif()
  dn_example_test(NAME ${p}_protocol_fixture PROGRAM ${p} FIXTURE splits
    ARGS --protocol --epochs 2 --splits @OUT@/splits @OUT@/${csv}
    EXPECT "60 rows, 48 train / 12 validation" "NOT the protocol's epoch count"
           "seed 0: validation MAE ${DN_NUMBER} .*last-10 avg ${DN_NUMBER}, "
           "best ${DN_NUMBER} at epoch [12]\\)")
endforeach()

# Command-line and data errors: a clear message and a non-zero exit.
dn_example_test(NAME bad_option PROGRAM concrete EXPECT_RC 2 ARGS --epochs 0
  EXPECT "--epochs needs a positive whole number")
dn_example_test(NAME unknown_option PROGRAM red_wine EXPECT_RC 2 ARGS --frobnicate
  EXPECT "unknown option '--frobnicate'")
dn_example_test(NAME missing_csv PROGRAM fuel_economy EXPECT_RC 1
  ARGS --epochs 1 --out @OUT@ @OUT@/no_such_file.csv EXPECT "no_such_file\\.csv")
dn_example_test(NAME protocol_wrong_layout PROGRAM red_wine FIXTURE splits EXPECT_RC 1
  ARGS --protocol --epochs 1 --splits @OUT@/splits @OUT@/concrete.csv
  EXPECT "has 9 columns; the winequality-red layout needs column 12 as the target")
dn_example_test(NAME help PROGRAM concrete ARGS --help
  EXPECT "usage: .*concrete" "--protocol-all" "--out DIR")
dn_example_test(NAME seed_network_no_protocol PROGRAM seed_network EXPECT_RC 2 ARGS --protocol
  EXPECT "makes its own data")

# The small programs run directly (not through the cmake driver), 1 epoch, so that
# `ctest -T memcheck` (valgrind) checks the examples themselves and not cmake; only the exit code
# counts. (concrete and red_wine train 512-wide layers: one epoch takes ~5 minutes under
# valgrind, so they are left to the sanitizer build, which instruments the driver's children.)
foreach(p IN ITEMS seed_network curve_fit fuel_economy)
  add_test(NAME example_${p}_direct
           COMMAND ${p} --epochs 1 --quiet --out "${CMAKE_CURRENT_BINARY_DIR}/test_out/${p}_direct")
  set_tests_properties(example_${p}_direct PROPERTIES LABELS examples TIMEOUT 300)
endforeach()

# ---- real datasets (label long) ------------------------------------------------------------
# Fixed seed 0, the examples' default settings on the real files; bars from docs/accuracy.md.
dn_example_test(NAME concrete_real PROGRAM concrete LABEL long TIMEOUT 300
  NEED "${DN_EXAMPLE_DATA}/concrete.csv"
  ARGS --seed 0 --out @OUT@ @DATA@/concrete.csv
  MAE_REGEX "validation MAE: (${DN_NUMBER}) MPa" MAX_MAE 4.2
  SVGS concrete_learning_curves.svg)
dn_example_test(NAME red_wine_real PROGRAM red_wine LABEL long TIMEOUT 300
  NEED "${DN_EXAMPLE_DATA}/winequality-red.csv"
  ARGS --seed 0 --out @OUT@ @DATA@/winequality-red.csv
  MAE_REGEX "validation MAE: (${DN_NUMBER}) quality" MAX_MAE 0.56
  SVGS red_wine_learning_curves.svg)
dn_example_test(NAME fuel_economy_real PROGRAM fuel_economy LABEL long TIMEOUT 300
  NEED "${DN_EXAMPLE_DATA}/auto-mpg.csv"
  ARGS --seed 0 --out @OUT@ @DATA@/auto-mpg.csv
  MAE_REGEX "validation MAE: (${DN_NUMBER}) mpg" MAX_MAE 2.6
  SVGS fuel_economy_learning_curves.svg)
# The accuracy protocol itself, seed 0, for each data set.
dn_example_test(NAME fuel_economy_protocol_seed0 PROGRAM fuel_economy LABEL long TIMEOUT 300
  NEED "${DN_EXAMPLE_DATA}/auto-mpg.csv" "${DENSENET_SHARED_DIR}/bench/splits/auto-mpg.txt"
  ARGS --protocol --seed 0 @DATA@/auto-mpg.csv
  MAE_REGEX "seed 0: validation MAE (${DN_NUMBER}) mpg" MAX_MAE 2.9)
dn_example_test(NAME red_wine_protocol_seed0 PROGRAM red_wine LABEL long TIMEOUT 300
  NEED "${DN_EXAMPLE_DATA}/winequality-red.csv"
  "${DENSENET_SHARED_DIR}/bench/splits/winequality-red.txt"
  ARGS --protocol --seed 0 @DATA@/winequality-red.csv
  MAE_REGEX "seed 0: validation MAE (${DN_NUMBER}) quality" MAX_MAE 0.56)
dn_example_test(NAME concrete_protocol_seed0 PROGRAM concrete LABEL long TIMEOUT 400
  NEED "${DN_EXAMPLE_DATA}/concrete.csv" "${DENSENET_SHARED_DIR}/bench/splits/concrete.txt"
  ARGS --protocol --seed 0 @DATA@/concrete.csv
  MAE_REGEX "seed 0: validation MAE (${DN_NUMBER}) MPa" MAX_MAE 3.5)
