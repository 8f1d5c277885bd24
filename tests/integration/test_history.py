"""test_history — the history checker (history.py) on hand-made histories, no server.

Each kind of violation the checker is meant to catch is fed to it once and
must be reported by the right check; clean histories of the same shapes
must pass. If the checker stops catching something, these tests fail.
"""

import unittest

from history import History


class Rec(object):
    """Writes ops with explicit times (seconds from the history's start)."""

    def __init__(self, reserve_ttl=None):
        self.h = History(reserve_ttl=reserve_ttl)

    def __call__(self, client, kind, name, t0, t1, reply="OK", status="ok", **args):
        h = self.h
        op = h.invoke(client, kind, name, at=h.t0 + t0, **args)
        if status == "ok":
            h.ok(op, reply, at=h.t0 + t1)
        elif status == "fail":
            h.fail(op, reply, at=h.t0 + t1)
        else:
            h.unknown(op, reply, at=h.t0 + t1)
        return op


class HistoryCheckerTest(unittest.TestCase):

    def checks(self, h):
        return sorted(set(v.check for v in h.check_all()))

    def assertClean(self, h):
        v = h.check_all()
        self.assertEqual(v, [], "a clean history was reported:\n%s" % "\n".join(map(str, v)))

    def assertCaught(self, h, check, number=None):
        v = h.check_all()
        hits = [x for x in v if x.check == check and (number is None or x.number == number)]
        self.assertTrue(hits, "expected a %s violation%s, got %r" %
                        (check, "" if number is None else " of %d" % number, v))
        for x in hits:
            self.assertTrue(str(x))
        return hits

    # ---- clean histories ------------------------------------------------------

    def test_clean_history_passes(self):
        r = Rec(reserve_ttl=300)
        r("a", "CREATE", "s", 0, 0.01, lo=1, hi=100)
        r("a", "NEXT", "s", 0.02, 0.03, reply=1)
        r("b", "NEXT", "s", 0.04, 0.05, reply=[2, 4], count=3)
        r("a", "NEXT", "s", 0.06, 0.07, reply=5, key="k")
        r("b", "NEXT", "s", 0.08, 0.09, reply=5, key="k")          # a replay of k: the same holder
        r("a", "INCR", "s", 0.10, 0.11, reply=6)
        r("a", "VOID", "s", 0.12, 0.13, n=6, reason="x")
        r("a", "ADDRANGE", "s", 0.14, 0.15, lo=1000, hi=1010)
        r("a", "NEXT", "s", 0.16, 0.17, reply=[7, 100, 1000, 1002], count=97)
        r("b", "NEXT", "s", 0.18, 0.19, reply=1003)
        # two concurrent requests may come back in either order
        r("a", "NEXT", "s", 0.20, 0.25, reply=1005)
        r("b", "NEXT", "s", 0.21, 0.24, reply=1004)
        # gapless: reserve, confirm, release, reissue after release and after a TTL
        r("a", "CREATE", "g", 1.0, 1.01, lo=1, hi=100, mode="gapless")
        r("a", "RESERVE", "g", 1.02, 1.03, reply=1, ttl=30, key="r1")
        r("a", "CONFIRM", "g", 1.04, 1.05, n=1, key="r1")
        r("a", "RESERVE", "g", 1.06, 1.07, reply=2)                 # default TTL 300
        r("a", "RELEASE", "g", 1.08, 1.09, n=2)
        r("b", "RESERVE", "g", 1.10, 1.11, reply=2, ttl=1)
        r("c", "NEXT", "g", 2.20, 2.21, reply=2)                    # b's TTL ran out at 2.10
        r("b", "RESERVE", "g", 2.30, 2.31, reply=3, ttl=1, key="r2")
        r("b", "NEXT", "g", 2.32, 2.33, reply=3, key="r2")          # the key's own NEXT: final for it
        r("b", "CONFIRM", "g", 2.34, 2.35, n=3, key="r2")
        r("c", "NEXT", "g", 2.40, 2.41, reply=[4, 4], count=1)
        # a NEXT whose reply was lost: nothing told
        r("c", "NEXT", "g", 2.50, 2.60, reply="broken pipe", status="unknown")
        r("c", "RELEASE", "g", 2.70, 2.71, reply="ERR not reserved", status="fail", n=4)
        # DROP and re-CREATE: the new incarnation continues past the old numbers
        r("a", "DROP", "s", 3.0, 3.01)
        r("a", "CREATE", "s", 3.02, 3.03, lo=1, hi=2000)
        r("a", "NEXT", "s", 3.04, 3.05, reply=1500, key="k")          # k is a new key in a new incarnation
        # cached: no order promise
        r("a", "CREATE", "c", 4.0, 4.01, lo=1, hi=100, mode="cached", cache=10)
        r("a", "NEXT", "c", 4.02, 4.03, reply=11)
        r("b", "NEXT", "c", 4.04, 4.05, reply=3)
        self.assertClean(r.h)
        incs = r.h.incarnations("s")
        self.assertEqual(len(incs), 2)
        self.assertEqual([(lo, hi) for lo, hi, _ in incs[0].ranges], [(1, 100), (1000, 1010)])

    def test_same_create_again_is_not_a_new_incarnation(self):
        r = Rec()
        r("a", "CREATE", "s", 0, 0.01, lo=1, hi=100)
        r("a", "NEXT", "s", 0.02, 0.03, reply=1, key="k")
        r("a", "CREATE", "s", 0.04, 0.05, lo=1, hi=100)
        r("a", "NEXT", "s", 0.06, 0.07, reply=1, key="k")
        self.assertEqual(len(r.h.incarnations("s")), 1)
        self.assertClean(r.h)

    # ---- uniqueness ---------------------------------------------------------------

    def test_duplicate_final_number(self):
        r = Rec()
        r("a", "CREATE", "s", 0, 0.01, lo=1, hi=100)
        r("a", "NEXT", "s", 0.02, 0.03, reply=[1, 5], count=5)
        r("b", "NEXT", "s", 0.04, 0.05, reply=4)
        v = self.assertCaught(r.h, "uniqueness", 4)
        self.assertIn("op#2", str(v[0]))
        self.assertIn("op#3", str(v[0]))

    def test_duplicate_across_drop_and_create(self):
        r = Rec()
        r("a", "CREATE", "s", 0, 0.01, lo=1, hi=100)
        r("a", "NEXT", "s", 0.02, 0.03, reply=1, key="k")
        r("a", "DROP", "s", 0.04, 0.05)
        r("a", "CREATE", "s", 0.06, 0.07, lo=1, hi=100)
        r("a", "NEXT", "s", 0.08, 0.09, reply=1, key="k")   # the same key, but a new incarnation
        self.assertCaught(r.h, "uniqueness", 1)

    def test_restart_reissues_a_keyed_number(self):
        """The max-keys restart bug: keyed numbers told, then told again to a plain NEXT."""
        r = Rec()
        r("a", "CREATE", "s", 0, 0.01, lo=1, hi=1000)
        for i, k in enumerate("abcde"):
            r("a", "NEXT", "s", 0.1 * i + 0.02, 0.1 * i + 0.03, reply=i + 1, key=k)
        r("a", "NEXT", "s", 0.6, 0.61, reply=6)
        r("a", "NEXT", "s", 2.0, 2.01, reply=4)
        self.assertCaught(r.h, "uniqueness", 4)

    def test_voided_number_told_again(self):
        r = Rec()
        r("a", "CREATE", "s", 0, 0.01, lo=1, hi=100)
        r("a", "NEXT", "s", 0.02, 0.03, reply=1, key="k")
        r("a", "VOID", "s", 0.04, 0.05, n=1, reason="x")
        r("a", "NEXT", "s", 0.06, 0.07, reply=1, key="k")   # the same holder, but voided
        v = self.assertCaught(r.h, "uniqueness", 1)
        self.assertIn("voided", str(v[0]))

    def test_reserve_then_keyed_next_is_final(self):
        """The gapless NEXT KEY bug: the key's NEXT makes its reservation final,
        so the TTL running out must not hand the number to anyone else."""
        r = Rec()
        r("a", "CREATE", "g", 0, 0.01, lo=1, hi=100, mode="gapless")
        r("a", "RESERVE", "g", 0.02, 0.03, reply=1, ttl=1, key="k")
        r("a", "NEXT", "g", 0.04, 0.05, reply=1, key="k")
        r("b", "NEXT", "g", 1.30, 1.31, reply=1)
        self.assertCaught(r.h, "uniqueness", 1)
        # without the keyed NEXT the same history is fine: the TTL ran out
        r2 = Rec()
        r2("a", "CREATE", "g", 0, 0.01, lo=1, hi=100, mode="gapless")
        r2("a", "RESERVE", "g", 0.02, 0.03, reply=1, ttl=1, key="k")
        r2("b", "NEXT", "g", 1.30, 1.31, reply=1)
        self.assertClean(r2.h)

    def test_reservation_given_away_while_held(self):
        r = Rec(reserve_ttl=300)
        r("a", "CREATE", "g", 0, 0.01, lo=1, hi=100, mode="gapless")
        r("a", "RESERVE", "g", 0.02, 0.03, reply=1)                 # held for 300 s
        r("b", "RESERVE", "g", 0.50, 0.51, reply=1, ttl=10)
        self.assertCaught(r.h, "uniqueness", 1)

    def test_failed_release_does_not_end_the_hold(self):
        r = Rec()
        r("a", "CREATE", "g", 0, 0.01, lo=1, hi=100, mode="gapless")
        r("a", "RESERVE", "g", 0.02, 0.03, reply=1, ttl=60)
        r("a", "RELEASE", "g", 0.04, 0.05, reply="ERR no", status="fail", n=1)
        r("b", "NEXT", "g", 0.06, 0.07, reply=1)
        self.assertCaught(r.h, "uniqueness", 1)
        r2 = Rec()
        r2("a", "CREATE", "g", 0, 0.01, lo=1, hi=100, mode="gapless")
        r2("a", "RESERVE", "g", 0.02, 0.03, reply=1, ttl=60)
        r2("a", "RELEASE", "g", 0.04, 0.05, n=1)
        r2("b", "NEXT", "g", 0.06, 0.07, reply=1)
        self.assertClean(r2.h)

    def test_confirmed_number_given_away_after_its_ttl(self):
        r = Rec()
        r("a", "CREATE", "g", 0, 0.01, lo=1, hi=100, mode="gapless")
        r("a", "RESERVE", "g", 0.02, 0.03, reply=1, ttl=1, key="k")
        r("a", "CONFIRM", "g", 0.04, 0.05, n=1, key="k")
        r("b", "NEXT", "g", 2.0, 2.01, reply=1)
        self.assertCaught(r.h, "uniqueness", 1)

    def test_final_number_released(self):
        r = Rec()
        r("a", "CREATE", "g", 0, 0.01, lo=1, hi=100, mode="gapless")
        r("a", "NEXT", "g", 0.02, 0.03, reply=1)
        r("a", "RELEASE", "g", 0.04, 0.05, n=1)
        v = self.assertCaught(r.h, "uniqueness", 1)
        self.assertIn("released", str(v[0]))

    def test_forged_release_then_reissue(self):
        """A reservation released by someone else than its holder (the forged
        UNDELIVERED bug) shows as the number told to two holders."""
        r = Rec(reserve_ttl=300)
        r("a", "CREATE", "g", 0, 0.01, lo=1, hi=100, mode="gapless")
        r("a", "RESERVE", "g", 0.02, 0.03, reply=1)
        r("x", "RELEASE", "g", 0.04, 0.05, n=1)   # not a's RELEASE: it does not end a's hold
        r("b", "NEXT", "g", 0.06, 0.07, reply=1)
        self.assertCaught(r.h, "uniqueness", 1)

    # ---- containment and shape ----------------------------------------------------

    def test_number_outside_the_ranges(self):
        r = Rec()
        r("a", "CREATE", "s", 0, 0.01, lo=1, hi=10)
        r("a", "NEXT", "s", 0.02, 0.03, reply=[9, 11], count=3)
        self.assertCaught(r.h, "containment", 11)

    def test_range_counts_from_addrange_invoke(self):
        r = Rec()
        r("a", "CREATE", "s", 0, 0.01, lo=1, hi=10)
        r("b", "NEXT", "s", 0.02, 0.03, reply=100)
        r("a", "ADDRANGE", "s", 0.04, 0.05, lo=100, hi=200)
        self.assertCaught(r.h, "containment", 100)
        r2 = Rec()
        r2("a", "CREATE", "s", 0, 0.01, lo=1, hi=10)
        r2("a", "ADDRANGE", "s", 0.02, 0.10, lo=100, hi=200)
        r2("b", "NEXT", "s", 0.03, 0.04, reply=100)            # overlapping the ADDRANGE: may be after it
        self.assertClean(r2.h)

    def test_old_incarnation_number_after_pipelined_drop_create(self):
        """The cached DROP/CREATE bug: on one connection, DROP, CREATE and NEXT
        are executed in order, so the NEXT must come from the new range."""
        r = Rec()
        r("p", "CREATE", "c", 0, 0.01, lo=1, hi=10, mode="cached", cache=10)
        r("p", "NEXT", "c", 0.02, 0.03, reply=1)
        r("p", "DROP", "c", 0.04, 0.08)
        r("p", "CREATE", "c", 0.04, 0.08, lo=5000, hi=6000, mode="cached", cache=10)
        r("p", "NEXT", "c", 0.04, 0.08, reply=[2, 6], count=5)
        self.assertCaught(r.h, "containment", 2)
        # from another client whose request overlapped the DROP, an old number is possible
        r2 = Rec()
        r2("p", "CREATE", "c", 0, 0.01, lo=1, hi=10, mode="cached", cache=10)
        r2("p", "DROP", "c", 0.04, 0.08)
        r2("p", "CREATE", "c", 0.04, 0.08, lo=5000, hi=6000, mode="cached", cache=10)
        r2("q", "NEXT", "c", 0.05, 0.06, reply=2)
        self.assertClean(r2.h)

    def test_count_reply_of_the_wrong_size(self):
        r = Rec()
        r("a", "CREATE", "s", 0, 0.01, lo=1, hi=100)
        r("a", "NEXT", "s", 0.02, 0.03, reply=[1, 4], count=5)
        self.assertCaught(r.h, "shape")
        r2 = Rec()
        r2("a", "CREATE", "s", 0, 0.01, lo=1, hi=100)
        r2("a", "NEXT", "s", 0.02, 0.03, reply=[1, 3, 2, 3], count=5)   # overlapping runs
        self.assertCaught(r2.h, "shape")

    # ---- strict order -------------------------------------------------------------

    def test_strict_order_violation(self):
        r = Rec()
        r("a", "CREATE", "s", 0, 0.01, lo=1, hi=100)
        r("a", "NEXT", "s", 0.02, 0.03, reply=10)
        r("b", "NEXT", "s", 0.04, 0.05, reply=5)
        self.assertCaught(r.h, "order", 5)

    def test_strict_order_same_connection_pipelined(self):
        r = Rec()
        r("a", "CREATE", "s", 0, 0.01, lo=1, hi=100)
        r("a", "NEXT", "s", 0.02, 0.05, reply=10)
        r("a", "NEXT", "s", 0.02, 0.05, reply=5)     # pipelined after it on one connection
        self.assertCaught(r.h, "order", 5)

    def test_strict_order_leniency(self):
        r = Rec()
        r("a", "CREATE", "s", 0, 0.01, lo=500, hi=600)
        r("a", "ADDRANGE", "s", 0.01, 0.02, lo=1, hi=100)   # a later range with lower numbers
        r("a", "NEXT", "s", 0.03, 0.04, reply=[599, 600, 1, 1], count=3)
        r("b", "NEXT", "s", 0.05, 0.06, reply=2)
        r("a", "NEXT", "s", 0.07, 0.09, reply=4)              # concurrent with the next one
        r("b", "NEXT", "s", 0.08, 0.10, reply=3)
        r("c", "NEXT", "s", 0.11, 0.12, reply=5, key="k")    # a first keyed NEXT ...
        r("c", "NEXT", "s", 0.13, 0.14, reply=5, key="k")    # ... replayed later: not a new number
        r("c", "NEXT", "s", 0.15, 0.16, reply=6)
        self.assertClean(r.h)
        r("d", "NEXT", "s", 0.17, 0.18, reply=[598, 598, 7, 8], count=3)   # 598 after 600 was acknowledged
        self.assertCaught(r.h, "order", 598)
        r2 = Rec()
        r2("a", "CREATE", "c", 0, 0.01, lo=1, hi=100, mode="cached")
        r2("a", "NEXT", "c", 0.02, 0.03, reply=10)
        r2("b", "NEXT", "c", 0.04, 0.05, reply=5)
        self.assertClean(r2.h)

    # ---- durability -------------------------------------------------------------------

    def test_after_restart(self):
        r = Rec()
        r("a", "CREATE", "s", 0, 0.01, lo=1, hi=100)
        r("a", "NEXT", "s", 0.02, 0.03, reply=[1, 10], count=10)
        first = r("a", "NEXT", "s", 2.0, 2.01, reply=11)
        self.assertEqual(r.h.check_after_restart("s", first), [])
        self.assertEqual(r.h.check_after_restart("s", 11, before=r.h.t0 + 1.0), [])
        v = r.h.check_after_restart("s", 7, before=r.h.t0 + 1.0)
        self.assertEqual([x.check for x in v], ["durability"])
        self.assertIn("durability", self.checks(r.h))

    # ---- ledger ------------------------------------------------------------------------

    def gapless(self):
        r = Rec()
        r("a", "CREATE", "g", 0, 0.01, lo=1, hi=100, mode="gapless")
        r("a", "NEXT", "g", 0.02, 0.03, reply=[1, 3], count=3)
        r("a", "RESERVE", "g", 0.04, 0.05, reply=4, ttl=60)
        r("a", "RESERVE", "g", 0.06, 0.07, reply=5, ttl=60)
        r("a", "RELEASE", "g", 0.08, 0.09, n=5)
        r("a", "VOID", "g", 0.10, 0.11, n=3, reason="x")
        return r

    def describe(self, issued, nxt):
        return [b"name", b"g", b"ranges", [[1, 100]], b"next", nxt, b"issued", issued, b"mode", b"gapless"]

    def test_ledger_clean(self):
        r = self.gapless()
        gaps = [[3, 3, b"voided", b"x", 1], [4, 4, b"reserved", b"reserved", 1], [5, 5, b"released", b"released", 1]]
        self.assertEqual(r.h.check_ledger("g", self.describe(5, 5), gaps), [])
        self.assertClean(r.h)

    def test_ledger_number_nobody_holds(self):
        r = self.gapless()
        gaps = [[3, 3, b"voided", b"x", 1], [4, 4, b"reserved", b"reserved", 1], [5, 5, b"released", b"released", 1]]
        v = r.h.check_ledger("g", self.describe(6, 5), gaps)     # 6 final, told to nobody
        self.assertEqual([x.check for x in v], ["ledger"], v)
        self.assertIn("neither held final", str(v[0]))

    def test_ledger_unknown_request_explains_a_number(self):
        r = self.gapless()
        r("b", "NEXT", "g", 0.2, 0.3, reply="EOF", status="unknown")
        gaps = [[3, 3, b"voided", b"x", 1], [4, 4, b"reserved", b"reserved", 1], [5, 5, b"released", b"released", 1]]
        self.assertEqual(r.h.check_ledger("g", self.describe(6, 5), gaps), [])
        self.assertEqual(len(r.h.check_ledger("g", self.describe(7, 5), gaps)), 1)

    def test_ledger_final_listed_as_released(self):
        r = self.gapless()
        gaps = [[2, 2, b"released", b"released", 1], [3, 3, b"voided", b"x", 1], [4, 4, b"reserved", b"reserved", 1],
                [5, 5, b"released", b"released", 1]]
        v = r.h.check_ledger("g", self.describe(5, 2), gaps)
        self.assertIn("GAPS lists it as released", " ".join(map(str, v)))
        self.assertIn("DESCRIBE says NEXT would give 2", " ".join(map(str, v)))

    def test_ledger_final_past_the_high_water_mark(self):
        r = self.gapless()
        v = r.h.check_ledger("g", self.describe(2, 3), [])
        self.assertTrue(any("past the high-water mark" in str(x) for x in v), v)

    # ---- reporting ------------------------------------------------------------------------

    def test_assert_ok_fails_the_test(self):
        r = Rec()
        r("a", "CREATE", "s", 0, 0.01, lo=1, hi=100)
        r("a", "NEXT", "s", 0.02, 0.03, reply=1)
        r("b", "NEXT", "s", 0.04, 0.05, reply=1)
        with self.assertRaises(AssertionError) as cm:
            r.h.assert_ok(self)
        self.assertIn("violation", str(cm.exception))
        clean = Rec()
        clean("a", "CREATE", "s", 0, 0.01, lo=1, hi=100)
        clean.h.assert_ok(self)

    def test_call_classifies_replies(self):
        class Err(object):
            def __init__(self, text):
                self.text = text
        h = History()
        replies = iter([1, Err("ERR no such sequence"), Err("TRYAGAIN outcome unknown: retry with the same KEY")])

        def send(*argv):
            return next(replies)

        def broken(*argv):
            raise ConnectionResetError("reset")
        self.assertEqual(h.call("a", send, "NEXT", "s").status, "ok")
        self.assertEqual(h.call("a", send, "NEXT", "s").status, "fail")
        self.assertEqual(h.call("a", send, "NEXT", "s", key="k").status, "unknown")
        op = h.call("a", broken, "RESERVE", "g", ttl=5, key="k")
        self.assertEqual(op.status, "unknown")
        self.assertEqual(op.argv(), ["RESERVE", "g", "TTL", 5, "KEY", "k"])


if __name__ == "__main__":
    unittest.main()
