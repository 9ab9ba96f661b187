// Checks a QEMU tracer's trace of order_probes against happens-before:
//   trace_order_check counter ADDR TRACE      the STOREs to the 8-byte counter at ADDR hold
//                                             1, 2, 3, ... in trace order
//   trace_order_check data ADDR BYTES TRACE   every LOAD of [ADDR, ADDR + BYTES) comes after
//                                             a STORE of the value it read to that address
//                                             (or reads the initial 0)
// Prints the counts and exits 0 if there is no violation, 1 if there is, 2 on bad usage or
// an unreadable trace.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>
#include <utility>

#include <tracebuf/memtrace.hpp>
#include <tracebuf/memtrace_reader.hpp>

namespace mt = tracebuf::memtrace;

namespace {

// LOAD/STORE payload: u32 insn_seq, u64 addr, value bytes.
bool access_of(const mt::attributed_record& r, std::uint64_t& addr, std::uint64_t& value) {
    if ((r.type != mt::load && r.type != mt::store) || r.size < 12) return false;
    std::memcpy(&addr, r.payload + 4, 8);
    value = 0;
    const std::size_t n = r.size - 12 < 8 ? r.size - 12 : 8;
    std::memcpy(&value, r.payload + 12, n);
    return true;
}

int usage() {
    std::fprintf(stderr, "usage: trace_order_check counter ADDR TRACE | data ADDR BYTES TRACE\n");
    return 2;
}

} // namespace

int main(int argc, char** argv) {
    const bool counter_mode = argc == 4 && std::strcmp(argv[1], "counter") == 0;
    const bool data_mode = argc == 5 && std::strcmp(argv[1], "data") == 0;
    if (!counter_mode && !data_mode) return usage();
    const std::uint64_t base = std::strtoull(argv[2], nullptr, 0);
    const std::uint64_t bytes = data_mode ? std::strtoull(argv[3], nullptr, 0) : 8;
    const char* path = argv[argc - 1];
    const int fd = ::open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || ::fstat(fd, &st) != 0 || st.st_size == 0) {
        std::fprintf(stderr, "trace_order_check: cannot read %s\n", path);
        return 2;
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) return 2;

    std::uint64_t stores = 0, loads = 0, violations = 0, next_counter = 1;
    std::set<std::pair<std::uint64_t, std::uint64_t>> stored; // (address, value) stored so far
    const auto walked = mt::read_trace(static_cast<const unsigned char*>(m), size, [&](const mt::attributed_record& r) {
        std::uint64_t addr, value;
        if (!access_of(r, addr, value) || addr < base || addr >= base + bytes) return;
        if (r.type == mt::store) {
            ++stores;
            if (counter_mode) {
                if (value != next_counter) ++violations;
                next_counter = value + 1;
            } else {
                stored.emplace(addr, value);
            }
        } else if (data_mode) {
            ++loads;
            if (value != 0 && stored.count({addr, value}) == 0) ++violations;
        }
    });
    if (!walked.scan.ok()) {
        std::fprintf(stderr, "trace_order_check: %s is not a valid trace\n", path);
        return 2;
    }
    if (counter_mode)
        std::printf("order: %" PRIu64 " counter stores, %" PRIu64 " out of increment order\n", stores, violations);
    else
        std::printf("order: %" PRIu64 " stores, %" PRIu64 " loads of the data, %" PRIu64
                    " before the store they read\n",
                    stores, loads, violations);
    return violations == 0 && stores != 0 ? 0 : 1;
}
