"""test_commands — every command of the contract, through redis-cli, redis-py and a raw socket.

Each test starts its own seqd on a fresh --dir. Error replies are checked
twice: on a raw socket (the whole line, code word included, since redis-py
drops a leading "ERR ") and through redis-py (it must raise ResponseError
with the same text).
"""

import random
import time

import redis

from harness import RespMap, RespNull, SeqdTestCase, describe_dict, encode, info_fields, runs_numbers

I64_MAX = 9223372036854775807
I64_MIN = -9223372036854775808

WRONG_ARITY = "ERR wrong number of arguments for '%s' command"


class CommandsBase(SeqdTestCase):
    server_args = ()

    def setUp(self):
        super().setUp()
        self.s = self.start_server(*self.server_args)
        self.r = self.s.client()
        self.r.response_callbacks.clear()  # replies exactly as sent
        self.addCleanup(self.r.close)
        self.raw = self.s.raw()
        self.addCleanup(self.raw.close)

    def x(self, *args):
        return self.r.execute_command(*args)

    def err(self, prefix, *args):
        """Both clients get an error starting with prefix; returns its text."""
        reply = self.raw.cmd(*args)
        self.assertErr(reply, prefix, "%r: expected an error starting %r, got %r" % (args, prefix, reply))
        with self.assertRaises(redis.ResponseError, msg="redis-py: %r" % (args,)) as cm:
            self.x(*args)
        expected = reply.text[4:] if reply.text.startswith("ERR ") else reply.text
        self.assertEqual(str(cm.exception), expected, "redis-py saw another error for %r" % (args,))
        return reply.text

    def describe(self, name):
        return describe_dict(self.x("DESCRIBE", name))

    def assertDescribe(self, name, ranges, next_, issued, remaining):
        d = self.describe(name)
        self.assertEqual(d["name"], name.encode() if isinstance(name, str) else name)
        self.assertEqual([[int(a), int(b)] for a, b in d["ranges"]], [list(r) for r in ranges], "ranges")
        self.assertEqual(d["next"], next_, "next")
        self.assertEqual(int(d["issued"]), issued, "issued")
        self.assertEqual(int(d["remaining"]), remaining, "remaining")
        return d


class RedisCliTest(CommandsBase):
    """redis-cli, as a user would type it (non-interactive and piped interactive)."""

    def cli(self, *args, stdin=None):
        rc, out, errtext = self.s.cli(*args, stdin=stdin)
        self.assertEqual(rc, 0, "redis-cli %r failed: %s %s" % (args, out, errtext))
        return out.strip()

    def test_issue_example(self):
        self.assertEqual(self.cli("CREATE", "policies", "202043200000000", "202043210000000"), "OK")
        self.assertEqual(self.cli("NEXT", "policies"), "202043200000000")
        self.assertEqual(self.cli("NEXT", "policies"), "202043200000001")
        self.assertEqual(self.cli("INCR", "policies"), "202043200000002")
        self.assertEqual(self.cli("NEXT", "policies", "COUNT", "3").split(),
                         ["202043200000003", "202043200000005"])
        described = self.cli("DESCRIBE", "policies").split()
        self.assertEqual(described[:11],
                         ["name", "policies", "ranges", "202043200000000", "202043210000000",
                          "next", "202043200000006", "issued", "6", "remaining", "9999995"])
        self.assertEqual(described[11:17], ["mode", "strict", "warn", "0", "warning", "0"])
        self.assertEqual(self.cli("LIST"), "policies")
        # same definition again is fine and resets nothing
        self.assertEqual(self.cli("CREATE", "policies", "202043200000000", "202043210000000"), "OK")
        self.assertEqual(self.cli("NEXT", "policies"), "202043200000006")

    def test_cli_errors_and_misc(self):
        self.assertIn("NOSEQ", self.cli("NEXT", "nosuch"))
        self.assertIn("ERR unknown command", self.cli("FROBNICATE"))
        self.assertIn("ERR wrong number of arguments for 'next' command", self.cli("NEXT"))
        self.assertEqual(self.cli("CREATE", "x", "1", "3"), "OK")
        self.assertIn("EXISTS", self.cli("CREATE", "x", "1", "4"))
        self.assertEqual(self.cli("NEXT", "x", "COUNT", "3").split(), ["1", "3"])
        self.assertIn("EXHAUSTED", self.cli("NEXT", "x"))
        self.assertEqual(self.cli("PING"), "PONG")
        self.assertEqual(self.cli("PING", "hi there"), "hi there")
        self.assertEqual(self.cli("ECHO", "abc"), "abc")
        self.assertEqual(self.cli("ROLE").split()[0], "leader")
        self.assertEqual(self.cli("DROP", "x"), "OK")
        self.assertEqual(self.cli("LIST"), "")
        self.assertIn("role:leader", self.cli("INFO", "raft"))
        count = int(self.cli("COMMAND", "COUNT"))
        self.assertGreaterEqual(count, 10)
        self.assertEqual(self.cli("CONFIG", "GET", "appendonly").split(), ["appendonly", "yes"])

    def test_cli_interactive_start(self):
        # redis-cli with no command starts its REPL, which probes COMMAND/COMMAND DOCS first
        out = self.cli(stdin="PING\n")
        self.assertEqual(out, "PONG")
        out = self.cli(stdin="CREATE i 10 20\nNEXT i\nNEXT i COUNT 2\nDESCRIBE i\n")
        self.assertEqual(out.split()[:15], ["OK", "10", "11", "12", "name", "i", "ranges", "10", "20",
                                            "next", "13", "issued", "3", "remaining", "8"])

    def test_cli_raw_and_resp3(self):
        self.cli("CREATE", "r3", "5", "9")
        rc, out, _ = self.s.cli("-3", "DESCRIBE", "r3")
        self.assertEqual(rc, 0)
        self.assertIn("r3", out)
        self.assertIn("5", out)


class CreateTest(CommandsBase):

    def test_create_same_and_different(self):
        self.assertEqual(self.x("CREATE", "a", 1, 10), b"OK")
        self.assertEqual(self.x("CREATE", "a", 1, 10), b"OK")
        self.assertEqual(self.x("NEXT", "a"), 1)
        self.assertEqual(self.x("CREATE", "a", 1, 10), b"OK", "same definition after NEXT")
        self.assertEqual(self.x("NEXT", "a"), 2, "re-CREATE with the same definition must not reset")
        self.err("EXISTS", "CREATE", "a", 1, 11)
        self.err("EXISTS", "CREATE", "a", 0, 10)
        self.err("EXISTS", "CREATE", "a", 1, 10, "START", 5)
        self.assertEqual(self.x("CREATE", "b", 1, 10, "START", 5), b"OK")
        self.assertEqual(self.x("CREATE", "b", 1, 10, "START", 5), b"OK")
        self.err("EXISTS", "CREATE", "b", 1, 10, "START", 6)
        self.assertEqual(self.x("NEXT", "b"), 5)
        self.assertDescribe("a", [(1, 10)], 3, 2, 8)

    def test_create_exists_after_addrange(self):
        self.x("CREATE", "c", 1, 10)
        self.x("ADDRANGE", "c", 100, 200)
        # the definition is min/max of the first range (as CREATE gave it)
        self.assertEqual(self.x("CREATE", "c", 1, 10), b"OK")
        self.err("EXISTS", "CREATE", "c", 100, 200)

    def test_start(self):
        self.assertEqual(self.x("CREATE", "s", 100, 200, "start", 150), b"OK")  # keyword case-insensitive
        d = self.describe("s")
        self.assertEqual(d["next"], 150)
        self.assertEqual(int(d["remaining"]), 51)
        self.assertEqual(self.x("NEXT", "s"), 150)
        self.assertEqual(self.x("NEXT", "s", "COUNT", 50), [151, 200])
        self.err("EXHAUSTED", "NEXT", "s")
        d = self.describe("s")
        self.assertIsNone(d["next"])
        self.assertEqual(int(d["remaining"]), 0)
        # numbers below START are never issued, even by a later range
        self.x("ADDRANGE", "s", 1000, 1001)
        self.assertEqual(self.x("NEXT", "s", "COUNT", 2), [1000, 1001])

    def test_start_edges(self):
        self.assertEqual(self.x("CREATE", "lo", 1, 3, "START", 1), b"OK")
        self.assertEqual(self.x("CREATE", "hi", 1, 3, "START", 3), b"OK")
        self.assertEqual(self.x("NEXT", "hi"), 3)
        self.err("EXHAUSTED", "NEXT", "hi")
        self.err("ERR", "CREATE", "e1", 1, 3, "START", 0)
        self.err("ERR", "CREATE", "e2", 1, 3, "START", 4)
        self.err("ERR", "CREATE", "e3", 1, 3, "START", "x")
        self.err("ERR", "CREATE", "e4", 1, 3, "BEGIN", 2)
        self.err("ERR", "CREATE", "e5", 1, 3, "START")
        self.err("ERR", "CREATE", "e6", 1, 3, "START", 2, "extra")
        self.assertEqual(self.x("LIST"), [b"hi", b"lo"])

    def test_create_errors(self):
        self.err("ERR", "CREATE", "m", 10, 1)
        self.err("ERR", "CREATE", "m", 1, 0)
        self.assertEqual(self.x("CREATE", "single", 7, 7), b"OK")
        self.assertEqual(self.x("NEXT", "single"), 7)
        self.err("EXHAUSTED", "NEXT", "single")
        self.assertEqual(self.err("ERR", "CREATE", "m", 1), WRONG_ARITY % "create")
        self.assertEqual(self.err("ERR", "CREATE"), WRONG_ARITY % "create")
        self.err("ERR", "CREATE", "m", 1, 2, 3)
        self.assertEqual(self.x("LIST"), [b"single"], "failed CREATEs must create nothing")

    def test_integer_arguments(self):
        bad = ["9223372036854775808", "-9223372036854775809", "18446744073709551616",
               "99999999999999999999999", "12a", "a12", "+5", " 5", "5 ", "", "1.0", "1e3",
               "0x10", "--1", "-", "5\x00"]
        for v in bad:
            with self.subTest(value=v):
                self.err("ERR", "CREATE", "ints", v, 10)
                self.err("ERR", "CREATE", "ints", 1, v)
                self.err("ERR", "CREATE", "ints", 0, 10, "START", v)
                self.err("ERR", "NEXT", "ints", "COUNT", v)
        self.assertEqual(self.x("LIST"), [])
        # the extremes themselves are fine
        self.assertEqual(self.x("CREATE", "ints", I64_MIN, I64_MAX), b"OK")
        self.assertEqual(self.x("NEXT", "ints"), I64_MIN)
        self.assertEqual(self.x("PING"), b"PONG", "connection usable after argument errors")

    def test_names(self):
        ok = ["a", "A-b_c.d:e/f{g}[h]", "x" * 200, "~!@#$%^&*()", "0", "-1"]
        for n in ok:
            with self.subTest(name=n):
                self.assertEqual(self.x("CREATE", n, 1, 5), b"OK")
                self.assertEqual(self.x("NEXT", n), 1)
                self.assertEqual(self.describe(n)["name"], n.encode())
        self.assertEqual(self.x("LIST"), sorted(n.encode() for n in ok))
        bad = ["", "x" * 201, "a b", "a\tb", "a\nb", "a\x00b", "caf\xe9", "\x7f", "é"]
        for n in bad:
            with self.subTest(name=n):
                self.err("ERR", "CREATE", n, 1, 5)
                self.err("ERR", "NEXT", n)
                self.err("ERR", "DESCRIBE", n)
                self.err("ERR", "ADDRANGE", n, 10, 20)
                self.err("ERR", "DROP", n)
        self.assertEqual(len(self.x("LIST")), len(ok))


class AddRangeTest(CommandsBase):

    def test_addrange_chain_and_count_runs(self):
        self.x("CREATE", "c", 1, 5)
        self.assertEqual(self.x("ADDRANGE", "c", 100, 102), b"OK")
        self.assertEqual(self.x("ADDRANGE", "c", 50, 60), b"OK")  # lower, but used after 100..102
        self.assertEqual(self.x("NEXT", "c", "COUNT", 3), [1, 3])
        self.assertEqual(self.x("NEXT", "c", "COUNT", 5), [4, 5, 100, 102])
        self.assertEqual(self.x("NEXT", "c"), 50)
        self.assertDescribe("c", [(1, 5), (100, 102), (50, 60)], 51, 9, 10)
        self.err("EXHAUSTED", "NEXT", "c", "COUNT", 11)
        self.assertDescribe("c", [(1, 5), (100, 102), (50, 60)], 51, 9, 10)
        self.x("ADDRANGE", "c", 1000, 1000)
        self.x("ADDRANGE", "c", -20, -19)
        self.assertEqual(self.x("NEXT", "c", "COUNT", 12), [51, 60, 1000, 1000, -20, -20])
        self.assertEqual(self.x("NEXT", "c"), -19)
        self.assertDescribe("c", [(1, 5), (100, 102), (50, 60), (1000, 1000), (-20, -19)], None, 22, 0)
        self.err("EXHAUSTED", "NEXT", "c")
        self.err("EXHAUSTED", "INCR", "c")

    def test_count_spans_many_ranges(self):
        self.x("CREATE", "m", 1, 2)
        for i in range(1, 6):
            self.x("ADDRANGE", "m", i * 10, i * 10)
        self.assertEqual(self.x("NEXT", "m", "COUNT", 7), [1, 2, 10, 10, 20, 20, 30, 30, 40, 40, 50, 50])

    def test_addrange_after_exhaustion(self):
        self.x("CREATE", "e", 1, 1)
        self.assertEqual(self.x("NEXT", "e"), 1)
        self.err("EXHAUSTED", "NEXT", "e")
        self.assertIsNone(self.describe("e")["next"])
        self.x("ADDRANGE", "e", 2, 3)
        self.assertEqual(self.describe("e")["next"], 2)
        self.assertEqual(self.x("NEXT", "e"), 2)

    def test_addrange_errors(self):
        self.x("CREATE", "o", 100, 200)
        self.x("ADDRANGE", "o", 300, 400)
        for lo, hi in [(150, 160), (50, 100), (200, 250), (90, 210), (100, 200), (250, 350),
                       (400, 400), (0, 1000), (299, 300)]:
            with self.subTest(range=(lo, hi)):
                self.err("ERR", "ADDRANGE", "o", lo, hi)
        self.err("ERR", "ADDRANGE", "o", 500, 499)
        self.err("ERR", "ADDRANGE", "o", "x", 499)
        self.err("ERR", "ADDRANGE", "o", 1, "9223372036854775808")
        self.err("NOSEQ", "ADDRANGE", "missing", 1, 2)
        self.assertEqual(self.err("ERR", "ADDRANGE", "o", 1), WRONG_ARITY % "addrange")
        self.assertIn("syntax", self.err("ERR", "ADDRANGE", "o", 1, 2, 3))
        # adjacent ranges do not overlap
        self.assertEqual(self.x("ADDRANGE", "o", 201, 299), b"OK")
        self.assertEqual(self.x("ADDRANGE", "o", 99, 99), b"OK")
        self.assertDescribe("o", [(100, 200), (300, 400), (201, 299), (99, 99)], 100, 0, 302)


class NextTest(CommandsBase):

    def test_next_and_incr(self):
        self.x("CREATE", "n", -3, 3)
        self.assertEqual(self.x("NEXT", "n"), -3)
        self.assertEqual(self.x("INCR", "n"), -2)
        self.assertEqual(self.x("next", "n"), -1, "command names are case-insensitive")
        self.assertEqual(self.x("NeXt", "n", "count", 2), [0, 1])
        self.assertEqual(self.x("NEXT", "n", "COUNT", 1), [2, 2])
        self.assertEqual(self.x("INCR", "n"), 3)
        self.err("EXHAUSTED", "INCR", "n")
        self.err("NOSEQ", "NEXT", "zz")
        self.err("NOSEQ", "NEXT", "zz", "COUNT", 5)
        self.err("NOSEQ", "INCR", "zz")
        self.assertEqual(self.err("ERR", "INCR", "n", "x"), WRONG_ARITY % "incr")
        self.assertEqual(self.err("ERR", "INCR"), WRONG_ARITY % "incr")
        self.assertEqual(self.err("ERR", "NEXT"), WRONG_ARITY % "next")

    def test_count_bounds_and_syntax(self):
        self.x("CREATE", "big", 0, 10 ** 12)
        for k in ["0", "-1", "1000001", "abc", "1.5", ""]:
            with self.subTest(count=k):
                self.err("ERR", "NEXT", "big", "COUNT", k)
        self.err("ERR", "NEXT", "big", "COUNT")
        self.err("ERR", "NEXT", "big", "FOO", "1")
        self.err("ERR", "NEXT", "big", "KEY")
        self.err("ERR", "NEXT", "big", "COUNT", "2", "KEY")
        self.assertEqual(self.x("NEXT", "big", "COUNT", 1000000), [0, 999999])
        self.assertEqual(self.x("NEXT", "big"), 1000000, "failed NEXTs must issue nothing")
        self.assertDescribe("big", [(0, 10 ** 12)], 1000001, 1000001, 10 ** 12 - 1000000)

    def test_exhausted_all_or_nothing(self):
        self.x("CREATE", "e", 1, 10)
        self.assertEqual(self.x("NEXT", "e", "COUNT", 8), [1, 8])
        t = self.err("EXHAUSTED", "NEXT", "e", "COUNT", 3)
        self.assertDescribe("e", [(1, 10)], 9, 8, 2)
        self.err("EXHAUSTED", "NEXT", "e", "COUNT", 1000000)
        self.err("EXHAUSTED", "NEXT", "e", "COUNT", 3, "KEY", "k1")
        self.assertEqual(self.x("NEXT", "e", "COUNT", 2), [9, 10])
        self.err("EXHAUSTED", "NEXT", "e")
        self.assertDescribe("e", [(1, 10)], None, 10, 0)
        # a KEY that failed with EXHAUSTED is not remembered: after ADDRANGE it gets numbers
        self.x("ADDRANGE", "e", 20, 29)
        self.assertEqual(self.x("NEXT", "e", "COUNT", 3, "KEY", "k1"), [20, 22])
        self.assertTrue(t.startswith("EXHAUSTED"))

    def test_int64_max_edge(self):
        self.x("CREATE", "top", I64_MAX - 7, I64_MAX)
        self.err("EXHAUSTED", "NEXT", "top", "COUNT", 9)
        self.assertDescribe("top", [(I64_MAX - 7, I64_MAX)], I64_MAX - 7, 0, 8)
        self.assertEqual(self.x("NEXT", "top", "COUNT", 7), [I64_MAX - 7, I64_MAX - 1])
        self.err("EXHAUSTED", "NEXT", "top", "COUNT", 2)
        self.assertEqual(self.x("NEXT", "top"), I64_MAX)
        self.err("EXHAUSTED", "NEXT", "top")
        self.err("EXHAUSTED", "NEXT", "top", "COUNT", 1)
        self.assertDescribe("top", [(I64_MAX - 7, I64_MAX)], None, 8, 0)

    def test_int64_max_single_and_start(self):
        self.x("CREATE", "one", I64_MAX, I64_MAX)
        self.err("EXHAUSTED", "NEXT", "one", "COUNT", 2)
        self.assertEqual(self.x("NEXT", "one"), I64_MAX)
        self.err("EXHAUSTED", "NEXT", "one")
        self.x("CREATE", "st", 0, I64_MAX, "START", I64_MAX - 1)
        self.err("EXHAUSTED", "NEXT", "st", "COUNT", 3)
        self.assertEqual(self.x("NEXT", "st", "COUNT", 2), [I64_MAX - 1, I64_MAX])
        self.err("EXHAUSTED", "NEXT", "st")

    def test_int64_chain_to_max(self):
        self.x("CREATE", "ch", 1, 1)
        self.x("ADDRANGE", "ch", I64_MAX - 1, I64_MAX)
        self.err("EXHAUSTED", "NEXT", "ch", "COUNT", 4)
        self.assertEqual(self.x("NEXT", "ch", "COUNT", 3), [1, 1, I64_MAX - 1, I64_MAX])
        self.err("EXHAUSTED", "NEXT", "ch")

    def test_int64_min_edge_and_full_range(self):
        self.x("CREATE", "bot", I64_MIN, I64_MIN + 2)
        self.assertEqual(self.x("NEXT", "bot", "COUNT", 2), [I64_MIN, I64_MIN + 1])
        self.assertEqual(self.x("NEXT", "bot"), I64_MIN + 2)
        self.err("EXHAUSTED", "NEXT", "bot")
        self.x("CREATE", "full", I64_MIN, I64_MAX)
        self.assertEqual(self.x("NEXT", "full", "COUNT", 3), [I64_MIN, I64_MIN + 2])
        d = self.describe("full")
        self.assertEqual(d["next"], I64_MIN + 3)
        self.assertEqual(int(d["issued"]), 3)
        # 2^64 - 3 numbers left: more than an int64; the value must still be exact
        self.assertEqual(int(d["remaining"]), 2 ** 64 - 3)

    def test_key_idempotency(self):
        self.x("CREATE", "k", 1, 1000)
        self.x("CREATE", "other", 1, 1000, "START", 500)
        self.assertEqual(self.x("NEXT", "k", "KEY", "a"), 1)
        self.assertEqual(self.x("NEXT", "k"), 2)
        self.assertEqual(self.x("NEXT", "k", "KEY", "a"), 1)
        self.assertEqual(self.x("INCR", "k"), 3)
        self.assertEqual(self.x("NEXT", "k", "KEY", "b", "COUNT", 3), [4, 6])
        self.assertEqual(self.x("NEXT", "k", "COUNT", 3, "KEY", "b"), [4, 6], "options in any order")
        self.assertEqual(self.x("next", "k", "key", "b", "count", 3), [4, 6])
        self.err("ERR", "NEXT", "k", "KEY", "b", "COUNT", 4)
        self.err("ERR", "NEXT", "k", "KEY", "b")
        self.err("ERR", "NEXT", "k", "KEY", "a", "COUNT", 2)
        # keys belong to one sequence
        self.assertEqual(self.x("NEXT", "other", "KEY", "a"), 500)
        self.assertEqual(self.x("NEXT", "other", "KEY", "a"), 500)
        self.assertEqual(self.x("NEXT", "k"), 7)
        self.assertEqual(self.x("NEXT", "k", "KEY", "a"), 1)
        self.assertDescribe("k", [(1, 1000)], 8, 7, 993)
        for bad in ["", "a b", "x" * 201, "\x01", "caf\xe9"]:
            with self.subTest(key=bad):
                self.err("ERR", "NEXT", "k", "KEY", bad)
        self.assertEqual(self.x("NEXT", "k", "KEY", "y" * 200), 8)
        self.assertEqual(self.x("NEXT", "k", "KEY", "y" * 200), 8)
        self.err("NOSEQ", "NEXT", "nosuch", "KEY", "a")

    def test_key_replay_when_exhausted(self):
        self.x("CREATE", "x", 1, 2)
        self.assertEqual(self.x("NEXT", "x", "KEY", "z", "COUNT", 2), [1, 2])
        self.err("EXHAUSTED", "NEXT", "x")
        self.assertEqual(self.x("NEXT", "x", "KEY", "z", "COUNT", 2), [1, 2],
                         "a retry must get its numbers even when the sequence is exhausted")

    def test_key_run_spanning_ranges(self):
        self.x("CREATE", "kr", 1, 2)
        self.x("ADDRANGE", "kr", 10, 20)
        self.assertEqual(self.x("NEXT", "kr", "KEY", "span", "COUNT", 4), [1, 2, 10, 11])
        self.assertEqual(self.x("NEXT", "kr", "KEY", "span", "COUNT", 4), [1, 2, 10, 11])
        self.assertEqual(self.x("NEXT", "kr"), 12)


class KeyRetentionTest(CommandsBase):
    server_args = ("--key-retention", "1")

    def test_key_expires_after_retention(self):
        self.x("CREATE", "k", 1, 100)
        self.assertEqual(self.x("NEXT", "k", "KEY", "a"), 1)
        self.assertEqual(self.x("NEXT", "k", "KEY", "a"), 1)
        self.assertIn("key_retention_seconds:1", self.x("INFO", "keyspace").decode())
        time.sleep(2.3)
        self.x("NEXT", "k")  # a new entry, with a later clock
        got = self.x("NEXT", "k", "KEY", "a")
        self.assertNotEqual(got, 1, "an expired key must never give its old number again")
        self.assertEqual(got, 3)


class MaxKeysTest(CommandsBase):
    server_args = ("--max-keys", "10")

    def test_key_table_limit(self):
        self.x("CREATE", "mk", 1, 1000)
        for i in range(10):
            self.assertEqual(self.x("NEXT", "mk", "KEY", "k%d" % i), i + 1)
        self.err("ERR", "NEXT", "mk", "KEY", "k10")
        self.err("ERR", "NEXT", "mk", "KEY", "k11", "COUNT", 5)
        self.assertEqual(self.x("NEXT", "mk"), 11, "a refused KEY request must issue nothing")
        for i in range(10):
            self.assertEqual(self.x("NEXT", "mk", "KEY", "k%d" % i), i + 1, "known keys still replay")
        f = info_fields(self.x("INFO", "keyspace"))
        self.assertEqual(int(f["idempotency_keys"]), 10)
        self.assertEqual(int(f["max_keys"]), 10)


class DropTest(CommandsBase):

    def test_drop_and_recreate_keeps_history(self):
        self.x("CREATE", "h", 1, 10)
        self.assertEqual(self.x("NEXT", "h", "COUNT", 3), [1, 3])
        self.assertEqual(self.x("DROP", "h"), b"OK")
        self.err("NOSEQ", "NEXT", "h")
        self.err("NOSEQ", "DESCRIBE", "h")
        self.err("NOSEQ", "DROP", "h")
        self.err("NOSEQ", "ADDRANGE", "h", 20, 30)
        self.assertEqual(self.x("LIST"), [])
        # same definition again
        self.assertEqual(self.x("CREATE", "h", 1, 10), b"OK")
        self.assertEqual(self.x("NEXT", "h"), 4)
        d = self.describe("h")
        self.assertEqual(d["next"], 5)
        self.assertEqual(int(d["remaining"]), 6)
        self.assertEqual(self.x("DROP", "h"), b"OK")
        # a different, overlapping definition: 0..5 with 1..4 burned
        self.assertEqual(self.x("CREATE", "h", 0, 5), b"OK")
        d = self.describe("h")
        self.assertEqual(d["next"], 0)
        self.assertEqual(int(d["remaining"]), 2)
        got = runs_numbers(self.x("NEXT", "h", "COUNT", 2))
        self.assertEqual(got, [0, 5])
        self.err("EXHAUSTED", "NEXT", "h")
        self.x("DROP", "h")
        self.x("CREATE", "h", -5, 100)
        seen = runs_numbers(self.x("NEXT", "h", "COUNT", 100))
        self.assertEqual(len(seen), 100)
        self.assertEqual(set(seen) & set(range(0, 6)), set(), "DROP/CREATE reissued a number")
        self.assertEqual(seen, list(range(-5, 0)) + list(range(6, 101)))

    def test_drop_history_with_keys(self):
        self.x("CREATE", "hk", 1, 100)
        self.assertEqual(self.x("NEXT", "hk", "KEY", "a", "COUNT", 2), [1, 2])
        self.x("DROP", "hk")
        self.x("CREATE", "hk", 1, 100)
        got = runs_numbers(self.x("NEXT", "hk", "KEY", "a", "COUNT", 2))
        self.assertEqual(set(got) & {1, 2}, set(), "a key from before DROP gave back a burned number")
        self.assertEqual(got, [3, 4])

    def test_drop_arity_and_isolation(self):
        self.x("CREATE", "d1", 1, 10)
        self.x("CREATE", "d2", 1, 10)
        self.assertEqual(self.err("ERR", "DROP"), WRONG_ARITY % "drop")
        self.assertEqual(self.err("ERR", "DROP", "d1", "d2"), WRONG_ARITY % "drop")
        self.x("NEXT", "d2")
        self.x("DROP", "d1")
        self.assertEqual(self.x("LIST"), [b"d2"])
        self.assertEqual(self.x("NEXT", "d2"), 2)


class IntrospectionTest(CommandsBase):

    def test_describe_shape(self):
        self.x("CREATE", "dsc", 10, 19)
        self.x("NEXT", "dsc", "COUNT", 4)
        reply = self.x("DESCRIBE", "dsc")
        self.assertIsInstance(reply, list)
        self.assertEqual(len(reply) % 2, 0)
        keys = reply[0::2]
        for k in (b"name", b"ranges", b"next", b"issued", b"remaining"):
            self.assertIn(k, keys)
        self.assertDescribe("dsc", [(10, 19)], 14, 4, 6)
        raw = self.raw.cmd("DESCRIBE", "dsc")
        self.assertEqual(self.raw.first_byte, b"*")
        d = describe_dict(raw)
        self.assertEqual(d["name"], b"dsc")
        self.assertEqual(d["ranges"], [[10, 19]])
        self.assertEqual(d["next"], 14)
        self.assertEqual(self.err("ERR", "DESCRIBE"), WRONG_ARITY % "describe")
        self.err("NOSEQ", "DESCRIBE", "nope")

    def test_list_sorted(self):
        self.assertEqual(self.x("LIST"), [])
        names = ["b", "a", "_x", "Z9", "aa", "A", "a-1", "~", "0"]
        for n in names:
            self.x("CREATE", n, 1, 2)
        self.assertEqual(self.x("LIST"), sorted(n.encode() for n in names))
        self.x("DROP", "aa")
        self.assertEqual(self.x("LIST"), sorted(n.encode() for n in names if n != "aa"))
        self.assertEqual(self.err("ERR", "LIST", "x"), WRONG_ARITY % "list")

    def test_ping_echo_select(self):
        self.assertEqual(self.x("PING"), b"PONG")
        self.assertEqual(self.x("PING", "hello world"), b"hello world")
        self.assertEqual(self.raw.cmd("PING"), "PONG")
        self.assertEqual(self.raw.first_byte, b"+")
        self.assertEqual(self.raw.cmd("PING", "x"), b"x")
        self.assertEqual(self.raw.first_byte, b"$")
        self.err("ERR", "PING", "a", "b")
        self.assertEqual(self.x("ECHO", b"bin\x00\r\nary"), b"bin\x00\r\nary")
        self.assertEqual(self.x("ECHO", ""), b"")
        self.assertEqual(self.err("ERR", "ECHO"), WRONG_ARITY % "echo")
        self.assertEqual(self.x("SELECT", 0), b"OK")
        self.err("ERR", "SELECT", 1)
        self.err("ERR", "SELECT", "x")

    def test_quit(self):
        self.assertEqual(self.raw.cmd("QUIT"), "OK")
        self.assertTrue(self.raw.closed_by_server(3), "QUIT must close the connection")

    def test_client_commands(self):
        self.assertEqual(self.x("CLIENT", "SETNAME", "worker-1"), b"OK")
        self.assertEqual(self.x("CLIENT", "SETINFO", "lib-name", "redis-py"), b"OK")
        self.assertEqual(self.x("CLIENT", "SETINFO", "lib-ver", "4.3.4"), b"OK")
        cid = self.x("CLIENT", "ID")
        self.assertIsInstance(cid, int)
        other = self.raw.cmd("CLIENT", "ID")
        self.assertIsInstance(other, int)
        self.assertNotEqual(cid, other, "two connections must have different CLIENT IDs")
        self.err("ERR", "CLIENT", "FROB")
        self.assertEqual(self.err("ERR", "CLIENT"), WRONG_ARITY % "client")

    def test_client_getname_returns_setname(self):
        self.assertIsNone(self.x("CLIENT", "GETNAME"))
        self.assertEqual(self.x("CLIENT", "SETNAME", "worker-1"), b"OK")
        self.assertEqual(self.x("CLIENT", "GETNAME"), b"worker-1",
                         "CLIENT GETNAME should return the name given by CLIENT SETNAME (as Redis does)")

    def test_hello_id_matches_client_id(self):
        cid = self.raw.cmd("CLIENT", "ID")
        hello = self.raw.cmd("HELLO", "2")
        d = describe_dict(hello)
        self.assertEqual(d["id"], cid, "HELLO's id should be the connection's CLIENT ID (as Redis does)")

    def test_config_get(self):
        self.assertEqual(self.x("CONFIG", "GET", "appendonly"), [b"appendonly", b"yes"])
        self.assertEqual(self.x("CONFIG", "GET", "no-such-parameter"), [])
        self.err("ERR", "CONFIG", "SET", "appendonly", "no")
        self.err("ERR", "CONFIG", "GET")
        # redis-py's own helper works
        stock = self.s.client()
        self.addCleanup(stock.close)
        self.assertEqual(stock.config_get("appendonly"), {"appendonly": "yes"})

    def test_command_introspection(self):
        count = self.x("COMMAND", "COUNT")
        self.assertIsInstance(count, int)
        table = self.x("COMMAND")
        self.assertEqual(len(table), count)
        names = self.x("COMMAND", "LIST")
        self.assertEqual(len(names), count)
        lower = {n.decode().lower() for n in names}
        for n in ("create", "addrange", "next", "incr", "describe", "list", "drop", "ping", "echo",
                  "quit", "select", "client", "config", "command", "info", "hello", "role"):
            self.assertIn(n, lower)
        for entry in table:
            self.assertIsInstance(entry[0], bytes)
            self.assertIsInstance(entry[1], int)
        info = self.x("COMMAND", "INFO", "next", "nosuchcmd")
        self.assertEqual(len(info), 2)
        self.assertEqual(info[0][0].lower(), b"next")
        self.assertEqual(info[0][1], -2)
        self.assertIsNone(info[1])
        docs = self.x("COMMAND", "DOCS")
        self.assertIsInstance(docs, list)
        self.err("ERR", "COMMAND", "FROB")

    def test_info(self):
        self.x("CREATE", "i1", 1, 100)
        self.x("CREATE", "i2", 1, 100)
        self.x("CREATE", "i3", 1, 100)
        self.x("DROP", "i3")
        before = info_fields(self.x("INFO"))
        self.x("NEXT", "i1", "COUNT", 10)
        self.x("NEXT", "i1")
        self.x("INCR", "i2")
        text = self.x("INFO").decode()
        for section in ("# Server", "# Clients", "# Raft", "# Stats", "# Keyspace"):
            self.assertIn(section, text)
        f = info_fields(text)
        self.assertEqual(f["role"], "leader")
        self.assertEqual(int(f["numbers_issued"]), 12)
        self.assertEqual(int(f["sequences"]), 2)
        self.assertGreater(int(f["raft_commit_index"]), int(before["raft_commit_index"]))
        self.assertEqual(int(f["tcp_port"]), self.s.port)
        self.assertEqual(int(f["process_id"]), self.s.pid)
        # this test holds exactly two connections: self.r and self.raw
        self.assertEqual(self.wait_clients(2), 2)
        extra = [self.s.raw() for _ in range(3)]
        for c in extra:
            self.assertEqual(c.cmd("PING"), "PONG")
        self.assertEqual(self.wait_clients(5), 5)
        for c in extra:
            c.close()
        self.assertEqual(self.wait_clients(2), 2, "closed clients must leave connected_clients")
        raft_only = self.x("INFO", "raft").decode()
        self.assertIn("role:leader", raft_only)
        self.assertNotIn("# Stats", raft_only)
        self.assertNotIn("# Server", raft_only)
        self.assertIn("sequences:2", self.x("INFO", "keyspace").decode())
        stats = self.x("INFO", "STATS").decode()  # section names are case-insensitive
        self.assertIn("numbers_issued:12", stats)
        # redis-py's stock INFO parser copes with it
        stock = self.s.client()
        self.addCleanup(stock.close)
        self.assertEqual(stock.info("raft")["role"], "leader")
        self.assertEqual(stock.info()["numbers_issued"], 12)
        self.assertTrue(stock.ping())

    def wait_clients(self, want, timeout=3.0):
        deadline = time.monotonic() + timeout
        while True:
            n = int(info_fields(self.x("INFO", "clients"))["connected_clients"])
            if n == want or time.monotonic() > deadline:
                return n
            time.sleep(0.02)

    def test_role(self):
        role = self.x("ROLE")
        self.assertIsInstance(role, list)
        self.assertEqual(role[0], b"leader")
        self.assertEqual(self.err("ERR", "ROLE", "x"), WRONG_ARITY % "role")

    def test_hello(self):
        h2 = self.raw.cmd("HELLO")
        self.assertEqual(self.raw.first_byte, b"*")
        self.assertEqual(describe_dict(h2)["proto"], 2)
        h3 = self.raw.cmd("HELLO", "3")
        self.assertEqual(self.raw.first_byte, b"%", "HELLO 3 must answer with a RESP3 map")
        self.assertIsInstance(h3, RespMap)
        self.assertEqual(h3[b"proto"], 3)
        self.assertIn(b"server", h3)
        self.assertIn(b"version", h3)
        # the connection now speaks RESP3
        self.assertEqual(self.raw.cmd("CREATE", "r3", 1, 2), "OK")
        self.assertEqual(self.raw.cmd("NEXT", "r3", "COUNT", 2), [1, 2])
        d = self.raw.cmd("DESCRIBE", "r3")
        self.assertEqual(self.raw.first_byte, b"%", "DESCRIBE is a map in RESP3")
        self.assertIsInstance(d, RespMap)
        self.assertEqual(d[b"next"], RespNull(), "an exhausted next is RESP3 null '_'")
        self.assertEqual(d[b"ranges"], [[1, 2]])
        self.assertEqual(self.raw.cmd("CONFIG", "GET", "appendonly"), RespMap({b"appendonly": b"yes"}))
        self.assertEqual(self.raw.cmd("CLIENT", "GETNAME"), RespNull())
        # bad versions leave the protocol as it was
        self.assertErr(self.raw.cmd("HELLO", "4"), "NOPROTO")
        self.assertErr(self.raw.cmd("HELLO", "1"), "NOPROTO")
        self.assertErr(self.raw.cmd("HELLO", "0"), "NOPROTO")
        self.raw.cmd("DESCRIBE", "r3")
        self.assertEqual(self.raw.first_byte, b"%")
        self.assertErr(self.raw.cmd("HELLO", "3", "AUTH", "u", "p"), "")
        h = self.raw.cmd("HELLO", "2")
        self.assertEqual(self.raw.first_byte, b"*")
        self.assertEqual(describe_dict(h)["proto"], 2)
        self.raw.cmd("DESCRIBE", "r3")
        self.assertEqual(self.raw.first_byte, b"*")
        self.assertEqual(describe_dict(self.raw.cmd("DESCRIBE", "r3"))["next"], None)
        # HELLO 3 SETNAME is accepted
        h = self.raw.cmd("HELLO", "3", "SETNAME", "me")
        self.assertIsInstance(h, RespMap)

    def test_unknown_and_arity_keep_connection(self):
        t = self.err("ERR unknown command", "FROBNICATE", "a", "b")
        self.assertIn("frobnicate", t.lower())
        self.err("ERR unknown command", "GET", "x")
        # an empty command name (redis-py cannot send one: raw socket only)
        self.assertErr(self.raw.cmd(""), "ERR unknown command")
        self.assertEqual(self.raw.cmd("PING"), "PONG")
        self.assertEqual(self.x("PING"), b"PONG")

    def test_info_numbers_issued_ignores_key_replays(self):
        self.x("CREATE", "ni", 1, 100)
        self.assertEqual(self.x("NEXT", "ni", "KEY", "k", "COUNT", 5), [1, 5])
        self.assertEqual(self.x("NEXT", "ni", "KEY", "k", "COUNT", 5), [1, 5])
        self.assertEqual(self.x("NEXT", "ni", "KEY", "k", "COUNT", 5), [1, 5])
        f = info_fields(self.x("INFO", "stats"))
        self.assertEqual(int(f["numbers_issued"]), 5,
                         "a KEY replay hands out no new number; numbers_issued must not count it")
        self.assertEqual(self.describe("ni")["issued"], 5)

    def test_list_many_names(self):
        names = ["n%05d-%s" % (i, "x" * (i % 7)) for i in range(500)]
        random.Random(3).shuffle(names)
        self.raw.send(b"".join(encode("CREATE", n, 1, 10) for n in names))
        self.assertEqual(self.raw.read_n(len(names)), ["OK"] * len(names))
        self.assertEqual(self.x("LIST"), sorted(n.encode() for n in names))
        self.assertEqual(int(info_fields(self.x("INFO", "keyspace"))["sequences"]), 500)

    def test_errors_have_no_side_effects(self):
        self.x("CREATE", "se", 1, 100)
        for args in [("NEXT", "se", "COUNT", 0), ("NEXT", "se", "COUNT", 1000001), ("NEXT", "se", "X", 1),
                     ("ADDRANGE", "se", 50, 60), ("CREATE", "se", 1, 99), ("NEXT", "se", "KEY", "a b")]:
            self.raw.cmd(*args)
        self.assertDescribe("se", [(1, 100)], 1, 0, 100)
        self.assertEqual(int(info_fields(self.x("INFO", "stats"))["numbers_issued"]), 0)


class StockClientTest(CommandsBase):
    """redis-py's ordinary API, as application code would call it."""

    def test_stock_client(self):
        r = self.s.client(decode_responses=True)
        self.addCleanup(r.close)
        self.assertTrue(r.ping())
        self.assertEqual(r.echo("x"), "x")
        self.assertEqual(r.execute_command("CREATE", "app", 1, 10 ** 9), "OK")
        self.assertEqual(r.execute_command("INCR", "app"), 1)
        self.assertEqual(r.execute_command("NEXT", "app"), 2)
        with r.pipeline(transaction=False) as p:
            for _ in range(50):
                p.execute_command("NEXT", "app")
            p.execute_command("NEXT", "app", "COUNT", 3)
            out = p.execute()
        self.assertEqual(out[:50], list(range(3, 53)))
        self.assertEqual(out[50], [53, 55])
        self.assertIsInstance(r.client_id(), int)
        # a pooled client survives a server-side error
        with self.assertRaises(redis.ResponseError):
            r.execute_command("NEXT", "missing")
        self.assertEqual(r.execute_command("INCR", "app"), 56)

    def test_redis_py_incr_helper(self):
        # redis-py's r.incr(name) sends "INCRBY name 1", not INCR: code written
        # against Redis INCR with the most common Python client needs INCRBY name 1.
        r = self.s.client(decode_responses=True)
        self.addCleanup(r.close)
        r.execute_command("CREATE", "app", 1, 10 ** 9)
        self.assertEqual(r.incr("app"), 1)
        self.assertEqual(r.incr("app"), 2)
