// Threads blocked in real system calls - read on an empty pipe, a futex wait, a sleep -
// for seconds, offline as the host contract says, do not delay other threads' flushes.
// Then they come back online, write, and their records are in the trace. Each sleeper
// returns only when the test wakes it (a byte, a futex wake, a signal), never after a
// set time: a slow machine must not make a sleeper come back during the flushes.
#define BOOST_TEST_MODULE syscall_offline
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include <boost/atomic/atomic.hpp>

#include "support/test_traits.hpp"
#include "support/thread_check.hpp"

using namespace tracebuf;
using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {
constexpr std::uint16_t sleeper_tag = 0x5301;
constexpr std::uint16_t writer_tag = 0x5302;

void ignore_signal(int) {}
} // namespace

BOOST_AUTO_TEST_CASE(threads_blocked_in_syscalls_never_delay_a_flush) {
    char path[] = "/tmp/tracebuf-syscall-XXXXXX";
    const int fd = ::mkstemp(path);
    BOOST_REQUIRE(fd >= 0);
    std::vector<std::uint64_t> memory(64 * 1024 / 8);
    trace_buffer<tracebuf_test::boost_futex, fd_sink> buf(memory.data(), memory.size() * 8, fd_sink(fd));
    BOOST_REQUIRE((buf.status() == errc::ok));

    int pipe_fds[2];
    BOOST_REQUIRE(::pipe(pipe_fds) == 0);
    boost::atomic<std::uint32_t> futex_word{0};
    std::atomic<int> offline{0};
    std::atomic<bool> returned[3] = {false, false, false};
    std::atomic<bool> wake_sleeper{false};
    // SIGUSR1 interrupts the third sleeper's nanosleep (EINTR): no SA_RESTART.
    struct sigaction wake_action {};
    wake_action.sa_handler = ignore_signal;
    struct sigaction previous_action {};
    BOOST_REQUIRE(::sigaction(SIGUSR1, &wake_action, &previous_action) == 0);

    auto sleeper = [&](int kind) {
        return std::thread([&, kind] {
            producer p;
            TB_CHECK((buf.register_thread(p) == errc::ok));
            const std::uint64_t before = 1000 + static_cast<std::uint64_t>(kind);
            TB_CHECK((buf.write_record(p, sleeper_tag, &before, 8) == errc::ok));
            TB_CHECK((buf.go_offline(p) == errc::ok)); // syscall entry
            offline.fetch_add(1);
            if (kind == 0) {
                char c;
                TB_CHECK(::read(pipe_fds[0], &c, 1) == 1);
            } else if (kind == 1) {
                while (futex_word.load() == 0) futex_word.wait(0);
            } else {
                // An hour per call, until the test sets the flag and signals.
                const timespec ts{3600, 0};
                while (!wake_sleeper.load()) ::nanosleep(&ts, nullptr);
            }
            returned[kind] = true;
            TB_CHECK((buf.go_online(p) == errc::ok)); // syscall exit
            const std::uint64_t after = 2000 + static_cast<std::uint64_t>(kind);
            TB_CHECK((buf.write_record(p, sleeper_tag, &after, 8) == errc::ok));
            TB_CHECK((buf.unregister_thread(p) == errc::ok));
        });
    };
    std::vector<std::thread> sleepers;
    for (int k = 0; k < 3; ++k) sleepers.push_back(sleeper(k));
    while (offline.load() < 3) std::this_thread::sleep_for(1ms);

    // The writer fills the 64 KiB buffer hundreds of times while they sleep.
    producer w;
    BOOST_REQUIRE((buf.register_thread(w) == errc::ok));
    const auto start = clock_type::now();
    clock_type::duration slowest{};
    std::uint64_t written = 0;
    while (buf.stats().flushes < 300) {
        const auto t0 = clock_type::now();
        BOOST_REQUIRE((buf.write_record(w, writer_tag, &written, 8) == errc::ok));
        slowest = std::max(slowest, clock_type::now() - t0);
        ++written;
    }
    const auto elapsed = clock_type::now() - start;
    const double slowest_us = std::chrono::duration<double, std::micro>(slowest).count();
    BOOST_TEST_MESSAGE("300 flushes in " << std::chrono::duration<double>(elapsed).count()
                                         << " s, slowest reservation " << slowest_us << " us");
    // Nobody has come back yet: all 300 flushes ran while the three were blocked.
    BOOST_TEST(!returned[0].load());
    BOOST_TEST(!returned[1].load());
    BOOST_TEST(!returned[2].load());
    // A generous bound: a flush that waited for a sleeper would take the sleeper's seconds.
    BOOST_TEST(std::chrono::duration<double>(slowest).count() < 1.0);
    BOOST_REQUIRE((buf.go_offline(w) == errc::ok));

    // Wake them: each comes back online and writes.
    BOOST_REQUIRE(::write(pipe_fds[1], "x", 1) == 1);
    futex_word = 1;
    futex_word.notify_all();
    wake_sleeper = true;
    // Again and again: a signal that lands before the sleeper enters nanosleep is lost.
    while (!returned[2].load()) {
        ::pthread_kill(sleepers[2].native_handle(), SIGUSR1);
        std::this_thread::sleep_for(1ms);
    }
    for (auto& t : sleepers) t.join();
    BOOST_REQUIRE(::sigaction(SIGUSR1, &previous_action, nullptr) == 0);
    BOOST_REQUIRE((buf.unregister_thread(w) == errc::ok));
    BOOST_REQUIRE((buf.drain() == errc::ok));
    TB_NO_THREAD_FAILURES();

    // The file holds every record exactly once.
    const off_t size = ::lseek(fd, 0, SEEK_END);
    std::vector<unsigned char> file(static_cast<std::size_t>(size));
    BOOST_REQUIRE(::pread(fd, file.data(), file.size(), 0) == size);
    std::uint64_t next_writer = 0;
    std::vector<std::uint64_t> sleeper_values;
    const scan_result r = scan_records(
        file.data(), file.size(), 4096, [&](std::uint16_t tag, const unsigned char* payload, std::size_t, std::size_t) {
            std::uint64_t v;
            std::memcpy(&v, payload, 8);
            if (tag == writer_tag) BOOST_REQUIRE(v == next_writer++);
            else sleeper_values.push_back(v);
        });
    BOOST_TEST(r.ok());
    BOOST_TEST(next_writer == written);
    std::sort(sleeper_values.begin(), sleeper_values.end());
    BOOST_TEST((sleeper_values == std::vector<std::uint64_t>{1000, 1001, 1002, 2000, 2001, 2002}));
    ::close(fd);
    ::close(pipe_fds[0]);
    ::close(pipe_fds[1]);
    ::unlink(path);
}
