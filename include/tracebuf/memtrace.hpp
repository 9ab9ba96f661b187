// tracebuf/memtrace.hpp - record tags of the memtrace trace format, plus the records that
// multi-threaded tracing adds. For tracers and trace readers; the core does not use it.
//
// Layouts after the 4-byte header (host byte order, records padded to 8 bytes):
//   HEADER                          u16 e_machine, u16 regs_size, u8 trace_id[16]
//   LOAD/STORE/REG/GET_REG/PUT_REG  u32 insn_seq, u64 addr, value bytes
//   INSN                            u32 insn_seq, u64 pc, u8 flags, instruction bytes
//   INSN_EXEC                       u32 insn_seq
//   GET_REG_NX/PUT_REG_NX           u32 insn_seq, u64 addr, u64 size
//   MMAP                            u32 pad, u64 start, end, flags (1 r, 2 w, 4 x), offset,
//                                   dev, inode, NUL-terminated file name
//   THREAD (added)                  u32 pid, u32 tid, u32 serial: a thread took a slot
//   SUMMARY (added)                 u32 entries, u32 total, then entries of
//                                   u32 serial, u32 tid, u64 records (per-thread counts)
//
// Thread attribution without a per-record thread id: the tag's high byte, always 0x4d ('M')
// in memtrace, carries a thread slot: tag = ((0x4d + slot) mod 256) << 8 | type. Slot 0's
// tags are exactly memtrace's. A THREAD record, the first record a thread writes, maps its
// slot to (pid, tid, serial) from that point of the trace on; a slot is reused only after
// its previous thread's last record. `serial` numbers threads in registration order.
// (memtrace_reader.hpp reads a trace with this attribution.)
//
// Tag ranges: a type is a tag's low byte, and every slot's tags have the same types.
//   0x01-0xdf  memtrace's types (it uses 0x34, 0x38, 0x41-0x51; the rest are its to assign);
//   0xe0-0xef  the tracers' own types: THREAD 0xe0, SUMMARY 0xe1, 0xe2-0xef free;
//   0xf0-0xff  never a type: slot 178 makes the high byte 0xff, and the tags 0xfff0-0xffff
//              are tracebuf's (record.hpp).
// THREAD and SUMMARY were 0x4d52 and 0x4d53 at first, the numbers memtrace would hand out
// next; readers still accept those (legacy_thread, legacy_summary), writers never write them.
// Freestanding.
#ifndef TRACEBUF_MEMTRACE_HPP
#define TRACEBUF_MEMTRACE_HPP

#include <cstddef>
#include <cstdint>

#include <tracebuf/record.hpp>

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
/// The tracers' own types (0xe0-0xef, see "Tag ranges" above).
inline constexpr std::uint16_t own_first = 0x4de0;
inline constexpr std::uint16_t own_last = 0x4def;
inline constexpr std::uint16_t thread = 0x4de0;
inline constexpr std::uint16_t summary = 0x4de1;
/// THREAD and SUMMARY as the tracers first wrote them; read, never written.
inline constexpr std::uint16_t legacy_thread = 0x4d52;
inline constexpr std::uint16_t legacy_summary = 0x4d53;

inline constexpr unsigned slots = 256;

/// The tag of record type `tag` (a slot-0 tag above) written by the thread in `slot`.
constexpr std::uint16_t tag_in_slot(std::uint16_t tag, unsigned slot) noexcept {
    return static_cast<std::uint16_t>(((((tag >> 8) + slot) & 0xffu) << 8) | (tag & 0xffu));
}
/// The slot a tag was written from, and its type as a slot-0 tag.
constexpr unsigned slot_of(std::uint16_t tag) noexcept { return ((tag >> 8) - 0x4du) & 0xffu; }
constexpr std::uint16_t type_of(std::uint16_t tag) noexcept {
    return static_cast<std::uint16_t>(0x4d00u | (tag & 0xffu));
}
// Slot 178 puts 0xff in the high byte: no type may reach into tracebuf's tags there.
static_assert(!is_library_tag(tag_in_slot(own_last, 178)), "the tracers' types stay below 0xf0");

struct thread_payload {
    std::uint32_t pid;
    std::uint32_t tid;
    std::uint32_t serial;
};

struct summary_header {
    std::uint32_t entries; ///< entries in this record
    std::uint32_t total;   ///< entries in all SUMMARY records of the trace
};
struct summary_entry {
    std::uint32_t serial;
    std::uint32_t tid;
    std::uint64_t records; ///< every record the thread wrote, its THREAD record included
};
/// Entries that fit one SUMMARY record of at most 4096 bytes.
inline constexpr std::uint32_t summary_entries_per_record =
    (4096 - 4 - sizeof(summary_header)) / sizeof(summary_entry);

/// The HEADER's payload (a 24-byte record). trace_id names the trace: memtrace keys the
/// analyses it caches by it, so every trace needs its own.
struct __attribute__((packed)) header_payload {
    std::uint16_t e_machine; ///< ELF machine (EM_X86_64 is 62)
    std::uint16_t regs_size; ///< 0: no register records
    std::uint8_t trace_id[16];
};
static_assert(sizeof(header_payload) == 20, "HEADER: 24 bytes with its record header");
inline constexpr std::uint16_t em_x86_64 = 62;

/// The fixed part of an MMAP payload; the file name and its NUL follow.
struct __attribute__((packed)) mmap_payload {
    std::uint32_t pad;
    std::uint64_t start;
    std::uint64_t end;
    std::uint64_t flags; ///< mmap_read | mmap_write | mmap_exec
    std::uint64_t offset; ///< in the file, of `start`
    std::uint64_t dev;
    std::uint64_t inode;
};
static_assert(sizeof(mmap_payload) == 52, "MMAP: u32 pad and six u64");
inline constexpr std::uint64_t mmap_read = 1, mmap_write = 2, mmap_exec = 4;
/// The longest file name an MMAP record of at most 4096 bytes holds.
inline constexpr std::size_t mmap_name_limit = 4096 - 4 - sizeof(mmap_payload) - 1;

/// True for memtrace's own tags (slot 0), which memtrace's reader knows.
constexpr bool is_memtrace_tag(std::uint16_t tag) noexcept {
    return tag == header64 || tag == header32 || (tag >= load && tag <= put_reg_nx) || tag == mmap || tag == regmeta;
}

/// A name for a type (a slot-0 tag), or nullptr if it is not one of the above.
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
    case summary: return "SUMMARY";
    case legacy_thread: return "THREAD-OLD";
    case legacy_summary: return "SUMMARY-OLD";
    default: return nullptr;
    }
}

} // namespace memtrace
} // namespace tracebuf

#endif // TRACEBUF_MEMTRACE_HPP
