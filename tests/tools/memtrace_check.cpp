// memtrace_check [--pcs-mapped] FILE: exits 0 if FILE keeps the rules memtrace's reader and
// ud impose (memtrace_rules.hpp), else prints the first broken rule with its offset and
// exits 1. --pcs-mapped: also exit 1 if an INSN's pc lies in no executable MMAP range.
// Exit 2: usage or I/O error.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "memtrace_rules.hpp"

int main(int argc, char** argv) {
    const bool pcs_mapped = argc == 3 && std::strcmp(argv[1], "--pcs-mapped") == 0;
    if (argc != 2 && !pcs_mapped) {
        std::fprintf(stderr, "usage: memtrace_check [--pcs-mapped] FILE\n");
        return 2;
    }
    if (pcs_mapped) ++argv;
    const int fd = ::open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || ::fstat(fd, &st) != 0) {
        std::fprintf(stderr, "memtrace_check: %s: %s\n", argv[1], std::strerror(errno));
        return 2;
    }
    const std::size_t size = static_cast<std::size_t>(st.st_size);
    const unsigned char* data = nullptr;
    if (size != 0) {
        void* m = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            std::fprintf(stderr, "memtrace_check: %s: mmap: %s\n", argv[1], std::strerror(errno));
            return 2;
        }
        data = static_cast<const unsigned char*>(m);
    }
    const memtrace_rules::verdict v = memtrace_rules::check(data, size);
    if (!v.ok) {
        std::printf("memtrace_check: %s: offset %" PRIu64 ": %s\n", argv[1], v.offset, v.broken.c_str());
        return 1;
    }
    std::printf("memtrace_check: %s: ok: %" PRIu64 " records, %" PRIu64 " INSN, %" PRIu64 " executions, %" PRIu64
                " LOAD, %" PRIu64 " STORE, %" PRIu64 " MMAP; at most %u uses and %u defs in a run; %" PRIu64
                " pcs outside the MMAPs\n",
                argv[1], v.records, v.instructions, v.executions, v.loads, v.stores, v.mmaps, v.most_uses, v.most_defs,
                v.unmapped_pcs);
    if (pcs_mapped && v.unmapped_pcs != 0) {
        std::printf("memtrace_check: %s: pc 0x%" PRIx64 " lies in no executable MMAP range\n", argv[1], v.first_unmapped_pc);
        return 1;
    }
    return 0;
}
