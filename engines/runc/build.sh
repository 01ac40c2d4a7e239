#!/bin/sh
# Builds burrow-runc-init (the runc engine's in-container init, engines/runc/init.c) into
# vendor/linux-<arch>/. It runs inside images, so it must be static: without a static C library
# it is not built (one notice line, success), and the runc engine then runs root only, without
# an init (engines/runc/README.md).
#
#   sh engines/runc/build.sh               build (or bring up to date); a compile error fails
#   sh engines/runc/build.sh --if-missing  install time: only when no binary is there, never fails
set -u

mode=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

notice() {
	echo "burrow-runc-init: not built: $*; the runc engine runs root-only containers without it" >&2
}

[ "$(uname -s)" = Linux ] || exit 0
case $(uname -m) in
x86_64) arch=x64 ;;
aarch64 | arm64) arch=arm64 ;;
ppc64le) arch=ppc64 ;;
*) arch=$(uname -m) ;;
esac
outdir=$root/vendor/linux-$arch
out=$outdir/burrow-runc-init

if [ "$mode" = --if-missing ] && [ -x "$out" ]; then
	exit 0
fi
common=$here/../common
if [ -x "$out" ] && [ "$out" -nt "$here/init.c" ] && [ "$out" -nt "$common/printable.c" ] &&
	[ "$out" -nt "$common/printable.h" ]; then
	exit 0
fi

cc=
for candidate in ${CC:-} cc gcc clang; do
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

mkdir -p "$outdir" || exit 1
tmp=$out.tmp.$$
if "$cc" ${CFLAGS:--O2} -std=gnu11 -Wall -Wextra -Werror -static ${LDFLAGS:--s} -o "$tmp" "$here/init.c" "$common/printable.c" &&
	mv -f "$tmp" "$out"; then
	echo "burrow-runc-init: built static: $out"
	exit 0
fi
rm -f "$tmp"
[ "$mode" = --if-missing ] && exit 0
exit 1
