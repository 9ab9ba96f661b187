// tracebuf-dump: validates a trace file and prints statistics, or exports it for memtrace.
//
//   tracebuf-dump [--verify] [--strict] [--recover] [--claims-marked] [--max-record=N] FILE
//   tracebuf-dump --export-memtrace=OUT [--thread=SERIAL] [--max-record=N] FILE
//
// Walks every record: tag non-zero, length in [4, N] (default 4096), inside the file.
// Prints records and bytes by tag, padding, the HEADER's machine and trace id, the range of
// the INSN records' insn_seq, threads (THREAD records), and holes.
// A trace may have ended abnormally (the tracer crashed or was killed: a file_window trace
// keeps everything written, docs/reading-traces.md, "Crashed traces"). The walk reads every
// whole record (writers store a header last, so a record is whole or absent), skips the
// holes whose end is known (a chunk's unwritten rest, a marked or untouched claim), and
// stops at any other hole or at a file that ends inside a record: the trace is valid up to
// there, and a tracer's trace without a SUMMARY says "incomplete: the tracer did not reach
// its exit; N records". A zero tail (space the writer had not reached) is reported, and
// --recover cuts the file after the last whole record. A trace with a SUMMARY must have no
// hole and nothing unread. Any other bad record makes the trace invalid.
// --claims-marked: every claim was marked before it was written (a trace of the library's
// writers only - chunk or ordered mode, or write_record - no JIT's inline records): the walk
// resumes after an untouched claim anywhere (tracebuf::scan_options); an ordered trace needs it.
// --strict reads as before crash consistency: every byte must belong to a record; a hole is
// skipped (zero words) so that the rest can still be counted, and makes the trace invalid.
// With --verify (traces of the tracers, tracebuf/memtrace.hpp): every record's thread slot
// must be mapped by a THREAD record, and the records counted per thread must equal the
// counts in the SUMMARY records the tracer wrote at exit - nothing lost, nothing extra;
// without a SUMMARY it prints each thread's count of the records read.
// A chunk-mode trace (tracebuf/chunk_writer.hpp) is checked further: every chunk lies
// inside the file (but the one where reading stopped, in a trace without a SUMMARY), each
// thread's chunk sequence numbers follow each other, and every record
// inside a chunk belongs to the chunk's thread (its slot's THREAD record has the chunk's tid).
// The attribution and the chunk checks are tracebuf/memtrace_reader.hpp's. Traces written
// with THREAD and SUMMARY's old tags (0x4d52, 0x4d53) read the same, with a note that says so.
// With --export-memtrace, writes OUT for memtrace's own tools instead (memtrace_export.hpp
// says what it holds): all threads merged, or with --thread only the thread whose THREAD
// record has that serial. It reads FILE as a stream, shows its progress on a terminal, and
// writes OUT under a temporary name that it renames to OUT only once the whole trace was
// good: a bad trace leaves no OUT, and an error names the offset of the bad record.
// Exit status: 0 valid (and verified, or exported), 1 invalid, 2 usage or I/O error.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <tracebuf/memtrace.hpp>
#include <tracebuf/memtrace_reader.hpp>
#include <tracebuf/reader.hpp>
#include <tracebuf/record.hpp>
#include <tracebuf/trace_file.hpp>

#include "memtrace_export.hpp"
#include "trace_check.hpp"

namespace {

using tracebuf_tools::dump;
using tracebuf_tools::report_verify;
using tracebuf_tools::tag_label;
using tracebuf_tools::walk;
using tracebuf_tools::walk_strict;

int usage() {
    std::fprintf(stderr, "usage: tracebuf-dump [--verify] [--strict] [--recover] [--claims-marked] [--max-record=N] FILE\n"
                         "       tracebuf-dump --export-memtrace=OUT [--thread=SERIAL] [--max-record=N] FILE\n");
    return 2;
}

// ---- --export-memtrace ------------------------------------------------------------------

bool write_all(int fd, const unsigned char* data, std::size_t size) {
    while (size != 0) {
        const ssize_t n = ::write(fd, data, size);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return false;
        data += n;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

// A progress line on stderr, when it is a terminal and the trace is big enough to wait for.
class progress {
public:
    explicit progress(std::uint64_t total) : total_(total), shown_(total >= (64u << 20) && ::isatty(2) == 1) {}
    void update(const tracebuf_tools::export_stats& s, bool last = false) {
        if (!shown_) return;
        const auto now = std::chrono::steady_clock::now();
        if (!last && now - printed_ < std::chrono::milliseconds(500)) return;
        printed_ = now;
        const double seconds = std::chrono::duration<double>(now - start_).count();
        std::fprintf(stderr, "\rtracebuf-dump: %" PRIu64 " records, %" PRIu64 " of %" PRIu64 " MiB, %.0f MB/s%s",
                     s.input_records, s.input_bytes >> 20, total_ >> 20,
                     seconds > 0 ? static_cast<double>(s.input_bytes) / 1e6 / seconds : 0.0, last ? "\n" : "");
    }

private:
    std::uint64_t total_;
    bool shown_;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now(), printed_{};
};

int export_memtrace(const char* path, const std::string& out_path, const tracebuf_tools::export_options& options) {
    const int in = ::open(path, O_RDONLY);
    struct stat st;
    if (in < 0 || ::fstat(in, &st) != 0) {
        std::fprintf(stderr, "tracebuf-dump: %s: %s\n", path, std::strerror(errno));
        return 2;
    }
    struct stat out_st;
    // The export holds the trace's values: it is created 0600 (mkstemp) and renamed over OUT,
    // which never follows a link; a symbolic link at OUT is refused all the same, as the
    // tracers refuse one (tracebuf/trace_file.hpp), rather than silently replaced.
    if (::lstat(out_path.c_str(), &out_st) == 0 && S_ISLNK(out_st.st_mode)) {
        std::fprintf(stderr, "tracebuf-dump: %s: %s\n", out_path.c_str(), tracebuf::trace_file_error(ELOOP));
        return 2;
    }
    if (::stat(out_path.c_str(), &out_st) == 0 && out_st.st_dev == st.st_dev && out_st.st_ino == st.st_ino) {
        std::fprintf(stderr, "tracebuf-dump: %s: the export would replace its own input\n", out_path.c_str());
        return 2;
    }
    std::string temp = out_path + ".partial-XXXXXX";
    const int out = ::mkostemp(temp.data(), O_CLOEXEC);
    if (out < 0) {
        std::fprintf(stderr, "tracebuf-dump: %s: %s\n", temp.c_str(), std::strerror(errno));
        return 2;
    }
    const auto give_up = [&](int status) {
        ::close(out);
        ::unlink(temp.c_str());
        ::close(in);
        return status;
    };

    // A trace that ended abnormally is exported up to where tracebuf::scan_trace stops, with
    // the holes it skipped (a chunk's unwritten rest, a marked or untouched claim) covered by
    // padding in a private copy-on-write mapping: the exporter sees only whole records.
    const auto size = static_cast<std::uint64_t>(st.st_size);
    unsigned char* data = nullptr;
    if (size != 0) {
        void* m = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE, in, 0);
        if (m == MAP_FAILED) {
            std::fprintf(stderr, "tracebuf-dump: %s: mmap: %s\n", path, std::strerror(errno));
            return give_up(2);
        }
        data = static_cast<unsigned char*>(m);
    }
    std::vector<std::pair<std::uint64_t, std::uint64_t>> gaps;
    std::uint64_t expected = 0;
    const tracebuf::trace_scan_result scan = tracebuf::scan_trace(
        data, static_cast<std::size_t>(size), options.max_record,
        [&](std::uint16_t, const unsigned char*, std::size_t n, std::size_t offset) {
            if (offset > expected) gaps.emplace_back(expected, offset);
            expected = offset + tracebuf::record_footprint(n);
        });
    std::uint64_t feed_end = size;
    const bool crashed = scan.stop < size &&
                         (scan.zero_tail || scan.fault == tracebuf::record_fault::hole ||
                          scan.fault == tracebuf::record_fault::truncated);
    if (crashed && expected < scan.stop) gaps.emplace_back(expected, scan.stop); // a hole skipped last
    if (crashed || !gaps.empty()) {
        if (crashed) feed_end = scan.stop;
        for (const auto& [from, to] : gaps)
            tracebuf::write_padding(data + from, static_cast<std::size_t>(to - from), options.max_record);
    }
    tracebuf_tools::memtrace_export exporter(options);
    progress shown(feed_end);
    for (std::uint64_t at = 0;;) {
        const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(feed_end - at, std::uint64_t{4} << 20));
        const bool good = n == 0 ? exporter.finish() : exporter.feed(data + at, n);
        at += n;
        shown.update(exporter.stats(), n == 0 || !good);
        if (!good) {
            std::fprintf(stderr, "tracebuf-dump: %s: %s; no export written\n", path, exporter.error().c_str());
            return give_up(1);
        }
        std::vector<unsigned char>& produced = exporter.output();
        if (!write_all(out, produced.data(), produced.size())) {
            std::fprintf(stderr, "tracebuf-dump: %s: %s\n", temp.c_str(), std::strerror(errno));
            return give_up(2);
        }
        produced.clear();
        if (n == 0) break;
    }
    if (crashed || !gaps.empty())
        std::printf("incomplete: the trace ended abnormally; exported its whole records up to offset %" PRIu64
                    " of %" PRIu64 " (%zu holes covered)\n",
                    feed_end, size, gaps.size());
    const tracebuf_tools::header_record header = exporter.final_header();
    if (::pwrite(out, header.data(), header.size(), 0) != static_cast<ssize_t>(header.size()) ||
        ::close(out) != 0) {
        std::fprintf(stderr, "tracebuf-dump: %s: %s\n", temp.c_str(), std::strerror(errno));
        ::unlink(temp.c_str());
        ::close(in);
        return 2;
    }
    ::close(in);
    if (::rename(temp.c_str(), out_path.c_str()) != 0) {
        std::fprintf(stderr, "tracebuf-dump: %s: %s\n", out_path.c_str(), std::strerror(errno));
        ::unlink(temp.c_str());
        return 2;
    }
    for (const std::string& w : exporter.warnings()) std::fprintf(stderr, "tracebuf-dump: warning: %s\n", w.c_str());
    const tracebuf_tools::export_stats& s = exporter.stats();
    std::printf("exported %s to %s: %" PRIu64 " records in, %" PRIu64 " out\n", path, out_path.c_str(),
                s.input_records, s.output_records);
    std::printf("  %" PRIu64 " executions, %" PRIu64 " instructions (%" PRIu64 " second numbers), %" PRIu64
                " executions split, %" PRIu64 " INSN_EXEC added\n",
                s.executions, s.instructions, s.second_numbers, s.split_executions, s.added_execs);
    std::printf("  %" PRIu64 " threads, %" PRIu64 " records dropped (THREAD, SUMMARY, tracebuf's own)", s.threads,
                s.dropped);
    if (options.one_thread) std::printf(", %" PRIu64 " executions of other threads left out", s.other_threads);
    std::printf("\n");
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    std::size_t max_record = 4096;
    bool verify = false, strict = false, recover = false, claims_marked = false;
    const char* path = nullptr;
    const char* export_path = nullptr;
    tracebuf_tools::export_options export_options;
    for (int i = 1; i < argc; ++i) {
        if (std::strcmp(argv[i], "--verify") == 0) {
            verify = true;
        } else if (std::strcmp(argv[i], "--strict") == 0) {
            strict = true;
        } else if (std::strcmp(argv[i], "--recover") == 0) {
            recover = true;
        } else if (std::strcmp(argv[i], "--claims-marked") == 0) {
            claims_marked = true;
        } else if (std::strncmp(argv[i], "--export-memtrace=", 18) == 0) {
            export_path = argv[i] + 18;
            if (*export_path == '\0') return usage();
        } else if (std::strncmp(argv[i], "--thread=", 9) == 0) {
            char* end = nullptr;
            const unsigned long v = std::strtoul(argv[i] + 9, &end, 10);
            if (argv[i][9] == '\0' || *end != '\0' || v > 0xffffffffu) return usage();
            export_options.one_thread = true;
            export_options.thread_serial = static_cast<std::uint32_t>(v);
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
    if (export_path != nullptr) {
        if (verify || strict || recover || claims_marked) return usage();
        export_options.max_record = max_record;
        return export_memtrace(path, export_path, export_options);
    }
    if (export_options.one_thread) return usage(); // --thread selects what to export
    if (strict && (recover || claims_marked)) return usage();

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
    if (strict) walk_strict(data, size, max_record, verify, d);
    else walk(data, size, max_record, verify, claims_marked, d);

    std::printf("file: %s (%" PRIu64 " bytes)\n", path, size);
    std::printf("records: %" PRIu64 "\n", d.records);
    std::printf("  %-6s  %-13s  %12s  %14s\n", "tag", "name", "records", "bytes");
    for (const auto& [tag, s] : d.by_tag) {
        std::printf("  0x%04x  %-13s  %12" PRIu64 "  %14" PRIu64 "\n", tag, tag_label(tag).c_str(),
                    s.records, s.bytes);
    }
    if (d.have_header) {
        std::printf("header: machine %u, trace id ", d.header.e_machine);
        for (std::uint8_t b : d.header.trace_id) std::printf("%02x", b);
        std::printf("\n");
    }
    if (d.insns != 0)
        std::printf("instructions: %" PRIu64 " INSN records, insn_seq %u to %u\n", d.insns, d.first_seq, d.last_seq);
    std::printf("threads: %zu\n", d.threads.size());
    if (d.reader.legacy_records() != 0)
        std::printf("note: %" PRIu64 " THREAD and SUMMARY records with the old tags 0x4d52 and 0x4d53, read as such\n",
                    d.reader.legacy_records());
    if (strict) {
        std::printf("holes: %" PRIu64 " (%" PRIu64 " bytes)", d.holes, d.hole_bytes);
        if (d.holes != 0) std::printf(", first at offset %" PRIu64, d.first_hole);
        std::printf("\n");
        if (d.bad) {
            std::printf("invalid: bad record at offset %" PRIu64 ": %s\n", d.bad_offset, tracebuf::to_string(d.fault));
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
    // The default walk: a crashed trace reads valid up to its last whole record.
    const bool complete = d.reader.summary_records() != 0;
    const tracebuf::trace_scan_result& r = d.scan;
    std::printf("holes: %" PRIu64, d.holes);
    if (d.holes != 0)
        std::printf(" (records being written when the writer stopped: %zu in chunks, %zu marked, %zu untouched "
                    "claims), first at offset %" PRIu64,
                    r.chunk_holes, r.marked_holes, r.zero_claims, d.first_hole);
    std::printf("\n");
    bool ok = true;
    std::uint64_t keep = size; // what --recover keeps
    if (r.zero_tail) {
        std::printf("zero tail: %" PRIu64 " bytes from offset %zu (space the writer had not reached)\n", size - r.stop, r.stop);
        keep = r.stop;
    } else if (d.bad) {
        if (r.fault == tracebuf::record_fault::hole) {
            std::printf("stopped at offset %" PRIu64 ": a hole of unknown length (a record being written when the "
                        "writer stopped); %" PRIu64 " bytes after it not read: whole records of other threads may "
                        "be among them, but nothing tells them from the interrupted record's payload\n",
                        d.bad_offset, size - d.bad_offset);
            keep = d.bad_offset;
        } else if (r.fault == tracebuf::record_fault::truncated) {
            std::printf("stopped at offset %" PRIu64 ": the file ends inside a record\n", d.bad_offset);
            keep = d.bad_offset;
        } else {
            std::printf("invalid: bad record at offset %" PRIu64 ": %s\n", d.bad_offset, tracebuf::to_string(d.fault));
            return 1;
        }
        ok = !complete; // a complete trace has no hole
    }
    if (complete && d.holes != 0) ok = false;
    if (verify && !report_verify(d)) {
        std::printf("invalid: the per-thread counts %s\n", complete ? "do not match the summary" : "are inconsistent");
        return 1;
    }
    if (!ok) {
        std::printf("invalid: the trace has a SUMMARY and holes or unread bytes\n");
        return 1;
    }
    if (recover && (keep < size || !d.gaps.empty())) {
        // Cover the holes skipped with padding, then cut what follows the last whole record:
        // the file then reads whole for any reader.
        const int rw = ::open(path, O_RDWR | O_CLOEXEC);
        void* m = rw < 0 ? MAP_FAILED : ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, rw, 0);
        if (m == MAP_FAILED) {
            std::fprintf(stderr, "tracebuf-dump: %s: %s\n", path, std::strerror(errno));
            return 2;
        }
        for (const auto& [from, to] : d.gaps)
            tracebuf::write_padding(static_cast<unsigned char*>(m) + from, static_cast<std::size_t>(to - from), max_record);
        ::munmap(m, size);
        if (::ftruncate(rw, static_cast<off_t>(keep)) != 0 || ::close(rw) != 0) {
            std::fprintf(stderr, "tracebuf-dump: %s: truncate: %s\n", path, std::strerror(errno));
            return 2;
        }
        std::printf("recovered: covered %zu holes with padding and cut the file to %" PRIu64 " bytes (%" PRIu64
                    " bytes after the last whole record)\n",
                    d.gaps.size(), keep, size - keep);
    }
    if (!complete && (d.have_header || r.zero_tail || d.bad || d.holes != 0)) {
        std::printf("incomplete: the tracer did not reach its exit; %" PRIu64 " records\n", d.records);
        return 0;
    }
    std::printf("valid\n");
    return 0;
}
