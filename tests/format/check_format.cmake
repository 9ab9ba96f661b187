# Fails unless every C and C++ source of the project is laid out as .clang-format says, and
# names the files that are not (clang-format's own diagnostics show where).
#
# cmake -DCLANG_FORMAT=clang-format-14 -DROOT=<source dir> -P check_format.cmake
#
# Left out: the Valgrind tool, whose VG_(fn) calls clang-format 14 reads as casts (it has no
# way to declare such a macro), and qemu_plugin_api.h, which keeps QEMU's own layout of the
# declarations it restates.
if(NOT CLANG_FORMAT)
  message(FATAL_ERROR "clang-format-14 not found: scripts/install-deps.sh installs it (package clang-format-14)")
endif()
set(sources "")
foreach(dir bench examples include tests tools)
  file(GLOB_RECURSE found LIST_DIRECTORIES false RELATIVE ${ROOT}
       ${ROOT}/${dir}/*.hpp ${ROOT}/${dir}/*.cpp ${ROOT}/${dir}/*.h ${ROOT}/${dir}/*.c)
  list(APPEND sources ${found})
endforeach()
list(FILTER sources EXCLUDE REGEX "^examples/valgrind/|^examples/qemu/qemu_plugin_api\\.h$")
list(LENGTH sources count)
if(count LESS 50)
  message(FATAL_ERROR "only ${count} sources found under ${ROOT}: wrong ROOT?")
endif()
execute_process(COMMAND ${CLANG_FORMAT} --dry-run --Werror ${sources}
                WORKING_DIRECTORY ${ROOT} RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_VARIABLE out)
if(NOT rc EQUAL 0)
  string(REGEX MATCHALL "[^\n:]+:[0-9]+:[0-9]+: error" places "${err}")
  set(files "")
  foreach(place IN LISTS places)
    string(REGEX REPLACE ":[0-9]+:[0-9]+: error$" "" file "${place}")
    list(APPEND files ${file})
  endforeach()
  list(REMOVE_DUPLICATES files)
  string(REPLACE ";" "\n  " files "${files}")
  message(FATAL_ERROR "not formatted (fix with: clang-format-14 -i FILE):\n  ${files}\n\n${err}")
endif()
message(STATUS "${count} sources formatted as .clang-format says")
