#!/usr/bin/env python3
"""Interop: a qcow2 image whose metadata is corrupt, written and read through e2kvm-io as
through qemu-io 7.2. A write that would land on metadata (the header, the L1 table, an L2 table,
a refcount block, a snapshot's L2 table with overlap-check=all) or an unaligned table entry is
refused with EIO, reported once as qemu-io reports it, and marks the image corrupt (incompatible
bit 1); the image then opens only read-only, later requests of the same session fail with
"No medium found", and `check -r all` clears the bit. Read-only, the same find is only
reported. The qcow2 runtime options (overlap-check, cache sizes, lazy-refcounts...) are
checked as QEMU checks them on open and reopen. Both programs run under the name
qemu-io on copies of the same damaged image; output, exit status and the header's
incompatible bits must agree.
Usage: qcow2_corruption_interop.py E2KVM_IO E2KVM_IMG"""
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
checker = Checker()


def masked(text):
    return re.sub(r"; [0-9:. ]+(sec )?\(.*\)", "; TIME", text)


def header(path):
    with open(path, "rb") as f:
        return f.read(112)


def be64(data, offset):
    return struct.unpack(">Q", data[offset:offset + 8])[0]


def poke(path, offset, value):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(struct.pack(">Q", value))


def l1_offset(path):
    return be64(header(path), 40)


def l2_offset(path):
    with open(path, "rb") as f:
        f.seek(l1_offset(path))
        return struct.unpack(">Q", f.read(8))[0] & 0x00fffffffffffe00


def refblock_offset(path):
    with open(path, "rb") as f:
        f.seek(be64(header(path), 48))
        return struct.unpack(">Q", f.read(8))[0]


def incompatible(path):
    return be64(header(path), 72)


def fresh(d, name, size="64M", data=None):
    path = os.path.join(d, name)
    run("qemu-img", "create", "-q", "-f", "qcow2", path, size)
    for command in data or []:
        run("qemu-io", "-f", "qcow2", "-c", command, path)
    return path


# Each scenario: damage(image) on a fresh image, then the qemu-io argument lists to run in turn.
def l2_onto_l1(path):
    poke(path, l1_offset(path), (1 << 63) | l1_offset(path))


def data_onto_refblock(path):
    poke(path, l2_offset(path), (1 << 63) | refblock_offset(path))


def unaligned_l1(path):
    poke(path, l1_offset(path), (1 << 63) | (l2_offset(path) + 0x2a00))


def unaligned_l2(path):
    with open(path, "rb") as f:
        f.seek(l2_offset(path))
        entry = struct.unpack(">Q", f.read(8))[0]
    poke(path, l2_offset(path), entry + 0x2a00)


def unaligned_refblock(path):
    with open(path, "rb") as f:
        reftable = be64(header(path), 48)
    poke(path, reftable, refblock_offset(path) + 0x2a00)


def data_onto_header(path):
    poke(path, l2_offset(path), 1 << 63)


def data_onto_inactive_l2(path):
    # After a snapshot, the snapshot keeps the first L2 table; the active one is a copy. Point
    # the active table's first entry at the snapshot's table.
    with open(path, "rb") as f:
        data = f.read()
    nb_snapshots = struct.unpack(">I", data[60:64])[0]
    assert nb_snapshots == 1
    snap_l1 = be64(data, be64(data, 64))
    inactive_l2 = be64(data, snap_l1) & 0x00fffffffffffe00
    poke(path, l2_offset(path), (1 << 63) | inactive_l2)


def rw(img, *cmds):
    return ["-c", "open -o overlap-check=all " + img, *sum((["-c", c] for c in cmds), [])]


SCENARIOS = [
    ("l2 table onto the l1 table", None, l2_onto_l1,
     lambda p: [rw(p, "write -P 0x2a 0 512"), rw(p, "read 0 512"), ["-r", "-c", "read 0 512", p]]),
    ("data cluster onto a refcount block", ["write -P 1 0 64k"], data_onto_refblock,
     lambda p: [["-c", "write -P 0x2a 0 512", "-c", "read 0 512", p]]),
    ("data cluster onto the header", ["write -P 1 0 64k"], data_onto_header,
     lambda p: [["-c", "write -P 0x2a 0 512", "-c", "write 64k 512", p]]),
    ("data cluster onto an inactive l2 table", ["write -P 1 0 512", "SNAPSHOT",
                                                "write -P 2 0 512"], data_onto_inactive_l2,
     lambda p: [["-c", "write -P 3 0 512", p], rw(p, "write -P 4 0 512")]),
    ("unaligned l1 entry", ["write -P 1 0 64k"], unaligned_l1,
     lambda p: [["-r", "-c", "read 0 512", "-c", "read 0 512", p], ["-c", "read 0 512", p],
                ["-c", "read 0 512", p]]),
    ("unaligned l2 entry", ["write -P 1 0 64k"], unaligned_l2,
     lambda p: [["-r", "-c", "read 0 512", p], ["-c", "read 0 512", p]]),
    # Freeing a cluster through an unaligned entry is reported (not fatal) and skipped.
    ("unaligned l2 entry freed", ["write -P 1 0 128k"], unaligned_l2,
     lambda p: [["-c", "discard 0 64k", "-c", "read -P 1 64k 64k", p], ["-c", "read 0 512", p]]),
    ("unaligned refcount table entry", [], unaligned_refblock,
     lambda p: [["-c", "write 0 64k", p], ["-r", "-c", "read 0 512", p]]),
    ("overlap-check options", ["write -P 1 0 64k"], data_onto_header,
     lambda p: [["-c", "open -o overlap-check=sometimes " + p],
                ["-c", "open -o overlap-check=all,overlap-check.template=none " + p],
                ["-c", "open -o overlap-check.main-header=maybe " + p],
                # With the header's check off, the write goes through (and ruins it), as QEMU.
                ["-c", "open -o overlap-check.main-header=off " + p, "-c", "read 0 512"]]),
    ("runtime options on open and reopen", ["write -P 1 0 64k"], lambda p: None,
     lambda p: [["-c", "reopen -o " + o, "-c", "read -P 1 0 64k", p] for o in (
         "lazy-refcounts=on,pass-discard-request=off", "overlap-check.template=constant",
         "overlap-check.inactive-l2=on", "cache-size=1M", "l2-cache-entry-size=4k",
         "refcount-cache-size=128k", "cache-clean-interval=0", "lazy-refcounts=42",
         "cache-size=1M,l2-cache-size=64k,refcount-cache-size=64k",
         "cache-size=1M,l2-cache-size=2M", "cache-size=1M,refcount-cache-size=2M",
         "l2-cache-entry-size=33k", "l2-cache-entry-size=128k", "refcount-cache-size=256T",
         "overlap-check=constant,overlap-check.template=all", "overlap-check.template=blubb",
         "cache-clean-interval=-1", "pass-discard-other=maybe")] +
     [["--image-opts", "-c", "read -P 1 0 64k",
       "driver=qcow2,file.filename=" + p + "," + o] for o in (
           "l2-cache-entry-size=1k", "l2-cache-entry-size=1000", "overlap-check=sometimes",
           "cache-size=64k,l2-cache-size=128k")]),
]


def prepare(d, name, setup, damage):
    path = fresh(d, name)
    for command in setup or []:
        if command == "SNAPSHOT":
            run("qemu-img", "snapshot", "-c", "foo", path)
        else:
            run("qemu-io", "-f", "qcow2", "-c", command, path)
    damage(path)
    return path


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-qcow2-corruption-")
    try:
        for i, (name, setup, damage, runs) in enumerate(SCENARIOS):
            outputs = {}
            for tool, program in (("qemu", QEMU_IO), ("ours", OURS_IO)):
                d = os.path.join(tmp, f"{i}-{tool}")
                os.makedirs(d)
                bindir = os.path.join(d, "bin")
                os.makedirs(bindir)
                os.symlink(program, os.path.join(bindir, "qemu-io"))
                image = prepare(d, "t.qcow2", setup, damage)
                lines = []
                for argv in runs(image):
                    p = run(os.path.join(bindir, "qemu-io"), *argv, ok=False)
                    lines.append((p.returncode, masked(p.stdout + p.stderr).replace(d, "DIR"),
                                  incompatible(image)))
                outputs[tool] = (lines, image)
            checker.same(name, outputs["qemu"][0], outputs["ours"][0], "qemu-io", "e2kvm-io")
        # A corrupt image that check -r all repairs opens read/write again (the bit is cleared).
        d = os.path.join(tmp, "repair")
        os.makedirs(d)
        image = prepare(d, "t.qcow2", ["write -P 1 0 64k"], data_onto_refblock)
        run(OURS_IO, "-c", "write -P 0x2a 0 512", image, ok=False)
        checker.check(incompatible(image) & 2, "the failed write marked the image corrupt")
        p = run(OURS_IMG, "check", "-r", "all", image, ok=False)
        checker.check(p.returncode == 0, f"check -r all: {p.stdout}{p.stderr}")
        checker.check(not incompatible(image) & 2, "check -r all cleared the corrupt bit")
        p = run(OURS_IO, "-c", "write -P 0x2a 0 512", "-c", "read -P 0x2a 0 512", image, ok=False)
        checker.check(p.returncode == 0 and "failed" not in p.stdout,
                      f"the repaired image takes writes: {p.stdout}{p.stderr}")
        p = run("qemu-img", "check", image, ok=False)
        checker.check(p.returncode == 0, f"qemu-img check after the repair: {p.stdout}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("qcow2_corruption_interop: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
