#!/usr/bin/env python3
"""Interop: one write over normal and preallocated zero clusters that follow each other on the
host (iotest 066) is written in place as a single request, e2kvm-io against qemu-io 7.2. A
blkdebug filter fails every data write after the first, so a write split in pieces fails; the
map afterwards must show the original host offsets with no zero cluster left, as QEMU's does,
and check must find the image clean. Also a write that covers a zero cluster only in part.
Usage: qcow2_zero_alloc_reuse_interop.py E2KVM_IO"""
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img", "qemu-io")

OURS_IO = os.path.abspath(sys.argv[1])
QEMU_IO = shutil.which("qemu-io")
checker = Checker()

# (disk size, zeroed range, final write) with the whole disk written first.
CASES = [
    ("192k", "64k 64k", "0 192k"),
    ("256k", "64k 128k", "0 256k"),
    ("192k", "64k 64k", "0 160k"),
    ("192k", "64k 64k", "32k 160k"),
    ("192k", "128k 64k", "0 176k"),
    ("192k", "0 64k", "16k 128k"),
]


def blkdebug_json(image):
    return "json:" + json.dumps({
        "driver": "qcow2",
        "file": {
            "driver": "blkdebug",
            "image.filename": image,
            "set-state": [{"event": "write_aio", "new_state": 2}],
            "inject-error": [{"event": "write_aio", "state": 2}],
        },
    })


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-qcow2-zero-reuse-")
    try:
        for size, zeroed, final in CASES:
            results = {}
            for tool, program in (("qemu", QEMU_IO), ("ours", OURS_IO)):
                image = os.path.join(tmp, tool + ".qcow2")
                run("qemu-img", "create", "-q", "-f", "qcow2", image, size)
                run("qemu-io", "-f", "qcow2", "-c", "write -P 42 0 " + size, image)
                run("qemu-io", "-f", "qcow2", "-c", "write -z " + zeroed, image)
                p = run(program, "-c", "write -P 43 " + final, blkdebug_json(image), ok=False)
                failed = "failed" in p.stdout + p.stderr
                mapping = run("qemu-img", "map", "--output=json", image).stdout
                clean = run("qemu-img", "check", image, ok=False).returncode == 0
                results[tool] = (failed, mapping, clean)
            checker.same("write %s over zeroed %s of %s" % (final, zeroed, size),
                         results["qemu"], results["ours"], "qemu-io", "e2kvm-io")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("qcow2_zero_alloc_reuse_interop: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
