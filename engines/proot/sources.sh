#!/bin/sh
# Maintainer's script: makes vendor/src/ (the sources engines/proot/build.sh builds the static PRoot
# from) out of Debian's source files, and writes vendor/src/SHA256SUMS. Not run by any build.
#
#   sh engines/proot/sources.sh DIR
#
# DIR holds Debian's files, fetched for example with a deb-src line for trixie and
#   apt-get source --download-only proot=5.4.0-3 samba=2:4.22.11+dfsg-0+deb13u1
# (only the two .orig tarballs are read). Their sha256 sums are the ones Debian's .dsc files list,
# pinned below, so a changed download is refused.
#
# - PRoot: Debian's proot_5.4.0.orig.tar.gz is PRoot's 5.4.0 release source; copied unchanged.
# - talloc: Debian builds it from Samba's source (samba_*.orig.tar.xz, 25 MB). Only what a static
#   libtalloc.a needs is kept: lib/talloc/talloc.c and talloc.h, its wscript (the version numbers),
#   NEWS, its licence (LGPL-3.0-or-later, lib/talloc/LICENSE) and the GPL-3 text it refers to
#   (Samba's COPYING), repacked reproducibly as talloc-VERSION.tar.gz.
set -eu

PROOT_ORIG=proot_5.4.0.orig.tar.gz
PROOT_ORIG_SHA256=29248aac2a7ce10c3bd5ee5602742ec33b2532310ff9cf73b79f3c133e5a5f68
SAMBA_ORIG=samba_4.22.11+dfsg.orig.tar.xz
SAMBA_ORIG_SHA256=4379aa4bc6c453bfa55697556d6195ab69b1cad71e5fdfaf2c53849d96d40f0a
SAMBA_DIR=samba-4.22.11

[ $# -eq 1 ] || {
	echo "usage: sh engines/proot/sources.sh DIR (a folder with $PROOT_ORIG and $SAMBA_ORIG)" >&2
	exit 2
}
from=$(cd "$1" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
dest=$(cd "$here/../.." && pwd)/vendor/src

check() {
	sum=$(sha256sum "$from/$1" | cut -d' ' -f1)
	[ "$sum" = "$2" ] || {
		echo "$from/$1: sha256 $sum, not Debian's $2" >&2
		exit 1
	}
}
check "$PROOT_ORIG" "$PROOT_ORIG_SHA256"
check "$SAMBA_ORIG" "$SAMBA_ORIG_SHA256"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/burrow-proot-sources.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
tar -C "$tmp" -xJf "$from/$SAMBA_ORIG" "$SAMBA_DIR/COPYING" "$SAMBA_DIR/lib/talloc/talloc.c" \
	"$SAMBA_DIR/lib/talloc/talloc.h" "$SAMBA_DIR/lib/talloc/wscript" "$SAMBA_DIR/lib/talloc/NEWS" \
	"$SAMBA_DIR/lib/talloc/LICENSE"
version=$(sed -n "s/^VERSION = '\([0-9.]*\)'.*/\1/p" "$tmp/$SAMBA_DIR/lib/talloc/wscript")
[ -n "$version" ] || {
	echo "no VERSION in talloc's wscript" >&2
	exit 1
}
t=$tmp/talloc-$version
mkdir "$t"
cp "$tmp/$SAMBA_DIR/lib/talloc/talloc.c" "$tmp/$SAMBA_DIR/lib/talloc/talloc.h" \
	"$tmp/$SAMBA_DIR/lib/talloc/wscript" "$tmp/$SAMBA_DIR/lib/talloc/NEWS" \
	"$tmp/$SAMBA_DIR/lib/talloc/LICENSE" "$t/"
cp "$tmp/$SAMBA_DIR/COPYING" "$t/COPYING"
cat >"$t/SOURCE" <<NOTE
talloc $version: lib/talloc/{talloc.c,talloc.h,wscript,NEWS,LICENSE} and COPYING from
Debian's $SAMBA_ORIG (sha256 $SAMBA_ORIG_SHA256),
unchanged. Licence: LGPL-3.0-or-later (LICENSE), which refers to the GPL-3 text (COPYING).
NOTE

mkdir -p "$dest"
rm -f "$dest"/talloc-*.tar.gz "$dest"/proot_*.orig.tar.gz
tar -C "$tmp" --sort=name --owner=0 --group=0 --numeric-owner --mtime='2025-01-01 00:00:00Z' \
	-cf - "talloc-$version" | gzip -n -9 >"$dest/talloc-$version.tar.gz"
cp "$from/$PROOT_ORIG" "$dest/$PROOT_ORIG"
(cd "$dest" && sha256sum "$PROOT_ORIG" "talloc-$version.tar.gz" >SHA256SUMS)
echo "vendor/src: $PROOT_ORIG, talloc-$version.tar.gz, SHA256SUMS" >&2
cat "$dest/SHA256SUMS"
