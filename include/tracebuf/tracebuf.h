/* tracebuf/tracebuf.h - the C API, for hosts written in C (a QEMU plugin, for example).
 *
 * Exactly one C++ translation unit of the host defines the implementation:
 *
 *     #define TRACEBUF_C_API_IMPLEMENTATION
 *     #include <tracebuf/tracebuf.h>
 *
 * It uses tracebuf::default_traits (Boost.Atomic, futex waits, 4096-byte records, 64 KiB
 * reservations) with 1024 idle slots (so at most 1024 threads registered at once, and
 * tracebuf_idle/tracebuf_busy work). Every other file includes the header as is, from C or
 * C++.
 *
 * Calls mirror trace_buffer (trace_buffer.hpp) and, for chunk mode, chunk_writer
 * (chunk_writer.hpp), with the same preconditions; status codes are the values of
 * tracebuf::errc (TRACEBUF_OK is 0). Host contract: docs/host-contract.md.
 */
#ifndef TRACEBUF_H
#define TRACEBUF_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct tracebuf_buffer tracebuf_buffer;

/* A thread's handle. Keep one per thread; call tracebuf_producer_init before first use. */
typedef struct tracebuf_producer {
    uint64_t opaque;
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
    TRACEBUF_NO_MEMORY,   /* tracebuf_create* could not allocate its control block */
    TRACEBUF_BAD_ARGUMENT /* an unknown buffering value */
};

/* How tracebuf_create_ex uses its memory. */
enum tracebuf_buffering {
    TRACEBUF_SINGLE_BUFFER = 0, /* one buffer; writers park while the flusher writes it out */
    TRACEBUF_DOUBLE_BUFFER = 1  /* two halves: a flush swaps them, releases the parked writers,
                                   then writes the full half out (each half >= 64 KiB) */
};

typedef struct tracebuf_stats {
    uint64_t flushes;       /* sink writes */
    uint64_t bytes_flushed; /* bytes handed to the sink */
    uint64_t parks;         /* times a thread parked at the barrier */
    int sink_error;         /* first error the sink reported, or 0 */
} tracebuf_stats;

#define TRACEBUF_INVALID_POSITION (~(uint64_t)0)

/* A trace buffer over `bytes` of `memory` (8-byte aligned, >= 64 KiB, owned by the caller),
 * writing full buffers through `write`. Returns NULL and sets *status on failure. */
tracebuf_buffer* tracebuf_create(void* memory, size_t bytes, tracebuf_write_fn write,
                                 void* context, int* status);
/* The same, writing to a file descriptor (full writes, EINTR retried, errors reported). */
tracebuf_buffer* tracebuf_create_fd(void* memory, size_t bytes, int fd, int* status);
/* Either of the above with a choice of buffering (enum tracebuf_buffering); the plain
 * versions are TRACEBUF_SINGLE_BUFFER. Pass write = NULL to write to `fd` instead. */
tracebuf_buffer* tracebuf_create_ex(void* memory, size_t bytes, tracebuf_write_fn write,
                                    void* context, int fd, int buffering, int* status);
/* Frees the control block (not the memory). Call after tracebuf_drain. */
void tracebuf_destroy(tracebuf_buffer* buf);

void tracebuf_producer_init(tracebuf_producer* p);
int tracebuf_register_thread(tracebuf_buffer* buf, tracebuf_producer* p);
int tracebuf_unregister_thread(tracebuf_buffer* buf, tracebuf_producer* p);
int tracebuf_go_offline(tracebuf_buffer* buf, tracebuf_producer* p); /* syscall entry */
int tracebuf_go_online(tracebuf_buffer* buf, tracebuf_producer* p);  /* syscall exit */
/* Around each callback of a host that may stop threads between callbacks (QEMU). */
int tracebuf_busy(tracebuf_buffer* buf, tracebuf_producer* p); /* callback start */
int tracebuf_idle(tracebuf_buffer* buf, tracebuf_producer* p); /* callback end */

/* n bytes (multiple of 8, <= 64 KiB) for records the caller fills completely; NULL on
 * error (tracebuf_last_error). */
void* tracebuf_reserve(tracebuf_buffer* buf, tracebuf_producer* p, size_t n);
/* One record: writes the header, returns the payload to fill; NULL on error. */
void* tracebuf_reserve_record(tracebuf_buffer* buf, tracebuf_producer* p, uint16_t tag,
                              size_t payload_size);
int tracebuf_write_record(tracebuf_buffer* buf, tracebuf_producer* p, uint16_t tag,
                          const void* payload, size_t payload_size);
/* Covers n bytes (multiple of 8) of a reservation with padding records. */
void tracebuf_write_padding(void* at, size_t n);

int tracebuf_flush(tracebuf_buffer* buf, tracebuf_producer* p);
int tracebuf_drain(tracebuf_buffer* buf); /* once no producer runs (exit) */

int tracebuf_last_error(const tracebuf_producer* p);
const char* tracebuf_strerror(int status);
void tracebuf_get_stats(const tracebuf_buffer* buf, tracebuf_stats* out);

/* For a JIT: emit `pos = fetch_add(*position, n); if (pos + n > capacity) pos =
 * tracebuf_reserve_slow(buf, p, pos, n);` and write at data + pos. Single buffer only: with
 * TRACEBUF_DOUBLE_BUFFER the data pointer changes at every flush, and *data is NULL. */
void tracebuf_get_layout(tracebuf_buffer* buf, uint64_t** position, unsigned char** data,
                         uint64_t* capacity);
uint64_t tracebuf_reserve_slow(tracebuf_buffer* buf, tracebuf_producer* p, uint64_t pos, uint64_t n);

/* ---- Chunk mode (chunk_writer.hpp) -------------------------------------------------------
 * One writer per thread, in place of its tracebuf_producer: one shared reservation per chunk
 * (`chunk_bytes`, a multiple of 8, 4 KiB to 64 KiB suits most hosts), records placed in it
 * with plain stores, each chunk headed by a TRACEBUF_CHUNK_TAG record (pid, tid, bytes,
 * per-thread sequence). The trace orders chunks, not records (README, "Order"). */
#define TRACEBUF_CHUNK_TAG 0xfffe

typedef struct tracebuf_chunk_writer {
    uint64_t opaque[10];
} tracebuf_chunk_writer;

/* Makes `w` a writer of `buf` for the calling thread; TRACEBUF_BAD_SIZE for a chunk size out
 * of range (registration then fails with it). Then register as with a producer. */
int tracebuf_chunk_init(tracebuf_chunk_writer* w, tracebuf_buffer* buf, size_t chunk_bytes,
                        uint32_t pid, uint32_t tid);
int tracebuf_chunk_register_thread(tracebuf_chunk_writer* w);
int tracebuf_chunk_unregister_thread(tracebuf_chunk_writer* w); /* pads the open chunk */
int tracebuf_chunk_go_offline(tracebuf_chunk_writer* w);        /* pads the open chunk */
int tracebuf_chunk_go_online(tracebuf_chunk_writer* w);
int tracebuf_chunk_busy(tracebuf_chunk_writer* w);
int tracebuf_chunk_idle(tracebuf_chunk_writer* w); /* leaves the chunk open */
void* tracebuf_chunk_reserve(tracebuf_chunk_writer* w, size_t n);
void* tracebuf_chunk_reserve_record(tracebuf_chunk_writer* w, uint16_t tag, size_t payload_size);
int tracebuf_chunk_write_record(tracebuf_chunk_writer* w, uint16_t tag, const void* payload,
                                size_t payload_size);
int tracebuf_chunk_flush(tracebuf_chunk_writer* w); /* pads the open chunk, then flushes */
int tracebuf_chunk_last_error(const tracebuf_chunk_writer* w);
uint64_t tracebuf_chunk_count(const tracebuf_chunk_writer* w); /* chunks started */

#ifdef __cplusplus
} /* extern "C" */
#endif

#if defined(TRACEBUF_C_API_IMPLEMENTATION) && defined(__cplusplus)

#include <new>

#include <tracebuf/tracebuf.hpp>

namespace tracebuf {
namespace detail {

// The sink behind the C API: a C callback, or an fd_sink owned by the control block.
struct c_api_sink {
    tracebuf_write_fn fn;
    void* context;
    fd_sink fd;
    int write(const void* data, std::size_t size) noexcept {
        return fn != nullptr ? fn(context, data, size) : fd.write(data, size);
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
static_assert(static_cast<int>(errc::bad_arena) == TRACEBUF_BAD_ARENA, "C status codes drifted");

inline tracebuf_buffer* c_create(void* memory, std::size_t bytes, c_api_sink sink, int buffering_mode,
                                 int* status) {
    if (buffering_mode != TRACEBUF_SINGLE_BUFFER && buffering_mode != TRACEBUF_DOUBLE_BUFFER) {
        if (status != nullptr) *status = TRACEBUF_BAD_ARGUMENT;
        return nullptr;
    }
    const buffering mode =
        buffering_mode == TRACEBUF_DOUBLE_BUFFER ? buffering::double_buffer : buffering::single;
    auto* b = new (std::nothrow) c_api_buffer(memory, bytes, sink, mode);
    int s = b == nullptr ? TRACEBUF_NO_MEMORY : c_status(b->status());
    if (s != TRACEBUF_OK) {
        delete b;
        b = nullptr;
    }
    if (status != nullptr) *status = s;
    return reinterpret_cast<tracebuf_buffer*>(b);
}
inline c_api_buffer& c_buffer(tracebuf_buffer* b) noexcept { return *reinterpret_cast<c_api_buffer*>(b); }

using c_chunk_writer = chunk_writer<c_api_buffer>;
static_assert(sizeof(c_chunk_writer) <= sizeof(tracebuf_chunk_writer), "tracebuf_chunk_writer too small");
static_assert(alignof(c_chunk_writer) <= alignof(tracebuf_chunk_writer), "tracebuf_chunk_writer misaligned");
static_assert(tags::chunk == TRACEBUF_CHUNK_TAG, "chunk tag drifted");
inline c_chunk_writer& c_chunk(tracebuf_chunk_writer* w) noexcept {
    return *std::launder(reinterpret_cast<c_chunk_writer*>(&w->opaque));
}
inline const c_chunk_writer& c_chunk(const tracebuf_chunk_writer* w) noexcept {
    return *std::launder(reinterpret_cast<const c_chunk_writer*>(&w->opaque));
}
inline const c_api_buffer& c_buffer(const tracebuf_buffer* b) noexcept {
    return *reinterpret_cast<const c_api_buffer*>(b);
}

} // namespace detail
} // namespace tracebuf

extern "C" {

tracebuf_buffer* tracebuf_create(void* memory, size_t bytes, tracebuf_write_fn write, void* context,
                                 int* status) {
    return tracebuf::detail::c_create(memory, bytes, {write, context, tracebuf::fd_sink(-1)},
                                      TRACEBUF_SINGLE_BUFFER, status);
}
tracebuf_buffer* tracebuf_create_fd(void* memory, size_t bytes, int fd, int* status) {
    return tracebuf::detail::c_create(memory, bytes, {nullptr, nullptr, tracebuf::fd_sink(fd)},
                                      TRACEBUF_SINGLE_BUFFER, status);
}
tracebuf_buffer* tracebuf_create_ex(void* memory, size_t bytes, tracebuf_write_fn write, void* context,
                                    int fd, int buffering, int* status) {
    return tracebuf::detail::c_create(memory, bytes, {write, context, tracebuf::fd_sink(write ? -1 : fd)},
                                      buffering, status);
}
void tracebuf_destroy(tracebuf_buffer* buf) { delete &tracebuf::detail::c_buffer(buf); }

void tracebuf_producer_init(tracebuf_producer* p) { new (&p->opaque) tracebuf::producer(); }
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
void tracebuf_write_padding(void* at, size_t n) {
    tracebuf::write_padding(at, n, tracebuf::detail::c_api_traits::max_record_size);
}
int tracebuf_flush(tracebuf_buffer* buf, tracebuf_producer* p) {
    using namespace tracebuf::detail;
    return c_status(c_buffer(buf).flush(c_producer(p)));
}
int tracebuf_drain(tracebuf_buffer* buf) {
    using namespace tracebuf::detail;
    return c_status(c_buffer(buf).drain());
}
int tracebuf_last_error(const tracebuf_producer* p) {
    using namespace tracebuf::detail;
    return c_status(c_producer(p).last_error());
}
const char* tracebuf_strerror(int status) {
    if (status == TRACEBUF_NO_MEMORY) return "out of memory";
    if (status == TRACEBUF_BAD_ARGUMENT) return "unknown buffering";
    return tracebuf::to_string(static_cast<tracebuf::errc>(status));
}
void tracebuf_get_stats(const tracebuf_buffer* buf, tracebuf_stats* out) {
    const tracebuf::flush_stats s = tracebuf::detail::c_buffer(buf).stats();
    *out = tracebuf_stats{s.flushes, s.bytes_flushed, s.parks, s.sink_error};
}
void tracebuf_get_layout(tracebuf_buffer* buf, uint64_t** position, unsigned char** data,
                         uint64_t* capacity) {
    const tracebuf::jit_layout l = tracebuf::detail::c_buffer(buf).layout();
    *position = static_cast<uint64_t*>(l.position);
    *data = l.data_is_constant ? l.data : nullptr;
    *capacity = l.capacity;
}
uint64_t tracebuf_reserve_slow(tracebuf_buffer* buf, tracebuf_producer* p, uint64_t pos, uint64_t n) {
    using namespace tracebuf::detail;
    return c_buffer(buf).reserve_slow(c_producer(p), pos, n);
}

int tracebuf_chunk_init(tracebuf_chunk_writer* w, tracebuf_buffer* buf, size_t chunk_bytes,
                        uint32_t pid, uint32_t tid) {
    using namespace tracebuf::detail;
    return c_status((new (&w->opaque) c_chunk_writer(c_buffer(buf), chunk_bytes, pid, tid))->status());
}
int tracebuf_chunk_register_thread(tracebuf_chunk_writer* w) {
    return tracebuf::detail::c_status(tracebuf::detail::c_chunk(w).register_thread());
}
int tracebuf_chunk_unregister_thread(tracebuf_chunk_writer* w) {
    return tracebuf::detail::c_status(tracebuf::detail::c_chunk(w).unregister_thread());
}
int tracebuf_chunk_go_offline(tracebuf_chunk_writer* w) {
    return tracebuf::detail::c_status(tracebuf::detail::c_chunk(w).go_offline());
}
int tracebuf_chunk_go_online(tracebuf_chunk_writer* w) {
    return tracebuf::detail::c_status(tracebuf::detail::c_chunk(w).go_online());
}
int tracebuf_chunk_busy(tracebuf_chunk_writer* w) {
    return tracebuf::detail::c_status(tracebuf::detail::c_chunk(w).busy());
}
int tracebuf_chunk_idle(tracebuf_chunk_writer* w) {
    return tracebuf::detail::c_status(tracebuf::detail::c_chunk(w).idle());
}
void* tracebuf_chunk_reserve(tracebuf_chunk_writer* w, size_t n) {
    return tracebuf::detail::c_chunk(w).reserve(n);
}
void* tracebuf_chunk_reserve_record(tracebuf_chunk_writer* w, uint16_t tag, size_t payload_size) {
    return tracebuf::detail::c_chunk(w).reserve_record(tag, payload_size);
}
int tracebuf_chunk_write_record(tracebuf_chunk_writer* w, uint16_t tag, const void* payload,
                                size_t payload_size) {
    return tracebuf::detail::c_status(tracebuf::detail::c_chunk(w).write_record(tag, payload, payload_size));
}
int tracebuf_chunk_flush(tracebuf_chunk_writer* w) {
    return tracebuf::detail::c_status(tracebuf::detail::c_chunk(w).flush());
}
int tracebuf_chunk_last_error(const tracebuf_chunk_writer* w) {
    return tracebuf::detail::c_status(tracebuf::detail::c_chunk(w).last_error());
}
uint64_t tracebuf_chunk_count(const tracebuf_chunk_writer* w) {
    return tracebuf::detail::c_chunk(w).chunks();
}

} // extern "C"

#endif /* TRACEBUF_C_API_IMPLEMENTATION */

#endif /* TRACEBUF_H */
