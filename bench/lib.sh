# Shell helpers shared by the benchmark scripts (bench/*/run.sh); source it after setting W (the
# scratch folder) and, for want(), TOOLS. Messages go to stderr with a [bench] prefix.

log() { printf '[bench] %s\n' "$*" >&2; }
die() {
  printf '[bench] error: %s\n' "$*" >&2
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
