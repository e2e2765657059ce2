#!/usr/bin/env python3
"""Check bench/report.py on a real run (bench/results/run.json) and on the
same run with its ladder repeated (as `myelon-bench suite --runs 2` writes it):

    check_report.py REPORT_PY RUN_JSON MYELON_BENCH

- summary.md opens (after the host) with the "Which transport for which
  message size" table, one row per size and workload measured, naming the
  fastest of ours and the fastest competitor;
- every subject is drawn with one colour and marker, the same in every plot,
  and no two subjects share the pair;
- with repetitions, the ladder's data files carry min <= median <= max and the
  plots draw them as error bars;
- paired gather cases (issue 18's ab_gather) get their section, and the
  2 producers -> 1 target is judged on them (median of the runs);
- `myelon-bench plan quick --runs 2` repeats the ladder (ids ending -rep1),
  plans the paired gather 3 times at 8 B and 64 B, and
  `myelon-bench suite quick --runs 0` is refused before anything runs.
Exit 0 when all hold, 1 with one line per problem.
"""
import copy
import glob
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile


def report(report_py, doc, out):
    os.makedirs(out)
    with open(os.path.join(out, "run.json"), "w") as f:
        json.dump(doc, f)
    res = subprocess.run([sys.executable, report_py, out], capture_output=True, text=True, timeout=120, check=False)
    if res.returncode != 0:
        raise RuntimeError("report.py failed: %s" % res.stderr)
    with open(os.path.join(out, "summary.md"), encoding="utf-8") as f:
        return f.read()


def styles(out):
    """subject -> set of styles over every plot script."""
    seen = {}
    for gp in glob.glob(os.path.join(out, "plots", "*.gp")):
        with open(gp, encoding="utf-8") as f:
            for m in re.finditer(r"(lc rgb '[^']+' pt \d+) title '([^']+)'", f.read()):
                seen.setdefault(m.group(2), set()).add(m.group(1))
    return seen


def main():
    report_py, run_json, bench = sys.argv[1:4]
    problems = []
    with open(run_json, encoding="utf-8") as f:
        doc = json.load(f)
    tmp = tempfile.mkdtemp(prefix="check-report-")
    try:
        summary = report(report_py, doc, os.path.join(tmp, "one"))
        heads = re.findall(r"^## (.*)$", summary, flags=re.M)
        if not heads or heads[0] != "Which transport for which message size":
            problems.append("the first section is %r, not the which-transport table" % (heads[:1],))
        table = summary.split("## Which transport for which message size", 1)[-1].split("\n## ", 1)[0]
        rows = [r for r in table.splitlines() if r.startswith("| ") and not r.startswith("| size")]
        ladder = {(c["workload"], c["size"]) for c in doc["cases"]
                  if c["workload"] in ("pingpong", "stream") and not c.get("pair") and not c.get("series")}
        if len(rows) != len(ladder):
            problems.append("which-transport table: %d rows for %d (workload, size) pairs" % (len(rows), len(ladder)))
        for r in rows:
            if "`" not in r.split("|")[5]:
                problems.append("which-transport row names no competitor: %s" % r)
        seen = styles(os.path.join(tmp, "one"))
        if not seen:
            problems.append("no plot script drew a subject")
        for subject, st in seen.items():
            if len(st) != 1:
                problems.append("%s is drawn in %d styles: %s" % (subject, len(st), sorted(st)))
        pairs = [next(iter(st)) for st in seen.values()]
        if len(set(pairs)) != len(pairs):
            problems.append("two subjects share a colour and marker: %s" % sorted(pairs))

        # The same run with its ladder measured twice, the second time slower.
        twice = copy.deepcopy(doc)
        for c in doc["cases"]:
            if c["workload"] in ("pingpong", "stream") and not c.get("pair") and not c.get("series"):
                e = copy.deepcopy(c)
                e["rep"], e["id"] = 1, e["id"] + "-rep1"
                r = e["results"].get("client0") or e["results"].get("consumer0") or {}
                for k in ("p50", "p99"):
                    if k in r.get("rtt", {}):
                        r["rtt"][k] *= 1.5
                for k in ("gb_per_s", "msgs_per_s"):
                    if k in r:
                        r[k] *= 0.5
                twice["cases"].append(e)
        report(report_py, twice, os.path.join(tmp, "two"))
        for dat in glob.glob(os.path.join(tmp, "two", "data", "rtt_*.dat")) + \
                glob.glob(os.path.join(tmp, "two", "data", "stream_*.dat")):
            for line in open(dat, encoding="utf-8"):
                if line.startswith("#"):
                    continue
                v = [float(x) for x in line.split()]
                if len(v) < 5 or not (v[3] <= v[1] <= v[4] and v[3] < v[4]):
                    problems.append("%s: no spread around the median: %s" % (os.path.basename(dat), line.strip()))
        gp = open(os.path.join(tmp, "two", "plots", "latency_vs_payload.gp"), encoding="utf-8").read()
        if "yerrorlines" not in gp or "1:2:4:5" not in gp:
            problems.append("latency_vs_payload.gp draws no spread with repetitions")

        # Issue 18: paired gather cases (ab_gather), three runs each: the
        # 2 -> 1 target is judged on their median per-block ratio, and the
        # summary has their section.
        paired = copy.deepcopy(doc)
        # Without the run's own ab_gather cases (a published run has them):
        # the median must be of these three runs alone.
        paired["cases"] = [c for c in paired["cases"] if c["workload"] != "ab_gather"]
        for size, ratios in ((8, (0.5, 0.9, 0.6)), (64, (1.2, 0.8, 1.1))):
            for rep, r in enumerate(ratios):
                paired["cases"].append({
                    "id": "9%02d-ab_gather-dmp-mp-%d-yield-w2-vs-dmp-shm" % (rep, size), "workload": "ab_gather",
                    "subject": "dmp-mp", "pair": "dmp-shm", "family": "ours", "layer": "raw", "size": size,
                    "wait": "yield", "receivers": 1, "writers": 2, "rate": 0, "rep": rep, "status": "ok",
                    "results": {"consumer0": {"errors": 0, "a": "dmp-mp", "b": "dmp-shm", "writers_a": 2,
                                              "writers_b": 1, "blocks": 100, "a_msgs_per_s": r * 1e7,
                                              "b_msgs_per_s": 1e7, "ratio_a_over_b": r, "a_p90_msgs_per_s": 2e7,
                                              "b_p90_msgs_per_s": 2e7, "ratio_p90": 1.0}}})
        summary = report(report_py, paired, os.path.join(tmp, "paired"))
        if "## Many writers, paired (ab_gather)" not in summary:
            problems.append("no 'Many writers, paired' section with ab_gather cases in the run")
        with open(os.path.join(tmp, "paired", "targets.json"), encoding="utf-8") as f:
            tj = json.load(f)
        tl = tj if isinstance(tj, list) else tj.get("targets", [])
        for size, want, verdict in ((8, 0.6, "missed"), (64, 1.1, "met")):
            t = [x for x in tl if x["target"].startswith("2 producers") and "%d B" % size in x["target"]]
            if not t or t[0]["value"] is None or abs(t[0]["value"] - want) > 1e-9 or t[0]["verdict"] != verdict \
                    or "paired A/B (3 runs" not in t[0]["detail"]:
                problems.append("2 -> 1 target at %d B not judged on the paired cases (want %.1f, %s): %s" % (
                    size, want, verdict, t[:1]))

        plan = subprocess.run([bench, "plan", "quick", "--runs", "2"], capture_output=True, text=True, timeout=60)
        if len([i for i in plan.stdout.split() if "-ab_gather-dmp-mp-" in i and "-vs-dmp-shm" in i]) != 6:
            problems.append("plan quick: not 3 paired gather cases at each of 8 B and 64 B")
        ids = plan.stdout.split()
        reps = [i for i in ids if i.endswith("-rep1") and i.split("-")[1] in ("pingpong", "stream")]
        firsts = [i for i in ids if i.split("-")[1] in ("pingpong", "stream") and i.endswith("-spin")]
        if plan.returncode != 0 or not reps or len(reps) != len(firsts):
            problems.append("plan quick --runs 2: %d repeated ladder cases for %d (exit %d)" % (
                len(reps), len(firsts), plan.returncode))
        bad = subprocess.run([bench, "suite", "quick", "--runs", "0", "--out", os.path.join(tmp, "bad")],
                             capture_output=True, text=True, timeout=60)
        if bad.returncode == 0 or "--runs" not in bad.stderr:
            problems.append("suite quick --runs 0 was not refused (exit %d): %s" % (bad.returncode, bad.stderr[:200]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for p in problems:
        print(p)
    print("report checks: %s" % ("OK" if not problems else "%d problems" % len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
