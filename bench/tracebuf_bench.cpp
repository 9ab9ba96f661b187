// tracebuf_bench: every strategy a tracer author would pick, measured in one run, so that
// their ratios hold although this machine's speed drifts. bench/README.md says how to run
// it and how bench/report.py turns its JSON into docs/bench/.
//
// Throughput: N threads (threads:N in the name) write R-byte records (16B, 24B) as fast as
// they can. Strategies, the label first in the name:
//   record     tracebuf, one reservation per record (the seed's design)
//   batch8     tracebuf, one reservation for 8 records (one basic block)
//   chunk      tracebuf chunk mode: one reservation per 64 KiB chunk, plain stores inside;
//              without zero_after_flush (the chunk writer writes every byte of a chunk)
//   chunk_zeroed  the same with the default traits (each flush zeroes the buffer)
//   ordered    tracebuf ordered mode: chunk mode plus an ordered clock read (lfence; rdtsc)
//              and a stamp per record, double-buffered, each buffer merged by stamp (the
//              merge counted: it runs on the flusher); big buffers only
//   private_mix, chunk_mix, ordered_mix   a traced program's record mix (write_mix: INSN_EXEC,
//              LOAD, STORE as xz under the QEMU tracer), stamped as the tracer stamps it: an
//              ordered read per load only; big buffers
//   fetch_add  a bare shared fetch_add + stores, wrapping around: the floor of `record`
//   mutex      a shared buffer under std::mutex (what QEMU's contrib plugins do)
//   moodycamel moodycamel::ConcurrentQueue with producer tokens, no consumer
//   private    private per-thread bump buffers: no sharing, no global order (upper bound)
// Buffers: `l2` = 256 KiB (cache-resident), `big` = 128 MiB; tracebuf's full buffers go to a
// sink that discards them, so that the disk does not hide the buffer's cost.
//
// Also:
//   syscall/tracebuf, syscall/urcu_qsbr   go_offline+go_online against rcu_thread_offline+
//                                          rcu_thread_online (inlined, _LGPL_SOURCE)
//   stall/record/64MiB, stall/double/64MiB (and 256MiB)
//                                          time a thread spends in the slow path with a file
//                                          sink: parked (p50, p90, p99, max in microseconds)
//                                          and leading a flush (p50), for the inline flush
//                                          and the double-buffered one (2 x 64 MiB)
//   e2e/tracebuf/4MiB, e2e/write_loop     bytes per second into a real file, against write(2)
//                                          of the same bytes in 4 MiB chunks
//   e2e/file_window[_double]/4MiB          the same writers into a file window (file_window.hpp):
//                                          no copy, the buffer is the file
//   pages/reused, pages/fresh_file, pages/fresh_anon
//                                          plain stores into memory in use against fresh pages
//                                          (what the file window's writers store into)
#include <benchmark/benchmark.h>

#include <tracebuf/file_window.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <tracebuf/memtrace.hpp>
#include <tracebuf/ordered_merge.hpp>
#include <tracebuf/trace_file.hpp>
#include <tracebuf/tracebuf.hpp>

#if defined(TRACEBUF_BENCH_MOODYCAMEL)
#include <concurrentqueue/concurrentqueue.h>
#endif
#if defined(TRACEBUF_BENCH_URCU)
#define _LGPL_SOURCE
#include <urcu-qsbr.h>
#endif

namespace {

constexpr std::size_t kib = 1024;
constexpr std::size_t mib = 1024 * kib;
constexpr std::size_t l2_bytes = 256 * kib;
constexpr std::size_t big_bytes = 128 * mib;

// Threads are online only while they write a stretch of records: Google Benchmark's
// threads wait for each other at the start and end of a run, a wait outside tracebuf that
// a flush would otherwise sit through (the host contract). Every strategy runs in the same
// stretches, so the comparison stays fair. A stretch is long enough that its online/offline
// pair (two RMWs on a shared word) stays below 1% of it even for the fastest strategies.
constexpr std::int64_t stretch = 16384;

int discard(void*, const void*, std::size_t) { return 0; }

using buffer_type = tracebuf::trace_buffer<tracebuf::default_traits, tracebuf::callback_sink>;

// A record's payload: a sequence number, then filler. R is the record's whole size.
template <std::size_t R>
struct payload {
    static constexpr std::size_t size = R - tracebuf::record_header_size;
    unsigned char bytes[size] = {};
    void set(std::uint32_t seq) { std::memcpy(bytes, &seq, sizeof seq); }
};
static_assert(tracebuf::record_footprint(payload<16>::size) == 16);
static_assert(tracebuf::record_footprint(payload<24>::size) == 24);

// ---- tracebuf -------------------------------------------------------------------------------

// The buffer a run's threads share, one per buffer type; its full buffers are discarded.
template <class Buffer>
struct shared {
    static inline std::vector<std::uint64_t> memory;
    static inline std::unique_ptr<Buffer> buffer;

    template <std::size_t Bytes>
    static void setup(const benchmark::State&) {
        memory.assign(Bytes / 8, 0);
        buffer = std::make_unique<Buffer>(memory.data(), Bytes, tracebuf::callback_sink(&discard, nullptr), tracebuf::memory_contents::zeroed);
    }
    static void teardown(const benchmark::State&) {
        buffer.reset();
        memory = {};
    }
};
using tb = shared<buffer_type>;

class tracebuf_writer {
public:
    tracebuf_writer() {
        tb::buffer->register_thread(p_);
        tb::buffer->go_offline(p_);
    }
    ~tracebuf_writer() { tb::buffer->unregister_thread(p_); }
    tracebuf_writer(const tracebuf_writer&) = delete;
    tracebuf_writer& operator=(const tracebuf_writer&) = delete;
    tracebuf::producer& handle() { return p_; }

protected:
    tracebuf::producer p_;
};

template <std::size_t R>
struct record_strategy : tracebuf_writer {
    payload<R> rec;
    void write_stretch(std::uint32_t seq) {
        buffer_type& buf = *tb::buffer;
        buf.go_online(p_);
        for (std::int64_t i = 0; i < stretch; ++i) {
            void* body = buf.reserve_record(p_, tracebuf::memtrace::load, payload<R>::size);
            rec.set(seq++);
            std::memcpy(body, rec.bytes, payload<R>::size);
        }
        buf.go_offline(p_);
    }
};

template <std::size_t R>
struct batch8_strategy : tracebuf_writer {
    payload<R> rec;
    void write_stretch(std::uint32_t seq) {
        buffer_type& buf = *tb::buffer;
        buf.go_online(p_);
        for (std::int64_t i = 0; i < stretch; i += 8) {
            unsigned char* at = buf.reserve(p_, 8 * R);
            for (int k = 0; k < 8; ++k) {
                rec.set(seq++);
                at = static_cast<unsigned char*>(
                    tracebuf::put_record(at, tracebuf::memtrace::load, rec.bytes, payload<R>::size));
            }
        }
        buf.go_offline(p_);
    }
};

// Chunk mode: the same stretches, through a chunk_writer. Its own buffer type: without
// zero_after_flush, which costs a memset of each flushed buffer while the other threads wait
// (about a fifth of chunk mode's throughput here); chunk_zeroed keeps it.
constexpr std::size_t chunk_bytes = 64 * kib;

struct chunk_traits : tracebuf::default_traits {
    static constexpr bool zero_after_flush = false;
};
using chunk_buffer_type = tracebuf::trace_buffer<chunk_traits, tracebuf::callback_sink>;

// With `Callbacks`, driven as the QEMU plugin drives it: busy() before each record and
// idle() after, so that a flush never waits for a thread the host stopped between callbacks.
template <class Buffer, std::size_t R, bool Callbacks = false, template <class> class Writer = tracebuf::chunk_writer,
          class Shared = shared<Buffer>>
struct basic_chunk_strategy {
    Writer<Buffer> writer{*Shared::buffer, chunk_bytes, 1, 1};
    payload<R> rec;
    basic_chunk_strategy() {
        writer.register_thread();
        writer.go_offline();
    }
    ~basic_chunk_strategy() { writer.unregister_thread(); }
    void write_stretch(std::uint32_t seq) {
        writer.go_online();
        if constexpr (Callbacks) writer.idle();
        for (std::int64_t i = 0; i < stretch; ++i) {
            if constexpr (Callbacks) writer.busy();
            void* body = writer.reserve_record(tracebuf::memtrace::load, payload<R>::size, tracebuf::stamp::ordered);
            rec.set(seq++);
            std::memcpy(body, rec.bytes, payload<R>::size);
            if constexpr (Callbacks) writer.idle();
        }
        writer.go_offline();
    }
};

template <std::size_t R>
using chunk_strategy = basic_chunk_strategy<chunk_buffer_type, R>;
template <std::size_t R>
using chunk_zeroed_strategy = basic_chunk_strategy<buffer_type, R>;

// The callback-driven strategy with each idle fence: membarrier_fence (default_traits) makes
// idle() a plain store, symmetric_fence an exchange; either way busy() is one.
template <class Fence>
struct callback_traits : chunk_traits {
    static constexpr std::uint32_t idle_slots = 64;
    using idle_fence = Fence;
};
template <class Fence>
using callback_buffer_type = tracebuf::trace_buffer<callback_traits<Fence>, tracebuf::callback_sink>;
using callback_membarrier_buffer = callback_buffer_type<tracebuf::membarrier_fence>;
using callback_seqcst_buffer = callback_buffer_type<tracebuf::symmetric_fence>;

template <std::size_t R>
using chunk_callback_strategy = basic_chunk_strategy<callback_membarrier_buffer, R, true>;
template <std::size_t R>
using chunk_callback_seqcst_strategy = basic_chunk_strategy<callback_seqcst_buffer, R, true>;

// Ordered mode as the QEMU tracer runs it: chunks with a stamp per record (every one an
// ordered read: lfence; rdtsc, as for a load - the costlier kind), double-buffered, each
// flushed buffer merged by stamp into a scratch buffer before the (discarding) sink.
struct ordered_traits : chunk_traits {};
using ordered_buffer_type = tracebuf::trace_buffer<ordered_traits, tracebuf::merging_sink<tracebuf::callback_sink>>;
struct shared_ordered {
    static inline std::vector<std::uint64_t> memory, scratch;
    static inline std::unique_ptr<ordered_buffer_type> buffer;
    template <std::size_t Bytes>
    static void setup(const benchmark::State&) {
        memory.assign(2 * Bytes / 8, 0);
        scratch.assign(Bytes / 8, 0);
        buffer = std::make_unique<ordered_buffer_type>(
            memory.data(), 2 * Bytes,
            tracebuf::merging_sink<tracebuf::callback_sink>(tracebuf::callback_sink(&discard, nullptr), scratch.data(),
                                                            Bytes),
            tracebuf::buffering::double_buffer, tracebuf::memory_contents::zeroed);
    }
    static void teardown(const benchmark::State&) {
        buffer.reset();
        memory = {};
        scratch = {};
    }
};
template <std::size_t R>
using ordered_strategy = basic_chunk_strategy<ordered_buffer_type, R, false, tracebuf::ordered_writer, shared_ordered>;

// The record mix of a traced program, as the QEMU tracer writes it: xz -T4 on
// bench/qemu_bench.sh's input, traced in record mode, holds 68.7% INSN_EXEC records (8 bytes),
// 21.7% LOADs and 9.4% STOREs (24 bytes each). Here, per 32 instructions: 32 INSN_EXEC, 10 LOAD,
// 4 STORE (69.6%, 21.7%, 8.7%); 46 records, 592 bytes. Stamped as the tracer stamps them: an
// ordered read for a load, none for the others (they inherit the thread's last stamp).
constexpr std::uint32_t mix_load_slots = 0x12491249u;  // 10 of the 32 instructions load
constexpr std::uint32_t mix_store_slots = 0x20202020u; // 4 store
constexpr std::size_t mix_records = 46, mix_bytes = 592;
static_assert(__builtin_popcount(mix_load_slots) == 10 && __builtin_popcount(mix_store_slots) == 4);

// Calls put(tag, payload bytes, stamp) for `count` records of the mix, from instruction `insn`
// on (kept across stretches, with the step within the instruction).
template <class Put>
void write_mix(std::int64_t count, std::uint32_t& insn, std::uint32_t& step, Put&& put) {
    namespace mt = tracebuf::memtrace;
    for (std::int64_t i = 0; i < count; ++i) {
        const std::uint32_t slot = insn % 32;
        if (step == 0) {
            put(mt::insn_exec, 4, tracebuf::stamp::inherit);
            step = (mix_load_slots >> slot & 1) ? 1 : (mix_store_slots >> slot & 1) ? 2
                                                                                    : 3;
        } else if (step == 1) {
            put(mt::load, 20, tracebuf::stamp::ordered);
            step = (mix_store_slots >> slot & 1) ? 2 : 3;
        } else {
            put(mt::store, 20, tracebuf::stamp::inherit);
            step = 3;
        }
        if (step == 3) {
            step = 0;
            ++insn;
        }
    }
}

// The mix through a chunk writer or an ordered writer (the same calls; chunk mode ignores
// the stamps).
template <class Buffer, template <class> class Writer, class Shared>
struct basic_mix_strategy {
    Writer<Buffer> writer{*Shared::buffer, chunk_bytes, 1, 1};
    unsigned char body[20] = {};
    std::uint32_t insn = 0, step = 0;
    basic_mix_strategy() {
        writer.register_thread();
        writer.go_offline();
    }
    ~basic_mix_strategy() { writer.unregister_thread(); }
    void write_stretch(std::uint32_t) {
        writer.go_online();
        write_mix(stretch, insn, step, [&](std::uint16_t tag, std::size_t n, tracebuf::stamp how) {
            std::memcpy(body, &insn, sizeof insn);
            writer.write_record(tag, body, n, how);
        });
        writer.go_offline();
    }
};
template <std::size_t>
using chunk_mix_strategy = basic_mix_strategy<chunk_buffer_type, tracebuf::chunk_writer, shared<chunk_buffer_type>>;
template <std::size_t>
using ordered_mix_strategy = basic_mix_strategy<ordered_buffer_type, tracebuf::ordered_writer, shared_ordered>;

// ---- peers ----------------------------------------------------------------------------------

struct shared_plain {
    std::vector<std::uint64_t> memory;
    std::size_t capacity = 0;
    alignas(64) std::atomic<std::uint64_t> head{0};
    alignas(64) std::mutex mutex;
    std::size_t locked_pos = 0;
};
shared_plain plain;

template <std::size_t Bytes>
void plain_setup(const benchmark::State&) {
    plain.memory.assign(Bytes / 8, 0);
    plain.capacity = Bytes;
    plain.head = 0;
    plain.locked_pos = 0;
}
void plain_teardown(const benchmark::State&) { plain.memory = {}; }

template <std::size_t R>
struct fetch_add_strategy {
    payload<R> rec;
    void write_stretch(std::uint32_t seq) {
        auto* data = reinterpret_cast<unsigned char*>(plain.memory.data());
        const std::uint64_t mask = plain.capacity - 1; // power of two
        for (std::int64_t i = 0; i < stretch; ++i) {
            const std::uint64_t pos = plain.head.fetch_add(R, std::memory_order_relaxed) & mask;
            rec.set(seq++);
            tracebuf::put_record(data + pos, tracebuf::memtrace::load, rec.bytes, payload<R>::size);
        }
    }
};

template <std::size_t R>
struct mutex_strategy {
    payload<R> rec;
    void write_stretch(std::uint32_t seq) {
        auto* data = reinterpret_cast<unsigned char*>(plain.memory.data());
        for (std::int64_t i = 0; i < stretch; ++i) {
            rec.set(seq++);
            std::lock_guard<std::mutex> lock(plain.mutex);
            if (plain.locked_pos + R > plain.capacity) plain.locked_pos = 0; // "flush"
            tracebuf::put_record(data + plain.locked_pos, tracebuf::memtrace::load, rec.bytes,
                                 payload<R>::size);
            plain.locked_pos += R;
        }
    }
};

template <std::size_t R>
struct private_strategy {
    std::vector<std::uint64_t> memory;
    std::size_t capacity = 0, pos = 0;
    payload<R> rec;
    explicit private_strategy(std::size_t bytes) : memory(bytes / 8 + R / 8, 0), capacity(bytes) {}
    void write_stretch(std::uint32_t seq) {
        auto* data = reinterpret_cast<unsigned char*>(memory.data());
        for (std::int64_t i = 0; i < stretch; ++i) {
            if (pos + R > capacity) pos = 0;
            rec.set(seq++);
            tracebuf::put_record(data + pos, tracebuf::memtrace::load, rec.bytes, payload<R>::size);
            pos += R;
        }
        benchmark::DoNotOptimize(data);
    }
};

// The mix into a private per-thread bump buffer.
struct private_mix_strategy {
    std::vector<std::uint64_t> memory;
    std::size_t capacity = 0, pos = 0;
    unsigned char body[20] = {};
    std::uint32_t insn = 0, step = 0;
    explicit private_mix_strategy(std::size_t bytes) : memory(bytes / 8 + 3, 0), capacity(bytes) {}
    void write_stretch(std::uint32_t) {
        auto* data = reinterpret_cast<unsigned char*>(memory.data());
        write_mix(stretch, insn, step, [&](std::uint16_t tag, std::size_t n, tracebuf::stamp) {
            if (pos + 24 > capacity) pos = 0;
            std::memcpy(body, &insn, sizeof insn);
            tracebuf::put_record(data + pos, tag, body, n);
            pos += tracebuf::record_footprint(n);
        });
        benchmark::DoNotOptimize(data);
    }
};

#if defined(TRACEBUF_BENCH_MOODYCAMEL)
template <std::size_t R>
using queue_type = moodycamel::ConcurrentQueue<std::array<unsigned char, R>>;
std::shared_ptr<void> queue_holder;

template <std::size_t R>
void queue_setup(const benchmark::State&) {
    queue_holder = std::make_shared<queue_type<R>>();
}
void queue_teardown(const benchmark::State&) { queue_holder.reset(); }

template <std::size_t R>
struct moodycamel_strategy {
    queue_type<R>& queue = *static_cast<queue_type<R>*>(queue_holder.get());
    moodycamel::ProducerToken token{queue};
    std::array<unsigned char, R> rec{};
    void write_stretch(std::uint32_t seq) {
        for (std::int64_t i = 0; i < stretch; ++i) {
            tracebuf::record_header h{tracebuf::memtrace::load, static_cast<std::uint16_t>(R - 4)};
            std::memcpy(rec.data(), &h, sizeof h);
            std::memcpy(rec.data() + 4, &seq, sizeof seq);
            ++seq;
            queue.enqueue(token, rec);
        }
    }
};
#endif

// ---- the throughput benchmark ---------------------------------------------------------------

template <class Strategy>
void run_throughput(benchmark::State& state, Strategy& s, std::size_t record_bytes) {
    std::uint32_t seq = 0;
    while (state.KeepRunningBatch(stretch)) {
        s.write_stretch(seq);
        seq += stretch;
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(record_bytes));
}

template <template <std::size_t> class Strategy, std::size_t R>
void throughput(benchmark::State& state) {
    Strategy<R> s;
    run_throughput(state, s, R);
}

template <std::size_t R, std::size_t Bytes>
void throughput_private(benchmark::State& state) {
    private_strategy<R> s(Bytes / static_cast<std::size_t>(state.threads()));
    run_throughput(state, s, R);
}

// The mix: items are records, bytes the mix's average (592 bytes per 46 records).
template <template <std::size_t> class Strategy>
void throughput_mix(benchmark::State& state) {
    Strategy<0> s;
    run_throughput(state, s, 0);
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(mix_bytes) / static_cast<std::int64_t>(mix_records));
}
template <std::size_t Bytes>
void throughput_private_mix(benchmark::State& state) {
    private_mix_strategy s(Bytes / static_cast<std::size_t>(state.threads()));
    run_throughput(state, s, 0);
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(mix_bytes) / static_cast<std::int64_t>(mix_records));
}

void threads_1_to_8(benchmark::internal::Benchmark* b) {
    b->Threads(1)->Threads(2)->Threads(4)->Threads(8)->UseRealTime();
}

// ---- syscall hooks --------------------------------------------------------------------------

void syscall_tracebuf(benchmark::State& state) {
    tracebuf_writer w;
    buffer_type& buf = *tb::buffer;
    tracebuf::producer& p = w.handle();
    buf.go_online(p);
    for (auto _ : state) {
        buf.go_offline(p);
        buf.go_online(p);
    }
    buf.go_offline(p);
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

#if defined(TRACEBUF_BENCH_URCU)
void syscall_urcu_qsbr(benchmark::State& state) {
    rcu_register_thread();
    for (auto _ : state) {
        rcu_thread_offline();
        rcu_thread_online();
    }
    rcu_unregister_thread();
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}
#endif

// ---- flush stall and end-to-end, with a real file -------------------------------------------

// A file on disk, rewritten in place from the start every 1 GiB: the page cache absorbs the
// writes, as it does for any trace smaller than the kernel's dirty limit (20% of RAM here),
// instead of the disk's writeback rate - which depends on what earlier runs left dirty -
// deciding every number after the first few GiB.
constexpr std::uint64_t rewrite_span = 1024 * mib;

class rewinding_file_sink {
public:
    explicit rewinding_file_sink(int fd) : file_(fd) {}
    int write(const void* data, std::size_t size) noexcept {
        if (written_ + size > rewrite_span) {
            if (::lseek(file_.fd(), 0, SEEK_SET) < 0) return errno;
            written_ = 0;
        }
        written_ += size;
        return file_.write(data, size);
    }

private:
    tracebuf::fd_sink file_;
    std::uint64_t written_ = 0;
};
using file_buffer_type = tracebuf::trace_buffer<tracebuf::default_traits, rewinding_file_sink>;

struct file_run {
    std::string path;
    int fd = -1;
    std::vector<std::uint64_t> memory;
    std::unique_ptr<file_buffer_type> buffer;
    std::mutex samples_mutex;
    std::vector<double> samples_us;        // parked
    std::vector<double> held_samples_us;   // parked, less the time spent waiting for a CPU
    std::vector<double> leader_samples_us; // leading a flush
    std::atomic<int> finished{0};
};
file_run fr;

std::string scratch_path() {
    const char* dir = std::getenv("TRACEBUF_BENCH_DIR");
    return std::string(dir != nullptr ? dir : "/tmp") + "/tracebuf-bench-" + std::to_string(::getpid()) + ".trace";
}

// Bytes per buffer; Buffers 2 for double buffering.
template <std::size_t Bytes, int Buffers = 1>
void file_setup(const benchmark::State&) {
    fr.path = scratch_path();
    fr.fd = tracebuf::create_trace_file(fr.path.c_str()); // in /tmp: never through a link
    fr.memory.assign(Buffers * Bytes / 8, 0);
    fr.buffer = std::make_unique<file_buffer_type>(
        fr.memory.data(), Buffers * Bytes, rewinding_file_sink(fr.fd),
        Buffers == 2 ? tracebuf::buffering::double_buffer : tracebuf::buffering::single, tracebuf::memory_contents::zeroed);
    fr.samples_us.clear();
    fr.held_samples_us.clear();
    fr.leader_samples_us.clear();
    fr.finished = 0;
}
void file_teardown(const benchmark::State&) {
    fr.buffer->drain();
    fr.buffer.reset();
    ::close(fr.fd);
    ::unlink(fr.path.c_str());
    fr.memory = {};
}

double percentile(std::vector<double>& v, double q) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[std::min(v.size() - 1, static_cast<std::size_t>(q * static_cast<double>(v.size())))];
}

struct slow_path_samples {
    std::vector<double> parked, held, leading;
};

// How long the calling thread has waited on a run queue - runnable, but without a CPU - in
// nanoseconds (the second field of /proc/thread-self/schedstat); -1 if unknown. With more
// threads than cores, a parked thread that the flusher woke may wait that way for a time
// slice before it runs: scheduling, not the flush protocol.
double run_queue_wait_ns() {
    const int fd = ::open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -1;
    char text[128];
    const ssize_t n = ::read(fd, text, sizeof text - 1);
    ::close(fd);
    if (n <= 0) return -1;
    text[n] = '\0';
    char* end = nullptr;
    std::strtoull(text, &end, 10); // time on a CPU
    return static_cast<double>(std::strtoull(end, nullptr, 10));
}

// Writes 24-byte records through the JIT-style API so that the slow path can be timed. A
// claim at or below the capacity crossed the end (its thread leads the flush); one above
// it parks.
template <class Buffer>
void file_writer(benchmark::State& state, Buffer& buf, slow_path_samples* samples) {
    tracebuf::producer p;
    buf.register_thread(p);
    buf.go_offline(p);
    payload<24> rec;
    std::uint32_t seq = 0;
    const tracebuf::jit_layout layout = buf.layout();
    while (state.KeepRunningBatch(stretch)) {
        buf.go_online(p);
        for (std::int64_t i = 0; i < stretch; ++i) {
            std::uint64_t pos = buf.reserve_fast(24);
            if (pos + 24 > layout.capacity) {
                const bool leads = pos <= layout.capacity;
                const double waited0 = samples != nullptr && !leads ? run_queue_wait_ns() : 0;
                const auto t0 = std::chrono::steady_clock::now();
                pos = buf.reserve_slow(p, pos, 24);
                if (samples != nullptr) {
                    const double us =
                        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
                    (leads ? samples->leading : samples->parked).push_back(us);
                    if (!leads && waited0 >= 0)
                        samples->held.push_back(us - (run_queue_wait_ns() - waited0) / 1000);
                }
            }
            rec.set(seq++);
            tracebuf::put_record(*layout.current_data + pos, tracebuf::memtrace::load, rec.bytes, payload<24>::size);
        }
        buf.go_offline(p);
    }
    buf.unregister_thread(p);
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.SetBytesProcessed(state.iterations() * 24);
}

void stall(benchmark::State& state) {
    slow_path_samples mine;
    file_writer(state, *fr.buffer, &mine);
    {
        std::lock_guard<std::mutex> lock(fr.samples_mutex);
        fr.samples_us.insert(fr.samples_us.end(), mine.parked.begin(), mine.parked.end());
        fr.held_samples_us.insert(fr.held_samples_us.end(), mine.held.begin(), mine.held.end());
        fr.leader_samples_us.insert(fr.leader_samples_us.end(), mine.leading.begin(), mine.leading.end());
    }
    fr.finished.fetch_add(1);
    if (state.thread_index() == 0) {
        while (fr.finished.load() < state.threads()) std::this_thread::yield();
        std::lock_guard<std::mutex> lock(fr.samples_mutex);
        state.counters["parks"] = static_cast<double>(fr.samples_us.size());
        state.counters["flushes"] = static_cast<double>(fr.buffer->stats().flushes);
        state.counters["p50_us"] = percentile(fr.samples_us, 0.50);
        state.counters["p90_us"] = percentile(fr.samples_us, 0.90);
        state.counters["p99_us"] = percentile(fr.samples_us, 0.99);
        state.counters["held_p50_us"] = percentile(fr.held_samples_us, 0.50);
        state.counters["held_p99_us"] = percentile(fr.held_samples_us, 0.99);
        state.counters["max_us"] = fr.samples_us.empty() ? 0 : fr.samples_us.back();
        state.counters["lead_p50_us"] = percentile(fr.leader_samples_us, 0.50);
    }
}

void e2e_tracebuf(benchmark::State& state) { file_writer(state, *fr.buffer, nullptr); }

void e2e_write_loop(benchmark::State& state) {
    constexpr std::size_t chunk = 4 * mib;
    constexpr std::int64_t records_per_chunk = chunk / 24;
    std::vector<unsigned char> bytes(chunk, 0x5a);
    rewinding_file_sink sink(fr.fd);
    while (state.KeepRunningBatch(records_per_chunk)) {
        if (sink.write(bytes.data(), static_cast<std::size_t>(records_per_chunk) * 24) != 0) state.SkipWithError("write failed");
    }
    state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
    state.SetBytesProcessed(state.iterations() * 24);
}

// The same writers into a file window (file_window.hpp): the buffer is the file, a flush
// maps the next window instead of copying. The file grows for the whole run (a window cannot
// rewind), so runs are kept short; it is deleted at teardown.
using window_buffer_type = tracebuf::trace_buffer<tracebuf::default_traits, tracebuf::file_window_sink>;
struct window_run {
    std::string path;
    int fd = -1;
    std::unique_ptr<tracebuf::file_window> window;
    std::unique_ptr<window_buffer_type> buffer;
};
window_run wr;

template <std::size_t Bytes, int Buffers = 1>
void window_setup(const benchmark::State&) {
    wr.path = scratch_path();
    wr.fd = tracebuf::create_trace_file(wr.path.c_str(), O_RDWR); // a window needs read and write
    const tracebuf::buffering mode = Buffers == 2 ? tracebuf::buffering::double_buffer : tracebuf::buffering::single;
    wr.window = std::make_unique<tracebuf::file_window>(wr.fd, Buffers * Bytes, mode);
    wr.buffer = std::make_unique<window_buffer_type>(wr.window->memory(), wr.window->bytes(), wr.window->sink(), mode,
                                                     tracebuf::memory_contents::zeroed);
}
void window_teardown(const benchmark::State&) {
    wr.buffer->drain();
    wr.window->close();
    wr.buffer.reset();
    wr.window.reset();
    ::close(wr.fd);
    ::unlink(wr.path.c_str());
}

void e2e_file_window(benchmark::State& state) {
    if (!wr.window->mapped()) state.SkipWithError(wr.window->fallback_reason());
    file_writer(state, *wr.buffer, nullptr);
}

// ---- what a store costs in fresh pages ------------------------------------------------------

// The file window's threads store into page-cache pages nobody has touched yet; with write(2)
// they store into a buffer in use, and the kernel copies it into fresh pages in the write-out.
// One thread's plain 8-byte stores over 16 MiB per iteration: `reused`, the same anonymous
// 16 MiB each time; `fresh_file`, a new 16 MiB window of a file each time, allocated and
// populated writable first as file_window does (untimed); `fresh_anon`, a new anonymous
// mapping, populated (untimed).
enum class pages {
    reused,
    fresh_file,
    fresh_anon,
};

void store_pages(benchmark::State& state, pages kind) {
    constexpr std::size_t window = 16 * mib;
    const std::string path = scratch_path();
    const int fd = kind == pages::fresh_file ? tracebuf::create_trace_file(path.c_str(), O_RDWR) : -1;
    if (kind == pages::fresh_file && fd < 0) state.SkipWithError("cannot create the scratch file");
    void* reused = ::mmap(nullptr, window, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
    std::uint64_t windows = 0;
    for (auto _ : state) {
        state.PauseTiming();
        void* m = reused;
        if (kind == pages::fresh_file) {
            if (windows % 64 == 0) (void)::ftruncate(fd, 0); // keeps the file below 1 GiB
            const off_t at = static_cast<off_t>(windows % 64 * window);
            (void)::posix_fallocate(fd, at, static_cast<off_t>(window));
            m = ::mmap(nullptr, window, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, at);
            (void)::madvise(m, window, 23); // MADV_POPULATE_WRITE (Linux 5.14), as file_window
        } else if (kind == pages::fresh_anon) {
            m = ::mmap(nullptr, window, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
        }
        if (m == MAP_FAILED) {
            state.SkipWithError("mmap failed");
            break;
        }
        state.ResumeTiming();
        auto* words = static_cast<volatile std::uint64_t*>(m);
        for (std::size_t i = 0; i < window / 8; ++i) words[i] = i;
        state.PauseTiming();
        if (m != reused) ::munmap(m, window);
        ++windows;
        state.ResumeTiming();
    }
    ::munmap(reused, window);
    if (fd >= 0) {
        ::close(fd);
        ::unlink(path.c_str());
    }
    state.SetBytesProcessed(state.iterations() * static_cast<std::int64_t>(window));
}

} // namespace

// The registrations keep their builder chains as written (clang-format joins them).
// clang-format off
#define TRACEBUF_THROUGHPUT(strategy, R, buffer, bytes, setup, teardown)                       \
    BENCHMARK(throughput<strategy##_strategy, R>)                                              \
        ->Name(#strategy "/" #R "B/" #buffer)->Setup(setup<bytes>)->Teardown(teardown)         \
        ->Apply(threads_1_to_8)

#define TRACEBUF_THROUGHPUT_ALL(R, buffer, bytes)                                              \
    TRACEBUF_THROUGHPUT(record, R, buffer, bytes, tb::setup, tb::teardown);                    \
    TRACEBUF_THROUGHPUT(batch8, R, buffer, bytes, tb::setup, tb::teardown);                    \
    TRACEBUF_THROUGHPUT(chunk, R, buffer, bytes, shared<chunk_buffer_type>::setup,             \
                        shared<chunk_buffer_type>::teardown);                                  \
    TRACEBUF_THROUGHPUT(chunk_zeroed, R, buffer, bytes, tb::setup, tb::teardown);              \
    TRACEBUF_THROUGHPUT(fetch_add, R, buffer, bytes, plain_setup, plain_teardown);             \
    TRACEBUF_THROUGHPUT(mutex, R, buffer, bytes, plain_setup, plain_teardown);                 \
    BENCHMARK(throughput_private<R, bytes>)->Name("private/" #R "B/" #buffer)->Apply(threads_1_to_8)

TRACEBUF_THROUGHPUT_ALL(16, l2, l2_bytes);
TRACEBUF_THROUGHPUT_ALL(24, l2, l2_bytes);
TRACEBUF_THROUGHPUT_ALL(16, big, big_bytes);
TRACEBUF_THROUGHPUT_ALL(24, big, big_bytes);
TRACEBUF_THROUGHPUT(ordered, 16, big, big_bytes, shared_ordered::setup, shared_ordered::teardown);
TRACEBUF_THROUGHPUT(ordered, 24, big, big_bytes, shared_ordered::setup, shared_ordered::teardown);
BENCHMARK(throughput_mix<chunk_mix_strategy>)->Name("chunk_mix/mix/big")->Setup(shared<chunk_buffer_type>::setup<big_bytes>)
    ->Teardown(shared<chunk_buffer_type>::teardown)->Apply(threads_1_to_8);
BENCHMARK(throughput_mix<ordered_mix_strategy>)->Name("ordered_mix/mix/big")->Setup(shared_ordered::setup<big_bytes>)
    ->Teardown(shared_ordered::teardown)->Apply(threads_1_to_8);
BENCHMARK(throughput_private_mix<big_bytes>)->Name("private_mix/mix/big")->Apply(threads_1_to_8);
TRACEBUF_THROUGHPUT(chunk_callback, 24, big, big_bytes, shared<callback_membarrier_buffer>::setup,
                    shared<callback_membarrier_buffer>::teardown);
TRACEBUF_THROUGHPUT(chunk_callback_seqcst, 24, big, big_bytes, shared<callback_seqcst_buffer>::setup,
                    shared<callback_seqcst_buffer>::teardown);

#if defined(TRACEBUF_BENCH_MOODYCAMEL)
BENCHMARK(throughput<moodycamel_strategy, 16>)->Name("moodycamel/16B/unbounded")
    ->Setup(queue_setup<16>)->Teardown(queue_teardown)->Apply(threads_1_to_8);
BENCHMARK(throughput<moodycamel_strategy, 24>)->Name("moodycamel/24B/unbounded")
    ->Setup(queue_setup<24>)->Teardown(queue_teardown)->Apply(threads_1_to_8);
#endif

BENCHMARK(syscall_tracebuf)->Name("syscall/tracebuf")->Setup(tb::setup<l2_bytes>)
    ->Teardown(tb::teardown)->Apply(threads_1_to_8);
#if defined(TRACEBUF_BENCH_URCU)
BENCHMARK(syscall_urcu_qsbr)->Name("syscall/urcu_qsbr")->Apply(threads_1_to_8);
#endif

BENCHMARK(stall)->Name("stall/record/64MiB")->Setup(file_setup<64 * mib>)->Teardown(file_teardown)
    ->Apply(threads_1_to_8);
BENCHMARK(stall)->Name("stall/record/256MiB")->Setup(file_setup<256 * mib>)->Teardown(file_teardown)
    ->Apply(threads_1_to_8);
BENCHMARK(stall)->Name("stall/double/256MiB")->Setup(file_setup<256 * mib, 2>)->Teardown(file_teardown)
    ->Apply(threads_1_to_8);
BENCHMARK(stall)->Name("stall/double/64MiB")->Setup(file_setup<64 * mib, 2>)->Teardown(file_teardown)
    ->Apply(threads_1_to_8);
BENCHMARK(e2e_tracebuf)->Name("e2e/tracebuf/4MiB")->Setup(file_setup<4 * mib>)->Teardown(file_teardown)
    ->Threads(1)->Threads(2)->Threads(4)->UseRealTime();
BENCHMARK(e2e_write_loop)->Name("e2e/write_loop/4MiB")->Setup(file_setup<4 * mib>)->Teardown(file_teardown)
    ->Threads(1)->UseRealTime();

BENCHMARK(e2e_file_window)->Name("e2e/file_window/4MiB")->Setup(window_setup<4 * mib>)->Teardown(window_teardown)
    ->Threads(1)->Threads(2)->Threads(4)->UseRealTime()->MinTime(0.5);
BENCHMARK(e2e_file_window)->Name("e2e/file_window_double/4MiB")->Setup(window_setup<4 * mib, 2>)
    ->Teardown(window_teardown)->Threads(1)->Threads(2)->Threads(4)->UseRealTime()->MinTime(0.5);

BENCHMARK_CAPTURE(store_pages, reused, pages::reused)->Name("pages/reused/16MiB")->UseRealTime();
BENCHMARK_CAPTURE(store_pages, fresh_file, pages::fresh_file)->Name("pages/fresh_file/16MiB")->UseRealTime();
BENCHMARK_CAPTURE(store_pages, fresh_anon, pages::fresh_anon)->Name("pages/fresh_anon/16MiB")->UseRealTime();
// clang-format on
BENCHMARK_MAIN();
