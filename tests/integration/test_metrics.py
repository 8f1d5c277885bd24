"""test_metrics — metrics and health over HTTP (issue 12, item 2).

/metrics in the Prometheus text format (checked by promtool, and scraped
by a real Prometheus from a three-node cluster, whose query API must show
seqd_raft_has_leader 1 on each node and the issued counter rising),
/health, /ready (503 when quorum is lost, 200 again once it is back), a
bearer token, protected mode, and a bounded number of sequence series."""

import json
import os
import re
import shutil
import socket
import subprocess
import time
import unittest
import urllib.error
import urllib.request

from harness import Cluster, Raw, SeqdTestCase, free_port, session_dir

PROMTOOL = shutil.which("promtool")
PROMETHEUS = shutil.which("prometheus")
RULES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs", "monitoring",
                     "seqd-alerts.yml")


def get(port, path, token=None, method="GET", host="127.0.0.1", timeout=5):
    """(status, headers, body text) of one HTTP request."""
    req = urllib.request.Request("http://%s:%d%s" % (host, port, path), method=method)
    if token is not None:
        req.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, dict(r.headers), r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$')


def samples(text):
    """{(name, frozenset of label pairs): float} of an exposition text."""
    out = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        labels = frozenset(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        out[(m.group(1), labels)] = float(m.group(4))
    return out


def value(s, name, **labels):
    return s.get((name, frozenset(labels.items())))


class MetricsTest(SeqdTestCase):
    def http_server(self, *args):
        port = free_port()
        s = self.start_server("--http-port", str(port), *args)
        s.http = port
        return s

    def test_metrics_health_ready(self):
        s = self.http_server()
        with Raw(s.port) as r:
            self.assertEqual(r.cmd("CREATE", "pol", 1, 1000, "WARN", 995), "OK")
            for i in range(7):
                self.assertEqual(r.cmd("NEXT", "pol"), i + 1)
            r.cmd("NEXT", "nosuch")
        status, headers, text = get(s.http, "/metrics")
        self.assertEqual(status, 200)
        self.assertTrue(headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers)
        m = samples(text)
        self.assertEqual(value(m, "seqd_requests_total", command="next", result="ok"), 7)
        self.assertEqual(value(m, "seqd_requests_total", command="next", result="error"), 1)
        self.assertEqual(value(m, "seqd_requests_total", command="create", result="ok"), 1)
        self.assertEqual(value(m, "seqd_sequence_issued_total", sequence="pol"), 7)
        self.assertEqual(value(m, "seqd_sequence_remaining", sequence="pol"), 993)
        self.assertEqual(value(m, "seqd_sequence_warning", sequence="pol"), 1)
        self.assertEqual(value(m, "seqd_raft_has_leader"), 1)
        self.assertEqual(value(m, "seqd_raft_role", role="leader"), 1)
        self.assertEqual(value(m, "seqd_raft_applied_index"), value(m, "seqd_raft_commit_index"))
        # a histogram: cumulative buckets, +Inf equal to the count
        count = value(m, "seqd_request_duration_seconds_count", command="next")
        self.assertEqual(count, 8)
        self.assertEqual(value(m, "seqd_request_duration_seconds_bucket", command="next", le="+Inf"), count)
        buckets = sorted((float(dict(k[1])["le"]), v) for k, v in m.items()
                         if k[0] == "seqd_request_duration_seconds_bucket" and dict(k[1]).get("command") == "next"
                         and dict(k[1])["le"] != "+Inf")
        self.assertEqual([v for _, v in buckets], sorted(v for _, v in buckets))
        self.assertGreaterEqual(value(m, "seqd_log_entry_commands_count"), 8)
        if PROMTOOL:
            p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True,
                               timeout=30)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(get(s.http, "/health")[:1], (200,))
        status, _, body = get(s.http, "/ready")
        self.assertEqual((status, body), (200, "ok\n"))
        self.assertEqual(get(s.http, "/metrics", method="POST")[0], 405)
        self.assertEqual(get(s.http, "/nope")[0], 404)
        # the counters move between scrapes
        with Raw(s.port) as r:
            r.cmd("NEXT", "pol", "COUNT", 10)
        m2 = samples(get(s.http, "/metrics")[2])
        self.assertEqual(value(m2, "seqd_sequence_issued_total", sequence="pol"), 17)

    def test_bearer_token(self):
        token = "t0k3n-" + os.urandom(8).hex()
        path = os.path.join(session_dir(), "http-token")
        with open(path, "w") as f:
            f.write(token + "\n")
        s = self.http_server("--http-token-file", path)
        self.assertEqual(get(s.http, "/metrics")[0], 401)
        self.assertEqual(get(s.http, "/metrics", token="wrong")[0], 401)
        self.assertEqual(get(s.http, "/metrics", token=token + "x")[0], 401)
        self.assertEqual(get(s.http, "/ready")[0], 401)
        status, headers, text = get(s.http, "/metrics", token=token)
        self.assertEqual(status, 200)
        self.assertIn("seqd_raft_has_leader 1", text)
        self.assertEqual(get(s.http, "/health")[0], 200)  # liveness stays open, as etcd's
        self.assertNotIn(token, s.log_since_start())

    def test_https(self):
        import ssl
        from test_tls import certs
        c = certs()
        s = self.http_server("--http-tls", "yes", "--tls-cert-file", c["server.crt"], "--tls-key-file",
                             c["server.key"])
        ctx = ssl.create_default_context(cafile=c["ca.crt"])
        with urllib.request.urlopen("https://127.0.0.1:%d/metrics" % s.http, context=ctx, timeout=5) as r:
            self.assertEqual(r.status, 200)
            self.assertIn("seqd_raft_has_leader 1", r.read().decode())
        with self.assertRaises((urllib.error.URLError, ConnectionError, OSError)):
            urllib.request.urlopen("http://127.0.0.1:%d/metrics" % s.http, timeout=5).read()
        self.assertTrue(s.alive())

    def test_sequences_are_bounded(self):
        s = self.http_server("--metrics-max-sequences", "5")
        with Raw(s.port) as r:
            for i in range(30):
                self.assertEqual(r.cmd("CREATE", "s%02d" % i, 1, 100), "OK")
                self.assertEqual(r.cmd("NEXT", "s%02d" % i, "COUNT", i + 1)[0], 1)
        m = samples(get(s.http, "/metrics")[2])
        issued = {dict(k[1])["sequence"]: v for k, v in m.items() if k[0] == "seqd_sequence_issued_total"}
        self.assertEqual(len(issued), 6, issued)  # five of their own, the rest summed under ""
        self.assertIn("", issued)
        self.assertEqual(sum(issued.values()), sum(range(1, 31)))
        self.assertEqual(value(m, "seqd_sequences_summed"), 25)
        self.assertEqual(value(m, "seqd_sequences"), 30)

    def test_bad_http_flags(self):
        from harness import run_binary
        d = os.path.join(session_dir(), "http-never")
        for args, words in ((["--http-port", "70000"], "--http-port"),
                            (["--http-tls", "yes", "--http-port", "7999"], "--http-tls yes needs"),
                            (["--http-port", "7379"], "must differ")):
            p = run_binary(["--dir", d] + args)
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(words, p.stderr)
        busy = socket.socket()
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        self.addCleanup(busy.close)
        p = run_binary(["--dir", d, "--port", str(free_port()), "--http-port", str(busy.getsockname()[1])],
                       timeout=20)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("cannot serve HTTP", p.stderr)


class ClusterMetricsTest(SeqdTestCase):
    def cluster(self):
        ports = [free_port() for _ in range(3)]
        self.http = [free_port() for _ in range(3)]
        c = Cluster(3, args=["--request-timeout-ms", "2000"], ports=ports)
        for s, h in zip(c.nodes, self.http):
            s.args += ["--http-port", str(h)]
            s.http = h
        c.on_new_server = self._servers.append
        self._servers.extend(c.nodes)
        self.addCleanup(c.cleanup)
        c.start()
        c.wait_stable_leader()
        return c

    def wait_status(self, port, path, status, timeout=15):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                last = get(port, path, timeout=3)
                if last[0] == status:
                    return last
            except OSError as e:
                last = repr(e)
            time.sleep(0.1)
        self.fail("%s never answered %d: %r" % (path, status, last))

    def test_ready_follows_quorum(self):
        c = self.cluster()
        lead = c.wait_stable_leader()
        for s in c.nodes:
            self.wait_status(s.http, "/ready", 200)
            m = samples(get(s.http, "/metrics")[2])
            self.assertEqual(value(m, "seqd_raft_has_leader"), 1)
            self.assertEqual(value(m, "seqd_cluster_members"), 3)
        m = samples(get(lead.http, "/metrics")[2])
        matches = [k for k in m if k[0] == "seqd_raft_member_match_index"]
        self.assertEqual(len(matches), 3)
        survivor = c.followers(lead)[0]
        others = [s for s in c.nodes if s is not survivor]
        for s in others:
            s.kill9()
        status, _, body = self.wait_status(survivor.http, "/ready", 503)
        self.assertIn("leader", body)
        self.assertEqual(get(survivor.http, "/health")[0], 200)  # alive, just not ready
        for s in others:
            s.start()
        c.wait_stable_leader()
        self.wait_status(survivor.http, "/ready", 200)

    @unittest.skipUnless(PROMETHEUS and PROMTOOL, "Debian's prometheus package is not installed")
    def test_a_real_prometheus_scrapes_the_cluster(self):
        c = self.cluster()
        lead = c.wait_stable_leader()
        with Raw(lead.port) as r:
            self.assertEqual(r.cmd("CREATE", "pol", 1, 10 ** 9), "OK")
        work = os.path.join(session_dir(), "prometheus-%d" % time.monotonic_ns())
        os.makedirs(work)
        p = subprocess.run([PROMTOOL, "check", "rules", RULES], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        conf = os.path.join(work, "prometheus.yml")
        with open(conf, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                    "rule_files:\n  - %s\n"
                    "scrape_configs:\n  - job_name: seqd\n    static_configs:\n      - targets: [%s]\n"
                    % (RULES, ", ".join("'127.0.0.1:%d'" % h for h in self.http)))
        web = free_port()
        log = open(os.path.join(work, "prometheus.log"), "wb")
        prom = subprocess.Popen([PROMETHEUS, "--config.file", conf, "--storage.tsdb.path", os.path.join(work, "data"),
                                 "--web.listen-address", "127.0.0.1:%d" % web], stdout=log, stderr=log,
                                stdin=subprocess.DEVNULL)
        log.close()
        self.addCleanup(lambda: (prom.kill(), prom.wait()))

        def query(q):
            st, _, body = get(web, "/api/v1/query?query=" + urllib.request.quote(q), timeout=5)
            self.assertEqual(st, 200, body)
            return json.loads(body)["data"]["result"]

        def issued_sum():
            return sum(float(x["value"][1]) for x in query('seqd_sequence_issued_total{sequence="pol"}'))

        deadline = time.monotonic() + 30
        got = []
        while time.monotonic() < deadline:
            try:
                got = query("seqd_raft_has_leader")
                if len(got) == 3:
                    break
            except (OSError, AssertionError, ValueError, KeyError):
                pass
            time.sleep(0.3)
        self.assertEqual(sorted(x["metric"]["instance"] for x in got),
                         sorted("127.0.0.1:%d" % h for h in self.http), open(log.name).read()[-2000:])
        self.assertEqual({x["value"][1] for x in got}, {"1"})
        with Raw(lead.port) as r:
            r.cmd("NEXT", "pol", "COUNT", 100)
        deadline = time.monotonic() + 15
        first = 0.0
        while time.monotonic() < deadline and first < 300:  # 100 on each of three nodes
            first = issued_sum()
            time.sleep(0.3)
        self.assertEqual(first, 300)
        with Raw(lead.port) as r:
            r.cmd("NEXT", "pol", "COUNT", 50)
        deadline = time.monotonic() + 15
        second = first
        while time.monotonic() < deadline and second < first + 150:
            second = issued_sum()
            time.sleep(0.3)
        self.assertEqual(second, 450, "the issued counter did not rise in Prometheus")
        up = query("up")
        self.assertEqual({x["value"][1] for x in up}, {"1"})
