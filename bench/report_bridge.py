"""The bridge's figures (issue 17) for report.py: its targets, its section of
summary.md and its plot, from the paired cases of the cross-host subjects
(bench/src/subj_bridge.c, subj_net.c; the hosts of bench/src/hosts.h).

Targets (judged on the CURVE pairs: CurveZMQ is the bridge's default
between hosts, so plain ZeroMQ runs with CURVE too; the plain-TCP pairs are
shown beside them):
  bridged 64 B RTT p50 <= 1.2x plain ZeroMQ      bridge-curve vs zmq-curve
  bridged stream >= 0.8x plain ZeroMQ msgs/s     64 B; GB/s at 1 KiB, 64 KiB, 1 MiB
  local readers keep their latency with an       framed-egress vs framed-shm,
  egress attached: 64 B RTT p50 <= 1.1x          one row with spinning waits (as
                                                 every latency target of the
                                                 bench), one with `block`

`h` is report.py's helpers: a dict with ratio, lat, fmt_ns, fmt_rate,
fmt_gbs, fmt_x, fmt_size, md_table, write_dat, subject_style.
"""
import os

CURVE = ("bridge-curve", "zmq-curve")
TCP = ("bridge-tcp", "zmq-tcp")
NNG = ("nng-tcp", "zmq-tcp")
LOCAL = ("framed-egress", "framed-shm")
SUBJECTS = {CURVE[0], CURVE[1], TCP[0], TCP[1], NNG[0], LOCAL[0]}
RTT_T = "bridged 64 B RTT p50 ≤ 1.2× plain ZeroMQ (both CURVE)"
ST_MSGS_T = "bridged 64 B stream ≥ 0.8× plain ZeroMQ msgs/s (both CURVE)"
ST_GBS_T = "bridged %s stream ≥ 0.8× plain ZeroMQ GB/s (both CURVE)"
LOCAL_T = "local readers, a bridge egress on the ring: 64 B RTT p50 ≤ 1.1× without (waits %s)"
GBS_SIZES = (1024, 65536, 1048576)


def ab_block(run, workload, a, b, size, wait="block"):
    """Results and run count of a paired case of the bridge series."""
    c = run.find(workload, a, size, wait, pair=b)
    if not c:
        return None, 0
    return c["results"].get("client0" if workload == "ab_pingpong" else "consumer0", {}), c["reps"]


def _rtt_pair(run, h, pair):
    p, n = ab_block(run, "ab_pingpong", pair[0], pair[1], 64)
    if not p:
        return None, ""
    a, b = h["lat"](p, "rtt_a", "p50"), h["lat"](p, "rtt_b", "p50")
    return h["ratio"](a, b), "`%s` %s vs `%s` %s (p99 %s vs %s; %d runs)" % (
        pair[0], h["fmt_ns"](a), pair[1], h["fmt_ns"](b), h["fmt_ns"](h["lat"](p, "rtt_a", "p99")),
        h["fmt_ns"](h["lat"](p, "rtt_b", "p99")), n)


def _stream_pair(run, h, pair, size):
    p, n = ab_block(run, "ab_stream", pair[0], pair[1], size)
    if not p:
        return None, ""
    a, b = p.get("a_msgs_per_s"), p.get("b_msgs_per_s")
    if size >= 1024:
        figs = "%s vs %s" % (h["fmt_gbs"](a * size / 1e9 if a else None), h["fmt_gbs"](b * size / 1e9 if b else None))
    else:
        figs = "%s vs %s" % (h["fmt_rate"](a), h["fmt_rate"](b))
    return p.get("ratio_a_over_b"), "`%s` vs `%s`: %s (%d runs)" % (pair[0], pair[1], figs, n)


def targets(run, add, h):
    """The bridge's targets (the `add` of report.targets())."""
    have = any(c["subject"] in SUBJECTS for c in run.cases)
    if not have:
        for name in [RTT_T, ST_MSGS_T] + [ST_GBS_T % h["fmt_size"](z) for z in GBS_SIZES] + [
                LOCAL_T % w for w in ("spin", "block")]:
            add(name, "framed-egress" if name.startswith("local") else "bridge-curve", None, None, None,
                "no cross-host case in this run (they need root: see the skipped subjects)")
        return
    v, d = _rtt_pair(run, h, CURVE)
    tv, td = _rtt_pair(run, h, TCP)
    nv, nd = _rtt_pair(run, h, NNG)
    add(RTT_T, "bridge-curve", v, 1.2, False,
        "paired A/B, waits block: %s; plain TCP: %s (%s); nng: %s (%s)" % (
            d or "not run", td or "not run", h["fmt_x"](tv), nd or "not run", h["fmt_x"](nv)))
    for size in (64,) + GBS_SIZES:
        name = ST_MSGS_T if size == 64 else ST_GBS_T % h["fmt_size"](size)
        v, d = _stream_pair(run, h, CURVE, size)
        tv, td = _stream_pair(run, h, TCP, size)
        add(name, "bridge-curve", v, 0.8, True,
            "paired A/B, median of per-block ratios: %s; plain TCP: %s" % (
                d or "not run", "%s (%s)" % (td, h["fmt_x"](tv)) if td else "not run"))
    for wait in ("spin", "block"):
        p, n = ab_block(run, "ab_pingpong", LOCAL[0], LOCAL[1], 64, wait)
        if not p:
            add(LOCAL_T % wait, "framed-egress", None, 1.1, False, "no paired framed-egress case (%s) in this run" % wait)
            continue
        a, b = h["lat"](p, "rtt_a", "p50"), h["lat"](p, "rtt_b", "p50")
        add(LOCAL_T % wait, "framed-egress", h["ratio"](a, b), 1.1, False,
            "paired A/B, both processes on host A, an egress on the ping ring: %s vs %s without (p99 %s vs %s; "
            "%d runs)" % (h["fmt_ns"](a), h["fmt_ns"](b), h["fmt_ns"](h["lat"](p, "rtt_a", "p99")),
                          h["fmt_ns"](h["lat"](p, "rtt_b", "p99")), n))


def section(run, h):
    """summary.md's "Across hosts" section: every paired case of the series."""
    rows = []
    for c in run.cases:
        if c["workload"] not in ("ab_pingpong", "ab_stream") or c["subject"] not in SUBJECTS or not c["reps"]:
            continue
        pp = c["workload"] == "ab_pingpong"
        r = c["results"].get("client0" if pp else "consumer0", {})
        if pp:
            a, b = h["lat"](r, "rtt_a", "p50"), h["lat"](r, "rtt_b", "p50")
            rows.append(["`%s` vs `%s`" % (c["subject"], c["pair"]), "RTT p50 (%s)" % c["wait"], h["fmt_size"](c["size"]),
                         h["fmt_ns"](a), h["fmt_ns"](b), h["fmt_x"](h["ratio"](a, b)), c["reps"]])
        else:
            a, b, z = r.get("a_msgs_per_s"), r.get("b_msgs_per_s"), c["size"]

            def cell(v, z=z):
                return "%s (%s)" % (h["fmt_rate"](v), h["fmt_gbs"](v * z / 1e9)) if v else "–"
            rows.append(["`%s` vs `%s`" % (c["subject"], c["pair"]), "stream (%s)" % c["wait"], h["fmt_size"](z),
                         cell(a), cell(b), h["fmt_x"](r.get("ratio_a_over_b")), c["reps"]])
    if not rows:
        return ""
    return "\n".join([
        "## Across hosts: the bridge (issue 17)", "",
        "Two \"hosts\" on this machine: network, IPC and mount namespaces with a private `/dev/shm` each, joined by "
        "a veth pair (bench/src/hosts.h). `bridge-*`: a framed ring on the sending host, a `myelon-bridge` egress "
        "on it, an ingress on the receiving host that republishes into a ring of the same name (ping-pong: a "
        "second link back); `zmq-*`: one DEALER → ROUTER connection per direction, the bridge's socket types; "
        "`-curve` with CurveZMQ (the bridge's default between hosts), `-tcp` plain; `nng-tcp`: pair0. "
        "`framed-egress`: two processes on host A over a framed ring with an egress attached (carried to B), "
        "paired with the same ring without. Ends of ours wait with `block` unless the row says `spin`. "
        "A vs B alternate in blocks inside the same processes (paired A/B); medians over the runs.", "",
        h["md_table"](["A vs B", "what", "size", "A", "B", "A÷B", "runs"], rows)])


def plot_script(run, h, data, pdir, common_head, host):
    """GB/s vs payload of the bridge's streams and their references (from
    the paired cases); None when the run has fewer than two sizes."""
    series = {}
    for pair in (CURVE, TCP, NNG):
        for size in (64,) + GBS_SIZES:
            p, _ = ab_block(run, "ab_stream", pair[0], pair[1], size)
            if not p:
                continue
            for side, subject in (("a", pair[0]), ("b", pair[1])):
                v = p.get("%s_msgs_per_s" % side)
                if v:
                    series.setdefault(subject, {}).setdefault(size, v * size / 1e9)
    files = []
    for subject, pts in series.items():
        if len(pts) < 2:
            continue
        path = os.path.join(data, "bridge_%s.dat" % subject)
        h["write_dat"](path, ["size_bytes", "gb_per_s"], [[z, pts[z]] for z in sorted(pts)])
        files.append("'%s' using 1:2 with linespoints lw 2 %s title '%s'" % (path, h["subject_style"](run, subject),
                                                                           subject))
    if len(files) < 2:
        return None
    return common_head + (
        "set output '%s'\nset title 'Across hosts (veth): one-way stream throughput, paired with plain ZeroMQ (%s)'\n"
        "set xlabel 'payload'\nset ylabel 'GB/s'\nplot %s\n" % (
            os.path.join(pdir, "bridge_throughput.png"), host, ", \\\n     ".join(files)))
