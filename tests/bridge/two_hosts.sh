#!/usr/bin/env bash
# Two "hosts" on one machine (suite 'bridge'): host A and host B are each a
# network, IPC and mount namespace with a private tmpfs on /dev/shm, joined
# by a veth pair with addresses assigned here (10.217.0.1 and .2/30) inside
# those namespaces: no traffic leaves them. Both rings are called "feed", so
# a passing run proves the bytes crossed the veth.
#
#   A: frm_role producer -> ring feed -> frm_role reader (local)
#                                     -> myelon-bridge egress  --CURVE tcp-->
#   B: myelon-bridge ingress -> ring feed -> brg_reader
#
# A's producer holds after message 100 until the link is cut (frm_role
# --hold-file), so the rest of the stream crosses after the cut however
# fast the machine; B's reader takes 5 ms a message, so the stream
# (back-pressured by it) is still running at the cut on a loaded machine.
# Mid-stream the link is cut (ip link set down) for 2 s and brought back:
# every message still arrives once, in order, byte-exact, on both readers.
# During the cut, B's reader's wait ends with the producer-dead error
# (OWNERDEAD) within the link timeout (500 ms; the bound checked here is
# generous, the time taken is printed), and after it the reader attaches to
# the ring the ingress creates when the link is back (a new epoch), as after
# a local producer restart. On A, dmp-stat shows the egress as a consumer
# of the ring.
#
# BRIDGE_TWO_HOSTS_SHAPE=bytes (test bridge_two_hosts_bytes): the same on a
# framed byte ring (MYELON_FRAME_BYTES, 16 MiB: the mixed profile's 0 B ..
# 4 MiB messages are one record each) with two readers on B (the ingress
# waits for both), each checking every message; 1500 of them, read at
# full speed. No loss or duplicate through the cut; that B's readers see the
# dead link during it is asserted on slot rings only (see the end).
#
# usage: two_hosts.sh TOOL FRM_ROLE BRG_READER DMP_STAT
# Exit 77 (skipped, with the reason) when not root or namespaces are refused.
set -euo pipefail
tool=$1 role=$2 reader=$3 dmpstat=$4
. "$(dirname "$0")/hosts_lib.sh"
count=${BRIDGE_TWO_HOSTS_COUNT:-400}

hosts_require_namespaces "creating network namespaces and a veth pair needs root"

hosts_workdir bridge2h

"$tool" keygen "$dir/a" >/dev/null
"$tool" keygen "$dir/b" >/dev/null

shape=${BRIDGE_TWO_HOSTS_SHAPE:-slots}
if [ "$shape" = bytes ]; then
  # frm_bytes_ring(64, 1024, 4 MiB): what frm_role creates for this stream.
  fmt=bytes ing_geom="--format bytes --ring-bytes 16M" rd_fmt="--format bytes" nreaders=2
  # Some 500 of these messages fill a 16 MiB ring: 1500 keep the producer
  # running (back-pressured) through the cut, as 400 do on 64 slots (and
  # it holds at message 100 until the cut: a fast quiet machine once
  # carried the whole stream before "ip link set down" ran). B's
  # reader is not slowed: behind by a full 16 MiB ring (2.5 s at 5 ms a
  # message) it would see the dead link only after the link was back,
  # and the ingress, waiting for room in that ring, would not count the
  # cut as silence (seen under ASan).
  count=${BRIDGE_TWO_HOSTS_COUNT:-1500} rd_slow=""
else
  fmt=compact ing_geom="--capacity 64 --frame-capacity 1024" rd_fmt="" nreaders=1 rd_slow="--slow-us 5000"
fi
common="--format=$fmt --fcap=1024 --capacity=64 --seed=9 --profile=mixed"

# Host B: waits for its end of the veth, then runs the ingress and a reader.
unshare --net --ipc --mount --propagation private bash -c '
  set -e
  mount -t tmpfs -o size=256m,mode=1777 tmpfs /dev/shm
  touch "$0/b.ready"
  n=0; until ip link show vb >/dev/null 2>&1; do n=$((n+1)); [ $n -lt 3000 ] || exit 3; sleep 0.01; done
  ip link set lo up
  ip addr add 10.217.0.2/30 dev vb
  ip link set vb up
  timeout -k 5 "$1" "$2" ingress --ring feed --bind tcp://10.217.0.2:5555 --key "$0/b.key" --peer-key "$0/a.pub" \
    '"$ing_geom"' --wait-readers '"$nreaders"' --json 0.5 >"$0/ing.out" 2>"$0/ing.err" &
  ing=$!
  rc=0
  second=
  if [ '"$nreaders"' = 2 ]; then
    timeout -k 5 "$1" "$3" --name feed --id second '"$rd_fmt"' --fcap 1024 --capacity 64 --seed 9 --profile mixed \
      --count "$4" --report "$0/b2.report" --timeout-ms $(($1 * 1000)) 2>"$0/b2.err" &
    second=$!
  fi
  timeout -k 5 "$1" "$3" --name feed '"$rd_fmt"' --fcap 1024 --capacity 64 --seed 9 --profile mixed --count "$4" \
    --report "$0/b.report" --events "$0/b.events" '"$rd_slow"' --timeout-ms $(($1 * 1000)) 2>"$0/b.err" || rc=$?
  if [ -n "$second" ]; then wait $second || rc=$((rc ? rc : 14)); fi
  kill -TERM $ing; wait $ing || rc=$((rc ? rc : 10))
  exit $rc
' "$dir" "$bound" "$tool" "$reader" "$count" &
bpid=$!
pids+=("$bpid")
wait_file "$dir/b.ready"

# Host A: creates the veth pair, hands vb to B, runs the producer, a local
# reader and the egress; cuts the link for 2 s once 100 messages are out
# (the producer holds there until the cut).
unshare --net --ipc --mount --propagation private bash -c '
  set -e
  mount -t tmpfs -o size=256m,mode=1777 tmpfs /dev/shm
  ip link set lo up
  ip link add va type veth peer name vb
  ip link set vb netns "$5"
  ip addr add 10.217.0.1/30 dev va
  ip link set va up
  timeout -k 5 "$1" "$3" producer --backend=shm --name=feed '"$common"' --count="$4" --wait-consumers=2 \
    --ready-file="$0/a.100" --ready-at=100 --hold-file="$0/a.cut" --timeout-ms=$(($1 * 1000)) 2>"$0/prod.err" &
  prod=$!
  timeout -k 5 "$1" "$3" consumer --backend=shm --name=feed --id=local '"$common"' --first=0 --last=$(($4 - 1)) \
    --timeout-ms=$(($1 * 1000)) 2>"$0/local.err" &
  local_reader=$!
  timeout -k 5 "$1" "$2" egress --ring feed --connect tcp://10.217.0.2:5555 --key "$0/a.key" --peer-key "$0/b.pub" \
    --window 16 --json 0.5 --once >"$0/eg.out" 2>"$0/eg.err" &
  eg=$!
  n=0; until [ -e "$0/a.100" ]; do n=$((n+1)); [ $n -lt $(($1 * 100)) ] || exit 4; sleep 0.01; done
  date +%s%3N >"$0/cut.ms"
  ip link set va down
  touch "$0/a.cut" # the producer goes on: the rest of the stream after the cut
  # dmp-stat during the cut, two samples 0.3 s apart (so that it judges
  # whether each consumer moved): the egress must show up stalled.
  sleep 0.5
  "$6" --watch 0.3 --count 2 feed >"$0/stat.out" 2>&1 || echo "dmp-stat exit $?" >>"$0/stat.out"
  sleep 1
  ip link set va up
  rc=0
  wait $prod || rc=11
  wait $local_reader || rc=12
  wait $eg || rc=13
  exit $rc
' "$dir" "$bound" "$tool" "$role" "$count" "$bpid" "$dmpstat" &
apid=$!
pids+=("$apid")

arc=0; wait "$apid" || arc=$?
brc=0; wait "$bpid" || brc=$?
pids=()
echo "host A exit $arc, host B exit $brc"
echo "B's reader: $(cat "$dir/b.report" 2>/dev/null)"
[ "$nreaders" = 1 ] || echo "B's second reader: $(cat "$dir/b2.report" 2>/dev/null)"
echo "egress: $(tail -n 1 "$dir/eg.out" 2>/dev/null)"
echo "ingress: $(tail -n 1 "$dir/ing.out" 2>/dev/null)"
if [ "$arc" != 0 ] || [ "$brc" != 0 ]; then
  for f in prod.err local.err eg.err ing.err b.err b2.err; do echo "== $f"; cat "$dir/$f" 2>/dev/null || true; done
  echo "FAIL"
  exit 1
fi
cut=$(cat "$dir/cut.ms")
dead=$(awk -v c="$cut" '$1 == "ownerdead" && $2 >= c { print $2; exit }' "$dir/b.events" 2>/dev/null)
if [ "$shape" = bytes ]; then
  # A byte ring: no loss, no duplicate through the cut (the assertions
  # above and here). That B's readers see the dead link during the cut is
  # not asserted: B's 16 MiB ring may be full when the link goes, and an
  # ingress waiting for room in its ring does not count that as silence
  # (under ASan at load 20 it did not close the ring before the link was
  # back). Slot rings assert it below; test_bridge.c's silent-link test too.
  grep -Eq "^received=$count dup=0 lost=0 bad=0 attaches=[1-9]$" "$dir/b.report" || { echo "FAIL: B's reader report"; exit 1; }
  grep -Eq "^received=$count dup=0 lost=0 bad=0 attaches=[1-9]$" "$dir/b2.report" || { echo "FAIL: B's second reader report"; exit 1; }
  if [ -n "$dead" ]; then
    echo "detection time of the dead link on B: $((dead - cut)) ms (link timeout 500 ms; not asserted on a byte ring)"
  else
    echo "B's readers did not see the link dead during the cut (not asserted on a byte ring)"
  fi
else
  grep -Eq "^received=$count dup=0 lost=0 bad=0 attaches=[2-9]$" "$dir/b.report" || { echo "FAIL: B's reader report"; exit 1; }
  [ -n "$dead" ] || { echo "FAIL: B's reader never saw the producer gone during the cut"; exit 1; }
  detect=$((dead - cut))
  slack=$((250 * ${mult%.*}))
  echo "detection time of the dead link on B: $detect ms (link timeout 500 ms)"
  [ "$detect" -le $((500 + 3 * slack)) ] || { echo "FAIL: detection took $detect ms"; exit 1; }
fi
echo "dmp-stat on A during the cut (the egress's lines):"; grep -E "^ +bridge " "$dir/stat.out" || true
grep -Eq "^ +bridge +[0-9]+ +[0-9]+ +active +stalled " "$dir/stat.out" || { echo "FAIL: dmp-stat on A does not show the egress (consumer bridge) stalled"; exit 1; }
grep -q '"reconnects":[1-9]' "$dir/eg.out" || { echo "FAIL: the cut link caused no reconnect"; exit 1; }
echo "PASS ($shape ring, $nreaders reader(s) on B): $count messages across the veth, once each, in order, through a 2 s link cut"
