#!/usr/bin/env bash
# cluster_tls.sh — what mutual TLS on the Raft bus costs: a three-node
# cluster on 127.0.0.1/.2/.3 with a plain bus and with --tls-cluster yes,
# in turn, each on fresh data directories; strict NEXT against the leader
# at 16 and 64 clients and 16 x 16 pipelined (requests/s, p99 ms).
# usage: bench/cluster_tls.sh [BINARY] [ROUNDS]   (needs openssl, redis-cli, redis-benchmark)
#   CT_DIR=/dev/shm   the data directories in memory: the CPU cost of TLS without the disk's noise
set -u
BIN=$(realpath "${1:-build/seqd}"); ROUNDS=${2:-2}; PORT=${CT_PORT:-7451}
WORK=$(mktemp -d -p "${CT_DIR:-${TMPDIR:-/tmp}}"); trap 'kill $(jobs -p) 2>/dev/null; wait; [ -n "${CT_KEEP:-}" ] || rm -rf "$WORK"' EXIT
cd "$WORK" || exit 1
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=bench CA" 2>/dev/null
for i in 1 2 3; do
  openssl req -newkey rsa:2048 -nodes -keyout n$i.key -out n$i.csr -subj "/CN=n$i" 2>/dev/null
  printf 'subjectAltName=IP:127.0.0.%d\n' "$i" > n$i.ext
  openssl x509 -req -in n$i.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out n$i.crt -days 2 \
    -extfile n$i.ext 2>/dev/null
done
members=127.0.0.1:$PORT,127.0.0.2:$PORT,127.0.0.3:$PORT

leader() {  # the bind address of the node that says it leads
  for i in 1 2 3; do
    [ "$(redis-cli -h 127.0.0.$i -p "$PORT" ROLE 2>/dev/null | head -1)" = leader ] && { echo 127.0.0.$i; return 0; }
  done
  return 1
}

one() {  # tls(yes|no) clients pipeline: "requests/s p99"
  local tls=$1 c=$2 p=$3 pids=() host="" csv
  rm -rf data*; mkdir -p logs
  for i in 1 2 3; do
    local extra=()
    [ "$tls" = yes ] && extra=(--tls-cluster yes --tls-cert-file n$i.crt --tls-key-file n$i.key --tls-ca-cert-file ca.crt)
    "$BIN" --bind 127.0.0.$i --port "$PORT" --dir data$i --cluster "$members" "${extra[@]}" >> logs/$i.log 2>&1 &
    pids+=($!)
  done
  for _ in $(seq 100); do host=$(leader) && break; sleep 0.1; done
  [ -n "$host" ] || { echo "no leader"; kill "${pids[@]}"; wait 2>/dev/null; return; }
  until redis-cli -h "$host" -p "$PORT" CREATE bench 1 100000000000 2>/dev/null | grep -q OK; do sleep 0.1; done
  csv=$(redis-benchmark -h "$host" -p "$PORT" -c "$c" -P "$p" -n $((c * p * 3000)) --csv NEXT bench 2>/dev/null | tail -1)
  echo "$csv" | tr -d '"' | awk -F, '{printf "%s %s", $2, $7}'
  kill "${pids[@]}"; wait "${pids[@]}" 2>/dev/null
}

for r in $(seq "$ROUNDS"); do
  for load in "16 1" "64 1" "16 16"; do
    set -- $load
    plain=$(one no "$1" "$2"); tls=$(one yes "$1" "$2")
    awk -v r="$r" -v c="$1" -v p="$2" -v a="$plain" -v b="$tls" 'BEGIN {
      split(a, x, " "); split(b, y, " ");
      printf "round %s, %s clients x pipeline %s: plain bus %.0f/s (p99 %s ms), tls bus %.0f/s (p99 %s ms), tls/plain %.2f\n",
             r, c, p, x[1], x[2], y[1], y[2], (x[1] > 0 ? y[1] / x[1] : 0) }'
  done
done
