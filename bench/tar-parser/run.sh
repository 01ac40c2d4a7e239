#!/usr/bin/env bash
# Tar parser benchmark: burrow's own streaming reader (src/image/tar-parser.ts) against node-tar 7's
# Parser, on the same layer blob, in one run (issue 12: the design card names node-tar).
#
# Usage: bench/tar-parser/run.sh [BLOB.tar.gz]
#   Without BLOB, the Debian layer of bench/pull (bench/work/pull/image/layer.tar.gz; run
#   bench/pull/run.sh once to make it). Each mode runs in its own `node` process under /usr/bin/time -v,
#   RUNS times in rounds (every mode once per round, so a busy machine slows them alike); reported: the
#   median wall time of the process, the median time of the work inside it, and the highest peak RSS.
#   Modes (bench/tar-parser/parse-one.ts): gunzip (the floor: zlib only), burrow and node-tar (headers
#   parsed, data drained), each on the gzip blob and on the plain tar (page cache: the parsers' own cost);
#   with EXTRACT=1 also burrow-x (burrow's flattener) and node-tar-x (tar's Unpack) into DEST.
#   Then fidelity.ts shows what each parser makes of a small GNU tar archive (--format=posix --sparse
#   --xattrs) holding a Latin-1 and a UTF-8 name, a sparse file and an xattr.
# Env: RUNS (default 7), EXTRACT=1, EXTRACT_RUNS (default 3), DEST (default bench/work/tar-parser/x).
# Needs the project built (`npm run build` or `npx tsc`), /usr/bin/time, GNU tar, python3 (the xattr).
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
work="$repo/bench/work/tar-parser"
runs="${RUNS:-7}"
xruns="${EXTRACT_RUNS:-3}"
dest="${DEST:-$work/x}"
driver="$repo/dist/bench/tar-parser/parse-one.js"
blob="${1:-$repo/bench/work/pull/image/layer.tar.gz}"
[ -f "$blob" ] || { echo "no blob $blob: run bench/pull/run.sh once, or give one" >&2; exit 1; }
[ -f "$driver" ] || (cd "$repo" && npx tsc -p tsconfig.json)
mkdir -p "$work"
plain="$work/layer.tar"
gzip -dc "$blob" > "$plain"
res="$work/results.tsv"
: > "$res"

# one MODE INPUT LABEL: one timed process; appends "label wall_s rss_kib inner_ms" to results.tsv.
one() {
  local log inner wall kb
  log="$(mktemp)"
  [ "$1" = burrow-x ] || [ "$1" = node-tar-x ] && { rm -rf "$dest"; sync; }
  /usr/bin/time -v node "$driver" "$1" "$2" "$dest" > /dev/null 2> "$log" || { cat "$log" >&2; exit 1; }
  inner="$(sed -n 's/.* in \([0-9]*\) ms$/\1/p' "$log")"
  wall="$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$log" | awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; print s }')"
  kb="$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$log")"
  rm -f "$log"
  printf '%s\t%s\t%s\t%s\n' "$3" "$wall" "$kb" "$inner" >> "$res"
  printf '%-22s %6ss %7s KiB  (%s ms inside)\n' "$3" "$wall" "$kb" "$inner" >&2
}

for i in $(seq "$runs"); do
  echo "round $i (load $(cut -d' ' -f1 /proc/loadavg))" >&2
  one gunzip "$blob" "gunzip (floor), gz"
  one burrow "$blob" "burrow, gz"
  one node-tar "$blob" "node-tar, gz"
  one gunzip "$plain" "read (floor), tar"
  one burrow "$plain" "burrow, tar"
  one node-tar "$plain" "node-tar, tar"
done
if [ "${EXTRACT:-0}" = 1 ]; then
  for i in $(seq "$xruns"); do
    one burrow-x "$blob" "burrow extract, gz"
    one node-tar-x "$blob" "node-tar extract, gz"
  done
fi
rm -rf "$dest" "$plain"

echo
echo "blob: $blob ($(du -m "$blob" | cut -f1) MiB gzip), $runs rounds ($xruns for extraction), node $(node --version), tar $(node -p 'require("'"$repo"'/node_modules/tar/package.json").version')"
awk -F'\t' '
  { n[$1]++; w[$1, n[$1]] = $2; m[$1, n[$1]] = $4; if ($3 > r[$1]) r[$1] = $3; if (!($1 in seen)) { seen[$1] = 1; order[++k] = $1 } }
  function median(a, key, c,    i, j, t, v) {
    for (i = 1; i <= c; i++) v[i] = a[key, i] + 0
    for (i = 1; i <= c; i++) for (j = i + 1; j <= c; j++) if (v[j] < v[i]) { t = v[i]; v[i] = v[j]; v[j] = t }
    return c % 2 ? v[(c + 1) / 2] : (v[c / 2] + v[c / 2 + 1]) / 2
  }
  END {
    printf "%-22s %14s %18s %16s\n", "mode", "median wall s", "median inside ms", "peak RSS MiB"
    for (i = 1; i <= k; i++) { t = order[i]
      printf "%-22s %14.2f %18d %16.1f\n", t, median(w, t, n[t]), median(m, t, n[t]), r[t] / 1024 }
  }' "$res"

# Fidelity: the members burrow must keep (faithful-files.test), as each parser reports them.
fid="$work/fidelity"
rm -rf "$fid"
mkdir -p "$fid/src"
printf x > "$fid/src/$(printf 'caf\xe9')"
printf y > "$fid/src/$(printf 'caf\xc3\xa9')"
truncate -s 8M "$fid/src/sparse"
printf data | dd of="$fid/src/sparse" bs=1 seek=4M conv=notrunc 2> /dev/null
echo hi > "$fid/src/xa"
python3 -c 'import os, sys; os.setxattr(sys.argv[1], "user.test", b"v1")' "$fid/src/xa" 2> /dev/null ||
  echo "(no user xattrs on this file system: the xattr member is left out)" >&2
tar --format=posix --sparse --xattrs -C "$fid/src" -cf "$fid/fid.tar" .
echo
echo "fidelity (names as hex bytes; e9 is Latin-1 e-acute, c3a9 UTF-8, efbfbd the replacement character):"
node "$repo/dist/bench/tar-parser/fidelity.js" "$fid/fid.tar"
rm -rf "$fid"
