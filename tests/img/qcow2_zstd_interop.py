#!/usr/bin/env python3
"""Interop: qcow2 images with compression_type=zstd, made and read by qemu-img / qemu-io and
by e2kvm-img / e2kvm-io:
- create gives the same header bytes, and refuses compat=0.10 and unknown types in QEMU's words;
- compressed writes of single clusters give byte-identical images;
- each side reads what the other compressed (qemu-io read -P, qemu-img compare), and
  qemu-img check finds nothing wrong in what we wrote;
- a damaged compressed cluster is an I/O error to both, not garbage data;
- info names the compression type, and amend's refusals match.
Usage: qcow2_zstd_interop.py E2KVM_IMG E2KVM_IO"""
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
from file_digest import sha256 as digest  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img", "qemu-io")

OURS = (os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]))
QEMU = ("qemu-img", "qemu-io")
checker = Checker()


def clean(text, tmp):
    text = re.sub(r"; [0-9:. ]+sec \(.*\)", "", text)
    text = re.sub(r"^[a-z0-9-]+-(img|io): ", "", text, flags=re.M)
    return text.replace(tmp, "DIR")


def fresh(img, path, options="compression_type=zstd", size="1M"):
    if os.path.exists(path):
        os.unlink(path)
    return run(img, "create", "-q", "-f", "qcow2", "-o", options, path, size, ok=False)


def create_case(img, tmp, options):
    path = os.path.join(tmp, "c.qcow2")
    p = fresh(img, path, options)
    return p.returncode, clean(p.stdout + p.stderr, tmp), \
        digest(path) if p.returncode == 0 else None


def write_case(tools, tmp):
    img, io = tools
    path = os.path.join(tmp, "w.qcow2")
    fresh(img, path)
    out = run(io, "-c", "write -c -P 5 0 64k", "-c", "write -c -P 0x41 64k 64k",
              "-c", "write -c -P 0x41 1000k 24k", path, ok=False)
    return out.returncode, clean(out.stdout, tmp), digest(path)


def cross_read(writer, reader, tmp, source):
    """writer compresses `source` (convert -c) and single clusters (io write -c); the reader
    must see the same data, and qemu-img check must be clean."""
    path = os.path.join(tmp, "x.qcow2")
    if os.path.exists(path):
        os.unlink(path)
    run(writer[0], "convert", "-c", "-O", "qcow2", "-o", "compression_type=zstd", source, path)
    compare = run(reader[0], "compare", "-f", "raw", "-F", "qcow2", source, path, ok=False)
    # Into the zero tail, which convert left unallocated.
    run(writer[1], "-c", "write -c -P 0x77 3584k 64k", path)
    read = run(reader[1], "-c", "read -P 0x77 3584k 64k", "-c", "read 0 1M", path, ok=False)
    check = run("qemu-img", "check", path, ok=False)
    return compare.returncode, read.returncode, "failed" in read.stdout + read.stderr, \
        check.returncode


def damaged_case(io, tmp):
    path = os.path.join(tmp, "d.qcow2")
    fresh("qemu-img", path)
    run("qemu-io", "-c", "write -c -P 9 0 64k", path)
    m = run("qemu-img", "map", "--output=json", path).stdout
    assert '"data": true' in m, m
    size = os.path.getsize(path)
    with open(path, "r+b") as f:
        # The compressed data is the last thing in the file: scribble over it.
        f.seek(size - 200)
        f.write(b"\xde\xad\xbe\xef" * 50)
    p = run(io, "-c", "read -P 9 0 64k", path, ok=False)
    # stdout as qemu-io's; e2kvm-io also says on stderr which cluster is damaged.
    return p.returncode, clean(p.stdout, tmp)


def info_case(img, tmp):
    path = os.path.join(tmp, "i.qcow2")
    fresh("qemu-img", path)
    text = run(img, "info", path).stdout
    return [line for line in text.splitlines() if "compression" in line or "compat" in line]


def amend_case(img, tmp, options, image_options):
    path = os.path.join(tmp, "a.qcow2")
    fresh("qemu-img", path, image_options)
    run("qemu-io", "-c", "write -c -P 3 0 64k", path)
    p = run(img, "amend", "-o", options, path, ok=False)
    return p.returncode, clean(p.stdout + p.stderr, tmp), digest(path)


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-zstd-")
    try:
        for options in ("compression_type=zstd", "compression_type=zlib",
                        "compat=0.10,compression_type=zstd", "compression_type=lz4",
                        "compression_type=zstd,cluster_size=4096"):
            checker.same(f"create -o {options}", create_case("qemu-img", tmp, options),
                         create_case(OURS[0], tmp, options), "qemu", "e2kvm")
        checker.same("compressed single-cluster writes", write_case(QEMU, tmp),
                     write_case(OURS, tmp), "qemu", "e2kvm")
        source = os.path.join(tmp, "src.raw")
        with open(source, "wb") as f:
            f.write(os.urandom(1 << 20))
            f.write(b"compressible text " * ((2 << 20) // 18))
        size = os.path.getsize(source)
        with open(source, "ab") as f:
            f.write(b"\0" * ((4 << 20) - size))
        checker.same("e2kvm writes, qemu reads", (0, 0, False, 0),
                     cross_read(OURS, QEMU, tmp, source), "expected", "e2kvm")
        checker.same("qemu writes, e2kvm reads", (0, 0, False, 0),
                     cross_read(QEMU, OURS, tmp, source), "expected", "e2kvm")
        checker.same("damaged compressed cluster", damaged_case("qemu-io", tmp),
                     damaged_case(OURS[1], tmp), "qemu", "e2kvm")
        checker.same("info", info_case("qemu-img", tmp), info_case(OURS[0], tmp), "qemu", "e2kvm")
        for options, image in (("compat=0.10", "compression_type=zstd"),
                               ("compression_type=zlib", "compression_type=zstd"),
                               ("compression_type=zstd", "compression_type=zlib")):
            checker.same(f"amend -o {options} of {image}", amend_case("qemu-img", tmp, options, image),
                         amend_case(OURS[0], tmp, options, image), "qemu", "e2kvm")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("qcow2 compression_type=zstd: as QEMU")


sys.exit(main())
