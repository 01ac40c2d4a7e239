#!/usr/bin/env bash
# What execa would cost burrow's start-up (the design card names execa; burrow spawns with
# node:child_process): the module load time of execa against node:child_process, each in fresh Node
# processes (BENCH_RUNS of them, medians), and the whole start of a Node process that spawns
# /bin/true with one and with the other (hyperfine -N), the way `burrow run` starts its helper.
#
# The figures go to stdout; bench/README.md and the README's "Libraries" quote them.
#
# Environment:
#   BENCH_RUNS=40           fresh processes per load measurement, hyperfine runs per start
#   BENCH_WORK=DIR          scratch (default bench/work/execa)
set -euo pipefail
# A clean environment: a login shell's NODE_EXTRA_CA_CERTS or NODE_OPTIONS would slow every Node start.
if [[ -z ${BENCH_CLEAN_ENV:-} ]]; then
  exec env -i BENCH_CLEAN_ENV=1 PATH="$PATH" HOME="$HOME" LANG=C.UTF-8 \
    ${BENCH_RUNS:+BENCH_RUNS="$BENCH_RUNS"} ${BENCH_WORK:+BENCH_WORK="$BENCH_WORK"} "$0" "$@"
fi

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

# One fresh process: the wall and CPU time (user + system, steadier on a busy machine) that import() of
# MODULE takes, in ms; it lives in the checkout's node_modules so that `execa` resolves from there.
cat > "$REPO/node_modules/.burrow-bench-load.mjs" << 'LOAD'
const spec = process.argv[2];
const c = process.cpuUsage();
const t = process.hrtime.bigint();
await import(spec);
const cpu = process.cpuUsage(c);
process.stdout.write(`${Number(process.hrtime.bigint() - t) / 1e6} ${(cpu.user + cpu.system) / 1000}\n`);
LOAD
trap 'rm -f "$REPO/node_modules/.burrow-bench-load.mjs"' EXIT
median() { sort -n | awk '{a[NR] = $1} END {printf "%.1f", (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
load_ms() { # module: "WALL CPU", medians of RUNS fresh processes
  for _ in $(seq "$RUNS"); do node "$REPO/node_modules/.burrow-bench-load.mjs" "$1"; done > "$W/load.txt"
  echo "$(cut -d' ' -f1 "$W/load.txt" | median) $(cut -d' ' -f2 "$W/load.txt" | median)"
}
read -r CP CP_CPU <<< "$(load_ms node:child_process)"
read -r EX EX_CPU <<< "$(load_ms execa)"
# How many JavaScript files the import reads (strace, when installed).
FILES="?"
if have strace; then
  strace -f -qq -e trace=openat -o "$W/open.txt" node "$REPO/node_modules/.burrow-bench-load.mjs" execa > /dev/null
  FILES=$(grep -c '\.js", O_RDONLY' "$W/open.txt" || true)
fi
log "import() in a fresh process, medians of $RUNS (wall / CPU ms): node:child_process $CP / $CP_CPU, execa $EX / $EX_CPU ($FILES files)"

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
const [file, version, cp, cpCpu, ex, exCpu, files, runs] = process.argv.slice(1);
const r = require(file).results;
const med = (x) => { const t = [...x.times].sort((a, b) => a - b); const m = t.length >> 1; return t.length % 2 ? t[m] : (t[m - 1] + t[m]) / 2; };
const cpu = (x) => (x.user + x.system) * 1000;
console.log(`execa ${version}, node ${process.version}, load ${require("fs").readFileSync("/proc/loadavg", "utf8").split(" ").slice(0, 3).join(" ")}`);
console.log(`import() in a fresh process (medians of ${runs}): node:child_process ${cp} ms (${cpCpu} ms CPU), execa ${ex} ms (${exCpu} ms CPU, ${files} files)`);
for (const x of r) {
  console.log(`${x.command.padEnd(38)} median ${(med(x) * 1000).toFixed(1).padStart(6)} ms  min ${(x.min * 1000).toFixed(1).padStart(6)} ms  ` +
    `CPU ${cpu(x).toFixed(1).padStart(5)} ms  ${(med(x) / med(r[0])).toFixed(2)}x node -e 0 (CPU ${(cpu(x) / cpu(r[0])).toFixed(2)}x)`);
}
' "$W/spawn.json" "$EXECA_VERSION" "$CP" "$CP_CPU" "$EX" "$EX_CPU" "$FILES" "$RUNS"
