#!/usr/bin/env bash
# Engines benchmark: syscall-heavy workloads (fork/exec loop, `find /usr`, a
# small C compile) run through `burrow run --engine E` for each of burrow's
# engines (userns, runc, proot), against Charliecloud's `ch-run` and against
# udocker-style PRoot (plain `proot -r COPY -0 ...`, with and without seccomp
# acceleration), as ratios, in one run, as an unprivileged user.
#
# What it does (see bench/README.md, "Engines: syscall-heavy workloads"):
#   1. stages the built package in bench/work/engines/pkg;
#   2. images: the Alpine minirootfs (one layer) and Debian bookworm minbase
#      + gcc + libc6-dev (debootstrap, cached as a layer blob in
#      bench/work/engines/debian-gcc.tar.gz; root needed the first time) with a
#      second layer holding /bench/prog.c (bench/engines/prog.c, 200 lines);
#      both pushed to a Debian `docker-registry` on 127.0.0.1 (free port);
#   3. as the user: `burrow pull` into a fresh store; ch-run runs the rootfs
#      folders that store holds (`burrow inspect -p`); udocker-style PRoot runs
#      a copy of them (udocker itself is not used: see the README); burrow's
#      proot engine runs both the image (a private copy per run) and a named
#      container made once with `--engine proot` (its own rootfs, no copy);
#   4. checks every tool once per image (find's entry count, gcc's program
#      runs), then hyperfine (-N, as the user) times every workload x tool;
#      report.ts prints the table (mean ± σ, ratios to ch-run and to PRoot)
#      and writes bench/work/engines/results.json.
#
# Environment:
#   BENCH_RUNS=5            hyperfine runs per cell (after BENCH_WARMUP=1)
#   BENCH_LOOPS=2000        /bin/true executions in the fork/exec workload
#   BENCH_FINDS=5           `find /usr` passes in the find workload
#   BENCH_COMPILES=3        `gcc -O2` compile+link passes of prog.c
#   BENCH_WORKLOADS=LIST    subset of start,forkexec,find,debian-start,compile,
#                           debian-forkexec,debian-find (default: all)
#   BENCH_TOOLS=LIST        subset of userns,runc,proot,proot-named,ch-run,proot-p1,proot-p2
#   BENCH_USER=NAME         the unprivileged user (as root: created when missing;
#                           default burrowbench); as a user: yourself
#   BENCH_ALPINE=FILE       the Alpine minirootfs tarball (default: ../shared/fixtures)
#   BENCH_DEBIAN_BLOB=FILE  a gzipped rootfs tarball with gcc to use instead of
#                           the debootstrap one
#   BENCH_MIRROR=URL        Debian mirror for debootstrap (default deb.debian.org)
#   BENCH_WORK=DIR          scratch dir (default: bench/work/engines)
#   BENCH_NO_BUILD=1        do not run `npm run build` first
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
W=${BENCH_WORK:-$REPO/bench/work/engines}
RUNS=${BENCH_RUNS:-5}
WARMUP=${BENCH_WARMUP:-1}
LOOPS=${BENCH_LOOPS:-2000}
FINDS=${BENCH_FINDS:-5}
COMPILES=${BENCH_COMPILES:-3}
WORKLOADS=${BENCH_WORKLOADS:-start,forkexec,find,debian-start,compile,debian-forkexec,debian-find}
TOOLS=${BENCH_TOOLS:-userns,runc,proot,proot-named,ch-run,proot-p1,proot-p2}
ALPINE=${BENCH_ALPINE:-$REPO/../shared/fixtures/alpine-minirootfs-3.20.3-x86_64.tar.gz}
MIRROR=${BENCH_MIRROR:-http://deb.debian.org/debian}
# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
wantw() { [[ ",$WORKLOADS," == *",$1,"* ]]; }

# ---------------------------------------------------------------- prerequisites
need_pkg docker-registry docker-registry
need_pkg curl curl
need_pkg hyperfine hyperfine
need_pkg setpriv util-linux
need_pkg node nodejs
[[ -f $ALPINE ]] || die "no Alpine minirootfs at $ALPINE; set BENCH_ALPINE"
# The peers and engines: a missing one is left out, with the reason in the report.
declare -A WHY=()
if want ch-run && ! have ch-run; then apt_install charliecloud-runtime || true; fi
have ch-run || WHY[ch-run]="ch-run not installed (Debian package charliecloud-runtime)"
if { want proot || want proot-p1 || want proot-p2; } && ! have proot; then apt_install proot || true; fi
PROOT=$(command -v proot || true)
[[ -n $PROOT ]] || for t in proot proot-named proot-p1 proot-p2; do WHY[$t]="proot not installed (Debian package proot)"; done
RUNC=$(PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin command -v runc || true)
if want runc && [[ -z $RUNC ]]; then apt_install runc && RUNC=$(PATH=$PATH:/usr/sbin command -v runc || true); fi
[[ -n $RUNC ]] || WHY[runc]="runc not installed (Debian package runc)"

# ---------------------------------------------------------------- user and package
bench_user
UHOME=$W/home
npm_build
stage_pkg
if [[ -d $UHOME ]]; then
  # PRoot copies may hold read-only folders: make them writable before removing.
  chmod -R u+w "$UHOME" 2> /dev/null || true
fi
rm -rf "$UHOME" "$W/hf"
mkdir -p "$W/hf"
[[ $IS_ROOT -eq 1 ]] && chown "$UID_:$GID_" "$W/hf"
user_dirs "$UHOME"
BURROW=$W/pkg/dist/src/cli/main.js
NODE=$(command -v node)
RUNDIR=/tmp/burrow-bench-engines-$UID_
user_dirs "$RUNDIR"

# Runs a command as the user with a clean environment.
asuser() {
  run_as "$UHOME" HOME="$UHOME" PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin BURROW_DIR="$UHOME/store" \
    XDG_RUNTIME_DIR="$RUNDIR" BURROW_INSECURE_REGISTRIES="$HOSTPORT" -- "$@"
}

# ---------------------------------------------------------------- the Debian + gcc layer
NEED_DEBIAN=0
for w in debian-start compile debian-forkexec debian-find; do wantw "$w" && NEED_DEBIAN=1; done
DEBIAN_BLOB=${BENCH_DEBIAN_BLOB:-$W/debian-gcc.tar.gz}
if [[ $NEED_DEBIAN -eq 1 && ! -f $DEBIAN_BLOB ]]; then
  [[ $IS_ROOT -eq 1 ]] || die "no Debian+gcc image at $DEBIAN_BLOB: run once as root (debootstrap) or set BENCH_DEBIAN_BLOB"
  need_pkg debootstrap debootstrap
  R=$W/debian-gcc.rootfs
  if [[ ! -f $R/usr/bin/gcc-12 ]]; then
    rm -rf "$R"
    log "debootstrap bookworm minbase + gcc, libc6-dev from $MIRROR (a few minutes)"
    debootstrap --variant=minbase --include=gcc,libc6-dev bookworm "$R" "$MIRROR" > "$W/debootstrap.log" 2>&1 ||
      die "debootstrap failed; see $W/debootstrap.log"
  fi
  rm -rf "$R"/var/cache/apt/archives/*.deb "$R"/var/lib/apt/lists/*
  log "tarring the Debian rootfs into $DEBIAN_BLOB"
  GZ="gzip -6 -n"
  have pigz && GZ="pigz -6 -n"
  (cd "$R" && tar --sort=name --numeric-owner --exclude='./dev/*' --exclude='./proc/*' --exclude='./sys/*' -cf - .) |
    $GZ > "$DEBIAN_BLOB.tmp"
  mv "$DEBIAN_BLOB.tmp" "$DEBIAN_BLOB"
fi
# Second layer: /bench/prog.c (root-owned, fixed mtime, so that its digest only follows the source).
rm -rf "$W/src-layer"
mkdir -p "$W/src-layer/bench"
cp "$HERE/prog.c" "$W/src-layer/bench/prog.c"
(cd "$W/src-layer" && tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -cf - bench) | gzip -n > "$W/src.tar.gz"

# ---------------------------------------------------------------- registry and images
rm -rf "$W/registry"
trap stop_registry EXIT
start_registry
push_image bench/alpine:3.20 "$ALPINE"
ALPINE_REF=$HOSTPORT/bench/alpine:3.20
DEBIAN_REF=""
if [[ $NEED_DEBIAN -eq 1 ]]; then
  log "pushing the Debian+gcc image ($(du -m "$DEBIAN_BLOB" | cut -f1) MiB layer)"
  push_image bench/debian-gcc:bookworm "$DEBIAN_BLOB" "$W/src.tar.gz"
  DEBIAN_REF=$HOSTPORT/bench/debian-gcc:bookworm
fi
log "docker-registry (pid $REG_PID) on $HOSTPORT"

# ---------------------------------------------------------------- pull, rootfs folders, PRoot copies
declare -A REF=([alpine]=$ALPINE_REF [debian]=$DEBIAN_REF)
declare -A ROOTFS=() COPY=() PULL_MS=()
IMAGES=(alpine)
[[ $NEED_DEBIAN -eq 1 ]] && IMAGES+=(debian)
for img in "${IMAGES[@]}"; do
  T0=$(date +%s%N)
  asuser "$NODE" "$BURROW" pull -q "${REF[$img]}" > "$W/pull-$img.log" 2>&1 || die "burrow pull ${REF[$img]} failed: $(tail -n 3 "$W/pull-$img.log")"
  PULL_MS[$img]=$((($(date +%s%N) - T0) / 1000000))
  ROOTFS[$img]=$(asuser "$NODE" "$BURROW" inspect -p "${REF[$img]}")
  # udocker-style: PRoot runs a container's own writable copy of the image (udocker extracts one per container).
  COPY[$img]=$UHOME/proot-containers/$img
  asuser mkdir -p "$UHOME/proot-containers"
  asuser cp -a "${ROOTFS[$img]}" "${COPY[$img]}"
  log "$img: pulled in ${PULL_MS[$img]} ms; rootfs ${ROOTFS[$img]}; PRoot copy ${COPY[$img]}"
  # burrow's own equivalent: a named container made for the proot engine keeps its own copy of the rootfs.
  if want proot-named; then
    asuser "$NODE" "$BURROW" run --engine proot --pull never --name "bench-proot-$img" "${REF[$img]}" /bin/true \
      > "$W/named-$img.log" 2>&1 < /dev/null || WHY[proot-named]="creating a named container failed: $(tail -n 2 "$W/named-$img.log" | tr '\n' ' ')"
  fi
done

# ---------------------------------------------------------------- tools and workloads
ALL_TOOLS=(userns runc proot proot-named ch-run proot-p1 proot-p2)
declare -A LABEL=([userns]="burrow --engine userns" [runc]="burrow --engine runc" [proot]="burrow --engine proot"
  [proot-named]="burrow --engine proot, named container" [ch-run]="ch-run" [proot-p1]="PRoot -0 (udocker P1)"
  [proot-p2]="PRoot -0, PROOT_NO_SECCOMP=1 (udocker P2)")
# The command line for a tool on an image, without the program (hyperfine -N splits it on spaces).
prefix() { # tool image
  local pr="$PROOT -r ${COPY[$2]} -0 -w / -b /proc -b /dev -b /sys"
  case $1 in
    userns | runc | proot) echo "$NODE $BURROW run --engine $1 ${REF[$2]}" ;;
    proot-named) echo "$NODE $BURROW run --engine proot bench-proot-$2" ;;
    ch-run) echo "ch-run ${ROOTFS[$2]} --" ;;
    proot-p1) echo "$pr" ;;
    proot-p2) echo "env PROOT_NO_SECCOMP=1 $pr" ;;
  esac
}
declare -A WIMAGE=([start]=alpine [forkexec]=alpine [find]=alpine [debian-start]=debian [compile]=debian
  [debian-forkexec]=debian [debian-find]=debian)
LOOP="for i in \$(seq $LOOPS); do /bin/true; done"
FIND="for i in \$(seq $FINDS); do find /usr > /dev/null; done"
COMPILE="for i in \$(seq $COMPILES); do gcc -O2 -o /tmp/prog-\$\$ /bench/prog.c || exit 1; done; rm -f /tmp/prog-\$\$"
declare -A WSCRIPT=([start]=/bin/true [forkexec]="sh -c '$LOOP'" [find]="sh -c '$FIND'" [debian-start]=/bin/true
  [compile]="sh -c '$COMPILE'" [debian-forkexec]="sh -c '$LOOP'" [debian-find]="sh -c '$FIND'")
declare -A WLABEL=([start]="start: /bin/true (Alpine)" [forkexec]="fork/exec: $LOOPS x /bin/true (Alpine)"
  [find]="find /usr x $FINDS (Alpine)" [debian-start]="start: /bin/true (Debian+gcc)"
  [compile]="gcc -O2 prog.c x $COMPILES (Debian+gcc)" [debian-forkexec]="fork/exec: $LOOPS x /bin/true (Debian+gcc)"
  [debian-find]="find /usr x $FINDS (Debian+gcc)")

# Check each tool once per image: it runs, find sees the image's /usr, gcc's program works.
# Runs the check script as the user; prints its output (or the last lines of the error) on one line.
CHECK_ALPINE='find /usr | wc -l; cat /etc/alpine-release'
CHECK_DEBIAN='find /usr | wc -l; gcc -O2 -o /tmp/prog-$$ /bench/prog.c && echo b a b | /tmp/prog-$$ -n 1 | tail -n 1; rm -f /tmp/prog-$$'
CHECKS=$W/checks.tsv
: > "$CHECKS"
for img in "${IMAGES[@]}"; do
  [[ $img == alpine ]] && script=$CHECK_ALPINE || script=$CHECK_DEBIAN
  for t in "${ALL_TOOLS[@]}"; do
    want "$t" && [[ -z ${WHY[$t]:-} ]] || continue
    # shellcheck disable=SC2046 # the prefix is meant to be split (paths have no spaces)
    if out=$(asuser $(prefix "$t" "$img") sh -c "$script" 2>&1 < /dev/null); then
      printf '%s\t%s\tok\t%s\n' "$img" "$t" "$(printf '%s' "$out" | tr '\n\t' '  ')" >> "$CHECKS"
    else
      rc=$?
      printf '%s\t%s\tfailed\texit %s: %s\n' "$img" "$t" "$rc" "$(printf '%s' "$out" | tail -n 3 | tr '\n\t' '  ')" >> "$CHECKS"
      log "$t on $img failed its check (exit $rc): $(printf '%s' "$out" | tail -n 3 | tr '\n' ' ')"
    fi
  done
done
column -t -s $'\t' "$CHECKS" >&2 || cat "$CHECKS" >&2

# ---------------------------------------------------------------- measure
# One hyperfine per cell, so that a tool failing a workload leaves the others measured.
CELLS=$W/cells.tsv
: > "$CELLS"
for wl in start forkexec find debian-start compile debian-forkexec debian-find; do
  wantw "$wl" || continue
  img=${WIMAGE[$wl]}
  log "${WLABEL[$wl]}: $RUNS runs after $WARMUP warm-up per tool (load: $(cut -d' ' -f1-3 /proc/loadavg))"
  for t in "${ALL_TOOLS[@]}"; do
    want "$t" || continue
    if [[ -n ${WHY[$t]:-} ]]; then
      printf '%s\t%s\tleft out\t%s\n' "$wl" "$t" "${WHY[$t]}" >> "$CELLS"
      continue
    fi
    json=$W/hf/$wl.$t.json
    cmd="$(prefix "$t" "$img") ${WSCRIPT[$wl]}"
    if asuser hyperfine -N --style basic --runs "$RUNS" --warmup "$WARMUP" -n "${LABEL[$t]}" \
      --export-json "$json" "$cmd" > "$W/hf/$wl.$t.log" 2>&1; then
      printf '%s\t%s\tok\t%s\n' "$wl" "$t" "$json" >> "$CELLS"
      grep -E 'Time|Range' "$W/hf/$wl.$t.log" | sed "s/^/  ${LABEL[$t]}: /" >&2 || true
    else
      # Run it once more to show why (hyperfine keeps the program's output to itself).
      # shellcheck disable=SC2086
      why=$(eval "asuser $cmd" 2>&1 < /dev/null | tail -n 3 | tr '\n\t' '  ')
      printf '%s\t%s\tfailed\t%s\n' "$wl" "$t" "$(tail -n 2 "$W/hf/$wl.$t.log" | tr '\n\t' '  ') $why" >> "$CELLS"
      log "  ${LABEL[$t]}: FAILED: $why"
    fi
  done
done

# ---------------------------------------------------------------- report
BURROW_VERSION=$(asuser "$NODE" "$BURROW" version 2> /dev/null | head -n 1 | sed 's/^burrow //' || true)
WL_LABELS=""
for wl in start forkexec find debian-start compile debian-forkexec debian-find; do
  WL_LABELS+="$wl=${WLABEL[$wl]}"$'\n'
done
TOOL_LABELS=""
for t in "${ALL_TOOLS[@]}"; do TOOL_LABELS+="$t=${LABEL[$t]}"$'\n'; done
W="$W" WL_LABELS="$WL_LABELS" TOOL_LABELS="$TOOL_LABELS" LOOPS=$LOOPS FINDS=$FINDS COMPILES=$COMPILES \
  RUNS=$RUNS WARMUP=$WARMUP BURROW_VERSION="$BURROW_VERSION" \
  CH_VERSION="$(USER=$U ch-run --version 2>&1 | head -n 1 || true)" \
  PROOT_VERSION="$($PROOT --version 2>&1 | grep -m1 -oE '[0-9]+\.[0-9]+\.[0-9]+' || true)" \
  PROOT_ACCEL="$($PROOT --version 2>&1 | sed -n 's/^built-in accelerators: //p' || true)" \
  RUNC_VERSION="$(${RUNC:-false} --version 2> /dev/null | head -n 1 || true)" \
  HF_VERSION="$(hyperfine --version)" NODE_VERSION="$(node --version)" \
  GCC_VERSION="$(asuser ch-run "${ROOTFS[debian]:-/nonexistent}" -- gcc -dumpfullversion 2> /dev/null || true)" \
  PULL_MS="alpine=${PULL_MS[alpine]} debian=${PULL_MS[debian]:-}" USER_="$U" \
  KERNEL="$(uname -r)" NPROC="$(nproc)" LOAD="$(cut -d' ' -f1-3 /proc/loadavg)" \
  GIT="$(cd "$REPO" && git rev-parse --short HEAD 2> /dev/null || echo unknown)" node "$REPO/dist/bench/engines/report.js"
log "results: $W/results.json"
