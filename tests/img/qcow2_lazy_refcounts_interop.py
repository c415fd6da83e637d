#!/usr/bin/env python3
"""Interop: qcow2 lazy refcounts (iotest 039), e2kvm-io / e2kvm-img against qemu-io / qemu-img
7.2. With lazy_refcounts=on (from the image or the lazy-refcounts runtime option) a write sets
the dirty bit (incompatible bit 0) and holds back the refcount of new data clusters; a process
killed then leaves the bit and a refcount check finds the data cluster unaccounted, while a
clean exit writes the refcounts and clears the bit. A dirty image still opens read-only (the
bit stays); opening it read/write repairs it first, printing QEMU's findings. Both programs run
under QEMU's names on the same sequence; outputs, exit statuses, the dirty bit and (after a
clean close) the image bytes must agree.
Usage: qcow2_lazy_refcounts_interop.py E2KVM_IO E2KVM_IMG"""
import os
import re
import shutil
import struct
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img", "qemu-io")

OURS_IO = os.path.abspath(sys.argv[1])
OURS_IMG = os.path.abspath(sys.argv[2])
QEMU_IO = shutil.which("qemu-io")
QEMU_IMG = shutil.which("qemu-img")
checker = Checker()


def incompatible(path):
    with open(path, "rb") as f:
        f.seek(72)
        return struct.unpack(">Q", f.read(8))[0]


def masked(text, d):
    text = re.sub(r"; [0-9:. ]+(sec )?\(.*\)", "; TIME", text)
    return text.replace(d, "DIR")


def tools(d, tool):
    """A folder with the tool's programs under QEMU's names."""
    if tool == "ours":
        return peers.named_bin(d, {"qemu-io": OURS_IO, "qemu-img": OURS_IMG})
    return peers.named_bin(d, {"qemu-io": QEMU_IO, "qemu-img": QEMU_IMG})


KILL = "sigraise 9"

# Each scenario: create options, then steps (argument lists after the program name; IMG is
# the image). After every step the exit status, output and dirty bit are recorded.
SCENARIOS = [
    ("clean exit clears the bit", "compat=1.1,lazy_refcounts=on", [
        ["qemu-io", "-c", "write -P 0x5a 0 512", "IMG"],
        ["qemu-img", "check", "IMG"],
    ]),
    ("killed after a write: dirty; read-only open; check; check -r all", "lazy_refcounts=on", [
        ["qemu-io", "-c", "write -P 0x5a 0 512", "-c", KILL, "IMG"],
        ["qemu-img", "check", "IMG"],
        ["qemu-io", "-r", "-c", "read -P 0x5a 0 512", "IMG"],
        ["qemu-img", "check", "-r", "all", "IMG"],
        ["qemu-io", "-c", "read -P 0x5a 0 512", "IMG"],
    ]),
    ("a dirty image opened read/write is repaired", "lazy_refcounts=on", [
        ["qemu-io", "-c", "write -P 0x5a 0 64k", "-c", "write -P 0x5b 1M 512", "-c", KILL, "IMG"],
        ["qemu-io", "-c", "write 0 512", "-c", "read -P 0x5b 1M 512", "IMG"],
        ["qemu-img", "check", "IMG"],
    ]),
    ("lazy_refcounts=off leaves no dirty bit", "lazy_refcounts=off", [
        ["qemu-io", "-c", "write -P 0x5a 0 512", "-c", KILL, "IMG"],
        ["qemu-img", "check", "IMG"],
    ]),
    ("turned on at runtime", "lazy_refcounts=off", [
        ["qemu-io", "-c", "reopen -o lazy-refcounts=on", "-c", "write -P 0x5a 0 512", "-c", KILL,
         "IMG"],
        ["qemu-img", "check", "IMG"],
    ]),
    ("turned off at runtime", "lazy_refcounts=on", [
        ["qemu-io", "-c", "reopen -o lazy-refcounts=off", "-c", "write -P 0x5a 0 512", "-c",
         KILL, "IMG"],
        ["qemu-img", "check", "IMG"],
    ]),
    ("turned off at runtime after writes", "lazy_refcounts=on", [
        ["qemu-io", "-c", "write -P 0x5a 0 512", "-c", "reopen -o lazy-refcounts=off", "-c",
         KILL, "IMG"],
        ["qemu-img", "check", "IMG"],
    ]),
]


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-qcow2-lazy-")
    try:
        for index, (name, options, steps) in enumerate(SCENARIOS):
            outputs = {}
            images = {}
            for tool in ("qemu", "ours"):
                d = os.path.join(tmp, f"{index}-{tool}")
                os.makedirs(d)
                bindir = tools(d, tool)
                image = os.path.join(d, "t.qcow2")
                run("qemu-img", "create", "-q", "-f", "qcow2", "-o", options, image, "128M")
                lines = []
                for step in steps:
                    argv = [image if a == "IMG" else a for a in step]
                    p = run(os.path.join(bindir, argv[0]), *argv[1:], ok=False)
                    lines.append((p.returncode, masked(p.stdout + p.stderr, d),
                                  incompatible(image)))
                outputs[tool] = lines
                images[tool] = image
            checker.same(name, outputs["qemu"], outputs["ours"], "qemu", "e2kvm")
        # After a clean close the refcounts on disk are QEMU's, byte for byte.
        for tool in ("qemu", "ours"):
            d = os.path.join(tmp, f"bytes-{tool}")
            os.makedirs(d)
            bindir = tools(d, tool)
            image = os.path.join(d, "t.qcow2")
            run("qemu-img", "create", "-q", "-f", "qcow2", "-o", "lazy_refcounts=on", image, "16M")
            run(os.path.join(bindir, "qemu-io"), "-c", "write -P 1 0 200k", "-c",
                "write -P 2 5M 64k", "-c", "discard 0 64k", image)
            images[tool] = image
        with open(images["qemu"], "rb") as a, open(images["ours"], "rb") as b:
            checker.check(a.read() == b.read(), "the images after a clean close are identical")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("qcow2_lazy_refcounts_interop: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
