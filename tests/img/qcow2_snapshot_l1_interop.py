#!/usr/bin/env python3
"""Interop: a qcow2 image whose snapshot names an invalid L1 table (unaligned offset, or a size
over QEMU's 32 MiB limit) opens as with qemu-img 7.2 (QEMU judges that table only when the
snapshot is used): info, convert -l, amend -o compat=0.10, snapshot -a, snapshot -d and check
say what qemu-img says, with the same exit codes, and qemu-io's write with
overlap-check.inactive-l2=on fails with the same errno. Also iotest 080's snapshot creation
over an L2 entry pointing far past any refcount block: qemu-img gives up with EAGAIN.
Each step runs on a fresh copy of the same damaged image under the names qemu-img/qemu-io.
Usage: qcow2_snapshot_l1_interop.py E2KVM_IMG E2KVM_IO"""
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

checker = Checker()
SNAPSHOTS_OFFSET = 64  # header field: offset of the snapshot table


def poke(path, offset, data):
    with open(path, "r+b") as f:
        f.seek(offset)
        f.write(data)


def snapshot_table(path):
    with open(path, "rb") as f:
        f.seek(SNAPSHOTS_OFFSET)
        return struct.unpack(">Q", f.read(8))[0]


def l2_table(path):
    with open(path, "rb") as f:
        f.seek(40)
        l1 = struct.unpack(">Q", f.read(8))[0]
        f.seek(l1)
        return struct.unpack(">Q", f.read(8))[0] & 0x00fffffffffffe00


def base_image(tmp):
    path = os.path.join(tmp, "base.qcow2")
    run(["qemu-img", "create", "-q", "-f", "qcow2", path, "64M"])
    run(["qemu-io", "-c", "write 0 512", path])
    run(["qemu-img", "snapshot", "-c", "test", path])
    return path


def damaged(base, tmp, kind):
    path = os.path.join(tmp, kind + ".qcow2")
    shutil.copy(base, path)
    table = snapshot_table(path)
    if kind == "offset":
        poke(path, table, struct.pack(">Q", 0x400200))
    else:
        poke(path, table + 8, struct.pack(">I", 0x10000000))
    return path


STEPS = [
    ("info", lambda img, io, p: [img, "info", "-f", "qcow2", p]),
    ("convert -l", lambda img, io, p: [img, "convert", "-l", "test", "-O", "raw", p, p + ".raw"]),
    ("amend compat=0.10", lambda img, io, p: [img, "amend", "-o", "compat=0.10", p]),
    ("write, overlap-check.inactive-l2=on",
     lambda img, io, p: [io, "-c", "open -o overlap-check.inactive-l2=on " + p,
                         "-c", "write 0 4k"]),
    ("snapshot -a", lambda img, io, p: [img, "snapshot", "-a", "test", p]),
    ("snapshot -d", lambda img, io, p: [img, "snapshot", "-d", "test", p]),
    ("check", lambda img, io, p: [img, "check", p]),
]


def outcome(argv, tmp, image):
    p = run(argv, ok=False, cwd=tmp)
    text = (p.stdout + p.stderr).replace(image, "IMAGE").replace(tmp, "TMP")
    # qemu-io's failed write: only the errno is compared (see the docstring).
    lines = [line for line in text.splitlines()
             if not line.startswith(("qemu-io: Failed to flush", "qcow2: "))]
    return p.returncode, "\n".join(lines)


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-snapl1-")
    try:
        base = base_image(tmp)
        sides = {"qemu": (shutil.which("qemu-img"), shutil.which("qemu-io"))}
        bindir = os.path.join(tmp, "ours")
        os.makedirs(bindir)
        os.symlink(os.path.abspath(sys.argv[1]), os.path.join(bindir, "qemu-img"))
        os.symlink(os.path.abspath(sys.argv[2]), os.path.join(bindir, "qemu-io"))
        sides["e2kvm"] = (os.path.join(bindir, "qemu-img"), os.path.join(bindir, "qemu-io"))
        for kind in ("offset", "size"):
            for name, argv in STEPS:
                results = {}
                for side, (img, io) in sides.items():
                    image = damaged(base, tmp, kind)
                    results[side] = outcome(argv(img, io, image), tmp, image)
                    for leftover in (image, image + ".raw"):
                        if os.path.exists(leftover):
                            os.unlink(leftover)
                what = "%s invalid: %s" % (kind, name)
                checker.same(what + " (exit code)", results["qemu"][0], results["e2kvm"][0],
                             "qemu", "e2kvm")
                if "write" in name:  # the errno only
                    results = {k: (v[0], re.sub(r"^(?!write failed).*$", "", v[1], flags=re.M)
                                   .strip()) for k, v in results.items()}
                checker.same(what + " (output)", results["qemu"][1], results["e2kvm"][1],
                             "qemu", "e2kvm")

        # An L2 entry naming a cluster far past every refcount block (iotest 080).
        results = {}
        for side, (img, io) in sides.items():
            image = os.path.join(tmp, "huge.qcow2")
            shutil.copy(base, image)
            poke(image, l2_table(image), b"\x80\x00\x00\xff\xff\xff\x00\x00")
            results[side] = outcome([img, "snapshot", "-c", "again", image], tmp, image)
            os.unlink(image)
        checker.same("snapshot -c over a huge offset", results["qemu"], results["e2kvm"],
                     "qemu", "e2kvm")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("snapshot L1 tables judged when used: as qemu-img / qemu-io")


sys.exit(main())
