"""test_service — seqd as a service (issue 12, item 4): systemd's notify
protocol, the log formats, and the Debian package.

READY=1 comes only once a NEXT is answered (a member without quorum never
sends it; once its peers are up it does, and a NEXT right after it
succeeds), STOPPING=1 on SIGTERM. --log-format json gives one JSON object
per line; under the journal (JOURNAL_STREAM) each line starts with its
priority. `make deb` builds a package with debhelper, dpkg -i installs it
(a seqd user, /etc/seqd/seqd.conf as a conffile, the unit), and
systemd-analyze verify accepts the unit."""

import json
import os
import shutil
import signal
import socket
import subprocess
import time
import unittest

from harness import Cluster, Raw, RespError, SeqdTestCase, free_port, session_dir

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))


class NotifySocket:
    def __init__(self):
        self.path = os.path.join(session_dir(), "notify-%d.sock" % time.monotonic_ns())
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def wait_for(self, word, timeout):
        """The first datagram holding word within timeout, else None."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                msg = self.sock.recv(4096).decode()
            except socket.timeout:
                return None
            if word in msg.split("\n"):
                return msg
        return None

    def close(self):
        self.sock.close()


class NotifyTest(SeqdTestCase):
    def test_ready_only_once_it_serves_and_stopping(self):
        ns = NotifySocket()
        self.addCleanup(ns.close)
        c = Cluster(3, args=["--request-timeout-ms", "2000"])
        c.on_new_server = self._servers.append
        self._servers.extend(c.nodes)
        self.addCleanup(c.cleanup)
        os.environ["NOTIFY_SOCKET"] = ns.path
        try:
            c.nodes[0].spawn()
        finally:
            del os.environ["NOTIFY_SOCKET"]
        c.nodes[0].wait_ready()
        # alone, without quorum: no leader, so no READY
        self.assertIsNone(ns.wait_for("READY=1", 2.0), "READY=1 before the node could serve")
        rep = Raw(c.nodes[0].port).cmd("PING")
        self.assertEqual(rep, "PONG")
        c.start(c.nodes[1:])
        msg = ns.wait_for("READY=1", 15)
        self.assertIsNotNone(msg, "no READY=1 once the cluster formed")
        with Raw(c.nodes[0].port) as r:  # at once: it serves
            rep = r.cmd("CREATE", "s", 1, 100)
            self.assertEqual(rep, "OK", rep)
            self.assertEqual(r.cmd("NEXT", "s"), 1)
        c.nodes[0].send_signal(signal.SIGTERM)
        self.assertIsNotNone(ns.wait_for("STOPPING=1", 10), "no STOPPING=1 on SIGTERM")

    def test_single_node_ready_then_next(self):
        ns = NotifySocket()
        self.addCleanup(ns.close)
        os.environ["NOTIFY_SOCKET"] = ns.path
        try:
            s = self.start_server(wait=False)
            s.spawn()
        finally:
            del os.environ["NOTIFY_SOCKET"]
        self.assertIsNotNone(ns.wait_for("READY=1", 15))
        with Raw(s.port) as r:
            self.assertEqual(r.cmd("CREATE", "a", 1, 10), "OK")
            self.assertEqual(r.cmd("NEXT", "a"), 1)


class LogFormatTest(SeqdTestCase):
    def test_json_lines(self):
        s = self.start_server("--log-format", "json")
        with Raw(s.port) as r:
            r.cmd("CREATE", 'quote"d\\name', 1, 10)
        s.stop()
        lines = [line for line in s.log_since_start().splitlines() if line and not line.startswith("===")]
        self.assertGreater(len(lines), 3)
        for line in lines:
            obj = json.loads(line)
            self.assertEqual(set(obj), {"time", "level", "pid", "msg"}, line)
            self.assertIn(obj["level"], ("debug", "info", "warn", "error"))
        self.assertTrue(any("audit: CREATE" in json.loads(line)["msg"] for line in lines))

    def test_journal_priorities(self):
        s = self.start_server(wait=False)
        log = open(s.log_path, "ab")  # the harness appends each start's stderr to this file
        st = os.fstat(log.fileno())
        log.close()
        os.environ["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino)
        try:
            s.spawn()
        finally:
            del os.environ["JOURNAL_STREAM"]
        s.wait_ready()
        s.stop()
        lines = [line for line in s.log_since_start().splitlines() if line and not line.startswith("===")]
        self.assertTrue(lines)
        for line in lines:
            self.assertRegex(line, r"^<[3467]>", line)
        self.assertTrue(any(line.startswith("<6>") and "listening on" in line for line in lines))


@unittest.skipUnless(os.geteuid() == 0 and shutil.which("dpkg-buildpackage") and shutil.which("systemd-analyze"),
                     "needs root, dpkg-buildpackage (debhelper) and systemd-analyze")
class DebianPackageTest(SeqdTestCase):
    def test_make_deb_installs_and_the_unit_verifies(self):
        p = subprocess.run(["make", "deb"], cwd=REPO, capture_output=True, text=True, timeout=600)
        self.assertEqual(p.returncode, 0, p.stdout[-3000:] + p.stderr[-3000:])
        debs = sorted(f for f in os.listdir(os.path.join(REPO, "build", "deb")) if f.endswith(".deb"))
        self.assertTrue(debs)
        deb = os.path.join(REPO, "build", "deb", debs[-1])
        info = subprocess.run(["dpkg-deb", "-f", deb, "Depends"], capture_output=True, text=True).stdout
        self.assertIn("libraft0 (>= 0.22", info)
        p = subprocess.run(["dpkg", "-i", deb], capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.addCleanup(lambda: subprocess.run(["dpkg", "--purge", "seqd"], capture_output=True, timeout=120))
        self.assertEqual(subprocess.run(["/usr/bin/seqd", "--version"], capture_output=True,
                                        text=True).stdout.strip(), "seqd 0.1.0")
        conffiles = subprocess.run(["dpkg-query", "-W", "-f=${Conffiles}", "seqd"], capture_output=True,
                                   text=True).stdout
        self.assertIn("/etc/seqd/seqd.conf", conffiles)
        self.assertEqual(subprocess.run(["id", "-u", "seqd"], capture_output=True).returncode, 0)
        unit = "/lib/systemd/system/seqd.service"
        with open(unit) as f:
            text = f.read()
        for want in ("Type=notify", "User=seqd", "StateDirectory=seqd", "ProtectSystem=strict",
                     "NoNewPrivileges=true", "RestrictAddressFamilies=", "Restart=on-failure"):
            self.assertIn(want, text)
        p = subprocess.run(["systemd-analyze", "verify", unit], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        # the packaged binary takes the packaged config (its dir and ports moved aside here)
        port, http = free_port(), free_port()
        d = os.path.join(session_dir(), "deb-data")
        proc = subprocess.Popen(["/usr/bin/seqd", "--config", "/etc/seqd/seqd.conf", "--dir", d, "--port",
                                 str(port), "--http-port", str(http)], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        self.addCleanup(lambda: (proc.kill(), proc.wait()))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if Raw(port, timeout=1).cmd("PING") == "PONG":
                    break
            except OSError:
                time.sleep(0.05)
        self.assertEqual(Raw(port).cmd("PING"), "PONG")
