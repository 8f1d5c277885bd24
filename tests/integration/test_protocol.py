"""test_protocol — the wire, over raw sockets: pipelining, inline commands,
malformed input, limits, hostile clients, max-clients and max-pipeline.

Contract checked here: replies on one connection come in request order; a
malformed request gets exactly one "ERR Protocol error..." reply and then the
server closes that connection; other clients and the state are untouched.
"""

import random
import socket
import struct
import threading
import time

from harness import Raw, RespError, SeqdTestCase, describe_dict, encode, info_fields

KIB = 1024


def hard_close(sock):
    """Closes with RST instead of FIN (SO_LINGER 0)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass
    sock.close()


class ProtocolBase(SeqdTestCase):
    server_args = ()

    def setUp(self):
        super().setUp()
        self.s = self.start_server(*self.server_args)
        self.c = self.s.raw()
        self.addCleanup(self.c.close)

    def raw(self):
        c = self.s.raw()
        self.addCleanup(c.close)
        return c


class PipelineTest(ProtocolBase):

    def test_1000_next_in_one_send(self):
        self.assertEqual(self.c.cmd("CREATE", "p", 1, 10 ** 9), "OK")
        self.c.send(encode("NEXT", "p") * 1000)
        got = self.c.read_n(1000)
        self.assertEqual(got, list(range(1, 1001)), "pipelined NEXT replies out of order or with gaps")

    def test_20000_inline_next_in_one_send(self):
        self.assertEqual(self.c.cmd("CREATE", "p", 1, 10 ** 9), "OK")
        self.c.send(b"NEXT p\r\n" * 20000)
        self.assertEqual(self.c.read_n(20000), list(range(1, 20001)))

    def test_inline_pipeline(self):
        self.c.cmd("CREATE", "p", 1, 10 ** 9)
        self.c.send(b"NEXT p\r\n" * 500 + b"INCR p\n" * 500)
        self.assertEqual(self.c.read_n(1000), list(range(1, 1001)))

    def test_mixed_immediate_and_committed_replies_keep_order(self):
        # PING/ECHO are answered at once, NEXT/DESCRIBE only after commit:
        # the replies must still come back in request order.
        self.c.cmd("CREATE", "m", 1, 10 ** 9)
        reqs, expect = [], []
        n = 1
        for i in range(300):
            kind = i % 6
            if kind == 0:
                reqs.append(encode("NEXT", "m"))
                expect.append(n)
                n += 1
            elif kind == 1:
                reqs.append(encode("ECHO", "e%d" % i))
                expect.append(("e%d" % i).encode())
            elif kind == 2:
                reqs.append(encode("NEXT", "m", "COUNT", 3))
                expect.append([n, n + 2])
                n += 3
            elif kind == 3:
                reqs.append(encode("PING"))
                expect.append("PONG")
            elif kind == 4:
                reqs.append(encode("NEXT", "nosuch"))
                expect.append(RespError("NOSEQ no such sequence"))
            else:
                reqs.append(encode("PING", "p%d" % i))
                expect.append(("p%d" % i).encode())
        self.c.send(b"".join(reqs))
        got = self.c.read_n(len(reqs))
        for i, (g, e) in enumerate(zip(got, expect)):
            if isinstance(e, RespError):
                self.assertIsInstance(g, RespError, "reply %d" % i)
                self.assertTrue(g.text.startswith("NOSEQ"), "reply %d: %r" % (i, g))
            else:
                self.assertEqual(g, e, "reply %d out of order" % i)

    def test_pipeline_across_two_connections_interleaved(self):
        self.c.cmd("CREATE", "x", 1, 10 ** 9)
        other = self.raw()
        self.c.send(encode("NEXT", "x") * 300)
        other.send(encode("NEXT", "x") * 300)
        a = self.c.read_n(300)
        b = other.read_n(300)
        self.assertEqual(a, sorted(a))
        self.assertEqual(b, sorted(b))
        self.assertEqual(sorted(a + b), list(range(1, 601)))

    def test_split_writes_byte_by_byte(self):
        self.c.cmd("CREATE", "b", 1, 100)
        data = encode("NEXT", "b") + b"NEXT b\r\n" + encode("NEXT", "b", "COUNT", 2) + \
            b'ECHO "two words"\r\n' + encode("ECHO", b"x\r\ny")
        for i in range(len(data)):
            self.c.send(data[i:i + 1])
            if i % 7 == 0:
                time.sleep(0.002)
        self.assertEqual(self.c.read_n(5), [1, 2, [3, 4], b"two words", b"x\r\ny"])

    def test_split_writes_random_chunks(self):
        self.c.cmd("CREATE", "b", 1, 10 ** 6)
        rng = random.Random(7)
        data = b"".join(encode("NEXT", "b") if i % 2 else b"NEXT b\r\n" for i in range(400))
        pos = 0
        while pos < len(data):
            k = rng.randint(1, 40)
            self.c.send(data[pos:pos + k])
            pos += k
        self.assertEqual(self.c.read_n(400), list(range(1, 401)))

    def test_empty_requests_are_skipped(self):
        self.c.send(b"\r\n\n*0\r\n*-1\r\n   \r\nPING\r\n")
        self.assertEqual(self.c.read(), "PONG")
        self.assertEqual(self.c.cmd("PING"), "PONG")

    def test_quit_in_pipeline(self):
        self.c.send(b"PING\r\nQUIT\r\nPING\r\n")
        self.assertEqual(self.c.read(), "PONG")
        self.assertEqual(self.c.read(), "OK")
        self.assertTrue(self.c.closed_by_server(3))
        self.assertEqual(self.c.buf, b"", "nothing may follow QUIT's +OK")

    def test_quit_after_replies_still_pending(self):
        # QUIT closes the connection only after every earlier reply was sent,
        # including replies that wait for a commit.
        self.c.cmd("CREATE", "q", 1, 100)
        c = self.raw()
        c.send(b"PING\r\nNEXT q\r\nQUIT\r\nPING\r\n")
        self.assertEqual(c.read(), "PONG")
        self.assertEqual(c.read(), 1, "the NEXT before QUIT was not answered")
        self.assertEqual(c.read(), "OK")
        self.assertTrue(c.closed_by_server(3))
        self.assertEqual(c.buf, b"")
        self.assertEqual(self.c.cmd("NEXT", "q"), 2)

    def test_disconnect_with_requests_in_flight(self):
        self.c.cmd("CREATE", "d", 1, 10 ** 9)
        for _ in range(20):
            r = Raw(self.s.port)
            r.send(encode("NEXT", "d", "COUNT", 10) * 200)
            hard_close(r.sock)
        r = Raw(self.s.port)
        r.send(encode("NEXT", "d") * 500)
        r.sock.close()
        time.sleep(0.3)
        self.s.assert_alive()
        n = self.c.cmd("NEXT", "d")
        self.assertIsInstance(n, int)
        d = describe_dict(self.c.cmd("DESCRIBE", "d"))
        self.assertEqual(d["next"], n + 1)
        self.assertEqual(d["issued"], n, "gap: the numbers issued must be exactly 1..n")


class InlineTest(ProtocolBase):

    def test_inline_commands(self):
        self.assertEqual(self.c.send(b"CREATE x 1 100\r\n") or self.c.read(), "OK")
        self.c.send(b"NEXT x\r\n")
        self.assertEqual(self.c.read(), 1)
        self.c.send(b"NEXT x\n")
        self.assertEqual(self.c.read(), 2)
        self.c.send(b"  next \t x   COUNT  2 \r\n")
        self.assertEqual(self.c.read(), [3, 4])
        self.c.send(b"PING\r\n")
        self.assertEqual(self.c.read(), "PONG")
        self.c.send(b"FROB\r\n")
        self.assertErr(self.c.read(), "ERR unknown command")
        self.c.send(b"NEXT\r\n")
        self.assertErr(self.c.read(), "ERR wrong number of arguments for 'next' command")
        self.c.send(b"NEXT x COUNT 0\r\n")
        self.assertErr(self.c.read(), "ERR")
        self.assertEqual(self.c.cmd("PING"), "PONG", "usable after argument errors")

    def test_quoted_inline_arguments(self):
        self.c.send(b'ECHO "hello world"\r\n')
        self.assertEqual(self.c.read(), b"hello world")
        self.c.send(b"ECHO 'single quoted'\r\n")
        self.assertEqual(self.c.read(), b"single quoted")
        self.c.send(b'ECHO ""\r\n')
        self.assertEqual(self.c.read(), b"")
        self.c.send(b'CREATE "q1" 1 5\r\n')
        self.assertEqual(self.c.read(), "OK")
        self.c.send(b"NEXT 'q1' COUNT \"2\"\r\n")
        self.assertEqual(self.c.read(), [1, 2])

    def test_escaped_inline_arguments(self):
        # redis-cli/Redis semantics for double quotes: \n \t \" \\ \xHH
        self.c.send(b'ECHO "a\\nb"\r\n')
        self.assertEqual(self.c.read(), b"a\nb")
        self.c.send(b'ECHO "q\\"uote"\r\n')
        self.assertEqual(self.c.read(), b'q"uote')
        self.c.send(b'ECHO "\\x41\\x42"\r\n')
        self.assertEqual(self.c.read(), b"AB")
        self.c.send(b"ECHO 'it\\'s'\r\n")
        self.assertEqual(self.c.read(), b"it's")


class MalformedTest(ProtocolBase):
    """Each class of malformed request: one protocol error, then the close."""

    CASES = [
        ("bad multibulk count", b"*abc\r\n"),
        ("negative multibulk count", b"*-5\r\n"),
        ("multibulk count with plus", b"*+1\r\n$4\r\nPING\r\n"),
        ("huge multibulk count", b"*99999999\r\n"),
        ("65 arguments", b"*65\r\n" + b"$1\r\na\r\n" * 65),
        ("huge bulk length", b"*1\r\n$999999999\r\n"),
        ("bulk length over 64 KiB", b"*2\r\n$4\r\nECHO\r\n$65537\r\n"),
        ("overflowing bulk length", b"*1\r\n$99999999999999999999999\r\n"),
        ("negative bulk length", b"*1\r\n$-1\r\n"),
        ("bulk length not a number", b"*1\r\n$4x\r\nPING\r\n"),
        ("missing $", b"*1\r\nPING\r\n"),
        ("missing $ second arg", b"*2\r\n$4\r\nECHO\r\n:5\r\n"),
        ("garbage after bulk", b"*1\r\n$4\r\nPINGxx\r\n"),
        ("bulk longer than declared", b"*2\r\n$4\r\nECHO\r\n$3\r\nabcd\r\n"),
        ("bulk without CRLF", b"*1\r\n$4\r\nPING\n\n"),
        ("unbalanced double quote", b'ECHO "abc\r\n'),
        ("unbalanced single quote", b"ECHO 'abc\r\n"),
        ("text after closing quote", b'ECHO "abc"def\r\n'),
        ("inline line over 64 KiB", b"ECHO " + b"a" * (64 * KIB + 10) + b"\r\n"),
        ("inline line over 64 KiB, no newline", b"ECHO " + b"a" * (64 * KIB + 100)),
        ("65 inline arguments", b"PING" + b" a" * 64 + b"\r\n"),
        ("very long multibulk header", b"*" + b"1" * 100),
    ]

    def check_protocol_error(self, payload, label):
        c = Raw(self.s.port)
        try:
            try:
                c.send(payload)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the server may close before it read everything
            try:
                reply = c.read()
            except (EOFError, ConnectionResetError) as e:
                self.fail("%s: no protocol error reply before the close (%r)" % (label, e))
            self.assertIsInstance(reply, RespError, "%s: got %r" % (label, reply))
            self.assertTrue(reply.text.startswith("ERR Protocol error"), "%s: got %r" % (label, reply.text))
            self.assertTrue(c.closed_by_server(5), "%s: the server must close the connection" % label)
            self.assertEqual(c.buf, b"", "%s: only one reply may be sent" % label)
        finally:
            c.close()

    def test_every_malformed_class(self):
        self.assertEqual(self.c.cmd("CREATE", "state", 1, 10 ** 6), "OK")
        self.assertEqual(self.c.cmd("NEXT", "state", "COUNT", 5), [1, 5])
        before = describe_dict(self.c.cmd("DESCRIBE", "state"))
        for label, payload in self.CASES:
            with self.subTest(case=label):
                self.check_protocol_error(payload, label)
                # the bystander connection and the state are untouched
                self.assertEqual(self.c.cmd("PING"), "PONG", label)
                self.assertEqual(describe_dict(self.c.cmd("DESCRIBE", "state")), before, label)
        self.s.assert_alive()
        self.assertEqual(self.c.cmd("NEXT", "state"), 6)
        f = info_fields(self.c.cmd("INFO", "stats"))
        self.assertGreaterEqual(int(f["protocol_errors"]), len(self.CASES))

    def test_valid_requests_before_garbage_are_answered(self):
        self.c.cmd("CREATE", "g", 1, 100)
        c = self.raw()
        c.send(b"PING\r\nNEXT g\r\n" + encode("NEXT", "g", "COUNT", 2) + b"*1\r\n$999999999\r\n")
        self.assertEqual(c.read(), "PONG")
        self.assertEqual(c.read(), 1)
        self.assertEqual(c.read(), [2, 3])
        self.assertErr(c.read(), "ERR Protocol error")
        self.assertTrue(c.closed_by_server(5))
        self.assertEqual(self.c.cmd("NEXT", "g"), 4, "numbers answered before the error stay issued")

    def test_many_bad_clients_at_once(self):
        self.c.cmd("CREATE", "st", 1, 10 ** 6)
        errors = []

        def bad(i):
            try:
                label, payload = self.CASES[i % len(self.CASES)]
                c = Raw(self.s.port)
                try:
                    c.send(payload)
                except OSError:
                    pass
                try:
                    r = c.read()
                    if not (isinstance(r, RespError) and r.text.startswith("ERR Protocol error")):
                        errors.append((label, r))
                except (EOFError, OSError) as e:
                    errors.append((label, e))
                c.close()
            except Exception as e:  # report, do not hang
                errors.append(("thread %d" % i, e))

        threads = [threading.Thread(target=bad, args=(i,)) for i in range(60)]
        for t in threads:
            t.start()
        good = [self.c.cmd("NEXT", "st") for _ in range(50)]
        for t in threads:
            t.join(30)
        self.assertEqual(errors, [])
        self.assertEqual(good, list(range(1, 51)))
        self.s.assert_alive()


class LimitsTest(ProtocolBase):

    def test_64_arguments_accepted(self):
        c = self.raw()
        reply = c.cmd("PING", *(["a"] * 63))  # 64 arguments: a request, wrong arity
        self.assertErr(reply, "ERR wrong number of arguments for 'ping' command")
        self.assertEqual(c.cmd("PING"), "PONG")
        c.send(b"PING" + b" a" * 63 + b"\r\n")  # 64 inline arguments
        self.assertErr(c.read(), "ERR wrong number of arguments")
        self.assertEqual(c.cmd("PING"), "PONG")

    def test_argument_of_64_kib(self):
        c = self.raw()
        big = bytes(random.Random(1).getrandbits(8) for _ in range(64 * KIB))
        self.assertEqual(c.cmd("ECHO", big), big)
        inline = b"ECHO " + b"z" * (64 * KIB - 5) + b"\r\n"  # a 64 KiB line
        c.send(inline)
        self.assertEqual(c.read(), b"z" * (64 * KIB - 5))
        self.assertEqual(c.cmd("PING"), "PONG")

    def test_largest_legal_request(self):
        c = self.raw()
        args = [b"x" * (64 * KIB)] * 63
        c.send(encode("PING", *args))
        self.assertErr(c.read(), "ERR wrong number of arguments")
        self.assertEqual(c.cmd("PING"), "PONG")

    def test_name_over_limit_is_argument_error_not_protocol(self):
        c = self.raw()
        self.assertErr(c.cmd("CREATE", "n" * 5000, 1, 2), "ERR")
        self.assertEqual(c.cmd("PING"), "PONG")


class HostileClientTest(ProtocolBase):

    def test_client_that_never_reads(self):
        self.c.cmd("CREATE", "h", 1, 10 ** 12)
        hostile = socket.create_connection(("127.0.0.1", self.s.port))
        hostile.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hostile.settimeout(1.0)
        echo = encode("ECHO", b"e" * (8 * KIB))
        nexts = encode("NEXT", "h", "COUNT", 1000) * 100
        sent = 0
        t_end = time.monotonic() + 8
        try:
            while time.monotonic() < t_end:
                hostile.sendall(echo * 16 + nexts)
                sent += 1
        except (socket.timeout, BlockingIOError):
            pass  # the server stopped reading us: backpressure works
        except (BrokenPipeError, ConnectionResetError):
            pass  # or dropped us: also fine
        self.assertLess(time.monotonic(), t_end + 1, "the server never pushed back")
        # other clients are served normally meanwhile
        other = self.raw()
        t0 = time.monotonic()
        for _ in range(200):
            self.assertIsInstance(other.cmd("NEXT", "h"), int)
        self.assertLess(time.monotonic() - t0, 10)
        rss = self.s.rss_kb()
        self.assertIsNotNone(rss)
        self.assertLess(rss, 300 * 1024, "server memory grew to %d KiB for one hostile client" % rss)
        hard_close(hostile)
        time.sleep(0.2)
        self.s.assert_alive()
        n = self.c.cmd("NEXT", "h")
        d = describe_dict(self.c.cmd("DESCRIBE", "h"))
        self.assertEqual(d["issued"], n, "issued numbers must stay gapless")

    def test_output_limit_drops_client(self):
        # a separate server with the smallest output cap: a client that
        # never reads while its replies pile up is dropped, nobody else is
        s = self.start_server("--client-output-max", "65536")
        s.client().execute_command("CREATE", "ol", 1, 100)
        hostile = socket.create_connection(("127.0.0.1", s.port))
        hostile.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        hostile.settimeout(1.0)
        echo = encode("ECHO", b"e" * (32 * KIB))
        dropped = False
        t_end = time.monotonic() + 10
        try:
            while time.monotonic() < t_end:
                hostile.sendall(echo * 8)
        except socket.timeout:
            pass
        except (BrokenPipeError, ConnectionResetError):
            dropped = True
        if not dropped:
            hostile.settimeout(0.2)
            try:
                while time.monotonic() < t_end + 5:
                    try:
                        if not hostile.recv(1 << 20):
                            dropped = True
                            break
                    except socket.timeout:
                        pass
            except (BrokenPipeError, ConnectionResetError):
                dropped = True
        hard_close(hostile)
        self.assertTrue(dropped, "a client over --client-output-max must be dropped")
        other = Raw(s.port)
        try:
            self.assertEqual(other.cmd("NEXT", "ol"), 1)
            f = info_fields(other.cmd("INFO", "stats"))
        finally:
            other.close()
        self.assertGreaterEqual(int(f["output_limit_drops"]), 1)
        s.assert_alive()

    def test_slowloris_partial_requests(self):
        # many clients each holding half a request must not block anyone
        self.c.cmd("CREATE", "sl", 1, 10 ** 6)
        partial = []
        for i in range(50):
            r = Raw(self.s.port)
            partial.append(r)
            r.send(b"*2\r\n$4\r\nNEXT\r\n$2\r\nsl" if i % 2 else b"NEXT s")
        try:
            self.assertEqual([self.c.cmd("NEXT", "sl") for _ in range(20)], list(range(1, 21)))
            # completing them later works
            for i, r in enumerate(partial):
                r.send(b"\r\n" if i % 2 else b"l\r\n")
            got = sorted(r.read() for r in partial)
            self.assertEqual(got, list(range(21, 71)))
        finally:
            for r in partial:
                r.close()


class MaxClientsTest(ProtocolBase):
    server_args = ("--max-clients", "3")

    def test_max_clients(self):
        # self.c is client 1; wait until the readiness probe's connection is gone
        self.wait_clients(1)
        c2, c3 = self.raw(), self.raw()
        self.assertEqual(c2.cmd("PING"), "PONG")
        self.assertEqual(c3.cmd("PING"), "PONG")
        extra = Raw(self.s.port)
        try:
            try:
                extra.send(b"PING\r\n")
            except OSError:
                pass
            reply = extra.read()
            self.assertEqual(reply, RespError("ERR max number of clients reached"))
            self.assertTrue(extra.closed_by_server(3))
        finally:
            extra.close()
        self.assertEqual(self.c.cmd("PING"), "PONG", "existing clients keep working")
        c3.close()
        deadline = time.monotonic() + 5
        ok = False
        while time.monotonic() < deadline and not ok:
            r = Raw(self.s.port)
            try:
                r.send(b"PING\r\n")
                ok = r.read() == "PONG"
            except (EOFError, OSError):
                ok = False
            finally:
                r.close()
            if not ok:
                time.sleep(0.05)
        self.assertTrue(ok, "a slot freed by a closed client must be reusable")
        f = info_fields(self.c.cmd("INFO"))
        self.assertGreaterEqual(int(f["rejected_connections"]), 1)
        self.assertEqual(int(f["maxclients"]), 3)

    def wait_clients(self, want, timeout=3.0):
        deadline = time.monotonic() + timeout
        while True:
            n = int(info_fields(self.c.cmd("INFO", "clients"))["connected_clients"])
            if n == want or time.monotonic() > deadline:
                return n
            time.sleep(0.02)

    def test_redis_py_sees_max_clients(self):
        import redis
        self.wait_clients(1)
        c2, c3 = self.raw(), self.raw()
        c2.cmd("PING")
        c3.cmd("PING")
        r = self.s.client()
        with self.assertRaises(redis.ConnectionError):
            r.execute_command("PING")
        r.close()


class MaxPipelineTest(ProtocolBase):
    server_args = ("--max-pipeline", "4")

    def test_deep_pipeline_with_small_cap(self):
        self.c.cmd("CREATE", "mp", 1, 10 ** 9)
        reqs = []
        for i in range(2000):
            reqs.append(encode("NEXT", "mp") if i % 3 else encode("ECHO", str(i)))
        self.c.send(b"".join(reqs))
        got = self.c.read_n(2000)
        n = 1
        for i, g in enumerate(got):
            if i % 3:
                self.assertEqual(g, n, "reply %d" % i)
                n += 1
            else:
                self.assertEqual(g, str(i).encode(), "reply %d" % i)

    def test_small_cap_many_clients(self):
        self.c.cmd("CREATE", "mp", 1, 10 ** 9)
        results = {}

        def worker(i):
            r = Raw(self.s.port)
            try:
                r.send(encode("NEXT", "mp") * 300)
                results[i] = r.read_n(300)
            finally:
                r.close()

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        self.assertEqual(len(results), 8)
        allnums = []
        for i, nums in results.items():
            self.assertEqual(nums, sorted(nums), "client %d out of order" % i)
            allnums.extend(nums)
        self.assertEqual(sorted(allnums), list(range(1, 2401)))

    def test_reading_pauses_while_replies_unread(self):
        # A client that sends far more than it reads: with 4 pending replies
        # at most, the server must pause reading it (bounded memory), keep
        # serving others, and still answer every request in order once the
        # client reads.
        self.c.cmd("CREATE", "mp", 1, 10 ** 9)
        c = Raw(self.s.port, timeout=30, rcvbuf=4096)
        sock = c.sock
        self.addCleanup(c.close)
        n = 3000
        pad = b"x" * (4 * KIB)  # 12 MiB of replies: more than socket buffers hold
        payload = b"".join(encode("NEXT", "mp") + encode("ECHO", b"%05d" % i + pad) for i in range(n))
        send_errors = []

        def sender():
            try:
                sock.sendall(payload)
            except OSError as e:
                send_errors.append(e)

        t = threading.Thread(target=sender)
        t.start()
        time.sleep(1.0)
        issued_while_stalled = describe_dict(self.c.cmd("DESCRIBE", "mp"))["issued"]
        self.assertLess(issued_while_stalled, n, "the server read everything although no reply was read")
        t0 = time.monotonic()
        self.assertIsInstance(self.c.cmd("NEXT", "mp"), int)
        self.assertLess(time.monotonic() - t0, 2.0, "another client was held up")
        rss = self.s.rss_kb()
        self.assertLess(rss, 300 * 1024)
        last = 0
        for i in range(n):
            num = c.read()
            self.assertIsInstance(num, int, "reply %d" % (2 * i))
            self.assertGreater(num, last, "reply %d out of order" % (2 * i))
            last = num
            self.assertEqual(c.read(), b"%05d" % i + pad, "reply %d" % (2 * i + 1))
        t.join(30)
        self.assertEqual(send_errors, [])
