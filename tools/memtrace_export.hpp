// memtrace_export: turns a trace of the tracebuf tracers into a file that memtrace's own
// reader and analyses accept (their rules: ../docs/reading-traces.md). tracebuf-dump's
// --export-memtrace drives it; it reads bytes and produces bytes, with no file I/O, so that
// a test or a fuzzer can drive it just as well.
//
// What it writes:
//   - the HEADER first, with the input's machine and a trace id that hashes every input
//     record and the options (memtrace caches its analyses by id);
//   - memtrace's records only, all in slot 0: THREAD, SUMMARY and tracebuf's own records
//     (CHUNK, PADDING, ...) are dropped;
//   - each execution contiguous: its INSN_EXEC, then its accesses, as one thread would write
//     it. An execution is placed where its thread's next execution starts (or the thread's
//     slot is taken over, or the trace ends): for a program whose threads synchronize, every
//     access then follows the accesses it depends on, since a thread's release instruction
//     starts - closing the execution before it - before the release happens;
//   - insn_seq numbered 1, 2, 3, ... in the order of first use, each INSN written just before
//     its first use; an instruction that runs twice in a row (a loop of one instruction, or
//     two threads on the same pc) alternates with a second number for the same pc, and an
//     execution with more than 255 uses or 255 defs is cut into runs that each start with an
//     INSN_EXEC, so that memtrace never merges executions or overflows a run.
// Memory: the instruction table and one open execution per thread slot. In chunk mode an
// INSN record may come after a use of its instruction (another thread's chunk); executions
// then wait, in order, until it arrives.
#ifndef TRACEBUF_TOOLS_MEMTRACE_EXPORT_HPP
#define TRACEBUF_TOOLS_MEMTRACE_EXPORT_HPP

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tracebuf_tools {

struct export_options {
    bool one_thread = false; ///< keep only the thread with serial `thread_serial`
    std::uint32_t thread_serial = 0;
    std::size_t max_record = 4096; ///< the input's largest record
};

struct export_stats {
    std::uint64_t input_records = 0;
    std::uint64_t input_bytes = 0;
    std::uint64_t output_records = 0;
    std::uint64_t executions = 0;       ///< INSN_EXEC records written
    std::uint64_t instructions = 0;     ///< INSN records written
    std::uint64_t second_numbers = 0;   ///< of them, second numbers for an instruction
    std::uint64_t split_executions = 0; ///< executions cut into runs of at most 255 uses and defs
    std::uint64_t added_execs = 0;      ///< accesses that followed no INSN_EXEC of theirs: one written for them
    std::uint64_t dropped = 0;          ///< THREAD, SUMMARY and tracebuf's own records
    std::uint64_t other_threads = 0;    ///< executions left out by one_thread
    std::uint64_t threads = 0;          ///< THREAD records
    std::uint64_t chunks = 0;
};

/// The HEADER record, 24 bytes.
using header_record = std::array<unsigned char, 24>;

class memtrace_export {
public:
    explicit memtrace_export(const export_options& options);
    ~memtrace_export();
    memtrace_export(const memtrace_export&) = delete;
    memtrace_export& operator=(const memtrace_export&) = delete;

    /// The next `size` bytes of the trace; a record may straddle two calls. False once the
    /// input is bad (error()); later calls do nothing.
    bool feed(const unsigned char* data, std::size_t size);
    /// The trace ended. False if it is bad or incomplete.
    bool finish();

    /// Bytes produced so far and not yet taken: write them out and clear the vector. The
    /// first 24 bytes ever produced are a HEADER with a zero trace id; after finish(), write
    /// final_header() over them.
    std::vector<unsigned char>& output();
    header_record final_header() const;

    bool failed() const;
    /// What is wrong with the input, starting "offset N: ".
    const std::string& error() const;
    std::uint64_t error_offset() const;
    /// Things the output is right about but a user should know (chunk order, added
    /// INSN_EXECs), one line each.
    const std::vector<std::string>& warnings() const;
    const export_stats& stats() const;

private:
    struct state;
    std::unique_ptr<state> s_;
};

} // namespace tracebuf_tools

#endif
