#!/usr/bin/env python3
"""Interop: a refcount table entry pointing past the end of the file. e2kvm-img check reports
it exactly as qemu-img check does (the block reads as zeros: every cluster it counts has
refcount 0, OFLAG_COPIED mismatches), with exit code 2; check -r all grows the file to hold
the block, as QEMU does, repairs the image (qemu-img check calls it clean, the data reads the
same) and exits 0; where nothing else is wrong the grown block counts as repaired (iotest 108).
Usage: check_outside_refblock_interop.py E2KVM_IMG"""
import os
import shutil
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img", "qemu-io")

OURS = os.path.abspath(sys.argv[1])
checker = Checker()


def otherwise_clean(tmp):
    """iotest 108: the only fault is a second refcount block past the end, itself counted in
    the first: growing the file repairs it, reported (and exit code) as qemu-img's."""
    image = os.path.join(tmp, "clean.qcow2")
    run("qemu-img", "create", "-q", "-f", "qcow2", image, "64M")
    with open(image, "r+b") as f:
        f.seek(0x10008)
        f.write(struct.pack(">Q", 0x100000))
        f.seek(0x20020)  # the first block gives cluster 16 (0x100000) refcount 1
        f.write(struct.pack(">H", 1))
    results = {}
    for tool, img in (("qemu", "qemu-img"), ("ours", OURS)):
        path = os.path.join(tmp, tool + "-clean.qcow2")
        shutil.copyfile(image, path)
        p = run(img, "check", "-r", "all", path, ok=False)
        results[tool] = (p.returncode, p.stdout, p.stderr, os.path.getsize(path))
    checker.same("check -r all of an otherwise clean image", results["qemu"], results["ours"],
                 "qemu-img", "e2kvm-img")


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-outside-refblock-")
    try:
        image = os.path.join(tmp, "base.qcow2")
        run("qemu-img", "create", "-q", "-f", "qcow2", image, "1M")
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x3c 0 64k", image)
        data = bytearray(open(image, "rb").read())
        reftable = struct.unpack(">Q", data[48:56])[0]
        data[reftable:reftable + 8] = struct.pack(">Q", 0x100000)  # past the end
        open(image, "wb").write(data)
        results = {}
        for tool, img in (("qemu", "qemu-img"), ("ours", OURS)):
            path = os.path.join(tmp, tool + ".qcow2")
            shutil.copyfile(image, path)
            p = run(img, "check", path, ok=False)
            results[tool] = (p.returncode, p.stdout, p.stderr.replace(img, "IMG"))
            p = run(img, "check", "-r", "all", path, ok=False)
            checker.check(p.returncode == 0, f"{tool}: check -r all: {p.stdout}{p.stderr}")
            p = run("qemu-img", "check", path, ok=False)
            checker.check(p.returncode == 0, f"{tool}: not clean after repair: {p.stdout}")
            p = run("qemu-io", "-f", "qcow2", "-c", "read -P 0x3c 0 64k", path, ok=False)
            checker.check("verification failed" not in p.stdout and p.returncode == 0,
                          f"{tool}: data after repair: {p.stdout}")
        checker.same("check", results["qemu"], results["ours"], "qemu-img", "e2kvm-img")
        otherwise_clean(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("check_outside_refblock_interop: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
