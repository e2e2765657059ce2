#!/bin/sh
# Profile the hot loop of one case with valgrind's callgrind (instruction
# counts; works where perf does not). Both processes of the case run under
# callgrind; the per-function costs of each go to OUT/callgrind.*.txt.
#
#   bench/callgrind.sh [OUT] [case options...]
#
# default case: the 8 B one-way stream of dmp-shm (the missed target):
#   --workload stream --subject dmp-shm --size 8 --count 200000 --warmup 10000
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench}
out=${1:-$root/bench/out/callgrind-$(date +%Y%m%d-%H%M%S)}
[ $# -gt 0 ] && shift
[ $# -gt 0 ] || set -- --workload stream --subject dmp-shm --size 8 --count 200000 --warmup 10000
command -v valgrind >/dev/null || { echo "callgrind.sh: valgrind not installed" >&2; exit 1; }
[ -x "$build/bench/myelon-bench" ] || { echo "callgrind.sh: build first (bench/run.sh quick does)" >&2; exit 1; }
mkdir -p "$out"
"$build/bench/myelon-bench" case --out "$out" "$@" \
  --wrap "all=valgrind --tool=callgrind --dump-instr=no --callgrind-out-file=$out/callgrind.%p.out"
for f in "$out"/callgrind.*.out; do
  role=$(head -c 2000 "$f" | grep -o 'role [a-z]*' | head -1 | cut -d' ' -f2)
  txt="$out/callgrind.$role.txt"
  callgrind_annotate --inclusive=yes --tree=calling --threshold=100 "$f" > "$txt" 2>/dev/null || true
  echo "== $role: $txt (top functions by self cost)"
  callgrind_annotate --threshold=100 "$f" 2>/dev/null | sed -n '/file:function/,$p' |
    grep -v -e 'ld-linux' -e '/elf/' -e 'dl-' | sed -n '3,10p'
done
