#!/bin/sh
# Builds burrow-ns into vendor/linux-<arch>/ for `npm run build` (and the package's install script).
#
#   sh engines/userns/build.sh               build (or bring up to date); a compile error fails
#   sh engines/userns/build.sh --if-missing  install time: only when no binary is there, never fails
#
# Without a usable C compiler (or off Linux) it prints one notice line and succeeds: the userns
# engine's probe then says the helper is missing, and another engine is chosen. Uses make when it
# is installed, else runs the compiler directly with the Makefile's flags (only a compiler and the
# libc and Linux headers are needed).
set -u

mode=${1:-build}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)

notice() {
	echo "burrow-ns: not built: $*; the userns engine stays unavailable until 'make -C $here' builds it" >&2
}

if [ "$(uname -s)" != Linux ]; then
	echo "burrow-ns: not built: the userns engine runs on Linux only" >&2
	exit 0
fi

# Node's names for the architecture (process.arch), as the engine looks for vendor/linux-${arch}.
case $(uname -m) in
x86_64) arch=x64 ;;
aarch64 | arm64) arch=arm64 ;;
ppc64le) arch=ppc64 ;;
*) arch=$(uname -m) ;;
esac
outdir=$root/vendor/linux-$arch

if [ "$mode" = --if-missing ] && [ -x "$outdir/burrow-ns" ]; then
	exit 0
fi

# The first compiler that can build a program using the headers the helper needs.
cc=
for candidate in ${CC:-} cc gcc clang; do
	command -v "$candidate" >/dev/null 2>&1 || continue
	if printf '#include <linux/seccomp.h>\n#include <sys/mount.h>\nint main(void) { return 0; }\n' |
		"$candidate" -x c -o /dev/null - >/dev/null 2>&1; then
		cc=$candidate
		break
	fi
done
if [ -z "$cc" ]; then
	if command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || command -v clang >/dev/null 2>&1; then
		notice "the C compiler cannot find the libc and Linux headers (Debian: apt-get install libc6-dev)"
	else
		notice "no C compiler (cc, gcc or clang) found"
	fi
	exit 0
fi

build() {
	if command -v make >/dev/null 2>&1; then
		make -s --no-print-directory -C "$here" CC="$cc" OUTDIR="$outdir"
		return
	fi
	# No make: the same flags as the Makefile (static when the C library has a static archive).
	mkdir -p "$outdir" || return
	tmp=$outdir/burrow-ns.tmp.$$
	link=-static
	kind=static
	if ! printf 'int main(void) { return 0; }\n' | "$cc" -static -x c -o "$tmp" - >/dev/null 2>&1; then
		link=
		kind='dynamic (static libc missing: install libc6-dev, or glibc-static, for a static build)'
	fi
	rm -f "$tmp"
	(cd "$here" && "$cc" ${CFLAGS:--O2} -std=gnu11 -Wall -Wextra -Werror -D_GNU_SOURCE $link ${LDFLAGS:--s} \
		-o "$tmp" ./*.c ../common/printable.c) &&
		mv -f "$tmp" "$outdir/burrow-ns" &&
		echo "burrow-ns: built $kind: $outdir/burrow-ns"
	status=$?
	rm -f "$tmp"
	return $status
}

if build; then
	exit 0
fi
if [ "$mode" = --if-missing ]; then
	echo "burrow-ns: the build failed (see above); the userns engine stays unavailable, another engine will be chosen" >&2
	exit 0
fi
exit 1
