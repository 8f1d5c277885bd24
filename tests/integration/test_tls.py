"""test_tls — TLS for clients (issue 11, item 5), with Redis's flag names.

Certificates are made here with the openssl command (a CA, a server
certificate for 127.0.0.1, client certificates, and a stranger CA).
Real clients: redis-cli --tls --cacert, python3-redis ssl=True. Hostile:
plaintext sent to the TLS port, a handshake that stalls, TLS 1.1, a
certificate from another CA, a thousand garbage connections — each closed,
nobody else disturbed, memory flat."""

import os
import socket
import ssl
import subprocess
import time

import redis

from harness import Raw, RespError, SeqdTestCase, encode, free_port, info_fields, run_binary, session_dir

_CERTS = {}


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True, timeout=60)


def certs():
    """Paths of a CA, a server certificate (127.0.0.1, localhost), client
    certificates CN=sales and CN=nobody, and a stranger CA's client."""
    if _CERTS:
        return _CERTS
    d = os.path.join(session_dir(), "tls-certs")
    os.makedirs(d, exist_ok=True)
    p = lambda name: os.path.join(d, name)  # noqa: E731
    for ca in ("ca", "other-ca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", p(ca + ".key"), "-out",
                p(ca + ".crt"), "-days", "2", "-subj", "/CN=seqd test " + ca)
    with open(p("server.ext"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n")

    def leaf(name, cn, ca, ext=None):
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", p(name + ".key"), "-out",
                p(name + ".csr"), "-subj", "/CN=" + cn)
        args = ["x509", "-req", "-in", p(name + ".csr"), "-CA", p(ca + ".crt"), "-CAkey",
                p(ca + ".key"), "-CAcreateserial", "-out", p(name + ".crt"), "-days", "2"]
        openssl(*(args + (["-extfile", ext] if ext else [])))

    leaf("server", "localhost", "ca", p("server.ext"))
    leaf("sales", "sales", "ca")
    leaf("nobody", "nobody", "ca")
    leaf("stranger", "sales", "other-ca")
    _CERTS.update({k: p(k) for k in ("ca.crt", "server.crt", "server.key", "sales.crt", "sales.key",
                                      "nobody.crt", "nobody.key", "stranger.crt", "stranger.key",
                                      "other-ca.crt")})
    return _CERTS


def tls_args(port, auth="optional", extra=()):
    c = certs()
    return ["--tls-port", str(port), "--tls-cert-file", c["server.crt"], "--tls-key-file",
            c["server.key"], "--tls-ca-cert-file", c["ca.crt"], "--tls-auth-clients", auth] + list(extra)


def err(reply):
    return reply.text if isinstance(reply, RespError) else None


class TlsRaw(Raw):
    """Raw over TLS: the same RESP reader on a wrapped socket."""

    def __init__(self, port, cert=None, key=None, ca=None, timeout=10, version=None):
        self.sock = None
        ctx = ssl.create_default_context(cafile=ca or certs()["ca.crt"])
        if cert:
            ctx.load_cert_chain(cert, key)
        if version is not None:
            ctx.minimum_version = ctx.maximum_version = version
        raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.sock = ctx.wrap_socket(raw, server_hostname="127.0.0.1")
        self.buf = b""
        self.first_byte = None


class TlsTest(SeqdTestCase):

    def setUp(self):
        super().setUp()
        self.tp = free_port()
        self.s = self.start_server(*tls_args(self.tp))

    def cli(self, *args):
        p = subprocess.run(["redis-cli", "-p", str(self.tp), "--tls", "--cacert", certs()["ca.crt"]] +
                           [str(a) for a in args], capture_output=True, text=True, timeout=20)
        return p.returncode, p.stdout.strip()

    def test_redis_cli_and_redis_py_over_tls(self):
        self.assertEqual(self.cli("CREATE", "a", 1, 1000000), (0, "OK"))
        self.assertEqual(self.cli("NEXT", "a"), (0, "1"))
        c = redis.Redis(port=self.tp, ssl=True, ssl_ca_certs=certs()["ca.crt"])
        self.assertEqual(c.execute_command("NEXT", "a"), 2)
        # a pipeline whose replies are larger than one TLS record and one socket buffer
        pipe = c.pipeline(transaction=False)
        for _ in range(20000):
            pipe.execute_command("NEXT", "a")
        got = pipe.execute()
        self.assertEqual(got, list(range(3, 20003)))
        c.close()
        # the plain port still serves, numbers continue
        with Raw(self.s.port) as r:
            self.assertEqual(r.cmd("NEXT", "a"), 20003)
            info = info_fields(r.cmd("INFO"))
        self.assertEqual(int(info["tls_handshakes"]), 3)  # two redis-cli runs, one redis-py pool

    def test_one_write_of_many_requests(self):
        """200,000 pipelined requests in one write: more plaintext than the
        input buffer holds at once stays in the session and is taken as
        replies leave (nothing waits for another read)."""
        self.assertEqual(self.cli("CREATE", "p", 1, 10000000), (0, "OK"))
        t = TlsRaw(self.tp, timeout=60)
        n = 200000
        t.send(encode("NEXT", "p") * n)
        got = [t.read() for _ in range(n)]
        self.assertEqual(got, list(range(1, n + 1)))
        t.close()

    def test_hostile_clients_are_closed_and_others_served(self):
        self.assertEqual(self.cli("CREATE", "h", 1, 1000000), (0, "OK"))
        good = TlsRaw(self.tp)
        self.assertEqual(good.cmd("NEXT", "h"), 1)
        rss0 = self.s.rss_kb()
        # plaintext to the TLS port: closed, no reply
        for _ in range(200):
            with socket.create_connection(("127.0.0.1", self.tp), timeout=5) as s:
                s.sendall(encode("NEXT", "h"))
                s.settimeout(5)
                self.assertEqual(s.recv(100), b"")
        # garbage and a ClientHello cut short
        for junk in (os.urandom(5000), b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc" + b"\x03\x03" + b"x" * 40):
            with socket.create_connection(("127.0.0.1", self.tp), timeout=5) as s:
                s.sendall(junk)
        # TLS 1.1 is refused
        with self.assertRaises((ssl.SSLError, OSError)):
            TlsRaw(self.tp, version=ssl.TLSVersion.TLSv1_1).cmd("PING")
        # a stranger's certificate (another CA) is refused
        with self.assertRaises((ssl.SSLError, OSError, EOFError)):
            TlsRaw(self.tp, cert=certs()["stranger.crt"], key=certs()["stranger.key"]).cmd("PING")
        self.assertEqual(good.cmd("NEXT", "h"), 2)
        with Raw(self.s.port) as r:
            self.assertEqual(r.cmd("NEXT", "h"), 3)  # nothing issued to the hostile ones
            info = info_fields(r.cmd("INFO"))
        self.assertGreaterEqual(int(info["tls_failed"]), 200)
        self.assertLess(self.s.rss_kb() - rss0, 20000)
        good.close()

    def test_a_stalled_handshake_is_cut_off(self):
        tp = free_port()
        s = self.start_server(*tls_args(tp, extra=("--tls-handshake-timeout-ms", "300")))
        stalled = [socket.create_connection(("127.0.0.1", tp), timeout=5) for _ in range(20)]
        stalled[0].sendall(b"\x16\x03\x01")  # a record header, then nothing
        time.sleep(1.0)
        for st in stalled:
            st.settimeout(3)
            self.assertEqual(st.recv(10), b"")  # closed by the server
            st.close()
        with Raw(s.port) as r:
            self.assertEqual(int(info_fields(r.cmd("INFO"))["tls_handshake_timeouts"]), 20)
        t = TlsRaw(tp)
        self.assertEqual(t.cmd("PING"), "PONG")
        t.close()


class TlsClientCertTest(SeqdTestCase):

    def test_required_certificates_and_cn_as_user(self):
        tp = free_port()
        pw = os.path.join(session_dir(), "tls-pw")
        with open(pw, "w") as f:
            f.write("admin-pw\n")
        s = self.start_server("--requirepass-file", pw, *tls_args(tp, auth="yes", extra=(
            "--tls-auth-clients-user", "CN")))
        with Raw(s.port) as r:
            self.assertEqual(r.cmd("AUTH", "admin-pw"), "OK")
            self.assertEqual(r.cmd("CREATE", "policies-a", 1, 100), "OK")
            self.assertEqual(r.cmd("ACL", "SETUSER", "sales", "on", ">x", "~policies-*", "+@issue"), "OK")
        # no certificate: refused at the handshake
        with self.assertRaises((ssl.SSLError, OSError, EOFError)):
            TlsRaw(tp).cmd("PING")
        # a certificate whose CN is a user: logged in as it, and only it
        t = TlsRaw(tp, cert=certs()["sales.crt"], key=certs()["sales.key"])
        self.assertEqual(t.cmd("ACL", "WHOAMI"), b"sales")
        self.assertEqual(t.cmd("NEXT", "policies-a"), 1)
        self.assertEqual(err(t.cmd("DROP", "policies-a")),
                         "NOPERM this user has no permissions to run the 'drop' command")
        t.close()
        # a certificate whose CN names nobody: must still log in
        t = TlsRaw(tp, cert=certs()["nobody.crt"], key=certs()["nobody.key"])
        self.assertEqual(err(t.cmd("NEXT", "policies-a")), "NOAUTH Authentication required.")
        self.assertEqual(t.cmd("AUTH", "admin-pw"), "OK")
        self.assertEqual(t.cmd("NEXT", "policies-a"), 2)
        t.close()


class TlsOnlyTest(SeqdTestCase):

    def test_port_0_serves_tls_only(self):
        tp = free_port()
        d = os.path.join(session_dir(), "tls-only-%d" % tp)
        log = open(os.path.join(session_dir(), "tls-only-%d.log" % tp), "w")
        p = subprocess.Popen([self.binary(), "--port", "0", "--dir", d] + tls_args(tp, auth="no"),
                             stdout=log, stderr=subprocess.STDOUT)
        self.addCleanup(lambda: (p.kill(), p.wait()))
        deadline = time.monotonic() + 10
        reply = None
        while time.monotonic() < deadline and reply is None:
            try:
                reply = TlsRaw(tp).cmd("PING")
            except OSError:
                time.sleep(0.05)
        self.assertEqual(reply, "PONG")
        out = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True).stdout
        ports = sorted(int(line.split()[3].rsplit(":", 1)[1]) for line in out.splitlines()
                       if line.split()[3].rsplit(":", 1)[1].isdigit())
        self.assertIn(tp, ports)
        self.assertNotIn(tp + 10000, ports)  # a single node opens no Raft port either

    def binary(self):
        import harness
        return harness.BINARY

    def test_bad_tls_flags_exit_2(self):
        c = certs()
        for args in (["--tls-port", "7777"],
                     ["--tls-port", "7777", "--tls-cert-file", "/nonexistent", "--tls-key-file", c["server.key"],
                      "--tls-auth-clients", "no"],
                     ["--tls-port", "7777", "--tls-cert-file", c["server.crt"], "--tls-key-file", c["sales.key"],
                      "--tls-auth-clients", "no"],
                     ["--tls-port", "7777", "--tls-cert-file", c["server.crt"], "--tls-key-file", c["server.key"]],
                     ["--port", "0"],
                     ["--tls-auth-clients", "maybe"]):
            p = run_binary(args + ["--dir", os.path.join(session_dir(), "never")])
            self.assertEqual(p.returncode, 2, (args, p.stderr))
            self.assertIn("seqd: ", p.stderr)
