// trace_workers: many threads write one trace while some of them block in system calls.
//
//   trace_workers [--out=PATH] [--threads=N] [--records=N] [--buffer=BYTES]
//
// Each worker registers, writes a THREAD record (pid, tid), then walks an array and writes
// one memtrace LOAD record (insn_seq, address, 8-byte value) per element it reads. Every
// fourth worker blocks in read(2) on an empty pipe for the whole run - offline, as the host
// contract says, so it never delays a flush - and writes its last record once main feeds
// the pipe. The others go offline around a short nanosleep every few thousand records, as a
// traced program's syscalls would. At the end main drains the buffer and prints what
// happened; `tracebuf-dump PATH` validates the file.
#include <fcntl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include <tracebuf/memtrace.hpp>
#include <tracebuf/trace_file.hpp>
#include <tracebuf/tracebuf.hpp>

namespace {

struct options {
    std::string out = "tracebuf-native.trace";
    unsigned threads = 8;
    std::uint64_t records = 500000; // per worker
    std::size_t buffer = 1 << 20;
};

using buffer_type = tracebuf::trace_buffer<tracebuf::default_traits, tracebuf::fd_sink>;

struct load_payload {
    std::uint32_t insn_seq;
    std::uint64_t addr;
    std::uint64_t value;
} __attribute__((packed));
static_assert(sizeof(load_payload) == 20, "memtrace LOAD: u32 insn_seq, u64 addr, value");

// The text after "--key=" if `arg` starts with it, else nullptr.
const char* option_value(const char* arg, const char* key) {
    const std::size_t n = std::strlen(key);
    return std::strncmp(arg, key, n) == 0 ? arg + n : nullptr;
}

bool parse_number(const char* text, std::uint64_t& out) {
    char* end = nullptr;
    out = std::strtoull(text, &end, 10);
    return *text != '\0' && *end == '\0';
}

bool parse(int argc, char** argv, options& o) {
    for (int i = 1; i < argc; ++i) {
        std::uint64_t n = 0;
        if (const char* out = option_value(argv[i], "--out=")) {
            o.out = out;
        } else if (const char* threads = option_value(argv[i], "--threads=")) {
            if (!parse_number(threads, n) || n == 0 || n > 1024) return false;
            o.threads = static_cast<unsigned>(n);
        } else if (const char* records = option_value(argv[i], "--records=")) {
            if (!parse_number(records, o.records)) return false;
        } else if (const char* buffer = option_value(argv[i], "--buffer=")) {
            if (!parse_number(buffer, n)) return false;
            o.buffer = static_cast<std::size_t>(n);
        } else {
            return false;
        }
    }
    return true;
}

void fail(const char* what, tracebuf::errc e) {
    std::fprintf(stderr, "trace_workers: %s: %s\n", what, tracebuf::to_string(e));
    std::exit(1);
}

void check(const char* what, tracebuf::errc e) {
    if (e != tracebuf::errc::ok) fail(what, e);
}

void write_thread_record(buffer_type& buf, tracebuf::producer& p, unsigned id) {
    const tracebuf::memtrace::thread_payload t{static_cast<std::uint32_t>(::getpid()),
                                               static_cast<std::uint32_t>(::syscall(SYS_gettid)), id};
    check("thread record", buf.write_record(p, tracebuf::memtrace::thread, &t, sizeof t));
}

void write_load(buffer_type& buf, tracebuf::producer& p, std::uint32_t seq, const std::uint64_t* addr) {
    const load_payload l{seq, reinterpret_cast<std::uintptr_t>(addr), *addr};
    check("load record", buf.write_record(p, tracebuf::memtrace::load, &l, sizeof l));
}

void worker(buffer_type& buf, const options& o, unsigned id, int blocking_fd) {
    tracebuf::producer p;
    check("register", buf.register_thread(p));
    write_thread_record(buf, p, id);
    std::vector<std::uint64_t> data(4096);
    for (std::size_t i = 0; i < data.size(); ++i) data[i] = i * 0x9e3779b97f4a7c15ull ^ id;

    if (blocking_fd >= 0) {
        check("go_offline", buf.go_offline(p)); // syscall entry
        char c;
        if (::read(blocking_fd, &c, 1) != 1) std::perror("trace_workers: read");
        check("go_online", buf.go_online(p)); // syscall exit
        write_load(buf, p, 0, &data[0]);
    } else {
        for (std::uint64_t i = 0; i < o.records; ++i) {
            const std::size_t k = (i * 7) % data.size();
            write_load(buf, p, static_cast<std::uint32_t>(i % 64), &data[k]);
            if (i % 4096 == 4095) {
                check("go_offline", buf.go_offline(p));
                const timespec ts{0, 50000};
                ::nanosleep(&ts, nullptr);
                check("go_online", buf.go_online(p));
            }
        }
    }
    check("unregister", buf.unregister_thread(p));
}

} // namespace

int main(int argc, char** argv) {
    options o;
    if (!parse(argc, argv, o)) {
        std::fprintf(stderr, "usage: trace_workers [--out=PATH] [--threads=N] [--records=N] [--buffer=BYTES]\n");
        return 2;
    }
    // Mode 0600, never through a symbolic link: a trace holds the values the program read.
    const int fd = tracebuf::create_trace_file(o.out.c_str());
    if (fd < 0) {
        std::fprintf(stderr, "trace_workers: %s: %s\n", o.out.c_str(), tracebuf::trace_file_error(errno));
        return 1;
    }
    std::vector<std::uint64_t> memory(o.buffer / 8 + 1);
    buffer_type buf(memory.data(), o.buffer, tracebuf::fd_sink(fd));
    if (buf.status() != tracebuf::errc::ok) fail("buffer", buf.status());

    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0) {
        std::perror("pipe");
        return 1;
    }
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::thread> threads;
    unsigned blocked = 0;
    for (unsigned t = 0; t < o.threads; ++t) {
        const bool blocks = t % 4 == 3;
        blocked += blocks;
        threads.emplace_back(worker, std::ref(buf), std::cref(o), t, blocks ? pipe_fds[0] : -1);
    }
    // Join the writers first: the blocked readers must not have held them up.
    for (unsigned t = 0; t < o.threads; ++t)
        if (t % 4 != 3) threads[t].join();
    const double writers_done = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (unsigned i = 0; i < blocked; ++i)
        if (::write(pipe_fds[1], "x", 1) != 1) std::perror("write");
    for (unsigned t = 0; t < o.threads; ++t)
        if (t % 4 == 3) threads[t].join();

    const tracebuf::errc drained = buf.drain(); // every producer has exited
    const tracebuf::flush_stats s = buf.stats();
    ::close(fd);
    std::printf("trace_workers: %u threads (%u blocked in read(2) until the end), %s\n", o.threads,
                blocked, o.out.c_str());
    std::printf("  writers done in %.3f s while the blocked threads slept\n", writers_done);
    std::printf("  %llu bytes in %llu flushes of a %zu-byte buffer, %llu parks\n",
                static_cast<unsigned long long>(s.bytes_flushed), static_cast<unsigned long long>(s.flushes),
                o.buffer, static_cast<unsigned long long>(s.parks));
    if (drained != tracebuf::errc::ok) fail("drain", drained);
    return 0;
}
