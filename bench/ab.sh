#!/usr/bin/env bash
# ab.sh — strict NEXT, 16 clients x pipeline 16, against two seqd binaries in
# turn (A, B, A, B, ...), each on a fresh data directory: a quick look at
# whether a change moved the request path, with less drift between the two
# sides than two full `make bench` runs have.
# usage: bench/ab.sh BINARY_A BINARY_B [ROUNDS]   (needs redis-cli, redis-benchmark)
set -u
A=$1; B=$2; ROUNDS=${3:-3}; PORT=${AB_PORT:-7391}
one() {
  local bin=$1 d pid
  d=$(mktemp -d)
  "$bin" --port "$PORT" --dir "$d" > "$d/log" 2>&1 & pid=$!
  for _ in $(seq 50); do redis-cli -p "$PORT" PING > /dev/null 2>&1 && break; sleep 0.1; done
  redis-cli -p "$PORT" CREATE bench 1 100000000000 > /dev/null
  redis-benchmark -p "$PORT" -c 16 -P 16 -n 1500000 --csv NEXT bench 2> /dev/null | tail -1 | cut -d, -f2 | tr -d '"'
  kill "$pid"; wait "$pid" 2> /dev/null; rm -rf "$d"
}
for r in $(seq "$ROUNDS"); do echo "round $r: A $(one "$A") requests/s, B $(one "$B") requests/s"; done
