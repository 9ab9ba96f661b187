# Compiles bad_policy.cpp once per incomplete policy and checks that compilation fails with
# the contract's message from policies.hpp (and that the complete control compiles).
#   cmake -DCXX=... -DSOURCE=... "-DINCLUDES=a;b" -DOUT=dir -P check_policy_errors.cmake
set(cases
  "1|an atomics policy needs `static void fence(memory_order) noexcept"
  "2|a wait policy needs `template <class Word> static void notify_all(Word&) noexcept"
  "3|a wait policy needs `static constexpr bool serialized_host"
  "4|a sink needs `int write(const void* data, std::size_t size) noexcept"
  "5|an idle-fence policy needs static asymmetric(), light() and heavy()"
  "6|an atomics policy's 32- and 64-bit atomics must be always lock-free")
set(include_flags)
foreach(dir IN LISTS INCLUDES)
  list(APPEND include_flags "-I${dir}")
endforeach()
file(MAKE_DIRECTORY ${OUT})
execute_process(COMMAND ${CXX} -std=c++17 -fsyntax-only ${include_flags} -DBAD_POLICY=0 ${SOURCE}
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the complete policies do not compile:\n${out}")
endif()
set(failures 0)
foreach(case IN LISTS cases)
  string(FIND "${case}" "|" bar)
  string(SUBSTRING "${case}" 0 ${bar} number)
  math(EXPR after "${bar} + 1")
  string(SUBSTRING "${case}" ${after} -1 expected)
  execute_process(COMMAND ${CXX} -std=c++17 -fsyntax-only ${include_flags} -DBAD_POLICY=${number} ${SOURCE}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  string(FIND "${out}" "tracebuf: ${expected}" found)
  if(rc EQUAL 0)
    message(SEND_ERROR "case ${number}: compiled, but its policy is incomplete")
    math(EXPR failures "${failures} + 1")
  elseif(found EQUAL -1)
    message(SEND_ERROR "case ${number}: failed without the message \"tracebuf: ${expected}\":\n${out}")
    math(EXPR failures "${failures} + 1")
  else()
    message(STATUS "case ${number}: refused with \"tracebuf: ${expected}\"")
  endif()
endforeach()
if(failures GREATER 0)
  message(FATAL_ERROR "${failures} policy cases did not produce their message")
endif()
