#!/bin/sh
# Model check of the multi-producer ring's claim / publish / tombstone
# protocol (disruptor-mp/model/mp_ring.pml) with Spin: assertions (no lost
# slot, no double tombstone, no tombstone over a live producer's slot, no
# consumer reading an unpublished slot) and invalid end states (deadlock),
# exhaustively for 2 producers x 2 claims on a ring of 2 (any one may crash
# at any step), and for 3 producers x 1 claim (producer 1 may crash) as a
# bounded search: supertrace (bitstate) hashing for at most 2 minutes,
# since the full space (> 50 million states) does not fit CI's budget.
#   tests/model/check_spin.sh MODEL.pml     (meson test -C build --suite model)
set -eu
model=${1:?usage: check_spin.sh MODEL.pml}
command -v spin >/dev/null || { echo "check_spin.sh: spin not installed (apt-get install spin)" >&2; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/mp_ring_spin.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cp "$model" "$work/model.pml"
cd "$work"
status=0
for run in "full NPROD=2 CLAIMS=2 CAP=2" "bounded NPROD=3 CLAIMS=1 CAP=2 DIER=1"; do
  mode=${run%% *}
  cfg=${run#* }
  defs=""
  for d in $cfg; do defs="$defs -D$d"; done
  # shellcheck disable=SC2086
  spin -a $defs model.pml >spin.log 2>&1 || { cat spin.log; exit 1; }
  if [ "$mode" = full ]; then
    ${CC:-cc} -O2 -DCOLLAPSE -DMEMLIM=3000 -o pan pan.c
    ./pan -m400000 >pan.log 2>&1 || true
  else
    ${CC:-cc} -O2 -DBITSTATE -o pan pan.c
    ./pan -m400000 -w28 -Q2 >pan.log 2>&1 || true
  fi
  if grep -q "errors: 0" pan.log && { [ "$mode" = bounded ] || ! grep -q "Search not completed" pan.log; }; then
    echo "ok ($mode): $cfg: $(grep -E 'states, stored' pan.log | tr -s ' ')"
  else
    echo "FAILED ($mode): $cfg"; cat pan.log; status=1
    # shellcheck disable=SC2086
    [ -f model.pml.trail ] && spin -t -p -g $defs model.pml | tail -80
  fi
  rm -f pan pan.* model.pml.trail
done
exit $status
