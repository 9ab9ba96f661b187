// tracebuf/ordered_writer.hpp - ordered mode: record mode's order at close to chunk mode's
// cost.
//
// An ordered_writer is a chunk writer (the writer shape: writer.hpp) whose records carry
// stamps from Traits::clock (clock_tsc.hpp by default on x86). Each thread fills its own
// chunks with plain stores, as in chunk mode; before each reservation it reads the clock -
// after the traced event - and, if the stamp moved, writes it into the chunk (8 bytes).
// The flushed buffer goes through ordered_merge.hpp's merging sink, which orders the records
// of all chunks by stamp and writes them in record mode's form: no chunk headers, no stamps.
// Every reader sees a record-mode trace.
//
// Why that order is happens-before's (docs/protocol.md, "Ordered mode"): the barrier orders
// flushes (every record of flush k happens before every record of flush k+1), and within a
// flush stamps agree with happens-before as long as (1) the clock is consistent across
// cores - checked, never assumed: clock_check.hpp, before the mode starts - and (2) each
// stamp is read after its event and before the thread's next release operation. A load's
// stamp must be an ordered read (stamp::ordered: any load may be the acquire that orders
// what follows); any other event may use stamp::relaxed (clamped to the thread's previous
// stamp) or stamp::inherit (no read: it stays after the thread's previous stamped record).
//
// Costs, per reservation: one clock read (ordered: lfence; rdtsc, about 18 ns here;
// relaxed: rdtsc, 11 ns) and an 8-byte stamp record in the chunk; the merge (on the
// flusher, after the release with double buffering) copies every record once.
//
// Everything else is chunk mode's: idle take-over, padding, offline periods. A chunk must
// hold its header, a full stamp and one record (valid_chunk_size). Not for a serialized
// host: one thread runs at a time there, and record mode is exact and cheap already.
//
// Freestanding (with a freestanding Buffer and clock).
#ifndef TRACEBUF_ORDERED_WRITER_HPP
#define TRACEBUF_ORDERED_WRITER_HPP

#include <tracebuf/detail/chunked_writer.hpp>

namespace tracebuf {

template <class Buffer>
class ordered_writer : public detail::basic_chunk_writer<Buffer, true> {
public:
    using detail::basic_chunk_writer<Buffer, true>::basic_chunk_writer;
};

} // namespace tracebuf

#endif // TRACEBUF_ORDERED_WRITER_HPP
