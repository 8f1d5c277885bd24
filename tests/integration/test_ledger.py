"""test_ledger — VOID, GAPS and LOOKUP through real clients: a voided number
is reported with its reason, never issued again, and survives restarts (log
replay and snapshots)."""

import redis

from harness import Raw, SeqdTestCase


class LedgerTest(SeqdTestCase):

    def test_void_gaps_lookup(self):
        s = self.start_server()
        r = s.client()
        r.execute_command("CREATE", "inv", 100, 199)
        issued = [r.execute_command("NEXT", "inv") for _ in range(10)]
        self.assertEqual(issued, list(range(100, 110)))
        self.assertEqual(r.execute_command("VOID", "inv", 103, "printed twice"), b"OK")
        self.assertEqual(r.execute_command("VOID", "inv", 104, "printed twice"), b"OK")
        self.assertEqual(r.execute_command("VOID", "inv", 108, "customer cancelled"), b"OK")
        # voiding again changes nothing, keeps the first reason
        self.assertEqual(r.execute_command("VOID", "inv", 108, "other"), b"OK")
        gaps = r.execute_command("GAPS", "inv")
        # adjacent VOIDs share a run only when reason and time agree, so
        # compare number by number
        per_number = {n: (g[2], g[3]) for g in gaps for n in range(g[0], g[1] + 1)}
        self.assertEqual(per_number, {103: (b"voided", b"printed twice"),
                                      104: (b"voided", b"printed twice"),
                                      108: (b"voided", b"customer cancelled")})
        self.assertEqual([g[0] for g in gaps], sorted(g[0] for g in gaps))
        for g in gaps:
            self.assertGreater(g[4], 1_600_000_000_000)  # leader-stamped ms
        clipped = r.execute_command("GAPS", "inv", 104, 150)
        self.assertEqual([(g[0], g[1]) for g in clipped], [(104, 104), (108, 108)])
        self.assertEqual(r.execute_command("GAPS", "inv", 0, 99), [])
        look = r.execute_command("LOOKUP", "inv", 108)
        self.assertEqual(look[:4], [b"state", b"voided", b"reason", b"customer cancelled"])
        self.assertEqual(r.execute_command("LOOKUP", "inv", 105), [b"state", b"final"])
        self.assertEqual(r.execute_command("LOOKUP", "inv", 150), [b"state", b"not-issued"])
        # never issued again
        self.assertEqual(r.execute_command("NEXT", "inv"), 110)

    def test_errors(self):
        s = self.start_server()
        with Raw(s.port) as c:
            c.cmd("CREATE", "e", 1, 50)
            c.cmd("NEXT", "e")
            self.assertErr(c.cmd("VOID", "e", 2, "not yet"), "ERR")
            self.assertErr(c.cmd("VOID", "e", 1, ""), "ERR")
            self.assertErr(c.cmd("VOID", "e", 1, "x" * 201), "ERR")
            self.assertErr(c.cmd("VOID", "e", "one", "why"), "ERR")
            self.assertErr(c.cmd("VOID", "nope", 1, "why"), "NOSEQ")
            self.assertErr(c.cmd("VOID", "e", 1), "ERR wrong number of arguments")
            self.assertErr(c.cmd("GAPS", "e", 5, 1), "ERR")
            self.assertErr(c.cmd("GAPS", "e", 5), "ERR")
            self.assertErr(c.cmd("LOOKUP", "nope", 1), "NOSEQ")
            self.assertEqual(c.cmd("VOID", "e", 1, "ok now"), "OK")

    def test_ledger_survives_restart_and_snapshots(self):
        s = self.start_server("--snapshot-threshold", "16", "--snapshot-trailing", "16")
        r = s.client()
        r.execute_command("CREATE", "keep", 1, 10**9)
        for _ in range(200):
            r.execute_command("NEXT", "keep")
        voided = list(range(5, 200, 17))
        for n in voided:
            r.execute_command("VOID", "keep", n, "spoiled %d" % n)
        for _ in range(100):  # more entries, so snapshots include the ledger
            r.execute_command("NEXT", "keep")
        s.kill9()
        s.start()
        r = s.client()
        gaps = r.execute_command("GAPS", "keep")
        self.assertEqual([g[0] for g in gaps], voided)
        self.assertEqual([g[3] for g in gaps], [b"spoiled %d" % n for n in voided])
        self.assertEqual(r.execute_command("NEXT", "keep"), 301)

    def test_drop_discards_the_ledger_but_not_the_history(self):
        s = self.start_server()
        r = s.client()
        r.execute_command("CREATE", "d", 1, 100)
        for _ in range(5):
            r.execute_command("NEXT", "d")
        r.execute_command("VOID", "d", 2, "gone")
        r.execute_command("DROP", "d")
        r.execute_command("CREATE", "d", 1, 100)
        self.assertEqual(r.execute_command("GAPS", "d"), [])
        self.assertEqual(r.execute_command("NEXT", "d"), 6)
        with self.assertRaises(redis.ResponseError):
            r.execute_command("VOID", "d", 2, "from the old incarnation")

    def test_lookup_key(self):
        s = self.start_server()
        r = s.client()
        r.execute_command("CREATE", "lk", 1, 1000)
        got = r.execute_command("NEXT", "lk", "COUNT", 4, "KEY", "order-9")
        self.assertEqual(got, [1, 4])
        self.assertEqual(r.execute_command("LOOKUP", "lk", "KEY", "order-9"), [1, 4])
        self.assertIsNone(r.execute_command("LOOKUP", "lk", "KEY", "never-used"))
        with Raw(s.port) as c:
            self.assertErr(c.cmd("LOOKUP", "lk", "KEY", "has space"), "ERR")
            self.assertErr(c.cmd("LOOKUP", "lk", "KYE", "x"), "ERR")
            self.assertErr(c.cmd("LOOKUP", "nope", "KEY", "x"), "NOSEQ")
        # survives a crash (log replay)
        s.kill9()
        s.start()
        self.assertEqual(s.client().execute_command("LOOKUP", "lk", "KEY", "order-9"), [1, 4])
