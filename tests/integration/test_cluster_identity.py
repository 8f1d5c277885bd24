"""test_cluster_identity — a data directory knows which cluster it belongs
to (issue 9, item 3), and damaged data is refused (item 2):

  - a single node with data grows into a three-node cluster (new nodes
    started with --initial-cluster-state existing, CLUSTER ADDed on it):
    its numbers carry on, through a kill -9 of the leader;
  - a single node's directory started with --cluster is refused, and two
    fresh founders beside it never serve (before: they formed a cluster of
    their own and issued 1 again); a cluster member's directory started as
    a single node is refused;
  - another cluster's directory at a member's address is refused on the
    Raft bus and the node stops, naming both clusters (before: it joined,
    won an election with its longer log and issued 31 after 106);
  - a flipped bit in a closed log segment: the node refuses to start and
    names the segment (before: libraft set it aside and the node served an
    empty state);
  - a member whose directory is lost is rebuilt from the others (CLUSTER
    REMOVE, an empty directory with --initial-cluster-state existing,
    CLUSTER ADD).
"""

import os
import shutil
import time

from harness import Raw, RespError, SeqdTestCase, Server, free_port, info_fields

FAST = ["--request-timeout-ms", "1500", "--election-timeout-ms", "300", "--heartbeat-ms", "30"]


def member(port, cluster=None, extra=(), data_dir=None, name="node"):
    args = list(FAST) + list(extra)
    if cluster is not None:
        args = ["--cluster", cluster] + args
    return Server(args=args, port=port, data_dir=data_dir, name=name, fixed_port=True)


def next_until(c, name, timeout=15.0):
    """NEXT name, retried through elections; the number."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            r = c.cmd("NEXT", name)
        except (OSError, EOFError):
            r = None
        if isinstance(r, int):
            return r
        if time.monotonic() > deadline:
            raise AssertionError("NEXT %s never answered a number: %r" % (name, r))
        time.sleep(0.1)


def ask(port, *cmd, timeout=15.0):
    """One command on a fresh connection, retried while the node is not
    reachable or has no leader yet; the reply."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with Raw(port, timeout=5) as c:
                r = c.cmd(*cmd)
            if not (isinstance(r, RespError) and
                    (r.startswith("TRYAGAIN") or r.startswith("CLUSTERDOWN no leader"))):
                return r
        except (OSError, EOFError):
            r = None
        if time.monotonic() > deadline:
            return r
        time.sleep(0.1)


class ClusterIdentityTest(SeqdTestCase):

    def own(self, s):
        self._servers.append(s)
        self.addCleanup(s.cleanup)
        return s

    def test_grow_single_node_into_cluster_with_data(self):
        ports = [free_port() for _ in range(3)]
        cl = ",".join("127.0.0.1:%d" % p for p in ports)
        a = self.own(member(ports[0], name="single"))
        a.start()
        with Raw(a.port) as c:
            self.assertEqual(c.cmd("CREATE", "s", 1, 1000000), "OK")
            self.assertEqual([c.cmd("NEXT", "s") for _ in range(5)], [1, 2, 3, 4, 5])
        joiners = [self.own(member(p, cl, ["--initial-cluster-state", "existing"], name="joiner"))
                   for p in ports[1:]]
        for j in joiners:
            j.start()
        for p in ports[1:]:
            self.assertEqual(ask(a.port, "CLUSTER", "ADD", "127.0.0.1:%d" % p), "OK")
        issued = [1, 2, 3, 4, 5]
        for j in joiners:
            with Raw(j.port) as c:
                issued.append(next_until(c, "s"))
        self.assertEqual(issued, list(range(1, 8)), "numbers carry on through the new members")
        # Every member holds the data itself (INFO keyspace reads the local state).
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            seqs = [info_fields(ask(j.port, "INFO", "keyspace")).get("sequences") for j in joiners]
            if seqs == ["1", "1"]:
                break
            time.sleep(0.1)
        self.assertEqual(seqs, ["1", "1"])
        # From now on the grown node is a cluster member: without --cluster it is refused.
        a.stop()
        a.spawn()
        self.assertEqual(a.proc.wait(20), 1)
        self.assertIn("belongs to a cluster", a.log_since_start())
        a.args = ["--cluster", cl] + a.args
        a.start()
        for s in [a] + joiners:
            with Raw(s.port) as c:
                issued.append(next_until(c, "s"))
        # kill -9 of the leader: the other two carry on, no number twice
        lead = None
        deadline = time.monotonic() + 10
        while lead is None and time.monotonic() < deadline:
            for s in [a] + joiners:
                r = ask(s.port, "ROLE", timeout=2)
                if isinstance(r, list) and r and r[0] in (b"leader", "leader"):
                    lead = s
            time.sleep(0.05)
        self.assertIsNotNone(lead)
        lead.kill9()
        for s in [a] + joiners:
            if s is not lead:
                with Raw(s.port) as c:
                    issued.append(next_until(c, "s"))
        self.assertEqual(len(set(issued)), len(issued), issued)
        self.assertEqual(issued, sorted(issued), issued)
        self.assertEqual(issued[:10], list(range(1, 11)))

    def test_single_node_data_started_as_member_is_refused(self):
        ports = [free_port() for _ in range(3)]
        cl = ",".join("127.0.0.1:%d" % p for p in ports)
        a = self.own(member(ports[0], name="single"))
        a.start()
        with Raw(a.port) as c:
            self.assertEqual(c.cmd("CREATE", "s", 1, 1000), "OK")
            self.assertEqual([c.cmd("NEXT", "s") for _ in range(5)], [1, 2, 3, 4, 5])
        a.stop()
        a.args = ["--cluster", cl] + a.args
        a.spawn()
        self.assertEqual(a.proc.wait(20), 1)
        log = a.log_since_start()
        self.assertIn("holds a single node's data", log)
        self.assertIn("--initial-cluster-state existing", log)
        # Two fresh founders beside it, and the single node back as it was:
        # they met no node that answers as one of theirs, so they never serve.
        fresh = [self.own(member(p, cl, name="fresh")) for p in ports[1:]]
        for f in fresh:
            f.start()
        a.args = list(FAST)
        a.start()
        time.sleep(2.0)
        for f in fresh:
            r = ask(f.port, "CREATE", "s", 1, 1000, timeout=4)
            self.assertIsInstance(r, RespError, r)
            self.assertTrue(r.startswith("CLUSTERDOWN forming"), r)
            r = ask(f.port, "NEXT", "s", timeout=4)
            self.assertIsInstance(r, RespError, r)
            fields = info_fields(ask(f.port, "INFO", "cluster"))
            self.assertEqual(fields.get("cluster_formed"), "0")
            self.assertIn("127.0.0.1:%d" % (ports[0] + 10000), fields.get("cluster_waiting_for", ""))
        with Raw(a.port) as c:
            self.assertEqual(c.cmd("NEXT", "s"), 6, "the single node kept its data")
        # A single node opens no bus port: the founders never even reach it.
        self.assertNotIn("raft bus: connection from", a.log_text())
        self.assertNotIn("listening on 127.0.0.1:%d" % (ports[0] + 10000), a.log_text())

    def test_foreign_data_directory_is_refused(self):
        ports = [free_port() for _ in range(3)]
        cl = ",".join("127.0.0.1:%d" % p for p in ports)
        x = [self.own(member(p, cl, name="x")) for p in ports]
        for s in x:
            s.spawn()
        for s in x:
            s.wait_ready()
        self.assertEqual(ask(ports[0], "CREATE", "s", 1, 1000), "OK")
        with Raw(ports[0]) as c:
            got_x = [next_until(c, "s") for _ in range(30)]
        self.assertEqual(got_x, list(range(1, 31)))
        for s in x:
            s.stop()
        y = [self.own(member(p, cl, name="y")) for p in ports]
        for s in y:
            s.spawn()
        for s in y:
            s.wait_ready()
        self.assertEqual(ask(ports[0], "CREATE", "s", 1, 1000), "OK")
        with Raw(ports[0]) as c:
            got_y = [next_until(c, "s") for _ in range(106)]
        self.assertEqual(got_y, list(range(1, 107)))
        roles = {s: ask(s.port, "ROLE") for s in y}
        lead = [s for s, r in roles.items() if r[0] in (b"leader", "leader")][0]
        follower = [s for s in y if s is not lead][0]
        i = y.index(follower)
        follower.stop()
        stale = self.own(member(ports[i], cl, data_dir=x[i].data_dir, name="stale"))
        stale.spawn()
        self.assertEqual(stale.proc.wait(20), 2, stale.log_tail())
        log = stale.log_since_start()
        self.assertIn("belong to another", log)
        self.assertIn("refuses to serve", log)
        lead.kill9()
        # Y has one node of three: no leader, no number at all (before: 31..35)
        live = [s for s in y if s.alive()][0]
        r = ask(live.port, "NEXT", "s", timeout=3)
        self.assertIsInstance(r, RespError, r)
        # Y's own nodes come back and Y goes on from 107.
        lead.start()
        follower.start()
        with Raw(live.port) as c:
            self.assertEqual(next_until(c, "s"), 107)

    def test_cluster_member_data_started_as_single_is_refused(self):
        ports = [free_port() for _ in range(3)]
        cl = ",".join("127.0.0.1:%d" % p for p in ports)
        nodes = [self.own(member(p, cl)) for p in ports]
        for s in nodes:
            s.spawn()
        for s in nodes:
            s.wait_ready()
        self.assertEqual(ask(ports[0], "CREATE", "s", 1, 1000), "OK")
        nodes[2].stop()
        nodes[2].args = list(FAST)
        nodes[2].spawn()
        self.assertEqual(nodes[2].proc.wait(20), 1)
        self.assertIn("belongs to a cluster", nodes[2].log_since_start())
        with open(os.path.join(nodes[2].data_dir, "identity")) as f:
            text = f.read()
        self.assertIn("kind cluster", text)

    def test_corrupt_log_segment_is_refused_with_its_name(self):
        s = self.start_server("--snapshot-threshold", "100000")
        with Raw(s.port) as c:
            c.cmd("CREATE", "s", 1, 1000)
            for _ in range(40):
                c.cmd("NEXT", "s")
        time.sleep(1.2)  # <dir>/applied is brought up to date once a second
        s.stop()
        s.start()  # a clean start closes the open segments
        with Raw(s.port) as c:
            self.assertEqual(c.cmd("NEXT", "s"), 41)
        s.stop()
        raft = os.path.join(s.data_dir, "raft")
        closed = sorted(f for f in os.listdir(raft) if "-" in f and f[0].isdigit())
        big = max(closed, key=lambda f: os.path.getsize(os.path.join(raft, f)))
        intact = s.data_dir + "-intact"
        shutil.copytree(s.data_dir, intact, ignore=shutil.ignore_patterns("seqd.lock"))
        self.addCleanup(shutil.rmtree, intact, True)
        path = os.path.join(raft, big)
        with open(path, "r+b") as f:
            data = bytearray(f.read())
            data[len(data) // 2] ^= 0x20
            f.seek(0)
            f.write(data)
        s.spawn()
        self.assertEqual(s.proc.wait(20), 1)
        log = s.log_since_start()
        self.assertIn(big, log)
        self.assertIn("refuses to serve from damaged data", log)
        self.assertFalse([f for f in os.listdir(raft) if f.startswith("corrupt-")],
                         "the segment was set aside instead of refused")
        good = self.start_server(data_dir=intact)
        with Raw(good.port) as c:
            self.assertEqual(c.cmd("NEXT", "s"), 42)

    def test_member_with_lost_directory_is_rebuilt_from_the_others(self):
        """The documented procedure: CLUSTER REMOVE the member on the leader,
        start it on an empty directory with --initial-cluster-state
        existing, CLUSTER ADD it. (Restarting it on an empty directory with
        its old flags is what Raft forbids: the leader still counts the
        entries the lost directory had acknowledged.)"""
        c = self.start_cluster(3, args=FAST + ["--snapshot-threshold", "64",
                                               "--snapshot-trailing", "16"])
        lead = c.wait_stable_leader()
        with Raw(lead.port) as r:
            self.assertEqual(r.cmd("CREATE", "s", 1, 100000), "OK")
            for _ in range(300):
                r.cmd("NEXT", "s")
        victim = [s for s in c.nodes if s is not lead][0]
        victim.stop()
        moved = victim.data_dir + "-damaged"
        os.rename(victim.data_dir, moved)
        self.addCleanup(shutil.rmtree, moved, True)
        os.mkdir(victim.data_dir)
        self.assertEqual(ask(lead.port, "CLUSTER", "REMOVE", victim.address), "OK")
        victim.args = victim.args + ["--initial-cluster-state", "existing"]
        victim.start()
        self.assertEqual(ask(lead.port, "CLUSTER", "ADD", victim.address), "OK")
        deadline = time.monotonic() + 15
        seqs = None
        while time.monotonic() < deadline:
            seqs = info_fields(ask(victim.port, "INFO", "keyspace")).get("sequences")
            if seqs == "1":
                break
            time.sleep(0.1)
        self.assertEqual(seqs, "1", "the rebuilt member has the state again")
        with open(os.path.join(lead.data_dir, "identity")) as f:
            cluster_line = [l for l in f.read().splitlines() if l.startswith("cluster ")][0]
        rebuilt = ""
        deadline = time.monotonic() + 5
        while cluster_line not in rebuilt and time.monotonic() < deadline:
            with open(os.path.join(victim.data_dir, "identity")) as f:
                rebuilt = f.read()
            time.sleep(0.1)
        self.assertIn(cluster_line, rebuilt)
        # With the third node gone, the leader and the rebuilt one carry on.
        third = [s for s in c.nodes if s is not lead and s is not victim][0]
        third.stop()
        with Raw(victim.port) as r:
            self.assertEqual(next_until(r, "s"), 301)

    def test_identity_file_lost_or_swapped(self):
        """A lost identity file is adopted from the log (which names the
        cluster); another directory's identity file beside this log is
        refused (exit 2), naming both clusters."""
        s = self.start_server()
        with Raw(s.port) as c:
            self.assertEqual(c.cmd("CREATE", "s", 1, 100), "OK")
            self.assertEqual(c.cmd("NEXT", "s"), 1)
        s.stop()
        path = os.path.join(s.data_dir, "identity")
        with open(path) as f:
            original = f.read()
        os.unlink(path)
        s.start()
        with Raw(s.port) as c:
            self.assertEqual(c.cmd("NEXT", "s"), 2)
        s.stop()
        def cluster_line(text):
            return [l for l in text.splitlines() if l.startswith("cluster ")][0]
        with open(path) as f:
            self.assertEqual(cluster_line(f.read()), cluster_line(original),
                             "the log gave the same cluster id back")
        other = self.start_server()
        other.stop()
        shutil.copy(os.path.join(other.data_dir, "identity"), path)
        s.spawn()
        self.assertEqual(s.proc.wait(20), 2, s.log_tail())
        self.assertIn("this node's log names cluster", s.log_since_start())
