#!/usr/bin/env bash
# Install test: what a user of the installed libraries sees.
#
#  1. meson setup a fresh build of the workspace (tests off) with
#     --prefix=$TMP/prefix, and install it there (no root, no DESTDIR);
#  2. build a disruptor_mp program with only `pkg-config --cflags --libs
#     disruptor_mp`: create a ring, attach a consumer, publish and read one
#     event; run it;
#  3. the same for myelon (<myelon/myelon.h>, myelon_version(), a dmp_ type);
#  4. link both against the static archives via `pkg-config --static` and
#     check the result does not need the shared libraries;
#  5. run the installed dmp-demo briefly;
#  6. check every installed tool has its man page in share/man/man1, and
#     the libraries' man(3) pages (check_man3.py on what was installed);
#  7. the outside project of outside_test.sh, built with the installed
#     .pc files through meson's dependency() (no subproject fallback);
#  8. the .pc files: `pkg-config --cflags/--libs myelon` work without
#     liburing's .pc (it is only in Libs.private), no flag repeated;
#  9. import the installed Python package (site-packages under the prefix)
#     with neither LD_LIBRARY_PATH nor MYELON_LIBDIR: it finds the installed
#     libraries itself (_paths.py) and moves one framed message.
# The temporary directory is removed on every exit path.
set -euo pipefail

SRC=${MYELON_SOURCE_ROOT:?set MYELON_SOURCE_ROOT to the workspace source root}
MESON=${MESON:-meson}
NINJA=${NINJA:-ninja}
CC=${CC:-cc}
CFLAGS_STRICT=(-std=c11 -Wall -Wextra -Wpedantic -Werror -O2)

TMP=$(mktemp -d "${TMPDIR:-/tmp}/myelon-install.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
PREFIX=$TMP/prefix

step() { printf '\n== %s\n' "$*"; }
fail() { printf 'install test: FAIL: %s\n' "$*" >&2; exit 1; }

step "configure and install into $PREFIX"
"$MESON" setup "$TMP/build" "$SRC" --prefix="$PREFIX" -Dtests=false -Dbench=false \
  >"$TMP/setup.log" 2>&1 || { cat "$TMP/setup.log"; fail "meson setup"; }
"$NINJA" -C "$TMP/build" install >"$TMP/install.log" 2>&1 \
  || { cat "$TMP/install.log"; fail "ninja install"; }

# The pkg-config directory is lib/<multiarch>/pkgconfig or lib/pkgconfig
# (or lib64/...), depending on the platform's libdir: find it.
pc=$(find "$PREFIX" -name disruptor_mp.pc -path '*/pkgconfig/*' | head -n 1)
[ -n "$pc" ] || fail "no disruptor_mp.pc under $PREFIX"
PCDIR=$(dirname "$pc")
LIBDIR=$(dirname "$PCDIR")
[ -f "$PCDIR/myelon.pc" ] || fail "no myelon.pc next to disruptor_mp.pc"
export PKG_CONFIG_PATH=$PCDIR
unset PKG_CONFIG_LIBDIR
echo "pkg-config dir: $PCDIR"
for m in disruptor_mp myelon; do
  echo "$m $(pkg-config --modversion $m): $(pkg-config --cflags --libs $m)"
done
grep -q '^Requires:.*disruptor_mp' "$PCDIR/myelon.pc" || fail "myelon.pc lacks 'Requires: disruptor_mp'"

step ".pc files: only what a user of the shared libraries needs"
# liburing is needed only to link libmyelon statically: it belongs in
# Libs.private (-luring), never in Requires or Requires.private, which
# pkg-config resolves even for --cflags.
! grep -Eq '^Requires(\.private)?:.*liburing' "$PCDIR/myelon.pc" \
  || fail "myelon.pc requires liburing: $(grep '^Requires' "$PCDIR/myelon.pc")"
# A machine without liburing-dev: a pkg-config search path holding only our
# .pc files and msgpack's (the one public requirement besides disruptor_mp).
NOURING=$TMP/pc-without-liburing
mkdir -p "$NOURING"
cp "$PCDIR"/disruptor_mp.pc "$PCDIR"/myelon.pc "$NOURING/"
msgpack_pc=$(grep -Eo '(msgpack-c|msgpack)\b' <(grep '^Requires:' "$PCDIR/myelon.pc") | head -n 1)
cp "$(pkg-config --variable=pcfiledir "$msgpack_pc")/$msgpack_pc.pc" "$NOURING/"
for q in --cflags --libs "--cflags --libs"; do
  # shellcheck disable=SC2086
  PKG_CONFIG_LIBDIR=$NOURING PKG_CONFIG_PATH= pkg-config $q myelon >/dev/null \
    || fail "pkg-config $q myelon needs more than disruptor_mp and $msgpack_pc"
done
# Each flag once in each .pc file (disruptor_mp.pc had -lpthread and
# -pthread), and in what a shared-library user links with. (--static merges
# the Libs.private of both files; each library naming -pthread for itself
# is correct there.)
for m in disruptor_mp myelon; do
  # shellcheck disable=SC2046
  dup=$(printf '%s\n' $(pkg-config --libs "$m") | sort | uniq -d)
  [ -z "$dup" ] || fail "pkg-config --libs $m repeats: $dup"
  for field in Libs Libs.private; do
    line=$(grep "^$field:" "$PCDIR/$m.pc" | cut -d: -f2- || true)
    # shellcheck disable=SC2086
    n=$(printf '%s\n' $line | grep -c pthread || true)
    [ "$n" -le 1 ] || fail "$m.pc $field names pthread $n times: $line"
    # shellcheck disable=SC2086
    dup=$(printf '%s\n' $line | sort | uniq -d)
    [ -z "$dup" ] || fail "$m.pc $field repeats: $dup"
  done
done

# Every line of every .pc file as pkg-config and a reader expect it: no
# doubled or trailing blanks (myelon.pc had "disruptor_mp >=  0.1.0").
for f in "$PCDIR"/*.pc; do
  ! grep -nE '  | $' "$f" || fail "$(basename "$f") has doubled or trailing blanks (lines above)"
done

cat >"$TMP/ring.c" <<'C'
/* One ring, one consumer, one event, using only the installed headers. */
#include <disruptor_mp/disruptor_mp.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct ev { long long seq; char text[24]; };
DMP_DECLARE_TYPED(ev, struct ev);

#define CHECK(call) do { int rc_ = (call); if (rc_ < 0) { \
  fprintf(stderr, "%s: %s: %s\n", #call, dmp_strerror(rc_), dmp_last_error()); goto out; } } while (0)

int main(void)
{
  char name[DMP_PORTABLE_NAME_MAX + 1];
  struct dmp_producer *p = NULL;
  struct dmp_consumer *c = NULL;
  int status = 1;
  CHECK(dmp_name_portable("inst", name, sizeof name));

  struct dmp_producer_config pc;
  dmp_producer_config_init(&pc);
  pc.name = name;
  pc.capacity = 8;
  ev_producer_config(&pc);
  CHECK(dmp_producer_create(&pc, &p));

  struct dmp_consumer_config cc;
  dmp_consumer_config_init(&cc);
  cc.name = name;
  cc.id = "reader";
  ev_consumer_config(&cc);
  CHECK(dmp_consumer_attach(&cc, &c));

  struct ev *slot = NULL;
  CHECK(ev_try_claim(p, &slot));
  slot->seq = 0;
  strcpy(slot->text, "hello, ring");
  if (dmp_producer_publish(p) != 0) { fprintf(stderr, "publish\n"); goto out; }

  const struct ev *got = NULL; /* typed wrappers leave it unset on failure */
  int64_t seq;
  CHECK(ev_peek_timeout(c, &got, &seq, 1000000000));
  if (seq != 0 || got->seq != 0 || strcmp(got->text, "hello, ring") != 0) {
    fprintf(stderr, "read back the wrong event (seq %" PRId64 ")\n", seq);
    goto out;
  }
  printf("disruptor_mp %s: read '%s' at sequence %" PRId64 "\n", DMP_VERSION_STRING, got->text,
         seq);
  dmp_consumer_release(c);
  status = 0;
out:
  dmp_consumer_close(c);
  dmp_producer_close(p);
  return status;
}
C

cat >"$TMP/myelon.c" <<'C'
/* libmyelon through its umbrella header: the Layer 0 types are the same. */
#include <myelon/myelon.h>
#include <stdio.h>
#include <string.h>

int main(void)
{
  struct dmp_producer_config cfg; /* a disruptor_mp type seen through myelon.h */
  dmp_producer_config_init(&cfg);
  const char *v = myelon_version();
  if (strcmp(v, MYELON_VERSION_STRING) != 0) {
    fprintf(stderr, "myelon_version() %s != header %s\n", v, MYELON_VERSION_STRING);
    return 1;
  }
  char name[DMP_PORTABLE_NAME_MAX + 1];
  int rc = dmp_name_portable("my", name, sizeof name);
  if (rc < 0) {
    fprintf(stderr, "dmp_name_portable: %s\n", dmp_strerror(rc));
    return 1;
  }
  printf("myelon %s on disruptor_mp %s (default capacity field %llu, name %s)\n", v,
         DMP_VERSION_STRING, (unsigned long long)cfg.capacity, name);
  return 0;
}
C

build_and_run() { # name module [--static]
  local prog=$1 mod=$2 mode=${3:-}
  local out=$TMP/$prog$mode
  if [ "$mode" = --static ]; then
    # Link our own libraries from their .a archives (-l:libX.a), everything
    # else (libc, ...) as usual; Libs.private and Requires come from the .pc.
    local libs
    libs=$(pkg-config --static --libs "$mod" | sed -E 's/-l(myelon|disruptor_mp)\b/-l:lib\1.a/g')
    step "build $prog (static: $libs)"
    # shellcheck disable=SC2046,SC2086
    $CC "${CFLAGS_STRICT[@]}" -o "$out" "$TMP/$prog.c" $(pkg-config --cflags "$mod") $libs \
      || fail "static link of $prog against $mod"
    if command -v readelf >/dev/null; then
      ! readelf -d "$out" | grep -Eq 'NEEDED.*lib(myelon|disruptor_mp)' \
        || fail "$prog$mode still needs a shared libmyelon/libdisruptor_mp"
    fi
    step "run $prog$mode (no LD_LIBRARY_PATH)"
    env -u LD_LIBRARY_PATH "$out" || fail "$prog$mode failed"
  else
    step "build $prog: $CC ... \$(pkg-config --cflags --libs $mod)"
    # shellcheck disable=SC2046,SC2086
    $CC "${CFLAGS_STRICT[@]}" -o "$out" "$TMP/$prog.c" $(pkg-config --cflags --libs "$mod") \
      || fail "build of $prog against $mod"
    step "run $prog"
    LD_LIBRARY_PATH=$LIBDIR "$out" || fail "$prog failed"
  fi
}

build_and_run ring disruptor_mp
build_and_run myelon myelon
build_and_run ring disruptor_mp --static
build_and_run myelon myelon --static

step "outside project (tests/install/outside) against the installed .pc files, two processes each"
# The same project outside_test.sh builds from the wraps, here with the
# installed libraries only: no fallback to a subproject is allowed.
cp -r "$SRC/tests/install/outside" "$TMP/outside"
PKG_CONFIG_PATH=$PCDIR "$MESON" setup "$TMP/outside/build" "$TMP/outside" -Dlib=myelon --wrap-mode=nofallback \
  >"$TMP/outside.log" 2>&1 || { cat "$TMP/outside.log"; fail "outside project: meson setup with pkg-config"; }
"$NINJA" -C "$TMP/outside/build" >>"$TMP/outside.log" 2>&1 || { cat "$TMP/outside.log"; fail "outside project: build"; }
for app in ring_app msg_app; do
  LD_LIBRARY_PATH=$LIBDIR "$TMP/outside/build/$app" || fail "outside project: $app (pkg-config)"
done

step "the libmyelon tour: README's text is the installed example; built and run as printed"
tour=$PREFIX/share/doc/myelon/examples/myelon_tour.c
[ -f "$tour" ] || fail "no $tour"
sed -n '/^<!-- begin myelon\/examples\/myelon_tour.c -->$/,/^<!-- end myelon\/examples\/myelon_tour.c -->$/p' \
  "$SRC/README.md" | sed '1,2d;$d' | sed '$d' >"$TMP/tour-readme.c"
cmp -s "$TMP/tour-readme.c" "$tour" || { diff "$TMP/tour-readme.c" "$tour" | head -20; fail "README's tour differs from $tour"; }
build_cmd=$(grep -m1 '^cc -std=c11 -o myelon-tour myelon_tour.c ' "$SRC/README.md") || fail "README lacks the tour's build command"
mkdir -p "$TMP/tour" && cp "$tour" "$TMP/tour/"
(cd "$TMP/tour" && PKG_CONFIG_PATH=$PCDIR sh -c "$build_cmd") || fail "the tour does not build as printed: $build_cmd"
tourname=tour$$
(cd "$TMP/tour" && LD_LIBRARY_PATH=$LIBDIR timeout 60 ./myelon-tour receive "$tourname" >"$TMP/tour/receive.out" 2>&1) &
receiver=$!
(cd "$TMP/tour" && LD_LIBRARY_PATH=$LIBDIR timeout 60 ./myelon-tour send "$tourname") || { kill "$receiver" 2>/dev/null; wait "$receiver" 2>/dev/null; fail "myelon-tour send"; }
wait "$receiver" || { cat "$TMP/tour/receive.out"; fail "myelon-tour receive"; }
cat "$TMP/tour/receive.out"
grep -q '^received 3 framed and 3 typed messages$' "$TMP/tour/receive.out" || fail "the tour's receiver"

step "run the installed dmp-demo"
[ -x "$PREFIX/bin/dmp-demo" ] || fail "dmp-demo is not installed in $PREFIX/bin"
LD_LIBRARY_PATH=$LIBDIR "$PREFIX/bin/dmp-demo" --events 20000 --consumers 2 --timeout 60 \
  || fail "installed dmp-demo"

step "man pages of the installed tools"
for tool in dmp-stat dmp-demo myelon-demo myelon-journal; do
  [ -x "$PREFIX/bin/$tool" ] || fail "$tool is not installed in $PREFIX/bin"
  [ -s "$PREFIX/share/man/man1/$tool.1" ] || fail "no man page $tool.1 in $PREFIX/share/man/man1"
done
echo "man1: $(cd "$PREFIX/share/man/man1" && echo *)"

step "man(3) pages of the libraries' first calls, checked against the installed headers"
# The same check as suite tools (tests/tools/check_man3.py), on what was
# installed: every page renders without a warning, its SYNOPSIS matches the
# installed headers, and every name it documents has a page or link page.
M3=$PREFIX/share/man/man3
[ -d "$M3" ] || fail "no man3 directory $M3"
rc=0
"${PYTHON:-python3}" "$SRC/tests/tools/check_man3.py" --pages "$M3" --include "$PREFIX/include" \
  --symbols "$SRC/tests/abi/disruptor_mp.symbols" --symbols "$SRC/tests/abi/myelon.symbols" \
  --expect dmp_producer_create dmp_consumer_attach dmp_producer_try_claim dmp_producer_publish \
  dmp_consumer_try_peek dmp_consumer_peek_timeout dmp_consumer_release \
  myelon_producer_publish myelon_consumer_recv myelon_typed_producer_publish myelon_typed_consumer_recv \
  myelon_scheduler_create myelon_scheduler_broadcast myelon_scheduler_gather \
  myelon_worker_attach myelon_worker_recv myelon_worker_respond || rc=$?
[ "$rc" -eq 0 ] || [ "$rc" -eq 77 ] || fail "the installed man(3) pages (check_man3.py above)"
# README's `man 3 dmp_producer_create`: man-db finds a page and a link page
# under the prefix (where man-db is installed).
if command -v man >/dev/null; then
  for page in dmp_producer_create dmp_producer_close myelon_consumer_attach; do
    MANPATH=$PREFIX/share/man man -P cat 3 "$page" 2>/dev/null | grep -q "$page" \
      || fail "man 3 $page does not show its page from $PREFIX/share/man"
  done
fi
echo "man3: $(cd "$M3" && ls | wc -l) pages and link pages"

step "license texts installed with each library, identical to the tree's"
for lib in disruptor_mp myelon; do
  for f in LICENSE-MIT LICENSE-APACHE; do
    cmp -s "$PREFIX/share/doc/$lib/$f" "$SRC/$f" || fail "share/doc/$lib/$f missing or not the top-level $f"
  done
done

step "the installed Python package"
PY=${PYTHON:-python3}
pkg=$(find "$PREFIX" -path '*-packages/myelon/__init__.py' | head -n 1)
[ -n "$pkg" ] || fail "the Python package myelon is not installed under $PREFIX"
[ -f "$(dirname "$pkg")/_paths.py" ] || fail "myelon/_paths.py is not installed"
echo "package: $(dirname "$pkg")"
env -u LD_LIBRARY_PATH -u MYELON_LIBDIR PYTHONPATH="$(dirname "$(dirname "$pkg")")" PYTHONDONTWRITEBYTECODE=1 \
  "$PY" - "$PREFIX" <<'PYEOF' || fail "the installed Python package"
import os, sys, myelon
assert myelon.__file__.startswith(sys.argv[1]), myelon.__file__
name = '/inst-py-%d' % os.getpid()
with myelon.Producer(name) as p, myelon.Consumer(name, 'inst') as c:
    p.publish(b'installed', kind=9)
    m = c.recv(timeout=5)
    assert (m.kind, m.bytes()) == (9, b'installed'), (m.kind, m.bytes())
    m.release()
print('python', sys.version.split()[0], 'myelon', myelon.version(), 'from', os.path.dirname(myelon.__file__))
PYEOF

printf '\ninstall test: OK\n'
