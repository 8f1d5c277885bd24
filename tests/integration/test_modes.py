"""test_modes — sequence modes (strict, gapless, cached), range windows and WARN
through real clients (python3-redis and the raw socket client).

  - CREATE/ADDRANGE options: MODE, CACHE, WARN, NOTBEFORE/NOTAFTER (Unix
    seconds and RFC 3339), identical re-CREATE, EXISTS, every syntax error;
  - gapless: RESERVE/CONFIRM/RELEASE, TTL (per request and --reserve-ttl),
    released and lapsed numbers reissued first, lowest first; KEY permanent
    (kept past --key-retention, across a restart); NEXT = reserve + confirm;
  - replies a client never read (it disconnected): released in gapless,
    unknown in strict;
  - windows: a future range skipped without being used, an expired range's
    rest reported expired, the three EXHAUSTED messages;
  - WARN: DESCRIBE fields, the log line (once), INFO warnings;
  - VOID/GAPS/LOOKUP in every mode;
  - the gapless invariant under concurrent clients, and after kill -9 under
    load (acknowledged reservations survive, short ones lapse and come back
    first, no number confirmed twice);
  - cached: kill -9 rounds under load (no duplicates, the lost block's rest
    skipped, every number below next final or in GAPS);
  - CONFIRM/RELEASE ... KEY (only the key holding the number), a voided key;
  - every mode's state restored from a snapshot plus the log after kill -9;
  - a 3-node cluster: kill -9 of the leader under cached load (no duplicates,
    skipped recorded, received numbers final and voidable) and under gapless
    load (reservations made before the failover are confirmed on the new
    leader; a short one runs out there); replies lost by a follower's client
    (an expected failure: not covered, see docs/ledger.md).
"""

import bisect
import collections
import datetime
import os
import random
import socket
import struct
import sys
import threading
import time
import unittest

import redis

from harness import Raw, RespError, SeqdTestCase, describe_dict, encode, info_fields, role_of, runs_numbers

CLUSTER_ARGS = ("--request-timeout-ms", "2000")
FORBIDDEN_FOR_SERVED = ("reserved", "released", "expired", "cached", "unknown", "voided")
SKIP_REASON = "cached block given up: a leader change, a restart, or its range expired"
UNDELIVERED_REASON = "reply undelivered: the client disconnected"


def out(text):
    sys.stdout.write(text)
    sys.stdout.flush()


def s_(v):
    return v.decode() if isinstance(v, bytes) else v


def gaps_of(conn, name, *bounds):
    """GAPS as [(first, last, state, reason, time_ms)] with str state/reason."""
    reply = conn.cmd("GAPS", name, *bounds) if isinstance(conn, Raw) else \
        conn.execute_command("GAPS", name, *bounds)
    assert isinstance(reply, list), "GAPS %s -> %r" % (name, reply)
    return [(int(g[0]), int(g[1]), s_(g[2]), s_(g[3]), g[4]) for g in reply]


def per_number(runs):
    """{n: state} of GAPS runs (small runs only)."""
    return {n: g[2] for g in runs for n in range(g[0], g[1] + 1)}


class RunIndex(object):
    """Finds the GAPS run holding a number (runs are sorted and disjoint)."""

    def __init__(self, runs):
        self.runs = sorted(runs)
        self.firsts = [g[0] for g in self.runs]

    def find(self, n):
        i = bisect.bisect_right(self.firsts, n) - 1
        if i >= 0 and self.runs[i][0] <= n <= self.runs[i][1]:
            return self.runs[i]
        return None

    def state(self, n):
        g = self.find(n)
        return g[2] if g else None


def lookup(conn, name, n):
    reply = conn.cmd("LOOKUP", name, n) if isinstance(conn, Raw) else conn.execute_command("LOOKUP", name, n)
    assert isinstance(reply, list) and len(reply) % 2 == 0, "LOOKUP %s %r -> %r" % (name, n, reply)
    return {s_(reply[i]): s_(reply[i + 1]) for i in range(0, len(reply), 2)}


def describe(conn, name):
    reply = conn.cmd("DESCRIBE", name) if isinstance(conn, Raw) else conn.execute_command("DESCRIBE", name)
    assert not isinstance(reply, RespError), "DESCRIBE %s -> %r" % (name, reply)
    d = describe_dict(reply)
    for k in ("name", "mode"):
        d[k] = s_(d[k])
    return d


def ms(text):
    """RFC 3339 -> ms since the epoch, with Python's own parser (the reference)."""
    t = text.replace("Z", "+00:00")
    frac = 0
    if "." in t:
        head, rest = t.split(".", 1)
        digits = rest[:len(rest) - len(rest.lstrip("0123456789"))]
        tz = rest[len(digits):]
        frac = int((digits + "000")[:3])
        t = head + tz
    return int(datetime.datetime.fromisoformat(t).timestamp()) * 1000 + frac


def rfc3339_ms(t_ms):
    """ms since the epoch as RFC 3339 with milliseconds."""
    d = datetime.datetime.fromtimestamp(t_ms / 1000.0, tz=datetime.timezone.utc)
    return d.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (t_ms % 1000)


def abort_close(conn):
    """Closes with a RST (SO_LINGER 0) instead of a FIN."""
    conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    conn.close()


def info_text(server, *section):
    with Raw(server.port) as c:
        reply = c.cmd("INFO", *section)
    assert isinstance(reply, bytes), "INFO %r -> %r" % (section, reply)
    return reply.decode()


def poll(fn, timeout, interval=0.05):
    """Calls fn until it returns something true; returns the last value."""
    deadline = time.monotonic() + timeout
    v = fn()
    while not v and time.monotonic() < deadline:
        time.sleep(interval)
        v = fn()
    return v


# ---- gapless load: RESERVE then CONFIRM / RELEASE / keep, with bookkeeping ----------------

class Res(object):
    """One acknowledged reservation (a number held through one RESERVE/NEXT)."""
    __slots__ = ("token", "n", "key", "short", "status", "t_ack")

    def __init__(self, token, n, key, short, status, t_ack):
        self.token, self.n, self.key, self.short, self.status, self.t_ack = token, n, key, short, status, t_ack

    def __repr__(self):
        return "Res(%s n=%d key=%s short=%s %s)" % (self.token, self.n, self.key, self.short, self.status)


class Book(object):
    """Everything the clients of a gapless sequence were told. Thread-safe.
    status of a Res: held, confirm-sent, confirmed, release-sent, released, short."""

    def __init__(self):
        self.lock = threading.Lock()
        self.latest = {}          # n -> the latest Res acknowledged for it
        self.confirmed = {}       # n -> token of the reservation whose CONFIRM (or NEXT) was acknowledged
        self.reserved_count = collections.Counter()  # n -> times RESERVE/NEXT returned it
        self.bad = []

    def on_reserved(self, n, token, key, short, via):
        with self.lock:
            prev = self.latest.get(n)
            if n in self.confirmed:
                self.bad.append("%s got %d, already confirmed by %s" % (via, n, self.confirmed[n]))
            elif prev is not None and prev.status in ("held", "confirm-sent", "confirmed"):
                self.bad.append("%s got %d while %r still holds it" % (via, n, prev))
            res = Res(token, n, key, short, "short" if short else "held", time.monotonic())
            self.latest[n] = res
            self.reserved_count[n] += 1
            return res

    def set_status(self, res, status):
        with self.lock:
            res.status = status

    def on_confirmed(self, res, via):
        with self.lock:
            other = self.confirmed.get(res.n)
            if other is not None and other != res.token:
                self.bad.append("%d confirmed twice: by %s and by %s (%s)" % (res.n, other, res.token, via))
            self.confirmed[res.n] = res.token
            res.status = "confirmed"

    def held(self):
        with self.lock:
            return [r for r in self.latest.values() if r.status in ("held", "confirm-sent")]


class GaplessWorker(threading.Thread):
    """One connection to one server: RESERVE [TTL] [KEY] (or NEXT), then
    CONFIRM, RELEASE or keep. Stops at stop, or when the server dies (the
    request then in flight is left in self.inflight)."""

    def __init__(self, server, seq, book, idx, stop, seed, tag, p_short=0.0, p_confirm=0.5, p_release=0.4,
                 p_key=0.5, p_next=0.0):
        super().__init__(daemon=True)
        self.server, self.seq, self.book, self.idx, self.stop = server, seq, book, idx, stop
        self.rng = random.Random("%s/%s/%d" % (seed, tag, idx))
        self.tag = tag
        self.p_short, self.p_confirm, self.p_release, self.p_key, self.p_next = \
            p_short, p_confirm, p_release, p_key, p_next
        self.inflight = None  # (op, Res or token, key, short) of the request without a reply
        self.ops = 0
        self.died = False
        self.fatal = None

    def run(self):
        try:
            conn = Raw(self.server.port, timeout=10)
        except OSError as e:
            self.fatal = "connect: %r" % e
            return
        j = 0
        book, seq = self.book, self.seq
        try:
            while not self.stop.is_set():
                j += 1
                token = "%s-%d-%d" % (self.tag, self.idx, j)
                rng = self.rng
                if rng.random() < self.p_next:
                    self.inflight = ("NEXT", token, None, False)
                    n = conn.cmd("NEXT", seq)
                    self.inflight = None
                    if not isinstance(n, int):
                        book.bad.append("NEXT %s -> %r" % (seq, n))
                        continue
                    res = book.on_reserved(n, token, None, False, token)
                    book.on_confirmed(res, token + " NEXT")
                    self.ops += 1
                    continue
                short = rng.random() < self.p_short
                key = token if short or rng.random() < self.p_key else None
                args = ["RESERVE", seq, "TTL", 1 if short else 300]
                if key:
                    args += ["KEY", key]
                self.inflight = ("RESERVE", token, key, short)
                n = conn.cmd(*args)
                self.inflight = None
                if not isinstance(n, int):
                    book.bad.append("%r -> %r" % (args, n))
                    continue
                res = book.on_reserved(n, token, key, short, token)
                self.ops += 1
                if short:
                    continue  # abandoned: it lapses after 1 s
                r = rng.random()
                if r < self.p_confirm:
                    book.set_status(res, "confirm-sent")
                    self.inflight = ("CONFIRM", res, key, False)
                    reply = conn.cmd("CONFIRM", seq, n)
                    self.inflight = None
                    if reply != "OK":
                        book.bad.append("CONFIRM %s %d (%r) -> %r" % (seq, n, res, reply))
                        continue
                    book.on_confirmed(res, token)
                elif r < self.p_confirm + self.p_release:
                    book.set_status(res, "release-sent")  # given up before it can be reissued
                    self.inflight = ("RELEASE", res, key, False)
                    reply = conn.cmd("RELEASE", seq, n)
                    self.inflight = None
                    if reply != "OK":
                        book.bad.append("RELEASE %s %d (%r) -> %r" % (seq, n, res, reply))
                        continue
                    book.set_status(res, "released")
        except (EOFError, OSError, ValueError):
            self.died = True
        except Exception as e:  # reported by the test
            self.fatal = repr(e)
        finally:
            conn.close()


def run_workers(workers, seconds=None, stop=None, kill=None):
    """Starts workers; after seconds sets stop (or calls kill); joins (bounded)."""
    for w in workers:
        w.start()
    time.sleep(seconds)
    if kill is not None:
        kill()
    stop.set()
    for w in workers:
        w.join(20)
    return [w.idx for w in workers if w.is_alive()]


def confirm_all(test, conn, seq, book):
    """CONFIRMs every reservation the book holds; every one must be OK."""
    held = book.held()
    if not held:
        return 0
    conn.send(b"".join(encode("CONFIRM", seq, r.n) for r in held))
    replies = conn.read_n(len(held))
    bad = [(r, rep) for r, rep in zip(held, replies) if rep != "OK"]
    test.assertEqual(bad[:10], [], "CONFIRM of held reservations failed")
    for r in held:
        book.on_confirmed(r, "final confirm")
    return len(held)


def check_gapless_final(test, conn, seq, book, lo=1, label=""):
    """Every number in [lo, high-water mark] is either confirmed (exactly one
    acknowledged reservation confirmed it; not in GAPS) or released in GAPS;
    no reservation is left; DESCRIBE next is the lowest released number."""
    test.assertEqual(book.bad[:10], [], "%s: violations seen by clients" % label)
    d = describe(conn, seq)
    hwm = lo + d["issued"] - 1
    runs = gaps_of(conn, seq)
    states = collections.Counter(g[2] for g in runs)
    test.assertEqual(set(states) - {"released"}, set(), "%s: GAPS after every reservation was confirmed "
                     "holds other states: %r" % (label, [g for g in runs if g[2] != "released"][:10]))
    released = set(n for g in runs for n in range(g[0], g[1] + 1))
    confirmed = set(book.confirmed)
    test.assertEqual(sorted(released & confirmed)[:10], [], "%s: confirmed numbers listed as released" % label)
    everything = set(range(lo, hwm + 1))
    test.assertEqual(sorted(everything - released - confirmed)[:20], [],
                     "%s: numbers below the high-water mark %d neither confirmed by a client nor in GAPS" %
                     (label, hwm))
    test.assertEqual(sorted((released | confirmed) - everything)[:10], [], "%s: numbers past the high-water "
                     "mark" % label)
    test.assertEqual(d["next"], min(released) if released else hwm + 1,
                     "%s: DESCRIBE next is not the lowest released number" % label)
    return d, released


# ---- cached load ---------------------------------------------------------------------------

def is_retryable(reply):
    return isinstance(reply, RespError) and (reply.text.startswith("TRYAGAIN") or
                                             reply.text.startswith("CLUSTERDOWN"))


class CachedWorker(threading.Thread):
    """NEXT seq [COUNT k] (some pipelined) against targets()[idx]; records
    every number received. single: exits when the server goes away (the
    unanswered requests' counts go to self.lost); otherwise moves to the
    next node and goes on until stop."""

    def __init__(self, targets, seq, idx, stop, seed, single=True, timeout=8.0):
        super().__init__(daemon=True)
        self.targets, self.seq, self.idx, self.stop, self.single = targets, seq, idx, stop, single
        self.rng = random.Random("%s/%d" % (seed, idx))
        self.timeout = timeout
        self.got = []          # (number, time received)
        self.lost = 0          # numbers asked for in requests never answered (or "outcome unknown")
        self.bad = []
        self.retried = collections.Counter()
        self.fatal = None
        self.shift = 0

    def run(self):
        conn = None
        try:
            while not self.stop.is_set():
                if conn is None:
                    nodes = self.targets()
                    server = nodes[(self.idx + self.shift) % len(nodes)]
                    try:
                        conn = Raw(server.port, timeout=self.timeout, connect_timeout=1.0)
                    except OSError:
                        if self.single:
                            return
                        self.shift += 1
                        time.sleep(0.05)
                        continue
                depth = self.rng.randint(1, 4) if self.idx % 2 == 0 else 1
                counts = [1 if self.rng.random() < 0.5 else self.rng.randint(2, 20) for _ in range(depth)]
                reqs = [("NEXT", self.seq) if k == 1 and self.rng.random() < 0.5 else ("NEXT", self.seq, "COUNT", k)
                        for k in counts]
                pending = list(zip(reqs, counts))
                try:
                    conn.send(b"".join(encode(*r) for r in reqs))
                    while pending:
                        reply = conn.read()
                        t = time.monotonic()
                        req, k = pending.pop(0)
                        if isinstance(reply, int) and len(req) == 2:
                            self.got.append((reply, t))
                        elif isinstance(reply, list) and len(req) == 4:
                            nums = runs_numbers(reply)
                            if len(nums) != k:
                                self.bad.append("%r -> %d numbers %r" % (req, len(nums), reply))
                            self.got.extend((n, t) for n in nums)
                        elif is_retryable(reply) and not self.single:
                            self.retried[reply.text.split(" ", 1)[0]] += 1
                            if reply.text.startswith("TRYAGAIN outcome unknown"):
                                self.lost += k  # may have been served
                        else:
                            self.bad.append("%r -> %r" % (req, reply))
                except (EOFError, OSError, ValueError):
                    self.lost += sum(k for _, k in pending)
                    conn.close()
                    conn = None
                    if self.single:
                        return
                    self.retried["conn"] += 1
                    self.shift += 1
                    time.sleep(0.05)
        except Exception as e:
            self.fatal = repr(e)
        finally:
            if conn is not None:
                conn.close()


def settled_gaps(conn, name, got, timeout=3.0):
    """GAPS once every received number is reported served (the leader
    reports what it served right after serving: give the report time to
    be applied), or after timeout."""
    top = max(got)

    def fetch():
        runs = gaps_of(conn, name)
        return runs if not [g for g in runs if g[2] == "cached" and g[0] <= top] else None
    return poll(fetch, timeout) or gaps_of(conn, name)


def check_cached_numbers(test, runs, got, lo, nxt, lost, label):
    """No number received twice; every received number in [lo, next) and not
    in a non-final GAPS state; numbers below next are received or in GAPS
    except at most `lost` (served to requests whose reply was cut).
    Returns (received numbers in skipped runs, numbers unaccounted)."""
    counts = collections.Counter(got)
    dups = sorted(n for n, c in counts.items() if c > 1)
    test.assertEqual(dups[:10], [], "%s: %d numbers received twice" % (label, len(dups)))
    outside = sorted(n for n in counts if not lo <= n < nxt)
    test.assertEqual(outside[:10], [], "%s: received numbers outside [%d, next %d)" % (label, lo, nxt))
    idx = RunIndex(runs)
    wrong = []
    in_skipped = 0
    for n in counts:
        st = idx.state(n)
        if st in FORBIDDEN_FOR_SERVED:
            wrong.append((n, idx.find(n)))
        elif st == "skipped":
            in_skipped += 1
    test.assertEqual(wrong[:10], [], "%s: %d received numbers are in a GAPS state a served number cannot "
                     "have" % (label, len(wrong)))
    in_gaps = sum(g[1] - g[0] + 1 for g in runs)
    test.assertTrue(all(lo <= g[0] <= g[1] < nxt for g in runs), "%s: GAPS run outside [lo, next): %r" %
                    (label, runs[-3:]))
    unaccounted = (nxt - lo) - in_gaps - len(counts) + in_skipped
    test.assertGreaterEqual(unaccounted, 0, label)
    test.assertLessEqual(unaccounted, lost, "%s: %d numbers below next are final but no client received them "
                         "(only %d were asked for by requests cut by a crash)" % (label, unaccounted, lost))
    return in_skipped, unaccounted


# ---- the tests -------------------------------------------------------------------------------

class CreateOptionsTest(SeqdTestCase):

    def test_create_modes_and_errors(self):
        s = self.start_server()
        r = s.client()
        self.addCleanup(r.close)
        self.assertEqual(r.execute_command("CREATE", "st", 1, 100), b"OK")
        self.assertEqual(r.execute_command("CREATE", "gl", 1, 100, "MODE", "gapless", "WARN", 5), b"OK")
        self.assertEqual(r.execute_command("CREATE", "ca", 1, 100000, "MODE", "cached", "CACHE", 50), b"OK")
        self.assertEqual(r.execute_command("CREATE", "cd", 1, 100000, "MODE", "cached"), b"OK")
        self.assertEqual(r.execute_command("CREATE", "sx", 1, 100, "START", 40, "MODE", "strict"), b"OK")
        d = describe(r, "st")
        self.assertEqual((d["mode"], d["warn"], d["warning"], d["next"], d["issued"], d["remaining"]),
                         ("strict", 0, 0, 1, 0, 100))
        self.assertNotIn("cache", d)
        self.assertIsNone(d["eta_seconds"])
        self.assertEqual((d["rate_1m"], d["rate_1h"]), (0, 0))
        self.assertEqual(describe(r, "gl")["mode"], "gapless")
        self.assertEqual(describe(r, "gl")["warn"], 5)
        self.assertEqual((describe(r, "ca")["mode"], describe(r, "ca")["cache"]), ("cached", 50))
        self.assertEqual(describe(r, "cd")["cache"], 1000)  # the default block
        self.assertEqual(describe(r, "sx")["next"], 40)
        self.assertEqual(r.execute_command("RESERVE", "gl"), 1)
        # the same definition again: OK; any difference: EXISTS
        with Raw(s.port) as c:
            self.assertEqual(c.cmd("CREATE", "gl", 1, 100, "MODE", "gapless", "WARN", 5), "OK")
            self.assertEqual(c.cmd("CREATE", "ca", 1, 100000, "MODE", "cached", "CACHE", 50), "OK")
            self.assertErr(c.cmd("CREATE", "gl", 1, 100), "EXISTS")                         # other mode
            self.assertErr(c.cmd("CREATE", "gl", 1, 100, "MODE", "gapless"), "EXISTS")      # other WARN
            self.assertErr(c.cmd("CREATE", "gl", 1, 101, "MODE", "gapless", "WARN", 5), "EXISTS")
            self.assertErr(c.cmd("CREATE", "ca", 1, 100000, "MODE", "cached", "CACHE", 51), "EXISTS")
            self.assertErr(c.cmd("CREATE", "st", 1, 100, "MODE", "cached"), "EXISTS")
            # errors: nothing is created
            for args, prefix in [
                (("CREATE", "x", 1, 100, "CACHE", 5), "ERR CACHE applies to MODE cached only"),
                (("CREATE", "x", 1, 100, "MODE", "gapless", "CACHE", 5), "ERR CACHE applies to MODE cached only"),
                (("CREATE", "x", 1, 100, "MODE", "bogus"), "ERR MODE must be strict, gapless or cached"),
                (("CREATE", "x", 1, 100, "MODE", "cached", "CACHE", 0), "ERR CACHE must be between"),
                (("CREATE", "x", 1, 100, "MODE", "cached", "CACHE", "abc"), "ERR CACHE must be between"),
                (("CREATE", "x", 1, 100, "MODE", "cached", "CACHE", 10 ** 12), "ERR CACHE must be between"),
                (("CREATE", "x", 1, 100, "WARN", -1), "ERR WARN must be"),
                (("CREATE", "x", 1, 100, "WARN"), "ERR syntax"),
                (("CREATE", "x", 1, 100, "MODE"), "ERR syntax"),
                (("CREATE", "x", 1, 100, "FOO", 1), "ERR syntax"),
                (("CREATE", "x", 1, 100, "MODE", "gapless", "MODE", "strict"), "ERR syntax"),
                (("CREATE", "x", 1, 100, "START", 500), "ERR invalid range"),
                (("CREATE", "x", 1), "ERR"),
            ]:
                self.assertErr(c.cmd(*args), prefix, "%r" % (args,))
            self.assertErr(c.cmd("DESCRIBE", "x"), "NOSEQ")
            self.assertEqual(c.cmd("LIST"), [b"ca", b"cd", b"gl", b"st", b"sx"])

    def test_times_unix_and_rfc3339(self):
        s = self.start_server()
        # (text, NOTBEFORE ms, NOTAFTER ms): a NOTAFTER given to the second
        # covers that whole second
        cases = [
            ("1893456000", 1893456000000, 1893456000999),
            ("2030-01-01T00:00:00Z", ms("2030-01-01T00:00:00Z"), ms("2030-01-01T00:00:00.999Z")),
            ("2030-01-01T00:00:00+01:00", ms("2030-01-01T00:00:00+01:00"),
             ms("2030-01-01T00:00:00.999+01:00")),
            ("2030-06-30T12:34:56.5Z", ms("2030-06-30T12:34:56.500Z"), ms("2030-06-30T12:34:56.500Z")),
            ("2030-01-01T00:00:00.123456789-05:30", ms("2030-01-01T00:00:00.123-05:30"),
             ms("2030-01-01T00:00:00.123-05:30")),
        ]
        self.assertEqual(cases[1][1], 1893456000000)
        self.assertEqual(cases[2][1], 1893452400000)
        with Raw(s.port) as c:
            for i, (text, want, want_after) in enumerate(cases):
                self.assertEqual(c.cmd("CREATE", "t%d" % i, 1, 10, "NOTBEFORE", text), "OK", text)
                self.assertEqual(c.cmd("CREATE", "a%d" % i, 1, 10, "NOTAFTER", text), "OK", text)
                self.assertEqual(describe(c, "t%d" % i)["ranges"], [[1, 10, want, None]], text)
                self.assertEqual(describe(c, "a%d" % i)["ranges"], [[1, 10, None, want_after]], text)
            # both bounds; ADDRANGE takes the same forms
            self.assertEqual(c.cmd("CREATE", "both", 1, 10, "NOTBEFORE", "2030-01-01T00:00:00Z",
                                   "NOTAFTER", "2031-01-01T00:00:00.250Z"), "OK")
            self.assertEqual(c.cmd("ADDRANGE", "both", 20, 30, "NOTAFTER", "2032-01-01T00:00:00+02:00"), "OK")
            self.assertEqual(c.cmd("ADDRANGE", "both", 40, 50), "OK")
            self.assertEqual(describe(c, "both")["ranges"],
                             [[1, 10, 1893456000000, ms("2031-01-01T00:00:00.250Z")],
                              [20, 30, None, ms("2032-01-01T00:00:00.999+02:00")], [40, 50]])
            for bad in ("garbage", "2030-13-01T00:00:00Z", "2030-02-30T00:00:00Z", "2030-01-01T24:00:00Z",
                        "2030-01-01", "2030-01-01T00:00:00", "2030-01-01T00:00:00+25:00",
                        "2030-01-01T00:00:00Zjunk", "99999999999999999999", ""):
                self.assertErr(c.cmd("CREATE", "bad", 1, 10, "NOTBEFORE", bad),
                               "ERR NOTBEFORE wants Unix seconds or RFC 3339", bad)
                self.assertErr(c.cmd("CREATE", "bad", 1, 10, "NOTAFTER", bad),
                               "ERR NOTAFTER wants Unix seconds or RFC 3339", bad)
                self.assertErr(c.cmd("ADDRANGE", "both", 60, 70, "NOTBEFORE", bad), "ERR NOTBEFORE", bad)
            self.assertErr(c.cmd("CREATE", "bad", 1, 10, "NOTBEFORE", "2031-01-01T00:00:00Z",
                                 "NOTAFTER", "2030-01-01T00:00:00Z"), "ERR NOTBEFORE must not be later than NOTAFTER")
            self.assertErr(c.cmd("ADDRANGE", "both", 60, 70, "NOTBEFORE", "2040-01-01T00:00:00Z",
                                 "NOTAFTER", "2030-01-01T00:00:00Z"), "ERR NOTBEFORE must not be later")
            self.assertErr(c.cmd("ADDRANGE", "both", 60, 70, "FOO", 1), "ERR syntax")
            self.assertErr(c.cmd("ADDRANGE", "both", 60, 70, "NOTAFTER"), "ERR syntax")
            self.assertErr(c.cmd("ADDRANGE", "both", 5, 25), "ERR range overlaps")
            self.assertErr(c.cmd("ADDRANGE", "nosuch", 60, 70), "NOSEQ")
            self.assertErr(c.cmd("DESCRIBE", "bad"), "NOSEQ")
            self.assertEqual(len(describe(c, "both")["ranges"]), 3)


class GaplessTest(SeqdTestCase):

    def test_reserve_confirm_release_and_errors(self):
        s = self.start_server()
        r = s.client()
        self.addCleanup(r.close)
        r.execute_command("CREATE", "g", 1, 1000, "MODE", "gapless")
        r.execute_command("CREATE", "s", 1, 1000)
        r.execute_command("CREATE", "c", 1, 1000, "MODE", "cached", "CACHE", 10)
        self.assertEqual([r.execute_command("RESERVE", "g") for _ in range(3)], [1, 2, 3])
        self.assertEqual(r.execute_command("RESERVE", "g", "TTL", 0), 4)
        self.assertEqual(r.execute_command("RESERVE", "g", "TTL", 2592000, "KEY", "doc-5"), 5)
        t0 = r.execute_command("LOOKUP", "g", 1)
        look = lookup(r, "g", 1)
        self.assertEqual(look["state"], "reserved", t0)
        # until_ms: the wall clock now plus the TTL left on the elapsed clock (docs/clock.md),
        # which rounds a millisecond apart from the wall clock
        self.assertAlmostEqual(int(look["until_ms"]) - int(look["time_ms"]), 300000, delta=2)  # default TTL 300 s
        look4 = lookup(r, "g", 4)
        self.assertEqual(look4["state"], "reserved")
        self.assertNotIn("until_ms", look4)                                   # TTL 0: never runs out
        look5 = lookup(r, "g", 5)
        self.assertAlmostEqual(int(look5["until_ms"]) - int(look5["time_ms"]), 2592000 * 1000, delta=2)
        self.assertEqual(look5["key"], "doc-5")
        self.assertEqual(r.execute_command("CONFIRM", "g", 1), b"OK")
        self.assertEqual(r.execute_command("CONFIRM", "g", 1), b"OK")       # idempotent
        self.assertEqual(lookup(r, "g", 1)["state"], "final")
        self.assertEqual(r.execute_command("RELEASE", "g", 2), b"OK")
        self.assertEqual(r.execute_command("RELEASE", "g", 2), b"OK")       # idempotent
        self.assertEqual(lookup(r, "g", 2)["state"], "released")
        self.assertEqual(gaps_of(r, "g")[0][:4], (2, 2, "released", "released"))
        self.assertEqual(describe(r, "g")["next"], 2)                         # the released number comes first
        with self.assertRaisesRegex(redis.ResponseError, "not reserved"):
            r.execute_command("CONFIRM", "g", 2)                              # released
        with self.assertRaisesRegex(redis.ResponseError, "not reserved"):
            r.execute_command("RELEASE", "g", 1)                              # confirmed
        self.assertEqual(r.execute_command("VOID", "g", 3, "torn up"), b"OK")  # a reserved number can be voided
        self.assertEqual(lookup(r, "g", 3)["state"], "voided")
        with self.assertRaises(redis.ResponseError):
            r.execute_command("CONFIRM", "g", 3)
        with self.assertRaises(redis.ResponseError):
            r.execute_command("RELEASE", "g", 3)
        with self.assertRaises(redis.ResponseError):
            r.execute_command("CONFIRM", "g", 999)                            # never issued
        # NEXT = reserve + confirm: takes the released number first
        self.assertEqual(r.execute_command("NEXT", "g"), 2)
        self.assertEqual(lookup(r, "g", 2)["state"], "final")
        self.assertEqual(r.execute_command("NEXT", "g", "COUNT", 3), [6, 8])
        self.assertEqual([lookup(r, "g", n)["state"] for n in (6, 7, 8)], ["final"] * 3)
        self.assertEqual(per_number(gaps_of(r, "g")), {3: "voided", 4: "reserved", 5: "reserved"})
        d = describe(r, "g")
        self.assertEqual((d["next"], d["issued"], d["remaining"], d["mode"]), (9, 8, 992, "gapless"))
        with Raw(s.port) as c:
            for args, prefix in [
                (("RESERVE", "g", "TTL", 2592001), "ERR TTL must be between 0 (none) and 2592000 seconds"),
                (("RESERVE", "g", "TTL", -1), "ERR TTL must be between"),
                (("RESERVE", "g", "TTL", "abc"), "ERR TTL must be between"),
                (("RESERVE", "g", "TTL"), "ERR syntax"),
                (("RESERVE", "g", "KEY"), "ERR syntax"),
                (("RESERVE", "g", "FOO", 1), "ERR syntax"),
                (("RESERVE",), "ERR wrong number of arguments"),
                (("RESERVE", "nosuch"), "NOSEQ"),
                (("CONFIRM", "g"), "ERR wrong number of arguments"),
                (("CONFIRM", "g", "abc"), "ERR value is not an integer"),
                (("CONFIRM", "nosuch", 1), "NOSEQ"),
                (("RELEASE", "g"), "ERR wrong number of arguments"),
                (("RELEASE", "g", "abc"), "ERR value is not an integer"),
                (("RELEASE", "nosuch", 1), "NOSEQ"),
                (("RESERVE", "s"), "ERR the command does not apply to the sequence's mode"),
                (("RELEASE", "s", 1), "ERR the command does not apply to the sequence's mode"),
                (("RESERVE", "c"), "ERR the command does not apply to the sequence's mode"),
                (("RELEASE", "c", 1), "ERR the command does not apply to the sequence's mode"),
                (("NEXT", "g", "COUNT", 2, "KEY", "k"), "ERR"),                  # KEY only with COUNT 1
                (("RESERVE", "g", "KEY", "has space"), "ERR"),
            ]:
                self.assertErr(c.cmd(*args), prefix, "%r" % (args,))
            # nothing above changed the sequence
            self.assertEqual(c.cmd("RESERVE", "g"), 9)
            self.assertEqual(describe(c, "g")["issued"], 9)
            # CONFIRM/RELEASE ... KEY: only the key that holds the number
            self.assertEqual(c.cmd("RESERVE", "g", "KEY", "a"), 10)
            self.assertEqual(c.cmd("RESERVE", "g", "KEY", "b"), 11)
            self.assertErr(c.cmd("CONFIRM", "g", 10, "KEY", "b"), "ERR the number is not held by that KEY")
            self.assertErr(c.cmd("RELEASE", "g", 11, "KEY", "a"), "ERR the number is not held by that KEY")
            self.assertErr(c.cmd("CONFIRM", "g", 9, "KEY", "a"), "ERR the number is not held by that KEY")
            self.assertErr(c.cmd("CONFIRM", "g", 10, "KEY"), "ERR syntax")
            self.assertEqual(per_number(gaps_of(c, "g", 10, 11)), {10: "reserved", 11: "reserved"})
            self.assertEqual(c.cmd("CONFIRM", "g", 10, "KEY", "a"), "OK")
            self.assertEqual(c.cmd("CONFIRM", "g", 10, "KEY", "a"), "OK")
            self.assertEqual(c.cmd("RELEASE", "g", 11, "KEY", "b"), "OK")
            self.assertEqual(per_number(gaps_of(c, "g", 10, 11)), {11: "released"})
            # a key whose number was voided
            self.assertEqual(c.cmd("VOID", "g", 10, "spoiled"), "OK")
            self.assertErr(c.cmd("RESERVE", "g", "KEY", "a"), "ERR the number this KEY got was voided")
            self.assertEqual(c.cmd("LOOKUP", "g", "KEY", "a"), [10, 10])

    def test_reissue_lowest_first_after_release(self):
        s = self.start_server()
        with Raw(s.port) as c:
            c.cmd("CREATE", "g", 100, 10 ** 6, "MODE", "gapless")
            c.send(b"".join(encode("RESERVE", "g") for _ in range(10)))
            self.assertEqual(c.read_n(10), list(range(100, 110)))
            for n in (107, 103, 105, 101):
                self.assertEqual(c.cmd("RELEASE", "g", n), "OK")
            self.assertEqual([g[:3] for g in gaps_of(c, "g") if g[2] == "released"],
                             [(101, 101, "released"), (103, 103, "released"), (105, 105, "released"),
                              (107, 107, "released")])
            self.assertEqual(describe(c, "g")["next"], 101)
            # RESERVE and NEXT both take released numbers first, lowest first, then new ones
            self.assertEqual(c.cmd("RESERVE", "g"), 101)
            self.assertEqual(c.cmd("NEXT", "g"), 103)
            self.assertEqual(c.cmd("RESERVE", "g", "KEY", "k1"), 105)
            self.assertEqual(c.cmd("RELEASE", "g", 102), "OK")   # lower than 107: now first in line
            self.assertEqual(c.cmd("RESERVE", "g"), 102)
            self.assertEqual(c.cmd("NEXT", "g", "COUNT", 3), [107, 107, 110, 111])
            self.assertEqual(c.cmd("RESERVE", "g"), 112)
            self.assertEqual(describe(c, "g")["next"], 113)
            self.assertEqual(lookup(c, "g", 105)["key"], "k1")
            self.assertEqual([lookup(c, "g", n)["state"] for n in (101, 102, 103, 105, 107, 110, 111, 112)],
                             ["reserved", "reserved", "final", "reserved", "final", "final", "final", "reserved"])
            self.assertEqual([g for g in gaps_of(c, "g") if g[2] != "reserved"], [])

    def test_ttl_lapse_and_reissue(self):
        s = self.start_server("--reserve-ttl", "1")
        with Raw(s.port) as c:
            c.cmd("CREATE", "g", 1, 10 ** 6, "MODE", "gapless")
            self.assertEqual(c.cmd("RESERVE", "g"), 1)                          # --reserve-ttl 1
            self.assertEqual(c.cmd("RESERVE", "g", "TTL", 1, "KEY", "k2"), 2)
            self.assertEqual(c.cmd("RESERVE", "g", "TTL", 300), 3)
            self.assertEqual(c.cmd("RESERVE", "g", "TTL", 0), 4)
            self.assertEqual(c.cmd("RESERVE", "g", "TTL", 1), 5)
            self.assertEqual(c.cmd("RESERVE", "g", "TTL", 1), 6)
            self.assertEqual(c.cmd("CONFIRM", "g", 6), "OK")                    # confirmed in time
            look = lookup(c, "g", 1)
            # until_ms is the wall clock now plus the TTL left on the elapsed
            # (monotonic) clock: the two clocks round apart by a millisecond
            self.assertAlmostEqual(int(look["until_ms"]) - int(look["time_ms"]), 1000, delta=2)
            self.assertEqual(c.cmd("RESERVE", "g", "KEY", "k2"), 2)             # still its reservation
            # races at the edge: RESERVE TTL 1, CONFIRM around the deadline, on
            # several connections at once; the reply must match the outcome
            results = []

            def edge(i):
                with Raw(s.port) as e:
                    n = e.cmd("RESERVE", "g", "TTL", 1)
                    time.sleep(0.95 + 0.01 * i)
                    results.append((n, e.cmd("CONFIRM", "g", n)))
            threads = [threading.Thread(target=edge, args=(i,), daemon=True) for i in range(10)]
            for t in threads:
                t.start()
            time.sleep(1.25)
            for t in threads:
                t.join(10)
            self.assertEqual(len(results), 10)
            lapsed = {1, 2, 5}
            for n, reply in results:
                if reply == "OK":
                    self.assertEqual(lookup(c, "g", n)["state"], "final", "CONFIRM %d said OK" % n)
                else:
                    self.assertErr(reply, "ERR the reservation ran out")
                    lapsed.add(n)
            poll(lambda: all(per_number(gaps_of(c, "g")).get(n) == "released" for n in lapsed), 3)
            runs = gaps_of(c, "g")
            states = per_number(runs)
            for n in sorted(lapsed):
                self.assertEqual(states.get(n), "released", "%d after its TTL: %r" % (n, runs))
                look = lookup(c, "g", n)
                self.assertEqual((look["state"], look["reason"]), ("released", "reservation ran out"))
            self.assertEqual(states.get(3), "reserved")
            self.assertEqual(states.get(4), "reserved")
            self.assertNotIn(6, states)
            self.assertErr(c.cmd("CONFIRM", "g", 1), "ERR the reservation ran out")
            self.assertErr(c.cmd("CONFIRM", "g", 2), "ERR the reservation ran out")
            self.assertEqual(c.cmd("RELEASE", "g", 5), "OK")                    # released already: idempotent
            # reissued before any new number, lowest first; the lapsed KEY gets a fresh number
            self.assertEqual(describe(c, "g")["next"], min(lapsed))
            order = sorted(lapsed)
            self.assertEqual(c.cmd("RESERVE", "g", "KEY", "k2", "TTL", 300), order[0])
            got = [c.cmd("RESERVE", "g", "TTL", 300) for _ in range(len(order) - 1)]
            self.assertEqual(got, order[1:])
            self.assertEqual(c.cmd("RESERVE", "g", "TTL", 300), 17)
            self.assertEqual(c.cmd("RESERVE", "g", "KEY", "k2"), order[0])
            self.assertEqual(lookup(c, "g", order[0])["key"], "k2")
            self.assertEqual([g for g in gaps_of(c, "g") if g[2] != "reserved"], [])
            # the late holder of 2 (k2, ran out) cannot confirm or release the new holder's number
            self.assertIn(2, order[1:])
            self.assertErr(c.cmd("CONFIRM", "g", 2, "KEY", "k2"), "ERR the number is not held by that KEY")
            self.assertErr(c.cmd("RELEASE", "g", 2, "KEY", "k2"), "ERR the number is not held by that KEY")
            self.assertEqual(lookup(c, "g", 2)["state"], "reserved")
            self.assertEqual(c.cmd("CONFIRM", "g", order[0], "KEY", "k2"), "OK")
            self.assertEqual(lookup(c, "g", order[0])["state"], "final")

    def test_key_is_permanent_across_restart(self):
        s = self.start_server("--key-retention", "1")
        with Raw(s.port) as c:
            c.cmd("CREATE", "g", 1, 1000, "MODE", "gapless")
            c.cmd("CREATE", "s", 1, 1000)
            self.assertEqual(c.cmd("RESERVE", "g", "KEY", "held"), 1)
            self.assertEqual(c.cmd("NEXT", "g", "KEY", "done"), 2)
            self.assertEqual(c.cmd("RESERVE", "g", "KEY", "conf"), 3)
            self.assertEqual(c.cmd("CONFIRM", "g", 3), "OK")
            self.assertEqual(c.cmd("RESERVE", "g", "KEY", "rel"), 4)
            self.assertEqual(c.cmd("RELEASE", "g", 4), "OK")
            self.assertEqual(c.cmd("NEXT", "s", "KEY", "strict-key"), 1)
            self.assertEqual(c.cmd("RESERVE", "g", "KEY", "held"), 1)       # same while reserved
            self.assertEqual(c.cmd("LOOKUP", "g", "KEY", "done"), [2, 2])
            self.assertIsNone(c.cmd("LOOKUP", "g", "KEY", "never"))
        time.sleep(2.1)
        with Raw(s.port) as c:
            # retention runs on the leader's elapsed time, which entries carry
            # (docs/clock.md): one entry after the wait expires the key
            c.cmd("DESCRIBE", "s")
        s.kill9()
        s.start()
        with Raw(s.port) as c:
            # strict keys follow --key-retention: the key is gone, a new number
            self.assertEqual(c.cmd("NEXT", "s", "KEY", "strict-key"), 2)
            # gapless keys are permanent
            self.assertEqual(c.cmd("RESERVE", "g", "KEY", "held"), 1)
            self.assertEqual(c.cmd("NEXT", "g", "KEY", "done"), 2)
            self.assertEqual(c.cmd("RESERVE", "g", "KEY", "conf"), 3)
            self.assertEqual(c.cmd("LOOKUP", "g", "KEY", "held"), [1, 1])
            self.assertEqual(lookup(c, "g", 3)["key"], "conf")
            # a released key's number went back: the key gets a fresh number (4 is reissued first)
            self.assertEqual(c.cmd("RESERVE", "g", "KEY", "rel"), 4)
            self.assertEqual(c.cmd("RESERVE", "g", "KEY", "new"), 5)
            self.assertEqual(c.cmd("RELEASE", "g", 1), "OK")
            self.assertEqual(c.cmd("RESERVE", "g", "KEY", "held"), 1)       # released: fresh number, 1 is lowest
            self.assertEqual(c.cmd("RELEASE", "g", 5), "OK")
            self.assertEqual(c.cmd("RESERVE", "g", "KEY", "other"), 5)
            self.assertEqual(c.cmd("RESERVE", "g", "KEY", "new"), 6)        # its number went to "other"
            self.assertEqual(lookup(c, "g", 5)["key"], "other")
            self.assertEqual(c.cmd("CONFIRM", "g", 1), "OK")
            self.assertEqual(per_number(gaps_of(c, "g")), {4: "reserved", 5: "reserved", 6: "reserved"})

    def test_undelivered_replies(self):
        """A client that pipelines RESERVE/NEXT and goes away before reading:
        gapless numbers come back as released (and are reissued first),
        strict ones are listed unknown."""
        s = self.start_server()
        with Raw(s.port) as c:
            c.cmd("CREATE", "g", 1, 10 ** 6, "MODE", "gapless")
            c.cmd("CREATE", "s", 1, 10 ** 6)
            self.assertEqual(c.cmd("RESERVE", "g"), 1)                     # someone's live reservation
            gone = Raw(s.port)
            gone.send(b"".join(encode("RESERVE", "g") for _ in range(300)))
            gone.close()

            def settled():
                runs = gaps_of(c, "g")
                d = describe(c, "g")
                rel = [g for g in runs if g[2] == "released"]
                return (d["issued"] == 301 and rel and sum(g[1] - g[0] + 1 for g in runs) == 301) and runs
            runs = poll(settled, 10)
            self.assertTrue(runs, "after 300 RESERVEs whose client left: DESCRIBE %r, GAPS %r" %
                            (describe(c, "g"), gaps_of(c, "g")))
            states = per_number(runs)
            self.assertEqual(set(states), set(range(1, 302)))
            self.assertEqual(states[1], "reserved")
            self.assertEqual(set(states.values()), {"reserved", "released"})
            released = sorted(n for n, st in states.items() if st == "released")
            self.assertTrue(all(g[3] == UNDELIVERED_REASON for g in runs if g[2] == "released"), runs)
            self.assertEqual(describe(c, "g")["next"], released[0])
            k = min(5, len(released))
            self.assertEqual([c.cmd("RESERVE", "g") for _ in range(k)], released[:k])
            # NEXT in gapless (reserve + confirm) on a fresh sequence, the client cut with a RST:
            # whatever it did not get is released, never final and never lost
            # Replies the kernel took before the RST count as delivered (the server
            # cannot know better), so how many come back varies from none to all:
            # the cut is repeated on fresh sequences (bounded) until some came back.
            rel2 = []
            for attempt in range(12):
                name = "g2-%d" % attempt
                c.cmd("CREATE", name, 1, 10 ** 6, "MODE", "gapless")
                gone = Raw(s.port)
                gone.send(b"".join(encode("NEXT", name, "COUNT", 2) for _ in range(100)))
                abort_close(gone)
                poll(lambda: describe(c, name)["issued"] == 200, 3)
                time.sleep(0.3)
                runs2 = gaps_of(c, name)
                self.assertEqual({g[2] for g in runs2} - {"released"}, set(), runs2)
                self.assertTrue(all(g[3] == UNDELIVERED_REASON for g in runs2), runs2)
                rel2 = sorted(per_number(runs2))
                if rel2:
                    break
            self.assertTrue(rel2, "12 cut clients, and no reply was ever left undelivered")
            self.assertEqual(c.cmd("NEXT", name), rel2[0])
            # strict: unknown, which CONFIRM or VOID settles
            gone = Raw(s.port)
            gone.send(b"".join(encode("NEXT", "s") for _ in range(200)))
            gone.close()
            runs = poll(lambda: describe(c, "s")["issued"] == 200 and
                        [g for g in gaps_of(c, "s") if g[2] == "unknown"], 10)
            self.assertTrue(runs, "strict NEXTs whose client left: DESCRIBE %r GAPS %r" %
                            (describe(c, "s"), gaps_of(c, "s")))
            self.assertEqual({g[2] for g in gaps_of(c, "s")}, {"unknown"})
            self.assertTrue(all(g[3] == UNDELIVERED_REASON for g in runs), runs)
            unknown = sorted(per_number(runs))
            self.assertTrue(set(unknown) <= set(range(1, 201)))
            self.assertEqual(c.cmd("NEXT", "s"), 201)                      # strict never reissues
            self.assertEqual(lookup(c, "s", unknown[0])["state"], "unknown")
            self.assertEqual(c.cmd("CONFIRM", "s", unknown[0]), "OK")
            self.assertEqual(lookup(c, "s", unknown[0])["state"], "final")
            if len(unknown) > 1:
                self.assertEqual(c.cmd("VOID", "s", unknown[-1], "never printed"), "OK")
                self.assertEqual(lookup(c, "s", unknown[-1])["state"], "voided")
        out("(%d of 300 RESERVEs released, %d of 200 NEXT numbers released after a RST, %d of 200 strict "
            "unknown) " % (len(released), len(rel2), len(unknown)))

    def test_remaining_counts_released_numbers(self):
        """DESCRIBE remaining = numbers still to issue now or later: a
        released (or lapsed) number will be issued again, so it counts."""
        s = self.start_server()
        with Raw(s.port) as c:
            c.cmd("CREATE", "g", 1, 100, "MODE", "gapless", "WARN", 95)
            self.assertEqual([c.cmd("RESERVE", "g") for _ in range(5)], [1, 2, 3, 4, 5])
            d = describe(c, "g")
            self.assertEqual((d["remaining"], d["warning"]), (95, 1))
            self.assertEqual(c.cmd("RELEASE", "g", 2), "OK")
            self.assertEqual(c.cmd("RELEASE", "g", 4), "OK")
            d = describe(c, "g")
            self.assertEqual((d["next"], d["issued"]), (2, 5))
            self.assertEqual((d["remaining"], d["warning"]), (97, 0),
                             "2 of 5 reserved numbers released: they will be issued again")
            self.assertEqual(c.cmd("NEXT", "g", "COUNT", 97), [2, 2, 4, 4, 6, 100])
            d = describe(c, "g")
            self.assertEqual((d["remaining"], d["next"]), (0, None))
            self.assertErr(c.cmd("RESERVE", "g"), "EXHAUSTED")
            self.assertEqual(c.cmd("RELEASE", "g", 3), "OK")
            self.assertEqual(describe(c, "g")["remaining"], 1)
            self.assertEqual(c.cmd("RESERVE", "g"), 3)


class WindowsTest(SeqdTestCase):

    def test_future_range_skipped_expired_range_reported(self):
        s = self.start_server()
        with Raw(s.port) as c:
            now = int(time.time())
            # the first range opens in an hour: not used, not consumed
            self.assertEqual(c.cmd("CREATE", "w", 1, 10, "NOTBEFORE", now + 3600), "OK")
            opens = datetime.datetime.fromtimestamp(now + 3600, tz=datetime.timezone.utc).strftime(
                "%Y-%m-%dT%H:%M:%SZ")
            self.assertEqual(c.cmd("NEXT", "w"), RespError(
                "EXHAUSTED no range of the sequence is valid now; the next opens at %s" % opens))
            self.assertIsNone(describe(c, "w")["next"])
            # the second closes in ~0.8 s (RFC 3339 with milliseconds)
            t_end = int(time.time() * 1000) + 800
            self.assertEqual(c.cmd("ADDRANGE", "w", 100, 104, "NOTAFTER", rfc3339_ms(t_end)), "OK")
            self.assertEqual(c.cmd("ADDRANGE", "w", 200, 202), "OK")
            self.assertEqual(c.cmd("NEXT", "w"), 100)
            self.assertEqual(c.cmd("NEXT", "w", "COUNT", 2), [101, 102])
            d = describe(c, "w")
            self.assertEqual(d["ranges"], [[1, 10, (now + 3600) * 1000, None], [100, 104, None, t_end], [200, 202]])
            self.assertEqual((d["next"], d["issued"], d["remaining"]), (103, 3, 15))
            time.sleep(max(0.0, t_end / 1000.0 - time.time()) + 0.15)
            # without any request: the expired rest is reported, DESCRIBE moved on
            self.assertEqual(gaps_of(c, "w"), [(103, 104, "expired", "range expired (NOTAFTER passed)", t_end)])
            d = describe(c, "w")
            self.assertEqual((d["next"], d["issued"], d["remaining"]), (200, 3, 13))
            # 103..104 expired: their rest is reported, the next valid range is used
            self.assertEqual(c.cmd("NEXT", "w"), 200)
            self.assertEqual(gaps_of(c, "w"), [(103, 104, "expired", "range expired (NOTAFTER passed)", t_end)])
            look = lookup(c, "w", 104)
            self.assertEqual((look["state"], look["reason"], int(look["time_ms"])),
                             ("expired", "range expired (NOTAFTER passed)", t_end))
            self.assertErr(c.cmd("NEXT", "w", "COUNT", 3), "EXHAUSTED only 2 numbers left")  # all or nothing
            self.assertEqual(c.cmd("NEXT", "w", "COUNT", 2), [201, 202])
            self.assertEqual(c.cmd("NEXT", "w"), RespError(
                "EXHAUSTED no range of the sequence is valid now; the next opens at %s" % opens))
            d = describe(c, "w")
            self.assertEqual((d["next"], d["issued"], d["remaining"]), (None, 6, 10))
            self.assertEqual(lookup(c, "w", 5)["state"], "not-issued")
            # a range that expired before it was used at all
            self.assertEqual(c.cmd("CREATE", "old", 1, 10, "NOTAFTER", 1000), "OK")
            self.assertEqual(c.cmd("NEXT", "old"), RespError(
                "EXHAUSTED no numbers left: every range is used up or expired (NOTAFTER)"))
            self.assertEqual(gaps_of(c, "old"), [(1, 10, "expired", "range expired (NOTAFTER passed)", 1000999)])
            d = describe(c, "old")
            self.assertEqual((d["next"], d["remaining"], d["issued"]), (None, 0, 0))
            # a window that is open now, on a gapless sequence; an open range after a closed one
            self.assertEqual(c.cmd("CREATE", "g", 1, 3, "MODE", "gapless", "NOTBEFORE", "2020-01-01T00:00:00Z",
                                   "NOTAFTER", now + 3600), "OK")
            self.assertEqual(c.cmd("ADDRANGE", "g", 10, 11, "NOTBEFORE", now + 7200), "OK")
            self.assertEqual(c.cmd("NEXT", "g", "COUNT", 3), [1, 3])
            self.assertErr(c.cmd("RESERVE", "g"), "EXHAUSTED no range of the sequence is valid now")
            self.assertEqual(c.cmd("CREATE", "u", 1, 2), "OK")
            self.assertEqual(c.cmd("NEXT", "u", "COUNT", 2), [1, 2])
            self.assertEqual(c.cmd("NEXT", "u"), RespError(
                "EXHAUSTED no numbers left: every range is used up or expired (NOTAFTER)"))
        # windows survive a restart (log replay)
        s.kill9()
        s.start()
        with Raw(s.port) as c:
            self.assertEqual(describe(c, "w")["ranges"][:2], [[1, 10, (now + 3600) * 1000, None],
                                                             [100, 104, None, t_end]])
            self.assertEqual(gaps_of(c, "w"), [(103, 104, "expired", "range expired (NOTAFTER passed)", t_end)])
            self.assertErr(c.cmd("NEXT", "w"), "EXHAUSTED no range of the sequence is valid now")


class WarnTest(SeqdTestCase):

    def check_rates(self, d, issued, minute):
        """rate_1m: numbers issued in the last 60 s (exact while the minute
        has not changed since `minute`: the previous minute's count is
        weighted by how much of it is still inside the window); rate_1h:
        the last hour; eta_seconds = remaining / rate."""
        self.assertEqual(d["rate_1h"], issued)
        if int(time.time() * 1000) // 60000 == minute:
            self.assertEqual(d["rate_1m"], issued)
        else:
            self.assertTrue(0 < d["rate_1m"] <= issued, d)
        self.assertEqual(d["eta_seconds"], d["remaining"] * 60 // d["rate_1m"], d)

    def test_warn_describe_info(self):
        s = self.start_server()
        r = s.client()
        self.addCleanup(r.close)
        r.execute_command("CREATE", "wn", 1, 100, "WARN", 10)
        r.execute_command("CREATE", "w2", 1, 50, "MODE", "gapless", "WARN", 45)
        r.execute_command("CREATE", "quiet", 1, 5)
        minute = int(time.time() * 1000) // 60000
        self.assertEqual(r.execute_command("NEXT", "wn", "COUNT", 89), [1, 89])
        d = describe(r, "wn")
        self.assertEqual((d["warn"], d["remaining"], d["warning"]), (10, 11, 0))
        self.check_rates(d, 89, minute)
        f = info_fields(info_text(s, "warnings"))
        self.assertEqual(f.get("sequences_at_warn"), "0")
        self.assertNotIn("at or below its WARN threshold", s.log_text())
        self.assertEqual(r.execute_command("NEXT", "wn"), 90)                 # remaining 10: at the threshold
        d = describe(r, "wn")
        self.assertEqual((d["remaining"], d["warning"]), (10, 1))
        self.check_rates(d, 90, minute)
        text = info_text(s, "warnings")
        self.assertIn("warn:wn:remaining=10,warn=10\r\n", text)
        self.assertIn("sequences_at_warn:1\r\n", text)
        self.assertEqual(r.info("warnings").get("sequences_at_warn"), 1)   # as redis-py parses it
        self.assertTrue(poll(lambda: "sequence wn: remaining numbers at or below its WARN threshold" in s.log_text(),
                             5), s.log_tail())
        for _ in range(3):
            r.execute_command("NEXT", "wn")
        text = info_text(s)                          # all sections
        self.assertIn("warn:wn:remaining=7,warn=10\r\n", text)
        # the gapless one: reservations count as issued
        self.assertEqual(r.execute_command("RESERVE", "w2"), 1)
        self.assertEqual(r.execute_command("NEXT", "w2", "COUNT", 3), [2, 4])
        self.assertEqual(r.execute_command("RESERVE", "w2"), 5)
        d2 = describe(r, "w2")
        self.assertEqual((d2["remaining"], d2["warning"], d2["mode"]), (45, 1, "gapless"))
        text = info_text(s, "warnings")
        self.assertIn("warn:w2:remaining=45,warn=45\r\n", text)
        self.assertIn("sequences_at_warn:2\r\n", text)
        self.assertNotIn("quiet", text)
        # more room: the warning goes away
        r.execute_command("ADDRANGE", "wn", 1000, 1099)
        d = describe(r, "wn")
        self.assertEqual((d["remaining"], d["warning"]), (107, 0))
        text = info_text(s, "warnings")
        self.assertNotIn("warn:wn:", text)
        # once per crossing: the log line was written once
        time.sleep(0.2)
        self.assertEqual(s.log_text().count("sequence wn: remaining numbers at or below its WARN threshold"), 1,
                         s.log_tail())
        self.assertEqual(s.log_text().count("sequence w2: remaining numbers at or below its WARN threshold"), 1,
                         s.log_tail())
        # never-used sequence: no rate, no eta
        d = describe(r, "quiet")
        self.assertEqual((d["rate_1m"], d["rate_1h"], d["eta_seconds"], d["warning"]), (0, 0, None, 0))
        # warnings come from the replicated state: after a restart they are still there
        r.execute_command("NEXT", "wn", "COUNT", 100)                          # remaining 7
        s.kill9()
        s.start()
        r2 = s.client()
        self.addCleanup(r2.close)
        text = info_text(s, "warnings")
        self.assertIn("warn:wn:remaining=7,warn=10\r\n", text)
        self.assertIn("warn:w2:remaining=45,warn=45\r\n", text)
        self.assertIn("sequences_at_warn:2\r\n", text)
        self.assertEqual(describe(r2, "wn")["warning"], 1)


class LedgerModesTest(SeqdTestCase):

    def test_a_forged_report_never_reissues(self):
        """UNDELIVERED is for nodes, and a single node has no other node: it
        is refused from every connection, also one that names itself like a
        node's forward link (issue 8), and nothing changes."""
        s = self.start_server()
        with Raw(s.port) as c:
            c.cmd("CREATE", "g", 1, 100, "MODE", "gapless")
            self.assertEqual([c.cmd("NEXT", "g") for _ in range(3)], [1, 2, 3])
            self.assertEqual(c.cmd("RESERVE", "g"), 4)
            self.assertErr(c.cmd("UNDELIVERED", "g", 1, 3, "forged"), "ERR UNDELIVERED is sent between")
            self.assertEqual(c.cmd("CLIENT", "SETNAME", "seqd-forward"), "OK")
            self.assertErr(c.cmd("UNDELIVERED", "g", 1, 4, "forged"), "ERR UNDELIVERED is sent between")
            self.assertErr(c.cmd("UNDELIVERED", "g", 4, 4, "forged", "GRANT", 1),
                           "ERR UNDELIVERED is sent between")
            self.assertEqual(c.cmd("CLIENT", "SETNAME", "someone"), "OK")
            states = per_number(gaps_of(c, "g"))
            self.assertEqual(states, {4: "reserved"})
            self.assertEqual(c.cmd("NEXT", "g"), 5)  # nothing was released
            self.assertEqual(lookup(c, "g", 2)["state"], "final")

    def test_cached_block_not_served_past_notafter(self):
        """A cached block is served only while its range is valid: past
        NOTAFTER the leader gives it up (its rest is skipped) and NEXT says
        EXHAUSTED, as it does in strict mode."""
        s = self.start_server()
        end = int(time.time()) + 2
        with Raw(s.port) as c:
            c.cmd("CREATE", "c", 1, 1000000, "MODE", "cached", "CACHE", 100, "NOTAFTER", end)
            self.assertEqual([c.cmd("NEXT", "c") for _ in range(2)], [1, 2])
            time.sleep(max(0.0, end + 1.2 - time.time()))
            self.assertErr(c.cmd("NEXT", "c"), "EXHAUSTED")
            self.assertErr(c.cmd("NEXT", "c", "COUNT", 5), "EXHAUSTED")
            states = per_number(gaps_of(c, "c"))
            self.assertNotIn(1, states)
            self.assertNotIn(2, states)
            self.assertEqual({st for n, st in states.items() if n <= 100}, {"skipped"})
            self.assertEqual(min(states), 3)

    def test_void_gaps_lookup_in_every_mode(self):
        s = self.start_server()
        with Raw(s.port) as c:
            c.cmd("CREATE", "c", 1, 10 ** 6, "MODE", "cached", "CACHE", 10)
            c.cmd("CREATE", "g", 1, 1000, "MODE", "gapless")
            self.assertEqual(c.cmd("NEXT", "c", "COUNT", 4), [1, 4])
            self.assertEqual(c.cmd("NEXT", "c"), 5)
            runs = gaps_of(c, "c")
            nxt = describe(c, "c")["next"]
            # the rest of the block (and the next block, asked for when half is left) is cached
            self.assertEqual([g[:3] for g in runs], [(6, nxt - 1, "cached")])
            self.assertIn(nxt - 1, (10, 20))
            self.assertEqual(lookup(c, "c", 7)["state"], "cached")
            self.assertEqual(lookup(c, "c", 3)["state"], "final")
            self.assertErr(c.cmd("VOID", "c", 7, "not served"), "ERR")           # in the block, not served
            self.assertEqual(c.cmd("VOID", "c", 2, "spoiled"), "OK")
            self.assertErr(c.cmd("NEXT", "c", "KEY", "k"), "ERR KEY is not supported in cached mode")
            self.assertEqual(runs_numbers(c.cmd("NEXT", "c", "COUNT", 25)), list(range(6, 31)))  # > a block
            d = describe(c, "c")
            self.assertEqual((d["mode"], d["cache"]), ("cached", 10))
            self.assertGreaterEqual(d["next"], 31)
            self.assertEqual(d["issued"], d["next"] - 1)                         # blocks count as issued
            runs = gaps_of(c, "c")
            self.assertEqual(runs[0][:4], (2, 2, "voided", "spoiled"))
            self.assertEqual([g[2] for g in runs[1:]], ["cached"] * (len(runs) - 1))
            self.assertEqual(runs[-1][1], d["next"] - 1)
            self.assertEqual(gaps_of(c, "c", 3, 5), [])
            # gapless: LOOKUP shows the key and the reservation's deadline
            self.assertEqual(c.cmd("RESERVE", "g", "KEY", "inv-1", "TTL", 60), 1)
            look = lookup(c, "g", 1)
            self.assertEqual((look["state"], look["key"]), ("reserved", "inv-1"))
            self.assertAlmostEqual(int(look["until_ms"]) - int(look["time_ms"]), 60000, delta=2)
            self.assertGreater(int(look["time_ms"]), 1_600_000_000_000)
            self.assertEqual(c.cmd("CONFIRM", "g", 1), "OK")
            look = lookup(c, "g", 1)
            self.assertEqual((look["state"], look["key"]), ("final", "inv-1"))
            self.assertNotIn("until_ms", look)
            self.assertEqual(c.cmd("LOOKUP", "g", "KEY", "inv-1"), [1, 1])
            self.assertEqual(c.cmd("VOID", "g", 1, "cancelled"), "OK")
            self.assertEqual(c.cmd("RESERVE", "g"), 2)
            self.assertEqual(c.cmd("RELEASE", "g", 2), "OK")
            self.assertEqual(c.cmd("RESERVE", "g"), 2)
            self.assertEqual(c.cmd("VOID", "g", 2, "torn"), "OK")                 # reserved: may be voided
            self.assertErr(c.cmd("CONFIRM", "g", 2), "ERR")
            self.assertEqual(c.cmd("RESERVE", "g"), 3)                           # voided: never reissued
            self.assertEqual(gaps_of(c, "g", 1, 2), [g for g in gaps_of(c, "g") if g[1] <= 2])
            self.assertEqual([g[:4] for g in gaps_of(c, "g")],
                             [(1, 1, "voided", "cancelled"), (2, 2, "voided", "torn"), (3, 3, "reserved", "reserved")])
            self.assertErr(c.cmd("GAPS", "g", 5, 1), "ERR")
            self.assertErr(c.cmd("LOOKUP", "g", "KEY"), "ERR")

    def test_every_mode_survives_restart_from_snapshots(self):
        """Reservations (deadline, key), released/voided/expired/unknown runs,
        cached blocks, windows and WARN come back from a snapshot plus the log
        after kill -9; the cached block's rest comes back skipped."""
        s = self.start_server("--snapshot-threshold", "16", "--snapshot-trailing", "16")
        now = int(time.time())
        with Raw(s.port) as c:
            c.cmd("CREATE", "g", 1, 1000, "MODE", "gapless", "WARN", 998)
            c.cmd("CREATE", "c", 1, 10 ** 6, "MODE", "cached", "CACHE", 10)
            c.cmd("CREATE", "s", 1, 10, "NOTAFTER", 1000)
            c.cmd("ADDRANGE", "s", 100, 200, "NOTBEFORE", now - 10, "NOTAFTER", now + 3600)
            c.cmd("ADDRANGE", "s", 300, 400, "NOTBEFORE", now + 3600)
            c.cmd("CREATE", "f", 1, 10 ** 6)
            self.assertEqual([c.cmd("RESERVE", "g", "KEY", "k%d" % i, "TTL", 100 + i) for i in range(6)],
                             [1, 2, 3, 4, 5, 6])
            self.assertEqual(c.cmd("CONFIRM", "g", 2), "OK")
            self.assertEqual(c.cmd("RELEASE", "g", 3), "OK")
            self.assertEqual(c.cmd("RELEASE", "g", 5), "OK")
            self.assertEqual(c.cmd("VOID", "g", 4, "shredded"), "OK")
            self.assertEqual(c.cmd("NEXT", "c", "COUNT", 3), [1, 3])
            self.assertEqual(c.cmd("NEXT", "s"), 100)
            gone = Raw(s.port)
            gone.send(b"".join(encode("NEXT", "s") for _ in range(20)))
            gone.close()
            self.assertTrue(poll(lambda: [g for g in gaps_of(c, "s") if g[2] == "unknown"] and
                                 describe(c, "s")["issued"] == 21, 5), gaps_of(c, "s"))
            for _ in range(60):  # past a few snapshots
                c.cmd("NEXT", "f")
            names = ("g", "c", "s", "f")
            rates = ("rate_1m", "rate_1h", "eta_seconds")
            before = {n: (gaps_of(c, n), {k: v for k, v in describe(c, n).items() if k not in rates}) for n in names}
            looks = {n: c.cmd("LOOKUP", "g", n) for n in range(1, 8)}
            info = info_text(s, "warnings")
        self.assertIn("warn:g:remaining=", info)
        self.assertEqual(before["g"][1]["next"], 3)
        raft = [f for f in os.listdir(s.data_dir + "/raft") if f.startswith("snapshot-")]
        self.assertTrue(raft, "no snapshot was taken")
        s.kill9()
        s.start()
        with Raw(s.port) as c:
            for n in ("g", "s", "f"):
                self.assertEqual(gaps_of(c, n), before[n][0], n)
            for n in names:
                self.assertEqual({k: v for k, v in describe(c, n).items() if k not in rates}, before[n][1], n)
            # a reservation's end is shown as a wall time: the restart's
            # downtime did not count against its TTL, so it may only be later
            after = {n: c.cmd("LOOKUP", "g", n) for n in range(1, 8)}
            for n in looks:
                want, got = dict(zip(looks[n][::2], looks[n][1::2])), dict(zip(after[n][::2], after[n][1::2]))
                if b"until_ms" in want:
                    self.assertGreaterEqual(got.pop(b"until_ms"), want.pop(b"until_ms"), n)
                self.assertEqual(got, want, n)
            runs = poll(lambda: [g for g in gaps_of(c, "c") if g[2] != "cached"] and gaps_of(c, "c"), 5)
            self.assertEqual([g[:4] for g in runs],
                             [(a, b, "skipped", SKIP_REASON) for a, b, _, _, _ in before["c"][0]])
            self.assertEqual(info_text(s, "warnings"), info)
            # keys replay, released numbers come first, lowest first
            self.assertEqual(c.cmd("RESERVE", "g", "KEY", "k0"), 1)
            self.assertEqual(c.cmd("RESERVE", "g", "KEY", "k1"), 2)
            self.assertEqual(c.cmd("RESERVE", "g", "KEY", "k2"), 3)      # released: a fresh number, 3 is lowest
            self.assertEqual(c.cmd("RESERVE", "g"), 5)
            self.assertEqual(c.cmd("RESERVE", "g"), 7)
            self.assertEqual(c.cmd("NEXT", "s"), 121)
            self.assertGreater(c.cmd("NEXT", "c"), 10)


class GaplessConcurrencyTest(SeqdTestCase):

    def test_concurrent_reserve_confirm_release(self):
        s = self.start_server()
        with Raw(s.port) as c:
            c.cmd("CREATE", "g", 1, 10 ** 9, "MODE", "gapless")
        book = Book()
        stop = threading.Event()
        seed = random.randrange(2 ** 31)
        out("(seed %d) " % seed)
        workers = [GaplessWorker(s, "g", book, i, stop, seed, "c", p_confirm=0.45, p_release=0.45, p_key=0.4,
                                 p_next=0.1) for i in range(8)]
        hung = run_workers(workers, 2.5, stop)
        self.assertEqual(hung, [], "client threads hung")
        self.assertEqual([w.fatal for w in workers if w.fatal], [])
        self.assertEqual([w.idx for w in workers if w.died], [], "connections lost")
        s.assert_alive()
        reissues = sum(c_ - 1 for c_ in book.reserved_count.values())
        ops = sum(w.ops for w in workers)
        self.assertGreater(ops, 200, "too little load")
        self.assertGreater(reissues, 0, "no released number was ever reissued")
        with Raw(s.port) as c:
            confirm_all(self, c, "g", book)
            _, released = check_gapless_final(self, c, "g", book, label="concurrency")
            # the lowest released numbers come first, in order
            low = sorted(released)[:5]
            self.assertEqual([c.cmd("RESERVE", "g") for _ in low], low)
        out("(%d reservations, %d reissued, %d confirmed, %d released at the end) " %
            (ops, reissues, len(book.confirmed), len(released)))


class CrashTest(SeqdTestCase):

    def test_gapless_kill9_under_load(self):
        seed = random.randrange(2 ** 31)
        rng = random.Random(seed)
        out("(seed %d) " % seed)
        s = self.start_server()
        with Raw(s.port) as c:
            c.cmd("CREATE", "g", 1, 10 ** 9, "MODE", "gapless")
        book = Book()
        stop = threading.Event()
        workers = [GaplessWorker(s, "g", book, i, stop, seed, "a", p_short=0.2, p_confirm=0.45, p_release=0.3,
                                 p_key=1.0) for i in range(6)]
        delay = rng.uniform(0.8, 1.5)
        hung = run_workers(workers, delay, stop, kill=s.kill9)
        self.assertEqual(hung, [], "client threads hung")
        self.assertEqual([w.fatal for w in workers if w.fatal], [])
        self.assertEqual(book.bad[:10], [], "violations before the crash")
        t_crash = time.monotonic()
        inflight = [w.inflight for w in workers if w.inflight is not None]
        snapshot = dict(book.latest)
        self.assertGreater(len(snapshot), 50, "too little load before the kill")
        s.start()
        c = s.raw()
        self.addCleanup(c.close)
        # 1. what was acknowledged survived
        idx = RunIndex(gaps_of(c, "g"))
        hwm = describe(c, "g")["issued"]
        wrong = []
        held = []
        for n, res in sorted(snapshot.items()):
            st = idx.state(n) or "final"
            if n > hwm:
                wrong.append((res, "past the high-water mark %d" % hwm))
                continue
            allowed = {"held": ("reserved",), "confirm-sent": ("final", "reserved"), "confirmed": ("final",),
                       "release-sent": ("released", "reserved"), "released": ("released", "reserved"),
                       "short": ("reserved", "released")}[res.status]
            if st not in allowed:
                wrong.append((res, st))
            if res.status == "held":
                held.append(res)
        self.assertEqual(wrong[:10], [], "after kill -9: %d acknowledged reservations/confirmations in the wrong "
                         "state (reservation, state now)" % len(wrong))
        # held reservations keep their key; KEY replays give the same numbers
        sample = held + [r for r in snapshot.values() if r.status == "confirmed"][:100]
        c.send(b"".join(encode("LOOKUP", "g", r.n) for r in sample))
        looks = c.read_n(len(sample))
        c.send(b"".join(encode("RESERVE", "g", "KEY", r.key) for r in sample))
        replays = c.read_n(len(sample))
        bad_keys = [(r, lk, rp) for r, lk, rp in zip(sample, looks, replays)
                    if rp != r.n or b"key" not in lk or lk[lk.index(b"key") + 1] != r.key.encode()]
        self.assertEqual(bad_keys[:10], [], "KEY of an acknowledged reservation after kill -9")
        # 2. requests cut by the crash: settle them (CONFIRM/RELEASE are idempotent; a long RESERVE
        # is retried with its KEY); a cut short RESERVE is left to lapse
        for op, obj, key, short in inflight:
            if op == "CONFIRM":
                self.assertEqual(c.cmd("CONFIRM", "g", obj.n), "OK", "retry of a cut CONFIRM %r" % obj)
                book.on_confirmed(obj, "retry")
            elif op == "RELEASE":
                # Retried with its KEY: if the RELEASE was applied before the crash, the
                # number may already have gone to someone else, which the KEY tells.
                reply = (c.cmd("RELEASE", "g", obj.n, "KEY", obj.key) if obj.key
                         else c.cmd("RELEASE", "g", obj.n))
                if reply != "OK" and obj.key:
                    self.assertIn("not held by that KEY", str(reply), "retry of a cut RELEASE %r" % obj)
                    self.assertNotEqual(lookup(c, "g", obj.n).get("key"), obj.key,
                                        "a cut RELEASE refused but its KEY still holds the number %r" % obj)
                else:
                    self.assertEqual(reply, "OK", "retry of a cut RELEASE %r" % obj)
                book.set_status(obj, "released")
        for op, obj, key, short in inflight:
            if op == "RESERVE" and not short:
                n = c.cmd("RESERVE", "g", "TTL", 300, "KEY", key)
                self.assertIsInstance(n, int)
                book.on_reserved(n, obj, key, False, "retry of cut RESERVE %s" % key)
        # 3. short reservations ran out: released, reissued first, lowest first
        shorts = [r for r in book.latest.values() if r.status == "short"]
        last_short = max([r.t_ack for r in shorts] + [t_crash])
        time.sleep(max(0.0, last_short + 1.1 - time.monotonic()))

        def all_lapsed():
            i2 = RunIndex(gaps_of(c, "g"))
            return all(i2.state(r.n) == "released" for r in shorts) and i2
        idx = poll(all_lapsed, 5)
        if not idx:
            now = RunIndex(gaps_of(c, "g"))
            self.fail("short reservations not released 1 s after their TTL: %r" %
                      [(r, now.state(r.n)) for r in shorts if now.state(r.n) != "released"][:10])
        for r in shorts:
            self.assertEqual(idx.find(r.n)[3], "reservation ran out", r)
        released = sorted(n for g in idx.runs if g[2] == "released" for n in range(g[0], g[1] + 1))
        self.assertGreater(len(released), 0)
        k = min(4, len(released))
        got = [c.cmd("RESERVE", "g", "TTL", 300) for _ in range(k)]
        self.assertEqual(got, released[:k], "reissue after the crash: lowest released first")
        for n in got:
            book.on_reserved(n, "after-%d" % n, None, False, "reissue check")
        self.assertEqual(book.bad[:10], [])
        # 4. more load on the restarted server, then everything is settled
        stop2 = threading.Event()
        workers = [GaplessWorker(s, "g", book, i, stop2, seed, "b", p_confirm=0.5, p_release=0.4, p_key=0.5,
                                 p_next=0.1) for i in range(6)]
        hung = run_workers(workers, 1.0, stop2)
        self.assertEqual(hung, [])
        self.assertEqual([w.fatal for w in workers if w.fatal], [])
        self.assertEqual([w.idx for w in workers if w.died], [])
        confirm_all(self, c, "g", book)
        check_gapless_final(self, c, "g", book, label="gapless after kill -9")
        out("(kill after %.2fs; %d numbers, %d confirmed, %d short lapsed, %d cut requests) " %
            (delay, hwm, len(book.confirmed), len(shorts), len(inflight)))

    def test_cached_kill9_rounds(self):
        seed = random.randrange(2 ** 31)
        rng = random.Random(seed)
        out("(seed %d) " % seed)
        s = self.start_server()
        with Raw(s.port) as c:
            self.assertEqual(c.cmd("CREATE", "c", 1, 10 ** 12, "MODE", "cached", "CACHE", 100), "OK")
        got = []
        lost = 0
        skipped_runs = 0
        rounds = 2
        for rnd in range(rounds + 1):
            stop = threading.Event()
            workers = [CachedWorker(lambda: [s], "c", i, stop, "%d/%d" % (seed, rnd)) for i in range(4)]
            last = rnd == rounds
            hung = run_workers(workers, rng.uniform(0.5, 1.0), stop, kill=None if last else s.kill9)
            self.assertEqual(hung, [], "round %d: client threads hung" % rnd)
            self.assertEqual([w.fatal for w in workers if w.fatal], [])
            for w in workers:
                self.assertEqual(w.bad[:5], [], "round %d worker %d" % (rnd, w.idx))
                lost += w.lost
            mine = [n for w in workers for n, _ in w.got]
            self.assertGreater(len(mine), 100, "round %d: too little load" % rnd)
            got.extend(mine)
            if last:
                break
            s.start()
            with Raw(s.port) as c:
                top = max(mine)

                def recovered():
                    runs = gaps_of(c, "c")
                    sk = [g for g in runs if g[2] == "skipped"]
                    return len(sk) > skipped_runs and sk[-1][1] >= top and not \
                        [g for g in runs if g[2] == "cached"] and runs
                runs = poll(recovered, 10)
                self.assertTrue(runs, "round %d: the lost block's rest (past %d) not skipped: %r" %
                                (rnd, top, gaps_of(c, "c")[-4:]))
                sk = [g for g in runs if g[2] == "skipped"]
                self.assertTrue(all(g[3] == SKIP_REASON for g in sk), sk)
                skipped_runs = len(sk)
                nxt = describe(c, "c")["next"]
                check_cached_numbers(self, runs, got, 1, nxt, lost, "after kill %d" % rnd)
        with Raw(s.port) as c:
            runs = settled_gaps(c, "c", got)
            d = describe(c, "c")
            self.assertEqual(d["issued"], d["next"] - 1)
            self.assertGreaterEqual(len([g for g in runs if g[2] == "skipped"]), rounds)
            in_sk, unacc = check_cached_numbers(self, runs, got, 1, d["next"], lost, "final")
        self.assertEqual(s.stop(), 0)
        out("(%d numbers received over %d kills, %d of them listed skipped, %d served but unreceived, "
            "%d skipped runs) " % (len(got), rounds, in_sk, unacc, skipped_runs))


# ---- clusters ----------------------------------------------------------------------------------

def gaps_of_via(test, nodes, name):
    reply = test.call(nodes, "GAPS", name)
    return [(int(g[0]), int(g[1]), s_(g[2]), s_(g[3]), g[4]) for g in reply]


def lookup_via(test, nodes, n):
    reply = test.call(nodes, "LOOKUP", "g", n)
    return {s_(reply[i]): s_(reply[i + 1]) for i in range(0, len(reply), 2)}


class ClusterModesTest(SeqdTestCase):

    def test_undelivered_through_a_follower(self):
        """A client that disconnects before its reply: on the leader, its
        RESERVEs are released and its NEXTs marked unknown (strict); through
        a follower, NEXTs (gapless or strict) are marked unknown — a report
        that crossed the network never releases a number — and RESERVEs are
        left to their TTL (the follower does not know their grant). INCR is
        NEXT for Redis code: reported the same way (it was not, issue 8)."""
        c = self.start_cluster(3, args=CLUSTER_ARGS)
        lead = c.wait_stable_leader()
        fol = c.followers(lead)
        for name, mode in (("gl", "gapless"), ("gf", "gapless"), ("sl", "strict"), ("sf", "strict"),
                           ("gi", "gapless"), ("si", "strict")):
            self.assertEqual(self.call(fol, "CREATE", name, 1, 10 ** 6, "MODE", mode), "OK")
        problems = []
        for name, node, where in (("gl", lead, "leader"), ("gf", fol[1], "follower"),
                                  ("sl", lead, "leader"), ("sf", fol[1], "follower"),
                                  ("gi", fol[1], "follower"), ("si", fol[0], "follower")):
            cmd = "RESERVE" if name == "gl" else "INCR" if name.endswith("i") else "NEXT"
            want = "released" if name == "gl" else "unknown"
            gone = Raw(node.port)
            gone.send(b"".join(encode(cmd, name) for _ in range(200)))
            gone.close()
            ok = poll(lambda: describe_dict(self.call(fol, "DESCRIBE", name))["issued"] == 200 and
                      [g for g in gaps_of_via(self, fol, name) if g[2] == want], 3)
            if not ok:
                runs = gaps_of_via(self, fol, name)
                problems.append("%d %ss sent to the %s by a client that left at once: DESCRIBE issued %r, "
                                "GAPS %r" % (200, cmd, where, describe_dict(self.call(fol, "DESCRIBE", name))["issued"],
                                             [(g[0], g[1], g[2]) for g in runs][:3]))
            else:
                self.assertTrue(all(g[3] == UNDELIVERED_REASON for g in ok), ok)
        self.assertEqual(problems, [])

    def wait_new_leader(self, cluster, old, timeout=20.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for s in cluster.alive():
                if s is old:
                    continue
                r = role_of(s, timeout=0.5)
                if r is not None and r[0] == "leader":
                    return s
            time.sleep(0.02)
        self.fail("no new leader within %.0fs" % timeout)

    def call(self, nodes, *args, timeout=20.0):
        """Sends args to the nodes in turn until a reply that is not
        TRYAGAIN/CLUSTERDOWN/a broken link; returns it."""
        deadline = time.monotonic() + timeout
        i = 0
        last = None
        while time.monotonic() < deadline:
            s = nodes[i % len(nodes)]
            try:
                with Raw(s.port, timeout=8, connect_timeout=1.0) as r:
                    last = r.cmd(*args)
                if not is_retryable(last):
                    return last
            except (OSError, EOFError, ValueError) as e:
                last = e
            i += 1
            time.sleep(0.05)
        self.fail("%r unanswered after %.0fs (last %r)" % (args, timeout, last))

    def test_cached_leader_failover(self):
        """Two rounds: kill -9 of the leader under cached NEXT load through
        every node, the old leader restarted. No number twice; the old
        leader's block rest skipped; every received number final."""
        seed = random.randrange(2 ** 31)
        out("(seed %d) " % seed)
        c = self.start_cluster(3, args=CLUSTER_ARGS)
        lead = c.wait_stable_leader()
        self.assertEqual(self.call(c.followers(lead), "CREATE", "c", 1, 10 ** 12, "MODE", "cached", "CACHE", 100),
                         "OK")
        stop = threading.Event()
        workers = [CachedWorker(lambda: c.members, "c", i, stop, seed, single=False) for i in range(5)]

        def received(until=None, since=None):
            return [n for w in workers for n, t in list(w.got)
                    if (until is None or t <= until) and (since is None or t > since)]
        for w in workers:
            w.start()
        kills = []
        try:
            for rnd in range(2):
                time.sleep(0.8)
                lead = c.wait_stable_leader()
                self.assertGreater(len(received()), 100)
                t_kill = time.monotonic()
                lead.kill9()
                new = self.wait_new_leader(c, lead)
                # the clients go on: something is received after the kill
                self.assertTrue(poll(lambda: received(since=t_kill), 15),
                                "round %d: no cached NEXT answered after the leader was killed" % rnd)
                top = max(received(until=t_kill))
                with Raw(new.port) as r:
                    runs = poll(lambda: [g for g in gaps_of(r, "c") if g[2] == "skipped" and g[1] >= top], 10)
                    self.assertTrue(runs, "round %d: the old leader's block (past %d) is not skipped: %r" %
                                    (rnd, top, gaps_of(r, "c")[-4:]))
                    self.assertTrue(all(g[3] == SKIP_REASON for g in runs))
                kills.append(t_kill)
                lead.start()  # back as a follower; its clients come back to it
            time.sleep(0.8)
        finally:
            stop.set()
            for w in workers:
                w.join(20)
        self.assertEqual([w.idx for w in workers if w.is_alive()], [], "client threads hung")
        self.assertEqual([w.fatal for w in workers if w.fatal], [])
        for w in workers:
            self.assertEqual(w.bad[:5], [], "worker %d" % w.idx)
        for s in c.members:
            s.assert_alive()
        got = received()
        after = received(since=kills[-1])
        lead = c.wait_stable_leader()
        with Raw(lead.port) as r:
            runs = settled_gaps(r, "c", got)
            d = describe(r, "c")
            self.assertGreaterEqual(len([g for g in runs if g[2] == "skipped"]), 2)
            lost = sum(w.lost for w in workers)
            in_sk, unacc = check_cached_numbers(self, runs, got, 1, d["next"], lost, "after 2 failovers")
            # a number the new leader handed out can be voided (it is served, not in a block)
            last = max(after)
            self.assertEqual(r.cmd("VOID", "c", last, "audit"), "OK", "VOID of %d, received from the new leader "
                             "(LOOKUP %r)" % (last, r.cmd("LOOKUP", "c", last)))
        out("(%d numbers, %d after the last kill, %d retried requests, %d received numbers listed skipped, %d "
            "served but unreceived) " % (len(got), len(after), sum(sum(w.retried.values()) for w in workers), in_sk,
                                         unacc))

    def test_gapless_leader_failover(self):
        seed = random.randrange(2 ** 31)
        rng = random.Random(seed)
        out("(seed %d) " % seed)
        c = self.start_cluster(3, args=CLUSTER_ARGS)
        lead = c.wait_stable_leader()
        fol = c.followers(lead)
        nodes = [lead] + fol
        self.assertEqual(self.call(fol, "CREATE", "g", 1, 10 ** 9, "MODE", "gapless"), "OK")
        # reservations through every node, some confirmed, some released
        res = {}
        for i in range(30):
            key = "pre-%d" % i
            n = self.call(nodes[i % 3:] + nodes[:i % 3], "RESERVE", "g", "TTL", 300, "KEY", key)
            self.assertIsInstance(n, int)
            res[key] = n
        self.assertEqual(sorted(res.values()), list(range(1, 31)))
        keys = sorted(res)
        rng.shuffle(keys)
        confirmed_pre, released_pre, held_pre = keys[:8], keys[8:12], keys[12:]
        for k in confirmed_pre:
            self.assertEqual(self.call(fol, "CONFIRM", "g", res[k]), "OK")
        for k in released_pre:
            self.assertEqual(self.call(nodes, "RELEASE", "g", res[k]), "OK")
        short_n = self.call(fol, "RESERVE", "g", "TTL", 1, "KEY", "short")   # runs out after the failover
        self.assertIsInstance(short_n, int)
        # load: keyed RESERVEs, then CONFIRM or keep, retried through any node until answered
        bad = []
        confirmed_by = {}       # n -> key
        held = {}               # key -> n (unconfirmed reservations of the load)
        lock = threading.Lock()
        stop = threading.Event()
        progress = []

        def worker(idx):
            wr = random.Random("%d/%d" % (seed, idx))
            j = 0
            while not stop.is_set():
                j += 1
                key = "w%d-%d" % (idx, j)
                order = nodes[idx % 3:] + nodes[:idx % 3]
                n = self.call(order, "RESERVE", "g", "TTL", 300, "KEY", key, timeout=30)
                if not isinstance(n, int):
                    bad.append("RESERVE %s -> %r" % (key, n))
                    continue
                with lock:
                    if n in confirmed_by or n in held.values():
                        bad.append("RESERVE %s -> %d, held or confirmed already" % (key, n))
                    held[key] = n
                if wr.random() < 0.7:
                    rep = self.call(order, "CONFIRM", "g", n, timeout=30)
                    with lock:
                        if rep != "OK":
                            bad.append("CONFIRM %d (%s) -> %r" % (n, key, rep))
                            continue
                        if n in confirmed_by and confirmed_by[n] != key:
                            bad.append("%d confirmed by %s and %s" % (n, confirmed_by[n], key))
                        confirmed_by[n] = key
                        del held[key]
                progress.append(time.monotonic())

        errors = []

        def guarded(t):
            def run():
                try:
                    t()
                except Exception as e:  # self.fail in a thread: report it
                    errors.append(repr(e))
            return run
        threads = [threading.Thread(target=guarded(lambda i=i: worker(i)), daemon=True) for i in range(4)]
        for t in threads:
            t.start()
        try:
            time.sleep(0.8)
            t_kill = time.monotonic()
            lead.kill9()
            new = self.wait_new_leader(c, lead)
            self.assertTrue(poll(lambda: any(t > t_kill for t in list(progress)), 15), "no progress after the kill")
            time.sleep(0.5)
        finally:
            stop.set()
            for t in threads:
                t.join(40)
        self.assertEqual([t for t in threads if t.is_alive()], [], "client threads hung")
        self.assertEqual(errors, [])
        self.assertEqual(bad[:10], [])
        live = [s for s in c.members if s.alive()]
        # reservations made before the failover: still reserved, CONFIRMed on the new leader
        for k in held_pre:
            look = self.call(live, "LOOKUP", "g", res[k])
            self.assertEqual(look[:2], [b"state", b"reserved"], "%s (%d) after the failover: %r" % (k, res[k], look))
            self.assertEqual(self.call(live, "RESERVE", "g", "KEY", k), res[k])
        for i, k in enumerate(held_pre):
            target = [new] if i % 2 == 0 else [s for s in live if s is not new]
            self.assertEqual(self.call(target, "CONFIRM", "g", res[k]), "OK", "CONFIRM %s %d on %s" %
                             (k, res[k], "the new leader" if i % 2 == 0 else "a follower"))
            confirmed_by[res[k]] = k
        for k in confirmed_pre:
            self.assertEqual(self.call(live, "CONFIRM", "g", res[k]), "OK")      # idempotent
            self.assertEqual(self.call(live, "RESERVE", "g", "KEY", k), res[k])   # the key still answers
            confirmed_by[res[k]] = k
        for k, n in sorted(held.items()):
            self.assertEqual(self.call(live, "CONFIRM", "g", n), "OK", "CONFIRM %d (%s) after the failover" % (n, k))
            confirmed_by[n] = k
        # the short reservation ran out on the new leader: released (or already reissued to the load)
        lapsed = poll(lambda: lookup_via(self, live, short_n)["state"] != "reserved", 5)
        self.assertTrue(lapsed, "a TTL 1 reservation made before the failover is still reserved")
        # the numbers released before the failover were reissued first (to the load) or are still released
        with Raw(new.port) as r:
            runs = gaps_of(r, "g")
            d = describe(r, "g")
        states = per_number([g for g in runs if g[1] - g[0] < 100000])
        self.assertEqual(set(states.values()) - {"released"}, set(), "GAPS after everything was confirmed: %r" %
                         [g for g in runs if g[2] != "released"][:10])
        self.assertTrue(short_n in confirmed_by or states.get(short_n) == "released", short_n)
        for k in released_pre:
            n = res[k]
            self.assertTrue(n in confirmed_by or states.get(n) == "released",
                            "%d released before the failover: neither reissued nor released now" % n)
        hwm = d["issued"]
        everything = set(range(1, hwm + 1))
        self.assertEqual(sorted(everything - set(confirmed_by) - set(states))[:10], [],
                         "numbers neither confirmed nor in GAPS")
        self.assertEqual(sorted(set(confirmed_by) & set(states))[:10], [], "confirmed numbers in GAPS")
        self.assertEqual(sorted(set(confirmed_by) - everything)[:10], [])
        out("(%d numbers confirmed, %d released, failover on %s) " % (len(confirmed_by), len(states), new.address))
