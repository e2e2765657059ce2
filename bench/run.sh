#!/bin/sh
# myelon-bench driver: configure and build if needed, run a suite, write the
# report. Usage:
#
#   bench/run.sh quick|full [--out DIR] [--publish] [--no-profile] [myelon-bench options...]
#
#   quick        at most 2 minutes on 2 cores: the subset ladder, every subject
#   full         the whole 8 B .. 1 MiB ladder, 10x the counts (tens of minutes)
#   --out DIR    results directory (default bench/out/<timestamp>-<suite>)
#   --publish    also copy summary.md, targets.json, run.json, plots/*.png and
#                the profiles' summaries into bench/results/ (bench/README.md)
#   --no-profile do not profile missed targets (by default each missed target
#                runs under bench/callgrind.sh, a few seconds per case)
#   --no-python  skip the Python subject (bench/python/pybench.py, run after
#                the C suite into OUT/python.json; the report shows it)
#   other options go to `myelon-bench suite` (--only dmp-shm,floor, --no-pin,
#   --case-timeout S, --wrap ROLE=COMMAND)
#
# Environment: BENCH_BUILD_DIR (default build-bench), MESON_ARGS (extra
# `meson setup` arguments, e.g. -Dzmq=disabled).
set -eu

root=$(cd "$(dirname "$0")/.." && pwd)
build=${BENCH_BUILD_DIR:-$root/build-bench}
suite=${1:-}
case "$suite" in
  quick|full) shift ;;
  *) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac

out=""
publish=0
profile=1
python=1
n=$#
while [ "$n" -gt 0 ]; do # take ours out, rotate the rest (for myelon-bench) to the end
  a=$1; shift; n=$((n - 1))
  case "$a" in
    --out) [ "$n" -gt 0 ] || { echo "run.sh: --out needs a directory" >&2; exit 2; }
           out=$1; shift; n=$((n - 1)) ;;
    --publish) publish=1 ;;
    --no-profile) profile=0 ;;
    --no-python) python=0 ;;
    *) set -- "$@" "$a" ;;
  esac
done
[ -n "$out" ] || out="$root/bench/out/$(date +%Y%m%d-%H%M%S)-$suite"

if [ ! -f "$build/build.ninja" ]; then
  # shellcheck disable=SC2086
  meson setup "$build" "$root" -Dbench=true -Dtests=false --buildtype=release ${MESON_ARGS:-}
elif ! meson introspect --buildoptions "$build" | grep -q '"name": "bench", "value": true'; then
  meson configure "$build" -Dbench=true
fi
# Everything, not only myelon-bench: the bridged subjects run this build's
# myelon-bridge tool and the Python subject its bench-lang-role-c (a fresh
# build directory has neither until they are built).
ninja -C "$build" >/dev/null

BENCH_GIT=$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)
if ! git -C "$root" diff --quiet HEAD 2>/dev/null; then BENCH_GIT="$BENCH_GIT-dirty"; fi
export BENCH_GIT

status=0
"$build/bench/myelon-bench" suite "$suite" --out "$out" "$@" || status=$?
[ -f "$out/run.json" ] || { echo "run.sh: no run.json in $out" >&2; exit 1; }

# The Python subject (issue 19): a Python peer and a Python consumer against
# this build's libraries, next to multiprocessing.Queue and
# multiprocessing.shared_memory run by the same interpreter, in paired
# rounds; report.py puts OUT/python.json beside the C figures.
if [ "$python" = 1 ]; then
  case "$suite" in
    quick) pyargs="--rtt 5000 --stream 100000 --rounds 3" ;;
    *) pyargs="--rtt 20000 --stream 400000 --rounds 7" ;;
  esac
  ninja -C "$build" bench/bench-lang-role-c >/dev/null
  echo "run.sh: the Python subject (bench/python/pybench.py $pyargs)"
  # shellcheck disable=SC2086
  MYELON_LIBDIR=$build PYTHONPATH=$root/myelon/python python3 "$root/bench/python/pybench.py" $pyargs \
    --c-producer "$build/bench/bench-lang-role-c" --json "$out/python.json" >"$out/python.txt" ||
    { echo "run.sh: the Python subject failed (see $out/python.txt)" >&2; status=1; }
fi
# Recorder overhead (issue 20) where the host has no spare core: the
# producer's path in instructions with and without a gating recorder
# (bench/record_overhead_instr.sh, callgrind); report.py judges its JSON.
if command -v valgrind >/dev/null; then
  ninja -C "$build" bench/record-overhead >/dev/null 2>&1 || true
  echo "run.sh: recorder overhead under callgrind (bench/record_overhead_instr.sh)"
  if BENCH_BUILD_DIR=$build "$root/bench/record_overhead_instr.sh" >"$out/record_overhead_instr.txt" 2>&1; then
    tail -n 1 "$out/record_overhead_instr.txt" >"$out/record_overhead.json"
  else
    echo "run.sh: record_overhead_instr.sh failed (see $out/record_overhead_instr.txt)" >&2
  fi
fi
python3 "$root/bench/report.py" "$out"

# Where the time goes: every missed target's subject and reference under
# callgrind (report.py names the cases), then the report again with them.
if [ "$profile" = 1 ] && command -v valgrind >/dev/null; then
  jobs=$(python3 "$root/bench/report.py" --profile-jobs "$out")
  if [ -n "$jobs" ]; then
    echo "run.sh: profiling missed targets under callgrind"
    echo "$jobs" | while IFS="$(printf '\t')" read -r name collect args; do
      echo "run.sh:   $name"
      [ "$collect" != "-" ] || collect=""
      # shellcheck disable=SC2086
      BENCH_BUILD_DIR=$build CG_COLLECT="$collect" "$root/bench/callgrind.sh" "$out/profiles/$name" $args >/dev/null ||
        echo "run.sh: profile $name failed (see $out/profiles/$name/stderr.txt)" >&2
    done
    python3 "$root/bench/report.py" "$out"
  fi
fi

left=$(ls /dev/shm 2>/dev/null | grep -E '^(mb[0-9a-z]+x|iceoryx_mgmt$|pyb[0-9]+-)' || true)
if [ -n "$left" ]; then
  echo "run.sh: WARNING: left in /dev/shm: $left" >&2
  status=1
fi

if [ "$publish" = 1 ]; then
  dest="$root/bench/results"
  mkdir -p "$dest/plots"
  rm -f "$dest"/plots/*.png
  cp "$out/summary.md" "$out/targets.json" "$out/run.json" "$dest/"
  [ ! -f "$out/python.json" ] || cp "$out/python.json" "$dest/"
  [ ! -f "$out/record_overhead.json" ] || cp "$out/record_overhead.json" "$dest/"
  cp "$out"/plots/*.png "$dest/plots/" 2>/dev/null || true
  rm -rf "$dest/profiles"
  for d in "$out"/profiles/*/; do # the text summaries, not the raw profiles
    [ -d "$d" ] || continue
    mkdir -p "$dest/profiles/$(basename "$d")"
    cp "$d"run.json "$d"callgrind.*.txt "$dest/profiles/$(basename "$d")/" 2>/dev/null || true
  done
  echo "run.sh: published to $dest"
fi
echo "run.sh: summary in $out/summary.md"
exit $status
