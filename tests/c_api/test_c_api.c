/* The C API from a C program: threads write through it into a pipe-free callback sink,
 * one thread goes offline around a sleep, and the trace is checked record by record; then
 * the same in chunk mode with double buffering, checked chunk by chunk.
 * Prints "N passed, N failed" and exits non-zero on any failure. */
#include <tracebuf/tracebuf.h>

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static int passed, failed;
#define CHECK(cond)                                                                  \
    do {                                                                             \
        if (cond) {                                                                  \
            __atomic_fetch_add(&passed, 1, __ATOMIC_RELAXED);                        \
        } else {                                                                     \
            __atomic_fetch_add(&failed, 1, __ATOMIC_RELAXED);                        \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
        }                                                                            \
    } while (0)

#define THREADS 4
#define PER_THREAD 20000

struct collected {
    unsigned char* bytes;
    size_t size, cap;
};

static int collect(void* context, const void* data, size_t size) {
    struct collected* c = context;
    if (c->size + size > c->cap) {
        size_t cap = (c->cap + size) * 2;
        unsigned char* grown = realloc(c->bytes, cap);
        if (grown == NULL) return 12; /* ENOMEM */
        c->bytes = grown;
        c->cap = cap;
    }
    memcpy(c->bytes + c->size, data, size);
    c->size += size;
    return 0;
}

static tracebuf_buffer* buf;
static pthread_mutex_t host_lock = PTHREAD_MUTEX_INITIALIZER;

static void* writer(void* arg) {
    uint32_t id = (uint32_t)(uintptr_t)arg;
    tracebuf_producer p;
    tracebuf_producer_init(&p);
    CHECK(tracebuf_register_thread(buf, &p) == TRACEBUF_OK);
    for (uint32_t i = 0; i < PER_THREAD; ++i) {
        uint32_t payload[2] = {id, i};
        if (i % 1000 == 999) { /* between two "callbacks": idle, then stopped by the host */
            CHECK(tracebuf_idle(buf, &p) == TRACEBUF_OK);
            pthread_mutex_lock(&host_lock);
            pthread_mutex_unlock(&host_lock);
            CHECK(tracebuf_busy(buf, &p) == TRACEBUF_OK);
        }
        if (i % 2 == 0) {
            if (tracebuf_write_record(buf, &p, 0x4d41, payload, sizeof payload) != TRACEBUF_OK) CHECK(0);
        } else {
            void* body = tracebuf_reserve_record(buf, &p, 0x4d42, sizeof payload);
            if (body == NULL) CHECK(0);
            else memcpy(body, payload, sizeof payload);
        }
        if (i % 5000 == 0) {
            struct timespec ts = {0, 2000000};
            CHECK(tracebuf_go_offline(buf, &p) == TRACEBUF_OK);
            nanosleep(&ts, NULL);
            CHECK(tracebuf_go_online(buf, &p) == TRACEBUF_OK);
        }
    }
    CHECK(tracebuf_unregister_thread(buf, &p) == TRACEBUF_OK);
    return NULL;
}

/* ---- chunk mode ---- */

#define CHUNK_BYTES 1024

static tracebuf_buffer* chunk_buf;

static void* chunk_writer_thread(void* arg) {
    uint32_t id = (uint32_t)(uintptr_t)arg;
    tracebuf_chunk_writer w;
    CHECK(tracebuf_chunk_init(&w, chunk_buf, CHUNK_BYTES, 4242, 1000 + id) == TRACEBUF_OK);
    CHECK(tracebuf_chunk_register_thread(&w) == TRACEBUF_OK);
    CHECK(tracebuf_chunk_idle(&w) == TRACEBUF_OK);
    for (uint32_t i = 0; i < PER_THREAD; ++i) {
        uint32_t payload[2] = {id, i};
        if (tracebuf_chunk_busy(&w) != TRACEBUF_OK) CHECK(0);
        if (i % 2 == 0) {
            if (tracebuf_chunk_write_record(&w, 0x4d41, payload, sizeof payload) != TRACEBUF_OK) CHECK(0);
        } else {
            void* body = tracebuf_chunk_reserve_record(&w, 0x4d42, sizeof payload);
            if (body == NULL) CHECK(0);
            else memcpy(body, payload, sizeof payload);
        }
        if (tracebuf_chunk_idle(&w) != TRACEBUF_OK) CHECK(0); /* the chunk stays open */
        if (i % 1000 == 999) { /* stopped by the host while idle, mid-chunk */
            pthread_mutex_lock(&host_lock);
            pthread_mutex_unlock(&host_lock);
        }
        if (i % 5000 == 0) {
            struct timespec ts = {0, 2000000};
            CHECK(tracebuf_chunk_go_offline(&w) == TRACEBUF_OK); /* from idle */
            nanosleep(&ts, NULL);
            CHECK(tracebuf_chunk_go_online(&w) == TRACEBUF_OK);
            CHECK(tracebuf_chunk_idle(&w) == TRACEBUF_OK);
        }
    }
    CHECK(tracebuf_chunk_count(&w) > PER_THREAD * 16 / CHUNK_BYTES);
    CHECK(tracebuf_chunk_unregister_thread(&w) == TRACEBUF_OK);
    return NULL;
}

/* Walks a chunk-mode trace: every record inside a chunk of its own thread, chunks whole and
 * numbered without gaps per thread, records once and in order. Returns the record count. */
static size_t check_chunk_trace(const unsigned char* bytes, size_t size) {
    uint32_t next[THREADS] = {0};
    uint64_t next_chunk[THREADS] = {0};
    size_t at = 0, records = 0;
    size_t chunk_end = 0;
    int owner = -1, bad = 0;
    while (at < size && !bad) {
        uint16_t tag, length;
        memcpy(&tag, bytes + at, 2);
        memcpy(&length, bytes + at + 2, 2);
        if (at == chunk_end) owner = -1; /* outside any chunk */
        if (tag == TRACEBUF_CHUNK_TAG && length == 24 && owner == -1) {
            uint32_t pid, tid, chunk_bytes;
            uint64_t sequence;
            memcpy(&pid, bytes + at + 4, 4);
            memcpy(&tid, bytes + at + 8, 4);
            memcpy(&chunk_bytes, bytes + at + 12, 4);
            memcpy(&sequence, bytes + at + 16, 8);
            owner = (int)tid - 1000;
            if (pid != 4242 || owner < 0 || owner >= THREADS || sequence != next_chunk[owner]++ ||
                chunk_bytes < CHUNK_BYTES || at + chunk_bytes > size)
                bad = 1;
            chunk_end = at + chunk_bytes;
        } else if (tag == 0xffff) {
            /* padding: a chunk's tail, or a flush's end */
        } else if ((tag == 0x4d41 || tag == 0x4d42) && length == 12 && owner >= 0) {
            uint32_t payload[2];
            memcpy(payload, bytes + at + 4, 8);
            if (payload[0] != (uint32_t)owner || payload[1] != next[owner]++) bad = 1;
            if ((payload[1] % 2 == 0) != (tag == 0x4d41)) bad = 1;
            ++records;
        } else {
            bad = 1;
        }
        at += ((size_t)length + 7) & ~(size_t)7;
        if (owner >= 0 && at > chunk_end) bad = 1; /* a record across a chunk's end */
    }
    CHECK(!bad);
    CHECK(at == size);
    for (int t = 0; t < THREADS; ++t) CHECK(next[t] == PER_THREAD);
    return records;
}

static void chunk_mode_with_double_buffering(void) {
    static uint64_t memory[2 * 65536 / 8];
    struct collected c = {NULL, 0, 0};
    int status = -1;

    CHECK(tracebuf_create_ex(memory, sizeof memory, collect, &c, -1, 7, &status) == NULL);
    CHECK(status == TRACEBUF_BAD_ARGUMENT);
    CHECK(strcmp(tracebuf_strerror(TRACEBUF_BAD_ARGUMENT), "unknown buffering") == 0);
    CHECK(tracebuf_create_ex(memory, 65536, collect, &c, -1, TRACEBUF_DOUBLE_BUFFER, &status) == NULL);
    CHECK(status == TRACEBUF_BAD_ARENA); /* halves smaller than one maximal reservation */

    chunk_buf = tracebuf_create_ex(memory, sizeof memory, collect, &c, -1, TRACEBUF_DOUBLE_BUFFER, &status);
    CHECK(chunk_buf != NULL && status == TRACEBUF_OK);
    if (chunk_buf == NULL) return;

    uint64_t* position;
    unsigned char* data;
    uint64_t capacity;
    tracebuf_get_layout(chunk_buf, &position, &data, &capacity);
    CHECK(data == NULL); /* no constant data pointer to give a JIT */
    CHECK(capacity == sizeof memory / 2);

    tracebuf_chunk_writer misused;
    CHECK(tracebuf_chunk_init(&misused, chunk_buf, 12, 1, 1) == TRACEBUF_BAD_SIZE);
    CHECK(tracebuf_chunk_register_thread(&misused) == TRACEBUF_BAD_SIZE);
    CHECK(tracebuf_chunk_reserve(&misused, 8) == NULL);
    CHECK(tracebuf_chunk_last_error(&misused) == TRACEBUF_NOT_REGISTERED);

    pthread_mutex_lock(&host_lock);
    pthread_t threads[THREADS];
    for (uintptr_t t = 0; t < THREADS; ++t) pthread_create(&threads[t], NULL, chunk_writer_thread, (void*)t);
    struct timespec stop = {0, 50000000};
    nanosleep(&stop, NULL);
    pthread_mutex_unlock(&host_lock);
    for (int t = 0; t < THREADS; ++t) pthread_join(threads[t], NULL);

    CHECK(tracebuf_drain(chunk_buf) == TRACEBUF_OK);
    tracebuf_stats stats;
    tracebuf_get_stats(chunk_buf, &stats);
    CHECK(stats.bytes_flushed == c.size);
    CHECK(stats.flushes >= 10);
    CHECK(check_chunk_trace(c.bytes, c.size) == THREADS * PER_THREAD);
    tracebuf_destroy(chunk_buf);
    free(c.bytes);
}

int main(void) {
    static uint64_t memory[65536 / 8];
    struct collected c = {NULL, 0, 0};
    int status = -1;

    CHECK(tracebuf_create(memory, 1024, collect, &c, &status) == NULL);
    CHECK(status == TRACEBUF_BAD_ARENA);
    CHECK(strcmp(tracebuf_strerror(TRACEBUF_CLOSED), "trace buffer was drained (closed)") == 0);

    buf = tracebuf_create(memory, sizeof memory, collect, &c, &status);
    CHECK(buf != NULL && status == TRACEBUF_OK);
    if (buf == NULL) return 1;

    /* Misuse is reported, not crashed on. */
    tracebuf_producer idle;
    tracebuf_producer_init(&idle);
    CHECK(tracebuf_reserve(buf, &idle, 8) == NULL);
    CHECK(tracebuf_last_error(&idle) == TRACEBUF_NOT_REGISTERED);
    CHECK(tracebuf_go_offline(buf, &idle) == TRACEBUF_NOT_REGISTERED);

    /* The "host" stops writers between callbacks for 50 ms; the idle ones must not stall
     * the flushes of the others. */
    pthread_mutex_lock(&host_lock);
    pthread_t threads[THREADS];
    for (uintptr_t t = 0; t < THREADS; ++t) pthread_create(&threads[t], NULL, writer, (void*)t);
    struct timespec stop = {0, 50000000};
    nanosleep(&stop, NULL);
    pthread_mutex_unlock(&host_lock);
    for (int t = 0; t < THREADS; ++t) pthread_join(threads[t], NULL);

    /* The JIT path from C: fast path by hand, slow path through the helper. */
    tracebuf_producer jit;
    tracebuf_producer_init(&jit);
    CHECK(tracebuf_register_thread(buf, &jit) == TRACEBUF_OK);
    uint64_t* position;
    unsigned char* data;
    uint64_t capacity;
    tracebuf_get_layout(buf, &position, &data, &capacity);
    CHECK(capacity == sizeof memory);
    uint64_t pos = __atomic_fetch_add(position, 8, __ATOMIC_RELAXED);
    if (pos + 8 > capacity) pos = tracebuf_reserve_slow(buf, &jit, pos, 8);
    CHECK(pos != TRACEBUF_INVALID_POSITION);
    tracebuf_write_padding(data + pos, 8);
    CHECK(tracebuf_flush(buf, &jit) == TRACEBUF_OK);
    CHECK(tracebuf_unregister_thread(buf, &jit) == TRACEBUF_OK);

    CHECK(tracebuf_drain(buf) == TRACEBUF_OK);
    CHECK(tracebuf_drain(buf) == TRACEBUF_CLOSED);
    tracebuf_stats stats;
    tracebuf_get_stats(buf, &stats);
    CHECK(stats.bytes_flushed == c.size);
    CHECK(stats.flushes >= 10);
    CHECK(stats.sink_error == 0);

    /* Every record once, in per-thread order. */
    uint32_t next[THREADS] = {0};
    size_t at = 0, records = 0, padding = 0;
    int bad = 0;
    while (at < c.size && !bad) {
        uint16_t tag, length;
        memcpy(&tag, c.bytes + at, 2);
        memcpy(&length, c.bytes + at + 2, 2);
        if (tag == 0xffff) {
            ++padding;
        } else if ((tag == 0x4d41 || tag == 0x4d42) && length == 12) {
            uint32_t payload[2];
            memcpy(payload, c.bytes + at + 4, 8);
            if (payload[0] >= THREADS || payload[1] != next[payload[0]]++) bad = 1;
            if ((payload[1] % 2 == 0) != (tag == 0x4d41)) bad = 1;
            ++records;
        } else {
            bad = 1;
        }
        at += ((size_t)length + 7) & ~(size_t)7;
    }
    CHECK(!bad);
    CHECK(at == c.size);
    CHECK(records == THREADS * PER_THREAD);
    CHECK(padding == 1);
    for (int t = 0; t < THREADS; ++t) CHECK(next[t] == PER_THREAD);

    tracebuf_destroy(buf);
    free(c.bytes);

    chunk_mode_with_double_buffering();
    printf("c_api: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
