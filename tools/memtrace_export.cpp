// memtrace_export: see memtrace_export.hpp.
#include "memtrace_export.hpp"

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <deque>
#include <unordered_map>

#include <tracebuf/memtrace.hpp>
#include <tracebuf/memtrace_reader.hpp>
#include <tracebuf/reader.hpp>
#include <tracebuf/record.hpp>

namespace tracebuf_tools {

namespace {

namespace mt = tracebuf::memtrace;

// memtrace's ud fails on a run of one instruction with more uses or defs than this.
constexpr unsigned run_limit = 255;
// Executions wait for a late INSN record: chunk mode orders by chunk, and ordered mode puts
// an execution marker (stamped as its thread's previous record) before the INSN another
// thread wrote at translation. More than this waiting is a trace whose INSN records are
// missing, not late.
constexpr std::size_t waiting_limit = std::size_t{256} << 20;

std::uint32_t u32_at(const unsigned char* p) {
    std::uint32_t v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

std::string hex16(std::uint16_t v) {
    char text[8];
    std::snprintf(text, sizeof text, "0x%04x", v);
    return text;
}

enum class access_kind {
    use,
    def,
    neither,
};

access_kind kind_of(std::uint16_t type) {
    switch (type) {
    case mt::load:
    case mt::get_reg:
    case mt::get_reg_nx: return access_kind::use;
    case mt::store:
    case mt::put_reg:
    case mt::put_reg_nx: return access_kind::def;
    default: return access_kind::neither;
    }
}

// The smallest payload each memtrace record type has (memtrace.hpp's layouts).
std::size_t minimum_payload(std::uint16_t type) {
    switch (type) {
    case mt::insn_exec: return 4;
    case mt::insn: return 13;
    case mt::get_reg_nx:
    case mt::put_reg_nx: return 20;
    case mt::mmap: return sizeof(mt::mmap_payload) + 1;
    case mt::regmeta: return 5;
    default: return 12; // LOAD, STORE, REG, GET_REG, PUT_REG: insn_seq, addr (and the value)
    }
}

// Two 64-bit lanes over every input record: the export's trace id.
struct record_hash {
    std::uint64_t a = 0x6a09e667f3bcc908ull, b = 0xbb67ae8584caa73bull;
    void word(std::uint64_t w) {
        a = (a ^ w) * 0x9e3779b97f4a7c15ull;
        b = ((b ^ w) << 29 | (b ^ w) >> 35) * 0xff51afd7ed558ccdull;
    }
    void record(std::uint16_t tag, const unsigned char* payload, std::size_t n) {
        word(std::uint64_t{tag} << 32 | n);
        std::size_t i = 0;
        for (; i + 8 <= n; i += 8) {
            std::uint64_t w;
            std::memcpy(&w, payload + i, 8);
            word(w);
        }
        if (i < n) {
            std::uint64_t w = 0;
            std::memcpy(&w, payload + i, n - i);
            word(w);
        }
    }
};

} // namespace

struct memtrace_export::state {
    // One execution of an instruction by one thread, while its records come in.
    struct execution {
        bool open = false;
        bool had_exec = false;              // it started with an INSN_EXEC
        bool keep = true;                   // its thread is one the export keeps
        std::uint32_t seq = 0;              // insn_seq in the input
        std::uint64_t offset = 0;           // of its first record
        std::vector<unsigned char> records; // its accesses, tags in slot 0, input insn_seq
    };
    // Something written in order once the INSN records before it have arrived.
    struct waiting {
        execution run;                     // an execution, or
        std::vector<unsigned char> record; // a record passed through (MMAP, REGMETA)
    };
    struct instruction {
        std::string description;  // INSN payload after insn_seq: pc, flags, bytes
        std::uint64_t offset = 0; // of its INSN record
        std::uint32_t first = 0;  // output insn_seq, 0 until first used
        std::uint32_t second = 0; // the other number, for back-to-back executions
    };

    export_options options;
    export_stats stats;
    tracebuf::memtrace::trace_reader reader;
    record_hash hash;
    std::vector<unsigned char> out;
    std::vector<unsigned char> carry; // the start of a record that straddles two feeds
    std::uint64_t consumed = 0;       // input bytes read as whole records
    std::unordered_map<std::uint32_t, instruction> instructions;
    std::array<execution, mt::slots> open_runs;
    std::deque<waiting> queue;
    std::size_t queued_bytes = 0;
    std::uint32_t next_seq = 0;     // output insn_seq last handed out
    std::uint32_t last_run_seq = 0; // insn_seq of the last run written
    std::uint16_t e_machine = 0, regs_size = 0;
    bool have_header = false;
    bool selected_thread_seen = false;
    std::vector<std::string> warnings;
    std::string error;
    std::uint64_t error_offset = 0;
    bool bad = false;

    bool fail(std::uint64_t offset, const std::string& what) {
        if (!bad) {
            bad = true;
            error_offset = offset;
            error = "offset " + std::to_string(offset) + ": " + what;
        }
        return false;
    }

    // ---- output ------------------------------------------------------------------------

    // Appends a record; `seq`, if non-zero, replaces the payload's first four bytes.
    void put(std::uint16_t tag, const unsigned char* payload, std::size_t n, std::uint32_t seq = 0) {
        const std::size_t at = out.size();
        out.resize(at + tracebuf::record_footprint(n), 0);
        tracebuf::write_record_header(out.data() + at, tag, n);
        if (payload != nullptr) std::memcpy(out.data() + at + tracebuf::record_header_size, payload, n);
        if (seq != 0) std::memcpy(out.data() + at + tracebuf::record_header_size, &seq, sizeof seq);
        ++stats.output_records;
    }

    void put_header(const std::uint8_t (&id)[16]) {
        mt::header_payload h{e_machine, regs_size, {}};
        std::memcpy(h.trace_id, id, sizeof id);
        put(mt::header64, reinterpret_cast<const unsigned char*>(&h), sizeof h);
    }

    // The output number for `insn` that differs from `avoid`, writing an INSN record for a
    // number used for the first time.
    std::uint32_t number_for(instruction& insn, std::uint32_t avoid) {
        std::uint32_t* slot = insn.first != avoid || insn.first == 0 ? &insn.first : &insn.second;
        if (*slot == 0) {
            *slot = ++next_seq;
            std::vector<unsigned char> payload(4 + insn.description.size());
            std::memcpy(payload.data() + 4, insn.description.data(), insn.description.size());
            put(mt::insn, payload.data(), payload.size(), *slot);
            ++stats.instructions;
            if (slot == &insn.second) ++stats.second_numbers;
        }
        return *slot;
    }

    void put_execution(instruction& insn, const execution& run) {
        std::uint32_t seq = number_for(insn, last_run_seq);
        put(mt::insn_exec, nullptr, 4, seq);
        ++stats.executions;
        if (!run.had_exec) ++stats.added_execs;
        unsigned uses = 0, defs = 0;
        bool split = false;
        for (std::size_t at = 0; at < run.records.size();) {
            tracebuf::record_header h;
            std::memcpy(&h, run.records.data() + at, sizeof h);
            const access_kind k = kind_of(h.tag);
            if ((k == access_kind::use && uses == run_limit) || (k == access_kind::def && defs == run_limit)) {
                seq = number_for(insn, seq); // a new run, under the other number
                put(mt::insn_exec, nullptr, 4, seq);
                ++stats.executions;
                uses = defs = 0;
                split = true;
            }
            uses += k == access_kind::use;
            defs += k == access_kind::def;
            put(h.tag, run.records.data() + at + tracebuf::record_header_size,
                std::size_t{h.length} - tracebuf::record_header_size, seq);
            at += tracebuf::align_up(h.length);
        }
        stats.split_executions += split;
        last_run_seq = seq;
    }

    // ---- ordering ----------------------------------------------------------------------

    // Writes what waits at the front of the queue for as long as its INSN records are known.
    void drain() {
        while (!queue.empty()) {
            waiting& w = queue.front();
            if (w.record.empty()) {
                auto it = instructions.find(w.run.seq);
                if (it == instructions.end()) return;
                put_execution(it->second, w.run);
                queued_bytes -= w.run.records.size();
            } else {
                out.insert(out.end(), w.record.begin(), w.record.end());
                ++stats.output_records;
                queued_bytes -= w.record.size();
            }
            queue.pop_front();
        }
    }

    // A finished execution: written now, or queued behind one whose INSN is still to come.
    bool complete(execution& run) {
        run.open = false;
        if (!run.keep) {
            ++stats.other_threads;
            run.records.clear();
            return true;
        }
        auto it = instructions.find(run.seq);
        if (queue.empty() && it != instructions.end()) {
            put_execution(it->second, run);
            run.records.clear();
            return true;
        }
        queued_bytes += run.records.size();
        queue.push_back(waiting{run, {}});
        run.records.clear();
        if (queued_bytes > waiting_limit)
            return fail(queue.front().run.offset, "insn_seq " + std::to_string(queue.front().run.seq) +
                                                      " is used, but no INSN record describes it");
        return true;
    }

    bool close_run(unsigned slot) { return !open_runs[slot].open || complete(open_runs[slot]); }

    bool open_run(unsigned slot, std::uint32_t seq, bool had_exec, std::uint64_t offset, const mt::thread_identity* thread) {
        if (!close_run(slot)) return false;
        execution& run = open_runs[slot];
        run.open = true;
        run.had_exec = had_exec;
        run.seq = seq;
        run.offset = offset;
        run.keep = !options.one_thread || (thread != nullptr && thread->serial == options.thread_serial);
        return true;
    }

    // A record that memtrace reads as it is (MMAP, REGMETA), in slot 0.
    void pass_through(std::uint16_t type, const unsigned char* payload, std::size_t n) {
        if (queue.empty()) return put(type, payload, n);
        waiting w;
        w.record.resize(tracebuf::record_footprint(n), 0);
        tracebuf::write_record_header(w.record.data(), type, n);
        std::memcpy(w.record.data() + tracebuf::record_header_size, payload, n);
        queued_bytes += w.record.size();
        queue.push_back(std::move(w));
    }

    // ---- input -------------------------------------------------------------------------

    bool read(std::uint16_t tag, const unsigned char* payload, std::size_t n, std::uint64_t offset) {
        ++stats.input_records;
        hash.record(tag, payload, n);
        const mt::attributed_record r = reader.read(tag, payload, n, offset);
        if (r.fault != tracebuf::chunk_fault::none) return fail(offset, tracebuf::to_string(r.fault));
        if (tracebuf::is_library_tag(tag)) {
            if (tag == tracebuf::tags::chunk && stats.chunks++ == 0)
                warnings.push_back("a chunk-mode trace: between threads, the records are in the order of their "
                                   "chunks, not of their executions (--thread=SERIAL keeps one thread's exact order)");
            ++stats.dropped;
            return true;
        }
        if (r.malformed) return fail(offset, "THREAD or SUMMARY record too short for its layout");
        if (!have_header && r.type != mt::header64)
            return fail(offset, r.type == mt::header32 ? "a 32-bit trace (HEADER32): not supported"
                                                       : "the trace does not start with a HEADER record");
        if (r.type == mt::thread) {
            ++stats.threads;
            ++stats.dropped;
            if (options.one_thread && r.thread->serial == options.thread_serial) selected_thread_seen = true;
            return close_run(r.slot); // the slot's previous thread has ended
        }
        if (r.type == mt::summary) {
            ++stats.dropped;
            return true;
        }
        if (r.type == mt::header64) {
            if (have_header) return fail(offset, "a second HEADER record");
            if (n != sizeof(mt::header_payload)) return fail(offset, "HEADER of " + std::to_string(n) + " bytes, not 20");
            mt::header_payload h;
            std::memcpy(&h, payload, sizeof h);
            e_machine = h.e_machine;
            regs_size = h.regs_size;
            have_header = true;
            const std::uint8_t zero_id[16] = {};
            put_header(zero_id); // final_header() replaces it
            return true;
        }
        if (!mt::is_memtrace_tag(r.type) || r.type == mt::header32)
            return fail(offset, "tag " + hex16(tag) + " (type " + hex16(r.type) + " in slot " + std::to_string(r.slot) +
                                    ") is not a memtrace record");
        if (n < minimum_payload(r.type))
            return fail(offset, std::string(mt::tag_name(r.type)) + " record of " + std::to_string(n) + " bytes, too short");
        // memtrace takes GET_REG_NX and PUT_REG_NX of exactly their layout's size, and they
        // are copied as they are (an INSN_EXEC is written anew, so any size of it will do).
        if ((r.type == mt::get_reg_nx || r.type == mt::put_reg_nx) && n != minimum_payload(r.type))
            return fail(offset, std::string(mt::tag_name(r.type)) + " record of " + std::to_string(n) +
                                    " bytes, not " + std::to_string(minimum_payload(r.type)));
        // memtrace reads the name up to its NUL and refuses a record without one.
        if ((r.type == mt::mmap || r.type == mt::regmeta) && payload[n - 1] != 0)
            return fail(offset, std::string(mt::tag_name(r.type)) + " record whose name does not end with a NUL");
        const std::uint32_t seq = u32_at(payload);
        switch (r.type) {
        case mt::insn: {
            auto [it, added] = instructions.try_emplace(seq);
            if (!added)
                return fail(offset, "a second INSN record for insn_seq " + std::to_string(seq) + " (the first at offset " +
                                        std::to_string(it->second.offset) + ")");
            it->second.description.assign(reinterpret_cast<const char*>(payload) + 4, n - 4);
            it->second.offset = offset;
            drain();
            return true;
        }
        case mt::insn_exec:
            return open_run(r.slot, seq, true, offset, r.thread);
        case mt::mmap:
        case mt::regmeta:
            pass_through(r.type, payload, n);
            return true;
        default: { // an access of the slot's open execution, or of one without its INSN_EXEC
            execution* run = &open_runs[r.slot];
            if (!run->open || run->seq != seq) {
                if (!open_run(r.slot, seq, false, offset, r.thread)) return false;
                run = &open_runs[r.slot];
            }
            const std::size_t at = run->records.size();
            run->records.resize(at + tracebuf::record_footprint(n), 0);
            tracebuf::write_record_header(run->records.data() + at, r.type, n);
            std::memcpy(run->records.data() + at + tracebuf::record_header_size, payload, n);
            return true;
        }
        }
    }

    // Reads the whole records of [data, data + size), which starts at input offset
    // `consumed`; returns the bytes read, or sets the error.
    std::size_t read_records(const unsigned char* data, std::size_t size, bool at_end) {
        const tracebuf::scan_result r = tracebuf::scan_records(
            data, size, options.max_record, [&](std::uint16_t tag, const unsigned char* payload, std::size_t n, std::size_t offset) {
                if (!bad) read(tag, payload, n, consumed + offset);
            });
        if (!r.ok() && (at_end || r.fault != tracebuf::record_fault::truncated))
            fail(consumed + r.valid_bytes, tracebuf::to_string(r.fault));
        consumed += r.valid_bytes;
        return r.valid_bytes;
    }

    // Moves up to `want` bytes from the input into `carry`.
    void take(const unsigned char*& data, std::size_t& size, std::size_t want) {
        const std::size_t n = std::min(size, want);
        carry.insert(carry.end(), data, data + n);
        data += n;
        size -= n;
    }

    bool feed(const unsigned char* data, std::size_t size) {
        if (bad) return false;
        stats.input_bytes += size;
        if (!carry.empty()) { // complete the record that the last feed cut: at most one
            if (carry.size() < tracebuf::record_header_size) take(data, size, tracebuf::record_header_size - carry.size());
            if (carry.size() < tracebuf::record_header_size) return true;
            tracebuf::record_header h;
            std::memcpy(&h, carry.data(), sizeof h);
            const std::size_t need = tracebuf::align_up(h.length);
            if (carry.size() < need) take(data, size, need - carry.size());
            if (carry.size() < need) return true;
            read_records(carry.data(), carry.size(), false); // a bad header fails here
            carry.clear();
            if (bad) return false;
        }
        const std::size_t read_bytes = read_records(data, size, false);
        if (bad) return false;
        carry.assign(data + read_bytes, data + size);
        return true;
    }
};

memtrace_export::memtrace_export(const export_options& options) : s_(std::make_unique<state>()) {
    s_->options = options;
}
memtrace_export::~memtrace_export() = default;

bool memtrace_export::feed(const unsigned char* data, std::size_t size) { return s_->feed(data, size); }

bool memtrace_export::finish() {
    state& s = *s_;
    if (s.bad) return false;
    if (!s.carry.empty()) {
        std::vector<unsigned char> tail;
        tail.swap(s.carry);
        s.read_records(tail.data(), tail.size(), true);
        if (s.bad) return false;
    }
    const tracebuf::chunk_fault end = s.reader.end(s.consumed);
    if (end != tracebuf::chunk_fault::none) return s.fail(s.consumed, tracebuf::to_string(end));
    if (!s.have_header) return s.fail(s.consumed, "no HEADER record: not a memtrace trace");
    // The executions still open, in the order they started.
    std::vector<unsigned> slots;
    for (unsigned slot = 0; slot < mt::slots; ++slot)
        if (s.open_runs[slot].open) slots.push_back(slot);
    std::sort(slots.begin(), slots.end(),
              [&](unsigned a, unsigned b) { return s.open_runs[a].offset < s.open_runs[b].offset; });
    for (unsigned slot : slots)
        if (!s.close_run(slot)) return false;
    if (!s.queue.empty())
        return s.fail(s.queue.front().run.offset, "insn_seq " + std::to_string(s.queue.front().run.seq) +
                                                      " is used, but no INSN record describes it");
    if (s.options.one_thread && !s.selected_thread_seen)
        return s.fail(s.consumed, "no THREAD record has serial " + std::to_string(s.options.thread_serial));
    if (s.stats.added_execs != 0)
        s.warnings.push_back(std::to_string(s.stats.added_execs) +
                             " executions had accesses but no INSN_EXEC of their instruction; one was written for each");
    return true;
}

std::vector<unsigned char>& memtrace_export::output() { return s_->out; }

header_record memtrace_export::final_header() const {
    const state& s = *s_;
    std::uint8_t id[16] = {};
    mt::mix_trace_id(id, s.hash.a, s.hash.b ^ (s.options.one_thread ? 0x100000000ull | s.options.thread_serial : 0));
    mt::header_payload h{s.e_machine, s.regs_size, {}};
    std::memcpy(h.trace_id, id, sizeof id);
    header_record r{};
    std::memcpy(tracebuf::write_record_header(r.data(), mt::header64, sizeof h), &h, sizeof h);
    return r;
}

bool memtrace_export::failed() const { return s_->bad; }
const std::string& memtrace_export::error() const { return s_->error; }
std::uint64_t memtrace_export::error_offset() const { return s_->error_offset; }
const std::vector<std::string>& memtrace_export::warnings() const { return s_->warnings; }
const export_stats& memtrace_export::stats() const { return s_->stats; }

} // namespace tracebuf_tools
