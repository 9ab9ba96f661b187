// tracebuf/wait_futex.hpp - the blocking wait policy: spin briefly, then sleep in a futex
// through Boost.Atomic's wait/notify.
//
// A wait policy tells the protocol how a thread waits for a 32-bit state word to change
// (the contract: policies.hpp). The waits carry no memory ordering: after every return the
// protocol re-reads the word, and the atomic operation that finally decides (a CAS, an
// acquire load, a retried fetch_add) carries the order (docs/protocol.md).
//
// Spin budget: a hand-off between two running cores takes about 65 ns, a futex wake-up about
// 32 us when the other core has halted (platform measurements). futex_wait spins up to
// `spin_limit` pause instructions (a few microseconds) before it sleeps, so a waker that is
// running right now is caught without a system call, and an oversubscribed machine, where
// the waker may not run until this thread yields its core, loses only that much.
//
// Needs the futex system call (Linux) through Boost.Atomic: not freestanding.
#ifndef TRACEBUF_WAIT_FUTEX_HPP
#define TRACEBUF_WAIT_FUTEX_HPP

#include <cstdint>
#include <type_traits>
#include <utility>

#include <boost/atomic/atomic.hpp>
#include <boost/atomic/atomic_ref.hpp>

#include <tracebuf/detail/cpu_relax.hpp>

namespace tracebuf {

namespace detail {

template <class Word, class = void>
struct has_member_wait : std::false_type {};
template <class Word>
struct has_member_wait<Word, std::void_t<decltype(std::declval<Word&>().wait(std::uint32_t{})),
                                         decltype(std::declval<Word&>().notify_all())>>
    : std::true_type {};

// A word without wait/notify of its own (std::atomic before C++20) is waited on through a
// boost::atomic_ref over the same four bytes: the futex only needs the address.
template <class Word>
boost::atomic_ref<std::uint32_t> futex_view(Word& word) noexcept {
    static_assert(sizeof(Word) == sizeof(std::uint32_t) && alignof(Word) == alignof(std::uint32_t),
                  "the state word must be a plain 32-bit atomic");
    return boost::atomic_ref<std::uint32_t>(*reinterpret_cast<std::uint32_t*>(&word));
}

} // namespace detail

template <unsigned SpinLimit = 128>
struct basic_futex_wait {
    static constexpr bool serialized_host = false;
    static constexpr unsigned spin_limit = SpinLimit;

    template <class Word>
    static void wait(Word& word, std::uint32_t old) noexcept {
        for (unsigned i = 0; i < spin_limit; ++i) {
            // The default order keeps this independent of the atomics library; nothing relies
            // on it: the caller re-reads the word after we return (policies.hpp).
            if (word.load() != old) return;
            detail::cpu_relax();
        }
        if constexpr (detail::has_member_wait<Word>::value) {
            word.wait(old);
        } else {
            detail::futex_view(word).wait(old);
        }
    }

    template <class Word>
    static void notify_all(Word& word) noexcept {
        if constexpr (detail::has_member_wait<Word>::value) {
            word.notify_all();
        } else {
            detail::futex_view(word).notify_all();
        }
    }
};

using futex_wait = basic_futex_wait<>;

} // namespace tracebuf

#endif // TRACEBUF_WAIT_FUTEX_HPP
