#!/usr/bin/env bash
# ABI check: the dynamic symbols a shared library exports (defined ones,
# with their version node) must be exactly the checked-in list, so an
# accidental export, a removal or a rename fails the build's tests.
#
#   check_symbols.sh LIBRARY.so LIST [--update]
#
# LIST holds one "symbol version" pair per line, sorted (C locale); lines
# starting with '#' are comments. With --update the list is rewritten from
# the library (after an intended change: review the diff, and keep the
# version script's nodes in step: disruptor-mp/disruptor_mp.map,
# myelon/myelon.map). Prints the differences and fails on any.
set -euo pipefail

lib=${1:?usage: check_symbols.sh LIBRARY.so LIST [--update]}
list=${2:?usage: check_symbols.sh LIBRARY.so LIST [--update]}
NM=${NM:-nm}
export LC_ALL=C

[ -f "$lib" ] || { echo "check_symbols: no library '$lib'" >&2; exit 1; }

# nm prints "ADDR TYPE name@@NODE" (default version) or "name@NODE"; the
# node itself is an absolute (A) symbol. Keep code and data, as "name NODE";
# a symbol without a version node reads "name -" (the script did not apply).
actual=$("$NM" -D --defined-only --with-symbol-versions "$lib" |
  awk '$2 != "A" { n = $3; v = "-"; i = index(n, "@");
                   if (i) { v = substr(n, i); sub(/^@+/, "", v); n = substr(n, 1, i - 1) }
                   print n, v }' | sort -u)

if [ "${3:-}" = "--update" ]; then
  { grep '^#' "$list" 2>/dev/null || true; printf '%s\n' "$actual"; } >"$list.tmp"
  mv "$list.tmp" "$list"
  echo "check_symbols: wrote $(printf '%s\n' "$actual" | wc -l) symbols to $list"
  exit 0
fi

[ -f "$list" ] || { echo "check_symbols: no list '$list'" >&2; exit 1; }
expected=$(grep -v '^#' "$list" | sed '/^[[:space:]]*$/d' | sort -u)

if [ "$actual" = "$expected" ]; then
  echo "check_symbols: $(basename "$lib"): $(printf '%s\n' "$actual" | wc -l) symbols as listed"
  exit 0
fi
echo "check_symbols: $(basename "$lib") does not export what $list lists" >&2
diff <(printf '%s\n' "$expected") <(printf '%s\n' "$actual") |
  sed -n 's/^< /  missing (listed, not exported): /p; s/^> /  unlisted (exported, not listed): /p' >&2
echo "If the change is intended: $0 $lib $list --update, and review the diff." >&2
exit 1
