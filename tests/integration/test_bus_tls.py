"""test_bus_tls — only members speak on the Raft bus (issue 11, item 6):
mutual TLS with --tls-cluster yes.

Three members on 127.0.0.1, .2 and .3, each with a certificate from one
CA that names its own IP. They form a cluster, forward, fail over. Then,
on a member's bus: a certificate from the same CA for another address
(127.0.0.9) that claims to be a voter, the same certificate claiming its
own address, a stranger CA's certificate for a member's IP, plaintext
hellos, garbage — each refused before raft reads a byte, counted, the
node's memory flat and the cluster serving. A member's own certificate
saying the same hello is the control: it is answered."""

import os
import socket
import ssl
import struct
import threading
import time

from harness import Cluster, Raw, RespError, SeqdTestCase, free_port, info_fields, run_binary, session_dir
from test_tls import openssl

IPS = ["127.0.0.1", "127.0.0.2", "127.0.0.3"]
_CERTS = {}


def certs():
    """A CA; node1..3 naming IPS; rogue (same CA, 127.0.0.9); stranger (another
    CA, naming 127.0.0.2); nameless (same CA, no IP at all)."""
    if _CERTS:
        return _CERTS
    d = os.path.join(session_dir(), "bus-certs")
    os.makedirs(d, exist_ok=True)
    p = lambda name: os.path.join(d, name)  # noqa: E731
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p(ca + ".key"), "-out",
                p(ca + ".crt"), "-days", "2", "-subj", "/CN=seqd bus " + ca)

    def leaf(name, ca, san):
        ext = p(name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\n" % san if san else "basicConstraints=CA:FALSE\n")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", p(name + ".key"), "-out",
                p(name + ".csr"), "-subj", "/CN=" + name)
        openssl("x509", "-req", "-in", p(name + ".csr"), "-CA", p(ca + ".crt"), "-CAkey", p(ca + ".key"),
                "-CAcreateserial", "-out", p(name + ".crt"), "-days", "2", "-extfile", ext)
        _CERTS[name] = (p(name + ".crt"), p(name + ".key"))

    for i, ip in enumerate(IPS + ["127.0.0.4"]):
        leaf("node%d" % (i + 1), "ca", "IP:%s,DNS:localhost" % ip)
    leaf("rogue", "ca", "IP:127.0.0.9")
    leaf("stranger", "other-ca", "IP:127.0.0.2")
    leaf("nameless", "ca", None)
    _CERTS["ca"] = p("ca.crt")
    return _CERTS


def node_tls_args(name):
    c = certs()
    return ["--tls-cluster", "yes", "--tls-cert-file", c[name][0], "--tls-key-file", c[name][1],
            "--tls-ca-cert-file", c["ca"]]


def raft_id(address):
    ip, port = address.split(":")
    a, b, c, d = (int(x) for x in ip.split("."))
    return ((a << 24 | b << 16 | c << 8 | d) << 16) | int(port)


def hello(rid, address, cluster=b""):
    """A connector's version-1 bus hello (transport.h)."""
    addr = address.encode()
    flags = 1 if cluster else 0
    return (b"SEQDBUS\0" + struct.pack("<HHHH", 1, flags, len(addr), 0) + struct.pack("<Q", rid) +
            (cluster or bytes(16)) + struct.pack("<Q", 0) + addr)


def bus_try(port, host, payload, cert=None, tls=True):
    """Connects to a bus (over TLS with cert, or plain), sends payload and
    returns (handshake_ok, bytes read before the node closed)."""
    raw = socket.create_connection((host, port), timeout=5)
    try:
        if tls:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE  # the node's side is what is under test
            if cert is not None:
                ctx.load_cert_chain(*cert)
            try:
                s = ctx.wrap_socket(raw)
            except (ssl.SSLError, OSError):
                return False, b""
        else:
            s = raw
        got = b""
        try:
            s.sendall(payload)
            s.settimeout(3)
            while len(got) < 4096:
                chunk = s.recv(4096)
                if not chunk:
                    break
                got += chunk
                if len(got) >= 8 and got.startswith(b"SEQDBUS\0") and len(got) >= 40:
                    break  # a reply: the control case
        except (ssl.SSLError, OSError):
            pass
        return True, got
    finally:
        raw.close()


def info(node, section="cluster"):
    with Raw(node.port, host=node.bind) as r:
        return info_fields(r.cmd("INFO", section))


class BusTlsTest(SeqdTestCase):
    def tls_cluster(self, args=()):
        ports = [free_port() for _ in IPS]
        c = Cluster(3, args=["--request-timeout-ms", "2000"] + list(args), binds=IPS, ports=ports)
        for i, s in enumerate(c.nodes):
            s.args += node_tls_args("node%d" % (i + 1))
        c.on_new_server = self._servers.append
        self._servers.extend(c.nodes)
        self.addCleanup(c.cleanup)
        c.start()
        return c

    def next_via(self, node, name, tries=80):
        with Raw(node.port, host=node.bind) as r:
            for _ in range(tries):
                rep = r.cmd("NEXT", name)
                if not isinstance(rep, RespError):
                    return rep
                self.assertTrue(rep.text.startswith(("TRYAGAIN", "CLUSTERDOWN")), rep.text)
                time.sleep(0.1)
        self.fail("NEXT %s through %s never succeeded" % (name, node.address))

    def test_members_form_forward_and_fail_over_over_tls(self):
        c = self.tls_cluster()
        lead = c.wait_stable_leader()
        with Raw(lead.port, host=lead.bind) as r:
            self.assertEqual(r.cmd("CREATE", "s", 1, 1000), "OK")
        follower = c.followers(lead)[0]
        self.assertEqual([self.next_via(follower, "s") for _ in range(3)], [1, 2, 3])
        for n in c.nodes:
            self.assertEqual(info(n)["bus_tls"], "1")
        # the bus speaks TLS only: a plaintext hello from a member's address is refused
        before = int(info(follower)["bus_refused_connections"])
        other = [n for n in c.nodes if n is not follower][0]
        bus = "%s:%d" % (other.bind, other.port + 10000)
        ok, got = bus_try(follower.port + 10000, follower.bind, hello(raft_id(bus), bus), tls=False)
        self.assertEqual(got, b"")
        time.sleep(0.2)
        self.assertGreater(int(info(follower)["bus_refused_connections"]), before)
        lead.kill9()
        new = c.wait_stable_leader(exclude=[lead])
        self.assertIsNot(new, lead)
        survivor = [n for n in c.alive() if n is not new][0]
        self.assertEqual(self.next_via(survivor, "s"), 4)
        self.assertEqual(self.next_via(new, "s"), 5)
        lead.start()
        c.wait_stable_leader()
        self.assertEqual(self.next_via(lead, "s"), 6)

    def test_a_joiner_catches_up_by_snapshot_over_tls(self):
        """Snapshots every 128 entries, 32 kept: a fourth member added later
        can only catch up by InstallSnapshot, which crosses the TLS proxy;
        it then serves, and every member applied the same log."""
        c = self.tls_cluster(args=["--snapshot-threshold", "128", "--snapshot-trailing", "32"])
        lead = c.wait_stable_leader()
        with Raw(lead.port, host=lead.bind) as r:
            self.assertEqual(r.cmd("CREATE", "s", 1, 10 ** 9), "OK")
            for i in range(600):
                self.assertEqual(r.cmd("NEXT", "s"), i + 1)
        n4 = c.new_node(args=node_tls_args("node4"), bind="127.0.0.4")
        with Raw(lead.port, host=lead.bind, timeout=30) as r:
            self.assertEqual(r.cmd("CLUSTER", "ADD", n4.address), "OK")
        c.members.append(n4)
        self.assertEqual(self.next_via(n4, "s"), 601)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            applied = {n.address: info(n, "raft")["raft_last_applied"] for n in c.members}
            if len(set(applied.values())) == 1:
                break
            time.sleep(0.1)
        self.assertEqual(len(set(applied.values())), 1, applied)
        self.assertIn("fsm: restored a snapshot", n4.log_since_start())
        self.assertEqual(self.next_via(c.followers(lead)[0], "s"), 602)

    def test_only_the_members_certificates_speak(self):
        c = self.tls_cluster()
        lead = c.wait_stable_leader()
        with Raw(lead.port, host=lead.bind) as r:
            self.assertEqual(r.cmd("CREATE", "s", 1, 10 ** 6), "OK")
        target = c.followers(lead)[0]
        self.assertEqual(self.next_via(target, "s"), 1)
        voter = lead
        voter_bus = "%s:%d" % (voter.bind, voter.port + 10000)
        cluster = bytes.fromhex(info(target)["cluster_id"])
        cert = certs()
        port, host = target.port + 10000, target.bind
        # the control: the voter's own certificate, its own claim, is answered
        ok, got = bus_try(port, host, hello(raft_id(voter_bus), voter_bus, cluster),
                          cert=cert["node%d" % (c.nodes.index(voter) + 1)])
        self.assertTrue(ok)
        self.assertTrue(got.startswith(b"SEQDBUS\0"), got)
        before = info(target)
        rss0 = target.rss_kb()
        rogue_bus = "127.0.0.9:%d" % (voter.port + 10000)
        cases = [
            # same CA, another address, claiming the voter (CVE-2021-37219's shape)
            (cert["rogue"], hello(raft_id(voter_bus), voter_bus, cluster), True),
            # same CA, its own address, the voter's id
            (cert["rogue"], hello(raft_id(voter_bus), rogue_bus, cluster), True),
            # same CA, its own address and id: not a member
            (cert["rogue"], hello(raft_id(rogue_bus), rogue_bus, cluster), True),
            # a certificate naming no IP
            (cert["nameless"], hello(raft_id(voter_bus), voter_bus, cluster), True),
            # another CA's certificate for a member's IP: no TLS session at all
            (cert["stranger"], hello(raft_id(voter_bus), voter_bus, cluster), False),
            # no certificate
            (None, hello(raft_id(voter_bus), voter_bus, cluster), False),
            # a forged address length and a 2^40 message length inside TLS
            (cert["rogue"], hello(raft_id(voter_bus), voter_bus, cluster)[:12] + b"\xff\xff" +
             hello(1, "x")[14:] + (1 << 40).to_bytes(8, "little") * 4, True),
        ]
        results = [None] * (len(cases) * 4)

        def run(i):
            crt, payload, _ = cases[i % len(cases)]
            results[i] = bus_try(port, host, payload, cert=crt)

        threads = [threading.Thread(target=run, args=(i,)) for i in range(len(results))]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        for i, (ok, got) in enumerate(results):
            expect_tls = cases[i % len(cases)][2]
            self.assertEqual(got, b"", "case %d was answered: %r" % (i % len(cases), got[:40]))
            if not expect_tls:
                # the handshake may look done to the client (TLS 1.3) but nothing follows
                self.assertEqual(got, b"")
        time.sleep(0.3)
        after = info(target)
        self.assertGreaterEqual(int(after["bus_refused_connections"]) - int(before["bus_refused_connections"]),
                                len(results))
        self.assertGreaterEqual(int(after["bus_refused_certificates"]) - int(before["bus_refused_certificates"]),
                                4 * 4)
        log = target.log_since_start()
        self.assertIn("its certificate does not name that IP", log)
        self.assertIn("not the member's address", log)
        self.assertLess(target.rss_kb() - rss0, 20 * 1024, "the node's memory grew")
        self.assertEqual([self.next_via(target, "s") for _ in range(3)], [2, 3, 4])
        self.assertEqual(c.wait_stable_leader(), lead, "a forged peer moved the leadership")

    def test_a_node_speaks_only_to_the_certificate_of_the_address_it_dials(self):
        """A member is down and something else listens on its bus address:
        with a certificate of the same CA for another IP, the members' TLS
        handshakes to it fail and no hello reaches it; with the member's own
        certificate (the control) hellos arrive."""
        c = self.tls_cluster()
        lead = c.wait_stable_leader()
        victim = c.followers(lead)[0]
        victim.kill9()
        addr = (victim.bind, victim.port + 10000)
        cert = certs()
        for name, expect in (("rogue", False), ("node%d" % (c.nodes.index(victim) + 1), True)):
            hellos, accepted = [], 0
            srv = socket.create_server(addr, reuse_port=False)
            srv.settimeout(0.2)
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(*cert[name])
            deadline = time.monotonic() + 3
            while time.monotonic() < deadline and not hellos:
                try:
                    conn, _ = srv.accept()
                except socket.timeout:
                    continue
                accepted += 1
                conn.settimeout(2)
                try:
                    with ctx.wrap_socket(conn, server_side=True) as t:
                        data = t.recv(8)
                        if data:
                            hellos.append(data)
                except (ssl.SSLError, OSError):
                    pass
            srv.close()
            if expect:
                self.assertTrue(hellos and hellos[0].startswith(b"SEQDBUS"), hellos)
            else:
                self.assertGreater(accepted, 0, "no member tried to connect")
                self.assertEqual(hellos, [], "a node sent its hello to a certificate for 127.0.0.9")
        self.assertTrue(lead.alive())

    def test_flags(self):
        cert = certs()
        d = os.path.join(session_dir(), "bus-tls-never-made")
        p = run_binary(["--dir", d, "--port", "7702", "--cluster", "127.0.0.1:7702,127.0.0.2:7702",
                        "--tls-cluster", "yes"])
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("--tls-cluster yes needs", p.stderr)
        p = run_binary(["--dir", d, "--tls-cluster", "maybe"])
        self.assertEqual(p.returncode, 2, p.stderr)
        # a certificate that does not name the node's own bus IP is a start-up error
        port = free_port()
        s = self.start_server("--cluster", "127.0.0.1:%d,127.0.0.2:%d" % (port, port),
                              *node_tls_args("node2"), port=port, wait=False)
        s.spawn()
        deadline = time.monotonic() + 10
        while s.alive() and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertFalse(s.alive())
        self.assertIn("does not name this node's bus IP 127.0.0.1", s.log_since_start())
        # certificates replace the secret off loopback: this list starts (and waits for its peer)
        port = free_port()
        s = self.start_server("--cluster", "127.0.0.1:%d,10.99.0.2:7701" % port, *node_tls_args("node1"),
                              port=port)
        self.assertEqual(Raw(s.port).cmd("PING"), "PONG")


class ReadmeTlsClusterTest(SeqdTestCase):
    def test_readme_tls_cluster_example_runs_as_written(self):
        """The README's three-node TLS block, with its port moved to a free one."""
        from harness import run_readme_block
        p, lines = run_readme_block("tls-cluster-example", (0, 1, 10000))
        self.assertEqual(lines, ["OK", "202043200000000", "202043200000001",
                                 "NOPERM this user has no permissions to run the 'drop' command"],
                         p.stdout + p.stderr)
