#!/usr/bin/env bash
# SquashFS benchmark (issue 14): on a simulated shared parallel file system, do images kept as one
# SquashFS file spare the metadata server? BENCH_RANKS ranks start at once, as an MPI job's do on a node,
# each a Python program in the container that imports a few standard modules, from the image kept three
# ways on that file system:
#   - burrow, dir store:      `burrow --repo STORE run --engine userns IMAGE python3 -c ...`, the image a
#                             folder of thousands of files (BURROW_IMAGE_FORMAT=dir, the default);
#   - burrow, squashfs store: the same, the image one file `images/ID/rootfs.sqfs`
#                             (BURROW_IMAGE_FORMAT=squashfs) that each run mounts with SquashFUSE inside
#                             its user namespace;
#   - ch-run:                 Charliecloud's `ch-run IMG.sqfs -- python3 -c ...`, the same tree packed
#                             with `mksquashfs -all-root` (gzip, its usual), mounted by ch-run itself.
# Measured per mode (medians of BENCH_RUNS rounds, every mode once per round, after one unmeasured rank
# of each): the wall time from the first rank's start to the last one's end, and the metadata operations
# the file system served; to read them by: the file data read through it (MiB), its own CPU time, and
# one rank's CPU time (/usr/bin/time: the processes it waited for). Ratios: squashfs/dir operations
# (target <= 0.05) and wall (<= 1.0), squashfs/ch-run wall (<= 0.5). Separately, on plain local disk
# and without delay: a pull in each format into a fresh store, its wall time (ratio squashfs/dir,
# target <= 1.3) and peak RSS (of the largest single process: /usr/bin/time %M), and the share of both
# of the squashfs pull's mksquashfs (given to burrow as BURROW_MKSQUASHFS, under /usr/bin/time).
#
#   - The file system: bench/sqfs/delayfs.py, a FUSE passthrough (python3-fusepy) of $W/backing mounted
#     at $W/shared by BENCH_USER, that sleeps BENCH_DELAY_MS before every metadata operation (lookup,
#     getattr, readdir, open, ...; not reads and writes of data), counts them, and lets the kernel cache
#     no attributes or entries, as a parallel file system's metadata server sees every lookup (file
#     data stays cached only while a file is open: libfuse's default). Both stores and the ch-run file
#     live on it; pulls into it are made with no delay (logged, not measured). Its control files are
#     in $W/control (see delayfs.py). Note: delayfs runs on libfuse 2, which cannot ask the kernel for
#     parallel directory operations: the kernel sends the lookups of names it has no entry for (failed
#     and first lookups) and the readdirs of one folder one at a time, across all ranks.
#   - The image: Debian bookworm minbase with python3 (debootstrap, once; cached as
#     /var/cache/burrow-test/debian-bookworm-python3-x64-v1.tar.gz), pushed to a docker-registry this
#     script starts on 127.0.0.1 (plain HTTP).
#   - Everything is run by the unprivileged BENCH_USER (default burrowbench, made when missing), each
#     run's scratch (BURROW_TMPDIR, ch-run's mount points) on node-local disk in $W/node-tmp.
#   - Run as root: it installs what is missing (squashfs-tools, squashfuse, fuse3, python3-fusepy,
#     charliecloud-runtime, docker-registry, debootstrap, time), builds the image, and makes /dev/fuse
#     0666 for the run (FUSE mounts by the unprivileged user: delayfs, SquashFUSE; udev's usual mode,
#     which some machines lack), putting its old mode back at the end.
#
# Environment:
#   BENCH_RUNS=3             rounds (each mode once per round), and pulls per format
#   BENCH_RANKS=8            processes started at once per mode
#   BENCH_DELAY_MS=1         the delay of each metadata operation, in milliseconds
#   BENCH_USER=NAME          the unprivileged user (default burrowbench)
#   BENCH_WORK=DIR           scratch folder (default: bench/work/sqfs)
#   BENCH_TARBALL=FILE       the image's rootfs tarball (default: the cached debootstrap, built if missing)
#   BENCH_MIRROR=URL         Debian mirror for debootstrap (default: the first of apt's sources)
#   BENCH_BURROW_CLI=main    how the ranks run burrow: main (`node dist/src/cli/main.js --repo STORE run`,
#                            always through Node) or bin (the package's bin dist/src/cli/burrow.cjs with
#                            BURROW_DIR=STORE: its sh line replays the run's record without Node, the
#                            record made by the unmeasured first run, in the node-local HOME)
#   BENCH_NO_BUILD=1         do not run `npm run build` first
#   BENCH_NO_PULL=1          leave out the pull cost (the runs only)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
W=${BENCH_WORK:-$REPO/bench/work/sqfs}
RUNS=${BENCH_RUNS:-3}
RANKS=${BENCH_RANKS:-8}
DELAY_MS=${BENCH_DELAY_MS:-1}
CACHE=/var/cache/burrow-test
TARBALL=${BENCH_TARBALL:-$CACHE/debian-bookworm-python3-x64-v1.tar.gz}
CLI=${BENCH_BURROW_CLI:-main}
PY="import json, os, re, email.parser, http.client, subprocess, argparse, logging; print('ok')"
# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

[[ $IS_ROOT -eq 1 ]] || die "run it as root: it installs packages, makes /dev/fuse 0666 and measures as BENCH_USER"
[[ $RUNS =~ ^[1-9][0-9]*$ && $RANKS =~ ^[1-9][0-9]*$ ]] || die "BENCH_RUNS and BENCH_RANKS must be positive integers"
[[ $DELAY_MS =~ ^[0-9]+([.][0-9]+)?$ ]] || die "BENCH_DELAY_MS must be a number of milliseconds"

# ---------------------------------------------------------------- prerequisites
need_pkg mksquashfs squashfs-tools
need_pkg squashfuse squashfuse
need_pkg fusermount3 fuse3
need_pkg ch-run charliecloud-runtime
need_pkg docker-registry docker-registry
need_pkg debootstrap debootstrap
need_pkg curl curl
need_pkg node nodejs
[[ -x /usr/bin/time ]] || apt_install time || die "/usr/bin/time not found (Debian package time)"
# delayfs runs with the system Python, where Debian's python3-fusepy is (module `fusepy`).
PYTHON=/usr/bin/python3
"$PYTHON" -c 'import fusepy' 2> /dev/null || apt_install python3-fusepy || die "python3-fusepy not found"
[[ -c /dev/fuse ]] || die "no /dev/fuse on this machine"

bench_user
npm_build
stage_pkg
cp "$HERE/delayfs.py" "$W/pkg/delayfs.py"
chmod a+r "$W/pkg/delayfs.py"
NODE=$(command -v node)
BURROW=("$NODE" "$W/pkg/dist/src/cli/main.js")
case $CLI in
  main) RUN_HOW="node main.js --repo STORE run" ;;
  # The package's bin: its sh line replays a run's record without Node when `run` is its first word, so
  # the store is given as BURROW_DIR (not --repo) there.
  bin) RUN_HOW="bin, BURROW_DIR=STORE run" ;;
  *) die "BENCH_BURROW_CLI must be main or bin" ;;
esac

# ---------------------------------------------------------------- clean-up
MNT=$W/shared
CTL=$W/control
TMPN=$W/node-tmp
DELAYFS_PID=""
FUSE_MODE=""
# mounted DIR: DIR is a mount point (read from the mount table: root may not stat another user's FUSE mount).
mounted() { awk -v d="$1" '$2 == d { found = 1 } END { exit !found }' /proc/self/mounts; }
unmount() {
  mounted "$1" || return 0
  run_as / -- fusermount3 -u "$1" 2> /dev/null || umount -l "$1" 2> /dev/null || true
}
cleanup() {
  local m
  for m in "$TMPN"/ch-mnt-*; do [[ -d $m ]] && unmount "$m"; done
  unmount "$MNT"
  [[ -n $DELAYFS_PID ]] && wait "$DELAYFS_PID" 2> /dev/null
  stop_registry
  [[ -n $FUSE_MODE ]] && chmod "$FUSE_MODE" /dev/fuse
  return 0
}
trap cleanup EXIT
cleanup # what a run that was killed left mounted
rm -rf "${W:?}/backing" "$MNT" "$CTL" "$TMPN" "${W:?}/home" "$W/logs" "$W/pull" "$W/rootfs"
user_dirs "$W/backing" "$MNT" "$CTL" "$TMPN" "$W/home" "$W/logs"
# FUSE mounts as BENCH_USER (delayfs, and SquashFUSE in burrow's and ch-run's runs) need /dev/fuse open
# to all, as udev makes it; the old mode is put back at exit.
FUSE_MODE=$(stat -c %a /dev/fuse)
chmod 666 /dev/fuse

# ---------------------------------------------------------------- the image
# debian_mirror: the Debian archive apt uses here (a deb line or a deb822 URIs field ending in /debian).
debian_mirror() {
  grep -h -E '^[[:space:]]*(deb|URIs:)[[:space:]]' /etc/apt/sources.list /etc/apt/sources.list.d/*.list \
    /etc/apt/sources.list.d/*.sources 2> /dev/null | grep -o -E 'https?://[^[:space:]]*/debian/?([[:space:]]|$)' |
    head -n 1 | tr -d '[:space:]' || true
}
if [[ ! -f $TARBALL ]]; then
  [[ -z ${BENCH_TARBALL:-} ]] || die "$TARBALL: no such file"
  MIRROR=${BENCH_MIRROR:-$(debian_mirror)}
  MIRROR=${MIRROR:-http://deb.debian.org/debian}
  log "building the image: debootstrap --variant=minbase --include=python3 bookworm from $MIRROR (a few minutes)"
  mkdir -p "$CACHE"
  rm -rf "$W/debootstrap"
  debootstrap --variant=minbase --include=python3 bookworm "$W/debootstrap" "$MIRROR" > "$W/debootstrap.log" 2>&1 ||
    die "debootstrap failed; see $W/debootstrap.log"
  # What image builders leave out: downloaded packages, package lists, device nodes.
  find "$W/debootstrap/var/cache/apt/archives" -name '*.deb' -delete
  find "$W/debootstrap/var/lib/apt/lists" -maxdepth 1 -type f ! -name lock -delete
  find "$W/debootstrap/dev" -mindepth 1 -delete
  tar -C "$W/debootstrap" --numeric-owner --sort=name -czf "$TARBALL.part" .
  mv "$TARBALL.part" "$TARBALL"
  rm -rf "$W/debootstrap"
fi
mkdir -p "$W/rootfs"
tar -C "$W/rootfs" --numeric-owner -xzf "$TARBALL"
[[ -x $W/rootfs/usr/bin/python3 ]] || die "$TARBALL has no /usr/bin/python3"
ENTRIES=$(find "$W/rootfs" -mindepth 1 | wc -l)
cp "$TARBALL" "$W/layer.tar.gz"
chmod a+r "$W/layer.tar.gz"
# ch-run's file, on the shared file system (written to its backing folder: root has no access to the mount).
mksquashfs "$W/rootfs" "$W/backing/img.sqfs" -noappend -all-root -no-progress > "$W/logs/mksquashfs.log" 2>&1 ||
  die "mksquashfs failed; see $W/logs/mksquashfs.log"
chown "$UID_:$GID_" "$W/backing/img.sqfs"

start_registry
push_image bench/debian-python:12 "$W/layer.tar.gz"
REF=$HOSTPORT/bench/debian-python:12
log "image $REF: $ENTRIES entries, $(du -m "$W/layer.tar.gz" | cut -f1) MiB gzip layer"

# ---------------------------------------------------------------- the delayed file system
run_as "$W" PATH=/usr/bin:/bin -- "$PYTHON" "$W/pkg/delayfs.py" "$W/backing" "$MNT" "$CTL" > "$W/delayfs.log" 2>&1 &
DELAYFS_PID=$!
for _ in $(seq 100); do
  [[ -f $CTL/ready ]] && break
  kill -0 "$DELAYFS_PID" 2> /dev/null || die "delayfs exited: $(cat "$W/delayfs.log")"
  sleep 0.1
done
[[ -f $CTL/ready ]] || die "delayfs did not come up in 10 s; see $W/delayfs.log"
# ctl reset|dump: has delayfs do it, and waits until it has (it deletes the file).
ctl() {
  : > "$CTL/$1"
  for _ in $(seq 500); do
    [[ -e $CTL/$1 ]] || return 0
    sleep 0.01
  done
  die "delayfs did not answer $1 in 5 s; see $W/delayfs.log"
}
# set_delay MS: the delay in force (delayfs reads it again every 0.2 s).
set_delay() {
  echo "$1" > "$CTL/delay_ms"
  sleep 0.5
}
set_delay 0

BENV=(HOME="$W/home" PATH="$(dirname "$NODE"):/usr/bin:/bin:/usr/sbin:/sbin" BURROW_INSECURE_REGISTRIES="$HOSTPORT"
  BURROW_TMPDIR="$TMPN" XDG_RUNTIME_DIR="$TMPN")
now() { date +%s.%N; }
secs() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", b - a }'; }
# pull_into STORE FORMAT LOG: `burrow pull` of the image into STORE in FORMAT.
pull_into() {
  run_as "$W/home" "${BENV[@]}" BURROW_IMAGE_FORMAT="$2" -- "${BURROW[@]}" --repo "$1" pull -q "$REF" > "$3" 2>&1 ||
    die "burrow pull ($2) into $1 failed: $(tail -n 5 "$3")"
}
t=$(now)
pull_into "$MNT/dirstore" dir "$W/logs/pull-shared-dir.log"
log "pulled into $MNT/dirstore (dir format) in $(secs "$t" "$(now)") s"
t=$(now)
pull_into "$MNT/sqstore" squashfs "$W/logs/pull-shared-squashfs.log"
log "pulled into $MNT/sqstore (squashfs format) in $(secs "$t" "$(now)") s"
SQ_STORED=$(run_as "$W/home" -- find "$MNT/sqstore/images" -name rootfs.sqfs -printf '%s\n' | head -n 1)
[[ -n $SQ_STORED ]] || die "the squashfs store holds no images/ID/rootfs.sqfs"

# ---------------------------------------------------------------- the measurement
MODES=(dir sqfs ch-run)
declare -A LABEL=(
  [dir]="burrow run, dir store"
  [sqfs]="burrow run, squashfs store"
  [ch-run]="ch-run IMG.sqfs"
)
# rank MODE R: one rank's command, under /usr/bin/time (its CPU seconds, user and system, of the processes
# it waited for, to logs/MODE-NAME-R.cpu).
rank() {
  local timed=(/usr/bin/time -f '%U %S' -o "$3")
  case $1 in
    dir | sqfs)
      # Each store its own cache folder (node-local): burrow's replay records are keyed by the command
      # line, not the store, so the two modes in turn would each replace the other's record.
      local store=$MNT/dirstore cache=(XDG_CACHE_HOME="$W/home/cache-$1")
      [[ $1 == sqfs ]] && store=$MNT/sqstore
      if [[ $CLI == bin ]]; then
        run_as "$W/home" "${BENV[@]}" "${cache[@]}" BURROW_DIR="$store" -- "${timed[@]}" "$W/pkg/dist/src/cli/burrow.cjs" \
          run --engine userns "$REF" python3 -c "$PY"
      else
        run_as "$W/home" "${BENV[@]}" "${cache[@]}" -- "${timed[@]}" "${BURROW[@]}" --repo "$store" run --engine userns "$REF" python3 -c "$PY"
      fi
      ;;
    ch-run)
      # Each rank its own mount point (ch-run's default, /var/tmp/USER.ch/mnt, is one per user).
      mkdir -p "$TMPN/ch-mnt-$2"
      chown "$UID_:$GID_" "$TMPN/ch-mnt-$2"
      run_as "$W/home" HOME="$W/home" PATH=/usr/bin:/bin:/usr/sbin:/sbin -- "${timed[@]}" \
        ch-run -m "$TMPN/ch-mnt-$2" "$MNT/img.sqfs" -- python3 -c "$PY"
      ;;
  esac
}
# fs_cpu: the CPU seconds delayfs has used (user and system).
FS_PID=$(cat "$CTL/ready")
TICK=$(getconf CLK_TCK)
fs_cpu() { sed 's/.*) //' "/proc/$FS_PID/stat" | awk -v t="$TICK" '{ printf "%.2f", ($12 + $13) / t }'; }
# round MODE NAME N: starts N ranks of MODE at once and waits for them all; appends to $W/MODE.stats one
# line: the wall seconds, the metadata operations delayfs served (per operation: logs/ops-MODE-NAME.json),
# the MiB of data read through it, its CPU seconds, and the ranks' median CPU seconds.
round() {
  local mode=$1 name=$2 n=$3 pids=() r t0 t1 c0 c1 bad="" ops mib cpu log
  ctl reset
  c0=$(fs_cpu)
  t0=$(now)
  for r in $(seq "$n"); do
    log=$W/logs/$mode-$name-$r
    rm -f "$log.cpu"
    rank "$mode" "$r" "$log.cpu" > "$log.log" 2>&1 < /dev/null &
    pids+=($!)
  done
  for r in "${!pids[@]}"; do wait "${pids[$r]}" || bad+=" $((r + 1))"; done
  t1=$(now)
  c1=$(fs_cpu)
  ctl dump
  ops=$(cat "$CTL/count")
  cp "$CTL/ops.json" "$W/logs/ops-$mode-$name.json"
  cp "$CTL/data.json" "$W/logs/data-$mode-$name.json"
  mib=$("$PYTHON" -c 'import json, sys; print("%.1f" % (json.load(open(sys.argv[1]))["read_bytes"] / 2**20))' "$CTL/data.json")
  for r in $(seq "$n"); do
    [[ $(tail -n 1 "$W/logs/$mode-$name-$r.log") == ok ]] || bad+=" $r"
  done
  if [[ -n $bad ]]; then
    r=${bad##* }
    die "${LABEL[$mode]} ($name): rank(s)$bad did not print ok; rank $r's log ($W/logs/$mode-$name-$r.log):
$(tail -n 20 "$W/logs/$mode-$name-$r.log")"
  fi
  cpu=$(for r in $(seq "$n"); do tail -n 1 "$W/logs/$mode-$name-$r.cpu"; done | awk '{ printf "%.2f\n", $1 + $2 }' | median)
  echo "$(secs "$t0" "$t1") $ops $mib $(secs "$c0" "$c1") $cpu" >> "$W/$mode.stats"
  log "${LABEL[$mode]} ($name, $n at once): $(secs "$t0" "$t1") s, $ops metadata operations, $mib MiB read," \
    "delayfs CPU $(secs "$c0" "$c1") s, CPU per rank $cpu s"
}
median() { sort -n | awk '{ a[NR] = $1 } END { print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2) }'; }
# column MODE K: the K-th figure of each round of MODE, one a line.
column() { cut -d' ' -f"$2" "$W/$1.stats"; }

# A warm-up rank of each mode, without delay (not counted): each works, and caches are as in later runs.
for mode in "${MODES[@]}"; do
  : > "$W/$mode.stats"
  round "$mode" warm-up 1
done
set_delay "$DELAY_MS"
for mode in "${MODES[@]}"; do : > "$W/$mode.stats"; done
log "$RUNS rounds of $RANKS ranks at once per mode, $DELAY_MS ms per metadata operation"
for i in $(seq "$RUNS"); do
  for mode in "${MODES[@]}"; do round "$mode" "$i" "$RANKS"; done
done
set_delay 0

# ---------------------------------------------------------------- pull cost (local disk, no delay)
mkdir -p "$W/pull"
chmod 755 "$W/pull"
: > "$W/pull-dir.times"
: > "$W/pull-squashfs.times"
: > "$W/pull-mksquashfs.times"
# mksquashfs under /usr/bin/time too (burrow runs it through BURROW_MKSQUASHFS): its share of the pull.
# shellcheck disable=SC2016 # expanded by the wrapper
printf '#!/bin/sh\nexec /usr/bin/time -f "%%e %%M" -a -o "$BENCH_MKSQ_TIME" mksquashfs "$@"\n' > "$W/pkg/mksquashfs-timed"
chmod 755 "$W/pkg/mksquashfs-timed"
log "pull cost: $RUNS pulls per format into fresh stores on local disk"
[[ -n ${BENCH_NO_PULL:-} ]] && log "pull cost left out (BENCH_NO_PULL)"
for i in $(seq "$([[ -n ${BENCH_NO_PULL:-} ]] && echo 0 || echo "$RUNS")"); do
  for fmt in dir squashfs; do
    store=$W/pull/$fmt-$i
    user_dirs "$store"
    touch "$W/pull/$fmt-$i.time" "$W/pull/$fmt-$i.mksquashfs"
    chown "$UID_:$GID_" "$W/pull/$fmt-$i.time" "$W/pull/$fmt-$i.mksquashfs"
    sync
    run_as "$W/home" "${BENV[@]}" BURROW_IMAGE_FORMAT="$fmt" BURROW_MKSQUASHFS="$W/pkg/mksquashfs-timed" \
      BENCH_MKSQ_TIME="$W/pull/$fmt-$i.mksquashfs" -- /usr/bin/time -f '%e %M' -o "$W/pull/$fmt-$i.time" \
      "${BURROW[@]}" --repo "$store/store" pull -q "$REF" > "$W/logs/pull-$fmt-$i.log" 2>&1 ||
      die "burrow pull ($fmt) failed: $(tail -n 5 "$W/logs/pull-$fmt-$i.log")"
    tail -n 1 "$W/pull/$fmt-$i.time" >> "$W/pull-$fmt.times"
    if [[ $fmt == squashfs ]]; then
      [[ -s $W/pull/$fmt-$i.mksquashfs ]] || die "the squashfs pull ran no mksquashfs through BURROW_MKSQUASHFS"
      tail -n 1 "$W/pull/$fmt-$i.mksquashfs" >> "$W/pull-mksquashfs.times"
    fi
    log "pull ($fmt) $i: $(tail -n 1 "$W/pull-$fmt.times") (s, KiB)"
    rm -rf "$store"
  done
done

# ---------------------------------------------------------------- report
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.3f", a / b; else print "n/a" }'; }
declare -A WALL OPS
for mode in "${MODES[@]}"; do
  WALL[$mode]=$(column "$mode" 1 | median)
  OPS[$mode]=$(column "$mode" 2 | median)
done
PD=$(cut -d' ' -f1 "$W/pull-dir.times" | median)
PS=$(cut -d' ' -f1 "$W/pull-squashfs.times" | median)
RD=$(cut -d' ' -f2 "$W/pull-dir.times" | median)
RS=$(cut -d' ' -f2 "$W/pull-squashfs.times" | median)
PM=$(cut -d' ' -f1 "$W/pull-mksquashfs.times" | median)
RM=$(cut -d' ' -f2 "$W/pull-mksquashfs.times" | median)
mib() { awk -v k="$1" 'BEGIN { printf "%.1f", k / 1024 }'; }
# top_ops FILE: the operations of one round, most first.
top_ops() { "$PYTHON" -c 'import json, sys; d = json.load(open(sys.argv[1])); print(", ".join(f"{k} {v}" for k, v in sorted(d.items(), key=lambda kv: -kv[1])) or "none")' "$1"; }
{
  printf 'SquashFS vs folder images on a simulated shared file system (delayfs: %s ms per metadata operation,\n' "$DELAY_MS"
  printf 'no kernel caching), %s ranks started at once per mode, each: python3 -c "%s"\n' "$RANKS" "$PY"
  printf 'image: Debian bookworm minbase + python3, %s entries, %s MiB gzip layer; burrow'"'"'s rootfs.sqfs %s MiB (zstd), ch-run'"'"'s img.sqfs %s MiB (gzip)\n' \
    "$ENTRIES" "$(du -m "$W/layer.tar.gz" | cut -f1)" "$(mib $((SQ_STORED / 1024)))" "$(mib $(($(stat -c %s "$W/backing/img.sqfs") / 1024)))"
  printf '%s rounds (every mode once per round), medians; burrow run as: %s\n' "$RUNS" "$RUN_HOW"
  printf '  %-28s %7s %9s %9s %9s %9s   %-17s %s\n' mode "wall s" "meta ops" "read MiB" "FUSE CPU" "rank CPU" \
    "wall of each round" "ops of each round"
  for mode in "${MODES[@]}"; do
    printf '  %-28s %7s %9s %9s %9s %9s   %-17s %s\n' "${LABEL[$mode]}" "${WALL[$mode]}" "${OPS[$mode]}" \
      "$(column "$mode" 3 | median)" "$(column "$mode" 4 | median)" "$(column "$mode" 5 | median)" \
      "$(column "$mode" 1 | tr '\n' ' ')" "$(column "$mode" 2 | tr '\n' ' ')"
  done
  printf '  (read MiB: file data read through delayfs, not delayed; FUSE CPU: delayfs'"'"'s CPU seconds in the round;\n'
  printf '   rank CPU: median CPU seconds of one rank'"'"'s processes that were waited for, user + system)\n'
  printf '  ratio squashfs/dir, metadata operations: %s   (target <= 0.05)\n' "$(ratio "${OPS[sqfs]}" "${OPS[dir]}")"
  printf '  ratio squashfs/dir, wall:                %s   (target <= 1.0)\n' "$(ratio "${WALL[sqfs]}" "${WALL[dir]}")"
  printf '  ratio squashfs/ch-run, wall:             %s   (target <= 0.5)\n' "$(ratio "${WALL[sqfs]}" "${WALL[ch-run]}")"
  printf '  operations in round %s:\n' "$RUNS"
  for mode in "${MODES[@]}"; do
    printf '    %-26s %s\n' "${LABEL[$mode]}" "$(top_ops "$W/logs/ops-$mode-$RUNS.json")"
  done
  printf 'pull into a fresh store on local disk, no delay, %s runs per format, medians (wall of each run)\n' "$RUNS"
  printf '  %-28s %8s %14s   %s\n' format "wall s" "peak RSS MiB" "wall of each run"
  printf '  %-28s %8s %14s   %s\n' "dir" "$PD" "$(mib "$RD")" "$(cut -d' ' -f1 "$W/pull-dir.times" | tr '\n' ' ')"
  printf '  %-28s %8s %14s   %s\n' "squashfs" "$PS" "$(mib "$RS")" "$(cut -d' ' -f1 "$W/pull-squashfs.times" | tr '\n' ' ')"
  printf '  %-28s %8s %14s   %s\n' "  of which mksquashfs" "$PM" "$(mib "$RM")" "$(cut -d' ' -f1 "$W/pull-mksquashfs.times" | tr '\n' ' ')"
  printf '  ratio squashfs/dir, wall: %s   (target <= 1.3); peak RSS: the largest single process (/usr/bin/time %%M)\n' "$(ratio "$PS" "$PD")"
  printf 'versions: burrow %s (%s), %s, %s, squashfuse %s, node %s, kernel %s\n' \
    "$(run_as "$W/home" "${BENV[@]}" -- "${BURROW[@]}" version 2> /dev/null | head -n 1 | sed 's/^burrow //')" \
    "$(cd "$REPO" && git rev-parse --short HEAD 2> /dev/null || echo unknown)" \
    "ch-run $(USER=$U ch-run --version 2>&1 | head -n 1)" "$(mksquashfs -version 2>&1 | head -n 1)" \
    "$(dpkg-query -W -f '${Version}' squashfuse 2> /dev/null || echo '?')" "$(node --version)" "$(uname -r)"
  printf 'machine: %s cores, load %s\n' "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$W/results.txt"
