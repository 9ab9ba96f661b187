// Fault injection at the sink: the fd sink and the direct sink facing short writes, EINTR,
// a disk that fills up in the middle of a flush (ENOSPC), EIO, and /dev/full - through the
// record, chunk and ordered writers, into a real file (a memfd) behind a write(2) that
// misbehaves on schedule. What sink_fd.hpp promises:
//   - short writes and EINTR lose nothing: the file is the whole trace;
//   - the first error is reported (sink_error(), flush() and drain() return sink_failed),
//     the producers go on (every reservation still succeeds), and the sink writes nothing
//     more: no write(2) after the failing one;
//   - the file is cut back to the end of the last flush that went out whole: it reads valid,
//     and holds exactly the first records of the trace, in order;
//   - bytes_written() + bytes_lost() is every byte handed to the sink, bytes_written() is the
//     file's size.
#define BOOST_TEST_MODULE fault_sinks
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <tracebuf/chunk_writer.hpp>
#include <tracebuf/clock_logical.hpp>
#include <tracebuf/ordered_merge.hpp>
#include <tracebuf/ordered_writer.hpp>
#include <tracebuf/reader.hpp>
#include <tracebuf/record_writer.hpp>
#include <tracebuf/sink_direct.hpp>
#include <tracebuf/sink_fd.hpp>
#include <tracebuf/trace_buffer.hpp>

#include "support/test_memory.hpp"
#include "support/test_traits.hpp"

using namespace tracebuf;

namespace {

// ---- A write(2) that misbehaves on schedule ---------------------------------------------------

struct fault_plan {
    std::size_t capacity = SIZE_MAX;  // bytes the "disk" takes; then every write fails
    int error = ENOSPC;               // with this
    std::size_t max_write = SIZE_MAX; // short writes: at most this many bytes per call
    unsigned eintr_every = 0;         // every n-th call is interrupted before it writes
    // What happened.
    unsigned calls = 0, interrupted = 0, short_writes = 0, calls_after_failure = 0;
    std::size_t accepted = 0;
    bool failed = false;
};
fault_plan* plan = nullptr;

// Like a disk filling up: a write takes what still fits (a short write), the next one fails.
ssize_t faulty_write(int fd, const void* data, std::size_t size) {
    ++plan->calls;
    if (plan->failed) ++plan->calls_after_failure;
    if (plan->eintr_every != 0 && plan->calls % plan->eintr_every == 0) {
        ++plan->interrupted;
        errno = EINTR;
        return -1;
    }
    const std::size_t room = plan->capacity - plan->accepted;
    if (room == 0) {
        plan->failed = true;
        errno = plan->error;
        return -1;
    }
    const std::size_t n = std::min({size, plan->max_write, room});
    const ssize_t written = ::write(fd, data, n);
    if (written > 0) {
        plan->accepted += static_cast<std::size_t>(written);
        if (static_cast<std::size_t>(written) < size) ++plan->short_writes;
    }
    return written;
}

struct planned {
    explicit planned(fault_plan p) : value(p) { plan = &value; }
    ~planned() { plan = nullptr; }
    fault_plan value;
};

// A regular file in memory: the sink can cut it back like any file.
struct memory_file {
    memory_file() : fd(::memfd_create("tracebuf-fault", MFD_CLOEXEC)) { BOOST_REQUIRE(fd >= 0); }
    ~memory_file() { ::close(fd); }
    std::vector<unsigned char> contents() const {
        struct stat st;
        BOOST_REQUIRE(::fstat(fd, &st) == 0);
        std::vector<unsigned char> bytes(static_cast<std::size_t>(st.st_size));
        BOOST_REQUIRE(::pread(fd, bytes.data(), bytes.size(), 0) == static_cast<ssize_t>(bytes.size()));
        return bytes;
    }
    int fd;
};

// ---- The three writers, one shape (writer.hpp) ------------------------------------------------

// A 16 KiB buffer (reservations of at most 4 KiB): 20,000 records make about 20 flushes.
struct fault_traits : tracebuf_test::boost_futex {
    using clock = logical_clock<tracebuf_test::parallel_atomics>; // ordered mode's stamps
    static constexpr std::size_t max_reservation = 4096;
};
constexpr std::uint16_t data_tag = 0x4d41;
constexpr std::size_t capacity = 16 * 1024;

struct record_mode {
    static constexpr const char* name = "record";
    using buffer = trace_buffer<fault_traits, fd_sink>;
    using writer = record_writer<buffer>;
    static writer make_writer(buffer& b) { return writer(b); }
    static buffer* make(tracebuf_test::memory& m, int fd, tracebuf_test::memory&) {
        return new buffer(m.data(), capacity, fd_sink(fd, &faulty_write));
    }
    static const fd_sink& file(buffer& b) { return b.sink(); }
    static std::uint64_t handed(buffer& b) { return b.stats().bytes_flushed; }
};
struct chunk_mode : record_mode {
    static constexpr const char* name = "chunk";
    using writer = chunk_writer<buffer>;
    static writer make_writer(buffer& b) { return writer(b, 512, 1, 2); }
};
struct ordered_mode {
    static constexpr const char* name = "ordered";
    using buffer = trace_buffer<fault_traits, merging_sink<fd_sink, 4>>;
    using writer = ordered_writer<buffer>;
    static writer make_writer(buffer& b) { return writer(b, 512, 1, 2); }
    static buffer* make(tracebuf_test::memory& m, int fd, tracebuf_test::memory& scratch) {
        return new buffer(m.data(), 2 * capacity,
                          merging_sink<fd_sink, 4>(fd_sink(fd, &faulty_write), scratch.data(), capacity),
                          buffering::double_buffer);
    }
    static const fd_sink& file(buffer& b) { return b.sink().inner(); }
    static std::uint64_t handed(buffer& b) { return b.sink().stats().bytes_out; } // the merged bytes
};
struct direct_mode : record_mode {
    static constexpr const char* name = "direct";
    using buffer = trace_buffer<fault_traits, direct_fd_sink>;
    using writer = record_writer<buffer>;
    static writer make_writer(buffer& b) { return writer(b); }
    static buffer* make(tracebuf_test::memory& m, int fd, tracebuf_test::memory&) {
        return new buffer(m.data(), capacity, direct_fd_sink(fd, 4096, &faulty_write));
    }
    static const direct_fd_sink& file(buffer& b) { return b.sink(); }
    static std::uint64_t handed(buffer& b) { return b.stats().bytes_flushed; }
};
struct direct_chunk_mode : direct_mode {
    static constexpr const char* name = "direct chunk";
    using writer = chunk_writer<buffer>;
    static writer make_writer(buffer& b) { return writer(b, 512, 1, 2); }
};
// The QEMU tracer's mode=ordered with direct=1: the merge in front of the direct sink.
struct direct_ordered_mode {
    static constexpr const char* name = "direct ordered";
    using buffer = trace_buffer<fault_traits, merging_sink<direct_fd_sink, 4>>;
    using writer = ordered_writer<buffer>;
    static writer make_writer(buffer& b) { return writer(b, 512, 1, 2); }
    static buffer* make(tracebuf_test::memory& m, int fd, tracebuf_test::memory& scratch) {
        return new buffer(m.data(), 2 * capacity,
                          merging_sink<direct_fd_sink, 4>(direct_fd_sink(fd, 4096, &faulty_write), scratch.data(), capacity),
                          buffering::double_buffer);
    }
    static const direct_fd_sink& file(buffer& b) { return b.sink().inner(); }
    static std::uint64_t handed(buffer& b) { return b.sink().stats().bytes_out; }
};
using modes = std::tuple<record_mode, chunk_mode, ordered_mode, direct_mode, direct_chunk_mode, direct_ordered_mode>;

// The data records of a trace file, in order (its chunk headers and padding skipped); the
// whole file must be valid.
std::vector<std::uint64_t> data_records(const std::vector<unsigned char>& file) {
    std::vector<std::uint64_t> seen;
    const scan_result r = scan_records(file.data(), file.size(), 4096,
                                       [&](std::uint16_t tag, const unsigned char* payload, std::size_t n, std::size_t) {
                                           if (tag != data_tag) return;
                                           std::uint64_t v = ~0ull;
                                           if (n == sizeof v) std::memcpy(&v, payload, n);
                                           seen.push_back(v);
                                       });
    BOOST_TEST(r.ok(), "the file is not a valid trace: " << to_string(r.fault) << " at offset " << r.valid_bytes);
    return seen;
}

// What one run reported.
struct outcome {
    std::vector<errc> flushes; // each explicit flush's result, in order
    errc drained = errc::ok;
    int sink_error = 0;
    std::uint64_t written = 0, lost = 0, handed = 0, flush_count = 0;
    std::vector<unsigned char> file;
    bool every_write_accepted = true;
    fault_plan seen; // the schedule's counts: what the write(2) calls met
};

// Writes `records` records (value = sequence number) through one writer, with an explicit
// flush every `flush_every`, then drains.
template <class Mode>
outcome run(const fault_plan& p, std::uint64_t records = 20000, std::uint64_t flush_every = 1000) {
    memory_file out;
    tracebuf_test::memory mem(2 * capacity), scratch(capacity);
    planned scheduled(p);
    outcome o;
    {
        std::unique_ptr<typename Mode::buffer> buf(Mode::make(mem, out.fd, scratch));
        BOOST_REQUIRE((buf->status() == errc::ok));
        typename Mode::writer w = Mode::make_writer(*buf);
        BOOST_REQUIRE((w.register_thread() == errc::ok));
        for (std::uint64_t i = 0; i < records; ++i) {
            if (w.write_record(data_tag, &i, sizeof i, stamp::relaxed) != errc::ok) o.every_write_accepted = false;
            if (i % flush_every == flush_every - 1) o.flushes.push_back(w.flush());
        }
        BOOST_REQUIRE((w.unregister_thread() == errc::ok));
        o.drained = buf->drain();
        o.sink_error = buf->sink_error();
        o.written = Mode::file(*buf).bytes_written();
        o.lost = Mode::file(*buf).bytes_lost();
        o.handed = Mode::handed(*buf);
        o.flush_count = buf->stats().flushes;
    }
    o.file = out.contents();
    o.seen = *plan;
    return o;
}

} // namespace

BOOST_AUTO_TEST_CASE_TEMPLATE(fault_short_writes_and_eintr_lose_nothing, Mode, modes) {
    fault_plan p;
    p.max_write = 777; // odd sizes: writes stop inside records
    p.eintr_every = 3;
    const outcome o = run<Mode>(p);
    BOOST_TEST(o.seen.interrupted > 0u); // the schedule did misbehave
    BOOST_TEST(o.seen.short_writes > 0u);
    BOOST_TEST(o.every_write_accepted);
    BOOST_TEST(std::all_of(o.flushes.begin(), o.flushes.end(), [](errc e) { return e == errc::ok; }));
    BOOST_TEST((o.drained == errc::ok));
    BOOST_TEST(o.sink_error == 0);
    BOOST_TEST(o.lost == 0u);
    BOOST_TEST(o.written == o.handed);
    BOOST_TEST(o.file.size() >= o.written); // the direct sink adds padding
    const std::vector<std::uint64_t> records = data_records(o.file);
    BOOST_REQUIRE(records.size() == 20000u);
    for (std::uint64_t i = 0; i < records.size(); ++i) BOOST_TEST_REQUIRE(records[i] == i);
}

// The schedule really misbehaved: short writes and interruptions happened (else the test
// above would prove nothing).
BOOST_AUTO_TEST_CASE(fault_schedule_does_interrupt_and_shorten_writes) {
    memory_file out;
    planned scheduled(fault_plan{});
    plan->max_write = 777;
    plan->eintr_every = 3;
    fd_sink sink(out.fd, &faulty_write);
    std::vector<unsigned char> data(10000, 1);
    BOOST_TEST(sink.write(data.data(), data.size()) == 0);
    BOOST_TEST(plan->interrupted > 0u);
    BOOST_TEST(plan->short_writes > 0u);
    BOOST_TEST(out.contents() == data);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(fault_disk_full_mid_flush_keeps_a_valid_prefix, Mode, modes) {
    for (const std::size_t disk : {std::size_t{40000}, std::size_t{100003}}) {
        fault_plan p;
        p.capacity = disk; // fills up inside some flush
        p.error = ENOSPC;
        p.max_write = 5000;
        const outcome o = run<Mode>(p);
        BOOST_TEST_CONTEXT(Mode::name << ", a disk of " << disk << " bytes") {
            BOOST_TEST(o.every_write_accepted); // the producers never notice
            // The explicit flushes: ok until the disk filled, sink_failed from then on.
            const auto first_failed = std::find(o.flushes.begin(), o.flushes.end(), errc::sink_failed);
            BOOST_TEST((first_failed != o.flushes.end()));
            BOOST_TEST(std::all_of(o.flushes.begin(), first_failed, [](errc e) { return e == errc::ok; }));
            BOOST_TEST(std::all_of(first_failed, o.flushes.end(), [](errc e) { return e == errc::sink_failed; }));
            BOOST_TEST((o.drained == errc::sink_failed));
            BOOST_TEST(o.sink_error == ENOSPC);
            // The file: cut back to the last whole flush, valid, the trace's first records.
            BOOST_TEST(o.file.size() <= disk);
            BOOST_TEST(o.written + o.lost == o.handed);
            BOOST_TEST(o.lost > 0u);
            if (std::string(Mode::name).rfind("direct", 0) == 0) BOOST_TEST(o.file.size() % direct_fd_sink::block_size == 0u);
            else BOOST_TEST(o.file.size() == o.written);
            const std::vector<std::uint64_t> records = data_records(o.file);
            BOOST_TEST(!records.empty());
            for (std::uint64_t i = 0; i < records.size(); ++i) BOOST_TEST_REQUIRE(records[i] == i);
            // The barrier went on flushing; the sink wrote nothing after the failure.
            BOOST_TEST(o.flush_count >= o.flushes.size());
            BOOST_TEST(o.seen.failed);
            BOOST_TEST(o.seen.calls_after_failure == 0u);
        }
    }
}

BOOST_AUTO_TEST_CASE_TEMPLATE(fault_no_write_after_the_first_error, Mode, modes) {
    fault_plan p;
    p.capacity = 30000;
    p.error = EIO;
    memory_file out;
    tracebuf_test::memory mem(2 * capacity), scratch(capacity);
    planned scheduled(p);
    {
        std::unique_ptr<typename Mode::buffer> buf(Mode::make(mem, out.fd, scratch));
        typename Mode::writer w = Mode::make_writer(*buf);
        BOOST_REQUIRE((w.register_thread() == errc::ok));
        for (std::uint64_t i = 0; i < 20000; ++i) BOOST_REQUIRE((w.write_record(data_tag, &i, sizeof i, stamp::relaxed) == errc::ok));
        BOOST_TEST((w.flush() == errc::sink_failed));
        BOOST_TEST((w.last_error() == errc::sink_failed));
        BOOST_REQUIRE((w.unregister_thread() == errc::ok));
        BOOST_TEST((buf->drain() == errc::sink_failed));
        BOOST_TEST(buf->sink_error() == EIO);
        BOOST_TEST(buf->stats().sink_error == EIO);
        BOOST_TEST(Mode::file(*buf).error() == EIO);
    }
    BOOST_TEST(plan->failed);
    BOOST_TEST(plan->calls_after_failure == 0u);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(fault_eio_at_the_first_write_loses_everything_and_says_so, Mode, modes) {
    fault_plan p;
    p.capacity = 0;
    p.error = EIO;
    const outcome o = run<Mode>(p);
    BOOST_TEST(o.file.empty());
    BOOST_TEST(o.written == 0u);
    BOOST_TEST(o.lost == o.handed);
    BOOST_TEST(o.handed >= 20000u * 16); // every record was handed to the sink
    BOOST_TEST(o.sink_error == EIO);
    BOOST_TEST((o.drained == errc::sink_failed));
    BOOST_TEST(o.every_write_accepted);
}

// The real thing: /dev/full fails every write with ENOSPC.
BOOST_AUTO_TEST_CASE(fault_dev_full_through_a_trace_buffer) {
    const int fd = ::open("/dev/full", O_WRONLY | O_CLOEXEC);
    BOOST_REQUIRE_MESSAGE(fd >= 0, "/dev/full: " << std::strerror(errno));
    tracebuf_test::memory mem(capacity);
    {
        trace_buffer<fault_traits, fd_sink> buf(mem.data(), capacity, fd_sink(fd));
        record_writer<trace_buffer<fault_traits, fd_sink>> w(buf);
        BOOST_REQUIRE((w.register_thread() == errc::ok));
        for (std::uint64_t i = 0; i < 5000; ++i) BOOST_REQUIRE((w.write_record(data_tag, &i, sizeof i, stamp::relaxed) == errc::ok));
        BOOST_REQUIRE((w.unregister_thread() == errc::ok));
        BOOST_TEST((buf.drain() == errc::sink_failed));
        BOOST_TEST(buf.sink_error() == ENOSPC);
        BOOST_TEST(buf.sink().bytes_written() == 0u);
        BOOST_TEST(buf.sink().bytes_lost() == buf.stats().bytes_flushed);
        BOOST_TEST(buf.sink().bytes_lost() == 5000u * 16);
    }
    ::close(fd);
}

// Where the file cannot be cut back (a pipe), the part of the failed flush that went out
// stays out, and is counted as written; the rest is lost.
BOOST_AUTO_TEST_CASE(fault_a_pipe_keeps_the_part_that_went_out) {
    int fds[2];
    BOOST_REQUIRE(::pipe(fds) == 0);
    fault_plan p;
    p.capacity = 100;
    p.error = EPIPE;
    planned scheduled(p);
    fd_sink sink(fds[1], &faulty_write);
    std::vector<unsigned char> flush(4096, 7);
    BOOST_TEST(sink.write(flush.data(), flush.size()) == EPIPE);
    BOOST_TEST(sink.write(flush.data(), 8) == EPIPE); // stopped: not even tried
    BOOST_TEST(plan->calls_after_failure == 0u);
    BOOST_TEST(sink.bytes_written() == 100u);
    BOOST_TEST(sink.bytes_lost() == 4096u - 100 + 8);
    ::close(fds[1]);
    std::vector<unsigned char> back(200);
    BOOST_TEST(::read(fds[0], back.data(), back.size()) == 100);
    ::close(fds[0]);
}
