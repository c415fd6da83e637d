#!/usr/bin/env python3
"""Interop: two qcow2 corner cases QEMU's iotests 290 and 112 cover, run through qemu-img /
qemu-io and through e2kvm-img / e2kvm-io on fresh images, which must end byte for byte equal
with the same qemu-io output:
- discard on a compat=0.10 image (no zero clusters) with a backing file keeps the written data
  (freeing the clusters would show the backing file's data); without a backing file, or with
  compat=1.1, the discarded range reads as zeros;
- compressed writes to a refcount_bits=1 image: a host cluster holding one compressed cluster
  has the largest refcount there is, so the next compressed write takes a new host cluster
  instead of failing; and the refcount_bits values 112 tries are refused with QEMU's words.
Usage: qcow2_v2_discard_compress_interop.py E2KVM_IMG E2KVM_IO"""
import hashlib
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img", "qemu-io")

OURS = (os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2]))
QEMU = ("qemu-img", "qemu-io")
checker = Checker()


def speeds(text):
    return re.sub(r"; [0-9:. ]+sec \(.*\)", "", text)


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def discard_case(tools, tmp, compat, backing):
    img, io = tools
    base = os.path.join(tmp, "base.qcow2")
    top = os.path.join(tmp, "top.qcow2")
    for p in (base, top):
        if os.path.exists(p):
            os.unlink(p)
    opts = ["-o", f"compat={compat}"]
    if backing:
        run(img, "create", "-q", "-f", "qcow2", base, "128k")
        run(io, "-f", "qcow2", "-c", "write -P 0xff 0 128k", base)
        opts += ["-b", base, "-F", "qcow2"]
        run(img, "create", "-q", "-f", "qcow2", *opts, top)
    else:
        run(img, "create", "-q", "-f", "qcow2", *opts, top, "128k")
    out = run(io, "-f", "qcow2", "-c", "write -P 1 0 128k", "-c", "discard 0 128k",
              "-c", "read -P 1 0 128k", "-c", "read -P 0 0 128k", "-c", "map", top,
              ok=False)
    return (out.returncode, speeds(out.stdout), run("qemu-img", "map", top).stdout,
            run("qemu-img", "check", top, ok=False).stdout, digest(top))


def compressed_case(tools, tmp, refcount_bits):
    img, io = tools
    path = os.path.join(tmp, "c.qcow2")
    if os.path.exists(path):
        os.unlink(path)
    run(img, "create", "-q", "-f", "qcow2", "-o", f"refcount_bits={refcount_bits}", path, "64M")
    out = run(io, "-f", "qcow2", "-c", "write -P 0 -c 0 64k", "-c", "write -P 1 -c 64k 64k",
              "-c", "write -P 2 -c 128k 64k", "-c", "read -P 1 64k 64k",
              "-c", "read -P 2 128k 64k", path, ok=False)
    return (out.returncode, speeds(out.stdout), run("qemu-img", "check", path, ok=False).stdout,
            run("qemu-img", "map", "--output=json", path).stdout, digest(path))


def refcount_option_case(img, tmp, options):
    """qemu-img create -o OPTIONS: exit status, and output with the program's name cut off."""
    path = os.path.join(tmp, "o.qcow2")
    p = run(img, "create", "-f", "qcow2", "-o", options, path, "64M", ok=False, cwd=tmp)
    text = re.sub(r"^[a-z0-9-]+-img: ", "", p.stdout + p.stderr, flags=re.M)
    return p.returncode, text.replace(tmp, "DIR")


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-qcow2-cases-")
    try:
        for compat in ("0.10", "1.1"):
            for backing in (True, False):
                what = f"discard, compat={compat}, {'with' if backing else 'no'} backing file"
                checker.same(what, discard_case(QEMU, tmp, compat, backing),
                             discard_case(OURS, tmp, compat, backing), "qemu", "e2kvm")
        # iotest 112's refcount_bits limits: every value is a number to QEMU ("-1" wraps
        # around); bad widths and v2 images are refused by the qcow2 driver's own words.
        for options in ("refcount_bits=0", "refcount_bits=-1", "refcount_bits=128",
                        "refcount_bits=42", "refcount_bits=abc", "refcount_bits=4294967312",
                        "compat=0.10,refcount_bits=1", "compat=0.10,lazy_refcounts=on"):
            checker.same(f"create -o {options}", refcount_option_case("qemu-img", tmp, options),
                         refcount_option_case(OURS[0], tmp, options), "qemu", "e2kvm")
        for bits in (1, 2, 16):
            checker.same(f"compressed writes, refcount_bits={bits}",
                         compressed_case(QEMU, tmp, bits), compressed_case(OURS, tmp, bits),
                         "qemu", "e2kvm")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("qcow2 v2 discard and refcount_bits=1 compression: as QEMU")


sys.exit(main())
