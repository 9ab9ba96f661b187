// Stress: many threads on 2 cores (oversubscribed), a tiny buffer (thousands of flushes),
// random record sizes up to the maximum, batches, random offline periods, explicit
// flushes, threads created and exiting while flushes run. See support/stress.hpp for what
// the verifying sink checks on every flush.
//
// TRACEBUF_STRESS_RECORDS overrides the record count of every case (the TSan build scales
// down by default).
#define BOOST_TEST_MODULE stress
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>

#include "support/stress.hpp"
#include "support/test_traits.hpp"

using namespace tracebuf_test;

namespace {

std::uint64_t scaled(std::uint64_t records) {
    if (const char* env = std::getenv("TRACEBUF_STRESS_RECORDS")) return std::strtoull(env, nullptr, 10);
#if defined(TRACEBUF_TSAN)
    return records / 4; // ThreadSanitizer runs the protocol about 5x slower
#else
    return records;
#endif
}

stress_config config(int lanes, std::uint64_t records, unsigned seed) {
    stress_config c;
    c.lanes = lanes;
    c.total_records = records;
    c.seed = seed;
    return c;
}

// Runs one stress case and checks everything; at least one flush per 1000 records.
template <class Traits, bool Ordered = false>
void run_and_check(const char* name, stress_config config) {
    config.total_records = scaled(config.total_records);
    const std::uint64_t min_flushes = config.total_records / 1000;
    stress_run<Traits, Ordered> run(config);
    const auto t0 = std::chrono::steady_clock::now();
    const stress_result r = run.run();
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const verifier& v = run.checked();
    const tracebuf::flush_stats s = run.buffer().stats();
    std::printf("%s: %d lanes, %llu threads, %zu-byte buffer%s: %llu records (%llu padding, %llu chunks), "
                "%llu bytes, %llu flushes, %llu parks, %.2f s; lost/duplicated/corrupt/reordered: %llu\n",
                name, config.lanes, static_cast<unsigned long long>(r.threads), config.capacity,
                config.buffering == tracebuf::buffering::double_buffer ? " x 2" : "",
                static_cast<unsigned long long>(v.records()), static_cast<unsigned long long>(v.padding()),
                static_cast<unsigned long long>(v.chunks()),
                static_cast<unsigned long long>(v.bytes()), static_cast<unsigned long long>(v.flushes()),
                static_cast<unsigned long long>(s.parks), seconds,
                static_cast<unsigned long long>(v.failures()));
    std::fflush(stdout);

    BOOST_TEST(r.errors == 0u, "first error: " << r.first_error);
    BOOST_TEST(v.failures() == 0u, "first failure: " << v.first_failure());
    BOOST_TEST(v.records() == r.records_written);
    BOOST_TEST(r.records_written >= config.total_records);
    std::uint64_t mismatched = 0;
    for (std::size_t t = 0; t < r.threads; ++t)
        if (v.next_seq(t) != r.written_per_thread[t]) ++mismatched; // lost or extra
    BOOST_TEST(mismatched == 0u);
    BOOST_TEST(v.flushes() >= min_flushes);
    BOOST_TEST(s.sink_error == 0);
    BOOST_TEST(run.buffer().counter().online_count() == 0u);
    if constexpr (Ordered) { // the verifier saw the merge's output: no chunks, no stamps
        const tracebuf::merge_stats& m = run.buffer().sink().stats();
        BOOST_TEST(m.flushes == s.flushes);
        BOOST_TEST(m.bytes_in == s.bytes_flushed);
        BOOST_TEST(m.bytes_out == v.bytes());
        BOOST_TEST(m.skipped_bytes == 0u);
        BOOST_TEST((m.first_fault == tracebuf::merge_fault::none));
        BOOST_TEST(v.chunks() == 0u);
        std::printf("  merged %llu records, %llu of %llu flushed bytes written\n",
                    static_cast<unsigned long long>(m.records), static_cast<unsigned long long>(m.bytes_out),
                    static_cast<unsigned long long>(m.bytes_in));
    } else {
        BOOST_TEST(s.flushes == v.flushes());
        BOOST_TEST(s.bytes_flushed == v.bytes());
        if (config.chunk_bytes != 0) BOOST_TEST(v.chunks() > v.flushes());
    }
}

stress_config chunked(stress_config c, std::size_t chunk_bytes) {
    c.chunk_bytes = chunk_bytes;
    return c;
}
stress_config double_buffered(stress_config c) {
    c.buffering = tracebuf::buffering::double_buffer;
    return c;
}

} // namespace

// The headline: 16 threads alive at once on 2 cores, 10^7 records, 64 KiB buffer.
BOOST_AUTO_TEST_CASE(record_mode_16_threads_futex) {
    run_and_check<boost_futex>("boost+futex", config(16, 10000000, 1));
}

BOOST_AUTO_TEST_CASE(record_mode_8_threads_std_atomics) {
    run_and_check<std_futex>("std+futex", config(8, 1000000, 2));
}

BOOST_AUTO_TEST_CASE(record_mode_16_threads_spin_yield) {
    run_and_check<boost_spin>("boost+spin", config(16, 1000000, 3));
}

// Two threads on two cores: the least oversubscribed case, where the flusher and a writer
// really run at the same time.
BOOST_AUTO_TEST_CASE(record_mode_2_threads) {
    run_and_check<boost_futex>("2 threads", config(2, 1000000, 4));
}

// A serialized host: one thread at a time under a big lock, as under Valgrind. The flusher
// never waits for the online count.
BOOST_AUTO_TEST_CASE(serialized_host_big_lock) {
    std::mutex big_lock;
    stress_config c = config(8, 1000000, 5);
    c.big_lock = &big_lock;
    run_and_check<std_serialized>("serialized", c);
}

// Idle producers (Traits::idle_slots): busy() before each burst, idle() after, and now and
// then a stop of up to 300 us while idle - not offline - as QEMU stops vCPU threads between
// callbacks. Flushes take idle threads over instead of waiting for them.
namespace {
template <class Base>
struct with_idle_slots : Base {
    static constexpr std::uint32_t idle_slots = 64;
};
using idle_futex = with_idle_slots<boost_futex>;                                // idle() with seq_cst exchange and load
using idle_membarrier = with_idle_slots<tracebuf_test::boost_futex_membarrier>; // as in QEMU
} // namespace

BOOST_AUTO_TEST_CASE(idle_producers_16_threads) {
    run_and_check<idle_futex>("idle", config(16, 2000000, 6));
}

BOOST_AUTO_TEST_CASE(idle_producers_membarrier_16_threads) {
    run_and_check<idle_membarrier>("idle membarrier", config(16, 2000000, 14));
}

// Chunk mode: one reservation per chunk, records placed by plain stores. 1 KiB chunks in a
// 64 KiB buffer, so that chunks are cut off by offline periods, explicit flushes and large
// records (which get chunks of their own size) as often as they fill up.
BOOST_AUTO_TEST_CASE(chunk_mode_16_threads) {
    run_and_check<boost_futex>("chunk", chunked(config(16, 4000000, 7), 1024));
}

// Idle threads with open chunks: a flush that takes one over pads the chunk's tail, and the
// thread starts a new chunk when it is busy again.
BOOST_AUTO_TEST_CASE(chunk_mode_idle_producers) {
    run_and_check<idle_membarrier>("chunk idle", chunked(config(16, 2000000, 9), 2048));
}

// Double buffering: each flush writes one buffer out after releasing the parked threads,
// which fill the other meanwhile.
BOOST_AUTO_TEST_CASE(double_buffer_16_threads) {
    run_and_check<boost_futex>("double", double_buffered(config(16, 4000000, 10)));
}

BOOST_AUTO_TEST_CASE(double_buffer_spin_yield) {
    run_and_check<boost_spin>("double spin", double_buffered(config(16, 1000000, 11)));
}

BOOST_AUTO_TEST_CASE(double_buffer_serialized_host) {
    std::mutex big_lock;
    stress_config c = double_buffered(config(8, 1000000, 12));
    c.big_lock = &big_lock;
    run_and_check<std_serialized>("double serialized", c);
}

BOOST_AUTO_TEST_CASE(chunk_mode_double_buffer_idle_producers) {
    run_and_check<idle_membarrier>("chunk+double idle", double_buffered(chunked(config(16, 2000000, 13), 4096)));
}

// Ordered mode: ordered_writers stamp every reservation (all three stamp kinds at random),
// the sink merges each flush, and the verifier sees record mode's form - every record once,
// whole, in its thread's order. Cross-thread order is the probes' business (test_ordered).
namespace {
template <class Base>
struct with_logical_clock : Base {
    using clock = tracebuf::logical_clock<typename Base::atomics>;
};
} // namespace

BOOST_AUTO_TEST_CASE(ordered_mode_16_threads) {
    run_and_check<boost_futex, true>("ordered", chunked(config(16, 4000000, 15), 1024));
}

BOOST_AUTO_TEST_CASE(ordered_mode_double_buffer_idle_producers) {
    run_and_check<idle_membarrier, true>("ordered+double idle", double_buffered(chunked(config(16, 2000000, 16), 2048)));
}

BOOST_AUTO_TEST_CASE(ordered_mode_logical_clock) {
    run_and_check<with_logical_clock<boost_futex>, true>("ordered logical", chunked(config(8, 1000000, 17), 512));
}
