#!/usr/bin/env python3
"""Interop: what a qcow2 corruption leaves behind, as QEMU 7.2 leaves it (the scenarios of
iotest 060). A fatal corruption detaches the driver: a request held by a breakpoint and
resumed afterwards fails with "No medium found", as does the unaligned tail of a discard whose
freeing met an unaligned refcount block ("qcow2_free_clusters failed"); an L2 table the
allocator finds at offset 0 (a zeroed refcount block, a zeroed refcount table offset) is
refused before its refcount reaches the file. `check` meets an unaligned refcount block as
QEMU's driver does: reported ("Image is corrupt", or in a repair "Marking image as corrupt"),
the refcount fixes after it never reach the file, and the double check fails with "No
medium found"; a rebuilt structure over an old refcount block (one no reference counts) is
refused ("ERROR writing refblock"); the automatic repair of a dirty image on open fails the same way. A shrink that
cannot drop an unused refcount block fails with "Failed to discard unused refblocks". Both
programs run under the names qemu-img and qemu-io on copies of the same image; every step's
output and exit status must agree (qemu-io's prompts aside, which interleave with the output
differently; after a failed shrink, QEMU's image holds an L2 table its discard of the dropped
range allocated, which ours does not, so the image end offset check reports is left out
there).
Usage: qcow2_corruption_detach_interop.py E2KVM_IO E2KVM_IMG"""
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
checker = Checker()


def poke(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def be64(path, offset):
    with open(path, "rb") as f:
        f.seek(offset)
        return struct.unpack(">Q", f.read(8))[0]


def reftable(path):
    return be64(path, 48)


def l1_table(path):
    return be64(path, 40)


def create(path, *options, size="64M", writes=()):
    run("qemu-img", "create", "-q", "-f", "qcow2", *options, path, size)
    for command in writes:
        run("qemu-io", "-f", "qcow2", "-c", command, path)


# Each scenario: (name, setup(dir) -> image path, steps); a step is (program, args, stdin)
# with IMG standing for the image.
def empty_refblock(d):
    path = os.path.join(d, "t.qcow2")
    create(path)
    poke(path, be64(path, reftable(path)), bytes(8))
    return path


def empty_refblock_compressed(d):
    path = os.path.join(d, "t.qcow2")
    create(path, writes=["write 64k 64k"])
    poke(path, be64(path, reftable(path)), bytes(8))
    return path


def zero_reftable_offset(d):
    path = os.path.join(d, "t.qcow2")
    create(path)
    poke(path, 48, bytes(8))
    return path


def cow_in_flight(d):
    base = os.path.join(d, "t.qcow2.base")
    create(base, size="1G", writes=["write 0k 64k"])
    path = os.path.join(d, "t.qcow2")
    create(path, "-b", base, "-F", "qcow2", size="1G", writes=["write 0k 64k", "write 512M 64k"])
    l2 = be64(path, l1_table(path)) & 0x00fffffffffffe00
    refblock = be64(path, reftable(path))
    poke(path, l2, bytes(8))  # the first data cluster is free ...
    poke(path, refblock + 10, bytes(2))
    poke(path, refblock + 12, bytes(2))  # ... and so is the second L2 table
    return path


def dirty_unaligned_refblock(d):
    path = os.path.join(d, "t.qcow2")
    create(path)
    poke(path, reftable(path), struct.pack(">Q", 0xffff2a00))
    poke(path, 72, struct.pack(">Q", be64(path, 72) | 1))  # dirty
    return path


def unaligned_refblock(d):
    path = os.path.join(d, "t.qcow2")
    create(path, writes=["write 0 128k"])
    poke(path, reftable(path), struct.pack(">Q", 0x2a00))
    return path


def refblock_entry(value):
    def setup(d):
        path = os.path.join(d, "t.qcow2")
        create(path, writes=["write -P 1 0 1M"])
        poke(path, reftable(path), struct.pack(">Q", value))
        return path
    return setup


def uncovered_refblock(offset, *options):
    def setup(d):
        path = os.path.join(d, "t.qcow2")
        create(path, *options)
        poke(path, reftable(path) + 8, struct.pack(">Q", offset))
        return path
    return setup


def uncovered_and_unaligned_refblock(d):
    path = uncovered_refblock(0x1000000000, "-o", "refcount_bits=1")(d)
    poke(path, reftable(path) + 16, struct.pack(">Q", 0x200))
    return path


CHECK = ("img", ["check", "-r", "all", "IMG"], None)
SCENARIOS = [
    ("l2 table at offset 0 (empty refcount block)", empty_refblock,
     [("io", ["-c", "write 0 64k", "IMG"], None), CHECK]),
    ("compressed cluster at offset 0", empty_refblock_compressed,
     [("io", ["-c", "write -c 0k 64k", "IMG"], None), CHECK]),
    ("refcount table offset 0", zero_reftable_offset,
     [("io", ["-c", "write 0 64k", "IMG"], None)]),
    ("overlap while cow is in flight", cow_in_flight,
     [("io", [], "open -o file.driver=blkdebug IMG\nbreak cow_read 0\naio_write 0k 1k\n"
       "wait_break 0\nwrite 64k 64k\nresume 0\n")]),
    ("dirty image with an unaligned refcount block", dirty_unaligned_refblock,
     [("io", ["-c", "close", "IMG"], None), CHECK]),
    ("check of an unaligned refcount block", unaligned_refblock,
     [("img", ["check", "IMG"], None), ("img", ["check", "-q", "-r", "all", "IMG"], None),
      CHECK]),
    ("repair of an unaligned refcount block", unaligned_refblock,
     [("img", ["check", "-r", "all", "IMG"], None), CHECK]),
    ("rebuild over an unaligned refcount block", refblock_entry(0x20200),
     [CHECK, ("img", ["check", "IMG"], None)]),
    ("rebuild over a refcount block entry with reserved bits", refblock_entry(0x20001),
     [CHECK, ("img", ["check", "IMG"], None)]),
    ("discard with an unaligned refcount block", unaligned_refblock,
     [("io", ["-c", "discard 0 65537", "IMG"], None),
      ("img", ["check", "-q", "-r", "all", "IMG"], None), CHECK]),
    ("shrink over an out-of-bounds refcount block", uncovered_refblock(0xffffff00000000),
     [("img", ["resize", "--shrink", "IMG", "32M"], None), CHECK,
      ("img", ["resize", "--shrink", "IMG", "32M"], None)]),
    ("shrink over a non-covered refcount block",
     uncovered_refblock(0x1000000000, "-o", "refcount_bits=1"),
     [("img", ["resize", "--shrink", "IMG", "32M"], None), CHECK]),
    ("shrink over a refcount block covered by an unaligned one",
     uncovered_and_unaligned_refblock,
     [("img", ["resize", "--shrink", "IMG", "32M"], None),
      ("img", ["check", "-q", "-r", "all", "IMG"], None), CHECK]),
]


def masked(text, d):
    text = text.replace(d, "DIR").replace("qemu-io> ", "")
    return re.sub(r"\d+(\.\d+)? (bytes|KiB|MiB)/sec and [\d.]+ ops/sec", "RATE",
                  re.sub(r"\d\d:\d\d:\d\d\.\d\d", "TIME", re.sub(r"\d+\.\d+ sec", "TIME", text)))


def outcome(tool, programs, tmp, name, setup, steps):
    shrink = any(args[:1] == ["resize"] for _, args, _ in steps)
    d = os.path.join(tmp, tool, name.replace(" ", "_"))
    os.makedirs(d)
    path = setup(d)
    results = []
    for program, args, stdin in steps:
        argv = [a.replace("IMG", path) for a in args]
        p = run(programs[program], *argv, ok=False,
                stdin=stdin.replace("IMG", path) if stdin else None)
        text = masked(p.stdout + p.stderr, d)
        if shrink:
            text = re.sub(r"Image end offset: \d+", "Image end offset: N", text)
        results.append((program, args, p.returncode, text))
    return results


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-corruption-detach-")
    try:
        programs = {}
        for tool, img, io in (("qemu", shutil.which("qemu-img"), shutil.which("qemu-io")),
                              ("ours", OURS_IMG, OURS_IO)):
            bindir = os.path.join(tmp, tool + "-bin")
            os.makedirs(bindir)
            os.symlink(img, os.path.join(bindir, "qemu-img"))
            os.symlink(io, os.path.join(bindir, "qemu-io"))
            programs[tool] = {"img": os.path.join(bindir, "qemu-img"),
                              "io": os.path.join(bindir, "qemu-io")}
        for name, setup, steps in SCENARIOS:
            expected = outcome("qemu", programs["qemu"], tmp, name, setup, steps)
            actual = outcome("ours", programs["ours"], tmp, name, setup, steps)
            checker.same(name, expected, actual, "qemu", "e2kvm")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("qcow2_corruption_detach_interop: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
