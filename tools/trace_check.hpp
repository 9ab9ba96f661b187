// tracebuf-dump's check of a whole trace, as a library: the walks over the records (the
// default one, which reads a trace that ended abnormally, and --strict's) and
// --verify's comparison with the SUMMARY (tracebuf_dump.cpp says what they check). In a
// header so that tracebuf-dump and its fuzz target (tests/fuzz/fuzz_dump.cpp) run the same
// code. report_verify prints to stdout.
#ifndef TRACEBUF_TOOLS_TRACE_CHECK_HPP
#define TRACEBUF_TOOLS_TRACE_CHECK_HPP

#include <cinttypes>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <tracebuf/chunk_reader.hpp>
#include <tracebuf/memtrace.hpp>
#include <tracebuf/memtrace_reader.hpp>
#include <tracebuf/reader.hpp>
#include <tracebuf/record.hpp>

namespace tracebuf_tools {

struct tag_stats {
    std::uint64_t records = 0;
    std::uint64_t bytes = 0; // footprint, padding included
};

// Per-thread counts for --verify, keyed by the THREAD record's serial.
struct thread_count {
    std::uint32_t tid = 0;
    std::uint64_t counted = 0; // records attributed to it in the trace
    std::uint64_t summary = 0; // what the tracer's SUMMARY says
    bool in_trace = false, in_summary = false;
};

struct dump {
    std::map<std::uint16_t, tag_stats> by_tag;
    std::set<std::pair<std::uint32_t, std::uint32_t>> threads;
    tracebuf::memtrace::trace_reader reader;
    // --verify
    std::map<std::uint32_t, thread_count> per_thread;
    std::uint64_t unattributed = 0, first_unattributed = 0;
    std::uint64_t malformed = 0, first_malformed = 0;
    std::uint64_t chunk_faults = 0, first_chunk_fault = 0;
    tracebuf::chunk_fault first_chunk_fault_kind = tracebuf::chunk_fault::none;
    std::uint64_t records = 0;
    bool have_header = false;
    tracebuf::memtrace::header_payload header{};
    std::uint64_t insns = 0;
    std::uint32_t first_seq = 0, last_seq = 0; // the lowest and highest insn_seq of INSN records
    std::uint64_t holes = 0, hole_bytes = 0, first_hole = 0;
    bool bad = false;
    std::uint64_t bad_offset = 0;
    tracebuf::record_fault fault = tracebuf::record_fault::none;
    // The default walk (scan_trace): where it stopped, and what it skipped.
    tracebuf::trace_scan_result scan{};
    bool cut_at_stop = false;                                  // the last chunk runs past where reading stopped
    std::vector<std::pair<std::uint64_t, std::uint64_t>> gaps; // holes skipped, for --recover
    std::uint64_t expected = 0;                                // where the next record would start without a gap
};

inline std::string tag_label(std::uint16_t tag) {
    namespace mt = tracebuf::memtrace;
    if (tag == tracebuf::tags::padding) return "PADDING";
    if (tag == tracebuf::tags::chunk) return "CHUNK";
    const char* name = mt::tag_name(mt::type_of(tag));
    if (name == nullptr) return "-";
    const unsigned slot = mt::slot_of(tag);
    return slot == 0 ? name : std::string(name) + "[" + std::to_string(slot) + "]";
}

inline void count_chunk_fault(dump& d, tracebuf::chunk_fault f, std::uint64_t offset) {
    if (f == tracebuf::chunk_fault::none) return;
    if (d.chunk_faults++ == 0) {
        d.first_chunk_fault = offset;
        d.first_chunk_fault_kind = f;
    }
}

// --verify: counts one record for its thread (memtrace_reader.hpp attributes it).
inline void attribute(dump& d, const tracebuf::memtrace::attributed_record& r) {
    namespace mt = tracebuf::memtrace;
    count_chunk_fault(d, r.fault, r.offset);
    if (r.malformed && d.malformed++ == 0) d.first_malformed = r.offset;
    if (tracebuf::is_library_tag(r.tag) || mt::is_trace_wide(r.type)) return;
    if (r.thread == nullptr) {
        if (d.unattributed++ == 0) d.first_unattributed = r.offset;
        return;
    }
    thread_count& t = d.per_thread[r.thread->serial];
    t.tid = r.thread->tid;
    if (r.type == mt::thread) t.in_trace = true;
    ++t.counted;
}

inline void collect_summary(dump& d) {
    for (const tracebuf::memtrace::summary_entry& e : d.reader.summary_entries()) {
        thread_count& t = d.per_thread[e.serial];
        t.summary = e.records;
        t.tid = e.tid;
        t.in_summary = true;
    }
}

// Prints what --verify found; true if the counts match the summary exactly - or, in a
// trace without a SUMMARY (the tracer did not reach its exit), if every record read is
// attributed and the chunks are sound up to where reading stopped.
inline bool report_verify(dump& d) {
    bool ok = true;
    const bool complete = d.reader.summary_records() != 0;
    if (!complete) {
        std::printf("verify: no SUMMARY record (the tracer did not reach its exit): counts of the records read\n");
    } else {
        collect_summary(d);
        const std::uint64_t listed = d.reader.summary_entries().size();
        if (listed != d.reader.summary_total()) {
            std::printf("verify: SUMMARY lists %" PRIu64 " of %u threads\n", listed, d.reader.summary_total());
            ok = false;
        }
    }
    if (d.malformed != 0) {
        std::printf("verify: %" PRIu64 " THREAD or SUMMARY records too short for their layout (first at offset %" PRIu64 ")\n",
                    d.malformed, d.first_malformed);
        ok = false;
    }
    if (d.unattributed != 0) {
        std::printf("verify: %" PRIu64 " records from slots no THREAD record maps (first at offset %" PRIu64 ")\n",
                    d.unattributed, d.first_unattributed);
        ok = false;
    }
    if (d.reader.chunks() != 0 || d.chunk_faults != 0) {
        std::printf("verify: %" PRIu64 " chunks, %" PRIu64 " faults (records of another thread, "
                    "out-of-order or cut chunks)",
                    d.reader.chunks(), d.chunk_faults);
        if (d.chunk_faults != 0)
            std::printf(", first at offset %" PRIu64 ": %s", d.first_chunk_fault, tracebuf::to_string(d.first_chunk_fault_kind));
        if (d.cut_at_stop) std::printf("; the last chunk runs past where reading stopped");
        std::printf("\n");
        ok = ok && d.chunk_faults == 0 && (!d.cut_at_stop || !complete);
    }
    std::uint64_t counted = 0, expected = 0;
    for (const auto& [serial, t] : d.per_thread) {
        counted += t.counted;
        expected += t.summary;
        if (!complete) {
            std::printf("verify: thread %u (tid %u): %" PRIu64 " records\n", serial, t.tid, t.counted);
        } else if (!t.in_summary || t.counted != t.summary) {
            std::printf("verify: thread %u (tid %u): %" PRIu64 " records in the trace, %s %" PRIu64 "\n",
                        serial, t.tid, t.counted, t.in_summary ? "summary says" : "not in the summary:",
                        t.summary);
            ok = false;
        }
    }
    if (complete)
        std::printf("verify: %zu threads, %" PRIu64 " records attributed, summary %" PRIu64 ": %s\n",
                    d.per_thread.size(), counted, expected, ok ? "match" : "MISMATCH");
    else
        std::printf("verify: %zu threads, %" PRIu64 " records attributed, no summary to compare with: %s\n",
                    d.per_thread.size(), counted, ok ? "consistent" : "INCONSISTENT");
    return ok;
}

// Reads one record (both walks).
inline void visit_record(dump& d, bool verify, std::uint16_t tag, const unsigned char* payload, std::size_t n,
                         std::uint64_t offset) {
    namespace mt = tracebuf::memtrace;
    tag_stats& s = d.by_tag[tag];
    ++s.records;
    s.bytes += tracebuf::record_footprint(n);
    const mt::attributed_record a = d.reader.read(tag, payload, n, offset);
    if (a.type == mt::thread && a.thread != nullptr) d.threads.emplace(a.thread->pid, a.thread->tid);
    if (a.type == mt::header64 && n == sizeof d.header && !d.have_header) {
        std::memcpy(&d.header, payload, sizeof d.header);
        d.have_header = true;
    }
    if (a.type == mt::insn && n >= 4) {
        std::uint32_t seq;
        std::memcpy(&seq, payload, sizeof seq);
        d.first_seq = d.insns == 0 || seq < d.first_seq ? seq : d.first_seq;
        d.last_seq = d.insns == 0 || seq > d.last_seq ? seq : d.last_seq;
        ++d.insns;
    }
    if (verify) attribute(d, a);
}

// --strict: every byte must be read. A hole is skipped (zero words) so that the rest can
// still be counted, and makes the trace invalid; any other bad record ends the walk.
inline void walk_strict(const unsigned char* data, std::uint64_t size, std::size_t max_record, bool verify, dump& d) {
    std::uint64_t at = 0;
    while (at < size) {
        const tracebuf::scan_result r = tracebuf::scan_records(
            data + at, size - at, max_record,
            [&](std::uint16_t tag, const unsigned char* payload, std::size_t n, std::size_t offset) {
                visit_record(d, verify, tag, payload, n, at + offset);
            });
        d.records += r.records;
        at += r.valid_bytes;
        if (r.ok()) break;
        if (r.fault != tracebuf::record_fault::hole) {
            d.bad = true;
            d.bad_offset = at;
            d.fault = r.fault;
            return;
        }
        // Skip the zero words of the hole, 8 bytes at a time (records are 8-aligned).
        if (d.holes++ == 0) d.first_hole = at;
        const std::uint64_t start = at;
        std::uint16_t tag = 0;
        while (at < size) {
            // The data may end one byte into the word.
            std::memcpy(&tag, data + at, size - at < sizeof tag ? size - at : sizeof tag);
            if (tag != 0) break;
            at += tracebuf::record_alignment;
        }
        if (at > size) at = size;
        d.hole_bytes += at - start;
    }
    if (verify) count_chunk_fault(d, d.reader.end(size), size);
}

// The default: a trace that may have ended abnormally (tracebuf::scan_trace, and
// docs/reading-traces.md): every record it reads is whole; it skips the holes whose end is
// known and stops at the first other one, or at a bad record.
inline void walk(const unsigned char* data, std::uint64_t size, std::size_t max_record, bool verify, bool claims_marked,
                 dump& d) {
    d.scan = tracebuf::scan_trace(
        data, static_cast<std::size_t>(size), max_record,
        [&](std::uint16_t tag, const unsigned char* payload, std::size_t n, std::size_t offset) {
            if (offset > d.expected) d.gaps.emplace_back(d.expected, offset);
            d.expected = offset + tracebuf::record_footprint(n);
            visit_record(d, verify, tag, payload, n, offset);
        },
        tracebuf::scan_options{claims_marked});
    if (d.expected < d.scan.stop) d.gaps.emplace_back(d.expected, d.scan.stop);
    d.records = d.scan.records;
    d.holes = d.scan.chunk_holes + d.scan.marked_holes + d.scan.zero_claims;
    if (d.holes != 0) {
        std::uint64_t first = size;
        if (d.scan.chunk_holes != 0 && d.scan.first_chunk_hole < first) first = d.scan.first_chunk_hole;
        if (d.scan.marked_holes != 0 && d.scan.first_marked_hole < first) first = d.scan.first_marked_hole;
        if (d.scan.zero_claims != 0 && d.scan.first_zero_claim < first) first = d.scan.first_zero_claim;
        d.first_hole = first;
    }
    if (!d.scan.read_everything()) {
        d.bad = true;
        d.bad_offset = d.scan.stop;
        d.fault = d.scan.fault;
    }
    if (verify) {
        const tracebuf::chunk_fault f = d.reader.end(d.scan.stop);
        // A chunk cut where reading stopped is what a crash leaves; judged with the rest below.
        if (f != tracebuf::chunk_fault::cut || d.scan.stop == size) count_chunk_fault(d, f, d.scan.stop);
        else d.cut_at_stop = true;
    }
}

} // namespace tracebuf_tools

#endif // TRACEBUF_TOOLS_TRACE_CHECK_HPP
