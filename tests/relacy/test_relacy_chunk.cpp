// Relacy: chunk mode - a chunk_writer idle with its chunk open, taken over by a flusher that
// pads the open tail.
#include "runner.hpp"

namespace {

using namespace tracebuf_relacy;
using tracebuf::buffering;

// Chunks of 56 bytes (a 24-byte chunk header and two 16-byte records), two per 112-byte
// buffer; three idle slots.
constexpr std::size_t chunk_bytes = 56;
using chunk_traits = traits<3, chunk_bytes>;

template <unsigned Threads, buffering Mode = buffering::single>
using chunk_world = world<chunk_traits, 2 * chunk_bytes, Mode, Threads>;

// Thread 0 writes five records (three chunks), so its third chunk crosses the end and it
// flushes. Thread 1 opens a chunk, goes idle with 16 bytes of it unwritten, comes back busy
// (taken over or not) and writes on, then unregisters from idle. Thread 2 goes offline
// straight from idle with its chunk open. A flusher that takes an idle writer over must pad
// its open tail before the write-out (I10): otherwise the flush holds a hole. A writer that
// was taken over starts a new chunk; one that was not goes on in its own.
struct chunk_takeover : rl::test_suite<chunk_takeover, 3> {
    using world_type = chunk_world<3>;
    world_type w;
    world_type::chunked c0{w.buffer, chunk_bytes, chunk_pid, 0};
    world_type::chunked c1{w.buffer, chunk_bytes, chunk_pid, 1};
    world_type::chunked c2{w.buffer, chunk_bytes, chunk_pid, 2};
    chunk_takeover() { w.expect_chunks(); }
    void thread(unsigned t) {
        switch (t) {
        case 0:
            w.reg(c0, t);
            for (int i = 0; i < 5; ++i) w.put(c0, t, 16);
            w.unreg(c0, t);
            break;
        case 1:
            w.reg(c1, t);
            w.put(c1, t, 16);
            w.idle(c1, t);
            w.busy(c1, t);
            w.put(c1, t, 16);
            w.idle(c1, t);
            w.unreg(c1, t);
            break;
        case 2:
            w.reg(c2, t);
            w.put(c2, t, 16);
            w.idle(c2, t);
            w.offline(c2, t);
            w.online(c2, t);
            w.put(c2, t, 16);
            w.unreg(c2, t);
            break;
        }
    }
    void after() { w.finish(); }
};

// Chunk mode and double buffering together (the QEMU plugin's chunk-double mode): the
// flusher pads a taken-over writer's tail in the current buffer before it swaps, and writes
// that buffer out while the writers fill the other one. Thread 2 flushes explicitly (its
// writer pads its own open chunk first) instead of going offline.
struct chunk_takeover_double : rl::test_suite<chunk_takeover_double, 3> {
    using world_type = chunk_world<3, buffering::double_buffer>;
    world_type w;
    world_type::chunked c0{w.buffer, chunk_bytes, chunk_pid, 0};
    world_type::chunked c1{w.buffer, chunk_bytes, chunk_pid, 1};
    world_type::chunked c2{w.buffer, chunk_bytes, chunk_pid, 2};
    chunk_takeover_double() { w.expect_chunks(); }
    void thread(unsigned t) {
        switch (t) {
        case 0:
            w.reg(c0, t);
            for (int i = 0; i < 5; ++i) w.put(c0, t, 16);
            w.unreg(c0, t);
            break;
        case 1:
            w.reg(c1, t);
            w.put(c1, t, 16);
            w.idle(c1, t);
            w.busy(c1, t);
            w.put(c1, t, 16);
            w.idle(c1, t);
            w.unreg(c1, t);
            break;
        case 2:
            w.reg(c2, t);
            w.put(c2, t, 16);
            w.flush(c2, t);
            w.put(c2, t, 16);
            w.idle(c2, t);
            w.unreg(c2, t);
            break;
        }
    }
    void after() { w.finish(); }
};

// Two threads, for the context-bound scheduler: a writer that crosses, and one idle with an
// open chunk that comes back busy.
struct chunk_takeover_small : rl::test_suite<chunk_takeover_small, 2> {
    using world_type = chunk_world<2>;
    world_type w;
    world_type::chunked c0{w.buffer, chunk_bytes, chunk_pid, 0};
    world_type::chunked c1{w.buffer, chunk_bytes, chunk_pid, 1};
    chunk_takeover_small() { w.expect_chunks(); }
    void thread(unsigned t) {
        auto& c = t == 0 ? c0 : c1;
        w.reg(c, t);
        if (t == 0) {
            for (int i = 0; i < 4; ++i) w.put(c, t, 16);
        } else {
            w.put(c, t, 16);
            w.idle(c, t);
            w.busy(c, t);
            w.put(c, t, 16);
        }
        w.unreg(c, t);
    }
    void after() { w.finish(); }
};

} // namespace

int main(int argc, char** argv) {
    return run_cases(argc, argv,
                     {random_case<chunk_takeover>("chunk_takeover", 400000),
                      random_case<chunk_takeover_double>("chunk_takeover_double", 400000),
                      bounded_case<chunk_takeover_small>("chunk_takeover_small", 4)});
}
