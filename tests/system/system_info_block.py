#!/usr/bin/env python3
"""HMP info block next to qemu-system-x86_64 (iotest 157): the drives' lines for
-drive cache=writeback|writethrough|none|unsafe|directsync (with driver= and read-only=, the
-blockdev spellings; force-share, discard, detect-zeroes), -drive's errors for bad values, a device's write-cache=on|off|auto, a drive no device uses (removable,
tray closed), a backing chain's depth, `info block DEVICE`, an unknown DEVICE; and -drive's
message when another process holds the image's lock. Generated node names are filtered.
usage: system_info_block.py E2KVM_SYSTEM"""
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img")
SYSTEM = sys.argv[1]
checker = Checker(sys.stderr)

COMMANDS = "info block\ninfo block disk\ninfo block nosuch\nquit\n"


def info_block(argv, drives):
    p = subprocess.run(argv + ["-nodefaults", "-nographic", "-monitor", "stdio", "-serial", "none"] +
                       drives,
                       input=COMMANDS.encode(), capture_output=True, timeout=60)
    text = p.stdout.decode(errors="replace")
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)  # the line editor's cursor moves
    text = re.sub(r"^QEMU \d+\.\d+\.\d+ monitor", "QEMU X.Y.Z monitor", text)
    # QEMU names a drive's node "#blockNNN", e2kvm by the drive's id
    text = re.sub(r" \((#block\d+|disk|spare)\):", " (NODE):", text)
    return p.returncode, [line for line in text.splitlines() if not line.startswith("(qemu)")]


with tempfile.TemporaryDirectory(prefix="e2kvm-infoblock-") as tmp:
    base = os.path.join(tmp, "base.qcow2")
    top = os.path.join(tmp, "top.qcow2")
    spare = os.path.join(tmp, "spare.raw")
    run("qemu-img", "create", "-q", "-f", "qcow2", base, "1M")
    run("qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top)
    run("qemu-img", "create", "-q", "-f", "raw", spare, "1M")
    for cache in ("writeback", "writethrough", "none", "unsafe", "directsync"):
        for wce in ("", ",write-cache=auto", ",write-cache=on", ",write-cache=off"):
            drives = ["-drive", "if=none,id=disk,driver=qcow2,file=%s,cache=%s" % (top, cache),
                      "-device", "virtio-blk,drive=disk" + wce,
                      "-drive", "if=none,id=spare,format=raw,read-only=on,force-share=on,"
                      "discard=unmap,detect-zeroes=on,file=" + spare]
            if cache in ("none", "directsync"):
                drives[1] += ",aio=threads"
            # (a virtio-blk device needs QEMU's PC board: -machine none has no PCI bus)
            qemu = info_block(["qemu-system-x86_64", "-accel", "tcg", "-machine", "pc"], drives)
            # -accel qtest, as the iotests run e2kvm-system (Debian's QEMU has no qtest): no
            # guest code runs; e2kvm's ROM powers the board off when no disk is bootable, which
            # would end the session under the monitor's input.
            ours = info_block([SYSTEM, "-accel", "qtest"], drives)
            checker.same("info block, cache=%s%s" % (cache, wce), qemu, ours, "qemu", "ours")

    # -drive options refused with QEMU's messages.
    for bad in ("discard=bad", "detect-zeroes=bad", "force-share=on", "lazy-refcounts=maybe",
                "read-only=on,readonly=on", "driver=qcow2,format=qcow2"):
        errors = []
        for argv in (["qemu-system-x86_64"], [SYSTEM]):
            p = subprocess.run(argv + ["-nodefaults", "-display", "none", "-machine", "none",
                                       "-drive", "if=none,file=%s,%s" % (base, bad)],
                               capture_output=True, timeout=30)
            err = p.stderr.decode(errors="replace").replace(tmp, "TMP")
            errors.append((p.returncode, re.sub(r"^[^:]*: ", "PROG: ", err, flags=re.M)))
        checker.same("-drive ..." + bad, errors[0], errors[1], "qemu", "ours")

    # A second process on a locked image: QEMU's two lines, no "Could not open".
    holder = subprocess.Popen([SYSTEM, "-nodefaults", "-display", "none", "-machine", "none",
                               "-qmp", "stdio", "-drive", "if=none,id=disk,file=" + base],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.5)
        messages = []
        for argv in (["qemu-system-x86_64"], [SYSTEM]):
            p = subprocess.run(argv + ["-nodefaults", "-display", "none", "-machine", "none",
                                       "-drive", "if=none,id=d0,file.locking=on,file=" + base],
                               capture_output=True, timeout=30)
            err = p.stderr.decode(errors="replace").replace(tmp, "TMP")
            messages.append((p.returncode, re.sub(r"^[^:]*: ", "PROG: ", err, flags=re.M)))
        checker.same("-drive on a locked image", messages[0], messages[1], "qemu", "ours")
    finally:
        holder.kill()
        holder.wait()
sys.exit(checker.exit_status("system_info_block: all checks passed"))
