#!/usr/bin/env python3
"""Interop: qcow2 images made and used inside an NBD export (the export is a raw file served by
qemu-nbd; the image name is an nbd+unix:// URL), as QEMU's iotest 259 does: e2kvm-img create -f
qcow2 writes the same bytes into the export as qemu-img, info probes the format from the export
and says "disk size: unavailable", preallocation=metadata fails because the export cannot grow
(in qemu-img's words), a raw image larger than the export is refused, and e2kvm-io reads and
writes guest data of the qcow2 image through the export as qemu-io does.
Usage: qcow2_over_nbd_interop.py E2KVM_IMG E2KVM_IO"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img", "qemu-io", "qemu-nbd")

checker = Checker()


def serve(image, sock):
    server = subprocess.Popen(["qemu-nbd", "-k", sock, "-f", "raw", "-t", image],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        if os.path.exists(sock):
            break
        time.sleep(0.05)
    return server


def stop(server, sock):
    server.terminate()
    server.wait(timeout=30)
    if os.path.exists(sock):
        os.unlink(sock)


def session(img, io, tmp):
    """Runs the steps with the programs named qemu-img and qemu-io (as run by iotests); returns
    [(step, exit code, output)] and the export's bytes after each step that writes."""
    export = os.path.join(tmp, "export.raw")
    sock = os.path.join(tmp, "nbd.sock")
    url = "nbd+unix:///?socket=" + sock
    results, contents = [], []

    def step(name, argv):
        p = run(argv, ok=False, cwd=tmp)
        text = (p.stdout + p.stderr).replace(sock, "SOCK")
        results.append((name, p.returncode, text))

    run(["qemu-img", "create", "-q", "-f", "raw", export, "64M"])
    with open(export, "r+b") as f:  # an old header the creation must clear
        f.write(b"QFI\xfb" + b"\xaa" * 508)
    server = serve(export, sock)
    try:
        step("create qcow2", [img, "create", "-f", "qcow2", url, "64M"])
        step("info", [img, "info", url])
        step("write", [io, "-c", "write -P 0x5a 64k 128k", "-c", "write -z 1M 64k", url])
        step("read", [io, "-c", "read -P 0x5a 64k 128k", "-c", "read -P 0 0 64k",
                      "-f", "qcow2", url])
        step("map", [img, "map", "--output=json", url])
    finally:
        stop(server, sock)
    with open(export, "rb") as f:
        contents.append(f.read())
    step("check (local)", [img, "check", "-f", "qcow2", export])

    server = serve(export, sock)
    try:
        step("create preallocation=metadata",
             [img, "create", "-f", "qcow2", "-o", "preallocation=metadata", url, "64M"])
        step("create raw larger than the export", [img, "create", "-f", "raw", url, "128M"])
        step("create raw preallocation=falloc",
             [img, "create", "-f", "raw", "-o", "preallocation=falloc", url, "1M"])
        step("create raw", [img, "create", "-f", "raw", url, "1M"])
    finally:
        stop(server, sock)
    with open(export, "rb") as f:
        contents.append(f.read()[:4096])
    os.unlink(export)
    return results, contents


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-q2nbd-")
    try:
        outcome = {}
        for side, img, io in (("qemu", shutil.which("qemu-img"), shutil.which("qemu-io")),
                              ("e2kvm", os.path.abspath(sys.argv[1]),
                               os.path.abspath(sys.argv[2]))):
            work = os.path.join(tmp, side)
            os.makedirs(work)
            bindir = os.path.join(tmp, side + "-bin")
            os.makedirs(bindir)
            os.symlink(img, os.path.join(bindir, "qemu-img"))
            os.symlink(io, os.path.join(bindir, "qemu-io"))
            outcome[side] = session(os.path.join(bindir, "qemu-img"),
                                    os.path.join(bindir, "qemu-io"), work)
        theirs, ours = outcome["qemu"], outcome["e2kvm"]
        for (name, rc_t, out_t), (_, rc_o, out_o) in zip(theirs[0], ours[0]):
            checker.same(name + " (exit code)", rc_t, rc_o, "qemu", "e2kvm")
            out_t = "\n".join(line for line in out_t.splitlines() if "sec and" not in line)
            out_o = "\n".join(line for line in out_o.splitlines() if "sec and" not in line)
            checker.same(name + " (output)", out_t, out_o, "qemu", "e2kvm")
        checker.check(theirs[1][0] == ours[1][0],
                      "the export holds the same qcow2 image after create and writes")
        checker.check(theirs[1][1] == ours[1][1],
                      "the export's first cluster is the same after the later creations")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("qcow2 over NBD: as qemu-img / qemu-io")


sys.exit(main())
