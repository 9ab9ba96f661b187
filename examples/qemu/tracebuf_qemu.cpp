// libtracebuf_qemu.so: a QEMU 7.2 linux-user TCG plugin that writes one trace of every guest
// thread through tracebuf, in memtrace's record layouts.
//
//   qemu-x86_64 -plugin ./libtracebuf_qemu.so,out=trace.bin[,buffer=BYTES][,mode=MODE]
//               [,chunk=BYTES][,direct=1] PROGRAM ARGS
//
// MODE: record (default: one shared reservation per record, the finest global order),
// chunk (each thread fills chunks of chunk=BYTES, default 64 KiB, with plain stores: one
// shared reservation per chunk; order between threads by chunk), double (record, with a
// double-buffered flush: buffer=BYTES is split in two, one written out while the other
// fills), chunk-double (both). direct=1 writes the file with O_DIRECT, past the page cache
// (sink_direct.hpp; falls back to ordinary writes where the file system refuses it).
//
// Records: HEADER at start, with a random trace id; per thread a THREAD record (pid, tid,
// serial) in its slot; MMAP records (slot 0, the process's) for the segments of the main
// binary and its interpreter and for each file the guest maps; at translation an INSN
// descriptor (insn_seq from 1, pc, flags, bytes) per instruction; per executed
// instruction INSN_EXEC (insn_seq); per memory access LOAD or STORE (insn_seq, address,
// value read from the guest address after the access - racy for data another thread writes
// at the same moment); at exit SUMMARY records with the exact per-thread record counts the
// plugin kept privately, which `tracebuf-dump --verify` compares with the trace.
// Threads are attributed by a slot in the tag's high byte (tracebuf/memtrace.hpp); in chunk
// mode also by the chunk headers (pid, tid, sequence), which tracebuf-dump --verify checks
// against the slots.
//
// Mapping QEMU onto the host contract (docs/host-contract.md):
//   - a thread registers lazily, on its first callback (vcpu_init runs on the parent);
//   - every callback is bracketed by busy()/idle(): QEMU stops vCPU threads between
//     callbacks (start_exclusive at exit_group, fork, tb_flush; mmap_lock during
//     translation), and an idle thread never holds up a flush;
//   - syscall entry: go_offline; syscall return: go_online (a clone child gets no return:
//     it is a new thread and registers on its first callback; the final exit never returns);
//   - vcpu_exit: unregister; atexit (every other thread stopped by QEMU, idle or offline):
//     SUMMARY, a flush (which takes the idle threads over and, in chunk mode, pads their open
//     chunks), drain.
//   - fork: the child stops tracing at once (its first callback is the fork's return); it
//     never writes the parent's file.
// Plus a text summary (threads, records, bytes, flushes, time parked) in OUT.summary, for the
// tracebuf-qemu wrapper: some programs close stderr before they exit. Only beside a regular
// file: for a pipe or a device such as /dev/null there is no directory of the trace's own. When writing the trace
// fails (a full disk), the guest runs on; the file keeps the whole flushes before the error
// (sink_fd.hpp), and at exit the plugin reports the error and the bytes lost on stderr.
// OUT and OUT.summary are created 0600, never through a symbolic link (trace_file.hpp).
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <type_traits>
#include <vector>

#include <tracebuf/clock_check.hpp>
#include <tracebuf/file_window.hpp>
#include <tracebuf/memtrace.hpp>
#include <tracebuf/ordered_merge.hpp>
#include <tracebuf/sink_direct.hpp>
#include <tracebuf/trace_file.hpp>
#include <tracebuf/tracebuf.hpp>

#include "guest_mappings.hpp"
#include "qemu_plugin_api.h"
#include "qemu_records.hpp"

int qemu_plugin_version = 1; // declared (extern "C", exported) in qemu_plugin_api.h

namespace {

namespace mt = tracebuf::memtrace;

struct plugin_traits : tracebuf::default_traits {
    static constexpr std::uint32_t idle_slots = mt::slots; // one per thread slot
    static constexpr std::uint32_t max_threads = mt::slots;
};
// The output file, written through the page cache or, with direct=1, past it.
struct file_sink {
    bool direct;
    tracebuf::fd_sink buffered;
    tracebuf::direct_fd_sink unbuffered;
    int write(const void* data, std::size_t size) noexcept {
        return direct ? unbuffered.write(data, size) : buffered.write(data, size);
    }
    // After the first error the sink writes nothing more (sink_fd.hpp): the file holds the
    // trace up to the last whole flush, and these say how much is in it and how much is not.
    std::uint64_t written() const noexcept { return direct ? unbuffered.bytes_written() : buffered.bytes_written(); }
    std::uint64_t lost() const noexcept { return direct ? unbuffered.bytes_lost() : buffered.bytes_lost(); }
};
// Ordered mode merges each flush before it reaches the file (ordered_merge.hpp). Record and
// chunk mode write in place through a file window by default (file_window.hpp): the buffer
// is the file, and a crash keeps every record written.
struct plugin_sink {
    bool ordered;
    tracebuf::merging_sink<file_sink, mt::slots> merge;
    tracebuf::file_window* window; // null: write(2) (or O_DIRECT)
    // Ordered mode through the window: the merged records replace the raw ones in place.
    tracebuf::merging_file_window_sink<mt::slots>* ordered_window;
    int write(const void* data, std::size_t size) noexcept {
        if (ordered) return ordered_window != nullptr ? ordered_window->write(data, size) : merge.write(data, size);
        return window != nullptr ? window->sink().write(data, size) : merge.inner().write(data, size);
    }
    bool leaves_zeroed() const noexcept { return window != nullptr && window->mapped(); }
    // Where write() sends the bytes, and so which of them counts what the file holds: the
    // window (in place, or its write(2) after a fallback), else the file sink. Ordered mode
    // on a file that cannot be mapped merges into the file sink.
    bool writes_through_window() const noexcept { return ordered ? ordered_window != nullptr : window != nullptr; }
    const tracebuf::merge_stats& merge_stats() const noexcept {
        return ordered_window != nullptr ? ordered_window->stats() : merge.stats();
    }
};
using buffer_type = tracebuf::trace_buffer<plugin_traits, plugin_sink>;
using record_writer_type = tracebuf::record_writer<buffer_type>;
using chunk_writer_type = tracebuf::chunk_writer<buffer_type>;
using ordered_writer_type = tracebuf::ordered_writer<buffer_type>;

// The writers that fill chunks (and so have room()).
template <class Writer>
constexpr bool fills_chunks = !std::is_same_v<Writer, record_writer_type>;

// What every mode's threads share: the buffer, the thread table, the options.
struct plugin_state {
    std::string out_path;
    int fd = -1;
    pid_t pid = 0;
    bool direct = false;
    bool use_window = true;           // window=0: write(2) instead
    bool out_is_regular_file = false; // else no OUT.summary
    std::unique_ptr<tracebuf::file_window> window;
    std::unique_ptr<tracebuf::merging_file_window_sink<mt::slots>> ordered_window;
    std::unique_ptr<buffer_type> buffer;
    std::string mode = "record";
    tracebuf::buffering buffering = tracebuf::buffering::single;
    std::size_t chunk_bytes = 64 * 1024;
    std::atomic<bool> tracing{false};
    std::atomic<std::uint32_t> next_insn_seq{1}; // 0 is memtrace's "no instruction"
    std::atomic<bool> binary_mapped{false};      // its MMAP records are written
    std::mutex threads_mutex;                    // registration and exit only
    std::uint32_t thread_count = 0;              // threads that ever wrote
    std::uint32_t free_slots[mt::slots];
    unsigned free_count = 0;
    std::uint64_t refused_threads = 0; // no slot left: not traced
    std::chrono::steady_clock::time_point start;
    // The mode's callbacks (tracer<Writer>'s), chosen once at install.
    qemu_plugin_vcpu_udata_cb_t on_insn_exec = nullptr;
    qemu_plugin_vcpu_mem_cb_t on_mem = nullptr;
    void (*on_exit)() = nullptr;
};
plugin_state g;

thread_local bool untraced = false; // this thread could not get a slot
thread_local tracebuf_qemu::mmap_call mmap_in_progress;
constexpr std::int64_t guest_mmap = 9; // x86-64's mmap(2)

// Errors and warnings go to stderr: qemu_plugin_outs writes to QEMU's log, which is off
// unless qemu runs with -d plugin, and a plugin that refuses to load should say why.
void say(const std::string& text) {
    const ssize_t ignored = ::write(2, text.data(), text.size());
    (void)ignored;
}

std::uint32_t gettid_now() { return static_cast<std::uint32_t>(::syscall(SYS_gettid)); }

std::uint64_t nanoseconds_since(std::chrono::steady_clock::time_point t0) {
    return static_cast<std::uint64_t>(
        std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now() - t0).count());
}

template <class Writer>
Writer make_writer(std::uint32_t tid) {
    if constexpr (fills_chunks<Writer>)
        return Writer(*g.buffer, g.chunk_bytes, static_cast<std::uint32_t>(g.pid), tid);
    else
        return Writer(*g.buffer);
}

// Everything a guest thread does, written once over the writer shape (writer.hpp):
// record_writer, chunk_writer or ordered_writer. The stamp each record asks for matters in
// ordered mode only: a load's stamp is an ordered clock read (it may be an acquire), a
// store's a relaxed one, an instruction's execution marker reads no clock.
template <class Writer>
struct tracer {
    // One per guest thread that ever wrote; kept until exit for the summary. Written by its
    // thread at every record: cache-line aligned, or neighbouring threads' counters and
    // chunk cursors would share lines and bounce between cores.
    struct alignas(64) thread_state {
        explicit thread_state(std::uint32_t tid_) : writer(make_writer<Writer>(tid_)), tid(tid_) {}
        Writer writer;
        std::uint32_t serial = 0;
        std::uint32_t tid;
        unsigned slot = 0;
        std::uint64_t records = 0;   // private counter: every record this thread wrote
        std::uint64_t parked_ns = 0; // time in reservations that opened a chunk (may park)
    };

    static inline std::deque<thread_state> threads; // stable addresses; under threads_mutex
    static inline thread_local thread_state* self = nullptr;

    // Reserves n bytes for the calling (busy) thread. A reservation that opens a new chunk
    // may park, and is timed; record mode's are not (a clock read per record would cost
    // more than it shows).
    static unsigned char* reserve(thread_state* t, std::size_t n, tracebuf::stamp how) {
        if constexpr (fills_chunks<Writer>) {
            if (t->writer.room() < n + tracebuf::full_stamp_footprint) {
                const auto t0 = std::chrono::steady_clock::now();
                unsigned char* at = t->writer.reserve(n, how);
                t->parked_ns += nanoseconds_since(t0);
                return at;
            }
        }
        return t->writer.reserve(n, how);
    }

    // Writes one record of this thread; counts it.
    static void write(thread_state* t, std::uint16_t type, const void* payload, std::size_t size,
                      tracebuf::stamp how) {
        unsigned char* at = reserve(t, tracebuf::record_footprint(size), how);
        if (at == nullptr) return;
        tracebuf::put_record(at, mt::tag_in_slot(type, t->slot), payload, size);
        ++t->records;
    }

    // Writes an MMAP record: the process's, so in slot 0 and not counted as the thread's.
    static void write_mapping(thread_state* t, const tracebuf_qemu::mapping& m) {
        const std::vector<unsigned char> payload = m.payload();
        t->writer.write_record(mt::mmap, payload.data(), payload.size(), tracebuf::stamp::relaxed);
    }

    // The MMAP records of what QEMU loaded (the main binary, its interpreter), once, from the
    // first translation: QEMU's calls for them need a vCPU.
    static void write_loaded_mappings(thread_state* t) {
        if (g.binary_mapped.exchange(true, std::memory_order_relaxed)) return;
        const char* path = qemu_plugin_path_to_binary();
        if (path == nullptr) return;
        std::string why;
        const auto segments = tracebuf_qemu::loaded_mappings(path, qemu_plugin_start_code(), qemu_plugin_end_code(),
                                                             qemu_plugin_entry_code(), why);
        std::free(const_cast<char*>(path));
        if (!why.empty()) say("tracebuf: MMAP records missing: " + why + "\n");
        for (const tracebuf_qemu::mapping& m : segments) write_mapping(t, m);
    }

    static thread_state* register_current_thread() {
        thread_state* t;
        {
            std::lock_guard<std::mutex> lock(g.threads_mutex);
            if (g.free_count == 0) {
                ++g.refused_threads;
                untraced = true;
                return nullptr;
            }
            t = &threads.emplace_back(gettid_now());
            t->serial = g.thread_count++;
            t->slot = g.free_slots[--g.free_count];
        }
        if (t->writer.register_thread() != tracebuf::errc::ok) {
            untraced = true;
            return nullptr;
        }
        self = t;
        const mt::thread_payload payload{static_cast<std::uint32_t>(g.pid), t->tid, t->serial};
        write(t, mt::thread, &payload, sizeof payload, tracebuf::stamp::ordered);
        return t;
    }

    // Every callback that writes starts with enter() and ends with leave().
    static thread_state* enter() {
        if (!g.tracing.load(std::memory_order_relaxed) || untraced) return nullptr;
        thread_state* t = self;
        if (t == nullptr) return register_current_thread(); // registered online: busy already
        t->writer.busy();
        return t;
    }
    static void leave(thread_state* t) { t->writer.idle(); }

    static void on_insn_exec(unsigned int, void* udata) {
        thread_state* t = enter();
        if (t == nullptr) return;
        const std::uint32_t seq = tracebuf_qemu::seq_of(udata);
        write(t, mt::insn_exec, &seq, sizeof seq, tracebuf::stamp::inherit);
        leave(t);
    }

    static void on_mem(unsigned int, qemu_plugin_meminfo_t info, std::uint64_t vaddr, void* udata) {
        thread_state* t = enter();
        if (t == nullptr) return;
        tracebuf_qemu::access_payload r;
        const std::size_t size = tracebuf_qemu::read_access(info, vaddr, tracebuf_qemu::seq_of(udata), r);
        const bool store = qemu_plugin_mem_is_store(info);
        // Ordered mode: a load may be an acquire, so its stamp is read after it; a store cannot
        // acquire and takes the thread's previous stamp, with no clock read (docs/protocol.md,
        // "Ordered mode").
        write(t, store ? mt::store : mt::load, &r, size, store ? tracebuf::stamp::inherit : tracebuf::stamp::ordered);
        leave(t);
    }

    static void describe_tb(qemu_plugin_tb* tb) {
        thread_state* t = enter();
        if (t != nullptr && !g.binary_mapped.load(std::memory_order_relaxed)) write_loaded_mappings(t);
        const std::size_t n = qemu_plugin_tb_n_insns(tb);
        for (std::size_t i = 0; i < n; ++i) {
            qemu_plugin_insn* insn = qemu_plugin_tb_get_insn(tb, i);
            const std::uint32_t seq = g.next_insn_seq.fetch_add(1, std::memory_order_relaxed);
            if (t != nullptr) {
                tracebuf_qemu::insn_payload d;
                const std::size_t size = tracebuf_qemu::describe_insn(insn, seq, d);
                write(t, mt::insn, &d, size, tracebuf::stamp::relaxed);
            }
            void* udata = tracebuf_qemu::udata_of(seq);
            qemu_plugin_register_vcpu_insn_exec_cb(insn, g.on_insn_exec, QEMU_PLUGIN_CB_NO_REGS, udata);
            qemu_plugin_register_vcpu_mem_cb(insn, g.on_mem, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW, udata);
        }
        if (t != nullptr) leave(t);
    }

    static void syscall_entry(std::int64_t num, std::uint64_t length, std::uint64_t prot, std::uint64_t flags,
                              std::uint64_t fd, std::uint64_t offset) {
        if (!g.tracing.load(std::memory_order_relaxed) || untraced) return;
        mmap_in_progress = {num == guest_mmap, length, prot, flags, offset, static_cast<std::int64_t>(fd)};
        thread_state* t = self;
        if (t == nullptr) t = register_current_thread(); // online: writes its THREAD record
        // Straight from idle (or online): busy() first could wait for a flush for nothing.
        if (t != nullptr) t->writer.go_offline();
    }

    static void syscall_return(std::int64_t ret) {
        if (!g.tracing.load(std::memory_order_relaxed) || untraced) return;
        if (ret == 0 && static_cast<pid_t>(::getpid()) != g.pid) {
            // The child of a fork: it holds a copy of the buffer and the parent's file. Stop.
            g.tracing.store(false, std::memory_order_relaxed);
            return;
        }
        thread_state* t = self;
        if (t == nullptr) return;
        t->writer.go_online();
        tracebuf_qemu::mapping m;
        const bool failed = ret < 0 && ret >= -4095; // -errno
        if (mmap_in_progress.pending && !failed &&
            tracebuf_qemu::file_mapping(mmap_in_progress, static_cast<std::uint64_t>(ret), m))
            write_mapping(t, m);
        mmap_in_progress.pending = false;
        t->writer.idle();
    }

    static void vcpu_exit() {
        if (!g.tracing.load(std::memory_order_relaxed)) return;
        thread_state* t = self;
        if (t == nullptr) return;
        t->writer.unregister_thread();
        std::lock_guard<std::mutex> lock(g.threads_mutex);
        g.free_slots[g.free_count++] = t->slot;
        self = nullptr;
    }

    static void write_text_summary(const tracebuf::flush_stats& s, std::uint64_t records, std::uint64_t lost,
                                   double seconds) {
        std::uint64_t parked_ns = 0, max_parked_ns = 0;
        for (const thread_state& t : threads) {
            parked_ns += t.parked_ns;
            if (t.parked_ns > max_parked_ns) max_parked_ns = t.parked_ns;
        }
        if (!g.out_is_regular_file) return;
        const std::string path = g.out_path + ".summary";
        const int fd = tracebuf::create_trace_file(path.c_str());
        if (fd < 0) say("tracebuf: cannot open " + path + ": " + tracebuf::trace_file_error(errno) + "\n");
        if (FILE* f = fd >= 0 ? ::fdopen(fd, "w") : nullptr) {
            std::fprintf(f, "threads: %zu (untraced: %" PRIu64 ")\n", threads.size(), g.refused_threads);
            std::fprintf(f, "records: %" PRIu64 " (from the threads; plus the header and summary)\n", records);
            std::fprintf(f, "bytes: %" PRIu64 "\n", s.bytes_flushed);
            std::fprintf(f, "flushes: %" PRIu64 "\n", s.flushes);
            std::fprintf(f, "parks: %" PRIu64 "\n", s.parks);
            if constexpr (fills_chunks<Writer>)
                std::fprintf(f, "time parked: %.3f s in all threads, %.3f s at most in one\n",
                             static_cast<double>(parked_ns) / 1e9, static_cast<double>(max_parked_ns) / 1e9);
            if constexpr (std::is_same_v<Writer, ordered_writer_type>) {
                const tracebuf::merge_stats& m = g.buffer->sink().merge_stats();
                std::fprintf(f, "merged: %" PRIu64 " records, %" PRIu64 " bytes in, %" PRIu64 " out, %" PRIu64 " skipped\n",
                             m.records, m.bytes_in, m.bytes_out, m.skipped_bytes);
            }
            std::fprintf(f, "sink error: %d\n", s.sink_error);
            std::fprintf(f, "bytes lost: %" PRIu64 "\n", lost);
            std::fprintf(f, "wall time: %.3f s\n", seconds);
            if (std::fclose(f) != 0) say("tracebuf: writing " + path + " failed: " + std::strerror(errno) + "\n");
        } else if (fd >= 0) {
            ::close(fd);
        }
    }

    // QEMU has stopped every other thread and removed our other callbacks.
    static void exit() {
        record_writer_type summary_writer(*g.buffer); // outside any chunk, in slot 0
        std::uint64_t records = 0;
        if (summary_writer.register_thread() == tracebuf::errc::ok) {
            const auto entry = [](std::uint32_t i) {
                const thread_state& t = threads[i];
                return mt::summary_entry{t.serial, t.tid, t.records};
            };
            mt::write_summary([&](std::size_t n) { return summary_writer.reserve(n); },
                              static_cast<std::uint32_t>(threads.size()), entry);
            // The other threads are stopped while idle, and in chunk mode their chunks are
            // still open: a flush takes them over and pads the chunks, which drain() could not.
            summary_writer.flush();
            summary_writer.unregister_thread();
        }
        for (const thread_state& t : threads) records += t.records;
        const tracebuf::errc drained = g.buffer->drain();
        if (g.window && drained != tracebuf::errc::busy) { // cut the window's zero tail
            if (const int e = g.window->close()) say(std::string("tracebuf: truncating the trace failed: ") + std::strerror(e) + "\n");
        }
        const tracebuf::flush_stats s = g.buffer->stats();
        const file_sink& file = g.buffer->sink().merge.inner();
        // What the file holds and what it lacks: through the window (and its write(2)s after
        // a fallback), or through the file sink.
        const bool through_window = g.buffer->sink().writes_through_window();
        const std::uint64_t held = through_window ? g.window->valid_end() : file.written();
        const std::uint64_t lost = through_window ? g.window->bytes_lost() : file.lost();
        // The guest ran on whatever the file did; say what the trace lacks. (To stderr first:
        // on a full disk the summary file may not be written either.)
        if (s.sink_error != 0)
            say("tracebuf: writing " + g.out_path + " failed: " + std::strerror(s.sink_error) + "; " +
                std::to_string(lost) + " bytes of the trace lost (the file holds the first " +
                std::to_string(held) + " bytes: whole flushes, the records before the error)\n");
        else if (drained != tracebuf::errc::ok)
            say(std::string("tracebuf: drain failed: ") + tracebuf::to_string(drained) + "\n");
        write_text_summary(s, records, lost,
                           std::chrono::duration<double>(std::chrono::steady_clock::now() - g.start).count());
    }

    static void install() {
        g.on_insn_exec = &tracer::on_insn_exec;
        g.on_mem = &tracer::on_mem;
        g.on_exit = &tracer::exit;
    }
};

// ---- QEMU's callbacks: the mode's tracer does the work --------------------------------------

template <class Writer>
void on_tb_trans(qemu_plugin_id_t, qemu_plugin_tb* tb) { tracer<Writer>::describe_tb(tb); }

template <class Writer>
void on_syscall(qemu_plugin_id_t, unsigned int, std::int64_t num, std::uint64_t, std::uint64_t length,
                std::uint64_t prot, std::uint64_t flags, std::uint64_t fd, std::uint64_t offset, std::uint64_t,
                std::uint64_t) {
    tracer<Writer>::syscall_entry(num, length, prot, flags, fd, offset);
}

template <class Writer>
void on_syscall_ret(qemu_plugin_id_t, unsigned int, std::int64_t, std::int64_t ret) {
    tracer<Writer>::syscall_return(ret);
}

template <class Writer>
void on_vcpu_exit(qemu_plugin_id_t, unsigned int) { tracer<Writer>::vcpu_exit(); }

void on_exit(qemu_plugin_id_t, void*) {
    if (!g.tracing.exchange(false) || static_cast<pid_t>(::getpid()) != g.pid) return;
    g.on_exit();
    ::close(g.fd);
}

template <class Writer>
void register_callbacks(qemu_plugin_id_t id) {
    tracer<Writer>::install();
    qemu_plugin_register_vcpu_tb_trans_cb(id, &on_tb_trans<Writer>);
    qemu_plugin_register_vcpu_syscall_cb(id, &on_syscall<Writer>);
    qemu_plugin_register_vcpu_syscall_ret_cb(id, &on_syscall_ret<Writer>);
    qemu_plugin_register_vcpu_exit_cb(id, &on_vcpu_exit<Writer>);
    qemu_plugin_register_atexit_cb(id, on_exit, nullptr);
}

bool parse_size(const std::string& digits, std::size_t& out) {
    char* end = nullptr;
    out = std::strtoull(digits.c_str(), &end, 10);
    return !digits.empty() && *end == '\0';
}

bool parse_args(int argc, char** argv, std::size_t& buffer_bytes) {
    for (int i = 0; i < argc; ++i) {
        const std::string a = argv[i];
        if (a.rfind("out=", 0) == 0) {
            g.out_path = a.substr(4);
        } else if (a.rfind("buffer=", 0) == 0) {
            if (!parse_size(a.substr(7), buffer_bytes)) return false;
        } else if (a.rfind("chunk=", 0) == 0) {
            if (!parse_size(a.substr(6), g.chunk_bytes)) return false;
        } else if (a == "direct=1" || a == "direct=0") {
            g.direct = a == "direct=1";
        } else if (a == "window=1" || a == "window=0") {
            g.use_window = a == "window=1";
        } else if (a.rfind("mode=", 0) == 0) {
            const std::string m = a.substr(5);
            if (m != "record" && m != "chunk" && m != "double" && m != "chunk-double" && m != "ordered") return false;
            g.mode = m == "ordered"             ? "ordered"
                     : m.rfind("chunk", 0) == 0 ? "chunk"
                                                : "record";
            // Ordered mode merges during the write-out, after the parked threads are released.
            if (m.find("double") != std::string::npos || m == "ordered")
                g.buffering = tracebuf::buffering::double_buffer;
        } else {
            return false;
        }
    }
    return !g.out_path.empty();
}

} // namespace

int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t* info, int argc, char** argv) {
    std::size_t buffer_bytes = 16u << 20;
    if (info->system_emulation || !parse_args(argc, argv, buffer_bytes)) {
        say("tracebuf: usage: -plugin libtracebuf_qemu.so,out=PATH[,buffer=BYTES]"
            "[,mode=record|chunk|double|chunk-double|ordered][,chunk=BYTES][,direct=1][,window=0] (linux-user only)\n");
        return -1;
    }
    // Mode 0600, never through a symbolic link (trace_file.hpp): the trace holds every value
    // the guest loaded and stored.
    if (g.direct) {
        g.fd = tracebuf::create_trace_file(g.out_path.c_str(), O_DIRECT);
        if (g.fd < 0 && errno == EINVAL) {
            say("tracebuf: " + g.out_path + " does not take O_DIRECT; writing through the page cache\n");
            g.direct = false;
        }
    }
    // Every mode maps the file (file_window.hpp), which needs it readable too.
    const bool window = g.use_window && !g.direct;
    if (!g.direct) g.fd = tracebuf::create_trace_file(g.out_path.c_str(), window ? O_RDWR : 0);
    if (g.fd < 0) {
        say("tracebuf: cannot open " + g.out_path + ": " + tracebuf::trace_file_error(errno) + "\n");
        return -1;
    }
    struct stat out_stat;
    g.out_is_regular_file = ::fstat(g.fd, &out_stat) == 0 && S_ISREG(out_stat.st_mode);
    g.pid = ::getpid();
    // Page-aligned and zeroed, as O_DIRECT and memory_contents::zeroed want; kept until exit. (At
    // least a page, so that a too small buffer= is reported as such below.)
    void* memory = MAP_FAILED;
    if (window) {
        // The buffer is a window of the file; a pipe or /dev/null falls back to write(2).
        g.window = std::make_unique<tracebuf::file_window>(g.fd, buffer_bytes, g.buffering,
                                                           plugin_traits::max_record_size);
        if (const char* why = g.window->fallback_reason())
            say("tracebuf: " + g.out_path + ": " + why + "; writing with write(2): a crash loses the last buffer\n");
        if (g.window->memory() != nullptr) {
            memory = g.window->memory();
            buffer_bytes = g.window->bytes();
        }
    } else {
        memory = ::mmap(nullptr, buffer_bytes != 0 ? buffer_bytes : 1, PROT_READ | PROT_WRITE,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    }
    if (memory == MAP_FAILED) {
        say("tracebuf: cannot allocate the buffer\n");
        return -1;
    }
    const bool ordered = g.mode == "ordered";
    if ((g.mode == "chunk" && !chunk_writer_type::valid_chunk_size(g.chunk_bytes)) ||
        (ordered && !ordered_writer_type::valid_chunk_size(g.chunk_bytes))) {
        say(std::string("tracebuf: chunk=BYTES must be a multiple of 8 in [") + (ordered ? "48" : "32") +
            ", 65536]\n");
        return -1;
    }
    if (ordered) {
        // The clock is checked, never assumed: its stamps order the trace.
        const tracebuf::clock_check_result clock = tracebuf::check_clock<plugin_traits::clock>(100000);
        if (clock.status() != tracebuf::errc::ok) {
            say("tracebuf: mode=ordered refused: " + clock.message() + "\n");
            return -1;
        }
    }
    // The merge's output: one buffer's worth, so that each flush is one write.
    const std::size_t scratch_bytes = ordered ? buffer_bytes / 2 : 0;
    void* scratch = ordered ? ::mmap(nullptr, scratch_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                            : nullptr;
    if (scratch == MAP_FAILED) {
        say("tracebuf: cannot allocate the merge's buffer\n");
        return -1;
    }
    const file_sink file{g.direct, tracebuf::fd_sink(g.fd), tracebuf::direct_fd_sink(g.fd, plugin_traits::max_record_size)};
    if (ordered && g.window && g.window->mapped())
        g.ordered_window = std::make_unique<tracebuf::merging_file_window_sink<mt::slots>>(
            *g.window, scratch, scratch_bytes, plugin_traits::max_record_size);
    const plugin_sink sink{ordered,
                           tracebuf::merging_sink<file_sink, mt::slots>(file, scratch, scratch_bytes,
                                                                        plugin_traits::max_record_size),
                           g.window.get(), g.ordered_window.get()};
    g.buffer = std::make_unique<buffer_type>(memory, buffer_bytes, sink, g.buffering, tracebuf::memory_contents::zeroed);
    if (g.buffer->status() != tracebuf::errc::ok) {
        say("tracebuf: buffer too small (at least 65536 bytes, twice that double-buffered)\n");
        return -1;
    }
    for (unsigned s = 0; s < mt::slots; ++s) g.free_slots[s] = mt::slots - 1 - s; // slot 0 first
    g.free_count = mt::slots;
    g.start = std::chrono::steady_clock::now();

    // The memtrace header (no thread writes yet). The id is random, and the pid and the
    // clock make it unique even where getrandom fails.
    std::uint8_t trace_id[16] = {};
    if (::getrandom(trace_id, sizeof trace_id, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof trace_id))
        say("tracebuf: getrandom failed; the trace id comes from the pid and the clock\n");
    mt::mix_trace_id(trace_id, static_cast<std::uint64_t>(g.pid), nanoseconds_since({}));
    mt::write_header(*g.buffer, mt::em_x86_64, trace_id);
    g.tracing = true;

    if (g.mode == "chunk") register_callbacks<chunk_writer_type>(id);
    else if (ordered) register_callbacks<ordered_writer_type>(id);
    else register_callbacks<record_writer_type>(id);
    return 0;
}
