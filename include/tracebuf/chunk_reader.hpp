// tracebuf/chunk_reader.hpp - reads chunk mode's structure back: which chunk, and so which
// thread, each record belongs to, and whether the chunks are sound.
//
// Hosted (std::map): for tools and tests that read traces, not for tracers.
//
// Feed a chunk_checker every tags::chunk record of a range (a flush, a trace file) in order,
// ask it for the chunk that covers a record, and end the range. What it checks, as chunk
// mode promises (chunk_writer.hpp):
//   - a chunk starts outside the previous one (no chunk inside a chunk), and its header
//     has the size of a chunk_header;
//   - each thread's chunks, keyed by (pid, tid), are numbered 0, 1, 2, ... in file order;
//   - a chunk ends inside its range: no flush cuts a chunk;
//   - a record inside a chunk belongs to the chunk's thread (check_record, with the thread
//     the caller attributes the record to by its own means).
//
//     tracebuf::chunk_checker chunks;
//     tracebuf::scan_records(data, size, 4096, [&](std::uint16_t tag, const unsigned char* payload,
//                                                  std::size_t n, std::size_t offset) {
//         if (tag == tracebuf::tags::chunk) {
//             if (chunks.open(payload, n, offset) != tracebuf::chunk_fault::none) ...; // a bad chunk
//         } else if (const tracebuf::chunk_header* c = chunks.chunk_at(offset)) {
//             ... // the record belongs to thread (c->pid, c->tid)
//         }
//     });
//     if (chunks.end_range(size) != tracebuf::chunk_fault::none) ...; // the last chunk is cut
//
// For memtrace tracers' traces, memtrace_reader.hpp does this and maps slots to threads.
#ifndef TRACEBUF_CHUNK_READER_HPP
#define TRACEBUF_CHUNK_READER_HPP

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <map>
#include <utility>

#include <tracebuf/record.hpp>

namespace tracebuf {

enum class chunk_fault {
    none,
    bad_header,      ///< a tags::chunk record whose payload is not a chunk_header, or too small a chunk
    nested,          ///< a chunk starts inside the previous chunk
    out_of_sequence, ///< a thread's chunk numbers do not follow each other
    cut,             ///< a chunk runs past the end of its range
    foreign_record,  ///< a record inside a chunk of another thread
    outside_chunk,   ///< a record in no chunk (a fault only where every record needs one)
};

constexpr const char* to_string(chunk_fault f) noexcept {
    switch (f) {
    case chunk_fault::none: return "none";
    case chunk_fault::bad_header: return "chunk record of the wrong size, or a chunk shorter than its header";
    case chunk_fault::nested: return "chunk inside a chunk";
    case chunk_fault::out_of_sequence: return "chunk out of its thread's sequence";
    case chunk_fault::cut: return "chunk cut by the end of the data";
    case chunk_fault::foreign_record: return "record inside another thread's chunk";
    case chunk_fault::outside_chunk: return "record outside any chunk";
    }
    return "unknown chunk fault";
}

class chunk_checker {
public:
    /// Whether a thread's chunks may start again at 0: yes for a trace file, where the system
    /// hands a thread id to a new thread once the old one has exited; no where ids are unique.
    enum class restart {
        allowed,
        forbidden,
    };

    explicit chunk_checker(restart r = restart::allowed) noexcept : restart_(r) {}

    /// A tags::chunk record with `n` payload bytes at `offset` of the current range.
    chunk_fault open(const unsigned char* payload, std::size_t n, std::uint64_t offset) {
        if (n != sizeof(chunk_header)) return chunk_fault::bad_header;
        if (offset < end_) return chunk_fault::nested;
        std::memcpy(&current_, payload, sizeof current_);
        if (current_.bytes < record_footprint(sizeof(chunk_header))) return chunk_fault::bad_header;
        start_ = offset;
        end_ = offset + current_.bytes;
        ++chunks_;
        std::uint64_t& next = next_[std::make_pair(std::uint32_t{current_.pid}, std::uint32_t{current_.tid})];
        const bool follows = current_.sequence == next || (restart_ == restart::allowed && current_.sequence == 0);
        next = current_.sequence + 1;
        return follows ? chunk_fault::none : chunk_fault::out_of_sequence;
    }

    /// The chunk that covers the record at `offset` (at or after the last chunk opened),
    /// or nullptr if it lies in none.
    const chunk_header* chunk_at(std::uint64_t offset) const noexcept {
        return chunks_ != 0 && offset >= start_ && offset < end_ ? &current_ : nullptr;
    }

    /// A record at `offset` that the caller attributes to thread `tid`: foreign_record if it
    /// lies in a chunk of another thread, outside_chunk if in none, else none.
    chunk_fault check_record(std::uint64_t offset, std::uint32_t tid) const noexcept {
        const chunk_header* c = chunk_at(offset);
        if (c == nullptr) return chunk_fault::outside_chunk;
        return c->tid == tid ? chunk_fault::none : chunk_fault::foreign_record;
    }

    /// The range ended after `size` bytes: cut if the last chunk runs past it. Offsets start
    /// at 0 again in the next range; the threads' chunk numbers carry on.
    chunk_fault end_range(std::uint64_t size) noexcept {
        const bool cut = end_ > size;
        start_ = end_ = 0;
        return cut ? chunk_fault::cut : chunk_fault::none;
    }

    /// The header of the last chunk opened (valid once open() has read one).
    const chunk_header& last_chunk() const noexcept { return current_; }
    /// Chunks opened so far, in every range.
    std::uint64_t chunks() const noexcept { return chunks_; }

private:
    restart restart_;
    chunk_header current_{};
    std::uint64_t start_ = 0, end_ = 0; // the last chunk opened, in the current range
    std::uint64_t chunks_ = 0;
    std::map<std::pair<std::uint32_t, std::uint32_t>, std::uint64_t> next_; // (pid, tid): next number
};

} // namespace tracebuf

#endif // TRACEBUF_CHUNK_READER_HPP
