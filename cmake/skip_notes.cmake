# skip_notes.cmake -- why tests will skip in this configuration, said at configure time.
#
# A test that cannot run here (its data, a tool or a build option is absent) exits 77 or prints
# a skip marker, and ctest counts it as skipped without saying why (the reason is in its output,
# shown only by `ctest -V`); a check skipped inside a passing test is not counted at all. Each
# registration whose skip condition is known at configure time calls dn_note_skip; the
# top-level CMakeLists.txt calls dn_print_skip_notes() last, which prints the list, writes it
# to <build>/skipped-tests.txt and has ctest print it after its summary (CTEST_CUSTOM_POST_TEST
# in <build>/CTestCustom.cmake, which ctest reads). README.md ("Tests") lists every skip with
# what makes it run.

# dn_note_skip(test reason...): `test` (a ctest name, or "name: part" for checks skipped inside
# a passing test) will skip because of the reason (its arguments joined, so a long reason may
# be split into several quoted strings).
function(dn_note_skip test)
  string(JOIN "" reason ${ARGN})
  set_property(GLOBAL APPEND PROPERTY DN_SKIP_NOTES "${test}: ${reason}")
  if(NOT test MATCHES ":")
    set_property(GLOBAL APPEND PROPERTY DN_SKIP_TESTS "${test}")
  endif()
endfunction()

function(dn_print_skip_notes)
  get_property(notes GLOBAL PROPERTY DN_SKIP_NOTES)
  get_property(tests GLOBAL PROPERTY DN_SKIP_TESTS)
  set(file "${PROJECT_BINARY_DIR}/skipped-tests.txt")
  set(custom "${PROJECT_BINARY_DIR}/CTestCustom.cmake")
  if(NOT notes)
    message(STATUS "densenet: every test can run in this configuration")
    file(WRITE "${file}" "Every test can run in this configuration.\n")
    file(WRITE "${custom}" "# (no skips to report: cmake/skip_notes.cmake)\n")
    return()
  endif()
  list(LENGTH notes n_notes)
  list(LENGTH tests n_tests)
  math(EXPR n_parts "${n_notes} - ${n_tests}")
  set(head "In this configuration ${n_tests} test(s) are reported as skipped and ${n_parts} "
           "check(s) inside passing tests skip (README.md, 'Tests')")
  string(JOIN "" head ${head})
  set(text "${head}:\n")
  foreach(note IN LISTS notes)
    string(APPEND text "  ${note}\n")
  endforeach()
  file(WRITE "${file}" "${text}")
  file(WRITE "${custom}" "set(CTEST_CUSTOM_POST_TEST \"\\\"${CMAKE_COMMAND}\\\" -E cat "
                         "\\\"${file}\\\"\")\n")
  message(STATUS "densenet: ${head}, in ${file}:")
  foreach(note IN LISTS notes)
    message(STATUS "  ${note}")
  endforeach()
endfunction()
