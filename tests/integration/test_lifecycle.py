"""test_lifecycle — the process: flags, exit codes, start-up failures,
signals, restart on the same --dir (with and without snapshots)."""

import os
import random
import signal
import socket
import subprocess
import threading
import time

import redis

from harness import (Raw, SeqdTestCase, Server, describe_dict, describe_static, encode, free_port, info_fields,
                     run_binary, runs_numbers, session_dir)

EXIT_TIMEOUT_S = 10


class FlagsTest(SeqdTestCase):

    def test_help_and_version(self):
        p = run_binary(["--help"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("--port", p.stdout + p.stderr)
        self.assertIn("usage", (p.stdout + p.stderr).lower())
        p = run_binary(["--version"])
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("seqd", p.stdout + p.stderr)
        self.assertRegex(p.stdout + p.stderr, r"\d+\.\d+")

    def test_bad_flags_exit_2(self):
        d = os.path.join(session_dir(), "never-used")
        cases = [
            (["--bogus"], "--bogus"),
            (["--port", "abc"], "--port"),
            (["--port", "70000"], "--port"),
            (["--port"], "--port"),
            (["--max-clients", "0"], "--max-clients"),
            (["--max-pipeline", "-1"], "--max-pipeline"),
            (["--key-retention", "x"], "--key-retention"),
            (["--request-timeout-ms", "12a"], "--request-timeout-ms"),
            (["--log-level", "loud"], "--log-level"),
            (["--bind", "not-an-ip"], "--bind"),
            (["--snapshot-threshold", "+5"], "--snapshot-threshold"),
        ]
        for args, word in cases:
            with self.subTest(args=args):
                p = run_binary(["--dir", d] + args)
                self.assertEqual(p.returncode, 2, "%r: exit %d, stderr %r" % (args, p.returncode, p.stderr))
                self.assertIn(word, p.stderr, "%r: the message should name the flag" % (args,))
        self.assertFalse(os.path.exists(d), "a refused command line must not create the data dir")


class AllFlagsTest(SeqdTestCase):

    def test_every_flag_accepted(self):
        s = self.start_server("--max-clients", "100", "--max-pipeline", "100",
                              "--client-output-max", "1048576", "--key-retention", "60",
                              "--max-keys", "1000", "--snapshot-threshold", "100",
                              "--snapshot-trailing", "50", "--request-timeout-ms", "1000",
                              "--log-level", "debug")
        c = s.client()
        self.assertEqual(c.execute_command("CREATE", "f", 1, 100), b"OK")
        self.assertEqual(c.execute_command("NEXT", "f", "KEY", "x"), 1)
        f = info_fields(c.execute_command("INFO"))
        self.assertEqual(int(f["maxclients"]), 100)
        self.assertEqual(int(f["max_keys"]), 1000)
        self.assertEqual(int(f["key_retention_seconds"]), 60)
        self.assertEqual(int(f["snapshot_threshold"]), 100)
        c.close()
        self.assertEqual(s.stop(), 0)

    def test_log_level_error_is_quiet(self):
        s = self.start_server("--log-level", "error")
        s.client().execute_command("PING")
        self.assertEqual(s.stop(), 0)
        self.assertNotIn("listening", s.log_since_start())

    def test_restart_on_another_port(self):
        s = self.start_server()
        c = s.client()
        c.execute_command("CREATE", "p", 1, 100)
        self.assertEqual(c.execute_command("NEXT", "p"), 1)
        c.close()
        self.assertEqual(s.stop(), 0)
        s.port = free_port()
        s.start()
        c = s.client()
        self.assertEqual(c.execute_command("NEXT", "p"), 2)
        self.assertEqual(c.execute_command("ROLE")[0], b"leader")
        c.close()


class StartupFailureTest(SeqdTestCase):

    def spawn_and_wait(self, server, extra=()):
        server.spawn(extra)
        try:
            rc = server.proc.wait(EXIT_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.fail("seqd did not exit:\n" + server.log_tail())
        return rc, server.log_since_start()

    def test_busy_client_port(self):
        s = Server()
        self._servers.append(s)
        self.addCleanup(s.cleanup)
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", s.port))
        blocker.listen(1)
        self.addCleanup(blocker.close)
        rc, log = self.spawn_and_wait(s)
        self.assertEqual(rc, 1, log)
        self.assertIn(str(s.port), log, "the message should name the port")

    def test_busy_raft_port(self):
        # A cluster member needs its bus: a one-member --cluster names itself.
        s = Server()
        self._servers.append(s)
        self.addCleanup(s.cleanup)
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", s.port + 10000))
        blocker.listen(1)
        self.addCleanup(blocker.close)
        rc, log = self.spawn_and_wait(s, ["--cluster", "127.0.0.1:%d" % s.port])
        self.assertEqual(rc, 1, log)
        self.assertIn(str(s.port + 10000), log, "the message should name the raft port")

    def test_single_node_opens_no_raft_port(self):
        # A single node hears from nobody on the bus: no listener there, so
        # a busy bus port does not matter and nothing answers on it.
        s = Server()
        self._servers.append(s)
        self.addCleanup(s.cleanup)
        blocker = socket.socket()
        blocker.bind(("127.0.0.1", s.port + 10000))
        self.addCleanup(blocker.close)  # bound, not listening: a connect is refused
        s.start()
        c = s.client()
        self.assertEqual(c.execute_command("CREATE", "r", 1, 10), b"OK")
        self.assertEqual(c.execute_command("NEXT", "r"), 1)
        blocker.close()
        probe = socket.socket()
        probe.settimeout(2)
        with self.assertRaises(ConnectionRefusedError):
            probe.connect(("127.0.0.1", s.port + 10000))
        probe.close()
        listening = subprocess.run(["ss", "-ltnH", "sport", "= :%d" % (s.port + 10000)],
                                   capture_output=True, text=True)
        if listening.returncode == 0:
            self.assertEqual(listening.stdout.strip(), "", "something listens on the bus port")
        self.assertEqual(c.execute_command("NEXT", "r"), 2)
        c.close()

    def test_second_instance_same_dir(self):
        first = self.start_server()
        first.client().execute_command("CREATE", "x", 1, 10)
        second = Server(data_dir=first.data_dir)
        self._servers.append(second)
        self.addCleanup(second.cleanup)
        rc, log = self.spawn_and_wait(second)
        self.assertEqual(rc, 1, log)
        self.assertTrue(first.data_dir in log or "another seqd" in log, log)
        self.assertIn(str(first.pid), log, "the message should name the other process")
        # the first one is unharmed
        self.assertEqual(first.client().execute_command("NEXT", "x"), 1)

    def test_unusable_dirs(self):
        afile = os.path.join(session_dir(), "a-regular-file")
        with open(afile, "w") as f:
            f.write("x")
        for d in ["/proc/seqd-it-cannot-exist", afile, os.path.join(afile, "sub"), "/proc/self/nope/x"]:
            with self.subTest(dir=d):
                s = Server(data_dir=d)
                self._servers.append(s)
                s.data_dir = d
                rc, log = self.spawn_and_wait(s)
                s.data_dir = os.path.join(session_dir(), "unused-%d" % s.id)  # cleanup must not rm afile
                self.assertEqual(rc, 1, log)
                self.assertIn(d.split("/sub")[0] if d.endswith("/sub") else d, log,
                              "the message should name the directory")
        self.assertTrue(os.path.isfile(afile))

    def test_missing_nested_dir_is_created(self):
        d = os.path.join(session_dir(), "nested-%d" % random.randint(0, 10 ** 9), "a", "b")
        s = self.start_server(data_dir=d)
        self.assertTrue(s.client().ping())
        self.assertTrue(os.path.isdir(d))
        self.assertTrue(os.path.exists(os.path.join(d, "seqd.lock")))


class SignalTest(SeqdTestCase):

    def test_sigterm_idle(self):
        s = self.start_server()
        t0 = time.monotonic()
        self.assertEqual(s.stop(signal.SIGTERM), 0)
        self.assertLess(time.monotonic() - t0, 5)

    def test_sigint_idle(self):
        s = self.start_server()
        s.client().execute_command("CREATE", "x", 1, 10)
        self.assertEqual(s.stop(signal.SIGINT), 0)
        s.start()
        self.assertEqual(s.client().execute_command("NEXT", "x"), 1)

    def test_sigterm_with_idle_clients_connected(self):
        s = self.start_server()
        conns = [s.raw() for _ in range(20)]
        for c in conns:
            c.cmd("PING")
        t0 = time.monotonic()
        self.assertEqual(s.stop(signal.SIGTERM), 0)
        self.assertLess(time.monotonic() - t0, 5)
        for c in conns:
            self.assertTrue(c.closed_by_server(2))
            c.close()

    def test_sigterm_under_load(self):
        s = self.start_server()
        s.client().execute_command("CREATE", "t", 1, 10 ** 12)
        stop = threading.Event()
        numbers = []
        bad = []
        lock = threading.Lock()

        def client_loop(i):
            c = s.client(socket_timeout=15)
            rng = random.Random(i)
            try:
                while not stop.is_set():
                    if rng.random() < 0.3:
                        reply = c.execute_command("NEXT", "t", "COUNT", rng.randint(1, 20))
                        got = runs_numbers(reply)
                    else:
                        got = [c.execute_command("NEXT", "t")]
                    for n in got:
                        if not isinstance(n, int):
                            raise AssertionError("not a number: %r" % (n,))
                    with lock:
                        numbers.extend(got)
            except redis.ConnectionError:
                pass  # the server went away after answering: expected
            except redis.ResponseError as e:
                with lock:
                    bad.append("client %d: error reply %r" % (i, str(e)))
            except Exception as e:
                with lock:
                    bad.append("client %d: %r" % (i, e))
            finally:
                c.close()

        def pipeline_loop(i):
            r = Raw(s.port, timeout=15)
            try:
                while not stop.is_set():
                    r.send(encode("NEXT", "t") * 50)
                    for _ in range(50):
                        v = r.read()
                        if not isinstance(v, int):
                            raise AssertionError("pipelined reply %r" % (v,))
                        with lock:
                            numbers.append(v)
            except (EOFError, ConnectionError, OSError):
                pass
            except Exception as e:
                with lock:
                    bad.append("pipeline %d: %r" % (i, e))
            finally:
                r.close()

        threads = [threading.Thread(target=client_loop, args=(i,)) for i in range(8)]
        threads += [threading.Thread(target=pipeline_loop, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        time.sleep(0.8)
        with lock:
            self.assertGreater(len(numbers), 0, "no load reached the server")
        t0 = time.monotonic()
        rc = s.stop(signal.SIGTERM)
        elapsed = time.monotonic() - t0
        stop.set()
        for t in threads:
            t.join(30)
        self.assertEqual(rc, 0, "SIGTERM under load must exit 0")
        self.assertLess(elapsed, 8)
        self.assertEqual(bad, [], "every reply a client got must be a valid number")
        self.assertEqual(len(set(numbers)), len(numbers), "a number was answered twice")
        top = max(numbers)
        s.start()
        c = s.client()
        n = c.execute_command("NEXT", "t")
        self.assertGreater(n, top, "after restart NEXT must exceed every number answered before")
        d = describe_dict(c.execute_command("DESCRIBE", "t"))
        self.assertEqual(d["issued"], n, "a clean shutdown must leave no gap")
        c.close()


class RestartTest(SeqdTestCase):

    def build_state(self, c):
        x = c.execute_command
        x("CREATE", "a", 1, 100)
        x("ADDRANGE", "a", 200, 300)
        self.assertEqual(x("NEXT", "a", "COUNT", 150), [1, 100, 200, 249])
        x("CREATE", "b", 0, 10 ** 6, "START", 500)
        self.assertEqual(x("NEXT", "b"), 500)
        x("CREATE", "c", 1, 50)
        self.assertEqual(x("NEXT", "c", "COUNT", 5), [1, 5])
        x("DROP", "c")
        self.assertEqual(x("NEXT", "a", "KEY", "k1", "COUNT", 3), [250, 252])
        self.assertEqual(x("NEXT", "b", "KEY", "k1"), 501)
        x("CREATE", "empty", -5, -1)
        x("NEXT", "empty", "COUNT", 5)

    def snapshot_state(self, c):
        x = c.execute_command
        names = x("LIST")
        return names, {n: describe_static(x("DESCRIBE", n)) for n in names}

    def check_after_restart(self, s, before):
        c = s.client()
        self.addCleanup(c.close)
        x = c.execute_command
        self.assertEqual(self.snapshot_state(c), before)
        self.assertEqual(x("NEXT", "a", "KEY", "k1", "COUNT", 3), [250, 252], "keys must survive a restart")
        self.assertEqual(x("NEXT", "b", "KEY", "k1"), 501)
        self.assertEqual(x("NEXT", "a"), 253)
        self.assertEqual(x("CREATE", "a", 1, 100), b"OK")
        x("CREATE", "c", 1, 50)
        self.assertEqual(x("NEXT", "c"), 6, "DROP history must survive a restart")
        with self.assertRaises(redis.ResponseError):
            x("NEXT", "empty")

    def test_restart_after_sigterm_keeps_state(self):
        s = self.start_server()
        c = s.client()
        self.build_state(c)
        before = self.snapshot_state(c)
        c.close()
        self.assertEqual(s.stop(), 0)
        s.start()
        self.check_after_restart(s, before)
        f = info_fields(s.client().execute_command("INFO", "keyspace"))
        self.assertEqual(int(f["sequences"]), 4)

    def test_restart_after_kill9_keeps_state(self):
        s = self.start_server()
        c = s.client()
        self.build_state(c)
        before = self.snapshot_state(c)
        c.close()
        s.kill9()
        s.start()  # the lock of a killed process does not block the restart
        self.check_after_restart(s, before)

    def test_restart_many_times(self):
        s = self.start_server()
        s.client().execute_command("CREATE", "r", 1, 10 ** 6)
        expect = 1
        for i in range(6):
            c = s.client()
            self.assertEqual(c.execute_command("NEXT", "r"), expect)
            self.assertEqual(c.execute_command("NEXT", "r", "COUNT", 10), [expect + 1, expect + 10])
            expect += 11
            c.close()
            if i % 2:
                s.kill9()
            else:
                self.assertEqual(s.stop(), 0)
            s.start()
        d = describe_dict(s.client().execute_command("DESCRIBE", "r"))
        self.assertEqual(d["issued"], expect - 1)


class SnapshotTest(SeqdTestCase):
    """--snapshot-threshold 64: snapshots every 64 entries; restart must
    restore the snapshot and replay the entries after it."""

    ARGS = ("--snapshot-threshold", "64", "--snapshot-trailing", "16")

    def workload(self, s, model, keys, rounds, seed):
        """Sequential requests from 4 threads (each its own log entry)."""
        errors = []
        lock = threading.Lock()

        def work(i):
            rng = random.Random(seed * 100 + i)
            c = s.client()
            try:
                for j in range(rounds):
                    name = "s%d" % (i % 2)
                    op = rng.random()
                    if op < 0.5:
                        nums = [c.execute_command("NEXT", name)]
                    elif op < 0.8:
                        nums = runs_numbers(c.execute_command("NEXT", name, "COUNT", rng.randint(1, 30)))
                    else:
                        key = "k%d-%d-%d" % (seed, i, j)
                        k = rng.randint(1, 5)
                        nums = runs_numbers(c.execute_command("NEXT", name, "KEY", key, "COUNT", k))
                        with lock:
                            keys[(name, key)] = (k, nums)
                    with lock:
                        model.setdefault(name, []).extend(nums)
            except Exception as e:
                errors.append(repr(e))
            finally:
                c.close()

        threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        self.assertEqual(errors, [])

    def check(self, s, model, keys):
        c = s.client()
        try:
            for name, nums in model.items():
                self.assertEqual(len(set(nums)), len(nums), "%s: a number issued twice" % name)
                self.assertEqual(sorted(nums), list(range(1, len(nums) + 1)), "%s: gap" % name)
                d = describe_dict(c.execute_command("DESCRIBE", name))
                self.assertEqual(d["issued"], len(nums), name)
                self.assertEqual(d["next"], len(nums) + 1, name)
            for (name, key), (k, nums) in sorted(keys.items()):
                got = runs_numbers(c.execute_command("NEXT", name, "KEY", key, "COUNT", k))
                self.assertEqual(got, nums, "key %s of %s after restart" % (key, name))
            self.assertEqual(c.execute_command("LIST"), [b"dropped", b"s0", b"s1"])
            self.assertEqual(c.execute_command("NEXT", "dropped"), 11)
            c.execute_command("DROP", "dropped")
            c.execute_command("CREATE", "dropped", 1, 1000)
            n = c.execute_command("NEXT", "dropped")
            self.assertEqual(n, 12)
            return n
        finally:
            c.close()

    def test_snapshot_restart(self):
        s = self.start_server(*self.ARGS)
        c = s.client()
        c.execute_command("CREATE", "s0", 1, 10 ** 9)
        c.execute_command("CREATE", "s1", 1, 10 ** 9)
        c.execute_command("CREATE", "dropped", 1, 1000)
        c.execute_command("NEXT", "dropped", "COUNT", 10)
        c.execute_command("DROP", "dropped")
        c.execute_command("CREATE", "dropped", 1, 1000)
        model, keys = {}, {}
        self.workload(s, model, keys, rounds=500, seed=1)
        f = info_fields(c.execute_command("INFO", "raft"))
        self.assertGreater(int(f["raft_commit_index"]), 64 * 4, "too few entries to force snapshots")
        c.close()
        raft_dir = os.path.join(s.data_dir, "raft")
        snaps = [n for n in os.listdir(raft_dir) if n.startswith("snapshot")]
        self.assertTrue(snaps, "no snapshot file in %s: %s" % (raft_dir, os.listdir(raft_dir)))
        self.assertEqual(s.stop(), 0)
        s.start()
        last_dropped = self.check(s, model, keys)
        # more work, then a crash: snapshot + trailing log replay again
        model.setdefault("s0", [])
        self.workload(s, model, keys, rounds=300, seed=2)
        s.kill9()
        s.start()
        c = s.client()
        for name, nums in model.items():
            d = describe_dict(c.execute_command("DESCRIBE", name))
            self.assertEqual(d["issued"], len(nums), name)
            self.assertEqual(sorted(nums), list(range(1, len(nums) + 1)))
        for (name, key), (k, nums) in sorted(keys.items()):
            self.assertEqual(runs_numbers(c.execute_command("NEXT", name, "KEY", key, "COUNT", k)), nums)
        self.assertEqual(c.execute_command("NEXT", "dropped"), last_dropped + 1)
        c.close()

