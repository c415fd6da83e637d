#!/usr/bin/env python3
"""Interop (d): writes, write-zeroes and discards to an overlay never change its backing file
(checksums before and after), and the overlay ends up with the same contents as when qemu-io
applies the same workload to an identical overlay.
usage: backing_unchanged_test.py E2KVM_IO"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from iotest import Failure, TempDir, main, run, sha256, workload  # noqa: E402

SIZE = 64 << 20
CLUSTER = 64 << 10


def body():
    e2kvm_io = sys.argv[1]
    with TempDir() as d:
        p = lambda n: os.path.join(d, n)  # noqa: E731
        for base_fmt in ("raw", "qcow2"):
            base = p("base." + base_fmt)
            run(["qemu-img", "create", "-q", "-f", base_fmt, base, str(SIZE)])
            run(["qemu-io", "-f", base_fmt, "-c", "write -P 0x5a 0 16M", "-c",
                 "write -P 0xa5 40M 8M", "-c", "write -z 44M 1M", base])
            before = sha256(base)
            mtime = os.stat(base).st_mtime_ns
            for who in ("ours", "qemu"):
                run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", base_fmt,
                     p(f"{who}-{base_fmt}.qcow2")])
            script = "\n".join(workload(7 + len(base_fmt), SIZE, CLUSTER, 300)) + "\n"
            run([e2kvm_io, "-f", "qcow2", "-d", "unmap", p(f"ours-{base_fmt}.qcow2")],
                input=script)
            run(["qemu-io", "-f", "qcow2", "-d", "unmap", p(f"qemu-{base_fmt}.qcow2")],
                input=script)
            if sha256(base) != before or os.stat(base).st_mtime_ns != mtime:
                raise Failure(f"backing file {base_fmt} changed by writes to the overlay")
            c = run(["qemu-img", "check", p(f"ours-{base_fmt}.qcow2")], check=False)
            if c.returncode != 0:
                raise Failure(f"qemu-img check on our overlay: exit {c.returncode}\n{c.stdout}")
            cmp = run(["qemu-img", "compare", p(f"ours-{base_fmt}.qcow2"),
                       p(f"qemu-{base_fmt}.qcow2")], check=False)
            if cmp.returncode != 0:
                raise Failure(f"overlay over {base_fmt} differs from QEMU's: {cmp.stdout}")
            print(f"ok: overlay over {base_fmt} backing, backing unchanged, contents identical")


if __name__ == "__main__":
    main(body)
