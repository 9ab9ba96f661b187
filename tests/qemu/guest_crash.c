/* A guest that stores a marker into a global, then dies: the trace of a crashed program must
 * hold the marker's STORE (tests/qemu/test_qemu.sh crash).
 *   guest_crash segv|abort    prints the marker's address, then crashes
 * With a few threads running beforehand, so that the buffer holds records of several
 * threads when the process dies, and a loop that writes enough records to flush at least
 * once with the tests' small buffers. */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MARKER 0x7ace7ace5eedf00dULL

volatile uint64_t marker_slot;
static volatile uint64_t sink_slot[64];

static void* worker(void* arg) {
    uintptr_t id = (uintptr_t)arg;
    for (unsigned i = 0; i < 20000; ++i) sink_slot[(id * 8 + i) % 64] += i;
    return NULL;
}

int main(int argc, char** argv) {
    if (argc != 2 || (strcmp(argv[1], "segv") != 0 && strcmp(argv[1], "abort") != 0)) {
        fprintf(stderr, "usage: guest_crash segv|abort\n");
        return 2;
    }
    pthread_t t[3];
    for (uintptr_t i = 0; i < 3; ++i) pthread_create(&t[i], NULL, worker, (void*)i);
    for (int i = 0; i < 3; ++i) pthread_join(t[i], NULL);
    printf("marker %p %llx\n", (void*)&marker_slot, (unsigned long long)MARKER);
    fflush(stdout);
    marker_slot = MARKER;
    if (argv[1][0] == 'a') abort();
    *(volatile int*)(uintptr_t)16 = 1; /* SIGSEGV */
    return 0;
}
