"""test_auth — logging in as every Redis client does (issue 11, item 1).

With --requirepass-file only AUTH, HELLO, QUIT and PING work before a
login; a wrong one gets WRONGPASS, each later than the last on its
connection, and nobody else waits for it. Real clients: redis-cli (-a,
--user/--pass, REDISCLI_AUTH) and redis-py (password=, username=)."""

import os
import socket
import subprocess
import threading
import time

import redis

from harness import Raw, RespError, SeqdTestCase, Server, encode, info_fields, run_binary, session_dir

PASSWORD = "s3cret-Pa55 word"  # a space too: the whole first line is the password


def password_file(text=PASSWORD + "\n"):
    path = os.path.join(session_dir(), "pw-%d-%d" % (os.getpid(), time.monotonic_ns()))
    with open(path, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)
    return path


def err(reply):
    return reply.text if isinstance(reply, RespError) else None


class NoPasswordTest(SeqdTestCase):

    def test_without_a_password_everyone_is_default(self):
        s = self.start_server()
        with Raw(s.port) as r:
            self.assertEqual(r.cmd("CREATE", "a", 1, 10), "OK")
            self.assertTrue(err(r.cmd("AUTH", "x")).startswith("ERR AUTH <password> called without"))
            self.assertEqual(r.cmd("AUTH", "default", "anything"), "OK")
            self.assertTrue(err(r.cmd("AUTH", "someone", "x")).startswith("WRONGPASS"))
            self.assertEqual(r.cmd("NEXT", "a"), 1)
        with Raw(s.port) as r:
            r.cmd("HELLO", 3, "AUTH", "default", "whatever")
            self.assertEqual(r.first_byte, b"%")
            self.assertEqual(r.cmd("NEXT", "a"), 2)


class PasswordTest(SeqdTestCase):

    def setUp(self):
        super().setUp()
        self.s = self.start_server("--requirepass-file", password_file())

    def test_before_login_only_the_door_commands(self):
        with Raw(self.s.port) as r:
            self.assertEqual(r.cmd("PING"), "PONG")
            for argv in (("CREATE", "a", 1, 10), ("NEXT", "a"), ("INFO",), ("DESCRIBE", "a"),
                         ("CLIENT", "SETNAME", "x"), ("CONFIG", "GET", "*"), ("DROP", "a"),
                         ("VOID", "a", 1, "x"), ("CLUSTER", "NODES"), ("ROLE",), ("COMMAND",)):
                self.assertEqual(err(r.cmd(*argv)), "NOAUTH Authentication required.", argv)
            self.assertTrue(err(r.cmd("HELLO", 3)).startswith("NOAUTH HELLO must be called"))
            self.assertEqual(err(r.cmd("AUTH", "wrong")),
                             "WRONGPASS invalid username-password pair or user is disabled.")
            self.assertTrue(err(r.cmd("AUTH", "nobody", PASSWORD)).startswith("WRONGPASS"))
            self.assertEqual(err(r.cmd("NEXT", "a")), "NOAUTH Authentication required.")
            self.assertEqual(r.cmd("AUTH", PASSWORD), "OK")
            self.assertEqual(r.cmd("CREATE", "a", 1, 10), "OK")
            self.assertEqual(r.cmd("NEXT", "a"), 1)
            self.assertEqual(r.cmd("AUTH", "default", PASSWORD), "OK")
            self.assertEqual(r.cmd("QUIT"), "OK")
        with Raw(self.s.port) as r:
            self.assertEqual(r.cmd("QUIT"), "OK")  # QUIT needs no login

    def test_pipelined_requests_wait_for_the_login(self):
        """AUTH and the requests behind it in one write: the requests run
        as what the check decided, in order."""
        with Raw(self.s.port) as r:
            r.send(encode("AUTH", "wrong") + encode("CREATE", "p", 1, 100) + encode("NEXT", "p"))
            replies = [r.read(), r.read(), r.read()]
            self.assertTrue(err(replies[0]).startswith("WRONGPASS"), replies)
            self.assertEqual([err(x) for x in replies[1:]], ["NOAUTH Authentication required."] * 2)
            r.send(encode("AUTH", PASSWORD) + encode("CREATE", "p", 1, 100) +
                   b"".join(encode("NEXT", "p") for _ in range(50)))
            replies = [r.read() for _ in range(52)]
            self.assertEqual(replies[:2], ["OK", "OK"])
            self.assertEqual(replies[2:], list(range(1, 51)))

    def test_hello_auth_switches_protocol_only_when_it_passes(self):
        with Raw(self.s.port) as r:
            rep = r.cmd("HELLO", 3, "AUTH", "default", "wrong", "SETNAME", "nope")
            self.assertTrue(err(rep).startswith("WRONGPASS"), rep)
            self.assertEqual(err(r.cmd("CLIENT", "GETNAME")), "NOAUTH Authentication required.")
            r.cmd("PING")
            self.assertEqual(r.first_byte, b"+")
            rep = r.cmd("HELLO", 3, "AUTH", "default", PASSWORD, "SETNAME", "sales")
            self.assertEqual(r.first_byte, b"%")
            r.cmd("CLIENT", "GETNAME")
            self.assertEqual(r.first_byte, b"$")
            self.assertEqual(r.cmd("CLIENT", "GETNAME"), b"sales")
            r.cmd("CREATE", "h", 1, 5)
            self.assertEqual(r.cmd("NEXT", "h"), 1)

    def test_redis_cli_ways_to_log_in(self):
        base = ["redis-cli", "-p", str(self.s.port), "--no-auth-warning"]

        def cli(args, env=None):
            e = dict(os.environ)
            e.pop("REDISCLI_AUTH", None)
            e.update(env or {})
            return subprocess.run(base + args, capture_output=True, text=True, timeout=10, env=e).stdout.strip()

        self.assertEqual(cli(["-a", PASSWORD, "CREATE", "c", "1", "100"]), "OK")
        self.assertEqual(cli(["-a", PASSWORD, "NEXT", "c"]), "1")
        self.assertEqual(cli(["--user", "default", "--pass", PASSWORD, "NEXT", "c"]), "2")
        self.assertEqual(cli(["NEXT", "c"], env={"REDISCLI_AUTH": PASSWORD}), "3")
        self.assertIn("NOAUTH", cli(["NEXT", "c"]))
        self.assertIn("NOAUTH", cli(["-a", "wrong", "NEXT", "c"]))

    def test_redis_py_password_and_username(self):
        c = self.s.client(password=PASSWORD)
        self.assertEqual(c.execute_command("CREATE", "py", 1, 100), b"OK")
        self.assertEqual(c.execute_command("NEXT", "py"), 1)
        c2 = self.s.client(username="default", password=PASSWORD)
        self.assertEqual(c2.execute_command("NEXT", "py"), 2)
        c3 = self.s.client(username="default", password=PASSWORD, protocol=3) \
            if "protocol" in redis.Redis.__init__.__code__.co_varnames else None
        if c3 is not None:
            self.assertEqual(c3.execute_command("NEXT", "py"), 3)
        with self.assertRaises((redis.exceptions.AuthenticationError, redis.exceptions.ResponseError)) as e:
            self.s.client(password="wrong").execute_command("NEXT", "py")
        self.assertIn("WRONGPASS", str(e.exception))
        with self.assertRaises(redis.exceptions.AuthenticationError):
            self.s.client().execute_command("NEXT", "py")

    def test_wrong_passwords_are_slowed_and_slow_nobody_else(self):
        """Six wrong logins on one connection take at least 50+100+...+1600
        ms; meanwhile a logged-in client's NEXTs keep coming at once, and
        a hundred guessers on their own connections do not stop it."""
        good = Raw(self.s.port)
        self.addCleanup(good.close)
        self.assertEqual(good.cmd("AUTH", PASSWORD), "OK")
        good.cmd("CREATE", "g", 1, 10 ** 6)
        slowest = [0.0]
        got = []
        stop = threading.Event()

        def issue():
            while not stop.is_set():
                t = time.monotonic()
                got.append(good.cmd("NEXT", "g"))
                slowest[0] = max(slowest[0], time.monotonic() - t)
                time.sleep(0.005)

        th = threading.Thread(target=issue)
        th.start()
        try:
            with Raw(self.s.port, timeout=30) as bad:
                t0 = time.monotonic()
                for _ in range(6):
                    self.assertTrue(err(bad.cmd("AUTH", "guess")).startswith("WRONGPASS"))
                took = time.monotonic() - t0
            guessers = [socket.create_connection(("127.0.0.1", self.s.port), timeout=30) for _ in range(100)]
            for g in guessers:
                g.sendall(encode("AUTH", "guess"))
            for g in guessers:
                self.assertTrue(g.recv(100).startswith(b"-WRONGPASS"))
                g.close()
        finally:
            stop.set()
            th.join()
        self.assertGreaterEqual(took, (50 + 100 + 200 + 400 + 800 + 1600) / 1000.0)
        self.assertLess(slowest[0], 0.5, "a logged-in client waited %.3f s for a NEXT" % slowest[0])
        self.assertEqual(got, list(range(1, len(got) + 1)))
        self.assertGreater(len(got), 20)
        f = info_fields(good.cmd("INFO", "stats"))
        self.assertGreaterEqual(int(f["acl_access_denied_auth"]), 106)


class ReconnectStormTest(SeqdTestCase):

    def test_a_password_that_passed_is_not_hashed_again(self):
        """After one login, 200 clients logging in at once (a reconnect after
        a failover) are answered within about a second: one scrypt each
        (~50 ms on one thread) would take 10 s. A wrong password is still
        slow."""
        s = self.start_server("--requirepass-file", password_file())
        with Raw(s.port) as r:
            self.assertEqual(r.cmd("AUTH", PASSWORD), "OK")
        socks = [socket.create_connection(("127.0.0.1", s.port), timeout=30) for _ in range(200)]
        t0 = time.monotonic()
        for c in socks:
            c.sendall(encode("AUTH", PASSWORD))
        for c in socks:
            self.assertEqual(c.recv(100), b"+OK\r\n")
            c.close()
        took = time.monotonic() - t0
        self.assertLess(took, 3.0, "200 logins with a known password took %.2f s" % took)
        with Raw(s.port) as r:
            t0 = time.monotonic()
            self.assertTrue(err(r.cmd("AUTH", PASSWORD + "x")).startswith("WRONGPASS"))
            self.assertGreaterEqual(time.monotonic() - t0, 0.04)  # scrypt plus the first delay


class PasswordFileTest(SeqdTestCase):

    def test_bad_password_files_are_refused_at_start(self):
        d = os.path.join(session_dir(), "never-made-auth")
        for path in (os.path.join(session_dir(), "no-such-file"), password_file(""),
                     password_file("\n" + PASSWORD)):
            p = run_binary(["--dir", d, "--requirepass-file", path])
            self.assertEqual(p.returncode, 2, p.stderr)
            self.assertIn(path, p.stderr)
        self.assertFalse(os.path.exists(d))
        p = run_binary(["--dir", d, "--requirepass-file"])
        self.assertEqual(p.returncode, 2)

    def test_password_never_in_the_log_or_info(self):
        s = self.start_server("--requirepass-file", password_file(), "--log-level", "debug")
        with Raw(s.port) as r:
            self.assertEqual(r.cmd("AUTH", PASSWORD), "OK")
            r.cmd("AUTH", "wrong " + PASSWORD)
            info = r.cmd("INFO")
            conf = r.cmd("CONFIG", "GET", "*")
        self.assertNotIn(PASSWORD.encode(), info if isinstance(info, bytes) else b"")
        self.assertNotIn(PASSWORD, str(conf))
        self.assertNotIn(PASSWORD, s.log_since_start())
        for root, _, files in os.walk(s.data_dir):
            for name in files:
                with open(os.path.join(root, name), "rb") as f:
                    self.assertNotIn(PASSWORD.encode(), f.read(), name)


class ClusterPasswordTest(SeqdTestCase):

    def test_login_on_a_follower_issues_through_the_leader(self):
        path = password_file()
        c = self.start_cluster(3, args=["--requirepass-file", path, "--request-timeout-ms", "2000"],
                               wait_leader=False)
        for node in c.nodes:
            node.password = PASSWORD  # for the harness's ROLE polls
        lead = c.wait_stable_leader()
        follower = c.followers(lead)[0]
        with Raw(follower.port) as r:
            self.assertEqual(err(r.cmd("CREATE", "x", 1, 100)), "NOAUTH Authentication required.")
            self.assertEqual(r.cmd("AUTH", PASSWORD), "OK")
            got = None
            for _ in range(50):
                got = r.cmd("CREATE", "x", 1, 100)
                if got == "OK":
                    break
                time.sleep(0.1)
            self.assertEqual(got, "OK")
            nums = []
            for _ in range(5):
                rep = r.cmd("NEXT", "x")
                while isinstance(rep, RespError) and rep.text.startswith("TRYAGAIN"):
                    time.sleep(0.1)
                    rep = r.cmd("NEXT", "x")
                nums.append(rep)
            self.assertEqual(nums, [1, 2, 3, 4, 5])
        with Raw(lead.port) as r:
            self.assertEqual(err(r.cmd("NEXT", "x")), "NOAUTH Authentication required.")
