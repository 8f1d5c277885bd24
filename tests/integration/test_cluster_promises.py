"""test_cluster_promises — what lies between the nodes keeps the guarantees
too (issue 9), each test a way it was once broken:

  - a leader that only pauses (SIGSTOP) under gapless load through
    followers: every number below the high-water mark is held by a client
    or listed by GAPS (the ledger invariant), none lost silently;
  - a request forwarded to a leader that then paused, answered "outcome
    unknown" by timeout, never takes effect later, after the client's retry
    went to the new leader;
  - a client dropped at the output cap: the replies the server still held
    are reported undelivered (gapless: released and issued again).

Every test records what the clients were told in a history.History and
ends with its checks."""

import socket
import sys
import threading
import time

from harness import Raw, RespError, SeqdTestCase, encode
from history import History

CLUSTER_ARGS = ["--request-timeout-ms", "1500"]


def out(text):
    sys.stdout.write(text)
    sys.stdout.flush()


def s_(v):
    return v.decode() if isinstance(v, bytes) else v


def fields(reply):
    return {s_(reply[i]): s_(reply[i + 1]) for i in range(0, len(reply), 2)}


def gaps_of(c, name):
    out, lo = [], None
    while True:
        r = c.cmd("GAPS", name) if lo is None else c.cmd("GAPS", name, lo, 2 ** 63 - 1)
        assert isinstance(r, list), r
        rows = [(g[0], g[1], s_(g[2]), s_(g[3])) for g in r]
        out += rows
        if len(rows) < 10000:
            return out
        lo = rows[-1][1] + 1


class ClusterPromisesTest(SeqdTestCase):

    def test_paused_leader_loses_no_gapless_number(self):
        """Three nodes, a gapless sequence; four clients pipeline NEXT (no
        KEY) through a follower while the leader is SIGSTOPped for 2.5 s and
        resumed. Afterwards every number below the high-water mark is held
        by a client that got it, or listed by GAPS (released, unknown):
        before, the paused leader wrote the replies of committed entries
        into links the follower had already closed, and numbers nobody had
        stayed final and unlisted."""
        self.pause_leader_under_load("g3", "gapless")

    def test_paused_leader_loses_no_cached_number(self):
        """The same with a cached sequence: the old leader's block is
        skipped by the new one, and what it served is held or listed."""
        self.pause_leader_under_load("c3", "cached")

    def pause_leader_under_load(self, name, mode):
        c = self.start_cluster(3, args=CLUSTER_ARGS)
        lead = c.wait_stable_leader()
        fol = [n for n in c.followers(lead)]
        h = History()
        with Raw(fol[0].port) as r:
            h.ok(h.invoke("setup", "CREATE", name, lo=1, hi=10 ** 9, mode=mode),
                 r.cmd("CREATE", name, 1, 10 ** 9, "MODE", mode))
        stop = threading.Event()

        def client(i):
            node = fol[0]
            while not stop.is_set():
                try:
                    with Raw(node.port, timeout=15) as conn:
                        ops = [h.invoke("c%d" % i, "NEXT", name) for _ in range(20)]
                        conn.send(b"".join(encode(*op.argv()) for op in ops))
                        for op in ops:
                            try:
                                rep = conn.read()
                            except (OSError, EOFError) as e:
                                h.unknown(op, repr(e))
                                continue
                            if isinstance(rep, RespError):
                                (h.unknown if "unknown" in rep.text else h.fail)(op, rep.text)
                            else:
                                h.ok(op, rep)
                except OSError:
                    time.sleep(0.05)

        threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(4)]
        for t in threads:
            t.start()
        time.sleep(2.0)
        lead.pause()
        time.sleep(2.5)
        lead.resume()
        time.sleep(1.5)
        stop.set()
        for t in threads:
            t.join(30)
        # quiesce: every report (undelivered, lost) made it into the log
        time.sleep(3.0)
        leader = c.wait_stable_leader()
        with Raw(lead.port) as r:
            info = r.cmd("INFO", "cache")
            info = info.decode() if isinstance(info, bytes) else info
            lost = [l for l in info.split("\r\n") if l.startswith("lost_used_reports:")]
            out(" [paused leader: %s] " % (lost[0] if lost else "no lost_used_reports"))
        with Raw(leader.port) as r:
            d = fields(r.cmd("DESCRIBE", name))
            gaps = gaps_of(r, name)
        self.assertGreater(int(d["issued"]), 100)
        unknown_ops = [op for op in h.ops if op.status == "unknown"]
        problems = h.check_ledger(name, {"issued": int(d["issued"]), "next": d.get("next"),
                                         "ranges": [[1, 10 ** 9]]},
                                  [list(g) + [0] for g in gaps], allow_unknown=False)
        self.assertEqual([str(p) for p in problems][:20], [],
                         "the ledger invariant broke after a leader pause (%s, %d unknown ops)" %
                         (mode, len(unknown_ops)))
        h.assert_ok(self)

    def test_stale_forwarded_request_never_takes_effect(self):
        """L leads; CREATE s; SIGSTOP L; DROP s and CREATE s 5000 6000,
        pipelined through follower F1, wait in L's socket, and F1 tells its
        client "outcome unknown"; the client retries through the new leader:
        DROP s, CREATE s 7000 8000, NEXT s KEY b -> 7000. Then SIGCONT L,
        kill -9 the new leader, and restart the third node with a long
        election timeout, so that L leads again while the stale requests are
        still within --request-timeout-ms: they never take effect, s keeps
        7000..8000 and KEY b keeps 7000. (It answered 5000 before: the
        stale requests waited in L's batcher and ran when it led again.)"""
        c = self.start_cluster(3, args=["--request-timeout-ms", "5000"])
        lead = c.wait_stable_leader()
        f1, f2 = c.followers(lead)
        h = History()
        with Raw(f1.port) as r:
            h.ok(h.invoke("a", "CREATE", "s", lo=1, hi=1000), r.cmd("CREATE", "s", 1, 1000))
        lead.pause()
        with Raw(f1.port, timeout=30) as r:
            ops = [h.invoke("stale", "DROP", "s"), h.invoke("stale", "CREATE", "s", lo=5000, hi=6000)]
            r.send(b"".join(encode(*op.argv()) for op in ops))
            time.sleep(0.3)
            new = c.wait_stable_leader(nodes=[f1, f2])
            with Raw(new.port) as r2:
                for op in (h.invoke("b", "DROP", "s"), h.invoke("b", "CREATE", "s", lo=7000, hi=8000)):
                    rep = r2.cmd(*op.argv())
                    if isinstance(rep, RespError):
                        self.assertIn("NOSEQ", rep.text)
                        h.fail(op, rep.text)
                    else:
                        h.ok(op, rep)
                self.assertEqual(h.call("b", r2.cmd, "NEXT", "s", key="b").reply, 7000)
            other = f1 if new is f2 else f2
            lead.resume()
            time.sleep(0.1)
            new.kill9()
            other.kill9()
            other.start(extra=["--election-timeout-ms", "8000", "--heartbeat-ms", "100"])
            replies = [r.read(), r.read()]
        for op, rep in zip(ops, replies):
            if isinstance(rep, RespError):
                (h.unknown if "unknown" in rep.text else h.fail)(op, rep.text)
            else:
                h.ok(op, rep)
        winner = c.wait_stable_leader(nodes=[lead, other], timeout=20)
        self.assertIs(winner, lead, "the case needs the paused leader to lead again")
        time.sleep(5.5)  # past the stale requests' own timeout: had they waited, they ran now
        with Raw(winner.port, timeout=10) as r:
            rep = r.cmd("NEXT", "s", "KEY", "b")
            d = r.cmd("DESCRIBE", "s")
        self.assertEqual(rep, 7000, "KEY b answered %r after the paused leader came back" % (rep,))
        self.assertIn(7000, [x for rng in fields(d)["ranges"] for x in rng])
        h.assert_ok(self)

    def test_output_cap_drop_reports_held_replies(self):
        """--client-output-max 65536, a gapless sequence, a client that
        pipelines NEXTs and does not read: it is dropped at the cap with a
        reset, so the replies the server still held and those its kernel had
        not had acknowledged are never sent; all those numbers are released
        (issued again, lowest first), none the client did read. Before, only
        the replies computed after the drop were released: 20513..244686
        stayed final and unlisted while the client had read 512."""
        s = self.start_server("--client-output-max", "65536")
        h = History()
        with Raw(s.port) as c:
            h.ok(h.invoke("setup", "CREATE", "g", lo=1, hi=10 ** 8, mode="gapless"),
                 c.cmd("CREATE", "g", 1, 10 ** 8, "MODE", "gapless"))
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(5)
        req = b"".join(encode("NEXT", "g") for _ in range(5000))
        try:
            for _ in range(200):
                sock.sendall(req)
        except OSError:
            pass  # reset at the cap
        data = b""
        try:
            while True:
                d = sock.recv(1 << 20)
                if not d:
                    break
                data += d
        except OSError:
            pass
        sock.close()
        received = [int(line[1:]) for line in data.split(b"\r\n") if line.startswith(b":")]
        for n in received:
            h.ok(h.invoke("reader", "NEXT", "g"), n)
        time.sleep(1.0)
        self.assertIn("client dropped at the output cap", s.log_text())
        with Raw(s.port) as c:
            d = fields(c.cmd("DESCRIBE", "g"))
            gaps = gaps_of(c, "g")
            issued = int(d["issued"])
            listed = {x for a, b, st, why in gaps for x in range(a, b + 1)}
            self.assertEqual({st for a, b, st, why in gaps}, {"released"}, gaps[:5])
            self.assertEqual(listed & set(received), set(), "a number the client read was released")
            unlisted = issued - len(listed) - len(received)
            # what is neither read nor released: at most one 4 KiB stretch
            # of replies around the point the client's host acknowledged
            self.assertLess(unlisted, 1000, "%d numbers of undelivered replies left final" % unlisted)
            self.assertEqual(c.cmd("NEXT", "g"), min(listed))  # issued again, lowest first
        problems = h.check_ledger("g", {"issued": issued, "ranges": [[1, 10 ** 8]]},
                                  [list(g) + [0] for g in gaps])
        self.assertLessEqual(len(problems), 1, [str(p) for p in problems][:3])

    def test_pipeline_across_hello_keeps_order(self):
        """Through a follower whose RESP3 link is warm (another client used
        it), one connection pipelines CREATE r1, HELLO 3, NEXT r1: the NEXT
        takes effect after the CREATE although the two travel on different
        links (it answered -NOSEQ before)."""
        c = self.start_cluster(3, args=CLUSTER_ARGS)
        lead = c.wait_stable_leader()
        fol = c.followers(lead)[0]
        with Raw(fol.port) as warm:
            warm.cmd("HELLO", "3")
            self.assertEqual(warm.cmd("CREATE", "warm", 1, 10), "OK")
            self.assertEqual(warm.cmd("NEXT", "warm"), 1)
        for i in range(5):
            with Raw(fol.port) as r:
                name = "r%d" % i
                r.send(encode("CREATE", name, 1, 100) + encode("HELLO", "3") + encode("NEXT", name))
                self.assertEqual(r.read(), "OK")
                hello = r.read()
                self.assertNotIsInstance(hello, RespError, hello)
                self.assertEqual(r.read(), 1, "NEXT %s ran before its CREATE" % name)
                # and back to RESP2 in the middle of a pipeline
                r.send(encode("DROP", name) + encode("HELLO", "2") + encode("NEXT", name))
                self.assertEqual(r.read(), "OK")
                r.read()
                rep = r.read()
                self.assertIsInstance(rep, RespError)
                self.assertTrue(rep.startswith("NOSEQ"), rep)

    def test_follower_becoming_leader_keeps_order(self):
        """kill -9 of the leader while each follower gets, on one connection,
        CREATE ra then NEXT ra every 2 ms: on the follower that wins the
        election, requests still waiting in its forwarder must take effect
        before newer ones that go straight to its own log: after +OK, every
        reply is the next number (it answered -NOSEQ in the middle before,
        then went on)."""
        c = self.start_cluster(3, args=CLUSTER_ARGS)
        lead = c.wait_stable_leader()
        fols = c.followers(lead)
        results = {}
        stop = threading.Event()

        def pipe(node, name):
            got = []
            with Raw(node.port, timeout=30) as r:
                r.send(encode("CREATE", name, 1, 10 ** 6))
                sent = 1
                t_end = time.monotonic() + 4.0
                while time.monotonic() < t_end and not stop.is_set():
                    r.send(encode("NEXT", name, "KEY", "k%d" % sent))
                    sent += 1
                    time.sleep(0.002)
                for _ in range(sent):
                    rep = r.read()
                    got.append(rep.text if isinstance(rep, RespError) else rep)
            results[name] = got

        threads = [threading.Thread(target=pipe, args=(f, "ra%d" % i), daemon=True)
                   for i, f in enumerate(fols)]
        for t in threads:
            t.start()
        time.sleep(0.5)
        lead.kill9()
        for t in threads:
            t.join(60)
        stop.set()
        for name, got in results.items():
            self.assertTrue(got, name)
            if got[0] != "OK":
                continue  # the CREATE itself was refused: nothing to order
            numbers = []
            for rep in got[1:]:
                if isinstance(rep, int):
                    numbers.append(rep)
                else:
                    self.assertFalse(rep.startswith("NOSEQ"),
                                     "%s: a NEXT ran before the CREATE that preceded it: %r" %
                                     (name, got[:40]))
            self.assertEqual(numbers, sorted(numbers), name)
            self.assertEqual(len(set(numbers)), len(numbers), name)

    def test_corrupt_snapshot_is_refused_with_its_name(self):
        """--snapshot-threshold 16, 61 NEXTs, stop; a flipped bit in the newest
        snapshot (it moved the cursor from 62 back to 30 before, and NEXT
        answered 30): the node refuses to start, naming the file; the intact
        copy of the directory starts and goes on past 61."""
        import os
        import shutil
        s = self.start_server("--snapshot-threshold", "16", "--snapshot-trailing", "16")
        with Raw(s.port) as c:
            c.cmd("CREATE", "s", 1, 1000)
            for _ in range(61):
                c.cmd("NEXT", "s")
        time.sleep(1.2)  # <dir>/applied is brought up to date once a second
        s.stop()
        raft = os.path.join(s.data_dir, "raft")
        snaps = sorted(f for f in os.listdir(raft) if f.startswith("snapshot-") and not f.endswith(".meta"))
        self.assertTrue(snaps, os.listdir(raft))
        intact = s.data_dir + "-intact"
        shutil.copytree(s.data_dir, intact, ignore=shutil.ignore_patterns("seqd.lock"))
        path = os.path.join(raft, snaps[-1])
        with open(path, "r+b") as f:
            data = bytearray(f.read())
            data[min(0x7b, len(data) - 1)] ^= 0x20
            f.seek(0)
            f.write(data)
        s.spawn()
        self.assertEqual(s.proc.wait(20), 1)
        self.assertIn("fails its check", s.log_since_start())
        self.assertIn(snaps[-1], s.log_since_start())
        good = self.start_server(data_dir=intact)
        with Raw(good.port) as c:
            self.assertEqual(c.cmd("NEXT", "s"), 62)
