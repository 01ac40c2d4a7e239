#!/usr/bin/env bash
# One-off use start-up (issue 6): burrow as `npm pack` makes it, run through
# `npm exec --package=TARBALL -- burrow` (what `npx` does) by an unprivileged
# user, timed with hyperfine: the first run from an empty HOME (npm installs
# the package and its dependencies from the npm registry, burrow pulls the
# image and runs it) and later runs (npm exec with the package installed in
# npm's cache, and the installed bin directly). Prints mean ± σ, min and
# median of each.
#
# What it does:
#   1. `npm run build`, then `npm pack --ignore-scripts` (the build is done)
#      into $BENCH_WORK/pkg, readable by the user;
#   2. starts a Debian `docker-registry` on 127.0.0.1 (plain HTTP, free port)
#      and pushes the Alpine minirootfs as a one-layer image (curl);
#   3. as the user (root: BENCH_USER, created when missing), hyperfine -N:
#      cold: HOME emptied before each run (npm's cache is $HOME/.npm, the
#        store ~/.local/share/burrow): `npm exec ... burrow version` (the
#        install alone) and `npm exec ... burrow run IMAGE /bin/true`
#        (install + pull + run);
#      warm: `node -e 0` (Node's floor), `npm exec ... burrow run IMAGE
#        /bin/true` with the package installed and the image pulled, and the
#        installed bin ($HOME/.npm/_npx/*/node_modules/.bin/burrow) directly.
#   Cold runs need the npm registry (npm installs burrow's dependencies).
#
# Environment:
#   BENCH_COLD_RUNS=5        runs of each cold command
#   BENCH_RUNS=20            runs of each warm command (after BENCH_WARMUP=2)
#   BENCH_USER=NAME          unprivileged user when run as root (default burrowbench)
#   BENCH_ALPINE=FILE        the Alpine minirootfs tarball (default: ../shared/fixtures)
#   BENCH_WORK=DIR           scratch (default bench/work/npx)
#   BENCH_NO_BUILD=1         do not run `npm run build` first
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
W=${BENCH_WORK:-$REPO/bench/work/npx}
COLD_RUNS=${BENCH_COLD_RUNS:-5}
RUNS=${BENCH_RUNS:-20}
WARMUP=${BENCH_WARMUP:-2}
ALPINE=${BENCH_ALPINE:-$REPO/../shared/fixtures/alpine-minirootfs-3.20.3-x86_64.tar.gz}
# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

need_pkg docker-registry docker-registry
need_pkg curl curl
need_pkg hyperfine hyperfine
need_pkg setpriv util-linux
need_pkg npm npm
[[ -f $ALPINE ]] || die "no Alpine minirootfs at $ALPINE; set BENCH_ALPINE"

# ---------------------------------------------------------------- user and package
bench_user
npm_build
rm -rf "$W/pkg" "$W/cold" "$W/warm" "$W/out"
mkdir -p "$W/pkg" "$W/out"
(cd "$REPO" && npm pack --ignore-scripts --pack-destination "$W/pkg" > "$W/pack.log" 2>&1) ||
  die "npm pack failed; see $W/pack.log"
TGZ=$(ls "$W"/pkg/*.tgz)
TGZ_KB=$(($(stat -c %s "$TGZ") / 1024))
chmod -R a+rX "$W/pkg"
[[ $IS_ROOT -eq 1 ]] && chown "$UID_:$GID_" "$W/out"
user_dirs "$W/cold" "$W/warm"
NODE=$(command -v node)
NPM=$(command -v npm)
PATH_=$(dirname "$NODE"):/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin

# Runs a command as the user with a clean environment and HOME=$1 (npm's cache in it).
asuser() {
  run_as "$1" HOME="$1" PATH="$PATH_" npm_config_cache="$1/.npm" npm_config_update_notifier=false \
    BURROW_INSECURE_REGISTRIES="$HOSTPORT" -- "${@:2}"
}

# ---------------------------------------------------------------- registry and image
rm -rf "$W/registry"
trap stop_registry EXIT
start_registry
push_image bench/alpine:3.20 "$ALPINE"
REF=$HOSTPORT/bench/alpine:3.20
log "docker-registry (pid $REG_PID) on $HOSTPORT holds $REF; package $(basename "$TGZ") (${TGZ_KB} KiB)"

# ---------------------------------------------------------------- check once, find the installed bin
EXEC="$NPM exec --yes --package=$TGZ -- burrow"
asuser "$W/warm" $EXEC run "$REF" /bin/true > "$W/first.log" 2>&1 ||
  die "npm exec ... burrow run failed (the npm registry must be reachable): $(tail -n 5 "$W/first.log")"
BIN=$(ls "$W"/warm/.npm/_npx/*/node_modules/.bin/burrow)
DEPS=$(node -p 'Object.keys(require(process.argv[1]).packages).filter((k) => k.startsWith("node_modules/")).length - 1' \
  "$(ls "$W"/warm/.npm/_npx/*/package-lock.json)")
ENGINE=$(asuser "$W/warm" "$BIN" info | sed -n 's/^default engine: *//p')
log "installed: $BIN ($DEPS packages besides burrow); default engine: $ENGINE"

# ---------------------------------------------------------------- measure
hf() { # json home runs warmup [--prepare CMD] -n NAME CMD ...
  local json=$1 h=$2 runs=$3 warm=$4
  shift 4
  asuser "$h" hyperfine -N --style basic --runs "$runs" --warmup "$warm" --export-json "$json" "$@" >&2
}
CLEAN="rm -rf $W/cold/.npm $W/cold/.local $W/cold/.cache $W/cold/.config"
log "cold: $COLD_RUNS runs each, HOME emptied before each (load: $(cut -d' ' -f1-3 /proc/loadavg))"
hf "$W/out/cold.json" "$W/cold" "$COLD_RUNS" 0 --prepare "$CLEAN" \
  -n "first npm exec: burrow version (install)" "$EXEC version" \
  -n "first npm exec: burrow run (install + pull + run)" "$EXEC run $REF /bin/true"
log "warm: $RUNS runs each after $WARMUP warm-up runs"
hf "$W/out/warm.json" "$W/warm" "$RUNS" "$WARMUP" \
  -n "node -e 0" "$NODE -e 0" \
  -n "later npm exec: burrow run" "$EXEC run $REF /bin/true" \
  -n "installed bin: burrow run" "$BIN run $REF /bin/true"

# ---------------------------------------------------------------- report
echo "burrow $(asuser "$W/warm" "$BIN" version | head -n 1 | sed 's/^burrow //'), node $(node --version), npm $("$NPM" --version)," \
  "$(basename "$TGZ") ${TGZ_KB} KiB, $DEPS dependencies installed, engine $ENGINE, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
node -e '
const rows = process.argv.slice(1).flatMap((f) => require(f).results);
const ms = (s) => (s * 1000).toFixed(0);
const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
console.log("| command | mean ± σ (ms) | min | median |");
console.log("| --- | ---: | ---: | ---: |");
for (const r of rows) console.log(`| ${r.command} | ${ms(r.mean)} ± ${ms(r.stddev ?? 0)} | ${ms(r.min)} | ${ms(median(r.times))} |`);
' "$W/out/cold.json" "$W/out/warm.json"
