#!/usr/bin/env python3
"""Interop: e2kvm-nbd's --discard and --detect-zeroes do what qemu-nbd's do. The same qemu-io
requests (TRIM, zero writes with and without may-unmap, a data write of zeros) go through
qemu-nbd and e2kvm-nbd serving copies of one image, raw and qcow2, with each mode; afterwards
`qemu-img map --output=json` of the image and its contents must be the same. Also the errors
for bad modes. Usage: nbd_discard_interop.py E2KVM_NBD"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
from peers import require  # noqa: E402
from processes import ServerProcess  # noqa: E402

E2KVM_NBD = os.path.abspath(sys.argv[1])
REQUESTS = ["discard 0 512k", "write -z -u 512k 256k", "write -z 1M 64k",
            "write -P 0 1536k 128k", "discard 3M 1M"]
MODES = [[], ["--discard=unmap"], ["--detect-zeroes=on"],
         ["--discard=unmap", "--detect-zeroes=unmap"], ["--discard=on", "--detect-zeroes=on"]]


def after_requests(tmp, server, fmt, mode):
    """Runs REQUESTS through `server` on a fresh image; returns (map json, image bytes)."""
    img = os.path.join(tmp, "disk." + fmt)
    if os.path.exists(img):
        os.unlink(img)
    run("qemu-img", "create", "-q", "-f", fmt, img, "4M")
    run("qemu-io", "-f", fmt, "-c", "write -P 0x55 0 4M", img)
    sock = os.path.join(tmp, "s.sock")
    with ServerProcess([server, "-f", fmt, "-t", "-k", sock, *mode, img], unix_socket=sock):
        argv = ["qemu-io", "-f", "raw"]
        for r in REQUESTS:
            argv += ["-c", r]
        run(*argv, "nbd+unix:///?socket=" + sock)
    layout = run("qemu-img", "map", "--output=json", "-f", fmt, img).stdout
    run("qemu-img", "convert", "-f", fmt, "-O", "raw", img, img + ".raw")
    with open(img + ".raw", "rb") as f:
        contents = f.read()
    return layout, contents


def main():
    require("qemu-img", "qemu-io", "qemu-nbd")
    checker = Checker(sys.stderr)
    tmp = tempfile.mkdtemp(prefix="e2kvm-nbd-discard-")
    try:
        for fmt in ("raw", "qcow2"):
            for mode in MODES:
                label = "%s %s" % (fmt, " ".join(mode) or "(defaults)")
                theirs = after_requests(tmp, "qemu-nbd", fmt, mode)
                ours = after_requests(tmp, E2KVM_NBD, fmt, mode)
                checker.same(label + ": qemu-img map", theirs[0], ours[0], "qemu-nbd",
                             "e2kvm-nbd")
                checker.check(theirs[1] == ours[1], label + ": image contents differ")
        img = os.path.join(tmp, "x.raw")
        run("qemu-img", "create", "-q", "-f", "raw", img, "1M")
        for args, message in [
                (["--discard=bogus"], "Invalid discard mode `bogus'"),
                (["--detect-zeroes=bogus"],
                 "Failed to parse detect_zeroes mode: invalid parameter value: bogus"),
                (["--detect-zeroes=unmap"], "setting detect-zeroes to unmap is not allowed "
                 "without setting discard operation to unmap")]:
            p = run(E2KVM_NBD, *args, img, ok=False)
            checker.check(p.returncode != 0 and message in p.stderr,
                          "%s: %r" % (" ".join(args), p.stderr))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("nbd discard/detect-zeroes: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
