#!/bin/sh
# Recorder overhead in instructions (issue #20: "where the host has no spare
# core, show it with callgrind instruction counts of the producer's path with
# and without a recorder attached").
#
# Runs record-overhead's baseline runs (producer + consumer) and its recorded
# runs (producer + consumer + gating recorder) under valgrind's callgrind,
# counting only inside the producer's publish loop (publish_events). The
# producer's *path* is that loop minus the time it spends waiting for space
# (dmp_impl_producer_wait_step: spinning or parked because a reader is behind,
# which on a host without a spare core is CPU contention, not work the
# recorder adds to the producer). Prints one line per kind and one JSON line:
#
#   {"size":1024,"events":N,"baseline_path":I,"recorded_path":I,"path_ratio":R,
#    "baseline_total":I,"recorded_total":I}     (I: instructions per event)
#
#   bench/record_overhead_instr.sh [--count N] [--size BYTES] [--capacity C] [--io auto|uring|pwrite] [--bytes]
#
# --bytes: a byte ring (record-overhead --bytes), records of --size bytes.
#
# Instruction counts are repeatable where timings on a shared 2-core VM are
# not; they do not measure cache misses (the recorder reads the slots the
# producer wrote, on another core).
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench}
tool="$build/bench/record-overhead"
count=20000 size=1024 capacity=4096 io=pwrite bytes=
while [ $# -gt 0 ]; do
  case "$1" in
  --count) count=$2; shift 2 ;;
  --size) size=$2; shift 2 ;;
  --capacity) capacity=$2; shift 2 ;;
  --io) io=$2; shift 2 ;;
  --bytes) bytes=--bytes; shift ;;
  -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
  *) echo "record_overhead_instr.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
command -v valgrind >/dev/null || { echo "record_overhead_instr.sh: valgrind not installed" >&2; exit 1; }
[ -x "$tool" ] || { echo "record_overhead_instr.sh: $tool not built (meson setup build-bench -Dbench=true)" >&2; exit 1; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT INT TERM

# inclusive instructions of function $2 in profile $1 (0 when absent)
incl() {
  callgrind_annotate --inclusive=yes --threshold=100 "$1" 2>/dev/null |
    awk -v fn="$2" '{ n = $NF; sub(/ \[.*$/, "", $0) } $0 ~ (":" fn "$") { gsub(",", "", $1); print $1; f = 1; exit } END { if (!f) print 0 }'
}

for kind in baseline recorded; do
  valgrind --tool=callgrind --collect-atstart=no --toggle-collect=publish_events \
    --callgrind-out-file="$out/$kind.%p.out" \
    "$tool" --only "$kind" --count "$count" --size "$size" --capacity "$capacity" --io "$io" --pairs 1 $bytes \
    >"$out/$kind.txt" 2>"$out/$kind.err" || { cat "$out/$kind.err" >&2; exit 1; }
  total=0 wait=0
  for f in "$out/$kind".*.out; do  # the producer's profile is the one that ran publish_events
    t=$(incl "$f" publish_events)
    [ "$t" -gt 0 ] || continue
    total=$t
    wait=$(incl "$f" dmp_impl_producer_wait_step)
  done
  [ "$total" -gt 0 ] || { echo "record_overhead_instr.sh: no profile of publish_events for $kind" >&2; exit 1; }
  eval "${kind}_total=$total ${kind}_wait=$wait"
  printf '%-8s producer loop %s instr/event, of which waiting for space %s, path %s\n' "$kind" \
    $((total / count)) $((wait / count)) $(((total - wait) / count))
done
awk -v n="$count" -v s="$size" -v b="${bytes:+true}" -v bt="$baseline_total" -v bw="$baseline_wait" -v rt="$recorded_total" -v rw="$recorded_wait" 'BEGIN {
  bp = (bt - bw) / n; rp = (rt - rw) / n
  printf "{\"size\":%d,\"bytes\":%s,\"events\":%d,\"baseline_path\":%.1f,\"recorded_path\":%.1f,\"path_ratio\":%.4f,\"baseline_total\":%.1f,\"recorded_total\":%.1f}\n", s, (b == "true" ? "true" : "false"), n, bp, rp, rp / bp, bt / n, rt / n
}'
