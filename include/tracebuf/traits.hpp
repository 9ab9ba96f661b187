// tracebuf/traits.hpp - how a host configures tracebuf.
//
// Derive from tracebuf::traits_base, name the two policies, and override any constant or the
// optional idle-fence policy (what each policy must provide: policies.hpp):
//
//   struct my_traits : tracebuf::traits_base {
//       using atomics = tracebuf::boost_atomics;       // atomics_boost.hpp / atomics_std.hpp
//       using wait = tracebuf::futex_wait;             // wait_futex.hpp / wait_spin.hpp /
//                                                      // wait_serialized.hpp
//       static constexpr std::size_t max_record_size = 8192;
//   };
//
// tracebuf.hpp defines tracebuf::default_traits (Boost.Atomic + futex) for hosted programs.
// Freestanding.
#ifndef TRACEBUF_TRAITS_HPP
#define TRACEBUF_TRAITS_HPP

#include <cstddef>
#include <cstdint>

#include <tracebuf/clock_tsc.hpp>
#include <tracebuf/fence_symmetric.hpp>
#include <tracebuf/policies.hpp>
#include <tracebuf/record.hpp>

namespace tracebuf {

struct traits_base {
    /// Largest record (header + payload, unpadded) that reserve_record accepts. At most 65535
    /// (the u16 length field). The memtrace format's limit is 4096.
    static constexpr std::size_t max_record_size = 4096;

    /// Largest single reservation (a batch of records, for example one basic block's).
    /// The arena must hold at least one: its capacity must be >= max_reservation. A larger
    /// value lets hosts batch more; it also bounds how far the shared position can run past
    /// the end of the buffer while a flush is pending (threads x max_reservation).
    static constexpr std::size_t max_reservation = 64 * 1024;

    /// Zero the flushed bytes after each flush. With it, a reserved but never written byte
    /// reads as tag 0 ("hole") in the next flush instead of as a stale copy of an old record,
    /// so a host bug shows up as an invalid trace rather than as duplicated records. Costs one
    /// memset of the flushed range per flush (about 10 GB/s on one core here).
    static constexpr bool zero_after_flush = true;

    /// Most threads registered at once (the online count has 16 bits).
    static constexpr std::uint32_t max_threads = 65535;

    /// Slots for idle producers (quiescence_counter::idle/busy), one cache line each inside
    /// the counter. 0 disables idle/busy and costs nothing. With slots, every registered
    /// thread takes one, so at most idle_slots threads are registered at once. For hosts
    /// that may block a thread between callbacks without a hook (QEMU's exclusive sections).
    static constexpr std::uint32_t idle_slots = 0;

    /// How idle() and a waiting flusher order their Dekker pair (fence_symmetric.hpp). Only
    /// used with idle slots. membarrier_fence (fence_membarrier.hpp, Linux) takes the locked
    /// instruction out of idle(); tracebuf.hpp's default_traits uses it.
    using idle_fence = symmetric_fence;

    /// The clock whose stamps order ordered mode's records (ordered_writer.hpp); the other
    /// modes never read it. The TSC on x86 (clock_tsc.hpp); on other architectures
    /// traits_base names none - name one (clock_monotonic.hpp is the portable choice, and
    /// default_traits does). Ordered mode checks it across threads before it starts
    /// (clock_check.hpp).
#if defined(__x86_64__) || defined(__i386__)
    using clock = tsc_clock;
#else
    struct clock {}; // ordered mode refuses to compile with it (policies.hpp's message)
#endif
};

namespace detail {

template <class Traits>
constexpr bool check_traits() noexcept {
    static_assert(check_atomics_policy<typename Traits::atomics>());
    static_assert(check_wait_policy<typename Traits::wait, typename Traits::atomics>());
    if constexpr (Traits::idle_slots > 0) static_assert(check_idle_fence_policy<typename Traits::idle_fence>());
    static_assert(Traits::max_record_size >= 8 && Traits::max_record_size <= record_length_limit,
                  "max_record_size must be in [8, 65535]");
    static_assert(Traits::max_reservation % record_alignment == 0,
                  "max_reservation must be a multiple of 8");
    static_assert(Traits::max_reservation >= align_up(Traits::max_record_size),
                  "max_reservation must hold one maximal record");
    static_assert(Traits::max_threads >= 1 && Traits::max_threads <= 65535,
                  "max_threads must fit the 16-bit online count");
    static_assert(Traits::idle_slots < 0xffff, "idle_slots must fit a 16-bit slot index");
    static_assert(Traits::idle_slots == 0 || !Traits::wait::serialized_host,
                  "a serialized host never waits, so it needs no idle slots");
    return true;
}

} // namespace detail
} // namespace tracebuf

#endif // TRACEBUF_TRAITS_HPP
