#!/usr/bin/env python3
"""Interop (b): images made by QEMU (backing chains, compressed clusters, zero clusters,
512 B and 2 MiB clusters, preallocation=metadata/full, compat=0.10) read by e2kvm-io exactly as
QEMU reads them: `read -P` on known ranges, a full content comparison against
`qemu-img convert -O raw`, and the same `map` as qemu-io.
usage: qemu_images_test.py E2KVM_IO"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from iotest import Failure, TempDir, main, run  # noqa: E402

E2KVM_IO = ""


def qemu_io(path, fmt, *cmds):
    argv = ["qemu-io", "-f", fmt]
    for c in cmds:
        argv += ["-c", c]
    run(argv + [path])


def create(path, fmt, size, *opts, backing=None, backing_fmt=None):
    argv = ["qemu-img", "create", "-q", "-f", fmt]
    if backing:
        argv += ["-b", backing, "-F", backing_fmt]
    for o in opts:
        argv += ["-o", o]
    run(argv + [path] + ([size] if size else []))


def check_image(d, name, path, fmt, patterns):
    """patterns: list of (pattern byte, offset, length) that must read back."""
    cmds = []
    for pat, off, length in patterns:
        cmds += ["-c", f"read -q -P {pat} {off} {length}"]
    p = run([E2KVM_IO, "-r", "-f", fmt] + cmds + [path], check=False)
    if p.returncode != 0 or p.stdout.strip():
        raise Failure(f"{name}: pattern reads failed (exit {p.returncode}):\n{p.stdout}{p.stderr}")
    dump, ref = os.path.join(d, name + ".dump"), os.path.join(d, name + ".ref")
    run([E2KVM_IO, "-r", "-f", fmt, "-c", f"dump {dump}", path])
    run(["qemu-img", "convert", "-f", fmt, "-O", "raw", path, ref])
    if run(["cmp", dump, ref], check=False).returncode != 0:
        raise Failure(f"{name}: full read differs from qemu-img convert -O raw "
                      f"({run(['cmp', dump, ref], check=False).stdout.strip()})")
    ours = run([E2KVM_IO, "-r", "-f", fmt, "-c", "map", path]).stdout
    theirs = run(["qemu-io", "-r", "-f", fmt, "-c", "map", path]).stdout
    if ours != theirs:
        raise Failure(f"{name}: map differs\n--- e2kvm-io\n{ours}--- qemu-io\n{theirs}")
    os.unlink(dump)
    os.unlink(ref)
    print(f"ok: {name}")


def body():
    global E2KVM_IO
    E2KVM_IO = sys.argv[1]
    with TempDir() as d:
        p = lambda n: os.path.join(d, n)  # noqa: E731

        # Backing chain raw <- qcow2 <- qcow2, with zero clusters and partial overwrites.
        create(p("base.raw"), "raw", "8M")
        qemu_io(p("base.raw"), "raw", "write -P 0x11 0 8M")
        create(p("mid.qcow2"), "qcow2", None, backing="base.raw", backing_fmt="raw")
        qemu_io(p("mid.qcow2"), "qcow2", "write -P 0x22 1M 1M", "write -z 3M 64k",
                "write -P 0x23 5000 3000")
        create(p("top.qcow2"), "qcow2", None, backing="mid.qcow2", backing_fmt="qcow2")
        qemu_io(p("top.qcow2"), "qcow2", "write -P 0x33 1536k 64k", "write -z 6M 128k",
                "write -P 0x34 7M 10")
        check_image(d, "chain", p("top.qcow2"), "qcow2", [
            (0x11, 0, 4096), (0x23, 5000, 3000), (0x22, 1 << 20, 512 << 10),
            (0x33, 1536 << 10, 64 << 10), (0, 3 << 20, 64 << 10), (0, 6 << 20, 128 << 10),
            (0x34, 7 << 20, 10), (0x11, (7 << 20) + 10, 100)])

        # Compressed clusters from qemu-img convert -c (plus an all-zero and a random area).
        create(p("src.raw"), "raw", "4M")
        qemu_io(p("src.raw"), "raw", "write -P 0x41 0 1M", "write -P 0x42 1M 3000",
                "write -P 0x43 3M 1M")
        with open(p("src.raw"), "r+b") as f:
            f.seek(2 << 20)
            f.write(os.urandom(300000))
        run(["qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", p("src.raw"),
             p("comp.qcow2")])
        check_image(d, "compressed", p("comp.qcow2"), "qcow2",
                    [(0x41, 0, 1 << 20), (0x42, 1 << 20, 3000), (0x43, 3 << 20, 1 << 20)])
        run(["qemu-img", "convert", "-c", "-f", "raw", "-O", "qcow2", "-o", "cluster_size=4k",
             p("src.raw"), p("comp4k.qcow2")])
        check_image(d, "compressed-4k", p("comp4k.qcow2"), "qcow2", [(0x43, 3 << 20, 1 << 20)])

        # Small and large clusters, zero clusters with and without unmap.
        for cs, name in ((512, "c512"), (2 << 20, "c2m")):
            create(p(name + ".qcow2"), "qcow2", "20M", f"cluster_size={cs}")
            qemu_io(p(name + ".qcow2"), "qcow2", "write -P 0x51 0 5M", "write -z 1M 1M",
                    "write -z -u 2M 2M", "write -P 0x52 9M 777", "write -P 0x53 19M 1M")
            check_image(d, name, p(name + ".qcow2"), "qcow2", [
                (0x51, 0, 1 << 20), (0, 1 << 20, 3 << 20), (0x51, 4 << 20, 1 << 20),
                (0x52, 9 << 20, 777), (0x53, 19 << 20, 1 << 20)])

        # Preallocation and the old format version.
        for opt, name in (("preallocation=metadata", "prealloc-meta"),
                          ("preallocation=full", "prealloc-full"),
                          ("compat=0.10", "compat010")):
            create(p(name + ".qcow2"), "qcow2", "16M", opt)
            qemu_io(p(name + ".qcow2"), "qcow2", "write -P 0x61 64k 100k",
                    "write -z 2M 64k")
            check_image(d, name, p(name + ".qcow2"), "qcow2",
                        [(0, 0, 64 << 10), (0x61, 64 << 10, 100 << 10), (0, 2 << 20, 64 << 10)])


if __name__ == "__main__":
    main(body)
