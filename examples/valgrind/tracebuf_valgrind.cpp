// tracebuf-amd64-linux: a Valgrind tool that writes one trace of every client thread through
// tracebuf's freestanding core, in the same record layouts as the QEMU tracer.
//
//   valgrind --tool=tracebuf --out=PATH [--buffer=BYTES] PROGRAM ARGS   (see tracebuf-valgrind)
//
// No libc, no C++ runtime: the core is compiled freestanding and linked into the tool.
// Valgrind runs one thread at a time, so the tool uses the serialized-host wait policy, and
// the fast path is emitted as VEX IR with no helper call per record:
//
//     pos = LD(position); end = pos + n; ST(position) = end      (plain: one thread runs)
//     over = capacity < end
//     slow = DIRTY[guard over] tracebuf_slow_path(pos, n)         (returns the position)
//     at = data + (over ? slow : pos);  then the record's stores at `at`
//
// plus `++*current_count` (the thread's private record counter, for the SUMMARY). Records:
// the HEADER with a random trace id; MMAP records (slot 0, the process's) for each file
// mapping the client starts with (its binary, the interpreter) and each file it maps later,
// from Valgrind's address-space manager; INSN descriptors at translation (insn_seq from 1),
// INSN_EXEC per instruction, LOAD after each load (the
// loaded value), STORE after each store (the stored value), guarded loads and stores when
// their guard holds, and for a compare-and-swap a LOAD of the old value and a STORE of the
// new one (as lackey counts them). Threads are
// attributed by the slot in the tag's high byte, read by the IR from `current_tag_hi`, which
// the tool switches when Valgrind switches threads. A forked child stops tracing.
#include <new>

#include <tracebuf/atomics_boost.hpp>
#include <tracebuf/memtrace.hpp>
#include <tracebuf/sink_callback.hpp>
#include <tracebuf/trace_buffer.hpp>
#include <tracebuf/wait_serialized.hpp>

extern "C" {
#include "pub_tool_basics.h"
}
#include "pub_tool_vki.h" // C++-aware itself (it defines a template)
extern "C" {
#include "pub_tool_aspacemgr.h"
#include "pub_tool_libcassert.h"
#include "pub_tool_libcbase.h"
#include "pub_tool_libcfile.h"
#include "pub_tool_libcprint.h"
#include "pub_tool_libcproc.h"
#include "pub_tool_machine.h"
#include "pub_tool_mallocfree.h"
#include "pub_tool_options.h"
#include "pub_tool_tooliface.h"
}

namespace {

namespace mt = tracebuf::memtrace;

struct vg_traits : tracebuf::traits_base {
    using atomics = tracebuf::boost_atomics;
    using wait = tracebuf::serialized_host_wait; // one thread at a time: never wait
};
using buffer_type = tracebuf::trace_buffer<vg_traits, tracebuf::callback_sink>;

constexpr unsigned max_tids = 1024;    // Valgrind ThreadIds (at most --max-threads)
constexpr unsigned max_serials = 16384; // threads over the whole run, for the SUMMARY
constexpr ULong scratch_bytes = 65536; // where a failed reservation writes (never flushed)

struct thread_info {
    tracebuf::producer producer;
    UInt serial = 0;
    UInt slot = 0;
    bool registered = false;
};
struct serial_info {
    UInt lwp = 0;
    ULong records = 0; // incremented by the IR of its own thread
};

// Constant-initialised: Valgrind never runs .init_array.
thread_info threads[max_tids];
serial_info serials[max_serials];
UInt serial_count = 0;
UInt free_slots[mt::slots];
UInt free_slot_count = 0;

// Read by the emitted IR; switched with the running thread.
ULong dummy_count = 0;
ULong* current_count = &dummy_count;
UInt current_tag_hi = 0x4d00;
tracebuf::producer* current_producer = nullptr;

alignas(64) unsigned char buffer_storage[sizeof(buffer_type)];
buffer_type* buf = nullptr;
tracebuf::jit_layout layout{};
const HChar* out_path = "tracebuf-valgrind.trace";
ULong buffer_bytes = 16u << 20;
Int out_fd = -1;
UInt next_insn_seq = 1; // 0 is memtrace's "no instruction"
bool tracing = false;
bool fork_child = false; // a forked child never writes the parent's file
// --check-counts=yes: count executed loads and stores with a second, separate counter (plain
// IR increments, no trace involved), printed at exit for the tests to compare with the
// LOAD and STORE records in the trace.
bool check_counts = false;
ULong executed_loads = 0;
ULong executed_stores = 0;

// The trace file keeps what sink_fd.hpp promises the other tracers: the first error stops
// the writing, since a later flush that succeeded (space freed meanwhile) would leave a gap
// no reader could see. Valgrind's tool interface has no ftruncate, so the part of the
// failed flush that reached the file is overwritten with zeros, which a reader takes for
// the end of the trace (reader.hpp: a zero tail).
struct trace_output {
    int error = 0;      // the write's errno that stopped the output, or 0
    ULong kept = 0;     // bytes of whole flushes in the file
    ULong lost = 0;     // bytes handed over that the file lacks
    bool torn = false;  // part of the failed flush could not be zeroed
};
trace_output output;

bool write_zeros(Off64T at, std::size_t size) {
    static const unsigned char zeros[4096] = {};
    if (VG_(lseek)(out_fd, at, VKI_SEEK_SET) != at) return false;
    while (size != 0) {
        const Int n = VG_(write)(out_fd, zeros, size < sizeof zeros ? static_cast<Int>(size) : static_cast<Int>(sizeof zeros));
        if (n <= 0) return false;
        size -= static_cast<std::size_t>(n);
    }
    return true;
}

int write_all(void*, const void* data, std::size_t size) {
    if (fork_child) return 0; // the child's copy of the buffer is dropped, never written
    if (output.error != 0) {
        output.lost += size;
        return output.error;
    }
    const char* p = static_cast<const char*>(data);
    std::size_t done = 0;
    while (done != size) {
        const std::size_t left = size - done;
        const Int n = VG_(write)(out_fd, p + done, left > (1u << 30) ? (1 << 30) : static_cast<Int>(left));
        if (n <= 0) { // VG_(write) returns -errno; a write of nothing counts as EIO
            output.error = n < 0 ? -n : VKI_EIO;
            break;
        }
        done += static_cast<std::size_t>(n);
    }
    if (output.error == 0) {
        output.kept += size;
        return 0;
    }
    if (done != 0 && !write_zeros(static_cast<Off64T>(output.kept), done)) output.torn = true;
    output.lost += size;
    return output.error;
}

const char* write_error_name(int e) {
    switch (e) {
    case VKI_ENOSPC: return "No space left on device";
    case VKI_EFBIG: return "File too large";
    case VKI_EIO: return "Input/output error";
    case VKI_EPIPE: return "Broken pipe";
    default: return nullptr;
    }
}

// The slow path, called from the IR when a reservation did not fit.
ULong tracebuf_slow_path(ULong pos, ULong n) {
    const std::uint64_t at = buf->reserve_slow(*current_producer, pos, n);
    return at == tracebuf::invalid_position ? layout.capacity : at; // scratch: never flushed
}

void write_record(thread_info& t, std::uint16_t type, const void* payload, std::size_t size) {
    unsigned char* at = buf->reserve(t.producer, tracebuf::record_footprint(size));
    if (at == nullptr) return;
    tracebuf::put_record(at, mt::tag_in_slot(type, t.slot), payload, size);
    ++serials[t.serial].records;
}

thread_info& ensure_registered(ThreadId tid) {
    tl_assert(tid < max_tids);
    thread_info& t = threads[tid];
    if (t.registered) return t;
    if (free_slot_count == 0 || serial_count == max_serials)
        VG_(tool_panic)(const_cast<HChar*>("tracebuf: more than 256 threads at once, or 16384 in all"));
    t.slot = free_slots[--free_slot_count];
    t.serial = serial_count++;
    serials[t.serial].lwp = static_cast<UInt>(VG_(gettid)());
    tl_assert(buf->register_thread(t.producer) == tracebuf::errc::ok);
    t.registered = true;
    const mt::thread_payload payload{static_cast<std::uint32_t>(VG_(getpid)()), serials[t.serial].lwp,
                                     t.serial};
    write_record(t, mt::thread, &payload, sizeof payload);
    return t;
}

void make_current(ThreadId tid) {
    thread_info& t = ensure_registered(tid);
    current_count = &serials[t.serial].records;
    current_tag_hi = static_cast<UInt>(mt::tag_in_slot(0x4d00, t.slot)) & 0xff00u;
    current_producer = &t.producer;
}

// An MMAP record for the file mapping that holds [a, a + len), if it is one. Written with a
// producer of its own: Valgrind reports mappings at start-up, before any thread, and from
// syscall wrappers, where the thread may be offline.
void write_mapping(Addr a, SizeT len, Bool rr, Bool ww, Bool xx) {
    if (!tracing) return;
    NSegment const* seg = VG_(am_find_nsegment)(a);
    if (seg == nullptr || seg->kind != SkFileC) return;
    const HChar* name = VG_(am_get_filename)(seg);
    if (name == nullptr) return;
    const mt::mmap_payload m{0, a, a + len,
                             (rr ? mt::mmap_read : 0) | (ww ? mt::mmap_write : 0) | (xx ? mt::mmap_exec : 0),
                             static_cast<ULong>(seg->offset) + (a - seg->start), seg->dev, seg->ino};
    const std::size_t name_length = VG_(strlen)(name);
    tracebuf::producer p;
    if (buf->register_thread(p) != tracebuf::errc::ok) return;
    if (void* at = buf->reserve_record(p, mt::mmap, mt::mmap_payload_size(name_length)))
        mt::put_mmap_payload(at, m, name, name_length);
    buf->unregister_thread(p);
}
void on_startup_mapping(Addr a, SizeT len, Bool rr, Bool ww, Bool xx, ULong) { write_mapping(a, len, rr, ww, xx); }
void on_mmap(Addr a, SizeT len, Bool rr, Bool ww, Bool xx, ULong) { write_mapping(a, len, rr, ww, xx); }

// ---- thread life and syscalls ------------------------------------------------------------

void on_start_client_code(ThreadId tid, ULong) {
    if (tracing) make_current(tid);
}

void on_thread_exit(ThreadId tid) {
    if (tid >= max_tids || !threads[tid].registered) return;
    thread_info& t = threads[tid];
    buf->unregister_thread(t.producer);
    t.registered = false;
    free_slots[free_slot_count++] = t.slot;
    if (current_producer == &t.producer) {
        current_producer = nullptr;
        current_count = &dummy_count;
    }
}

// fork: the child keeps running instrumented code (its records go nowhere); the parent's
// trace is untouched. A child that wants a trace of its own is not supported.
void on_fork_child(ThreadId) {
    fork_child = true;
    tracing = false;
}

void on_pre_syscall(ThreadId tid, UInt, UWord*, UInt) {
    if (tracing && tid < max_tids && threads[tid].registered) buf->go_offline(threads[tid].producer);
}

void on_post_syscall(ThreadId tid, UInt, UWord*, UInt, SysRes) {
    if (tracing && tid < max_tids && threads[tid].registered) buf->go_online(threads[tid].producer);
}

// ---- IR -------------------------------------------------------------------------------------

IRExpr* u64(ULong v) { return IRExpr_Const(IRConst_U64(v)); }
IRExpr* u32(UInt v) { return IRExpr_Const(IRConst_U32(v)); }
IRExpr* addr_of(const void* p) { return u64(reinterpret_cast<ULong>(p)); }

IRTemp assign(IRSB* sb, IRType ty, IRExpr* e) {
    const IRTemp t = newIRTemp(sb->tyenv, ty);
    addStmtToIRSB(sb, IRStmt_WrTmp(t, e));
    return t;
}
void store(IRSB* sb, IRExpr* addr, IRExpr* value) { addStmtToIRSB(sb, IRStmt_Store(Iend_LE, addr, value)); }

// *counter += 1, or += the guard (0 or 1). `counter` is an address expression (an atom).
void emit_add(IRSB* sb, IRExpr* counter, IRExpr* guard) {
    IRExpr* step = guard == nullptr ? u64(1) : IRExpr_RdTmp(assign(sb, Ity_I64, IRExpr_Unop(Iop_1Uto64, guard)));
    const IRTemp old = assign(sb, Ity_I64, IRExpr_Load(Iend_LE, Ity_I64, counter));
    const IRTemp incremented = assign(sb, Ity_I64, IRExpr_Binop(Iop_Add64, IRExpr_RdTmp(old), step));
    store(sb, counter, IRExpr_RdTmp(incremented)); // flat IR: stores take atoms
}

// An emitted record: its address, and the header to store once its payload is stored.
struct emitted_record {
    IRTemp at;
    IRTemp header;
};

// Emits the reservation of n bytes and computes the record's header; returns the record's
// address and the header, which the caller stores with commit() after the payload: a record
// is whole or absent in a trace whose process died (docs/host-contract.md, "Crash-consistent
// traces"; VEX keeps the stores in order, and x86-64 makes them visible in order).
// With a guard (a guarded load or store), the bytes are reserved either way - the IR stays
// straight-line - but when the guard is false the header says PADDING and nothing is
// counted.
emitted_record emit_record(IRSB* sb, std::uint16_t type, UInt length, IRExpr* guard = nullptr) {
    const ULong n = tracebuf::align_up(length);
    IRExpr* position = addr_of(layout.position);
    const IRTemp pos = assign(sb, Ity_I64, IRExpr_Load(Iend_LE, Ity_I64, position));
    const IRTemp end = assign(sb, Ity_I64, IRExpr_Binop(Iop_Add64, IRExpr_RdTmp(pos), u64(n)));
    store(sb, position, IRExpr_RdTmp(end));
    const IRTemp over = assign(sb, Ity_I1, IRExpr_Binop(Iop_CmpLT64U, u64(layout.capacity), IRExpr_RdTmp(end)));
    const IRTemp slow = newIRTemp(sb->tyenv, Ity_I64);
    IRDirty* d = unsafeIRDirty_1_N(slow, 0, "tracebuf_slow_path",
                                   VG_(fnptr_to_fnentry)(reinterpret_cast<void*>(&tracebuf_slow_path)),
                                   mkIRExprVec_2(IRExpr_RdTmp(pos), u64(n)));
    d->guard = IRExpr_RdTmp(over);
    addStmtToIRSB(sb, IRStmt_Dirty(d));
    const IRTemp offset = assign(sb, Ity_I64, IRExpr_ITE(IRExpr_RdTmp(over), IRExpr_RdTmp(slow), IRExpr_RdTmp(pos)));
    const IRTemp at = assign(sb, Ity_I64, IRExpr_Binop(Iop_Add64, IRExpr_RdTmp(offset), u64(reinterpret_cast<ULong>(layout.data))));
    // header: u16 tag (slot byte from current_tag_hi), u16 length
    const IRTemp hi = assign(sb, Ity_I32, IRExpr_Load(Iend_LE, Ity_I32, addr_of(&current_tag_hi)));
    IRTemp header = assign(sb, Ity_I32, IRExpr_Binop(Iop_Or32, u32((type & 0xffu) | (length << 16)), IRExpr_RdTmp(hi)));
    if (guard != nullptr)
        header = assign(sb, Ity_I32, IRExpr_ITE(guard, IRExpr_RdTmp(header),
                                                u32(tracebuf::tags::padding | (length << 16))));
    // *current_count += 1 (or the guard)
    const IRTemp counter = assign(sb, Ity_I64, IRExpr_Load(Iend_LE, Ity_I64, addr_of(&current_count)));
    emit_add(sb, IRExpr_RdTmp(counter), guard);
    return emitted_record{at, header};
}

// The header's store, last: the record is whole from here on.
void commit(IRSB* sb, const emitted_record& r) { store(sb, IRExpr_RdTmp(r.at), IRExpr_RdTmp(r.header)); }

IRExpr* field(IRSB* sb, IRTemp at, ULong offset) {
    return IRExpr_RdTmp(assign(sb, Ity_I64, IRExpr_Binop(Iop_Add64, IRExpr_RdTmp(at), u64(offset))));
}

void emit_insn_exec(IRSB* sb, UInt seq) {
    const emitted_record r = emit_record(sb, mt::insn_exec, 8);
    store(sb, field(sb, r.at, 4), u32(seq));
    commit(sb, r);
}

// LOAD or STORE: u32 insn_seq, u64 address, the value; `guard` for LoadG/StoreG.
void emit_access(IRSB* sb, std::uint16_t type, UInt seq, IRExpr* address, IRExpr* value, IRType ty,
                 IRExpr* guard = nullptr) {
    if (check_counts) emit_add(sb, addr_of(type == mt::load ? &executed_loads : &executed_stores), guard);
    const UInt size = static_cast<UInt>(sizeofIRType(ty));
    const emitted_record r = emit_record(sb, type, 16 + size, guard);
    store(sb, field(sb, r.at, 4), u32(seq));
    store(sb, field(sb, r.at, 8), address);
    store(sb, field(sb, r.at, 16), value);
    commit(sb, r);
}

// The INSN descriptor, written now, from the translating thread.
UInt describe_insn(ThreadId tid, Addr pc, UInt len) {
    const UInt seq = next_insn_seq++;
    if (!tracing || tid >= max_tids) return seq;
    thread_info& t = ensure_registered(tid);
    struct __attribute__((packed)) {
        UInt insn_seq;
        ULong pc;
        UChar flags;
        UChar bytes[32];
    } d;
    d.insn_seq = seq;
    d.pc = pc;
    d.flags = 0;
    if (len > sizeof d.bytes) len = sizeof d.bytes;
    VG_(memcpy)(d.bytes, reinterpret_cast<const void*>(pc), len);
    write_record(t, mt::insn, &d, 13 + len);
    return seq;
}

IRSB* instrument(VgCallbackClosure* closure, IRSB* in, const VexGuestLayout*, const VexGuestExtents*,
                 const VexArchInfo*, IRType gWordTy, IRType hWordTy) {
    if (gWordTy != hWordTy) VG_(tool_panic)(const_cast<HChar*>("tracebuf: host/guest word size mismatch"));
    IRSB* out = deepCopyIRSBExceptStmts(in);
    Int i = 0;
    for (; i < in->stmts_used && in->stmts[i]->tag != Ist_IMark; ++i) addStmtToIRSB(out, in->stmts[i]);
    UInt seq = 0;
    for (; i < in->stmts_used; ++i) {
        IRStmt* st = in->stmts[i];
        if (st == nullptr || st->tag == Ist_NoOp) continue;
        addStmtToIRSB(out, st);
        switch (st->tag) {
        case Ist_IMark:
            seq = describe_insn(closure->tid, static_cast<Addr>(st->Ist.IMark.addr), st->Ist.IMark.len);
            emit_insn_exec(out, seq);
            break;
        case Ist_WrTmp:
            if (st->Ist.WrTmp.data->tag == Iex_Load) {
                const IRType ty = st->Ist.WrTmp.data->Iex.Load.ty;
                emit_access(out, mt::load, seq, st->Ist.WrTmp.data->Iex.Load.addr,
                            IRExpr_RdTmp(st->Ist.WrTmp.tmp), ty);
            }
            break;
        case Ist_Store: {
            IRExpr* data = st->Ist.Store.data;
            emit_access(out, mt::store, seq, st->Ist.Store.addr, data, typeOfIRExpr(in->tyenv, data));
            break;
        }
        case Ist_LoadG: { // guarded load: the loaded (narrow) value, if the guard held
            const IRLoadG* lg = st->Ist.LoadG.details;
            IRType loaded = Ity_INVALID, widened = Ity_INVALID;
            typeOfIRLoadGOp(lg->cvt, &widened, &loaded);
            IRExpr* value = IRExpr_RdTmp(lg->dst);
            if (loaded == Ity_I8 || loaded == Ity_I16)
                value = IRExpr_RdTmp(assign(out, loaded, IRExpr_Unop(loaded == Ity_I8 ? Iop_32to8 : Iop_32to16, value)));
            emit_access(out, mt::load, seq, lg->addr, value, loaded, lg->guard);
            break;
        }
        case Ist_StoreG: {
            const IRStoreG* sg = st->Ist.StoreG.details;
            emit_access(out, mt::store, seq, sg->addr, sg->data, typeOfIRExpr(in->tyenv, sg->data), sg->guard);
            break;
        }
        case Ist_CAS: {
            const IRCAS* cas = st->Ist.CAS.details;
            const IRType ty = typeOfIRExpr(in->tyenv, cas->dataLo);
            emit_access(out, mt::load, seq, cas->addr, IRExpr_RdTmp(cas->oldLo), ty);
            emit_access(out, mt::store, seq, cas->addr, cas->dataLo, ty);
            break;
        }
        default:
            break;
        }
    }
    return out;
}

// ---- start and end --------------------------------------------------------------------------

Bool process_option(const HChar* arg) {
    if (VG_(strncmp)(arg, "--out=", 6) == 0) {
        out_path = arg + 6;
        return True;
    }
    if (VG_(strcmp)(arg, "--check-counts=yes") == 0) {
        check_counts = true;
        return True;
    }
    if (VG_(strncmp)(arg, "--buffer=", 9) == 0) {
        HChar* end = nullptr;
        buffer_bytes = VG_(strtoull10)(arg + 9, &end);
        return *end == '\0' && buffer_bytes >= vg_traits::max_reservation ? True : False;
    }
    return False;
}
void print_usage() {
    VG_(printf)("    --out=PATH       the trace file [tracebuf-valgrind.trace]\n"
                "    --buffer=BYTES   the trace buffer (>= 65536) [16777216]\n"
                "    --check-counts=yes  also count loads and stores separately (tests)\n");
}
void print_debug_usage() {}

void post_clo_init() {
    // As tracebuf/trace_file.hpp does (which needs libc): mode 0600, since the trace holds
    // every value the guest loaded and stored, and never through a symbolic link at the
    // final component. amd64 Linux's O_NOFOLLOW and ELOOP; the vki headers do not define them.
    constexpr Int o_nofollow = 0400000;
    constexpr UWord e_loop = 40;
    const SysRes fd = VG_(open)(out_path, VKI_O_CREAT | VKI_O_WRONLY | VKI_O_TRUNC | o_nofollow, 0600);
    if (sr_isError(fd)) {
        if (sr_Err(fd) == e_loop)
            VG_(umsg)("tracebuf: cannot open %s: is a symbolic link: refused (a trace is never written through a link)\n", out_path);
        else
            VG_(umsg)("tracebuf: cannot open %s (error %lu)\n", out_path, sr_Err(fd));
        VG_(exit)(1);
    }
    out_fd = static_cast<Int>(sr_Res(fd));
    void* memory = VG_(malloc)("tracebuf.arena", buffer_bytes + scratch_bytes);
    VG_(memset)(memory, 0, buffer_bytes + scratch_bytes);
    buf = new (buffer_storage) buffer_type(memory, buffer_bytes, tracebuf::callback_sink(&write_all, nullptr), tracebuf::memory_contents::zeroed);
    tl_assert(buf->status() == tracebuf::errc::ok);
    layout = buf->layout();
    for (UInt s = 0; s < mt::slots; ++s) free_slots[s] = mt::slots - 1 - s; // slot 0 first
    free_slot_count = mt::slots;
    // A random trace id where /dev/urandom can be read; the pid and the clock make it unique
    // either way.
    std::uint8_t trace_id[16] = {};
    const SysRes random = VG_(open)("/dev/urandom", VKI_O_RDONLY, 0);
    if (!sr_isError(random)) {
        VG_(read)(static_cast<Int>(sr_Res(random)), trace_id, sizeof trace_id);
        VG_(close)(static_cast<Int>(sr_Res(random)));
    }
    mt::mix_trace_id(trace_id, static_cast<ULong>(VG_(getpid)()), VG_(read_millisecond_timer)());
    tl_assert(mt::write_header(*buf, mt::em_x86_64, trace_id) == tracebuf::errc::ok);
    tracing = true;
}

void fini(Int) {
    if (fork_child) return;
    tracing = false;
    tracebuf::producer writer;
    if (buf->register_thread(writer) == tracebuf::errc::ok) {
        ULong records = 0;
        for (UInt k = 0; k < serial_count; ++k) records += serials[k].records;
        mt::write_summary([&](std::size_t n) { return buf->reserve(writer, n); },
                          serial_count,
                          [](UInt k) { return mt::summary_entry{k, serials[k].lwp, serials[k].records}; });
        buf->unregister_thread(writer);
        const tracebuf::errc drained = buf->drain();
        const tracebuf::flush_stats s = buf->stats();
        VG_(umsg)("tracebuf: %s: %u threads, %llu records, %llu bytes, %llu flushes%s\n", out_path,
                  serial_count, records, static_cast<ULong>(s.bytes_flushed), static_cast<ULong>(s.flushes),
                  drained == tracebuf::errc::ok || output.error != 0 ? "" : " (drain failed)");
        // The client ran on whatever the file did; say what the trace lacks.
        if (output.error != 0) {
            HChar unnamed[32];
            const char* reason = write_error_name(output.error);
            if (reason == nullptr) {
                VG_(sprintf)(unnamed, "error %d", output.error);
                reason = unnamed;
            }
            VG_(umsg)("tracebuf: writing %s failed: %s; %llu bytes of the trace lost (the file holds the first %llu "
                      "bytes: whole flushes, the records before the error%s)\n",
                      out_path, reason, output.lost, output.kept,
                      output.torn ? "; then part of the failed flush, which tracebuf-dump --recover cuts" : "");
        }
        if (check_counts)
            VG_(umsg)("tracebuf: executed loads %llu stores %llu\n", executed_loads, executed_stores);
    }
    VG_(close)(out_fd);
}

void pre_clo_init() {
    VG_(details_name)("tracebuf");
    VG_(details_version)(nullptr);
    VG_(details_description)("one trace of all threads through tracebuf");
    VG_(details_copyright_author)("the tracebuf authors");
    VG_(details_bug_reports_to)("the tracebuf project");
    VG_(basic_tool_funcs)(post_clo_init, instrument, fini);
    VG_(needs_command_line_options)(process_option, print_usage, print_debug_usage);
    VG_(needs_syscall_wrapper)(on_pre_syscall, on_post_syscall);
    VG_(track_start_client_code)(on_start_client_code);
    VG_(track_pre_thread_ll_exit)(on_thread_exit);
    VG_(track_new_mem_startup)(on_startup_mapping);
    VG_(track_new_mem_mmap)(on_mmap);
    VG_(atfork)(nullptr, nullptr, on_fork_child);
}

} // namespace

extern "C" {
VG_DETERMINE_INTERFACE_VERSION(pre_clo_init)
}
