#!/bin/sh
# Profile the hot loop of one case with valgrind's callgrind (instruction
# counts; works where perf does not). Both processes of the case run under
# callgrind; for each role (client/server or producer/consumer) OUT gets
#
#   callgrind.<role>.txt       inclusive costs as a call tree (callers, callees, call counts)
#   callgrind.<role>.incl.txt  inclusive cost per function
#   callgrind.<role>.self.txt  own (exclusive) cost per function
#   callgrind.<pid>.out        the raw profile (callgrind_annotate, kcachegrind)
#   run.json, cases/           the case as myelon-bench ran it (counts, warm-up)
#
#   bench/callgrind.sh [OUT] [case options...]
#
# default case: the 8 B one-way stream of dmp-shm:
#   --workload stream --subject dmp-shm --size 8 --count 200000 --warmup 10000
# CG_COLLECT="fn1 fn2": count only inside these functions (callgrind's
# --collect-atstart=no --toggle-collect=fn), e.g. the subject's send and
# receive functions, so set-up, the harness and process start-up stay out.
# run.sh calls this for every missed target (report.py --profile-jobs names
# the case and the functions) and report.py turns the .incl/.self files into
# instructions per message.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench}
out=${1:-$root/bench/out/callgrind-$(date +%Y%m%d-%H%M%S)}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- --workload stream --subject dmp-shm --size 8 --count 200000 --warmup 10000
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind not installed" >&2; exit 1; }
[ -x "$build/bench/myelon-bench" ] || { echo "callgrind.sh: build first (bench/run.sh quick does)" >&2; exit 1; }
mkdir -p "$out"
rm -f "$out"/callgrind.*
status=0
toggles=""
for fn in ${CG_COLLECT:-}; do
  toggles="$toggles --toggle-collect=$fn"
done
[ -z "$toggles" ] || toggles=" --collect-atstart=no$toggles"
"$build/bench/myelon-bench" case --out "$out" "$@" \
  --wrap "all=valgrind --tool=callgrind --dump-instr=no --callgrind-out-file=$out/callgrind.%p.out$toggles" \
  2>"$out/stderr.txt" || status=$?
for f in "$out"/callgrind.*.out; do
  [ -f "$f" ] || continue
  role=$(head -c 4000 "$f" | grep -o 'role [a-z]*' | head -1 | cut -d' ' -f2)
  [ -n "$role" ] || continue
  callgrind_annotate --inclusive=yes --tree=calling --threshold=100 "$f" > "$out/callgrind.$role.txt" 2>/dev/null || true
  callgrind_annotate --inclusive=yes --threshold=99 "$f" > "$out/callgrind.$role.incl.txt" 2>/dev/null || true
  callgrind_annotate --threshold=99 "$f" > "$out/callgrind.$role.self.txt" 2>/dev/null || true
  echo "== $role: $out/callgrind.$role.txt (top functions by self cost)"
  sed -n '/file:function/,$p' "$out/callgrind.$role.self.txt" |
    grep -v -e 'ld-linux' -e '/elf/' -e 'dl-' | sed -n '3,10p'
done
[ "$status" = 0 ] || echo "callgrind.sh: the case failed (status $status, see $out/stderr.txt)" >&2
exit $status
