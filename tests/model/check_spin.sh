#!/bin/sh
# Spin model checks of the multi-producer protocols (suite 'model'):
#   check_spin.sh MODEL.pml RUN...
# Each RUN is "MODE [-PAN_OPTION...] NAME=VALUE...": MODE `full` searches
# the whole state space (and fails if the search is not completed),
# `bounded` a supertrace (bitstate hashing) search for the sizes whose full
# space does not fit CI's budget; -options go to pan (e.g. -w28 -Q2), the
# rest become -D defines of the model. Either fails on any assertion
# violation or invalid end state (deadlock), and prints the error trail.
# The models, and what each run covers, are named in tests/model/meson.build.
set -eu
model=${1:?usage: check_spin.sh MODEL.pml RUN...}
shift
[ $# -gt 0 ] || { echo "usage: check_spin.sh MODEL.pml RUN..." >&2; exit 2; }
command -v spin >/dev/null || { echo "check_spin.sh: spin not installed (apt-get install spin)" >&2; exit 77; }
work=$(mktemp -d "${TMPDIR:-/tmp}/spin.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
cp "$model" "$work/model.pml"
cd "$work"
status=0
for run in "$@"; do
  mode=${run%% *}
  cfg=${run#* }
  defs=""
  pan_opts=""
  for d in $cfg; do
    case "$d" in
      -*) pan_opts="$pan_opts $d" ;;
      *) defs="$defs -D$d" ;;
    esac
  done
  # shellcheck disable=SC2086
  spin -a $defs model.pml >spin.log 2>&1 || { cat spin.log; exit 1; }
  case "$mode" in
    full) ${CC:-cc} -O2 -DCOLLAPSE -DMEMLIM=3000 -o pan pan.c ;;
    bounded) ${CC:-cc} -O2 -DBITSTATE -o pan pan.c ;;
    *) echo "check_spin.sh: mode '$mode' is neither full nor bounded" >&2; exit 2 ;;
  esac
  # shellcheck disable=SC2086
  ./pan -m400000 $pan_opts >pan.log 2>&1 || true
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
