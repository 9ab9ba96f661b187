// The MMAP records of the QEMU tracer: the guest's main binary and its interpreter, from
// QEMU's plugin API and the files' program headers, and the files the guest maps with
// mmap(2). linux-user on an
// x86-64 host: guest addresses are host addresses and guest file descriptors host ones, so
// the plugin can look at the file behind a descriptor itself.
#ifndef TRACEBUF_QEMU_GUEST_MAPPINGS_HPP
#define TRACEBUF_QEMU_GUEST_MAPPINGS_HPP

#include <elf.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include <tracebuf/memtrace.hpp>

namespace tracebuf_qemu {

struct mapping {
    tracebuf::memtrace::mmap_payload fields;
    std::string name;

    /// The MMAP record's payload.
    std::vector<unsigned char> payload() const {
        std::vector<unsigned char> p(tracebuf::memtrace::mmap_payload_size(name.size()));
        tracebuf::memtrace::put_mmap_payload(p.data(), fields, name.data(), name.size());
        return p;
    }
};

inline std::uint64_t page_down(std::uint64_t a) { return a & ~std::uint64_t{4095}; }
inline std::uint64_t page_up(std::uint64_t a) { return page_down(a + 4095); }

inline std::uint64_t memtrace_flags(bool r, bool w, bool x) {
    namespace mt = tracebuf::memtrace;
    return (r ? mt::mmap_read : 0) | (w ? mt::mmap_write : 0) | (x ? mt::mmap_exec : 0);
}

// A 64-bit ELF file's program headers, with what MMAP records need about the file.
struct elf_file {
    std::string name; // absolute
    std::uint64_t dev = 0, inode = 0, entry = 0;
    std::vector<Elf64_Phdr> segments;
    std::string interpreter; // PT_INTERP, if any
};

inline bool read_elf(const char* path, elf_file& f, std::string& why) {
    char resolved[PATH_MAX];
    f.name = ::realpath(path, resolved) != nullptr ? resolved : path;
    const int fd = ::open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    Elf64_Ehdr eh;
    bool good = fd >= 0 && ::fstat(fd, &st) == 0 && ::pread(fd, &eh, sizeof eh, 0) == static_cast<ssize_t>(sizeof eh) &&
                eh.e_ident[EI_MAG0] == ELFMAG0 && eh.e_ident[EI_MAG1] == ELFMAG1 && eh.e_ident[EI_MAG2] == ELFMAG2 &&
                eh.e_ident[EI_MAG3] == ELFMAG3 && eh.e_ident[EI_CLASS] == ELFCLASS64 &&
                eh.e_phentsize == sizeof(Elf64_Phdr);
    if (good) {
        f.dev = static_cast<std::uint64_t>(st.st_dev);
        f.inode = static_cast<std::uint64_t>(st.st_ino);
        f.entry = eh.e_entry;
        f.segments.resize(eh.e_phnum);
        const ssize_t want = static_cast<ssize_t>(f.segments.size() * sizeof(Elf64_Phdr));
        good = ::pread(fd, f.segments.data(), static_cast<std::size_t>(want), static_cast<off_t>(eh.e_phoff)) == want;
        for (const Elf64_Phdr& p : f.segments) {
            if (!good || p.p_type != PT_INTERP || p.p_filesz == 0 || p.p_filesz > PATH_MAX) continue;
            f.interpreter.resize(p.p_filesz);
            good = ::pread(fd, f.interpreter.data(), p.p_filesz, static_cast<off_t>(p.p_offset)) ==
                   static_cast<ssize_t>(p.p_filesz);
            f.interpreter.resize(f.interpreter.find('\0') == std::string::npos ? p.p_filesz : f.interpreter.find('\0'));
        }
    }
    if (fd >= 0) ::close(fd);
    if (!good) why = f.name + " is not a readable 64-bit ELF file";
    return good;
}

// The file's segments as a loader maps them at load bias `bias`: one per PT_LOAD.
inline void add_segments(const elf_file& f, std::uint64_t bias, std::vector<mapping>& out) {
    for (const Elf64_Phdr& p : f.segments) {
        if (p.p_type != PT_LOAD) continue;
        const std::uint64_t start = bias + p.p_vaddr;
        out.push_back({{0, page_down(start), page_up(start + p.p_memsz),
                        memtrace_flags(p.p_flags & PF_R, p.p_flags & PF_W, p.p_flags & PF_X), page_down(p.p_offset),
                        f.dev, f.inode},
                       f.name});
    }
}

/// The segments QEMU itself loaded, which no guest mmap call shows: the main binary's, from
/// its program headers placed by `start_code` (the start of its text segment in memory),
/// and its interpreter's, placed by `entry` - QEMU 7.2 reports the entry point it jumps to,
/// which for a dynamically linked binary is the interpreter's. `why` says what is missing.
inline std::vector<mapping> loaded_mappings(const char* path, std::uint64_t start_code, std::uint64_t end_code,
                                            std::uint64_t entry, std::string& why) {
    std::vector<mapping> out;
    elf_file binary;
    if (!read_elf(path, binary, why)) return out;
    std::uint64_t text_vaddr = UINT64_MAX, text_end = 0; // of the executable segments
    for (const Elf64_Phdr& p : binary.segments) {
        if (p.p_type != PT_LOAD || (p.p_flags & PF_X) == 0) continue;
        if (p.p_vaddr < text_vaddr) text_vaddr = p.p_vaddr;
        if (p.p_vaddr + p.p_filesz > text_end) text_end = p.p_vaddr + p.p_filesz;
    }
    const std::uint64_t bias = start_code - text_vaddr;
    if (text_vaddr == UINT64_MAX || bias + text_end != end_code) {
        why = binary.name + ": its text segment is not where QEMU reports it";
        return out;
    }
    add_segments(binary, bias, out);
    if (binary.interpreter.empty()) return out;
    elf_file interpreter;
    if (!read_elf(binary.interpreter.c_str(), interpreter, why)) return out;
    const std::uint64_t interpreter_bias = entry - interpreter.entry;
    if (page_down(interpreter_bias) != interpreter_bias) {
        why = interpreter.name + ": QEMU's entry point is not its entry";
        return out;
    }
    add_segments(interpreter, interpreter_bias, out);
    return out;
}

/// What mmap(2) was asked for, kept from the syscall's entry to its return.
struct mmap_call {
    bool pending = false;
    std::uint64_t length = 0, prot = 0, flags = 0, offset = 0;
    std::int64_t fd = -1;
};

/// The mapping a successful mmap of a regular file made at `start`; false for anonymous
/// mappings and anything but a regular file.
inline bool file_mapping(const mmap_call& c, std::uint64_t start, mapping& m) {
    if ((c.flags & MAP_ANONYMOUS) != 0 || c.fd < 0 || c.fd > INT_MAX) return false;
    const int fd = static_cast<int>(c.fd);
    struct stat st;
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return false;
    char name[PATH_MAX];
    const std::string link = "/proc/self/fd/" + std::to_string(fd);
    const ssize_t n = ::readlink(link.c_str(), name, sizeof name - 1);
    if (n <= 0) return false;
    m.fields = {0, start, start + page_up(c.length),
                memtrace_flags(c.prot & PROT_READ, c.prot & PROT_WRITE, c.prot & PROT_EXEC), c.offset,
                static_cast<std::uint64_t>(st.st_dev), static_cast<std::uint64_t>(st.st_ino)};
    m.name.assign(name, static_cast<std::size_t>(n));
    return true;
}

} // namespace tracebuf_qemu

#endif
