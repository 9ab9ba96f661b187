// tracebuf/tracebuf.hpp - everything, with defaults for hosted programs.
//
//   #include <tracebuf/tracebuf.hpp>
//   tracebuf::trace_buffer<tracebuf::default_traits, tracebuf::fd_sink> buf(mem, size, fd_sink(fd));
//
// default_traits: Boost.Atomic and the futex wait policy; std::atomic under ThreadSanitizer
// (which cannot see Boost 1.81's inline assembly); membarrier for idle producers. Not freestanding (the futex policy and
// the fd and memory sinks need libc); a Valgrind tool includes trace_buffer.hpp and the
// freestanding policies it needs instead.
#ifndef TRACEBUF_TRACEBUF_HPP
#define TRACEBUF_TRACEBUF_HPP

#include <tracebuf/atomics_boost.hpp>
#include <tracebuf/atomics_std.hpp>
#include <tracebuf/chunk_writer.hpp>
#include <tracebuf/clock_logical.hpp>
#include <tracebuf/clock_monotonic.hpp>
#include <tracebuf/clock_tsc.hpp>
#include <tracebuf/detail/config.hpp>
#include <tracebuf/errc.hpp>
#include <tracebuf/fence_membarrier.hpp>
#include <tracebuf/memtrace.hpp>
#include <tracebuf/ordered_writer.hpp>
#include <tracebuf/policies.hpp>
#include <tracebuf/reader.hpp>
#include <tracebuf/record.hpp>
#include <tracebuf/record_writer.hpp>
#include <tracebuf/sink_callback.hpp>
#include <tracebuf/sink_direct.hpp>
#include <tracebuf/sink_fd.hpp>
#include <tracebuf/sink_memory.hpp>
#include <tracebuf/trace_buffer.hpp>
#include <tracebuf/traits.hpp>
#include <tracebuf/wait_futex.hpp>
#include <tracebuf/wait_spin.hpp>

namespace tracebuf {

struct default_traits : traits_base {
#if defined(TRACEBUF_TSAN)
    using atomics = std_atomics;
#else
    using atomics = boost_atomics;
#endif
    using wait = futex_wait;
    using idle_fence = membarrier_fence;
#if !defined(__x86_64__) && !defined(__i386__)
    using clock = monotonic_clock;
#endif
};

} // namespace tracebuf

#endif // TRACEBUF_TRACEBUF_HPP
