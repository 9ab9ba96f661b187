#!/usr/bin/env python3
"""Turns tracebuf_bench's JSON output into docs: a markdown report and SVG plots.

    report.py RESULTS.json [MORE.json ...] OUT_DIR

Several JSON files are merged (scripts/bench.sh runs the flush-stall benchmarks apart, longer).

Writes OUT_DIR/results.md (tables per scenario, the issue's target ratios) and
OUT_DIR/throughput-<size>-<buffer>.svg (records per second against threads, one line per
strategy). With --benchmark_repetitions, the median of each benchmark is used.
Standard library only.
"""
import json
import math
import os
import re
import sys

COLORS = {
    "private": "#2ca02c", "batch8": "#1f77b4", "record": "#d62728", "fetch_add": "#ff7f0e",
    "moodycamel": "#9467bd", "mutex": "#7f7f7f", "chunk": "#17becf", "chunk_zeroed": "#bcbd22",
    "chunk_callback": "#8c564b", "chunk_callback_seqcst": "#e377c2", "ordered": "#000000",
}
THROUGHPUT = ["private", "chunk", "chunk_zeroed", "chunk_callback", "chunk_callback_seqcst", "ordered", "batch8", "record", "fetch_add", "moodycamel", "mutex"]
MIX = ["private_mix", "chunk_mix", "ordered_mix"]


def load(path):
    with open(path) as f:
        data = json.load(f)
    has_aggregates = any(b.get("run_type") == "aggregate" for b in data["benchmarks"])
    rows = {}
    for b in data["benchmarks"]:
        if has_aggregates and b.get("aggregate_name") != "median":
            continue
        if b.get("error_occurred"):
            raise SystemExit("benchmark %s failed: %s" % (b["name"], b.get("error_message")))
        name = b.get("run_name", b["name"])
        m = re.search(r"threads:(\d+)", name)
        threads = int(m.group(1)) if m else 1
        parts = [p for p in name.split("/") if p != "real_time" and not p.startswith(("threads:", "min_time:"))]
        rows[(parts[0], "/".join(parts[1:]), threads)] = b
    return data["context"], rows


def rate(rows, label, variant, threads, field="items_per_second"):
    b = rows.get((label, variant, threads))
    return None if b is None else b.get(field)


def fmt(value, scale=1e6, digits=1):
    return "–" if value is None else ("%.*f" % (digits, value / scale))


def ratio(a, b):
    return None if a is None or b is None or b == 0 else a / b


def svg_plot(series, title, path):
    w, h, left, right, top, bottom = 640, 400, 70, 140, 40, 50
    points = [r for pts in series.values() for _, r in pts if r]
    lo = 10 ** math.floor(math.log10(min(points)))
    hi = 10 ** math.ceil(math.log10(max(points)))
    xs = sorted({t for pts in series.values() for t, _ in pts})

    def x(t):
        span = math.log2(xs[-1]) - math.log2(xs[0]) or 1
        return left + (w - left - right) * (math.log2(t) - math.log2(xs[0])) / span

    def y(r):
        return top + (h - top - bottom) * (1 - (math.log10(r) - math.log10(lo)) / (math.log10(hi) - math.log10(lo)))

    out = ['<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" font-family="sans-serif" font-size="12">' % (w, h),
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="%d" y="22" font-size="14" font-weight="bold">%s</text>' % (left, title)]
    decade = lo
    while decade <= hi:
        for k in (1, 2, 5):
            v = decade * k
            if lo <= v <= hi:
                out.append('<line x1="%d" x2="%d" y1="%.1f" y2="%.1f" stroke="#ddd"/>' % (left, w - right, y(v), y(v)))
                out.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (left - 6, y(v) + 4, "%g M" % (v / 1e6)))
        decade *= 10
    for t in xs:
        out.append('<line x1="%.1f" x2="%.1f" y1="%d" y2="%d" stroke="#ddd"/>' % (x(t), x(t), top, h - bottom))
        out.append('<text x="%.1f" y="%d" text-anchor="middle">%d</text>' % (x(t), h - bottom + 18, t))
    out.append('<text x="%d" y="%d" text-anchor="middle">threads (2 cores)</text>' % ((left + w - right) // 2, h - 10))
    out.append('<text x="16" y="%d" transform="rotate(-90 16 %d)" text-anchor="middle">records/s (log)</text>' % (h // 2, h // 2))
    for i, (label, pts) in enumerate(series.items()):
        pts = [(t, r) for t, r in pts if r]
        color = COLORS.get(label, "#000")
        out.append('<polyline fill="none" stroke="%s" stroke-width="2" points="%s"/>' %
                   (color, " ".join("%.1f,%.1f" % (x(t), y(r)) for t, r in pts)))
        for t, r in pts:
            out.append('<circle cx="%.1f" cy="%.1f" r="3" fill="%s"/>' % (x(t), y(r), color))
        ly = top + 16 * i + 8
        out.append('<line x1="%d" x2="%d" y1="%d" y2="%d" stroke="%s" stroke-width="2"/>' % (w - right + 12, w - right + 32, ly, ly, color))
        out.append('<text x="%d" y="%d">%s</text>' % (w - right + 38, ly + 4, label))
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    if len(sys.argv) < 3:
        raise SystemExit(__doc__)
    context, rows = load(sys.argv[1])
    for extra in sys.argv[2:-1]:
        rows.update(load(extra)[1])
    out_dir = sys.argv[-1]
    os.makedirs(out_dir, exist_ok=True)
    threads = sorted({t for (_, _, t) in rows})
    md = ["# tracebuf_bench results", "",
          "Generated by `bench/report.py` from one run of `tracebuf_bench` (%s, %d CPUs at %s MHz); "
          "medians of the repetitions. Rates are records per second over all threads (wall time). "
          "Threads beyond 2 oversubscribe the cores. Compare strategies within this run only: "
          "absolute figures drift between runs." %
          (context.get("date", "?"), context.get("num_cpus", 0), context.get("mhz_per_cpu", "?")), ""]

    for size in ("16B", "24B"):
        for buf, desc in (("l2", "256 KiB buffer (cache-resident)"), ("big", "128 MiB buffer")):
            md += ["## Throughput, %s records, %s" % (size, desc), "",
                   "Million records per second. `moodycamel` has no buffer (an unbounded queue, no consumer).", "",
                   "| strategy | " + " | ".join("%d thr" % t for t in threads) + " |",
                   "|---|" + "---|" * len(threads)]
            series = {}
            for label in THROUGHPUT:
                variant = "%s/unbounded" % size if label == "moodycamel" else "%s/%s" % (size, buf)
                vals = [rate(rows, label, variant, t) for t in threads]
                if all(v is None for v in vals):
                    continue
                series[label] = list(zip(threads, vals))
                md.append("| %s | %s |" % (label, " | ".join(fmt(v) for v in vals)))
            svg = "throughput-%s-%s.svg" % (size, buf)
            if series:
                svg_plot(series, "%s records, %s" % (size, desc), os.path.join(out_dir, svg))
            md += ["", "![records per second against threads](%s)" % svg, ""]

    md += ["## Targets", "",
           "`record` ÷ `fetch_add` is the time ratio (fetch_add rate ÷ record rate): at most 1.10 means "
           "the library adds nothing measurable to the atomic's cost.", "",
           "| check | " + " | ".join("%d thr" % t for t in threads) + " |", "|---|" + "---|" * len(threads)]
    for size in ("16B", "24B"):
        for buf in ("l2", "big"):
            v = "%s/%s" % (size, buf)
            vals = [ratio(rate(rows, "fetch_add", v, t), rate(rows, "record", v, t)) for t in threads]
            md.append("| record ÷ fetch_add, %s %s (≤ 1.10) | %s |" % (size, buf, " | ".join(fmt(x, 1, 2) for x in vals)))
    for size in ("16B", "24B"):
        for buf in ("l2", "big"):
            v = "%s/%s" % (size, buf)
            vals = [ratio(rate(rows, "batch8", v, t), rate(rows, "mutex", v, t)) for t in threads]
            md.append("| batch8 ÷ mutex, %s %s (≥ 2.5 at 2 thr) | %s |" % (size, buf, " | ".join(fmt(x, 1, 2) for x in vals)))
    for size in ("16B", "24B"):
        v = "%s/big" % size
        vals = [ratio(rate(rows, "chunk", v, t), rate(rows, "private", v, t)) for t in threads]
        md.append("| chunk ÷ private, %s big (≥ 0.85 at 2, 4 thr) | %s |" % (size, " | ".join(fmt(x, 1, 2) for x in vals)))
        vals = [ratio(rate(rows, "chunk_zeroed", v, t), rate(rows, "private", v, t)) for t in threads]
        md.append("| chunk_zeroed ÷ private, %s big | %s |" % (size, " | ".join(fmt(x, 1, 2) for x in vals)))
        vals = [ratio(rate(rows, "chunk", v, t), rate(rows, "mutex", v, t)) for t in threads]
        md.append("| chunk ÷ mutex, %s big (≥ 10 at 2, 4 thr) | %s |" % (size, " | ".join(fmt(x, 1, 1) for x in vals)))
    for size in ("16B", "24B"):
        v = "%s/big" % size
        vals = [ratio(rate(rows, "ordered", v, t), rate(rows, "private", v, t)) for t in threads]
        md.append("| ordered ÷ private, %s big, every record a load (≥ 0.5 at 2, 4 thr) | %s |" % (size, " | ".join(fmt(x, 1, 2) for x in vals)))
    vals = [ratio(rate(rows, "ordered_mix", "mix/big", t), rate(rows, "private_mix", "mix/big", t)) for t in threads]
    md.append("| ordered_mix ÷ private_mix, a traced program's mix | %s |" % " | ".join(fmt(x, 1, 2) for x in vals))
    vals = [ratio(rate(rows, "chunk_mix", "mix/big", t), rate(rows, "private_mix", "mix/big", t)) for t in threads]
    md.append("| chunk_mix ÷ private_mix | %s |" % " | ".join(fmt(x, 1, 2) for x in vals))
    v = "24B/big"
    vals = [ratio(rate(rows, "chunk_callback", v, t), rate(rows, "chunk_callback_seqcst", v, t)) for t in threads]
    md.append("| busy/idle per record, membarrier ÷ seq_cst idle fence, 24B big | %s |" % " | ".join(fmt(x, 1, 2) for x in vals))
    vals = [ratio(rate(rows, "chunk_callback", v, t), rate(rows, "private", v, t)) for t in threads]
    md.append("| chunk_callback ÷ private, 24B big | %s |" % " | ".join(fmt(x, 1, 2) for x in vals))
    for q in ("p50", "p90", "p99"):
        vals = [ratio(rate(rows, "stall", "record/64MiB", t, q + "_us"), rate(rows, "stall", "double/64MiB", t, q + "_us"))
                for t in threads]
        md.append("| %s parked, inline ÷ double, 64 MiB file%s | %s |" % (
            q, " (≥ 20 at 4 thr)" if q == "p99" else "", " | ".join(fmt(x, 1, 1) for x in vals)))
    vals = [ratio(rate(rows, "stall", "record/64MiB", t, "held_p99_us"), rate(rows, "stall", "double/64MiB", t, "held_p99_us"))
            for t in threads]
    md.append("| p99 held (parked less run-queue wait), inline ÷ double, 64 MiB file | %s |" % " | ".join(fmt(x, 1, 1) for x in vals))
    vals = [ratio(rate(rows, "syscall", "tracebuf", t), rate(rows, "syscall", "urcu_qsbr", t)) for t in threads]
    md.append("| syscall pairs/s, tracebuf ÷ urcu_qsbr (≥ 1.0 at 1, 2 thr) | %s |" % " | ".join(fmt(x, 1, 2) for x in vals))
    md.append("")

    md += ["## A traced program's record mix", "",
           "Million records per second: per 32 instructions 32 INSN_EXEC (8 bytes), 10 LOAD and 4 STORE "
           "(24 bytes), the proportions of xz under the QEMU tracer, 128 MiB buffers. `ordered_mix` stamps "
           "as the tracer does: an ordered clock read (lfence; rdtsc) per LOAD, none for the rest.", "",
           "| strategy | " + " | ".join("%d thr" % t for t in threads) + " |", "|---|" + "---|" * len(threads)]
    for label in MIX:
        vals = [rate(rows, label, "mix/big", t) for t in threads]
        if not all(v is None for v in vals):
            md.append("| %s | %s |" % (label, " | ".join(fmt(v) for v in vals)))
    md.append("")

    md += ["## Syscall hooks: offline + online pairs", "",
           "Million pairs per second over all threads, each thread flipping its own state back to back "
           "(the worst case: real syscalls are far apart).", "",
           "| hooks | " + " | ".join("%d thr" % t for t in threads) + " |", "|---|" + "---|" * len(threads)]
    for variant in ("tracebuf", "urcu_qsbr"):
        vals = [rate(rows, "syscall", variant, t) for t in threads]
        md.append("| %s | %s |" % (variant, " | ".join(fmt(v) for v in vals)))
    md.append("")

    md += ["## Flush stall", "",
           "Time a thread spends parked in the slow path while another flushes a 64 MiB buffer into a "
           "file (rewritten in place every 1 GiB, so the page cache takes it), all threads writing "
           "24-byte records with one reservation each: the inline flush (`record`) against the "
           "double-buffered one (`double`, 2 × 64 MiB). `lead` is the flusher's own time in the slow path "
           "(with double buffering, the write-out after the release). `held` is the parked time less "
           "the time the thread waited on a run queue meanwhile (`/proc/thread-self/schedstat`): with more "
           "threads than cores a released thread may wait a time slice for a CPU, which is scheduling, "
           "not the flush.", "",
           "| flush | threads | parks | flushes | p50 µs | p90 µs | p99 µs | max µs | held p50 µs | held p99 µs | lead p50 µs | Mrec/s |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for mode in ("record", "double"):
        for t in threads:
            b = rows.get(("stall", "%s/64MiB" % mode, t))
            if b:
                md.append("| %s | %d | %d | %d | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %.0f | %s |" % (
                    "inline" if mode == "record" else "double", t, b.get("parks", 0), b.get("flushes", 0),
                    b.get("p50_us", 0), b.get("p90_us", 0), b.get("p99_us", 0), b.get("max_us", 0),
                    b.get("held_p50_us", 0), b.get("held_p99_us", 0), b.get("lead_p50_us", 0),
                    fmt(b.get("items_per_second"))))
    md.append("")

    md += ["## End to end into a file", "",
           "24-byte records through a 4 MiB buffer into a file, against `write(2)` of the same bytes in "
           "4 MiB chunks (the I/O alone). `file window`: the buffer is a MAP_SHARED window of the file "
           "(file_window.hpp), advanced at each flush instead of copied.", "",
           "| writer | threads | GB/s | ÷ write loop |", "|---|---|---|---|"]
    loop = rate(rows, "e2e", "write_loop/4MiB", 1, "bytes_per_second")
    md.append("| write loop | 1 | %s | 1.00 |" % fmt(loop, 1e9, 2))
    for t in threads:
        v = rate(rows, "e2e", "tracebuf/4MiB", t, "bytes_per_second")
        if v is not None:
            md.append("| tracebuf | %d | %s | %s |" % (t, fmt(v, 1e9, 2), fmt(ratio(v, loop), 1, 2)))
    for variant, name in (("file_window/4MiB", "file window"), ("file_window_double/4MiB", "file window, double")):
        for t in threads:
            v = rate(rows, "e2e", variant, t, "bytes_per_second")
            if v is not None:
                md.append("| %s | %d | %s | %s |" % (name, t, fmt(v, 1e9, 2), fmt(ratio(v, loop), 1, 2)))
    md.append("")

    reused = rate(rows, "pages", "reused/16MiB", 1, "bytes_per_second")
    if reused is not None:
        md += ["## Stores into fresh pages", "",
               "One thread's plain 8-byte stores over 16 MiB: into the same anonymous 16 MiB each time "
               "(memory in use, as a write(2) sink's buffer), into a new window of a file each time "
               "(allocated and populated writable first, untimed: what a file window's writers store "
               "into), into a new anonymous mapping (populated, untimed).", "",
               "| pages | GB/s | ÷ reused |", "|---|---|---|"]
        for variant, name in (("reused/16MiB", "reused"), ("fresh_file/16MiB", "fresh, file window"),
                              ("fresh_anon/16MiB", "fresh, anonymous")):
            v = rate(rows, "pages", variant, 1, "bytes_per_second")
            if v is not None:
                md.append("| %s | %s | %s |" % (name, fmt(v, 1e9, 2), fmt(ratio(v, reused), 1, 2)))
        md.append("")

    with open(os.path.join(out_dir, "results.md"), "w") as f:
        f.write("\n".join(md))
    print("wrote %s" % os.path.join(out_dir, "results.md"))


if __name__ == "__main__":
    main()
