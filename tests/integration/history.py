"""history — what each caller of seqd was told, and the guarantees checked from outside.

This module shares no code with the server and imports nothing from the test
harness: it only knows the command set as README.md documents it. A test
records every request it makes as an operation with an invoke time and an
outcome, then asks the History whether what the callers were told is
consistent with seqd's guarantees.

Recording
---------

    h = History(reserve_ttl=300)          # the server's --reserve-ttl, for RESERVEs sent without TTL
    op = h.invoke("c1", "NEXT", "s", key="order-1")        # before sending
    h.ok(op, reply)        # the reply: an int, or NEXT ... COUNT's flat runs [first1, last1, ...]
    h.fail(op, error)      # an error reply: nothing happened
    h.unknown(op, why)     # timeout, broken connection, "TRYAGAIN outcome unknown": maybe applied

    op = h.call("c1", conn.cmd, "RESERVE", "g", ttl=30, key="k")   # invoke + send + classify

  client      any hashable label. One client is one connection whose requests
              the server executes in order (pipelining included): an op of a
              client is taken to happen after every op that client invoked
              before it. A client that reconnects may keep its label.
  kind/args   NEXT (count=, key=), INCR, RESERVE (ttl=, key=), CONFIRM (n=, key=),
              RELEASE (n=, key=), VOID (n=, reason=), CREATE (lo=, hi=, mode=,
              cache=, start=), ADDRANGE (lo=, hi=), DROP. op.argv() is the
              request to send. A RESERVE without ttl holds for reserve_ttl
              (History(reserve_ttl=...)); when that is None too, the checker
              assumes no hold at all (it then cannot catch overlaps).
  times       time.monotonic() and time.time() at invoke and at completion
              (at= overrides the monotonic time, for hand-made histories).

The checker derives each name's incarnations itself from CREATE and DROP:
a successful (or unknown) CREATE while no incarnation is live starts one
with its range (counting from the CREATE's invoke), ADDRANGE adds a range
(counting from the ADDRANGE's invoke), DROP ends it. CREATE and DROP of one
name are assumed to be issued one at a time. An op belongs to every
incarnation that may have been live during its [invoke, complete] window
(not dropped before it was invoked, not created after it completed, and
respecting its client's own order) and whose ranges hold its numbers; when
that leaves several, the op is ambiguous and is compared leniently.

Checks (each returns a list of Violation; str(v) says what and who)
------

  check_uniqueness()   for one NAME (across DROP and re-CREATE: a name keeps
        its history) no number is held by two holders at overlapping times.
        A holder is an op, or a KEY within one incarnation (its replays are the
        same holder). What a caller holds, as a definitely-held interval:
          NEXT/INCR (any mode)  final, from its reply on;
          RESERVE               from its reply until invoke + TTL (TTL 0: no end);
                                ends at the invoke of a RELEASE of it (ok or
                                unknown) and becomes final with a CONFIRM that
                                succeeded (with KEY; without KEY only if it
                                completed before the TTL could have passed: a
                                late CONFIRM without KEY may confirm the next
                                holder's, as README says); a NEXT ... KEY k that
                                returns the key's reserved number makes it final.
        Also: a number VOIDed (ok) is never told again after the VOID
        completed, not even to a KEY replay; a RELEASE that succeeded on a
        number that was surely final is a violation.
  check_containment()  every number told lies in a range of an incarnation that
        may have been live during the op; a COUNT k reply covers exactly k
        distinct numbers in well-formed runs.
  check_strict_order() strict incarnations: if A completed before B was invoked
        (or A came first on B's connection), both succeeded and B is not a KEY
        replay, then B's numbers in a range are all greater than A's numbers in
        that range (ranges are used in the order added, so only numbers of the
        same range compare).
  check_after_restart(name, first_next, before=None)   durability: the first
        number issued after a crash (an int or the op) is greater than every
        number of that incarnation and range acknowledged before `before`
        (default: that op's invoke time, or now). Strict and cached mode.
  check_ledger(name, describe, gaps, start=None)   at quiescence (gapless,
        ranges without windows): the numbers below the high-water mark (the
        first DESCRIBE `issued` numbers of the ranges, from `start`, default
        the CREATE's START or first min) are each held final by a caller, listed
        by GAPS, or explained by an op whose outcome is unknown; nothing held
        final is listed by GAPS (other than `unknown`, or `voided` after a
        VOID of it) or lies past the high-water mark; GAPS lists nothing past
        it; DESCRIBE `next` is not a number someone holds final.

  The two helpers keep their violations; check_all() returns those plus every
  check above, and assert_ok(testcase) fails the test with the first 20.
"""

import bisect
import collections
import threading
import time

INF = float("inf")

NUMBER_KINDS = ("NEXT", "INCR", "RESERVE")
KINDS = NUMBER_KINDS + ("CONFIRM", "RELEASE", "VOID", "CREATE", "ADDRANGE", "DROP")
ARGS = {
    "NEXT": ("count", "key"),
    "INCR": (),
    "RESERVE": ("ttl", "key"),
    "CONFIRM": ("n", "key"),
    "RELEASE": ("n", "key"),
    "VOID": ("n", "reason"),
    "CREATE": ("lo", "hi", "mode", "cache", "start"),
    "ADDRANGE": ("lo", "hi"),
    "DROP": (),
}
MAX_SET = 5000000  # refuse to expand more numbers than this into a set (ledger check)

# exceptions that mean "the request may or may not have been applied"
_UNKNOWN_EXC = (OSError, EOFError, TimeoutError, ConnectionError)


def _s(v):
    return v.decode("utf-8", "replace") if isinstance(v, (bytes, bytearray)) else v


class Violation(object):
    """One broken guarantee: check (uniqueness, containment, shape, order,
    durability, ledger), the sequence name, the number (or None), the ops
    involved and a sentence."""

    def __init__(self, check, name, number, text, ops=()):
        self.check = check
        self.name = name
        self.number = number
        self.text = text
        self.ops = list(ops)

    def __str__(self):
        return "[%s] %s" % (self.check, self.text)

    __repr__ = __str__


class Op(object):
    """One request as a caller saw it. status: pending, ok, fail, unknown."""

    def __init__(self, hist, seq, client, kind, name, args, t_inv, wall_inv):
        self.hist = hist
        self.seq = seq
        self.client = client
        self.kind = kind
        self.name = name
        self.args = args
        self.t_inv = t_inv
        self.wall_inv = wall_inv
        self.t_done = None
        self.wall_done = None
        self.status = "pending"
        self.reply = None
        self.error = None
        self.numbers = []   # in reply order
        self.runs = []      # [(first, last)]
        self.incs = None    # set by the checker: candidate incarnations

    key = property(lambda self: self.args.get("key"))
    count = property(lambda self: self.args.get("count"))
    n = property(lambda self: self.args.get("n"))

    def argv(self):
        """The request as a list of arguments."""
        a = self.args
        k = self.kind
        out = [k, self.name]
        if k == "NEXT":
            if a.get("count") is not None:
                out += ["COUNT", a["count"]]
            if a.get("key") is not None:
                out += ["KEY", a["key"]]
        elif k == "RESERVE":
            if a.get("ttl") is not None:
                out += ["TTL", a["ttl"]]
            if a.get("key") is not None:
                out += ["KEY", a["key"]]
        elif k in ("CONFIRM", "RELEASE"):
            out.append(a["n"])
            if a.get("key") is not None:
                out += ["KEY", a["key"]]
        elif k == "VOID":
            out += [a["n"], a.get("reason", "voided by a test")]
        elif k == "CREATE":
            out += [a["lo"], a["hi"]]
            if a.get("start") is not None:
                out += ["START", a["start"]]
            if a.get("mode") is not None:
                out += ["MODE", a["mode"]]
            if a.get("cache") is not None:
                out += ["CACHE", a["cache"]]
        elif k == "ADDRANGE":
            out += [a["lo"], a["hi"]]
        return out

    def finished(self):
        return self.status in ("ok", "fail", "unknown")

    def __str__(self):
        h = self.hist
        words = " ".join(str(x) for x in self.argv())
        if self.status == "ok":
            if self.kind in NUMBER_KINDS:
                res = "-> " + ",".join("%d" % a if a == b else "%d-%d" % (a, b) for a, b in self.runs)
            else:
                res = "-> OK"
        elif self.status == "fail":
            res = "-> error %r" % (self.error,)
        else:
            res = "-> %s" % self.status
        done = "done %s" % h.fmt_time(self.t_done, self.wall_done) if self.t_done is not None else "never done"
        return "op#%d client %r: %s %s (invoked %s, %s)" % (self.seq, self.client, words, res,
                                                           h.fmt_time(self.t_inv, self.wall_inv), done)

    __repr__ = __str__


class Incarnation(object):
    def __init__(self, name, index, create_op):
        self.name = name
        self.index = index
        self.create_op = create_op
        a = create_op.args
        self.mode = a.get("mode") or "strict"
        self.start = a.get("start")
        self.ranges = [(int(a["lo"]), int(a["hi"]), create_op)]  # (lo, hi, the op that added it)
        self.drop_op = None
        self.uncertain = create_op.status != "ok"

    def range_index(self, n):
        for i, (lo, hi, _) in enumerate(self.ranges):
            if lo <= n <= hi:
                return i
        return None

    def __str__(self):
        return "%s#%d(%s %s)" % (self.name, self.index, self.mode,
                                 ",".join("%d..%d" % (lo, hi) for lo, hi, _ in self.ranges))

    __repr__ = __str__


class Claim(object):
    """A holder's definite hold of one number: [start, end)."""

    def __init__(self, op, holder, start, end, final):
        self.op = op
        self.holder = holder   # ("op", seq) or ("key", key)
        self.start = start
        self.end = end
        self.final = final
        self.final_by = op if final else None
        self.ended_by = None

    def describe(self):
        h = self.op.hist
        if self.final:
            how = "final from %s" % h.rel(self.start)
            if self.final_by is not self.op:
                how += " (made final by op#%d)" % self.final_by.seq
        else:
            how = "held %s..%s" % (h.rel(self.start), "forever" if self.end == INF else h.rel(self.end))
            if self.ended_by is not None:
                how += " (ended by op#%d)" % self.ended_by.seq
        who = ("KEY %r" % self.holder[1]) if self.holder[0] == "key" else "op#%d" % self.op.seq
        return "%s, %s: %s" % (who, how, self.op)


def same_holder(a, b):
    if a.op is b.op:
        return True
    if a.holder[0] == "key" and b.holder[0] == "key" and a.holder[1] == b.holder[1]:
        ia, ib = a.op.incs, b.op.incs
        if ia is None or ib is None:
            return True
        return bool(ia & ib) or not ia or not ib  # unknown incarnation: be lenient
    return False


def _before(a, b):
    """a certainly took effect before b did: a's reply came before b was
    invoked, or both are on one client and a was invoked first."""
    if a.t_done is not None and a.t_done < b.t_inv:
        return True
    return a.client == b.client and a.seq < b.seq


def _parse_runs(reply):
    """Flat [first, last, ...] -> [(first, last)], or None when malformed."""
    if not isinstance(reply, (list, tuple)) or len(reply) == 0 or len(reply) % 2:
        return None
    try:
        vals = [int(_s(x)) for x in reply]
    except (TypeError, ValueError):
        return None
    return [(vals[i], vals[i + 1]) for i in range(0, len(vals), 2)]


def error_text(reply):
    """The text of an error reply (an object with .text, or an exception), else None."""
    t = getattr(reply, "text", None)
    if isinstance(t, str):
        return t
    if isinstance(reply, BaseException):
        return str(reply)
    return None


class History(object):
    def __init__(self, reserve_ttl=None):
        self.reserve_ttl = reserve_ttl
        self.t0 = time.monotonic()
        self.wall0 = time.time()
        self.ops = []
        self.extra = []   # violations from the helpers
        self._lock = threading.Lock()
        self._built = None

    # ---- time ---------------------------------------------------------------

    def rel(self, t):
        if t is None:
            return "?"
        if t == INF:
            return "forever"
        return "%+.3fs" % (t - self.t0)

    def fmt_time(self, t, wall):
        if t is None:
            return "?"
        if wall is None:
            wall = self.wall0 + (t - self.t0)
        return "%s (%s.%03d)" % (self.rel(t), time.strftime("%H:%M:%S", time.localtime(wall)),
                                 int((wall % 1) * 1000))

    def _now(self, at):
        if at is None:
            return time.monotonic(), time.time()
        return at, self.wall0 + (at - self.t0)

    # ---- recording ----------------------------------------------------------

    def invoke(self, client, kind, name, at=None, **args):
        """A request about to be sent; returns its token (an Op)."""
        kind = kind.upper()
        if kind not in KINDS:
            raise ValueError("unknown kind %r" % kind)
        bad = set(args) - set(ARGS[kind])
        if bad:
            raise ValueError("%s takes no %s" % (kind, ", ".join(sorted(bad))))
        if kind in ("CONFIRM", "RELEASE", "VOID") and args.get("n") is None:
            raise ValueError("%s needs n=" % kind)
        if kind in ("CREATE", "ADDRANGE") and (args.get("lo") is None or args.get("hi") is None):
            raise ValueError("%s needs lo= and hi=" % kind)
        t, wall = self._now(at)
        with self._lock:
            op = Op(self, len(self.ops) + 1, client, kind, name, dict(args), t, wall)
            self.ops.append(op)
            self._built = None
        return op

    def _finish(self, op, status, at):
        if op.finished():
            raise ValueError("op#%d already finished (%s)" % (op.seq, op.status))
        t, wall = self._now(at)
        with self._lock:
            op.t_done, op.wall_done, op.status = t, wall, status
            self._built = None

    def ok(self, op, reply=None, numbers=None, at=None):
        """A successful reply. For NEXT/INCR/RESERVE the numbers come from the
        reply (an int, or COUNT's flat runs) or from numbers=[...]."""
        op.reply = reply
        if op.kind in NUMBER_KINDS:
            if numbers is not None:
                nums = [int(x) for x in numbers]
                op.runs = [(x, x) for x in nums]
            elif op.kind == "NEXT" and op.count is not None:
                runs = _parse_runs(reply)
                if runs is None:
                    op.error = "malformed runs reply %r" % (reply,)
                    runs = []
                op.runs = runs
            else:
                try:
                    v = int(_s(reply))
                    op.runs = [(v, v)]
                except (TypeError, ValueError):
                    op.error = "not a number: %r" % (reply,)
                    op.runs = []
            op.numbers = [x for a, b in op.runs for x in range(a, b + 1)] if \
                sum(b - a + 1 for a, b in op.runs) <= 10 ** 7 else []
        self._finish(op, "ok", at)
        return op

    def fail(self, op, error=None, at=None):
        """An error reply: the request was not applied."""
        op.error = error_text(error) or error
        self._finish(op, "fail", at)
        return op

    def unknown(self, op, why=None, at=None):
        """No reply, or a reply saying the outcome is unknown: maybe applied."""
        op.error = error_text(why) or why
        self._finish(op, "unknown", at)
        return op

    def call(self, client, send, kind, name, **args):
        """invoke, send(*op.argv()), then ok/fail/unknown by the result: an
        error reply (an object with a str .text, as harness.Raw returns, or a
        raised exception whose class name ends in ResponseError, as redis-py
        raises) is a failure unless it says "outcome unknown"; connection
        errors and timeouts are unknown (not raised). Returns the op."""
        op = self.invoke(client, kind, name, **args)
        try:
            reply = send(*op.argv())
        except _UNKNOWN_EXC as e:
            self.unknown(op, repr(e))
            return op
        except Exception as e:
            if type(e).__name__.endswith("ResponseError") or any(
                    c.__name__.endswith("ResponseError") for c in type(e).__mro__):
                self._classify_error(op, str(e))
                return op
            if any(c.__name__ in ("ConnectionError", "TimeoutError") for c in type(e).__mro__):
                self.unknown(op, repr(e))
                return op
            self.unknown(op, repr(e))
            raise
        t = error_text(reply)
        if t is not None:
            self._classify_error(op, t)
        else:
            self.ok(op, reply)
        return op

    def _classify_error(self, op, text):
        if "outcome unknown" in text:
            self.unknown(op, text)
        else:
            self.fail(op, text)

    # ---- incarnations and claims ----------------------------------------------

    def _build(self):
        with self._lock:
            if self._built is not None:
                return self._built
            ops = list(self.ops)
        b = _Build(self, ops)
        with self._lock:
            if len(self.ops) == len(ops):
                self._built = b
        return b

    def incarnations(self, name):
        return list(self._build().incs.get(name, []))

    # ---- checks -----------------------------------------------------------------

    def check_uniqueness(self):
        return list(self._build().uniqueness)

    def check_containment(self):
        return list(self._build().containment)

    def check_strict_order(self):
        return self._build().strict_order()

    def check_all(self):
        b = self._build()
        return b.containment + b.uniqueness + b.strict_order() + list(self.extra)

    def assert_ok(self, testcase, limit=20, context=""):
        """Fails the test with the first `limit` violations of every check."""
        v = self.check_all()
        if v:
            lines = ["%d violation(s) of seqd's guarantees%s (first %d):" %
                     (len(v), (" " + context) if context else "", min(limit, len(v)))]
            lines += ["  %d. %s" % (i + 1, x) for i, x in enumerate(v[:limit])]
            testcase.fail("\n".join(lines))

    def summary(self):
        c = collections.Counter((op.kind, op.status) for op in self.ops)
        return ", ".join("%s %s %d" % (k, s, n) for (k, s), n in sorted(c.items()))

    def check_after_restart(self, name, first_next, before=None):
        """Durability: the first number issued after a crash (an int, or the
        op that got it) is greater than every number of the same incarnation
        and range acknowledged before `before` (monotonic; default: the op's
        invoke time, or now). Returns the violations found (also kept for
        check_all)."""
        b = self._build()
        op = None
        if isinstance(first_next, Op):
            op = first_next
            if op.status != "ok" or not op.numbers:
                v = [Violation("durability", name, None, "the first request after the restart did not get a "
                               "number: %s" % op, [op])]
                self.extra += v
                return v
            n = min(op.numbers)
            if before is None:
                before = op.t_inv
        else:
            n = int(first_next)
        if before is None:
            before = time.monotonic()
        incs = b.incs.get(name, [])
        inc = None
        if op is not None and op.incs and len(op.incs) == 1:
            inc = next(iter(op.incs))
        elif incs:
            inc = incs[-1]
        if inc is None:
            return []
        if inc.mode == "gapless":
            raise ValueError("check_after_restart: gapless mode reissues released numbers lower; "
                             "use the uniqueness and ledger checks")
        ri = inc.range_index(n)
        worst = None
        for o in b.number_ops:
            if o.name != name or o.status != "ok" or o.t_done >= before or o is op:
                continue
            if not o.incs or inc not in o.incs or len(o.incs) != 1:
                continue
            for x in o.numbers:
                if inc.range_index(x) == ri and x >= n and (worst is None or x > worst[0]):
                    worst = (x, o)
        if worst is None:
            return []
        v = [Violation("durability", name, n, "after the restart %s got %d, but %d had been acknowledged before "
                       "the crash (same range of %s): %s" % (op or "NEXT", n, worst[0], inc, worst[1]),
                       [o for o in (op, worst[1]) if o is not None])]
        self.extra += v
        return v

    def check_ledger(self, name, describe, gaps, start=None, allow_unknown=True):
        """The ledger at quiescence, against DESCRIBE and GAPS (see the module
        doc). Returns the violations found (also kept for check_all).
        allow_unknown=False: numbers of requests whose outcome stayed unknown
        must be listed too (the server knows what it could not deliver)."""
        b = self._build()
        v = b.ledger(name, describe, gaps, start, allow_unknown)
        self.extra += v
        return v


class _Build(object):
    """Everything derived from one snapshot of the ops."""

    def __init__(self, hist, ops):
        self.h = hist
        self.ops = ops
        self.incs = {}          # name -> [Incarnation]
        self.containment = []
        self.uniqueness = []
        self.number_ops = [o for o in ops if o.kind in NUMBER_KINDS and o.status == "ok"]
        self._incarnations()
        self._resolve()
        self._claims()

    # incarnations ---------------------------------------------------------------

    def _incarnations(self):
        by_name = collections.defaultdict(list)
        for o in self.ops:
            if o.kind in ("CREATE", "DROP", "ADDRANGE") and o.status in ("ok", "unknown", "pending"):
                by_name[o.name].append(o)
        for name, lst in by_name.items():
            lst.sort(key=lambda o: o.seq)
            incs = []
            live = None
            for o in lst:
                if o.kind == "CREATE":
                    if live is not None and o.status == "ok":
                        same = (int(o.args["lo"]), int(o.args["hi"])) == live.ranges[0][:2] and \
                            (o.args.get("mode") or "strict") == live.mode
                        if same:
                            continue  # the same CREATE again: +OK, nothing new
                        # +OK for another definition of a live name: the checker's view is off
                        # (a DROP it did not see); the old one stays possibly live (lenient)
                    if live is None or o.status == "ok":
                        live = Incarnation(name, len(incs) + 1, o)
                        incs.append(live)
                elif o.kind == "ADDRANGE":
                    if live is not None:
                        live.ranges.append((int(o.args["lo"]), int(o.args["hi"]), o))
                elif o.kind == "DROP":
                    if live is not None:
                        live.drop_op = o
                        live = None
            self.incs[name] = incs

    def _candidates(self, op):
        out = []
        for inc in self.incs.get(op.name, []):
            if _before(op, inc.create_op):
                continue
            d = inc.drop_op
            if d is not None and d.status == "ok" and _before(d, op):
                continue
            out.append(inc)
        return out

    def _ranges_for(self, inc, op):
        """The ranges of inc that may have been there while op ran."""
        return [(lo, hi) for lo, hi, adder in inc.ranges if adder is inc.create_op or not _before(op, adder)]

    def _resolve(self):
        for op in self.ops:
            if op.status == "pending":
                continue
            if op.name not in self.incs:
                op.incs = None  # created outside this history: containment unchecked
                if op.kind in NUMBER_KINDS and op.status == "ok":
                    self._shape(op)
                continue
            cands = self._candidates(op)
            if op.kind in NUMBER_KINDS and op.status == "ok":
                fits = []
                for inc in cands:
                    rs = self._ranges_for(inc, op)
                    if all(any(lo <= x <= hi for lo, hi in rs) for x in op.numbers):
                        fits.append(inc)
                if not fits:
                    outside = [x for x in op.numbers
                               if not any(lo <= x <= hi for inc in cands for lo, hi in self._ranges_for(inc, op))]
                    self.containment.append(Violation(
                        "containment", op.name, outside[0] if outside else (op.numbers[0] if op.numbers else None),
                        "%s told %s, outside every range of the incarnations that may have been live then (%s)" %
                        (op.name, ",".join(str(x) for x in (outside or op.numbers)[:10]),
                         ", ".join(str(i) for i in cands) or "none"), [op]))
                    op.incs = set(cands)
                else:
                    op.incs = set(fits)
            else:
                op.incs = set(cands)
            if op.kind in NUMBER_KINDS and op.status == "ok":
                self._shape(op)

    def _shape(self, op):
        if op.error:
            self.containment.append(Violation("shape", op.name, None, "%s: %s" % (op, op.error), [op]))
            return
        bad = [r for r in op.runs if r[0] > r[1]]
        if bad:
            self.containment.append(Violation("shape", op.name, None, "run with first > last %r in %s" %
                                              (bad[0], op), [op]))
        want = op.count if (op.kind == "NEXT" and op.count is not None) else 1
        nums = op.numbers
        if len(nums) != int(want) or len(set(nums)) != len(nums):
            self.containment.append(Violation(
                "shape", op.name, None, "asked for %d number(s), told %d (%d distinct): %s" %
                (int(want), len(nums), len(set(nums)), op), [op]))

    # claims -----------------------------------------------------------------

    def _holder(self, op):
        if op.key is not None:
            return ("key", op.key)
        return ("op", op.seq)

    def _claims(self):
        h = self.h
        self.claims = collections.defaultdict(list)  # (name, n) -> [Claim]
        for op in self.number_ops:
            holder = self._holder(op)
            if op.kind == "RESERVE":
                ttl = op.args.get("ttl")
                if ttl is None:
                    ttl = h.reserve_ttl
                if ttl is None:
                    end = op.t_done
                elif float(ttl) == 0:
                    end = INF
                else:
                    end = op.t_inv + float(ttl)
                for x in op.numbers:
                    self.claims[(op.name, x)].append(Claim(op, holder, op.t_done, end, False))
            else:
                for x in op.numbers:
                    self.claims[(op.name, x)].append(Claim(op, holder, op.t_done, INF, True))
        # a NEXT ... KEY k returning k's reserved number makes that hold final
        for (name, x), cl in self.claims.items():
            finals = [c for c in cl if c.final and c.holder[0] == "key"]
            for f in finals:
                for c in cl:
                    if not c.final and same_holder(c, f) and c.start <= f.start:
                        c.final, c.end, c.final_by = True, INF, f.op
        # CONFIRM and RELEASE, in invoke order
        for op in self.ops:
            if op.kind not in ("CONFIRM", "RELEASE"):
                continue
            if op.kind == "CONFIRM" and op.status != "ok":
                continue
            if op.kind == "RELEASE" and op.status not in ("ok", "unknown"):
                continue
            x = int(op.n)
            cl = [c for c in self.claims.get((op.name, x), []) if _before(c.op, op)]
            if op.key is not None:
                probe = Claim(op, ("key", op.key), 0, 0, False)
                targets = [c for c in cl if same_holder(c, probe)]
            else:
                mine = [c for c in cl if c.op.client == op.client]
                targets = [max(mine, key=lambda c: c.op.seq)] if mine else []
            for c in targets:
                if op.kind == "CONFIRM":
                    if c.final:
                        continue
                    if op.key is not None or op.t_done < c.end:
                        c.final, c.end, c.final_by = True, INF, op
                    continue
                if c.final:   # RELEASE of a final number: refused by a correct server
                    fb = c.final_by
                    if op.status == "ok" and fb.t_done is not None and (fb.t_done < op.t_inv or fb is c.op):
                        self.uniqueness.append(Violation(
                            "uniqueness", op.name, x, "%s %d: a final number was released: %s; it was %s" %
                            (op.name, x, op, c.describe()), [op, c.op]))
                    continue
                if op.t_inv < c.end:
                    c.end, c.ended_by = max(op.t_inv, c.start), op
        # overlaps
        for (name, x), cl in sorted(self.claims.items(), key=lambda kv: (str(kv[0][0]), kv[0][1])):
            if len(cl) < 2:
                continue
            found = None
            for i in range(len(cl)):
                a = cl[i]
                if a.end <= a.start:
                    continue
                for j in range(i + 1, len(cl)):
                    c = cl[j]
                    if c.end <= c.start or same_holder(a, c):
                        continue
                    if max(a.start, c.start) < min(a.end, c.end):
                        found = (a, c)
                        break
                if found:
                    break
            if found:
                a, c = found
                self.uniqueness.append(Violation(
                    "uniqueness", name, x, "%s %d told to two holders at overlapping times:\n      1) %s\n      2) %s"
                    % (name, x, a.describe(), c.describe()), [a.op, c.op]))
        # a voided number is never told again
        for op in self.ops:
            if op.kind != "VOID" or op.status != "ok":
                continue
            x = int(op.n)
            for c in self.claims.get((op.name, x), []):
                if _before(op, c.op):
                    self.uniqueness.append(Violation(
                        "uniqueness", op.name, x,
                        "%s %d was voided and then told again:\n      void: %s\n      then: %s" %
                        (op.name, x, op, c.describe()), [op, c.op]))
                    break

    # strict order -----------------------------------------------------------------

    def strict_order(self):
        out = []
        seen_keys = {}
        replay = set()
        for o in self.ops:
            if o.kind == "NEXT" and o.key is not None:
                k = (o.name, o.key)
                if k in seen_keys:
                    replay.add(o.seq)
                else:
                    seen_keys[k] = o
        groups = collections.defaultdict(list)   # (inc, range index) -> [(op, min, max)]
        for o in self.number_ops:
            if o.kind == "RESERVE" or not o.incs or len(o.incs) != 1:
                continue
            inc = next(iter(o.incs))
            if inc.mode != "strict":
                continue
            per = {}
            for x in o.numbers:
                ri = inc.range_index(x)
                if ri is None:
                    continue
                lo, hi = per.get(ri, (x, x))
                per[ri] = (min(lo, x), max(hi, x))
            for ri, (lo, hi) in per.items():
                groups[(id(inc), ri, inc)].append((o, lo, hi))
        for (_, ri, inc), items in groups.items():
            by_done = sorted(items, key=lambda t: t[0].t_done)
            dones = [t[0].t_done for t in by_done]
            best = []
            cur = None
            for t in by_done:
                if cur is None or t[2] > cur[2]:
                    cur = t
                best.append(cur)
            bad_for = set()
            for o, lo, hi in items:
                if o.seq in replay:
                    continue
                i = bisect.bisect_left(dones, o.t_inv) - 1
                if i >= 0 and best[i][2] >= lo:
                    a = best[i]
                    bad_for.add(o.seq)
                    out.append(Violation(
                        "order", o.name, lo, "%s: %d was told after %d had been acknowledged (range %d of %s):\n"
                        "      earlier: %s\n      later:   %s" % (o.name, lo, a[2], ri + 1, inc, a[0], o), [a[0], o]))
            # one connection's own order (pipelined requests)
            by_client = collections.defaultdict(list)
            for t in items:
                by_client[t[0].client].append(t)
            for cl, lst in by_client.items():
                lst.sort(key=lambda t: t[0].seq)
                cur = None
                for t in lst:
                    o, lo, hi = t
                    if cur is not None and o.seq not in replay and o.seq not in bad_for and cur[2] >= lo:
                        out.append(Violation(
                            "order", o.name, lo, "%s: %d was told after %d on the same connection (range %d of %s):"
                            "\n      earlier: %s\n      later:   %s" % (o.name, lo, cur[2], ri + 1, inc, cur[0], o),
                            [cur[0], o]))
                    if cur is None or hi > cur[2]:
                        cur = t
        return out

    # ledger -----------------------------------------------------------------------

    def ledger(self, name, describe, gaps, start, allow_unknown=True):
        out = []
        d = _fields(describe)
        incs = self.incs.get(name, [])
        inc = incs[-1] if incs else None
        issued = int(d.get("issued") or 0)
        ranges = [(int(_s(r[0])), int(_s(r[1]))) for r in (d.get("ranges") or [])]
        if not ranges and inc is not None:
            ranges = [(lo, hi) for lo, hi, _ in inc.ranges]
        if start is None:
            start = (inc.start if inc is not None and inc.start is not None else None)
        if start is None and ranges:
            start = ranges[0][0]
        start = int(start)
        # the high-water set: the first `issued` numbers of the ranges from start
        below = set()
        left = issued
        if issued > MAX_SET:
            raise ValueError("check_ledger: %d issued numbers is too many to expand" % issued)
        for i, (lo, hi) in enumerate(ranges):
            if left <= 0:
                break
            a = max(lo, start) if i == 0 else lo   # START applies to the first range
            if a > hi:
                continue
            take = min(left, hi - a + 1)
            below.update(range(a, a + take))
            left -= take
        gap_state = {}
        for g in gaps or []:
            a, z, st = int(_s(g[0])), int(_s(g[1])), _s(g[2])
            if z - a > MAX_SET:
                raise ValueError("check_ledger: GAPS run %r too long to expand" % (g,))
            for x in range(a, z + 1):
                gap_state[x] = st
        ours = lambda op: op.incs is None or inc is None or inc in op.incs  # noqa: E731
        finals = {}
        for (nm, x), cl in self.claims.items():
            if nm != name:
                continue
            for c in cl:
                if c.final and ours(c.op):
                    finals.setdefault(x, c)
        confirmed, maybe = set(), set()
        voided = set()
        budget = 0
        resolved_keys = set(o.key for o in self.number_ops if o.name == name and o.key is not None)
        for o in self.ops:
            if o.name != name or not ours(o):
                continue
            if o.kind == "CONFIRM":
                if o.status == "ok":
                    confirmed.add(int(o.n))
                elif o.status in ("unknown", "pending"):
                    maybe.add(int(o.n))
            elif o.kind == "VOID" and o.status in ("ok", "unknown", "pending"):
                voided.add(int(o.n))
            elif o.kind in ("NEXT", "INCR") and o.status in ("unknown", "pending"):
                if o.key is not None and o.key in resolved_keys:
                    continue
                budget += int(o.count or 1)
        for x, c in sorted(finals.items()):
            st = gap_state.get(x)
            if x not in below:
                out.append(Violation("ledger", name, x, "%s %d is held final but lies past the high-water mark "
                                     "(DESCRIBE issued %d from %d): %s" % (name, x, issued, start, c.describe()),
                                     [c.op]))
            elif st is not None and st != "unknown" and not (st == "voided" and x in voided):
                out.append(Violation("ledger", name, x, "%s %d is held final but GAPS lists it as %s: %s" %
                                     (name, x, st, c.describe()), [c.op]))
        stray = sorted(x for x in gap_state if x not in below)
        if stray:
            out.append(Violation("ledger", name, stray[0], "GAPS lists %d number(s) past the high-water mark "
                                 "(DESCRIBE issued %d from %d), first %d (%s)" %
                                 (len(stray), issued, start, stray[0], gap_state[stray[0]])))
        unaccounted = sorted(x for x in below if x not in gap_state and x not in finals and
                             x not in confirmed and x not in maybe)
        if not allow_unknown:
            budget = 0
        if len(unaccounted) > budget:
            out.append(Violation("ledger", name, unaccounted[0], "%d number(s) below the high-water mark are "
                                 "neither held final by a caller nor listed by GAPS, and only %d can be explained by "
                                 "requests whose outcome is unknown: %s%s" %
                                 (len(unaccounted), budget, ", ".join(str(x) for x in unaccounted[:20]),
                                  " ..." if len(unaccounted) > 20 else "")))
        nxt = d.get("next")
        if nxt is not None and not isinstance(nxt, (list, dict)):
            try:
                nxt = int(_s(nxt))
            except (TypeError, ValueError):
                nxt = None
            if nxt is not None and nxt in finals:
                out.append(Violation("ledger", name, nxt, "DESCRIBE says NEXT would give %d, which is held final: %s"
                                     % (nxt, finals[nxt].describe()), [finals[nxt].op]))
        return out


def _fields(reply):
    """DESCRIBE's flat field/value list (or a dict) as {str: value}."""
    if isinstance(reply, dict):
        return {_s(k): v for k, v in reply.items()}
    if not isinstance(reply, (list, tuple)) or len(reply) % 2:
        raise ValueError("not a DESCRIBE reply: %r" % (reply,))
    return {_s(reply[i]): reply[i + 1] for i in range(0, len(reply), 2)}
