#!/usr/bin/env python3
"""Turn a myelon-bench results directory into summary.md and gnuplot plots.

    bench/report.py OUT_DIR

Reads OUT_DIR/run.json (written by `myelon-bench suite ...`) and writes
  OUT_DIR/summary.md          tables, ratios to the floor and to every
                              competitor, and the issue's targets, met/missed
  OUT_DIR/targets.json        the same verdicts, machine-readable
  OUT_DIR/data/*.dat          the numbers behind each plot
  OUT_DIR/plots/*.gp, *.png   gnuplot scripts and their PNGs (if gnuplot runs)

Every figure comes from run.json; nothing is carried over from other runs.
Python 3 standard library only (Meson already needs Python 3).
"""
import json
import math
import os
import shutil
import subprocess
import sys

SPECTRUM_SIZE = 64


def fmt_ns(v):
    if v is None:
        return "–"
    if v >= 1e6:
        return "%.2f ms" % (v / 1e6)
    if v >= 1e3:
        return "%.2f µs" % (v / 1e3)
    return "%.0f ns" % v


def fmt_rate(v):
    if v is None:
        return "–"
    if v >= 1e6:
        return "%.2f M/s" % (v / 1e6)
    if v >= 1e3:
        return "%.1f k/s" % (v / 1e3)
    return "%.0f /s" % v


def fmt_gbs(v):
    return "–" if v is None else ("%.3f GB/s" % v if v < 10 else "%.1f GB/s" % v)


def fmt_size(b):
    if b >= 1 << 20:
        return "%d MiB" % (b >> 20)
    if b >= 1 << 10:
        return "%d KiB" % (b >> 10)
    return "%d B" % b


def fmt_x(v, digits=2):
    if v is None or not math.isfinite(v):
        return "–"
    if v >= 100:
        return "%.0f×" % v
    if v >= 10:
        return "%.1f×" % v
    if v >= 0.1:
        return "%.*f×" % (digits, v)
    return "%.2g×" % v


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def merge(values):
    """Element-wise median of repetitions of the same JSON shape."""
    first = values[0]
    if isinstance(first, dict):
        return {k: merge([v[k] for v in values if isinstance(v, dict) and k in v]) for k in first}
    if isinstance(first, list):
        n = min(len(v) for v in values)
        return [merge([v[i] for v in values]) for i in range(n)]
    if isinstance(first, (int, float)) and not isinstance(first, bool):
        nums = [v for v in values if isinstance(v, (int, float)) and v is not None]
        return median(nums)
    return first


def case_key(c):
    return (c["workload"], c["subject"], c["size"], c["wait"], c["receivers"], c["rate"], c.get("pair", ""),
            c.get("series", ""))


def fold_reps(cases):
    """One case per key: repetitions (field `rep`) merged into medians; `reps`
    says how many ok runs went in, `runs` how many were planned."""
    groups = {}
    for c in cases:
        groups.setdefault(case_key(c), []).append(c)
    out = []
    for group in groups.values():
        ok = [c for c in group if c["status"] == "ok"]
        base = dict((ok or group)[0])
        base["runs"] = len(group)
        base["reps"] = len(ok)
        if len(ok) > 1:
            base["results"] = merge([c["results"] for c in ok])
        out.append(base)
    return out


class Run:
    """run.json, indexed by (workload, subject, size, wait, receivers, rate);
    repeated cases are folded into medians."""

    def __init__(self, path):
        with open(path) as f:
            self.doc = json.load(f)
        self.meta = self.doc["meta"]
        self.raw_cases = self.doc["cases"]
        self.cases = fold_reps(self.raw_cases)
        self.subjects = self.meta.get("subjects", [])
        fam = {}
        for c in self.cases:
            fam[c["subject"]] = c["family"]
        self.family = fam
        self.ours = [s for s in self.subjects if fam.get(s) == "ours"]
        self.competitors = [s for s in self.subjects if fam.get(s) == "competitor"]
        self.floor = "floor" if "floor" in self.subjects else None

    def find(self, workload, subject, size, wait="spin", receivers=1, rate=0, pair="", series=""):
        for c in self.cases:
            if case_key(c) == (workload, subject, size, wait, receivers, rate, pair, series):
                return c if c["reps"] > 0 else None
        return None

    def reps(self, workload, subject, size, wait="spin"):
        c = self.find(workload, subject, size, wait)
        return c["reps"] if c else 0

    def sizes(self, workload):
        return sorted({c["size"] for c in self.cases if c["workload"] == workload and not c.get("series")})

    def failed(self):
        return [c for c in self.raw_cases if c["status"] != "ok"]


def rtt(run, subject, size, wait="spin", series=""):
    c = run.find("pingpong", subject, size, wait, series=series)
    return c["results"].get("client0", {}) if c else None


def stream(run, subject, size, wait="spin", series=""):
    c = run.find("stream", subject, size, wait, series=series)
    return c["results"].get("consumer0", {}) if c else None


def ab(run, workload, a, b, size):
    """Results and run count of a paired A/B case, or (None, 0)."""
    c = run.find(workload, a, size, pair=b)
    if not c:
        return None, 0
    return c["results"].get("client0" if workload == "ab_pingpong" else "consumer0", {}), c["reps"]


def lat(r, key, pct):
    if not r or key not in r:
        return None
    return r[key].get(pct)


# ---- tables -----------------------------------------------------------------


def md_table(head, rows):
    out = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        out.append("| " + " | ".join(str(x) for x in r) + " |")
    return "\n".join(out)


def section_host(run):
    m = run.meta
    h, b = m["host"], m["build"]
    lines = [
        "# myelon-bench: %s suite, %s" % (m["suite"], m["date"]),
        "",
        "- **Host**: %s%s, %d cores%s, kernel %s, clock source %s; "
        "one tick read costs %.0f ns, one PAUSE %.0f ns%s" % (
            h["cpu_model"], " (family %s, model %s)" % (h["cpu_family"], h["cpu_model_number"])
            if h.get("cpu_family") else "", h["cores"], " (virtual machine)" if h["virtualised"] else "", h["kernel"],
            h["clocksource"], h["tick_read_ns"], h["pause_ns"],
            ", one seq_cst fence %.0f ns" % h["fence_ns"] if "fence_ns" in h else ""),
        "- **Build**: %s; %s; disruptor_mp %s%s" % (
            b["compiler"], b["flags"], b["disruptor_mp_version"], (", git " + b["git"]) if b["git"] else ""),
        "- **Processes pinned**: %s; run took %.0f s; %d cases, %d failed" % (
            "yes, one core each" if m["pinned"] else "no", m["duration_s"], m["cases_planned"], m["cases_failed"]),
    ]
    if m["skipped"]:
        for s in m["skipped"]:
            lines.append("- **Skipped** `%s`: %s" % (s["subject"], s["reason"]))
    for c in run.failed():
        lines.append("- **Failed** `%s`: %s" % (c["id"], c["note"]))
    return "\n".join(lines)


def verdict(value, limit, higher_is_better):
    if value is None:
        return "not measured"
    ok = value >= limit if higher_is_better else value <= limit
    return "**met**" if ok else "**MISSED**"


def targets(run):
    """The issue's targets, evaluated on this run: list of dicts. Ratios come
    from the paired A/B cases (median over their runs) where the run has
    them, else from the separate runs."""
    out = []
    fl = run.floor

    def add(name, subject, value, limit, higher, detail):
        out.append({"target": name, "subject": subject, "value": value, "limit": limit,
                    "higher_is_better": higher, "verdict": verdict(value, limit, higher).strip("*").lower(),
                    "detail": detail})

    for s in [x for x in ("dmp-shm", "dmp-mmap") if x in run.ours]:
        r, f = rtt(run, s, 64), rtt(run, fl, 64) if fl else None
        p, n = ab(run, "ab_pingpong", s, "floor", 64)
        for pct, limit in (("p50", 1.3), ("p99", 2.0)):
            sep = ratio(lat(r, "rtt", pct), lat(f, "rtt", pct))
            if p:
                a, b = lat(p, "rtt_a", pct), lat(p, "rtt_b", pct)
                add("raw 64 B ping-pong %s ≤ %.1f× floor" % (pct, limit), s, ratio(a, b), limit, False,
                    "paired A/B (%d runs): %s vs floor %s; separate runs: %s" % (n, fmt_ns(a), fmt_ns(b), fmt_x(sep)))
            else:
                add("raw 64 B ping-pong %s ≤ %.1f× floor" % (pct, limit), s, sep, limit, False,
                    "separate runs: %s vs floor %s" % (fmt_ns(lat(r, "rtt", pct)), fmt_ns(lat(f, "rtt", pct))))
        for comp, limit in (("iceoryx", 8.0), ("zmq", 30.0)):
            c = rtt(run, comp, 64)
            sep = ratio(lat(c, "rtt", "p50"), lat(r, "rtt", "p50"))
            p, n = ab(run, "ab_pingpong", s, comp, 64)
            name = "raw 64 B ping-pong p50 ≥ %.0f× lower than %s" % (limit, comp)
            if p:
                a, b = lat(p, "rtt_a", "p50"), lat(p, "rtt_b", "p50")
                add(name, s, ratio(b, a), limit, True, "paired A/B (%d runs): %s %s vs ours %s; separate runs: %s" % (
                    n, comp, fmt_ns(b), fmt_ns(a), fmt_x(sep)))
            elif c:
                add(name, s, sep, limit, True, "separate runs: %s %s vs ours %s" % (
                    comp, fmt_ns(lat(c, "rtt", "p50")), fmt_ns(lat(r, "rtt", "p50"))))
            else:
                add(name, s, None, limit, True, "%s not in this run" % comp)
        for size in (8, 64):
            a, b = stream(run, s, size), stream(run, fl, size) if fl else None
            va, vb = (a or {}).get("msgs_per_s"), (b or {}).get("msgs_per_s")
            p, n = ab(run, "ab_stream", s, "floor", size)
            name = "raw 1p1c stream %d B ≥ 0.8× floor msgs/s" % size
            if p:
                add(name, s, p.get("ratio_a_over_b"), 0.8, True,
                    "paired A/B (%d runs, median of per-block ratios): %s vs floor %s; separate runs: %s" % (
                        n, fmt_rate(p.get("a_msgs_per_s")), fmt_rate(p.get("b_msgs_per_s")), fmt_x(ratio(va, vb))))
            else:
                add(name, s, ratio(va, vb), 0.8, True, "separate runs: %s vs floor %s" % (fmt_rate(va), fmt_rate(vb)))
    for s in run.ours:
        c = run.find("wake", s, 64, "block", series="waits")
        if not c:
            continue
        r = c["results"].get("consumer0", {})
        cpu = r.get("idle_cpu_pct")
        add("blocking wait: idle consumer < 1% CPU", s, cpu, 1.0, False,
            "%.3f%% of a core over %.1f s idle; wake-up p50 %s, p99 %s" % (
                cpu if cpu is not None else float("nan"), r.get("idle_s", 0),
                fmt_ns(lat(r, "latency", "p50")), fmt_ns(lat(r, "latency", "p99"))))
    for t in ("framed 64 B ping-pong ≤ 1.3× raw", "framed 1 KiB stream ≥ 0.7× floor GB/s",
              "framed 1 MiB stream ≥ 0.8× floor GB/s"):
        out.append({"target": t, "subject": "framed", "value": None, "limit": None, "higher_is_better": None,
                    "verdict": "not evaluated",
                    "detail": "no framed (Layer 1) subject in the harness yet: the seam is in bench/src/bench.h"})
    return out


def section_ab(run):
    rows_pp, rows_st = [], []
    for c in run.cases:
        if c["workload"] not in ("ab_pingpong", "ab_stream") or not c["reps"]:
            continue
        key = "client0" if c["workload"] == "ab_pingpong" else "consumer0"
        r = c["results"].get(key, {})
        if c["workload"] == "ab_pingpong":
            rows_pp.append(["`%s` vs `%s`" % (c["subject"], c["pair"]), fmt_size(c["size"])]
                           + ["%s / %s" % (fmt_ns(lat(r, "rtt_a", p)), fmt_ns(lat(r, "rtt_b", p))) for p in
                              ("p50", "p99", "p99.9")]
                           + [fmt_x(ratio(lat(r, "rtt_a", "p50"), lat(r, "rtt_b", "p50"))),
                              fmt_x(ratio(lat(r, "rtt_a", "p99"), lat(r, "rtt_b", "p99"))), c["reps"]])
        else:
            rows_st.append(["`%s` vs `%s`" % (c["subject"], c["pair"]), fmt_size(c["size"]),
                            fmt_rate(r.get("a_msgs_per_s")), fmt_rate(r.get("b_msgs_per_s")),
                            fmt_x(r.get("ratio_a_over_b")),
                            "%s … %s" % (fmt_x(r.get("ratio_min")), fmt_x(r.get("ratio_max"))), c["reps"]])
    if not rows_pp and not rows_st:
        return ""
    parts = ["## Paired A/B runs (what the targets are judged on)", "",
             "Subject A and subject B run in the same two processes, alternating in blocks of a few milliseconds "
             "(500 round trips, or 1/20 of the stream), so both see the same host conditions; this VM's speed "
             "changes by several times between seconds, which separate runs cannot cancel. Every figure is the "
             "median over the runs; stream ratios are medians of per-block-pair ratios (the range shows the "
             "median run's extreme blocks)."]
    if rows_pp:
        parts += ["", md_table(["A vs B", "size", "p50 A / B", "p99 A / B", "p99.9 A / B", "p50 A÷B", "p99 A÷B",
                                "runs"], rows_pp)]
    if rows_st:
        parts += ["", md_table(["A vs B", "size", "A msgs/s", "B msgs/s", "A÷B", "per-block A÷B range", "runs"],
                               rows_st)]
    return "\n".join(parts)


def section_targets(tl):
    rows = []
    for t in tl:
        if t["verdict"] == "not evaluated":
            v = "not evaluated"
        else:
            v = verdict(t["value"], t["limit"], t["higher_is_better"])
        if t["value"] is None:
            val = "–"
        elif "CPU" in t["target"]:
            val = "%.3f %%" % t["value"]
        else:
            val = fmt_x(t["value"], 3)
        rows.append([t["target"], "`%s`" % t["subject"], val, v, t["detail"]])
    return "## Targets (issue 8), this run\n\n" + md_table(
        ["target", "subject", "measured", "verdict", "detail"], rows)


def section_pingpong(run):
    parts = ["## Ping-pong round trip (closed loop, 2 processes, busy-spin where the transport allows)",
             "",
             "RTT percentiles from a log-linear histogram (3 significant digits) of every exchange; where "
             "`runs` > 1 the case ran that many times spread over the suite and every figure is the median; "
             "`bare p50` is the median of 64-exchange block means with no clock read per exchange. "
             "`× floor` divides by the floor's value at the same size."]
    for size in run.sizes("pingpong"):
        f = rtt(run, run.floor, size) if run.floor else None
        rows = []
        for s in run.subjects:
            r = rtt(run, s, size)
            if not r:
                continue
            rows.append(["`%s`" % s] + [fmt_ns(lat(r, "rtt", p)) for p in ("p50", "p90", "p99", "p99.9", "p99.99", "max")]
                        + [fmt_ns(lat(r, "rtt", "mean")), fmt_ns(lat(r, "rtt_bare", "p50")),
                           fmt_x(ratio(lat(r, "rtt", "p50"), lat(f, "rtt", "p50"))),
                           fmt_x(ratio(lat(r, "rtt", "p99"), lat(f, "rtt", "p99"))),
                           run.reps("pingpong", s, size)])
        parts += ["", "### %s" % fmt_size(size), "",
                  md_table(["subject", "p50", "p90", "p99", "p99.9", "p99.99", "max", "mean", "bare p50",
                            "p50 × floor", "p99 × floor", "runs"], rows)]
    return "\n".join(parts)


def section_versus(run, title, getter, lower_is_better):
    """Ours against each competitor: competitor / ours (latency) or ours / competitor (rate)."""
    if not run.ours or not run.competitors:
        return ""
    rows = []
    for workload_size in getter["sizes"]:
        for s in run.ours:
            mine = getter["value"](s, workload_size)
            if mine is None:
                continue
            row = ["%s" % fmt_size(workload_size), "`%s`" % s]
            for c in run.competitors:
                other = getter["value"](c, workload_size)
                row.append(fmt_x(ratio(other, mine) if lower_is_better else ratio(mine, other)))
            rows.append(row)
    return "### %s\n\n%s" % (title, md_table(["size", "ours"] + ["vs `%s`" % c for c in run.competitors], rows))


def section_stream(run):
    parts = ["## One-way stream, 1 producer → 1 consumer",
             "",
             "Rate measured at the consumer over the measured messages (after the warm-up). "
             "`× floor` divides by the floor's minimal SPSC ring at the same size."]
    for size in run.sizes("stream"):
        f = stream(run, run.floor, size) if run.floor else None
        rows = []
        for s in run.subjects:
            r = stream(run, s, size)
            if not r:
                continue
            rows.append(["`%s`" % s, fmt_rate(r.get("msgs_per_s")), fmt_gbs(r.get("gb_per_s")),
                         fmt_x(ratio(r.get("msgs_per_s"), f.get("msgs_per_s") if f else None)),
                         run.reps("stream", s, size)])
        parts += ["", "### %s" % fmt_size(size), "", md_table(["subject", "msgs/s", "GB/s", "× floor", "runs"], rows)]
    return "\n".join(parts)


def section_broadcast(run):
    rows = []
    for c in run.cases:
        if c["workload"] != "broadcast" or not c["reps"]:
            continue
        res = c["results"]
        cons = [v for k, v in res.items() if k.startswith("consumer")]
        prod = res.get("producer0", {})
        worst = max(cons, key=lambda r: lat(r, "latency", "p99") or 0) if cons else {}
        rows.append(["`%s`" % c["subject"], fmt_size(c["size"]), "1 → %d" % c["receivers"],
                     c["wait"] + ("" if c["wait"] == "spin" else " (oversubscribed)"),
                     fmt_rate(prod.get("msgs_per_s")), fmt_rate(min(r.get("msgs_per_s", 0) for r in cons) if cons else None),
                     fmt_ns(lat(worst, "latency", "p50")), fmt_ns(lat(worst, "latency", "p99")),
                     fmt_ns(lat(worst, "latency", "max"))])
    if not rows:
        return ""
    return ("## Broadcast, 1 producer → N consumers (every consumer sees every message)\n\n"
            "Latency is one-way (producer's tick stamp → consumer), under a saturating producer, so it includes "
            "the time a message waits in a full ring; the worst consumer by p99 is shown.\n\n" +
            md_table(["subject", "size", "fan-out", "wait", "producer rate", "slowest consumer", "p50", "p99", "max"],
                     rows))


def section_fixed_rate(run):
    rows = []
    for c in run.cases:
        if c["workload"] != "fixed_rate" or not c["reps"]:
            continue
        r = c["results"].get("client0", {})
        rows.append(["`%s`" % c["subject"], fmt_size(c["size"]), fmt_rate(c["rate"]), fmt_rate(r.get("achieved_rate"))]
                    + [fmt_ns(lat(r, "rtt_co", p)) for p in ("p50", "p99", "p99.9", "max")]
                    + [fmt_ns(lat(r, "rtt", "p99"))])
    if not rows:
        return ""
    return ("## Fixed-rate ping-pong, coordinated-omission corrected\n\n"
            "Message i is due at t0 + i/rate (absolute schedule, no drift). Corrected RTT = reply time − due "
            "time, so a stall delays every message behind it and shows in the percentiles; `raw p99` is reply − "
            "actual send. A transport slower than the rate cannot keep the schedule: its corrected latency grows "
            "with the backlog.\n\n" +
            md_table(["subject", "size", "rate", "achieved", "p50", "p99", "p99.9", "max", "raw p99"], rows))


def section_waits(run):
    rows = []
    for s in run.ours:
        for w in ("spin", "yield", "block"):
            r = rtt(run, s, 64, w, "waits")
            st = stream(run, s, 64, w, "waits")
            wk = run.find("wake", s, 64, w, series="waits")
            wr = wk["results"].get("consumer0", {}) if wk else {}
            if not (r or st or wk):
                continue
            rows.append(["`%s`" % s, w, fmt_ns(lat(r, "rtt", "p50")), fmt_ns(lat(r, "rtt", "p99")),
                         fmt_rate(st.get("msgs_per_s") if st else None),
                         fmt_ns(lat(wr, "latency", "p50")), fmt_ns(lat(wr, "latency", "p99")),
                         fmt_ns(lat(wr, "latency", "max")),
                         "%.2f %%" % wr["idle_cpu_pct"] if "idle_cpu_pct" in wr else "–"])
    if not rows:
        return ""
    return ("## Wait strategies (64 B)\n\n"
            "Run back to back as one series. Ping-pong RTT and stream rate with each wait strategy (in a "
            "ping-pong the peer answers within the first 256 polls, so yield and block behave like spin); wake-up = one-way latency of a "
            "message published after the consumer has been idle 1 ms (a parked consumer for `block`); idle CPU = "
            "the consumer's user+system CPU time (getrusage) over the idle window before the first message, in % "
            "of one core.\n\n" +
            md_table(["subject", "wait", "RTT p50", "RTT p99", "stream", "wake p50", "wake p99", "wake max",
                      "idle CPU"], rows))


# ---- plots -------------------------------------------------------------------


def write_dat(path, header, rows):
    with open(path, "w") as f:
        f.write("# " + " ".join(header) + "\n")
        for r in rows:
            f.write(" ".join("%.6g" % x if isinstance(x, float) else str(x) for x in r) + "\n")


def gp_lines(files, using, styles=True):
    parts = []
    for i, (path, title) in enumerate(files):
        parts.append("'%s' using %s with linespoints lw 2 pt %d title '%s'" % (path, using, 5 + (i % 8), title))
    return ", \\\n     ".join(parts)


def plots(run, out):
    data, pdir = os.path.join(out, "data"), os.path.join(out, "plots")
    os.makedirs(data, exist_ok=True)
    os.makedirs(pdir, exist_ok=True)
    lat_files, thr_files, spec_files = [], [], []
    for s in run.subjects:
        rows = []
        for size in run.sizes("pingpong"):
            r = rtt(run, s, size)
            if r and "rtt" in r:
                rows.append([size, r["rtt"]["p50"] / 1e3, r["rtt"]["p99"] / 1e3])
        if rows:
            p = os.path.join(data, "rtt_%s.dat" % s)
            write_dat(p, ["size_bytes", "p50_us", "p99_us"], rows)
            lat_files.append((p, s))
        rows = []
        for size in run.sizes("stream"):
            r = stream(run, s, size)
            if r and r.get("msgs_per_s"):
                rows.append([size, r["gb_per_s"], r["msgs_per_s"] / 1e6])
        if rows:
            p = os.path.join(data, "stream_%s.dat" % s)
            write_dat(p, ["size_bytes", "gb_per_s", "mmsgs_per_s"], rows)
            thr_files.append((p, s))
        r = rtt(run, s, SPECTRUM_SIZE)
        if r and "rtt" in r:
            rows = [[1.0 / (1.0 - pct / 100.0) if pct < 100 else 1e6, v / 1e3, pct] for pct, v in r["rtt"]["spectrum"]]
            p = os.path.join(data, "spectrum_%s.dat" % s)
            write_dat(p, ["one_over_1_minus_p", "rtt_us", "percentile"], rows)
            spec_files.append((p, s))
    host = "%s, %d cores" % (run.meta["host"]["cpu_model"], run.meta["host"]["cores"])
    sizes = sorted(set(run.sizes("pingpong")) | set(run.sizes("stream")))
    xtics = ", ".join("'%s' %d" % (fmt_size(z).replace(" ", ""), z) for z in sizes)
    common = ("set terminal pngcairo size 1100,680 font 'sans,10'\nset grid\nset key outside right top\n"
              "set logscale x 2\nset logscale y 10\nset xtics (%s)\n" % xtics)
    scripts = {}
    if lat_files:
        scripts["latency_vs_payload"] = common + (
            "set output '%s'\nset title 'Ping-pong RTT p50 vs payload (%s)'\nset xlabel 'payload'\n"
            "set ylabel 'RTT p50 (µs)'\nplot %s\n" % (os.path.join(pdir, "latency_vs_payload.png"), host,
                                                      gp_lines(lat_files, "1:2")))
        scripts["latency_p99_vs_payload"] = common + (
            "set output '%s'\nset title 'Ping-pong RTT p99 vs payload (%s)'\nset xlabel 'payload'\n"
            "set ylabel 'RTT p99 (µs)'\nplot %s\n" % (os.path.join(pdir, "latency_p99_vs_payload.png"), host,
                                                      gp_lines(lat_files, "1:3")))
    if thr_files:
        scripts["throughput_vs_payload"] = common + (
            "set output '%s'\nset title 'One-way stream throughput vs payload (%s)'\nset xlabel 'payload'\n"
            "set ylabel 'GB/s'\nplot %s\n" % (os.path.join(pdir, "throughput_vs_payload.png"), host,
                                             gp_lines(thr_files, "1:2")))
        scripts["msgrate_vs_payload"] = common + (
            "set output '%s'\nset title 'One-way stream message rate vs payload (%s)'\nset xlabel 'payload'\n"
            "set ylabel 'million messages/s'\nplot %s\n" % (os.path.join(pdir, "msgrate_vs_payload.png"), host,
                                                           gp_lines(thr_files, "1:3")))
    if spec_files:
        scripts["percentile_spectrum"] = (
            "set terminal pngcairo size 1100,680 font 'sans,10'\nset grid\nset key outside right top\n"
            "set logscale x 10\nset logscale y 10\n"
            "set xtics ('50%%%%' 2, '90%%%%' 10, '99%%%%' 100, '99.9%%%%' 1000, '99.99%%%%' 10000, '99.999%%%%' 100000, "
            "'max' 1000000)\n"
            "set output '%s'\nset title 'Ping-pong RTT percentile spectrum, %d B payload (%s)'\n"
            "set xlabel 'percentile'\nset ylabel 'RTT (µs)'\nset xrange [1:1000000]\nplot %s\n" % (
                os.path.join(pdir, "percentile_spectrum.png"), SPECTRUM_SIZE, host, gp_lines(spec_files, "1:2")))
    made = []
    have_gnuplot = shutil.which("gnuplot") is not None
    for name, text in scripts.items():
        gp = os.path.join(pdir, name + ".gp")
        with open(gp, "w") as f:
            f.write(text)
        if have_gnuplot:
            res = subprocess.run(["gnuplot", gp], capture_output=True, text=True)
            if res.returncode == 0:
                made.append(name + ".png")
            else:
                sys.stderr.write("report.py: gnuplot failed on %s: %s\n" % (gp, res.stderr.strip()))
    if not have_gnuplot:
        sys.stderr.write("report.py: gnuplot not found: plot scripts written, no PNGs (apt install gnuplot-nox)\n")
    return made


def main():
    if len(sys.argv) != 2:
        sys.stderr.write(__doc__)
        return 2
    out = sys.argv[1]
    run = Run(os.path.join(out, "run.json"))
    tl = targets(run)
    with open(os.path.join(out, "targets.json"), "w") as f:
        json.dump(tl, f, indent=2)
    made = plots(run, out)
    pp_sizes = run.sizes("pingpong")
    st_sizes = run.sizes("stream")
    versus_rtt = section_versus(run, "Ping-pong p50: how many times lower ours is (competitor p50 / ours)", {
        "sizes": pp_sizes, "value": lambda s, z: lat(rtt(run, s, z), "rtt", "p50")}, True)
    versus_st = section_versus(run, "Stream: how many times more msgs/s ours moves (ours / competitor)", {
        "sizes": st_sizes, "value": lambda s, z: (stream(run, s, z) or {}).get("msgs_per_s")}, False)
    sections = [section_host(run), section_targets(tl), section_ab(run), section_pingpong(run), versus_rtt,
                section_stream(run),
                versus_st, section_broadcast(run), section_fixed_rate(run), section_waits(run)]
    if made:
        sections.append("## Plots\n\n" + "\n".join("- `plots/%s`" % m for m in made))
    with open(os.path.join(out, "summary.md"), "w") as f:
        f.write("\n\n".join(s for s in sections if s) + "\n")
    missed = [t for t in tl if t["verdict"] == "missed"]
    print("report: %s/summary.md (%d plots; %d targets met, %d missed, %d not evaluated)" % (
        out, len(made), sum(t["verdict"] == "met" for t in tl), len(missed),
        sum(t["verdict"] in ("not evaluated", "not measured") for t in tl)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
