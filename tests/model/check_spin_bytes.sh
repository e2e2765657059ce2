#!/bin/sh
# Model check of the multi-producer byte ring's claim / publish / tombstone
# protocol (disruptor-mp/model/mp_bytes.pml; bytes_multi.c) with Spin:
# assertions (no lost record, no double tombstone, no tombstone over a live
# producer's block, tombstone runs from and to record boundaries, no reader
# reading a record before it is fully published) and invalid end states
# (deadlock). Exhaustively for 2 producers x 1 record of 1-2 blocks on a
# ring of 4 blocks whose first claims wrap (padding) and reuse the previous
# lap, any one producer may crash at any step; then as bounded searches
# (supertrace, bitstate hashing) for 2 producers x 2 records and for 3
# producers x 1 record (producer 1 may crash).
#   tests/model/check_spin_bytes.sh MODEL.pml   (meson test -C build --suite model)
set -eu
model=${1:?usage: check_spin_bytes.sh MODEL.pml}
command -v spin >/dev/null || { echo "check_spin_bytes.sh: spin not installed (apt-get install spin)" >&2; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/mp_bytes_spin.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cp "$model" "$work/model.pml"
cd "$work"
status=0
for run in "full NPROD=2 CLAIMS=1 CAP=4 START=3" "bounded NPROD=2 CLAIMS=2 CAP=4 START=3" \
           "bounded NPROD=3 CLAIMS=1 CAP=4 START=2 DIER=1"; do
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
    ./pan -m400000 -w27 >pan.log 2>&1 || true
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
