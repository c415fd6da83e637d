#!/usr/bin/env python3
"""Interop: resizing a qcow2 image that has internal snapshots (iotest 061), e2kvm-img against
qemu-img 7.2. A v2 image with snapshots refuses any resize ("Can't resize a v2 image which has
snapshots"); a v3 one grows and shrinks (the snapshots keep their own size and clusters), and
applying a snapshot brings its size back. Both programs run under the name qemu-img on the
same sequence; exit statuses, messages, the header's version / size / snapshot count and the
guest data of the snapshots must agree, and check must find the images clean.
Usage: qcow2_resize_snapshots_interop.py E2KVM_IMG"""
import os
import shutil
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img", "qemu-io")

OURS_IMG = os.path.abspath(sys.argv[1])
QEMU_IMG = shutil.which("qemu-img")
checker = Checker()

STEPS = [
    ["snapshot", "-c", "foo", "IMG"],
    ["resize", "IMG", "64M"],
    ["amend", "-o", "compat=1.1,size=128M", "IMG"],
    ["snapshot", "-c", "bar", "IMG"],
    ["resize", "--shrink", "IMG", "64M"],
    ["resize", "IMG", "96M"],
    ["snapshot", "-a", "bar", "IMG"],
    ["snapshot", "-a", "foo", "IMG"],
    ["check", "IMG"],
]


def summary(path):
    with open(path, "rb") as f:
        h = f.read(72)
    return struct.unpack(">I", h[4:8])[0], struct.unpack(">Q", h[24:32])[0], \
        struct.unpack(">I", h[60:64])[0]


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-qcow2-resize-snap-")
    try:
        outputs = {}
        for tool, program in (("qemu", QEMU_IMG), ("ours", OURS_IMG)):
            d = os.path.join(tmp, tool)
            os.makedirs(os.path.join(d, "bin"))
            prog = os.path.join(d, "bin", "qemu-img")
            os.symlink(program, prog)
            image = os.path.join(d, "t.qcow2")
            run("qemu-img", "create", "-q", "-f", "qcow2", "-o", "compat=0.10", image, "32M")
            run("qemu-io", "-f", "qcow2", "-c", "write -P 0x2a 24M 64k", image)
            lines = []
            for step in STEPS:
                if step[:2] == ["snapshot", "-c"] and step[2] == "bar":
                    run("qemu-io", "-f", "qcow2", "-c", "write -P 0x2b 100M 64k", image)
                argv = [image if a == "IMG" else a for a in step]
                p = run(prog, *argv, ok=False)
                lines.append((step[0], p.returncode, (p.stdout + p.stderr).replace(d, "DIR"),
                              summary(image)))
            p = run("qemu-io", "-f", "qcow2", "-c", "read -P 0x2a 24M 64k", image, ok=False)
            lines.append(("read", p.returncode, "failed" in p.stdout))
            outputs[tool] = lines
        checker.same("resizes with snapshots", outputs["qemu"], outputs["ours"], "qemu-img",
                     "e2kvm-img")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("qcow2_resize_snapshots_interop: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
