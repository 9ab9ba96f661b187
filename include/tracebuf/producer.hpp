// tracebuf/producer.hpp - the per-thread handle a host keeps for each producing thread.
//
// A producer is owned by one thread (keep it in the host's per-thread data). It is not
// shared and holds no atomics: it lets tracebuf tell misuse (offline twice, reserving while
// unregistered, ...) from correct use, and carries the error of the last failed call that
// returns a pointer or a position. (The state a flusher may look at, for idle producers,
// lives in the quiescence counter's slot table, never in host memory.) Constant-initialised, so a Valgrind tool can keep an
// array of them in static storage. Freestanding.
#ifndef TRACEBUF_PRODUCER_HPP
#define TRACEBUF_PRODUCER_HPP

#include <cstdint>

#include <tracebuf/errc.hpp>

namespace tracebuf {

enum class producer_state : std::uint8_t {
    unregistered, ///< not known to the quiescence counter (the initial state)
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
    /// The error of the last call on this producer that failed (errc::ok if none did).
    constexpr errc last_error() const noexcept { return last_error_; }
    /// Whether the last busy() found that a flusher had counted this producer offline while
    /// it was idle (and covered its open range with padding: see quiescence_counter::idle).
    constexpr bool taken_over() const noexcept { return taken_over_; }

private:
    template <class> friend class quiescence_counter;
    template <class, class> friend class flush_barrier;
    template <class, class> friend class trace_buffer;
    template <class> friend class chunk_writer;

    static constexpr std::uint16_t no_slot = 0xffff;

    // Records why a call was refused: not_registered if the producer is not registered at
    // all, else `otherwise` (the call's own precondition). Returns the code.
    constexpr errc refuse(errc otherwise) noexcept {
        last_error_ = state_ == producer_state::unregistered ? errc::not_registered : otherwise;
        return last_error_;
    }

    // Ordered to pack into 8 bytes (the C API's tracebuf_producer).
    errc last_error_ = errc::ok;
    std::uint16_t slot_ = no_slot; // its idle slot, when Traits::idle_slots > 0
    producer_state state_ = producer_state::unregistered;
    bool taken_over_ = false;
};

} // namespace tracebuf

#endif // TRACEBUF_PRODUCER_HPP
