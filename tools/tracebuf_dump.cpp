// tracebuf-dump: validates a trace file and prints statistics.
//
//   tracebuf-dump [--verify] [--max-record=N] FILE
//
// Walks every record: tag non-zero, length in [4, N] (default 4096), inside the file.
// Prints records and bytes by tag, padding, threads (THREAD records), and holes (runs of
// zero bytes where a record should start: reserved space nobody wrote). A hole is skipped
// so that the rest can still be counted; any other bad record ends the walk, since the
// next record's start is then unknown.
// With --verify (traces of the tracers, tracebuf/memtrace.hpp): every record's thread slot
// must be mapped by a THREAD record, and the records counted per thread must equal the
// counts in the SUMMARY records the tracer wrote at exit - nothing lost, nothing extra.
// A chunk-mode trace (tracebuf/chunk_writer.hpp) is checked further: every chunk lies
// inside the file, each thread's chunk sequence numbers follow each other, and every record
// inside a chunk belongs to the chunk's thread (its slot's THREAD record has the chunk's tid).
// The attribution and the chunk checks are tracebuf/memtrace_reader.hpp's. Traces written
// with THREAD and SUMMARY's old tags (0x4d52, 0x4d53) read the same, with a note that says so.
// Exit status: 0 valid (and verified), 1 invalid, 2 usage or I/O error.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <utility>

#include <tracebuf/memtrace.hpp>
#include <tracebuf/memtrace_reader.hpp>
#include <tracebuf/reader.hpp>
#include <tracebuf/record.hpp>

namespace {

struct tag_stats {
    std::uint64_t records = 0;
    std::uint64_t bytes = 0; // footprint, padding included
};

// Per-thread counts for --verify, keyed by the THREAD record's serial.
struct thread_count {
    std::uint32_t tid = 0;
    std::uint64_t counted = 0;  // records attributed to it in the trace
    std::uint64_t summary = 0;  // what the tracer's SUMMARY says
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
    std::uint64_t holes = 0, hole_bytes = 0, first_hole = 0;
    bool bad = false;
    std::uint64_t bad_offset = 0;
    tracebuf::record_fault fault = tracebuf::record_fault::none;
};

int usage() {
    std::fprintf(stderr, "usage: tracebuf-dump [--verify] [--max-record=N] FILE\n");
    return 2;
}

std::string tag_label(std::uint16_t tag) {
    namespace mt = tracebuf::memtrace;
    if (tag == tracebuf::tags::padding) return "PADDING";
    if (tag == tracebuf::tags::chunk) return "CHUNK";
    const char* name = mt::tag_name(mt::type_of(tag));
    if (name == nullptr) return "-";
    const unsigned slot = mt::slot_of(tag);
    return slot == 0 ? name : std::string(name) + "[" + std::to_string(slot) + "]";
}

void count_chunk_fault(dump& d, tracebuf::chunk_fault f, std::uint64_t offset) {
    if (f == tracebuf::chunk_fault::none) return;
    if (d.chunk_faults++ == 0) {
        d.first_chunk_fault = offset;
        d.first_chunk_fault_kind = f;
    }
}

// --verify: counts one record for its thread (memtrace_reader.hpp attributes it).
void attribute(dump& d, const tracebuf::memtrace::attributed_record& r) {
    namespace mt = tracebuf::memtrace;
    count_chunk_fault(d, r.fault, r.offset);
    if (r.malformed && d.malformed++ == 0) d.first_malformed = r.offset;
    if (tracebuf::is_library_tag(r.tag) || r.type == mt::header64 || r.type == mt::header32 || r.type == mt::summary)
        return; // trace-wide records
    if (r.thread == nullptr) {
        if (d.unattributed++ == 0) d.first_unattributed = r.offset;
        return;
    }
    thread_count& t = d.per_thread[r.thread->serial];
    if (r.type == mt::thread) t.in_trace = true;
    ++t.counted;
}

void collect_summary(dump& d) {
    for (const tracebuf::memtrace::summary_entry& e : d.reader.summary_entries()) {
        thread_count& t = d.per_thread[e.serial];
        t.summary = e.records;
        t.tid = e.tid;
        t.in_summary = true;
    }
}

// Prints what --verify found; true if the counts match the summary exactly.
bool report_verify(dump& d) {
    bool ok = true;
    const std::uint64_t summary_records = d.reader.summary_records();
    if (summary_records == 0) {
        std::printf("verify: no SUMMARY record (the tracer did not reach its exit)\n");
        return false;
    }
    collect_summary(d);
    const std::uint64_t listed = d.reader.summary_entries().size();
    if (listed != d.reader.summary_total()) {
        std::printf("verify: SUMMARY lists %" PRIu64 " of %u threads\n", listed, d.reader.summary_total());
        ok = false;
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
                    "out-of-order or cut chunks)", d.reader.chunks(), d.chunk_faults);
        if (d.chunk_faults != 0)
            std::printf(", first at offset %" PRIu64 ": %s", d.first_chunk_fault, tracebuf::to_string(d.first_chunk_fault_kind));
        std::printf("\n");
        ok = ok && d.chunk_faults == 0;
    }
    std::uint64_t counted = 0, expected = 0;
    for (const auto& [serial, t] : d.per_thread) {
        counted += t.counted;
        expected += t.summary;
        if (!t.in_summary || t.counted != t.summary) {
            std::printf("verify: thread %u (tid %u): %" PRIu64 " records in the trace, %s %" PRIu64 "\n",
                        serial, t.tid, t.counted, t.in_summary ? "summary says" : "not in the summary:",
                        t.summary);
            ok = false;
        }
    }
    std::printf("verify: %zu threads, %" PRIu64 " records attributed, summary %" PRIu64 ": %s\n",
                d.per_thread.size(), counted, expected, ok ? "match" : "MISMATCH");
    return ok;
}

void walk(const unsigned char* data, std::uint64_t size, std::size_t max_record, bool verify, dump& d) {
    namespace mt = tracebuf::memtrace;
    std::uint64_t at = 0;
    while (at < size) {
        const tracebuf::scan_result r = tracebuf::scan_records(
            data + at, size - at, max_record,
            [&](std::uint16_t tag, const unsigned char* payload, std::size_t n, std::size_t offset) {
                tag_stats& s = d.by_tag[tag];
                ++s.records;
                s.bytes += tracebuf::record_footprint(n);
                const mt::attributed_record a = d.reader.read(tag, payload, n, at + offset);
                if (a.type == mt::thread && a.thread != nullptr) d.threads.emplace(a.thread->pid, a.thread->tid);
                if (verify) attribute(d, a);
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
            std::memcpy(&tag, data + at, sizeof tag);
            if (tag != 0) break;
            at += tracebuf::record_alignment;
        }
        if (at > size) at = size;
        d.hole_bytes += at - start;
    }
    if (verify) count_chunk_fault(d, d.reader.end(size), size);
}

} // namespace

int main(int argc, char** argv) {
    std::size_t max_record = 4096;
    bool verify = false;
    const char* path = nullptr;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--verify") == 0) {
            verify = true;
        } else if (std::strncmp(argv[i], "--max-record=", 13) == 0) {
            char* end = nullptr;
            const unsigned long v = std::strtoul(argv[i] + 13, &end, 10);
            if (*end != '\0' || v < 8 || v > tracebuf::record_length_limit) return usage();
            max_record = v;
        } else if (argv[i][0] == '-' && argv[i][1] != '\0') {
            return usage();
        } else if (path == nullptr) {
            path = argv[i];
        } else {
            return usage();
        }
    }
    if (path == nullptr) return usage();

    const int fd = ::open(path, O_RDONLY);
    if (fd < 0) {
        std::fprintf(stderr, "tracebuf-dump: %s: %s\n", path, std::strerror(errno));
        return 2;
    }
    struct stat st;
    if (::fstat(fd, &st) != 0) {
        std::fprintf(stderr, "tracebuf-dump: %s: %s\n", path, std::strerror(errno));
        return 2;
    }
    const auto size = static_cast<std::uint64_t>(st.st_size);
    const unsigned char* data = nullptr;
    if (size != 0) {
        void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            std::fprintf(stderr, "tracebuf-dump: %s: mmap: %s\n", path, std::strerror(errno));
            return 2;
        }
        data = static_cast<const unsigned char*>(m);
    }
    ::close(fd);

    dump d;
    walk(data, size, max_record, verify, d);

    std::printf("file: %s (%" PRIu64 " bytes)\n", path, size);
    std::printf("records: %" PRIu64 "\n", d.records);
    std::printf("  %-6s  %-10s  %12s  %14s\n", "tag", "name", "records", "bytes");
    for (const auto& [tag, s] : d.by_tag) {
        std::printf("  0x%04x  %-10s  %12" PRIu64 "  %14" PRIu64 "\n", tag, tag_label(tag).c_str(),
                    s.records, s.bytes);
    }
    std::printf("threads: %zu\n", d.threads.size());
    if (d.reader.legacy_records() != 0)
        std::printf("note: %" PRIu64 " THREAD and SUMMARY records with the old tags 0x4d52 and 0x4d53, read as such\n",
                    d.reader.legacy_records());
    std::printf("holes: %" PRIu64 " (%" PRIu64 " bytes)", d.holes, d.hole_bytes);
    if (d.holes != 0) std::printf(", first at offset %" PRIu64, d.first_hole);
    std::printf("\n");
    if (d.bad) {
        std::printf("invalid: bad record at offset %" PRIu64 ": %s\n", d.bad_offset,
                    tracebuf::to_string(d.fault));
        return 1;
    }
    if (d.holes != 0) {
        std::printf("invalid: the trace has holes\n");
        return 1;
    }
    if (verify && !report_verify(d)) {
        std::printf("invalid: the per-thread counts do not match the summary\n");
        return 1;
    }
    std::printf("valid\n");
    return 0;
}
