"""test_crash — kill -9 under load, restart on the same --dir, repeat.

Each round: start (or restart) seqd, check what the previous crash left,
run 8 client threads that allocate as fast as they can (NEXT, INCR, COUNT,
KEY, some pipelined) and record every acknowledged number, then kill -9 the
server at a random moment. The checks, across all rounds:
  - uniqueness: no acknowledged number is ever acknowledged again;
  - containment: every number lies in its sequence's ranges;
  - durability/order (strict mode): the first NEXT after a restart is past
    every number acknowledged before the crash;
  - idempotency: a KEY retried after a crash returns exactly the numbers
    acknowledged for it before the crash;
  - the server itself never skips: DESCRIBE's issued equals next - 1.

The schedule is seeded: the seed is printed; SEQD_CRASH_SEED=n replays it
(thread timing still varies). SEQD_CRASH_ROUNDS overrides the round count.
"""

import os
import random
import sys
import threading
import time

from harness import Raw, RespError, SeqdTestCase, describe_dict, encode, runs_numbers

ROUNDS = int(os.environ.get("SEQD_CRASH_ROUNDS", "6"))
THREADS = 8
KILL_AFTER_S = (0.3, 2.5)        # most rounds
KILL_EARLY_S = (0.02, 0.3)       # one round in four: right after start-up

RANGES = {
    "c1": [(1, 10 ** 15)],
    # chained ranges, so COUNT runs and crashes land on range boundaries
    "c2": [(1, 3000), (10 ** 6, 10 ** 6 + 5000), (-(10 ** 15), -(10 ** 9))],
}


def pos(seq, n):
    """n's place in the issue order of seq (ranges in the order added)."""
    off = 0
    for lo, hi in RANGES[seq]:
        if lo <= n <= hi:
            return off + n - lo
        off += hi - lo + 1
    raise AssertionError("%d lies outside the ranges of %s" % (n, seq))


class Ack(object):
    __slots__ = ("seq", "numbers", "key", "count", "counted", "round")

    def __init__(self, seq, numbers, key, count, counted, rnd):
        self.seq, self.numbers, self.key, self.count, self.round = seq, numbers, key, count, rnd
        self.counted = counted  # the request had COUNT: an array reply


class LoadThread(threading.Thread):
    """One client connection allocating until the server dies or stop is set."""

    def __init__(self, port, rnd, idx, seed, stop):
        super().__init__(daemon=True)
        self.port, self.rnd, self.idx, self.stop = port, rnd, idx, stop
        self.rng = random.Random("%d/%d/%d" % (seed, rnd, idx))
        self.acks = []
        self.unacked_keys = []  # (seq, key, count) sent without a reply
        self.bad = []
        self.pipelined = idx % 3 == 0
        self.allow_tryagain = False  # set in rounds that send SIGTERM before the kill

    def make_request(self, j):
        rng = self.rng
        seq = "c1" if rng.random() < 0.7 else "c2"
        op = rng.random()
        key, count = None, 1
        if op < 0.35:
            args = ("NEXT", seq)
        elif op < 0.45:
            args = ("INCR", seq)
        elif op < 0.70:
            count = rng.randint(1, 50)
            args = ("NEXT", seq, "COUNT", count)
        else:
            key = "r%d-t%d-%d" % (self.rnd, self.idx, j)
            if rng.random() < 0.5:
                count = rng.randint(1, 20)
                args = ("NEXT", seq, "KEY", key, "COUNT", count) if rng.random() < 0.5 else \
                    ("NEXT", seq, "COUNT", count, "KEY", key)
            else:
                args = ("NEXT", seq, "KEY", key)
        counted = "COUNT" in args
        return seq, args, key, count, counted

    def run(self):
        try:
            conn = Raw(self.port, timeout=10)
        except OSError as e:
            self.bad.append("connect: %r" % e)
            return
        j = 0
        inflight = []
        try:
            while not self.stop.is_set():
                depth = self.rng.randint(1, 8) if self.pipelined else 1
                batch = []
                for _ in range(depth):
                    batch.append(self.make_request(j))
                    j += 1
                inflight = list(batch)
                conn.send(b"".join(encode(*r[1]) for r in batch))
                for seq, args, key, count, counted in batch:
                    reply = conn.read()
                    inflight.pop(0)
                    if isinstance(reply, RespError):
                        if self.allow_tryagain and reply.text.startswith("TRYAGAIN"):
                            if key is not None:  # not applied, or outcome unknown: retry later
                                self.unacked_keys.append((seq, key, count, counted))
                            continue
                        self.bad.append("%r -> %s" % (args, reply.text))
                        continue
                    if counted:
                        nums = runs_numbers(reply)
                    elif isinstance(reply, int):
                        nums = [reply]
                    else:
                        self.bad.append("%r -> %r" % (args, reply))
                        continue
                    if len(nums) != count:
                        self.bad.append("%r -> %d numbers" % (args, len(nums)))
                    self.acks.append(Ack(seq, nums, key, count, counted, self.rnd))
        except (EOFError, OSError, ValueError):
            pass  # the server was killed
        finally:
            for seq, args, key, count, counted in inflight:
                if key is not None:
                    self.unacked_keys.append((seq, key, count, counted))
            conn.close()


class CrashTest(SeqdTestCase):

    def setUp(self):
        super().setUp()
        env = os.environ.get("SEQD_CRASH_SEED")
        self.seed = int(env) if env else random.randrange(2 ** 31)
        sys.stdout.write("(SEQD_CRASH_SEED=%d) " % self.seed)
        sys.stdout.flush()
        self.acked = {}     # (seq, number) -> description of its first acknowledgement
        self.max_pos = {}   # seq -> highest pos acknowledged
        self.keys = {}      # (seq, key) -> (count, numbers, counted)
        self.pending = []   # (seq, key, count, counted) sent, never answered
        self.stats = []

    def note(self, seq, nums, what):
        for n in nums:
            p = pos(seq, n)  # containment
            prev = self.acked.get((seq, n))
            self.assertIsNone(prev, "seed %d: %s %d acknowledged twice: first %s, again %s" %
                              (self.seed, seq, n, prev, what))
            self.acked[(seq, n)] = what
            if p > self.max_pos.get(seq, -1):
                self.max_pos[seq] = p

    def check_after_restart(self, s, rnd):
        c = s.raw()
        try:
            # strict mode: the first NEXT is past everything acknowledged
            for seq in sorted(RANGES):
                n = c.cmd("NEXT", seq)
                self.assertIsInstance(n, int, "seed %d round %d: first NEXT %s -> %r" % (self.seed, rnd, seq, n))
                if seq in self.max_pos:
                    self.assertGreater(pos(seq, n), self.max_pos[seq],
                                       "seed %d round %d: first NEXT %s after restart gave %d, not past "
                                       "every acknowledged number" % (self.seed, rnd, seq, n))
                self.note(seq, [n], "round %d first NEXT after restart" % rnd)
            # every acknowledged KEY gives back its numbers
            items = sorted(self.keys.items())
            for i in range(0, len(items), 500):
                chunk = items[i:i + 500]
                c.send(b"".join(encode("NEXT", seq, "KEY", key, "COUNT", count) if counted else
                                encode("NEXT", seq, "KEY", key)
                                for (seq, key), (count, nums, counted) in chunk))
                for (seq, key), (count, nums, counted) in chunk:
                    reply = c.read()
                    got = runs_numbers(reply) if counted and isinstance(reply, list) else \
                        [reply] if isinstance(reply, int) else reply
                    self.assertEqual(got, nums, "seed %d round %d: KEY %s of %s retried after the crash" %
                                     (self.seed, rnd, key, seq))
            # keys whose request was cut by the crash: a retry is answered and
            # gives numbers nobody else got (the original outcome, or new ones)
            for seq, key, count, counted in self.pending:
                args = ("NEXT", seq, "KEY", key, "COUNT", count) if counted else ("NEXT", seq, "KEY", key)
                reply = c.cmd(*args)
                self.assertNotIsInstance(reply, RespError, "seed %d: retry %r -> %r" % (self.seed, args, reply))
                nums = runs_numbers(reply) if counted else [reply]
                self.assertEqual(len(nums), count)
                self.note(seq, nums, "round %d retry of unanswered key %s" % (rnd, key))
                self.keys[(seq, key)] = (count, nums, counted)
            self.pending = []
            # the server never skips: issued numbers are a prefix of the ranges
            for seq in sorted(RANGES):
                d = describe_dict(c.cmd("DESCRIBE", seq))
                self.assertEqual([[int(a), int(b)] for a, b in d["ranges"]], [list(r) for r in RANGES[seq]])
                self.assertEqual(pos(seq, d["next"]), d["issued"],
                                 "seed %d round %d: %s next %r does not follow issued %r" %
                                 (self.seed, rnd, seq, d["next"], d["issued"]))
                self.assertGreater(d["issued"], self.max_pos[seq])
        finally:
            c.close()

    def test_kill9_rounds(self):
        master = random.Random(self.seed)
        s = self.start_server()
        c = s.raw()
        for seq, ranges in sorted(RANGES.items()):
            self.assertEqual(c.cmd("CREATE", seq, *ranges[0]), "OK")
            for lo, hi in ranges[1:]:
                self.assertEqual(c.cmd("ADDRANGE", seq, lo, hi), "OK")
        c.close()
        t_all = time.monotonic()
        for rnd in range(ROUNDS):
            t0 = time.monotonic()
            if rnd > 0:
                extra = ("--snapshot-threshold", "64", "--snapshot-trailing", "16") if rnd % 2 else ()
                s.start(extra)
                self.check_after_restart(s, rnd)
            stop = threading.Event()
            threads = [LoadThread(s.port, rnd, i, self.seed, stop) for i in range(THREADS)]
            for t in threads:
                t.start()
            delay = master.uniform(*(KILL_EARLY_S if master.random() < 0.25 else KILL_AFTER_S))
            # one round in four: SIGTERM first, then kill -9 in the middle of the shutdown
            term_first = master.random() < 0.25
            term_gap = master.uniform(0.0, 0.05)
            for t in threads:
                t.allow_tryagain = term_first
            time.sleep(delay)
            s.assert_alive()
            if term_first:
                s.send_signal(15)
                time.sleep(term_gap)
            s.kill9()
            stop.set()
            for t in threads:
                t.join(15)
                self.assertFalse(t.is_alive(), "seed %d round %d: a client thread hung" % (self.seed, rnd))
            n_acks = 0
            for t in threads:
                self.assertEqual(t.bad, [], "seed %d round %d thread %d: bad replies" % (self.seed, rnd, t.idx))
                for a in t.acks:
                    what = "round %d thread %d %s" % (rnd, t.idx, "key %s" % a.key if a.key else "")
                    self.note(a.seq, a.numbers, what)
                    if a.key is not None:
                        self.keys[(a.seq, a.key)] = (a.count, a.numbers, a.counted)
                    n_acks += 1
                self.pending.extend(t.unacked_keys)
            self.stats.append((rnd, round(delay, 2), term_first, n_acks, round(time.monotonic() - t0, 2)))
            if delay >= KILL_AFTER_S[0]:
                self.assertGreater(n_acks, 0, "seed %d round %d: no request was answered in %.2fs" %
                                   (self.seed, rnd, delay))
        # the last restart: all checks once more, then a clean stop
        s.start()
        self.check_after_restart(s, ROUNDS)
        self.assertEqual(s.stop(), 0)
        sys.stdout.write("(%d rounds, %d numbers acknowledged, %.1fs) " %
                         (ROUNDS, len(self.acked), time.monotonic() - t_all))
        if os.environ.get("SEQD_CRASH_VERBOSE"):
            for rnd, delay, term_first, n_acks, secs in self.stats:
                sys.stdout.write("\n  round %d: kill after %.2fs%s, %d replies, %.2fs" %
                                 (rnd, delay, " (SIGTERM first)" if term_first else "", n_acks, secs))
        sys.stdout.flush()
