#!/bin/sh
# Builds a static PRoot into vendor/linux-<arch>/proot, from the sources the package ships in
# vendor/src/ (PRoot's release source and talloc's, pinned by vendor/src/SHA256SUMS), for
# `npm run build` and the package's install script. No network is used.
#
#   sh engines/proot/build.sh               build (or bring up to date); a failed build fails
#   sh engines/proot/build.sh --if-missing  install time: only when no binary is there, never fails
#   PROOT_CROSS_COMPILE=aarch64-linux-gnu- sh engines/proot/build.sh
#       cross-builds vendor/linux-arm64/proot on another machine (Debian: apt-get install
#       gcc-aarch64-linux-gnu libc6-dev-arm64-cross); not part of `npm run build`
#
# Needs a C compiler with a static C library, GNU make and binutils (ar, objcopy, objdump; Debian:
# apt-get install gcc make libc6-dev). Without them it prints one notice line and succeeds: the
# proot engine then uses a PRoot from `burrow install` or PATH. talloc is compiled from its one
# source file with engines/proot/talloc/replace.h (no waf, no Python); PRoot with its own makefile.
# Beside the binary go its licence, talloc's, and proot.SOURCE, which says where the source is.
set -u

mode=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
src=$root/vendor/src

PROOT_VERSION=5.4.0
TALLOC_VERSION=2.4.3
proot_tar=proot_$PROOT_VERSION.orig.tar.gz
talloc_tar=talloc-$TALLOC_VERSION.tar.gz

notice() {
	echo "proot: not built: $*; the proot engine uses a PRoot from \`burrow install\` or PATH" >&2
}

[ "$(uname -s)" = Linux ] || exit 0
cross=${PROOT_CROSS_COMPILE:-}
machine=$(uname -m)
if [ -n "$cross" ]; then
	machine=$("${cross}gcc" -dumpmachine 2>/dev/null) || {
		echo "proot: no ${cross}gcc for PROOT_CROSS_COMPILE=$cross" >&2
		exit 1
	}
	machine=${machine%%-*}
fi
case $machine in
x86_64) arch=x64 ;;
aarch64 | arm64) arch=arm64 ;;
ppc64le) arch=ppc64 ;;
*) arch=$machine ;;
esac
outdir=$root/vendor/linux-$arch
out=$outdir/proot

if [ "$mode" = --if-missing ] && [ -x "$out" ]; then
	exit 0
fi
if [ -x "$out" ] && [ "$out" -nt "$src/$proot_tar" ] && [ "$out" -nt "$src/$talloc_tar" ] &&
	[ "$out" -nt "$here/build.sh" ] && [ "$out" -nt "$here/talloc/replace.h" ]; then
	exit 0
fi
if [ ! -f "$src/$proot_tar" ] || [ ! -f "$src/$talloc_tar" ]; then
	notice "its sources are not in $src ($proot_tar, $talloc_tar)"
	exit 0
fi

cc=
candidates="${CC:-} cc gcc clang"
[ -n "$cross" ] && candidates=${cross}gcc
for candidate in $candidates; do
	command -v "$candidate" >/dev/null 2>&1 || continue
	if printf 'int main(void) { return 0; }\n' | "$candidate" -static -x c -o /dev/null - >/dev/null 2>&1; then
		cc=$candidate
		break
	fi
done
if [ -z "$cc" ]; then
	notice "no C compiler with a static C library (Debian: apt-get install gcc libc6-dev)"
	exit 0
fi
for tool in make "${cross}ar" "${cross}objcopy" "${cross}objdump" sha256sum tar gzip; do
	if ! command -v "$tool" >/dev/null 2>&1; then
		notice "no $tool (Debian: apt-get install make binutils coreutils tar gzip)"
		exit 0
	fi
done
if ! make --version 2>/dev/null | grep -q 'GNU Make'; then
	notice "PRoot's makefile needs GNU make"
	exit 0
fi

fail() {
	echo "proot: the build failed: $*" >&2
	[ "$mode" = --if-missing ] && exit 0
	exit 1
}

# The shipped sources must be the pinned ones.
if ! (cd "$src" && grep -E " ($proot_tar|$talloc_tar)\$" SHA256SUMS | sha256sum -c --quiet --strict - >/dev/null 2>&1); then
	fail "$src does not match its SHA256SUMS (changed or damaged sources)"
fi
if [ "$(grep -cE " ($proot_tar|$talloc_tar)\$" "$src/SHA256SUMS")" != 2 ]; then
	fail "$src/SHA256SUMS does not list $proot_tar and $talloc_tar"
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/burrow-proot-build.XXXXXX") || fail "cannot make a build folder"
trap 'rm -rf "$tmp"' EXIT
trap 'rm -rf "$tmp"; exit 130' INT TERM
log=$tmp/build.log
jobs=$(nproc 2>/dev/null || echo 1)
started=$(date +%s)

build() {
	tar -C "$tmp" -xzf "$src/$proot_tar" && tar -C "$tmp" -xzf "$src/$talloc_tar" || return
	t=$tmp/talloc-$TALLOC_VERSION
	major=${TALLOC_VERSION%%.*}
	rest=${TALLOC_VERSION#*.}
	minor=${rest%%.*}
	release=${rest#*.}
	"$cc" ${CFLAGS:--O2} -Wall -I"$here/talloc" -I"$t" -DTALLOC_BUILD_VERSION_MAJOR="$major" \
		-DTALLOC_BUILD_VERSION_MINOR="$minor" -DTALLOC_BUILD_VERSION_RELEASE="$release" \
		-c "$t/talloc.c" -o "$t/talloc.o" && "${cross}ar" rcs "$t/libtalloc.a" "$t/talloc.o" || return
	# PRoot's makefile adds its own flags to these (and asks pkg-config for talloc's, which may
	# answer nothing). The version is given: without it the makefile asks git, which would
	# describe burrow's repository.
	CFLAGS="${CFLAGS:--O2} -I$t" LDFLAGS="-static -s -L$t -ltalloc" \
		make -C "$tmp/proot-$PROOT_VERSION/src" -j"$jobs" proot CC="$cc" CROSS_COMPILE="$cross" \
		GIT_VERSION="$PROOT_VERSION" GIT_COMMIT= VERSION="$PROOT_VERSION" || return
	[ -n "$cross" ] || "$tmp/proot-$PROOT_VERSION/src/proot" --version >/dev/null || return
	mkdir -p "$outdir" &&
		cp "$tmp/proot-$PROOT_VERSION/COPYING" "$outdir/proot.COPYING" &&
		cp "$t/LICENSE" "$outdir/talloc.LICENSE" &&
		cp "$t/COPYING" "$outdir/talloc.COPYING" || return
	proot_sum=$(grep " $proot_tar\$" "$src/SHA256SUMS" | cut -d' ' -f1)
	talloc_sum=$(grep " $talloc_tar\$" "$src/SHA256SUMS" | cut -d' ' -f1)
	cat >"$outdir/proot.SOURCE" <<NOTE || return
proot: PRoot $PROOT_VERSION (https://proot-me.github.io), linked statically with talloc $TALLOC_VERSION.

PRoot is free software under the GNU General Public License, version 2 or later (proot.COPYING).
talloc is under the GNU Lesser General Public License, version 3 or later (talloc.LICENSE, which
refers to the GNU GPL version 3 text in talloc.COPYING).

Their complete source is shipped in this package, in vendor/src/:
  $proot_tar  sha256 $proot_sum
    PRoot's $PROOT_VERSION release source, as Debian's proot source package ships it
  $talloc_tar  sha256 $talloc_sum
    talloc's source from Debian's samba source package (what is in it: its SOURCE file)
and burrow's build script and talloc configuration header are engines/proot/build.sh and
engines/proot/talloc/replace.h. To rebuild (no network needed; gcc, make, libc6-dev):
  rm vendor/linux-$arch/proot && sh engines/proot/build.sh
NOTE
	install -m 0755 "$tmp/proot-$PROOT_VERSION/src/proot" "$out.tmp.$$" && mv -f "$out.tmp.$$" "$out"
}

if build >"$log" 2>&1; then
	echo "proot: built static PRoot $PROOT_VERSION in $(($(date +%s) - started)) s: $out"
	exit 0
fi
rm -f "$out.tmp.$$"
tail -n 20 "$log" >&2
fail "see the lines above"
