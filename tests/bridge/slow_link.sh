#!/usr/bin/env bash
# A link slower than the dead-link timeout per message (suite 'bridge'):
# 1 MiB messages over loopback limited to 16 Mbit/s (tc tbf, ~0.5 s a
# message) with --timeout 200ms, in a private network, IPC and mount
# namespace (its own lo and /dev/shm). The ingress must not declare the
# link dead while a message's bytes are still arriving (it once timed
# silence from the last whole message, closed B's ring under its reader
# and the link never carried a message: libzmq's own heartbeat timers too
# count from whole messages). Every message arrives once, in order,
# byte-exact, with B's ring never closed while the link carried bytes; then
# the link is cut (lo down) mid-stream and B's reader still sees the
# producer gone within the timeout (bound generous, time printed), and
# after the link is back the stream completes without loss or duplicate.
#
# usage: slow_link.sh TOOL FRM_ROLE BRG_READER
# Exit 77 (skipped, with the reason) when not root, namespaces are refused
# or tc cannot shape the link.
set -euo pipefail
tool=$1 role=$2 reader=$3
. "$(dirname "$0")/hosts_lib.sh"
count=12 cut_at=5 size=1048576

hosts_require_namespaces "a private network namespace and tc need root"
if ! unshare --net bash -c 'ip link set lo up && tc qdisc add dev lo root tbf rate 16mbit burst 16kb latency 100ms' \
  2>/dev/null; then
  echo "SKIP: tc cannot add a tbf qdisc here (no tc, or no sch_tbf in this kernel)"
  exit 77
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/bridgeslow-XXXXXX")
hpid=
cleanup() {
  [ -z "$hpid" ] || kill -9 "$hpid" 2>/dev/null || true
  wait 2>/dev/null || true
  rm -rf "$dir"
}
trap cleanup EXIT

unshare --net --ipc --mount --propagation private --kill-child bash -c '
  set -e
  dir=$0 bound=$1 tool=$2 role=$3 reader=$4 count=$5 cut_at=$6 size=$7
  mount -t tmpfs -o size=256m,mode=1777 tmpfs /dev/shm
  ip link set lo up
  ip link set lo mtu 1500
  tc qdisc add dev lo root tbf rate 16mbit burst 16kb latency 100ms
  geo="--capacity 2048 --frame-capacity 1024"
  link="--insecure --timeout 200ms --heartbeat 50ms"
  timeout -k 5 "$bound" "$tool" ingress --ring feedb --bind tcp://127.0.0.1:5556 $geo $link --wait-readers 1 \
    --json 0.1 >"$dir/ing.out" 2>"$dir/ing.err" &
  ing=$!
  timeout -k 5 "$bound" "$reader" --name feedb --fcap 1024 --capacity 2048 --seed 5 --profile fixed:$size \
    --count "$count" --report "$dir/b.report" --events "$dir/b.events" --timeout-ms $((bound * 1000)) \
    2>"$dir/b.err" &
  rd=$!
  timeout -k 5 "$bound" "$role" producer --backend=shm --name=feeda --format=compact --fcap=1024 --capacity=2048 \
    --seed=5 --profile=fixed:$size --count="$count" --wait-consumers=1 --timeout-ms=$((bound * 1000)) \
    2>"$dir/prod.err" &
  prod=$!
  timeout -k 5 "$bound" "$tool" egress --ring feeda --connect tcp://127.0.0.1:5556 $link --once --json 0.5 \
    >"$dir/eg.out" 2>"$dir/eg.err" &
  eg=$!
  # Cut the link (lo down: nothing crosses) once $cut_at messages were applied on B.
  n=0
  until grep -q "\"messages\":$cut_at," "$dir/ing.out" 2>/dev/null; do
    n=$((n + 1)); [ $n -lt $((bound * 100)) ] || exit 4
    kill -0 $rd 2>/dev/null || exit 5
    sleep 0.01
  done
  date +%s%3N >"$dir/cut.ms"
  ip link set lo down
  sleep 1.5
  ip link set lo up
  rc=0
  wait $rd || rc=11
  wait $prod || rc=12
  wait $eg || rc=13
  kill -TERM $ing; wait $ing || rc=${rc/#0/14}
  exit $rc
' "$dir" "$bound" "$tool" "$role" "$reader" "$count" "$cut_at" "$size" &
hpid=$!
hrc=0; wait "$hpid" || hrc=$?
hpid=
echo "host exit $hrc"
echo "B's reader: $(cat "$dir/b.report" 2>/dev/null)"
echo "egress: $(tail -n 1 "$dir/eg.out" 2>/dev/null)"
echo "ingress: $(tail -n 1 "$dir/ing.out" 2>/dev/null)"
fail() {
  for f in prod.err eg.err ing.err b.err b.events; do echo "== $f"; cat "$dir/$f" 2>/dev/null || true; done
  echo "FAIL: $*"
  exit 1
}
[ "$hrc" = 0 ] || fail "a process failed (exit $hrc)"
grep -Eq "^received=$count dup=0 lost=0 bad=0 attaches=2$" "$dir/b.report" ||
  fail "B's reader report (want every message once and exactly one new ring, after the cut)"
cut=$(cat "$dir/cut.ms")
first=$(awk '$1 == "ownerdead" { print $2; exit }' "$dir/b.events")
[ -n "$first" ] || fail "B's reader never saw the producer gone during the cut"
[ "$first" -ge "$cut" ] || fail "B's ring was closed $((cut - first)) ms before the cut, while the link carried bytes"
detect=$((first - cut))
slack=$((250 * ${mult%.*}))
echo "detection time of the cut link on B: $detect ms (link timeout 200 ms)"
[ "$detect" -le $((200 + 3 * slack)) ] || fail "detection took $detect ms"
echo "PASS: $count messages of 1 MiB over a 16 Mbit/s link with a 200 ms timeout, once each, in order; a cut seen in $detect ms"
