#!/usr/bin/env bash
# Start-up of the CLI: `node -e 0` (Node's own floor), `burrow version` (the
# CLI's load, no container) and `burrow run IMAGE /bin/true` on a pulled image,
# timed with hyperfine (-N: no shell) as an unprivileged user; prints each
# command's mean ± σ and its ratio to `node -e 0`. Target (issue 3): run within
# 1.25x of node. Also checks that the run path stays lean: no HTTP stack (http,
# https, tls, http2, zlib, got) and nothing from node_modules is loaded.
#
# What it does:
#   1. stages the built package (dist/src, dist/engines, node_modules,
#      package.json, engines/, vendor/) in $BENCH_WORK/pkg, so that builds in
#      the tree do not disturb the runs, readable by the user;
#   2. as the user: pulls BENCH_IMAGE into a store in $BENCH_WORK/store (once);
#   3. hyperfine -N -w WARMUP -r RUNS, as the user, with --export-json (the
#      warm-up runs also fill the user's V8 code cache, $HOME/.cache/burrow).
#
# Environment:
#   BENCH_IMAGE=REF          image to pull and run (default 127.0.0.1:5999/alpine:3.20)
#   BENCH_INSECURE=LIST      BURROW_INSECURE_REGISTRIES for the pull (default: the image's host)
#   BENCH_USER=NAME          unprivileged user when run as root (default burrowtest)
#   BENCH_RUNS=50 BENCH_WARMUP=5
#   BENCH_WORK=DIR           scratch (default bench/work/startup)
#   BENCH_NO_BUILD=1         do not run `npm run build` first
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
W=${BENCH_WORK:-$REPO/bench/work/startup}
IMAGE=${BENCH_IMAGE:-127.0.0.1:5999/alpine:3.20}
INSECURE=${BENCH_INSECURE:-${IMAGE%%/*}}
RUNS=${BENCH_RUNS:-50}
WARMUP=${BENCH_WARMUP:-5}
LOG_TAG=startup
# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
have hyperfine || die "hyperfine is not installed (apt-get install hyperfine)"

if [[ $IS_ROOT -eq 1 ]]; then
  BUSER=${BENCH_USER:-burrowtest}
  id "$BUSER" > /dev/null 2>&1 || die "no user $BUSER: set BENCH_USER to an unprivileged user"
  as_user() { su "$BUSER" -s /bin/bash -c "$1"; }
else
  as_user() { bash -c "$1"; }
fi

npm_build

PKG=$W/pkg
log "staging the package in $PKG"
rm -rf "$PKG"
mkdir -p "$PKG/dist"
cp -a "$REPO/dist/src" "$REPO/dist/engines" "$PKG/dist/"
cp -a "$REPO/package.json" "$REPO/engines" "$REPO/vendor" "$REPO/node_modules" "$PKG/"
chmod -R a+rX "$W"
mkdir -p "$W/out"
if [[ $IS_ROOT -eq 1 ]]; then
  mkdir -p "$W/store" "$W/home" "$W/out"
  chown "$BUSER" "$W/store" "$W/home" "$W/out"
fi

BIN=$(node -p "require('$PKG/package.json').bin.burrow")
CLI="$PKG/$BIN"
ENVS="env HOME=$W/home BURROW_DIR=$W/store BURROW_INSECURE_REGISTRIES=$INSECURE"
log "pulling $IMAGE as $(as_user 'id -un')"
as_user "$ENVS $CLI pull -q $IMAGE" > /dev/null || die "burrow pull $IMAGE failed"
as_user "$ENVS $CLI run --pull never $IMAGE /bin/true" || die "burrow run $IMAGE /bin/true failed"

# What a run loads, seen from inside: Node's list of builtins and CommonJS's module cache.
cat > "$W/out/lean.cjs" << 'LEAN'
process.on("exit", () => {
  const builtins = process.moduleLoadList.filter((m) => /^NativeModule (https?|http2|tls|zlib)$/.test(m));
  const files = Object.keys(require.cache).filter((f) => /got\.cjs|node_modules/.test(f));
  const heavy = [...builtins, ...files];
  require("fs").writeSync(2, `run path lean: ${heavy.length === 0 ? "yes" : "no, loads " + heavy.join(", ")}\n`);
});
LEAN
chmod a+r "$W/out/lean.cjs"
LEAN=$(as_user "$ENVS node -r $W/out/lean.cjs $CLI run --pull never $IMAGE /bin/true" 2>&1 | grep '^run path lean')

as_user "cd $W && $ENVS hyperfine -N -w $WARMUP -r $RUNS --export-json $W/out/results.json \
  -n node 'node -e 0' \
  -n version '$CLI version' \
  -n run '$CLI run $IMAGE /bin/true'" > "$W/hyperfine.txt" 2>&1 || {
  cat "$W/hyperfine.txt" >&2
  die "hyperfine failed"
}

node -e '
const r = require(process.argv[1]).results;
const floor = r.find((x) => x.command === "node").mean;
const ms = (s) => (s * 1000).toFixed(1).padStart(6);
console.log("command   mean ± σ (ms)      ratio to node -e 0");
for (const x of r) {
  console.log(`${x.command.padEnd(8)} ${ms(x.mean)} ± ${ms(x.stddev).trim().padEnd(5)}   ${(x.mean / floor).toFixed(2)}x`);
}
const run = r.find((x) => x.command === "run");
console.log(`run within 1.25x of node -e 0: ${run.mean / floor <= 1.25 ? "yes" : "no"} (${(run.mean / floor).toFixed(2)}x)`);
' "$W/out/results.json"
echo "$LEAN"
