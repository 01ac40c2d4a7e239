#!/usr/bin/env bash
# Build benchmark (issue 13): the same multi-stage Dockerfile on a Debian base built, in the same run,
# by `burrow build`, `podman build --isolation=chroot` and Charliecloud's `ch-image build`, each from
# fresh storage with no cache (best and median wall time of BENCH_RUNS, in rounds: every tool once per
# round); then burrow's cached rebuild (nothing changed) and its rebuild after one file of the context
# was edited, as ratios of its first build.
#
#   - Base: the Debian bookworm minbase rootfs the test harness builds and caches
#     (/var/cache/burrow-test, `node dist/test/harness/debian.js`, debootstrap, a few minutes the first
#     time), or BENCH_BASE_TARBALL=FILE.tar.gz; pushed to a docker-registry this script starts on
#     127.0.0.1 (plain HTTP), which burrow and Podman pull it from (their time includes that pull);
#     ch-image (which speaks HTTPS only) imports the same tarball with `ch-image import` (timed too).
#   - burrow: `burrow --repo STORE build -t bench/app:N CONTEXT` as the unprivileged BENCH_USER
#     (default burrowbench, made when missing), a new STORE each run.
#   - podman: as root, `podman --root R --runroot RR build --isolation=chroot --no-cache --layers=false`,
#     new storage each run (its default storage driver, overlay).
#   - ch-image: `ch-image --storage S --no-cache build --force` as BENCH_USER, new storage each run.
#     The Dockerfile has no chown and no USER: ch-image cannot chown without root (see README).
#
# Environment:
#   BENCH_RUNS=3              runs per tool
#   BENCH_TOOLS=LIST          subset of burrow,podman,ch-image (default: all)
#   BENCH_WORK=DIR            scratch folder (default: bench/work/build)
#   BENCH_PARTS=400           files the build stage generates (the work its RUN does)
#   BENCH_BASE_TARBALL=FILE   the Debian rootfs tarball (default: the harness's cached one)
#   BENCH_NO_BUILD=1          do not run `npm run build` first
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
W=${BENCH_WORK:-$REPO/bench/work/build}
RUNS=${BENCH_RUNS:-3}
TOOLS=${BENCH_TOOLS:-burrow,podman,ch-image}
PARTS=${BENCH_PARTS:-400}
APT_RECOMMENDS=0
# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# ---------------------------------------------------------------- prerequisites
need_pkg docker-registry docker-registry
need_pkg curl curl
need_pkg bc bc
want podman && need_pkg podman podman
# ch-image is a Python script (`#!/usr/bin/env python3`): it runs with the system Python first on PATH,
# which has its modules (lark, requests); it needs ch-run (charliecloud-runtime) for RUN.
CH_PATH=/usr/bin:/bin:/usr/sbin:/sbin
if want ch-image; then
  have ch-image || apt_install charliecloud-builders || true
  have ch-run || apt_install charliecloud-runtime || true
  env PATH="$CH_PATH" python3 -c 'import lark, requests' 2> /dev/null || apt_install python3-lark python3-requests || true
  have ch-image && have ch-run || die "ch-image or ch-run not found (Debian packages charliecloud-builders, charliecloud-runtime)"
fi
[[ $IS_ROOT -eq 1 ]] || ! want podman || die "podman build --isolation=chroot is measured as root: run as root, or BENCH_TOOLS without podman"

bench_user
npm_build
stage_pkg
BURROW=(node "$W/pkg/dist/src/cli/main.js")

# ---------------------------------------------------------------- the base image
BASE_TGZ=${BENCH_BASE_TARBALL:-}
if [[ -z $BASE_TGZ ]]; then
  log "the Debian base (the test harness's cached debootstrap; built the first time)"
  BASE_TGZ=$(cd "$REPO" && node dist/test/harness/debian.js) || die "no Debian base: give BENCH_BASE_TARBALL=FILE.tar.gz"
fi
[[ -f $BASE_TGZ ]] || die "$BASE_TGZ: no such file"
cp "$BASE_TGZ" "$W/base.tar.gz"
chmod a+r "$W/base.tar.gz"

trap stop_registry EXIT
start_registry
push_image bench/debian:12 "$W/base.tar.gz"
BASE=$HOSTPORT/bench/debian:12
log "base $BASE ($(du -h "$W/base.tar.gz" | cut -f1) gzip)"

# ---------------------------------------------------------------- the context
# make_context DIR FROM: the Dockerfile (its bases FROM) and the files it copies.
make_context() {
  rm -rf "$1"
  mkdir -p "$1/src"
  cat > "$1/Dockerfile" << EOF
# Stage 1 generates the data (a stand-in for a compile step); stage 2 ships it with a script.
FROM $2 AS build
ARG PARTS=$PARTS
WORKDIR /src
COPY src/ ./
RUN set -e; mkdir -p /out/parts; \\
    for i in \$(seq 1 "\$PARTS"); do sed "s/NUM/\$i/g" template.txt > /out/parts/part-\$i.txt; done; \\
    cat /out/parts/*.txt | sha256sum > /out/SUM
RUN tar -C /out -czf /src/parts.tgz parts && wc -c < /src/parts.tgz > /out/SIZE

FROM $2
ENV APP_HOME=/opt/app
WORKDIR /opt/app
COPY --from=build /out/SUM /out/SIZE /src/parts.tgz ./
RUN mkdir parts && tar -C parts -xzf parts.tgz && rm parts.tgz && ls parts/parts | wc -l > COUNT
COPY app.sh ./
LABEL org.example.bench=build
CMD ["sh", "/opt/app/app.sh"]
EOF
  for i in $(seq 1 40); do echo "line $i of part NUM: the quick brown fox jumps over the lazy dog"; done > "$1/src/template.txt"
  printf 'echo "parts: $(cat COUNT), sum: $(cut -c1-12 SUM)"\n' > "$1/app.sh"
  chmod -R a+rX "$1"
}
make_context "$W/ctx" "$BASE"
make_context "$W/ctx-ch" bench/debian:12

# ---------------------------------------------------------------- measuring
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
best() { sort -n | head -1; }
export BURROW_INSECURE_REGISTRIES=$HOSTPORT
RUNS_DIR=$W/runs
rm -rf "$RUNS_DIR" "$W/logs"
mkdir -p "$RUNS_DIR" "$W/logs"
chmod 755 "$RUNS_DIR"
BENV=(HOME="$RUNS_DIR/home" PATH="$(dirname "$(command -v node)"):/usr/bin:/bin:/usr/sbin:/sbin" BURROW_INSECURE_REGISTRIES="$HOSTPORT")
user_dirs "$RUNS_DIR/home"

# stamp: prefixes each line of stdin with the seconds since the first was awaited (the logs show where a build spends its time).
stamp() {
  local t0 l
  t0=$(now)
  while IFS= read -r l; do printf '%7.2f %s\n' "$(echo "$(now) - $t0" | bc)" "$l"; done
}
# one TOOL I: one timed build by TOOL into fresh storage, under /usr/bin/time; appends its wall seconds
# to $W/TOOL.times and its CPU seconds (user + system, of the processes it waited for) to $W/TOOL.cpu.
one() {
  local tool=$1 i=$2 dir=$RUNS_DIR/$1-$2 log=$W/logs/$1-$2.log wall cpu
  user_dirs "$dir"
  local timed=(/usr/bin/time -f '%e %U %S' -o "$dir/time")
  # The previous build's writes reach the disk first: each build pays for its own, not its predecessor's.
  sync
  case $tool in
    burrow)
      run_as "$W/ctx" "${BENV[@]}" -- "${timed[@]}" "${BURROW[@]}" --repo "$dir/store" build -t "bench/app:$i" . \
        2>&1 | stamp > "$log" || die "burrow build failed; see $log"
      ;;
    podman)
      # Podman refuses a --runroot path over 50 characters: it lives in /tmp.
      mktemp -d /tmp/bench-podman-run.XXXXXX > "$dir/runroot"
      "${timed[@]}" podman --root "$dir/root" --runroot "$(cat "$dir/runroot")" build --isolation=chroot \
        --no-cache --layers=false --tls-verify=false -t "bench/app:$i" "$W/ctx" 2>&1 | stamp > "$log" ||
        die "podman build failed; see $log"
      ;;
    ch-image)
      run_as "$W/ctx-ch" PATH="$CH_PATH" HOME="$RUNS_DIR/home" -- "${timed[@]}" sh -c \
        'ch-image --storage "$1" --no-cache import "$2" bench/debian:12 &&
        ch-image --storage "$1" --no-cache build --force -t "bench/app:$3" .' ch "$dir/storage" "$W/base.tar.gz" "$i" \
        2>&1 | stamp > "$log" || die "ch-image build failed; see $log"
      ;;
  esac
  read -r wall cpu < <(awk '{ printf "%.2f %.2f\n", $1, $2 + $3 }' "$dir/time")
  echo "$wall" >> "$W/$tool.times"
  echo "$cpu" >> "$W/$tool.cpu"
  log "$tool run $i: $wall s wall, $cpu s CPU"
}
# clean TOOL I: removes what run I of TOOL stored (podman's storage through podman: it has mounts).
clean() {
  local dir=$RUNS_DIR/$1-$2
  if [[ $1 == podman ]]; then
    podman --root "$dir/root" --runroot "$(cat "$dir/runroot")" system reset --force > /dev/null 2>&1 || true
    rm -rf "$(cat "$dir/runroot")"
  fi
  [[ $1 == burrow && $2 == 1 ]] && return 0 # kept for the rebuilds
  rm -rf "$dir"
}

ACTIVE=()
for tool in burrow podman ch-image; do want "$tool" && ACTIVE+=("$tool"); done
for tool in "${ACTIVE[@]}"; do : > "$W/$tool.times" && : > "$W/$tool.cpu"; done
# Each run's storage is removed after all the runs, not between them: on a file system mounted with
# `discard` (this VM's ext4), the trims of a removed tree slowed whichever build came next; the first round,
# which followed no removal, was 1.6 to 2.3 times faster than the others for every tool (bench/README.md).
for i in $(seq "$RUNS"); do
  for tool in "${ACTIVE[@]}"; do
    one "$tool" "$i"
  done
done
for i in $(seq "$RUNS"); do
  for tool in "${ACTIVE[@]}"; do
    clean "$tool" "$i"
  done
done

# burrow's rebuilds, in the store of its first run: unchanged (cached), then with app.sh edited.
REBUILD="" EDIT=""
if want burrow; then
  FIRST=$(head -1 "$W/burrow.times")
  : > "$W/rebuild.times"
  : > "$W/edit.times"
  for i in $(seq "$RUNS"); do
    t=$(now)
    run_as "$W/ctx" "${BENV[@]}" -- "${BURROW[@]}" --repo "$RUNS_DIR/burrow-1/store" build -t bench/app:1 . \
      > "$W/logs/rebuild-$i.log" 2>&1 || die "burrow rebuild failed; see $W/logs/rebuild-$i.log"
    printf '%.2f\n' "$(echo "$(now) - $t" | bc)" >> "$W/rebuild.times"
    printf 'echo edit %s\n' "$i" >> "$W/ctx/app.sh"
    t=$(now)
    run_as "$W/ctx" "${BENV[@]}" -- "${BURROW[@]}" --repo "$RUNS_DIR/burrow-1/store" build -t bench/app:1 . \
      > "$W/logs/edit-$i.log" 2>&1 || die "burrow rebuild after an edit failed; see $W/logs/edit-$i.log"
    printf '%.2f\n' "$(echo "$(now) - $t" | bc)" >> "$W/edit.times"
  done
  # What was measured must work: the image the last rebuild made runs and says what it was built from.
  OUT=$(run_as "$W/ctx" "${BENV[@]}" -- "${BURROW[@]}" --repo "$RUNS_DIR/burrow-1/store" run --rm bench/app:1 2>&1) ||
    die "burrow run of the built image failed: $OUT"
  [[ $OUT == "parts: $PARTS, sum: "* ]] || die "the built image printed '$OUT', not 'parts: $PARTS, sum: ...'"
  REBUILD=$(median < "$W/rebuild.times")
  EDIT=$(median < "$W/edit.times")
  rm -rf "$RUNS_DIR/burrow-1"
fi

# ---------------------------------------------------------------- report
ratio() { echo "scale=2; $1 / $2" | bc; }
{
  printf 'build of a 2-stage Dockerfile on Debian bookworm minbase (%s parts), %s runs each, seconds\n' "$PARTS" "$RUNS"
  printf '  %-44s %8s %8s %8s   %s\n' tool best median CPU-med "wall of each run"
  for tool in "${ACTIVE[@]}"; do
    case $tool in
      burrow) name="burrow build" ;;
      podman) name="podman build --isolation=chroot ($(podman --version | awk '{print $3}'))" ;;
      ch-image) name="ch-image build --force, with import ($(env PATH="$CH_PATH" USER="$U" ch-image --version 2>&1))" ;;
    esac
    printf '  %-44s %8s %8s %8s   %s\n' "$name" "$(best < "$W/$tool.times")" "$(median < "$W/$tool.times")" \
      "$(median < "$W/$tool.cpu")" "$(tr '\n' ' ' < "$W/$tool.times")"
  done
  if want burrow; then
    BM=$(median < "$W/burrow.times")
    BC=$(median < "$W/burrow.cpu")
    want podman && printf '  ratio burrow/podman, median wall %s, CPU %s   (target <= 0.8)\n' \
      "$(ratio "$BM" "$(median < "$W/podman.times")")" "$(ratio "$BC" "$(median < "$W/podman.cpu")")"
    want ch-image && printf '  ratio burrow/ch-image, median wall %s, CPU %s   (target <= 0.8)\n' \
      "$(ratio "$BM" "$(median < "$W/ch-image.times")")" "$(ratio "$BC" "$(median < "$W/ch-image.cpu")")"
    printf '  burrow cached rebuild, nothing changed: %s s median = %s of its first build (%s s)   (target <= 0.20)\n' \
      "$REBUILD" "$(ratio "$REBUILD" "$FIRST")" "$FIRST"
    printf '  burrow rebuild after editing app.sh:    %s s median = %s of its first build\n' "$EDIT" "$(ratio "$EDIT" "$FIRST")"
  fi
  printf '  machine: %s cores, load %s\n' "$(nproc)" "$(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$W/results.txt"
