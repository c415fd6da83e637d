#!/usr/bin/env python3
"""Interop: a downgrade (amend -o compat=0.10) that meets a misplaced L2 table or preallocated
zero cluster while turning zero clusters into data (iotest 060) marks the image corrupt with
QEMU's words and fails, e2kvm-img against qemu-img 7.2. Both run under the name qemu-img on
copies of the same damaged image; messages, exit status and the header afterwards must agree.
Usage: qcow2_amend_corrupt_interop.py E2KVM_IMG"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img", "qemu-io")

OURS_IMG = os.path.abspath(sys.argv[1])
QEMU_IMG = shutil.which("qemu-img")
checker = Checker()

# (what, file offset, bytes poked): the L1 entry (at 0x30000) or the first L2 entry (0x40000)
# of a 64M image with 64k written at 0.
CASES = [
    ("unaligned L2 table", 0x30000, bytes.fromhex("8000000000042a00")),
    ("unaligned zero cluster", 0x40000, bytes.fromhex("8000000000052a01")),
]


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-qcow2-amend-corrupt-")
    try:
        for what, offset, poke in CASES:
            results = {}
            for tool, program in (("qemu", QEMU_IMG), ("ours", OURS_IMG)):
                d = os.path.join(tmp, tool)
                os.makedirs(os.path.join(d, "bin"), exist_ok=True)
                prog = os.path.join(d, "bin", "qemu-img")
                if not os.path.exists(prog):
                    os.symlink(program, prog)
                image = os.path.join(d, "t.qcow2")
                run("qemu-img", "create", "-q", "-f", "qcow2", image, "64M")
                run("qemu-io", "-f", "qcow2", "-c", "write 0 64k", image)
                with open(image, "r+b") as f:
                    f.seek(offset)
                    f.write(poke)
                p = run(prog, "amend", "-o", "compat=0.10", image, ok=False)
                with open(image, "rb") as f:
                    header = f.read(104)
                results[tool] = (p.returncode, p.stdout, p.stderr.replace(d, "DIR"), header)
            checker.same(what, results["qemu"], results["ours"], "qemu-img", "e2kvm-img")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("qcow2_amend_corrupt_interop: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
