// The one C++ translation unit that defines the C API's implementation.
#define TRACEBUF_C_API_IMPLEMENTATION
#include <tracebuf/tracebuf.h>
