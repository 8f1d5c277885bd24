"""test_concurrency — many clients on one sequence at once (redis-py, one
connection per thread): every number distinct, no gaps from min, counts and
DESCRIBE exactly right, each connection's numbers increasing, and a request
sent after another was answered gets a larger number (strict mode order)."""

import random
import threading
import time

import redis

from harness import SeqdTestCase, describe_dict, info_fields, runs_count, runs_numbers

THREADS = 32


def run_threads(n, target):
    """Runs target(i) in n threads; returns the exceptions they raised."""
    errors = []
    start = threading.Barrier(n)

    def wrap(i):
        try:
            start.wait(30)
            target(i)
        except Exception as e:  # collected and asserted by the caller
            errors.append((i, repr(e)))

    threads = [threading.Thread(target=wrap, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    hung = [i for i, t in enumerate(threads) if t.is_alive()]
    if hung:
        errors.append(("hung threads", hung))
    return errors


class ConcurrencyTest(SeqdTestCase):

    def setUp(self):
        super().setUp()
        self.s = self.start_server()
        self.r = self.s.client()
        self.addCleanup(self.r.close)

    def x(self, *args):
        return self.r.execute_command(*args)

    def client(self):
        c = self.s.client()
        self.addCleanup(c.close)
        return c

    def test_32_threads_next(self):
        per = 250
        lo = 1000
        self.x("CREATE", "c", lo, 10 ** 12)
        got = [None] * THREADS

        def work(i):
            c = self.client()
            got[i] = [c.execute_command("NEXT", "c") for _ in range(per)]

        self.assertEqual(run_threads(THREADS, work), [])
        allnums = []
        for i, nums in enumerate(got):
            self.assertEqual(len(nums), per)
            self.assertEqual(nums, sorted(nums), "thread %d saw its numbers go backwards" % i)
            self.assertEqual(len(set(nums)), per)
            allnums.extend(nums)
        total = THREADS * per
        self.assertEqual(len(set(allnums)), total, "a number was issued twice")
        self.assertEqual(sorted(allnums), list(range(lo, lo + total)), "gap or stray number")
        d = describe_dict(self.x("DESCRIBE", "c"))
        self.assertEqual(d["issued"], total)
        self.assertEqual(d["next"], lo + total)
        self.assertEqual(d["remaining"], 10 ** 12 - lo + 1 - total)
        self.assertEqual(int(info_fields(self.x("INFO", "stats"))["numbers_issued"]), total)

    def test_32_threads_mixed_count_across_ranges(self):
        # ranges chained out of numeric order; COUNT runs cross between them
        ranges = [(1, 997), (5000, 5999), (-3000, -2001), (10 ** 9, 10 ** 10)]
        self.x("CREATE", "m", *ranges[0])
        for lo, hi in ranges[1:]:
            self.x("ADDRANGE", "m", lo, hi)
        seed = 12345
        got = [None] * THREADS
        asked = [0] * THREADS

        def work(i):
            rng = random.Random(seed + i)
            c = self.client()
            mine = []
            for _ in range(60):
                op = rng.random()
                if op < 0.4:
                    mine.append(c.execute_command("NEXT", "m"))
                    asked[i] += 1
                elif op < 0.6:
                    mine.append(c.execute_command("INCR", "m"))
                    asked[i] += 1
                else:
                    k = rng.randint(1, 40)
                    runs = c.execute_command("NEXT", "m", "COUNT", k)
                    if runs_count(runs) != k:
                        raise AssertionError("COUNT %d gave %r" % (k, runs))
                    # more than one run only when crossing into the next range
                    for j in range(0, len(runs) - 2, 2):
                        if not any(runs[j + 1] == hi for _, hi in ranges):
                            raise AssertionError("run split inside a range: %r" % (runs,))
                    mine.extend(runs_numbers(runs))
                    asked[i] += k
            got[i] = mine

        self.assertEqual(run_threads(THREADS, work), [])
        allnums = [n for nums in got for n in nums]
        total = sum(asked)
        self.assertEqual(len(allnums), total)
        self.assertEqual(len(set(allnums)), total, "a number was issued twice")
        order = []
        for lo, hi in ranges:
            order.extend(range(lo, min(hi, lo + total) + 1))
            if len(order) >= total:
                break
        self.assertEqual(set(allnums), set(order[:total]), "numbers are not the first %d of the ranges" % total)
        d = describe_dict(self.x("DESCRIBE", "m"))
        self.assertEqual(d["issued"], total)
        self.assertEqual(d["next"], order[total] if total < len(order) else None)

    def test_concurrent_keys_and_retries(self):
        self.x("CREATE", "k", 1, 10 ** 9)
        got = [None] * THREADS

        def work(i):
            rng = random.Random(99 + i)
            c = self.client()
            mine = {}
            for j in range(40):
                key = "t%d-%d" % (i, j)
                k = rng.randint(1, 5)
                first = c.execute_command("NEXT", "k", "KEY", key, "COUNT", k)
                again = c.execute_command("NEXT", "k", "COUNT", k, "KEY", key)
                if first != again:
                    raise AssertionError("key %s: %r then %r" % (key, first, again))
                mine[key] = runs_numbers(first)
            # replays of the first keys after a lot of other traffic
            for j in range(0, 40, 7):
                key = "t%d-%d" % (i, j)
                k = len(mine[key])
                again = runs_numbers(c.execute_command("NEXT", "k", "KEY", key, "COUNT", k))
                if again != mine[key]:
                    raise AssertionError("late replay of %s: %r, first %r" % (key, again, mine[key]))
            got[i] = mine

        self.assertEqual(run_threads(THREADS, work), [])
        allnums = [n for mine in got for nums in mine.values() for n in nums]
        self.assertEqual(len(set(allnums)), len(allnums), "a number was issued twice")
        self.assertEqual(sorted(allnums), list(range(1, len(allnums) + 1)), "replays consumed numbers")
        d = describe_dict(self.x("DESCRIBE", "k"))
        self.assertEqual(d["issued"], len(allnums))

    def test_concurrent_same_key_from_many_clients(self):
        # all clients race on the same key: all must get the same numbers
        self.x("CREATE", "same", 1, 10 ** 6)
        got = [None] * THREADS

        def work(i):
            c = self.client()
            got[i] = [c.execute_command("NEXT", "same", "KEY", "shared-%d" % j, "COUNT", 3) for j in range(20)]

        self.assertEqual(run_threads(THREADS, work), [])
        for i in range(1, THREADS):
            self.assertEqual(got[i], got[0], "client %d got other numbers for the same keys" % i)
        nums = [n for runs in got[0] for n in runs_numbers(runs)]
        self.assertEqual(sorted(nums), list(range(1, 61)))

    def test_exhaustion_race_all_or_nothing(self):
        self.x("CREATE", "ex", 1, 1000)
        got = [None] * THREADS
        refused = [0] * THREADS

        def work(i):
            c = self.client()
            mine = []
            while True:
                try:
                    mine.extend(runs_numbers(c.execute_command("NEXT", "ex", "COUNT", 7)))
                except redis.ResponseError as e:
                    if not str(e).startswith("EXHAUSTED"):
                        raise
                    refused[i] += 1
                    break
            got[i] = mine

        self.assertEqual(run_threads(THREADS, work), [])
        allnums = [n for mine in got for n in mine]
        self.assertEqual(len(allnums) % 7, 0, "a refused COUNT issued part of its numbers")
        self.assertEqual(len(set(allnums)), len(allnums))
        self.assertEqual(sorted(allnums), list(range(1, 995)))  # 142 * 7 = 994
        d = describe_dict(self.x("DESCRIBE", "ex"))
        self.assertEqual(d["issued"], 994)
        self.assertEqual(d["remaining"], 6)
        self.assertEqual(self.x("NEXT", "ex", "COUNT", 6), [995, 1000])

    def test_concurrent_creates_same_definition(self):
        results = [None] * THREADS

        def work(i):
            c = self.client()
            results[i] = c.execute_command("CREATE", "cc", 1, 100)

        self.assertEqual(run_threads(THREADS, work), [])
        self.assertEqual(results, [b"OK"] * THREADS)
        self.assertEqual(self.x("LIST"), [b"cc"])

    def test_many_sequences_in_parallel(self):
        names = ["s%02d" % i for i in range(THREADS)]
        for n in names:
            self.x("CREATE", n, 1, 10 ** 6)
        got = [None] * THREADS

        def work(i):
            c = self.client()
            mine = []
            for j in range(100):
                name = names[(i + j) % THREADS]
                mine.append((name, c.execute_command("NEXT", name)))
            got[i] = mine

        self.assertEqual(run_threads(THREADS, work), [])
        per = {}
        for mine in got:
            for name, n in mine:
                per.setdefault(name, []).append(n)
        for name in names:
            self.assertEqual(sorted(per[name]), list(range(1, len(per[name]) + 1)), name)

    def test_order_across_connections_under_load(self):
        # linearizability spot check: with background load, a NEXT sent after
        # another was answered (on any connection) gets a larger number
        self.x("CREATE", "lin", 1, 10 ** 12)
        stop = threading.Event()
        bg_errors = []

        def background():
            c = self.s.client()
            try:
                while not stop.is_set():
                    c.execute_command("NEXT", "lin", "COUNT", 10)
            except Exception as e:
                bg_errors.append(repr(e))
            finally:
                c.close()

        bgs = [threading.Thread(target=background) for _ in range(6)]
        for t in bgs:
            t.start()
        try:
            conns = [self.client() for _ in range(4)]
            last = 0
            for j in range(400):
                n = conns[j % 4].execute_command("NEXT", "lin")
                self.assertGreater(n, last, "NEXT after an answered NEXT got a smaller number")
                last = n
        finally:
            stop.set()
            for t in bgs:
                t.join(30)
        self.assertEqual(bg_errors, [])
        d = describe_dict(self.x("DESCRIBE", "lin"))
        self.assertEqual(d["next"], d["issued"] + 1, "the server skipped numbers")

    def test_drop_recreate_churn_never_reissues(self):
        # DROP and re-CREATE of a name while others allocate from it: every
        # number answered across all incarnations is distinct
        self.x("CREATE", "churn", 1, 10 ** 9)
        stop = threading.Event()
        got = [None] * 8

        def work(i):
            c = self.client()
            mine = []
            while not stop.is_set():
                try:
                    if i % 2:
                        mine.extend(runs_numbers(c.execute_command("NEXT", "churn", "COUNT", 5)))
                    else:
                        mine.append(c.execute_command("NEXT", "churn"))
                except redis.ResponseError as e:
                    if not str(e).startswith("NOSEQ"):
                        raise
            got[i] = mine

        def churn(_):
            try:
                c = self.client()
                rng = random.Random(5)
                for _ in range(40):
                    c.execute_command("DROP", "churn")
                    # a different, overlapping definition now and then
                    lo = rng.choice([1, 1, 1, 0, -100])
                    c.execute_command("CREATE", "churn", lo, 10 ** 9)
                    time.sleep(0.01)
            finally:
                stop.set()

        def role(i):
            if i == 8:
                churn(i)
            else:
                work(i)

        errors = run_threads(9, role)
        stop.set()
        self.assertEqual(errors, [])
        allnums = [n for mine in got for n in mine]
        self.assertGreater(len(allnums), 100)
        self.assertEqual(len(set(allnums)), len(allnums), "a number was issued twice across DROP/CREATE")

    def test_pipelined_clients(self):
        self.x("CREATE", "pp", 1, 10 ** 9)
        got = [None] * 16

        def work(i):
            c = self.client()
            mine = []
            for _ in range(10):
                with c.pipeline(transaction=False) as p:
                    for _ in range(50):
                        p.execute_command("NEXT", "pp")
                    mine.extend(p.execute())
            got[i] = mine

        self.assertEqual(run_threads(16, work), [])
        allnums = [n for mine in got for n in mine]
        for mine in got:
            self.assertEqual(mine, sorted(mine))
        self.assertEqual(sorted(allnums), list(range(1, 8001)))


class WaitingBatchTest(SeqdTestCase):
    """--max-inflight 1: while the one entry in flight is written, what
    arrives joins the newest batch waiting its turn (batch.c) rather than a
    batch of its own. Mixed commands on two sequences from 16 pipelining
    clients still take effect in the order each client sent them, every
    number once and none missing; and the batches really were shared
    (fewer entries than commands)."""

    def test_commands_joining_a_waiting_batch_keep_order_and_uniqueness(self):
        s = self.start_server("--max-inflight", "1")
        r = s.client()
        self.addCleanup(r.close)
        r.execute_command("CREATE", "w", 1, 10 ** 9)
        r.execute_command("CREATE", "v", 1, 10 ** 9, "MODE", "gapless")
        before = info_fields(r.execute_command("INFO", "stats"))
        got = [None] * 16

        def work(i):
            c = s.client()
            self.addCleanup(c.close)
            mine = []
            for _ in range(10):
                with c.pipeline(transaction=False) as p:
                    for k in range(20):
                        p.execute_command("NEXT", "w" if k % 2 == 0 else "v")
                    mine.extend(p.execute())
            got[i] = mine

        self.assertEqual(run_threads(16, work), [])
        w = [n for mine in got for n in mine[0::2]]
        v = [n for mine in got for n in mine[1::2]]
        for mine in got:
            self.assertEqual(mine[0::2], sorted(mine[0::2]), "a client's w numbers went backwards")
            self.assertEqual(mine[1::2], sorted(mine[1::2]), "a client's v numbers went backwards")
        self.assertEqual(sorted(w), list(range(1, 1601)), "w: a number twice, or a gap")
        self.assertEqual(sorted(v), list(range(1, 1601)), "v: a number twice, or a gap")
        after = info_fields(r.execute_command("INFO", "stats"))
        entries = int(after["log_entries_proposed"]) - int(before["log_entries_proposed"])
        commands = int(after["log_commands_proposed"]) - int(before["log_commands_proposed"])
        self.assertEqual(commands, 3200)  # the NEXTs; INFO is not logged
        self.assertLess(entries, commands, "every command went in an entry of its own")
