# shellcheck shell=bash
# Shell helpers shared by the benchmark scripts (bench/*/run.sh); source it after setting W (the
# scratch folder), REPO (the checkout) and, for want(), TOOLS. Messages go to stderr with a [bench]
# prefix ([$LOG_TAG] when set). Sourced without arguments, it sees the script's own: -h/--help prints
# the script's header.

# -h, --help: the calling script's header comment (line 2 up to `set -euo`), then exit.
case "${1:-}" in
  -h | --help)
    sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'
    exit 0
    ;;
esac
export LC_ALL=C

log() { printf '[%s] %s\n' "${LOG_TAG:-bench}" "$*" >&2; }
die() {
  printf '[%s] error: %s\n' "${LOG_TAG:-bench}" "$*" >&2
  exit 1
}
# want TOOL: TOOL is in the comma list $TOOLS.
want() { [[ ",$TOOLS," == *",$1,"* ]]; }
have() { command -v "$1" > /dev/null 2>&1; }
IS_ROOT=0
[[ $(id -u) -eq 0 ]] && IS_ROOT=1
mkdir -p "$W"
W=$(cd "$W" && pwd)

# apt_install PACKAGE...: as root, install Debian packages (log in $W/apt.log); fails otherwise.
# Recommended packages are left out unless APT_RECOMMENDS=1 (ch-image needs some of its own).
apt_install() {
  [[ $IS_ROOT -eq 1 ]] && have apt-get || return 1
  log "installing $*"
  local opts=(-y -q)
  [[ ${APT_RECOMMENDS:-0} == 1 ]] || opts+=(--no-install-recommends)
  DEBIAN_FRONTEND=noninteractive apt-get install "${opts[@]}" "$@" > "$W/apt.log" 2>&1 ||
    { apt-get update -q > /dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive apt-get install "${opts[@]}" "$@" >> "$W/apt.log" 2>&1; }
}
# need_pkg COMMAND PACKAGE: COMMAND on PATH, else install PACKAGE, else stop.
need_pkg() {
  have "$1" || apt_install "$2" || die "$1 not found (Debian package $2); install it or run as root"
}

# ---------------------------------------------------------------- the user and the package
# bench_user: sets U, UID_, GID_: as root BENCH_USER (default burrowbench, created when missing), else yourself.
bench_user() {
  if [[ $IS_ROOT -eq 1 ]]; then
    U=${BENCH_USER:-burrowbench}
    if ! id "$U" > /dev/null 2>&1; then
      log "creating user $U"
      useradd -m -s /bin/sh -c "burrow bench user" "$U"
    fi
    # Subordinate ids, as Debian's useradd gives where /etc/subuid exists (burrow build's namespace needs them).
    local f
    for f in subuid subgid; do
      if ! grep -q "^$U:" "/etc/$f" 2> /dev/null; then
        local start
        start=$(awk -F: 'BEGIN { e = 100000 } { if ($2 + $3 > e) e = $2 + $3 } END { print e }' "/etc/$f" 2> /dev/null || echo 100000)
        usermod "--add-sub${f#sub}s" "$start-$((start + 65535))" "$U"
      fi
    done
  else
    U=$(id -un)
  fi
  UID_=$(id -u "$U")
  GID_=$(id -g "$U")
}
# user_dirs DIR...: makes the folders (mkdir -p), owned by $U when root, mode 700.
user_dirs() {
  mkdir -p "$@"
  if [[ $IS_ROOT -eq 1 ]]; then chown "$UID_:$GID_" "$@"; fi
  chmod 700 "$@"
}
# run_as DIR VAR=VALUE... -- COMMAND...: runs COMMAND in DIR as $U (through setpriv when root) with a
# clean environment: USER, LOGNAME, LANG=C.UTF-8 and the variables given.
run_as() {
  local dir=$1 envs=(USER="$U" LOGNAME="$U" LANG=C.UTF-8)
  shift
  while [[ $1 != -- ]]; do
    envs+=("$1")
    shift
  done
  shift
  if [[ $IS_ROOT -eq 1 ]]; then
    (cd "$dir" && setpriv --reuid="$UID_" --regid="$GID_" --init-groups -- env -i "${envs[@]}" "$@")
  else
    (cd "$dir" && env -i "${envs[@]}" "$@")
  fi
}
# npm_build: `npm run build` in $REPO (log in $W/build.log), unless BENCH_NO_BUILD is set; stops when it fails.
npm_build() {
  [[ -z ${BENCH_NO_BUILD:-} ]] || return 0
  log "npm run build"
  (cd "$REPO" && npm run build > "$W/build.log" 2>&1) || die "npm run build failed; see $W/build.log"
}
# stage_pkg: copies the built package (dist, package.json, engines, vendor, node_modules) to $W/pkg, readable by all.
stage_pkg() {
  log "staging the package in $W/pkg"
  rm -rf "$W/pkg"
  mkdir -p "$W/pkg"
  (cd "$REPO" && cp -a dist package.json engines vendor node_modules "$W/pkg/")
  # Only the compiled engines are needed; TypeScript sources here would be picked up by tsconfig's bench/**.
  find "$W/pkg/engines" -name '*.ts' -delete
  chmod -R a+rX "$W/pkg"
}

# ---------------------------------------------------------------- a registry and pushing to it
# start_registry [CERT KEY CA]: a Debian docker-registry on a free 127.0.0.1 port, storing in $W/registry
# (log $W/registry.log), plain HTTP or TLS with CERT and KEY; sets REG_PID, HOSTPORT, URL (the /v2 root)
# and CURL (curl with its options; --cacert CA for TLS), and waits until it answers. Trap stop_registry first.
# shellcheck disable=SC2120 # CERT KEY CA are optional
start_registry() {
  local scheme=http
  HOSTPORT=127.0.0.1:$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
  CURL=(curl -sf)
  cat > "$W/registry.yml" << EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $W/registry
  delete:
    enabled: true
http:
  addr: $HOSTPORT
EOF
  if [[ $# -eq 3 ]]; then
    printf '  tls:\n    certificate: %s\n    key: %s\n' "$1" "$2" >> "$W/registry.yml"
    CURL+=(--cacert "$3")
    scheme=https
  fi
  URL=$scheme://$HOSTPORT/v2
  mkdir -p "$W/registry"
  docker-registry serve "$W/registry.yml" > "$W/registry.log" 2>&1 &
  REG_PID=$!
  for _ in $(seq 100); do
    "${CURL[@]}" "$URL/" > /dev/null 2>&1 && break
    kill -0 "$REG_PID" 2> /dev/null || die "docker-registry exited; see $W/registry.log"
    sleep 0.1
  done
  "${CURL[@]}" "$URL/" > /dev/null || die "registry not answering on $URL; see $W/registry.log"
}
# stop_registry: stops the registry start_registry started, if any.
stop_registry() {
  [[ -n ${REG_PID:-} ]] || return 0
  kill "$REG_PID" 2> /dev/null || true
  wait "$REG_PID" 2> /dev/null || true
}
# push_blob REPO FILE DIGEST: uploads FILE as REPO's blob DIGEST (one monolithic PUT) unless the registry has it.
push_blob() {
  local loc
  "${CURL[@]}" -I "$URL/$1/blobs/$3" > /dev/null && return 0
  loc=$("${CURL[@]}" -X POST -D - -o /dev/null "$URL/$1/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  [[ -n $loc ]] || die "registry gave no upload location"
  [[ $loc == http* ]] || loc=${URL%/v2}$loc
  [[ $loc == *\?* ]] && loc="$loc&digest=$3" || loc="$loc?digest=$3"
  "${CURL[@]}" -X PUT -H 'Content-Type: application/octet-stream' -T "$2" "$loc" > /dev/null || die "uploading $3 failed"
}
# push_manifest REPO:TAG FILE: puts FILE (a Docker schema-2 manifest) as REPO's TAG.
push_manifest() {
  "${CURL[@]}" -X PUT -H 'Content-Type: application/vnd.docker.distribution.manifest.v2+json' \
    --data-binary "@$2" "$URL/${1%%:*}/manifests/${1##*:}" > /dev/null || die "pushing the manifest of $1 failed"
}
# push_image REPO:TAG LAYER.tar.gz...: pushes an amd64 image of these gzip layers (Cmd /bin/sh), its
# config and manifest written to $W/config.json and $W/manifest.json.
push_image() {
  local repo=${1%%:*} f diffs="" layers="" d
  for f in "${@:2}"; do
    d=sha256:$(sha256sum "$f" | cut -d' ' -f1)
    push_blob "$repo" "$f" "$d"
    diffs+="${diffs:+,}\"sha256:$(gzip -dc "$f" | sha256sum | cut -d' ' -f1)\""
    layers+="${layers:+,}{\"mediaType\":\"application/vnd.docker.image.rootfs.diff.tar.gzip\",\"size\":$(stat -c %s "$f"),\"digest\":\"$d\"}"
  done
  printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"],"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},"rootfs":{"type":"layers","diff_ids":[%s]}}' \
    "$diffs" > "$W/config.json"
  d=sha256:$(sha256sum "$W/config.json" | cut -d' ' -f1)
  push_blob "$repo" "$W/config.json" "$d"
  printf '{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.v2+json","config":{"mediaType":"application/vnd.docker.container.image.v1+json","size":%d,"digest":"%s"},"layers":[%s]}' \
    "$(stat -c %s "$W/config.json")" "$d" "$layers" > "$W/manifest.json"
  push_manifest "$1" "$W/manifest.json"
}
