#!/usr/bin/env python3
"""Interop: QEMU's image locks. While e2kvm-nbd serves a qcow2 image for writing, qemu-img info
and a qemu-io write are refused with QEMU's messages and qemu-img info -U works; while qemu-io
holds the image for writing, e2kvm-img info is refused with the same message as qemu-img's and
e2kvm-img info -U works. Usage: image_lock_interop.py E2KVM_IMG E2KVM_NBD"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
from peers import require  # noqa: E402
from processes import ServerProcess  # noqa: E402

E2KVM_IMG = os.path.abspath(sys.argv[1])
E2KVM_NBD = os.path.abspath(sys.argv[2])


def refusal(tool_output):
    """The lock message lines of a refused open, without the program's name."""
    return [line.split(": ", 1)[-1] for line in tool_output.strip().splitlines()]


def main():
    require("qemu-img", "qemu-io")
    checker = Checker(sys.stderr)
    tmp = tempfile.mkdtemp(prefix="e2kvm-lock-")
    try:
        os.chdir(tmp)
        img = "disk.qcow2"
        run("qemu-img", "create", "-q", "-f", "qcow2", img, "1M")
        sock = os.path.join(tmp, "s.sock")
        with ServerProcess([E2KVM_NBD, "-f", "qcow2", "-k", sock, img], unix_socket=sock):
            p = run("qemu-img", "info", img, ok=False)
            checker.check(p.returncode != 0 and refusal(p.stderr) == [
                "Could not open '%s': Failed to get shared \"write\" lock" % img,
                "Is another process using the image [%s]?" % img], "qemu-img info: %r" % p.stderr)
            p = run("qemu-io", "-f", "qcow2", "-c", "write 0 512", img, ok=False)
            checker.check(p.returncode != 0 and 'Failed to get "write" lock' in p.stderr,
                          "qemu-io write: %r" % p.stderr)
            p = run("qemu-img", "info", "-U", img, ok=False)
            checker.check(p.returncode == 0, "qemu-img info -U: %r" % p.stderr)
        holder = subprocess.Popen(["qemu-io", "-f", "qcow2", img], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            holder.stdin.write(b"read 0 512\n")
            holder.stdin.flush()
            holder.stdout.readline()  # the image is open once qemu-io answers
            theirs = run("qemu-img", "info", img, ok=False)
            ours = run(E2KVM_IMG, "info", img, ok=False)
            checker.check(ours.returncode != 0, "e2kvm-img info was not refused")
            checker.same("refusal", refusal(theirs.stderr), refusal(ours.stderr), "qemu-img",
                         "e2kvm-img")
            p = run(E2KVM_IMG, "info", "-U", img, ok=False)
            checker.check(p.returncode == 0, "e2kvm-img info -U: %r" % p.stderr)
        finally:
            holder.stdin.close()
            holder.wait(timeout=30)
        p = run(E2KVM_IMG, "info", img, ok=False)
        checker.check(p.returncode == 0, "e2kvm-img info once released: %r" % p.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("image locks: QEMU's tools and ours refuse each other's images")


if __name__ == "__main__":
    sys.exit(main())
