// libbaseline_qemu.so: the alternatives the QEMU tracer is measured against (bench/qemu_bench.sh).
//
//   qemu-x86_64 -plugin ./libbaseline_qemu.so,strategy=S,out=PATH PROGRAM ARGS
//
//   strategy=count    counts instructions and accesses in per-thread counters; writes nothing
//   strategy=mutex    the same records as libtracebuf_qemu.so into one shared 16 MiB buffer
//                     under a std::mutex, written to PATH by whoever fills it (what QEMU's
//                     contrib plugins do)
//   strategy=private  the same records into private per-thread 16 MiB buffers, each thread
//                     writing its own file PATH.<tid>: no sharing, and no global order
//
// Records and callbacks are the same as the tracer's, so wall times compare the buffers only.
// A benchmark tool, not a tracer: no THREAD/SUMMARY records, no fork handling.
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <tracebuf/memtrace.hpp>
#include <tracebuf/record.hpp>
#include <tracebuf/sink_fd.hpp>
#include <tracebuf/trace_file.hpp>

#include "qemu_plugin_api.h"
#include "qemu_records.hpp"

int qemu_plugin_version = 1; // declared (extern "C", exported) in qemu_plugin_api.h

namespace {

namespace mt = tracebuf::memtrace;
constexpr std::size_t buffer_bytes = 16u << 20;

enum class strategy {
    count,
    mutex,
    priv,
};

struct globals {
    strategy how = strategy::count;
    std::string out;
    std::atomic<std::uint32_t> next_insn_seq{0};
    // mutex
    std::mutex lock;
    std::vector<unsigned char> shared;
    std::size_t shared_pos = 0;
    int shared_fd = -1;
    // count
    std::atomic<std::uint64_t> counted{0};
};
globals g;

struct private_buffer {
    std::vector<unsigned char> bytes = std::vector<unsigned char>(buffer_bytes);
    std::size_t pos = 0;
    int fd = -1;
    std::uint64_t count = 0;
    ~private_buffer() { flush(); }
    void flush() {
        if (fd < 0) {
            const std::string path =
                g.out == "/dev/null" ? g.out : g.out + "." + std::to_string(::syscall(SYS_gettid));
            fd = tracebuf::create_trace_file(path.c_str());
        }
        if (pos != 0) tracebuf::fd_sink(fd).write(bytes.data(), pos);
        pos = 0;
    }
};
thread_local std::unique_ptr<private_buffer> mine;

void emit(std::uint16_t tag, const void* payload, std::size_t size) {
    const std::size_t n = tracebuf::record_footprint(size);
    switch (g.how) {
    case strategy::count:
        if (!mine) mine = std::make_unique<private_buffer>();
        ++mine->count;
        return;
    case strategy::mutex: {
        std::lock_guard<std::mutex> hold(g.lock);
        if (g.shared_pos + n > g.shared.size()) {
            tracebuf::fd_sink(g.shared_fd).write(g.shared.data(), g.shared_pos);
            g.shared_pos = 0;
        }
        tracebuf::put_record(g.shared.data() + g.shared_pos, tag, payload, size);
        g.shared_pos += n;
        return;
    }
    case strategy::priv:
        if (!mine) mine = std::make_unique<private_buffer>();
        if (mine->pos + n > mine->bytes.size()) mine->flush();
        tracebuf::put_record(mine->bytes.data() + mine->pos, tag, payload, size);
        mine->pos += n;
        return;
    }
}

void on_insn_exec(unsigned int, void* udata) {
    const std::uint32_t seq = tracebuf_qemu::seq_of(udata);
    emit(mt::insn_exec, &seq, sizeof seq);
}

void on_mem(unsigned int, qemu_plugin_meminfo_t info, std::uint64_t vaddr, void* udata) {
    tracebuf_qemu::access_payload r;
    const std::size_t size = tracebuf_qemu::read_access(info, vaddr, tracebuf_qemu::seq_of(udata), r);
    emit(qemu_plugin_mem_is_store(info) ? mt::store : mt::load, &r, size);
}

void on_tb_trans(qemu_plugin_id_t, qemu_plugin_tb* tb) {
    const std::size_t n = qemu_plugin_tb_n_insns(tb);
    for (std::size_t i = 0; i < n; ++i) {
        qemu_plugin_insn* insn = qemu_plugin_tb_get_insn(tb, i);
        const std::uint32_t seq = g.next_insn_seq.fetch_add(1, std::memory_order_relaxed);
        tracebuf_qemu::insn_payload d;
        emit(mt::insn, &d, tracebuf_qemu::describe_insn(insn, seq, d));
        void* udata = tracebuf_qemu::udata_of(seq);
        qemu_plugin_register_vcpu_insn_exec_cb(insn, on_insn_exec, QEMU_PLUGIN_CB_NO_REGS, udata);
        qemu_plugin_register_vcpu_mem_cb(insn, on_mem, QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_MEM_RW, udata);
    }
}

void on_vcpu_exit(qemu_plugin_id_t, unsigned int) {
    if (mine) {
        if (g.how == strategy::count) g.counted += mine->count;
        else mine->flush();
    }
}

void on_exit(qemu_plugin_id_t, void*) {
    if (g.how == strategy::mutex && g.shared_pos != 0)
        tracebuf::fd_sink(g.shared_fd).write(g.shared.data(), g.shared_pos);
    // Threads still alive at exit_group: their private buffers are flushed by the
    // thread_local destructors of threads that exit normally only; flush the caller's here.
    if (mine && g.how == strategy::priv) mine->flush();
}

} // namespace

int qemu_plugin_install(qemu_plugin_id_t id, const qemu_info_t*, int argc, char** argv) {
    for (int i = 0; i < argc; ++i) {
        const std::string a = argv[i];
        if (a == "strategy=count") g.how = strategy::count;
        else if (a == "strategy=mutex") g.how = strategy::mutex;
        else if (a == "strategy=private") g.how = strategy::priv;
        else if (a.rfind("out=", 0) == 0) g.out = a.substr(4);
        else return -1;
    }
    if (g.how != strategy::count && g.out.empty()) return -1;
    if (g.how == strategy::mutex) {
        g.shared.resize(buffer_bytes);
        g.shared_fd = tracebuf::create_trace_file(g.out.c_str());
        if (g.shared_fd < 0) return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_tb_trans);
    qemu_plugin_register_vcpu_exit_cb(id, on_vcpu_exit);
    qemu_plugin_register_atexit_cb(id, on_exit, nullptr);
    return 0;
}
