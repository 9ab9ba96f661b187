// trace_find_store TRACE ADDRESS VALUE: counts the STORE records of any thread with that
// address and (8-byte) value, reading the trace as tracebuf-dump does (scan_trace: a trace
// that ended abnormally reads up to its last whole record). Prints the count; exit 0 if at
// least one, 1 if none, 2 on a usage or I/O error. For the crash tests (test_qemu.sh crash).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include <tracebuf/memtrace.hpp>
#include <tracebuf/reader.hpp>

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: trace_find_store TRACE ADDRESS VALUE\n");
        return 2;
    }
    const std::uint64_t address = std::strtoull(argv[2], nullptr, 0);
    const std::uint64_t value = std::strtoull(argv[3], nullptr, 16);
    const int fd = ::open(argv[1], O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || ::fstat(fd, &st) != 0 || st.st_size == 0) {
        std::fprintf(stderr, "trace_find_store: cannot read %s\n", argv[1]);
        return 2;
    }
    const auto size = static_cast<std::size_t>(st.st_size);
    void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) return 2;
    std::uint64_t found = 0;
    tracebuf::scan_trace(m, size, 4096, [&](std::uint16_t tag, const unsigned char* payload, std::size_t n, std::size_t) {
        if (tracebuf::is_library_tag(tag) || tracebuf::memtrace::type_of(tag) != tracebuf::memtrace::store) return;
        if (n != 4 + 8 + 8) return; // insn_seq, address, an 8-byte value
        std::uint64_t a, v;
        std::memcpy(&a, payload + 4, 8);
        std::memcpy(&v, payload + 12, 8);
        if (a == address && v == value) ++found;
    });
    std::printf("%" PRIu64 "\n", found);
    return found != 0 ? 0 : 1;
}
