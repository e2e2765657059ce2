#!/usr/bin/env python3
"""Smoke test of the cross-host subjects (issue 17; meson suite `bench`).

Runs every subject of the bridge's comparison once, with tiny counts, as
the paired cases the suite runs (`myelon-bench case`): `bridge-curve` vs
`zmq-curve` (ping-pong 64 B, stream 1 MiB), `bridge-tcp` vs `zmq-tcp`
(stream 1 KiB), `nng-tcp` vs `zmq-tcp` (stream 64 B), `framed-egress` vs
`framed-shm` (ping-pong 64 B), each between the two hosts of
bench/src/hosts.h (namespaces and a veth pair the harness makes and
removes). Checks each case's JSON: status ok, no message-number errors,
every measured round trip or block there, every figure positive. Then a
case whose links cannot start (the egresses get a peer key file that is no
key) must fail as a case, with the egress's complaint shown. Fails if a subject breaks; asserts
nothing about speed. Afterwards no process of the runs may be left (the
bridge processes, the hosts' holders).

usage: check_bridge.py MYELON_BENCH [MYELON_BRIDGE]
Exit 77 (skipped, with the reason) when not root, or when this build has
no bridge (no libzmq) or no nng.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

CASES = [
    # (workload, subject, pair, size, count, warmup, wait)
    ("ab_pingpong", "bridge-curve", "zmq-curve", 64, 500, 100, "block"),
    ("ab_stream", "bridge-curve", "zmq-curve", 1048576, 40, 8, "block"),
    ("ab_stream", "bridge-tcp", "zmq-tcp", 1024, 2000, 400, "block"),
    ("ab_stream", "nng-tcp", "zmq-tcp", 64, 2000, 400, "block"),
    ("ab_pingpong", "framed-egress", "framed-shm", 64, 1000, 200, "block"),
]


def check_case(case, c):
    wl, a, b, size, count, _, _ = case
    bad = []
    if c["status"] != "ok":
        return ["status %s: %s" % (c["status"], c["note"])]
    if wl == "ab_pingpong":
        r = c["results"].get("client0", {})
        if r.get("errors") != 0:
            bad.append("errors %r" % r.get("errors"))
        for key in ("rtt_a", "rtt_b"):
            h = r.get(key, {})
            if h.get("count") != count or not h.get("p50", 0) > 0:
                bad.append("%s: count %r (want %d), p50 %r" % (key, h.get("count"), count, h.get("p50")))
    else:
        r = c["results"].get("consumer0", {})
        if r.get("errors") != 0:
            bad.append("errors %r" % r.get("errors"))
        if r.get("a") != a or r.get("b") != b:
            bad.append("subjects %r / %r" % (r.get("a"), r.get("b")))
        for key in ("a_msgs_per_s", "b_msgs_per_s", "ratio_a_over_b"):
            if not r.get(key, 0) > 0:
                bad.append("%s = %r" % (key, r.get(key)))
    return bad


def main():
    bench = sys.argv[1]
    tool = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else None
    if os.geteuid() != 0:
        print("SKIP: not root: the two hosts are network namespaces joined by a veth pair, which needs root")
        return 77
    listed = subprocess.run([bench, "list"], capture_output=True, text=True, timeout=60).stdout
    names = {line.split()[0] for line in listed.splitlines() if line.strip()}
    missing = {"bridge-curve", "bridge-tcp", "framed-egress", "zmq-curve", "zmq-tcp", "nng-tcp"} - names
    if missing:
        print("SKIP: not built here: %s (the bridge needs libzmq, nng-tcp libnng)" % ", ".join(sorted(missing)))
        return 77
    tmp = tempfile.mkdtemp(prefix="bench-bridge-")
    problems = []
    try:
        for i, case in enumerate(CASES):
            wl, a, b, size, count, warmup, wait = case
            out = os.path.join(tmp, str(i))
            args = [bench, "case", "--no-pin", "--out", out, "--workload", wl, "--subject", a, "--pair", b,
                    "--size", str(size), "--count", str(count), "--warmup", str(warmup), "--wait", wait]
            res = subprocess.run(args, capture_output=True, text=True, timeout=240)
            label = "%s %s vs %s %d B" % (wl, a, b, size)
            try:
                with open(os.path.join(out, "run.json"), encoding="utf-8") as f:
                    cases = json.load(f)["cases"]
            except (OSError, ValueError) as e:
                problems.append("%s: no run.json (%s); exit %d: %s" % (label, e, res.returncode, res.stderr[-2000:]))
                continue
            bad = [] if len(cases) == 1 else ["%d cases in run.json" % len(cases)]
            bad += check_case(case, cases[0]) if cases else []
            if res.returncode != 0:
                bad.append("exit %d" % res.returncode)
            if bad:
                problems.append("%s: %s\n%s" % (label, "; ".join(bad), res.stderr[-3000:]))
            else:
                r = cases[0]["results"]
                r = r.get("client0") or r.get("consumer0")
                fig = ("p50 %.1f / %.1f us" % (r["rtt_a"]["p50"] / 1e3, r["rtt_b"]["p50"] / 1e3) if "rtt_a" in r else
                       "%.0f / %.0f msgs/s" % (r["a_msgs_per_s"], r["b_msgs_per_s"]))
                print("ok: %s (%s; figures mean nothing at these counts)" % (label, fig))
        # A case whose links cannot start (every egress is given a peer key
        # file that is no key) fails cleanly: reported failed, the egress's
        # complaint shown, and the hosts and bridge processes gone all the
        # same (checked below).
        out = os.path.join(tmp, "refused")
        env = dict(os.environ, BENCH_BRIDGE_EGRESS_ARGS="--peer-key /dev/null")
        res = subprocess.run([bench, "case", "--no-pin", "--out", out, "--workload", "pingpong", "--subject",
                              "bridge-curve", "--size", "64", "--count", "100", "--warmup", "10", "--wait", "block"],
                             capture_output=True, text=True, timeout=240, env=env)
        try:
            with open(os.path.join(out, "run.json"), encoding="utf-8") as f:
                status = [c["status"] for c in json.load(f)["cases"]]
        except (OSError, ValueError) as e:
            status = ["no run.json: %s" % e]
        said = "key file /dev/null" in res.stderr
        if res.returncode == 0 or status != ["failed"] or not said:
            problems.append("a link that cannot start: exit %d, status %r, the egress's complaint %s in stderr:\n%s" % (
                res.returncode, status, "shown" if said else "not shown", res.stderr[-3000:]))
        else:
            print("ok: a link that cannot start fails the case (exit %d, status failed, the egress's log shown)" %
                  res.returncode)
        # Nothing of the runs may survive them: no host holder (a fork of
        # the orchestrator, whose command line names our --out), no bridge
        # process of this build's tool.
        left = ""
        for pattern in [tmp] + ([tool] if tool else []):
            found = subprocess.run(["pgrep", "-af", pattern], capture_output=True, text=True).stdout
            left += "".join(l + "\n" for l in found.splitlines()
                            if "pgrep" not in l and "check_bridge" not in l and l.split()[0] != str(os.getpid()))
        if left:
            problems.append("processes left behind:\n" + left)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for p in problems:
        print("FAIL: " + p)
    print("bridge subjects: %s" % ("OK" if not problems else "%d problems" % len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
