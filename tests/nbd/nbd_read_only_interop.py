#!/usr/bin/env python3
"""Interop: a read-only export refuses every modifying command with EPERM, as the NBD
specification says and nbdkit does. WRITE, TRIM and WRITE_ZEROES go to nbdkit -r and to
e2kvm-nbd -r serving the same image; the errors must be EPERM from both, the connection must
still serve reads, and the image must be unchanged. Usage: nbd_read_only_interop.py E2KVM_NBD"""
import errno
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker  # noqa: E402
from nbd_raw_client import (CMD_READ, CMD_TRIM, CMD_WRITE, CMD_WRITE_ZEROES,  # noqa: E402
                            connect, disconnect, negotiate, request)
from peers import require  # noqa: E402
from processes import ServerProcess  # noqa: E402

E2KVM_NBD = os.path.abspath(sys.argv[1])
CONTENTS = b"\x5a" * 65536
FLAG_READ_ONLY = 0x2


def errors_from(argv, sock):
    """The wire errors of a write, a trim and a zero write, then whether a read still works."""
    with ServerProcess(argv, unix_socket=sock):
        s = connect(sock)
        flags = negotiate(s)
        errors = [request(s, CMD_WRITE, 0, 512, b"\x01" * 512, cookie=1)[0],
                  request(s, CMD_TRIM, 0, 4096, cookie=2)[0],
                  request(s, CMD_WRITE_ZEROES, 4096, 4096, cookie=3)[0]]
        read = request(s, CMD_READ, 0, 4096, cookie=4)
        disconnect(s)
    return flags, errors, read == (0, CONTENTS[:4096])


def main():
    require("nbdkit")
    checker = Checker(sys.stderr)
    tmp = tempfile.mkdtemp(prefix="e2kvm-nbd-ro-")
    try:
        img = os.path.join(tmp, "disk.raw")
        with open(img, "wb") as f:
            f.write(CONTENTS)
        sock = os.path.join(tmp, "s.sock")
        theirs = errors_from(["nbdkit", "-f", "-r", "-U", sock, "file", img], sock)
        ours = errors_from([E2KVM_NBD, "-f", "raw", "-r", "-k", sock, img], sock)
        checker.check(theirs[1] == [errno.EPERM] * 3, "nbdkit answered %s" % theirs[1])
        checker.same("errors for write, trim, write zeroes", theirs[1], ours[1], "nbdkit",
                     "e2kvm-nbd")
        checker.check(ours[0] & FLAG_READ_ONLY, "e2kvm-nbd -r: flags 0x%x" % ours[0])
        checker.check(ours[2], "e2kvm-nbd: no read after the refused writes")
        with open(img, "rb") as f:
            checker.check(f.read() == CONTENTS, "the image changed")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("nbd read-only export: EPERM for writes, as nbdkit")


if __name__ == "__main__":
    sys.exit(main())
