# Warnings for the project's own targets (tests, examples, tools, benchmarks).
# The tracebuf INTERFACE target itself imposes no flags on its users.
option(TRACEBUF_WERROR "Treat warnings as errors in the project's own targets" OFF)
add_library(tracebuf_warnings INTERFACE)
target_compile_options(tracebuf_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion -Wold-style-cast
  $<$<BOOL:${TRACEBUF_WERROR}>:-Werror>)
