// tracebuf-dump: validates a trace file and prints statistics.
//
//   tracebuf-dump [--max-record=N] FILE
//
// Walks every record: tag non-zero, length in [4, N] (default 4096), inside the file.
// Prints records and bytes by tag, padding, threads (THREAD records), and holes (runs of
// zero bytes where a record should start: reserved space nobody wrote). A hole is skipped
// so that the rest can still be counted; any other bad record ends the walk, since the
// next record's start is then unknown.
// Exit status: 0 valid, 1 invalid (hole or bad record), 2 usage or I/O error.
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
#include <tracebuf/reader.hpp>
#include <tracebuf/record.hpp>

namespace {

struct tag_stats {
    std::uint64_t records = 0;
    std::uint64_t bytes = 0; // footprint, padding included
};

struct dump {
    std::map<std::uint16_t, tag_stats> by_tag;
    std::set<std::pair<std::uint32_t, std::uint32_t>> threads;
    std::uint64_t records = 0;
    std::uint64_t holes = 0, hole_bytes = 0, first_hole = 0;
    bool bad = false;
    std::uint64_t bad_offset = 0;
    tracebuf::record_fault fault = tracebuf::record_fault::none;
};

int usage() {
    std::fprintf(stderr, "usage: tracebuf-dump [--max-record=N] FILE\n");
    return 2;
}

std::string tag_label(std::uint16_t tag) {
    if (tag == tracebuf::tags::padding) return "PADDING";
    const char* name = tracebuf::memtrace::tag_name(tag);
    return name != nullptr ? name : "-";
}

void walk(const unsigned char* data, std::uint64_t size, std::size_t max_record, dump& d) {
    std::uint64_t at = 0;
    while (at < size) {
        const tracebuf::scan_result r = tracebuf::scan_records(
            data + at, size - at, max_record,
            [&](std::uint16_t tag, const unsigned char* payload, std::size_t n, std::size_t) {
                tag_stats& s = d.by_tag[tag];
                ++s.records;
                s.bytes += tracebuf::record_footprint(n);
                if (tag == tracebuf::memtrace::thread && n >= sizeof(tracebuf::memtrace::thread_payload)) {
                    tracebuf::memtrace::thread_payload t;
                    std::memcpy(&t, payload, sizeof t);
                    d.threads.emplace(t.pid, t.tid);
                }
            });
        d.records += r.records;
        at += r.valid_bytes;
        if (r.ok()) return;
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
}

} // namespace

int main(int argc, char** argv) {
    std::size_t max_record = 4096;
    const char* path = nullptr;
    for (int i = 1; i < argc; ++i) {
        if (std::strncmp(argv[i], "--max-record=", 13) == 0) {
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
    walk(data, size, max_record, d);

    std::printf("file: %s (%" PRIu64 " bytes)\n", path, size);
    std::printf("records: %" PRIu64 "\n", d.records);
    std::printf("  %-6s  %-10s  %12s  %14s\n", "tag", "name", "records", "bytes");
    for (const auto& [tag, s] : d.by_tag) {
        std::printf("  0x%04x  %-10s  %12" PRIu64 "  %14" PRIu64 "\n", tag, tag_label(tag).c_str(),
                    s.records, s.bytes);
    }
    std::printf("threads: %zu\n", d.threads.size());
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
    std::printf("valid\n");
    return 0;
}
