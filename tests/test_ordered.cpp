// Ordered mode against the order it promises: record mode's, happens-before's. Two probes,
// traced the way a QEMU tracer traces a program (every access recorded, loads with an
// ordered stamp, stores relaxed, the spinning included):
//   - a counter incremented under a spinlock by every thread: in the merged trace its
//     stores are 1, 2, 3, ... and every load of it comes after the store it read;
//   - message passing: a producer stores data[i], then publishes i with a release store; a
//     consumer acquires i and loads data[i]: every such load comes after the store it read.
// In the stress shapes: more threads than cores, tiny buffers (thousands of flushes),
// offline periods, threads created and exiting; with the TSC and with the logical clock.
// And the merge on hand-made buffers, and the clock check.
#define BOOST_TEST_MODULE ordered
#include <boost/test/unit_test.hpp>

#include <time.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <thread>
#include <tuple>
#include <vector>

#include <tracebuf/clock_check.hpp>
#include <tracebuf/ordered_merge.hpp>

#include "support/test_memory.hpp"
#include "support/test_traits.hpp"
#include "support/thread_check.hpp"

using namespace tracebuf;
using tracebuf_test::memory;

namespace {

constexpr std::uint16_t load_tag = 0x4d41, store_tag = 0x4d42;

// A traced access: which thread, which location, the value.
struct access {
    std::uint32_t thread;
    std::uint32_t location;
    std::uint64_t value;
};

template <class Clock>
struct probe_traits : tracebuf_test::boost_futex_membarrier {
    static constexpr std::uint32_t idle_slots = 64;
    using clock = Clock;
};
using tsc_traits = probe_traits<tracebuf::tsc_clock>;
using logical_traits = probe_traits<tracebuf::logical_clock<tracebuf_test::parallel_atomics>>;

template <class Traits>
struct ordered_setup {
    using buffer = trace_buffer<Traits, merging_sink<memory_sink>>;
    ordered_setup(std::size_t capacity, buffering b)
        : mem((b == buffering::double_buffer ? 2 : 1) * capacity), scratch(capacity),
          buf(mem.data(), mem.size(),
              merging_sink<memory_sink>(memory_sink{}, scratch.data(), scratch.size(), Traits::max_record_size), b) {
        BOOST_REQUIRE((buf.status() == errc::ok));
    }
    memory mem, scratch;
    buffer buf;
};

// The merged trace as accesses, in trace order; false on any record that is not one.
bool read_accesses(const memory_sink& s, std::vector<std::pair<bool, access>>& out) {
    bool good = true;
    const scan_result r = scan_records(s.bytes().data(), s.bytes().size(), 4096,
                                       [&](std::uint16_t tag, const unsigned char* payload, std::size_t n, std::size_t) {
                                           access a;
                                           if ((tag != load_tag && tag != store_tag) || n != sizeof a) {
                                               good = false;
                                               return;
                                           }
                                           std::memcpy(&a, payload, sizeof a);
                                           out.emplace_back(tag == store_tag, a);
                                       });
    return good && r.ok();
}

// A host thread of the probes: records like a tracer's memory callback, idle between
// "callbacks", offline now and then (a syscall).
template <class Writer>
struct traced_thread {
    Writer& w;
    std::uint32_t id;
    std::uint64_t calls = 0;

    void record(bool store, std::uint32_t location, std::uint64_t value) {
        TB_CHECK((w.busy() == errc::ok));
        const access a{id, location, value};
        TB_CHECK((w.write_record(store ? store_tag : load_tag, &a, sizeof a,
                                 store ? stamp::relaxed : stamp::ordered) == errc::ok));
        TB_CHECK((w.idle() == errc::ok));
        if (++calls % 4096 == 0) { // a syscall: offline, a short sleep, online
            TB_CHECK((w.go_offline() == errc::ok));
            const timespec ts{0, 20000};
            ::nanosleep(&ts, nullptr);
            TB_CHECK((w.go_online() == errc::ok));
            TB_CHECK((w.idle() == errc::ok));
        }
    }
};

constexpr std::uint32_t lock_location = 0, counter_location = 1;

// Threads in waves (created and exiting), each incrementing the counter `rounds` times.
template <class Traits>
void spinlock_counter_probe(std::size_t capacity, buffering b, unsigned threads_per_wave, unsigned waves,
                            unsigned rounds) {
    ordered_setup<Traits> s(capacity, b);
    using writer = ordered_writer<typename ordered_setup<Traits>::buffer>;
    std::atomic<std::uint32_t> lock{0};
    std::atomic<std::uint64_t> counter{0};
    std::uint32_t next_id = 0;
    for (unsigned wave = 0; wave < waves; ++wave) {
        std::vector<std::thread> pool;
        for (unsigned t = 0; t < threads_per_wave; ++t) {
            const std::uint32_t id = next_id++;
            pool.emplace_back([&, id] {
                writer w(s.buf, 1024, 1, id);
                TB_CHECK((w.register_thread() == errc::ok));
                TB_CHECK((w.idle() == errc::ok));
                traced_thread<writer> me{w, id};
                for (unsigned i = 0; i < rounds; ++i) {
                    std::uint32_t expected = 0;
                    // acquire: pairs with the release store below (the lock's contract).
                    while (!lock.compare_exchange_weak(expected, 1, std::memory_order_acquire,
                                                       std::memory_order_relaxed)) {
                        me.record(false, lock_location, expected); // a traced spin load
                        expected = 0;
                        std::this_thread::yield();
                    }
                    me.record(false, lock_location, 0); // the load half of the acquiring RMW
                    me.record(true, lock_location, 1);
                    const std::uint64_t v = counter.load(std::memory_order_relaxed);
                    me.record(false, counter_location, v);
                    counter.store(v + 1, std::memory_order_relaxed);
                    me.record(true, counter_location, v + 1);
                    lock.store(0, std::memory_order_release); // pairs with the acquire above
                    me.record(true, lock_location, 0);
                }
                TB_CHECK((w.unregister_thread() == errc::ok));
            });
        }
        for (auto& t : pool) t.join();
    }
    TB_NO_THREAD_FAILURES();
    const errc drained = s.buf.drain();
    BOOST_REQUIRE_MESSAGE(drained == errc::ok, "drain: " << to_string(drained) << ", sink error "
                                                         << s.buf.sink_error() << ", merge fault "
                                                         << int(s.buf.sink().stats().first_fault));
    std::vector<std::pair<bool, access>> trace;
    BOOST_REQUIRE(read_accesses(s.buf.sink().inner(), trace));

    // The counter's stores in increment order; each of its loads after the store it read.
    std::uint64_t next_store = 1, stores = 0, out_of_order = 0, loads_before_their_store = 0;
    std::uint64_t last_stored = 0;
    for (const auto& [store, a] : trace) {
        if (a.location != counter_location) continue;
        if (store) {
            ++stores;
            if (a.value != next_store) ++out_of_order;
            next_store = a.value + 1;
            last_stored = a.value;
        } else if (a.value != last_stored) {
            ++loads_before_their_store;
        }
    }
    const std::uint64_t total = std::uint64_t{threads_per_wave} * waves * rounds;
    BOOST_TEST(counter.load() == total);
    BOOST_TEST(stores == total);
    BOOST_TEST(out_of_order == 0u);
    BOOST_TEST(loads_before_their_store == 0u);
    BOOST_TEST(s.buf.stats().flushes > 10u);
    BOOST_TEST(s.buf.sink().stats().skipped_bytes == 0u);
    BOOST_TEST_MESSAGE(Traits::clock::name << ": " << total << " increments by " << threads_per_wave * waves
                                           << " threads, " << s.buf.stats().flushes << " flushes: " << out_of_order
                                           << " stores out of order, " << loads_before_their_store
                                           << " loads before their store");
}

// Producer/consumer pairs, `messages` each: data[i] = value, then seq = i (release).
template <class Traits>
void message_passing_probe(std::size_t capacity, buffering b, unsigned pairs, unsigned messages) {
    ordered_setup<Traits> s(capacity, b);
    using writer = ordered_writer<typename ordered_setup<Traits>::buffer>;
    constexpr std::uint32_t slots = 64;
    struct channel {
        std::atomic<std::uint64_t> seq{0};
        std::atomic<std::uint64_t> data[slots] = {};
    };
    std::vector<channel> channels(pairs);
    std::vector<std::thread> pool;
    for (unsigned p = 0; p < pairs; ++p) {
        // Locations: per pair, 2 + p * (slots + 1) is seq, the next `slots` are data[].
        const std::uint32_t base = 2 + p * (slots + 1);
        pool.emplace_back([&, p, base] { // the producer
            writer w(s.buf, 512, 1, 2 * p);
            TB_CHECK((w.register_thread() == errc::ok));
            TB_CHECK((w.idle() == errc::ok));
            traced_thread<writer> me{w, 2 * p};
            channel& c = channels[p];
            for (std::uint64_t i = 1; i <= messages; ++i) {
                // Wait until the consumer took message i - 1 (seq is even once read).
                std::uint64_t seen;
                while ((seen = c.seq.load(std::memory_order_acquire)) != 2 * (i - 1)) { // pairs with the consumer's release
                    me.record(false, base, seen);
                    std::this_thread::yield();
                }
                me.record(false, base, seen);
                const std::uint64_t value = (std::uint64_t{p} << 40) | i;
                c.data[i % slots].store(value, std::memory_order_relaxed);
                me.record(true, base + 1 + static_cast<std::uint32_t>(i % slots), value);
                c.seq.store(2 * i - 1, std::memory_order_release); // pairs with the consumer's acquire
                me.record(true, base, 2 * i - 1);
            }
            TB_CHECK((w.unregister_thread() == errc::ok));
        });
        pool.emplace_back([&, p, base] { // the consumer
            writer w(s.buf, 512, 1, 2 * p + 1);
            TB_CHECK((w.register_thread() == errc::ok));
            TB_CHECK((w.idle() == errc::ok));
            traced_thread<writer> me{w, 2 * p + 1};
            channel& c = channels[p];
            for (std::uint64_t i = 1; i <= messages; ++i) {
                std::uint64_t seen;
                while ((seen = c.seq.load(std::memory_order_acquire)) != 2 * i - 1) { // pairs with the producer's release
                    me.record(false, base, seen);
                    std::this_thread::yield();
                }
                me.record(false, base, seen);
                const std::uint64_t value = c.data[i % slots].load(std::memory_order_relaxed);
                me.record(false, base + 1 + static_cast<std::uint32_t>(i % slots), value);
                TB_CHECK(value == ((std::uint64_t{p} << 40) | i));
                c.seq.store(2 * i, std::memory_order_release); // pairs with the producer's acquire
                me.record(true, base, 2 * i);
            }
            TB_CHECK((w.unregister_thread() == errc::ok));
        });
    }
    for (auto& t : pool) t.join();
    TB_NO_THREAD_FAILURES();
    const errc drained = s.buf.drain();
    BOOST_REQUIRE_MESSAGE(drained == errc::ok, "drain: " << to_string(drained) << ", sink error "
                                                         << s.buf.sink_error() << ", merge fault "
                                                         << int(s.buf.sink().stats().first_fault));
    std::vector<std::pair<bool, access>> trace;
    BOOST_REQUIRE(read_accesses(s.buf.sink().inner(), trace));

    // Every consumer load of data[] after the producer's store of the value it read.
    std::map<std::pair<std::uint32_t, std::uint64_t>, bool> stored; // (location, value) seen stored
    std::uint64_t reads = 0, reads_before_write = 0;
    for (const auto& [store, a] : trace) {
        const std::uint32_t p = (a.location - 2) / (slots + 1);
        const bool data = a.location >= 2 && (a.location - 2) % (slots + 1) != 0;
        if (!data) continue;
        if (store) {
            stored[{a.location, a.value}] = true;
        } else if (a.thread == 2 * p + 1) {
            ++reads;
            if (!stored.count({a.location, a.value})) ++reads_before_write;
        }
    }
    BOOST_TEST(reads == std::uint64_t{pairs} * messages);
    BOOST_TEST(reads_before_write == 0u);
    BOOST_TEST(s.buf.stats().flushes > 10u);
    BOOST_TEST_MESSAGE(Traits::clock::name << ": " << reads << " messages in " << pairs << " pairs, "
                                           << s.buf.stats().flushes << " flushes: " << reads_before_write
                                           << " reads before the write they read");
}

#if defined(TRACEBUF_TSAN)
constexpr unsigned scale = 4; // ThreadSanitizer runs the protocol several times slower
#else
constexpr unsigned scale = 1;
#endif

using clocks = std::tuple<tsc_traits, logical_traits>;

// Small limits, so that a buffer of a few KiB is allowed: a flush every few hundred records.
template <class Base>
struct tiny : Base {
    static constexpr std::size_t max_record_size = 256;
    static constexpr std::size_t max_reservation = 2048;
};
using tiny_clocks = std::tuple<tiny<tsc_traits>, tiny<logical_traits>>;

} // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(spinlock_counter_keeps_increment_order, T, clocks) {
    // 6 threads per wave on 2 cores, 4 waves; a 64 KiB buffer: hundreds of flushes.
    spinlock_counter_probe<T>(64 * 1024, buffering::single, 6, 4, 20000 / scale);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(spinlock_counter_double_buffered_tiny_buffer, T, tiny_clocks) {
    spinlock_counter_probe<T>(4 * 1024, buffering::double_buffer, 4, 2, 20000 / scale);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(message_passing_reads_follow_their_writes, T, clocks) {
    message_passing_probe<T>(64 * 1024, buffering::double_buffer, 3, 30000 / scale);
}

// ---- The merge on hand-made buffers ----------------------------------------------------------

namespace {

// Writes an ordered chunk by hand: header, then (stamp, value) pairs as full or delta stamps.
struct chunk_builder {
    std::vector<unsigned char> bytes;
    void record(std::uint16_t tag, const void* payload, std::size_t n) {
        const std::size_t at = bytes.size();
        bytes.resize(at + record_footprint(n));
        put_record(bytes.data() + at, tag, payload, n);
    }
    void chunk(std::uint32_t tid, std::uint64_t sequence, std::size_t chunk_bytes) {
        const chunk_header h{1, tid, static_cast<std::uint32_t>(chunk_bytes), sequence};
        record(tags::ordered_chunk, &h, sizeof h);
    }
    void full_stamp(std::uint64_t t) {
        const std::size_t at = bytes.size();
        bytes.resize(at + full_stamp_footprint);
        write_record_header(bytes.data() + at, tags::stamp, 12);
        std::memcpy(bytes.data() + at + 8, &t, 8);
    }
    void delta(std::uint32_t d) { record(tags::stamp_delta, &d, 4); }
    void value(std::uint32_t v) { record(0x1234, &v, 4); }
    void pad_to(std::size_t end) {
        if (bytes.size() < end) {
            const std::size_t at = bytes.size();
            bytes.resize(end);
            write_padding(bytes.data() + at, end - at, 4096);
        }
    }
};

std::vector<std::uint32_t> merged_values(const std::vector<unsigned char>& in, merge_result& r) {
    static detail::ordered_merger<4> merger; // 4 threads at most
    std::vector<std::uint32_t> out;
    r = merge_ordered(merger, in.data(), in.size(), 4096, [&](const unsigned char* piece, std::size_t bytes) {
        const scan_result whole = scan_records(piece, bytes, 4096, [&](std::uint16_t tag, const unsigned char* payload, std::size_t n, std::size_t) {
            std::uint32_t v = 0;
            if (tag == 0x1234 && n == 4) std::memcpy(&v, payload, 4);
            else v = 0xffffffffu - tag; // records outside chunks
            out.push_back(v);
        });
        BOOST_TEST(whole.ok()); // every piece is whole records
    });
    return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(merge_orders_by_stamp_and_breaks_ties_by_first_chunk) {
    chunk_builder b;
    b.record(0x4d38, "hdr!", 4); // outside chunks: first in the output
    const std::size_t a0 = b.bytes.size();
    b.chunk(7, 0, 96); // thread 7, stamps 10 (value 1), 20 (2), 30 (3)
    b.full_stamp(10);
    b.value(1);
    b.delta(10);
    b.value(2);
    b.delta(10);
    b.value(3);
    b.pad_to(a0 + 96);
    const std::size_t b0 = b.bytes.size();
    b.chunk(9, 0, 88); // thread 9, stamps 10 (value 11: a tie, after thread 7's), 25 (12, 13)
    b.full_stamp(10);
    b.value(11);
    b.delta(15);
    b.value(12);
    b.value(13); // the same stamp: inherits it
    b.pad_to(b0 + 88);
    const std::size_t a1 = b.bytes.size();
    b.chunk(7, 1, 64); // thread 7's next chunk: stamp 40
    b.full_stamp(40);
    b.value(4);
    b.pad_to(a1 + 64);
    merge_result r;
    const std::vector<std::uint32_t> got = merged_values(b.bytes, r);
    const std::vector<std::uint32_t> want{0xffffffffu - 0x4d38, 1, 11, 2, 12, 13, 3, 4};
    BOOST_TEST(got == want, boost::test_tools::per_element());
    BOOST_TEST((r.fault == merge_fault::none));
    BOOST_TEST(r.chunks == 3u);
    BOOST_TEST(r.threads == 2u);
    BOOST_TEST(r.records == 8u);
}

BOOST_AUTO_TEST_CASE(merge_skips_the_rest_of_a_broken_chunk_and_says_where) {
    chunk_builder b;
    b.chunk(1, 0, 64);
    b.full_stamp(5);
    b.value(1);
    const std::size_t broken = b.bytes.size();
    b.bytes.resize(broken + 8); // a hole (tag 0): a host that did not write its reservation
    b.value(2);
    b.pad_to(64);
    b.chunk(2, 0, 48);
    b.full_stamp(6);
    b.value(3);
    b.pad_to(112);
    merge_result r;
    const std::vector<std::uint32_t> got = merged_values(b.bytes, r);
    BOOST_TEST(got == (std::vector<std::uint32_t>{1, 3}), boost::test_tools::per_element());
    BOOST_TEST((r.fault == merge_fault::bad_chunk));
    BOOST_TEST(r.fault_offset == broken);
    BOOST_TEST(r.skipped_bytes == 64 - broken);
}

// Found by fuzz_merge: a stamp record of the wrong length was taken for a record to emit,
// yet every unit stopped at it, so the merge emitted nothing, forever. It is malformed, and
// ends its chunk like any malformed record. (The emit bound turns the old hang into a failure.)
BOOST_AUTO_TEST_CASE(merge_ends_a_chunk_at_a_stamp_record_of_the_wrong_length) {
    for (const std::uint16_t tag : {tags::stamp_delta, tags::stamp}) {
        chunk_builder b;
        b.chunk(1, 0, 80);
        b.full_stamp(5);
        b.value(1);
        const std::size_t broken = b.bytes.size();
        const std::uint32_t bad[2] = {0, 0};
        b.record(tag, bad, tag == tags::stamp ? 4 : 8); // 8 and 12 bytes: neither layout
        b.value(2);
        b.pad_to(80);
        static detail::ordered_merger<4> merger;
        std::size_t pieces = 0;
        std::vector<unsigned char> out;
        const merge_result r = merge_ordered(merger, b.bytes.data(), b.bytes.size(), 4096,
                                             [&](const unsigned char* piece, std::size_t bytes) {
                                                 if (++pieces > 100) {
                                                     std::fprintf(stderr, "the merge emits forever\n");
                                                     std::abort();
                                                 }
                                                 out.insert(out.end(), piece, piece + bytes);
                                             });
        BOOST_TEST_CONTEXT("tag " << tag) {
            BOOST_TEST((r.fault == merge_fault::bad_chunk));
            BOOST_TEST(r.fault_offset == broken);
            BOOST_TEST(r.skipped_bytes == 80 - broken);
            BOOST_TEST(r.records == 1u);
            BOOST_TEST(out.size() == 8u); // value 1 alone
        }
    }
}

BOOST_AUTO_TEST_CASE(merge_refuses_threads_beyond_its_table) {
    chunk_builder b;
    for (std::uint32_t t = 0; t < 5; ++t) { // the table holds 4
        const std::size_t at = b.bytes.size();
        b.chunk(t, 0, 48);
        b.full_stamp(100 - t);
        b.value(t);
        b.pad_to(at + 48);
    }
    merge_result r;
    const std::vector<std::uint32_t> got = merged_values(b.bytes, r);
    BOOST_TEST(got == (std::vector<std::uint32_t>{3, 2, 1, 0}), boost::test_tools::per_element());
    BOOST_TEST((r.fault == merge_fault::too_many_threads));
    BOOST_TEST(r.skipped_bytes == 48u);
}

BOOST_AUTO_TEST_CASE(merging_sink_reports_bad_input_after_writing_what_it_could) {
    chunk_builder b;
    b.chunk(1, 0, 40);
    b.full_stamp(1);
    b.bytes.resize(b.bytes.size() + 16); // after the chunk: zeros where a record should start
    memory scratch(4096 + 64);
    merging_sink<memory_sink> sink(memory_sink{}, scratch.data(), scratch.size());
    BOOST_TEST((sink.status() == errc::ok));
    BOOST_TEST(sink.write(b.bytes.data(), b.bytes.size()) == merging_sink<memory_sink>::bad_input);
    BOOST_TEST(sink.stats().skipped_bytes == 16u); // outside any chunk: nothing after it is readable
    BOOST_TEST((sink.stats().first_fault == merge_fault::bad_record));
    memory small(64);
    merging_sink<memory_sink> too_small(memory_sink{}, small.data(), small.size());
    BOOST_TEST((too_small.status() == errc::bad_argument));
    BOOST_TEST(too_small.write(b.bytes.data(), b.bytes.size()) != 0);
}

// ---- The clock check -------------------------------------------------------------------------

namespace {
// A clock whose second reader runs 1000 ticks behind the first: what a TSC that differs
// between two CPUs looks like to the check.
struct skewed_clock {
    static constexpr const char* name = "a skewed test clock";
    static std::uint64_t ordered() noexcept {
        static std::atomic<std::uint64_t> now{1000000};
        static std::atomic<int> readers{0};
        thread_local const int reader = readers.fetch_add(1);
        return now.fetch_add(1) - (reader % 2 == 1 ? 1000 : 0);
    }
    static std::uint64_t relaxed() noexcept { return ordered(); }
};
} // namespace

BOOST_AUTO_TEST_CASE(the_clock_check_passes_the_tsc_and_refuses_a_clock_that_steps_back) {
    const clock_check_result tsc = check_clock<tsc_clock>(20000);
    BOOST_TEST_MESSAGE(tsc.message());
    BOOST_TEST(tsc.handoffs > 0u);
    BOOST_TEST((tsc.status() == errc::ok), tsc.message());
    const clock_check_result logical = check_clock<logical_traits::clock>(20000);
    BOOST_TEST((logical.status() == errc::ok), logical.message());

    const clock_check_result skewed = check_clock<skewed_clock>(20000);
    BOOST_TEST((skewed.status() == errc::bad_clock));
    BOOST_TEST(skewed.backward_steps > 0u);
    BOOST_TEST(skewed.largest_step_back <= 1000u);
    BOOST_TEST(skewed.message().find("use record mode") != std::string::npos, skewed.message());
}
