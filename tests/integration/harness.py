"""harness — start, probe and kill real seqd processes for the black-box tests.

What it gives the tests:
  - Server: one seqd process on 127.0.0.1, a free client port P (and P+10000
    free for its Raft bus), a fresh temporary --dir, stderr logged to a file.
    Every Server is registered so it is killed at test end, on an exception,
    at interpreter exit and from run.py's watchdog: no test leaves a process.
  - Raw: a raw-socket RESP2/RESP3 client for protocol abuse and for reading
    error replies exactly as sent (redis-py strips the "ERR " word).
  - SeqdTestCase: a unittest.TestCase whose servers are cleaned up with
    addCleanup and whose server logs run.py prints when the test fails.
  - Cluster: N seqd processes started with the same --cluster list (their
    own ports P and Raft ports P + 10000), leader discovery through ROLE,
    kill -9 / SIGSTOP / restart of single members, a node started outside
    the founding list for CLUSTER ADD.

Stdlib plus the Debian python3-redis module only. No test here trusts timing
for correctness: waits are polls with deadlines.
"""

import atexit
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import redis

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BINARY = os.path.abspath(os.environ.get("SEQD_BINARY", os.path.join(REPO, "build", "seqd")))



def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


# P and P + 10000 (the Raft bus) both stay below the kernel's ephemeral range:
# a client connection's local port taken from that range could otherwise sit
# on the Raft port of a node that is down and make its restart fail
# ("cannot start Raft ... is raft port N free?").
PORT_HI = min(29999, _ephemeral_low() - 10001)
PORT_LO = max(1024, PORT_HI - 9999)
READY_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 15.0

_session_dir = None
_session_lock = threading.Lock()
_live = []  # every Server whose process may still run
_live_lock = threading.Lock()


def session_dir():
    """A temporary directory for this test run's logs and data, removed at exit."""
    global _session_dir
    with _session_lock:
        if _session_dir is None:
            _session_dir = tempfile.mkdtemp(prefix="seqd-it-")
        return _session_dir


def set_binary(path):
    global BINARY
    BINARY = os.path.abspath(path)


def kill_all_servers():
    """Kills every server process still running (by its own pid only)."""
    with _live_lock:
        servers = list(_live)
    for s in servers:
        s.kill9(quiet=True)


def _at_exit():
    kill_all_servers()
    if _session_dir is not None and not os.environ.get("SEQD_KEEP_TMP"):
        shutil.rmtree(_session_dir, ignore_errors=True)


atexit.register(_at_exit)


def _port_free(port):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


_used_ports = set()


def free_port():
    """A client port P such that P and P + 10000 (the Raft bus) are free now."""
    for _ in range(500):
        p = random.randint(PORT_LO, PORT_HI)
        if p in _used_ports:
            continue
        if _port_free(p) and _port_free(p + 10000):
            _used_ports.add(p)
            return p
    raise RuntimeError("no free port pair in %d-%d (+10000)" % (PORT_LO, PORT_HI))


class ServerDied(AssertionError):
    pass


class Server:
    """One seqd process. start() blocks until PING answers PONG.

    The data dir survives restarts of this object (restart on the same --dir);
    the log file collects stderr of every start, with a header line each."""

    _counter = 0

    def __init__(self, args=(), data_dir=None, port=None, name="seqd", bind="127.0.0.1", prefix=(),
                 fixed_port=False):
        """bind: the --bind address (and where clients connect); prefix: a
        wrapper command put before the binary (e.g. ip netns exec NS), which
        must exec it so the pid stays the server's; fixed_port: never move
        to another port when the port is busy (cluster members: the others
        know it)."""
        Server._counter += 1
        self.id = Server._counter
        self.args = list(args)
        base = session_dir()
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="data-%d-" % self.id, dir=base)
        self.name = name
        self.log_path = os.path.join(base, "%s-%d.log" % (name, self.id))
        self.port = port or free_port()
        self.bind = bind
        self.prefix = list(prefix)
        self.fixed_port = fixed_port
        self.paused = False
        self.proc = None
        self.starts = 0
        self.exit_codes = []

    @property
    def address(self):
        """The client address, as --cluster and ROLE write it."""
        return "%s:%d" % (self.bind, self.port)

    # ---- lifecycle -------------------------------------------------------

    def command_line(self, extra=()):
        return self.prefix + [BINARY, "--port", str(self.port), "--bind", self.bind, "--dir", self.data_dir] + \
            self.args + list(extra)

    def spawn(self, extra=()):
        """Starts the process without waiting for readiness."""
        assert self.proc is None or self.proc.poll() is not None, "already running"
        self.starts += 1
        log = open(self.log_path, "ab")
        self._log_offset = log.tell()
        cmd = self.command_line(extra)
        log.write(("=== start #%d: %s\n" % (self.starts, " ".join(cmd))).encode())
        log.flush()
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        self.paused = False
        log.close()
        with _live_lock:
            if self not in _live:
                _live.append(self)
        return self.proc

    def start(self, extra=(), timeout=READY_TIMEOUT_S, port_retries=3):
        """Starts and waits for PONG. If the port was taken meanwhile by
        someone else (exit 1 at once, "cannot listen"), moves to a new port."""
        for attempt in range(port_retries + 1):
            self.spawn(extra)
            try:
                self.wait_ready(timeout)
                return self
            except ServerDied:
                tail = self.log_since_start()
                port_problem = "cannot listen" in tail or "raft port" in tail
                if attempt < port_retries and port_problem and not self.fixed_port:
                    time.sleep(0.2)
                    if not (_port_free(self.port) and _port_free(self.port + 10000)):
                        self.port = free_port()
                    continue
                raise
        raise AssertionError("unreachable")

    def wait_ready(self, timeout=READY_TIMEOUT_S):
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            rc = self.proc.poll()
            if rc is not None:
                self.exit_codes.append(rc)
                raise ServerDied("seqd exited with %d before it was ready:\n%s" % (rc, self.log_tail()))
            try:
                with socket.create_connection((self.bind, self.port), timeout=1.0) as s:
                    s.sendall(b"PING\r\n")
                    data = b""
                    while not data.endswith(b"\r\n"):
                        chunk = s.recv(64)
                        if not chunk:
                            break
                        data += chunk
                    if data == b"+PONG\r\n":
                        return
                    last = data
            except OSError as e:
                last = e
            time.sleep(0.02)
        raise AssertionError("seqd not ready after %.1fs (last: %r):\n%s" % (timeout, last, self.log_tail()))

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def assert_alive(self):
        if not self.alive():
            raise ServerDied("seqd died (exit %r):\n%s" % (self.proc.returncode, self.log_tail()))

    def send_signal(self, sig):
        if self.alive():
            os.kill(self.proc.pid, sig)

    def pause(self):
        """SIGSTOP: the process keeps its sockets but runs nothing."""
        self.assert_alive()
        os.kill(self.proc.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self):
        if self.paused and self.alive():
            os.kill(self.proc.pid, signal.SIGCONT)
        self.paused = False

    def stop(self, sig=signal.SIGTERM, timeout=STOP_TIMEOUT_S):
        """Sends sig and waits; returns the exit code. Kills with SIGKILL
        after timeout (and returns None then)."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            return self.proc.returncode
        os.kill(self.proc.pid, sig)
        self.resume()  # a stopped process would not see sig
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill9(quiet=True)
            return None
        self.exit_codes.append(rc)
        return rc

    def kill9(self, quiet=False):
        if self.proc is not None and self.proc.poll() is None:
            try:
                os.kill(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.paused = False
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                if not quiet:
                    raise
            self.exit_codes.append(self.proc.returncode)

    def restart(self, extra=(), timeout=READY_TIMEOUT_S):
        if self.alive():
            self.stop()
        return self.start(extra, timeout)

    def cleanup(self):
        """Test end: terminate (SIGTERM, then SIGKILL), drop the data dir."""
        if self.alive():
            self.stop(timeout=5)
        self.kill9(quiet=True)
        with _live_lock:
            if self in _live:
                _live.remove(self)
        if not os.environ.get("SEQD_KEEP_TMP"):  # kept for a post-mortem (see README)
            shutil.rmtree(self.data_dir, ignore_errors=True)

    # ---- clients -----------------------------------------------------------

    def client(self, **kw):
        kw.setdefault("socket_timeout", 10)
        kw.setdefault("socket_connect_timeout", 5)
        return redis.Redis(host=self.bind, port=self.port, **kw)

    def raw(self, timeout=10):
        return Raw(self.port, timeout, host=self.bind)

    def cli(self, *args, stdin=None, timeout=20):
        """Runs redis-cli against the server; returns (rc, stdout, stderr) as text."""
        cmd = ["redis-cli", "-h", self.bind, "-p", str(self.port)] + [str(a) for a in args]
        p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    # ---- diagnostics -------------------------------------------------------

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_since_start(self):
        """stderr of the latest start only."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(getattr(self, "_log_offset", 0))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def log_tail(self, n=6000):
        t = self.log_text()
        return t[-n:]

    def rss_kb(self):
        try:
            with open("/proc/%d/status" % self.proc.pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1])
        except OSError:
            return None
        return None


def run_binary(args, timeout=20):
    """Runs seqd to completion (for flags that exit); returns CompletedProcess."""
    return subprocess.run([BINARY] + list(args), capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


# ---- raw RESP client -------------------------------------------------------

class RespError(object):
    """An error reply, kept as a value (the whole line, code word included)."""

    def __init__(self, text):
        self.text = text

    def __repr__(self):
        return "RespError(%r)" % self.text

    def __eq__(self, other):
        return isinstance(other, RespError) and other.text == self.text

    def startswith(self, prefix):
        return self.text.startswith(prefix)


class RespMap(dict):
    """A RESP3 map reply ('%')."""


class RespSet(list):
    """A RESP3 set reply ('~')."""


class RespNull(object):
    """The RESP3 null ('_'); RESP2 nulls read as None."""

    def __repr__(self):
        return "RespNull"

    def __eq__(self, other):
        return isinstance(other, RespNull)

    def __hash__(self):
        return 0


def encode(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        if isinstance(a, int):
            a = str(a).encode()
        elif isinstance(a, str):
            a = a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


class Raw:
    """A raw-socket RESP client. read() returns one reply as Python values:
    str for simple strings, RespError for errors, int, bytes (None for nil
    bulk/array in RESP2), list, RespMap, RespNull, bool, float."""

    def __init__(self, port, timeout=10, rcvbuf=None, host="127.0.0.1", connect_timeout=None):
        """rcvbuf: a small receive buffer (set before connecting), for
        clients that must push back on the server quickly."""
        if rcvbuf is None:
            self.sock = socket.create_connection((host, port), timeout=connect_timeout or timeout)
            self.sock.settimeout(timeout)
        else:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            self.sock.settimeout(connect_timeout or timeout)
            self.sock.connect((host, port))
            self.sock.settimeout(timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.first_byte = None  # type byte of the last top-level reply

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def send(self, data):
        self.sock.sendall(data)

    def cmd(self, *args):
        """Sends one multibulk request and returns its reply."""
        self.send(encode(*args))
        return self.read()

    def _fill(self):
        chunk = self.sock.recv(1 << 16)
        if not chunk:
            raise EOFError("server closed the connection")
        self.buf += chunk

    def _line(self):
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = self.buf[:i]
                self.buf = self.buf[i + 2:]
                return line
            self._fill()

    def _exact(self, n):
        while len(self.buf) < n + 2:
            self._fill()
        data = self.buf[:n]
        if self.buf[n:n + 2] != b"\r\n":
            raise ValueError("bulk not followed by CRLF: %r" % self.buf[n:n + 2])
        self.buf = self.buf[n + 2:]
        return data

    def read(self):
        v, t = self._read()
        self.first_byte = t
        return v

    def _read(self):
        line = self._line()
        if not line:
            raise ValueError("empty reply line")
        t, rest = line[:1], line[1:]
        if t == b"+":
            return rest.decode(), t
        if t == b"-":
            return RespError(rest.decode("utf-8", "replace")), t
        if t == b":":
            return int(rest), t
        if t == b"$":
            n = int(rest)
            return (None if n < 0 else self._exact(n)), t
        if t in (b"*", b">", b"~"):
            n = int(rest)
            if n < 0:
                return None, t
            items = [self._read()[0] for _ in range(n)]
            return (RespSet(items) if t == b"~" else items), t
        if t == b"%":
            n = int(rest)
            m = RespMap()
            for _ in range(n):
                k = self._read()[0]
                m[k] = self._read()[0]
            return m, t
        if t == b"_":
            return RespNull(), t
        if t == b"#":
            return rest == b"t", t
        if t == b",":
            return float(rest), t
        if t == b"(":
            return int(rest), t
        if t == b"=":
            return self._exact(int(rest))[4:], t
        raise ValueError("unknown reply type %r in %r" % (t, line))

    def read_n(self, n):
        return [self.read() for _ in range(n)]

    def closed_by_server(self, timeout=5.0):
        """True when the server closes the connection within timeout (after
        any bytes still buffered, which are discarded)."""
        deadline = time.monotonic() + timeout
        self.sock.settimeout(0.2)
        try:
            while time.monotonic() < deadline:
                try:
                    chunk = self.sock.recv(1 << 16)
                except socket.timeout:
                    continue
                except (ConnectionResetError, BrokenPipeError):
                    return True
                if not chunk:
                    return True
                self.buf += chunk
            return False
        finally:
            self.sock.settimeout(10)


# ---- base test case ----------------------------------------------------------

class SeqdTestCase(unittest.TestCase):
    """Servers started through start_server are always killed at test end;
    server_logs() gives run.py their stderr when the test fails."""

    def setUp(self):
        self._servers = []

    def start_server(self, *args, data_dir=None, wait=True, **kw):
        s = Server(args=args, data_dir=data_dir, **kw)
        self._servers.append(s)
        self.addCleanup(s.cleanup)
        if wait:
            s.start()
        return s

    def start_cluster(self, n=3, args=(), wait_leader=True, **kw):
        """n founding members on loopback (see Cluster), killed at test end."""
        c = Cluster(n, args=args, **kw)
        c.on_new_server = self._servers.append
        for s in c.nodes:
            self._servers.append(s)
        self.addCleanup(c.cleanup)
        c.start()
        if wait_leader:
            c.wait_stable_leader()
        return c

    def server_logs(self):
        parts = []
        for s in getattr(self, "_servers", []):
            parts.append("----- server #%d log (%s, port %d, dir %s) -----\n%s" %
                         (s.id, s.log_path, s.port, s.data_dir, s.log_tail(20000)))
        return "\n".join(parts)

    # helpers shared by the suites

    def assertErr(self, reply, prefix, msg=None):
        self.assertIsInstance(reply, RespError, msg or "expected an error starting %r, got %r" % (prefix, reply))
        self.assertTrue(reply.text.startswith(prefix),
                        msg or "expected an error starting %r, got %r" % (prefix, reply.text))


def describe_static(reply):
    """describe_dict without the fields that depend on when DESCRIBE reached the log
    (the issue rates and the time to exhaustion)."""
    d = describe_dict(reply)
    for f in ("rate_1m", "rate_1h", "eta_seconds"):
        d.pop(f, None)
    return d


def describe_dict(reply):
    """DESCRIBE's RESP2 flat field/value array (or a RESP3 map) as a dict with str keys."""
    if isinstance(reply, dict):
        items = list(reply.items())
    else:
        assert isinstance(reply, list) and len(reply) % 2 == 0, "not a flat pair array: %r" % (reply,)
        items = [(reply[i], reply[i + 1]) for i in range(0, len(reply), 2)]
    out = {}
    for k, v in items:
        out[k.decode() if isinstance(k, bytes) else k] = v
    return out


def runs_numbers(runs):
    """The numbers a NEXT ... COUNT reply (flat first/last pairs) covers, in order."""
    assert len(runs) % 2 == 0 and len(runs) > 0, "bad runs reply %r" % (runs,)
    out = []
    for i in range(0, len(runs), 2):
        a, b = int(runs[i]), int(runs[i + 1])
        assert a <= b, "run with first > last: %r" % (runs,)
        out.extend(range(a, b + 1))
    return out


def runs_count(runs):
    total = 0
    for i in range(0, len(runs), 2):
        total += int(runs[i + 1]) - int(runs[i]) + 1
    return total


def runs_pairs(runs):
    return [(int(runs[i]), int(runs[i + 1])) for i in range(0, len(runs), 2)]


def info_fields(text):
    """INFO text (or redis-py's parsed INFO dict) as a dict of str values."""
    if isinstance(text, dict):
        return {str(k): str(v) for k, v in text.items()}
    if isinstance(text, bytes):
        text = text.decode()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and ":" in line:
            k, v = line.split(":", 1)
            out[k] = v
    return out


# ---- clusters ------------------------------------------------------------------

def role_of(server, timeout=2.0):
    """ROLE of one node as (role, leader client address or None, term, leader id),
    or None when it does not answer within timeout."""
    try:
        with Raw(server.port, timeout=timeout, host=server.bind, connect_timeout=timeout) as r:
            if getattr(server, "password", None):  # a node started with --requirepass-file
                r.cmd("AUTH", server.password)
            reply = r.cmd("ROLE")
    except (OSError, EOFError, ValueError):
        return None
    if not isinstance(reply, list) or len(reply) < 4:
        return None
    role, leader, term, lid = reply[:4]
    return (role.decode() if isinstance(role, bytes) else role,
            leader.decode() if isinstance(leader, bytes) else leader, term, lid)


def cluster_nodes(server, timeout=2.0):
    """CLUSTER NODES of one node as a list of dicts, or None (no answer)."""
    try:
        with Raw(server.port, timeout=timeout, host=server.bind, connect_timeout=timeout) as r:
            reply = r.cmd("CLUSTER", "NODES")
    except (OSError, EOFError, ValueError):
        return None
    if not isinstance(reply, list):
        return None
    out = []
    for e in reply:
        d = lambda v: v.decode() if isinstance(v, bytes) else v  # noqa: E731
        out.append({"id": e[0], "client": d(e[1]), "raft": d(e[2]), "role": d(e[3]), "state": d(e[4])})
    return out


class Cluster:
    """n seqd processes started with the same --cluster list of their client
    addresses (127.0.0.1:P, Raft bus on P + 10000). Members keep their port
    and --dir across restarts. bind/prefixes let a test put each node in
    its own network namespace."""

    def __init__(self, n=3, args=(), binds=None, prefixes=None, ports=None, name="node"):
        self.args = list(args)
        binds = binds or ["127.0.0.1"] * n
        prefixes = prefixes or [()] * n
        ports = ports or [free_port() for _ in range(n)]
        self.founding = ",".join("%s:%d" % (b, p) for b, p in zip(binds, ports))
        self.nodes = []      # every server ever part of this cluster (index = node number)
        self.on_new_server = None
        for i in range(n):
            self.nodes.append(Server(args=["--cluster", self.founding] + self.args, port=ports[i],
                                     name="%s%d" % (name, i + 1), bind=binds[i], prefix=prefixes[i],
                                     fixed_port=True))
        self.members = list(self.nodes)  # what the test expects the configuration to hold

    # ---- lifecycle -----------------------------------------------------------

    def start(self, nodes=None, timeout=READY_TIMEOUT_S):
        """Spawns the given (default: all) nodes at once, then waits for PONG."""
        nodes = self.nodes if nodes is None else nodes
        for s in nodes:
            s.spawn()
        for s in nodes:
            s.wait_ready(timeout)

    def new_node(self, args=(), bind="127.0.0.1", prefix=()):
        """A node outside the founding list (started, waiting for CLUSTER ADD)."""
        s = Server(args=["--cluster", self.founding] + self.args + list(args), name="node%d" % (len(self.nodes) + 1),
                   bind=bind, prefix=prefix, fixed_port=True)
        self.nodes.append(s)
        if self.on_new_server is not None:
            self.on_new_server(s)
        s.start()
        return s

    def kill_all(self):
        """kill -9 of every node, as close together as possible."""
        for s in self.nodes:
            if s.alive():
                try:
                    os.kill(s.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for s in self.nodes:
            s.kill9(quiet=True)

    def cleanup(self):
        """Test end: kill -9 (fast and bounded), then drop the data dirs."""
        self.kill_all()
        for s in self.nodes:
            s.cleanup()

    def alive(self):
        return [s for s in self.members if s.alive() and not s.paused]

    # ---- roles -----------------------------------------------------------------

    def roles(self, nodes=None):
        nodes = self.alive() if nodes is None else nodes
        return {s: role_of(s) for s in nodes}

    def leader(self, nodes=None):
        """The node that says it is leader and that every other answering
        node names as leader, or None."""
        roles = self.roles(nodes)
        leaders = [s for s, r in roles.items() if r is not None and r[0] == "leader"]
        if len(leaders) != 1:
            return None
        lead = leaders[0]
        for s, r in roles.items():
            if r is None or r[1] != lead.address:
                return None
        return lead

    def wait_stable_leader(self, timeout=15.0, nodes=None, exclude=()):
        """Polls ROLE until the live nodes (minus exclude) agree on one leader."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            live = [s for s in (self.alive() if nodes is None else nodes) if s not in exclude]
            lead = self.leader(live)
            if lead is not None:
                return lead
            time.sleep(0.02)
        raise AssertionError("no agreed leader after %.1fs; ROLE: %r" %
                             (timeout, {s.address: r for s, r in self.roles().items()}))

    def followers(self, leader=None):
        leader = leader or self.wait_stable_leader()
        return [s for s in self.alive() if s is not leader]

    def logs(self):
        return "\n".join("----- %s (%s) -----\n%s" % (s.name, s.address, s.log_tail(20000)) for s in self.nodes)


def run_readme_block(marker, port_offsets, timeout=120):
    """Runs the README's ```sh block between <!-- marker ... --> and
    <!-- /marker --> as written, from a fresh directory whose build/seqd is
    the binary under test, with its first line's P=<port> moved to a port P
    for which every P + offset is free (the block uses those). Kills what
    the block left running. Returns (CompletedProcess, its non-blank stdout
    lines)."""
    import re
    readme = os.path.join(REPO, "README.md")
    with open(readme) as f:
        text = f.read()
    m = re.search(r"<!-- %s[^>]*-->\s*```sh\n(.*?)```\s*<!-- /%s -->" % (marker, marker), text, re.S)
    assert m, "README.md has no %s block" % marker
    base = None
    for _ in range(50):
        p = free_port()
        if all(_port_free(p + k) for k in port_offsets):
            base = p
            break
    assert base is not None, "no free ports for the %s block" % marker
    script = re.sub(r"^P=\d+", "P=%d" % base, m.group(1), flags=re.M)
    assert script != m.group(1), "the %s block no longer starts with P=<port>" % marker
    work = os.path.join(session_dir(), "readme-%s-%d" % (marker, time.monotonic_ns()))
    os.makedirs(os.path.join(work, "build"))
    os.symlink(BINARY, os.path.join(work, "build", "seqd"))
    wrapped = "set -u\n" + script + "\nkill $(jobs -p) 2>/dev/null; wait\n"
    p = subprocess.run(["bash", "-c", wrapped], cwd=work, capture_output=True, text=True, timeout=timeout)
    return p, [line for line in p.stdout.splitlines() if line.strip()]

