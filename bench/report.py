#!/usr/bin/env python3
"""Turn a myelon-bench results directory into summary.md and gnuplot plots.

    bench/report.py OUT_DIR

    bench/report.py --profile-jobs OUT_DIR

Reads OUT_DIR/run.json (written by `myelon-bench suite ...`) and writes
  OUT_DIR/summary.md          tables, ratios to the floor and to every
                              competitor, the layers (framed, typed, views),
                              counters on/off, and the issue's targets,
                              met/missed
  OUT_DIR/targets.json        the same verdicts, machine-readable
  (and, when OUT_DIR/python.json is there, bench/python/pybench.py's
  figures: the Python subject's section and its target)
  OUT_DIR/data/*.dat          the numbers behind each plot
  OUT_DIR/plots/*.gp, *.png   gnuplot scripts and their PNGs (if gnuplot runs)

A missed target names the cases that profile it (its subject and the
reference it is measured against); `--profile-jobs` prints them, one per
line as "NAME<TAB>FUNCTIONS<TAB>myelon-bench case options" (FUNCTIONS: the
subject's send and receive functions, the only ones callgrind counts in;
"-" for none: count everything),
and run.sh runs each under bench/callgrind.sh into OUT_DIR/profiles/NAME/. When those directories
exist, summary.md shows where the instructions go (per message, per role).

Every figure comes from run.json (and the profiles of this run); nothing is
carried over from other runs. Python 3 standard library only (Meson already
needs Python 3).
"""
import json
import math
import os
import re
import shutil
import subprocess
import sys

import report_bridge

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
            c.get("series", ""), c.get("writers", 1))


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


def layer_of_name(name):
    """Layer of a subject from its name (run.json files before the "layer" field)."""
    for prefix, layer in (("framed-", "framed"), ("msgpack-", "typed"), ("view-", "view")):
        if name.startswith(prefix):
            return layer
    return "raw"


def backend_of(name):
    return "mmap" if "mmap" in name else "shm"


def suite_capacity(size):
    """Ring depth for a payload size (suite.c's table)."""
    for limit, cap in ((1024, 4096), (16384, 2048), (65536, 1024), (131072, 512), (524288, 256)):
        if size <= limit:
            return cap
    return 128


class Run:
    """run.json, indexed by (workload, subject, size, wait, receivers, rate);
    repeated cases are folded into medians."""

    def __init__(self, path):
        self.dir = os.path.dirname(path)
        with open(path) as f:
            self.doc = json.load(f)
        self.meta = self.doc["meta"]
        self.raw_cases = self.doc["cases"]
        self.cases = fold_reps(self.raw_cases)
        self.subjects = self.meta.get("subjects", [])
        fam, layer = {}, {}
        for c in self.cases:
            fam[c["subject"]] = c["family"]
            layer[c["subject"]] = c.get("layer") or layer_of_name(c["subject"])
        self.family = fam
        self.layer = layer
        self.ours = [s for s in self.subjects if fam.get(s) == "ours"]
        self.competitors = [s for s in self.subjects if fam.get(s) == "competitor"]
        self.floor = "floor" if "floor" in self.subjects else None

    def find(self, workload, subject, size, wait="spin", receivers=1, rate=0, pair="", series="", writers=1):
        for c in self.cases:
            if case_key(c) == (workload, subject, size, wait, receivers, rate, pair, series, writers):
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

    def add(name, subject, value, limit, higher, detail, profile=None):
        t = {"target": name, "subject": subject, "value": value, "limit": limit,
             "higher_is_better": higher, "verdict": verdict(value, limit, higher).strip("*").lower(),
             "detail": detail}
        if profile and t["verdict"] == "missed":
            t["profile"] = profile
        out.append(t)

    for s in [x for x in ("dmp-shm", "dmp-mmap") if x in run.ours]:
        r, f = rtt(run, s, 64), rtt(run, fl, 64) if fl else None
        p, n = ab(run, "ab_pingpong", s, "floor", 64)
        for pct, limit in (("p50", 1.3), ("p99", 2.0)):
            sep = ratio(lat(r, "rtt", pct), lat(f, "rtt", pct))
            if p:
                a, b = lat(p, "rtt_a", pct), lat(p, "rtt_b", pct)
                add("raw 64 B ping-pong %s ≤ %.1f× floor" % (pct, limit), s, ratio(a, b), limit, False,
                    "paired A/B (%d runs): %s vs floor %s; separate runs: %s" % (n, fmt_ns(a), fmt_ns(b), fmt_x(sep)),
                    profile_spec("pingpong", 64, s, "floor"))
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
                        n, fmt_rate(p.get("a_msgs_per_s")), fmt_rate(p.get("b_msgs_per_s")), fmt_x(ratio(va, vb))),
                    profile_spec("stream", size, s, "floor"))
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
    framed_targets(run, add)
    framed_small_targets(run, add)
    typed_targets(run, add)
    recorder_target(run, add)
    large_targets(run, add)
    large_floor2_lines(run, out.append)
    mp_targets(run, add)
    gather_targets(run, add)
    gather_rtt_targets(run, out.append)
    report_bridge.targets(run, add, helpers())
    return out


def helpers():
    """What report_bridge.py uses of this file."""
    return {"ratio": ratio, "lat": lat, "fmt_ns": fmt_ns, "fmt_rate": fmt_rate, "fmt_gbs": fmt_gbs, "fmt_x": fmt_x,
            "fmt_size": fmt_size, "md_table": md_table, "write_dat": write_dat, "subject_style": subject_style}


GATHER_T = "2 producers → 1 consumer (`dmp-mp`) ≥ 0.7× single-producer stream, %d B aggregate msgs/s"


def gather_cases(run):
    """The gather series: [(size, wait, writers, subject, consumer results)]."""
    out = []
    for c in run.cases:
        if c["workload"] == "gather" and c["reps"]:
            out.append((c["size"], c["wait"], c.get("writers", 1), c["subject"], c["results"].get("consumer0", {})))
    return sorted(out)


def ab_gather(run, a, b, size):
    """Results and run count of a paired gather case (any wait, 2 writers), or (None, 0, None)."""
    for c in run.cases:
        if (c["workload"], c["subject"], c["size"], c.get("pair", ""), c.get("writers", 1)) == \
                ("ab_gather", a, size, b, 2) and c["reps"]:
            return c["results"].get("consumer0", {}), c["reps"], c["wait"]
    return None, 0, None


def gather_targets(run, add):
    """Issue 18: 2 writers on one multi-producer ring against the 1 -> 1
    stream of a single-producer ring. Judged on the paired case (ab_gather:
    the same processes alternate 2 -> 1 blocks on `dmp-mp` with 1 -> 1
    blocks on `dmp-shm`, median of the per-pair ratios) where the run has
    it, else on the separate runs back to back (series "gather")."""
    cores = run.meta["host"]["cores"]
    for size in (8, 64):
        p, n, wait = ab_gather(run, "dmp-mp", "dmp-shm", size)
        if p:
            note = "" if wait == "spin" else " (%s waits: 3 processes on %d cores)" % (wait, cores)
            g = [x for x in gather_cases(run) if x[0] == size and x[2] == 2 and x[3] == "dmp-mp"]
            sep = ""
            if g:
                ref = stream(run, "dmp-shm", size, g[0][1], series="gather")
                sep = "; separate runs: %s" % fmt_x(ratio(g[0][4].get("msgs_per_s"), (ref or {}).get("msgs_per_s")))
            add(GATHER_T % size, "dmp-mp", p.get("ratio_a_over_b"), 0.7, True,
                "paired A/B (%d runs, median of per-block ratios%s): 2 × `dmp-mp` → 1 %s vs `dmp-shm` 1 → 1 %s; "
                "90th-percentile blocks %s vs %s (%s)%s" % (
                    n, note, fmt_rate(p.get("a_msgs_per_s")), fmt_rate(p.get("b_msgs_per_s")),
                    fmt_rate(p.get("a_p90_msgs_per_s")), fmt_rate(p.get("b_p90_msgs_per_s")),
                    fmt_x(p.get("ratio_p90")), sep))
            continue
        g = [x for x in gather_cases(run) if x[0] == size and x[2] == 2 and x[3] == "dmp-mp"]
        if not g:
            add(GATHER_T % size, "dmp-mp", None, 0.7, True, "no gather case in this run")
            continue
        _, wait, _, _, r = g[0]
        ref = stream(run, "dmp-shm", size, wait, series="gather")
        va, vb = r.get("msgs_per_s"), (ref or {}).get("msgs_per_s")
        note = "" if wait == "spin" else " (%s waits: 3 processes on %d cores)" % (wait, run.meta["host"]["cores"])
        add(GATHER_T % size, "dmp-mp", ratio(va, vb), 0.7, True,
            "separate runs back to back%s: 2 × `dmp-mp` → 1 %s vs `dmp-shm` 1 → 1 %s" % (note, fmt_rate(va), fmt_rate(vb)))


def section_ab_gather(run):
    """Paired gather cases: many writers on subject A against B (1 -> 1, or
    as many writers when B can gather), alternating blocks."""
    rows = []
    for c in sorted((c for c in run.cases if c["workload"] == "ab_gather" and c["reps"]),
                    key=lambda c: (c["subject"] != "dmp-mp", c["size"], c["subject"], c.get("pair", ""))):
        r = c["results"].get("consumer0", {})
        rows.append(["`%s` %d → 1" % (c["subject"], r.get("writers_a", c.get("writers", 1))),
                     "`%s` %d → 1" % (c.get("pair", ""), r.get("writers_b", 1)), fmt_size(c["size"]), c["wait"],
                     c["reps"], fmt_rate(r.get("a_msgs_per_s")), fmt_rate(r.get("b_msgs_per_s")),
                     fmt_x(r.get("ratio_a_over_b")), fmt_x(r.get("ratio_p90")),
                     fmt_ns(lat(r, "latency_a", "p50")), fmt_ns(lat(r, "latency_b", "p50"))])
    if not rows:
        return ""
    return "\n".join(["## Many writers, paired (ab_gather)", "",
                      "The same processes alternate blocks of A (N writers → 1 consumer) and B (1 → 1, or N → 1 "
                      "when B can gather): block rates from writer 0's start to the consumer's last message, "
                      "medians over the blocks; A ÷ B is the median of the per-pair ratios (the targets), p90 the "
                      "ratio of the subjects' 90th-percentile blocks; one-way latency (send stamp to receive, "
                      "queueing included) over every measured message (16 B and more).", "",
                      md_table(["A", "B", "size", "wait", "runs", "A msgs/s", "B msgs/s", "A ÷ B", "p90 A ÷ B",
                                "A one-way p50", "B one-way p50"], rows)])


def section_gather(run):
    rows = []
    for size, wait, writers, subject, r in gather_cases(run):
        ref = stream(run, "dmp-shm", size, wait, series="gather")
        rows.append([fmt_size(size), "%d → 1" % writers, wait, "`%s`" % subject, fmt_rate(r.get("msgs_per_s")),
                     fmt_x(ratio(r.get("msgs_per_s"), (ref or {}).get("msgs_per_s"))),
                     fmt_ns(lat(r, "latency", "p50")), fmt_ns(lat(r, "latency", "p99"))])
    if not rows:
        return ""
    return "\n".join(["## Many writers, one reader (gather)", "",
                      "N producer processes → one consumer: `dmp-mp` (one multi-producer ring), `zmq` and `nng` "
                      "(N PUSH → 1 PULL), `iceoryx` (N publishers on one topic). Aggregate msgs/s at the consumer, "
                      "its ratio to `dmp-shm`'s 1 → 1 stream of the same size run just before (series \"gather\"), "
                      "and the one-way latency (send stamp to receive) over every message. Separate runs.", "",
                      md_table(["size", "writers", "wait", "subject", "aggregate msgs/s", "÷ dmp-shm 1 → 1",
                                "one-way p50", "one-way p99"], rows)])


# Issue 18: the competitors with many writers, round trips (ab_gather_rtt).
# The issue names no numeric target for them: targets.json gets dmp-mp's
# ratios to each competitor with the verdict "reported".
GATHER_RTT_COMPS = ("iceoryx", "zmq", "nng")


def gather_rtt_cases(run):
    """The paired many-writer round-trip cases, sorted (writers, size, pair)."""
    return sorted((c for c in run.cases if c["workload"] == "ab_gather_rtt" and c["reps"]),
                  key=lambda c: (c.get("writers", 1), c["size"], c.get("pair", ""), c["subject"]))


def gather_rtt_writers(c):
    """Each writer's results (client0, client1, ...) of a case, in order."""
    res = c["results"]
    return [res[k] for k in sorted((k for k in res if k.startswith("client")), key=lambda k: int(k[6:]))]


def gather_rtt_mean(ws, key, pct):
    """Mean over the writers of their RTT percentile `pct` of subject `key`."""
    vs = [lat(w, key, pct) for w in ws]
    vs = [v for v in vs if v is not None]
    return sum(vs) / len(vs) if vs else None


def gather_rtt_targets(run, append):
    """dmp-mp's RTT p50 / p99 (mean over the writers) and aggregate round
    trips/s (median of the per-block ratios) against each competitor, from
    the paired cases; verdict "reported" (no target to judge them on)."""
    for c in gather_rtt_cases(run):
        a, b, n, size = c["subject"], c.get("pair", ""), c.get("writers", 1), c["size"]
        if a != "dmp-mp" or b not in GATHER_RTT_COMPS:
            continue
        ws, srv = gather_rtt_writers(c), c["results"].get("server0", {})
        where = "%d writers ↔ 1 responder, %s, paired A/B (%d runs, %s waits, %d cores)" % (
            n, fmt_size(size), c["reps"], c["wait"], run.meta["host"]["cores"])
        for pct in ("p50", "p99"):
            va, vb = gather_rtt_mean(ws, "rtt_a", pct), gather_rtt_mean(ws, "rtt_b", pct)
            per = "; ".join("writer %d %s vs %s" % (i, fmt_ns(lat(w, "rtt_a", pct)), fmt_ns(lat(w, "rtt_b", pct)))
                            for i, w in enumerate(ws))
            append({"target": "many writers (%d) RTT %s %s, `dmp-mp` ÷ `%s` (comparison, no target)" % (
                        n, pct, fmt_size(size), b),
                    "subject": a, "value": ratio(va, vb), "limit": None, "higher_is_better": False,
                    "verdict": "reported",
                    "detail": "%s: mean over the writers %s vs %s (%s)" % (where, fmt_ns(va), fmt_ns(vb), per)})
        append({"target": "many writers (%d) aggregate round trips/s %s, `dmp-mp` ÷ `%s` (comparison, no target)" % (
                    n, fmt_size(size), b),
                "subject": a, "value": srv.get("ratio_a_over_b"), "limit": None, "higher_is_better": True,
                "verdict": "reported",
                "detail": "%s, median of per-block ratios: %s vs %s round trips/s; 90th-percentile blocks %s" % (
                    where, fmt_rate(srv.get("a_rts_per_s")), fmt_rate(srv.get("b_rts_per_s")),
                    fmt_x(srv.get("ratio_p90")))})


def section_gather_rtt(run):
    """Paired many-writer round trips: per-writer RTT and aggregate rate of
    subject A and B, alternating blocks in the same processes."""
    rows = []
    for c in gather_rtt_cases(run):
        ws, srv = gather_rtt_writers(c), c["results"].get("server0", {})

        def per_writer(key):
            return "; ".join("%s / %s" % (fmt_ns(lat(w, key, "p50")), fmt_ns(lat(w, key, "p99"))) for w in ws)
        rows.append(["`%s`" % c["subject"], "`%s`" % c.get("pair", ""), "%d ↔ 1" % c.get("writers", 1),
                     fmt_size(c["size"]), c["wait"], c["reps"], per_writer("rtt_a"), per_writer("rtt_b"),
                     fmt_x(ratio(gather_rtt_mean(ws, "rtt_a", "p50"), gather_rtt_mean(ws, "rtt_b", "p50"))),
                     fmt_x(ratio(gather_rtt_mean(ws, "rtt_a", "p99"), gather_rtt_mean(ws, "rtt_b", "p99"))),
                     fmt_rate(srv.get("a_rts_per_s")), fmt_rate(srv.get("b_rts_per_s")),
                     fmt_x(srv.get("ratio_a_over_b"))])
    if not rows:
        return ""
    return "\n".join(["## Many writers, round trips, paired (ab_gather_rtt)", "",
                      "N writers each send a request and wait for its own reply from one responder, on A and B "
                      "in alternating blocks in the same processes. Requests: `dmp-mp` one multi-producer ring, "
                      "`iceoryx` N publishers on one topic, `zmq` / `nng` N PUSH → 1 PULL; replies: one channel "
                      "per writer (`dmp-mp` a single-producer ring each, `iceoryx` a topic each, `zmq` / `nng` a "
                      "PAIR each). RTT p50 / p99 per writer (writer 0; writer 1; ...), the A ÷ B ratios of their "
                      "means over the writers (below 1: A is faster), and the aggregate round trips/s (median "
                      "block, from writer 0's start to the responder's last reply; A ÷ B the median of the "
                      "per-pair ratios, above 1: A is faster). No target: targets.json reports the ratios.", "",
                      md_table(["A", "B", "writers", "size", "wait", "runs", "A RTT p50 / p99 per writer",
                                "B RTT p50 / p99 per writer", "RTT p50 A ÷ B", "RTT p99 A ÷ B", "A round trips/s",
                                "B round trips/s", "rate A ÷ B"], rows)])


# Issue 20's large-message targets: the byte-ring subjects, raw (`dmp-bytes`)
# and Layer 1 (`framed-bytes`, where this build has it).
LARGE_SUBJECTS = (("dmp-bytes", "raw"), ("framed-bytes", "framed"))
LARGE_PP = "%s ping-pong %s RTT p50 ≤ %.1f× %s"
LARGE_ST = "%s stream %s GB/s ≥ iceoryx's"


def large_targets(run, add):
    """Issue 20's large-message targets, judged on the paired cases only (the
    suites plan them, suite.c): ping-pong RTT p50 at 64 KiB, 1 MiB and 16 MiB
    against the floor (<= 1.2x) and iceoryx (<= 1.0x), stream GB/s at 64 KiB
    and 1 MiB against iceoryx (>= 1.0x). No callgrind profile: at these sizes
    the time is the copies' memory traffic, which instruction counts do not
    show."""
    for s, layer in LARGE_SUBJECTS:
        if s not in run.subjects:
            continue
        for size in (65536, 1048576, 16777216):
            for ref, limit in (("floor", 1.2), ("iceoryx", 1.0)):
                name = LARGE_PP % (layer, fmt_size(size), limit, ref)
                p, n = ab(run, "ab_pingpong", s, ref, size)
                if not p:
                    add(name, s, None, limit, False, "no paired %s case in this run" % ref)
                    continue
                a, b = lat(p, "rtt_a", "p50"), lat(p, "rtt_b", "p50")
                add(name, s, ratio(a, b), limit, False, "paired A/B (%d runs): %s vs %s %s (p99 %s vs %s)" % (
                    n, fmt_ns(a), ref, fmt_ns(b), fmt_ns(lat(p, "rtt_a", "p99")), fmt_ns(lat(p, "rtt_b", "p99"))))
        for size in (65536, 1048576):
            name = LARGE_ST % (layer, fmt_size(size))
            p, n = ab(run, "ab_stream", s, "iceoryx", size)
            if not p:
                add(name, s, None, 1.0, True, "no paired iceoryx case in this run")
                continue
            ga, gb = (p.get(k) * size / 1e9 if p.get(k) else None for k in ("a_msgs_per_s", "b_msgs_per_s"))
            add(name, s, p.get("ratio_a_over_b"), 1.0, True,
                "paired A/B (%d runs, median of per-block ratios): %s vs iceoryx %s" % (n, fmt_gbs(ga), fmt_gbs(gb)))


LARGE_PP2 = "%s ping-pong 64 KiB RTT p50, `%s` ÷ two-line floor (comparison, no target)"


def large_floor2_lines(run, append):
    """The byte-ring subjects' 64 KiB round trip against the two-line floor
    (`floor-2line`: one buffer per direction, as any ring with a request and
    a reply ring has), with the two-line floor against the one-line floor
    beside it; verdict "reported": the target stays against `floor`."""
    one, _ = ab(run, "ab_pingpong", "floor-2line", "floor", 65536)
    extra = ""
    if one:
        extra = "; the two-line floor is %s the one-line floor (%s vs %s, paired)" % (
            fmt_x(ratio(lat(one, "rtt_a", "p50"), lat(one, "rtt_b", "p50"))), fmt_ns(lat(one, "rtt_a", "p50")),
            fmt_ns(lat(one, "rtt_b", "p50")))
    for s, layer in LARGE_SUBJECTS:
        p, n = ab(run, "ab_pingpong", s, "floor-2line", 65536)
        if not p:
            continue
        a, b = lat(p, "rtt_a", "p50"), lat(p, "rtt_b", "p50")
        append({"target": LARGE_PP2 % (layer, s), "subject": s, "value": ratio(a, b), "limit": None,
                "higher_is_better": False, "verdict": "reported",
                "detail": "paired A/B (%d runs): %s vs two-line floor %s (p99 %s vs %s)%s" % (
                    n, fmt_ns(a), fmt_ns(b), fmt_ns(lat(p, "rtt_a", "p99")), fmt_ns(lat(p, "rtt_b", "p99")), extra)})


MP_ONE = "1 producer on a multi-producer ring ≥ 0.8× single-producer ring, %d B stream msgs/s"
FLOOR2_PP = "raw 64 B ping-pong p50 ≤ 1.15× two-line floor"


def mp_targets(run, add):
    """Issue 18's targets, judged on the paired cases only: `dmp-mp` (one
    producer on a DMP_RING_MULTI_PRODUCER ring) against `dmp-shm`, and
    `dmp-shm` against the two-line floor `floor-2line`."""
    for size in (8, 64):
        p, n = ab(run, "ab_stream", "dmp-mp", "dmp-shm", size)
        if not p:
            add(MP_ONE % size, "dmp-mp", None, 0.8, True, "no paired dmp-mp case in this run")
            continue
        add(MP_ONE % size, "dmp-mp", p.get("ratio_a_over_b"), 0.8, True,
            "paired A/B (%d runs, median of per-block ratios) against `dmp-shm`: %s vs %s" % (
                n, fmt_rate(p.get("a_msgs_per_s")), fmt_rate(p.get("b_msgs_per_s"))),
            profile_spec("stream", size, "dmp-mp", "dmp-shm"))
    p, n = ab(run, "ab_pingpong", "dmp-shm", "floor-2line", 64)
    if not p:
        add(FLOOR2_PP, "dmp-shm", None, 1.15, False, "no paired two-line floor case in this run")
        return
    a, b = lat(p, "rtt_a", "p50"), lat(p, "rtt_b", "p50")
    one, _ = ab(run, "ab_pingpong", "floor-2line", "floor", 64)
    extra = ""
    if one:
        extra = "; the two-line floor is %s the one-line floor (%s vs %s, paired)" % (
            fmt_x(ratio(lat(one, "rtt_a", "p50"), lat(one, "rtt_b", "p50"))), fmt_ns(lat(one, "rtt_a", "p50")),
            fmt_ns(lat(one, "rtt_b", "p50")))
    add(FLOOR2_PP, "dmp-shm", ratio(a, b), 1.15, False,
        "paired A/B (%d runs): %s vs two-line floor %s (p99 %s vs %s)%s" % (
            n, fmt_ns(a), fmt_ns(b), fmt_ns(lat(p, "rtt_a", "p99")), fmt_ns(lat(p, "rtt_b", "p99")), extra),
        profile_spec("pingpong", 64, "dmp-shm", "floor-2line"))


FRAMED_SMALL = "framed %d B stream ≥ 0.8× raw msgs/s (batched calls)"


def framed_small_targets(run, add):
    """Issue 20's small-message framed target, judged on the paired cases:
    `framed-shm-batch` (myelon_producer_publish_batch / consumer_recv_batch)
    against `dmp-shm`; one-message-per-call `framed-shm` shown beside it.
    The same for the framed byte ring, `framed-bytes-batch`, where the run
    has its cases."""
    for batch, one_call in (("framed-shm-batch", "framed-shm"), ("framed-bytes-batch", "framed-bytes")):
        for size in (8, 64):
            p, n = ab(run, "ab_stream", batch, "dmp-shm", size)
            if not p:
                if batch == "framed-shm-batch":
                    add(FRAMED_SMALL % size, batch, None, 0.8, True, "no paired %s case in this run" % batch)
                continue
            one, _ = ab(run, "ab_stream", one_call, "dmp-shm", size)
            extra = "; one message per call (`%s`): %s" % (one_call, fmt_x(one.get("ratio_a_over_b"))) if one else ""
            add(FRAMED_SMALL % size, batch, p.get("ratio_a_over_b"), 0.8, True,
                "paired A/B (%d runs, median of per-block ratios) against `dmp-shm`: %s vs %s%s" % (
                    n, fmt_rate(p.get("a_msgs_per_s")), fmt_rate(p.get("b_msgs_per_s")), extra),
                profile_spec("stream", size, batch, "dmp-shm"))


TYPED_PP = (("typed msgpack 64 B ping-pong p50 ≤ 2.5× raw", "msgpack-shm", 2.5),
            ("msgpack view 64 B ping-pong p50 ≤ 1.5× raw", "view-shm", 1.5))
TYPED_ST = "typed msgpack 64 B stream ≥ 0.5× raw msgs/s"
TYPED_ST_SUBJECTS = ("msgpack-shm-batch", "msgpack-shm", "view-shm-batch")


def typed_targets(run, add):
    """Issue 20's typed-layer targets, judged on the paired cases against
    `dmp-shm` (suite.c plans them): the owned decode (`msgpack-shm`) and
    the field view (`view-shm`) at 64 B ping-pong RTT p50, and the typed
    64 B stream in msgs/s - on the batched typed subject where the run has
    it (`msgpack-shm-batch`, the target), one message per call and the
    batched field views (`view-shm-batch`) beside it."""
    for name, s, limit in TYPED_PP:
        p, n = ab(run, "ab_pingpong", s, "dmp-shm", 64)
        if not p:
            add(name, s, None, limit, False, "no paired %s case in this run" % s)
            continue
        a, b = lat(p, "rtt_a", "p50"), lat(p, "rtt_b", "p50")
        add(name, s, ratio(a, b), limit, False, "paired A/B (%d runs) against `dmp-shm`: %s vs %s (p99 %s vs %s)" % (
            n, fmt_ns(a), fmt_ns(b), fmt_ns(lat(p, "rtt_a", "p99")), fmt_ns(lat(p, "rtt_b", "p99"))),
            profile_spec("pingpong", 64, s, "dmp-shm"))
    found = [(s,) + ab(run, "ab_stream", s, "dmp-shm", 64) for s in TYPED_ST_SUBJECTS]
    found = [f for f in found if f[1]]
    if not found:
        add(TYPED_ST, "msgpack-shm", None, 0.5, True, "no paired typed stream case in this run")
        return
    s, p, n = found[0]
    extra = "".join("; `%s`: %s" % (o, fmt_x(q.get("ratio_a_over_b"))) for o, q, _ in found[1:])
    add(TYPED_ST, s, p.get("ratio_a_over_b"), 0.5, True,
        "paired A/B (%d runs, median of per-block ratios) against `dmp-shm`: %s vs %s%s" % (
            n, fmt_rate(p.get("a_msgs_per_s")), fmt_rate(p.get("b_msgs_per_s")), extra),
        profile_spec("stream", 64, s, "dmp-shm"))


RECORDER_T = "recorder: ≤ 10 % producer slowdown (callgrind path, no spare core)"


def recorder_target(run, add):
    """Issue 20's recorder target where the host has no spare core for the
    recorder: the producer's path in instructions per event with a gating
    recorder attached over without (run.sh runs
    bench/record_overhead_instr.sh into OUT/record_overhead.json)."""
    try:
        with open(os.path.join(run.dir, "record_overhead.json")) as f:
            r = json.load(f)
    except (OSError, ValueError):
        add(RECORDER_T, "recorder", None, 1.1, False, "no record_overhead.json in this run (run.sh makes it)")
        return
    add(RECORDER_T, "recorder", r.get("path_ratio"), 1.1, False,
        "producer path %.1f vs %.1f instructions per %d-byte event with / without a gating recorder (%d events, "
        "waits for space left out; whole loop %.1f vs %.1f); instruction counts, not time: the recorder's "
        "reads of the slots on another core are not counted" % (
            r.get("recorded_path", 0), r.get("baseline_path", 0), r.get("size", 0), r.get("events", 0),
            r.get("recorded_total", 0), r.get("baseline_total", 0)))


FRAMED_PP = "framed 64 B ping-pong p50 ≤ 1.3× raw"
FRAMED_ST = (("framed 1 KiB stream ≥ 0.7× floor GB/s", 1024, 0.7), ("framed 1 MiB stream ≥ 0.8× floor GB/s", 1048576, 0.8))


def framed_targets(run, add):
    """Layer 1 targets, judged on the paired cases only: every framed subject
    that ran them (the quick suite: compact frames on shm and mmap)."""
    evaluated = set()
    for s in [x for x in run.ours if run.layer.get(x) == "framed"]:
        raw = "dmp-mmap" if backend_of(s) == "mmap" else "dmp-shm"
        p, n = ab(run, "ab_pingpong", s, raw, 64)
        if p:
            a, b = lat(p, "rtt_a", "p50"), lat(p, "rtt_b", "p50")
            sep = ratio(lat(rtt(run, s, 64), "rtt", "p50"), lat(rtt(run, raw, 64), "rtt", "p50"))
            add(FRAMED_PP, s, ratio(a, b), 1.3, False,
                "paired A/B (%d runs) against `%s`: %s vs %s (p99 %s vs %s); separate runs: %s" % (
                    n, raw, fmt_ns(a), fmt_ns(b), fmt_ns(lat(p, "rtt_a", "p99")), fmt_ns(lat(p, "rtt_b", "p99")),
                    fmt_x(sep)),
                profile_spec("pingpong", 64, s, raw))
            evaluated.add(FRAMED_PP)
        for name, size, limit in FRAMED_ST:
            p, n = ab(run, "ab_stream", s, "floor", size)
            if not p:
                continue
            a, b = p.get("a_msgs_per_s"), p.get("b_msgs_per_s")
            sa, sf = stream(run, s, size), stream(run, run.floor, size) if run.floor else None
            sep = ratio((sa or {}).get("msgs_per_s"), (sf or {}).get("msgs_per_s"))
            add(name, s, p.get("ratio_a_over_b"), limit, True,
                "paired A/B (%d runs, median of per-block ratios; same bytes per message, so the msgs/s ratio is "
                "the GB/s ratio): %s vs floor %s; separate runs: %s" % (
                    n, fmt_gbs(a * size / 1e9 if a else None), fmt_gbs(b * size / 1e9 if b else None), fmt_x(sep)),
                profile_spec("stream", size, s, "floor"))
            evaluated.add(name)
    for name in [FRAMED_PP] + [t[0] for t in FRAMED_ST]:
        if name not in evaluated:
            add(name, "framed-*", None, None, None, "no paired framed case in this run")


def profile_spec(workload, size, a, b):
    """The callgrind cases that show where a missed target's time goes: the
    subject and its reference, each alone, with counts small enough for
    valgrind (a few seconds each)."""
    if workload == "pingpong":
        count = 10000 if size <= 4096 else 100
        warmup = min(1000, count)
    else:
        count = 50000 if size <= 64 else 20000 if size <= 4096 else 1000 if size <= 65536 else 100
        ring = suite_capacity(size)
        warmup = min(ring + ring // 8, count // 5)
    spec = {}
    for side, subject in (("a", a), ("b", b)):
        spec[side] = {"name": "%s-%d-%s" % (workload, size, subject), "subject": subject,
                      "collect": list(path_functions(subject) or ()),
                      "args": ["--workload", workload, "--subject", subject, "--size", str(size), "--count",
                               str(count), "--warmup", str(warmup)]}
    return spec


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
        if t["limit"] is None:
            v = "reported" if t["verdict"] == "reported" else "not measured"
        else:
            v = verdict(t["value"], t["limit"], t["higher_is_better"])
        if t["value"] is None:
            val = "–"
        elif "CPU" in t["target"]:
            val = "%.3f %%" % t["value"]
        else:
            val = fmt_x(t["value"], 3)
        rows.append([t["target"], "`%s`" % t["subject"], val, v, t["detail"]])
    met = [t for t in tl if t["verdict"] == "met"]
    missed = [t for t in tl if t["verdict"] == "missed"]
    reported = [t for t in tl if t["verdict"] == "reported"]
    lines = "**%d met, %d MISSED, %d not measured.**" % (len(met), len(missed),
                                                        len(tl) - len(met) - len(missed) - len(reported))
    if reported:
        lines += " %d comparisons reported without a target (verdict \"reported\")." % len(reported)
    if missed:
        lines += " Missed: " + "; ".join("%s (`%s`, %s)" % (t["target"], t["subject"], fmt_x(t["value"], 3))
                                        for t in missed) + "."
    return "## Targets, this run\n\n" + lines + "\n\n" + md_table(
        ["target", "subject", "measured", "verdict", "detail"], rows)


def section_which_transport(run):
    """The table a user reads first: per message size and workload, the
    fastest of our subjects (raw ring, framed) against the fastest
    competitor measured in the same run."""
    def best(subjects, value, lower):
        got = [(value(s), s) for s in subjects]
        got = [g for g in got if g[0]]
        if not got:
            return None, None
        return (min if lower else max)(got)

    def cell(v, s, fmt):
        return "%s `%s`" % (fmt(v), s) if s else "—"

    ours = {"raw": [s for s in run.ours if run.layer.get(s) == "raw"],
            "framed": [s for s in run.ours if run.layer.get(s) == "framed"]}
    rows = []
    for size in sorted(set(run.sizes("pingpong")) | set(run.sizes("stream"))):
        for wl, lower, value, fmt in (
                ("ping-pong RTT p50", True, lambda s, z=size: lat(rtt(run, s, z), "rtt", "p50"), fmt_ns),
                ("stream", False, lambda s, z=size: (stream(run, s, z) or {}).get("msgs_per_s"),
                 lambda v, z=size: "%s (%s)" % (fmt_rate(v), fmt_gbs(v * z / 1e9)))):
            raw_v, raw_s = best(ours["raw"], value, lower)
            fr_v, fr_s = best(ours["framed"], value, lower)
            co_v, co_s = best(run.competitors, value, lower)
            if not raw_s and not fr_s:
                continue
            top_v, top_s = best([x for x in (raw_s, fr_s) if x], value, lower)
            r = ratio(co_v, top_v) if lower else ratio(top_v, co_v)
            rows.append([fmt_size(size), wl, cell(raw_v, raw_s, fmt), cell(fr_v, fr_s, fmt), cell(co_v, co_s, fmt),
                         ("**%s**" if r and r >= 1 else "%s") % fmt_x(r) if r else "—"])
    if not rows:
        return ""
    return ("## Which transport for which message size\n\n"
            "The fastest of our raw rings (Layer 0) and of our framed rings (Layer 1) against the fastest "
            "competitor in this run, per size and workload (separate runs, same sizes, counts and pinning). "
            "`ours ÷ best other`: how many times faster the faster of our two is (RTT: their p50 ÷ ours; "
            "stream: our msgs/s ÷ theirs); below 1× a competitor wins at that size. Typed layers (msgpack, "
            "views) are in the layers section.\n\n" +
            md_table(["size", "workload", "ours, raw", "ours, framed", "best competitor", "ours ÷ best other"],
                     rows))


def section_floors(run):
    """How each floor subject is built (its `transport`, from the subject's source)."""
    rows = []
    for s in run.subjects:
        if run.family.get(s) == "floor":
            c = next((c for c in run.cases if c["subject"] == s), {})
            rows.append("- `%s`: %s" % (s, c.get("transport", "?")))
    if not rows:
        return ""
    return ("## How the floors are built\n\nA floor is the least a message can cost on this host: the fastest "
            "correct minimal exchange of the same bytes, at the same ring depth, with nothing else (no liveness, "
            "no wake-ups, no counters). Ratios \"× floor\" divide by it.\n\n" + "\n".join(rows))


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
    ours = [s for s in run.ours if s in main_plot_subjects(run)]
    for workload_size in getter["sizes"]:
        for s in ours:
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


def ab_row(run, workload, a, b, size):
    """(A figure, B figure, runs) of a paired case: p50 RTTs or median msgs/s."""
    p, n = ab(run, workload, a, b, size)
    if not p:
        return None
    if workload == "ab_pingpong":
        return lat(p, "rtt_a", "p50"), lat(p, "rtt_b", "p50"), n, p
    return p.get("a_msgs_per_s"), p.get("b_msgs_per_s"), n, p


def section_counters(run):
    """Shared-memory counters (the default) against a ring created without
    them, paired."""
    a, b = "dmp-shm-nocnt", "dmp-shm"
    rows = []
    r = ab_row(run, "ab_pingpong", a, b, 64)
    if r:
        off, on, n, p = r
        rows.append(["64 B ping-pong RTT p50", fmt_ns(on), fmt_ns(off), fmt_x(ratio(on, off), 3),
                     "p99 %s vs %s" % (fmt_ns(lat(p, "rtt_b", "p99")), fmt_ns(lat(p, "rtt_a", "p99"))), n])
    for size in (8, 64):
        r = ab_row(run, "ab_stream", a, b, size)
        if r:
            off, on, n, p = r
            # time per message on / off = rate off / rate on = 1 / (per-block A÷B)
            per = p.get("ratio_a_over_b")
            rows.append(["%s stream msgs/s" % fmt_size(size), fmt_rate(on), fmt_rate(off),
                         fmt_x(per, 3), "per-block off÷on range %s … %s" % (
                             fmt_x(p.get("ratio_min")), fmt_x(p.get("ratio_max"))), n])
    if not rows:
        return ""
    return ("## Counters on/off (paired)\n\n"
            "`dmp-shm` as shipped (shared-memory counters on, `counters.h`) against `dmp-shm-nocnt`, the same ring "
            "created with `DMP_RING_NO_COUNTERS` and consumers attached with `DMP_CONSUMER_NO_COUNTERS`, alternating "
            "in the same two processes. The library updates counters only on its cold paths (window rescans, waits, "
            "attach), so the cost shows where those paths run often. Ratio: for the RTT, on ÷ off (above 1 = counters "
            "cost latency); for streams, the median per-block ratio off ÷ on (above 1 = counters cost throughput). "
            "Every figure is the median over the runs.\n\n" +
            md_table(["figure", "counters on", "counters off", "on cost (ratio)", "detail", "runs"], rows))


def section_views(run):
    """Owned decode (Layer 2) against in-place views (Layer 3) of the same
    msgpack bytes: paired cases, then the separate runs over the ladder."""
    parts = []
    rows = []
    a, b = "view-shm", "msgpack-shm"
    r = ab_row(run, "ab_pingpong", a, b, 64)
    if r:
        va, vb, n, p = r
        rows.append(["64 B ping-pong RTT p50", fmt_ns(vb), fmt_ns(va), fmt_x(ratio(vb, va), 3), n])
    for size in (1024, 65536):
        r = ab_row(run, "ab_stream", a, b, size)
        if r:
            va, vb, n, p = r
            rows.append(["%s stream msgs/s" % fmt_size(size), fmt_rate(vb), fmt_rate(va), fmt_x(p.get("ratio_a_over_b"), 3),
                         n])
    if rows:
        parts.append(md_table(["figure (paired)", "owned (`msgpack-shm`)", "view (`view-shm`)", "view speed-up",
                               "runs"], rows))
    for backend in ("shm", "mmap"):
        owned, view = "msgpack-" + backend, "view-" + backend
        rows = []
        for size in sorted(set(run.sizes("pingpong")) | set(run.sizes("stream"))):
            ro, rv = rtt(run, owned, size), rtt(run, view, size)
            so, sv = stream(run, owned, size), stream(run, view, size)
            if not (ro or rv or so or sv):
                continue
            po, pv = lat(ro, "rtt", "p50"), lat(rv, "rtt", "p50")
            mo, mv = (so or {}).get("msgs_per_s"), (sv or {}).get("msgs_per_s")
            rows.append([fmt_size(size), fmt_ns(po), fmt_ns(pv), fmt_x(ratio(po, pv)), fmt_rate(mo), fmt_rate(mv),
                         fmt_x(ratio(mv, mo))])
        if rows:
            parts.append("Separate runs, %s:\n\n" % backend + md_table(
                ["size", "owned RTT p50", "view RTT p50", "view speed-up", "owned msgs/s", "view msgs/s",
                 "view speed-up"], rows))
    if not parts:
        return ""
    return ("## Owned decode vs zero-copy view (msgpack)\n\n"
            "The same msgpack record on the wire (payload size = encoded size, see bench/README.md); `msgpack-*` "
            "decodes it into an owned value (validate, parse, allocate, copy the body) and frees it, `view-*` "
            "validates and parses it in place (`myelon_typed_consumer_recv_view`) and reads the fields from the slot. Both "
            "then copy the body into the harness buffer. Speed-up: owned RTT ÷ view RTT, view msgs/s ÷ owned "
            "msgs/s (paired: median per-block ratio).\n\n" + "\n\n".join(parts))


def section_layers(run):
    """What each layer costs over the raw ring, per backend (separate runs)."""
    parts = []
    for backend in ("shm", "mmap"):
        cols = [s for s in ("dmp-%s" % backend, "framed-%s" % backend, "framed-%s-aligned" % backend,
                            "msgpack-%s" % backend, "view-%s" % backend) if s in run.subjects]
        if len(cols) < 2:
            continue
        raw = cols[0]
        rows = []
        for size in run.sizes("pingpong"):
            vals = [lat(rtt(run, s, size), "rtt", "p50") for s in cols]
            if sum(v is not None for v in vals) < 2:
                continue
            base = vals[0]
            rows.append([fmt_size(size)] + ["%s (%s)" % (fmt_ns(v), fmt_x(ratio(v, base))) if v else "–" for v in vals])
        if rows:
            parts.append("RTT p50 on %s (× `%s`):\n\n" % (backend, raw) + md_table(["size"] + ["`%s`" % c for c in cols],
                                                                                  rows))
        rows = []
        for size in run.sizes("stream"):
            f = (stream(run, run.floor, size) or {}).get("gb_per_s") if run.floor else None
            vals = [(stream(run, s, size) or {}).get("gb_per_s") for s in cols]
            if sum(v is not None for v in vals) < 2:
                continue
            rows.append([fmt_size(size), fmt_gbs(f)] + ["%s (%s)" % (fmt_gbs(v), fmt_x(ratio(v, f))) if v else "–"
                                                        for v in vals])
        if rows:
            parts.append("Stream GB/s on %s (× floor):\n\n" % backend + md_table(
                ["size", "`floor`"] + ["`%s`" % c for c in cols], rows))
    if not parts:
        return ""
    return ("## Layers: what framing, encoding and views cost over the raw ring\n\n"
            "Separate runs of the main ladder (noisier than the paired figures above). Framed subjects use one frame "
            "per message (frame capacity = payload size); `-aligned` uses the 16-byte header format. Typed subjects "
            "carry a msgpack record whose encoded size is the payload size (they skip sizes below 33 B).\n\n" +
            "\n\n".join(parts))


# ---- profiles (callgrind) -------------------------------------------------------

CG_LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*)$")
SEND_RECV = (("floor-2line", "f2_send", "f2_recv"), ("floor", "floor_send", "floor_recv"), ("dmp-", "dmp_send", "dmp_recv"),
             ("framed-shm-batch", "fb_send", "fb_recv"), ("framed-bytes-batch", "fb_send", "fb_recv"),
             ("framed-", "framed_send", "framed_recv"),
             ("msgpack-shm-batch", "typed_send_batch", "typed_recv_batch"),
             ("view-shm-batch", "typed_send_batch", "typed_recv_batch"), ("msgpack-", "typed_send", "typed_recv"),
             ("view-", "typed_send", "typed_recv"))


def path_functions(subject):
    """The harness's send and receive functions of a subject (subj_*.c)."""
    return next(((snd, rcv) for pre, snd, rcv in SEND_RECV if subject.startswith(pre)), None)


def read_cg(path):
    """callgrind_annotate output -> {function: Ir} (loader and startup code left out)."""
    out = {}
    try:
        with open(path) as f:
            for line in f:
                m = CG_LINE.match(line)
                if not m or "PROGRAM TOTALS" in line:
                    continue
                ir = int(m.group(1).replace(",", ""))
                where = m.group(2)
                obj = where[where.rfind("[") + 1:-1] if where.endswith("]") else ""
                fn = where[:where.rfind(" [")] if " [" in where else where
                fn = fn.split(":", 1)[1] if ":" in fn else fn
                if "ld-linux" in obj or "/elf/" in where or fn.startswith("_dl_") or fn in out:
                    continue
                out[fn] = ir
    except OSError:
        return None
    return out


def profile_messages(pdir):
    """Messages each role of a profiled case handled, from its run.json."""
    try:
        with open(os.path.join(pdir, "run.json")) as f:
            c = json.load(f)["cases"][0]
    except (OSError, ValueError, IndexError, KeyError):
        return None, None
    n = c["count"] + c["warmup"]
    if c["workload"] == "pingpong":
        bare = c["count"] // 4 // 64 * 64
        n += bare if bare else 64
    return c, n


# The library's waiting functions (entered when the other side is not ready):
# their instruction counts measure the peer's speed, not this side's work.
WAIT_ENTRIES = ("dmp_consumer_wait", "dmp_impl_producer_wait_step")
WAIT_FNS = WAIT_ENTRIES + ("dmp_impl_wait_step", "dmp_impl_futex_wait")
HARNESS_PREFIXES = ("hist_", "json_", "bench_", "role_", "rate_", "consume", "produce", "main")


def profile_roles(pdir, subject):
    """{role: (send + receive path Ir/msg without waiting, waiting Ir/msg,
    [(fn, own Ir/msg)])} of one profiled case."""
    c, n = profile_messages(pdir)
    if not c or not n:
        return None
    names = path_functions(subject)
    roles = {}
    for role in ("client", "server", "producer", "consumer"):
        incl = read_cg(os.path.join(pdir, "callgrind.%s.incl.txt" % role))
        self_ = read_cg(os.path.join(pdir, "callgrind.%s.self.txt" % role))
        if incl is None or self_ is None:
            continue
        waiting = sum(incl.get(x, 0) for x in WAIT_ENTRIES) / n
        path = sum(incl.get(x, 0) for x in names) / n - waiting if names else None
        top = sorted(((fn, ir / n) for fn, ir in self_.items() if ir / n >= 0.5 and fn not in WAIT_FNS
                      and not fn.startswith(HARNESS_PREFIXES)), key=lambda x: -x[1])[:8]
        roles[role] = (path, waiting, top)
    return roles or None


def section_profiles(run, tl, out):
    parts = []
    for t in tl:
        prof = t.get("profile")
        if not prof:
            continue
        a, b = prof["a"], prof["b"]
        pa = profile_roles(os.path.join(out, "profiles", a["name"]), a["subject"])
        pb = profile_roles(os.path.join(out, "profiles", b["name"]), b["subject"])
        if not pa:
            continue
        c, n = profile_messages(os.path.join(out, "profiles", a["name"]))
        def num(v):
            return "%.0f" % v if v is not None else "–"

        rows = []
        for role in pa:
            ia, wa = pa[role][0], pa[role][1]
            ib, wb = (pb or {}).get(role, (None, None, None))[:2]
            rows.append([role, num(ia), num(ib), fmt_x(ratio(ia, ib)), num(wa), num(wb)])
        tops = []
        for subj, prof_roles in ((a["subject"], pa), (b["subject"], pb or {})):
            for role, (path, waiting, top) in prof_roles.items():
                tops.append("- `%s` %s: " % (subj, role) + ", ".join("`%s` %.0f" % (fn, ir) for fn, ir in top))
        parts.append("### %s — `%s` %s (MISSED)\n\n"
                     "`bench/callgrind.sh` on `%s` and on `%s` alone (%s, %d messages per role incl. warm-up; output in "
                     "`profiles/%s/` and `profiles/%s/`). Instructions per message on the subject's send + receive "
                     "path (inclusive), without the library's wait functions (`%s`, shown apart: they count how long "
                     "the other side took):\n\n%s\n\nTop functions by own instructions per message (harness and "
                     "waiting left out):\n\n%s" % (
                         t["target"], t["subject"], fmt_x(t["value"], 3), a["subject"], b["subject"],
                         " ".join(a["args"][:2] + a["args"][4:6]), n, a["name"], b["name"], "`, `".join(WAIT_ENTRIES),
                         md_table(["role", "A `%s` Ir/msg" % a["subject"], "B `%s` Ir/msg" % b["subject"], "A÷B",
                                   "A waiting Ir/msg", "B waiting Ir/msg"], rows),
                         "\n".join(tops)))
    if not parts:
        return ""
    return ("## Where the time goes: callgrind profiles of the missed targets\n\n"
            "Instruction counts (valgrind --tool=callgrind, both processes of the case under valgrind), divided by "
            "the messages each process handled. They show the work per message, not the time: cache-line transfers "
            "and fences cost far more time than their instruction count says. The floor polls inline (in "
            "`floor_recv`), so its path figure includes its polling. Only the subject's send and receive functions "
            "and what they call are counted (callgrind `--toggle-collect`): set-up and the harness stay out.\n\n" + "\n\n".join(parts))


def profile_jobs(tl):
    """The profile cases of the missed targets: one per target name (the
    first missed subject), each case once."""
    jobs, seen_target, seen_job = [], set(), set()
    for t in tl:
        prof = t.get("profile")
        if not prof or t["target"] in seen_target:
            continue
        seen_target.add(t["target"])
        for side in ("a", "b"):
            j = prof[side]
            if j["name"] not in seen_job:
                seen_job.add(j["name"])
                jobs.append(j)
    return jobs[:8]


# ---- plots -------------------------------------------------------------------


def write_dat(path, header, rows):
    with open(path, "w") as f:
        f.write("# " + " ".join(header) + "\n")
        for r in rows:
            f.write(" ".join("%.6g" % x if isinstance(x, float) else str(x) for x in r) + "\n")


# One colour and one marker per subject, the same in every plot: a
# subject's place in the run's subject list picks both. 20 colours and 13
# markers (coprime), so no two of the first 260 subjects share the pair,
# and the first 20 differ in colour alone.
PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
           "#000000", "#7f7f7f", "#aec7e8", "#ff9896", "#98df8a", "#ffbb78", "#c5b0d5", "#c49c94", "#f7b6d2",
           "#9edae5", "#393b79"]
MARKERS = [5, 7, 9, 11, 13, 4, 6, 8, 10, 12, 1, 2, 3]


def subject_style(run, subject):
    i = run.subjects.index(subject) if subject in run.subjects else len(run.subjects)
    return "lc rgb '%s' pt %d" % (PALETTE[i % len(PALETTE)], MARKERS[i % len(MARKERS)])


def gp_lines(run, files, using, spread=False):
    """Curves of (path, subject) files; `spread`: `using` names low and high
    columns too, drawn as error bars (the spread over --runs)."""
    parts = []
    for path, title in files:
        parts.append("'%s' using %s with %s lw 2 %s title '%s'" % (
            path, using, "yerrorlines" if spread else "linespoints", subject_style(run, title), title))
    return ", \\\n     ".join(parts)


def spread_of(run, workload, subject, size, value):
    """[min, max] of `value(results)` over the ok repetitions of a ladder
    case (both the folded median's value when it ran once)."""
    vals = []
    for c in run.raw_cases:
        if (c["status"] == "ok" and c["workload"] == workload and c["subject"] == subject and c["size"] == size and
                c["wait"] == "spin" and c["receivers"] == 1 and not c.get("pair") and not c.get("series")):
            try:
                vals.append(value(c["results"]))
            except (KeyError, TypeError, ZeroDivisionError):
                pass
    return [min(vals), max(vals)] if vals else [0, 0]


def ladder_runs(run):
    """How many times the suite ran its ladder (myelon-bench --runs)."""
    return max([c["reps"] for c in run.cases if c["workload"] in ("pingpong", "stream")
                and not c.get("pair") and not c.get("series")] or [1])


def main_plot_subjects(run):
    """The main plots: Layer 0, the floor, the competitors, and one curve per
    layer of ours on shm (the layer plots have every variant)."""
    return [s for s in run.subjects if run.layer.get(s, "raw") == "raw" or s in ("framed-shm", "msgpack-shm", "view-shm")]


def layer_plot_subjects(run):
    return [s for s in run.subjects if s == run.floor or (run.family.get(s) == "ours" and (
        run.layer.get(s) != "raw" or s in ("dmp-shm", "dmp-mmap")))]


def plots(run, out):
    data, pdir = os.path.join(out, "data"), os.path.join(out, "plots")
    os.makedirs(data, exist_ok=True)
    os.makedirs(pdir, exist_ok=True)
    lat_of, thr_of, spec_files = {}, {}, []
    for s in run.subjects:
        rows = []
        for size in run.sizes("pingpong"):
            r = rtt(run, s, size)
            if r and "rtt" in r:
                p50 = spread_of(run, "pingpong", s, size, lambda x: x["client0"]["rtt"]["p50"] / 1e3)
                p99 = spread_of(run, "pingpong", s, size, lambda x: x["client0"]["rtt"]["p99"] / 1e3)
                rows.append([size, r["rtt"]["p50"] / 1e3, r["rtt"]["p99"] / 1e3] + p50 + p99)
        if rows:
            p = os.path.join(data, "rtt_%s.dat" % s)
            write_dat(p, ["size_bytes", "p50_us", "p99_us", "p50_min", "p50_max", "p99_min", "p99_max"], rows)
            lat_of[s] = (p, s)
        rows = []
        for size in run.sizes("stream"):
            r = stream(run, s, size)
            if r and r.get("msgs_per_s"):
                gbs = spread_of(run, "stream", s, size, lambda x: x["consumer0"]["gb_per_s"])
                mm = spread_of(run, "stream", s, size, lambda x: x["consumer0"]["msgs_per_s"] / 1e6)
                rows.append([size, r["gb_per_s"], r["msgs_per_s"] / 1e6] + gbs + mm)
        if rows:
            p = os.path.join(data, "stream_%s.dat" % s)
            write_dat(p, ["size_bytes", "gb_per_s", "mmsgs_per_s", "gbs_min", "gbs_max", "mmsgs_min", "mmsgs_max"],
                      rows)
            thr_of[s] = (p, s)
        r = rtt(run, s, SPECTRUM_SIZE)
        if r and "rtt" in r and s in main_plot_subjects(run):
            rows = [[1.0 / (1.0 - pct / 100.0) if pct < 100 else 1e6, v / 1e3, pct] for pct, v in r["rtt"]["spectrum"]]
            p = os.path.join(data, "spectrum_%s.dat" % s)
            write_dat(p, ["one_over_1_minus_p", "rtt_us", "percentile"], rows)
            spec_files.append((p, s))
    main, layers = main_plot_subjects(run), layer_plot_subjects(run)
    lat_files = [lat_of[s] for s in main if s in lat_of]
    thr_files = [thr_of[s] for s in main if s in thr_of]
    lay_lat = [lat_of[s] for s in layers if s in lat_of]
    lay_thr = [thr_of[s] for s in layers if s in thr_of]
    host = "%s, %d cores" % (run.meta["host"]["cpu_model"], run.meta["host"]["cores"])
    sizes = sorted(set(run.sizes("pingpong")) | set(run.sizes("stream")))
    xtics = ", ".join("'%s' %d" % (fmt_size(z).replace(" ", ""), z) for z in sizes)
    common = ("set terminal pngcairo size 1100,680 font 'sans,10'\nset grid\nset key outside right top\n"
              "set logscale x 2\nset logscale y 10\nset xtics (%s)\n" % xtics)

    # With --runs N the ladder's curves carry the spread (min..max over the runs) as error bars.
    spread = ladder_runs(run) > 1
    bars = {"1:2": "1:2:4:5", "1:3": "1:3:6:7"}

    def plot(name, title, ylabel, files, using):
        if spread:
            title += ", bars: min..max of %d runs" % ladder_runs(run)
        return common + "set output '%s'\nset title '%s (%s)'\nset xlabel 'payload'\nset ylabel '%s'\nplot %s\n" % (
            os.path.join(pdir, name + ".png"), title, host, ylabel,
            gp_lines(run, files, bars[using] if spread else using, spread))

    scripts = {}
    if lat_files:
        scripts["latency_vs_payload"] = plot("latency_vs_payload", "Ping-pong RTT p50 vs payload", "RTT p50 (µs)",
                                             lat_files, "1:2")
        scripts["latency_p99_vs_payload"] = plot("latency_p99_vs_payload", "Ping-pong RTT p99 vs payload",
                                                 "RTT p99 (µs)", lat_files, "1:3")
    if thr_files:
        scripts["throughput_vs_payload"] = plot("throughput_vs_payload", "One-way stream throughput vs payload",
                                                "GB/s", thr_files, "1:2")
        scripts["msgrate_vs_payload"] = plot("msgrate_vs_payload", "One-way stream message rate vs payload",
                                             "million messages/s", thr_files, "1:3")
    if len(lay_lat) > 1:
        scripts["layers_latency_vs_payload"] = plot(
            "layers_latency_vs_payload", "Layers: ping-pong RTT p50 vs payload (raw, framed, msgpack owned, view)",
            "RTT p50 (µs)", lay_lat, "1:2")
    if len(lay_thr) > 1:
        scripts["layers_throughput_vs_payload"] = plot(
            "layers_throughput_vs_payload", "Layers: one-way stream throughput vs payload (raw, framed, msgpack owned, "
            "view)", "GB/s", lay_thr, "1:2")
    bridge = report_bridge.plot_script(run, helpers(), data, pdir, common, host)
    if bridge:
        scripts["bridge_throughput"] = bridge
    if spec_files:
        scripts["percentile_spectrum"] = (
            "set terminal pngcairo size 1100,680 font 'sans,10'\nset grid\nset key outside right top\n"
            "set logscale x 10\nset logscale y 10\n"
            "set xtics ('50%%%%' 2, '90%%%%' 10, '99%%%%' 100, '99.9%%%%' 1000, '99.99%%%%' 10000, '99.999%%%%' 100000, "
            "'max' 1000000)\n"
            "set output '%s'\nset title 'Ping-pong RTT percentile spectrum, %d B payload (%s)'\n"
            "set xlabel 'percentile'\nset ylabel 'RTT (µs)'\nset xrange [1:1000000]\nplot %s\n" % (
                os.path.join(pdir, "percentile_spectrum.png"), SPECTRUM_SIZE, host, gp_lines(run, spec_files, "1:2")))
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


PY_TARGET = 10.0  # issue 19: a Python peer's 64 B RTT p50 at least 10x below multiprocessing.Queue's


def python_results(out):
    """OUT_DIR/python.json (bench/python/pybench.py, run by run.sh), or None."""
    try:
        with open(os.path.join(out, "python.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def python_targets(py):
    """The issue's Python target, one row per wait strategy measured."""
    out = []
    for case, label in (("myelon", "python (wait=block)"), ("myelon-spin", "python (wait=spin)")):
        v = (py.get("queue_over") or {}).get(case)
        q = next((x for x in py["rtt"] if x["case"] == "mp.Queue"), {})
        m = next((x for x in py["rtt"] if x["case"] == case), {})
        out.append({"target": "Python 64 B ping-pong p50 ≥ %.0f× lower than multiprocessing.Queue" % PY_TARGET,
                    "subject": label, "value": v, "limit": PY_TARGET, "higher_is_better": True,
                    "verdict": verdict(v, PY_TARGET, True).strip("*").lower(),
                    "detail": "paired rounds (%d, median of per-round ratios): Queue %s vs %s %s; load %.1f → %.1f" % (
                        py.get("rounds", 0), fmt_ns(q.get("p50_us", 0) * 1e3), case, fmt_ns(m.get("p50_us", 0) * 1e3),
                        py["loadavg_before"][0], py["loadavg_after"][0])})
    return out


def section_python(run, py):
    """The Python subject (issue 19) next to its baselines and ZeroMQ's C figures."""
    if not py:
        return ""
    parts = ["## Python subject (issue 19)", "",
             "`bench/python/pybench.py`, Python %s, in paired rounds (%d; the order of the cases alternates "
             "round by round; every figure is the median over the rounds). Ping-pong: 64 B between this Python "
             "process and a Python peer; `myelon` publishes and receives with `recv_bytes()` (one C call "
             "per message) under the default wait strategy (block), `myelon-spin` with `wait='spin'`; "
             "`shm-*` are `multiprocessing.shared_memory` with a polled sequence number (spin) or a "
             "`multiprocessing.Event` as the handshake. Stream: 1 KiB messages into a Python consumer, every "
             "message copied out as `bytes`. Load average %.1f before, %.1f after." % (
                 py.get("python", "?"), py.get("rounds", 0), py["loadavg_before"][0], py["loadavg_after"][0]), ""]
    rows = []
    for x in py["rtt"]:
        r = (py.get("queue_over") or {}).get(x["case"])
        rows.append(["`%s`" % x["case"], fmt_ns(x["p50_us"] * 1e3), fmt_ns(x["p99_us"] * 1e3),
                     fmt_ns(x["mean_us"] * 1e3), fmt_x(r) if r else "—",
                     " ".join("%.1f" % v for v in x.get("p50_us_runs", []))])
    z = lat(rtt(run, "zmq", 64), "rtt", "p50") if "zmq" in run.competitors else None
    if z:
        rows.append(["`zmq` (C, this run's ping-pong)", fmt_ns(z), "", "", "", ""])
    parts += ["### 64 B ping-pong RTT", "",
              md_table(["case", "p50", "p99", "mean", "Queue p50 ÷ this (paired)", "p50 per round (µs)"], rows)]
    rows = [["`%s`" % x["case"], fmt_rate(x["msgs_per_s"]), "%.0f MiB/s" % x["MiB_per_s"],
             " ".join("%.0fk" % (v / 1e3) for v in x.get("msgs_per_s_runs", []))] for x in py["stream"]]
    zs = (stream(run, "zmq", 1024) or {}).get("msgs_per_s") if "zmq" in run.competitors else None
    if zs:
        rows.append(["`zmq` (C → C, this run's stream)", fmt_rate(zs), "%.0f MiB/s" % (zs * 1024 / 2**20), ""])
    parts += ["", "### 1 KiB stream into Python", "", md_table(["case", "msgs/s", "MiB/s", "per round"], rows)]
    return "\n".join(parts)


def main():
    args = sys.argv[1:]
    jobs_only = bool(args) and args[0] == "--profile-jobs"
    if jobs_only:
        args = args[1:]
    if len(args) != 1:
        sys.stderr.write(__doc__)
        return 2
    out = args[0]
    run = Run(os.path.join(out, "run.json"))
    tl = targets(run)
    if jobs_only:
        for j in profile_jobs(tl):
            print("%s\t%s\t%s" % (j["name"], " ".join(j.get("collect", [])) or "-", " ".join(j["args"])))
        return 0
    py = python_results(out)
    if py:
        tl += python_targets(py)
    with open(os.path.join(out, "targets.json"), "w") as f:
        json.dump(tl, f, indent=2)
    made = plots(run, out)
    pp_sizes = run.sizes("pingpong")
    st_sizes = run.sizes("stream")
    versus_rtt = section_versus(run, "Ping-pong p50: how many times lower ours is (competitor p50 / ours)", {
        "sizes": pp_sizes, "value": lambda s, z: lat(rtt(run, s, z), "rtt", "p50")}, True)
    versus_st = section_versus(run, "Stream: how many times more msgs/s ours moves (ours / competitor)", {
        "sizes": st_sizes, "value": lambda s, z: (stream(run, s, z) or {}).get("msgs_per_s")}, False)
    sections = [section_host(run), section_which_transport(run), section_targets(tl), section_floors(run), section_profiles(run, tl, out), section_ab(run),
                section_counters(run), section_views(run), section_layers(run), section_pingpong(run), versus_rtt,
                section_stream(run), versus_st, section_broadcast(run), section_gather(run), section_ab_gather(run), section_gather_rtt(run),
                section_fixed_rate(run),
                section_waits(run), report_bridge.section(run, helpers()),
                section_python(run, py)]
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
