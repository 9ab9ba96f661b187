// What the fuzz targets assert: a failed check prints itself and aborts, which libFuzzer
// reports as a crash and saves the input that caused it (crash-* in the artifact prefix).
// Active in every build: the targets check properties, not only the absence of crashes.
#ifndef TRACEBUF_TESTS_FUZZ_CHECK_HPP
#define TRACEBUF_TESTS_FUZZ_CHECK_HPP

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                                  \
    do {                                                                                       \
        if (!(condition)) {                                                                    \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
            std::abort();                                                                      \
        }                                                                                      \
    } while (false)

#endif // TRACEBUF_TESTS_FUZZ_CHECK_HPP
