/* tracebuf/tracebuf.h - the C API, for hosts written in C (a QEMU plugin, for example).
 *
 * Exactly one C++ translation unit of the host defines the implementation:
 *
 *     #define TRACEBUF_C_API_IMPLEMENTATION
 *     #include <tracebuf/tracebuf.h>
 *
 * It uses tracebuf::default_traits (Boost.Atomic, futex waits, 4096-byte records, 64 KiB
 * reservations) with 1024 idle slots (so at most 1024 threads registered at once, and
 * tracebuf_*_idle / tracebuf_*_busy work). Every other file includes the header as is, from
 * C or C++.
 *
 * Two layers, as in C++:
 *   - writers (tracebuf_writer_*: record_writer.hpp, chunk_writer.hpp): one per thread, in
 *     any mode, with the same calls, so a host's callbacks are written once;
 *   - buffer + producer (tracebuf_register_thread, tracebuf_reserve, ...: trace_buffer.hpp),
 *     the low-level layer, for a JIT that emits the fast path itself (tracebuf_get_layout,
 *     tracebuf_reserve_slow).
 * Preconditions are the C++ calls'; status codes are the values of tracebuf::errc
 * (TRACEBUF_OK is 0). Host contract: docs/host-contract.md.
 */
#ifndef TRACEBUF_H
#define TRACEBUF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tracebuf_buffer tracebuf_buffer;

/* A thread's handle for the low-level layer. Keep one per thread, at a fixed address (a
 * copy is refused with TRACEBUF_WRONG_BUFFER); call tracebuf_producer_init before first use. */
typedef struct tracebuf_producer {
    uint64_t opaque[4];
} tracebuf_producer;

/* Receives each full buffer; returns 0 or a positive errno-style code. Called by one
 * flusher at a time. */
typedef int (*tracebuf_write_fn)(void* context, const void* data, size_t size);

enum tracebuf_status {
    TRACEBUF_OK = 0,
    TRACEBUF_BAD_SIZE,
    TRACEBUF_TOO_LARGE,
    TRACEBUF_BAD_TAG,
    TRACEBUF_NOT_REGISTERED,
    TRACEBUF_ALREADY_REGISTERED,
    TRACEBUF_NOT_ONLINE,
    TRACEBUF_ALREADY_ONLINE,
    TRACEBUF_TOO_MANY_THREADS,
    TRACEBUF_CLOSED,
    TRACEBUF_BUSY,
    TRACEBUF_WOULD_BLOCK,
    TRACEBUF_SINK_FAILED,
    TRACEBUF_BAD_ARENA,
    TRACEBUF_WRONG_BUFFER, /* the handle is registered with another buffer, or is a copy */
    TRACEBUF_BAD_ARGUMENT, /* an unknown buffering or mode value, an open range out of bounds */
    TRACEBUF_NO_MEMORY,    /* tracebuf_create* could not allocate its control block */
    TRACEBUF_BAD_CLOCK     /* ordered mode: the clock failed its check */
};

/* How tracebuf_create_ex uses its memory: one of the first two, optionally with the third. */
enum tracebuf_buffering {
    TRACEBUF_SINGLE_BUFFER = 0, /* one buffer; writers park while the flusher writes it out */
    TRACEBUF_DOUBLE_BUFFER = 1, /* two halves: a flush swaps them, releases the parked writers,
                                   then writes the full half out (each half >= 64 KiB) */
    TRACEBUF_ORDERED_MERGE = 2  /* for ordered-mode writers: each flushed buffer is merged by
                                   stamp (ordered_merge.hpp) before it is written; creating the
                                   buffer checks the clock first (TRACEBUF_BAD_CLOCK) */
};

typedef struct tracebuf_stats {
    uint64_t flushes;       /* sink writes */
    uint64_t bytes_flushed; /* bytes handed to the sink */
    uint64_t parks;         /* times a thread parked at the barrier */
    int sink_error;         /* first error the sink reported, or 0 */
    uint64_t bytes_lost;    /* bytes that did not reach the output, counted where they are
                               written (after TRACEBUF_ORDERED_MERGE: merged bytes); read it
                               after tracebuf_drain, the flusher writes it. A descriptor stops
                               at its first error: the failed flush and every later one, less
                               what of it a pipe or device took (sink_fd.hpp). A file window
                               that cannot grow falls back to write(2) and counts likewise
                               from there (file_window.hpp). A write callback: the bytes of
                               every call that returned an error. */
} tracebuf_stats;

#define TRACEBUF_INVALID_POSITION (~(uint64_t)0)

/* A trace buffer over `bytes` of `memory` (8-byte aligned, >= 64 KiB, owned by the caller),
 * writing full buffers through `write`. Returns NULL and sets *status on failure. */
tracebuf_buffer* tracebuf_create(void* memory, size_t bytes, tracebuf_write_fn write,
                                 void* context, int* status);
/* The same, writing to a file descriptor (full writes, EINTR retried, errors reported). */
tracebuf_buffer* tracebuf_create_fd(void* memory, size_t bytes, int fd, int* status);
/* Either of the above with a choice of buffering (enum tracebuf_buffering, its flags or'ed);
 * the plain versions are TRACEBUF_SINGLE_BUFFER. Pass write = NULL to write to `fd` instead. */
tracebuf_buffer* tracebuf_create_ex(void* memory, size_t bytes, tracebuf_write_fn write,
                                    void* context, int fd, int buffering, int* status);
/* A trace buffer that is a window of the file `fd` (opened O_RDWR), mapped MAP_SHARED
 * (file_window.hpp): records are in the file as they are written and survive the death of
 * the process; flushes advance the window instead of copying. `bytes` of buffer (split in two
 * with TRACEBUF_DOUBLE_BUFFER; or'ing TRACEBUF_ORDERED_MERGE merges in place), the memory
 * owned by the buffer. TRACEBUF_FILE_SYNC in `flags`: fdatasync after each flush (survives a
 * crash of the machine too). A descriptor that cannot be mapped (a pipe, /dev/null) falls
 * back to write(2): tracebuf_file_fallback_reason says why. At the end: tracebuf_drain, then
 * tracebuf_close_file (truncates the file to its last record), then tracebuf_destroy. */
#define TRACEBUF_FILE_SYNC 1
tracebuf_buffer* tracebuf_create_file(int fd, size_t bytes, int buffering, int flags, int* status);
/* NULL while the buffer writes in place (and for a buffer not made by tracebuf_create_file). */
const char* tracebuf_file_fallback_reason(const tracebuf_buffer* buf);
/* After tracebuf_drain: cuts the file after its last record; 0 or an errno value. */
int tracebuf_close_file(tracebuf_buffer* buf);
/* Frees the control block (not the memory, but a file buffer's window). Call after
 * tracebuf_drain. */
void tracebuf_destroy(tracebuf_buffer* buf);

int tracebuf_drain(tracebuf_buffer* buf); /* once no producer runs (exit) */
const char* tracebuf_strerror(int status);
void tracebuf_get_stats(const tracebuf_buffer* buf, tracebuf_stats* out);

/* ---- Writers: one per thread, any mode ------------------------------------------------- */

enum tracebuf_mode {
    TRACEBUF_RECORD_MODE = 0, /* one shared reservation per record: the finest global order */
    TRACEBUF_CHUNK_MODE = 1,  /* one per chunk of chunk_bytes (a multiple of 8, 4 KiB to 64 KiB
                                  suits most hosts), records placed with plain stores, each chunk
                                  headed by a TRACEBUF_CHUNK_TAG record (pid, tid, bytes,
                                  per-thread sequence); the trace orders chunks, not records */
    TRACEBUF_ORDERED_MODE = 2 /* chunks whose records carry clock stamps, merged by stamp: record
                                  mode's order (docs/protocol.md, "Ordered mode"); needs a buffer
                                  created with TRACEBUF_ORDERED_MERGE */
};
/* How an ordered-mode reservation reads the clock (the other modes ignore it). */
enum tracebuf_stamp {
    TRACEBUF_STAMP_ORDERED = 0, /* after every earlier load completed: after a load, or in doubt */
    TRACEBUF_STAMP_RELAXED = 1, /* may be read early: for a store */
    TRACEBUF_STAMP_INHERIT = 2  /* no clock read: placed after the thread's previous record */
};
#define TRACEBUF_CHUNK_TAG 0xfffe

typedef struct tracebuf_writer {
    uint64_t opaque[16];
} tracebuf_writer;

/* Makes `w` a writer of `buf` for the calling thread. chunk_bytes, pid and tid are used in
 * chunk and ordered mode only. TRACEBUF_BAD_ARGUMENT for an unknown mode (or ordered mode on
 * a buffer that does not merge), TRACEBUF_BAD_SIZE for a chunk
 * size out of range (registration then fails with it), TRACEBUF_ALREADY_REGISTERED for a
 * writer that is registered (it is left alone). */
int tracebuf_writer_init(tracebuf_writer* w, tracebuf_buffer* buf, int mode, size_t chunk_bytes,
                         uint32_t pid, uint32_t tid);
int tracebuf_writer_register_thread(tracebuf_writer* w);
int tracebuf_writer_unregister_thread(tracebuf_writer* w);
int tracebuf_writer_go_offline(tracebuf_writer* w); /* syscall entry */
int tracebuf_writer_go_online(tracebuf_writer* w);  /* syscall exit */
/* Around each callback of a host that may stop threads between callbacks (QEMU). */
int tracebuf_writer_busy(tracebuf_writer* w); /* callback start */
int tracebuf_writer_idle(tracebuf_writer* w); /* callback end */
/* n bytes (multiple of 8, <= 64 KiB) for records the caller fills completely; NULL on
 * error (tracebuf_writer_last_error). */
void* tracebuf_writer_reserve(tracebuf_writer* w, size_t n);
/* One record: writes the header, returns the payload to fill; NULL on error. */
void* tracebuf_writer_reserve_record(tracebuf_writer* w, uint16_t tag, size_t payload_size);
int tracebuf_writer_write_record(tracebuf_writer* w, uint16_t tag, const void* payload,
                                 size_t payload_size);
/* The same three with a stamp (enum tracebuf_stamp); without, TRACEBUF_STAMP_ORDERED. */
void* tracebuf_writer_reserve_stamped(tracebuf_writer* w, size_t n, int stamp);
void* tracebuf_writer_reserve_record_stamped(tracebuf_writer* w, uint16_t tag, size_t payload_size, int stamp);
int tracebuf_writer_write_record_stamped(tracebuf_writer* w, uint16_t tag, const void* payload,
                                         size_t payload_size, int stamp);
int tracebuf_writer_flush(tracebuf_writer* w); /* everything reserved so far, to the sink */
int tracebuf_writer_last_error(const tracebuf_writer* w);
uint64_t tracebuf_writer_chunks(const tracebuf_writer* w); /* chunks started (chunk mode) */

/* Covers n bytes (multiple of 8) of a reservation with padding records. */
void tracebuf_write_padding(void* at, size_t n);

/* ---- Low level: buffer + producer (trace_buffer.hpp), for JIT hosts --------------------- */

/* Refuses (TRACEBUF_ALREADY_REGISTERED) a handle that is registered: that would lose the
 * registration and stall every later flush. */
int tracebuf_producer_init(tracebuf_producer* p);
int tracebuf_register_thread(tracebuf_buffer* buf, tracebuf_producer* p);
int tracebuf_unregister_thread(tracebuf_buffer* buf, tracebuf_producer* p);
int tracebuf_go_offline(tracebuf_buffer* buf, tracebuf_producer* p);
int tracebuf_go_online(tracebuf_buffer* buf, tracebuf_producer* p);
int tracebuf_busy(tracebuf_buffer* buf, tracebuf_producer* p);
int tracebuf_idle(tracebuf_buffer* buf, tracebuf_producer* p);
void* tracebuf_reserve(tracebuf_buffer* buf, tracebuf_producer* p, size_t n);
void* tracebuf_reserve_record(tracebuf_buffer* buf, tracebuf_producer* p, uint16_t tag,
                              size_t payload_size);
int tracebuf_write_record(tracebuf_buffer* buf, tracebuf_producer* p, uint16_t tag,
                          const void* payload, size_t payload_size);
int tracebuf_flush(tracebuf_buffer* buf, tracebuf_producer* p);
int tracebuf_last_error(const tracebuf_producer* p);

/* For a JIT: emit `pos = fetch_add(*position, n); if (pos + n > capacity) pos =
 * tracebuf_reserve_slow(buf, p, pos, n);` and write at data + pos - or, with
 * TRACEBUF_DOUBLE_BUFFER (data_is_constant == 0), at *current_data + pos, loaded after
 * each claim. */
typedef struct tracebuf_layout {
    uint64_t* position;
    unsigned char* data;                /* the current buffer when the layout was taken */
    uint64_t capacity;                  /* constant */
    unsigned char* const* current_data; /* always the current buffer */
    int data_is_constant;               /* 1 unless double-buffered */
} tracebuf_layout;
void tracebuf_get_layout(tracebuf_buffer* buf, tracebuf_layout* out);
uint64_t tracebuf_reserve_slow(tracebuf_buffer* buf, tracebuf_producer* p, uint64_t pos, uint64_t n);

#ifdef __cplusplus
} /* extern "C" */
#endif

#if defined(TRACEBUF_C_API_IMPLEMENTATION) && defined(__cplusplus)

#include <cstddef>
#include <memory>
#include <new>
#include <utility>

#include <tracebuf/clock_check.hpp>
#include <tracebuf/file_window.hpp>
#include <tracebuf/ordered_merge.hpp>
#include <tracebuf/tracebuf.hpp>

namespace tracebuf {

// What the C API needs to know about a producer's bytes before it treats them as one.
struct producer_access {
    // Whether `storage` holds a registered producer that lives there (it records its own
    // address at registration): fresh or garbage memory practically never does.
    static bool holds_registered(const void* storage) noexcept {
        const producer* self = nullptr;
        producer_state state = producer_state::unregistered;
        const unsigned char* bytes = static_cast<const unsigned char*>(storage);
        __builtin_memcpy(&self, bytes + offsetof(producer, self_), sizeof self);
        __builtin_memcpy(&state, bytes + offsetof(producer, state_), sizeof state);
        return self == storage && state != producer_state::unregistered;
    }
};

namespace detail {

// Where the C API's flushes go: a C callback, or an fd_sink owned by the control block.
struct c_api_output {
    tracebuf_write_fn fn;
    void* context;
    fd_sink fd;
    std::uint64_t callback_lost = 0; // the bytes of the callback's failed calls
    int write(const void* data, std::size_t size) noexcept {
        if (fn == nullptr) return fd.write(data, size);
        const int error = fn(context, data, size);
        if (error != 0) callback_lost += size;
        return error;
    }
    std::uint64_t bytes_lost() const noexcept { return fn != nullptr ? callback_lost : fd.bytes_lost(); }
};
// The sink behind the C API: the output, through the ordered merge when the buffer was
// created with TRACEBUF_ORDERED_MERGE (the merge and its scratch owned here).
// With tracebuf_create_file, the sink is the file window's (in place, or merged in place).
struct c_api_sink {
    using merge_type = merging_sink<c_api_output>;
    c_api_output out;
    std::unique_ptr<merge_type> merge;
    std::unique_ptr<std::uint64_t[]> scratch;
    std::unique_ptr<file_window> window;
    std::unique_ptr<merging_file_window_sink<>> window_merge;
    int write(const void* data, std::size_t size) noexcept {
        if (window_merge) return window_merge->write(data, size);
        if (merge) return merge->write(data, size);
        return window ? window->sink().write(data, size) : out.write(data, size);
    }
    bool leaves_zeroed() const noexcept { return window && window->mapped(); }
    // Counted where write() above sends the bytes (a merge never loses any itself): the
    // merge writes to its own copy of `out` (on a file that could not be mapped, too).
    std::uint64_t bytes_lost() const noexcept {
        if (merge) return merge->inner().bytes_lost();
        return window ? window->bytes_lost() : out.bytes_lost();
    }
};

struct c_api_traits : default_traits {
    static constexpr std::uint32_t idle_slots = 1024;
};
using c_api_buffer = trace_buffer<c_api_traits, c_api_sink>;

inline producer& c_producer(tracebuf_producer* p) noexcept {
    return *std::launder(reinterpret_cast<producer*>(&p->opaque));
}
inline const producer& c_producer(const tracebuf_producer* p) noexcept {
    return *std::launder(reinterpret_cast<const producer*>(&p->opaque));
}
inline int c_status(errc e) noexcept { return static_cast<int>(e); }

static_assert(sizeof(producer) <= sizeof(tracebuf_producer), "tracebuf_producer too small");
static_assert(alignof(producer) <= alignof(tracebuf_producer), "tracebuf_producer misaligned");
static_assert(static_cast<int>(errc::bad_clock) == TRACEBUF_BAD_CLOCK, "C status codes drifted");
static_assert(tags::chunk == TRACEBUF_CHUNK_TAG, "chunk tag drifted");

// Ordered mode's sink state: the clock checked, a scratch of a buffer's capacity, and the
// merging sink (into the window when it is mapped, else into sink.out). Returns a status.
inline int c_add_merge(c_api_sink& sink, std::size_t capacity) {
    if (check_clock<c_api_traits::clock>(20000).status() != errc::ok) return TRACEBUF_BAD_CLOCK;
    sink.scratch.reset(new (std::nothrow) std::uint64_t[capacity / 8 + 1]);
    if (!sink.scratch) return TRACEBUF_NO_MEMORY;
    if (sink.window && sink.window->mapped()) {
        sink.window_merge.reset(new (std::nothrow) merging_file_window_sink<>(*sink.window, sink.scratch.get(), capacity,
                                                                              c_api_traits::max_record_size));
        return sink.window_merge ? TRACEBUF_OK : TRACEBUF_NO_MEMORY;
    }
    sink.merge.reset(new (std::nothrow) c_api_sink::merge_type(sink.out, sink.scratch.get(), capacity,
                                                               c_api_traits::max_record_size));
    return sink.merge ? TRACEBUF_OK : TRACEBUF_NO_MEMORY;
}

// The buffer, or nullptr with the reason in *status.
inline tracebuf_buffer* c_finish(c_api_buffer* b, int* status) {
    const int s = b == nullptr ? TRACEBUF_NO_MEMORY : c_status(b->status());
    if (s != TRACEBUF_OK) {
        delete b;
        b = nullptr;
    }
    if (status != nullptr) *status = s;
    return reinterpret_cast<tracebuf_buffer*>(b);
}

inline tracebuf_buffer* c_create(void* memory, std::size_t bytes, c_api_output out, int options,
                                 int* status) {
    auto refuse = [status](int s) -> tracebuf_buffer* {
        if (status != nullptr) *status = s;
        return nullptr;
    };
    if ((options & ~(TRACEBUF_DOUBLE_BUFFER | TRACEBUF_ORDERED_MERGE)) != 0) return refuse(TRACEBUF_BAD_ARGUMENT);
    const buffering mode = (options & TRACEBUF_DOUBLE_BUFFER) != 0 ? buffering::double_buffer : buffering::single;
    c_api_sink sink{out, nullptr, nullptr, nullptr, nullptr};
    if ((options & TRACEBUF_ORDERED_MERGE) != 0) {
        const std::size_t capacity = (mode == buffering::double_buffer ? bytes / 2 : bytes) / 8 * 8;
        if (const int s = c_add_merge(sink, capacity); s != TRACEBUF_OK) return refuse(s);
    }
    return c_finish(new (std::nothrow) c_api_buffer(memory, bytes, std::move(sink), mode), status);
}
// tracebuf_create_file: the memory is a window of the file, owned by the sink.
inline tracebuf_buffer* c_create_file(int fd, std::size_t bytes, int options, int flags, int* status) {
    auto refuse = [status](int s) -> tracebuf_buffer* {
        if (status != nullptr) *status = s;
        return nullptr;
    };
    if ((options & ~(TRACEBUF_DOUBLE_BUFFER | TRACEBUF_ORDERED_MERGE)) != 0 || (flags & ~TRACEBUF_FILE_SYNC) != 0)
        return refuse(TRACEBUF_BAD_ARGUMENT);
    const buffering mode = (options & TRACEBUF_DOUBLE_BUFFER) != 0 ? buffering::double_buffer : buffering::single;
    file_window_options o;
    o.sync_each_flush = (flags & TRACEBUF_FILE_SYNC) != 0;
    c_api_sink sink{c_api_output{nullptr, nullptr, fd_sink(fd)}, nullptr, nullptr, nullptr, nullptr};
    sink.window.reset(new (std::nothrow) file_window(fd, bytes, mode, c_api_traits::max_record_size, o));
    if (!sink.window) return refuse(TRACEBUF_NO_MEMORY);
    if (sink.window->memory() == nullptr) return refuse(TRACEBUF_BAD_ARENA);
    void* memory = sink.window->memory();
    const std::size_t window_bytes = sink.window->bytes();
    if ((options & TRACEBUF_ORDERED_MERGE) != 0) {
        const std::size_t capacity = mode == buffering::double_buffer ? window_bytes / 2 : window_bytes;
        if (const int s = c_add_merge(sink, capacity); s != TRACEBUF_OK) return refuse(s);
    }
    return c_finish(new (std::nothrow) c_api_buffer(memory, window_bytes, std::move(sink), mode, memory_contents::zeroed),
                    status);
}

inline c_api_buffer& c_buffer(tracebuf_buffer* b) noexcept { return *reinterpret_cast<c_api_buffer*>(b); }
inline const c_api_buffer& c_buffer(const tracebuf_buffer* b) noexcept {
    return *reinterpret_cast<const c_api_buffer*>(b);
}

constexpr std::size_t largest(std::size_t a, std::size_t b, std::size_t c) noexcept {
    return a > b ? (a > c ? a : c) : (b > c ? b : c);
}

// A tracebuf_writer holds one writer of any mode; every call is one generic call on
// whichever it holds.
class c_writer {
public:
    using record_type = record_writer<c_api_buffer>;
    using chunk_type = chunk_writer<c_api_buffer>;
    using ordered_type = ordered_writer<c_api_buffer>;

    c_writer(c_api_buffer& b, int mode, std::size_t chunk_bytes, std::uint32_t pid, std::uint32_t tid) noexcept
        : mode_(mode), seal_(seal_of(this)) {
        if (mode == TRACEBUF_CHUNK_MODE) new (&storage_) chunk_type(b, chunk_bytes, pid, tid);
        else if (mode == TRACEBUF_ORDERED_MODE) new (&storage_) ordered_type(b, chunk_bytes, pid, tid);
        else new (&storage_) record_type(b);
    }

    template <class Call>
    auto visit(Call&& call) noexcept {
        if (mode_ == TRACEBUF_CHUNK_MODE) return call(*std::launder(reinterpret_cast<chunk_type*>(&storage_)));
        if (mode_ == TRACEBUF_ORDERED_MODE) return call(*std::launder(reinterpret_cast<ordered_type*>(&storage_)));
        return call(*std::launder(reinterpret_cast<record_type*>(&storage_)));
    }
    template <class Call>
    auto visit(Call&& call) const noexcept {
        if (mode_ == TRACEBUF_CHUNK_MODE)
            return call(*std::launder(reinterpret_cast<const chunk_type*>(&storage_)));
        if (mode_ == TRACEBUF_ORDERED_MODE)
            return call(*std::launder(reinterpret_cast<const ordered_type*>(&storage_)));
        return call(*std::launder(reinterpret_cast<const record_type*>(&storage_)));
    }

    // Whether the bytes at `w` hold a writer (its seal matches its address) whose thread is
    // registered.
    static bool holds_registered(const tracebuf_writer* w) noexcept {
        std::uint64_t seal = 0;
        __builtin_memcpy(&seal, reinterpret_cast<const unsigned char*>(w) + offsetof(c_writer, seal_), sizeof seal);
        if (seal != seal_of(w)) return false;
        const c_writer& live = *std::launder(reinterpret_cast<const c_writer*>(w));
        return live.visit([](const auto& x) noexcept { return x.producer().state() != producer_state::unregistered; });
    }

private:
    static std::uint64_t seal_of(const void* at) noexcept {
        return 0x7472616365627566ull ^ reinterpret_cast<std::uintptr_t>(at); // "tracebuf"
    }

    int mode_;
    std::uint64_t seal_;
    alignas(chunk_type) alignas(record_type) alignas(ordered_type) unsigned char storage_[largest(
        sizeof(chunk_type), sizeof(record_type), sizeof(ordered_type))];
};
static_assert(sizeof(c_writer) <= sizeof(tracebuf_writer), "tracebuf_writer too small");
static_assert(alignof(c_writer) <= alignof(tracebuf_writer), "tracebuf_writer misaligned");

inline c_writer& c_writer_of(tracebuf_writer* w) noexcept { return *std::launder(reinterpret_cast<c_writer*>(w)); }
inline const c_writer& c_writer_of(const tracebuf_writer* w) noexcept {
    return *std::launder(reinterpret_cast<const c_writer*>(w));
}

} // namespace detail
} // namespace tracebuf

extern "C" {

tracebuf_buffer* tracebuf_create(void* memory, size_t bytes, tracebuf_write_fn write, void* context,
                                 int* status) {
    return tracebuf::detail::c_create(memory, bytes, tracebuf::detail::c_api_output{write, context, tracebuf::fd_sink(-1)},
                                      TRACEBUF_SINGLE_BUFFER, status);
}
tracebuf_buffer* tracebuf_create_fd(void* memory, size_t bytes, int fd, int* status) {
    return tracebuf::detail::c_create(memory, bytes, tracebuf::detail::c_api_output{nullptr, nullptr, tracebuf::fd_sink(fd)},
                                      TRACEBUF_SINGLE_BUFFER, status);
}
tracebuf_buffer* tracebuf_create_ex(void* memory, size_t bytes, tracebuf_write_fn write, void* context,
                                    int fd, int buffering, int* status) {
    return tracebuf::detail::c_create(memory, bytes, tracebuf::detail::c_api_output{write, context, tracebuf::fd_sink(write ? -1 : fd)},
                                      buffering, status);
}
tracebuf_buffer* tracebuf_create_file(int fd, size_t bytes, int buffering, int flags, int* status) {
    return tracebuf::detail::c_create_file(fd, bytes, buffering, flags, status);
}
const char* tracebuf_file_fallback_reason(const tracebuf_buffer* buf) {
    const tracebuf::file_window* w = tracebuf::detail::c_buffer(buf).sink().window.get();
    return w != nullptr ? w->fallback_reason() : nullptr;
}
int tracebuf_close_file(tracebuf_buffer* buf) {
    tracebuf::file_window* w = tracebuf::detail::c_buffer(buf).sink().window.get();
    return w != nullptr ? w->close() : 0;
}
void tracebuf_destroy(tracebuf_buffer* buf) { delete &tracebuf::detail::c_buffer(buf); }

int tracebuf_drain(tracebuf_buffer* buf) {
    return tracebuf::detail::c_status(tracebuf::detail::c_buffer(buf).drain());
}
const char* tracebuf_strerror(int status) {
    return tracebuf::to_string(static_cast<tracebuf::errc>(status));
}
void tracebuf_get_stats(const tracebuf_buffer* buf, tracebuf_stats* out) {
    const tracebuf::detail::c_api_buffer& b = tracebuf::detail::c_buffer(buf);
    const tracebuf::flush_stats s = b.stats();
    *out = tracebuf_stats{s.flushes, s.bytes_flushed, s.parks, s.sink_error, b.sink().bytes_lost()};
}
void tracebuf_write_padding(void* at, size_t n) {
    tracebuf::write_padding(at, n, tracebuf::detail::c_api_traits::max_record_size);
}

// ---- Writers ----------------------------------------------------------------------------

int tracebuf_writer_init(tracebuf_writer* w, tracebuf_buffer* buf, int mode, size_t chunk_bytes, uint32_t pid,
                         uint32_t tid) {
    using namespace tracebuf::detail;
    if (mode != TRACEBUF_RECORD_MODE && mode != TRACEBUF_CHUNK_MODE && mode != TRACEBUF_ORDERED_MODE)
        return TRACEBUF_BAD_ARGUMENT;
    if (mode == TRACEBUF_ORDERED_MODE && !c_buffer(buf).sink().merge && !c_buffer(buf).sink().window_merge) return TRACEBUF_BAD_ARGUMENT;
    if (c_writer::holds_registered(w)) return TRACEBUF_ALREADY_REGISTERED;
    c_writer* made = new (w) c_writer(c_buffer(buf), mode, chunk_bytes, pid, tid);
    return c_status(made->visit([](auto& x) noexcept { return x.status(); }));
}
int tracebuf_writer_register_thread(tracebuf_writer* w) {
    using namespace tracebuf::detail;
    return c_status(c_writer_of(w).visit([](auto& x) noexcept { return x.register_thread(); }));
}
int tracebuf_writer_unregister_thread(tracebuf_writer* w) {
    using namespace tracebuf::detail;
    return c_status(c_writer_of(w).visit([](auto& x) noexcept { return x.unregister_thread(); }));
}
int tracebuf_writer_go_offline(tracebuf_writer* w) {
    using namespace tracebuf::detail;
    return c_status(c_writer_of(w).visit([](auto& x) noexcept { return x.go_offline(); }));
}
int tracebuf_writer_go_online(tracebuf_writer* w) {
    using namespace tracebuf::detail;
    return c_status(c_writer_of(w).visit([](auto& x) noexcept { return x.go_online(); }));
}
int tracebuf_writer_busy(tracebuf_writer* w) {
    using namespace tracebuf::detail;
    return c_status(c_writer_of(w).visit([](auto& x) noexcept { return x.busy(); }));
}
int tracebuf_writer_idle(tracebuf_writer* w) {
    using namespace tracebuf::detail;
    return c_status(c_writer_of(w).visit([](auto& x) noexcept { return x.idle(); }));
}
void* tracebuf_writer_reserve(tracebuf_writer* w, size_t n) {
    using namespace tracebuf::detail;
    return c_writer_of(w).visit([n](auto& x) noexcept { return static_cast<void*>(x.reserve(n)); });
}
void* tracebuf_writer_reserve_record(tracebuf_writer* w, uint16_t tag, size_t payload_size) {
    using namespace tracebuf::detail;
    return c_writer_of(w).visit([=](auto& x) noexcept { return x.reserve_record(tag, payload_size); });
}
int tracebuf_writer_write_record(tracebuf_writer* w, uint16_t tag, const void* payload, size_t payload_size) {
    using namespace tracebuf::detail;
    return c_status(c_writer_of(w).visit([=](auto& x) noexcept { return x.write_record(tag, payload, payload_size); }));
}
static inline tracebuf::stamp c_stamp(int stamp) noexcept {
    return stamp == TRACEBUF_STAMP_RELAXED   ? tracebuf::stamp::relaxed
           : stamp == TRACEBUF_STAMP_INHERIT ? tracebuf::stamp::inherit
                                             : tracebuf::stamp::ordered;
}
void* tracebuf_writer_reserve_stamped(tracebuf_writer* w, size_t n, int stamp) {
    using namespace tracebuf::detail;
    return c_writer_of(w).visit([=](auto& x) noexcept { return static_cast<void*>(x.reserve(n, c_stamp(stamp))); });
}
void* tracebuf_writer_reserve_record_stamped(tracebuf_writer* w, uint16_t tag, size_t payload_size, int stamp) {
    using namespace tracebuf::detail;
    return c_writer_of(w).visit([=](auto& x) noexcept { return x.reserve_record(tag, payload_size, c_stamp(stamp)); });
}
int tracebuf_writer_write_record_stamped(tracebuf_writer* w, uint16_t tag, const void* payload, size_t payload_size,
                                         int stamp) {
    using namespace tracebuf::detail;
    return c_status(c_writer_of(w).visit(
        [=](auto& x) noexcept { return x.write_record(tag, payload, payload_size, c_stamp(stamp)); }));
}
int tracebuf_writer_flush(tracebuf_writer* w) {
    using namespace tracebuf::detail;
    return c_status(c_writer_of(w).visit([](auto& x) noexcept { return x.flush(); }));
}
int tracebuf_writer_last_error(const tracebuf_writer* w) {
    using namespace tracebuf::detail;
    return c_status(c_writer_of(w).visit([](const auto& x) noexcept { return x.last_error(); }));
}
uint64_t tracebuf_writer_chunks(const tracebuf_writer* w) {
    using namespace tracebuf::detail;
    return c_writer_of(w).visit([](const auto& x) noexcept -> std::uint64_t {
        if constexpr (!std::is_same_v<std::decay_t<decltype(x)>, c_writer::record_type>) return x.chunks();
        return 0;
    });
}

// ---- Low level --------------------------------------------------------------------------

int tracebuf_producer_init(tracebuf_producer* p) {
    if (tracebuf::producer_access::holds_registered(&p->opaque)) return TRACEBUF_ALREADY_REGISTERED;
    new (&p->opaque) tracebuf::producer();
    return TRACEBUF_OK;
}
int tracebuf_register_thread(tracebuf_buffer* buf, tracebuf_producer* p) {
    using namespace tracebuf::detail;
    return c_status(c_buffer(buf).register_thread(c_producer(p)));
}
int tracebuf_unregister_thread(tracebuf_buffer* buf, tracebuf_producer* p) {
    using namespace tracebuf::detail;
    return c_status(c_buffer(buf).unregister_thread(c_producer(p)));
}
int tracebuf_go_offline(tracebuf_buffer* buf, tracebuf_producer* p) {
    using namespace tracebuf::detail;
    return c_status(c_buffer(buf).go_offline(c_producer(p)));
}
int tracebuf_go_online(tracebuf_buffer* buf, tracebuf_producer* p) {
    using namespace tracebuf::detail;
    return c_status(c_buffer(buf).go_online(c_producer(p)));
}
int tracebuf_busy(tracebuf_buffer* buf, tracebuf_producer* p) {
    using namespace tracebuf::detail;
    return c_status(c_buffer(buf).busy(c_producer(p)));
}
int tracebuf_idle(tracebuf_buffer* buf, tracebuf_producer* p) {
    using namespace tracebuf::detail;
    return c_status(c_buffer(buf).idle(c_producer(p)));
}
void* tracebuf_reserve(tracebuf_buffer* buf, tracebuf_producer* p, size_t n) {
    using namespace tracebuf::detail;
    return c_buffer(buf).reserve(c_producer(p), n);
}
void* tracebuf_reserve_record(tracebuf_buffer* buf, tracebuf_producer* p, uint16_t tag,
                              size_t payload_size) {
    using namespace tracebuf::detail;
    return c_buffer(buf).reserve_record(c_producer(p), tag, payload_size);
}
int tracebuf_write_record(tracebuf_buffer* buf, tracebuf_producer* p, uint16_t tag,
                          const void* payload, size_t payload_size) {
    using namespace tracebuf::detail;
    return c_status(c_buffer(buf).write_record(c_producer(p), tag, payload, payload_size));
}
int tracebuf_flush(tracebuf_buffer* buf, tracebuf_producer* p) {
    using namespace tracebuf::detail;
    return c_status(c_buffer(buf).flush(c_producer(p)));
}
int tracebuf_last_error(const tracebuf_producer* p) {
    using namespace tracebuf::detail;
    return c_status(c_producer(p).last_error());
}
void tracebuf_get_layout(tracebuf_buffer* buf, tracebuf_layout* out) {
    const tracebuf::jit_layout l = tracebuf::detail::c_buffer(buf).layout();
    *out = tracebuf_layout{static_cast<uint64_t*>(l.position), l.data, l.capacity, l.current_data,
                           l.data_is_constant ? 1 : 0};
}
uint64_t tracebuf_reserve_slow(tracebuf_buffer* buf, tracebuf_producer* p, uint64_t pos, uint64_t n) {
    using namespace tracebuf::detail;
    return c_buffer(buf).reserve_slow(c_producer(p), pos, n);
}

} // extern "C"

#endif /* TRACEBUF_C_API_IMPLEMENTATION */

#endif /* TRACEBUF_H */
