#!/usr/bin/env python3
"""A -drive without format= keeps its raw image's first sector raw in e2kvm-system as in
qemu-system-x86_64: both print QEMU's warning, both export the drive's node writable over NBD
(nbd-server-add), and qemu-io -f raw as the NBD client writes the same requests into sector 0: a
qcow2 header naming a host file as backing file is refused ("write failed: Operation not
permitted"), ordinary data, zero writes and discards go through, and the image still probes as
raw. With format=raw the header goes through.
usage: system_probed_drive.py E2KVM_SYSTEM ECHO_KERNEL"""
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402
from qmp_client import QmpClient  # noqa: E402
from system_harness import SystemProcess  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img", "qemu-io")

SYSTEM, ECHO = (os.path.abspath(a) for a in sys.argv[1:3])
WARNING_LINE = ("Image format was not specified for '%s' and probing guessed raw.")


def machine_argv(tool, drive, qmp_sock):
    if tool == "qemu":
        return ["qemu-system-x86_64", "-nodefaults", "-display", "none", "-S", "-machine",
                "none", "-drive", drive, "-qmp", "unix:%s,server=on,wait=off" % qmp_sock]
    return [SYSTEM, "-display", "none", "-serial", "none", "-S", "-kernel", ECHO, "-drive",
            drive, "-qmp", "unix:%s,server=on,wait=off" % qmp_sock]


def through_drive(tool, tmp, fmt, commands):
    """Starts `tool` with a fresh raw image as drive "d0" (format= only when `fmt`), exports the
    drive writable and runs `commands` through qemu-io -f raw over NBD. Returns (result lines,
    machine stderr, format afterwards)."""
    img = os.path.join(tmp, "disk.raw")
    if os.path.exists(img):
        os.unlink(img)
    run("qemu-img", "create", "-q", "-f", "raw", img, "1M")
    qmp_sock = os.path.join(tmp, tool + ".qmp")
    nbd_sock = os.path.join(tmp, tool + ".nbd")
    drive = "file=%s,if=none,id=d0" % img + (",format=" + fmt if fmt else "")
    p = SystemProcess(machine_argv(tool, drive, qmp_sock))
    try:
        qmp = QmpClient(qmp_sock)
        qmp.execute("nbd-server-start", addr={"type": "unix", "data": {"path": nbd_sock}})
        qmp.execute("nbd-server-add", device="d0", writable=True)
        argv = ["qemu-io", "-f", "raw"]
        for c in commands:
            argv += ["-c", c]
        out = run(*argv, "nbd+unix:///d0?socket=" + nbd_sock, ok=False).stdout
        qmp.execute("quit")
        qmp.close()
        p.wait(30)
    finally:
        p.kill()
    lines = [line for line in out.splitlines() if " ops; " not in line]
    fmt_after = json.loads(run("qemu-img", "info", "--output=json", img).stdout)["format"]
    return lines, p.stderr(), fmt_after


def main():
    checker = Checker(sys.stderr)
    tmp = tempfile.mkdtemp(prefix="e2kvm-probed-drive-")
    try:
        evil = os.path.join(tmp, "evil.qcow2")
        run("qemu-img", "create", "-q", "-f", "qcow2", "-b", "/etc/hostname", "-F", "raw", evil,
            "1M")
        header = os.path.join(tmp, "header.bin")
        with open(evil, "rb") as src, open(header, "wb") as dst:
            dst.write(src.read(512))
        commands = ["write -s %s 0 512" % header, "write -P 0x51 0 512", "write -z 0 512",
                    "discard 0 512", "write -s %s 0 512" % header]
        theirs = through_drive("qemu", tmp, None, commands)
        ours = through_drive("e2kvm", tmp, None, commands)
        checker.same("probed drive: results", "\n".join(theirs[0]), "\n".join(ours[0]),
                     "qemu-system-x86_64", "e2kvm-system")
        checker.check(theirs[0][0] == "write failed: Operation not permitted",
                      "qemu-system-x86_64 wrote the header: %r" % theirs[0])
        checker.same("probed drive: format afterwards", "raw", ours[2])
        img = os.path.join(tmp, "disk.raw")
        checker.check(WARNING_LINE % img in theirs[1], "qemu warning: %r" % theirs[1])
        checker.check(WARNING_LINE % img in ours[1], "e2kvm-system warning: %r" % ours[1])

        theirs = through_drive("qemu", tmp, "raw", commands[:1])
        ours = through_drive("e2kvm", tmp, "raw", commands[:1])
        checker.same("format=raw: results", "\n".join(theirs[0]), "\n".join(ours[0]),
                     "qemu-system-x86_64", "e2kvm-system")
        checker.same("format=raw: format afterwards", "qcow2", ours[2])
        checker.check("probing guessed raw" not in ours[1], "format=raw warned: %r" % ours[1])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("probed -drive: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
