// tracebuf/memtrace_reader.hpp - reads a trace of the memtrace tracers with each record's
// thread: by the slot in its tag, mapped through THREAD records (memtrace.hpp), and, in a
// chunk-mode trace, by the chunk it lies in (chunk_reader.hpp), the two checked against each
// other.
//
// Hosted (std::vector, std::map): for tools and tests that read traces, not for tracers.
//
// A converter in a few lines:
//
//     tracebuf::memtrace::read_trace(data, size, [&](const tracebuf::memtrace::attributed_record& r) {
//         if (r.type == tracebuf::memtrace::store && r.thread != nullptr)
//             std::printf("thread %u (tid %u) stores at offset %llu\n", r.thread->serial,
//                         r.thread->tid, (unsigned long long)r.offset);
//     });
//
// read_trace walks one contiguous range; to read a file in pieces, validate each piece with
// scan_records (reader.hpp) and hand every record to one trace_reader, with the record's
// offset in the whole trace, then call end() with the trace's size.
//
// Traces written before THREAD and SUMMARY got tracebuf's own tags (memtrace.hpp, "Tag
// ranges") read the same: a record with the old tag comes out with type thread or summary,
// and legacy_records() counts them.
#ifndef TRACEBUF_MEMTRACE_READER_HPP
#define TRACEBUF_MEMTRACE_READER_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include <tracebuf/chunk_reader.hpp>
#include <tracebuf/memtrace.hpp>
#include <tracebuf/reader.hpp>
#include <tracebuf/record.hpp>

namespace tracebuf {
namespace memtrace {

/// A thread as its THREAD record names it.
struct thread_identity {
    std::uint32_t pid;
    std::uint32_t tid;
    std::uint32_t serial; ///< threads numbered in registration order, from 0
};

/// One record, with the thread that wrote it.
struct attributed_record {
    std::uint16_t tag;  ///< as written
    std::uint16_t type; ///< as a slot-0 tag (LOAD, THREAD, ...); tracebuf's own tags unchanged
    unsigned slot;      ///< the writer's slot; 0 for tracebuf's own records
    const unsigned char* payload;
    std::size_t size; ///< of the payload
    std::uint64_t offset;
    /// The slot's thread since its last THREAD record; nullptr for the trace-wide records
    /// (is_trace_wide, tracebuf's own) and in a slot no THREAD record has mapped yet.
    /// Valid until the next read.
    const thread_identity* thread;
    /// The chunk the record lies in (chunk mode), or nullptr. Valid until the next read.
    const chunk_header* chunk;
    /// For a tags::chunk record, what opening it found; for a record inside a chunk,
    /// foreign_record if its slot's thread is not the chunk's. none otherwise.
    chunk_fault fault;
    /// A THREAD or SUMMARY record too short for its layout (it maps or counts nothing).
    bool malformed;
};

class trace_reader {
public:
    /// The record at `offset` of the trace, as scan_records reports it. Call for every
    /// record, in file order.
    attributed_record read(std::uint16_t tag, const unsigned char* payload, std::size_t n, std::uint64_t offset) {
        attributed_record r{tag, tag, 0, payload, n, offset, nullptr, nullptr, chunk_fault::none, false};
        if (is_library_tag(tag)) {
            if (tag == tags::chunk) r.fault = chunks_.open(payload, n, offset);
            r.chunk = chunks_.chunk_at(offset);
            return r;
        }
        r.slot = slot_of(tag);
        r.type = type_of(tag);
        r.chunk = chunks_.chunk_at(offset);
        if (r.type == legacy_thread || r.type == legacy_summary) {
            r.type = r.type == legacy_thread ? thread : summary;
            ++legacy_records_;
        }
        if (r.type == summary) {
            r.malformed = !read_summary(payload, n);
            return r;
        }
        if (is_trace_wide(r.type)) return r;
        if (r.type == thread) {
            if (n < sizeof(thread_payload)) {
                r.malformed = true;
            } else {
                thread_payload t;
                std::memcpy(&t, payload, sizeof t);
                slot_thread_[r.slot] = thread_identity{t.pid, t.tid, t.serial};
                slot_mapped_[r.slot] = true;
            }
        }
        if (slot_mapped_[r.slot]) r.thread = &slot_thread_[r.slot];
        if (r.chunk != nullptr && (r.thread == nullptr || r.thread->tid != r.chunk->tid))
            r.fault = chunk_fault::foreign_record;
        return r;
    }

    /// The trace ended after `size` bytes: cut if its last chunk runs past them.
    chunk_fault end(std::uint64_t size) { return chunks_.end_range(size); }

    /// The thread a slot maps to now, or nullptr.
    const thread_identity* slot_thread(unsigned slot) const {
        return slot < slots && slot_mapped_[slot] ? &slot_thread_[slot] : nullptr;
    }
    /// The entries of every SUMMARY record so far, and the total the records announce.
    const std::vector<summary_entry>& summary_entries() const { return summary_entries_; }
    std::uint32_t summary_total() const { return summary_total_; }
    std::uint64_t summary_records() const { return summary_records_; }
    /// THREAD and SUMMARY records read with their old tags (0x4d52, 0x4d53).
    std::uint64_t legacy_records() const { return legacy_records_; }
    std::uint64_t chunks() const { return chunks_.chunks(); }

private:
    bool read_summary(const unsigned char* payload, std::size_t n) {
        ++summary_records_;
        summary_header h{};
        if (n < sizeof h) return false;
        std::memcpy(&h, payload, sizeof h);
        summary_total_ = h.total;
        if ((n - sizeof h) / sizeof(summary_entry) < h.entries) return false;
        for (std::uint32_t i = 0; i < h.entries; ++i) {
            summary_entry e;
            std::memcpy(&e, payload + sizeof h + i * sizeof e, sizeof e);
            summary_entries_.push_back(e);
        }
        return true;
    }

    std::array<thread_identity, slots> slot_thread_{};
    std::array<bool, slots> slot_mapped_{};
    chunk_checker chunks_{chunk_checker::restart::allowed};
    std::vector<summary_entry> summary_entries_;
    std::uint32_t summary_total_ = 0;
    std::uint64_t summary_records_ = 0;
    std::uint64_t legacy_records_ = 0;
};

/// The result of read_trace: the walk's (reader.hpp), and the chunk fault at the end.
struct read_result {
    scan_result scan;
    chunk_fault end = chunk_fault::none;
};

/// Calls visit(const attributed_record&) for each valid record of [data, data + size), in
/// order, and stops at the first bad record (read_result::scan says where and why).
template <class Visitor>
read_result read_trace(const void* data, std::size_t size, Visitor&& visit, std::size_t max_record_size = 4096) {
    trace_reader reader;
    read_result r;
    r.scan = scan_records(data, size, max_record_size,
                          [&](std::uint16_t tag, const unsigned char* payload, std::size_t n, std::size_t offset) {
                              visit(reader.read(tag, payload, n, offset));
                          });
    r.end = reader.end(r.scan.valid_bytes);
    return r;
}

} // namespace memtrace
} // namespace tracebuf

#endif // TRACEBUF_MEMTRACE_READER_HPP
