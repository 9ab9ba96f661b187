// tracebuf/record.hpp - the TLV record format.
//
// A record is `u16 tag, u16 length, payload`, in host byte order. `length` counts the 4-byte
// header and the payload but not the padding; the next record starts at the next multiple of
// 8. Tag 0 never starts a record, so zero-filled memory reads as "no record here".
// These are the memtrace format's rules; its tags (0x4d41 LOAD, ...) fit unchanged.
//
// Freestanding.
#ifndef TRACEBUF_RECORD_HPP
#define TRACEBUF_RECORD_HPP

#include <cstddef>
#include <cstdint>

#include <tracebuf/detail/config.hpp>

// A test's crash point: tests/test_file_window.cpp defines it to kill the process at one step
// of a crash-consistent write (1-4: file_window's in-place rewrite; 10: trace_buffer's
// write_record between the payload and the header). Nothing otherwise.
#ifndef TRACEBUF_CRASH_POINT
#define TRACEBUF_CRASH_POINT(step) ((void)0)
#endif

namespace tracebuf {

inline constexpr std::size_t record_alignment = 8;
inline constexpr std::size_t record_header_size = 4;
/// The largest `length` the u16 field can hold, whatever Traits::max_record_size says.
inline constexpr std::size_t record_length_limit = 0xffff;

/// Tags that tracebuf itself writes. tracebuf reserves 0xfff0-0xffff: the ones below and any
/// it adds later. A host chooses any other non-zero tag; a reader skips a reserved tag it
/// does not know by its length.
namespace tags {
inline constexpr std::uint16_t library_first = 0xfff0;
/// Fills the bytes of a reservation that the host chose not to use (see write_padding).
inline constexpr std::uint16_t padding = 0xffff;
/// Starts a chunk (chunk_writer.hpp): payload chunk_header.
inline constexpr std::uint16_t chunk = 0xfffe;
/// Starts a chunk of ordered mode (ordered_writer.hpp): payload chunk_header. Its records
/// carry stamps (the two tags below); the merge (ordered_merge.hpp) orders them by stamp and
/// removes the chunk headers and the stamps.
inline constexpr std::uint16_t ordered_chunk = 0xfffd;
/// In an ordered chunk: the stamp of the records that follow, in full: payload u32 0, u64
/// stamp (16 bytes in all, the stamp 8-byte aligned).
inline constexpr std::uint16_t stamp = 0xfffc;
/// In an ordered chunk: the stamp of the records that follow, as u32 ticks after the
/// previous stamp in the chunk (8 bytes in all).
inline constexpr std::uint16_t stamp_delta = 0xfffb;
/// Only in a trace whose writer died while rewriting a flushed window in place
/// (merging_file_window_sink, file_window.hpp): payload u32 bytes, the distance from this
/// record's start to the next record; what lies between is not records. A finished rewrite
/// turns it into 8 bytes of padding. scan_trace follows it; a strict reader reports it.
inline constexpr std::uint16_t skip = 0xfffa;
} // namespace tags

/// True for a tag in tracebuf's own range (tags::library_first and up).
constexpr bool is_library_tag(std::uint16_t tag) noexcept { return tag >= tags::library_first; }

/// The payload of a tags::chunk record. A chunk is `bytes` bytes from the start of this
/// record: its records all belong to the thread (pid, tid), which wrote them in order, and
/// `sequence` numbers that thread's chunks from 0. Packed: since the payload starts 4 bytes
/// into the record, every field sits at its natural alignment in the arena. Copy it in and
/// out with memcpy.
struct __attribute__((packed)) chunk_header {
    std::uint32_t pid;
    std::uint32_t tid;
    std::uint32_t bytes;
    std::uint64_t sequence;
};
static_assert(sizeof(chunk_header) == 20, "packed: 3 x u32 + u64");

/// The footprint of the record that starts every chunk.
inline constexpr std::size_t chunk_header_footprint = 24;
/// The footprints of ordered mode's stamp records (tags::stamp, tags::stamp_delta).
inline constexpr std::size_t full_stamp_footprint = 16;
inline constexpr std::size_t delta_stamp_footprint = 8;

struct record_header {
    std::uint16_t tag;
    std::uint16_t length; // header + payload, unpadded
};
static_assert(sizeof(record_header) == record_header_size, "the header is two u16");

constexpr std::size_t align_up(std::size_t n) noexcept {
    return (n + (record_alignment - 1)) & ~(record_alignment - 1);
}

/// Bytes a record with `payload_size` payload bytes occupies in the arena.
constexpr std::size_t record_footprint(std::size_t payload_size) noexcept {
    return align_up(record_header_size + payload_size);
}
static_assert(chunk_header_footprint == record_footprint(sizeof(chunk_header)), "a chunk header is 24 bytes");

/// Writes the header of a record at `at` (8-byte aligned) and returns its payload, for the
/// caller to fill. The header comes first here, so a process that dies while filling the
/// payload leaves a whole header over a partly written payload: for records that must be
/// whole or absent in a crashed trace (file_window.hpp), write the payload first and then
/// commit_record_header, as put_record and the writers' write_record do.
TRACEBUF_FORCEINLINE void* write_record_header(void* at, std::uint16_t tag,
                                               std::size_t payload_size) noexcept {
    const record_header h{tag, static_cast<std::uint16_t>(record_header_size + payload_size)};
    __builtin_memcpy(at, &h, sizeof h);
    return static_cast<unsigned char*>(at) + record_header_size;
}

namespace detail {
typedef std::uint32_t __attribute__((__may_alias__)) header_word;
} // namespace detail

/// Stores the header of a record whose payload is written already: the record is then
/// whole. Until this store the record's first word is zero (the arena is zero-filled), so
/// a process that dies before it leaves a hole, never a record with a torn payload
/// (docs/reading-traces.md, "Crashed traces").
TRACEBUF_FORCEINLINE void commit_record_header(void* at, std::uint16_t tag, std::size_t payload_size) noexcept {
    const record_header h{tag, static_cast<std::uint16_t>(record_header_size + payload_size)};
    detail::header_word word;
    __builtin_memcpy(&word, &h, sizeof word);
    // release: orders the payload's stores before the header's, for the compiler and for a
    // weakly ordered CPU, so that the header is never visible without its payload. Pairs
    // with the acquire load of a reader that reads the trace while it is written (a shared
    // mapping of the file); a reader of a file whose writer is dead needs none: every store
    // the writer executed is in the page cache, and the release kept them in this order.
    // Not a Traits::atomics operation: record.hpp is policy-free, and a 4-byte aligned
    // __atomic store is a plain store on every target tracebuf builds for (no libatomic).
    __atomic_store_n(static_cast<detail::header_word*>(at), word, __ATOMIC_RELEASE);
}

/// The largest reservation a reservation mark can describe (its length field counts
/// 8-byte units).
inline constexpr std::size_t reservation_mark_limit = std::size_t{0xffff} * record_alignment;

/// Marks `bytes` (a multiple of 8) just reserved at `at` as "reserved, not yet written": a
/// header word with tag 0 and, in the length field, bytes / 8. A reader of a crashed trace
/// skips such a hole by its length instead of stopping there (scan_trace). Zero-filled
/// memory reads as a hole of unknown length; the mark makes it known. Used where it costs
/// one store per many records: a chunk as it is reserved (chunked_writer.hpp), the
/// flusher's own claim at the barrier (flush_barrier.hpp). Bytes above
/// reservation_mark_limit are not marked.
TRACEBUF_FORCEINLINE void mark_reserved(void* at, std::size_t bytes) noexcept {
    if (bytes > reservation_mark_limit) return;
    const record_header h{0, static_cast<std::uint16_t>(bytes / record_alignment)};
    detail::header_word word;
    __builtin_memcpy(&word, &h, sizeof word);
    // relaxed: the writer's own later stores are what matter; an atomic store only so that
    // the compiler keeps it although commit_record_header overwrites the word later.
    __atomic_store_n(static_cast<detail::header_word*>(at), word, __ATOMIC_RELAXED);
    // A compiler barrier (no instruction; freestanding): the claim's later plain stores - its
    // records - are emitted after the mark, so a process killed in between never leaves
    // records in a claim whose mark is missing (where a reader would stop, or resume at
    // something that is not a claim). The CPU keeps a thread's own stores in order for a
    // reader of the file after the death.
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
}

/// Writes a whole record (payload, then header: commit_record_header) at `at`, in memory
/// the caller reserved; returns where the next record starts. (The writers' write_record
/// reserves, then puts.)
TRACEBUF_FORCEINLINE void* put_record(void* at, std::uint16_t tag, const void* payload,
                                      std::size_t payload_size) noexcept {
    unsigned char* body = static_cast<unsigned char*>(at) + record_header_size;
    if (payload_size != 0) __builtin_memcpy(body, payload, payload_size); // payload may be null
    commit_record_header(at, tag, payload_size);
    return static_cast<unsigned char*>(at) + record_footprint(payload_size);
}

/// Covers `n` bytes (a multiple of 8) at `at` with padding records, none longer than
/// `max_record_size`. Use it for the part of a batched reservation that stays unused: every
/// reserved byte must belong to a record, or the flushed range would hold a hole.
inline void write_padding(void* at, std::size_t n, std::size_t max_record_size) noexcept {
    unsigned char* p = static_cast<unsigned char*>(at);
    const std::size_t largest = max_record_size & ~(record_alignment - 1);
    while (n != 0) {
        std::size_t chunk = n < largest ? n : largest;
        commit_record_header(p, tags::padding, chunk - record_header_size);
        p += chunk;
        n -= chunk;
    }
}

} // namespace tracebuf

#endif // TRACEBUF_RECORD_HPP
