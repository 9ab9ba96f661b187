// The rules memtrace's own reader and its use-def analysis (ud) impose on a trace file, as
// ../shared/platform/memtrace-reader.md lists them from memtrace's source. memtrace cannot be
// installed here, so the tests check our exports against these rules instead. Written from
// the rules alone: it shares no code with the export it checks.
//
//   1. The file starts with the 64-bit HEADER (tag 0x4d38, 24 bytes) and holds no other.
//   2. Records are 8-aligned, `length` counts the header and payload but not the padding, and
//      the last record's padding ends the file.
//   3. Only memtrace's tags: HEADER, LOAD, STORE, REG, INSN, GET_REG, PUT_REG, INSN_EXEC,
//      GET_REG_NX, PUT_REG_NX, MMAP, REGMETA - anything else fails memtrace's load.
//   4. Each record is long enough for its layout (INSN_EXEC exactly 8, _NX exactly 24).
//   5. INSN records are numbered 1, 2, 3, ... in file order.
//   6. A LOAD, STORE, REG, GET/PUT_REG(_NX) or INSN_EXEC names an insn_seq whose INSN came
//      earlier.
//   7. Consecutive records with one insn_seq are one execution: it starts with its
//      INSN_EXEC and holds no second one (INSN, MMAP and REGMETA records in between do not
//      part two runs: where memtrace would, this rule is only stricter).
//   8. No run has more than 255 uses (LOAD, GET_REG, GET_REG_NX) or 255 defs (STORE,
//      PUT_REG, PUT_REG_NX).
//   9. The trace id is not all zeros (memtrace caches its analyses by id).
// And, reported for the caller to judge since a JIT or a vDSO has no file: which INSN pcs
// lie in no executable MMAP range (memtrace could not name their functions).
#ifndef TRACEBUF_TESTS_MEMTRACE_RULES_HPP
#define TRACEBUF_TESTS_MEMTRACE_RULES_HPP

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <set>
#include <string>
#include <utility>

namespace memtrace_rules {

struct verdict {
    bool ok = true;
    std::uint64_t offset = 0; ///< of the first record that breaks a rule
    std::string broken;       ///< which rule, in words
    // What a good file holds.
    std::uint64_t records = 0, instructions = 0, executions = 0, loads = 0, stores = 0, mmaps = 0;
    unsigned most_uses = 0, most_defs = 0; ///< in one run
    std::uint64_t unmapped_pcs = 0;        ///< distinct INSN pcs in no executable MMAP
    std::uint64_t first_unmapped_pc = 0;
};

inline verdict check(const unsigned char* data, std::size_t size) {
    enum : std::uint16_t {
        header = 0x4d38,
        load = 0x4d41,
        store = 0x4d42,
        reg = 0x4d43,
        insn = 0x4d44,
        get_reg = 0x4d45,
        put_reg = 0x4d46,
        insn_exec = 0x4d47,
        get_reg_nx = 0x4d48,
        put_reg_nx = 0x4d49,
        mmap = 0x4d50,
        regmeta = 0x4d51,
    };
    verdict v;
    const auto fail = [&](std::uint64_t at, const std::string& what) {
        v.ok = false;
        v.offset = at;
        v.broken = what;
        return v;
    };
    const auto hex = [](std::uint16_t tag) {
        char text[8];
        std::snprintf(text, sizeof text, "0x%04x", tag);
        return std::string(text);
    };
    std::set<std::pair<std::uint64_t, std::uint64_t>> code; // executable MMAP ranges
    std::set<std::uint64_t> pcs;
    std::uint32_t run_seq = 0; // 0: no run yet
    unsigned uses = 0, defs = 0;
    for (std::size_t at = 0; at < size;) {
        if (size - at < 4) return fail(at, "a record header cut by the end of the file");
        std::uint16_t tag, length;
        std::memcpy(&tag, data + at, 2);
        std::memcpy(&length, data + at + 2, 2);
        if (length < 4) return fail(at, "length " + std::to_string(length) + " is shorter than the header");
        const std::size_t footprint = (std::size_t{length} + 7) & ~std::size_t{7};
        if (footprint > size - at) return fail(at, "the record or its padding runs past the end of the file");
        const unsigned char* p = data + at + 4;
        const std::size_t n = length - 4u;
        ++v.records;
        if (at == 0 && tag != header) return fail(at, "the file does not start with the 64-bit HEADER");
        std::size_t least = 12; // insn_seq, addr
        bool exact = false;
        switch (tag) {
        case header:
            if (at != 0) return fail(at, "a second HEADER");
            if (n != 20) return fail(at, "a HEADER of " + std::to_string(n + 4) + " bytes, not 24");
            {
                static const unsigned char zero[16] = {};
                if (std::memcmp(p + 4, zero, 16) == 0) return fail(at, "the trace id is all zeros");
            }
            at += footprint;
            continue;
        case insn_exec:
            least = 4;
            exact = true;
            break;
        case get_reg_nx:
        case put_reg_nx:
            least = 20;
            exact = true;
            break;
        case insn: least = 13; break;
        case mmap: least = 53; break;
        case regmeta: least = 5; break;
        case load:
        case store:
        case reg:
        case get_reg:
        case put_reg: break;
        default: return fail(at, "tag " + hex(tag) + " is not one of memtrace's");
        }
        if (n < least || (exact && n != least))
            return fail(at, "a record of tag " + hex(tag) + " with " + std::to_string(n) + " payload bytes");
        if (tag == mmap || tag == regmeta) {
            if (p[n - 1] != 0) return fail(at, "a name without its NUL");
            if (tag == mmap) {
                std::uint64_t range[3]; // start, end, flags
                std::memcpy(range, p + 4, sizeof range);
                if ((range[2] & 4) != 0) code.emplace(range[0], range[1]);
                ++v.mmaps;
            }
            at += footprint;
            continue;
        }
        std::uint32_t seq;
        std::memcpy(&seq, p, 4);
        if (tag == insn) {
            if (seq != v.instructions + 1)
                return fail(at, "INSN numbered " + std::to_string(seq) + " after " + std::to_string(v.instructions) +
                                    " INSN records: not dense from 1 in file order");
            ++v.instructions;
            std::uint64_t pc;
            std::memcpy(&pc, p + 4, 8);
            pcs.insert(pc);
            at += footprint;
            continue;
        }
        if (seq == 0 || seq > v.instructions)
            return fail(at, "insn_seq " + std::to_string(seq) + " has no INSN record before it");
        if (seq != run_seq) { // a new run
            if (tag != insn_exec)
                return fail(at, "a run of insn_seq " + std::to_string(seq) + " that does not start with INSN_EXEC");
            run_seq = seq;
            uses = defs = 0;
            ++v.executions;
        } else if (tag == insn_exec) {
            return fail(at, "two executions of insn_seq " + std::to_string(seq) + " in one run: memtrace merges them");
        }
        uses += tag == load || tag == get_reg || tag == get_reg_nx;
        defs += tag == store || tag == put_reg || tag == put_reg_nx;
        v.loads += tag == load;
        v.stores += tag == store;
        if (uses > 255 || defs > 255)
            return fail(at, "a run of insn_seq " + std::to_string(seq) + " with more than 255 " + (uses > 255 ? "uses" : "defs"));
        if (uses > v.most_uses) v.most_uses = uses;
        if (defs > v.most_defs) v.most_defs = defs;
        at += footprint;
    }
    if (size == 0) return fail(0, "an empty file: no HEADER");
    for (std::uint64_t pc : pcs) {
        auto after = code.upper_bound({pc, UINT64_MAX}); // the first range starting above pc
        bool mapped = false;
        for (auto r = code.begin(); r != after && !mapped; ++r) mapped = pc < r->second;
        if (!mapped && v.unmapped_pcs++ == 0) v.first_unmapped_pc = pc;
    }
    return v;
}

} // namespace memtrace_rules

#endif
