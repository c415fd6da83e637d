#!/usr/bin/env python3
"""Headless runs of e2kvm-system: the demo guest boots from its disk with the default ROM (serial
banner, QMP status and a screendump of its 1024x768 console), SIGTERM ends it cleanly, the test
guest echoes serial input and powers off (exit 0, SHUTDOWN guest-shutdown), -S waits for cont,
-nographic's Ctrl-A x quits, and bad command lines or files give one-line errors and exit 1.
usage: system_headless.py E2KVM_SYSTEM DEMO_DISK ECHO_KERNEL"""
import os
import shutil
import signal
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checker, run  # noqa: E402
from qmp_client import QmpClient  # noqa: E402
from system_harness import SystemProcess, check_shutdown, read_ppm  # noqa: E402

SYSTEM, DEMO_DISK, ECHO = sys.argv[1:4]
checker = Checker(sys.stderr)
check = checker.check


def demo_guest(tmp):
    disk = os.path.join(tmp, "demo.raw")
    shutil.copyfile(DEMO_DISK, disk)
    sock = os.path.join(tmp, "qmp.sock")
    p = SystemProcess([SYSTEM, "-display", "none", "-serial", "stdio", "-m", "256M",
                       "-name", "demo", "-drive", "file=%s,format=raw" % disk,
                       "-qmp", "unix:%s,server=on,wait=off" % sock])
    try:
        check(p.wait_serial("records from sector", 30), "demo guest banner on serial: %r"
              % p.serial())
        out = p.serial()
        check("e2kvm boot ROM" in out, "ROM banner")
        check("RAM: 256 MiB, drives: 1" in out, "ROM sees 256 MiB and one drive: %r" % out)
        check("e2kvm demo guest" in out, "demo banner")
        qmp = QmpClient(sock)
        check(qmp.cmd("query-status")["return"]["status"] == "running", "query-status running")
        check(qmp.cmd("query-name") == {"return": {"name": "demo"}}, "query-name")
        blocks = qmp.cmd("query-block")["return"]
        check([b["device"] for b in blocks] == ["disk0"], "query-block lists disk0: %r" % blocks)
        # The banner comes before the screen set-up: poll until the console is drawn.
        shot = os.path.join(tmp, "demo.ppm")
        deadline, size, title, background = time.time() + 30, None, None, None
        while time.time() < deadline:
            r = qmp.cmd("screendump", filename=shot, format="ppm")
            if r == {"return": {}}:
                w, h, px = read_ppm(shot)
                size, title, background = (w, h), px(500, 4), px(500, 300)
                if title == (0x2A, 0x5D, 0xB0):
                    break
            time.sleep(0.1)
        check(size == (1024, 768), "demo console is 1024x768, got %r" % (size,))
        check(title == (0x2A, 0x5D, 0xB0), "title bar colour: %r" % (title,))
        check(background == (0x14, 0x1C, 0x2C), "background colour: %r" % (background,))
        p.terminate(signal.SIGTERM)
        check_shutdown(check, p, qmp, "host-signal", 20, 20, "SIGTERM: ")
        check("terminating on signal 15 from pid" in p.stderr(), "signal message: %r"
              % p.stderr())
        check(not os.path.exists(sock), "QMP socket removed at exit")
    finally:
        p.kill()


def echo_guest_power_off(tmp):
    sock = os.path.join(tmp, "echo.sock")
    p = SystemProcess([SYSTEM, "-display", "none", "-serial", "stdio", "-kernel", ECHO,
                       "-qmp", "unix:%s,server=on,wait=off" % sock])
    try:
        check(p.wait_serial("test guest\n", 20), "echo guest banner: %r" % p.serial())
        qmp = QmpClient(sock)
        p.write(b"Hello, e2k 7!")
        rc = p.wait(20)
        check(rc == 0, "exit code 0 on guest power-off, got %r" % rc)
        check("hELLO, E2K 7bye\n" in p.serial(), "serial echo: %r" % p.serial())
        e = qmp.wait_event("SHUTDOWN", 5)
        check(e is not None and e["data"] == {"guest": True, "reason": "guest-shutdown"},
              "SHUTDOWN guest-shutdown: %r" % e)
        qmp.close()
    finally:
        p.kill()


def start_paused(tmp):
    sock = os.path.join(tmp, "paused.sock")
    p = SystemProcess([SYSTEM, "-display", "none", "-serial", "stdio", "-S", "-kernel", ECHO,
                       "-qmp", "unix:%s,server=on,wait=off" % sock])
    try:
        qmp = QmpClient(sock)
        check(qmp.cmd("query-status")["return"]["status"] == "prelaunch", "-S: prelaunch")
        time.sleep(0.3)
        check(p.serial() == "", "-S: nothing runs before cont: %r" % p.serial())
        check(qmp.cmd("cont") == {"return": {}}, "cont")
        check(p.wait_serial("test guest", 20), "runs after cont")
        check(qmp.cmd("stop") == {"return": {}}, "stop")
        check(qmp.cmd("query-status")["return"]["status"] == "paused", "paused after stop")
        check(qmp.cmd("quit") == {"return": {}}, "quit")
        check_shutdown(check, p, qmp, "host-qmp-quit", 10, 20, "")
    finally:
        p.kill()


def nographic_escape():
    p = SystemProcess([SYSTEM, "-nographic", "-kernel", ECHO])
    try:
        check(p.wait_serial("test guest\n", 20), "-nographic serial on stdout")
        p.write(b"ab\x01ac")
        check(p.wait_serial("AB\x01C", 20), "echo through the escape filter: %r" % p.serial())
        p.write(b"\x01x")
        rc = p.wait(20)
        check(rc == 0, "Ctrl-A x exits 0, got %r" % rc)
        # "ab", then Ctrl-A a sends one Ctrl-A (echoed unchanged), then "c"; no "bye".
        check(p.serial().endswith("test guest\nAB\x01C"), "serial before Ctrl-A x: %r"
              % p.serial())
    finally:
        p.kill()


def command_line_errors(tmp):
    junk = os.path.join(tmp, "junk.elf")
    with open(junk, "wb") as f:
        f.write(b"\x7fELF" + b"\x00" * 60)
    cases = [
        (["-m", "7Q"], "e2kvm-system: -m 7Q: invalid size\n"),
        (["-foo"], "e2kvm-system: -foo: invalid option\n"),
        (["-display", "gtk"], "e2kvm-system: -display gtk: Display 'gtk' is not available\n"),
        # As qemu-system: the image is opened (and its format known) before its options are
        # checked, so a missing file is the error.
        (["-drive", "file=%s/x,bogus=1" % tmp], "e2kvm-system: -drive file=%s/x,bogus=1: Could "
         "not open '%s/x': No such file or directory\n" % (tmp, tmp)),
        (["-display", "none", "-drive", "file=%s/nonexistent.qcow2,format=qcow2" % tmp], None),
        (["-display", "none", "-bios", "%s/missing-rom.bin" % tmp], None),
        (["-display", "none", "-kernel", junk], None),
        (["-display", "none", "-serial", "file:%s/no/such/dir/log" % tmp], None),
        (["-display", "none", "-kernel", ECHO, "-qmp",
          "unix:%s/no/such/dir/q.sock,server=on,wait=off" % tmp], None),
    ]
    for args, expected in cases:
        p = run(SYSTEM, *args, ok=False, timeout=20, stdin="")
        rc, out, err = p.returncode, p.stdout, p.stderr
        check(rc == 1, "%s: exit code 1, got %d" % (args, rc))
        lines = err.splitlines()
        check(len(lines) == 1 and lines[0].startswith("e2kvm-system: "),
              "%s: one error line, got %r" % (args, err))
        if expected is not None:
            check(err == expected, "%s: %r" % (args, err))
    p = run(SYSTEM, "--version", ok=False, timeout=20, stdin="")
    check(p.returncode == 0 and p.stdout.startswith("e2kvm-system version "),
          "--version: %r" % p.stdout)
    p = run(SYSTEM, "-h", ok=False, timeout=20, stdin="")
    check(p.returncode == 0 and "-drive" in p.stdout and "-qmp" in p.stdout, "-h")


def main():
    with tempfile.TemporaryDirectory(prefix="e2kvm-system-test-") as tmp:
        demo_guest(tmp)
        echo_guest_power_off(tmp)
        start_paused(tmp)
        nographic_escape()
        command_line_errors(tmp)
    return checker.exit_status("all e2kvm-system headless checks passed")


if __name__ == "__main__":
    sys.exit(main())
