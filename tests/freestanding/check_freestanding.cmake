# Compiles freestanding_core.cpp as a Valgrind tool's translation unit would be compiled and
# fails unless the object's undefined symbols are a subset of {memcpy, memset} and it has no
# .init_array (global constructors that Valgrind would never run).
#
# cmake -DCXX=... -DNM=... -DOBJDUMP=... -DSOURCE=... -DINCLUDES="a;b" -DOUT=dir
#       -DVARIANT="-O2;-std=c++17" -P check_freestanding.cmake
set(flags -ffreestanding -fno-exceptions -fno-rtti -fno-threadsafe-statics -nostdlib
          -fno-asynchronous-unwind-tables -Wall -Wextra -Werror)
foreach(dir IN LISTS INCLUDES)
  list(APPEND flags -I${dir})
endforeach()
string(MAKE_C_IDENTIFIER "${VARIANT}" tag)
set(object ${OUT}/freestanding_${tag}.o)
file(MAKE_DIRECTORY ${OUT})
execute_process(COMMAND ${CXX} ${flags} ${VARIANT} -c ${SOURCE} -o ${object}
                RESULT_VARIABLE rc ERROR_VARIABLE err OUTPUT_VARIABLE out)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "freestanding compile failed (${VARIANT}):\n${out}${err}")
endif()
execute_process(COMMAND ${NM} -u ${object} OUTPUT_VARIABLE undefined RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "nm failed on ${object}")
endif()
string(REGEX MATCHALL "[^ \n]+\n" lines "${undefined}")
set(unexpected "")
foreach(line IN LISTS lines)
  string(STRIP "${line}" sym)
  if(sym STREQUAL "U" OR sym STREQUAL "")
    continue()
  endif()
  if(NOT sym MATCHES "^(memcpy|memset)$")
    string(APPEND unexpected " ${sym}")
  endif()
endforeach()
if(unexpected)
  message(FATAL_ERROR "freestanding object (${VARIANT}) needs symbols beyond memcpy/memset:${unexpected}")
endif()
execute_process(COMMAND ${OBJDUMP} -h ${object} OUTPUT_VARIABLE sections)
if(sections MATCHES "init_array")
  message(FATAL_ERROR "freestanding object (${VARIANT}) has global constructors (.init_array)")
endif()
string(REPLACE "\n" " " undefined_line "${undefined}")
message(STATUS "freestanding (${VARIANT}): undefined symbols: ${undefined_line}")
