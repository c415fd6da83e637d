"""Check bookkeeping for the Python test scripts: a Checker that records failed checks, prints
each one as it happens and turns the record into the script's exit status, and run(), which runs
a command with a timeout and captured text output (python3 stdlib only)."""
import subprocess
import sys

DEFAULT_TIMEOUT = 60


class CommandFailed(AssertionError):
    """A command that had to succeed exited non-zero."""


def run(*argv, ok=True, timeout=DEFAULT_TIMEOUT, cwd=None, stdin=None, env=None):
    """Runs a command to completion and returns its CompletedProcess (stdout and stderr as text,
    undecodable bytes replaced). argv is given as separate arguments or as one list. With ok=True
    a non-zero exit raises CommandFailed naming the command and its output; a command that
    outlives `timeout` seconds raises subprocess.TimeoutExpired."""
    if len(argv) == 1 and isinstance(argv[0], (list, tuple)):
        argv = argv[0]
    argv = list(argv)
    p = subprocess.run(argv, capture_output=True, text=True, errors="replace", timeout=timeout,
                       cwd=cwd, input=stdin, env=env)
    if ok and p.returncode != 0:
        raise CommandFailed(f"{' '.join(argv)} failed ({p.returncode}): {p.stderr}{p.stdout}")
    return p


class Checker:
    """Records failed checks. check()/expect() print "FAIL: what" to `stream` at once, or, when
    `deferred`, all together (joined by `separator`) before exit_status()'s summary; labelled()
    prints "ok   label" or "FAIL label" (and the detail) to stdout, for scripts that log every
    check."""

    def __init__(self, stream=None, deferred=False, separator="\n"):
        self.stream = stream if stream is not None else sys.stdout
        self.deferred = deferred
        self.separator = separator
        self.failures = []

    def check(self, cond, what):
        if not cond:
            self.failures.append(what)
            if not self.deferred:
                print("FAIL:", what, file=self.stream)
        return cond

    expect = check

    def same(self, what, expected, actual, expected_name="expected", actual_name="actual"):
        """Checks expected == actual; a failure prints both under their names."""
        if expected != actual:
            self.failures.append(what)
            print(f"FAIL: {what}\n--- {expected_name}\n{expected}\n--- {actual_name}\n{actual}",
                  file=self.stream)
        return expected == actual

    def labelled(self, label, ok, detail=""):
        print(("ok   " if ok else "FAIL ") + label)
        if not ok:
            self.failures.append(label)
            if detail:
                print(detail)
        return ok

    def fail(self, what):
        """Records a failure found outside a condition (e.g. a command that failed)."""
        self.check(False, what)

    def exit_status(self, passed, failed="{count} check(s) failed"):
        """Prints the summary and returns the exit status: 0 if every check passed, else 1.
        `failed` may use {count} and {failures}."""
        if self.failures:
            if self.deferred:
                print(self.separator.join(self.failures), file=self.stream)
            print(failed.format(count=len(self.failures), failures=self.failures),
                  file=self.stream)
            return 1
        if passed:
            print(passed)
        return 0
