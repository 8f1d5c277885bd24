#!/usr/bin/env bash
# Installs what seqd needs to build, test and benchmark on Debian 12, and nothing
# when it is all there already. libraft must come from bookworm-backports (0.22):
# Debian 12's own 0.15 has a Raft safety bug and crashes when a busy leader closes.
# The backports source is derived from the machine's own Debian source, so no
# mirror host is named here.
set -euo pipefail

build_pkgs=(build-essential pkg-config libuv1-dev liblz4-dev zlib1g-dev libcmocka-dev uthash-dev libssl-dev libinih-dev libmicrohttpd-dev libsystemd-dev)
test_pkgs=(redis-tools python3-redis clang libclang-rt-14-dev faketime prometheus debhelper dpkg-dev)
bench_pkgs=(redis-server postgresql postgresql-contrib gnuplot-nox)

want=("${build_pkgs[@]}" "${test_pkgs[@]}")
if [ "${1:-}" = "--bench" ]; then want+=("${bench_pkgs[@]}"); fi

missing=()
for p in "${want[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

raft_ok() {
  local v
  v=$(dpkg-query -W -f='${Version}' libraft-dev 2>/dev/null) || return 1
  dpkg --compare-versions "$v" ge 0.22 
}

# The npm Redis clients' test needs node and npm; any install of them will
# do (Debian's nodejs and npm, or a nodejs that carries its own npm).
node_ok() { command -v node >/dev/null && command -v npm >/dev/null; }

if [ ${#missing[@]} -eq 0 ] && raft_ok && node_ok; then exit 0; fi

SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO=sudo; fi

add_backports() {
  local d=/etc/apt/sources.list.d
  if grep -rqs "bookworm-backports" /etc/apt/sources.list "$d"; then return 0; fi
  if [ -f "$d/debian.sources" ]; then
    # First stanza of the deb822 file, with its Suites line pointed at backports.
    awk 'BEGIN{RS=""; ORS="\n"} NR==1{print; exit}' "$d/debian.sources" |
      sed 's/^Suites:.*/Suites: bookworm-backports/' | $SUDO tee "$d/backports.sources" >/dev/null
  elif [ -f /etc/apt/sources.list ]; then
    grep -m1 -E '^deb [^ ]+ bookworm ' /etc/apt/sources.list |
      sed -E 's/ bookworm / bookworm-backports /' | $SUDO tee "$d/backports.list" >/dev/null
  else
    echo "install-deps: no Debian apt source found to derive bookworm-backports from" >&2
    exit 1
  fi
}

add_backports
$SUDO apt-get update -qq
if [ ${#missing[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}"
fi
if ! raft_ok; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -t bookworm-backports libraft-dev
fi
raft_ok || { echo "install-deps: libraft-dev >= 0.22 is required" >&2; exit 1; }
if ! node_ok; then
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq nodejs npm
fi
