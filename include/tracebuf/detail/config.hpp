// tracebuf/detail/config.hpp - compiler shims shared by every tracebuf header.
//
// Freestanding: this header includes nothing, so that the core can be built with
// -ffreestanding -nostdlib (see docs/freestanding.md).
#ifndef TRACEBUF_DETAIL_CONFIG_HPP
#define TRACEBUF_DETAIL_CONFIG_HPP

#if defined(__GNUC__) || defined(__clang__)
#define TRACEBUF_FORCEINLINE inline __attribute__((always_inline))
#define TRACEBUF_NOINLINE __attribute__((noinline))
#define TRACEBUF_LIKELY(x) __builtin_expect(!!(x), 1)
#define TRACEBUF_UNLIKELY(x) __builtin_expect(!!(x), 0)
#else
#error "tracebuf needs GCC or Clang (it relies on __builtin_memcpy and friends)"
#endif

#if defined(__SANITIZE_THREAD__)
#define TRACEBUF_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TRACEBUF_TSAN 1
#endif
#endif

namespace tracebuf {
namespace detail {

// Hot shared words sit on their own cache lines (64 bytes on every x86-64 and most AArch64).
inline constexpr unsigned long cache_line_size = 64;

} // namespace detail
} // namespace tracebuf

#endif // TRACEBUF_DETAIL_CONFIG_HPP
