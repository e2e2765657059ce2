#!/usr/bin/env python3
"""Check the many-writer round-trip workload (ab_gather_rtt, issue 18) end
to end, without timing assertions:

    check_gather_rtt.py REPORT_PY MYELON_BENCH [PAIR ...]

For dmp-mp against dmp-mp (3 writers, 1 KiB; always) and against each
PAIR given (2 writers, 64 B; meson passes the competitors this build has):
one `myelon-bench case`, then

- the case is "ok", every writer (client0..N-1) and the responder (server0)
  left a result with errors == 0 (the responder checks each writer's request
  order, each writer that every reply is its own last request);
- each writer measured exactly its share of every measured block on both
  subjects (rtt_a and rtt_b counts), the responder's blocks add up, and
  every figure the report uses is there and positive;
- nothing of the case was left in /dev/shm (the orchestrator says
  "leftover" when it had to remove something after the case);
- report.py on the run writes the section "Many writers, round trips" and,
  for a competitor, three targets.json lines with the verdict "reported"
  and no limit (the issue names no target).

A PAIR whose subject is skipped here (iceoryx without RouDi) is reported as
skipped, not failed. Exit 0 when all hold, 1 with one line per problem.
"""
import glob
import json
import os
import shutil
import subprocess
import sys
import tempfile

COUNT, WARMUP = 2000, 600  # blocking waits, as the suites on a host with fewer cores than processes


def share(n, writers, k):
    return n // writers + (1 if k < n % writers else 0)


def run_case(bench, out, pair, writers, size):
    args = [bench, "case", "--no-pin", "--out", out, "--workload", "ab_gather_rtt", "--subject", "dmp-mp",
            "--pair", pair, "--writers", str(writers), "--wait", "block", "--size", str(size),
            "--count", str(COUNT), "--warmup", str(WARMUP)]
    res = subprocess.run(args, capture_output=True, text=True, timeout=240, check=False)
    return res.returncode, res.stderr


def check_case(out, pair, writers, stderr, problems):
    what = "dmp-mp vs %s, %d writers" % (pair, writers)
    with open(os.path.join(out, "run.json"), encoding="utf-8") as f:
        doc = json.load(f)
    if any(s.get("subject") == pair for s in doc["meta"].get("skipped", [])):
        print("%s: skipped (%s)" % (what, [s["reason"] for s in doc["meta"]["skipped"]]))
        return False
    if "leftover" in stderr:
        problems.append("%s: the orchestrator removed leftovers: %s" % (what, stderr.strip()[-300:]))
    cases = glob.glob(os.path.join(out, "cases", "*.json"))
    if len(cases) != 1:
        problems.append("%s: %d case files" % (what, len(cases)))
        return False
    with open(cases[0], encoding="utf-8") as f:
        c = json.load(f)
    if c["status"] != "ok":
        problems.append("%s: status %s: %s; stderr: %s" % (what, c["status"], c["note"], stderr.strip()[-400:]))
        return False
    res = c["results"]
    srv = res.get("server0")
    if not srv:
        problems.append("%s: no responder result" % what)
        return False
    blocks, block = srv.get("blocks", 0), srv.get("block_rts", 0)
    if srv.get("errors") != 0 or srv.get("writers") != writers or blocks < 4 or blocks * block > COUNT or \
            len(srv.get("pairs", [])) != blocks:
        problems.append("%s: responder result %s" % (what, {k: v for k, v in srv.items() if k != "pairs"}))
    for key in ("a_rts_per_s", "b_rts_per_s", "ratio_a_over_b", "a_p90_rts_per_s", "b_p90_rts_per_s"):
        if not isinstance(srv.get(key), (int, float)) or srv[key] <= 0:
            problems.append("%s: responder %s = %r" % (what, key, srv.get(key)))
    for w in range(writers):
        r = res.get("client%d" % w)
        if not r:
            problems.append("%s: no result of writer %d" % (what, w))
            continue
        want = blocks * share(block, writers, w)
        if r.get("errors") != 0 or r.get("writer") != w:
            problems.append("%s: writer %d: errors %r, writer %r" % (what, w, r.get("errors"), r.get("writer")))
        for key in ("rtt_a", "rtt_b"):
            h = r.get(key, {})
            if h.get("count") != want or not 0 < h.get("p50", 0) <= h.get("p99", 0):
                problems.append("%s: writer %d %s: count %r (want %d), p50 %r, p99 %r" % (
                    what, w, key, h.get("count"), want, h.get("p50"), h.get("p99")))
    return True


def check_report(report_py, out, pair, problems):
    res = subprocess.run([sys.executable, report_py, out], capture_output=True, text=True, timeout=120, check=False)
    if res.returncode != 0:
        problems.append("report.py on dmp-mp vs %s failed: %s" % (pair, res.stderr.strip()[-400:]))
        return
    with open(os.path.join(out, "summary.md"), encoding="utf-8") as f:
        summary = f.read()
    if "## Many writers, round trips, paired (ab_gather_rtt)" not in summary:
        problems.append("report: no round-trip section for dmp-mp vs %s" % pair)
    with open(os.path.join(out, "targets.json"), encoding="utf-8") as f:
        tl = json.load(f)
    mine = [t for t in tl if t["target"].startswith("many writers")]
    want = 3 if pair != "dmp-mp" else 0
    if len(mine) != want or any(t["verdict"] != "reported" or t["limit"] is not None or not t["value"]
                                for t in mine):
        problems.append("report: dmp-mp vs %s: want %d 'reported' lines with values, got %s" % (pair, want, mine))


def main():
    report_py, bench = sys.argv[1:3]
    pairs = [(p, 2, 64) for p in sys.argv[3:]]
    problems = []
    tmp = tempfile.mkdtemp(prefix="check-gather-rtt-")
    try:
        for pair, writers, size in [("dmp-mp", 3, 1024)] + pairs:
            out = os.path.join(tmp, "%s-%d" % (pair, writers))
            rc, stderr = run_case(bench, out, pair, writers, size)
            ran = check_case(out, pair, writers, stderr, problems)
            if ran and rc != 0:
                problems.append("dmp-mp vs %s: exit %d" % (pair, rc))
            if ran:
                check_report(report_py, out, pair, problems)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for p in problems:
        print(p)
    print("gather_rtt checks: %s" % ("OK" if not problems else "%d problems" % len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
