#!/usr/bin/python3
"""run — discovers and runs every tests/integration/test_*.py against a real seqd.

    /usr/bin/python3 tests/integration/run.py --binary build/seqd [-k PATTERN] [-v] [MODULE ...]

Prints one line per test with its time, the failures with the stderr of the
servers they started, and a closing line "N passed, M failed[, K skipped]"
(errors count as failed). Exits 1 on any failure. A watchdog kills every
server and exits if the whole run exceeds --timeout seconds.
"""

import argparse
import faulthandler
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402


class Result(unittest.TestResult):
    def __init__(self, stream, verbose):
        super().__init__()
        self.stream = stream
        self.verbose = verbose
        self.passed = 0
        self.reports = []  # (label, test id, traceback text, server logs)
        self._t0 = {}

    def _w(self, text):
        self._printed = True
        self.stream.write(text)
        self.stream.flush()

    def startTest(self, test):
        super().startTest(test)
        self._t0[test.id()] = time.monotonic()
        self._w("%s ... " % test.id())
        self._printed = False

    def stopTest(self, test):
        super().stopTest(test)
        if not self._printed:
            self._w("FAIL (subtests, %.2fs)\n" % self._elapsed(test))

    def _elapsed(self, test):
        return time.monotonic() - self._t0.get(test.id(), time.monotonic())

    def _report(self, label, test, err):
        logs = ""
        owner = getattr(test, "test_case", test)  # a failing subtest reports its test's servers
        fn = getattr(owner, "server_logs", None)
        if fn is not None:
            try:
                logs = fn()
            except Exception as e:  # the report must not fail
                logs = "(could not read server logs: %r)" % e
        self.reports.append((label, test.id(), self._exc_info_to_string(err, test), logs))

    def addSuccess(self, test):
        super().addSuccess(test)
        self.passed += 1
        self._w("ok (%.2fs)\n" % self._elapsed(test))

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._report("FAIL", test, err)
        self._w("FAIL (%.2fs)\n" % self._elapsed(test))

    def addError(self, test, err):
        super().addError(test, err)
        self._report("ERROR", test, err)
        self._w("ERROR (%.2fs)\n" % self._elapsed(test))

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        self._w("skipped: %s\n" % reason)

    def addExpectedFailure(self, test, err):
        super().addExpectedFailure(test, err)
        self.passed += 1
        self._w("expected failure (%.2fs)\n" % self._elapsed(test))

    def addUnexpectedSuccess(self, test):
        super().addUnexpectedSuccess(test)
        self.reports.append(("UNEXPECTED SUCCESS", test.id(), "", ""))
        self._w("UNEXPECTED SUCCESS\n")

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        if err is not None:
            label = "FAIL" if issubclass(err[0], test.failureException) else "ERROR"
            self._report(label, subtest, err)


def snapshot_binary(src):
    """Copies the binary into the run's temp dir and tests the copy, so a
    rebuild by someone else during the run cannot swap or half-write it."""
    dst = os.path.join(harness.session_dir(), "seqd")
    last = None
    for _ in range(100):
        try:
            before = os.stat(src)
            shutil.copy2(src, dst + ".tmp")
            after = os.stat(src)
            if (before.st_mtime_ns, before.st_size) == (after.st_mtime_ns, after.st_size):
                os.replace(dst + ".tmp", dst)
                p = subprocess.run([dst, "--version"], capture_output=True, timeout=10)
                if p.returncode == 0:
                    return dst
                last = "exit %d: %r" % (p.returncode, p.stderr)
        except (OSError, subprocess.SubprocessError) as e:
            last = e
        time.sleep(0.2)
    raise RuntimeError("cannot take a stable copy of %s: %s" % (src, last))


def iter_tests(suite):
    for t in suite:
        if isinstance(t, unittest.TestSuite):
            yield from iter_tests(t)
        else:
            yield t


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", default=os.path.join(harness.REPO, "build", "seqd"))
    ap.add_argument("-k", dest="patterns", action="append", default=[],
                    help="only tests whose id contains this substring (repeatable)")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("--timeout", type=float, default=600.0, help="whole-run watchdog, seconds")
    ap.add_argument("modules", nargs="*", help="test modules (default: every test_*.py)")
    args = ap.parse_args()

    binary = os.path.abspath(args.binary)
    if not os.access(binary, os.X_OK):
        print("run.py: %s is not an executable (build it with `make build/seqd`)" % binary)
        print("0 passed, 1 failed")
        return 1
    source = binary
    if not os.environ.get("SEQD_NO_COPY"):
        binary = snapshot_binary(source)
    harness.set_binary(binary)
    os.environ["SEQD_BINARY"] = binary

    def on_signal(signum, frame):
        harness.kill_all_servers()
        print("\nrun.py: interrupted by signal %d; servers killed" % signum)
        os._exit(130)

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    result = Result(sys.stdout, args.verbose)

    def watchdog():
        sys.stderr.write("\nrun.py: watchdog: the run passed %.0fs; stacks:\n" % args.timeout)
        faulthandler.dump_traceback(all_threads=True)
        harness.kill_all_servers()
        failed_ids = {getattr(t, "test_case", t).id() for t, _ in result.failures + result.errors}
        failed = len(failed_ids) + 1  # the test that hung
        passed = max(0, result.testsRun - 1 - len(failed_ids) - len(result.skipped))
        print("\nrun.py: a test hung; stopped")
        print("%d passed, %d failed" % (passed, failed))
        sys.stdout.flush()
        os._exit(1)

    timer = threading.Timer(args.timeout, watchdog)
    timer.daemon = True
    timer.start()

    loader = unittest.TestLoader()
    if args.modules:
        names = [os.path.splitext(os.path.basename(m))[0] for m in args.modules]
        suite = unittest.TestSuite(loader.loadTestsFromName(n) for n in names)
    else:
        suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    tests = list(iter_tests(suite))
    if args.patterns:
        tests = [t for t in tests if any(p in t.id() for p in args.patterns)]

    print("seqd integration tests: %d tests, binary %s (copied to %s)" % (len(tests), source, binary))
    sys.stdout.flush()
    t0 = time.monotonic()
    unittest.TestSuite(tests).run(result)
    elapsed = time.monotonic() - t0
    timer.cancel()
    harness.kill_all_servers()

    logged = set()
    for label, tid, tb, logs in result.reports:
        print("=" * 78)
        print("%s: %s" % (label, tid))
        print("-" * 78)
        print(tb.rstrip())
        if logs and logs not in logged:
            logged.add(logs)
            print(logs.rstrip())
    if result.reports:
        print("=" * 78)

    failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
    # a test with failing subtests counts once
    failed_ids = set()
    for t, _ in result.failures + result.errors:
        failed_ids.add(getattr(t, "test_case", t).id())
    failed = len(failed_ids) + len(result.unexpectedSuccesses)
    skipped = len(result.skipped)
    passed = result.testsRun - failed - skipped
    print("time: %.1fs" % elapsed)
    line = "%d passed, %d failed" % (passed, failed)
    if skipped:
        line += ", %d skipped" % skipped
    print(line)
    sys.stdout.flush()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
