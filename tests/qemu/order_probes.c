/* The order probes as a guest program (docs/protocol.md, "Ordered mode"): run under the
 * QEMU tracer, the trace shows whether its order agrees with happens-before.
 *   order_probes spinlock THREADS ROUNDS   THREADS threads each take a spinlock ROUNDS times
 *                                          and increment a counter inside it
 *   order_probes message MESSAGES          a producer stores data[i % 64], then publishes i
 *                                          with a release store; a consumer acquires it and
 *                                          loads data[i % 64]
 * It prints the addresses trace_order_check needs ("counter ADDR" or "data ADDR BYTES") and
 * the result ("counter N", "messages N"), which must equal a native run's after the first
 * line. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint32_t lock_word;
static uint64_t counter;
static long rounds;

static void* increment(void* arg) {
    (void)arg;
    for (long i = 0; i < rounds; ++i) {
        while (__atomic_exchange_n(&lock_word, 1, __ATOMIC_ACQUIRE) != 0)
            while (__atomic_load_n(&lock_word, __ATOMIC_RELAXED) != 0) __builtin_ia32_pause();
        __atomic_store_n(&counter, __atomic_load_n(&counter, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
        __atomic_store_n(&lock_word, 0, __ATOMIC_RELEASE);
    }
    return NULL;
}

#define SLOTS 64
static uint64_t data[SLOTS];
static uint64_t seq; /* 2i - 1: message i is ready; 2i: it was read */
static long messages;

static void* produce(void* arg) {
    (void)arg;
    for (long i = 1; i <= messages; ++i) {
        while (__atomic_load_n(&seq, __ATOMIC_ACQUIRE) != (uint64_t)(2 * (i - 1))) __builtin_ia32_pause();
        __atomic_store_n(&data[i % SLOTS], (uint64_t)i * 2654435761u, __ATOMIC_RELAXED);
        __atomic_store_n(&seq, (uint64_t)(2 * i - 1), __ATOMIC_RELEASE);
    }
    return NULL;
}

static void* consume(void* arg) {
    long* bad = arg;
    for (long i = 1; i <= messages; ++i) {
        while (__atomic_load_n(&seq, __ATOMIC_ACQUIRE) != (uint64_t)(2 * i - 1)) __builtin_ia32_pause();
        if (__atomic_load_n(&data[i % SLOTS], __ATOMIC_RELAXED) != (uint64_t)i * 2654435761u) ++*bad;
        __atomic_store_n(&seq, (uint64_t)(2 * i), __ATOMIC_RELEASE);
    }
    return NULL;
}

int main(int argc, char** argv) {
    if (argc == 4 && strcmp(argv[1], "spinlock") == 0) {
        const int threads = atoi(argv[2]);
        rounds = atol(argv[3]);
        if (threads < 1 || threads > 64 || rounds < 1) return 2;
        printf("counter %p\n", (void*)&counter);
        fflush(stdout);
        pthread_t t[64];
        for (int i = 0; i < threads; ++i) pthread_create(&t[i], NULL, increment, NULL);
        for (int i = 0; i < threads; ++i) pthread_join(t[i], NULL);
        printf("counter %llu\n", (unsigned long long)counter);
        return counter == (uint64_t)threads * (uint64_t)rounds ? 0 : 1;
    }
    if (argc == 3 && strcmp(argv[1], "message") == 0) {
        messages = atol(argv[2]);
        if (messages < 1) return 2;
        printf("data %p %zu\n", (void*)data, sizeof data);
        fflush(stdout);
        long bad = 0;
        pthread_t p, c;
        pthread_create(&p, NULL, produce, NULL);
        pthread_create(&c, NULL, consume, &bad);
        pthread_join(p, NULL);
        pthread_join(c, NULL);
        printf("messages %ld, %ld wrong\n", messages, bad);
        return bad == 0 ? 0 : 1;
    }
    fprintf(stderr, "usage: order_probes spinlock THREADS ROUNDS | message MESSAGES\n");
    return 2;
}
