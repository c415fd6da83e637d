#!/usr/bin/env python3
"""Interop: the progress lines of `amend -p` (iotests 112, 061), e2kvm-img against qemu-img 7.2.
Changing the refcount width walks the refcount structures several times and reports each walk;
when the new structures need another allocation round the walk count grows and the progress
goes back (66.67% to 50.00% in iotest 112's image). A compat upgrade is a step of its own, a
downgrade counts the L1 entries it visits, a refused amendment still draws 100%. Both programs run on copies of the same images; their
stdout, exit status and the resulting refcount width must agree, and check must find the
results clean.
Usage: qcow2_amend_progress_interop.py E2KVM_IMG"""
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

# (create options, size, bytes written at 0, amend options)
CASES = [
    ("refcount_bits=1,cluster_size=512", "64k", 58 * 512, "refcount_bits=64"),
    ("refcount_bits=1,cluster_size=512", "64k", 58 * 512, "refcount_bits=16"),
    ("refcount_bits=16", "64M", 1 << 20, "refcount_bits=2"),
    ("compat=0.10", "1M", 300 * 1024, "compat=1.1,refcount_bits=8"),
    ("compat=0.10", "1M", 300 * 1024, "compat=1.1"),
    ("compat=0.10", "1M", 0, "lazy_refcounts=on"),
    ("compat=1.1", "4G", 0, "compat=0.10"),
    ("compat=1.1,cluster_size=4k", "64M", 8 << 20, "compat=0.10"),
]


def refcount_order(path):
    with open(path, "rb") as f:
        h = f.read(104)
    version = struct.unpack(">I", h[4:8])[0]
    return 4 if version < 3 else struct.unpack(">I", h[96:100])[0]


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-qcow2-amend-progress-")
    try:
        for create, size, written, amend in CASES:
            source = os.path.join(tmp, "source.qcow2")
            run("qemu-img", "create", "-q", "-f", "qcow2", "-o", create, source, size)
            if written:
                run("qemu-io", "-f", "qcow2", "-c", "write 0 %d" % written, source)
            results = {}
            for tool, program in (("qemu", QEMU_IMG), ("ours", OURS_IMG)):
                image = os.path.join(tmp, tool + ".qcow2")
                shutil.copyfile(source, image)
                p = run(program, "amend", "-p", "-o", amend, image, ok=False)
                clean = run("qemu-img", "check", image, ok=False).returncode == 0
                results[tool] = (p.returncode, p.stdout.split("\r"), refcount_order(image), clean)
            checker.same("amend -p -o %s on %s" % (amend, create), results["qemu"],
                         results["ours"], "qemu-img", "e2kvm-img")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("qcow2_amend_progress_interop: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
