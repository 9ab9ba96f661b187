// tracebuf/errc.hpp - the error codes every tracebuf call reports.
//
// tracebuf never throws and never aborts on misuse: a call that cannot do what it was asked
// returns (or leaves in producer::last_error()) one of these codes and changes nothing.
// The C API's status codes (tracebuf.h) are these values. Freestanding.
#ifndef TRACEBUF_ERRC_HPP
#define TRACEBUF_ERRC_HPP

namespace tracebuf {

enum class errc : int {
    ok = 0,
    /// A reservation of 0 bytes, or of a size that is not a multiple of 8.
    bad_size,
    /// A reservation larger than Traits::max_reservation, or a record larger than
    /// Traits::max_record_size.
    too_large,
    /// Tag 0 is reserved: zero-filled memory must never read as a record.
    bad_tag,
    /// The producer is not registered (register_thread was not called, or unregister was).
    not_registered,
    /// register_thread on a producer that is already registered.
    already_registered,
    /// The call needs an online producer, and this one is offline (or idle, for calls that
    /// need it busy).
    not_online,
    /// go_online on a producer that is already online.
    already_online,
    /// More than Traits's thread limit registered at once (65535).
    too_many_threads,
    /// The trace buffer was drained for exit: no more reservations or flushes.
    closed,
    /// drain() found a flush in progress: a producer was still running, against the
    /// host contract. Nothing was written.
    busy,
    /// A serialized host (Valgrind-style) reached a point where it would have to wait for
    /// another thread: the host is not really serialized.
    would_block,
    /// The sink reported an error; see trace_buffer::sink_error() for the errno.
    sink_failed,
    /// The arena memory is too small for one maximal reservation, or not 8-byte aligned.
    bad_arena,
    /// The producer is registered with another buffer, or is a byte copy of a registered
    /// producer (a C handle copied by value). Nothing was changed.
    wrong_buffer,
    /// An argument is out of range: an open range outside the current buffer, misaligned or
    /// longer than Traits::max_reservation; an unknown option value (C API).
    bad_argument,
    /// An allocation failed (the C API's control blocks; hosted helpers).
    no_memory,
    /// The clock policy failed its check: a stamp stepped back across threads, or the clock
    /// is not available (ordered mode).
    bad_clock,
};

/// A short, stable English description of an error code.
constexpr const char* to_string(errc e) noexcept {
    switch (e) {
    case errc::ok: return "ok";
    case errc::bad_size: return "reservation size is zero or not a multiple of 8";
    case errc::too_large: return "reservation or record larger than the configured maximum";
    case errc::bad_tag: return "tag 0 is reserved";
    case errc::not_registered: return "producer is not registered";
    case errc::already_registered: return "producer is already registered";
    case errc::not_online: return "producer is not online (offline, or idle)";
    case errc::already_online: return "producer is already online";
    case errc::too_many_threads: return "too many registered threads";
    case errc::closed: return "trace buffer was drained (closed)";
    case errc::busy: return "a flush was in progress: a producer was still running";
    case errc::would_block: return "serialized host would have to wait for another thread";
    case errc::sink_failed: return "the sink failed to write";
    case errc::bad_arena: return "arena is not 8-byte aligned or smaller than max_reservation";
    case errc::wrong_buffer: return "producer is registered with another buffer, or is a copy";
    case errc::bad_argument: return "argument out of range";
    case errc::no_memory: return "out of memory";
    case errc::bad_clock: return "the clock is not consistent across threads (use record mode)";
    }
    return "unknown tracebuf error";
}

} // namespace tracebuf

#endif // TRACEBUF_ERRC_HPP
