// tracebuf/producer.hpp - the per-thread handle a host keeps for each producing thread.
//
// A producer is owned by one thread (keep it in the host's per-thread data). It is not
// shared and holds no atomics: it lets tracebuf tell misuse (offline twice, reserving while
// unregistered, ...) from correct use, and carries the error of the last failed call that
// returns a pointer or a position. Constant-initialised, so a Valgrind tool can keep an
// array of them in static storage. Freestanding.
#ifndef TRACEBUF_PRODUCER_HPP
#define TRACEBUF_PRODUCER_HPP

#include <cstdint>

#include <tracebuf/errc.hpp>

namespace tracebuf {

enum class producer_state : std::uint8_t {
    unregistered, ///< not known to the quiescence counter (the initial state)
    online,       ///< may reserve and write; counted by the quiescence counter
    offline,      ///< registered, but promises not to touch the buffer (in a syscall, idle)
};

class producer {
public:
    constexpr producer() noexcept = default;
    producer(const producer&) = delete;
    producer& operator=(const producer&) = delete;

    constexpr producer_state state() const noexcept { return state_; }
    /// The error of the last call on this producer that failed (errc::ok if none did).
    constexpr errc last_error() const noexcept { return last_error_; }

private:
    template <class> friend class quiescence_counter;
    template <class, class> friend class flush_barrier;
    template <class, class> friend class trace_buffer;

    producer_state state_ = producer_state::unregistered;
    errc last_error_ = errc::ok;
};

} // namespace tracebuf

#endif // TRACEBUF_PRODUCER_HPP
