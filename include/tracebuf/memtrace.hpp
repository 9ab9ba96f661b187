// tracebuf/memtrace.hpp - record tags of the memtrace trace format, plus the records that
// multi-threaded tracing adds. For tracers and trace readers; the core does not use it.
//
// Layouts after the 4-byte header (host byte order, records padded to 8 bytes):
//   LOAD/STORE/REG/GET_REG/PUT_REG  u32 insn_seq, u64 addr, value bytes
//   INSN                            u32 insn_seq, u64 pc, u8 flags, instruction bytes
//   INSN_EXEC                       u32 insn_seq
//   GET_REG_NX/PUT_REG_NX           u32 insn_seq, u64 addr, u64 size
//   THREAD (added)                  u32 pid, u32 tid: a thread started writing
// Freestanding.
#ifndef TRACEBUF_MEMTRACE_HPP
#define TRACEBUF_MEMTRACE_HPP

#include <cstdint>

namespace tracebuf {
namespace memtrace {

inline constexpr std::uint16_t header64 = 0x4d38;
inline constexpr std::uint16_t header32 = 0x4d34;
inline constexpr std::uint16_t load = 0x4d41;
inline constexpr std::uint16_t store = 0x4d42;
inline constexpr std::uint16_t reg = 0x4d43;
inline constexpr std::uint16_t insn = 0x4d44;
inline constexpr std::uint16_t get_reg = 0x4d45;
inline constexpr std::uint16_t put_reg = 0x4d46;
inline constexpr std::uint16_t insn_exec = 0x4d47;
inline constexpr std::uint16_t get_reg_nx = 0x4d48;
inline constexpr std::uint16_t put_reg_nx = 0x4d49;
inline constexpr std::uint16_t mmap = 0x4d50;
inline constexpr std::uint16_t regmeta = 0x4d51;
/// Added for threads (0x4d52 and up are free in memtrace).
inline constexpr std::uint16_t thread = 0x4d52;

struct thread_payload {
    std::uint32_t pid;
    std::uint32_t tid;
};

/// A name for a tag, or nullptr if it is not one of the above.
constexpr const char* tag_name(std::uint16_t tag) noexcept {
    switch (tag) {
    case header64: return "HEADER";
    case header32: return "HEADER32";
    case load: return "LOAD";
    case store: return "STORE";
    case reg: return "REG";
    case insn: return "INSN";
    case get_reg: return "GET_REG";
    case put_reg: return "PUT_REG";
    case insn_exec: return "INSN_EXEC";
    case get_reg_nx: return "GET_REG_NX";
    case put_reg_nx: return "PUT_REG_NX";
    case mmap: return "MMAP";
    case regmeta: return "REGMETA";
    case thread: return "THREAD";
    default: return nullptr;
    }
}

} // namespace memtrace
} // namespace tracebuf

#endif // TRACEBUF_MEMTRACE_HPP
