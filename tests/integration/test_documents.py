"""test_documents — document numbers through real clients (python3-redis and
the raw socket client): formats with check digits, labels, periodic series.

The check digits are recomputed here by this file's own implementations of
the algorithms (never by calling seqd), so a wrong table or a wrong weight
in the server fails the test.

  - NEXT ... TEXT, RENDER, PARSE and LOOKUP of a printed number in strict,
    gapless and cached mode; integer replies unchanged for plain NEXT/INCR;
  - PARSE: the number, its period and state; BADCHECK for a typo or a
    swapped pair, NOTFORMAT, OUTSIDE; every bad argument refused clearly;
  - SETFORMAT: numbers already issued keep the format they were printed by;
  - LABEL on CREATE and ADDRANGE, shown by DESCRIBE and printed by {label};
  - mod11:skip: the numbers without a check digit are never issued and GAPS
    lists them as skipped;
  - a yearly series across 31 December at +05:00 under a clock the test
    controls (libfaketime): the new year numbers from 1 again, last year
    answers DESCRIBE/GAPS/LOOKUP ... PERIOD, a KEY retry after the boundary
    gets its old number, a reservation made before it is confirmed after it
    in its own year; all of it again after kill -9, after a snapshot, and on
    a new leader after the old one is killed.
"""

import os
import tempfile
import time
import unittest

import redis

from harness import Raw, RespError, SeqdTestCase, describe_dict

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def s_(v):
    return v.decode() if isinstance(v, bytes) else v


# ---- the check digits, written here from their definitions ------------------

def luhn(digits):
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:  # the rightmost payload digit is doubled
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def mod97(digits):
    return "%02d" % (98 - (int(digits) * 100) % 97)


def mod11(digits):
    """None when the remainder leaves no digit."""
    total = sum(int(ch) * (2 + i % 6) for i, ch in enumerate(reversed(digits)))
    c = (11 - total % 11) % 11
    return None if c == 10 else str(c)


DAMM = ["0317598642", "7092154863", "4206871359", "1750983426", "6123045978",
        "3674209581", "5869720134", "8945362017", "9438617205", "2581436790"]


def damm(digits):
    interim = 0
    for ch in digits:
        interim = int(DAMM[interim][int(ch)])
    return str(interim)


def as_dict(reply):
    if isinstance(reply, dict):
        return {s_(k): s_(v) for k, v in reply.items()}
    return {s_(reply[i]): s_(reply[i + 1]) for i in range(0, len(reply), 2)}


class DocumentsTest(SeqdTestCase):

    def test_formatted_numbers_in_every_mode(self):
        """POL-A-{n}-{check:luhn} in strict, gapless and cached mode: TEXT
        replies, RENDER, PARSE and LOOKUP of the printed form; plain NEXT
        and INCR still answer integers."""
        s = self.start_server()
        r = s.client()
        lo = 202043200000000
        for mode in ("strict", "gapless", "cached"):
            name = "pol-" + mode
            self.assertTrue(r.execute_command("CREATE", name, lo, lo + 10000000, "MODE", mode,
                                              "FORMAT", "POL-A-{n}-{check:luhn}"))
            texts = [s_(r.execute_command("NEXT", name, "TEXT")) for _ in range(5)]
            texts += [s_(t) for t in r.execute_command("NEXT", name, "COUNT", 4, "TEXT")]
            numbers = []
            for t in texts:
                prefix, n, check = t.rsplit("-", 2)[0], t.rsplit("-", 2)[1], t.rsplit("-", 2)[2]
                self.assertEqual(prefix, "POL-A", t)
                self.assertEqual(check, luhn(n), t)
                numbers.append(int(n))
            self.assertEqual(len(set(numbers)), len(numbers), texts)
            self.assertEqual(numbers, sorted(numbers), mode)
            plain = r.execute_command("NEXT", name)
            self.assertIsInstance(plain, int)
            self.assertGreater(plain, numbers[-1])
            self.assertEqual(s_(r.execute_command("RENDER", name, numbers[2])), texts[2])
            parsed = as_dict(r.execute_command("PARSE", name, texts[3]))
            self.assertEqual(int(parsed["number"]), numbers[3])
            self.assertEqual(parsed["state"], "final")
            looked = as_dict(r.execute_command("LOOKUP", name, texts[3]))
            self.assertEqual(int(looked["number"]), numbers[3])
            # a typo in the check digit, and two digits swapped
            typo = texts[3][:-1] + str((int(texts[3][-1]) + 1) % 10)
            with self.assertRaisesRegex(redis.ResponseError, "^BADCHECK"):
                r.execute_command("PARSE", name, typo)
            n = str(numbers[3])
            swapped = "POL-A-" + n[:-2] + n[-1] + n[-2] + "-" + texts[3][-1]
            if n[-1] != n[-2]:
                with self.assertRaisesRegex(redis.ResponseError, "^BADCHECK"):
                    r.execute_command("LOOKUP", name, swapped)
            with self.assertRaisesRegex(redis.ResponseError, "^NOTFORMAT"):
                r.execute_command("PARSE", name, "POL-B-" + n + "-" + luhn(n))
            with self.assertRaisesRegex(redis.ResponseError, "^OUTSIDE"):
                r.execute_command("PARSE", name, "POL-A-17-" + luhn("17"))
            with self.assertRaisesRegex(redis.ResponseError, "not issued"):
                r.execute_command("RENDER", name, lo + 9000000)
        self.assertIsInstance(r.execute_command("INCR", "pol-strict"), int)
        # a digits-only format: LOOKUP of an integer inside the ranges is that
        # number; outside them, the printed form (the published Luhn vector)
        self.assertTrue(r.execute_command("CREATE", "lv", 7992739871, 7992739999,
                                          "FORMAT", "{n}{check:luhn}"))
        self.assertEqual(s_(r.execute_command("NEXT", "lv", "TEXT")), "79927398713")
        looked = as_dict(r.execute_command("LOOKUP", "lv", "79927398713"))
        self.assertEqual((int(looked["number"]), looked["state"]), (7992739871, "final"), looked)
        self.assertEqual(as_dict(r.execute_command("LOOKUP", "lv", 7992739871))["state"], "final")
        inside = as_dict(r.execute_command("LOOKUP", "lv", 7992739872))
        self.assertEqual(inside["state"], "not-issued")
        self.assertNotIn("number", inside)
        self.assertEqual(as_dict(r.execute_command("LOOKUP", "lv", 79927398710))["state"], "not-issued")

    def test_bad_arguments_are_refused_clearly(self):
        s = self.start_server()
        with Raw(s.port) as c:
            self.assertErr(c.cmd("CREATE", "a", 1, 9, "FORMAT", "{n}{n}"), "ERR invalid FORMAT")
            self.assertErr(c.cmd("CREATE", "a", 1, 9, "FORMAT", "{check:luhn}{n}"), "ERR invalid FORMAT")
            self.assertErr(c.cmd("CREATE", "a", 1, 9, "FORMAT", "{n}{check:mod11}"), "ERR invalid FORMAT")
            self.assertErr(c.cmd("CREATE", "a", 1, 9, "FORMAT", "{period}{n}"), "ERR invalid FORMAT")
            self.assertErr(c.cmd("CREATE", "a", 1, 9, "FORMAT", "{n}{check:mod11:5}"), "ERR invalid FORMAT")
            self.assertErr(c.cmd("CREATE", "a", 1, 9, "FORMAT", "x" * 129 + "{n}"), "ERR invalid FORMAT")
            self.assertErr(c.cmd("CREATE", "a", 1, 9, "LABEL", "x" * 65), "ERR invalid LABEL")
            self.assertErr(c.cmd("CREATE", "a", 1, 9, "PERIOD", "weekly"), "ERR PERIOD")
            self.assertErr(c.cmd("CREATE", "a", 1, 9, "PERIOD", "yearly", "TZ", "+14:30"), "ERR TZ")
            self.assertErr(c.cmd("CREATE", "a", 1, 9, "TZ", "+01:00"), "ERR TZ")
            self.assertErr(c.cmd("CREATE", "a", 1, 9, "PERIOD", "yearly", "MODE", "cached"), "ERR PERIOD")
            self.assertEqual(c.cmd("CREATE", "a", 1, 9, "FORMAT", "A{n}"), "OK")
            self.assertErr(c.cmd("NEXT", "a", "COUNT", 1001, "TEXT"), "ERR COUNT")
            self.assertErr(c.cmd("NEXT", "a", "COUNT", 0, "TEXT"), "ERR COUNT with TEXT must be between 1 and 1000")
            self.assertErr(c.cmd("SETFORMAT", "a", "{n}-{period}"), "ERR invalid FORMAT for this sequence ({period}")
            self.assertErr(c.cmd("NEXT", "a", "TEXT", "TEXT"), "ERR syntax")
            self.assertErr(c.cmd("RENDER", "a", "x"), "ERR")
            self.assertErr(c.cmd("RENDER", "a", 1, "PERIOD", 2026), "ERR no such period")
            self.assertErr(c.cmd("PARSE", "a", "x" * 1000), "NOTFORMAT")
            self.assertErr(c.cmd("PARSE", "nope", "A1"), "NOSEQ")
            self.assertErr(c.cmd("SETFORMAT", "a", "{what}"), "ERR invalid FORMAT")
            self.assertErr(c.cmd("DESCRIBE", "a", "PERIOD", "26"), "ERR PERIOD")
            self.assertErr(c.cmd("GAPS", "a", "PERIOD", "2026-13"), "ERR PERIOD")
            self.assertErr(c.cmd("LOOKUP", "a", "A1", "PERIOD", "2026"), "ERR")
            self.assertErr(c.cmd("GAPS", "a", "PERIOD", "2026", "PERIOD", "2025"), "ERR PERIOD")
            self.assertErr(c.cmd("CONFIRM", "a", 1, "KEY", "k", "PERIOD"), "ERR syntax")
            self.assertErr(c.cmd("GAPS", "a", *(["1"] * 20)), "ERR syntax")
            self.assertEqual(c.cmd("PING"), "PONG")  # the server lived through it all

    def test_setformat_keeps_the_old_format_for_issued_numbers(self):
        s = self.start_server()
        r = s.client()
        r.execute_command("CREATE", "t", 1, 1000, "FORMAT", "T-{n:4}")
        first = [s_(r.execute_command("NEXT", "t", "TEXT")) for _ in range(3)]
        self.assertEqual(first, ["T-0001", "T-0002", "T-0003"])
        self.assertTrue(r.execute_command("SETFORMAT", "t", "TK{n:5}{check:damm}"))
        after = s_(r.execute_command("NEXT", "t", "TEXT"))
        self.assertEqual(after, "TK00004" + damm("00004"))
        self.assertEqual(s_(r.execute_command("RENDER", "t", 2)), "T-0002")
        self.assertEqual(as_dict(r.execute_command("PARSE", "t", "T-0002"))["state"], "final")
        with self.assertRaisesRegex(redis.ResponseError, "^NOTFORMAT"):
            r.execute_command("PARSE", "t", "T-0004")  # 4 was printed by the new format
        self.assertEqual(s_(describe_dict(r.execute_command("DESCRIBE", "t"))["format"]),
                         "TK{n:5}{check:damm}")
        # a sequence created without a format: plain numbers until one is set
        r.execute_command("CREATE", "u", 1, 100)
        self.assertEqual(s_(r.execute_command("NEXT", "u", "TEXT")), "1")
        r.execute_command("SETFORMAT", "u", "U{n}")
        self.assertEqual(s_(r.execute_command("NEXT", "u", "TEXT")), "U2")
        self.assertEqual(s_(r.execute_command("RENDER", "u", 1)), "1")

    def test_labels_and_mod11_skip(self):
        s = self.start_server()
        r = s.client()
        r.execute_command("CREATE", "folio", 1, 3, "FORMAT", "{label}:{n}", "LABEL", "CAF-2026-17")
        r.execute_command("ADDRANGE", "folio", 500, 600, "LABEL", "CAF-2026-18")
        texts = [s_(t) for t in r.execute_command("NEXT", "folio", "COUNT", 4, "TEXT")]
        self.assertEqual(texts, ["CAF-2026-17:1", "CAF-2026-17:2", "CAF-2026-17:3", "CAF-2026-18:500"])
        d = describe_dict(r.execute_command("DESCRIBE", "folio"))
        self.assertEqual([s_(x[-1]) for x in d["ranges"]], ["CAF-2026-17", "CAF-2026-18"])
        self.assertEqual([s_(x) for x in d["labels"]], ["CAF-2026-17", "CAF-2026-18"])
        with self.assertRaisesRegex(redis.ResponseError, "^NOTFORMAT"):
            r.execute_command("PARSE", "folio", "CAF-2026-17:500")
        # mod11:skip: numbers whose check would be 10 are passed over
        r.execute_command("CREATE", "m", 1, 100000, "FORMAT", "{n}-{check:mod11:skip}")
        got = []
        for t in r.execute_command("NEXT", "m", "COUNT", 200, "TEXT"):
            n, check = s_(t).split("-")
            self.assertEqual(check, mod11(n), t)
            got.append(int(n))
        want = [v for v in range(1, got[-1] + 1) if mod11(str(v)) is not None]
        self.assertEqual(got, want[:200])
        skipped = [v for v in range(1, got[-1] + 1) if mod11(str(v)) is None]
        gaps = r.execute_command("GAPS", "m")
        self.assertEqual([int(g[0]) for g in gaps], skipped)
        self.assertTrue(all(s_(g[2]) == "skipped" for g in gaps))
        self.assertEqual(as_dict(r.execute_command("LOOKUP", "m", skipped[0]))["state"], "skipped")
        with self.assertRaisesRegex(redis.ResponseError, "not issued"):
            r.execute_command("VOID", "m", skipped[0], "test")
        # :X prints the character instead
        r.execute_command("CREATE", "x", 1, 100, "FORMAT", "{n}{check:mod11:X}")
        texts = [s_(t) for t in r.execute_command("NEXT", "x", "COUNT", 30, "TEXT")]
        self.assertEqual(len(texts), 30)
        self.assertTrue(any(t.endswith("X") for t in texts), texts)
        for t in texts:
            self.assertEqual(as_dict(r.execute_command("PARSE", "x", t))["state"], "final")

    # ---- a yearly series across the year's end, under a test clock ---------

    def offset_file(self, seconds):
        fd, path = tempfile.mkstemp(prefix="faketime-")
        os.close(fd)
        self.set_offset(path, seconds)
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        return path

    @staticmethod
    def set_offset(path, seconds):
        with open(path + ".tmp", "w") as f:
            f.write("%+d\n" % seconds)
        os.replace(path + ".tmp", path)

    @staticmethod
    def faked(path):
        # under ASan (make integration-asan) the preload goes before its runtime
        asan = os.environ.get("ASAN_OPTIONS", "")
        return ["env", "LD_PRELOAD=" + LIBFAKETIME, "FAKETIME_TIMESTAMP_FILE=" + path,
                "FAKETIME_NO_CACHE=1", "FAKETIME_DONT_FAKE_MONOTONIC=1",
                "ASAN_OPTIONS=" + (asan + ":" if asan else "") + "verify_asan_link_order=0"]

    # 2027 begins at +05:00 on 2026-12-31T19:00:00Z
    NEW_YEAR = 1798743600

    def before_new_year(self, seconds):
        """The faketime offset that puts the clock `seconds` before the new year."""
        return int(self.NEW_YEAR - seconds - time.time())

    def open_series(self, c):
        self.assertEqual(c.cmd("CREATE", "inv", 1, 999999, "PERIOD", "yearly", "TZ", "+05:00",
                               "FORMAT", "INV/{period}/{n:6}-{check:mod97}"), "OK")
        self.assertEqual(c.cmd("CREATE", "res", 1, 999999, "PERIOD", "yearly", "TZ", "+05:00",
                               "MODE", "gapless", "FORMAT", "R{period}-{n}"), "OK")

    def last_year_checks(self, c):
        """What an auditor asks about 2026 once 2027 has begun."""
        d = describe_dict(c.cmd("DESCRIBE", "inv", "PERIOD", "2026"))
        self.assertEqual(s_(d["period"]), "2026")
        self.assertEqual(int(d["issued"]), 3)
        now = describe_dict(c.cmd("DESCRIBE", "inv"))
        self.assertEqual(s_(now["period"]), "2027")
        self.assertEqual(int(now["closed_periods"]), 1)
        for n in (1, 2, 3):
            text = "INV/2026/%06d-%s" % (n, mod97("%06d" % n))
            p = as_dict(c.cmd("PARSE", "inv", text))
            self.assertEqual((int(p["number"]), p["period"], p["state"]), (n, "2026", "final"))
            self.assertEqual(as_dict(c.cmd("LOOKUP", "inv", n, "PERIOD", "2026"))["state"], "final")
        self.assertEqual(as_dict(c.cmd("LOOKUP", "inv", 4, "PERIOD", "2026"))["state"], "not-issued")
        self.assertEqual(c.cmd("GAPS", "inv", "PERIOD", "2026"), [])
        self.assertEqual(c.cmd("GAPS", "res", "PERIOD", "2026", 1, 10), c.cmd("GAPS", "res", 1, 10, "PERIOD", "2026"))
        # the reservation made in 2026 and confirmed in 2027 kept its year
        self.assertEqual(as_dict(c.cmd("LOOKUP", "res", 2, "PERIOD", "2026"))["state"], "final")
        gaps = c.cmd("GAPS", "res", "PERIOD", "2026")
        self.assertEqual([(g[0], s_(g[2])) for g in gaps], [(3, "released")])

    @unittest.skipUnless(os.path.exists(LIBFAKETIME), "libfaketime is not installed (apt-get install faketime)")
    def test_yearly_series_across_the_new_year(self):
        offset = self.offset_file(self.before_new_year(20))
        s = self.start_server("--snapshot-threshold", "16", "--snapshot-trailing", "16",
                              prefix=self.faked(offset))
        with Raw(s.port) as c:
            self.open_series(c)
            self.assertEqual(s_(c.cmd("NEXT", "inv", "TEXT")), "INV/2026/000001-" + mod97("000001"))
            self.assertEqual(s_(c.cmd("NEXT", "inv", "KEY", "order-77", "TEXT")),
                             "INV/2026/000002-" + mod97("000002"))
            self.assertEqual(c.cmd("NEXT", "inv"), 3)
            self.assertEqual(c.cmd("NEXT", "res"), 1)
            self.assertEqual(c.cmd("RESERVE", "res", "TTL", 3600), 2)  # confirmed next year
            self.assertEqual(c.cmd("RESERVE", "res", "TTL", 3600), 3)  # released next year
        self.set_offset(offset, self.before_new_year(-5))  # 5 s into 2027
        with Raw(s.port) as c:
            self.assertEqual(s_(c.cmd("NEXT", "inv", "TEXT")), "INV/2027/000001-" + mod97("000001"))
            self.assertEqual(s_(c.cmd("NEXT", "inv", "KEY", "order-77", "TEXT")),
                             "INV/2026/000002-" + mod97("000002"))  # the retry: last year's number
            self.assertEqual(c.cmd("NEXT", "inv", "KEY", "order-78"), 2)
            self.assertEqual(c.cmd("CONFIRM", "res", 2, "PERIOD", "2026"), "OK")
            self.assertEqual(c.cmd("RELEASE", "res", 3, "PERIOD", "2026"), "OK")
            self.assertEqual(s_(c.cmd("NEXT", "res", "TEXT")), "R2027-1")
            self.last_year_checks(c)
            for _ in range(40):
                c.cmd("DESCRIBE", "inv")  # entries enough for snapshots
        raft = os.path.join(s.data_dir, "raft")
        deadline = time.time() + 10
        while not any(f.startswith("snapshot-") for f in os.listdir(raft)) and time.time() < deadline:
            time.sleep(0.1)
        self.assertTrue(any(f.startswith("snapshot-") for f in os.listdir(raft)), os.listdir(raft))
        # kill -9: the snapshot (closed periods, keys, formats) and the log bring it all back
        s.kill9()
        s.start()
        with Raw(s.port) as c:
            self.last_year_checks(c)
            self.assertEqual(c.cmd("NEXT", "inv"), 3)
        # a leader whose clock is back in 2026 still issues in 2027
        s.kill9()
        self.set_offset(offset, self.before_new_year(3600))
        s.start()
        with Raw(s.port) as c:
            self.assertEqual(s_(c.cmd("NEXT", "inv", "TEXT")), "INV/2027/000004-" + mod97("000004"))
            self.last_year_checks(c)

    @unittest.skipUnless(os.path.exists(LIBFAKETIME), "libfaketime is not installed (apt-get install faketime)")
    def test_yearly_series_on_a_new_leader(self):
        """A three-node cluster under one test clock: 2026's numbers, the new
        year, the leader killed; the new leader answers for both years and
        goes on numbering 2027."""
        offset = self.offset_file(self.before_new_year(20))
        c3 = self.start_cluster(3, args=("--request-timeout-ms", "3000"),
                                prefixes=[self.faked(offset)] * 3)
        lead = c3.leader()
        with Raw(lead.port) as c:
            self.open_series(c)
            for n in (1, 2, 3):
                self.assertEqual(c.cmd("NEXT", "inv"), n)
            self.assertEqual(c.cmd("NEXT", "res"), 1)
            self.assertEqual(c.cmd("RESERVE", "res", "TTL", 3600), 2)
            self.assertEqual(c.cmd("RESERVE", "res", "TTL", 3600), 3)
        self.set_offset(offset, self.before_new_year(-5))
        with Raw(lead.port) as c:
            self.assertEqual(c.cmd("NEXT", "inv"), 1)
            self.assertEqual(c.cmd("CONFIRM", "res", 2, "PERIOD", "2026"), "OK")
            self.assertEqual(c.cmd("RELEASE", "res", 3, "PERIOD", "2026"), "OK")
        lead.kill9()
        new = c3.wait_stable_leader(exclude=(lead,))
        with Raw(new.port) as c:
            self.last_year_checks(c)
            self.assertEqual(s_(c.cmd("NEXT", "inv", "TEXT")), "INV/2027/000002-" + mod97("000002"))
        # through the surviving follower: forwarded to the leader, answered alike
        follower = c3.followers(new)[0]
        with Raw(follower.port) as c:
            self.assertEqual(s_(c.cmd("NEXT", "inv", "TEXT")), "INV/2027/000003-" + mod97("000003"))
            p = as_dict(c.cmd("PARSE", "inv", "INV/2026/000003-" + mod97("000003")))
            self.assertEqual((p["number"], p["period"], p["state"]), (3, "2026", "final"))
            self.assertEqual(s_(c.cmd("RENDER", "inv", 2, "PERIOD", "2026")),
                             "INV/2026/000002-" + mod97("000002"))


if __name__ == "__main__":
    unittest.main()
