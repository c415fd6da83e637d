#!/usr/bin/env python3
"""Interop: a refcount block write that qcow2's overlap checks refuse (iotest 080: a snapshot
whose L1 table is invalid, written to with overlap-check.inactive-l2=on) stays dirty in the
refcount block cache; the flush at close tries it again, fails again and qemu-io reports
'Failed to flush the refcount block cache: why'. The merged stdout/stderr of qemu-io (order
included, as iotest 080 sees it through one pipe) and its exit code are compared.
Usage: qcow2_refblock_flush_interop.py E2KVM_IO"""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img", "qemu-io")

checker = Checker()


def poke(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def snapshot_table(path):
    with open(path, "rb") as f:
        f.seek(64)
        return struct.unpack(">Q", f.read(8))[0]


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-rbflush-")
    try:
        base = os.path.join(tmp, "base.qcow2")
        run(["qemu-img", "create", "-q", "-f", "qcow2", base, "64M"])
        run(["qemu-io", "-c", "write 0 512", base])
        run(["qemu-img", "snapshot", "-c", "test", base])
        bindir = os.path.join(tmp, "ours")
        os.makedirs(bindir)
        os.symlink(os.path.abspath(sys.argv[1]), os.path.join(bindir, "qemu-io"))
        sides = {"qemu": shutil.which("qemu-io"), "e2kvm": os.path.join(bindir, "qemu-io")}
        for kind, (field, value) in {"offset": (0, struct.pack(">Q", 0x400200)),
                                     "size": (8, struct.pack(">I", 0x10000000))}.items():
            results = {}
            for side, io in sides.items():
                image = os.path.join(tmp, kind + ".qcow2")
                shutil.copy(base, image)
                poke(image, snapshot_table(image) + field, value)
                p = subprocess.run([io, "-c", "open -o overlap-check.inactive-l2=on " + image,
                                    "-c", "write 0 4k", "-c", "write 64k 4k"],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                lines = [line for line in p.stdout.replace(image, "IMAGE").splitlines()
                         if not line.startswith("qcow2: ")]
                results[side] = (p.returncode, "\n".join(lines))
                os.unlink(image)
            what = "snapshot L1 %s invalid" % kind
            checker.same(what + " (exit code)", results["qemu"][0], results["e2kvm"][0],
                         "qemu", "e2kvm")
            checker.same(what + " (output)", results["qemu"][1], results["e2kvm"][1],
                         "qemu", "e2kvm")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("a refused refcount block write fails the flush at close: as qemu-io")


if __name__ == "__main__":
    sys.exit(main())
