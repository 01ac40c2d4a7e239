#!/usr/bin/env bash
# What execa would cost burrow's start-up (the design card names execa; burrow spawns with
# node:child_process): the module load time of execa against node:child_process, each in fresh Node
# processes (BENCH_RUNS of them, medians), and the whole start of a Node process that spawns
# /bin/true with one and with the other (hyperfine -N), the way `burrow run` starts its helper.
#
# Environment:
#   BENCH_RUNS=40           fresh processes per load measurement, hyperfine runs per start
#   BENCH_WORK=DIR          scratch (default bench/work/execa)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
W=${BENCH_WORK:-$REPO/bench/work/execa}
RUNS=${BENCH_RUNS:-40}
LOG_TAG=execa
# shellcheck source=../lib.sh
. "$HERE/../lib.sh"
have hyperfine || die "hyperfine is not installed (apt-get install hyperfine)"
[[ -f $REPO/node_modules/execa/package.json ]] || die "execa is not installed here: run npm ci (it is a devDependency)"
EXECA_VERSION=$(node -p "require('$REPO/node_modules/execa/package.json').version")

# One fresh process: the time import() of MODULE takes, in ms (execa resolved from the checkout).
cat > "$W/load.mjs" << 'LOAD'
const spec = process.argv[2];
const t = process.hrtime.bigint();
await import(spec);
process.stdout.write(`${Number(process.hrtime.bigint() - t) / 1e6}\n`);
LOAD
median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
load_ms() { # module
  for _ in $(seq "$RUNS"); do (cd "$REPO" && node "$W/load.mjs" "$1"); done | median
}
cp "$W/load.mjs" "$REPO/node_modules/.burrow-bench-load.mjs"
trap 'rm -f "$REPO/node_modules/.burrow-bench-load.mjs"' EXIT
load_ms_here() { # module, resolved from the checkout's node_modules
  for _ in $(seq "$RUNS"); do node "$REPO/node_modules/.burrow-bench-load.mjs" "$1"; done | median
}
CP=$(load_ms_here node:child_process)
EX=$(load_ms_here execa)
log "import() in a fresh process, median of $RUNS: node:child_process $CP ms, execa $EX ms"

cat > "$W/spawn-cp.mjs" << 'CP'
import { spawn } from "node:child_process";
spawn("/bin/true", [], { stdio: "inherit" }).on("exit", (c) => { process.exitCode = c ?? 1; });
CP
cat > "$REPO/node_modules/.burrow-bench-spawn-execa.mjs" << 'EXECA'
import { execa } from "execa";
await execa("/bin/true", [], { stdio: "inherit" });
EXECA
trap 'rm -f "$REPO/node_modules/.burrow-bench-load.mjs" "$REPO/node_modules/.burrow-bench-spawn-execa.mjs"' EXIT
hyperfine -N --style basic -w 5 -r "$RUNS" --export-json "$W/spawn.json" \
  -n "node -e 0" "node -e 0" \
  -n "spawn /bin/true: node:child_process" "node $W/spawn-cp.mjs" \
  -n "spawn /bin/true: execa $EXECA_VERSION" "node $REPO/node_modules/.burrow-bench-spawn-execa.mjs" > "$W/hyperfine.txt" 2>&1 ||
  { cat "$W/hyperfine.txt" >&2; die "hyperfine failed"; }
node -e '
const r = require(process.argv[1]).results;
const med = (x) => { const t = [...x.times].sort((a, b) => a - b); const m = t.length >> 1; return t.length % 2 ? t[m] : (t[m - 1] + t[m]) / 2; };
const floor = med(r[0]);
console.log(`execa ${process.argv[2]}, node ${process.version}; import() in a fresh process (median of ${process.argv[5]}): node:child_process ${process.argv[3]} ms, execa ${process.argv[4]} ms`);
for (const x of r) console.log(`${x.command.padEnd(38)} median ${(med(x) * 1000).toFixed(1).padStart(6)} ms  min ${(x.min * 1000).toFixed(1).padStart(6)} ms  ${(med(x) / floor).toFixed(2)}x node -e 0`);
' "$W/spawn.json" "$EXECA_VERSION" "$CP" "$EX" "$RUNS"
