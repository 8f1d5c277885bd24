#!/usr/bin/python3
"""benchlib — small helpers for bench/run.sh: free ports, parsing redis-benchmark
and pgbench output, waiting for seqd's first NEXT after a restart, the report.

Standard library only (no pip). Talks to 127.0.0.1 and nothing else. Never
asserts timings: it measures and prints; bench/run.sh decides nothing from it
but the exit code under BENCH_STRICT=1.

Subcommands:
  freeport N                      N distinct free TCP ports on 127.0.0.1, one a line
  freeport-raft [N]               N (default 1) distinct free ports P whose P + 10000 (seqd's
                                  Raft bus) are free too, one a line; below the ephemeral range
                                  when it leaves room, so no client socket takes one meanwhile
  rbcsv                           stdin: redis-benchmark --csv output -> "rps avg p50 p99" (ms)
  pgpct PREFIX                    pgbench --log files PREFIX.* -> "p50_ms p99_ms mean_ms count"
  waitnext PORT NAME TIMEOUT_S    poll `NEXT NAME` until it answers an integer;
                                  prints "<epoch_ns> <number>"
  failover PID PORT NAME TIMEOUT_S INTERVAL_MS
                                  `NEXT NAME` on PORT (the number before), kill -9 PID, then
                                  `NEXT NAME` on PORT every INTERVAL_MS until an integer;
                                  prints "<seconds> <before> <number> <polls> <first error>"
  load PORT NAME CLIENTS MAX_S    CLIENTS connections looping `NEXT NAME` (errors and lost
                                  connections ignored) until SIGTERM or MAX_S; prints
                                  "<integers> <errors>"
  disk DIR SECONDS                fdatasync/s of 64-byte writes: "append prealloc"
  report RESULTS_FILE             the tables and the target check; exit 3 if a target
                                  is not met (run.sh only uses that under BENCH_STRICT=1)
"""
import csv
import glob
import io
import os
import socket
import sys
import time


def cmd_freeport(argv):
    n = int(argv[0]) if argv else 1
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        for s in socks:
            print(s.getsockname()[1])
    finally:
        for s in socks:
            s.close()
    return 0


def ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as fh:
            lo, hi = (int(x) for x in fh.read().split())
        return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def cmd_freeport_raft(argv):
    """N distinct free ports P with P + 10000 free as well (seqd's Raft bus default).

    Preferably both below the ephemeral range: a node killed and restarted on its
    port (the restart and failover measurements) must find it still free, and a
    client socket of the load generator could otherwise be bound to it."""
    import random
    n = int(argv[0]) if argv else 1
    lo, _ = ephemeral_range()
    if lo - 10000 - 11000 >= 1000:
        span = (11000, lo - 10000)
    else:
        span = (20000, 55000)
    rng = random.Random()
    chosen = []
    for _ in range(5000):
        if len(chosen) == n:
            break
        p = rng.randrange(*span)
        if any(q in (c, c + 10000) for c in chosen for q in (p, p + 10000)):
            continue
        socks = []
        try:
            for q in (p, p + 10000):
                s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                socks.append(s)
                s.bind(("127.0.0.1", q))
            chosen.append(p)
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    if len(chosen) < n:
        print("freeport-raft: no %d free port pairs found" % n, file=sys.stderr)
        return 1
    for p in chosen:
        print(p)
    return 0


def cmd_rbcsv(argv):
    text = sys.stdin.read()
    # The CSV block starts at the header line; anything before it (warnings
    # such as "Could not fetch server CONFIG") is ignored.
    start = text.find('"test","rps"')
    if start < 0:
        first = next((l for l in text.splitlines() if l.strip()), "no output")
        print("FAIL " + first.strip().replace(" ", "_")[:120])
        return 0
    rows = list(csv.DictReader(io.StringIO(text[start:])))
    rows = [r for r in rows if r.get("rps")]
    if not rows:
        print("FAIL no_csv_rows")
        return 0
    r = rows[-1]

    def f(key):
        try:
            return "%.3f" % float(r[key])
        except (KeyError, TypeError, ValueError):
            return "nan"

    print("%s %s %s %s" % (f("rps"), f("avg_latency_ms"), f("p50_latency_ms"), f("p99_latency_ms")))
    return 0


def percentile(sorted_vals, p):
    if not sorted_vals:
        return float("nan")
    # nearest-rank
    k = max(0, min(len(sorted_vals) - 1, int(-(-p * len(sorted_vals) // 100)) - 1))
    return sorted_vals[k]


def cmd_pgpct(argv):
    """Per-transaction latency from pgbench --log files.

    pgbench 15's own latency column (3rd) under-reports with several clients:
    about half the entries read 0 us while the run's "latency average" is
    ~0.6 ms. The completion timestamps (5th, 6th columns) are sound, and with
    -n and no --rate each client starts its next transaction the moment the
    last one ends, so a transaction's latency is the gap between its client's
    consecutive completions (the first one's own column is used). Their mean
    matches pgbench's "latency average"; it is printed for that check."""
    prefix = argv[0]
    lat_us = []
    for path in glob.glob(glob.escape(prefix) + ".*"):
        prev = {}
        with open(path) as fh:
            for line in fh:
                parts = line.split()
                # client_id transaction_no time script_no time_epoch time_us [lag]
                if len(parts) < 6 or not parts[2].isdigit():
                    continue  # "failed"/"skipped" entries
                client = parts[0]
                end_us = int(parts[4]) * 1000000 + int(parts[5])
                if client in prev:
                    lat_us.append(end_us - prev[client])
                else:
                    lat_us.append(int(parts[2]))
                prev[client] = end_us
    lat_us.sort()
    if not lat_us:
        print("nan nan nan 0")
        return 0
    print("%.3f %.3f %.3f %d" % (percentile(lat_us, 50) / 1000.0, percentile(lat_us, 99) / 1000.0,
                                 sum(lat_us) / len(lat_us) / 1000.0, len(lat_us)))
    return 0


def cmd_disk(argv):
    """fdatasync rate of 64-byte writes in DIR for SECONDS each: appending to a new
    file, and overwriting a file that was written (and synced) beforehand — the
    floor under any durable one-client-at-a-time system on this disk."""
    d, secs = argv[0], float(argv[1])
    rec = b"x" * 63 + b"\n"
    out = []
    for mode in ("append", "prealloc"):
        path = os.path.join(d, "disk-%s.dat" % mode)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            if mode == "prealloc":
                chunk = b"\0" * (1 << 20)
                for _ in range(64):  # 64 MiB: room for ~1M records
                    os.write(fd, chunk)
                os.fsync(fd)
                os.lseek(fd, 0, os.SEEK_SET)
            n = 0
            t0 = time.monotonic()
            while True:
                os.write(fd, rec)
                os.fdatasync(fd)
                n += 1
                if n % 64 == 0 and time.monotonic() - t0 >= secs:
                    break
                if mode == "prealloc" and n >= (64 << 20) // 64:
                    break
            out.append("%.1f" % (n / (time.monotonic() - t0)))
        finally:
            os.close(fd)
            os.unlink(path)
    print(" ".join(out))
    return 0


def resp_command(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a.encode() if isinstance(a, str) else a
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def read_line(sock, buf):
    while b"\r\n" not in buf:
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk
    line, _, rest = buf.partition(b"\r\n")
    return line, rest


def cmd_waitnext(argv):
    port, name, timeout_s = int(argv[0]), argv[1], float(argv[2])
    deadline = time.monotonic() + timeout_s
    last = "no answer"
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1.0) as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                while time.monotonic() < deadline:
                    s.sendall(resp_command("NEXT", name))
                    line, _ = read_line(s, b"")
                    if line.startswith(b":"):
                        t = time.time_ns()
                        print("%d %s" % (t, line[1:].decode()))
                        return 0
                    last = line.decode(errors="replace")
                    # e.g. -TRYAGAIN while the single-node cluster elects itself
                    time.sleep(0.002)
        except (OSError, ConnectionError) as e:
            last = str(e)
            time.sleep(0.002)
    print("waitnext: no integer from NEXT %s within %.0f s; last: %s" % (name, timeout_s, last), file=sys.stderr)
    return 1


def cmd_failover(argv):
    """Kill -9 of a cluster leader and the time until a surviving node hands out
    a number again. The clock starts just before the kill; each poll is one
    `NEXT NAME` on one connection (TRYAGAIN and the like count as not yet; a
    request the node holds while it waits for a leader is answered when one is
    there, which ends the wait just the same)."""
    pid, port, name = int(argv[0]), int(argv[1]), argv[2]
    timeout_s, interval = float(argv[3]), float(argv[4]) / 1000.0
    sock = None

    def connect():
        s = socket.create_connection(("127.0.0.1", port), timeout=1.0)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return s

    try:
        sock = connect()
        sock.sendall(resp_command("NEXT", name))
        line, _ = read_line(sock, b"")
    except (OSError, ConnectionError) as e:
        print("failover: NEXT %s on port %d before the kill: %s" % (name, port, e), file=sys.stderr)
        return 1
    if not line.startswith(b":"):
        print("failover: NEXT %s on port %d before the kill answered %s" % (
            name, port, line.decode(errors="replace")), file=sys.stderr)
        return 1
    before = line[1:].decode()
    t0 = time.monotonic()
    os.kill(pid, 9)
    deadline = t0 + timeout_s
    polls = 0
    first_err = "-"
    last = "no answer"
    while time.monotonic() < deadline:
        sent = time.monotonic()
        try:
            if sock is None:
                sock = connect()
            sock.sendall(resp_command("NEXT", name))
            polls += 1
            buf = b""
            while True:  # a held request is waited for, up to the deadline
                try:
                    line, _ = read_line(sock, buf)
                    break
                except socket.timeout:
                    if time.monotonic() >= deadline:
                        raise
        except (OSError, ConnectionError) as e:
            last = "connection: %s" % e
            if sock is not None:
                sock.close()
                sock = None
        else:
            if line.startswith(b":"):
                secs = time.monotonic() - t0
                sock.close()
                print("%.3f %s %s %d %s" % (secs, before, line[1:].decode(), polls,
                                            first_err.replace(" ", "_")[:60]))
                return 0
            last = line.decode(errors="replace")
            if first_err == "-":
                first_err = last.lstrip("-")
        time.sleep(max(0.0, interval - (time.monotonic() - sent)))
    print("failover: no integer from NEXT %s on port %d within %.0f s after the kill; last: %s" % (
        name, port, timeout_s, last), file=sys.stderr)
    return 1


def cmd_load(argv):
    """A light, steady load that survives a leader change: CLIENTS threads, each
    one connection sending `NEXT NAME` and waiting for the reply, in a loop.
    Error replies and lost connections are counted, and retried after 10 ms."""
    import signal
    import threading
    port, name, clients, max_s = int(argv[0]), argv[1], int(argv[2]), float(argv[3])
    stop = threading.Event()
    counts = [[0, 0] for _ in range(clients)]

    def worker(k):
        sock = None
        req = resp_command("NEXT", name)
        while not stop.is_set():
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", port), timeout=1.0)
                    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                sock.sendall(req)
                buf = b""
                while True:
                    try:
                        line, _ = read_line(sock, buf)
                        break
                    except socket.timeout:
                        if stop.is_set():
                            raise
                if line.startswith(b":"):
                    counts[k][0] += 1
                else:  # e.g. TRYAGAIN while there is no leader: retry like a client would
                    counts[k][1] += 1
                    stop.wait(0.01)
            except (OSError, ConnectionError):
                if stop.is_set():
                    break
                counts[k][1] += 1
                if sock is not None:
                    sock.close()
                    sock = None
                stop.wait(0.01)

    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(clients)]
    for t in threads:
        t.start()
    stop.wait(max_s)
    stop.set()
    for t in threads:
        t.join(2.0)
    print("%d %d" % (sum(c[0] for c in counts), sum(c[1] for c in counts)))
    return 0


def cmd_pairs(argv):
    """Gapless document numbering as an application does it: CLIENTS
    connections, each in a loop `RESERVE NAME` then `CONFIRM NAME n` with the
    number it got, for SECONDS. One asyncio loop drives them all (a thread per
    client would measure the GIL). Prints "pairs/s p50_ms p99_ms pairs errors",
    the latency being that of a whole pair."""
    import asyncio
    port, name, clients, secs = int(argv[0]), argv[1], int(argv[2]), float(argv[3])
    lat, errors = [], [0]

    async def one(deadline):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        reserve = resp_command("RESERVE", name)
        while time.monotonic() < deadline:
            t0 = time.monotonic()
            writer.write(reserve)
            line = await reader.readline()
            if not line.startswith(b":"):
                errors[0] += 1
                continue
            writer.write(resp_command("CONFIRM", name, line[1:].strip()))
            if (await reader.readline()) != b"+OK\r\n":
                errors[0] += 1
                continue
            lat.append(time.monotonic() - t0)
        writer.close()

    async def run():
        deadline = time.monotonic() + secs
        t0 = time.monotonic()
        await asyncio.gather(*(one(deadline) for _ in range(clients)))
        return time.monotonic() - t0

    elapsed = asyncio.run(run())
    lat.sort()
    print("%.1f %.3f %.3f %d %d" % (len(lat) / elapsed, percentile(lat, 50) * 1000 if lat else 0,
                                    percentile(lat, 99) * 1000 if lat else 0, len(lat), errors[0]))
    return 0


# ---------------------------------------------------------------- report

SYSTEMS = [
    ("seqd", "seqd"),
    ("redis_always", "redis-always"),
    ("redis_everysec", "redis-everysec"),
    ("pg_gapless", "pg-gapless"),
    ("pg_nextval", "pg-nextval"),
]
CASES = [
    ("c1", "1 client"),
    ("c16", "16 clients"),
    ("c64", "64 clients"),
    ("p16", "16 clients x pipeline 16"),
]

# The cluster's rows; each is compared with the single node's row of the same shape.
CLUSTER_CASES = [
    ("c16", "16 clients"),
    ("c64", "64 clients"),
    ("p16", "16 clients x pipeline 16"),
    ("p16f", "16 clients x pipeline 16, via a follower (not a target)"),
]
CLUSTER_BASE = {"p16f": "p16"}
CLUSTER_TARGET_CASES = ("c16", "c64", "p16")
FAILOVER_ROUNDS = 3


def cluster_ratio(res, case):
    base = CLUSTER_BASE.get(case, case)
    if res.get("cluster.%s.status" % case) != "ok" or res.get("seqd.%s.status" % base) != "ok":
        return None
    va, vb = num(res, "cluster.%s.rps" % case), num(res, "seqd.%s.rps" % base)
    if va is None or vb is None or vb == 0:
        return None
    return va / vb


def failover_rounds(res):
    """[{status, secs, before, number, ...}] for cluster.failover.<i>.<field> keys."""
    rounds = {}
    for k, v in res.items():
        parts = k.split(".")
        if len(parts) == 4 and parts[:2] == ["cluster", "failover"] and parts[2].isdigit():
            rounds.setdefault(int(parts[2]), {})[parts[3]] = v
    return [rounds[i] for i in sorted(rounds)]


def load(path):
    res = {}
    with open(path) as fh:
        for line in fh:
            line = line.rstrip("\n")
            if not line or "\t" not in line:
                continue
            k, v = line.split("\t", 1)
            res[k] = v
    return res


def num(res, key):
    try:
        v = float(res[key])
    except (KeyError, ValueError):
        return None
    return v if v == v else None  # drop NaN


def fmt_rate(v):
    if v is None:
        return None
    if v >= 1e6:
        return "%.2fM" % (v / 1e6)
    if v >= 1e3:
        return "%.1fk" % (v / 1e3)
    return "%.0f" % v


def cell_rate(res, sysk, case):
    if sysk.startswith("pg_") and case == "p16":
        return "n/a"
    status = res.get("%s.%s.status" % (sysk, case))
    if status is None:
        return res.get("%s.status" % sysk, "—")
    if status != "ok":
        return status
    s = fmt_rate(num(res, "%s.%s.rps" % (sysk, case))) or "?"
    if res.get("%s.%s.check" % (sysk, case), "ok") != "ok":
        s += " (!)"
    return s


def ratio(res, a, b, case):
    va, vb = num(res, "%s.%s.rps" % (a, case)), num(res, "%s.%s.rps" % (b, case))
    if res.get("%s.%s.status" % (a, case)) != "ok" or res.get("%s.%s.status" % (b, case)) != "ok":
        return None
    if va is None or vb is None or vb == 0:
        return None
    return va / vb


def fmt_ratio(r, case_na=False):
    if case_na:
        return "n/a"
    return "—" if r is None else "%.2fx" % r


def table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    for r in rows:
        out.append("| " + " | ".join(r) + " |")
    return "\n".join(out)


DOC_CASES = (("c16", "16 clients"), ("c64", "64 clients"), ("p16", "16 clients x pipeline 16"))


def documents_report(res):
    """Issue 14's rows: NEXT ... TEXT beside plain NEXT, a yearly series beside
    both, and the ERP way (a PostgreSQL counter row per series and year, locked
    with SELECT ... FOR UPDATE, the number formatted in SQL) as the anchor."""
    if not any(k.startswith("seqd_dplain.") or k.startswith("pg_erp.") for k in res):
        return
    print("Document numbers (issue 14), requests/s (PostgreSQL: transactions/s), same run, each on its "
          "own sequence: plain `NEXT`; `NEXT ... TEXT` with `POL-A-{n}-{check:luhn}`; a yearly series "
          "`NEXT ... TEXT` with `PERIOD yearly TZ +01:00` and `INV-{period}/{n:9}-{check:mod97}`; the "
          "ERP way, `SELECT ... FOR UPDATE` of a (series, year) row, `UPDATE ... RETURNING` the "
          "formatted number:")
    print()
    rows = []
    for k, label in (("seqd_dplain", "seqd `NEXT`"), ("seqd_dtext", "seqd `NEXT ... TEXT`"),
                     ("seqd_dyear", "seqd yearly `NEXT ... TEXT`"),
                     ("pg_erp", "PostgreSQL counter row per (series, year), FOR UPDATE")):
        row = [label]
        for ck, _ in DOC_CASES:
            cell = cell_rate(res, k, ck)
            p99 = num(res, "%s.%s.p99" % (k, ck))
            if p99 is not None and res.get("%s.%s.status" % (k, ck)) == "ok":
                cell += " (p99 %.2f ms)" % p99
            row.append(cell)
        rows.append(row)
    rows.append(["`TEXT` / plain `NEXT` (target >= 0.95x)"] +
                [fmt_ratio(ratio(res, "seqd_dtext", "seqd_dplain", ck)) for ck, _ in DOC_CASES])
    rows.append(["yearly `TEXT` / `TEXT`"] +
                [fmt_ratio(ratio(res, "seqd_dyear", "seqd_dtext", ck)) for ck, _ in DOC_CASES])
    rows.append(["yearly `TEXT` / the ERP row"] +
                [fmt_ratio(ratio(res, "seqd_dyear", "pg_erp", ck), case_na=(ck == "p16")) for ck, _ in DOC_CASES])
    print(table([""] + [n for _, n in DOC_CASES], rows))
    print()


def cmd_report(argv):
    res = load(argv[0])
    print("## seqd benchmark — %s" % res.get("meta.date", "?"))
    print()
    print("Machine: %s; %s cores (%s); %s RAM; kernel %s." % (
        res.get("meta.os", "?"), res.get("meta.nproc", "?"), res.get("meta.cpu", "?"),
        res.get("meta.mem", "?"), res.get("meta.kernel", "?")))
    print("Versions: seqd %s; %s; %s." % (res.get("meta.seqd", "?"), res.get("meta.redis", "?"), res.get("meta.pg", "?")))
    print("Run: %s s per case%s, one run, one hot key/row, load generator on the same cores." % (
        res.get("meta.seconds", "?"), " (BENCH_QUICK=1: smoke test, numbers not meaningful)" if res.get("meta.quick") == "1" else ""))
    print()
    da, dp = num(res, "disk.append"), num(res, "disk.prealloc")
    if da is not None and dp is not None:
        print("Raw disk (in the temp dir, measured at the start of this run): fdatasync of a 64-byte write "
              "%s/s appending, %s/s into a preallocated file." % (fmt_rate(da), fmt_rate(dp)))
        print()
    if res.get("meta.only") == "documents":
        documents_report(res)
        notes = [v for k, v in sorted(res.items()) if (k.endswith(".check") and v != "ok") or k.endswith(".note")]
        for n in notes:
            print("- " + n)
        return 0
    print("Throughput (requests/s; for PostgreSQL transactions/s):")
    print()
    rows = []
    for ck, cname in CASES:
        row = [cname] + [cell_rate(res, sk, ck) for sk, _ in SYSTEMS]
        row.append(fmt_ratio(ratio(res, "seqd", "redis_always", ck)))
        row.append(fmt_ratio(ratio(res, "seqd", "redis_everysec", ck)))
        row.append(fmt_ratio(ratio(res, "seqd", "pg_gapless", ck), case_na=(ck == "p16")))
        rows.append(row)
    print(table(["case"] + [n for _, n in SYSTEMS] + ["seqd/redis-always", "seqd/redis-everysec", "seqd/pg-gapless"], rows))
    print()
    print("Latency p50 / p99 in ms (redis-benchmark: per request, for pipelined runs per pipelined request;")
    print("pgbench: per transaction, from --log):")
    print()
    rows = []
    for ck, cname in CASES:
        row = [cname]
        for sk, _ in SYSTEMS:
            if sk.startswith("pg_") and ck == "p16":
                row.append("n/a")
                continue
            p50, p99 = num(res, "%s.%s.p50" % (sk, ck)), num(res, "%s.%s.p99" % (sk, ck))
            if res.get("%s.%s.status" % (sk, ck)) != "ok" or p99 is None:
                row.append("—")
            else:
                row.append("%.3f / %.3f" % (p50 if p50 is not None else float("nan"), p99))
        rows.append(row)
    print(table(["case"] + [n for _, n in SYSTEMS], rows))
    print()

    # seqd extras
    cnt = num(res, "seqd.count1000.rps")
    if res.get("seqd.count1000.status") == "ok" and cnt is not None:
        chk = "" if res.get("seqd.count1000.check", "ok") == "ok" else " (!)"
        print("seqd `NEXT bench COUNT 1000`, 16 clients x pipeline 16: %s requests/s = %s numbers/s%s" % (
            fmt_rate(cnt), fmt_rate(cnt * 1000), chk))
    else:
        print("seqd `NEXT bench COUNT 1000`: %s" % res.get("seqd.count1000.status", res.get("seqd.status", "—")))
    rs = num(res, "seqd.restart.secs")
    if res.get("seqd.restart.status") == "ok" and rs is not None:
        print("seqd restart after kill -9 with %s allocations behind it (data dir %s): first `NEXT restart-seq` "
              "answered after %.3f s with %s (last number before the kill: %s)" % (
                  res.get("seqd.restart.allocs", "?"), res.get("seqd.restart.dirsize", "?"), rs,
                  res.get("seqd.restart.number", "?"), res.get("seqd.restart.before", "?")))
    else:
        print("seqd restart: %s" % res.get("seqd.restart.status", res.get("seqd.status", "—")))
    print()

    # modes
    mode_rows = [("seqd", "strict `NEXT`"),
                 ("seqd_acl", "strict `NEXT` as an ACL user (`~aclbench-*` `+@issue`)"),
                 ("seqd_scraped", "strict `NEXT` while `/metrics` is scraped every 100 ms"),
                 ("seqd_cached", "cached `NEXT` (CACHE 1000)"),
                 ("seqd_gapless", "gapless `NEXT` (reserve + confirm in one)"),
                 ("seqd_pairs", "gapless `RESERVE` then `CONFIRM` (pairs/s)"),
                 ("pg_gapless", "PostgreSQL gapless counter row (transactions/s)")]
    if any(res.get("%s.c16.status" % k) for k, _ in mode_rows[1:5]):
        print("Modes, requests/s (pairs/s for RESERVE + CONFIRM), same run; ratio to strict `NEXT` "
              "and to the PostgreSQL row:")
        print()
        rows = []
        for k, label in mode_rows:
            row = [label]
            for ck in ("c16", "c64", "p16"):
                if k in ("seqd_pairs", "pg_gapless", "seqd_gapless") and ck == "p16":
                    row.append("n/a")
                    continue
                cell = cell_rate(res, k, ck)
                st, pg = ratio(res, k, "seqd", ck), ratio(res, k, "pg_gapless", ck)
                p99 = num(res, "%s.%s.p99" % (k, ck))
                extra = []
                if k != "seqd" and st is not None:
                    extra.append("%.2fx strict" % st)
                if k not in ("pg_gapless",) and pg is not None and ck != "p16":
                    extra.append("%.1fx PG" % pg)
                if p99 is not None and res.get("%s.%s.status" % (k, ck)) == "ok":
                    extra.append("p99 %.2f ms" % p99)
                row.append(cell + (" (" + ", ".join(extra) + ")" if extra else ""))
            rows.append(row)
        print(table(["", "16 clients", "64 clients", "16 clients x pipeline 16"], rows))
        print()

    # TLS
    if res.get("seqd_tls.c16.status") or res.get("redis_always_tls.c16.status"):
        print("Over TLS (TLS 1.3, no client certificates), requests/s and p99, same run; seqd strict "
              "`NEXT` against Redis INCR with appendfsync always, both over TLS:")
        print()
        rows = []
        for k, label in (("seqd_tls", "seqd strict `NEXT` over TLS"),
                         ("redis_always_tls", "Redis INCR, appendfsync always, over TLS")):
            row = [label]
            for ck in ("c16", "c64", "p16"):
                p99 = num(res, "%s.%s.p99" % (k, ck))
                cell = cell_rate(res, k, ck)
                if p99 is not None and res.get("%s.%s.status" % (k, ck)) == "ok":
                    cell += " (p99 %.2f ms)" % p99
                row.append(cell)
            rows.append(row)
        rows.append(["seqd-tls / redis-always-tls"] +
                     [fmt_ratio(ratio(res, "seqd_tls", "redis_always_tls", ck)) for ck in ("c16", "c64", "p16")])
        rows.append(["seqd-tls / seqd plain"] +
                     [fmt_ratio(ratio(res, "seqd_tls", "seqd", ck)) for ck in ("c16", "c64", "p16")])
        print(table(["", "16 clients", "64 clients", "16 clients x pipeline 16"], rows))
        print()

    documents_report(res)

    # three-node cluster
    cl_status = res.get("cluster.status", "—")
    if cl_status == "ok":
        print("Three-node seqd cluster on loopback (%s; the nodes and the load generator share the "
              "same cores), `NEXT bench` against the leader, requests/s and ratio to the single "
              "node above:" % res.get("cluster.nodes", "?"))
        print()
        rows = []
        for ck, cname in CLUSTER_CASES:
            p50, p99 = num(res, "cluster.%s.p50" % ck), num(res, "cluster.%s.p99" % ck)
            lat = "—" if res.get("cluster.%s.status" % ck) != "ok" or p99 is None else \
                "%.3f / %.3f" % (p50 if p50 is not None else float("nan"), p99)
            cell = cell_rate(res, "cluster", ck) if "cluster.%s.status" % ck in res else "—"
            rows.append([cname, cell_rate(res, "seqd", CLUSTER_BASE.get(ck, ck)),
                         cell, fmt_ratio(cluster_ratio(res, ck)), lat])
        print(table(["case", "seqd (single node)", "cluster", "cluster/seqd", "cluster p50 / p99 ms"], rows))
        print()
    else:
        print("Three-node seqd cluster: %s" % cl_status)
        print()
    rounds = failover_rounds(res)
    if rounds:
        print("Cluster failover, kill -9 of the leader, time until a surviving node answers `NEXT bench` "
              "with a number (polled every %s ms; %s):" % (res.get("cluster.failover.interval_ms", "?"),
                                                          res.get("cluster.failover.load", "no load")))
        print()
        for i, r in enumerate(rounds, 1):
            if r.get("status") == "ok":
                chk = "" if r.get("check", "ok") == "ok" else " (!)"
                print("- round %d: %s s — leader %s killed, %s answered %s (it gave %s just before the kill)%s%s; "
                      "load meanwhile: %s" % (
                          i, r.get("secs", "?"), r.get("killed", "?"), r.get("polled", "?"), r.get("number", "?"),
                          r.get("before", "?"), chk, "; new leader %s" % r["leader"] if r.get("leader") else "",
                          r.get("load", "?")))
            else:
                print("- round %d: %s" % (i, r.get("status", "?")))
        print()

    # checks
    notes = [v for k, v in sorted(res.items()) if k.endswith(".check") and v != "ok"]
    notes += [v for k, v in sorted(res.items()) if k.endswith(".note")]
    if notes:
        print("Checks that failed or notes ((!) above marks a run whose counter did not advance by the requests counted):")
        for n in notes:
            print("- " + n)
        print()

    # targets
    print("Targets (issue 13 and the design brief, 'What we measure ourselves against'):")
    print()
    results = []

    def target(name, ok, detail):
        results.append(ok)
        mark = "MET" if ok is True else ("NOT MET" if ok is False else "NOT MEASURED")
        print("- [%s] %s — %s" % (mark, name, detail))

    def all_of(checks):
        """checks: (label, value, ok or None) -> (ok overall, detail)"""
        oks = [c[2] for c in checks]
        ok = False if False in oks else (None if None in oks or not oks else True)
        return ok, "; ".join("%s %s" % (label, v) for label, v, _ in checks)

    checks = []
    for ck, cname in CASES:
        r = ratio(res, "seqd", "redis_always", ck)
        checks.append((cname, fmt_ratio(r), None if r is None else r >= 1.25))
    target("strict NEXT >= 1.25x redis-always at 1, 16 and 64 clients and pipelined", *all_of(checks))

    checks = []
    for ck, cname in CASES:
        if ck in ("c64", "p16"):
            r = ratio(res, "seqd", "redis_everysec", ck)
            checks.append((cname, fmt_ratio(r), None if r is None else r >= 1.0))
    target("strict NEXT >= 1.0x redis-everysec at 64 clients and 16 x 16 pipelined", *all_of(checks))

    checks = []
    for ck, cname in CASES:
        r = ratio(res, "seqd_cached", "redis_everysec", ck)
        checks.append((cname, fmt_ratio(r), None if r is None else r >= 1.0))
    target("cached NEXT >= 1.0x redis-everysec at every row", *all_of(checks))

    checks = []
    for ck, cname in CASES:
        if ck not in ("c16", "c64"):
            continue
        mine, theirs = num(res, "seqd.%s.p99" % ck), num(res, "redis_always.%s.p99" % ck)
        if mine is None or theirs is None or res.get("seqd.%s.status" % ck) != "ok":
            checks.append((cname, "—", None))
        else:
            checks.append((cname, "%.2f ms (redis-always %.2f ms)" % (mine, theirs),
                           mine <= theirs and mine <= 2.0))
    target("strict p99 at 16 and 64 clients <= redis-always's p99 and <= 2 ms", *all_of(checks))

    r = ratio(res, "seqd", "pg_gapless", "c64")
    target("64 clients: strict NEXT >= 25x pg-gapless", None if r is None else r >= 25.0, fmt_ratio(r))

    if res.get("seqd.count1000.status") == "ok" and cnt is not None:
        target("NEXT ... COUNT 1000 >= 200M numbers/s", cnt * 1000 >= 200e6 and res.get("seqd.count1000.check", "ok") == "ok",
               "%s numbers/s" % fmt_rate(cnt * 1000))
    else:
        target("NEXT ... COUNT 1000 >= 200M numbers/s", None, res.get("seqd.count1000.status", "—"))

    allocs = num(res, "seqd.restart.allocs")
    if res.get("seqd.restart.status") == "ok" and rs is not None:
        full = allocs is not None and allocs >= 10e6
        ok = rs <= 1.0 and res.get("seqd.restart.check", "ok") == "ok"
        target("restart with 10M allocations behind it <= 1 s", ok if full else None,
               "%.3f s with %s allocations%s" % (rs, res.get("seqd.restart.allocs", "?"),
                                                "" if full else " (fewer than 10M: RESTART_ALLOCS was lowered)"))
    else:
        target("restart with 10M allocations behind it <= 1 s", None, res.get("seqd.restart.status", "—"))

    name = "three-node cluster >= 0.7x single-node seqd at 16 and 64 clients and pipelined (16 x 16)"
    if cl_status != "ok":
        target(name, None, "cluster %s" % cl_status)
    else:
        parts, oks = [], []
        for ck, cname in CLUSTER_CASES:
            if ck not in CLUSTER_TARGET_CASES:
                continue
            r = cluster_ratio(res, ck)
            bad = res.get("cluster.%s.check" % ck, "ok") != "ok"
            parts.append("%s %s%s" % (cname, fmt_ratio(r), " (!)" if bad else ""))
            oks.append(None if r is None else (r >= 0.7 and not bad))
        ok = False if False in oks else (None if None in oks else True)
        target(name, ok, "; ".join(parts))

    name = "cluster failover after kill -9 of the leader <= 1 s (every round)"
    done = [r for r in rounds if r.get("status") == "ok" and num(r, "secs") is not None]
    failed = [r for r in rounds if r.get("status") != "ok"]
    if not rounds:
        target(name, None, "cluster %s" % (cl_status if cl_status != "ok" else "failover not run"))
    else:
        secs = [num(r, "secs") for r in done]
        bad = [r for r in done if r.get("check", "ok") != "ok"]
        detail = ", ".join("%.3f s" % v for v in secs) or "no round completed"
        if secs:
            detail += "; max %.3f s" % max(secs)
        if failed:
            detail += "; %d round(s) failed" % len(failed)
        if bad:
            detail += "; %d round(s) failed the number check" % len(bad)
        if failed or bad or any(v > 1.0 for v in secs):
            ok = False
        elif len(done) < FAILOVER_ROUNDS:
            ok = None
            detail += " (%d of %d rounds)" % (len(done), FAILOVER_ROUNDS)
        else:
            ok = True
        target(name, ok, detail)
    return 3 if False in results else 0


def main():
    if len(sys.argv) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    cmds = {"freeport": cmd_freeport, "freeport-raft": cmd_freeport_raft, "rbcsv": cmd_rbcsv, "pgpct": cmd_pgpct,
            "waitnext": cmd_waitnext, "failover": cmd_failover, "load": cmd_load, "report": cmd_report,
            "disk": cmd_disk, "pairs": cmd_pairs}
    fn = cmds.get(sys.argv[1])
    if fn is None:
        print(__doc__, file=sys.stderr)
        return 2
    return fn(sys.argv[2:])


if __name__ == "__main__":
    sys.exit(main())
