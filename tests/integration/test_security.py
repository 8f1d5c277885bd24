"""test_security — nobody who does not belong speaks as a node (issue 11).

A cluster trusts a connection as another node's (its requests are not
forwarded again; FWD, UNDELIVERED and CLUSTER CLOCK are heard from it) only
once it proved it knows the cluster's peer key: CLUSTER CHALLENGE, then
CLUSTER PEER id proof. A client name proves nothing. Each hostile case is
followed by a check that the cluster still serves through a follower and
issued nothing twice."""

import os
import socket
import threading
import time

from harness import Raw, RespError, SeqdTestCase, Server, free_port, run_binary, session_dir

CLUSTER_ARGS = ["--request-timeout-ms", "2000"]


def s_(v):
    return v.decode() if isinstance(v, bytes) else v


def fields(reply):
    return {s_(reply[i]): s_(reply[i + 1]) for i in range(0, len(reply), 2)}


def is_error(reply, prefix="ERR"):
    return isinstance(reply, RespError) and reply.text.startswith(prefix)


class PeerProofTest(SeqdTestCase):

    def next_via(self, port, name, tries=50):
        """NEXT name through a node, retrying the answers that mean "later"."""
        with Raw(port) as r:
            for _ in range(tries):
                rep = r.cmd("NEXT", name)
                if not isinstance(rep, RespError):
                    return rep
                self.assertTrue(rep.text.startswith(("TRYAGAIN", "CLUSTERDOWN")), rep.text)
                time.sleep(0.1)
        self.fail("NEXT %s through port %d never succeeded" % (name, port))

    def test_forged_undelivered_cannot_steal_a_reservation(self):
        """The issue's case on a cluster: A reserves 1 with KEY holderA; B
        names itself like a forward link and reports 1 undelivered with
        GRANT, on the leader and on a follower; C reserves with KEY holderB.
        Every report is refused, C gets 2, CONFIRM 1 KEY holderB fails, and
        number 1 stays reserved."""
        c = self.start_cluster(3, args=CLUSTER_ARGS)
        lead = c.wait_stable_leader()
        follower = c.followers(lead)[0]
        with Raw(lead.port) as a:
            self.assertEqual(a.cmd("CREATE", "g", 1, 1000, "MODE", "gapless"), "OK")
            self.assertEqual(a.cmd("RESERVE", "g", "TTL", 600, "KEY", "holderA"), 1)
        refused = []
        for node in (lead, follower):
            with Raw(node.port) as b:
                self.assertEqual(b.cmd("CLIENT", "SETNAME", "seqd-forward"), "OK")
                for grant in (1, 2):
                    rep = b.cmd("UNDELIVERED", "g", 1, 1, "x", "GRANT", grant)
                    refused.append((node.port, grant, rep))
                rep = b.cmd("FWD", 1, int(time.time() * 1000) + 5000, "UNDELIVERED", "g", 1, 1, "x")
                refused.append((node.port, "FWD", rep))
                rep = b.cmd("CLUSTER", "CLOCK", 12345, int(time.time() * 1000))
                refused.append((node.port, "CLOCK", rep))
        accepted = [r for r in refused if not is_error(r[2])]
        self.assertEqual(accepted, [], "node-only commands accepted from a named client")
        with Raw(lead.port) as r:
            self.assertEqual(fields(r.cmd("LOOKUP", "g", 1)).get("state"), "reserved")
            self.assertEqual(r.cmd("RESERVE", "g", "TTL", 600, "KEY", "holderB"), 2)
            self.assertTrue(is_error(r.cmd("CONFIRM", "g", 1, "KEY", "holderB")))
            self.assertEqual(r.cmd("CONFIRM", "g", 1, "KEY", "holderA"), "OK")
        # the cluster's own forward links still work: a follower forwards
        with Raw(follower.port) as r:
            self.assertEqual(r.cmd("CREATE", "s", 1, 100), "OK")
        self.assertEqual([self.next_via(follower.port, "s") for _ in range(3)], [1, 2, 3])

    def test_wrong_or_missing_proof_closes_the_connection(self):
        """CLUSTER PEER without a challenge, with a wrong proof, with a
        proof for another nonce, or twice for one nonce: an error, and the
        connection is closed; the challenge is 32 fresh hex digits each
        time. Afterwards the cluster still serves through a follower."""
        c = self.start_cluster(3, args=CLUSTER_ARGS)
        lead = c.wait_stable_leader()
        follower = c.followers(lead)[0]
        with Raw(lead.port) as r:
            self.assertEqual(r.cmd("CREATE", "s", 1, 100), "OK")
        # once a follower forwards, both hold the peer key (else PEER says TRYAGAIN)
        self.assertEqual(self.next_via(follower.port, "s"), 1)
        for node in (lead, follower):
            with Raw(node.port) as r:
                rep = r.cmd("CLUSTER", "PEER", 1, "0" * 64)
                self.assertTrue(is_error(rep), rep)
                self.assertTrue(r.closed_by_server(), "PEER without CHALLENGE left the connection open")
            with Raw(node.port) as r:
                n1 = s_(r.cmd("CLUSTER", "CHALLENGE"))
                n2 = s_(r.cmd("CLUSTER", "CHALLENGE"))
                for n in (n1, n2):
                    self.assertRegex(n, r"^[0-9a-f]{32}$")
                self.assertNotEqual(n1, n2)
                rep = r.cmd("CLUSTER", "PEER", 1, "ab" * 32)
                self.assertEqual(rep.text if isinstance(rep, RespError) else rep, "ERR peer proof refused")
                self.assertTrue(r.closed_by_server(), "a wrong proof left the connection open")
            with Raw(node.port) as r:
                r.cmd("CLUSTER", "CHALLENGE")
                rep = r.cmd("CLUSTER", "PEER", 1, "not-hex")
                self.assertTrue(is_error(rep), rep)
                self.assertTrue(r.closed_by_server())
            with Raw(node.port) as r:
                # after a refusal nothing of a node's is granted: UNDELIVERED still refused
                rep = r.cmd("UNDELIVERED", "g", 1, 1, "x")
                self.assertTrue(is_error(rep), rep)
        self.assertEqual([self.next_via(follower.port, "s") for _ in range(2)], [2, 3])
        info = s_(Raw(lead.port).cmd("INFO", "stats"))
        self.assertRegex(info, r"peer_proofs_refused:[1-9]")

    def test_thousand_wrong_proofs_leave_the_cluster_serving(self):
        """A thousand connections each try one wrong proof on the leader;
        meanwhile a follower keeps forwarding, and no number comes twice."""
        c = self.start_cluster(3, args=CLUSTER_ARGS)
        lead = c.wait_stable_leader()
        follower = c.followers(lead)[0]
        with Raw(lead.port) as r:
            self.assertEqual(r.cmd("CREATE", "s", 1, 10 ** 6), "OK")
        got = [self.next_via(follower.port, "s")]  # the leader holds the peer key now
        for i in range(1000):
            sock = socket.create_connection(("127.0.0.1", lead.port), timeout=5)
            sock.sendall(b"*2\r\n$7\r\nCLUSTER\r\n$9\r\nCHALLENGE\r\n"
                         b"*4\r\n$7\r\nCLUSTER\r\n$4\r\nPEER\r\n$1\r\n7\r\n$64\r\n" + b"f" * 64 + b"\r\n")
            data = b""
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
            sock.close()
            self.assertIn(b"-ERR peer proof refused", data)
            if i % 100 == 0:
                got.append(self.next_via(follower.port, "s"))
        got += [self.next_via(follower.port, "s") for _ in range(5)]
        self.assertEqual(len(set(got)), len(got), got)
        self.assertEqual(got, sorted(got))


def secret_file(text=None):
    import os as _os
    from harness import session_dir
    path = _os.path.join(session_dir(), "secret-%d" % time.monotonic_ns())
    with open(path, "w") as f:
        f.write((text if text is not None else _os.urandom(32).hex()) + "\n")
    return path


def forge(port, payload, then_fake_proof):
    """One forged bus connection: the payload, optionally a made-up proof and
    a 2^40-byte "message" after the reply, then read until the node closes."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        s.sendall(payload)
        if then_fake_proof:
            s.settimeout(2)
            try:
                s.recv(4096)
                s.sendall(b"\x00" * 32 + (1 << 40).to_bytes(8, "little") + b"\x00" * 1024)
            except OSError:
                pass
        s.settimeout(3)
        try:
            while s.recv(65536):
                pass
        except OSError:
            pass
    finally:
        s.close()


def rss_kb(server):
    with open("/proc/%d/status" % server.pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def bus_hello(version, raft_id, cluster_hex, address, addr_len=None, nonce=b""):
    """A connector's bus hello as transport.h lays it out (little endian)."""
    import struct
    cluster = bytes.fromhex(cluster_hex) if cluster_hex else bytes(16)
    flags = 1 if cluster_hex else 0
    addr = address.encode()
    return (b"SEQDBUS\0" + struct.pack("<HHHH", version, flags, len(addr) if addr_len is None else addr_len, 0) +
            struct.pack("<Q", raft_id) + cluster + struct.pack("<Q", 0) + addr + nonce)


class ClusterSecretTest(SeqdTestCase):
    next_via = PeerProofTest.next_via

    def cluster_id(self, node):
        info = s_(Raw(node.port).cmd("INFO", "cluster"))
        return dict(l.split(":", 1) for l in info.split("\r\n") if ":" in l).get("cluster_id")

    def test_members_with_the_secret_form_and_a_stranger_is_kept_out(self):
        """Three members share a secret and serve; a fourth, CLUSTER ADDed
        with another secret, never gets in (its handshakes fail both ways)
        and the three keep serving."""
        path = secret_file()
        c = self.start_cluster(3, args=CLUSTER_ARGS + ["--cluster-secret-file", path])
        lead = c.wait_stable_leader()
        follower = c.followers(lead)[0]
        with Raw(lead.port) as r:
            self.assertEqual(r.cmd("CREATE", "s", 1, 1000), "OK")
        self.assertEqual([self.next_via(follower.port, "s") for _ in range(3)], [1, 2, 3])
        stranger = c.new_node(args=["--cluster-secret-file", secret_file()])
        with Raw(lead.port, timeout=15) as r:
            rep = r.cmd("CLUSTER", "ADD", "127.0.0.1:%d" % stranger.port)
        self.assertTrue(is_error(rep), rep)
        time.sleep(0.5)
        self.assertIn("does not know the cluster secret", lead.log_since_start() + stranger.log_since_start())
        self.assertEqual(self.next_via(follower.port, "s"), 4)
        self.assertIsNone(role_leader(stranger))

    def test_forged_bus_peers_never_reach_raft(self):
        """On a member's bus: a hello with a voter's id and the right cluster
        id but no secret (version 1), the same as version 2 with a made-up
        proof, an address length past the bound, a huge length prefix, and
        garbage: each is closed before raft reads a byte, the refusals are
        counted, the node's memory stays flat and the cluster serves."""
        path = secret_file()
        c = self.start_cluster(3, args=CLUSTER_ARGS + ["--cluster-secret-file", path])
        lead = c.wait_stable_leader()
        follower = c.followers(lead)[0]
        with Raw(lead.port) as r:
            self.assertEqual(r.cmd("CREATE", "s", 1, 10 ** 6), "OK")
        self.assertEqual(self.next_via(follower.port, "s"), 1)
        target = follower
        cid = self.cluster_id(target)
        voter = [n for n in c.nodes if n is not target][0]
        voter_id = (127 << 40) | (1 << 16) | (voter.port + 10000)  # config_raft_id of 127.0.0.1:P+10000
        voter_addr = "127.0.0.1:%d" % (voter.port + 10000)
        before = int(info_of(target, "cluster")["bus_refused_connections"])
        rss0 = rss_kb(target)
        attempts = [
            bus_hello(1, voter_id, cid, voter_addr),
            bus_hello(2, voter_id, cid, voter_addr, nonce=b"\x01" * 16),
            bus_hello(2, voter_id, cid, voter_addr, addr_len=65535),
            b"\xff" * 64,
            b"SEQDBUS\0" + b"\x02\x00\x01\x00" + b"\xff\xff\xff\xff" + b"\xff" * 40,
        ]
        # all at once (below the transport's 64 half-open handshakes): each waits
        # out at most the handshake timeout, so one after another took 20 s
        threads = [threading.Thread(target=forge, args=(target.port + 10000, payload, i % len(attempts) == 1))
                   for i, payload in enumerate(attempts * 8)]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        time.sleep(0.3)
        after = int(info_of(target, "cluster")["bus_refused_connections"])
        self.assertGreaterEqual(after - before, 32, "refusals not counted")
        self.assertLess(rss_kb(target) - rss0, 20 * 1024, "the node's memory grew")
        got = [self.next_via(follower.port, "s") for _ in range(5)]
        self.assertEqual(got, [2, 3, 4, 5, 6])
        self.assertTrue(target.alive())

    def test_unproven_hellos_tell_nothing(self):
        """Hellos without a proof that name the other voters' bus addresses
        and another cluster: before, the node believed them at once, found
        most of its voters "foreign" and stopped itself (exit 2). Now only a
        proven peer's verdict counts: the node keeps serving."""
        path = secret_file()
        c = self.start_cluster(3, args=CLUSTER_ARGS + ["--cluster-secret-file", path])
        lead = c.wait_stable_leader()
        follower = c.followers(lead)[0]
        with Raw(lead.port) as r:
            self.assertEqual(r.cmd("CREATE", "s", 1, 1000), "OK")
        self.assertEqual(self.next_via(follower.port, "s"), 1)
        jobs = []
        for target in c.nodes:
            for other in c.nodes:
                if other is not target:
                    addr = "127.0.0.1:%d" % (other.port + 10000)
                    oid = (127 << 40) | (1 << 16) | (other.port + 10000)
                    for _ in range(3):
                        hello = bus_hello(2, oid, os.urandom(16).hex(), addr, nonce=os.urandom(16))
                        jobs.append(threading.Thread(target=forge, args=(target.port + 10000, hello, False)))
        for th in jobs:
            th.start()
        for th in jobs:
            th.join()
        time.sleep(1.5)  # past several watch ticks: a believed refusal would have stopped a node
        for node in c.nodes:
            self.assertTrue(node.alive(), "a node stopped on unproven hellos:\n" + node.log_tail(3000))
        self.assertEqual([self.next_via(follower.port, "s") for _ in range(2)], [2, 3])

    def test_non_loopback_members_need_a_secret(self):
        d = os.path.join(session_dir(), "never-made-secret")
        p = run_binary(["--dir", d, "--port", "7701", "--cluster", "127.0.0.1:7701,10.99.0.2:7701"])
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--cluster-secret-file", p.stderr)
        self.assertIn("10.99.0.2", p.stderr)
        for bad in (secret_file("short"), os.path.join(session_dir(), "no-such-secret")):
            p = run_binary(["--dir", d, "--port", "7701", "--cluster", "127.0.0.1:7701",
                            "--cluster-secret-file", bad])
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(bad, p.stderr)
        self.assertFalse(os.path.exists(d))
        # with --cluster-insecure yes the same list starts (it then waits for its peer)
        port = free_port()
        s = self.start_server("--cluster", "127.0.0.1:%d,10.99.0.2:7701" % port,
                              "--cluster-insecure", "yes", port=port)
        self.assertEqual(Raw(s.port).cmd("PING"), "PONG")


def role_leader(node):
    try:
        r = Raw(node.port, timeout=2).cmd("ROLE")
    except OSError:
        return None
    return r[1] if isinstance(r, list) and len(r) > 1 and r[1] else None


def info_of(node, section):
    info = s_(Raw(node.port).cmd("INFO", section))
    return dict(l.split(":", 1) for l in info.split("\r\n") if ":" in l)


class NetnsServer:
    """lab_server: one seqd in a network namespace of its own (see below)."""

    def lab_server(self, *args):
        return ProtectedModeTest.lab_server(self, *args)


class ProtectedModeTest(SeqdTestCase):
    """Redis's protected mode: without a password, a client from off the
    machine gets -DENIED and is disconnected. The client here sits in the
    root network namespace, the server in its own (test_cluster's NetnsLab:
    a veth pair, no loopback between them)."""

    def lab_server(self, *args):
        from test_cluster import NetnsLab
        lab = NetnsLab(1)
        lab.setup()
        self.addCleanup(lab.teardown)
        port = free_port()
        s = Server(args=list(args), bind=lab.ips[0], prefix=lab.prefix(0), port=port, fixed_port=True)
        self._servers.append(s)
        self.addCleanup(s.cleanup)
        s.spawn()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection((lab.ips[0], port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.05)
        return lab.ips[0], port

    def test_no_password_remote_client_is_denied(self):
        ip, port = self.lab_server()
        with Raw(port, host=ip) as r:
            rep = r.cmd("PING")
            self.assertTrue(is_error(rep, "DENIED Running in protected mode"), rep)
            self.assertIn("--requirepass-file", rep.text)
            self.assertIn("--protected-mode no", rep.text)
            self.assertTrue(r.closed_by_server())
        with Raw(port, host=ip) as r:
            self.assertTrue(is_error(r.cmd("CREATE", "a", 1, 10), "DENIED"))

    def test_protected_mode_off_or_a_password_lets_remote_clients_in(self):
        ip, port = self.lab_server("--protected-mode", "no")
        with Raw(port, host=ip) as r:
            self.assertEqual(r.cmd("CREATE", "a", 1, 10), "OK")
            self.assertEqual(r.cmd("NEXT", "a"), 1)

    def test_with_a_password_remote_clients_log_in(self):
        path = os.path.join(session_dir(), "pm-pw-%d" % time.monotonic_ns())
        with open(path, "w") as f:
            f.write("remote-pw\n")
        ip, port = self.lab_server("--requirepass-file", path)
        with Raw(port, host=ip) as r:
            self.assertTrue(is_error(r.cmd("NEXT", "a"), "NOAUTH"))
            self.assertEqual(r.cmd("AUTH", "remote-pw"), "OK")
            self.assertEqual(r.cmd("CREATE", "a", 1, 10), "OK")
            self.assertEqual(r.cmd("NEXT", "a"), 1)


class ReadmeSecureExampleTest(SeqdTestCase):

    def test_the_readme_secure_cluster_works_as_written(self):
        """The README's secure three-node block, run with bash as written
        (only its port base moved to free ports, and the binary under test
        behind ../build/seqd): the follower issues, a client without the
        password gets NOAUTH."""
        from harness import run_readme_block
        p, lines = run_readme_block("secure-example", [k for k in range(3)] + [10000 + k for k in range(3)], 90)
        self.assertEqual(lines, ["202043200000000", "202043200000001", "NOAUTH Authentication required."],
                         p.stdout + p.stderr)


class GrowOffLoopbackTest(NetnsServer, SeqdTestCase):
    """A single node bound off loopback opens its bus only when CLUSTER ADD
    gives it members: without a secret that bus would take any peer's word,
    so the ADD is refused."""

    def test_grow_off_loopback_needs_a_secret(self):
        ip, port = self.lab_server("--protected-mode", "no")
        with Raw(port, host=ip) as r:
            rep = r.cmd("CLUSTER", "ADD", "%s:%d" % (ip, port + 1))
            self.assertTrue(is_error(rep, "ERR a single node bound off loopback"), rep)
            self.assertIn("--cluster-secret-file", rep.text)
            self.assertEqual(r.cmd("CREATE", "a", 1, 10), "OK")  # and it serves on
