// Controlling schedules from a test: an atomics policy with injection hooks (a gate that
// holds the first chosen operation, random yields), a
// wait policy that can stall a chosen thread, and sinks that record / hold flushes.
// Every wait here is bounded: a deadlock shows as a failed check, never as a hang.
#ifndef TRACEBUF_TESTS_SCHEDULE_CONTROL_HPP
#define TRACEBUF_TESTS_SCHEDULE_CONTROL_HPP

#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <tracebuf/tracebuf.hpp>

namespace schedule_control {

using namespace std::chrono_literals;

// ---- hooked atomics ------------------------------------------------------------------------

enum class op : int {
    load,
    store,
    fetch_add,
    fetch_sub,
    fetch_or,
    fetch_and,
    exchange,
    cas,
};

// Called before every atomic operation of the library (when set). `bits` is 32 or 64.
using hook_fn = void (*)(op o, int bits, const void* addr);
inline std::atomic<hook_fn> hook{nullptr};

// Chaos: when > 0, each operation yields with probability 1/chaos (per-thread xorshift).
inline std::atomic<unsigned> chaos{0};

inline std::uint64_t& rng_state() {
    static thread_local std::uint64_t s =
        0x9e3779b97f4a7c15ull ^ reinterpret_cast<std::uintptr_t>(&s) ^
        static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
    return s;
}
inline std::uint64_t next_random() {
    std::uint64_t& x = rng_state();
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

inline void before(op o, int bits, const void* addr) {
    if (hook_fn h = hook.load(std::memory_order_relaxed)) h(o, bits, addr);
    const unsigned c = chaos.load(std::memory_order_relaxed);
    if (c != 0 && next_random() % c == 0) {
        if (next_random() % 8 == 0) std::this_thread::sleep_for(std::chrono::microseconds(next_random() % 200));
        else ::sched_yield();
    }
}

struct hooked_atomics {
    template <class T>
    struct atomic : std::atomic<T> {
        using base = std::atomic<T>;
        static constexpr int bits = sizeof(T) * 8;
        constexpr atomic(T v = T{}) noexcept : base(v) {}
        T load(std::memory_order o = std::memory_order_seq_cst) const noexcept {
            before(op::load, bits, this);
            return base::load(o);
        }
        void store(T v, std::memory_order o = std::memory_order_seq_cst) noexcept {
            before(op::store, bits, this);
            base::store(v, o);
        }
        T fetch_add(T v, std::memory_order o = std::memory_order_seq_cst) noexcept {
            before(op::fetch_add, bits, this);
            return base::fetch_add(v, o);
        }
        T fetch_sub(T v, std::memory_order o = std::memory_order_seq_cst) noexcept {
            before(op::fetch_sub, bits, this);
            return base::fetch_sub(v, o);
        }
        T fetch_or(T v, std::memory_order o = std::memory_order_seq_cst) noexcept {
            before(op::fetch_or, bits, this);
            return base::fetch_or(v, o);
        }
        T fetch_and(T v, std::memory_order o = std::memory_order_seq_cst) noexcept {
            before(op::fetch_and, bits, this);
            return base::fetch_and(v, o);
        }
        T exchange(T v, std::memory_order o = std::memory_order_seq_cst) noexcept {
            before(op::exchange, bits, this);
            return base::exchange(v, o);
        }
        bool compare_exchange_weak(T& e, T d, std::memory_order s, std::memory_order f) noexcept {
            before(op::cas, bits, this);
            return base::compare_exchange_weak(e, d, s, f);
        }
        bool compare_exchange_strong(T& e, T d, std::memory_order s, std::memory_order f) noexcept {
            before(op::cas, bits, this);
            return base::compare_exchange_strong(e, d, s, f);
        }
    };
    using memory_order = std::memory_order;
    static constexpr memory_order relaxed = std::memory_order_relaxed;
    static constexpr memory_order acquire = std::memory_order_acquire;
    static constexpr memory_order release = std::memory_order_release;
    static constexpr memory_order acq_rel = std::memory_order_acq_rel;
    static constexpr memory_order seq_cst = std::memory_order_seq_cst;
    static void fence(memory_order o) noexcept { std::atomic_thread_fence(o); }
};
static_assert(sizeof(hooked_atomics::atomic<std::uint32_t>) == 4);

// ---- a gate: one chosen operation blocks until the test opens it -----------------------------

// Armed with a predicate on (op, bits): the first thread whose operation matches blocks
// (inside the flush, for example between its move-down and its release) until `open()`.
struct gate {
    std::atomic<bool> armed{false};
    std::atomic<int> blocked{0};
    std::atomic<bool> opened{false};
    op which = op::exchange;
    int which_bits = 32;
    void arm(op o, int bits) {
        which = o;
        which_bits = bits;
        opened = false;
        blocked = 0;
        armed = true;
    }
    void maybe_block(op o, int bits) {
        if (o != which || bits != which_bits) return;
        bool expected = true;
        if (!armed.compare_exchange_strong(expected, false)) return;
        blocked.fetch_add(1);
        const auto deadline = std::chrono::steady_clock::now() + 20s; // bounded
        while (!opened.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    }
    void open() { opened = true; }
};
inline gate the_gate;
inline void gate_hook(op o, int bits, const void*) { the_gate.maybe_block(o, bits); }

// ---- a wait policy that stalls a thread that asked for it -----------------------------------

struct stall_wait {
    static constexpr bool serialized_host = false;
    static inline thread_local bool stall_next = false;
    static inline std::atomic<int> stalled{0};
    static inline std::atomic<bool> resume{false};
    static inline std::atomic<long> waits{0};
    static inline thread_local bool marked = false; // a thread whose waits are counted apart
    static inline std::atomic<long> marked_waits{0};
    template <class Word>
    static void wait(Word& word, std::uint32_t old) noexcept {
        waits.fetch_add(1);
        if (marked) marked_waits.fetch_add(1);
        if (stall_next) {
            stall_next = false;
            stalled.fetch_add(1);
            const auto deadline = std::chrono::steady_clock::now() + 20s;
            while (!resume.load() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
            return; // a spurious return
        }
        tracebuf::futex_wait::wait(word, old);
    }
    template <class Word>
    static void notify_all(Word& word) noexcept {
        tracebuf::futex_wait::notify_all(word);
    }
};

// ---- sinks ------------------------------------------------------------------------------

// Appends every flush to a shared byte vector; counts concurrent writers; holds while `hold`.
struct shared_log {
    std::mutex m;
    std::vector<unsigned char> bytes;
    std::vector<std::size_t> flush_sizes;
    std::atomic<int> inside{0};
    std::atomic<int> max_inside{0};
    std::atomic<int> entered{0};
    std::atomic<bool> hold{false};         // hold every flush while set (a 60 s net against a hung test)
    std::atomic<int> hold_until_inside{0}; // > 0: hold until this many writers are inside (or 2 s)
};

struct log_sink {
    shared_log* log;
    int write(const void* data, std::size_t size) noexcept {
        const int now = log->inside.fetch_add(1) + 1;
        int seen = log->max_inside.load();
        while (now > seen && !log->max_inside.compare_exchange_weak(seen, now)) {
        }
        log->entered.fetch_add(1);
        const auto hold_deadline = std::chrono::steady_clock::now() + 60s;
        while (log->hold.load() && std::chrono::steady_clock::now() < hold_deadline) std::this_thread::sleep_for(1ms);
        if (const int want = log->hold_until_inside.load(); want > 0) {
            const auto deadline = std::chrono::steady_clock::now() + 2s;
            while (log->inside.load() < want && std::chrono::steady_clock::now() < deadline)
                std::this_thread::sleep_for(1ms);
        }
        {
            std::lock_guard<std::mutex> l(log->m);
            const auto* b = static_cast<const unsigned char*>(data);
            log->bytes.insert(log->bytes.end(), b, b + size);
            log->flush_sizes.push_back(size);
        }
        log->inside.fetch_sub(1);
        return 0;
    }
};

// A record whose payload is [u32 owner][u32 seq][fill derived from both], so that any
// overwrite is detectable.
inline constexpr std::uint16_t rec_tag = 0x5256; // "RV"

inline void write_rec(unsigned char* at, std::size_t footprint, std::uint32_t owner, std::uint32_t seq) {
    const std::size_t payload = footprint - tracebuf::record_header_size;
    auto* p = static_cast<unsigned char*>(tracebuf::write_record_header(at, rec_tag, payload));
    std::memcpy(p, &owner, 4);
    std::memcpy(p + 4, &seq, 4);
    for (std::size_t i = 8; i < payload; ++i) p[i] = static_cast<unsigned char>(owner * 31 + seq * 7 + i);
}

struct rec_seen {
    std::uint32_t owner, seq;
    bool intact;
};

struct scan_summary {
    bool ok = false;
    std::size_t valid_bytes = 0;
    std::vector<rec_seen> recs;
    std::size_t padding = 0;
    int bad = 0; // records whose fill is wrong
};

inline scan_summary summarize(const std::vector<unsigned char>& bytes, std::size_t max_record) {
    scan_summary s;
    const tracebuf::scan_result r = tracebuf::scan_records(
        bytes.data(), bytes.size(), max_record,
        [&](std::uint16_t tag, const unsigned char* payload, std::size_t n, std::size_t) {
            if (tag == tracebuf::tags::padding) {
                ++s.padding;
                return;
            }
            if (tag != rec_tag || n < 8) {
                ++s.bad;
                return;
            }
            rec_seen rec{};
            std::memcpy(&rec.owner, payload, 4);
            std::memcpy(&rec.seq, payload + 4, 4);
            rec.intact = true;
            for (std::size_t i = 8; i < n; ++i)
                if (payload[i] != static_cast<unsigned char>(rec.owner * 31 + rec.seq * 7 + i)) rec.intact = false;
            if (!rec.intact) ++s.bad;
            s.recs.push_back(rec);
        });
    s.ok = r.ok();
    s.valid_bytes = r.valid_bytes;
    return s;
}

// Runs `f` on a thread; returns whether it finished within `limit`. On timeout the thread is
// detached (it is deadlocked: the caller must keep everything it touches alive: leak it).
template <class F>
bool finishes_within(std::chrono::milliseconds limit, F f) {
    auto done = std::make_shared<std::atomic<bool>>(false);
    std::thread t([done, f]() mutable {
        f();
        done->store(true);
    });
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done->load() && std::chrono::steady_clock::now() < deadline) std::this_thread::sleep_for(1ms);
    if (done->load()) {
        t.join();
        return true;
    }
    t.detach();
    return false;
}

template <class Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = 5000ms) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

} // namespace schedule_control

#endif
