#!/usr/bin/env bash
# two_hosts.sh for a raw Layer 0 ring (suite 'bridge'): the same two
# "hosts" (network, IPC and mount namespaces with private /dev/shm, joined
# by a veth pair, 10.218.0.1 and .2/30), both rings called "rawfeed", so a
# passing run proves the slots crossed the veth.
#
#   A: brg_raw producer -> raw ring rawfeed -> brg_raw reader (local)
#                                           -> myelon-bridge egress --CURVE tcp-->
#   B: myelon-bridge ingress --raw -> raw ring rawfeed -> brg_raw reader
#
# 200-byte slots, each naming its index, with a checksum and a zero tail
# (brg_raw.c): both readers check every slot byte for byte, once each, in
# order. B's reader takes 5 ms a slot, so the stream is still running when
# the link is cut (ip link set down) for 2 s mid-stream and brought back:
# B's reader's wait ends with OWNERDEAD during the cut (the time is
# printed), then it attaches to the ring the ingress creates when the link
# is back, and still sees every slot once.
#
# BRIDGE_TWO_HOSTS_SHAPE=bytes (test bridge_two_hosts_raw_bytes): the same
# on a raw byte ring (DMP_RING_BYTES of 128 KiB), records of 16 .. 40000
# bytes (brg_raw --bytes), each checked byte for byte.
#
# usage: two_hosts_raw.sh TOOL BRG_RAW
# Exit 77 (skipped, with the reason) when not root or namespaces are refused.
set -euo pipefail
tool=$1 raw=$2
. "$(dirname "$0")/hosts_lib.sh"
count=${BRIDGE_TWO_HOSTS_COUNT:-600}

hosts_require_namespaces "creating network namespaces and a veth pair needs root"

hosts_workdir bridge2hraw

"$tool" keygen "$dir/a" >/dev/null
"$tool" keygen "$dir/b" >/dev/null

shape=${BRIDGE_TWO_HOSTS_SHAPE:-slots}
if [ "$shape" = bytes ]; then
  common="--name=rawfeed --slot=40000 --tag=4242424242 --seed=19 --bytes" ring="--capacity=131072"
  ing_geom="--raw --bytes --ring-bytes 128K --type-tag 4242424242"
else
  common="--name=rawfeed --slot=200 --tag=4242424242 --seed=19" ring="--capacity=64"
  ing_geom="--raw --slot-size 200 --type-tag 4242424242 --capacity 64"
fi

# Host B: waits for its end of the veth, then runs the ingress and a reader.
unshare --net --ipc --mount --propagation private bash -c '
  set -e
  mount -t tmpfs -o size=256m,mode=1777 tmpfs /dev/shm
  touch "$0/b.ready"
  n=0; until ip link show vb >/dev/null 2>&1; do n=$((n+1)); [ $n -lt 3000 ] || exit 3; sleep 0.01; done
  ip link set lo up
  ip addr add 10.218.0.2/30 dev vb
  ip link set vb up
  timeout -k 5 "$1" "$2" ingress --ring rawfeed --bind tcp://10.218.0.2:5555 --key "$0/b.key" --peer-key "$0/a.pub" \
    '"$ing_geom"' --wait-readers 1 --json 0.5 \
    >"$0/ing.out" 2>"$0/ing.err" &
  ing=$!
  rc=0
  timeout -k 5 "$1" "$3" reader '"$common"' --count "$4" --report "$0/b.report" --events "$0/b.events" \
    --slow-us 5000 --timeout-ms $(($1 * 1000)) 2>"$0/b.err" || rc=$?
  kill -TERM $ing; wait $ing || rc=$((rc ? rc : 10))
  exit $rc
' "$dir" "$bound" "$tool" "$raw" "$count" &
bpid=$!
pids+=("$bpid")
wait_file "$dir/b.ready"

# Host A: creates the veth pair, hands vb to B, runs the producer, a local
# reader and the egress; cuts the link for 2 s once 100 messages are out.
unshare --net --ipc --mount --propagation private bash -c '
  set -e
  mount -t tmpfs -o size=256m,mode=1777 tmpfs /dev/shm
  ip link set lo up
  ip link add va type veth peer name vb
  ip link set vb netns "$5"
  ip addr add 10.218.0.1/30 dev va
  ip link set va up
  timeout -k 5 "$1" "$3" producer '"$common $ring"' --count="$4" --wait-consumers=2 \
    --ready-file="$0/a.100" --ready-at=100 --timeout-ms=$(($1 * 1000)) 2>"$0/prod.err" &
  prod=$!
  timeout -k 5 "$1" "$3" reader '"$common"' --count="$4" --report="$0/a.report" \
    --timeout-ms=$(($1 * 1000)) 2>"$0/local.err" &
  local_reader=$!
  timeout -k 5 "$1" "$2" egress --ring rawfeed --connect tcp://10.218.0.2:5555 --key "$0/a.key" --peer-key "$0/b.pub" \
    --window 16 --json 0.5 --once >"$0/eg.out" 2>"$0/eg.err" &
  eg=$!
  n=0; until [ -e "$0/a.100" ]; do n=$((n+1)); [ $n -lt $(($1 * 100)) ] || exit 4; sleep 0.01; done
  date +%s%3N >"$0/cut.ms"
  ip link set va down
  sleep 2
  ip link set va up
  rc=0
  wait $prod || rc=11
  wait $local_reader || rc=12
  wait $eg || rc=13
  exit $rc
' "$dir" "$bound" "$tool" "$raw" "$count" "$bpid" &
apid=$!
pids+=("$apid")

arc=0; wait "$apid" || arc=$?
brc=0; wait "$bpid" || brc=$?
pids=()
echo "host A exit $arc, host B exit $brc"
echo "B's reader: $(cat "$dir/b.report" 2>/dev/null); A's local reader: $(cat "$dir/a.report" 2>/dev/null)"
echo "egress: $(tail -n 1 "$dir/eg.out" 2>/dev/null)"
echo "ingress: $(tail -n 1 "$dir/ing.out" 2>/dev/null)"
if [ "$arc" != 0 ] || [ "$brc" != 0 ]; then
  for f in prod.err local.err eg.err ing.err b.err; do echo "== $f"; cat "$dir/$f" 2>/dev/null || true; done
  echo "FAIL"
  exit 1
fi
grep -Eq "^received=$count dup=0 lost=0 bad=0 attaches=[2-9]$" "$dir/b.report" || { echo "FAIL: B's reader report"; exit 1; }
grep -Eq "^received=$count dup=0 lost=0 bad=0 attaches=1$" "$dir/a.report" || { echo "FAIL: A's local reader report"; exit 1; }
cut=$(cat "$dir/cut.ms")
dead=$(awk -v c="$cut" '$1 == "ownerdead" && $2 >= c { print $2; exit }' "$dir/b.events" 2>/dev/null)
[ -n "$dead" ] || { echo "FAIL: B's reader never saw the producer gone during the cut"; exit 1; }
detect=$((dead - cut))
slack=$((250 * ${mult%.*}))
echo "detection time of the dead link on B: $detect ms (link timeout 500 ms)"
[ "$detect" -le $((500 + 3 * slack)) ] || { echo "FAIL: detection took $detect ms"; exit 1; }
grep -q '"reconnects":[1-9]' "$dir/eg.out" || { echo "FAIL: the cut link caused no reconnect"; exit 1; }
grep -q '"messages":'"$count"',' "$dir/eg.out" || { echo "FAIL: the egress did not count $count slots"; exit 1; }
echo "PASS ($shape ring): $count raw records across the veth, once each, in order, byte-exact, through a 2 s link cut; B's reader saw it in $detect ms"
