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
export LC_ALL=C

case "${1:-}" in
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
esac

# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

need_pkg docker-registry docker-registry
need_pkg curl curl
need_pkg hyperfine hyperfine
need_pkg setpriv util-linux
need_pkg npm npm
[[ -f $ALPINE ]] || die "no Alpine minirootfs at $ALPINE; set BENCH_ALPINE"

# ---------------------------------------------------------------- user and package
if [[ $IS_ROOT -eq 1 ]]; then
  U=${BENCH_USER:-burrowbench}
  if ! id "$U" > /dev/null 2>&1; then
    log "creating user $U"
    useradd -m -s /bin/sh -c "burrow bench user" "$U"
  fi
else
  U=$(id -un)
fi
UID_=$(id -u "$U")
GID_=$(id -g "$U")
if [[ -z ${BENCH_NO_BUILD:-} ]]; then
  log "npm run build"
  (cd "$REPO" && npm run build > "$W/build.log" 2>&1) || die "npm run build failed; see $W/build.log"
fi
rm -rf "$W/pkg" "$W/cold" "$W/warm" "$W/out"
mkdir -p "$W/pkg" "$W/cold" "$W/warm" "$W/out"
(cd "$REPO" && npm pack --ignore-scripts --pack-destination "$W/pkg" > "$W/pack.log" 2>&1) ||
  die "npm pack failed; see $W/pack.log"
TGZ=$(ls "$W"/pkg/*.tgz)
TGZ_KB=$(($(stat -c %s "$TGZ") / 1024))
chmod -R a+rX "$W/pkg"
[[ $IS_ROOT -eq 1 ]] && chown "$UID_:$GID_" "$W/cold" "$W/warm" "$W/out"
chmod 700 "$W/cold" "$W/warm"
NODE=$(command -v node)
NPM=$(command -v npm)
PATH_=$(dirname "$NODE"):/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin

# Runs a command as the user with a clean environment and HOME=$1 (npm's cache in it).
asuser() {
  local h=$1
  shift
  local envs=(HOME="$h" USER="$U" LOGNAME="$U" PATH="$PATH_" LANG=C.UTF-8 npm_config_cache="$h/.npm"
    npm_config_update_notifier=false BURROW_INSECURE_REGISTRIES="$HOSTPORT")
  if [[ $IS_ROOT -eq 1 ]]; then
    (cd "$h" && setpriv --reuid="$UID_" --regid="$GID_" --init-groups -- env -i "${envs[@]}" "$@")
  else
    (cd "$h" && env -i "${envs[@]}" "$@")
  fi
}

# ---------------------------------------------------------------- registry and image
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
HOSTPORT=127.0.0.1:$PORT
URL=http://$HOSTPORT/v2
rm -rf "$W/registry"
mkdir -p "$W/registry"
cat > "$W/registry.yml" << EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $W/registry
http:
  addr: $HOSTPORT
EOF
docker-registry serve "$W/registry.yml" > "$W/registry.log" 2>&1 &
REG_PID=$!
trap 'kill "$REG_PID" 2> /dev/null || true; wait "$REG_PID" 2> /dev/null || true' EXIT
for _ in $(seq 100); do
  curl -sf "$URL/" > /dev/null 2>&1 && break
  kill -0 "$REG_PID" 2> /dev/null || die "docker-registry exited; see $W/registry.log"
  sleep 0.1
done
curl -sf "$URL/" > /dev/null || die "registry not answering on $URL; see $W/registry.log"
push_blob() { # file digest
  local loc
  loc=$(curl -sf -X POST -D - -o /dev/null "$URL/bench/alpine/blobs/uploads/" | tr -d '\r' |
    sed -n 's/^[Ll]ocation: //p')
  [[ -n $loc ]] || die "registry gave no upload location"
  [[ $loc == http* ]] || loc=http://$HOSTPORT$loc
  [[ $loc == *\?* ]] && loc="$loc&digest=$2" || loc="$loc?digest=$2"
  curl -sf -X PUT -H 'Content-Type: application/octet-stream' -T "$1" "$loc" > /dev/null ||
    die "uploading $2 failed"
}
LAYER_DIGEST=sha256:$(sha256sum "$ALPINE" | cut -d' ' -f1)
DIFF_ID=sha256:$(gzip -dc "$ALPINE" | sha256sum | cut -d' ' -f1)
printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},"rootfs":{"type":"layers","diff_ids":["%s"]}}' \
  "$DIFF_ID" > "$W/config.json"
CONFIG_DIGEST=sha256:$(sha256sum "$W/config.json" | cut -d' ' -f1)
printf '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":%d,"digest":"%s"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":%d,"digest":"%s"}]}' \
  "$(stat -c %s "$W/config.json")" "$CONFIG_DIGEST" "$(stat -c %s "$ALPINE")" "$LAYER_DIGEST" > "$W/manifest.json"
push_blob "$ALPINE" "$LAYER_DIGEST"
push_blob "$W/config.json" "$CONFIG_DIGEST"
curl -sf -X PUT -H 'Content-Type: application/vnd.docker.distribution.manifest.v2+json' \
  --data-binary "@$W/manifest.json" "$URL/bench/alpine/manifests/3.20" > /dev/null || die "pushing the manifest failed"
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
