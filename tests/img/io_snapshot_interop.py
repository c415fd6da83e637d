#!/usr/bin/env python3
"""Interop: e2kvm-io -s (snapshot mode) as qemu-io -s: writes land in a temporary overlay, read
back within the run, and leave the image (raw, qcow2, qcow2 over a backing file) byte for byte
as it was, with no file left behind in TMPDIR; the output is qemu-io's.
Usage: io_snapshot_interop.py E2KVM_IO"""
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

E2KVM_IO = os.path.abspath(sys.argv[1])
checker = Checker()
COMMANDS = ["-c", "read -P 0x5 0 64k", "-c", "write -P 0xa 0 1M", "-c", "read -P 0xa 0 1M",
            "-c", "write -z 64k 64k", "-c", "read -P 0 64k 64k", "-c", "map"]


def speeds(text):
    return re.sub(r"; [0-9:. ]+sec \(.*\)", "", text)


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-io-snapshot-")
    scratch = os.path.join(tmp, "tmpdir")
    os.mkdir(scratch)
    env = dict(os.environ, TMPDIR=scratch)
    try:
        base = os.path.join(tmp, "base.qcow2")
        run("qemu-img", "create", "-q", "-f", "qcow2", base, "2M")
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x5 0 128k", base)
        images = []
        for fmt in ("raw", "qcow2"):
            path = os.path.join(tmp, "t." + fmt)
            run("qemu-img", "create", "-q", "-f", fmt, path, "2M")
            run("qemu-io", "-f", fmt, "-c", "write -P 0x5 0 128k", path)
            images.append((fmt, path))
        top = os.path.join(tmp, "top.qcow2")
        run("qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top)
        images.append(("qcow2", top))
        for fmt, path in images:
            before = digest(path)
            q = run(["qemu-io", "-s", "-f", fmt] + COMMANDS + [path], ok=False, env=env)
            o = run([E2KVM_IO, "-s", "-f", fmt] + COMMANDS + [path], ok=False, env=env)
            what = f"-s on {os.path.basename(path)}"
            checker.same(what, (q.returncode, speeds(q.stdout)), (o.returncode, speeds(o.stdout)),
                         "qemu", "e2kvm")
            checker.check(digest(path) == before, f"{what}: the image changed")
            checker.check(not os.listdir(scratch), f"{what}: left {os.listdir(scratch)}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("e2kvm-io -s: as qemu-io -s")


sys.exit(main())
