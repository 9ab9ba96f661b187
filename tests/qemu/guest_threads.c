/* A guest program for the QEMU tracer's tests: waves of threads that are created and exit,
 * that block in a futex (a condition variable), in nanosleep and in read(2) on a pipe, and a
 * fork whose child must not disturb the parent's trace. Its output depends only on the
 * work done, so a traced run must print exactly what a native run prints. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define WAVES 4
#define PER_WAVE 6
#define WORK 20000

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static int released;
static int pipe_fds[2];
static uint64_t results[WAVES * PER_WAVE];

static uint64_t work(uint64_t seed) {
    uint64_t data[256];
    for (int i = 0; i < 256; ++i) data[i] = seed * 0x9e3779b97f4a7c15ull + (uint64_t)i;
    uint64_t h = seed;
    for (int i = 0; i < WORK; ++i) {
        data[i & 255] ^= h;
        h = h * 6364136223846793005ull + data[(i * 7) & 255];
    }
    return h;
}

static void* worker(void* arg) {
    int id = (int)(intptr_t)arg;
    uint64_t h = work((uint64_t)id);
    switch (id % 3) {
    case 0: { /* futex: wait for main's broadcast */
        pthread_mutex_lock(&mutex);
        while (!released) pthread_cond_wait(&cond, &mutex);
        pthread_mutex_unlock(&mutex);
        break;
    }
    case 1: { /* sleep */
        struct timespec ts = {0, 3000000};
        nanosleep(&ts, NULL);
        break;
    }
    default: { /* read on a pipe main writes to late */
        char c;
        if (read(pipe_fds[0], &c, 1) != 1) h = 0;
        break;
    }
    }
    results[id] = h ^ work(h);
    return NULL;
}

int main(void) {
    if (pipe(pipe_fds) != 0) return 1;
    for (int wave = 0; wave < WAVES; ++wave) {
        pthread_t threads[PER_WAVE];
        released = 0;
        for (int i = 0; i < PER_WAVE; ++i)
            pthread_create(&threads[i], NULL, worker, (void*)(intptr_t)(wave * PER_WAVE + i));
        struct timespec ts = {0, 20000000}; /* let the blocked ones block */
        nanosleep(&ts, NULL);
        pthread_mutex_lock(&mutex);
        released = 1;
        pthread_cond_broadcast(&cond);
        pthread_mutex_unlock(&mutex);
        for (int i = 0; i < PER_WAVE; ++i)
            if ((wave * PER_WAVE + i) % 3 == 2 && write(pipe_fds[1], "x", 1) != 1) return 1;
        for (int i = 0; i < PER_WAVE; ++i) pthread_join(threads[i], NULL);
        if (wave == 1) { /* a fork: the child works and exits; its trace must not appear */
            fflush(stdout);
            pid_t child = fork();
            if (child == 0) {
                printf("child %llx\n", (unsigned long long)work(99));
                fflush(stdout);
                _exit(0);
            }
            int status = 0;
            waitpid(child, &status, 0);
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) return 1;
        }
    }
    for (int i = 0; i < WAVES * PER_WAVE; ++i) printf("%d %llx\n", i, (unsigned long long)results[i]);
    return 0;
}
