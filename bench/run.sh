#!/usr/bin/env bash
# bench/run.sh — measures seqd against the systems in design.md's "What we measure
# ourselves against": Redis INCR (appendfsync always / everysec) and PostgreSQL 15
# (gapless counter row, nextval), one hot key or row, 1/16/64 clients and 16 clients
# x pipeline 16; plus seqd's NEXT ... COUNT 1000 and its restart time after kill -9;
# then a three-node seqd cluster on loopback: throughput at 16 and 64 clients and 16 x 16
# pipelined as a ratio to the single node, and failover time after kill -9 of the leader.
#
# Self-contained: every server is started here on a free port of 127.0.0.1, with its
# data in a temp dir under ${TMPDIR:-/tmp}, one system at a time (so each runs on a
# quiet machine), and everything is stopped and removed on exit. See docs/benchmarks.md.
#
# Environment:
#   SEQD=path          seqd binary (default build/seqd)
#   SEQD_ARGS="..."    extra seqd flags (default none: the shipped defaults are measured)
#   BENCH_SECONDS=n    seconds per case (default 8)
#   BENCH_QUICK=1      ~1 s per case and RESTART_ALLOCS 200000: a smoke test
#   RESTART_ALLOCS=n   allocations behind the restart measurement (default 10000000)
#   SKIP_SEQD=1 SKIP_REDIS=1 SKIP_PG=1   leave a system out (SKIP_SEQD=1: the cluster too)
#   SKIP_CLUSTER=1     leave the three-node cluster out
#   BENCH_REPORT=file  also write the report there
#   BENCH_KEEP=1       keep the temp dir (logs, data) for a look afterwards
#   START_TIMEOUT=s    longest wait for a server to answer PING after start (default 30)
#   BENCH_STRICT=1     exit 3 when a target is not met (default: report only, exit 0)
#   BENCH_ONLY=documents  only the document-number rows: seqd plain NEXT, NEXT ... TEXT and a
#                      yearly series, beside PostgreSQL's SELECT ... FOR UPDATE counter row per
#                      (series, year) (make bench-documents)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
PY=/usr/bin/python3
LIB=("$PY" "$HERE/benchlib.py")
SEQD=${SEQD:-$ROOT/build/seqd}
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
  DUR=1
  RESTART_ALLOCS=${RESTART_ALLOCS:-200000}
else
  DUR=${BENCH_SECONDS:-8}
  RESTART_ALLOCS=${RESTART_ALLOCS:-10000000}
fi
case "$DUR" in ''|*[!0-9]*|0) echo "bench: BENCH_SECONDS must be a whole number >= 1" >&2; exit 2 ;; esac
case "$RESTART_ALLOCS" in ''|*[!0-9]*|0) echo "bench: RESTART_ALLOCS must be a whole number >= 1" >&2; exit 2 ;; esac
SKIP_SEQD=${SKIP_SEQD:-0}
SKIP_REDIS=${SKIP_REDIS:-0}
SKIP_PG=${SKIP_PG:-0}
SKIP_CLUSTER=${SKIP_CLUSTER:-0}
ONLY=${BENCH_ONLY:-}
case "$ONLY" in ''|documents) ;; *) echo "bench: BENCH_ONLY must be documents (or unset)" >&2; exit 2 ;; esac
if [ "$ONLY" = documents ]; then SKIP_REDIS=1; SKIP_CLUSTER=1; fi

# The cases of design.md's table: name clients pipeline.
CASES=("c1 1 1" "c16 16 1" "c64 64 1" "p16 16 16")
# The cluster's: against the leader, and (p16f, extra information) against a follower.
CLUSTER_CASES=("c16 16 1" "c64 64 1" "p16 16 16" "p16f 16 16")
FAILOVER_ROUNDS=3
FAILOVER_POLL_MS=10
FAILOVER_TIMEOUT=30   # seconds after the kill without a number: the round failed
FAILOVER_LOAD=4       # connections of the light load kept running through a failover

for tool in redis-server redis-cli redis-benchmark timeout; do
  command -v "$tool" >/dev/null || { echo "bench: $tool not found (scripts/install-deps.sh --bench)" >&2; exit 2; }
done
if [ "$SKIP_SEQD" != 1 ] && [ ! -x "$SEQD" ]; then
  echo "bench: $SEQD not found or not executable: build it (make build/seqd), set SEQD=..., or SKIP_SEQD=1" >&2
  exit 2
fi
if [ "$SKIP_PG" != 1 ] && [ ! -x "$PGBIN/pgbench" ]; then
  echo "bench: $PGBIN/pgbench not found (scripts/install-deps.sh --bench), or SKIP_PG=1" >&2
  exit 2
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/seqd-bench.XXXXXX")
chmod 711 "$WORK"   # the postgres user must be able to reach its own subdir
RES=$WORK/results.tsv
: >"$RES"

SEQD_PID=""
SEQD_FAILED=0
REDIS_PID=""
PG_DATA=""
CL_PIDS=("" "" "")   # cluster node i: pid, port, data dir
CL_PORTS=()
CL_DIRS=()
CL_MEMBERS=""
LOAD_PID=""

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
put() { printf '%s\t%s\n' "$1" "$2" >>"$RES"; }

# Stops one process we started: TERM, up to 10 s, then KILL.
stop_pid() {
  local pid=$1 _
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

stop_pg() {
  [ -n "$PG_DATA" ] || return 0
  as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 20 stop >/dev/null 2>&1 || {
    local pid
    pid=$(head -1 "$PG_DATA/postmaster.pid" 2>/dev/null || true)
    if [ -n "$pid" ]; then kill -KILL "$pid" 2>/dev/null || true; fi
  }
  PG_DATA=""
}

# shellcheck disable=SC2317  # invoked by the EXIT trap
cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  stop_pid "$SEQD_PID"
  stop_pid "$LOAD_PID"
  stop_cluster
  stop_pid "$REDIS_PID"
  stop_pg
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    log "kept $WORK"
  else
    rm -rf "$WORK"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

freeport() { "${LIB[@]}" freeport 1; }

# TLS: one CA and a server certificate for 127.0.0.1, made for this run; a
# port listed in TLS_PORT is spoken to with --tls by redis-cli and
# redis-benchmark.
declare -A TLS_PORT=()
CERTS=$WORK/certs
make_certs() {
  mkdir -p "$CERTS"
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$CERTS/ca.key" -out "$CERTS/ca.crt" \
    -days 2 -subj "/CN=bench CA" 2>/dev/null &&
  openssl req -newkey rsa:2048 -nodes -keyout "$CERTS/server.key" -out "$CERTS/server.csr" \
    -subj "/CN=127.0.0.1" 2>/dev/null &&
  printf 'subjectAltName=IP:127.0.0.1\n' > "$CERTS/ext" &&
  openssl x509 -req -in "$CERTS/server.csr" -CA "$CERTS/ca.crt" -CAkey "$CERTS/ca.key" \
    -CAcreateserial -out "$CERTS/server.crt" -days 2 -extfile "$CERTS/ext" 2>/dev/null
}
tls_flags() { [ -z "${TLS_PORT[$1]:-}" ] || printf '%s\n' --tls --cacert "$CERTS/ca.crt"; }
HAVE_TLS=0
if command -v openssl >/dev/null && make_certs; then HAVE_TLS=1; fi

# Waits (at most START_TIMEOUT s) until redis-cli PING on port $1 answers PONG;
# $2 = pid that must stay alive meanwhile.
wait_pong() {
  local port=$1 pid=$2 end=$(( SECONDS + ${START_TIMEOUT:-30} ))
  while [ "$SECONDS" -lt "$end" ]; do
    if [ "$(timeout 2 redis-cli -h 127.0.0.1 -p "$port" $(tls_flags "$port") PING 2>/dev/null)" = PONG ]; then return 0; fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# Runs a redis-cli command until it prints $expect (TRYAGAIN while a leader is
# elected), for at most START_TIMEOUT s.
cli_until() {
  local port=$1 expect=$2 out="" end=$(( SECONDS + ${START_TIMEOUT:-30} )); shift 2
  while [ "$SECONDS" -lt "$end" ]; do
    out=$(timeout 5 redis-cli -h 127.0.0.1 -p "$port" "$@" 2>&1) || true
    [ "$out" = "$expect" ] && return 0
    sleep 0.1
  done
  echo "bench: '$*' on port $port answered '$out', wanted '$expect'" >&2
  return 1
}

cli_int() {  # prints the integer reply of a command, or nothing
  local out
  # shellcheck disable=SC2046  # tls_flags: one word per line, none for a plain port
  out=$(timeout 10 redis-cli -h 127.0.0.1 -p "$1" $(tls_flags "$1") "${@:2}" 2>/dev/null | head -1) || true
  case "$out" in ''|*[!0-9-]*) echo "" ;; *) echo "$out" ;; esac
}

# rb PORT CLIENTS PIPELINE N TIMEOUT CMD... -> "rps avg p50 p99" | "FAIL reason"
rb() {
  local port=$1 c=$2 p=$3 n=$4 to=$5 out rc=0; shift 5
  # shellcheck disable=SC2046
  out=$(timeout -k 5 "$to" redis-benchmark -h 127.0.0.1 -p "$port" $(tls_flags "$port") -c "$c" -P "$p" -n "$n" --csv "$@" 2>&1) || rc=$?
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then echo "FAIL timeout_after_${to}s"; return 0; fi
  "${LIB[@]}" rbcsv <<<"$out"
}

# Picks N so one run lasts ~DUR s: a tiny probe, then (full runs) a ~1 s probe.
pick_n() {
  local port=$1 c=$2 p=$3; shift 3
  local n=$(( c * p * 20 )) r rps
  [ "$n" -ge 500 ] || n=500
  r=$(rb "$port" "$c" "$p" "$n" 60 "$@")
  [ "${r%% *}" != FAIL ] || { echo "$r"; return 0; }
  rps=${r%% *}
  if [ "$QUICK" != 1 ]; then
    n=$("$PY" -c "print(max($c*$p*20, int(float('$rps'))))")
    r=$(rb "$port" "$c" "$p" "$n" 60 "$@")
    [ "${r%% *}" != FAIL ] || { echo "$r"; return 0; }
    rps=${r%% *}
  fi
  # redis-benchmark sends whole pipelines: keep N a multiple of clients x pipeline so
  # the server sees exactly N requests.
  "$PY" -c "u = $c * $p; n = min(2000000000, max(u * 10, int(float('$rps') * $DUR))); print(-(-n // u) * u)"
}

# One measured case of redis-benchmark against a counter that must advance by exactly
# the requests counted (a server answering errors would otherwise look fast).
#   bench_rb SYS CASE PORT C P PER_REQ READ_KIND CMD...
#   READ_KIND: seqd (NEXT bench consumes one number per read) or redis (GET hot)
bench_rb() {
  local sys=$1 case=$2 port=$3 c=$4 p=$5 per=$6 kind=$7; shift 7
  local n r before after want got
  log "$sys $case: $* (-c $c -P $p)"
  n=$(pick_n "$port" "$c" "$p" "$@")
  if [ "${n%% *}" = FAIL ]; then
    put "$sys.$case.status" "FAIL"; put "$sys.$case.note" "$sys $case: probe: ${n#FAIL }"; log "  probe failed: $n"; return 0
  fi
  # seqd:NAME reads the counter of sequence NAME (seqd alone: bench)
  local seqname=bench
  case "$kind" in seqd:*) seqname=${kind#seqd:}; kind=seqd ;; esac
  # (the counter is read on the port the load goes to: over TLS for a TLS port)
  if [ "$kind" = seqd ]; then before=$(cli_int "$port" NEXT "$seqname"); else before=$(cli_int "$port" GET hot); before=${before:-0}; fi
  r=$(rb "$port" "$c" "$p" "$n" $(( DUR * 5 + 30 )) "$@")
  if [ "$kind" = seqd ]; then after=$(cli_int "$port" NEXT "$seqname"); else after=$(cli_int "$port" GET hot); fi
  if [ "${r%% *}" = FAIL ]; then
    put "$sys.$case.status" "FAIL"; put "$sys.$case.note" "$sys $case: ${r#FAIL }"; log "  failed: $r"; return 0
  fi
  read -r rps avg p50 p99 <<<"$r"
  put "$sys.$case.status" ok
  put "$sys.$case.rps" "$rps"; put "$sys.$case.avg" "$avg"; put "$sys.$case.p50" "$p50"; put "$sys.$case.p99" "$p99"
  put "$sys.$case.n" "$n"
  want=$(( n * per ))
  if [ -z "$before" ] || [ -z "$after" ]; then
    put "$sys.$case.check" "$sys $case: could not read the counter before/after the run"
  else
    got=$(( after - before ))
    [ "$kind" = seqd ] && got=$(( got - 1 ))
    if [ "$got" = "$want" ]; then put "$sys.$case.check" ok
    else put "$sys.$case.check" "$sys $case: counter advanced by $got, expected $want ($n requests x $per)"; fi
  fi
  log "  n=$n rps=$rps p50=${p50}ms p99=${p99}ms (counter check: $( [ "${got:-x}" = "$want" ] && echo ok || echo MISMATCH))"
}

seqd_answers() {  # port: the running seqd still answers PING (a hung one skips the rest)
  [ -n "$SEQD_PID" ] && kill -0 "$SEQD_PID" 2>/dev/null &&
    [ "$(timeout 5 redis-cli -h 127.0.0.1 -p "$1" PING 2>/dev/null)" = PONG ]
}

# ---- the three-node cluster
start_node() {  # i: starts cluster node i on its port and dir
  local i=$1
  # shellcheck disable=SC2086  # SEQD_ARGS: extra flags, word-split on purpose
  "$SEQD" --port "${CL_PORTS[$i]}" --bind 127.0.0.1 --dir "${CL_DIRS[$i]}" --cluster "$CL_MEMBERS" \
    ${SEQD_ARGS:-} >>"$WORK/cluster-$i.log" 2>&1 &
  CL_PIDS[i]=$!
}

node_alive() { [ -n "${CL_PIDS[$1]}" ] && kill -0 "${CL_PIDS[$1]}" 2>/dev/null; }

stop_cluster() {  # TERM to every node at once, up to 10 s for all, then KILL
  local i _ up
  for i in 0 1 2; do
    if [ -n "${CL_PIDS[$i]}" ]; then kill -TERM "${CL_PIDS[$i]}" 2>/dev/null || true; fi
  done
  for _ in $(seq 100); do
    up=0
    for i in 0 1 2; do node_alive "$i" && up=1; done
    [ "$up" = 1 ] || break
    sleep 0.1
  done
  for i in 0 1 2; do
    if [ -n "${CL_PIDS[$i]}" ]; then
      kill -KILL "${CL_PIDS[$i]}" 2>/dev/null || true
      wait "${CL_PIDS[$i]}" 2>/dev/null || true
    fi
    CL_PIDS[i]=""
  done
}

role_of() {  # port -> "leader|follower LEADER_ADDR" (the first two lines of ROLE)
  timeout 2 redis-cli -h 127.0.0.1 -p "$1" ROLE 2>/dev/null | head -2 | tr '\n' ' ' || true
}

# Prints the index of the live node whose ROLE says leader; waits at most START_TIMEOUT s.
cluster_leader() {
  local i r end=$(( SECONDS + ${START_TIMEOUT:-30} ))
  while [ "$SECONDS" -lt "$end" ]; do
    for i in 0 1 2; do
      node_alive "$i" || continue
      r=$(role_of "${CL_PORTS[$i]}")
      if [ "${r%% *}" = leader ]; then echo "$i"; return 0; fi
    done
    sleep 0.05
  done
  return 1
}

# Waits (at most START_TIMEOUT s) until node $1 is a follower that knows the leader.
wait_follower() {
  local r end=$(( SECONDS + ${START_TIMEOUT:-30} ))
  while [ "$SECONDS" -lt "$end" ]; do
    node_alive "$1" || return 1
    r=$(role_of "${CL_PORTS[$1]}")
    case "$r" in "follower 127.0.0.1:"*) return 0 ;; esac
    sleep 0.05
  done
  return 1
}

cluster_answers() {  # all three nodes alive and answering PING
  local i
  for i in 0 1 2; do
    node_alive "$i" && [ "$(timeout 5 redis-cli -h 127.0.0.1 -p "${CL_PORTS[$i]}" PING 2>/dev/null)" = PONG ] || return 1
  done
}

start_seqd() {  # port dir [tls port] [http port]
  local tls=()
  if [ -n "${3:-}" ]; then
    tls=(--tls-port "$3" --tls-cert-file "$CERTS/server.crt" --tls-key-file "$CERTS/server.key"
         --tls-auth-clients no)
  fi
  if [ -n "${4:-}" ]; then tls+=(--http-port "$4"); fi
  # shellcheck disable=SC2086  # SEQD_ARGS: extra flags, word-split on purpose
  "$SEQD" --port "$1" --bind 127.0.0.1 --dir "$2" "${tls[@]}" ${SEQD_ARGS:-} >>"$WORK/seqd.log" 2>&1 &
  SEQD_PID=$!
}

# ---------------------------------------------------------------- metadata
put meta.date "$(date -u '+%Y-%m-%d %H:%M UTC')"
put meta.nproc "$(nproc)"
put meta.cpu "$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -1)"
put meta.mem "$(free -h | awk '/^Mem:/{print $2}')"
put meta.kernel "$(uname -r)"
# shellcheck disable=SC1091
put meta.os "$( . /etc/os-release 2>/dev/null; echo "${PRETTY_NAME:-?}") ($(cat /etc/debian_version 2>/dev/null || echo ?))"
put meta.seconds "$DUR"
put meta.quick "$QUICK"
put meta.only "$ONLY"
put meta.redis "$(redis-server --version | awk '{print $1, $3}')"
put meta.pg "$("$PGBIN/postgres" --version 2>/dev/null || echo 'PostgreSQL ?')"
put meta.seqd "$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo ?)$( [ -n "$(git -C "$ROOT" status --porcelain -- src 2>/dev/null)" ] && echo '+uncommitted')"
log "work dir $WORK, ${DUR}s per case, restart allocations $RESTART_ALLOCS"

# ---------------------------------------------------------------- raw disk
DISK_SECS=$(( DUR < 3 ? DUR : 3 ))
log "raw disk: fdatasync of 64-byte writes, ${DISK_SECS}s append + ${DISK_SECS}s preallocated"
if d=$("${LIB[@]}" disk "$WORK" "$DISK_SECS"); then
  read -r da dp <<<"$d"
  put disk.append "$da"; put disk.prealloc "$dp"
  log "  ${da}/s append, ${dp}/s preallocated"
fi

# ---------------------------------------------------------------- seqd
if [ "$SKIP_SEQD" = 1 ]; then
  put seqd.status skipped
else
  SP=$("${LIB[@]}" freeport-raft)   # seqd's Raft bus listens on port + 10000
  SDIR=$WORK/seqd
  mkdir -p "$SDIR"
  STP=""
  if [ "$HAVE_TLS" = 1 ]; then STP=$(freeport); TLS_PORT[$STP]=1; fi
  SHP=$(freeport)   # /metrics, scraped in the seqd_scraped rows
  log "seqd: $SEQD on 127.0.0.1:$SP${STP:+ (TLS on $STP)}, /metrics on $SHP"
  start_seqd "$SP" "$SDIR" "$STP" "$SHP"
  if ! wait_pong "$SP" "$SEQD_PID"; then
    echo "bench: seqd did not answer PING; its log:" >&2; tail -20 "$WORK/seqd.log" >&2
    put seqd.status "FAIL"; put seqd.note "seqd did not answer PING within ${START_TIMEOUT:-30} s"; SEQD_FAILED=1
  elif ! cli_until "$SP" OK CREATE bench 1 9000000000000000000; then
    echo "bench: seqd's log:" >&2; tail -20 "$WORK/seqd.log" >&2
    put seqd.status "FAIL"; put seqd.note "seqd did not answer CREATE bench with OK"; SEQD_FAILED=1
  fi
fi
# Document numbers (issue 14): NEXT ... TEXT (POL-A-{n}-{check:luhn}) beside plain
# NEXT, and a yearly series (INV-{period}/{n:9}-{check:mod97}, TZ +01:00) beside
# both, each on its own sequence, at 16 and 64 clients and 16 x 16 pipelined.
if [ "$SKIP_SEQD" != 1 ] && [ "$SEQD_FAILED" = 0 ] && seqd_answers "$SP" &&
   cli_until "$SP" OK CREATE dplain 1 9000000000000000000 &&
   cli_until "$SP" OK CREATE dtext 1 9000000000000000000 FORMAT 'POL-A-{n}-{check:luhn}' &&
   cli_until "$SP" OK CREATE dyear 1 9000000000000000000 PERIOD yearly TZ +01:00 \
     FORMAT 'INV-{period}/{n:9}-{check:mod97}'; then
  for cs in "c16 16 1" "c64 64 1" "p16 16 16"; do
    read -r case c p <<<"$cs"
    bench_rb seqd_dplain "$case" "$SP" "$c" "$p" 1 seqd:dplain NEXT dplain
    bench_rb seqd_dtext "$case" "$SP" "$c" "$p" 1 seqd:dtext NEXT dtext TEXT
    bench_rb seqd_dyear "$case" "$SP" "$c" "$p" 1 seqd:dyear NEXT dyear TEXT
  done
fi
if [ "$SKIP_SEQD" != 1 ] && [ "$SEQD_FAILED" = 0 ] && [ "$ONLY" != documents ]; then
  for cs in "${CASES[@]}" "count1000 16 16"; do
    read -r case c p <<<"$cs"
    if ! seqd_answers "$SP"; then
      put "seqd.$case.status" FAIL; put "seqd.$case.note" "seqd $case: seqd no longer answers PING"; continue
    fi
    if [ "$case" = count1000 ]; then
      bench_rb seqd count1000 "$SP" 16 16 1000 seqd NEXT bench COUNT 1000
    else
      bench_rb seqd "$case" "$SP" "$c" "$p" 1 seqd NEXT bench
    fi
  done

  # Modes: cached NEXT (served from the leader's memory block), gapless NEXT
  # (reserve and confirm in one), and gapless RESERVE + CONFIRM pairs as an
  # application makes them; beside strict NEXT above and the PostgreSQL row.
  if seqd_answers "$SP" && cli_until "$SP" OK CREATE cbench 1 9000000000000000000 MODE cached CACHE 1000; then
    for cs in "c1 1 1" "c16 16 1" "c64 64 1" "p16 16 16"; do
      read -r case c p <<<"$cs"
      bench_rb seqd_cached "$case" "$SP" "$c" "$p" 1 seqd:cbench NEXT cbench
    done
  fi
  # The cost of permissions: strict NEXT as a user confined to a ~pattern
  # (the check on every request), beside strict NEXT as the default user.
  if seqd_answers "$SP" && cli_until "$SP" OK CREATE aclbench-1 1 9000000000000000000 &&
     cli_until "$SP" OK ACL SETUSER bench-svc on '>bench-pw' '~aclbench-*' +@issue; then
    for cs in "c16 16 1" "c64 64 1" "p16 16 16"; do
      read -r case c p <<<"$cs"
      bench_rb seqd_acl "$case" "$SP" "$c" "$p" 1 seqd:aclbench-1 --user bench-svc -a bench-pw NEXT aclbench-1
    done
  fi
  # The cost of being watched: strict NEXT while one client scrapes /metrics
  # every 100 ms on a kept-alive connection, as Prometheus does.
  if seqd_answers "$SP" && cli_until "$SP" OK CREATE scrapebench 1 9000000000000000000; then
    python3 -c 'import http.client, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
while True:
    c.request("GET", "/metrics"); c.getresponse().read(); time.sleep(0.1)' "$SHP" 2>/dev/null &
    SCRAPER=$!
    for cs in "c16 16 1" "c64 64 1" "p16 16 16"; do
      read -r case c p <<<"$cs"
      bench_rb seqd_scraped "$case" "$SP" "$c" "$p" 1 seqd:scrapebench NEXT scrapebench
    done
    kill "$SCRAPER" 2>/dev/null || true; wait "$SCRAPER" 2>/dev/null || true
  fi
  # Over TLS: the same strict NEXT through the TLS port (Redis over TLS below).
  if [ -n "$STP" ] && seqd_answers "$SP" && cli_until "$SP" OK CREATE tlsbench 1 9000000000000000000; then
    for cs in "c16 16 1" "c64 64 1" "p16 16 16"; do
      read -r case c p <<<"$cs"
      bench_rb seqd_tls "$case" "$STP" "$c" "$p" 1 seqd:tlsbench NEXT tlsbench
    done
  fi
  if seqd_answers "$SP" && cli_until "$SP" OK CREATE gbench 1 9000000000000000000 MODE gapless &&
     cli_until "$SP" OK CREATE gpairs 1 9000000000000000000 MODE gapless; then
    for cs in "c16 16" "c64 64"; do
      read -r case c <<<"$cs"
      bench_rb seqd_gapless "$case" "$SP" "$c" 1 1 seqd:gbench NEXT gbench
      log "seqd_pairs $case: RESERVE + CONFIRM pairs, $c clients, ${DUR} s"
      issued0=$(redis-cli -h 127.0.0.1 -p "$SP" DESCRIBE gpairs | sed -n '/^issued$/{n;p}')
      r=$("$PY" "$HERE/benchlib.py" pairs "$SP" gpairs "$c" "$DUR" 2>&1) || r="FAIL $r"
      if [ "${r%% *}" = FAIL ]; then
        put "seqd_pairs.$case.status" FAIL; put "seqd_pairs.$case.note" "seqd_pairs $case: ${r#FAIL }"; continue
      fi
      read -r prs p50 p99 npairs nerr <<<"$r"
      issued1=$(redis-cli -h 127.0.0.1 -p "$SP" DESCRIBE gpairs | sed -n '/^issued$/{n;p}')
      open=$(redis-cli -h 127.0.0.1 -p "$SP" GAPS gpairs | grep -c -E '^(reserved|released)$' || true)
      put "seqd_pairs.$case.status" ok
      put "seqd_pairs.$case.rps" "$prs"; put "seqd_pairs.$case.p50" "$p50"; put "seqd_pairs.$case.p99" "$p99"
      put "seqd_pairs.$case.n" "$npairs"
      if [ "$nerr" = 0 ] && [ "$open" = 0 ] && [ $(( issued1 - issued0 )) = "$npairs" ]; then
        put "seqd_pairs.$case.check" ok
      else
        put "seqd_pairs.$case.check" "seqd_pairs $case: $npairs pairs, $nerr errors, issued +$(( issued1 - issued0 )), $open numbers left reserved/released"
      fi
      log "  pairs/s=$prs p50=${p50}ms p99=${p99}ms (pairs $npairs, issued +$(( issued1 - issued0 )), open $open)"
    done
  fi

  # Restart: RESTART_ALLOCS numbers behind it, kill -9, time to the first NEXT answer.
  log "seqd restart: $RESTART_ALLOCS allocations of restart-seq (-c 16 -P 64)"
  if ! seqd_answers "$SP"; then
    r="FAIL seqd no longer answers PING"
  elif cli_until "$SP" OK CREATE restart-seq 1 9000000000000000000; then
    r=$(rb "$SP" 16 64 "$RESTART_ALLOCS" "${RESTART_TIMEOUT:-600}" NEXT restart-seq)
  else
    r="FAIL CREATE restart-seq failed"
  fi
  before=$(cli_int "$SP" NEXT restart-seq)
  if [ "${r%% *}" = FAIL ] || [ -z "$before" ]; then
    put seqd.restart.status "FAIL"
    put seqd.restart.note "seqd restart: loading $RESTART_ALLOCS allocations failed: ${r} (NEXT afterwards: '${before}')"
  else
    log "  loaded at ${r%% *} req/s; last number before kill -9: $before"
    put seqd.restart.allocs "$RESTART_ALLOCS"
    put seqd.restart.before "$before"
    put seqd.restart.dirsize "$(du -sh "$SDIR" | cut -f1)"
    [ "$before" -gt "$RESTART_ALLOCS" ] || put seqd.restart.note "seqd restart: only reached $before before the kill, wanted > $RESTART_ALLOCS"
    kill -KILL "$SEQD_PID"; wait "$SEQD_PID" 2>/dev/null || true; SEQD_PID=""
    t0=$(date +%s%N)
    start_seqd "$SP" "$SDIR"
    if out=$("${LIB[@]}" waitnext "$SP" restart-seq 120); then
      read -r t1 number <<<"$out"
      secs=$("$PY" -c "print('%.3f' % (($t1 - $t0) / 1e9))")
      put seqd.restart.status ok
      put seqd.restart.secs "$secs"
      put seqd.restart.number "$number"
      if [ "$number" -gt "$before" ]; then put seqd.restart.check ok
      else put seqd.restart.check "seqd restart: first NEXT after restart gave $number, not > $before (last before kill)"; fi
      log "  restart: ${secs}s, NEXT restart-seq -> $number (before kill: $before)"
    else
      put seqd.restart.status "FAIL"
      put seqd.restart.note "seqd restart: no NEXT answer within 120 s; log: $(tail -3 "$WORK/seqd.log" | tr '\n' ' ')"
    fi
  fi
fi
if [ "$SKIP_SEQD" != 1 ]; then
  if [ -n "$SEQD_PID" ] && ! kill -0 "$SEQD_PID" 2>/dev/null; then
    put seqd.note2.note "seqd had exited by the end of its runs; last log lines: $(tail -3 "$WORK/seqd.log" | tr '\n' ' ')"
  fi
  stop_pid "$SEQD_PID"; SEQD_PID=""
  [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$SDIR"
fi

# ---------------------------------------------------------------- seqd cluster
if [ "$SKIP_CLUSTER" = 1 ] || [ "$SKIP_SEQD" = 1 ]; then
  put cluster.status "skipped ($( [ "$SKIP_CLUSTER" = 1 ] && echo SKIP_CLUSTER=1 || echo SKIP_SEQD=1))"
elif [ "$SEQD_FAILED" = 1 ]; then
  put cluster.status "not run (the single node did not start)"
else
  mapfile -t CL_PORTS < <("${LIB[@]}" freeport-raft 3)
  CL_MEMBERS="127.0.0.1:${CL_PORTS[0]},127.0.0.1:${CL_PORTS[1]},127.0.0.1:${CL_PORTS[2]}"
  log "seqd cluster: three nodes, --cluster $CL_MEMBERS (Raft bus on port + 10000)"
  for i in 0 1 2; do
    CL_DIRS[i]=$WORK/cluster/n$i
    mkdir -p "${CL_DIRS[$i]}"
    start_node "$i"
  done
  put cluster.nodes "127.0.0.1 ports ${CL_PORTS[0]}, ${CL_PORTS[1]}, ${CL_PORTS[2]}, Raft bus on port + 10000"
  cl_err=""
  for i in 0 1 2; do
    wait_pong "${CL_PORTS[$i]}" "${CL_PIDS[$i]}" || { cl_err="node $i (port ${CL_PORTS[$i]}) did not answer PING within ${START_TIMEOUT:-30} s"; break; }
  done
  if [ -z "$cl_err" ]; then
    if LI=$(cluster_leader); then
      cli_until "${CL_PORTS[$LI]}" OK CREATE bench 1 9000000000000000000 || cl_err="CREATE bench on the leader did not answer OK"
    else
      cl_err="no node became leader within ${START_TIMEOUT:-30} s"
    fi
  fi
  if [ -n "$cl_err" ]; then
    echo "bench: seqd cluster: $cl_err; its logs:" >&2; tail -n 5 "$WORK"/cluster-*.log >&2
    put cluster.status FAIL; put cluster.note "seqd cluster: $cl_err"
  else
    put cluster.status ok
    log "  leader: node $LI (port ${CL_PORTS[$LI]})"
    for cs in "${CLUSTER_CASES[@]}"; do
      read -r case c p <<<"$cs"
      if ! cluster_answers; then
        put "cluster.$case.status" FAIL; put "cluster.$case.note" "cluster $case: a node no longer answers PING"; continue
      fi
      if ! LI=$(cluster_leader); then
        put "cluster.$case.status" FAIL; put "cluster.$case.note" "cluster $case: no leader"; continue
      fi
      if [ "$case" = p16f ]; then ti=$(( (LI + 1) % 3 )); what=follower; else ti=$LI; what=leader; fi
      log "cluster $case: against the $what, node $ti (port ${CL_PORTS[$ti]})"
      bench_rb cluster "$case" "${CL_PORTS[$ti]}" "$c" "$p" 1 seqd NEXT bench
      if ! L2=$(cluster_leader) || [ "$L2" != "$LI" ]; then
        put "cluster.$case.note" "cluster $case: the leader changed during the run (node $LI before, ${L2:-none} after)"
        log "  the leader changed during the run: node $LI before, ${L2:-none} after"
      fi
    done

    # Failover: a light load runs through one survivor, the other is polled.
    put cluster.failover.interval_ms "$FAILOVER_POLL_MS"
    put cluster.failover.load "a light load ran throughout: $FAILOVER_LOAD connections looping NEXT bench, one request at a time, through the surviving node that was not polled"
    for round in $(seq "$FAILOVER_ROUNDS"); do
      if ! LI=$(cluster_leader); then
        put "cluster.failover.$round.status" "FAIL: no leader before the round"; break
      fi
      PI=$(( (LI + 1) % 3 )); QI=$(( (LI + 2) % 3 ))
      log "cluster failover $round: load through node $QI, kill -9 the leader (node $LI, port ${CL_PORTS[$LI]}), poll NEXT bench on node $PI every ${FAILOVER_POLL_MS} ms"
      "${LIB[@]}" load "${CL_PORTS[$QI]}" bench "$FAILOVER_LOAD" $(( FAILOVER_TIMEOUT + 30 )) >"$WORK/load.out" 2>>"$WORK/load.err" &
      LOAD_PID=$!
      sleep 1
      rc=0
      out=$(timeout -k 5 $(( FAILOVER_TIMEOUT + 30 )) "${LIB[@]}" failover "${CL_PIDS[$LI]}" "${CL_PORTS[$PI]}" bench \
        "$FAILOVER_TIMEOUT" "$FAILOVER_POLL_MS" 2>>"$WORK/failover.err") || rc=$?
      killed=0
      if ! kill -0 "${CL_PIDS[$LI]}" 2>/dev/null; then
        killed=1; wait "${CL_PIDS[$LI]}" 2>/dev/null || true; CL_PIDS[LI]=""
      fi
      NL=""; [ "$rc" != 0 ] || NL=$(cluster_leader) || NL=""
      kill -TERM "$LOAD_PID" 2>/dev/null || true
      wait "$LOAD_PID" 2>/dev/null || true
      LOAD_PID=""
      read -r lok lerr _ <"$WORK/load.out" || true
      put "cluster.failover.$round.load" "${lok:-?} numbers, ${lerr:-?} errors"
      put "cluster.failover.$round.killed" "node $LI (port ${CL_PORTS[$LI]})"
      put "cluster.failover.$round.polled" "node $PI (port ${CL_PORTS[$PI]})"
      if [ "$rc" != 0 ]; then
        why=$(tail -1 "$WORK/failover.err" 2>/dev/null)
        if [ "$killed" = 1 ]; then
          put "cluster.failover.$round.status" "FAIL: no number within ${FAILOVER_TIMEOUT} s of the kill ($why)"
        else
          put "cluster.failover.$round.status" "FAIL: the round could not start ($why)"
        fi
        log "  failed: $why"; break
      fi
      read -r secs before number polls firsterr <<<"$out"
      put "cluster.failover.$round.status" ok
      put "cluster.failover.$round.secs" "$secs"
      put "cluster.failover.$round.before" "$before"
      put "cluster.failover.$round.number" "$number"
      [ -z "$NL" ] || put "cluster.failover.$round.leader" "node $NL (port ${CL_PORTS[$NL]})"
      if [ "$number" -gt "$before" ]; then put "cluster.failover.$round.check" ok
      else put "cluster.failover.$round.check" "cluster failover $round: first NEXT after the kill gave $number, not > $before (given just before it)"; fi
      log "  ${secs}s: NEXT bench -> $number (before the kill: $before), $polls polls (first error: $firsterr); new leader node ${NL:-?}; load: ${lok:-?} numbers, ${lerr:-?} errors"
      if [ "$round" -lt "$FAILOVER_ROUNDS" ]; then
        start_node "$LI"
        if ! wait_follower "$LI"; then
          put "cluster.failover.$round.note" "cluster failover: node $LI, restarted on its dir, did not become a follower within ${START_TIMEOUT:-30} s; no further rounds"
          log "  node $LI did not rejoin as a follower"; break
        fi
        log "  node $LI restarted on its dir: follower again"
      fi
    done
  fi
  stop_pid "$LOAD_PID"; LOAD_PID=""
  stop_cluster
  [ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$WORK/cluster"
fi

# ---------------------------------------------------------------- Redis
if [ "$SKIP_REDIS" = 1 ]; then
  put redis_always.status skipped
  put redis_everysec.status skipped
else
  modes=(always everysec)
  [ "$HAVE_TLS" = 1 ] && modes+=(always_tls)
  for mode in "${modes[@]}"; do
    sys=redis_$mode
    RP=$(freeport)
    RDIR=$WORK/redis-$mode
    mkdir -p "$RDIR"
    log "redis-server appendfsync ${mode%_tls} on 127.0.0.1:$RP${mode#always}"
    listen=(--port "$RP")
    if [ "$mode" = always_tls ]; then
      TLS_PORT[$RP]=1
      listen=(--port 0 --tls-port "$RP" --tls-cert-file "$CERTS/server.crt" --tls-key-file "$CERTS/server.key"
              --tls-ca-cert-file "$CERTS/ca.crt" --tls-auth-clients no)
    fi
    redis-server "${listen[@]}" --bind 127.0.0.1 --dir "$RDIR" --save "" --appendonly yes \
      --appendfsync "${mode%_tls}" --daemonize no --protected-mode yes --logfile "$RDIR/redis.log" &
    REDIS_PID=$!
    if ! wait_pong "$RP" "$REDIS_PID"; then
      echo "bench: redis-server did not answer PING; its log:" >&2; tail -20 "$RDIR/redis.log" >&2; exit 1
    fi
    for cs in "${CASES[@]}"; do
      read -r case c p <<<"$cs"
      [ "$mode" = always_tls ] && [ "$case" = c1 ] && continue
      bench_rb "$sys" "$case" "$RP" "$c" "$p" 1 redis INCR hot
    done
    stop_pid "$REDIS_PID"; REDIS_PID=""
    rm -rf "$RDIR"
  done
fi

# ---------------------------------------------------------------- PostgreSQL
if [ "$SKIP_PG" = 1 ]; then
  put pg_gapless.status skipped
  put pg_nextval.status skipped
else
  PGROOT=$WORK/pg
  mkdir -p "$PGROOT" "$WORK/pglog"
  if [ "$(id -u)" = 0 ]; then chown postgres:postgres "$PGROOT"; fi
  PGP=$(freeport)
  log "postgres: initdb + start on 127.0.0.1:$PGP"
  as_pg "$PGBIN/initdb" -D "$PGROOT/data" -U postgres --auth=trust -E UTF8 --no-locale >"$WORK/initdb.log" 2>&1 || {
    echo "bench: initdb failed:" >&2; tail -20 "$WORK/initdb.log" >&2; exit 1; }
  # Durable defaults, spelled out: every commit waits for its WAL fsync.
  as_pg tee -a "$PGROOT/data/postgresql.conf" >/dev/null <<EOF
port = $PGP
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGROOT'
fsync = on
synchronous_commit = on
full_page_writes = on
max_connections = 100
EOF
  PG_DATA=$PGROOT/data
  as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" -l "$PGROOT/postgres.log" -w -t 60 start >/dev/null || {
    echo "bench: postgres did not start:" >&2; tail -20 "$PGROOT/postgres.log" >&2; exit 1; }
  psql() { "$PGBIN/psql" -h 127.0.0.1 -p "$PGP" -U postgres -d postgres -v ON_ERROR_STOP=1 -qAt "$@"; }
  psql -c "CREATE TABLE counter (id int PRIMARY KEY, v bigint NOT NULL); INSERT INTO counter VALUES (1, 0); CREATE SEQUENCE s;"
  printf 'UPDATE counter SET v = v + 1 WHERE id = 1 RETURNING v;\n' >"$WORK/pg_gapless.sql"
  printf "SELECT nextval('s');\n" >"$WORK/pg_nextval.sql"
  # The ERP way (Odoo's no-gap ir.sequence, ERPNext's naming series): a counter row
  # per (series, year), locked with SELECT ... FOR UPDATE, the number formatted in SQL.
  psql -c "CREATE TABLE doc_counter (series text, year int, n bigint NOT NULL, PRIMARY KEY (series, year));
           INSERT INTO doc_counter SELECT 'inv', y, 0 FROM generate_series(2000, 2100) y;"
  YEAR_SQL="extract(year FROM now() AT TIME ZONE 'UTC' + interval '1 hour')::int"
  {
    echo "BEGIN;"
    echo "SELECT n FROM doc_counter WHERE series = 'inv' AND year = $YEAR_SQL FOR UPDATE;"
    echo "UPDATE doc_counter SET n = n + 1 WHERE series = 'inv' AND year = $YEAR_SQL RETURNING 'INV-' || year || '/' || lpad(n::text, 9, '0');"
    echo "COMMIT;"
  } >"$WORK/pg_erp.sql"
  pg_kinds=(gapless nextval erp)
  [ "$ONLY" = documents ] && pg_kinds=(erp)

  for kind in "${pg_kinds[@]}"; do
    sys=pg_$kind
    for cs in "${CASES[@]}"; do
      read -r case c p <<<"$cs"
      [ "$p" = 1 ] || continue   # pgbench has no comparable pipelined case
      log "$sys $case: pgbench -c $c -j $c -T $DUR"
      psql -c "VACUUM counter" -c "VACUUM doc_counter" -c "CHECKPOINT" >/dev/null
      if [ "$kind" = gapless ]; then before=$(psql -c "SELECT v FROM counter WHERE id = 1")
      elif [ "$kind" = erp ]; then before=$(psql -c "SELECT sum(n) FROM doc_counter")
      else before=$(psql -c "SELECT nextval('s')"); fi
      rc=0
      out=$(timeout -k 5 $(( DUR * 3 + 60 )) "$PGBIN/pgbench" -h 127.0.0.1 -p "$PGP" -U postgres -n -T "$DUR" \
        -c "$c" -j "$c" -M prepared -f "$WORK/pg_$kind.sql" --log --log-prefix="$WORK/pglog/${sys}_$case" postgres 2>&1) || rc=$?
      if [ "$kind" = gapless ]; then after=$(psql -c "SELECT v FROM counter WHERE id = 1")
      elif [ "$kind" = erp ]; then after=$(psql -c "SELECT sum(n) FROM doc_counter")
      else after=$(psql -c "SELECT nextval('s')"); fi
      tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' <<<"$out")
      avg=$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' <<<"$out")
      done_n=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' <<<"$out")
      failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' <<<"$out")
      if [ "$rc" != 0 ] || [ -z "$tps" ]; then
        put "$sys.$case.status" FAIL
        put "$sys.$case.note" "$sys $case: pgbench rc=$rc: $(tail -2 <<<"$out" | tr '\n' ' ')"
        log "  failed: $(tail -2 <<<"$out" | tr '\n' ' ')"
        continue
      fi
      read -r p50 p99 lmean _ <<<"$("${LIB[@]}" pgpct "$WORK/pglog/${sys}_$case")"
      rm -f "$WORK/pglog/${sys}_$case".*
      put "$sys.$case.status" ok
      put "$sys.$case.rps" "$tps"; put "$sys.$case.avg" "${avg:-nan}"; put "$sys.$case.p50" "$p50"; put "$sys.$case.p99" "$p99"
      put "$sys.$case.n" "$done_n"
      got=$(( after - before )); [ "$kind" = nextval ] && got=$(( got - 1 ))
      if [ "$got" = "$done_n" ] && [ "${failed:-0}" = 0 ]; then put "$sys.$case.check" ok
      else put "$sys.$case.check" "$sys $case: counter advanced by $got, pgbench counted $done_n transactions, ${failed:-?} failed"; fi
      log "  tps=$tps avg=${avg}ms (from log ${lmean}ms) p50=${p50}ms p99=${p99}ms (transactions $done_n, counter +$got)"
    done
  done
  stop_pg
fi

# ---------------------------------------------------------------- report
echo
rc=0
"${LIB[@]}" report "$RES" >"$WORK/report.md" || rc=$?
cat "$WORK/report.md"
if [ -n "${BENCH_REPORT:-}" ]; then cp "$WORK/report.md" "$BENCH_REPORT"; log "report written to $BENCH_REPORT"; fi
if [ "$SEQD_FAILED" = 1 ]; then log "seqd did not start: no seqd numbers (exit 1)"; exit 1; fi
if [ "${BENCH_STRICT:-0}" = 1 ] && [ "$rc" != 0 ]; then exit "$rc"; fi
[ "$rc" = 0 ] || [ "$rc" = 3 ] || exit "$rc"
exit 0
