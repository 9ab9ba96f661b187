// The stress harness: threads come and go, write records of random sizes (alone and in
// batches), go offline at random, request flushes; a verifying sink checks every flush as
// the flusher hands it over.
//
// Each record's payload is [u32 thread][u32 seq][u32 checksum][body], where the body is
// generated from (thread, seq) and the checksum covers thread, seq and body. The verifier
// asserts, per flush: every record valid and inside the flush (none split across flushes),
// body byte-exact, checksum right, seq == the thread's next (per-thread order, nothing
// lost or doubled in between); and that no two flushes overlap. At the end: every thread's
// last seq equals what it wrote (exactly once).
//
// Chunk mode (stress_config::chunk_bytes): the threads write through chunk_writers, and the
// verifier also checks that every record lies in a chunk of its own thread, that each chunk
// is whole inside one flush, and that each thread's chunk sequence numbers follow each
// other. Double buffering (stress_config::buffering) changes nothing the verifier sees.
#ifndef TRACEBUF_TESTS_STRESS_HPP
#define TRACEBUF_TESTS_STRESS_HPP

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <vector>

#include <tracebuf/chunk_reader.hpp>
#include <tracebuf/ordered_merge.hpp>
#include <tracebuf/tracebuf.hpp>

namespace tracebuf_test {

inline constexpr std::uint16_t stress_tag = 0x5453;
inline constexpr std::size_t stress_fixed = 12; // thread, seq, checksum

struct splitmix {
    std::uint64_t state;
    std::uint64_t next() {
        std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
        return z ^ (z >> 31);
    }
    std::uint64_t below(std::uint64_t n) { return next() % n; }
};

inline void fill_body(unsigned char* out, std::size_t n, std::uint32_t thread, std::uint32_t seq) {
    splitmix g{(std::uint64_t{thread} << 32) | seq};
    while (n >= 8) {
        const std::uint64_t v = g.next();
        std::memcpy(out, &v, 8);
        out += 8;
        n -= 8;
    }
    const std::uint64_t v = g.next();
    std::memcpy(out, &v, n);
}

inline std::uint32_t checksum(std::uint32_t thread, std::uint32_t seq, const unsigned char* body,
                              std::size_t n) {
    std::uint32_t h = 2166136261u ^ thread;
    h = (h * 16777619u) ^ seq;
    for (std::size_t i = 0; i < n; ++i) h = (h ^ body[i]) * 16777619u;
    return h;
}

inline void write_stress_record(unsigned char* at, std::size_t payload_size, std::uint32_t thread,
                                std::uint32_t seq) {
    unsigned char* p = static_cast<unsigned char*>(
        tracebuf::write_record_header(at, stress_tag, payload_size));
    unsigned char* body = p + stress_fixed;
    const std::size_t body_size = payload_size - stress_fixed;
    fill_body(body, body_size, thread, seq);
    const std::uint32_t sum = checksum(thread, seq, body, body_size);
    std::memcpy(p, &thread, 4);
    std::memcpy(p + 4, &seq, 4);
    std::memcpy(p + 8, &sum, 4);
}

class verifier {
public:
    explicit verifier(std::size_t max_threads, bool chunked = false)
        : next_seq_(max_threads, 0), chunked_(chunked) {}

    static int sink_write(void* self, const void* data, std::size_t size) {
        return static_cast<verifier*>(self)->check_flush(static_cast<const unsigned char*>(data), size);
    }

    int check_flush(const unsigned char* data, std::size_t size) {
        if (in_flush_.exchange(true)) fail("two flushes overlap");
        ++flushes_;
        bytes_ += size;
        std::vector<unsigned char> expect(4096);
        const tracebuf::scan_result r = tracebuf::scan_records(
            data, size, 4096, [&](std::uint16_t tag, const unsigned char* payload, std::size_t n, std::size_t offset) {
                if (tag == tracebuf::tags::padding) {
                    ++padding_;
                    return;
                }
                if (tag == tracebuf::tags::chunk) {
                    if (!chunked_) return fail("unexpected chunk record");
                    const tracebuf::chunk_fault f = chunks_.open(payload, n, offset);
                    const tracebuf::chunk_header& h = chunks_.last_chunk();
                    if (f != tracebuf::chunk_fault::none)
                        return fail(std::string(tracebuf::to_string(f)) + " (thread " + std::to_string(h.tid) + ")");
                    if (h.tid >= next_seq_.size() || h.pid != stress_tag) return fail("bad chunk owner");
                    return;
                }
                if (tag != stress_tag || n < stress_fixed) return fail("foreign record");
                std::uint32_t thread, seq, sum;
                std::memcpy(&thread, payload, 4);
                std::memcpy(&seq, payload + 4, 4);
                std::memcpy(&sum, payload + 8, 4);
                if (thread >= next_seq_.size()) return fail("thread id out of range");
                if (chunked_ && chunks_.check_record(offset, thread) != tracebuf::chunk_fault::none)
                    return fail("record of thread " + std::to_string(thread) + " outside its chunk");
                if (seq != next_seq_[thread])
                    return fail("thread " + std::to_string(thread) + ": seq " + std::to_string(seq) +
                                ", expected " + std::to_string(next_seq_[thread]));
                ++next_seq_[thread];
                const unsigned char* body = payload + stress_fixed;
                const std::size_t body_size = n - stress_fixed;
                fill_body(expect.data(), body_size, thread, seq);
                if (std::memcmp(expect.data(), body, body_size) != 0) return fail("body differs");
                if (checksum(thread, seq, body, body_size) != sum) return fail("checksum differs");
                ++records_;
            });
        if (chunks_.end_range(size) != tracebuf::chunk_fault::none) fail("chunk cut by a flush");
        if (!r.ok())
            fail(std::string("bad record in flush ") + std::to_string(flushes_) + " at offset " +
                 std::to_string(r.valid_bytes) + " of " + std::to_string(size) + ": " +
                 tracebuf::to_string(r.fault));
        in_flush_.store(false);
        return 0;
    }

    // Read after every producer has stopped and the buffer was drained.
    std::uint64_t records() const { return records_; }
    std::uint64_t flushes() const { return flushes_; }
    std::uint64_t bytes() const { return bytes_; }
    std::uint64_t padding() const { return padding_; }
    std::uint64_t chunks() const { return chunks_.chunks(); }
    std::uint32_t next_seq(std::size_t thread) const { return next_seq_[thread]; }
    std::uint64_t failures() const { return failures_; }
    const std::string& first_failure() const { return first_failure_; }

private:
    void fail(const std::string& what) {
        if (failures_++ == 0) first_failure_ = what;
    }

    // Touched only by the flusher of the moment; flushes are ordered by the protocol
    // (and in_flush_ detects it if they are not).
    std::vector<std::uint32_t> next_seq_;
    tracebuf::chunk_checker chunks_{tracebuf::chunk_checker::restart::forbidden}; // ids are unique here
    bool chunked_;
    std::atomic<bool> in_flush_{false};
    std::uint64_t records_ = 0, flushes_ = 0, bytes_ = 0, padding_ = 0, failures_ = 0;
    std::string first_failure_;
};

struct stress_config {
    std::size_t capacity = 64 * 1024; // arena bytes
    int lanes = 16;                   // threads alive at once
    std::uint64_t total_records = 1000000;
    std::uint32_t records_per_thread = 20000; // each thread writes 50%..150% of this, then exits
    bool offline_periods = true;
    bool explicit_flushes = true;
    bool batches = true;
    // Serialized host: a big lock around everything a thread does with the buffer, as
    // Valgrind runs one thread at a time.
    std::mutex* big_lock = nullptr;
    // > 0: chunk mode (ordered mode with stress_run<T, true>)
    std::size_t chunk_bytes = 0;
    tracebuf::buffering buffering = tracebuf::buffering::single; // capacity is per buffer
    unsigned seed = 1;
};

struct stress_result {
    std::uint64_t records_written = 0;
    std::uint64_t threads = 0;
    std::uint64_t errors = 0;
    std::string first_error;
    std::vector<std::uint32_t> written_per_thread;
};

// Ordered: the threads write through ordered_writers (chunks of config.chunk_bytes), the
// buffer's sink merges each flush, and the verifier sees the merged records - no chunks,
// every thread's records once and in its order.
template <class Traits, bool Ordered = false>
class stress_run {
public:
    using sink_type = std::conditional_t<Ordered, tracebuf::merging_sink<tracebuf::callback_sink>, tracebuf::callback_sink>;
    using buffer_type = tracebuf::trace_buffer<Traits, sink_type>;

    explicit stress_run(const stress_config& c)
        : config_(c),
          max_threads_(static_cast<std::size_t>(c.total_records / (c.records_per_thread / 2) + 2 * static_cast<std::uint64_t>(c.lanes) + 2)),
          verifier_(max_threads_, !Ordered && c.chunk_bytes != 0),
          memory_(buffers(c) * c.capacity / 8),
          scratch_(Ordered ? c.capacity / 8 : 0),
          buffer_(memory_.data(), buffers(c) * c.capacity, make_sink(), c.buffering),
          written_(max_threads_) {}

    stress_result run() {
        std::vector<std::thread> lanes;
        for (int l = 0; l < config_.lanes; ++l) lanes.emplace_back([this] { lane(); });
        for (auto& t : lanes) t.join();
        const tracebuf::errc drained = buffer_.drain();
        if (drained != tracebuf::errc::ok) error(std::string("drain: ") + tracebuf::to_string(drained));
        stress_result r;
        r.threads = std::min<std::uint64_t>(next_thread_.load(), max_threads_);
        r.written_per_thread.resize(r.threads);
        for (std::size_t t = 0; t < r.threads; ++t) {
            r.written_per_thread[t] = written_[t].load();
            r.records_written += r.written_per_thread[t];
        }
        r.errors = errors_.load();
        r.first_error = first_error_;
        return r;
    }

    const verifier& checked() const { return verifier_; }
    const buffer_type& buffer() const { return buffer_; }

private:
    sink_type make_sink() {
        const tracebuf::callback_sink to_verifier(&verifier::sink_write, &verifier_);
        if constexpr (Ordered) return sink_type(to_verifier, scratch_.data(), scratch_.size() * 8);
        else return to_verifier;
    }

    static std::size_t buffers(const stress_config& c) {
        return c.buffering == tracebuf::buffering::double_buffer ? 2 : 1;
    }

    // One lane keeps one producer thread alive at a time: as each exits, the next starts,
    // so threads are created and exit while the other lanes' flushes run.
    void lane() {
        for (;;) {
            const std::uint32_t id = next_thread_.fetch_add(1);
            splitmix g{(std::uint64_t{config_.seed} << 40) ^ id};
            const std::uint32_t n = static_cast<std::uint32_t>(
                config_.records_per_thread / 2 + g.below(config_.records_per_thread + 1));
            if (id >= max_threads_ || issued_.fetch_add(n) >= config_.total_records) {
                return; // ids past the end are never written; run() counts them as zero
            }
            std::thread producer_thread([this, id, n] { produce(id, n); });
            producer_thread.join();
        }
    }

    struct maybe_locked {
        explicit maybe_locked(std::mutex* m) : m_(m) {
            if (m_) m_->lock();
        }
        ~maybe_locked() {
            if (m_) m_->unlock();
        }
        std::mutex* m_;
    };

    // One host loop (produce_with), written once over the writer shape, serves every mode.
    void produce(std::uint32_t id, std::uint32_t count) {
        if constexpr (Ordered) {
            tracebuf::ordered_writer<buffer_type> w(buffer_, config_.chunk_bytes, stress_tag, id);
            return produce_with(w, id, count);
        } else if constexpr (!Traits::wait::serialized_host) { // chunk mode needs parallel threads
            if (config_.chunk_bytes != 0) {
                tracebuf::chunk_writer<buffer_type> w(buffer_, config_.chunk_bytes, stress_tag, id);
                return produce_with(w, id, count);
            }
        }
        tracebuf::record_writer<buffer_type> w(buffer_);
        produce_with(w, id, count);
    }

    template <class Writer>
    void produce_with(Writer& w, std::uint32_t id, std::uint32_t count) {
        splitmix g{(std::uint64_t{config_.seed} << 32) ^ (std::uint64_t{id} * 7919)};
        {
            maybe_locked lock(config_.big_lock);
            check(w.register_thread(), "register");
        }
        std::uint32_t seq = 0;
        if constexpr (Traits::idle_slots > 0) check(w.idle(), "idle");
        while (seq < count) {
            maybe_locked lock(config_.big_lock);
            if constexpr (Traits::idle_slots > 0) check(w.busy(), "busy");
            // A burst of records per lock hold, like a run of superblocks.
            for (int burst = 0; burst < 16 && seq < count; ++burst) {
                const std::uint32_t batch = config_.batches && g.below(5) == 0
                                                ? static_cast<std::uint32_t>(2 + g.below(7))
                                                : 1;
                write_batch(w, g, id, seq, std::min(batch, count - seq));
                seq += std::min(batch, count - seq);
                written_[id].store(seq, std::memory_order_relaxed);
                if (config_.explicit_flushes && g.below(4096) == 0)
                    check(w.flush(), "flush");
                if (config_.offline_periods && g.below(256) == 0) offline_period(w, g);
            }
            if constexpr (Traits::idle_slots > 0) {
                check(w.idle(), "idle");
                if (g.below(64) == 0) { // stopped by the host while idle
                    const timespec ts{0, static_cast<long>(1000 * g.below(300))};
                    ::nanosleep(&ts, nullptr);
                } else if (config_.offline_periods && g.below(8) == 0) { // offline straight from idle
                    offline_period(w, g);
                    check(w.idle(), "idle");
                }
            }
        }
        maybe_locked lock(config_.big_lock);
        check(w.unregister_thread(), "unregister");
    }

    static std::size_t random_payload(splitmix& g) {
        const std::uint64_t r = g.below(100);
        const std::uint64_t top = r < 85   ? 60
                                  : r < 97 ? 512
                                           : 4092;
        return static_cast<std::size_t>(stress_fixed + g.below(top - stress_fixed + 1));
    }

    template <class Writer>
    void write_batch(Writer& w, splitmix& g, std::uint32_t id, std::uint32_t seq, std::uint32_t records) {
        std::size_t sizes[8];
        std::size_t total = 0;
        for (std::uint32_t i = 0; i < records; ++i) {
            sizes[i] = random_payload(g);
            total += tracebuf::record_footprint(sizes[i]);
        }
        // Sometimes reserve more than the records need and pad the rest.
        const std::size_t spare = records > 1 && g.below(4) == 0 ? 8 * (1 + g.below(8)) : 0;
        // Every stamp kind (ordered mode; the other writers ignore it).
        const std::uint64_t kind = g.below(3);
        const tracebuf::stamp how = kind == 0   ? tracebuf::stamp::ordered
                                    : kind == 1 ? tracebuf::stamp::relaxed
                                                : tracebuf::stamp::inherit;
        unsigned char* at = w.reserve(total + spare, how);
        if (at == nullptr) return check(w.last_error(), "reserve");
        for (std::uint32_t i = 0; i < records; ++i) {
            write_stress_record(at, sizes[i], id, seq + i);
            at += tracebuf::record_footprint(sizes[i]);
        }
        if (spare != 0) tracebuf::write_padding(at, spare, Traits::max_record_size);
    }

    template <class Writer>
    void offline_period(Writer& w, splitmix& g) {
        check(w.go_offline(), "go_offline");
        const std::uint64_t what = g.below(100);
        if (config_.big_lock) config_.big_lock->unlock(); // a blocked thread lets others run
        if (what < 30) {
            std::this_thread::yield();
        } else if (what < 45) {
            const timespec ts{0, static_cast<long>(1000 * g.below(100))};
            ::nanosleep(&ts, nullptr);
        } else if (what < 50) {
            const timespec ts{0, 1000000};
            ::nanosleep(&ts, nullptr);
        }
        if (config_.big_lock) config_.big_lock->lock();
        check(w.go_online(), "go_online");
    }

    void check(tracebuf::errc e, const char* what) {
        if (e == tracebuf::errc::ok) return;
        if (errors_.fetch_add(1) == 0) {
            std::lock_guard<std::mutex> lock(error_mutex_);
            first_error_ = std::string(what) + ": " + tracebuf::to_string(e);
        }
    }
    void error(const std::string& what) {
        if (errors_.fetch_add(1) == 0) {
            std::lock_guard<std::mutex> lock(error_mutex_);
            first_error_ = what;
        }
    }

    stress_config config_;
    std::size_t max_threads_;
    verifier verifier_;
    std::vector<std::uint64_t> memory_;
    std::vector<std::uint64_t> scratch_; // ordered mode: the merge's output
    buffer_type buffer_;
    std::vector<std::atomic<std::uint32_t>> written_;
    std::atomic<std::uint32_t> next_thread_{0};
    std::atomic<std::uint64_t> issued_{0};
    std::atomic<std::uint64_t> errors_{0};
    std::mutex error_mutex_;
    std::string first_error_;
};

} // namespace tracebuf_test

#endif
