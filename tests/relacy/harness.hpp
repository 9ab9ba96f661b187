// tests/relacy/harness.hpp - the world every Relacy test runs in: a trace buffer on the Relacy
// policies, its memory shadowed so that Relacy sees the data, and a sink that verifies every
// flush.
//
// Relacy treats plain memory as always up to date, so a record written into the arena with no
// happens-before edge to the flush that reads it would go unnoticed. Hence the shadow: one
// rl::var per 8-byte word of the host memory. A producer stores every word of its record into
// the shadow as well; the sink loads the shadow of every word it is handed and then clears
// it. Relacy checks each of those accesses against the others with vector clocks, so
//   - a flush that reads a record without an edge from its writer is a data race (the
//     writer's store against the sink's load), and
//   - a producer that writes into memory without an edge from the flush that last emptied it
//     (the zeroing, the move of the virtual space) is a data race too (the sink's clearing
//     store against the producer's store).
// The sink also checks, per flush: the bytes are whole records or padding, back to back from
// the start of a buffer, with no hole (tag 0) and nothing cut at the end; each record's
// content is what its producer wrote, in per-thread sequence (no loss in between, no
// duplicate); chunk headers, in chunk mode, are in sequence and each chunk is whole, holding
// only its owner's records; and no two flushes run at once. At the end of every iteration the
// buffer is drained and every thread's records must all have arrived (exactly once).
#ifndef TRACEBUF_TESTS_RELACY_HARNESS_HPP
#define TRACEBUF_TESTS_RELACY_HARNESS_HPP

#include <type_traits>

#include "relacy_policy.hpp"

namespace tracebuf_relacy {

inline constexpr std::uint16_t record_tag = 0x5252;
inline constexpr std::uint32_t chunk_pid = 0x524c;

// Things a test wants to have happened in some iterations, counted per case. Plain memory:
// observations of the simulation, which they never change.
enum class event : unsigned {
    step_back,                  // a thread coming online slept until a running flush ended
    parked,                     // a reservation slept at the barrier
    flusher_slept,              // a flusher slept until the count reached zero
    spare_wait,                 // a double-buffered flusher slept until the spare buffer was written out
    chained_handoff,            // a parked reservation led the next flush
    taken_over,                 // busy() found the thread taken over while idle
    open_chunk_taken_over,      // ... and it had gone idle with part of its chunk unwritten
    reclaim_refused,            // reclaim_idle() found the thread taken over
    written_during_write_out,   // a record was written while a (double-buffered) write-out ran
    flush_waited_for_write_out, // a reservation led a flush while another write-out ran
    count
};

inline const char* event_name(event e) noexcept {
    switch (e) {
    case event::step_back: return "step_back";
    case event::parked: return "parked";
    case event::flusher_slept: return "flusher_slept";
    case event::spare_wait: return "spare_wait";
    case event::chained_handoff: return "chained_handoff";
    case event::taken_over: return "taken_over";
    case event::open_chunk_taken_over: return "open_chunk_taken_over";
    case event::reclaim_refused: return "reclaim_refused";
    case event::written_during_write_out: return "written_during_write_out";
    case event::flush_waited_for_write_out: return "flush_waited_for_write_out";
    case event::count: break;
    }
    return "?";
}

struct coverage_counts {
    std::uint64_t iterations = 0; // completed successfully
    std::uint64_t with[static_cast<unsigned>(event::count)] = {};
};
inline coverage_counts coverage;

// Relacy's RL_INFO, with the file's base name.
#define TRACEBUF_RL_HERE ::rl::debug_info(__func__, ::tracebuf_relacy::base_name(__FILE__), __LINE__)

// Fails the current Relacy iteration with a message (it does not return then).
inline void expect(bool ok, const char* what, rl::debug_info at) noexcept {
    if (!ok) rl::ctx().fail_test(what, rl::test_result_user_assert_failed, at);
}
#define TRACEBUF_RL_EXPECT(cond, what) ::tracebuf_relacy::expect((cond), (what), TRACEBUF_RL_HERE)

// The one place that reaches into accessors (the API tidy-up renames them).
template <class Buffer>
const typename Buffer::counter_type& counter_of(const Buffer& b) noexcept {
    return b.counter();
}
template <class Writer>
const tracebuf::producer& producer_of(const Writer& w) noexcept {
    return w.producer();
}

/// Capacity: bytes per buffer. Threads: Relacy threads (each may own a producer).
template <class Traits, std::size_t Capacity, tracebuf::buffering Mode, unsigned Threads>
class world final : futex_observer {
public:
    struct sink {
        world* w;
        int write(const void* data, std::size_t size) noexcept {
            return w->check_flush(static_cast<const unsigned char*>(data), size);
        }
    };
    using buffer_type = tracebuf::trace_buffer<Traits, sink>;
    using chunked = tracebuf::chunk_writer<buffer_type>;
    static constexpr bool double_buffered = Mode == tracebuf::buffering::double_buffer;
    static constexpr std::size_t buffer_words = Capacity / 8;
    static constexpr std::size_t words = (double_buffered ? 2 : 1) * buffer_words;
    static_assert(Capacity % 8 == 0 && Capacity >= Traits::max_reservation);

    /// A thread writing records straight into the buffer through its producer: record mode
    /// on the low-level layer (tracebuf::record_writer forwards to the same calls), which
    /// also has reclaim_idle.
    struct direct_writer {
        buffer_type* buffer = nullptr;
        tracebuf::producer p;
        tracebuf::errc register_thread() noexcept { return buffer->register_thread(p); }
        tracebuf::errc unregister_thread() noexcept { return buffer->unregister_thread(p); }
        tracebuf::errc go_offline() noexcept { return buffer->go_offline(p); }
        tracebuf::errc go_online() noexcept { return buffer->go_online(p); }
        tracebuf::errc idle() noexcept { return buffer->idle(p); }
        tracebuf::errc busy() noexcept { return buffer->busy(p); }
        bool reclaim_idle() noexcept { return buffer->reclaim_idle(p); }
        tracebuf::errc flush() noexcept { return buffer->flush(p); }
        unsigned char* reserve(std::size_t n) noexcept { return buffer->reserve(p, n); }
        const tracebuf::producer& producer() const noexcept { return p; }
    };

    world() : buffer(memory_, sizeof memory_, sink{this}, Mode, tracebuf::memory_contents::zeroed) {
        for (auto& s : shadow_) s(TRACEBUF_RL_HERE).store(0);
        for (auto& n : next_seq_) n(TRACEBUF_RL_HERE).store(0);
        for (auto& n : next_chunk_) n(TRACEBUF_RL_HERE).store(0);
        for (auto& r : records_) r.buffer = &buffer;
        observer = this;
    }
    world(const world&) = delete;
    world& operator=(const world&) = delete;
    ~world() {
        observer = nullptr;
        ++coverage.iterations;
        for (unsigned e = 0; e < static_cast<unsigned>(event::count); ++e)
            if (seen_[e]) ++coverage.with[e];
    }

    direct_writer& records(unsigned t) noexcept { return records_[t]; }

    // ---- What a thread does (each checks the call's result) -------------------------------

    template <class W>
    void reg(W& w, unsigned t) {
        doing_[t] = doing::coming_online;
        TRACEBUF_RL_EXPECT(w.register_thread() == tracebuf::errc::ok, "register_thread failed");
        doing_[t] = doing::other;
    }
    template <class W>
    void unreg(W& w, unsigned) {
        TRACEBUF_RL_EXPECT(w.unregister_thread() == tracebuf::errc::ok, "unregister_thread failed");
    }
    template <class W>
    void offline(W& w, unsigned) {
        TRACEBUF_RL_EXPECT(w.go_offline() == tracebuf::errc::ok, "go_offline failed");
    }
    template <class W>
    void online(W& w, unsigned t) {
        doing_[t] = doing::coming_online;
        TRACEBUF_RL_EXPECT(w.go_online() == tracebuf::errc::ok, "go_online failed");
        doing_[t] = doing::other;
    }
    template <class W>
    void idle(W& w, unsigned t) {
        if constexpr (std::is_same_v<W, chunked>) open_at_idle_[t] = w.room();
        TRACEBUF_RL_EXPECT(w.idle() == tracebuf::errc::ok, "idle failed");
    }
    /// Returns whether a flusher took the thread over while it was idle.
    template <class W>
    bool busy(W& w, unsigned t) {
        doing_[t] = doing::coming_online;
        TRACEBUF_RL_EXPECT(w.busy() == tracebuf::errc::ok, "busy failed");
        doing_[t] = doing::other;
        const bool taken = producer_of(w).taken_over();
        if (taken) seen(event::taken_over);
        if (taken && open_at_idle_[t] != 0) seen(event::open_chunk_taken_over);
        return taken;
    }
    bool reclaim(direct_writer& w, unsigned) {
        const bool mine = w.reclaim_idle();
        if (!mine) seen(event::reclaim_refused);
        return mine;
    }

    /// Reserves `bytes` (a multiple of 8, >= 16) and writes one record of thread t there.
    template <class W>
    void put(W& w, unsigned t, std::size_t bytes) {
        const std::uint64_t flushes_before = flushes_;
        const std::uint64_t led_before = led_[t];
        const bool write_out_running = in_sink_;
        doing_[t] = doing::reserving;
        unsigned char* at = w.reserve(bytes);
        doing_[t] = doing::other;
        TRACEBUF_RL_EXPECT(at != nullptr, "reserve failed");
        if (led_[t] != led_before) {
            if (flushes_ - flushes_before >= 2) seen(event::chained_handoff);
            if (write_out_running) seen(event::flush_waited_for_write_out);
        }
        write_record(at, bytes, t, written_[t]++);
    }

    /// An explicit flush; on return, every record the thread wrote before has been written out.
    template <class W>
    void flush(W& w, unsigned t) {
        doing_[t] = doing::reserving;
        TRACEBUF_RL_EXPECT(w.flush() == tracebuf::errc::ok, "flush failed");
        doing_[t] = doing::other;
        // The sink's bookkeeping must also happen before this load, or Relacy reports a race.
        TRACEBUF_RL_EXPECT(next_seq_[t](TRACEBUF_RL_HERE).load() == written_[t],
                           "flush returned before the thread's records were written out");
    }

    /// After every thread is done (the test's after()): drain, and everything arrived.
    void finish() {
        TRACEBUF_RL_EXPECT(buffer.drain() == tracebuf::errc::ok, "drain failed");
        for (unsigned t = 0; t < Threads; ++t)
            TRACEBUF_RL_EXPECT(next_seq_[t](TRACEBUF_RL_HERE).load() == written_[t],
                               "a thread's records did not all arrive");
        const auto& q = counter_of(buffer);
        TRACEBUF_RL_EXPECT(q.online_count() == 0 && !q.flushing() && q.registered_count() == 0,
                           "the counter is not back at rest");
        TRACEBUF_RL_EXPECT(buffer.stats().sink_error == 0, "the sink reported an error");
    }

private:
    enum class doing : unsigned char {
        other,
        coming_online,
        reserving,
    };

    void seen(event e) noexcept { seen_[static_cast<unsigned>(e)] = true; }

    // Which wait slept, by the core function that called it (a template's name carries its
    // arguments: compare the prefix).
    void slept(unsigned thread, const rl::debug_info& at) noexcept override {
        auto called_from = [&](const char* f) { return std::strncmp(at.func_, f, std::strlen(f)) == 0; };
        if (called_from("await_flush_end"))
            seen(event::step_back);
        else if (called_from("await_epoch_change"))
            seen(doing_[thread] == doing::coming_online ? event::step_back : event::parked);
        else if (called_from("await_quiescence"))
            seen(event::flusher_slept);
        else if (called_from("await_spare_buffer"))
            seen(event::spare_wait);
    }

    std::size_t word_index(const unsigned char* at) const noexcept {
        const auto* base = reinterpret_cast<const unsigned char*>(memory_);
        TRACEBUF_RL_EXPECT(at >= base && at < base + sizeof memory_ &&
                               static_cast<std::size_t>(at - base) % 8 == 0,
                           "a position outside the buffers");
        return static_cast<std::size_t>(at - base) / 8;
    }

    // A record of `bytes` bytes: [tag][length][thread] [seq][check] [filler]...
    static void compose(std::uint64_t* out, std::size_t bytes, std::uint32_t thread, std::uint32_t seq) noexcept {
        const tracebuf::record_header h{record_tag, static_cast<std::uint16_t>(bytes)};
        const std::uint32_t check = 0xc0de0000u | ((thread * 0x101u + seq) & 0xffffu);
        unsigned char first[8];
        std::memcpy(first, &h, 4);
        std::memcpy(first + 4, &thread, 4);
        std::memcpy(&out[0], first, 8);
        out[1] = std::uint64_t{seq} | (std::uint64_t{check} << 32);
        for (std::size_t i = 2; i < bytes / 8; ++i)
            out[i] = 0xf0f0000000000000ull | (std::uint64_t{thread} << 40) | (std::uint64_t{seq} << 8) | i;
    }

    void write_record(unsigned char* at, std::size_t bytes, unsigned thread, std::uint32_t seq) {
        TRACEBUF_RL_EXPECT(bytes >= 16 && bytes % 8 == 0 && bytes <= Traits::max_record_size,
                           "a test record size out of range");
        if constexpr (!double_buffered) {
            // Nobody may be online while the only buffer is being written out.
            TRACEBUF_RL_EXPECT(!in_sink_, "a record was written during a single-buffered write-out");
        } else {
            if (in_sink_) seen(event::written_during_write_out);
        }
        std::uint64_t rec[Traits::max_record_size / 8];
        compose(rec, bytes, thread, seq);
        const std::size_t first = word_index(at);
        TRACEBUF_RL_EXPECT(word_index(at + bytes - 8) / buffer_words == first / buffer_words,
                           "a reservation runs past the end of its buffer");
        std::memcpy(at, rec, bytes);
        for (std::size_t i = 0; i < bytes / 8; ++i) shadow_[first + i](TRACEBUF_RL_HERE).store(rec[i]);
    }

    // The sink: called by the flusher with [data, data + size).
    int check_flush(const unsigned char* data, std::size_t size) {
        TRACEBUF_RL_EXPECT(in_flush_.exchange(1, rl::mo_relaxed, TRACEBUF_RL_HERE) == 0, "two flushes overlap");
        in_sink_ = true;
        ++flushes_;
        ++led_[rl::ctx().threadx_->index_];
        const std::size_t first = word_index(data);
        TRACEBUF_RL_EXPECT(first % buffer_words == 0, "a flush does not start at a buffer's start");
        TRACEBUF_RL_EXPECT(size % 8 == 0 && size <= Capacity, "a flush of a bad size");
        std::size_t chunk_end = 0; // chunk mode: the end of the chunk being walked
        std::uint32_t chunk_owner = 0;
        bool in_chunk = false;
        for (std::size_t off = 0; off < size;) {
            tracebuf::record_header h;
            std::memcpy(&h, data + off, sizeof h);
            if (h.tag == 0 && hole_words_allowed_ != 0) {
                std::uint64_t word;
                std::memcpy(&word, data + off, 8);
                TRACEBUF_RL_EXPECT(word == 0, "a hole with bytes in it");
                --hole_words_allowed_;
                (void)shadow_[first + off / 8](TRACEBUF_RL_HERE).load();
                shadow_[first + off / 8](TRACEBUF_RL_HERE).store(0);
                off += 8;
                continue;
            }
            TRACEBUF_RL_EXPECT(h.tag != 0, "a hole (tag 0) in a flush");
            const std::size_t footprint = tracebuf::align_up(h.length);
            TRACEBUF_RL_EXPECT(h.length >= tracebuf::record_header_size && off + footprint <= size,
                               "a record cut by the end of a flush");
            if (in_chunk && off >= chunk_end) in_chunk = false;
            TRACEBUF_RL_EXPECT(!in_chunk || off + footprint <= chunk_end, "a record across a chunk's end");
            bool written_by_test = false;
            if (h.tag == tracebuf::tags::padding) {
                // padding: written by the core (a chunk's tail) or by nobody we shadow
            } else if (h.tag == tracebuf::tags::chunk) {
                TRACEBUF_RL_EXPECT(!in_chunk, "a chunk inside a chunk");
                TRACEBUF_RL_EXPECT(h.length == tracebuf::record_header_size + sizeof(tracebuf::chunk_header),
                                   "a chunk header of a bad length");
                tracebuf::chunk_header c;
                std::memcpy(&c, data + off + tracebuf::record_header_size, sizeof c);
                TRACEBUF_RL_EXPECT(c.pid == chunk_pid && c.tid < Threads, "a chunk of an unknown owner");
                TRACEBUF_RL_EXPECT(off + c.bytes <= size, "a chunk cut by a flush");
                TRACEBUF_RL_EXPECT(c.sequence == next_chunk_[c.tid](TRACEBUF_RL_HERE).load(), "a chunk out of sequence");
                next_chunk_[c.tid](TRACEBUF_RL_HERE).store(static_cast<std::uint32_t>(c.sequence + 1));
                in_chunk = true;
                chunk_end = off + c.bytes;
                chunk_owner = c.tid;
            } else {
                TRACEBUF_RL_EXPECT(h.tag == record_tag && h.length == footprint && footprint >= 16,
                                   "a foreign record");
                std::uint32_t thread, seq;
                std::memcpy(&thread, data + off + 4, 4);
                std::memcpy(&seq, data + off + 8, 4);
                TRACEBUF_RL_EXPECT(thread < Threads, "a record of an unknown thread");
                TRACEBUF_RL_EXPECT(!chunked_ || (in_chunk && thread == chunk_owner),
                                   "a record outside a chunk of its thread");
                TRACEBUF_RL_EXPECT(seq == next_seq_[thread](TRACEBUF_RL_HERE).load(),
                                   "a record out of sequence (lost, duplicated or reordered)");
                next_seq_[thread](TRACEBUF_RL_HERE).store(seq + 1);
                std::uint64_t expected[Traits::max_record_size / 8];
                compose(expected, footprint, thread, seq);
                TRACEBUF_RL_EXPECT(std::memcmp(expected, data + off, footprint) == 0,
                                   "a record's content is not what its producer wrote");
                written_by_test = true;
            }
            for (std::size_t i = 0; i < footprint / 8; ++i) {
                std::uint64_t real;
                std::memcpy(&real, data + off + 8 * i, 8);
                const std::uint64_t shadow = shadow_[first + off / 8 + i](TRACEBUF_RL_HERE).load();
                TRACEBUF_RL_EXPECT(shadow == real || (!written_by_test && shadow == 0),
                                   "flushed bytes differ from what their writer stored");
                shadow_[first + off / 8 + i](TRACEBUF_RL_HERE).store(0); // the flush empties the word
            }
            off += footprint;
            // A scheduling point per record: producers (double buffering) run during the write-out.
            (void)in_flush_.load(rl::mo_relaxed, TRACEBUF_RL_HERE);
        }
        in_sink_ = false;
        in_flush_.store(0, rl::mo_relaxed, TRACEBUF_RL_HERE);
        return 0;
    }

public:
    /// Chunk mode: every record must lie in a chunk of its own thread.
    void expect_chunks() noexcept { chunked_ = true; }
    /// Accepts up to `bytes` of holes (zero bytes) over the whole iteration, for a claim
    /// that tracebuf documents may be left unwritten.
    void tolerate_holes(std::size_t bytes) noexcept { hole_words_allowed_ = bytes / 8; }

private:
    // Declared first: the buffer below is constructed over it.
    alignas(8) std::uint64_t memory_[words] = {};
    rl::var<std::uint64_t> shadow_[words];
    rl::var<std::uint32_t> next_seq_[Threads];   // the sink's: next record expected per thread
    rl::var<std::uint32_t> next_chunk_[Threads]; // the sink's: next chunk expected per thread
    rl::atomic<unsigned> in_flush_{0};
    std::uint32_t written_[Threads] = {}; // each thread's own count of its records
    direct_writer records_[Threads];
    // Plain observations (see coverage)
    bool in_sink_ = false;
    bool chunked_ = false;
    std::size_t hole_words_allowed_ = 0;
    std::uint64_t flushes_ = 0;
    std::uint64_t led_[Threads] = {};
    doing doing_[Threads] = {};
    std::size_t open_at_idle_[Threads] = {};
    bool seen_[static_cast<unsigned>(event::count)] = {};

public:
    buffer_type buffer;
};

} // namespace tracebuf_relacy

#endif // TRACEBUF_TESTS_RELACY_HARNESS_HPP
