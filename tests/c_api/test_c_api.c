/* The C API from a C program. The low level (buffer + producer): threads write through it
 * into a callback sink, go idle and offline, and the trace is checked record by record;
 * misuse (copied and re-initialised handles, a handle used with another buffer) is refused.
 * The writers: one thread function, written once, runs in record mode and in chunk mode
 * with double buffering; the traces are checked record by record and chunk by chunk.
 * Prints "N passed, N failed" and exits non-zero on any failure. */
#include <tracebuf/tracebuf.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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
    CHECK(tracebuf_producer_init(&p) == TRACEBUF_OK);
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

/* ---- writers: one host loop for every mode ---- */

#define CHUNK_BYTES 1024

static tracebuf_buffer* writer_buf;
static int writer_mode;

static void* writer_thread(void* arg) {
    uint32_t id = (uint32_t)(uintptr_t)arg;
    tracebuf_writer w;
    memset(&w, 0xa5, sizeof w); /* garbage, as a host's fresh memory may hold */
    CHECK(tracebuf_writer_init(&w, writer_buf, writer_mode, CHUNK_BYTES, 4242, 1000 + id) == TRACEBUF_OK);
    CHECK(tracebuf_writer_register_thread(&w) == TRACEBUF_OK);
    CHECK(tracebuf_writer_init(&w, writer_buf, writer_mode, CHUNK_BYTES, 4242, 1000 + id) ==
          TRACEBUF_ALREADY_REGISTERED); /* left alone */
    CHECK(tracebuf_writer_idle(&w) == TRACEBUF_OK);
    for (uint32_t i = 0; i < PER_THREAD; ++i) {
        uint32_t payload[2] = {id, i};
        if (tracebuf_writer_busy(&w) != TRACEBUF_OK) CHECK(0);
        if (i % 2 == 0) {
            if (tracebuf_writer_write_record(&w, 0x4d41, payload, sizeof payload) != TRACEBUF_OK) CHECK(0);
        } else {
            /* A store's stamp may be relaxed (ordered mode; the other modes ignore it). */
            void* body = tracebuf_writer_reserve_record_stamped(&w, 0x4d42, sizeof payload, TRACEBUF_STAMP_RELAXED);
            if (body == NULL) CHECK(0);
            else memcpy(body, payload, sizeof payload);
        }
        if (tracebuf_writer_idle(&w) != TRACEBUF_OK) CHECK(0); /* a chunk stays open */

        if (i % 1000 == 999) { /* stopped by the host while idle, mid-chunk */
            pthread_mutex_lock(&host_lock);
            pthread_mutex_unlock(&host_lock);
        }
        if (i % 5000 == 0) {
            struct timespec ts = {0, 2000000};
            CHECK(tracebuf_writer_go_offline(&w) == TRACEBUF_OK); /* from idle */
            CHECK(tracebuf_writer_busy(&w) == TRACEBUF_NOT_ONLINE);
            nanosleep(&ts, NULL);
            CHECK(tracebuf_writer_go_online(&w) == TRACEBUF_OK);
            CHECK(tracebuf_writer_idle(&w) == TRACEBUF_OK);
        }
    }
    if (writer_mode == TRACEBUF_RECORD_MODE) CHECK(tracebuf_writer_chunks(&w) == 0);
    else CHECK(tracebuf_writer_chunks(&w) > PER_THREAD * 16 / CHUNK_BYTES);
    CHECK(tracebuf_writer_unregister_thread(&w) == TRACEBUF_OK);
    return NULL;
}

static void run_writers(tracebuf_buffer* b, int mode) {
    writer_buf = b;
    writer_mode = mode;
    pthread_mutex_lock(&host_lock);
    pthread_t threads[THREADS];
    for (uintptr_t t = 0; t < THREADS; ++t) pthread_create(&threads[t], NULL, writer_thread, (void*)t);
    struct timespec stop = {0, 50000000};
    nanosleep(&stop, NULL);
    pthread_mutex_unlock(&host_lock);
    for (int t = 0; t < THREADS; ++t) pthread_join(threads[t], NULL);
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

/* Every record once, in per-thread order, with `padding` padding records; no chunks. */
static void check_record_trace(const unsigned char* bytes, size_t size, size_t padding_expected) {
    uint32_t next[THREADS] = {0};
    size_t at = 0, records = 0, padding = 0;
    int bad = 0;
    while (at < size && !bad) {
        uint16_t tag, length;
        memcpy(&tag, bytes + at, 2);
        memcpy(&length, bytes + at + 2, 2);
        if (tag == 0xffff) {
            ++padding;
        } else if ((tag == 0x4d41 || tag == 0x4d42) && length == 12) {
            uint32_t payload[2];
            memcpy(payload, bytes + at + 4, 8);
            if (payload[0] >= THREADS || payload[1] != next[payload[0]]++) bad = 1;
            if ((payload[1] % 2 == 0) != (tag == 0x4d41)) bad = 1;
            ++records;
        } else {
            bad = 1;
        }
        at += ((size_t)length + 7) & ~(size_t)7;
    }
    CHECK(!bad);
    CHECK(at == size);
    CHECK(records == THREADS * PER_THREAD);
    CHECK(padding_expected == (size_t)-1 || padding == padding_expected); /* -1: any */
    for (int t = 0; t < THREADS; ++t) CHECK(next[t] == PER_THREAD);
}

static void writers_in_record_mode(void) {
    static uint64_t memory[65536 / 8];
    struct collected c = {NULL, 0, 0};
    int status = -1;
    tracebuf_buffer* b = tracebuf_create(memory, sizeof memory, collect, &c, &status);
    CHECK(b != NULL && status == TRACEBUF_OK);
    if (b == NULL) return;
    tracebuf_writer misused;
    CHECK(tracebuf_writer_init(&misused, b, 7, 0, 0, 0) == TRACEBUF_BAD_ARGUMENT);
    run_writers(b, TRACEBUF_RECORD_MODE);
    CHECK(tracebuf_drain(b) == TRACEBUF_OK);
    tracebuf_stats stats;
    tracebuf_get_stats(b, &stats);
    CHECK(stats.bytes_flushed == c.size);
    CHECK(stats.flushes >= 10);
    check_record_trace(c.bytes, c.size, 0);
    tracebuf_destroy(b);
    free(c.bytes);
}

static void writers_in_chunk_mode_with_double_buffering(void) {
    static uint64_t memory[2 * 65536 / 8];
    struct collected c = {NULL, 0, 0};
    int status = -1;

    CHECK(tracebuf_create_ex(memory, sizeof memory, collect, &c, -1, 7, &status) == NULL);
    CHECK(status == TRACEBUF_BAD_ARGUMENT);
    CHECK(strcmp(tracebuf_strerror(TRACEBUF_BAD_ARGUMENT), "argument out of range") == 0);
    CHECK(tracebuf_create_ex(memory, 65536, collect, &c, -1, TRACEBUF_DOUBLE_BUFFER, &status) == NULL);
    CHECK(status == TRACEBUF_BAD_ARENA); /* halves smaller than one maximal reservation */

    tracebuf_buffer* b = tracebuf_create_ex(memory, sizeof memory, collect, &c, -1, TRACEBUF_DOUBLE_BUFFER, &status);
    CHECK(b != NULL && status == TRACEBUF_OK);
    if (b == NULL) return;

    tracebuf_layout layout;
    tracebuf_get_layout(b, &layout);
    CHECK(layout.data_is_constant == 0);
    CHECK(layout.capacity == sizeof memory / 2);
    CHECK(*layout.current_data == layout.data);
    CHECK(layout.data == (unsigned char*)memory || layout.data == (unsigned char*)memory + sizeof memory / 2);

    tracebuf_writer misused;
    CHECK(tracebuf_writer_init(&misused, b, TRACEBUF_CHUNK_MODE, 12, 1, 1) == TRACEBUF_BAD_SIZE);
    CHECK(tracebuf_writer_register_thread(&misused) == TRACEBUF_BAD_SIZE);
    CHECK(tracebuf_writer_reserve(&misused, 8) == NULL);
    CHECK(tracebuf_writer_last_error(&misused) == TRACEBUF_NOT_REGISTERED);

    run_writers(b, TRACEBUF_CHUNK_MODE);

    CHECK(tracebuf_drain(b) == TRACEBUF_OK);
    tracebuf_stats stats;
    tracebuf_get_stats(b, &stats);
    CHECK(stats.bytes_flushed == c.size);
    CHECK(stats.flushes >= 10);
    CHECK(check_chunk_trace(c.bytes, c.size) == THREADS * PER_THREAD);
    tracebuf_get_layout(b, &layout);
    CHECK(*layout.current_data == layout.data); /* swapped with every flush, still current */
    tracebuf_destroy(b);
    free(c.bytes);
}

/* Ordered mode: the same writers, into a buffer that merges each flush; the trace is a
 * record-mode trace (no chunks), every thread's records once and in order. */
static void writers_in_ordered_mode(void) {
    static uint64_t memory[2 * 65536 / 8];
    struct collected c = {NULL, 0, 0};
    int status = -1;
    tracebuf_buffer* plain = tracebuf_create(memory, sizeof memory, collect, &c, &status);
    tracebuf_writer misused;
    CHECK(tracebuf_writer_init(&misused, plain, TRACEBUF_ORDERED_MODE, CHUNK_BYTES, 1, 1) == TRACEBUF_BAD_ARGUMENT);
    tracebuf_destroy(plain);
    tracebuf_buffer* b = tracebuf_create_ex(memory, sizeof memory, collect, &c, -1,
                                            TRACEBUF_DOUBLE_BUFFER | TRACEBUF_ORDERED_MERGE, &status);
    CHECK(b != NULL && status == TRACEBUF_OK);
    if (b == NULL) return;
    run_writers(b, TRACEBUF_ORDERED_MODE);
    CHECK(tracebuf_drain(b) == TRACEBUF_OK);
    tracebuf_stats stats;
    tracebuf_get_stats(b, &stats);
    CHECK(stats.flushes >= 10);
    CHECK(stats.sink_error == 0);
    check_record_trace(c.bytes, c.size, 0);
    tracebuf_destroy(b);
    free(c.bytes);
}

/* A file window (tracebuf_create_file): the trace is written in place in the file, in chunk
 * and ordered mode; closing cuts it after its last record. /dev/null falls back to write(2)
 * and says why. */
static unsigned char* read_whole(int fd, size_t* size) {
    off_t end = lseek(fd, 0, SEEK_END);
    unsigned char* bytes = malloc(end > 0 ? (size_t)end : 1);
    *size = 0;
    if (bytes == NULL || end < 0) return bytes;
    while (*size < (size_t)end) {
        ssize_t n = pread(fd, bytes + *size, (size_t)end - *size, (off_t)*size);
        if (n <= 0) break;
        *size += (size_t)n;
    }
    return bytes;
}

static void writers_through_a_file_window(void) {
    for (int round = 0; round < 2; ++round) {
        const int mode = round == 0 ? TRACEBUF_CHUNK_MODE : TRACEBUF_ORDERED_MODE;
        char path[] = "/tmp/tracebuf_c_window_XXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        if (fd < 0) return;
        unlink(path);
        int status = -1;
        const int buffering = TRACEBUF_DOUBLE_BUFFER | (mode == TRACEBUF_ORDERED_MODE ? TRACEBUF_ORDERED_MERGE : 0);
        tracebuf_buffer* b = tracebuf_create_file(fd, 2 * 65536, buffering, 0, &status);
        CHECK(b != NULL && status == TRACEBUF_OK);
        if (b == NULL) return;
        CHECK(tracebuf_file_fallback_reason(b) == NULL);
        run_writers(b, mode);
        CHECK(tracebuf_drain(b) == TRACEBUF_OK);
        CHECK(tracebuf_close_file(b) == 0);
        tracebuf_stats stats;
        tracebuf_get_stats(b, &stats);
        CHECK(stats.flushes >= 10);
        CHECK(stats.sink_error == 0);
        tracebuf_destroy(b);
        size_t size = 0;
        unsigned char* bytes = read_whole(fd, &size);
        if (mode == TRACEBUF_CHUNK_MODE) CHECK(check_chunk_trace(bytes, size) == THREADS * PER_THREAD);
        else check_record_trace(bytes, size, (size_t)-1);
        free(bytes);
        close(fd);
    }
    int null_fd = open("/dev/null", O_WRONLY);
    int status = -1;
    tracebuf_buffer* b = tracebuf_create_file(null_fd, 65536, TRACEBUF_SINGLE_BUFFER, 0, &status);
    CHECK(b != NULL && status == TRACEBUF_OK);
    if (b == NULL) return;
    CHECK(tracebuf_file_fallback_reason(b) != NULL);
    run_writers(b, TRACEBUF_RECORD_MODE);
    CHECK(tracebuf_drain(b) == TRACEBUF_OK);
    CHECK(tracebuf_close_file(b) == 0);
    tracebuf_stats stats;
    tracebuf_get_stats(b, &stats);
    CHECK(stats.sink_error == 0);
    tracebuf_destroy(b);
    close(null_fd);
    CHECK(tracebuf_create_file(-1, 65536, 7, 0, &status) == NULL && status == TRACEBUF_BAD_ARGUMENT);
}

/* What the output lacks is counted: a callback that fails from its third call on, and
 * /dev/full behind a descriptor and behind a file window (which falls back to write(2)). */
struct failing_output {
    int calls;
    uint64_t kept, refused;
};
static int fail_from_the_third_call(void* context, const void* data, size_t size) {
    (void)data;
    struct failing_output* out = context;
    if (++out->calls < 3) {
        out->kept += size;
        return 0;
    }
    out->refused += size;
    return 5; /* EIO */
}

static void write_one_thread(tracebuf_buffer* b, int mode, int drained) {
    tracebuf_writer w;
    CHECK(tracebuf_writer_init(&w, b, mode, mode == TRACEBUF_RECORD_MODE ? 0 : CHUNK_BYTES, 1, 1) == TRACEBUF_OK);
    CHECK(tracebuf_writer_register_thread(&w) == TRACEBUF_OK);
    unsigned char payload[56] = {0};
    for (int i = 0; i < 10000; ++i) /* about 10 flushes of 64 KiB */
        if (tracebuf_writer_write_record(&w, 0x4d41, payload, sizeof payload) != TRACEBUF_OK) CHECK(0);
    CHECK(tracebuf_writer_unregister_thread(&w) == TRACEBUF_OK);
    CHECK(tracebuf_drain(b) == drained);
}

static void lost_bytes_are_counted(void) {
    static uint64_t memory[65536 / 8];
    int status = -1;
    struct failing_output out = {0, 0, 0};
    tracebuf_buffer* b = tracebuf_create(memory, sizeof memory, fail_from_the_third_call, &out, &status);
    CHECK(b != NULL && status == TRACEBUF_OK);
    if (b == NULL) return;
    write_one_thread(b, TRACEBUF_RECORD_MODE, TRACEBUF_SINK_FAILED);
    tracebuf_stats stats;
    tracebuf_get_stats(b, &stats);
    CHECK(out.calls > 3);
    CHECK(stats.sink_error == 5);
    CHECK(stats.bytes_lost == out.refused && out.refused > 0);
    CHECK(stats.bytes_flushed == out.kept + out.refused);
    tracebuf_destroy(b);

    /* A descriptor; a file window, which falls back to write(2); the same, merged. */
    for (int round = 0; round < 3; ++round) {
        const int full = open("/dev/full", O_WRONLY);
        CHECK(full >= 0);
        if (full < 0) return;
        const int window = round != 0;
        const int merged = round == 2;
        b = window ? tracebuf_create_file(full, 2 * sizeof memory,
                                          merged ? TRACEBUF_DOUBLE_BUFFER | TRACEBUF_ORDERED_MERGE : TRACEBUF_SINGLE_BUFFER,
                                          0, &status)
                   : tracebuf_create_fd(memory, sizeof memory, full, &status);
        CHECK(b != NULL && status == TRACEBUF_OK);
        if (b == NULL) return;
        write_one_thread(b, merged ? TRACEBUF_ORDERED_MODE : TRACEBUF_RECORD_MODE, TRACEBUF_SINK_FAILED);
        tracebuf_get_stats(b, &stats);
        CHECK(stats.sink_error == ENOSPC);
        if (merged) /* the merged bytes, without the chunk headers: fewer, never none */
            CHECK(stats.bytes_lost > 0 && stats.bytes_lost < stats.bytes_flushed);
        else /* nothing written */
            CHECK(stats.bytes_lost == stats.bytes_flushed && stats.bytes_flushed > 0);
        if (window) CHECK(tracebuf_close_file(b) == 0);
        tracebuf_destroy(b);
        close(full);
    }

    /* Nothing lost: the count stays 0. */
    struct collected c = {NULL, 0, 0};
    b = tracebuf_create(memory, sizeof memory, collect, &c, &status);
    CHECK(b != NULL && status == TRACEBUF_OK);
    if (b == NULL) return;
    write_one_thread(b, TRACEBUF_RECORD_MODE, TRACEBUF_OK);
    tracebuf_get_stats(b, &stats);
    CHECK(stats.sink_error == 0 && stats.bytes_lost == 0 && stats.bytes_flushed == c.size);
    tracebuf_destroy(b);
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

    /* Misuse is reported, not crashed on, and changes nothing. */
    tracebuf_producer idle;
    memset(&idle, 0x5a, sizeof idle);
    CHECK(tracebuf_producer_init(&idle) == TRACEBUF_OK);
    CHECK(tracebuf_reserve(buf, &idle, 8) == NULL);
    CHECK(tracebuf_last_error(&idle) == TRACEBUF_NOT_REGISTERED);
    CHECK(tracebuf_go_offline(buf, &idle) == TRACEBUF_NOT_REGISTERED);
    {
        static uint64_t other_memory[65536 / 8];
        int other_status = -1;
        tracebuf_buffer* other = tracebuf_create(other_memory, sizeof other_memory, collect, &c, &other_status);
        tracebuf_producer mine, copy;
        CHECK(tracebuf_producer_init(&mine) == TRACEBUF_OK);
        CHECK(tracebuf_register_thread(buf, &mine) == TRACEBUF_OK);
        CHECK(tracebuf_producer_init(&mine) == TRACEBUF_ALREADY_REGISTERED); /* left alone */
        CHECK(tracebuf_go_offline(other, &mine) == TRACEBUF_WRONG_BUFFER);   /* another buffer */
        CHECK(tracebuf_unregister_thread(other, &mine) == TRACEBUF_WRONG_BUFFER);
        CHECK(tracebuf_reserve(other, &mine, 8) == NULL);
        CHECK(tracebuf_last_error(&mine) == TRACEBUF_WRONG_BUFFER);
        memcpy(&copy, &mine, sizeof copy); /* a handle copied by value */
        CHECK(tracebuf_go_offline(buf, &copy) == TRACEBUF_WRONG_BUFFER);
        CHECK(tracebuf_unregister_thread(buf, &copy) == TRACEBUF_WRONG_BUFFER);
        CHECK(tracebuf_go_offline(buf, &mine) == TRACEBUF_OK); /* the original still works */
        CHECK(tracebuf_go_online(buf, &mine) == TRACEBUF_OK);
        CHECK(tracebuf_unregister_thread(buf, &mine) == TRACEBUF_OK);
        CHECK(tracebuf_drain(other) == TRACEBUF_OK);
        tracebuf_destroy(other);
    }

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
    CHECK(tracebuf_producer_init(&jit) == TRACEBUF_OK);
    CHECK(tracebuf_register_thread(buf, &jit) == TRACEBUF_OK);
    tracebuf_layout layout;
    tracebuf_get_layout(buf, &layout);
    CHECK(layout.capacity == sizeof memory);
    CHECK(layout.data_is_constant == 1 && layout.data == (unsigned char*)memory);
    uint64_t pos = __atomic_fetch_add(layout.position, 8, __ATOMIC_RELAXED);
    if (pos + 8 > layout.capacity) pos = tracebuf_reserve_slow(buf, &jit, pos, 8);
    CHECK(pos != TRACEBUF_INVALID_POSITION);
    tracebuf_write_padding(layout.data + pos, 8);
    CHECK(tracebuf_flush(buf, &jit) == TRACEBUF_OK);
    CHECK(tracebuf_unregister_thread(buf, &jit) == TRACEBUF_OK);

    CHECK(tracebuf_drain(buf) == TRACEBUF_OK);
    CHECK(tracebuf_drain(buf) == TRACEBUF_CLOSED);
    tracebuf_stats stats;
    tracebuf_get_stats(buf, &stats);
    CHECK(stats.bytes_flushed == c.size);
    CHECK(stats.flushes >= 10);
    CHECK(stats.sink_error == 0);

    check_record_trace(c.bytes, c.size, 1);

    tracebuf_destroy(buf);
    free(c.bytes);

    writers_in_record_mode();
    writers_in_chunk_mode_with_double_buffering();
    writers_in_ordered_mode();
    writers_through_a_file_window();
    lost_bytes_are_counted();
    printf("c_api: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
