// tracebuf_bench: writing 24-byte records from N threads, every strategy in one run, so
// that their ratios hold although this machine's speed drifts.
//
// Strategies (the label is in the benchmark name):
//   record    tracebuf, one reservation per record (the seed's design)
//   batch8    tracebuf, one reservation for 8 records (one basic block)
//   fetch_add a bare shared fetch_add + stores with wrap-around: the floor of `record`
//   private   private per-thread bump buffers: no sharing, no global order (upper bound)
//   syscall   tracebuf's go_offline + go_online pair (the syscall hooks)
// Buffers: `l2` = 256 KiB (cache-resident), `big` = 128 MiB; full buffers go to a sink
// that discards them, so the disk does not hide the buffer's cost.
//
// Report rates as records/s (items_per_second), compared within one run.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include <tracebuf/memtrace.hpp>
#include <tracebuf/tracebuf.hpp>

namespace {

constexpr std::size_t record_payload = 20; // 24-byte records: memtrace LOAD of 4 bytes
constexpr std::size_t record_bytes = tracebuf::record_footprint(record_payload);
constexpr std::size_t l2_bytes = 256 * 1024;
constexpr std::size_t big_bytes = 128 * 1024 * 1024;

int discard(void*, const void*, std::size_t) { return 0; }

using buffer_type = tracebuf::trace_buffer<tracebuf::default_traits, tracebuf::callback_sink>;

// One shared buffer per size for the whole run; every benchmark thread registers its own
// producer for the duration of a benchmark.
template <std::size_t Bytes>
buffer_type& shared_buffer() {
    static std::vector<std::uint64_t> memory(Bytes / 8);
    static buffer_type buffer(memory.data(), Bytes, tracebuf::callback_sink(&discard, nullptr));
    return buffer;
}

// Google Benchmark's threads wait for each other at the start and the end of a run: a
// wait outside tracebuf that a flush would have to sit through if the thread were online
// (the host contract). So each thread is online only while it writes a batch of records.
constexpr std::int64_t online_stretch = 1024;

template <class WriteRecords>
void run_online(benchmark::State& state, buffer_type& buf, WriteRecords&& write_records) {
    tracebuf::producer p;
    buf.register_thread(p);
    buf.go_offline(p);
    while (state.KeepRunningBatch(online_stretch)) {
        buf.go_online(p);
        write_records(p);
        buf.go_offline(p);
    }
    buf.unregister_thread(p);
}

template <std::size_t Bytes>
void record(benchmark::State& state) {
    buffer_type& buf = shared_buffer<Bytes>();
    unsigned char payload[record_payload] = {};
    std::uint32_t seq = 0;
    run_online(state, buf, [&](tracebuf::producer& p) {
        for (std::int64_t i = 0; i < online_stretch; ++i) {
            void* body = buf.reserve_record(p, tracebuf::memtrace::load, record_payload);
            std::memcpy(payload, &seq, sizeof seq);
            std::memcpy(body, payload, record_payload);
            ++seq;
        }
    });
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

template <std::size_t Bytes>
void batch8(benchmark::State& state) {
    buffer_type& buf = shared_buffer<Bytes>();
    unsigned char payload[record_payload] = {};
    std::uint32_t seq = 0;
    run_online(state, buf, [&](tracebuf::producer& p) {
        for (std::int64_t i = 0; i < online_stretch; i += 8) {
            unsigned char* at = buf.reserve(p, 8 * record_bytes);
            for (int k = 0; k < 8; ++k) {
                std::memcpy(payload, &seq, sizeof seq);
                at = static_cast<unsigned char*>(
                    tracebuf::write_record(at, tracebuf::memtrace::load, payload, record_payload));
                ++seq;
            }
        }
    });
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

template <std::size_t Bytes>
struct bare_arena {
    std::vector<std::uint64_t> memory = std::vector<std::uint64_t>(Bytes / 8);
    alignas(64) std::atomic<std::uint64_t> head{0};
};

template <std::size_t Bytes>
void fetch_add(benchmark::State& state) {
    static bare_arena<Bytes> arena;
    auto* data = reinterpret_cast<unsigned char*>(arena.memory.data());
    unsigned char payload[record_payload] = {};
    std::uint32_t seq = 0;
    for (auto _ : state) {
        const std::uint64_t pos = arena.head.fetch_add(record_bytes, std::memory_order_relaxed) % (Bytes - record_bytes);
        std::memcpy(payload, &seq, sizeof seq);
        tracebuf::write_record(data + (pos & ~std::uint64_t{7}), tracebuf::memtrace::load, payload, record_payload);
        ++seq;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

template <std::size_t Bytes>
void private_buffers(benchmark::State& state) {
    std::vector<std::uint64_t> memory(Bytes / 8 / static_cast<std::size_t>(state.threads()) + 1);
    auto* data = reinterpret_cast<unsigned char*>(memory.data());
    const std::size_t capacity = memory.size() * 8 - record_bytes;
    std::size_t pos = 0;
    unsigned char payload[record_payload] = {};
    std::uint32_t seq = 0;
    for (auto _ : state) {
        if (pos > capacity) pos = 0;
        std::memcpy(payload, &seq, sizeof seq);
        tracebuf::write_record(data + pos, tracebuf::memtrace::load, payload, record_payload);
        pos += record_bytes;
        ++seq;
    }
    benchmark::DoNotOptimize(data);
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void syscall_pair(benchmark::State& state) {
    buffer_type& buf = shared_buffer<l2_bytes>();
    tracebuf::producer p;
    buf.register_thread(p);
    for (auto _ : state) {
        buf.go_offline(p);
        buf.go_online(p);
    }
    buf.unregister_thread(p);
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

void configure(benchmark::internal::Benchmark* b) {
    b->Threads(1)->Threads(2)->Threads(4)->Threads(8)->UseRealTime();
}

} // namespace

BENCHMARK(record<l2_bytes>)->Name("record/l2")->Apply(configure);
BENCHMARK(record<big_bytes>)->Name("record/big")->Apply(configure);
BENCHMARK(batch8<l2_bytes>)->Name("batch8/l2")->Apply(configure);
BENCHMARK(batch8<big_bytes>)->Name("batch8/big")->Apply(configure);
BENCHMARK(fetch_add<l2_bytes>)->Name("fetch_add/l2")->Apply(configure);
BENCHMARK(fetch_add<big_bytes>)->Name("fetch_add/big")->Apply(configure);
BENCHMARK(private_buffers<l2_bytes>)->Name("private/l2")->Apply(configure);
BENCHMARK(private_buffers<big_bytes>)->Name("private/big")->Apply(configure);
BENCHMARK(syscall_pair)->Name("syscall/tracebuf")->Apply(configure);

BENCHMARK_MAIN();
