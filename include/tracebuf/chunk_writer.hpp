// tracebuf/chunk_writer.hpp - chunk mode: one shared fetch_add per chunk, not per record.
//
// A chunk_writer is a thread's producer plus the chunk it is filling (the writer shape:
// writer.hpp). It reserves a chunk (chunk_bytes, a few KiB) from the trace buffer with one
// ordinary reservation, starts it with a tags::chunk record (pid, tid, chunk sequence;
// record.hpp), and then places records in it with plain stores to its own memory - the
// cost of a private buffer. When a record does not fit, the unused tail becomes padding and
// the next chunk is reserved. (The implementation, shared with ordered mode:
// detail/chunked_writer.hpp.)
//
// The flush protocol needs nothing new: a chunk is a reservation, and a thread is online
// while it fills one, so a flush waits until the thread reserves its next chunk (parking
// with the old one complete), goes offline, or goes idle. Before go_offline, unregister and
// flush the writer pads its open chunk; idle() leaves the chunk open and tells the quiescence
// counter where its tail is, so a flush that takes the idle thread over pads the tail itself
// and the thread starts a new chunk when it is busy again. No flush cuts a chunk: every chunk
// lies inside one flush, whole.
//
// Order: a thread's records are in program order, and its chunks in sequence order. Between
// threads the trace is ordered by chunk: record A precedes record B of another thread if A
// happened before B's chunk was reserved. Record mode gives the same statement with "B was
// reserved" (docs/protocol.md, "Ordering guarantee"). Ordered mode (ordered_writer.hpp)
// keeps record mode's order at close to this mode's cost.
//
// A flush waits for every online thread to finish its chunk. A thread that writes slowly
// should use small chunks, or go idle or offline between bursts (host contract). Not for a
// serialized host (Valgrind): its flushes cannot wait for other threads' open chunks, and
// its reservations are uncontended already.
//
// Freestanding (with a freestanding Buffer).
#ifndef TRACEBUF_CHUNK_WRITER_HPP
#define TRACEBUF_CHUNK_WRITER_HPP

#include <tracebuf/detail/chunked_writer.hpp>

namespace tracebuf {

template <class Buffer>
class chunk_writer : public detail::basic_chunk_writer<Buffer, false> {
public:
    using detail::basic_chunk_writer<Buffer, false>::basic_chunk_writer;
};

} // namespace tracebuf

#endif // TRACEBUF_CHUNK_WRITER_HPP
