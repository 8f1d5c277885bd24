"""test_config — the config file (issue 12, item 1) and CONFIG GET.

seqd --config FILE: one `key value` per line (the flag without its
dashes), flags on the command line over it, CONFIG GET showing what is in
force. Every key is set from a file to a value that is not its default and
read back; a key CONFIG GET knows that this test does not set fails it, so
a new flag cannot go untested. Each kind of bad file exits 2 naming the
file and the line. --bind takes IPv6 addresses and more than one."""

import os
import signal
import socket
import subprocess
import time

from harness import Raw, RespError, SeqdTestCase, free_port, run_binary, session_dir
from test_tls import certs


def write(name, text):
    path = os.path.join(session_dir(), "%s-%d.conf" % (name, time.monotonic_ns()))
    with open(path, "w") as f:
        f.write(text)
    return path


def config_get(port, *patterns, password=None, host="127.0.0.1"):
    with Raw(port, host=host) as r:
        if password:
            assert r.cmd("AUTH", password) == "OK"
        reply = r.cmd("CONFIG", "GET", *patterns)
    assert isinstance(reply, list), reply
    d = lambda v: v.decode() if isinstance(v, bytes) else v  # noqa: E731
    return {d(reply[i]): d(reply[i + 1]) for i in range(0, len(reply), 2)}


class ConfigFileTest(SeqdTestCase):
    def spawn(self, *args, port=None, host="127.0.0.1", password=None):
        """seqd with exactly these arguments (no --port/--dir of the harness's);
        waits for PING on host:port."""
        from harness import BINARY
        log = open(os.path.join(session_dir(), "config-%d.log" % time.monotonic_ns()), "wb")
        p = subprocess.Popen([BINARY] + list(args), stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                             cwd=session_dir())
        log.close()

        def stop():
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
            p.wait()
        self.addCleanup(stop)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            self.assertIsNone(p.poll(), "seqd exited: %s" % open(log.name).read())
            try:
                with Raw(port, host=host, timeout=1) as r:
                    if r.cmd("PING") in ("PONG", RespError("NOAUTH Authentication required.")):
                        return p
            except (OSError, EOFError):
                time.sleep(0.05)
        self.fail("seqd did not answer on %s:%d" % (host, port))

    def test_every_key_from_a_file(self):
        c = certs()
        port, tls_port, raft_port = free_port(), free_port(), free_port()
        secret = os.path.join(session_dir(), "cfg-secret")
        with open(secret, "w") as f:
            f.write(os.urandom(32).hex() + "\n")
        password = os.path.join(session_dir(), "cfg-pass")
        with open(password, "w") as f:
            f.write("pw-from-file\n")
        data = os.path.join(session_dir(), "cfg-data-%d" % time.monotonic_ns())
        values = {
            "port": str(port), "raft-port": str(raft_port),
            "bind": "127.0.0.1 ::1", "dir": data, "cluster": "127.0.0.1:%d" % port,
            "max-clients": "777", "max-pipeline": "555", "client-output-max": "1048576",
            "key-retention": "3600", "reserve-ttl": "120", "max-keys": "12345",
            "snapshot-threshold": "4096", "snapshot-trailing": "2048", "batch-max": "512",
            "max-inflight": "64", "request-timeout-ms": "3000", "election-timeout-ms": "800",
            "max-clock-offset-ms": "250", "heartbeat-ms": "80", "initial-cluster-state": "new",
            "log-level": "warn", "requirepass-file": password, "cluster-secret-file": secret,
            "cluster-insecure": "yes", "protected-mode": "no", "tls-port": str(tls_port),
            "tls-cert-file": c["server.crt"], "tls-key-file": c["server.key"],
            "tls-ca-cert-file": c["ca.crt"], "tls-auth-clients": "optional",
            "tls-auth-clients-user": "CN", "tls-cluster": "no", "tls-handshake-timeout-ms": "2500",
            "http-port": str(free_port()), "http-token-file": secret, "http-tls": "yes",
            "metrics-max-sequences": "7", "log-format": "json",
        }
        values["cluster"] = "127.0.0.1:%d@%s" % (port, values["raft-port"])
        lines = ["# every key, as redis.conf writes them", ""]
        for i, (k, v) in enumerate(values.items()):
            if i % 3 == 1:
                lines.append("%s = %s" % (k, v))          # the INI form reads the same
            elif " " in v:
                lines.append('%s "%s"' % (k, v))          # a quoted value
            else:
                lines.append("   %s\t%s   " % (k, v))      # blanks around
        path = write("every", "\ufeff" + "\n".join(lines) + "\n")
        self.spawn("--config", path, port=port, password="pw-from-file")
        shown = config_get(port, "*", password="pw-from-file")
        for compat in ("save", "appendonly", "appendfsync"):
            shown.pop(compat)
        expect = dict(values)
        expect["cluster"] = "127.0.0.1:%d" % port  # shown as the client addresses
        self.assertEqual(shown, expect)
        # and in force, not just shown
        with Raw(port) as r:
            self.assertEqual(r.cmd("NEXT", "x"), RespError("NOAUTH Authentication required."))
        with Raw(port, host="::1") as r:
            self.assertEqual(r.cmd("AUTH", "pw-from-file"), "OK")
            self.assertEqual(r.cmd("CREATE", "x", 1, 10), "OK")
        self.assertTrue(os.path.isdir(os.path.join(data, "raft")))

    def test_flags_override_the_file_and_patterns(self):
        port, other = free_port(), free_port()
        data = os.path.join(session_dir(), "cfg-over-%d" % time.monotonic_ns())
        path = write("over", "port %d\nkey-retention 3600\ndir %s\nmax-keys 99\n" % (port, data))
        self.spawn("--max-keys", "42", "--config", path, "--port", str(other), port=other)
        self.assertEqual(config_get(other, "port", "KEY-*", "max-keys", "nosuch*"),
                         {"port": str(other), "key-retention": "3600", "max-keys": "42"})
        with socket.socket() as s:
            self.assertNotEqual(s.connect_ex(("127.0.0.1", port)), 0, "the file's port is open")
        self.assertEqual(config_get(other, "appendfsync"), {"appendfsync": "always"})
        with Raw(other) as r:
            self.assertEqual(r.cmd("CONFIG", "SET", "port", "1"),
                             RespError("ERR CONFIG supports only GET pattern [pattern ...]; seqd is "
                                       "configured by flags and --config"))

    def test_bad_files_name_the_file_and_line(self):
        port = free_port()
        cases = [
            ("unknown", "port %d\n\nno-such-key 1\n" % port, 3, "unknown key 'no-such-key'"),
            ("badvalue", "# c\nkey-retention abc\n", 2, "bad value for 'key-retention'"),
            ("range", "max-clients 0\n", 1, "bad value for 'max-clients'"),
            ("novalue", "port %d\nprotected-mode\n" % port, 2, "not a `key value` line"),
            ("section", "[server]\nport %d\n" % port, 2, "no [sections]"),
            ("nested", "config /etc/other.conf\n", 1, "'config' cannot be set"),
            ("toolong", "dir %s\n" % ("d" * 5000), 1, "longer than"),
            ("badbind", "bind 127.0.0.1 10.0.0.999\n", 1, "bad value for 'bind'"),
            ("yesno", "protected-mode maybe\n", 1, "bad value for 'protected-mode'"),
        ]
        for name, text, line, words in cases:
            path = write(name, text)
            p = run_binary(["--config", path])
            self.assertEqual(p.returncode, 2, "%s: %s" % (name, p.stderr))
            self.assertIn("%s:%d:" % (path, line), p.stderr, name)
            self.assertIn(words, p.stderr, name)
        p = run_binary(["--config", os.path.join(session_dir(), "no-such.conf")])
        self.assertEqual(p.returncode, 2)
        self.assertIn("no-such.conf", p.stderr)
        p = run_binary(["--config"])
        self.assertEqual(p.returncode, 2)
        self.assertIn("--config needs a path", p.stderr)
        a, b = write("a", "port %d\n" % port), write("b", "port %d\n" % port)
        p = run_binary(["--config", a, "--config", b])
        self.assertEqual(p.returncode, 2)
        self.assertIn("--config given twice", p.stderr)

    def test_bind_ipv6_and_several_addresses(self):
        port = free_port()
        data = os.path.join(session_dir(), "cfg-bind-%d" % time.monotonic_ns())
        self.spawn("--bind", "127.0.0.1,::1 127.0.0.2", "--port", str(port), "--dir", data, port=port)
        for host in ("127.0.0.1", "::1", "127.0.0.2"):
            with Raw(port, host=host) as r:
                self.assertEqual(r.cmd("PING"), "PONG", host)
        self.assertEqual(config_get(port, "bind"), {"bind": "127.0.0.1 ::1 127.0.0.2"})
        with socket.socket() as s:
            self.assertNotEqual(s.connect_ex(("127.0.0.3", port)), 0)
        # an IPv6 node alone
        port6 = free_port()
        self.spawn("--bind", "::1", "--port", str(port6), "--dir", data + "-6", port=port6, host="::1")
        with Raw(port6, host="::1") as r:
            self.assertEqual(r.cmd("CREATE", "a", 1, 5), "OK")
            self.assertEqual(r.cmd("NEXT", "a"), 1)
            rep = r.cmd("CLUSTER", "ADD", "127.0.0.1:%d" % free_port())
            self.assertIsInstance(rep, RespError)
            self.assertIn("IPv6", rep.text)
        for bad in ("::g", "127.0.0.1 127.0.0.1", "", " , "):
            p = run_binary(["--bind", bad, "--dir", data + "-never"])
            self.assertEqual(p.returncode, 2, bad)
            self.assertIn("--bind", p.stderr)
        p = run_binary(["--bind", "::1", "--cluster", "127.0.0.1:7001,127.0.0.1:7002", "--port", "7001",
                        "--dir", data + "-never"])
        self.assertEqual(p.returncode, 2)
        self.assertIn("must be IPv4", p.stderr)
