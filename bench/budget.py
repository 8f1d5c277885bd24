#!/usr/bin/python3
"""budget — where a request's time goes: CPU per request, user and kernel,
of the server and of the load generator, context switches per request, and
(seqd) commands per log entry, for seqd strict and cached NEXT and Redis
INCR with appendfsync always and everysec, at the rows of issue 13 (1, 16
and 64 clients, 16 clients x pipeline 16).

usage: bench/budget.py [--seconds S] [--seqd build/seqd] [--only NAME,...]
       [--rows c1,c16,c64,p16] [--seqd-args "..."] [--out FILE]

Each case starts its server on a fresh data directory under $TMPDIR (or
/tmp), runs redis-benchmark for about S seconds, and reads the server's
/proc/PID/stat (utime, stime) and /proc/PID/status (context switches) before
and after, and the load generator's rusage. Prints one markdown table; with
--out also writes it there. Measures, asserts nothing. Loopback only.
"""
import argparse
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

ROWS = {"c1": (1, 1), "c16": (16, 1), "c64": (64, 1), "p16": (16, 16)}
TICK = os.sysconf("SC_CLK_TCK")


def free_port_pair():
    """A port P with P + 10000 free too (seqd's Raft bus)."""
    for _ in range(200):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        p = s.getsockname()[1]
        s.close()
        if p + 10000 > 65535 or p > 40000:
            continue
        try:
            t = socket.socket()
            t.bind(("127.0.0.1", p + 10000))
            t.close()
            return p
        except OSError:
            continue
    raise SystemExit("budget: no free port pair")


def cpu_of(pid):
    """(user s, kernel s, voluntary, involuntary switches) of pid and its threads."""
    with open("/proc/%d/stat" % pid) as fh:
        f = fh.read().rsplit(")", 1)[1].split()
    ut, st = int(f[11]) / TICK, int(f[12]) / TICK
    vol = invol = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/status" % (pid, tid)) as fh:
                for line in fh:
                    if line.startswith("voluntary_ctxt_switches"):
                        vol += int(line.split()[1])
                    elif line.startswith("nonvoluntary_ctxt_switches"):
                        invol += int(line.split()[1])
        except OSError:
            pass
    return ut, st, vol, invol


def wait_ping(port, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        r = subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True, text=True)
        if r.stdout.strip() == "PONG":
            return
        time.sleep(0.05)
    raise SystemExit("budget: server on %d did not answer PING" % port)


def info_fields(port):
    r = subprocess.run(["redis-cli", "-p", str(port), "INFO"], capture_output=True, text=True)
    out = {}
    for line in r.stdout.splitlines():
        if ":" in line:
            k, v = line.strip().split(":", 1)
            out[k] = v
    return out


def start(kind, d, port, seqd, seqd_args):
    if kind.startswith("seqd"):
        argv = [seqd, "--port", str(port), "--bind", "127.0.0.1", "--dir", os.path.join(d, "data")]
        argv += seqd_args
    else:
        argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", d, "--save", "",
                "--appendonly", "yes", "--appendfsync", kind.split("_")[1], "--daemonize", "no"]
    log = open(os.path.join(d, "server.log"), "w")
    p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
    wait_ping(port)
    if kind == "seqd_strict":
        subprocess.run(["redis-cli", "-p", str(port), "CREATE", "b", "1", "9000000000000000000"],
                       check=True, capture_output=True)
    elif kind == "seqd_cached":
        subprocess.run(["redis-cli", "-p", str(port), "CREATE", "b", "1", "9000000000000000000",
                        "MODE", "cached", "CACHE", "1000"], check=True, capture_output=True)
    elif kind == "seqd_text":  # NEXT b TEXT: document numbers with a Luhn digit
        subprocess.run(["redis-cli", "-p", str(port), "CREATE", "b", "1", "9000000000000000000",
                        "FORMAT", "POL-A-{n}-{check:luhn}"], check=True, capture_output=True)
    elif kind == "seqd_yearly":  # NEXT b TEXT: a yearly series with a MOD 97-10 check
        subprocess.run(["redis-cli", "-p", str(port), "CREATE", "b", "1", "9000000000000000000",
                        "PERIOD", "yearly", "TZ", "+01:00", "FORMAT", "INV-{period}/{n:9}-{check:mod97}"],
                       check=True, capture_output=True)
    return p


def run_case(kind, row, seconds, seqd, seqd_args, tmp):
    clients, pipeline = ROWS[row]
    d = tempfile.mkdtemp(prefix="budget-", dir=tmp)
    port = free_port_pair()
    srv = start(kind, d, port, seqd, seqd_args)
    try:
        cmd = ["NEXT", "b"] if kind.startswith("seqd") else ["INCR", "b"]
        if kind in ("seqd_text", "seqd_yearly"):
            cmd.append("TEXT")
        # a short probe sizes -n for about `seconds`
        probe = bench(port, clients, pipeline, clients * pipeline * 200, cmd)
        n = max(clients * pipeline * 50, int(probe[0] * seconds))
        before_info = info_fields(port) if kind.startswith("seqd") else {}
        before = cpu_of(srv.pid)
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.time()
        rps, p99 = bench(port, clients, pipeline, n, cmd)
        wall = time.time() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        after = cpu_of(srv.pid)
        after_info = info_fields(port) if kind.startswith("seqd") else {}
    finally:
        srv.terminate()
        srv.wait()
        shutil.rmtree(d, ignore_errors=True)
    us = 1e6 / n
    row_out = {
        "rps": rps, "p99": p99,
        "srv_user": (after[0] - before[0]) * us, "srv_sys": (after[1] - before[1]) * us,
        "gen_user": (ru1.ru_utime - ru0.ru_utime) * us, "gen_sys": (ru1.ru_stime - ru0.ru_stime) * us,
        "cs": ((after[2] - before[2]) + (after[3] - before[3])) / n,
        "wall_us": wall * us,
    }
    if after_info:
        e = int(after_info.get("log_entries_proposed", 0)) - int(before_info.get("log_entries_proposed", 0))
        c = int(after_info.get("log_commands_proposed", 0)) - int(before_info.get("log_commands_proposed", 0))
        row_out["per_entry"] = c / e if e > 0 else float("nan")
    return row_out


def bench(port, clients, pipeline, n, cmd):
    r = subprocess.run(["redis-benchmark", "-p", str(port), "-c", str(clients), "-P", str(pipeline),
                        "-n", str(n), "--csv"] + cmd, capture_output=True, text=True)
    last = [l for l in r.stdout.splitlines() if l.strip()][-1]
    f = [x.strip('"') for x in last.split(",")]
    return float(f[1]), float(f[6])  # rps, p99_latency_ms


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--seqd", default="build/seqd")
    ap.add_argument("--seqd-args", default="")
    ap.add_argument("--only", default="seqd_strict,seqd_cached,redis_always,redis_everysec")
    ap.add_argument("--rows", default="c1,c16,c64,p16")
    ap.add_argument("--out")
    a = ap.parse_args()
    tmp = os.environ.get("TMPDIR", "/tmp")
    lines = ["| case | row | req/s | p99 ms | server user µs | server kernel µs | load gen user µs | "
             "load gen kernel µs | server switches/req | commands/entry |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    print("\n".join(lines), flush=True)
    for kind in a.only.split(","):
        for row in a.rows.split(","):
            r = run_case(kind, row, a.seconds, a.seqd, a.seqd_args.split(), tmp)
            line = "| %s | %s | %.1fk | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %s |" % (
                kind, row, r["rps"] / 1000, r["p99"], r["srv_user"], r["srv_sys"], r["gen_user"],
                r["gen_sys"], r["cs"], "%.1f" % r["per_entry"] if "per_entry" in r else "—")
            lines.append(line)
            print(line, flush=True)
    if a.out:
        with open(a.out, "w") as fh:
            fh.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
