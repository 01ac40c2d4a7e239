#!/usr/bin/env bash
# Flatten micro-benchmark: burrow's flattenLayers against GNU `tar -xzf` of the same .tar.gz rootfs blob.
#
# Usage: bench/flatten/run.sh [BLOB.tar.gz]
#   Without BLOB, builds bench/work/rootfs.tar.gz from `debootstrap --variant=minbase bookworm` (cached under
#   bench/work/, which is git-ignored); if debootstrap fails, /usr/share and /usr/include of this machine
#   stand in. Env: RUNS (default 3, best of), DEST (extraction dir, default bench/work/extract; use a tmpfs
#   such as /dev/shm/x to take the disk out of the comparison), SETTLE (seconds of rest before each run,
#   default 2), VERIFY=1 compares the two trees afterwards.
# Needs the project built (`npm run build`), GNU tar, /usr/bin/time.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="$repo/bench/work"
runs="${RUNS:-3}"
dest="${DEST:-$work/extract}"
driver="$repo/dist/bench/flatten/flatten-one.js"
mkdir -p "$work"

blob="${1:-}"
if [ -z "$blob" ]; then
  blob="$work/rootfs.tar.gz"
  if [ ! -s "$blob" ]; then
    root="$work/debootstrap-root"
    if [ ! -x "$root/bin/sh" ]; then
      echo "building a Debian bookworm minbase rootfs with debootstrap (a few minutes)..." >&2
      rm -rf "$root"
      if ! debootstrap --variant=minbase bookworm "$root" http://deb.debian.org/debian >"$work/debootstrap.log" 2>&1; then
        echo "debootstrap failed (see $work/debootstrap.log); using /usr/share and /usr/include as a stand-in" >&2
        rm -rf "$root"
        mkdir -p "$root/usr"
        cp -a /usr/share /usr/include "$root/usr/"
      fi
    fi
    echo "packing $blob..." >&2
    tar -C "$root" -czf "$blob.tmp" . && mv "$blob.tmp" "$blob"
  fi
fi
[ -f "$driver" ] || (cd "$repo" && npx tsc -p tsconfig.json)

# Runs "$@" under /usr/bin/time -v into a fresh $dest; prints "SECONDS KB". The previous tree is removed and
# the disk left to settle first (on ext4 with `discard`, deleting 200 MB keeps the disk busy for seconds).
measure() {
  rm -rf "$dest"
  sync
  sleep "${SETTLE:-2}"
  mkdir -p "$dest"
  local log
  log="$(mktemp)"
  /usr/bin/time -v "$@" >/dev/null 2>"$log" || { cat "$log" >&2; rm -f "$log"; return 1; }
  local wall kb
  wall="$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')"
  kb="$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log")"
  rm -f "$log"
  echo "$wall $kb"
}

# GNU tar run by root also chowns and chmods every file (6 syscalls a file instead of 4); burrow's users are
# not root, so as root the baseline is also measured the way an unprivileged user's tar behaves.
tar_user=(tar --no-same-owner --no-same-permissions -xzf "$blob" -C "$dest")
best() { awk -v a="$1" -v b="$2" 'BEGIN { print (a < b ? a : b) }'; }
maxkb() { awk -v a="$1" -v b="$2" 'BEGIN { print (a > b ? a : b) }'; }
bt_tar=999999 bm_tar=0 bt_user=999999 bm_user=0 bt_bur=999999 bm_bur=0
for i in $(seq 1 "$runs"); do
  read -r t m < <(measure tar -xzf "$blob" -C "$dest")
  echo "run $i: GNU tar -xzf            ${t}s  ${m} KB" >&2
  bt_tar=$(best "$t" "$bt_tar") bm_tar=$(maxkb "$m" "$bm_tar")
  if [ "$(id -u)" = 0 ]; then
    read -r t m < <(measure "${tar_user[@]}")
    echo "run $i: GNU tar -xzf (as a user) ${t}s  ${m} KB" >&2
    bt_user=$(best "$t" "$bt_user") bm_user=$(maxkb "$m" "$bm_user")
  fi
  read -r t m < <(measure node "$driver" "$blob" "$dest")
  echo "run $i: burrow flatten          ${t}s  ${m} KB" >&2
  bt_bur=$(best "$t" "$bt_bur") bm_bur=$(maxkb "$m" "$bm_bur")
done

if [ "${VERIFY:-0}" = 1 ]; then
  list() { (cd "$1" && find . ! -type c ! -type b -printf '%y %m %s %T@ %p -> %l\n' | sort); }
  measure tar -xzf "$blob" -C "$dest" >/dev/null
  list "$dest" >"$work/tar.list"
  measure node "$driver" "$blob" "$dest" >/dev/null
  list "$dest" >"$work/burrow.list"
  if diff -q "$work/tar.list" "$work/burrow.list" >/dev/null; then
    echo "verify: same tree (types, modes, sizes, mtimes, link targets) apart from device nodes" >&2
  else
    echo "verify: trees differ: diff $work/tar.list $work/burrow.list" >&2
  fi
fi
rm -rf "$dest"

size="$(du -m "$blob" | cut -f1)"
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
echo
echo "blob: $blob (${size} MiB), best of $runs, dest $dest"
printf '%-34s %10s %16s\n' "" "wall (s)" "peak RSS (MiB)"
printf '%-34s %10s %16s\n' "GNU tar -xzf" "$bt_tar" "$(mib "$bm_tar")"
if [ "$bm_user" != 0 ]; then
  printf '%-34s %10s %16s\n' "GNU tar -xzf --no-same-owner/perms" "$bt_user" "$(mib "$bm_user")"
fi
printf '%-34s %10s %16s\n' "burrow flatten" "$bt_bur" "$(mib "$bm_bur")"
awk -v b="$bt_bur" -v t="$bt_tar" -v u="$bt_user" -v m="$bm_bur" 'BEGIN {
  printf "ratio burrow / tar -xzf: %.2fx", b / t
  if (u < 999999) printf ", burrow / user-equivalent tar: %.2fx", b / u
  printf " (target <= 1.20x); burrow peak RSS %.1f MiB (target < 128)\n", m / 1024
}'
