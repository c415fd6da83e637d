#!/usr/bin/env python3
"""Interop: e2kvm-io's reopen -o discard=... / detect-zeroes=... and their backing.* forms (as
iotest 161 uses through a VM's monitor): accepted and refused with qemu-io's messages, a
backing node's qcow2 runtime options changed, unknown options of a child named as qemu-io
names them, and writes of zeros after detect-zeroes=on|unmap leave the image mapped as
qemu-io's do.
Usage: io_reopen_zeroes_interop.py E2KVM_IO"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img", "qemu-io")

E2KVM_IO = os.path.abspath(sys.argv[1])
checker = Checker()

REOPENS = [
    "reopen -o backing.detect-zeroes=on",
    "reopen -o detect-zeroes=on",
    "reopen -o discard=ignore,detect-zeroes=unmap",
    "reopen -o backing.discard=ignore,backing.detect-zeroes=unmap",
    "reopen -o detect-zeroes=off,discard=off",
    "reopen -o detect-zeroes=unmap",
    "reopen -o backing.detect-zeroes=bad",
    "reopen -o backing.discard=bad",
    "reopen -o backing.detect-zeroes=on,discard=bad",
    "reopen -o discard=on",
    "reopen -o backing.l2-cache-size=1M",
    "reopen -o backing.foo=on",
    "reopen -o file.foo=on",
    "reopen -o backing.file.foo=on",
]

WRITES = ["write -P 0 0 64k", "write -P 0 1M 64k", "write -P 0 3M 4k", "writev -P 0 2M 64k",
          "aio_write -P 0 2200k 64k", "aio_flush", "write -P 7 4M 64k"]


def shell(program, commands, image):
    args = [program]
    for c in commands:
        args += ["-c", c]
    p = run(args + [image], ok=False)
    return p.returncode, (p.stdout + p.stderr).replace(os.path.basename(program) + ":", "TOOL:")


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-reopenz-")
    try:
        base = os.path.join(tmp, "base.qcow2")
        top = os.path.join(tmp, "top.qcow2")
        run(["qemu-img", "create", "-q", "-f", "qcow2", base, "8M"])
        run(["qemu-io", "-c", "write -P 1 0 8M", base])
        run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top])
        for command in REOPENS:
            theirs = shell("qemu-io", [command], top)
            ours = shell(E2KVM_IO, [command], top)
            checker.same(command, theirs, ours, "qemu-io", "e2kvm-io")
        # One session: what an earlier reopen set is what a later one is checked against.
        checker.same("reopens in one session", shell("qemu-io", REOPENS, top),
                     shell(E2KVM_IO, REOPENS, top), "qemu-io", "e2kvm-io")
        checker.same("backing.* without a backing file",
                     shell("qemu-io", [REOPENS[0]], base), shell(E2KVM_IO, [REOPENS[0]], base),
                     "qemu-io", "e2kvm-io")
        for mode in ("on", "unmap", "off"):
            maps = []
            for program in ("qemu-io", E2KVM_IO):
                image = os.path.join(tmp, "z.qcow2")
                run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", image])
                shell(program, ["reopen -o detect-zeroes=%s" % mode] + WRITES, image)
                maps.append(run(["qemu-img", "map", "--output=json", image]).stdout)
            checker.same("zeros written with detect-zeroes=%s: the map" % mode, maps[0], maps[1],
                         "qemu-io", "e2kvm-io")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("reopen discard / detect-zeroes: as qemu-io")


sys.exit(main())
