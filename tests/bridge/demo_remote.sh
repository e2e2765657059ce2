#!/usr/bin/env bash
# myelon-demo --remote (suite 'bridge'): the main-job demo with some of its
# workers on other "hosts" (network, IPC and mount namespaces with their own
# /dev/shm, joined by veth pairs, made by the demo itself), each behind
# myelon-bridge links: the request ring carried to the worker's host, its
# response ring carried back. Checks, as root:
#   1. 4 workers, 2 remote, 300 steps: exit 0 with the same verified summary
#      ("every answer verified") as a local run;
#   1b. the same with --ring-bytes 64K (3 workers, 2 remote): every ring a
#      framed byte ring, carried by the bridges record by record;
#   2. the last (remote) worker killed at step 100, on slot and on byte rings:
#      the scheduler on A names it dead (its response ring's producer, the
#      ingress on A, closes the ring when the worker's host sends END),
#      exit 1, well within the bound;
#   3. not root (setpriv to nobody): a clear refusal naming root, exit 1.
# The namespaces, veth pairs and private /dev/shm mounts go away with the
# demo's processes (every one of them dies with its parent), so a failed
# run leaves nothing either (the rings never touch this host's /dev/shm).
# Exit 77 (skipped, with the reason) when not root or namespaces are refused.
#
# usage: demo_remote.sh MYELON_DEMO
set -euo pipefail
demo=$1
hosts_bound_base=60
. "$(dirname "$0")/hosts_lib.sh"

hosts_require_namespaces "--remote creates network namespaces and veth pairs"
if [ ! -x "$(dirname "$demo")/myelon-bridge" ]; then
  echo "SKIP: no myelon-bridge next to myelon-demo (built without libzmq)"
  exit 77
fi

out=$(mktemp "${TMPDIR:-/tmp}/demo-remote-XXXXXX")
trap 'rm -f "$out"' EXIT

fail() {
  echo "FAIL: $1"
  cat "$out"
  exit 1
}

# 1. A full run, two of four workers remote.
rc=0
timeout -k 5 "$bound" "$demo" --workers 4 --remote 2 --steps 300 >"$out" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "--remote 2 exited $rc"
grep -q "workers w2 .. w3 on hosts of their own" "$out" || fail "no remote-workers line"
grep -q "rendezvous: 4 workers attached" "$out" || fail "no rendezvous line"
grep -q "^every answer verified (step, worker, checksum): OK$" "$out" || fail "no verified summary"
grep -E "steps/s|step latency" "$out"

# 1b. The same on byte rings (--ring-bytes): every ring of the session, on A
# and on the workers' hosts, a framed byte ring the bridges carry record by
# record (the ingresses make theirs with --format bytes --ring-bytes).
rc=0
timeout -k 5 "$bound" "$demo" --workers 3 --remote 2 --steps 300 --ring-bytes 64K >"$out" 2>&1 || rc=$?
[ "$rc" = 0 ] || fail "--remote 2 --ring-bytes 64K exited $rc"
grep -q "workers w1 .. w2 on hosts of their own" "$out" || fail "byte rings: no remote-workers line"
grep -q "byte ring" "$out" || fail "byte rings: the demo does not say its rings are byte rings"
grep -q "^every answer verified (step, worker, checksum): OK$" "$out" || fail "byte rings: no verified summary"

# 2. A remote worker dies: named dead by the scheduler on A.
# Slot rings, then byte rings.
for shape in "" "--ring-bytes 64K"; do
  rc=0
  start=$(date +%s)
  # shellcheck disable=SC2086 # $shape: no option, or an option and its value
  timeout -k 5 "$bound" "$demo" --workers 3 --remote 1 --steps 300 --kill-worker-at-step 100 $shape >"$out" 2>&1 ||
    rc=$?
  took=$(($(date +%s) - start))
  [ "$rc" = 1 ] || fail "a killed remote worker ${shape:-(slot rings)}: exit $rc (want 1)"
  grep -q "dead: w2" "$out" || fail "the killed remote worker w2 was not named dead ${shape:-(slot rings)}"
  echo "a killed remote worker was named dead ${shape:-(slot rings)}; the run ended after ${took} s"
done

# 3. Not root: refused, saying why.
if command -v setpriv >/dev/null; then
  rc=0
  setpriv --reuid=65534 --regid=65534 --clear-groups "$demo" --workers 2 --remote 1 --steps 10 >"$out" 2>&1 || rc=$?
  [ "$rc" = 1 ] || fail "--remote as nobody: exit $rc (want 1)"
  grep -q "needs root" "$out" || fail "--remote as nobody does not say it needs root"
fi

echo "PASS: myelon-demo with remote workers: verified on slot and byte rings; a dead remote worker named; non-root refused"
