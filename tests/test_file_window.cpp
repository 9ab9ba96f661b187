// The file window (file_window.hpp): a trace written in place through a MAP_SHARED window of
// the file, its fallbacks, and what a writer killed with SIGKILL leaves: a file that reads
// valid, every whole record byte-exact, nothing after a hole from a flush that completed.
#define BOOST_TEST_MODULE file_window
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <string>
#include <thread>
#include <vector>

// Crash points inside file_window's in-place rewrite: a child process that sets
// crash_at_step kills itself there, at the crash_countdown-th time.
namespace {
int crash_at_step = 0;
int crash_countdown = 0;
[[maybe_unused]] void crash_point(int step) {
    if (step == crash_at_step && --crash_countdown == 0) ::raise(SIGKILL);
}
} // namespace
#define TRACEBUF_CRASH_POINT(step) crash_point(step)

#include <tracebuf/chunk_writer.hpp>
#include <tracebuf/file_window.hpp>
#include <tracebuf/ordered_writer.hpp>
#include <tracebuf/reader.hpp>
#include <tracebuf/record_writer.hpp>
#include <tracebuf/trace_buffer.hpp>

#include "support/stress.hpp"
#include "support/test_traits.hpp"

using namespace tracebuf;
using tracebuf_test::checksum;
using tracebuf_test::fill_body;
using tracebuf_test::splitmix;
using tracebuf_test::stress_fixed;
using tracebuf_test::stress_tag;

namespace {

using traits = tracebuf_test::std_futex;
constexpr std::size_t max_record = traits::max_record_size;

// A stress record's payload ([thread][seq][checksum][body]), built aside and then written
// with put_record: payload first, header last.
std::size_t make_payload(unsigned char* out, std::uint32_t thread, std::uint32_t seq, std::size_t body_size) {
    fill_body(out + stress_fixed, body_size, thread, seq);
    const std::uint32_t sum = checksum(thread, seq, out + stress_fixed, body_size);
    std::memcpy(out, &thread, 4);
    std::memcpy(out + 4, &seq, 4);
    std::memcpy(out + 8, &sum, 4);
    return stress_fixed + body_size;
}

// Checks what scan_trace reads from a file: every stress record byte-exact, each thread's
// seqs 0, 1, 2, ... with no gap; chunks of the right thread.
struct file_check {
    std::vector<std::uint32_t> next_seq;
    std::vector<bool> may_jump; // after a skip record: the thread's next seq may be later
    std::uint64_t skipped_windows = 0;
    std::uint64_t records = 0, chunks = 0;
    std::string first_failure;
    trace_scan_result scan;

    void fail(const std::string& what) {
        if (first_failure.empty()) first_failure = what;
    }

    void read(const std::vector<unsigned char>& file, std::size_t threads) {
        next_seq.assign(threads, 0);
        may_jump.assign(threads, false);
        std::vector<unsigned char> expect(max_record);
        std::uint64_t chunk_end = 0;
        std::uint32_t chunk_tid = 0;
        scan = scan_trace(
            file.data(), file.size(), max_record, [&](std::uint16_t tag, const unsigned char* payload, std::size_t n, std::size_t offset) {
                if (tag == tags::padding) return;
                if (tag == tags::chunk || tag == tags::ordered_chunk) {
                    chunk_header h;
                    if (n != sizeof h) return fail("bad chunk header");
                    std::memcpy(&h, payload, sizeof h);
                    chunk_end = offset + h.bytes;
                    chunk_tid = h.tid;
                    ++chunks;
                    return;
                }
                if (tag == tags::skip) { // an unfinished rewrite: that window's records are lost
                    may_jump.assign(threads, true);
                    ++skipped_windows;
                    return;
                }
                if (is_library_tag(tag)) return; // ordered chunks, stamps
                if (tag != stress_tag || n < stress_fixed) return fail("foreign record at " + std::to_string(offset));
                std::uint32_t thread, seq, sum;
                std::memcpy(&thread, payload, 4);
                std::memcpy(&seq, payload + 4, 4);
                std::memcpy(&sum, payload + 8, 4);
                if (thread >= threads) return fail("thread out of range at " + std::to_string(offset));
                if (offset < chunk_end && chunk_tid != thread) return fail("record in another thread's chunk");
                if (may_jump[thread] && seq > next_seq[thread]) next_seq[thread] = seq;
                may_jump[thread] = false;
                if (seq != next_seq[thread])
                    return fail("thread " + std::to_string(thread) + ": seq " + std::to_string(seq) + ", expected " +
                                std::to_string(next_seq[thread]) + " at offset " + std::to_string(offset));
                ++next_seq[thread];
                fill_body(expect.data(), n - stress_fixed, thread, seq);
                if (std::memcmp(expect.data(), payload + stress_fixed, n - stress_fixed) != 0)
                    return fail("body differs at " + std::to_string(offset));
                if (checksum(thread, seq, payload + stress_fixed, n - stress_fixed) != sum)
                    return fail("checksum differs at " + std::to_string(offset));
                ++records;
            });
    }
};

std::vector<unsigned char> read_file(const std::string& path) {
    std::vector<unsigned char> out;
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return out;
    unsigned char block[1 << 16];
    for (;;) {
        const ssize_t n = ::read(fd, block, sizeof block);
        if (n <= 0) break;
        out.insert(out.end(), block, block + n);
    }
    ::close(fd);
    return out;
}

std::string temp_path(const char* name) {
    const char* dir = std::getenv("TMPDIR");
    return std::string(dir != nullptr ? dir : "/tmp") + "/tracebuf_fw_" + std::to_string(::getpid()) + "_" + name;
}

int open_trace(const std::string& path) {
    return ::open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
}

// The sink the tests give the buffer: the window's, which also publishes, after each
// flush, where the flushed data ends (for the crash test's "nothing after a hole belongs to
// a flush that completed").
template <class Inner = file_window_sink>
struct publishing_sink {
    Inner inner;
    file_window* window;
    std::atomic<std::uint64_t>* completed_end; // in memory shared with the parent, or null
    std::atomic<std::uint64_t>* flushes;
    int write(const void* data, std::size_t size) noexcept {
        const int e = inner.write(data, size);
        if (completed_end != nullptr) {
            // release: pairs with the parent's acquire load; orders nothing the test relies
            // on beyond the value (the parent reads the file only after the child is dead).
            completed_end->store(window->valid_end(), std::memory_order_release);
            flushes->fetch_add(1, std::memory_order_relaxed); // relaxed: a progress count
        }
        return e;
    }
    bool leaves_zeroed() const noexcept { return inner.leaves_zeroed(); }
};

using buffer_type = trace_buffer<traits, publishing_sink<>>;
using ordered_sink = merging_file_window_sink<>;
using ordered_buffer_type = trace_buffer<traits, publishing_sink<ordered_sink>>;

std::atomic<int> failed_registrations{0};

// Threads writing stress records, in record, chunk or ordered mode, until killed (or
// `per_thread` records each, if non-zero).
template <class Buffer>
void run_writers(Buffer& buf, std::size_t threads, std::size_t chunk_bytes, bool ordered, std::uint32_t per_thread,
                 unsigned seed) {
    std::vector<std::thread> pool;
    for (std::uint32_t t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
            splitmix g{seed * 977u + t};
            std::vector<unsigned char> payload(max_record);
            auto write_all = [&](auto& w) {
                // Boost.Test's checks are not for threads
                if (w.register_thread() != errc::ok) {
                    failed_registrations.fetch_add(1, std::memory_order_relaxed); // relaxed: read after join
                    return;
                }
                for (std::uint32_t seq = 0; per_thread == 0 || seq < per_thread; ++seq) {
                    const std::size_t n = make_payload(payload.data(), t, seq, static_cast<std::size_t>(g.below(200)));
                    if (w.write_record(stress_tag, payload.data(), n) != errc::ok) break;
                }
                w.unregister_thread();
            };
            if (ordered) {
                ordered_writer<Buffer> w(buf, chunk_bytes, stress_tag, t);
                write_all(w);
            } else if (chunk_bytes != 0) {
                chunk_writer<Buffer> w(buf, chunk_bytes, stress_tag, t);
                write_all(w);
            } else {
                record_writer<Buffer> w(buf);
                write_all(w);
            }
        });
    }
    for (std::thread& th : pool) th.join();
    BOOST_TEST(failed_registrations.exchange(0) == 0);
}

struct mode_case {
    buffering mode;
    std::size_t chunk_bytes;
    bool ordered;
    const char* name;
};
const mode_case modes[] = {{buffering::single, 0, false, "record"},
                           {buffering::double_buffer, 0, false, "record-double"},
                           {buffering::single, 4096, false, "chunk"},
                           {buffering::double_buffer, 4096, false, "chunk-double"},
                           {buffering::double_buffer, 4096, true, "ordered"}};
constexpr int mode_count = 5;

// Runs `threads` writers of mode `m` over a window of `fd` until they stop (per_thread) or
// the process is killed; publishes the end of each completed flush to `shared` if given.
void write_trace(int fd, const mode_case& m, std::size_t bytes, std::size_t threads, std::uint32_t per_thread,
                 unsigned seed, std::atomic<std::uint64_t>* completed, std::atomic<std::uint64_t>* flushes,
                 bool expect_mapped) {
    file_window win(fd, bytes, m.mode, max_record);
    BOOST_REQUIRE(win.mapped() == expect_mapped);
    if (!expect_mapped) BOOST_REQUIRE(win.fallback_reason() != nullptr);
    if (m.ordered) {
        std::vector<unsigned char> scratch(win.bytes());
        ordered_buffer_type buf(win.memory(), win.bytes(),
                                publishing_sink<ordered_sink>{ordered_sink(win, scratch.data(), scratch.size(), max_record),
                                                              &win, completed, flushes},
                                m.mode, memory_contents::zeroed);
        BOOST_REQUIRE(buf.status() == errc::ok);
        run_writers(buf, threads, m.chunk_bytes, true, per_thread, seed);
        BOOST_TEST(buf.drain() == errc::ok);
        BOOST_TEST(buf.sink_error() == 0);
        BOOST_TEST(buf.stats().flushes > 2u);
    } else {
        buffer_type buf(win.memory(), win.bytes(), publishing_sink<>{win.sink(), &win, completed, flushes}, m.mode,
                        memory_contents::zeroed);
        BOOST_REQUIRE(buf.status() == errc::ok);
        run_writers(buf, threads, m.chunk_bytes, false, per_thread, seed);
        BOOST_TEST(buf.drain() == errc::ok);
        BOOST_TEST(buf.sink_error() == 0);
        BOOST_TEST(buf.stats().flushes > 2u);
    }
    BOOST_TEST(win.close() == 0);
    if (expect_mapped) {
        struct stat st;
        BOOST_REQUIRE(::fstat(fd, &st) == 0);
        BOOST_TEST(static_cast<std::uint64_t>(st.st_size) == win.valid_end());
    }
}

} // namespace

namespace tracebuf {
inline std::ostream& boost_test_print_type(std::ostream& os, errc e) { return os << to_string(e); }
inline std::ostream& boost_test_print_type(std::ostream& os, record_fault f) { return os << to_string(f); }
} // namespace tracebuf

BOOST_AUTO_TEST_CASE(file_window_writes_the_trace_in_place_and_truncates_at_close) {
    for (const mode_case& m : modes) {
        BOOST_TEST_CONTEXT(m.name) {
            const std::string path = temp_path(m.name);
            const int fd = open_trace(path);
            BOOST_REQUIRE(fd >= 0);
            write_trace(fd, m, 256 * 1024, 4, 20000, 1, nullptr, nullptr, true);
            ::close(fd);
            file_check c;
            c.read(read_file(path), 4);
            BOOST_TEST(c.first_failure == "");
            BOOST_TEST(c.scan.fault == record_fault::none); // truncated to the last record: no tail
            BOOST_TEST(c.scan.chunk_holes == 0u);
            BOOST_TEST(c.scan.skips == 0u);
            for (std::uint32_t t = 0; t < 4; ++t) BOOST_TEST(c.next_seq[t] == 20000u);
            if (m.chunk_bytes != 0 && !m.ordered) BOOST_TEST(c.chunks > 0u);
            if (m.ordered) BOOST_TEST(c.chunks == 0u); // merged: record mode's layout
            ::unlink(path.c_str());
        }
    }
}

// A pipe and /dev/null cannot be mapped: the window says why and writes with write(2).
BOOST_AUTO_TEST_CASE(file_window_falls_back_to_write_for_a_pipe_and_dev_null) {
    {
        const int fd = ::open("/dev/null", O_WRONLY | O_CLOEXEC);
        BOOST_REQUIRE(fd >= 0);
        {
            file_window probe(fd, 128 * 1024, buffering::single, max_record);
            BOOST_REQUIRE(probe.fallback_reason() != nullptr);
            BOOST_TEST(std::string(probe.fallback_reason()).find("not a regular file") != std::string::npos);
        }
        write_trace(fd, modes[0], 128 * 1024, 2, 5000, 2, nullptr, nullptr, false);
        ::close(fd);
    }
    for (const mode_case& m : modes) {
        BOOST_TEST_CONTEXT("pipe, " << m.name) {
            int p[2];
            BOOST_REQUIRE(::pipe2(p, O_CLOEXEC) == 0);
            std::vector<unsigned char> got;
            std::thread reader([&] {
                unsigned char block[1 << 16];
                for (;;) {
                    const ssize_t n = ::read(p[0], block, sizeof block);
                    if (n <= 0) break;
                    got.insert(got.end(), block, block + n);
                }
            });
            write_trace(p[1], m, 128 * 1024, 3, 5000, 3, nullptr, nullptr, false);
            ::close(p[1]);
            reader.join();
            ::close(p[0]);
            file_check c;
            c.read(got, 3);
            BOOST_TEST(c.first_failure == "");
            BOOST_TEST(c.scan.fault == record_fault::none);
            for (std::uint32_t t = 0; t < 3; ++t) BOOST_TEST(c.next_seq[t] == 5000u);
        }
    }
}

// A child writes from several threads into a file window and is killed with SIGKILL at a
// moment that varies from round to round: the file must read valid up to where reading
// stops, every whole record byte-exact and in its thread's order, and the reader must not
// stop before the end of the last flush that completed.
BOOST_AUTO_TEST_CASE(crash_sigkill_leaves_whole_records_in_a_file_window) {
    struct shared_state {
        std::atomic<std::uint64_t> completed_end{0};
        std::atomic<std::uint64_t> flushes{0};
    };
    void* shm = ::mmap(nullptr, sizeof(shared_state), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    BOOST_REQUIRE(shm != MAP_FAILED);
    splitmix rounds{20261202};
    constexpr std::size_t threads = 4;
    // Each round's file is at least the 32 MiB the window grows by, read whole: a sanitized
    // build kills each mode once, the optimised build three times.
    const int rounds_per_mode = tracebuf_test::sanitized_build ? 1 : 3;
    for (int round = 0; round < rounds_per_mode * mode_count; ++round) {
        const mode_case& m = modes[round % mode_count];
        BOOST_TEST_CONTEXT("round " << round << " (" << m.name << ")") {
            auto* shared = new (shm) shared_state();
            const std::string path = temp_path("crash");
            const pid_t child = ::fork();
            BOOST_REQUIRE(child >= 0);
            if (child == 0) {
                const int fd = open_trace(path);
                if (fd < 0) ::_exit(3);
                write_trace(fd, m, 128 * 1024, threads, 0, static_cast<unsigned>(round), &shared->completed_end,
                            &shared->flushes, true);
                ::_exit(5); // never reached: the writers write until killed
            }
            // Kill after a few flushes, plus a random fraction of a flush's time.
            const std::uint64_t want = 2 + rounds.below(6);
            int status = 0;
            bool exited = false;
            while (shared->flushes.load(std::memory_order_relaxed) < want) {
                if (::waitpid(child, &status, WNOHANG) == child) {
                    exited = true;
                    break;
                }
                ::sched_yield();
            }
            BOOST_REQUIRE_MESSAGE(!exited, "the child exited by itself, status " << status);
            const timespec pause{0, static_cast<long>(rounds.below(2000000))};
            ::nanosleep(&pause, nullptr);
            ::kill(child, SIGKILL);
            BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
            BOOST_TEST((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
            // acquire: pairs with the child's release store; the child is dead by now anyway.
            const std::uint64_t completed = shared->completed_end.load(std::memory_order_acquire);

            const std::vector<unsigned char> file = read_file(path);
            file_check c;
            c.read(file, threads);
            BOOST_TEST_MESSAGE(m.name << ": " << file.size() << " bytes, " << c.records << " records read, stop at "
                                      << c.scan.stop << " (" << to_string(c.scan.fault) << (c.scan.zero_tail ? ", zero tail" : "")
                                      << "), " << c.scan.chunk_holes << " chunk holes, " << c.scan.marked_holes << " marked holes, "
                                      << c.scan.zero_claims << " zero claims, " << c.scan.skips << " skips, last flush ended at " << completed);
            BOOST_TEST(c.first_failure == "");
            BOOST_TEST(c.records > 0u);
            // Everything of a completed flush was read; a hole is only ever after it.
            BOOST_TEST(c.scan.stop >= completed);
            if (c.scan.chunk_holes != 0) BOOST_TEST(c.scan.first_chunk_hole >= completed);
            if (c.scan.marked_holes != 0) BOOST_TEST(c.scan.first_marked_hole >= completed);
            if (c.scan.zero_claims != 0) BOOST_TEST(c.scan.first_zero_claim >= completed);
            // Where reading stopped: a zero tail, or a hole (a record that was being written,
            // other threads' records perhaps behind it) - never a torn record.
            BOOST_TEST((c.scan.fault == record_fault::none || c.scan.fault == record_fault::hole));
            ::unlink(path.c_str());
        }
    }
    ::munmap(shm, sizeof(shared_state));
}

// scan_trace's rules, on hand-made bytes: a mark is skipped by its size, a hole in a chunk to
// the chunk's end, an untouched claim in a chunk-mode trace to the next chunk, a skip record
// to the record it names; a hole of unknown length stops the reading.
BOOST_AUTO_TEST_CASE(scan_trace_skips_the_holes_whose_end_is_known) {
    std::vector<unsigned char> t(4096, 0);
    unsigned char* p = t.data();
    const std::uint64_t v = 0x1122334455667788ull;
    auto put = [&](std::size_t at, std::uint16_t tag) { put_record(p + at, tag, &v, sizeof v); }; // 16 bytes
    auto chunk = [&](std::size_t at, std::uint32_t bytes, std::uint64_t seq) {
        const chunk_header h{1, 2, bytes, seq};
        put_record(p + at, tags::chunk, &h, sizeof h);
    };
    put(0, 0x1234);            // [0, 16)
    mark_reserved(p + 16, 32); // [16, 48): marked, payload partly written
    std::memset(p + 24, 0xab, 8);
    chunk(48, 128, 0); // [48, 176): a chunk, two records, then a hole
    put(72, 0x1234);
    put(88, 0x1234);
    std::memset(p + 112, 0xcd, 12); // a record's payload without its header
    // [176, 304): an untouched claim (zeros), then a chunk
    chunk(304, 64, 1); // [304, 368)
    put(328, 0x1234);
    put(344, 0x1234);
    const std::uint32_t zero = 0;
    put_record(p + 360, tags::padding, &zero, sizeof zero);
    const std::uint32_t distance = 256; // [368, 624): a window being rewritten
    put_record(p + 368, tags::skip, &distance, sizeof distance);
    std::memset(p + 376, 0xef, 100);
    put(624, 0x1234);              // [624, 640)
    std::memset(p + 648, 0x77, 8); // [640, ...): a hole of unknown length, a payload in it
    std::vector<std::size_t> offsets;
    const trace_scan_result r = scan_trace(
        p, t.size(), 4096, [&](std::uint16_t, const unsigned char*, std::size_t, std::size_t offset) { offsets.push_back(offset); });
    const std::vector<std::size_t> want = {0, 48, 72, 88, 304, 328, 344, 360, 368, 624};
    BOOST_TEST(offsets == want, boost::test_tools::per_element());
    BOOST_TEST(r.marked_holes == 1u);
    BOOST_TEST(r.first_marked_hole == 16u);
    BOOST_TEST(r.chunk_holes == 1u);
    BOOST_TEST(r.first_chunk_hole == 104u);
    BOOST_TEST(r.zero_claims == 1u);
    BOOST_TEST(r.first_zero_claim == 176u);
    BOOST_TEST(r.skips == 1u);
    BOOST_TEST(r.stop == 640u);
    BOOST_TEST(r.fault == record_fault::hole);
    BOOST_TEST(!r.zero_tail);
    BOOST_TEST(!r.read_everything());
    // The same bytes without the payload in the last hole: a zero tail, everything read.
    std::memset(p + 640, 0, t.size() - 640);
    const trace_scan_result z = scan_trace(p, t.size(), 4096, [](std::uint16_t, const unsigned char*, std::size_t, std::size_t) {});
    BOOST_TEST(z.zero_tail);
    BOOST_TEST(z.read_everything());
}

// A file that cannot grow (RLIMIT_FSIZE, in a child): advancing the window fails, the window
// falls back to write(2) and says why, the error is reported, and the file reads valid - whole
// records, each thread's in order - up to where it stopped.
BOOST_AUTO_TEST_CASE(file_window_falls_back_when_the_file_cannot_grow) {
    // Below the window's 32 MiB growth step: the step fails first, then each exact extension
    // until the limit.
    constexpr rlim_t file_limit = 8u << 20;
    for (const mode_case& m : modes) {
        BOOST_TEST_CONTEXT(m.name) {
            const std::string path = temp_path("limit");
            const pid_t child = ::fork();
            BOOST_REQUIRE(child >= 0);
            if (child == 0) {
                ::signal(SIGXFSZ, SIG_IGN); // EFBIG instead of the signal
                const rlimit limit{file_limit, file_limit};
                if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(3);
                const int fd = open_trace(path);
                if (fd < 0) ::_exit(4);
                file_window win(fd, 1 << 20, m.mode, max_record);
                if (!win.mapped()) ::_exit(5);
                int sink_error = 0;
                auto run = [&](auto& buf) {
                    run_writers(buf, 2, m.chunk_bytes, m.ordered, 150000, 7); // about 36 MB
                    buf.drain();
                    sink_error = buf.sink_error();
                };
                if (m.ordered) {
                    std::vector<unsigned char> scratch(win.bytes());
                    ordered_buffer_type buf(win.memory(), win.bytes(),
                                            publishing_sink<ordered_sink>{ordered_sink(win, scratch.data(), scratch.size(),
                                                                                       max_record),
                                                                          &win, nullptr, nullptr},
                                            m.mode, memory_contents::zeroed);
                    run(buf);
                } else {
                    buffer_type buf(win.memory(), win.bytes(), publishing_sink<>{win.sink(), &win, nullptr, nullptr},
                                    m.mode, memory_contents::zeroed);
                    run(buf);
                }
                win.close();
                const bool said = win.fallback_reason() != nullptr && !win.mapped();
                ::_exit(sink_error == EFBIG && said ? 0 : 6);
            }
            int status = 0;
            BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
            BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 0), "child status " << status);
            const std::vector<unsigned char> file = read_file(path);
            BOOST_TEST(file.size() <= file_limit);
            file_check c;
            c.read(file, 2);
            BOOST_TEST(c.first_failure == "");
            BOOST_TEST(c.records > 10000u);
            BOOST_TEST_MESSAGE(m.name << ": " << file.size() << " bytes, stop at " << c.scan.stop << " ("
                                      << to_string(c.scan.fault) << ")");
            // Whole records up to the end, or the end of a write(2) that the limit cut short.
            BOOST_TEST((c.scan.read_everything() || c.scan.fault == record_fault::truncated));
            ::unlink(path.c_str());
        }
    }
}

// Review finding 1: with double buffering, a flush of an empty buffer swapped the buffers
// without calling the sink, so that buffer's window never advanced and the other buffer's
// next window was computed from a stale offset: it mapped the region just flushed, and
// later records overwrote earlier ones. A normal run, no crash.
BOOST_AUTO_TEST_CASE(file_window_double_buffering_survives_an_empty_flush) {
    const std::string path = temp_path("empty_flush");
    const int fd = open_trace(path);
    BOOST_REQUIRE(fd >= 0);
    {
        file_window win(fd, 256 * 1024, buffering::double_buffer, max_record);
        BOOST_REQUIRE(win.mapped());
        trace_buffer<traits, file_window_sink> buf(win.memory(), win.bytes(), win.sink(), win.mode(),
                                                   memory_contents::zeroed);
        record_writer<decltype(buf)> w(buf);
        BOOST_REQUIRE(w.register_thread() == errc::ok);
        std::vector<unsigned char> payload(max_record);
        std::uint32_t seq = 0;
        auto some = [&](int n) {
            for (int i = 0; i < n; ++i) {
                const std::size_t size = make_payload(payload.data(), 0, seq++, 40);
                BOOST_REQUIRE(w.write_record(stress_tag, payload.data(), size) == errc::ok);
            }
        };
        some(100);
        BOOST_TEST(w.flush() == errc::ok);
        BOOST_TEST(w.flush() == errc::ok); // the buffer is empty
        for (int round = 0; round < 3; ++round) {
            some(100);
            BOOST_TEST(w.flush() == errc::ok);
            BOOST_TEST(w.flush() == errc::ok); // empty again
        }
        some(100);
        w.unregister_thread();
        BOOST_TEST(buf.drain() == errc::ok);
        BOOST_TEST(win.close() == 0);
    }
    ::close(fd);
    file_check c;
    c.read(read_file(path), 1);
    ::unlink(path.c_str());
    BOOST_TEST(c.first_failure == "");
    BOOST_TEST(c.scan.fault == record_fault::none);
    BOOST_TEST(c.next_seq[0] == 500u);
}

// Review finding 2: the ordered in-place rewrite, killed at each of its steps (file_window.hpp,
// replace_and_advance). After the skip record became padding (step 4) the rest of the window
// had to be padded already: it held raw chunks, which a reader read after the merged records
// (each record twice) or stopped at.
BOOST_AUTO_TEST_CASE(crash_in_the_ordered_rewrite_leaves_a_readable_trace) {
    const mode_case& m = modes[4];
    BOOST_REQUIRE(m.ordered);
    constexpr std::size_t threads = 3;
    for (int step = 4; step >= 1; --step) {
        BOOST_TEST_CONTEXT("killed after step " << step) {
            const std::string path = temp_path("rewrite");
            const pid_t child = ::fork();
            BOOST_REQUIRE(child >= 0);
            if (child == 0) {
                crash_at_step = step;
                crash_countdown = 3; // the third flush's rewrite
                const int fd = open_trace(path);
                if (fd < 0) ::_exit(3);
                write_trace(fd, m, 128 * 1024, threads, 0, static_cast<unsigned>(step), nullptr, nullptr, true);
                ::_exit(5); // never reached
            }
            int status = 0;
            bool reached = false;
            for (int waited = 0; waited < 3000 && !reached; ++waited) { // 30 s at most
                reached = ::waitpid(child, &status, WNOHANG) == child;
                if (!reached) {
                    const timespec tick{0, 10000000};
                    ::nanosleep(&tick, nullptr);
                }
            }
            if (!reached) {
                ::kill(child, SIGKILL);
                ::waitpid(child, &status, 0);
            }
            BOOST_TEST_REQUIRE(reached, "the child never reached the crash point");
            BOOST_TEST((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
            const std::vector<unsigned char> file = read_file(path);
            file_check c;
            c.read(file, threads);
            ::unlink(path.c_str());
            BOOST_TEST_MESSAGE("step " << step << ": " << c.records << " records, stop at " << c.scan.stop << " ("
                                       << to_string(c.scan.fault) << "), " << c.scan.skips << " skips");
            BOOST_TEST(c.first_failure == "");
            BOOST_TEST((c.scan.fault == record_fault::none || c.scan.fault == record_fault::hole));
            BOOST_TEST(c.records > 0u);
            if (step < 4) BOOST_TEST(c.scan.skips == 1u); // the unfinished window is skipped
            else BOOST_TEST(c.scan.skips == 0u);
        }
    }
}

// Review finding 3: record mode with double buffering, the process killed after the release
// and before the write-out (which pads the full window's tail). The tail [end, W) of the full
// window was zeros, unmarked: the record-mode reader stopped there and lost the whole records
// the released threads had written into the next window. The flusher now marks that tail.
namespace {
struct killing_sink {
    file_window_sink inner;
    int countdown;
    int write(const void* data, std::size_t size) noexcept {
        if (--countdown == 0) {
            const timespec pause{0, 50000000}; // the released threads write into the other buffer
            ::nanosleep(&pause, nullptr);
            ::raise(SIGKILL);
        }
        return inner.write(data, size);
    }
    bool leaves_zeroed() const noexcept { return inner.leaves_zeroed(); }
};
} // namespace

BOOST_AUTO_TEST_CASE(crash_before_the_write_out_keeps_the_next_window_readable) {
    constexpr std::size_t threads = 3;
    constexpr std::size_t bytes = 128 * 1024;
    for (int flush = 2; flush <= 4; ++flush) {
        BOOST_TEST_CONTEXT("killed before write-out " << flush) {
            const std::string path = temp_path("preempt");
            const pid_t child = ::fork();
            BOOST_REQUIRE(child >= 0);
            if (child == 0) {
                const int fd = open_trace(path);
                if (fd < 0) ::_exit(3);
                file_window win(fd, bytes, buffering::double_buffer, max_record);
                if (!win.mapped()) ::_exit(4);
                trace_buffer<traits, killing_sink> buf(win.memory(), win.bytes(), killing_sink{win.sink(), flush},
                                                       win.mode(), memory_contents::zeroed);
                run_writers(buf, threads, 0, false, 0, static_cast<unsigned>(flush));
                ::_exit(5); // never reached
            }
            int status = 0;
            BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
            BOOST_TEST((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
            const std::vector<unsigned char> file = read_file(path);
            ::unlink(path.c_str());
            file_check c;
            c.read(file, threads);
            BOOST_TEST_MESSAGE("flush " << flush << ": " << file.size() << " bytes, " << c.records << " records, stop at "
                                        << c.scan.stop << " (" << to_string(c.scan.fault) << "), " << c.scan.marked_holes
                                        << " marked holes");
            BOOST_TEST(c.first_failure == "");
            BOOST_TEST((c.scan.fault == record_fault::none || c.scan.fault == record_fault::hole));
            // The windows follow each other in the file (which grows in bigger steps, so it
            // has zeros after them): the full window is the flush-th, the one the released
            // threads fill comes next. Reading got into it, past the full window's tail.
            const std::size_t window = bytes / 2;
            BOOST_REQUIRE(file.size() >= (static_cast<std::size_t>(flush) + 1) * window);
            BOOST_TEST(c.scan.stop > static_cast<std::size_t>(flush) * window);
        }
    }
}

// Review finding 5: double buffering, the window cannot advance at a flush (no space: here
// the file size limit), so the trace goes on through write(2); the other buffer is empty at
// the drain, so its window is never flushed. close() returned early (no window mapped any
// more) and left the file at its grown size, zeros after the valid data.
BOOST_AUTO_TEST_CASE(close_truncates_after_a_fallback_with_an_empty_other_buffer) {
    const std::string path = temp_path("fallback_close");
    // The child's verdict, through shared memory: its exit status is not reliable under TSan
    // (66 once any warning was reported in the process it was forked from).
    void* shm = ::mmap(nullptr, sizeof(int), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    BOOST_REQUIRE(shm != MAP_FAILED);
    int* verdict = static_cast<int*>(shm);
    *verdict = -1;
    const pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) {
        const int fd = open_trace(path);
        if (fd < 0) (*verdict = 3, ::_exit(0));
        constexpr std::size_t bytes = 256 * 1024;
        // The constructor grows the file to `bytes`; the first flush's growth fails.
        ::signal(SIGXFSZ, SIG_IGN);
        const rlimit limit{bytes + 4096, bytes + 4096};
        if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) (*verdict = 4, ::_exit(0));
        file_window win(fd, bytes, buffering::double_buffer, max_record);
        if (!win.mapped()) (*verdict = 5, ::_exit(0));
        trace_buffer<traits, file_window_sink> buf(win.memory(), win.bytes(), win.sink(), win.mode(),
                                                   memory_contents::zeroed);
        record_writer<decltype(buf)> w(buf);
        if (w.register_thread() != errc::ok) (*verdict = 6, ::_exit(0));
        std::vector<unsigned char> payload(max_record);
        for (std::uint32_t seq = 0; seq < 100; ++seq) {
            const std::size_t n = make_payload(payload.data(), 0, seq, 40);
            if (w.write_record(stress_tag, payload.data(), n) != errc::ok) (*verdict = 7, ::_exit(0));
        }
        (void)w.flush(); // the window cannot advance: sink_failed, and write(2) from now on
        if (win.mapped()) (*verdict = 8, ::_exit(0));
        w.unregister_thread();
        const errc drained = buf.drain();
        if (drained != errc::ok && drained != errc::sink_failed) (*verdict = 9, ::_exit(0));
        if (win.close() != 0) (*verdict = 10, ::_exit(0));
        struct stat st;
        if (::fstat(fd, &st) != 0) (*verdict = 11, ::_exit(0));
        *verdict = static_cast<std::uint64_t>(st.st_size) == win.valid_end() ? 0 : 12;
        ::_exit(0);
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
    BOOST_TEST(WIFEXITED(status));
    BOOST_TEST(*verdict == 0);
    ::munmap(shm, sizeof(int));
    file_check c;
    c.read(read_file(path), 1);
    ::unlink(path.c_str());
    BOOST_TEST(c.first_failure == "");
    BOOST_TEST(c.scan.fault == record_fault::none); // no zero tail
    BOOST_TEST(c.next_seq[0] == 100u);
}

// Review finding 6: continuing a file whose size is not a page multiple pads it to the page
// from a stack array that was not initialised: the padding's payload was stack bytes, in the
// trace file. It is zeros now.
namespace {
__attribute__((noinline)) void dirty_the_stack() {
    volatile unsigned char junk[16384];
    for (std::size_t i = 0; i < sizeof junk; ++i) junk[i] = 0xa5;
}
} // namespace

BOOST_AUTO_TEST_CASE(continuing_a_file_pads_it_with_zeros) {
    const std::string path = temp_path("continue_pad");
    const int fd = open_trace(path);
    BOOST_REQUIRE(fd >= 0);
    unsigned char rec[16] = {};
    put_record(rec, stress_tag, "abcdefghijk", 12); // 16 bytes
    BOOST_REQUIRE(::write(fd, rec, sizeof rec) == 16);
    dirty_the_stack();
    std::uint64_t start = 0;
    {
        file_window win(fd, 256 * 1024, buffering::single, max_record);
        BOOST_REQUIRE(win.mapped());
        start = win.valid_end();
        BOOST_TEST(win.close() == 0);
    }
    ::close(fd);
    const std::vector<unsigned char> file = read_file(path);
    ::unlink(path.c_str());
    BOOST_REQUIRE(start > 16u);
    BOOST_REQUIRE(file.size() == start);
    std::size_t nonzero = 0;
    const scan_result r = scan_records(
        file.data(), file.size(), max_record, [&](std::uint16_t tag, const unsigned char* payload, std::size_t n, std::size_t) {
            if (tag != tags::padding) return;
            for (std::size_t i = 0; i < n; ++i) nonzero += payload[i] != 0;
        });
    BOOST_TEST(r.ok());
    BOOST_TEST(nonzero == 0u);
}

// Review finding 8: in a chunk-mode trace, a record written in record mode (write_record:
// payload first, header last) by a process killed between the two left an unmarked hole
// whose payload the reader resynchronised into, accepting a record it fabricated from the
// payload's bytes (here: a chunk header and a record of thread 0, seq 0). write_record marks
// its claim first now, so the hole is skipped by its size.
BOOST_AUTO_TEST_CASE(crash_in_a_record_claim_of_a_chunk_trace_fabricates_nothing) {
    const std::string path = temp_path("chunk_resync");
    const pid_t child = ::fork();
    BOOST_REQUIRE(child >= 0);
    if (child == 0) {
        const int fd = open_trace(path);
        if (fd < 0) ::_exit(3);
        file_window win(fd, 256 * 1024, buffering::single, max_record);
        if (!win.mapped()) ::_exit(4);
        trace_buffer<traits, file_window_sink> buf(win.memory(), win.bytes(), win.sink(), win.mode(),
                                                   memory_contents::zeroed);
        chunk_writer<decltype(buf)> cw(buf, 4096, stress_tag, 0);
        if (cw.register_thread() != errc::ok) ::_exit(6);
        std::vector<unsigned char> payload(max_record);
        for (std::uint32_t seq = 0; seq < 10; ++seq) {
            const std::size_t n = make_payload(payload.data(), 0, seq, 20);
            if (cw.write_record(stress_tag, payload.data(), n) != errc::ok) ::_exit(7);
        }
        cw.go_offline(); // pads its chunk: all whole so far
        // A record-mode record whose payload looks like a chunk and a record of thread 0.
        std::vector<unsigned char> evil(200, 0);
        unsigned char* q = evil.data() + 4; // the first 8-aligned word after the header
        const chunk_header h{stress_tag, 0, 64, 0};
        put_record(q, tags::chunk, &h, sizeof h);
        unsigned char fake[64];
        const std::size_t n = make_payload(fake, 0, 0, 4);
        put_record(q + chunk_header_footprint, stress_tag, fake, n);
        producer p;
        if (buf.register_thread(p) != errc::ok) ::_exit(8);
        crash_at_step = 10;
        crash_countdown = 1;
        (void)buf.write_record(p, stress_tag, evil.data(), evil.size()); // killed before its header
        ::_exit(5);
    }
    int status = 0;
    BOOST_REQUIRE(::waitpid(child, &status, 0) == child);
    BOOST_TEST((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL));
    file_check c;
    c.read(read_file(path), 1);
    ::unlink(path.c_str());
    BOOST_TEST(c.first_failure == "");
    BOOST_TEST(c.next_seq[0] == 10u);
    BOOST_TEST(c.records == 10u);
}
