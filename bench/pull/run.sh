#!/usr/bin/env bash
# Cold pull+flatten benchmark: burrow against Charliecloud's `ch-image pull`
# and against GNU `tar -xzf` of the same layer blob, in one run.
#
# What it does (see bench/README.md):
#   1. builds (once, cached under bench/work/pull/) a ~200 MB Debian bookworm
#      rootfs with debootstrap, tars it into ONE gzip layer, writes an image
#      config and a Docker schema-2 manifest;
#   2. starts a Debian `docker-registry` on 127.0.0.1 (TLS, self-signed CA)
#      and pushes the image with the registry HTTP API (curl);
#   3. times each tool BENCH_RUNS times, cold (fresh output directory, page
#      cache dropped when permitted), with /usr/bin/time (wall s, peak RSS);
#   4. checks that burrow's rootfs (and ch-image's) holds the same files as
#      the tar-extracted one; prints a table and writes results.json.
#
# Environment:
#   BENCH_RUNS=3            runs per tool (best and median are reported)
#   BENCH_WORK=DIR          scratch dir (default: bench/work/pull)
#   BENCH_ROOTFS=DIR        use this existing rootfs instead of debootstrap
#   BENCH_INCLUDE=LIST      debootstrap --include (default: python3,perl,less,ca-certificates)
#   BENCH_MIRROR=URL        Debian mirror (default: http://deb.debian.org/debian)
#   BENCH_TOOLS=LIST        subset of: tar,curl-tar,ch-image,ch-image-nocache,burrow,podman
#                           (curl-tar: `curl BLOB_URL | tar -xzf -`, a streamed pull floor)
#   BENCH_NO_BUILD=1        do not run `npm run build` before measuring burrow
#   BENCH_KEEP_REGISTRY=1   leave the registry running at the end (prints its port)
#   BENCH_BIG_MIB=N         also pull (once, burrow only) a 2-layer image: the rootfs
#                           layer plus a layer holding N MiB of incompressible data,
#                           to show whether burrow's peak memory grows with the image
#   BENCH_BASELINE=DIR      also measure the burrow built in DIR (another checkout, after
#                           `npm ci`), as the tool `burrow-base`: a before/after in one run
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
W=${BENCH_WORK:-$REPO/bench/work/pull}
RUNS=${BENCH_RUNS:-3}
INCLUDE=${BENCH_INCLUDE:-python3,perl,less,ca-certificates}
MIRROR=${BENCH_MIRROR:-http://deb.debian.org/debian}
TOOLS=${BENCH_TOOLS:-tar,curl-tar,ch-image,ch-image-nocache,burrow,podman}
IMAGE_REPO=bench/rootfs
IMAGE_TAG=1
BURROW_MAIN=$REPO/dist/src/cli/main.js
APT_RECOMMENDS=1
# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# ---------------------------------------------------------------- prerequisites
need_pkg docker-registry docker-registry
need_pkg openssl openssl
need_pkg curl curl
need_pkg sha256sum coreutils
need_pkg node nodejs
[[ -x /usr/bin/time ]] || apt_install time || die "/usr/bin/time not found (Debian package time)"
GZIP_CMD=gzip
have pigz && GZIP_CMD=pigz

# ch-image is a Python script run with `#!/usr/bin/env python3`: a python3
# earlier on PATH (pyenv, conda, venv) may lack its modules (lark, requests),
# so it is run with the system Python's directory first on PATH.
CH_PATH=/usr/bin:/bin:$PATH
if want ch-image || want ch-image-nocache; then
  if ! have ch-image; then
    apt_install charliecloud-builders charliecloud-runtime || true
  fi
  if have ch-image && ! env PATH="$CH_PATH" python3 -c 'import lark, requests' 2> /dev/null; then
    apt_install python3-lark python3-requests || true
  fi
fi
CH_ENV=(env "PATH=$CH_PATH" "USER=${USER:-$(id -un)}" "REQUESTS_CA_BUNDLE=$W/tls/ca.pem")

DROP_CACHES=0
if [[ $IS_ROOT -eq 1 ]] && { sync && echo 3 > /proc/sys/vm/drop_caches; } 2> /dev/null; then
  DROP_CACHES=1
else
  log "cannot drop the page cache (needs root): runs are cold in their output directories only"
fi
drop_caches() {
  if [[ $DROP_CACHES -eq 1 ]]; then
    sync
    echo 3 > /proc/sys/vm/drop_caches
  fi
}

# ---------------------------------------------------------------- 1. rootfs
if [[ -n "${BENCH_ROOTFS:-}" ]]; then
  ROOTFS=$(cd "$BENCH_ROOTFS" && pwd)
  log "using rootfs $ROOTFS (BENCH_ROOTFS)"
else
  ROOTFS=$W/rootfs
  if [[ ! -f $W/rootfs.ok ]]; then
    [[ $IS_ROOT -eq 1 ]] || die "building the rootfs needs root (debootstrap); run once as root, or set BENCH_ROOTFS"
    need_pkg debootstrap debootstrap
    log "debootstrap --variant=minbase --include=$INCLUDE bookworm (a few minutes; log: $W/debootstrap.log)"
    rm -rf "$W/rootfs.tmp" "$ROOTFS"
    debootstrap --variant=minbase --include="$INCLUDE" bookworm "$W/rootfs.tmp" "$MIRROR" > "$W/debootstrap.log" 2>&1 ||
      die "debootstrap failed; see $W/debootstrap.log"
    # What an image build would drop: downloaded packages and apt lists.
    rm -rf "$W/rootfs.tmp/var/cache/apt/archives/"*.deb "$W/rootfs.tmp/var/lib/apt/lists/"*_Packages
    mv "$W/rootfs.tmp" "$ROOTFS"
    touch "$W/rootfs.ok"
  fi
fi

# ---------------------------------------------------------------- 1b. image
IMG=$W/image
BLOB=$IMG/layer.tar.gz
if [[ ! -f $IMG/ok || $IMG/ok -ot $ROOTFS || $(cat "$IMG/ok") != "$ROOTFS" ]]; then
  log "making the layer blob from $ROOTFS"
  rm -rf "$IMG"
  mkdir -p "$IMG"
  # Sorted, numeric owners, top-level names without "./" (as image builders
  # write them); device nodes and /proc, /sys contents are left out, as in
  # real images.
  mapfile -t top < <(cd "$ROOTFS" && ls -A)
  tar -C "$ROOTFS" --sort=name --numeric-owner --anchored \
    --exclude='dev/?*' --exclude='proc/?*' --exclude='sys/?*' \
    -cf "$IMG/layer.tar" "${top[@]}"
  DIFF_ID=sha256:$(sha256sum "$IMG/layer.tar" | cut -d' ' -f1)
  TAR_SIZE=$(stat -c %s "$IMG/layer.tar")
  $GZIP_CMD -n -6 -c "$IMG/layer.tar" > "$BLOB"
  rm -f "$IMG/layer.tar"
  LAYER_DIGEST=sha256:$(sha256sum "$BLOB" | cut -d' ' -f1)
  LAYER_SIZE=$(stat -c %s "$BLOB")
  NFILES=$(tar -tzf "$BLOB" | wc -l)
  cat > "$IMG/config.json" << EOF
{"architecture":"amd64","os":"linux","created":"2024-01-01T00:00:00Z","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["/bin/bash"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["$DIFF_ID"]},"history":[{"created":"2024-01-01T00:00:00Z","created_by":"debootstrap --variant=minbase --include=$INCLUDE bookworm"}]}
EOF
  CONFIG_DIGEST=sha256:$(sha256sum "$IMG/config.json" | cut -d' ' -f1)
  CONFIG_SIZE=$(stat -c %s "$IMG/config.json")
  cat > "$IMG/manifest.json" << EOF
{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":$CONFIG_SIZE,"digest":"$CONFIG_DIGEST"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":$LAYER_SIZE,"digest":"$LAYER_DIGEST"}]}
EOF
  cat > "$IMG/meta.env" << EOF
DIFF_ID=$DIFF_ID
TAR_SIZE=$TAR_SIZE
LAYER_DIGEST=$LAYER_DIGEST
LAYER_SIZE=$LAYER_SIZE
CONFIG_DIGEST=$CONFIG_DIGEST
NFILES=$NFILES
EOF
  echo "$ROOTFS" > "$IMG/ok"
fi
# shellcheck disable=SC1091
source "$IMG/meta.env"
log "image: $NFILES entries, $((TAR_SIZE / 1048576)) MiB uncompressed, $((LAYER_SIZE / 1048576)) MiB gzip, layer $LAYER_DIGEST"

# ---------------------------------------------------------------- 2. registry
TLS=$W/tls
if [[ ! -f $TLS/server.pem ]]; then
  log "making a self-signed CA and a server certificate for 127.0.0.1"
  rm -rf "$TLS"
  mkdir -p "$TLS"
  (
    cd "$TLS"
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 3650 \
      -subj /CN=burrow-bench-ca -addext basicConstraints=critical,CA:TRUE \
      -addext keyUsage=critical,keyCertSign,cRLSign 2> /dev/null
    openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=127.0.0.1 2> /dev/null
    printf '%s\n' 'subjectAltName=IP:127.0.0.1,DNS:localhost' 'basicConstraints=CA:FALSE' \
      'keyUsage=critical,digitalSignature,keyEncipherment' 'extendedKeyUsage=serverAuth' > ext.cnf
    openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
      -days 3650 -extfile ext.cnf 2> /dev/null
  )
fi
CA=$TLS/ca.pem

REG_PID=
cleanup() {
  [[ -n "${BENCH_KEEP_REGISTRY:-}" ]] || stop_registry
}
trap cleanup EXIT
start_registry "$TLS/server.pem" "$TLS/server.key" "$CA"
log "docker-registry (pid $REG_PID) on $HOSTPORT, TLS"

push_blob "$IMAGE_REPO" "$BLOB" "$LAYER_DIGEST"
push_blob "$IMAGE_REPO" "$IMG/config.json" "$CONFIG_DIGEST"
push_manifest "$IMAGE_REPO:$IMAGE_TAG" "$IMG/manifest.json"
REF=$HOSTPORT/$IMAGE_REPO:$IMAGE_TAG
log "pushed $REF"

BIG_MIB=${BENCH_BIG_MIB:-0}
BIG_REF=
if [[ $BIG_MIB -gt 0 ]]; then
  BIG=$W/big-$BIG_MIB
  if [[ ! -f $BIG/ok ]]; then
    log "making a $BIG_MIB MiB incompressible layer"
    rm -rf "$BIG"
    mkdir -p "$BIG/tree/big"
    head -c "$((BIG_MIB * 1048576))" /dev/urandom > "$BIG/tree/big/data.bin"
    tar -C "$BIG/tree" --numeric-owner -cf "$BIG/layer.tar" big
    rm -rf "$BIG/tree"
    b_diff=sha256:$(sha256sum "$BIG/layer.tar" | cut -d' ' -f1)
    gzip -n -1 -c "$BIG/layer.tar" > "$BIG/layer.tar.gz"
    rm -f "$BIG/layer.tar"
    b_dig=sha256:$(sha256sum "$BIG/layer.tar.gz" | cut -d' ' -f1)
    b_size=$(stat -c %s "$BIG/layer.tar.gz")
    cat > "$BIG/config.json" << EOF
{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/bash"]},"rootfs":{"type":"layers","diff_ids":["$DIFF_ID","$b_diff"]}}
EOF
    b_cdig=sha256:$(sha256sum "$BIG/config.json" | cut -d' ' -f1)
    cat > "$BIG/manifest.json" << EOF
{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":$(stat -c %s "$BIG/config.json"),"digest":"$b_cdig"},"layers":[{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":$LAYER_SIZE,"digest":"$LAYER_DIGEST"},{"mediaType":"application/vnd.docker.image.rootfs.diff.tar.gzip","size":$b_size,"digest":"$b_dig"}]}
EOF
    printf 'B_DIG=%s\nB_CDIG=%s\n' "$b_dig" "$b_cdig" > "$BIG/meta.env"
    touch "$BIG/ok"
  fi
  # shellcheck disable=SC1091
  source "$BIG/meta.env"
  push_blob bench/big "$BLOB" "$LAYER_DIGEST"
  push_blob bench/big "$BIG/layer.tar.gz" "$B_DIG"
  push_blob bench/big "$BIG/config.json" "$B_CDIG"
  push_manifest "bench/big:$BIG_MIB" "$BIG/manifest.json"
  BIG_REF=$HOSTPORT/bench/big:$BIG_MIB
  log "pushed $BIG_REF"
fi

# ---------------------------------------------------------------- 3. measure
RUNS_DIR=$W/runs
RES=$W/results.tsv
mkdir -p "$RUNS_DIR"
: > "$RES"
declare -A NOTE=()

# measure TOOL RUN OUTDIR CMD...: fresh OUTDIR, cold cache, one timed run.
# Appends "tool run wall_s maxrss_kib rc load1 user_s sys_s" to results.tsv; returns the rc.
measure() {
  local tool=$1 run=$2 out=$3
  shift 3
  rm -rf "$out"
  mkdir -p "$out"
  drop_caches
  local tf=$RUNS_DIR/$tool.$run.time lf=$RUNS_DIR/$tool.$run.log rc=0 load
  load=$(cut -d' ' -f1 /proc/loadavg)
  /usr/bin/time -f '%e %M %U %S' -o "$tf" "$@" > "$lf" 2>&1 || rc=$?
  local wall rss user sys
  read -r wall rss user sys < <(tail -n 1 "$tf")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$tool" "$run" "$wall" "$rss" "$rc" "$load" "$user" "$sys" >> "$RES"
  log "$(printf '%-17s run %s: %6ss  %5s MiB  cpu %ss user %ss sys  rc=%s  (load %s)' "$tool" "$run" "$wall" "$((rss / 1024))" "$user" "$sys" "$rc" "$load")"
  return "$rc"
}

# cmd_for TOOL OUT: sets CMD to the command line that TOOL runs into OUT.
cmd_for() {
  local out=$2
  case $1 in
    tar) CMD=(tar -xzf "$BLOB" -C "$out") ;;
    curl-tar)
      CMD=(bash -c 'curl -sf --cacert "$1" "$2" | tar -xzf - -C "$3"' curl-tar "$CA"
        "$URL/$IMAGE_REPO/blobs/$LAYER_DIGEST" "$out") ;;
    # ch-image always speaks HTTPS. It is given the test CA through
    # REQUESTS_CA_BUNDLE (python-requests); its --tls-no-verify is ignored
    # whenever REQUESTS_CA_BUNDLE or CURL_CA_BUNDLE is set in the environment.
    # Its storage directory must not exist beforehand.
    ch-image) CMD=("${CH_ENV[@]}" ch-image --storage "$out/storage" pull "$REF") ;;
    ch-image-nocache) CMD=("${CH_ENV[@]}" ch-image --storage "$out/storage" --no-cache pull "$REF") ;;
    # The CA is given the standard Node way; no --insecure needed.
    burrow) CMD=(env "NODE_EXTRA_CA_CERTS=$CA" node "$BURROW_MAIN" --repo "$out" pull "$REF") ;;
    burrow-base) CMD=(env "NODE_EXTRA_CA_CERTS=$CA" node "$BASE_MAIN" --repo "$out" pull "$REF") ;;
    podman) CMD=(podman --root "$out/root" --runroot "$out/run" pull --cert-dir "$TLS/podman" "$REF") ;;
  esac
}

ACTIVE=()
TAR_OUT=$RUNS_DIR/tar.out
want tar && ACTIVE+=(tar)
want curl-tar && ACTIVE+=(curl-tar)

CH_VERSION=
if want ch-image || want ch-image-nocache; then
  if have ch-image && CH_VERSION=$("${CH_ENV[@]}" ch-image --version 2>&1); then
    want ch-image && ACTIVE+=(ch-image)
    want ch-image-nocache && ACTIVE+=(ch-image-nocache)
  else
    NOTE[ch-image]="ch-image not usable: $CH_VERSION"
    CH_VERSION=
    log "${NOTE[ch-image]}"
  fi
fi

BURROW_VERSION=
if want burrow; then
  if [[ -z "${BENCH_NO_BUILD:-}" ]]; then
    log "npm run build"
    (cd "$REPO" && npm run build > "$W/build.log" 2>&1) || log "npm run build failed (see $W/build.log); using dist/ as it is"
  fi
  if [[ -f $BURROW_MAIN ]]; then
    BURROW_VERSION="$(node "$BURROW_MAIN" version 2> /dev/null | head -n 1) ($(git -C "$REPO" rev-parse --short HEAD 2> /dev/null)$(git -C "$REPO" diff --quiet HEAD 2> /dev/null || echo +dirty))"
    ACTIVE+=(burrow)
  else
    NOTE[burrow]="not built: $BURROW_MAIN missing"
  fi
fi

BASE_MAIN=
BASE_VERSION=
if [[ -n "${BENCH_BASELINE:-}" ]]; then
  BASE_MAIN=$(cd "$BENCH_BASELINE" && pwd)/dist/src/cli/main.js
  [[ -f $BASE_MAIN ]] || die "BENCH_BASELINE: $BASE_MAIN missing (run npm ci there)"
  BASE_VERSION="$(git -C "$BENCH_BASELINE" rev-parse --short HEAD 2> /dev/null || basename "$BENCH_BASELINE")"
  ACTIVE+=(burrow-base)
fi

PODMAN_VERSION=
if want podman; then
  if have podman; then
    PODMAN_VERSION=$(podman --version 2>&1)
    mkdir -p "$TLS/podman"
    cp "$CA" "$TLS/podman/ca.crt"
    ACTIVE+=(podman)
  else
    NOTE[podman]="podman not installed"
  fi
fi

# Rounds: every tool once per round, so that a busy machine slows all alike, each round starting one tool
# further on: a tool that runs right after others deleted their trees pays for it (ext4 scans recently
# freed inodes when it allocates new ones), and the same tool should not always be the one that pays.
declare -A FAILED=()
for i in $(seq "$RUNS"); do
  n=${#ACTIVE[@]}
  ORDER=()
  for k in $(seq 0 $((n - 1))); do ORDER+=("${ACTIVE[$(((k + i - 1) % n))]}"); done
  for tool in "${ORDER[@]}"; do
    [[ -n "${FAILED[$tool]:-}" ]] && continue
    out=$RUNS_DIR/$tool.out
    cmd_for "$tool" "$out"
    if ! measure "$tool" "$i" "$out" "${CMD[@]}"; then
      FAILED[$tool]=1
      NOTE[$tool]="failed (rc $(tail -n 1 "$RES" | cut -f5)); see $RUNS_DIR/$tool.$i.log: $(tail -n 3 "$RUNS_DIR/$tool.$i.log" | tr '\n' ' ' | cut -c1-300)"
      log "$tool: ${NOTE[$tool]}"
    fi
  done
done

if [[ -n "$BIG_REF" && -n "${BURROW_VERSION:-}" ]]; then
  out=$RUNS_DIR/burrow-big.out
  measure "burrow-big-$BIG_MIB" 1 "$out" env "NODE_EXTRA_CA_CERTS=$CA" node "$BURROW_MAIN" --repo "$out" pull "$BIG_REF" ||
    NOTE[burrow-big-$BIG_MIB]="failed; see $RUNS_DIR/burrow-big-$BIG_MIB.1.log: $(tail -n 3 "$RUNS_DIR/burrow-big-$BIG_MIB.1.log" | tr '\n' ' ' | cut -c1-300)"
  rm -rf "$out"
  if [[ -n $BASE_MAIN ]]; then
    measure "burrow-base-big-$BIG_MIB" 1 "$out" env "NODE_EXTRA_CA_CERTS=$CA" node "$BASE_MAIN" --repo "$out" pull "$BIG_REF" ||
      NOTE[burrow-base-big-$BIG_MIB]="failed; see $RUNS_DIR/burrow-base-big-$BIG_MIB.1.log"
    rm -rf "$out"
  fi
fi

# ---------------------------------------------------------------- 4. compare trees
# listing DIR: one line per entry: path, type, size (files), link target.
listing() {
  (cd "$1" && find . -mindepth 1 \( -type f -printf '%P f %s\n' \) -o \( -type l -printf '%P l %l\n' \) \
    -o -printf '%P %y\n' | sort)
}
modes() { (cd "$1" && find . -mindepth 1 -printf '%P %m %U:%G\n' | sort); }
mtimes() { (cd "$1" && find . -mindepth 1 -printf '%P %y %Ts\n' | sort); }
# compare NAME DIR: prints and records how DIR differs from the tar tree.
declare -A SAME=()
compare() {
  local name=$1 dir=$2
  if [[ ! -d $TAR_OUT || ! -d $dir ]]; then
    SAME[$name]="not compared (missing tree)"
    return
  fi
  local a b
  a=$(listing "$TAR_OUT" | tee "$RUNS_DIR/tar.list" | wc -l)
  b=$(listing "$dir" | tee "$RUNS_DIR/$name.list" | wc -l)
  local ldiff cdiff mdiff tdiff
  ldiff=$(diff "$RUNS_DIR/tar.list" "$RUNS_DIR/$name.list" > "$RUNS_DIR/$name.listdiff"; grep -c '^[<>]' "$RUNS_DIR/$name.listdiff" || true)
  cdiff=$(diff -r --no-dereference "$TAR_OUT" "$dir" > "$RUNS_DIR/$name.contentdiff" 2>&1; wc -l < "$RUNS_DIR/$name.contentdiff")
  modes "$TAR_OUT" > "$RUNS_DIR/tar.modes"
  modes "$dir" > "$RUNS_DIR/$name.modes"
  mdiff=$(diff "$RUNS_DIR/tar.modes" "$RUNS_DIR/$name.modes" | grep -c '^>' || true)
  mtimes "$TAR_OUT" > "$RUNS_DIR/tar.mtimes"
  mtimes "$dir" > "$RUNS_DIR/$name.mtimes"
  tdiff=$(diff "$RUNS_DIR/tar.mtimes" "$RUNS_DIR/$name.mtimes" | grep -c '^>' || true)
  if [[ $ldiff -eq 0 && $cdiff -eq 0 ]]; then
    SAME[$name]="same files ($b entries, same types, sizes, link targets, contents); $mdiff entries differ in mode or owner ($RUNS_DIR/$name.modes), $tdiff in mtime"
  else
    SAME[$name]="DIFFERENT: tar $a entries, $name $b; $ldiff listing lines differ ($RUNS_DIR/$name.listdiff), diff -r: $cdiff lines ($RUNS_DIR/$name.contentdiff); $mdiff mode/owner differences, $tdiff mtime differences"
  fi
  [[ $name == ch-image* ]] && SAME[$name]+=" (expected for ch-image: it adds /ch, /mnt/0-9 and etc/hosts, rewrites absolute symlinks to relative and does not restore owners)"
  log "tree check $name vs tar: ${SAME[$name]}"
}
T=$'\t'
if grep -q "^burrow$T$RUNS$T[^$T]*$T[^$T]*${T}0$T" "$RES"; then
  BROOT=$(NODE_EXTRA_CA_CERTS=$CA node "$BURROW_MAIN" --repo "$RUNS_DIR/burrow.out" inspect -p "$REF" 2> /dev/null | tail -n 1 || true)
  if [[ -z "$BROOT" || ! -d "$BROOT" ]]; then
    BROOT=$(find "$RUNS_DIR/burrow.out" -maxdepth 4 -type d -name rootfs | head -n 1)
  fi
  compare burrow "$BROOT"
fi
if grep -q "^ch-image-nocache$T$RUNS$T[^$T]*$T[^$T]*${T}0$T" "$RES"; then
  compare ch-image-nocache "$(find "$RUNS_DIR/ch-image-nocache.out/storage/img" -mindepth 1 -maxdepth 1 -type d | head -n 1)"
fi

# ---------------------------------------------------------------- 5. report
notes_json=$(for k in "${!NOTE[@]}"; do printf '%s\t%s\n' "$k" "${NOTE[$k]}"; done)
same_json=$(for k in "${!SAME[@]}"; do printf '%s\t%s\n' "$k" "${SAME[$k]}"; done)
RESULTS_TSV=$RES NOTES=$notes_json SAMES=$same_json RUNS=$RUNS DROP=$DROP_CACHES \
  CH_VERSION=$CH_VERSION BURROW_VERSION=$BURROW_VERSION BASE_VERSION=$BASE_VERSION PODMAN_VERSION=$PODMAN_VERSION \
  TAR_VERSION="$(tar --version | head -n 1)" NODE_VERSION="$(node --version)" \
  REG_VERSION="$(docker-registry --version 2>&1 | head -n 1)" NFILES=$NFILES TAR_SIZE=$TAR_SIZE \
  LAYER_SIZE=$LAYER_SIZE LAYER_DIGEST=$LAYER_DIGEST REF=$REF ROOTFS=$ROOTFS OUT_JSON=$W/results.json \
  node --input-type=module -e '
import { readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
const e = process.env;
const kv = (s) => Object.fromEntries((s || "").split("\n").filter(Boolean).map((l) => l.split("\t")));
const rows = readFileSync(e.RESULTS_TSV, "utf8").split("\n").filter(Boolean).map((l) => {
  const [tool, run, wall, rss, rc, load, user, sys] = l.split("\t");
  return { tool, run: +run, wall_s: +wall, peak_rss_mib: +(rss / 1024).toFixed(1), user_s: +user, sys_s: +sys, rc: +rc, load1_before: +load };
});
const big = (t) => /^burrow(-base)?-big-/.test(t);
const order = ["tar", "curl-tar", "ch-image", "ch-image-nocache", "burrow", "burrow-base", "podman", ...new Set(rows.map((x) => x.tool).filter(big))];
const tools = {};
for (const t of order) {
  const r = rows.filter((x) => x.tool === t);
  if (r.length === 0) continue;
  const ok = r.filter((x) => x.rc === 0);
  const walls = ok.map((x) => x.wall_s).sort((a, b) => a - b);
  tools[t] = {
    ok: ok.length === (big(t) ? 1 : Number(e.RUNS)),
    runs: r,
    best_wall_s: walls.length ? walls[0] : null,
    median_wall_s: walls.length ? walls[Math.floor((walls.length - 1) / 2)] : null,
    peak_rss_mib: ok.length ? Math.max(...ok.map((x) => x.peak_rss_mib)) : null,
  };
}
const ratio = (a, b) => (tools[a]?.ok && tools[b]?.ok ? +(tools[a].best_wall_s / tools[b].best_wall_s).toFixed(2) : null);
for (const t of Object.keys(tools)) tools[t].ratio_vs_tar = big(t) ? null : ratio(t, "tar");
const out = {
  date: new Date().toISOString(),
  host: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, mem_gib: +(os.totalmem() / 2 ** 30).toFixed(1), kernel: os.release() },
  image: { ref: e.REF, rootfs: e.ROOTFS, entries: +e.NFILES, uncompressed_bytes: +e.TAR_SIZE, layer_gzip_bytes: +e.LAYER_SIZE, layer_digest: e.LAYER_DIGEST },
  method: { runs: +e.RUNS, page_cache_dropped: e.DROP === "1", timer: "/usr/bin/time -f \"%e %M %U %S\" (peak RSS = largest single process)" },
  versions: { tar: e.TAR_VERSION, ch_image: e.CH_VERSION || null, burrow: e.BURROW_VERSION || null, burrow_base: e.BASE_VERSION || null, node: e.NODE_VERSION, podman: e.PODMAN_VERSION || null, docker_registry: e.REG_VERSION },
  tools,
  burrow_vs_ch_image: ratio("burrow", "ch-image"),
  burrow_vs_ch_image_nocache: ratio("burrow", "ch-image-nocache"),
  burrow_vs_tar: ratio("burrow", "tar"),
  median_ratios: Object.fromEntries(
    [["burrow", "ch-image-nocache"], ["burrow", "tar"], ["burrow-base", "ch-image-nocache"], ["burrow-base", "tar"]]
      .filter(([a, b]) => tools[a]?.ok && tools[b]?.ok)
      .map(([a, b]) => [`${a}_vs_${b}`, +(tools[a].median_wall_s / tools[b].median_wall_s).toFixed(2)]),
  ),
  tree_check: kv(e.SAMES),
  notes: kv(e.NOTES),
};
writeFileSync(e.OUT_JSON, JSON.stringify(out, null, 2) + "\n");
const f = (v, d = 2) => (v == null ? "-" : Number(v).toFixed(d));
const lines = [];
lines.push(`image: ${e.REF}  ${out.image.entries} entries, ${(out.image.uncompressed_bytes / 2 ** 20).toFixed(0)} MiB tar, ${(out.image.layer_gzip_bytes / 2 ** 20).toFixed(0)} MiB gzip; ${e.RUNS} cold runs each${out.method.page_cache_dropped ? " (page cache dropped)" : " (page cache NOT dropped)"}`);
lines.push("");
lines.push("tool               best s  median s  peak RSS MiB  vs tar   cpu s (best run)");
for (const [t, v] of Object.entries(tools)) {
  lines.push(`${t.padEnd(17)} ${f(v.best_wall_s).padStart(7)} ${f(v.median_wall_s).padStart(9)} ${f(v.peak_rss_mib, 1).padStart(13)} ${(v.ratio_vs_tar == null ? "-" : v.ratio_vs_tar.toFixed(2) + "x").padStart(7)}   ${v.ok ? ((b) => `${f(b.user_s + b.sys_s)} (${f(b.user_s)} user, ${f(b.sys_s)} sys)`)(v.runs.filter((x) => x.rc === 0).sort((a, b) => a.wall_s - b.wall_s)[0]) : "(FAILED)"}`);
}
lines.push("");
lines.push(`burrow vs ch-image: ${out.burrow_vs_ch_image ?? "-"}x   burrow vs ch-image --no-cache: ${out.burrow_vs_ch_image_nocache ?? "-"}x   burrow vs GNU tar: ${out.burrow_vs_tar ?? "-"}x`);
lines.push(`medians: ${Object.entries(out.median_ratios).map(([k, v]) => `${k} ${v}x`).join("   ") || "-"}`);
for (const [k, v] of Object.entries(out.tree_check)) lines.push(`tree check ${k}: ${v}`);
for (const [k, v] of Object.entries(out.notes)) lines.push(`note ${k}: ${v}`);
lines.push(`versions: ${Object.entries(out.versions).map(([k, v]) => `${k}=${v ?? "-"}`).join("; ")}`);
lines.push(`results: ${e.OUT_JSON}`);
console.log(lines.join("\n"));
'
if [[ -n "${BENCH_KEEP_REGISTRY:-}" ]]; then
  log "registry left running: pid $REG_PID, $REF, CA $CA"
fi
