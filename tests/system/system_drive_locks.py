#!/usr/bin/env python3
"""Two -drive options of one image in one process, in e2kvm-system as in qemu-system-x86_64
-machine none (iotest 153): each -drive opens the image anew, so their image locks conflict as
two processes' do ('Failed to get "write" lock'), also through a symbolic link, unless the
first is read-only with force-share=on or both are read-only. A comma that ends the option
string is no empty option (",if=none," in iotest 153).
usage: system_drive_locks.py E2KVM_SYSTEM"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img")
SYSTEM = os.path.abspath(sys.argv[1])
checker = Checker(sys.stderr)


def messages(tool, tmp, drives):
    argv = ([SYSTEM, "-accel", "qtest"] if tool == "ours"
            else ["qemu-system-x86_64", "-machine", "none"])
    argv += ["-nodefaults", "-display", "none", "-nographic", "-monitor", "stdio"]
    for d in drives:
        argv += ["-drive", d]
    r = subprocess.run(argv, input="quit\n", capture_output=True, text=True, timeout=30)
    return [line.replace(tmp, "DIR").split(": ", 1)[-1] for line in r.stderr.splitlines()]


with tempfile.TemporaryDirectory(prefix="e2kvm-drivelocks-") as tmp:
    img = os.path.join(tmp, "t.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", img, "32M"], check=True)
    os.symlink(img, img + ".lnk")
    opts = ["read-only=off", "read-only=on", "read-only=on,force-share=on"]
    cases = [["if=none,file=%s,%s" % (img, a), "if=none,file=%s,%s" % (img, b)]
             for a in opts for b in opts]
    cases.append(["if=none,file=%s.lnk" % img, "if=none,file=%s" % img])
    cases.append(["file=%s,if=none," % img])
    for drives in cases:
        checker.same(" ".join(drives).replace(tmp, "DIR"), messages("qemu", tmp, drives),
                     messages("ours", tmp, drives), "qemu", "ours")

sys.exit(checker.exit_status("two -drive of one image as in qemu-system-x86_64"))
