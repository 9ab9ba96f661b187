// tracebuf/producer.hpp - the per-thread handle a host keeps for each producing thread.
//
// A producer is owned by one thread (keep it in the host's per-thread data). It is not
// shared and holds no atomics: it lets tracebuf tell misuse (offline twice, reserving while
// unregistered, a call on a buffer the producer is not registered with, ...) from correct
// use, and carries the error of the last refused call. (The state a flusher may look at,
// for idle producers, lives in the quiescence counter's slot table, never in host memory.)
// Constant-initialised, so a Valgrind tool can keep an array of them in static storage.
// Freestanding.
#ifndef TRACEBUF_PRODUCER_HPP
#define TRACEBUF_PRODUCER_HPP

#include <cstdint>

#include <tracebuf/errc.hpp>

namespace tracebuf {
namespace detail {
template <class, bool>
class basic_chunk_writer;
} // namespace detail

enum class producer_state : std::uint8_t {
    unregistered, ///< not known to any quiescence counter (the initial state)
    online,       ///< may reserve and write; counted by the quiescence counter
    offline,      ///< registered, but promises not to touch the buffer (in a syscall)
    idle,         ///< online between callbacks: not writing, may be counted offline by a
                  ///< flusher (Traits::idle_slots > 0; see quiescence_counter::idle)
};

class producer {
public:
    constexpr producer() noexcept = default;
    producer(const producer&) = delete;
    producer& operator=(const producer&) = delete;

    constexpr producer_state state() const noexcept { return state_; }
    /// The error of the last call on this producer that was refused (errc::ok if none was).
    constexpr errc last_error() const noexcept { return last_error_; }
    /// Whether the last busy() found that a flusher had counted this producer offline while
    /// it was idle (and covered its open range with padding: see quiescence_counter::idle).
    constexpr bool taken_over() const noexcept { return taken_over_; }

private:
    template <class> friend class quiescence_counter;
    template <class, class> friend class flush_barrier;
    template <class, class> friend class trace_buffer;
    template <class, bool> friend class detail::basic_chunk_writer;
    template <class> friend class record_writer;
    friend struct producer_access;

    static constexpr std::uint16_t no_slot = 0xffff;

    // Whether this producer is registered with `owner` (a quiescence counter, `instance` its
    // number), and is the object that registered: a byte copy of a registered producer (a C
    // host copying its handle) has another address and is refused.
    constexpr bool registered_with(const void* owner, std::uint32_t instance) const noexcept {
        return state_ != producer_state::unregistered && owner_ == owner && owner_instance_ == instance &&
               self_ == this;
    }

    // The one place a refused call is recorded: returns `why`, or not_registered if the
    // refusal is about the producer's state and it is not registered at all.
    constexpr errc refuse(errc why) noexcept {
        if (state_ == producer_state::unregistered &&
            (why == errc::not_online || why == errc::already_online))
            why = errc::not_registered;
        last_error_ = why;
        return why;
    }

    const void* owner_ = nullptr;      // the quiescence counter it registered with
    const producer* self_ = nullptr;   // its own address, set at registration
    std::uint32_t owner_instance_ = 0; // that counter's number (a new one may reuse the address)
    errc last_error_ = errc::ok;
    std::uint16_t slot_ = no_slot; // its idle slot, when Traits::idle_slots > 0
    producer_state state_ = producer_state::unregistered;
    bool taken_over_ = false;
};

} // namespace tracebuf

#endif // TRACEBUF_PRODUCER_HPP
