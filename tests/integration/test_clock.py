"""test_clock — a leader with a wrong clock, under Debian's libfaketime
(docs/clock.md): its error lasts no longer than its clock, reservations keep
their whole TTL and keys their retention whatever the wall clock does, a
jump is visible in the log and INFO, and in a cluster a node whose clock is
off from the others' does not lead.

Needs the `faketime` package (scripts/install-deps.sh installs it); each
test skips itself, saying so, when libfaketime is missing."""

import os
import tempfile
import time
import unittest

from harness import Raw, RespError, SeqdTestCase, info_fields
from history import History

LIBFAKETIME = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"
DAY_MS = 86400 * 1000


def faked(offset_file):
    """A prefix that runs seqd under libfaketime with the offset read from
    offset_file on every clock read ("+0", "+2d", "-1d" ...): the wall clock
    jumps when the test rewrites the file, the monotonic clock stays real."""
    return ["env", "LD_PRELOAD=" + LIBFAKETIME, "FAKETIME_TIMESTAMP_FILE=" + offset_file,
            "FAKETIME_NO_CACHE=1", "FAKETIME_DONT_FAKE_MONOTONIC=1"]


def set_offset(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text + "\n")
    os.replace(path + ".tmp", path)


def clock_info(server):
    return info_fields(server.cli("INFO", "clock")[1])


def s_(v):
    return v.decode() if isinstance(v, bytes) else v


def lookup(c, name, n):
    r = c.cmd("LOOKUP", name, n)
    assert isinstance(r, list), "LOOKUP %s %r -> %r" % (name, n, r)
    return {s_(r[i]): s_(r[i + 1]) for i in range(0, len(r), 2)}


@unittest.skipUnless(os.path.exists(LIBFAKETIME), "libfaketime is not installed (apt-get install faketime)")
class ClockTest(SeqdTestCase):

    def offset_file(self, text="+0"):
        fd, path = tempfile.mkstemp(prefix="faketime-")
        os.close(fd)
        set_offset(path, text)
        self.addCleanup(lambda: os.path.exists(path) and os.unlink(path))
        return path

    def test_fast_clock_on_restart_does_not_outlive_it(self):
        """One restart under a clock two days fast, one entry, then a normal
        restart: the window an hour away is open again, the 24 h KEY still
        replays its number, a reservation's TTL did not run during either
        clock change, and a TTL 1 reservation lapses after a second."""
        h = History(reserve_ttl=300)
        s = self.start_server()
        offset = self.offset_file("+0")
        end_s = int(time.time()) + 3600
        with Raw(s.port) as c:
            for op in (h.invoke("a", "CREATE", "s", lo=1, hi=1000),
                       h.invoke("a", "CREATE", "g", lo=1, hi=1000, mode="gapless")):
                h.ok(op, c.cmd(*op.argv()))
            self.assertEqual(c.cmd("CREATE", "w", 1, 100, "NOTAFTER", end_s), "OK")
            self.assertEqual(h.call("a", c.cmd, "NEXT", "s", key="k").reply, 1)
            self.assertEqual(h.call("a", c.cmd, "RESERVE", "g", ttl=600, key="held").reply, 1)
        s.kill9()
        s.prefix = faked(offset)
        set_offset(offset, "+2d")
        s.start()
        with Raw(s.port) as c:
            c.cmd("DESCRIBE", "w")  # one entry under the fast clock
            r = c.cmd("NEXT", "w")  # judged by that clock: the range has expired
            self.assertIsInstance(r, RespError)
            self.assertTrue(r.startswith("EXHAUSTED"), r)
            self.assertEqual(lookup(c, "g", 1)["state"], "reserved")
            fast = clock_info(s)
        s.kill9()
        s.prefix = []
        s.start()
        with Raw(s.port) as c:
            self.assertEqual(c.cmd("NEXT", "w"), 1)  # the error ended with its clock
            self.assertEqual(h.call("a", c.cmd, "NEXT", "s", key="k").reply, 1)
            self.assertEqual(h.call("a", c.cmd, "RESERVE", "g", ttl=600, key="held").reply, 1)
            self.assertEqual(lookup(c, "g", 1)["state"], "reserved")
            n = h.call("a", c.cmd, "RESERVE", "g", ttl=1).reply
            self.assertEqual(n, 2)
            self.assertEqual(lookup(c, "g", n)["state"], "reserved")
            time.sleep(1.3)
            self.assertEqual(lookup(c, "g", n)["state"], "released")
            self.assertEqual(h.call("a", c.cmd, "NEXT", "g").reply, n)
            # what INFO said under the fast clock, and says now
            self.assertGreater(int(fast["clock_local_ms"]), time.time() * 1000 + DAY_MS)
            self.assertGreater(int(fast["clock_replicated_ms"]), time.time() * 1000 + DAY_MS)
            info = clock_info(s)
            # the normal leader's clock is two days behind the last entry's
            self.assertGreaterEqual(int(info["clock_leader_steps"]), 1)
            self.assertLess(int(info["clock_last_step_ms"]), -DAY_MS)
            self.assertLess(abs(int(info["clock_replicated_ms"]) - time.time() * 1000), 60000)
        self.assertIn("behind the last leader's", s.log_text())
        h.assert_ok(self)

    def test_clock_jumps_while_leading(self):
        """The leader's wall clock jumps forward two days and back while it
        runs: windows follow the clock both ways, a reservation keeps its
        TTL (it runs on the monotonic clock), a KEY keeps its retention, and
        each jump is logged and counted."""
        offset = self.offset_file("+0")
        s = self.start_server("--key-retention", "3600", prefix=faked(offset))
        h = History(reserve_ttl=300)
        end_s = int(time.time()) + 3600
        with Raw(s.port) as c:
            h.ok(h.invoke("a", "CREATE", "g", lo=1, hi=1000, mode="gapless"),
                 c.cmd("CREATE", "g", 1, 1000, "MODE", "gapless"))
            h.ok(h.invoke("a", "CREATE", "s", lo=1, hi=1000), c.cmd("CREATE", "s", 1, 1000))
            self.assertEqual(c.cmd("CREATE", "w", 1, 100, "NOTAFTER", end_s), "OK")
            self.assertEqual(h.call("a", c.cmd, "RESERVE", "g", ttl=3, key="r").reply, 1)
            self.assertEqual(h.call("a", c.cmd, "NEXT", "s", key="k").reply, 1)
            set_offset(offset, "+2d")
            time.sleep(0.05)
            r = c.cmd("NEXT", "w")
            self.assertIsInstance(r, RespError)
            self.assertTrue(r.startswith("EXHAUSTED"), r)
            self.assertEqual(lookup(c, "g", 1)["state"], "reserved")  # 2 days on the wall clock
            self.assertEqual(h.call("a", c.cmd, "NEXT", "s", key="k").reply, 1)  # and the key
            set_offset(offset, "+0")
            time.sleep(0.05)
            self.assertEqual(c.cmd("NEXT", "w"), 1)  # the clock came back: so did the window
            self.assertEqual(lookup(c, "g", 1)["state"], "reserved")
            deadline = time.monotonic() + 6
            while lookup(c, "g", 1)["state"] == "reserved" and time.monotonic() < deadline:
                time.sleep(0.1)
            self.assertEqual(lookup(c, "g", 1)["state"], "released")
            info = clock_info(s)
        self.assertGreaterEqual(int(info["clock_jumps"]), 2)
        self.assertIn("the wall clock jumped", s.log_text())
        h.assert_ok(self)

    def test_cluster_node_with_bad_clock_does_not_lead(self):
        """Three nodes, one with its wall clock 10 s ahead (--max-clock-offset-ms
        500): it does not stay leader (if it wins an election it proposes
        nothing and hands leadership to a follower that disagrees with it),
        the leader's INFO shows the clock quorum, and with the good leader
        killed the two left — one good clock, one bad, no majority to tell
        which — serve no write rather than judge windows by a wrong clock,
        until the third node is back. The history checks every number."""
        offset = self.offset_file("+10")
        cluster = self.start_cluster(3, args=["--request-timeout-ms", "1000"],
                                     prefixes=[faked(offset), (), ()], wait_leader=False)
        bad = cluster.nodes[0]
        h = History()

        def good_leader(timeout):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                lead = cluster.wait_stable_leader(timeout=timeout)
                if lead is not bad and clock_info(lead).get("clock_ok") == "1":
                    return lead
                time.sleep(0.1)
            self.fail("no leader with a good clock within %.0f s: %r" %
                      (timeout, {n.address: clock_info(n) for n in cluster.alive()}))

        leader = good_leader(20)
        info = clock_info(leader)
        self.assertGreaterEqual(int(info["clock_followers_agreeing"]), 1)
        self.assertEqual(info["max_clock_offset_ms"], "500")
        with Raw(leader.port) as c:
            h.ok(h.invoke("a", "CREATE", "s", lo=1, hi=10 ** 6), c.cmd("CREATE", "s", 1, 10 ** 6))
            for _ in range(5):
                self.assertIsInstance(h.call("a", c.cmd, "NEXT", "s").reply, int)
        # the bad node's own view: the leader's stamps are 10 s behind its clock
        deadline = time.monotonic() + 5
        while abs(int(clock_info(bad)["clock_offset_ms"])) < 5000 and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertGreater(abs(int(clock_info(bad)["clock_offset_ms"])), 5000)

        leader.kill9()
        good = [n for n in cluster.nodes if n is not bad and n is not leader][0]
        answered = []
        until = time.monotonic() + 4
        while time.monotonic() < until:
            for node in (good, bad):
                try:
                    with Raw(node.port, timeout=5) as c:
                        op = h.invoke(node.name, "NEXT", "s")
                        r = c.cmd(*op.argv())
                except OSError as e:
                    h.unknown(op, str(e))
                    continue
                if isinstance(r, RespError):
                    (h.unknown if "unknown" in r.text else h.fail)(op, r.text)
                    self.assertTrue(r.startswith("TRYAGAIN") or r.startswith("CLUSTERDOWN"), r)
                else:
                    h.ok(op, r)
                    answered.append((node.name, r))
            time.sleep(0.1)
        self.assertEqual(answered, [], "numbers were issued by two nodes whose clocks disagree")
        leader.start()
        lead = good_leader(20)
        self.assertIsNot(lead, bad)
        with Raw(lead.port) as c:
            self.assertIsInstance(h.call("a", c.cmd, "NEXT", "s").reply, int)
        if "hands leadership over" not in bad.log_text():
            # it never won an election: it was a follower throughout
            self.assertNotIn("leader in term", bad.log_text())
        h.assert_ok(self)
