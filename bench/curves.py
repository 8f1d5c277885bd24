#!/usr/bin/python3
"""curves — what seqd costs as the work grows (issue 13, "cost as the work
grows"): throughput and p99 of NEXT against the number of sequences the
traffic is spread over (with Redis INCR with appendfsync always over as many
keys beside it), against retained idempotency keys and against open gapless
reservations; restart time after kill -9 against the allocations in the log;
memory per sequence, per key, per reservation and per ledger run.

usage: bench/curves.py [--seqd build/seqd] [--seconds S] [--quick]
                       [--docs docs] [--no-plots]

Writes the tables between the `curves:begin` and `curves:end` markers of
docs/benchmarks.md and, with gnuplot, PNG plots to docs/plots/. Every server
runs on 127.0.0.1, on a fresh data directory under $TMPDIR (or /tmp), one
at a time, and is stopped before the next. Measures; asserts nothing.
"""
import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

from budget import free_port_pair  # bench/budget.py, beside this file


free_port = free_port_pair


def enc(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Conn(object):
    """A pipelining RESP client that counts replies (only the count and the
    errors matter to the loaders)."""

    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port))
        self.buf = b""

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.s.recv(1 << 20)
            if not chunk:
                raise EOFError("closed")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _read(self):
        line = self._line()
        t = line[:1]
        if t in (b"+", b":"):
            return line[1:].decode()
        if t == b"-":
            return RuntimeError(line[1:].decode())
        if t == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            while len(self.buf) < n + 2:
                self.buf += self.s.recv(1 << 20)
            v, self.buf = self.buf[:n], self.buf[n + 2:]
            return v.decode(errors="replace")
        if t in (b"*", b"%"):
            n = int(line[1:]) * (2 if t == b"%" else 1)
            return [self._read() for _ in range(max(n, 0))]
        raise RuntimeError("unexpected reply %r" % line)

    def cmd(self, *args):
        self.s.sendall(enc(*args))
        return self._read()

    def pipeline(self, commands, window=2000):
        """Sends every command, window at a time; returns the error count."""
        errors = 0
        first = None
        for i in range(0, len(commands), window):
            chunk = commands[i:i + window]
            self.s.sendall(b"".join(enc(*c) for c in chunk))
            for _ in chunk:
                r = self._read()
                if isinstance(r, RuntimeError):
                    errors += 1
                    first = first or str(r)
        return errors, first

    def close(self):
        self.s.close()


class Server(object):
    def __init__(self, argv, port, d):
        self.port = port
        self.d = d
        self.argv = argv
        self.log = open(os.path.join(d, "server.log"), "a")
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=subprocess.STDOUT)
        end = time.time() + 60
        while time.time() < end:
            try:
                c = Conn(port)
                if c.cmd("PING") == "PONG":
                    c.close()
                    return
            except (OSError, EOFError):
                time.sleep(0.02)
        raise SystemExit("curves: %s did not answer PING" % argv[0])

    def rss_kb(self):
        with open("/proc/%d/status" % self.p.pid) as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self, sig=signal.SIGTERM):
        self.p.send_signal(sig)
        self.p.wait()


def seqd(binary, d, port, extra=()):
    return Server([binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", os.path.join(d, "data")]
                  + list(extra), port, d)


def redis_always(d, port):
    return Server(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d, "--save", "",
                   "--appendonly", "yes", "--appendfsync", "always", "--daemonize", "no"], port, d)


def bench(port, clients, seconds, args, rand=None, pipeline=1):
    """redis-benchmark for about `seconds`: (requests/s, p99 ms)."""
    def run(n):
        argv = ["redis-benchmark", "-p", str(port), "-c", str(clients), "-P", str(pipeline), "-n", str(n),
                "--csv"]
        if rand:
            argv += ["-r", str(rand)]
        r = subprocess.run(argv + list(args), capture_output=True, text=True)
        rows = [l for l in r.stdout.splitlines() if l.strip() and not l.startswith('"test"')]
        f = [x.strip('"') for x in rows[-1].split(",")]
        return float(f[1]), float(f[6])
    probe, _ = run(clients * pipeline * 100)
    return run(max(clients * pipeline * 50, int(probe * seconds)))


def rand_names(prefix, n):
    # redis-benchmark's __rand_int__ is 12 digits, zero-padded
    return ["%s%012d" % (prefix, i) for i in range(n)]


# ---- the curves -------------------------------------------------------------------------------

def curve_sequences(a, tmp, out):
    rows = []
    for n in a.sequences:
        d = tempfile.mkdtemp(prefix="curves-", dir=tmp)
        port = free_port()
        s = seqd(a.seqd, d, port)
        try:
            rss0 = s.rss_kb()
            c = Conn(port)
            errs, first = c.pipeline([("CREATE", name, 1, 10 ** 15) for name in rand_names("s", n)])
            c.close()
            time.sleep(0.2)
            rss1 = s.rss_kb()
            rps, p99 = bench(port, 64, a.seconds, ["NEXT", "s__rand_int__"], rand=n)
        finally:
            s.stop()
            shutil.rmtree(d, ignore_errors=True)
        d = tempfile.mkdtemp(prefix="curves-", dir=tmp)
        port = free_port()
        r = redis_always(d, port)
        try:
            rrps, rp99 = bench(port, 64, a.seconds, ["INCR", "k__rand_int__"], rand=n)
        finally:
            r.stop()
            shutil.rmtree(d, ignore_errors=True)
        per = (rss1 - rss0) * 1024.0 / n if n >= 1000 else float("nan")
        rows.append((n, rps, p99, rrps, rp99, per, errs, first))
        out.write("sequences %d: seqd %.0f/s p99 %.2f ms, redis-always %.0f/s p99 %.2f ms, %.0f B/sequence"
                  " (%d CREATE errors%s)\n" % (n, rps, p99, rrps, rp99, per, errs,
                                               ": " + first if first else ""))
        out.flush()
    return rows


def load_keys(port, k):
    """k NEXT ... KEY with random keys from a space of 10^9 (redis-benchmark's
    -r takes no more than an int; repeats are replays, ~0.5 % at 10 M, and
    what is held is read back from INFO)."""
    if k == 0:
        return
    subprocess.run(["redis-benchmark", "-p", str(port), "-c", "16", "-P", "64", "-n", str(k),
                    "-r", "1000000000", "-q", "NEXT", "kb", "KEY", "__rand_int__"],
                   capture_output=True, check=True)


def curve_keys(a, tmp, out):
    rows = []
    for k in a.keys:
        d = tempfile.mkdtemp(prefix="curves-", dir=tmp)
        port = free_port()
        s = seqd(a.seqd, d, port, ["--max-keys", str(max(a.keys) + 5000000)])
        try:
            c = Conn(port)
            c.cmd("CREATE", "kb", 1, 10 ** 15)
            c.cmd("CREATE", "b", 1, 10 ** 15)
            rss0 = s.rss_kb()
            t0 = time.time()
            load_keys(port, k)
            load_s = time.time() - t0
            time.sleep(0.2)
            rss1 = s.rss_kb()
            info = c.cmd("INFO", "keyspace")
            held = int([l for l in info.split("\r\n") if l.startswith("idempotency_keys:")][0].split(":")[1])
            c.close()
            rps, p99 = bench(port, 64, a.seconds, ["NEXT", "b"])
            krps, kp99 = bench(port, 64, a.seconds, ["NEXT", "kb", "KEY", "__rand_int__"], rand=10 ** 9)
            s, took, _, _, snap = restart_after_kill(a, s, d, port, "b")
        finally:
            s.stop()
            shutil.rmtree(d, ignore_errors=True)
        per = (rss1 - rss0) * 1024.0 / held if held > 0 else float("nan")
        rows.append((k, held, rps, p99, krps, kp99, per, load_s, took, snap))
        out.write("keys %d (held %d, loaded in %.1f s): NEXT %.0f/s p99 %.2f ms, NEXT KEY new %.0f/s p99 %.2f ms,"
                  " %.0f B/key, restart %.3f s (snapshot %.1f MB)\n" % (k, held, load_s, rps, p99, krps, kp99,
                                                                    per, took, snap / 1e6))
        out.flush()
    return rows


def curve_reservations(a, tmp, out):
    rows = []
    for n in a.reservations:
        d = tempfile.mkdtemp(prefix="curves-", dir=tmp)
        port = free_port()
        s = seqd(a.seqd, d, port)
        try:
            c = Conn(port)
            c.cmd("CREATE", "g", 1, 10 ** 15, "MODE", "gapless")
            rss0 = s.rss_kb()
            errs, first = c.pipeline([("RESERVE", "g", "TTL", 36000)] * n)
            time.sleep(0.2)
            rss1 = s.rss_kb()
            c.close()
            rps, p99 = bench(port, 64, a.seconds, ["NEXT", "g"])
        finally:
            s.stop()
            shutil.rmtree(d, ignore_errors=True)
        per = (rss1 - rss0) * 1024.0 / n if n > 0 else float("nan")
        rows.append((n, rps, p99, per, errs))
        out.write("open reservations %d: gapless NEXT %.0f/s p99 %.2f ms, %.0f B/reservation (%d errors%s)\n"
                  % (n, rps, p99, per, errs, ": " + first if first else ""))
        out.flush()
    return rows


def curve_ledger(a, tmp, out):
    """Memory per ledger run: VOID every other number of a strict sequence."""
    d = tempfile.mkdtemp(prefix="curves-", dir=tmp)
    port = free_port()
    s = seqd(a.seqd, d, port)
    try:
        c = Conn(port)
        c.cmd("CREATE", "v", 1, 10 ** 15)
        runs = a.ledger_runs
        for _ in range(0, 2 * runs, 1000000):
            c.cmd("NEXT", "v", "COUNT", min(1000000, 2 * runs))
        rss0 = s.rss_kb()
        errs, first = c.pipeline([("VOID", "v", 2 * i + 1, "curves") for i in range(runs)])
        time.sleep(0.2)
        rss1 = s.rss_kb()
        c.close()
    finally:
        s.stop()
        shutil.rmtree(d, ignore_errors=True)
    per = (rss1 - rss0) * 1024.0 / runs
    out.write("ledger runs %d: %.0f B/run (%d errors%s)\n" % (runs, per, errs, ": " + first if first else ""))
    return [(runs, per, errs)]


def data_sizes(d):
    """(bytes in the data dir, bytes of the newest snapshot file)."""
    size = snap = 0
    for root, _, files in os.walk(os.path.join(d, "data")):
        for f in files:
            sz = os.path.getsize(os.path.join(root, f))
            size += sz
            if f.startswith("snapshot-") and not f.endswith(".meta"):
                snap = max(snap, sz)
    return size, snap


def restart_after_kill(a, s, d, port, name):
    """kill -9 s, start seqd again on d: (the new server, seconds to the first
    NEXT name answered, that number, data dir bytes, snapshot bytes)."""
    s.stop(signal.SIGKILL)
    size, snap = data_sizes(d)
    t0 = time.time()
    s = seqd(a.seqd, d, port, s.argv[s.argv.index("--dir") + 2:])
    got = None
    while time.time() - t0 < 600:
        c = Conn(port)
        r = c.cmd("NEXT", name)
        c.close()
        if not isinstance(r, RuntimeError):
            got = int(r)
            break
        time.sleep(0.002)
    return s, time.time() - t0, got, size, snap


def curve_restart(a, tmp, out):
    rows = []
    for n in a.restart:
        d = tempfile.mkdtemp(prefix="curves-", dir=tmp)
        port = free_port()
        s = seqd(a.seqd, d, port)
        try:
            c = Conn(port)
            c.cmd("CREATE", "r", 1, 10 ** 15)
            c.close()
            subprocess.run(["redis-benchmark", "-p", str(port), "-c", "16", "-P", "64", "-n", str(n), "-q",
                            "NEXT", "r"], capture_output=True, check=True)
            c = Conn(port)
            last = int(c.cmd("NEXT", "r"))
            c.close()
            s, took, got, size, snap = restart_after_kill(a, s, d, port, "r")
        finally:
            s.stop()
            shutil.rmtree(d, ignore_errors=True)
        rows.append((n, took, size, snap, last, got))
        out.write("restart after %d allocations: %.3f s (data dir %.1f MB, snapshot %.1f kB), NEXT %s after %d\n"
                  % (n, took, size / 1e6, snap / 1e3, got, last))
        out.flush()
    return rows


# ---- the report -------------------------------------------------------------------------------

def fmt_rate(x):
    return "%.1fk" % (x / 1000.0)


def tables(seqs, keys, resv, ledger, restart, cmdline):
    t = ["Measured by `%s` (one run; redis-benchmark with 64 clients, NEXT on the sequence(s) named)."
         % cmdline, ""]
    t += ["**Sequences** — traffic spread at random over N sequences (`NEXT s__rand_int__ -r N`), beside "
          "Redis INCR with appendfsync always over N keys:", "",
          "| sequences | seqd NEXT/s | seqd p99 ms | redis-always INCR/s | redis p99 ms | seqd memory per sequence |",
          "| --- | --- | --- | --- | --- | --- |"]
    for n, rps, p99, rrps, rp99, per, _, _ in seqs:
        t.append("| %d | %s | %.2f | %s | %.2f | %s |" % (n, fmt_rate(rps), p99, fmt_rate(rrps), rp99,
                                                        "—" if per != per else "%.0f B" % per))
    t += ["", "**Idempotency keys** retained (`--max-keys` raised to hold them): strict `NEXT` on another "
          "sequence, and `NEXT … KEY` with a new key each time:", "",
          "| keys retained | NEXT/s | p99 ms | NEXT KEY (new)/s | p99 ms | memory per key | load time | restart after kill -9 | snapshot |",
          "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for k, held, rps, p99, krps, kp99, per, load_s, took, snap in keys:
        t.append("| %d | %s | %.2f | %s | %.2f | %s | %.1f s | %.3f s | %.1f MB |" % (
            held, fmt_rate(rps), p99, fmt_rate(krps), kp99, "—" if per != per else "%.0f B" % per, load_s,
            took, snap / 1e6))
    t += ["", "**Open gapless reservations** (`RESERVE g TTL 36000`, never confirmed), then gapless `NEXT g`:", "",
          "| open reservations | gapless NEXT/s | p99 ms | memory per reservation |", "| --- | --- | --- | --- |"]
    for n, rps, p99, per, _ in resv:
        t.append("| %d | %s | %.2f | %s |" % (n, fmt_rate(rps), p99, "—" if per != per else "%.0f B" % per))
    t += ["", "**Ledger runs**: %d VOIDs of every other number: %.0f B per run." % (ledger[0][0], ledger[0][1]), ""]
    t += ["**Restart** after kill -9, to the first `NEXT` answered, against the allocations in the log:", "",
          "| allocations | restart s | data dir MB | last snapshot kB | NEXT after restart > last before |",
          "| --- | --- | --- | --- | --- |"]
    for n, took, size, snap, last, got in restart:
        t.append("| %d | %.3f | %.1f | %.1f | %s |" % (n, took, size / 1e6, snap / 1e3,
                                                       "yes" if got is not None and got > last else "NO"))
    t += ["", "![NEXT against sequences](plots/sequences.png)", "![keys](plots/keys.png)",
          "![open reservations](plots/reservations.png)", "![restart](plots/restart.png)"]
    return "\n".join(t) + "\n"


def plots(docs, seqs, keys, resv, restart):
    if shutil.which("gnuplot") is None:
        return "gnuplot not installed: no plots"
    pd = os.path.join(docs, "plots")
    os.makedirs(pd, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix="curves-plot-")
    try:
        def data(name, rows):
            path = os.path.join(tmp, name)
            with open(path, "w") as fh:
                for r in rows:
                    fh.write(" ".join(str(x) for x in r) + "\n")
            return path
        ds = data("seq", [(n, rps / 1000, p99, rrps / 1000, rp99) for n, rps, p99, rrps, rp99, *_ in seqs])
        dk = data("keys", [(max(held, 1), rps / 1000, p99, krps / 1000, kp99, took)
                           for _, held, rps, p99, krps, kp99, _, _, took, _ in keys])
        dr = data("resv", [(max(n, 1), rps / 1000, p99) for n, rps, p99, *_ in resv])
        dt = data("restart", [(n, took) for n, took, *_ in restart])
        script = """
set terminal pngcairo size 800,480 noenhanced
set grid
set key left bottom
set logscale x
set ylabel "thousand requests/s"
set y2label "p99 ms"
set y2tics
set yrange [0:*]
set y2range [0:*]
set output "{pd}/sequences.png"
set title "NEXT at 64 clients, traffic spread over N sequences"
set xlabel "sequences"
plot "{ds}" using 1:2 with linespoints title "seqd NEXT/s", \\
     "{ds}" using 1:4 with linespoints title "redis-always INCR/s (N keys)", \\
     "{ds}" using 1:3 axes x1y2 with linespoints dt 2 title "seqd p99", \\
     "{ds}" using 1:5 axes x1y2 with linespoints dt 2 title "redis-always p99"
set output "{pd}/keys.png"
set title "retained idempotency keys (0 plotted at 1)"
set xlabel "keys retained"
plot "{dk}" using 1:2 with linespoints title "NEXT/s (another sequence)", \\
     "{dk}" using 1:4 with linespoints title "NEXT KEY (new key)/s", \\
     "{dk}" using 1:3 axes x1y2 with linespoints dt 2 title "NEXT p99", \\
     "{dk}" using 1:5 axes x1y2 with linespoints dt 2 title "NEXT KEY p99"
set output "{pd}/reservations.png"
set title "gapless NEXT with open reservations (0 plotted at 1)"
set xlabel "open reservations"
plot "{dr}" using 1:2 with linespoints title "gapless NEXT/s", \\
     "{dr}" using 1:3 axes x1y2 with linespoints dt 2 title "p99"
set output "{pd}/restart.png"
set title "restart after kill -9 to the first NEXT"
set xlabel "allocations in the log"
unset y2tics
unset y2label
set ylabel "seconds"
plot "{dt}" using 1:2 with linespoints title "restart"
""".format(pd=pd, ds=ds, dk=dk, dr=dr, dt=dt)
        r = subprocess.run(["gnuplot"], input=script, capture_output=True, text=True)
        return "plots written to %s" % pd if r.returncode == 0 else "gnuplot failed: " + r.stderr[-300:]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def write_section(path, text):
    begin, end = "<!-- curves:begin -->", "<!-- curves:end -->"
    with open(path) as fh:
        doc = fh.read()
    block = begin + "\n" + text + end
    if begin in doc and end in doc:
        doc = doc[:doc.index(begin)] + block + doc[doc.index(end) + len(end):]
    else:
        doc = doc.rstrip("\n") + "\n\n## Cost as the work grows\n\n" + block + "\n"
    with open(path, "w") as fh:
        fh.write(doc)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seqd", default="build/seqd")
    ap.add_argument("--seconds", type=float, default=3)
    ap.add_argument("--quick", action="store_true", help="small sizes, 1 s per case (a smoke run)")
    ap.add_argument("--docs", default="docs")
    ap.add_argument("--no-docs", action="store_true", help="print only")
    a = ap.parse_args()
    if a.quick:
        a.seconds = 1
        a.sequences, a.keys, a.reservations, a.ledger_runs = [1, 100], [0, 10000], [0, 1000], 1000
        a.restart = [10000, 50000]
    else:
        a.sequences = [1, 1000, 10000, 100000]
        a.keys = [0, 1000000, 10000000]
        a.reservations = [0, 10000, 100000]
        a.ledger_runs = 100000
        a.restart = [1000000, 3000000, 10000000]
    tmp = os.environ.get("TMPDIR", "/tmp")
    out = sys.stdout
    seqs = curve_sequences(a, tmp, out)
    keys = curve_keys(a, tmp, out)
    resv = curve_reservations(a, tmp, out)
    ledger = curve_ledger(a, tmp, out)
    restart = curve_restart(a, tmp, out)
    cmdline = "bench/curves.py" + (" --quick" if a.quick else "")
    text = tables(seqs, keys, resv, ledger, restart, cmdline)
    print(text)
    if not a.no_docs:
        write_section(os.path.join(a.docs, "benchmarks.md"), text)
        print(plots(a.docs, seqs, keys, resv, restart))
    return 0


if __name__ == "__main__":
    sys.exit(main())
