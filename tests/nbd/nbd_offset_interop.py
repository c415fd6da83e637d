#!/usr/bin/env python3
"""Interop: qemu-nbd's --offset (the export is the image from that byte on; iotest 302 writes
a qcow2 image into an OVA this way) and a qcow2 image written, checked and compared through
such an export. For each server (qemu-nbd, e2kvm-nbd) and each client (qemu-img, e2kvm-img):
info of the export, `convert -c -O qcow2` into it, `check` and `compare` through it; every
output must be what qemu-img says over qemu-nbd, and the file outside the window must stay as
it was. Also --offset's error for a bad number.
Usage: nbd_offset_interop.py E2KVM_NBD E2KVM_IMG"""
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
from peers import require  # noqa: E402
from processes import ServerProcess  # noqa: E402

E2KVM_NBD = os.path.abspath(sys.argv[1])
E2KVM_IMG = os.path.abspath(sys.argv[2])
OFFSET = 1536
HEADER = b"ova-header" * 150  # 1500 bytes the export must not touch


def session(tmp, server, client, src):
    """Outputs of the client's commands over the server's export of a fresh container file."""
    container = os.path.join(tmp, "box.ova")
    with open(container, "wb") as f:
        f.write(HEADER)
        f.truncate(OFFSET + (1 << 20))
    sock = os.path.join(tmp, "s.sock")
    uri = "nbd+unix:///exp?socket=" + sock
    out = []
    with ServerProcess([server, "-k", sock, "-x", "exp", "-f", "raw", "--offset", str(OFFSET),
                        "-t", container], unix_socket=sock):
        for argv in (["info", uri], ["convert", "-c", "-O", "qcow2", src, uri],
                     ["check", uri], ["compare", src, uri]):
            p = run([client] + argv, ok=False)
            out.append((argv[0], p.returncode,
                        (p.stdout + p.stderr).replace(sock, "SOCK").replace(
                            os.path.basename(client), "TOOL")))
    with open(container, "rb") as f:
        out.append(("header kept", f.read(len(HEADER)) == HEADER))
    return out


def main():
    require("qemu-nbd", "qemu-img", "qemu-io")
    checker = Checker(sys.stderr)
    tmp = tempfile.mkdtemp(prefix="e2kvm-nbd-offset-")
    try:
        src = os.path.join(tmp, "src.qcow2")
        run(["qemu-img", "create", "-q", "-f", "qcow2", src, "64M"])
        run(["qemu-io", "-c", "write -P 7 1M 64k", "-c", "write -P 9 40M 128k", src])
        qemu_nbd, qemu_img = shutil.which("qemu-nbd"), shutil.which("qemu-img")
        reference = session(tmp, qemu_nbd, qemu_img, src)
        checker.check(all(r[1] == 0 for r in reference[:4]), "qemu's own run failed: %s"
                      % reference)
        for server, client in ((E2KVM_NBD, qemu_img), (qemu_nbd, E2KVM_IMG),
                               (E2KVM_NBD, E2KVM_IMG)):
            what = "%s serving, %s reading" % (os.path.basename(server), os.path.basename(client))
            checker.same(what, reference, session(tmp, server, client, src),
                         "qemu-nbd + qemu-img", "this pair")
        bad = {}
        for server in (qemu_nbd, E2KVM_NBD):
            p = subprocess.run([server, "--offset", "12x", os.path.join(tmp, "box.ova")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               timeout=30)
            bad[server] = (p.returncode, p.stdout.replace(os.path.basename(server), "TOOL"))
        checker.same("--offset 12x", bad[qemu_nbd], bad[E2KVM_NBD], "qemu-nbd", "e2kvm-nbd")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("qemu-nbd --offset and qcow2 through it: as QEMU")


if __name__ == "__main__":
    sys.exit(main())
