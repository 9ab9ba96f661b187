// tracebuf/writer.hpp - the writer shape, shared by every mode.
//
// A writer is what one host thread writes through: it owns the thread's producer and knows
// its buffer, so a host keeps one writer per thread and calls it without passing either.
// Every writer has the same members, so a host loop written once as a template over the
// writer serves every mode:
//
//   status()                              errc::ok, or why the writer cannot be used
//   register_thread() / unregister_thread()
//   go_offline() / go_online()            syscall entry / exit
//   idle() / busy()                       around callbacks (Traits::idle_slots > 0)
//   reserve(n, stamp)                     n bytes (a multiple of 8) for records, or nullptr
//   reserve_record(tag, size, stamp)      one record's payload, header written, or nullptr
//   write_record(tag, payload, size, stamp)   one whole record
//   flush()                               everything reserved so far, to the sink
//   last_error()                          why the last refused call was refused
//   producer()                            the thread's producer (state, taken_over)
//
// The writers (modes):
//   record_writer   (record_writer.hpp)  one shared reservation per record or batch: the
//                   finest global order, one contended fetch_add each;
//   chunk_writer    (chunk_writer.hpp)   one shared reservation per chunk; records with
//                   plain stores; the trace orders chunks, not records;
//   ordered_writer  (ordered_writer.hpp) chunks whose records carry clock stamps; merged by
//                   stamp before they are written, the trace has record mode's order.
// Preconditions and errors are trace_buffer's (trace_buffer.hpp).
//
// `stamp` says, per reservation, how ordered mode stamps it; the other writers ignore it,
// so that one host loop passes it to every writer. Freestanding.
#ifndef TRACEBUF_WRITER_HPP
#define TRACEBUF_WRITER_HPP

namespace tracebuf {

/// How ordered mode reads the clock for a reservation (docs/protocol.md, "Ordered mode").
enum class stamp : unsigned char {
    /// Read after every earlier load of this thread has completed (x86: lfence; rdtsc).
    /// Needed after a load - any load may be the acquire that orders what follows - and the
    /// safe choice when in doubt.
    ordered,
    /// Read without waiting for earlier loads (x86: rdtsc), clamped to at least the
    /// thread's previous stamp: enough for an event that cannot acquire, such as a store.
    relaxed,
    /// No clock read: the records keep their place right after the thread's previous
    /// stamped records (for example an instruction-execution marker).
    inherit,
};

} // namespace tracebuf

#endif // TRACEBUF_WRITER_HPP
