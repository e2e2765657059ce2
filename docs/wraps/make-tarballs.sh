#!/usr/bin/env bash
# Make a source tarball of each library of this tree and a wrap file for
# each that points at it:
#
#   docs/wraps/make-tarballs.sh OUTDIR [BASE_URL]
#
# writes OUTDIR/disruptor_mp-VERSION.tar.xz, OUTDIR/myelon-VERSION.tar.xz and
# OUTDIR/disruptor-mp.wrap, OUTDIR/myelon.wrap: the wraps of this directory
# with source_hash set to each tarball's sha256 and source_url to
# BASE_URL/<tarball> (default: file://OUTDIR). Each tarball holds one
# library's directory (its meson.build is the project root), without the
# subprojects/ links that only serve builds inside this tree.
set -euo pipefail
out=${1:?usage: make-tarballs.sh OUTDIR [BASE_URL]}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
base=${2:-file://$out}

for spec in disruptor-mp:disruptor_mp myelon:myelon; do
  dir=${spec%%:*} name=${spec##*:}
  version=$(sed -n "s/^  version : '\\([0-9.]*\\)',\$/\\1/p" "$root/$dir/meson.build" | head -n 1)
  [ -n "$version" ] || { echo "make-tarballs: no version in $dir/meson.build" >&2; exit 1; }
  stem=$name-$version
  tar -C "$root/$dir" --exclude=./subprojects --exclude='./build*' --sort=name --owner=0 --group=0 \
    --numeric-owner --mtime=@0 --transform "s,^\\.,$stem," -cJf "$out/$stem.tar.xz" .
  sum=$(sha256sum "$out/$stem.tar.xz" | cut -d' ' -f1)
  sed -e "s|^directory = .*|directory = $stem|" \
      -e "s|^source_url = .*|source_url = $base/$stem.tar.xz|" \
      -e "s|^source_filename = .*|source_filename = $stem.tar.xz|" \
      -e "s|^source_hash = .*|source_hash = $sum|" \
      "$here/$dir.wrap" >"$out/$dir.wrap"
  echo "$out/$stem.tar.xz ($sum) and $out/$dir.wrap"
done
