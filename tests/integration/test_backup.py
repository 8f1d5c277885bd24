"""test_backup — backup and restore that never reissue (issue 12, item 3).

seqd backup takes the state at one applied index from a running node
(leader or follower) under load, through AUTH and TLS; seqd inspect checks
its SHA-256 and shows what it holds; a flipped byte is refused; restore
refuses without an advance and says each sequence's rate; restored with
--advance into a new single node and into a new three-node cluster, no
number any client was given — before the backup or after it — is issued
again, the ledger shows the jump with its reason, the reservation comes
back released, and the new cluster has a new identity."""

import os
import subprocess
import threading
import time

from harness import Cluster, Raw, RespError, SeqdTestCase, free_port, info_fields, session_dir

BINARY = None


def seqd(*args, timeout=60):
    from harness import BINARY as b
    return subprocess.run([b] + list(args), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def path(name):
    return os.path.join(session_dir(), "%s-%d" % (name, time.monotonic_ns()))


def next_restored(port, name, tries=100):
    """NEXT name, retried while the node says its restore is not in force yet."""
    with Raw(port) as r:
        for _ in range(tries):
            rep = r.cmd("NEXT", name)
            if not (isinstance(rep, RespError) and rep.text.startswith(("TRYAGAIN", "CLUSTERDOWN"))):
                return rep
            time.sleep(0.05)
    return rep


class Issuer(threading.Thread):
    """NEXTs on one connection until stopped; every number answered is kept."""

    def __init__(self, port, name, host="127.0.0.1"):
        super().__init__(daemon=True)
        self.port, self.name, self.host = port, name, host
        self.got, self.stop_flag, self.errors = [], False, []

    def run(self):
        with Raw(self.port, host=self.host) as r:
            while not self.stop_flag:
                rep = r.cmd("NEXT", self.name)
                if isinstance(rep, int):
                    self.got.append(rep)
                elif not str(rep).startswith(("TRYAGAIN", "CLUSTERDOWN")):
                    self.errors.append(rep)

    def finish(self):
        self.stop_flag = True
        self.join(10)
        return self.got


class BackupTest(SeqdTestCase):
    def test_single_node_backup_inspect_restore(self):
        s = self.start_server()
        with Raw(s.port) as r:
            self.assertEqual(r.cmd("CREATE", "pol", 202043200000000, 202043210000000), "OK")
            self.assertEqual(r.cmd("CREATE", "inv", 1, 10 ** 9, "MODE", "gapless"), "OK")
            self.assertEqual(r.cmd("RESERVE", "inv", "TTL", 600, "KEY", "holderA"), 1)
            self.assertEqual(r.cmd("NEXT", "inv"), 2)
            self.assertEqual(r.cmd("RESERVE", "inv", "TTL", 600), 3)
            self.assertEqual(r.cmd("RELEASE", "inv", 3), "OK")  # released at the backup
        load = Issuer(s.port, "pol")
        load.start()
        time.sleep(0.5)
        out = path("single.bak")
        p = seqd("backup", "--from", "127.0.0.1:%d" % s.port, "--out", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("SHA-256 checked", p.stdout)
        time.sleep(0.5)  # numbers issued after the backup: not in it
        with Raw(s.port) as r:
            # the cluster that is lost hands the released number out first
            self.assertEqual(r.cmd("RESERVE", "inv", "TTL", 600, "KEY", "holderB"), 3)
            self.assertEqual(r.cmd("CONFIRM", "inv", 3, "KEY", "holderB"), "OK")
        seen = load.finish()
        self.assertEqual(load.errors, [])
        self.assertGreater(len(seen), 50)
        p = seqd("inspect", out)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("SHA-256 ok", p.stdout)
        self.assertIn("pol: mode strict", p.stdout)
        self.assertIn("inv: mode gapless", p.stdout)
        # a flipped byte anywhere is refused
        with open(out, "rb") as f:
            data = bytearray(f.read())
        bad = path("bad.bak")
        data[len(data) // 2] ^= 0x01
        with open(bad, "wb") as f:
            f.write(data)
        p = seqd("inspect", bad)
        self.assertEqual(p.returncode, 1)
        self.assertIn("SHA-256 does not match", p.stderr)
        p = seqd("restore", "--from", bad, "--dir", path("never"), "--advance", "1")
        self.assertNotEqual(p.returncode, 0)
        # no advance: refused, with the rates
        d = path("restored")
        p = seqd("restore", "--from", out, "--dir", d)
        self.assertEqual(p.returncode, 2)
        self.assertIn("refusing to restore without an advance", p.stderr)
        self.assertIn("pol:", p.stderr)
        self.assertFalse(os.path.exists(os.path.join(d, "restore.pending")))
        p = seqd("restore", "--from", out, "--dir", d, "--advance", "100000,inv=10")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("1 reservations released, 1 reserved or released numbers skipped", p.stdout)
        p2 = seqd("restore", "--from", out, "--dir", d, "--advance", "5")
        self.assertEqual(p2.returncode, 2, "restored into a directory that holds something")
        # --skip-reserved: the reservation is skipped too (its holder may have confirmed it)
        d3 = path("restored-skip")
        p3 = seqd("restore", "--from", out, "--dir", d3, "--advance", "100000,inv=10", "--skip-reserved")
        self.assertEqual(p3.returncode, 0, p3.stderr)
        self.assertIn("0 reservations released, 2 reserved or released numbers skipped", p3.stdout)
        s.stop()
        r2 = self.start_server(data_dir=d)
        with Raw(r2.port) as r:
            first = r.cmd("NEXT", "pol")
            for _ in range(50):  # the restore entry is applied a moment after the start
                if not isinstance(first, RespError):
                    break
                self.assertTrue(first.text.startswith("TRYAGAIN restoring"), first.text)
                time.sleep(0.05)
                first = r.cmd("NEXT", "pol")
            self.assertGreater(first, max(seen), "a number given before or after the backup came again")
            gap = r.cmd("LOOKUP", "pol", max(seen))
            self.assertEqual(gap[1], b"skipped", gap)
            self.assertIn(b"restored from a backup taken at", gap[3])
            self.assertEqual(r.cmd("LOOKUP", "inv", 1)[1], b"released")  # reserved at the backup
            # released at the backup, so maybe issued since (it was, to holderB): never again here
            released_then = r.cmd("LOOKUP", "inv", 3)
            self.assertEqual(released_then[1], b"skipped", released_then)
            self.assertIn(b"released then", released_then[3])
            self.assertEqual(r.cmd("LOOKUP", "inv", 4)[1], b"skipped")
            self.assertEqual(r.cmd("NEXT", "inv"), 1)  # the released reservation goes first
            self.assertEqual(r.cmd("NEXT", "inv"), 14)  # 3 and 4..13 skipped
        self.assertFalse(os.path.exists(os.path.join(d, "restore.pending")))
        r2.restart()  # the restore is in the log: a restart keeps it
        with Raw(r2.port) as r:
            self.assertEqual(r.cmd("NEXT", "pol"), first + 1)
        r2.stop()
        r3 = self.start_server(data_dir=d3)
        with Raw(r3.port) as r:
            held = r.cmd("LOOKUP", "inv", 1)
            for _ in range(50):
                if not isinstance(held, RespError):
                    break
                time.sleep(0.05)
                held = r.cmd("LOOKUP", "inv", 1)
            self.assertEqual(held[1], b"skipped", held)
            self.assertIn(b"its holder may have confirmed it", held[3])
            # the holder cannot confirm it here: the other cluster may have given it away
            self.assertIsInstance(r.cmd("CONFIRM", "inv", 1, "KEY", "holderA"), RespError)
            self.assertEqual(r.cmd("NEXT", "inv"), 14)  # neither 1 nor 3 comes again

    def test_backup_through_auth_and_tls_and_acl(self):
        from test_tls import certs
        c = certs()
        pw = path("pw")
        with open(pw, "w") as f:
            f.write("s3cret\n")
        tls = free_port()
        s = self.start_server("--requirepass-file", pw, "--tls-port", str(tls), "--tls-cert-file", c["server.crt"],
                              "--tls-key-file", c["server.key"], "--tls-auth-clients", "no")
        s.password = "s3cret"
        with Raw(s.port) as r:
            self.assertEqual(r.cmd("AUTH", "s3cret"), "OK")
            self.assertEqual(r.cmd("CREATE", "a", 1, 100), "OK")
            self.assertEqual(r.cmd("ACL", "SETUSER", "clerk", "on", ">pw2", "~*", "+@issue"), "OK")
        out = path("tls.bak")
        p = seqd("backup", "--from", "127.0.0.1:%d" % tls, "--out", out, "--tls", "--cacert", c["ca.crt"],
                 "--pass-file", pw)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = seqd("backup", "--from", "127.0.0.1:%d" % s.port, "--out", path("x.bak"))
        self.assertEqual(p.returncode, 1)
        self.assertIn("NOAUTH", p.stderr)
        pw2 = path("pw2")
        with open(pw2, "w") as f:
            f.write("pw2\n")
        p = seqd("backup", "--from", "127.0.0.1:%d" % s.port, "--out", path("y.bak"), "--user", "clerk",
                 "--pass-file", pw2)
        self.assertEqual(p.returncode, 1)
        self.assertIn("NOPERM", p.stderr)
        p = seqd("backup", "--from", "127.0.0.1:%d" % tls, "--out", path("z.bak"), "--tls", "--cacert",
                 c["other-ca.crt"], "--pass-file", pw)
        self.assertEqual(p.returncode, 1)
        self.assertIn("TLS", p.stderr)
        p = seqd("inspect", out)
        self.assertIn("2 users", p.stdout)  # users come back with the state


class ClusterBackupTest(SeqdTestCase):
    def cluster(self, args=()):
        c = Cluster(3, args=["--request-timeout-ms", "2000"] + list(args))
        c.on_new_server = self._servers.append
        self._servers.extend(c.nodes)
        self.addCleanup(c.cleanup)
        c.start()
        c.wait_stable_leader()
        return c

    def test_backup_under_load_and_restore_into_a_new_cluster(self):
        c = self.cluster()
        lead = c.wait_stable_leader()
        follower = c.followers(lead)[0]
        with Raw(lead.port) as r:
            self.assertEqual(r.cmd("CREATE", "pol", 1, 10 ** 12), "OK")
        loads = [Issuer(lead.port, "pol"), Issuer(follower.port, "pol")]
        for ld in loads:
            ld.start()
        time.sleep(0.7)
        backups = []
        for node in (follower, lead):
            out = path("cluster.bak")
            p = seqd("backup", "--from", "127.0.0.1:%d" % node.port, "--out", out)
            self.assertEqual(p.returncode, 0, p.stderr)
            backups.append(out)
        time.sleep(0.7)
        seen = sorted(n for ld in loads for n in ld.finish())
        self.assertEqual(len(seen), len(set(seen)))
        old_id = info_fields(Raw(lead.port).cmd("INFO", "cluster"))["cluster_id"]
        p = seqd("restore", "--from", backups[0], "--dir", path("x"))
        self.assertEqual(p.returncode, 2)
        # every founding member of a new cluster from the same file, 60 s at the recorded rate
        ports = [free_port() for _ in range(3)]
        dirs = [path("member%d" % i) for i in range(3)]
        for d in dirs:
            # the rate is the backup's last minute, which held only ~0.7 s of this load
            p = seqd("restore", "--from", backups[0], "--dir", d, "--advance-seconds", "3600")
            self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("numbers from", p.stdout)
        c2 = Cluster(3, args=["--request-timeout-ms", "2000"], ports=ports, name="restored")
        for node, d in zip(c2.nodes, dirs):
            node.data_dir = d
        c2.on_new_server = self._servers.append
        self._servers.extend(c2.nodes)
        self.addCleanup(c2.cleanup)
        # one member alone has no quorum: it serves nothing from the backup yet
        c2.nodes[0].start()
        with Raw(c2.nodes[0].port) as r:
            rep = r.cmd("NEXT", "pol")
            self.assertIsInstance(rep, RespError)
            self.assertTrue(rep.text.startswith(("TRYAGAIN", "CLUSTERDOWN")), rep.text)
        c2.start(c2.nodes[1:])
        lead2 = c2.wait_stable_leader()
        got = []
        for node in c2.nodes:
            with Raw(node.port) as r:
                for _ in range(50):
                    rep = r.cmd("NEXT", "pol")
                    if isinstance(rep, int):
                        got.append(rep)
                        break
                    time.sleep(0.1)
        self.assertEqual(len(got), 3, got)
        self.assertGreater(min(got), max(seen), "the restored cluster issued a number given before")
        self.assertEqual(len(set(got)), 3)
        new_id = info_fields(Raw(lead2.port).cmd("INFO", "cluster"))["cluster_id"]
        self.assertNotEqual(new_id, old_id)
        for d in dirs:
            self.assertFalse(os.path.exists(os.path.join(d, "restore.pending")), d)
        gaps = Raw(lead2.port).cmd("GAPS", "pol")
        self.assertTrue(any(b"restored from a backup" in row[3] for row in gaps if len(row) > 3), gaps)
        # the leader's backup restores too, into a single node
        d = path("single-from-leader")
        p = seqd("restore", "--from", backups[1], "--dir", d, "--advance", "1000000")
        self.assertEqual(p.returncode, 0, p.stderr)
        one = self.start_server(data_dir=d)
        self.assertGreater(next_restored(one.port, "pol"), max(seen))
