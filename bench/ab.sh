#!/usr/bin/env bash
# ab.sh — strict NEXT against two seqd binaries (or one binary two ways) in
# turn (A, B, A, B, ...), each on a fresh data directory: a quick look at
# whether a change moved the request path, with less drift between the two
# sides than two full `make bench` runs have.
# usage: bench/ab.sh BINARY_A BINARY_B [ROUNDS]   (needs redis-cli, redis-benchmark)
#   AB_CLIENTS=16 AB_PIPELINE=16   the load (redis-benchmark -c, -P)
#   B_PASSWORD=pw                  B runs with --requirepass-file and its clients AUTH
#                                  (the cost of a login's checks on every request)
#   B_SCRAPE=0.1                   B runs with --http-port and is scraped (/metrics) every
#                                  0.1 s during its run (the cost of being watched)
#   B_FORMAT='POL-A-{n}-{check:luhn}'  B's sequence has that format and its clients ask
#                                  NEXT bench TEXT (the cost of printing document numbers)
set -u
A=$1; B=$2; ROUNDS=${3:-3}; PORT=${AB_PORT:-7391}
C=${AB_CLIENTS:-16}; P=${AB_PIPELINE:-16}; N=$((C * P * 6000))
one() {
  local bin=$1 pw=$2 scrape=${3:-} format=${4:-} d pid auth=() flags=() scraper="" create=() text=()
  d=$(mktemp -d)
  if [ -n "$pw" ]; then
    printf '%s\n' "$pw" > "$d/pw"; flags=(--requirepass-file "$d/pw"); auth=(-a "$pw")
  fi
  [ -n "$scrape" ] && flags+=(--http-port $((PORT + 1)))
  "$bin" --port "$PORT" --dir "$d/data" "${flags[@]}" > "$d/log" 2>&1 & pid=$!
  for _ in $(seq 50); do redis-cli -p "$PORT" PING > /dev/null 2>&1 && break; sleep 0.1; done
  if [ -n "$scrape" ]; then
    # one process on one kept-alive connection, as Prometheus scrapes (not a curl per scrape)
    python3 -c 'import http.client, sys, time
c = http.client.HTTPConnection("127.0.0.1", int(sys.argv[1]))
while True:
    c.request("GET", "/metrics"); c.getresponse().read(); time.sleep(float(sys.argv[2]))' \
      $((PORT + 1)) "$scrape" 2> /dev/null &
    scraper=$!
  fi
  [ -n "$format" ] && { create=(FORMAT "$format"); text=(TEXT); }
  redis-cli -p "$PORT" "${auth[@]}" --no-auth-warning CREATE bench 1 100000000000 "${create[@]}" > /dev/null
  redis-benchmark -p "$PORT" "${auth[@]}" -c "$C" -P "$P" -n "$N" --csv NEXT bench "${text[@]}" 2> /dev/null |
    tail -1 | cut -d, -f2 | tr -d '"'
  [ -n "$scraper" ] && { kill "$scraper"; wait "$scraper" 2> /dev/null; }
  kill "$pid"; wait "$pid" 2> /dev/null; rm -rf "$d"
}
for r in $(seq "$ROUNDS"); do
  echo "round $r: A $(one "$A" "") requests/s, B $(one "$B" "${B_PASSWORD:-}" "${B_SCRAPE:-}" "${B_FORMAT:-}") requests/s"
done
