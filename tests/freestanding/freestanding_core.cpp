// Compiled with -ffreestanding -fno-exceptions -fno-rtti -fno-threadsafe-statics -nostdlib
// by check_freestanding.cmake, which then fails if `nm -u` of the object lists anything but
// memcpy and memset. It instantiates every code path of the core: the parallel protocol
// (with a spin-only wait policy, the simplest freestanding one), with idle producers, chunk
// mode and double buffering, both writers, and the serialized host, with the atomics policy
// given by TRACEBUF_FREESTANDING_STD_ATOMICS; and the HEADER, SUMMARY and MMAP writing both
// tracers share (memtrace.hpp).
#include <tracebuf/chunk_writer.hpp>
#include <tracebuf/detail/cpu_relax.hpp>
#include <tracebuf/memtrace.hpp>
#include <tracebuf/policies.hpp>
#include <tracebuf/reader.hpp>
#include <tracebuf/record_writer.hpp>
#include <tracebuf/sink_callback.hpp>
#include <tracebuf/trace_buffer.hpp>
#include <tracebuf/wait_serialized.hpp>

#if defined(TRACEBUF_FREESTANDING_STD_ATOMICS)
#include <tracebuf/atomics_std.hpp>
using freestanding_atomics = tracebuf::std_atomics;
#else
#include <tracebuf/atomics_boost.hpp>
using freestanding_atomics = tracebuf::boost_atomics;
#endif

namespace {

struct spin_only_wait {
    static constexpr bool serialized_host = false;
    template <class Word>
    static void wait(Word& word, unsigned old) noexcept {
        while (word.load() == old) tracebuf::detail::cpu_relax();
    }
    template <class Word>
    static void notify_all(Word&) noexcept {}
};

struct parallel_traits : tracebuf::traits_base {
    using atomics = freestanding_atomics;
    using wait = spin_only_wait;
};

struct valgrind_traits : tracebuf::traits_base {
    using atomics = freestanding_atomics;
    using wait = tracebuf::serialized_host_wait;
};

// Idle producers with the default (symmetric) idle fence.
struct idle_traits : parallel_traits {
    static constexpr unsigned idle_slots = 4;
};

using parallel_buffer = tracebuf::trace_buffer<parallel_traits, tracebuf::callback_sink>;
using idle_buffer = tracebuf::trace_buffer<idle_traits, tracebuf::callback_sink>;
using valgrind_buffer = tracebuf::trace_buffer<valgrind_traits, tracebuf::callback_sink>;

template <class Buffer>
int exercise(void* memory, unsigned long bytes, tracebuf::callback_sink::function fn) {
    Buffer buf(memory, bytes, tracebuf::callback_sink(fn, nullptr));
    tracebuf::producer p;
    int failures = 0;
    failures += buf.register_thread(p) != tracebuf::errc::ok;
    unsigned long long value = 42;
    failures += buf.write_record(p, 0x4d41, &value, sizeof value) != tracebuf::errc::ok;
    unsigned char* batch = buf.reserve(p, 64);
    if (batch != nullptr) tracebuf::write_padding(batch, 64, 4096);
    const auto pos = buf.reserve_fast(8);
    if (pos + 8 > buf.layout().capacity) buf.reserve_slow(p, pos, 8);
    failures += buf.flush(p) != tracebuf::errc::ok;
    failures += buf.go_offline(p) != tracebuf::errc::ok;
    failures += buf.go_online(p) != tracebuf::errc::ok;
    failures += buf.unregister_thread(p) != tracebuf::errc::ok;
    failures += buf.drain() != tracebuf::errc::ok;
    failures += !tracebuf::scan_records(memory, 16, 4096).ok();
    return failures + static_cast<int>(buf.stats().flushes);
}

// Chunk mode through idle and offline periods, into a double-buffered buffer.
int exercise_chunks(void* memory, unsigned long bytes, tracebuf::callback_sink::function fn) {
    idle_buffer buf(memory, bytes, tracebuf::callback_sink(fn, nullptr), tracebuf::buffering::double_buffer);
    tracebuf::chunk_writer<idle_buffer> w(buf, 4096, 1, 2);
    int failures = 0;
    failures += w.register_thread() != tracebuf::errc::ok;
    unsigned long long value = 42;
    failures += w.write_record(0x4d41, &value, sizeof value) != tracebuf::errc::ok;
    failures += w.idle() != tracebuf::errc::ok;
    failures += w.busy() != tracebuf::errc::ok;
    failures += w.write_record(0x4d41, &value, sizeof value) != tracebuf::errc::ok;
    failures += w.idle() != tracebuf::errc::ok;
    failures += w.go_offline() != tracebuf::errc::ok; // from idle
    failures += w.go_online() != tracebuf::errc::ok;
    failures += w.flush() != tracebuf::errc::ok;
    failures += w.unregister_thread() != tracebuf::errc::ok;
    failures += buf.drain() != tracebuf::errc::ok;
    return failures + static_cast<int>(w.chunks());
}

// The record writer, the misuse paths (a stranger's JIT claim, a bad size) included.
template <class Buffer>
int exercise_record_writer(void* memory, unsigned long bytes, tracebuf::callback_sink::function fn) {
    Buffer buf(memory, bytes, tracebuf::callback_sink(fn, nullptr), tracebuf::memory_contents::zeroed);
    tracebuf::record_writer<Buffer> w(buf);
    int failures = 0;
    failures += w.register_thread() != tracebuf::errc::ok;
    unsigned long long value = 42;
    failures += w.write_record(0x4d41, &value, sizeof value) != tracebuf::errc::ok;
    tracebuf::producer stranger;
    const auto pos = buf.reserve_fast(8);
    failures += buf.reserve_slow(stranger, pos, 8) != tracebuf::invalid_position;
    failures += buf.reserve_slow(stranger, buf.reserve_fast(12), 12) != tracebuf::invalid_position;
    failures += w.go_offline() != tracebuf::errc::ok;
    failures += w.unregister_thread() != tracebuf::errc::ok;
    failures += buf.drain() != tracebuf::errc::ok;
    return failures;
}

// The records the tracers write at start and exit, as the Valgrind tool writes them.
int exercise_memtrace_records(void* memory, unsigned long bytes, tracebuf::callback_sink::function fn) {
    valgrind_buffer buf(memory, bytes, tracebuf::callback_sink(fn, nullptr));
    std::uint8_t id[16] = {};
    tracebuf::memtrace::mix_trace_id(id, bytes, reinterpret_cast<unsigned long>(memory));
    int failures = tracebuf::memtrace::write_header(buf, tracebuf::memtrace::em_x86_64, id) != tracebuf::errc::ok;
    tracebuf::producer p;
    failures += buf.register_thread(p) != tracebuf::errc::ok;
    const tracebuf::memtrace::mmap_payload m{0, 0x400000, 0x401000, tracebuf::memtrace::mmap_exec, 0, 1, 2};
    void* mmap_at = buf.reserve_record(p, tracebuf::memtrace::mmap, tracebuf::memtrace::mmap_payload_size(7));
    if (mmap_at != nullptr) tracebuf::memtrace::put_mmap_payload(mmap_at, m, "/bin/ls", 7);
    failures += !tracebuf::memtrace::write_summary(
        [&](std::size_t n) { return buf.reserve(p, n); }, 300,
        [](std::uint32_t i) { return tracebuf::memtrace::summary_entry{i, 1000 + i, 5}; });
    failures += buf.unregister_thread(p) != tracebuf::errc::ok;
    return failures + (buf.drain() != tracebuf::errc::ok);
}

} // namespace

// Per-thread handles in static storage, as a Valgrind tool keeps them: constant-initialised
// (Valgrind never runs .init_array; the check also fails if the object has one).
tracebuf::producer thread_handles[16];

extern "C" int tracebuf_freestanding_parallel(void* memory, unsigned long bytes,
                                              tracebuf::callback_sink::function fn) {
    return exercise<parallel_buffer>(memory, bytes, fn) + exercise_chunks(memory, bytes, fn) +
           exercise_record_writer<idle_buffer>(memory, bytes, fn);
}

extern "C" int tracebuf_freestanding_serialized(void* memory, unsigned long bytes,
                                                tracebuf::callback_sink::function fn) {
    return exercise<valgrind_buffer>(memory, bytes, fn) + exercise_record_writer<valgrind_buffer>(memory, bytes, fn) +
           exercise_memtrace_records(memory, bytes, fn) +
           static_cast<int>(thread_handles[3].state());
}
