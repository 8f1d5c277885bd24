"""test_disk — a disk that fills up under load: the node reports it, stops
serving and exits 1; no number it answered is lost or issued again when it
comes back on a disk with room. Needs a small tmpfs (root); skips without."""

import os
import shutil
import subprocess
import tempfile
import threading
import time
import unittest

import redis

from harness import SeqdTestCase, session_dir

TMPFS_MB = 12


class DiskFullTest(SeqdTestCase):

    def mount_tmpfs(self):
        where = tempfile.mkdtemp(prefix="tmpfs-", dir=session_dir())
        p = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=%dM" % TMPFS_MB, "tmpfs", where],
                           capture_output=True, text=True)
        if p.returncode != 0:
            raise unittest.SkipTest("cannot mount a tmpfs here: %s" % p.stderr.strip())
        self.addCleanup(lambda: subprocess.run(["umount", "-l", where], capture_output=True))
        return where

    def test_full_disk_stops_the_node_and_loses_nothing(self):
        small = self.mount_tmpfs()
        data = os.path.join(small, "data")
        s = self.start_server(data_dir=data)
        r = s.client()
        self.assertEqual(r.execute_command("CREATE", "d", 1, 10**15), b"OK")

        acked = []
        errors = []
        stop = threading.Event()

        def load():
            c = s.client(socket_timeout=10)
            while not stop.is_set():
                try:
                    runs = c.execute_command("NEXT", "d", "COUNT", 50)
                except (redis.ConnectionError, redis.TimeoutError):
                    return
                except redis.ResponseError as e:
                    errors.append(str(e))
                    return
                acked.append((runs[0], runs[1]))

        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        # Every entry fills the tmpfs; the node must notice and exit by itself.
        deadline = time.monotonic() + 60
        while s.alive() and time.monotonic() < deadline:
            time.sleep(0.1)
        stop.set()
        for t in threads:
            t.join(15)
        self.assertFalse(s.alive(), "seqd kept running on a full disk")
        self.assertEqual(s.proc.returncode, 1)
        self.assertIn("disk", s.log_since_start().lower())
        self.assertGreater(len(acked), 0)
        for e in errors:
            self.assertTrue("disk error" in e or "TRYAGAIN" in e or "outcome unknown" in e, e)

        # Move the data to a disk with room and restart: every acknowledged
        # number stays issued, the next one follows them all.
        roomy = tempfile.mkdtemp(prefix="roomy-", dir=session_dir())
        shutil.copytree(data, os.path.join(roomy, "data"))
        s2 = self.start_server(data_dir=os.path.join(roomy, "data"))
        nxt = s2.client().execute_command("NEXT", "d")
        self.assertGreater(nxt, max(last for _, last in acked))
        numbers = [n for first, last in acked for n in range(first, last + 1)]
        self.assertEqual(len(numbers), len(set(numbers)), "a number was acknowledged twice")
