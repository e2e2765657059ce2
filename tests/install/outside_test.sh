#!/usr/bin/env bash
# Outside-project test: a project outside this tree (tests/install/outside)
# takes each library as a Meson subproject through the shipped wrap files
# (docs/wraps, tarballs made by docs/wraps/make-tarballs.sh and found in
# subprojects/packagecache, so nothing is downloaded), and runs programs
# that pass events (disruptor_mp) and messages (myelon) between two
# processes:
#   1. disruptor_mp alone (only disruptor-mp.wrap present), shared;
#   2. myelon (myelon.wrap + disruptor-mp.wrap), shared;
#   3. myelon, static (default_library=static: no shared library needed);
# each with tools=false man=false install=false: nothing to install.
# (The third way, pkg-config after installation, is in install_test.sh.)
# The temporary directory is removed on every exit path.
set -euo pipefail

SRC=${MYELON_SOURCE_ROOT:?set MYELON_SOURCE_ROOT to the workspace source root}
MESON=${MESON:-meson}
NINJA=${NINJA:-ninja}
TMP=$(mktemp -d "${TMPDIR:-/tmp}/myelon-outside.XXXXXX")
trap 'rm -rf "$TMP"' EXIT

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'outside test: FAIL: %s\n' "$*" >&2; exit 1; }

step "tarballs and wraps (docs/wraps/make-tarballs.sh)"
bash "$SRC/docs/wraps/make-tarballs.sh" "$TMP/dist" || fail "make-tarballs.sh"
for w in disruptor-mp myelon; do
  grep -q '^\[provide\]' "$TMP/dist/$w.wrap" || fail "$w.wrap has no [provide] section"
done

# project NAME LIB DEFAULT_LIBRARY WRAPS...: configure, build, check that
# nothing would be installed, run the programs.
project() {
  local name=$1 lib=$2 kind=$3
  shift 3
  local proj=$TMP/$name
  step "$name: -Dlib=$lib -Ddefault_library=$kind with $* from subprojects/"
  cp -r "$SRC/tests/install/outside" "$proj"
  mkdir -p "$proj/subprojects/packagecache"
  for w in "$@"; do
    cp "$TMP/dist/$w.wrap" "$proj/subprojects/"
  done
  cp "$TMP"/dist/*.tar.xz "$proj/subprojects/packagecache/"
  "$MESON" setup "$proj/build" "$proj" -Dlib="$lib" -Ddefault_library="$kind" \
    --force-fallback-for=disruptor_mp,myelon >"$proj/setup.log" 2>&1 \
    || { cat "$proj/setup.log"; fail "$name: meson setup"; }
  "$NINJA" -C "$proj/build" >"$proj/build.log" 2>&1 || { cat "$proj/build.log"; fail "$name: build"; }
  local installed
  installed=$("$MESON" introspect --installed "$proj/build")
  [ "$installed" = "{}" ] || fail "$name: install=false still installs: $installed"
  [ ! -e "$proj/build/subprojects/disruptor_mp-"*/tools/dmp-stat ] || fail "$name: tools=false still built dmp-stat"
  local apps=ring_app
  [ "$lib" = myelon ] && apps="ring_app msg_app"
  for app in $apps; do
    if [ "$kind" = static ]; then
      ! readelf -d "$proj/build/$app" | grep -Eq 'NEEDED.*lib(myelon|disruptor_mp)' \
        || fail "$name: $app still needs a shared libmyelon/libdisruptor_mp"
    fi
    "$proj/build/$app" || fail "$name: $app"
  done
}

project dmp-alone disruptor_mp shared disruptor-mp
project myelon-shared myelon shared disruptor-mp myelon
project myelon-static myelon static disruptor-mp myelon

printf '\noutside test: OK\n'
