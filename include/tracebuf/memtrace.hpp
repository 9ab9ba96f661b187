// tracebuf/memtrace.hpp - record tags of the memtrace trace format, plus the records that
// multi-threaded tracing adds, and the HEADER, SUMMARY and MMAP records both tracers write.
// For tracers and trace readers; the core does not use it.
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
// HEADER, SUMMARY and MMAP are the process's, not a thread's: written in slot 0, by
// whichever thread, and counted for none (is_trace_wide). memtrace_reader.hpp reads a trace
// with this attribution.
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

#include <tracebuf/errc.hpp>
#include <tracebuf/producer.hpp>
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
/// analyses it caches by it, so every trace needs its own (see mix_trace_id).
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
    std::uint64_t flags;  ///< mmap_read | mmap_write | mmap_exec
    std::uint64_t offset; ///< in the file, of `start`
    std::uint64_t dev;
    std::uint64_t inode;
};
static_assert(sizeof(mmap_payload) == 52, "MMAP: u32 pad and six u64");
inline constexpr std::uint64_t mmap_read = 1, mmap_write = 2, mmap_exec = 4;
/// The longest file name an MMAP record of at most 4096 bytes holds.
inline constexpr std::size_t mmap_name_limit = 4096 - 4 - sizeof(mmap_payload) - 1;

// ---- Writing: code both tracers share (freestanding) -----------------------------------

/// Mixes `a` and `b` (a process id, a clock reading, an address) into `id`, which the host
/// fills with random bytes first where it has a source of them: two traces get different
/// ids even where it has none.
constexpr void mix_trace_id(std::uint8_t (&id)[16], std::uint64_t a, std::uint64_t b) noexcept {
    std::uint64_t state = a ^ (b << 1 | b >> 63);
    for (unsigned i = 0; i < 16; i += 8) {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ull); // splitmix64
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        z ^= z >> 31;
        for (unsigned k = 0; k < 8; ++k) id[i + k] = static_cast<std::uint8_t>(id[i + k] ^ (z >> (8 * k)));
    }
}

/// Writes the HEADER through a producer of its own. Call it before any thread writes, so
/// that it is the trace's first record. `Buffer` is a trace_buffer.
template <class Buffer>
errc write_header(Buffer& buffer, std::uint16_t e_machine, const std::uint8_t (&trace_id)[16]) noexcept {
    header_payload h{e_machine, 0, {}};
    __builtin_memcpy(h.trace_id, trace_id, sizeof h.trace_id);
    producer p;
    const errc registered = buffer.register_thread(p);
    if (registered != errc::ok) return registered;
    const errc written = buffer.write_record(p, header64, &h, sizeof h);
    const errc unregistered = buffer.unregister_thread(p);
    return written != errc::ok ? written : unregistered;
}

/// Writes the SUMMARY records of `total` threads: entry_at(i) returns the summary_entry of
/// thread i; reserve(bytes) reserves `bytes` (a multiple of 8) in slot 0 and returns them
/// (trace_buffer::reserve, record_writer::reserve), or nullptr. Each record's payload is
/// written first and its header last (commit_record_header), so a process killed while
/// writing the summary (at exit) leaves each SUMMARY record whole or absent - never a header
/// over torn counts that a reader would take for a complete trace. False if a reservation
/// failed.
template <class Reserve, class EntryAt>
bool write_summary(Reserve&& reserve, std::uint32_t total, EntryAt&& entry_at) noexcept {
    std::uint32_t done = 0;
    do {
        const std::uint32_t n = total - done < summary_entries_per_record ? total - done : summary_entries_per_record;
        const std::size_t payload_size = sizeof(summary_header) + n * sizeof(summary_entry);
        unsigned char* record = static_cast<unsigned char*>(reserve(record_footprint(payload_size)));
        if (record == nullptr) return false;
        mark_reserved(record, record_footprint(payload_size)); // as trace_buffer::write_record
        unsigned char* at = record + record_header_size;
        const summary_header h{n, total};
        __builtin_memcpy(at, &h, sizeof h);
        for (std::uint32_t i = 0; i < n; ++i) {
            const summary_entry e = entry_at(done + i);
            __builtin_memcpy(at + sizeof h + i * sizeof e, &e, sizeof e);
        }
        commit_record_header(record, summary, payload_size);
        done += n;
    } while (done < total);
    return true;
}

/// The payload size of an MMAP record for a file name of `name_length` characters (at most
/// mmap_name_limit: a longer name is cut there).
constexpr std::size_t mmap_payload_size(std::size_t name_length) noexcept {
    return sizeof(mmap_payload) + (name_length < mmap_name_limit ? name_length : mmap_name_limit) + 1;
}
/// Writes an MMAP payload at `out` (mmap_payload_size(name_length) bytes): the fixed
/// fields, the name, its NUL.
inline void put_mmap_payload(void* out, const mmap_payload& m, const char* name, std::size_t name_length) noexcept {
    if (name_length > mmap_name_limit) name_length = mmap_name_limit;
    unsigned char* p = static_cast<unsigned char*>(out);
    __builtin_memcpy(p, &m, sizeof m);
    if (name_length != 0) __builtin_memcpy(p + sizeof m, name, name_length);
    p[sizeof m + name_length] = 0;
}

// ---- Reading ---------------------------------------------------------------------------

/// True for memtrace's own tags (slot 0), which memtrace's reader knows.
constexpr bool is_memtrace_tag(std::uint16_t tag) noexcept {
    return tag == header64 || tag == header32 || (tag >= load && tag <= put_reg_nx) || tag == mmap || tag == regmeta;
}

/// True for the types that describe the process, not a thread (see the top of this file).
constexpr bool is_trace_wide(std::uint16_t type) noexcept {
    return type == header64 || type == header32 || type == summary || type == mmap;
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
