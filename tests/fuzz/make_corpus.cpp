// make_corpus: the fuzz targets' seed corpus, written by the library's own writers, as the
// tracers write traces - nothing hand-made, nothing committed.
//
//   make_corpus DIR
//
// DIR/traces/   whole traces in the memtrace tracers' layouts (memtrace.hpp): a HEADER, per
//               thread a THREAD record in its slot (in one trace with its old tag), MMAP,
//               REGMETA, INSN, INSN_EXEC, LOAD, STORE, GET_REG, PUT_REG and their _NX forms,
//               and at exit SUMMARY records - in record mode, chunk mode (CHUNK records,
//               padding) and ordered mode (merged, as the QEMU tracer writes it), each with
//               small buffers, so that they hold several flushes, and tiny chunks
// DIR/ordered/  ordered mode's flushed buffers before the merge (ordered chunks, stamps),
//               for fuzz_merge; a leading 0x80 byte selects its raw mode
//
// Three writers in one OS thread take turns; the one that is not writing is offline (as in a
// system call), so that a flush never waits for it.
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <system_error>
#include <type_traits>
#include <vector>

#include <tracebuf/clock_logical.hpp>
#include <tracebuf/memtrace.hpp>
#include <tracebuf/ordered_merge.hpp>
#include <tracebuf/tracebuf.hpp>

namespace {

namespace mt = tracebuf::memtrace;

// The logical clock: the same stamps in every run, so the same corpus. Reservations of at
// most 4 KiB, so that a 4 KiB buffer is allowed: a trace of a few KiB holds several flushes.
struct corpus_traits : tracebuf::default_traits {
    using clock = tracebuf::logical_clock<tracebuf::default_traits::atomics>;
    static constexpr std::size_t max_reservation = 4096;
};

template <class Sink>
using buffer_of = tracebuf::trace_buffer<corpus_traits, Sink>;

bool write_file(const std::string& path, const std::vector<unsigned char>& bytes, unsigned char prefix = 0,
                bool prefixed = false) {
    std::FILE* f = std::fopen(path.c_str(), "wb");
    if (f == nullptr) return false;
    bool ok = !prefixed || std::fputc(prefix, f) != EOF;
    ok = ok && std::fwrite(bytes.data(), 1, bytes.size(), f) == bytes.size();
    return std::fclose(f) == 0 && ok;
}

struct access_payload {
    std::uint32_t insn_seq;
    std::uint64_t addr;
    std::uint64_t value;
} __attribute__((packed));

// One traced thread: its writer, slot, serial and private record count (for the SUMMARY).
template <class Writer>
struct traced_thread {
    Writer writer;
    unsigned slot;
    std::uint32_t tid;
    std::uint64_t records = 0;

    template <class Buffer>
    traced_thread(Buffer& b, std::size_t chunk, unsigned slot_, std::uint32_t tid_)
        : writer(make(b, chunk, tid_)), slot(slot_), tid(tid_) {}

    template <class Buffer>
    static Writer make(Buffer& b, std::size_t chunk, std::uint32_t tid) {
        if constexpr (std::is_constructible_v<Writer, Buffer&, std::size_t, std::uint32_t, std::uint32_t>)
            return Writer(b, chunk, 4242, tid);
        else
            return Writer(b);
    }

    void put(std::uint16_t type, const void* payload, std::size_t n, tracebuf::stamp how) {
        if (writer.write_record(mt::tag_in_slot(type, slot), payload, n, how) == tracebuf::errc::ok) ++records;
    }
};

// A short program's trace: three threads, every record type, `steps` executions each.
template <class Writer, class Buffer>
void trace_program(Buffer& buf, std::size_t chunk, unsigned steps, std::uint16_t thread_type = mt::thread) {
    const std::uint8_t id[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    mt::write_header(buf, mt::em_x86_64, id);
    std::vector<traced_thread<Writer>*> threads;
    traced_thread<Writer> a(buf, chunk, 0, 100), b(buf, chunk, 1, 101), c(buf, chunk, 2, 102);
    threads = {&a, &b, &c};
    std::uint32_t serial = 0;
    for (traced_thread<Writer>* t : threads) {
        t->writer.register_thread();
        const mt::thread_payload p{4242, t->tid, serial++};
        t->put(thread_type, &p, sizeof p, tracebuf::stamp::ordered);
        t->writer.go_offline();
    }
    {
        // The binary's text, in slot 0 (the process's), written by the first thread.
        a.writer.go_online();
        const mt::mmap_payload m{0, 0x400000, 0x402000, mt::mmap_read | mt::mmap_exec, 0, 8, 1234};
        unsigned char payload[mt::mmap_payload_size(12)];
        mt::put_mmap_payload(payload, m, "/bin/program", 12);
        a.writer.write_record(mt::mmap, payload, sizeof payload, tracebuf::stamp::relaxed);
        // A register's name (REGMETA: u16 offset, u16 size, the name and its NUL).
        const unsigned char regmeta[8] = {16, 0, 8, 0, 'r', 'a', 'x', 0};
        a.put(mt::regmeta, regmeta, sizeof regmeta, tracebuf::stamp::relaxed); // the thread's record
        a.writer.go_offline();
    }
    std::uint32_t next_seq = 1;
    for (unsigned step = 0; step < steps; ++step) {
        traced_thread<Writer>& t = *threads[(step / 5 + step / 17) % threads.size()]; // runs of a few steps
        t.writer.go_online();
        // A new instruction every few steps, else one already described (a loop).
        const std::uint32_t seq = step % 4 == 0 || next_seq == 1 ? next_seq++ : 1 + step % (next_seq - 1);
        if (seq == next_seq - 1 && step % 4 == 0) {
            unsigned char insn[13 + 3] = {};
            const std::uint64_t pc = 0x401000 + 3 * std::uint64_t{seq};
            std::memcpy(insn, &seq, 4);
            std::memcpy(insn + 4, &pc, 8);
            insn[13] = 0x48;
            insn[14] = 0x8b;
            insn[15] = 0x07;
            t.put(mt::insn, insn, sizeof insn, tracebuf::stamp::relaxed);
        }
        t.put(mt::insn_exec, &seq, sizeof seq, tracebuf::stamp::inherit);
        if (step % 5 == 2) { // register accesses: GET_REG, PUT_REG, their _NX forms
            const access_payload r{seq, 16, step * 7ull};
            t.put(mt::get_reg, &r, sizeof r, tracebuf::stamp::ordered);
            t.put(mt::put_reg, &r, sizeof r, tracebuf::stamp::relaxed);
            const access_payload nx{seq, 24, 8}; // (insn_seq, offset, size)
            t.put(step % 2 == 0 ? mt::get_reg_nx : mt::put_reg_nx, &nx, sizeof nx, tracebuf::stamp::relaxed);
        }
        for (unsigned k = 0; k < 1 + step % 3; ++k) {
            const access_payload l{seq, 0x7000 + 8 * std::uint64_t{step % 5}, step * 31ull + k};
            t.put(k % 2 == 0 ? mt::load : mt::store, &l, sizeof l,
                  k % 2 == 0 ? tracebuf::stamp::ordered : tracebuf::stamp::relaxed);
        }
        t.writer.go_offline();
    }
    for (traced_thread<Writer>* t : threads) {
        t->writer.go_online();
        t->writer.unregister_thread();
    }
    tracebuf::record_writer<Buffer> summary(buf);
    summary.register_thread();
    const auto entry = [&](std::uint32_t i) { return mt::summary_entry{i, threads[i]->tid, threads[i]->records}; };
    mt::write_summary([&](std::size_t n) { return summary.reserve(n); }, static_cast<std::uint32_t>(threads.size()),
                      entry);
    summary.flush();
    summary.unregister_thread();
    buf.drain();
}

template <class Writer, class Sink>
std::vector<unsigned char> one_trace(Sink sink, std::size_t capacity, std::size_t chunk, unsigned steps,
                                     tracebuf::buffering how = tracebuf::buffering::single,
                                     std::uint16_t thread_type = mt::thread) {
    std::vector<std::uint64_t> memory((how == tracebuf::buffering::double_buffer ? 2 : 1) * capacity / 8);
    buffer_of<Sink> buf(memory.data(), memory.size() * 8, std::move(sink), how);
    if (buf.status() != tracebuf::errc::ok) return {};
    trace_program<Writer>(buf, chunk, steps, thread_type);
    if constexpr (std::is_same_v<Sink, tracebuf::memory_sink>)
        return buf.sink().bytes();
    else
        return buf.sink().inner().bytes();
}

} // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: make_corpus DIR\n");
        return 2;
    }
    const std::string dir = argv[1];
    std::error_code error;
    for (const char* sub : {"/traces", "/ordered"}) {
        std::filesystem::create_directories(dir + sub, error);
        if (error) {
            std::fprintf(stderr, "make_corpus: %s%s: %s\n", dir.c_str(), sub, error.message().c_str());
            return 1;
        }
    }
    using memory_buffer = buffer_of<tracebuf::memory_sink>;
    using merged_buffer = buffer_of<tracebuf::merging_sink<tracebuf::memory_sink, 8>>;
    bool ok = true;
    unsigned files = 0;
    const auto save = [&](const std::string& name, const std::vector<unsigned char>& bytes, bool raw_merge = false) {
        ok = ok && !bytes.empty() && write_file(dir + "/" + name, bytes, 0x80, raw_merge);
        ++files;
    };
    constexpr std::size_t capacity = 4096;
    for (const unsigned steps : {6u, 40u, 300u}) {
        const std::string n = std::to_string(steps);
        save("traces/record-" + n, one_trace<tracebuf::record_writer<memory_buffer>>(tracebuf::memory_sink{}, capacity, 0, steps));
        save("traces/chunk-" + n, one_trace<tracebuf::chunk_writer<memory_buffer>>(tracebuf::memory_sink{}, capacity, 128, steps));
        save("ordered/raw-" + n, one_trace<tracebuf::ordered_writer<memory_buffer>>(tracebuf::memory_sink{}, capacity, 128, steps),
             true);
        std::vector<unsigned char> scratch(2 * capacity);
        save("traces/ordered-" + n,
             one_trace<tracebuf::ordered_writer<merged_buffer>>(
                 tracebuf::merging_sink<tracebuf::memory_sink, 8>(tracebuf::memory_sink{}, scratch.data(), scratch.size()),
                 capacity, 128, steps, tracebuf::buffering::double_buffer));
    }
    // THREAD records with their old tag (memtrace_reader.hpp reads both).
    save("traces/record-legacy", one_trace<tracebuf::record_writer<memory_buffer>>(
                                     tracebuf::memory_sink{}, capacity, 0, 40, tracebuf::buffering::single, mt::legacy_thread));
    // fuzz_merge's structured mode reads any bytes as a program; a few to start from.
    for (unsigned i = 0; i < 4; ++i) {
        std::vector<unsigned char> program(64 + 64 * i);
        std::uint32_t x = 0x12345678u + i;
        for (unsigned char& b : program) {
            x = x * 1103515245u + 12345u;
            b = static_cast<unsigned char>(x >> 24);
        }
        program[0] &= 0x7f;
        save("ordered/program-" + std::to_string(i), program);
    }
    if (!ok) {
        std::fprintf(stderr, "make_corpus: could not write the corpus in %s\n", dir.c_str());
        return 1;
    }
    std::printf("make_corpus: %u files in %s\n", files, dir.c_str());
    return 0;
}
