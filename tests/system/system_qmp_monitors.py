#!/usr/bin/env python3
"""Several -qmp monitors: e2kvm-system, like qemu-system-x86_64, serves each -qmp address with
every event going to every monitor. Both tools are started paused with two monitors; both
monitors answer query-status; cont and stop through the first are heard (RESUME, STOP) on both,
with the same data as QEMU's; quit through the second sends SHUTDOWN to the first and ends the
process.
usage: system_qmp_monitors.py E2KVM_SYSTEM ECHO_KERNEL"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checker  # noqa: E402
from qmp_client import QmpClient  # noqa: E402
from system_harness import SystemProcess  # noqa: E402

SYSTEM, ECHO = (os.path.abspath(a) for a in sys.argv[1:3])


def machine_argv(tool, socks):
    if tool == "qemu":
        argv = ["qemu-system-x86_64", "-nodefaults", "-display", "none", "-S", "-machine", "none"]
    else:
        argv = [SYSTEM, "-display", "none", "-serial", "none", "-S", "-kernel", ECHO]
    for s in socks:
        argv += ["-qmp", "unix:%s,server=on,wait=off" % s]
    return argv


def event(client, monitor, name):
    """The data of the next `name` event on `client`; AssertionError naming the monitor if none
    comes (the client cannot be used after that)."""
    e = client.wait_event(name, timeout=20)
    if e is None:
        raise AssertionError("monitor %s: no %s event" % (monitor, name))
    return e.get("data")


def session(tool, tmp):
    """What the two monitors saw: a list of (monitor, what) in a fixed order."""
    socks = [os.path.join(tmp, "%s-%s.qmp" % (tool, m)) for m in "ab"]
    p = SystemProcess(machine_argv(tool, socks))
    seen = []
    try:
        a = QmpClient(socks[0], connect_timeout=30)
        b = QmpClient(socks[1], connect_timeout=30)
        for name, c in (("a", a), ("b", b)):
            seen.append((name, "status " + c.execute("query-status")["status"]))
        a.execute("cont")
        for name, c in (("a", a), ("b", b)):
            seen.append((name, "RESUME %r" % event(c, name, "RESUME")))
        a.execute("stop")
        for name, c in (("a", a), ("b", b)):
            seen.append((name, "STOP %r" % event(c, name, "STOP")))
            seen.append((name, "status " + c.execute("query-status")["status"]))
        b.execute("quit")
        seen.append(("a", "SHUTDOWN %r" % event(a, "a", "SHUTDOWN")))
        seen.append(("exit", p.wait(30)))
        a.close()
        b.close()
    finally:
        p.kill()
    return seen


def main():
    checker = Checker(sys.stderr)
    tmp = tempfile.mkdtemp(prefix="e2kvm-qmp-monitors-")
    try:
        try:
            ours = session("e2kvm", tmp)
        except AssertionError as e:
            checker.fail("e2kvm-system: %s" % e)
            sys.exit(checker.exit_status("PASS"))
        for monitor, what in ours:
            print("e2kvm-system %s: %s" % (monitor, what))
        if shutil.which("qemu-system-x86_64"):
            theirs = session("qemu", tmp)
            checker.same("two monitors", "\n".join("%s %s" % t for t in theirs),
                         "\n".join("%s %s" % t for t in ours), "qemu-system-x86_64",
                         "e2kvm-system")
        else:
            print("qemu-system-x86_64 not installed: compared with nothing")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(checker.exit_status("PASS"))


if __name__ == "__main__":
    main()
