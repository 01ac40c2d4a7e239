#!/usr/bin/env bash
# Push benchmark: `burrow push` of an image with one ~90 MB (incompressible) layer against `skopeo copy`
# of the same image from a local `dir:` copy, both to a second plain-HTTP docker-registry on loopback
# (the image was pulled from the first), started empty before each timed command (so every blob is
# uploaded: no mount, no "already exists").
#
# Environment:
#   BENCH_RUNS=5            runs per tool (median reported)
#   BENCH_WORK=DIR          scratch dir (default: bench/work/push)
#   BENCH_MB=90             layer size in MB
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
W=${BENCH_WORK:-$REPO/bench/work/push}
RUNS=${BENCH_RUNS:-5}
MB=${BENCH_MB:-90}
BURROW=(node "$REPO/dist/src/cli/burrow.cjs")
# shellcheck source=../lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
need_pkg docker-registry docker-registry
need_pkg skopeo skopeo
need_pkg curl curl

rm -rf "$W/reg" "$W/store" "$W/dir"
mkdir -p "$W/reg" "$W/img"
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
cat > "$W/reg/config.yml" << YML
version: 0.1
storage: { filesystem: { rootdirectory: $W/reg/data }, delete: { enabled: true } }
http: { addr: 127.0.0.1:$PORT }
log: { level: error }
YML
docker-registry serve "$W/reg/config.yml" > "$W/reg/log" 2>&1 &
REG_PID=$!
trap 'kill $REG_PID 2> /dev/null || true' EXIT
R=127.0.0.1:$PORT
for _ in $(seq 50); do curl -fs "http://$R/v2/" > /dev/null && break; sleep 0.1; done

# The image: one gzip layer of random bytes, a config, a manifest, pushed with curl.
if [[ ! -f $W/img/layer.tar.gz ]]; then
  mkdir -p "$W/img/root"
  head -c $((MB * 1000 * 1000)) /dev/urandom > "$W/img/root/data.bin"
  tar -C "$W/img/root" -cf - data.bin | gzip -1 > "$W/img/layer.tar.gz"
  rm -rf "$W/img/root"
fi
L=$W/img/layer.tar.gz
LD=sha256:$(sha256sum < "$L" | cut -d' ' -f1)
DIFF=sha256:$(gzip -dc "$L" | sha256sum | cut -d' ' -f1)
printf '{"architecture":"amd64","os":"linux","config":{},"rootfs":{"type":"layers","diff_ids":["%s"]},"history":[{"created_by":"bench"}]}' "$DIFF" > "$W/img/config.json"
CD=sha256:$(sha256sum < "$W/img/config.json" | cut -d' ' -f1)
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"%s","size":%d},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"%s","size":%d}]}' \
  "$CD" "$(stat -c %s "$W/img/config.json")" "$LD" "$(stat -c %s "$L")" > "$W/img/manifest.json"
upload() { # FILE DIGEST
  local loc
  loc=$(curl -fsS -D - -o /dev/null -X POST "http://$R/v2/src/blobs/uploads/" | tr -d '\r' | sed -n 's/^[Ll]ocation: //p')
  curl -fsS -X PUT -H 'content-type: application/octet-stream' --data-binary "@$1" "$loc&digest=$2" > /dev/null
}
upload "$L" "$LD"
upload "$W/img/config.json" "$CD"
curl -fsS -X PUT -H 'content-type: application/vnd.oci.image.manifest.v1+json' --data-binary "@$W/img/manifest.json" "http://$R/v2/src/manifests/1" > /dev/null

export BURROW_INSECURE_REGISTRIES=$R
"${BURROW[@]}" --repo "$W/store" pull -q "$R/src:1" > /dev/null
skopeo copy -q --src-tls-verify=false "docker://$R/src:1" "dir:$W/dir" > /dev/null

# fresh_dest: (re)starts the destination registry with no data; sets D to its host:port.
DEST_PID=
fresh_dest() {
  [[ -n $DEST_PID ]] && { kill "$DEST_PID" 2> /dev/null || true; wait "$DEST_PID" 2> /dev/null || true; }
  rm -rf "$W/dest"
  mkdir -p "$W/dest"
  sed "s#$W/reg/data#$W/dest/data#; s#127.0.0.1:$PORT#127.0.0.1:$DPORT#" "$W/reg/config.yml" > "$W/dest/config.yml"
  docker-registry serve "$W/dest/config.yml" > "$W/dest/log" 2>&1 &
  DEST_PID=$!
  for _ in $(seq 50); do curl -fs "http://$D/v2/" > /dev/null && break; sleep 0.1; done
}
DPORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
D=127.0.0.1:$DPORT
export BURROW_INSECURE_REGISTRIES=$R,$D
trap 'kill $REG_PID $DEST_PID 2> /dev/null || true' EXIT
now() { date +%s.%N; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
: > "$W/burrow.times"
: > "$W/skopeo.times"
for i in $(seq "$RUNS"); do
  fresh_dest
  t=$(now)
  "${BURROW[@]}" --repo "$W/store" push -q "$R/src:1" "$D/burrow-$i:1" > /dev/null
  echo "$(now) - $t" | bc >> "$W/burrow.times"
  fresh_dest
  t=$(now)
  skopeo copy -q --dest-tls-verify=false "dir:$W/dir" "docker://$D/skopeo-$i:1" > /dev/null
  echo "$(now) - $t" | bc >> "$W/skopeo.times"
done
B=$(median < "$W/burrow.times")
S=$(median < "$W/skopeo.times")
printf 'push of a %s MB layer, %s runs, median wall s:\n  burrow push  %s   (%s)\n  skopeo copy  %s   (%s)\n  ratio burrow/skopeo %s\n' \
  "$MB" "$RUNS" "$B" "$(tr '\n' ' ' < "$W/burrow.times")" "$S" "$(tr '\n' ' ' < "$W/skopeo.times")" \
  "$(echo "scale=2; $B / $S" | bc)"
