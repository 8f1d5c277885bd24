"""test_node_clients — the npm Redis clients log in and issue unchanged
(issue 11), over plain TCP and over TLS as an ACL user: node-redis
(`redis`) and `ioredis`, at the versions pinned in
tests/integration/node/package-lock.json, installed here with `npm ci`
from npm's registry (kept in tests/integration/node/node_modules)."""

import json
import os
import shutil
import subprocess
import time

from harness import Raw, SeqdTestCase, free_port, session_dir

NODE_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "node")


def npm_ready():
    """Installs the pinned clients once; returns why it could not, or None."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return "node and npm are not installed (scripts/install-deps.sh installs them)"
    marker = os.path.join(NODE_DIR, "node_modules", ".package-lock.json")
    if os.path.exists(marker):
        return None
    p = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=NODE_DIR,
                       capture_output=True, text=True, timeout=300)
    return None if p.returncode == 0 else "npm ci failed: %s" % (p.stderr.strip()[-500:],)


class NodeClientsTest(SeqdTestCase):

    def test_node_redis_and_ioredis_log_in_and_issue(self):
        why = npm_ready()
        self.assertIsNone(why, why)
        path = os.path.join(session_dir(), "node-pw-%d" % time.monotonic_ns())
        with open(path, "w") as f:
            f.write("n0de-Pw\n")
        s = self.start_server("--requirepass-file", path)
        p = subprocess.run(["node", "clients.js", str(s.port), "n0de-Pw", "npm"], cwd=NODE_DIR,
                           capture_output=True, text=True, timeout=120)
        steps = {}
        for line in p.stdout.splitlines():
            row = json.loads(line)
            steps[row["step"]] = row["value"]
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual(steps.get("redis:create"), "OK", steps)
        self.assertEqual([steps.get(k) for k in ("redis:next", "redis:next-username", "ioredis:next",
                                                  "ioredis:next-username")], [1, 2, 3, 4], steps)
        for k in ("redis:wrong", "ioredis:wrong"):
            self.assertIn("WRONGPASS", str(steps.get(k)), steps)

    def test_over_tls_as_an_acl_user(self):
        why = npm_ready()
        self.assertIsNone(why, why)
        from test_tls import certs, tls_args
        tp = free_port()
        s = self.start_server(*tls_args(tp, auth="no"))
        with Raw(s.port) as r:
            self.assertEqual(r.cmd("CREATE", "npm-tls", 1, 1000), "OK")
            self.assertEqual(r.cmd("ACL", "SETUSER", "svc", "on", ">svc-pw", "~npm-*", "+@issue"), "OK")
        p = subprocess.run(["node", "tls.js", str(tp), certs()["ca.crt"], "svc", "svc-pw", "npm-tls"],
                           cwd=NODE_DIR, capture_output=True, text=True, timeout=120)
        steps = {}
        for line in p.stdout.splitlines():
            row = json.loads(line)
            steps[row["step"]] = row["value"]
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertEqual([steps.get("redis:next"), steps.get("ioredis:next")], [1, 2], steps)
        self.assertIn("NOPERM", str(steps.get("redis:denied")), steps)
