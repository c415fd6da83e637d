#!/usr/bin/env python3
"""Interop: qcow2 images with extended L2 entries (extended_l2=on, 32 subclusters a cluster).
The same sequence of writes, zero writes (with and without unmap), discards and compressed
writes, with and without a backing file, is run by qemu-io 7.2 on one image and by e2kvm-io on
another, both created by e2kvm-img: the L2 tables (entries and subcluster bitmaps) must be
byte for byte the same, the images must read the same, qemu-img check must find ours clean and
qemu-img map must agree. The other way round, an image qemu-img/qemu-io wrote is read, mapped
and checked by e2kvm-img/e2kvm-io as by qemu's tools; an internal snapshot and a convert of
such an image keep what it shows. Usage: qcow2_subclusters_interop.py E2KVM_IMG E2KVM_IO"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img", "qemu-io")

OURS_IMG = os.path.abspath(sys.argv[1])
OURS_IO = os.path.abspath(sys.argv[2])
checker = Checker()

L2_TABLE = 0x40000  # where the first L2 table of a fresh 64k-cluster image goes

# Requests in the style of iotest 271 (offsets in KiB; a subcluster is 2 KiB).
SEQUENCE = [
    "write -P 1 0 1k",
    "write -P 2 3k 512",
    "write -P 3 13k 4k",
    "write -P 4 63k 4k",
    "write -z 2k 2k",
    "write -z 70k 3k",
    "write -z -u 96k 64k",
    "write -P 5 129k 1k",
    "write -c -P 6 192k 64k",
    "write -z 200k 1k",
    "write -P 7 210k 512",
    "write -P 8 256k 192k",
    "write -z 287k 130k",
    "write -z -u 320k 32k",
    "discard 384k 64k",
    "write -P 9 385k 1k",
]


def l2_table(image):
    with open(image, "rb") as f:
        f.seek(L2_TABLE)
        return f.read(16 * 16).hex()


def make_image(tmp, name, backing, creator):
    image = os.path.join(tmp, name)
    args = ["create", "-q", "-f", "qcow2", "-o", "extended_l2=on"]
    if backing:
        args += ["-F", "raw", "-b", backing]
    run(creator, *args, image, "1M")
    return image


def forward(tmp, backing):
    """Our tools write; qemu's tools judge."""
    images = {}
    for tool, io in (("qemu", "qemu-io"), ("ours", OURS_IO)):
        image = make_image(tmp, tool + ".qcow2", backing, OURS_IMG)
        for request in SEQUENCE:
            run(io, "-f", "qcow2", "-c", request, image)
        images[tool] = image
    what = "backing" if backing else "no backing"
    checker.same("L2 entries and bitmaps (%s)" % what, l2_table(images["qemu"]),
                 l2_table(images["ours"]), "qemu-io", "e2kvm-io")
    checker.check(run("qemu-img", "compare", images["qemu"], images["ours"], ok=False).returncode
                  == 0, "contents of both images (%s)" % what)
    check = run("qemu-img", "check", images["ours"], ok=False)
    checker.check(check.returncode == 0, "qemu-img check of ours (%s): %s" % (what, check.stdout))
    checker.same("qemu-img map (%s)" % what,
                 run("qemu-img", "map", "--output=json", images["qemu"]).stdout,
                 run("qemu-img", "map", "--output=json", images["ours"]).stdout)
    # Reading back with qemu-io what our tools wrote.
    for request in ("read -P 1 0 1k", "read -P 0 2k 2k", "read -P 5 129k 1k",
                    "read -P 7 210k 512", "read -P 9 385k 1k", "read -P 0 320k 32k"):
        p = run("qemu-io", "-f", "qcow2", "-c", request, images["ours"], ok=False)
        checker.check("Pattern verification failed" not in p.stdout and p.returncode == 0,
                      "qemu-io %s on ours (%s)" % (request, what))


def backward(tmp, backing):
    """qemu's tools write; ours read, map and check."""
    what = "backing" if backing else "no backing"
    image = make_image(tmp, "theirs.qcow2", backing, "qemu-img")
    for request in SEQUENCE:
        run("qemu-io", "-f", "qcow2", "-c", request, image)
    checker.same("map of qemu's image (%s)" % what,
                 run("qemu-img", "map", "--output=json", image).stdout,
                 run(OURS_IMG, "map", "--output=json", image).stdout, "qemu-img", "e2kvm-img")
    raw_qemu = os.path.join(tmp, "theirs-qemu.raw")
    raw_ours = os.path.join(tmp, "theirs-ours.raw")
    run("qemu-img", "convert", "-O", "raw", image, raw_qemu)
    run(OURS_IMG, "convert", "-O", "raw", image, raw_ours)
    with open(raw_qemu, "rb") as a, open(raw_ours, "rb") as b:
        checker.check(a.read() == b.read(), "e2kvm-img convert of qemu's image (%s)" % what)
    check = run(OURS_IMG, "check", image, ok=False)
    checker.check(check.returncode == 0 and "No errors" in check.stdout,
                  "e2kvm-img check of qemu's image (%s): %s" % (what, check.stdout))
    info = run(OURS_IMG, "info", image).stdout
    checker.check("extended l2: true" in info, "e2kvm-img info shows extended l2 (%s)" % what)
    # A snapshot, then writes copying subclusters out of the shared clusters.
    run(OURS_IMG, "snapshot", "-c", "snap1", image)
    for request in ("write -P 10 30k 1k", "write -z 70k 2k", "write -P 11 260k 1k"):
        run(OURS_IO, "-f", "qcow2", "-c", request, image)
        run("qemu-io", "-f", "raw", "-c", request, raw_qemu)  # what the disk must show
    check = run("qemu-img", "check", image, ok=False)
    checker.check(check.returncode == 0, "qemu-img check after snapshot and writes (%s): %s" %
                  (what, check.stdout))
    checker.check(run("qemu-img", "compare", "-f", "qcow2", "-F", "raw", image, raw_qemu,
                      ok=False).returncode == 0, "contents after snapshot and writes (%s)" % what)


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-qcow2-subclusters-")
    try:
        base = os.path.join(tmp, "base.raw")
        run("qemu-img", "create", "-q", "-f", "raw", base, "1M")
        run("qemu-io", "-f", "raw", "-c", "write -P 0xff 0 1M", base)
        for backing in (base, None):
            forward(tmp, backing)
            backward(tmp, backing)
        # Refused as QEMU refuses them.
        image = os.path.join(tmp, "small.qcow2")
        p = run(OURS_IMG, "create", "-f", "qcow2", "-o", "extended_l2=on,cluster_size=8k", image,
                "1M", ok=False)
        checker.check(p.returncode != 0 and "cluster sizes of at least 16384 bytes" in p.stderr,
                      "8k clusters refused: " + p.stderr)
        image = make_image(tmp, "down.qcow2", None, OURS_IMG)
        p = run(OURS_IMG, "amend", "-o", "compat=0.10", image, ok=False)
        checker.check(p.returncode != 0 and
                      "Cannot downgrade an image with incompatible features 0x10 set" in p.stderr,
                      "downgrade refused: " + p.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("qcow2_subclusters_interop: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
