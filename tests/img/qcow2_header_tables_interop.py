#!/usr/bin/env python3
"""Interop: qcow2 headers whose fields or tables are damaged, opened by e2kvm-io / e2kvm-img as
by qemu-io / qemu-img 7.2 (the cases of QEMU's iotests 080 and 261). A backing file offset past
the first cluster, a header extension that overruns its area, a refcount, snapshot or L1 table
too large or at an offset that is unaligned or not representable, a backing file name too long,
a snapshot table entry with more than 1024 bytes of extra data or a snapshot table over 64 MiB
are refused with QEMU's words (and its hint to check -r all); a snapshot table past the end of
the file reads as zeros. `check` and `check -r all` of a snapshot table entry with too much
extra data (which also reaches past the end of the file) report and repair as qemu-img does.
Both programs run under QEMU's names on copies of the same damaged image; exit status and
output must agree.
Usage: qcow2_header_tables_interop.py E2KVM_IO E2KVM_IMG"""
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


def poke(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def be32(v):
    return struct.pack(">I", v)


def be64(v):
    return struct.pack(">Q", v)


def field(path, offset, size):
    with open(path, "rb") as f:
        f.seek(offset)
        return int.from_bytes(f.read(size), "big")


# Each case: (name, list of (offset, bytes) pokes); the image is opened with "read 0 512".
HEADER_CASES = [
    ("backing file offset past the first cluster", [(8, be64(0xffffffffffffffff))]),
    ("extension header overruns the area before the backing name",
     [(8, be64(116)), (112, be32(0x12345678)), (116, be32(0x7fffffff))]),
    ("extension too large", [(112, be32(0x12345678)), (116, be32(0x7fffffff))]),
    ("refcount table too large", [(56, be32(0xffffffff))]),
    ("refcount table slightly too large", [(56, be32(0x00020001))]),
    ("refcount table unaligned", [(48, be64(0x1234567890abcdef))]),
    ("refcount table end past int64", [(48, be64(0xffffffffffff0000)), (56, be32(0x7f))]),
    ("too many snapshots", [(60, be32(0xffffffff))]),
    ("snapshot table end past int64", [(64, be64(0xffffffffffff0000)), (60, be32(0xffff))]),
    ("snapshot table unaligned without snapshots", [(64, be64(0x1234567890abcdef))]),
    ("snapshot table past the end of the file", [(64, be64(0x1000000)), (60, be32(2))]),
    ("L1 table too large", [(36, be32(0x7fffffff))]),
    ("L1 table end past int64", [(40, be64(0x7fffffffffff0000)), (36, be32(0xffff))]),
    ("L1 table unaligned", [(40, be64(0x1234567890abcdef)), (36, be32(1))]),
    ("L1 table too small", [(36, be32(0))]),
    ("backing file name too long", [(8, be64(0x1000)), (16, be32(0xffffffff))]),
]


def masked(text, d):
    text = re.sub(r"; [0-9:. ]+(sec )?\(.*\)", "; TIME", text)
    text = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", "DATE", text)
    return text.replace(d, "DIR")


def tools(d, tool):
    """A folder with the tool's programs under QEMU's names."""
    if tool == "ours":
        return peers.named_bin(d, {"qemu-io": OURS_IO, "qemu-img": OURS_IMG})
    return peers.named_bin(d, {"qemu-io": QEMU_IO, "qemu-img": QEMU_IMG})


def compare(name, prepare, commands, tmp, index):
    """Runs `commands` (argument lists, first element the program name) with both tools on
    copies of the image prepare(path) makes; outputs and exit statuses must agree."""
    outputs = {}
    for tool in ("qemu", "ours"):
        d = os.path.join(tmp, f"{index}-{tool}")
        os.makedirs(d)
        bindir = tools(d, tool)
        image = os.path.join(d, "t.qcow2")
        prepare(image)
        lines = []
        for argv in commands(image):
            p = run(os.path.join(bindir, argv[0]), *argv[1:], ok=False)
            lines.append((p.returncode, masked(p.stdout + p.stderr, d)))
        outputs[tool] = lines
    checker.same(name, outputs["qemu"], outputs["ours"], "qemu", "e2kvm")


def header_case(pokes):
    def prepare(path):
        run("qemu-img", "create", "-q", "-f", "qcow2", path, "64M")
        for offset, data in pokes:
            poke(path, offset, data)
    return prepare


def open_commands(image):
    return [["qemu-io", "-c", "read 0 512", image], ["qemu-img", "info", image]]


# A snapshot whose entry claims 64 KiB of extra data: the table then reaches past the end of
# the file. Opening refuses it with QEMU's hint; check reports it; check -r all drops the
# excess and rebuilds the refcounts.
def too_much_extra(path):
    run("qemu-img", "create", "-q", "-f", "qcow2", path, "64M")
    run("qemu-img", "snapshot", "-c", "snap", path)
    table = field(path, 64, 8)
    poke(path, table + 36, be32(65536))


def check_commands(image):
    return [["qemu-img", "info", image], ["qemu-img", "check", image],
            ["qemu-img", "check", "-r", "all", image], ["qemu-img", "snapshot", "-l", image]]


# The most snapshots an image may have, their (zero) entries past the end of the file: it
# opens, and creating one more fails with EFBIG.
def many_zero_snapshots(path):
    run("qemu-img", "create", "-q", "-f", "qcow2", path, "64M")
    poke(path, 64, be64(0x1000000))
    poke(path, 60, be32(0x10000))


def snapshot_create_commands(image):
    return [["qemu-img", "snapshot", "-c", "test", image], ["qemu-io", "-c", "read 0 512", image]]


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-qcow2-header-")
    try:
        index = 0
        for name, pokes in HEADER_CASES:
            compare(name, header_case(pokes), open_commands, tmp, index)
            index += 1
        compare("too much extra data in a snapshot table entry", too_much_extra, check_commands,
                tmp, index)
        index += 1
        compare("65536 snapshots past the end of the file", many_zero_snapshots,
                snapshot_create_commands, tmp, index)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("qcow2_header_tables_interop: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
