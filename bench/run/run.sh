#!/usr/bin/env bash
# Run start-up and workload benchmark: `burrow run IMAGE /bin/true` against
# `node -e 0` (Node's own start floor), Charliecloud's `ch-run` and rootless
# Podman (runc), and a syscall-heavy workload (fork/exec loop + find) against
# ch-run, in one run. All of it as an unprivileged user.
#
# What it does (see bench/README.md, "Run start-up"):
#   1. stages the built package (dist/, node_modules/, engines/, vendor/) in
#      bench/work/run/pkg so that builds in the tree do not disturb the runs;
#   2. starts a Debian `docker-registry` on 127.0.0.1 (plain HTTP, free port)
#      and pushes the Alpine minirootfs as a one-layer image (curl, registry API);
#   3. as the user: `burrow pull` into a fresh store; ch-run gets the same
#      rootfs folder (`burrow inspect -p`); podman pulls the same image;
#   4. hyperfine (-N, no shell; run as the user) times each command (also
#      `burrow version`: the CLI's own load, no container), then BENCH_AT_ONCE of
#      `node -e 0`, `burrow run` and `ch-run` started at once (bench/run/at-once.sh); report.ts prints a
#      table and the ratios and writes bench/work/run/results.json.
#
# Environment:
#   BENCH_RUNS=40           hyperfine runs per start-up command (after BENCH_WARMUP=5)
#   BENCH_WORK_RUNS=10      runs per workload command
#   BENCH_AT_ONCE=32        commands started at once in the concurrent start-up (a node's ranks)
#   BENCH_AT_ONCE_RUNS=10   hyperfine runs of each concurrent start-up (after 2 warm-up runs)
#   BENCH_LOOPS=3000        /bin/true executions in the workload
#   BENCH_FINDS=30          `find /usr /lib /etc /bin /sbin` passes in the workload
#   BENCH_TOOLS=LIST        subset of node,burrow,burrow-userns,ch-run,podman
#   BENCH_USER=NAME         the unprivileged user (as root: created when missing;
#                           default burrowbench); as a user: yourself
#   BENCH_ALPINE=FILE       the Alpine minirootfs tarball (default: ../shared/fixtures)
#   BENCH_WORK=DIR          scratch dir (default: bench/work/run)
#   BENCH_NO_BUILD=1        do not run `npm run build` first
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
W=${BENCH_WORK:-$REPO/bench/work/run}
RUNS=${BENCH_RUNS:-40}
WARMUP=${BENCH_WARMUP:-5}
WORK_RUNS=${BENCH_WORK_RUNS:-10}
AT_ONCE=${BENCH_AT_ONCE:-32}
AT_ONCE_RUNS=${BENCH_AT_ONCE_RUNS:-10}
LOOPS=${BENCH_LOOPS:-3000}
FINDS=${BENCH_FINDS:-30}
TOOLS=${BENCH_TOOLS:-node,burrow,burrow-userns,ch-run,podman}
ALPINE=${BENCH_ALPINE:-$REPO/../shared/fixtures/alpine-minirootfs-3.20.3-x86_64.tar.gz}
# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# ---------------------------------------------------------------- prerequisites
need_pkg docker-registry docker-registry
need_pkg curl curl
need_pkg hyperfine hyperfine
need_pkg setpriv util-linux
need_pkg sha256sum coreutils
need_pkg node nodejs
[[ -f $ALPINE ]] || die "no Alpine minirootfs at $ALPINE; set BENCH_ALPINE"
CH_WHY=""
if want ch-run && ! have ch-run; then apt_install charliecloud-runtime || CH_WHY="ch-run not installed (Debian package charliecloud-runtime)"; fi
have ch-run || CH_WHY=${CH_WHY:-"ch-run not installed (Debian package charliecloud-runtime)"}
PODMAN_WHY=""
if want podman && ! have podman; then
  apt_install podman slirp4netns uidmap || PODMAN_WHY="podman is not installed and could not be (Debian package podman)"
fi
have podman || PODMAN_WHY=${PODMAN_WHY:-"podman is not installed (Debian package podman)"}

# ---------------------------------------------------------------- user and package
bench_user
if [[ $IS_ROOT -eq 1 ]]; then
  # Rootless podman needs subordinate id ranges (useradd gives them on Debian; older users may lack them).
  if ! grep -q "^$U:" /etc/subuid 2> /dev/null; then usermod --add-subuids 300000-365535 "$U"; fi
  if ! grep -q "^$U:" /etc/subgid 2> /dev/null; then usermod --add-subgids 300000-365535 "$U"; fi
fi
UHOME=$W/home
npm_build
stage_pkg
cp "$HERE/at-once.sh" "$W/pkg/at-once.sh"
rm -rf "$UHOME"
user_dirs "$UHOME"
BURROW=$W/pkg/dist/src/cli/burrow.cjs # the package's bin, what `burrow` runs
NODE=$(command -v node)
RUNDIR=/tmp/burrow-bench-run-$UID_
user_dirs "$RUNDIR"

# Runs a command as the user with a clean environment.
asuser() {
  run_as "$UHOME" HOME="$UHOME" PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin BURROW_DIR="$UHOME/store" \
    XDG_RUNTIME_DIR="$RUNDIR" BURROW_INSECURE_REGISTRIES="$HOSTPORT" -- "$@"
}

# ---------------------------------------------------------------- registry and image
rm -rf "$W/registry"
PODMAN_STORE=""
cleanup() {
  stop_registry
  # Podman's rootless storage holds files owned by sub-ids: remove it through podman itself.
  [[ -n $PODMAN_STORE ]] && asuser podman "${PODMAN_FLAGS[@]}" system reset -f > /dev/null 2>&1 || true
}
trap cleanup EXIT
start_registry
push_image bench/alpine:3.20 "$ALPINE"
REF=$HOSTPORT/bench/alpine:3.20
log "docker-registry (pid $REG_PID) on $HOSTPORT holds $REF"

# ---------------------------------------------------------------- pull, check every tool once
T0=$(date +%s%N)
asuser "$NODE" "$BURROW" pull -q "$REF" > "$W/pull.log" 2>&1 || die "burrow pull failed: $(cat "$W/pull.log")"
PULL_MS=$((($(date +%s%N) - T0) / 1000000))
ROOTFS=$(asuser "$NODE" "$BURROW" inspect -p "$REF")
log "burrow pull into a fresh store: ${PULL_MS} ms; rootfs $ROOTFS"
WORKLOAD="for i in \$(seq $LOOPS); do /bin/true; done; for i in \$(seq $FINDS); do find /usr /lib /etc /bin /sbin > /dev/null; done"

check() { # name command...
  local out
  if out=$(asuser "$@" 2>&1 < /dev/null); then return 0; fi
  printf '%s' "$out" | tail -n 3 | tr '\n' ' '
  return 1
}
BURROW_WHY=""
why=$(check "$BURROW" run "$REF" /bin/true) || BURROW_WHY="burrow run failed: $why"
[[ -n $BURROW_WHY ]] && die "$BURROW_WHY"
if want ch-run && [[ -z $CH_WHY ]]; then
  why=$(check ch-run "$ROOTFS" -- /bin/true) || CH_WHY="ch-run failed: $why"
fi
PODMAN_FLAGS=(--cgroup-manager=cgroupfs --events-backend=file --runtime=runc --storage-driver=overlay)
if want podman && [[ -z $PODMAN_WHY ]]; then
  PODMAN_STORE=1
  asuser podman "${PODMAN_FLAGS[@]}" system reset -f > /dev/null 2>&1 || true
  if why=$(check podman "${PODMAN_FLAGS[@]}" pull -q --tls-verify=false "$REF"); then
    why=$(check podman "${PODMAN_FLAGS[@]}" run --rm --network=host "$REF" /bin/true) ||
      PODMAN_WHY="podman run (rootless, runc) failed here: $why"
  else
    PODMAN_WHY="podman pull (rootless) failed here: $why"
  fi
fi
[[ -n $CH_WHY ]] && log "ch-run: left out: $CH_WHY"
[[ -n $PODMAN_WHY ]] && log "podman: left out: $PODMAN_WHY"

# ---------------------------------------------------------------- measure
NAMES=()
CMDS=()
add() { # name command-line (hyperfine -N splits it on spaces; quotes are honoured)
  NAMES+=("$1")
  CMDS+=("$2")
}
want node && add "node -e 0" "$NODE -e 0"
# The floor of any Node CLI that runs a program: Node starting, loading child_process and waiting for
# /bin/true (what burrow's run path adds on top is its own work and the helper's namespaces).
want node && add "node spawning /bin/true" \
  "$NODE -e \"require('child_process').spawn('/bin/true',{stdio:'inherit'}).on('exit',(c)=>{process.exitCode=c})\""
# burrow as its users run it: the package's bin (its sh line; a run replays its record, src/run/replay-record.ts),
# and the run path through Node that the first run of a command line takes (BURROW_FAST_START=0).
want burrow && add "burrow version" "$BURROW version"
want burrow && add "burrow run" "$BURROW run $REF /bin/true"
want burrow-userns && add "burrow run --engine userns" "$BURROW run --engine userns $REF /bin/true"
want burrow && add "burrow run, through Node" "env BURROW_FAST_START=0 $BURROW run $REF /bin/true"
want ch-run && [[ -z $CH_WHY ]] && add "ch-run" "ch-run $ROOTFS -- /bin/true"
want podman && [[ -z $PODMAN_WHY ]] && add "podman run (runc)" "podman ${PODMAN_FLAGS[*]} run --rm --network=host $REF /bin/true"
# The same start-ups, BENCH_AT_ONCE at the same moment: the ranks of an MPI job on one node.
PNAMES=()
PCMDS=()
AT="bash $W/pkg/at-once.sh $AT_ONCE"
want node && PNAMES+=("$AT_ONCE x node -e 0") && PCMDS+=("$AT $NODE -e 0")
want burrow && PNAMES+=("$AT_ONCE x burrow run") && PCMDS+=("$AT $BURROW run $REF /bin/true")
want ch-run && [[ -z $CH_WHY ]] && PNAMES+=("$AT_ONCE x ch-run") && PCMDS+=("$AT ch-run $ROOTFS -- /bin/true")
WNAMES=()
WCMDS=()
want burrow && WNAMES+=("burrow run: workload") && WCMDS+=("$BURROW run $REF sh -c '$WORKLOAD'")
want ch-run && [[ -z $CH_WHY ]] && WNAMES+=("ch-run: workload") && WCMDS+=("ch-run $ROOTFS -- sh -c '$WORKLOAD'")
want podman && [[ -z $PODMAN_WHY ]] && WNAMES+=("podman run (runc): workload") &&
  WCMDS+=("podman ${PODMAN_FLAGS[*]} run --rm --network=host $REF sh -c '$WORKLOAD'")

hf() { # json runs warmup names... -- commands...
  local json=$1 runs=$2 warm=$3 args=()
  shift 3
  local names=() cmds=()
  while [[ $1 != -- ]]; do
    names+=("$1")
    shift
  done
  shift
  cmds=("$@")
  for i in "${!cmds[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
  [[ $IS_ROOT -eq 1 ]] && touch "$json" && chown "$UID_:$GID_" "$json"
  asuser hyperfine -N --style basic --runs "$runs" --warmup "$warm" --export-json "$json" "${args[@]}" >&2
}
log "start-up: ${#CMDS[@]} commands, $RUNS runs each after $WARMUP warm-up runs (load: $(cut -d' ' -f1-3 /proc/loadavg))"
hf "$W/startup.json" "$RUNS" "$WARMUP" "${NAMES[@]}" -- "${CMDS[@]}"
log "at once: $AT_ONCE of each started together, ${#PCMDS[@]} commands, $AT_ONCE_RUNS runs each"
hf "$W/at-once.json" "$AT_ONCE_RUNS" 2 "${PNAMES[@]}" -- "${PCMDS[@]}"
log "workload: $LOOPS x /bin/true + $FINDS x find, ${#WCMDS[@]} commands, $WORK_RUNS runs each"
hf "$W/workload.json" "$WORK_RUNS" 1 "${WNAMES[@]}" -- "${WCMDS[@]}"

# ---------------------------------------------------------------- report
BURROW_VERSION=$(asuser "$NODE" "$BURROW" version 2> /dev/null | head -n 1 | sed 's/^burrow //' || true)
CH_VERSION="ch-run $(USER=$U ch-run --version 2>&1 | head -n 1 || true)"
PODMAN_VERSION=$(podman --version 2> /dev/null || true)
RUNC_VERSION=$(runc --version 2> /dev/null | head -n 1 || true)
HF_VERSION=$(hyperfine --version)
W="$W" AT_ONCE=$AT_ONCE PULL_MS=$PULL_MS CH_WHY="$CH_WHY" PODMAN_WHY="$PODMAN_WHY" LOOPS=$LOOPS FINDS=$FINDS \
  BURROW_VERSION="$BURROW_VERSION" CH_VERSION="$CH_VERSION" PODMAN_VERSION="$PODMAN_VERSION" \
  RUNC_VERSION="$RUNC_VERSION" HF_VERSION="$HF_VERSION" NODE_VERSION="$(node --version)" \
  KERNEL="$(uname -r)" NPROC="$(nproc)" LOAD="$(cut -d' ' -f1-3 /proc/loadavg)" \
  GIT="$(cd "$REPO" && git rev-parse --short HEAD 2> /dev/null || echo unknown)" node "$REPO/dist/bench/run/report.js"
log "results: $W/results.json"
