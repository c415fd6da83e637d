#!/usr/bin/env python3
"""QMP blockdev-add force-share in e2kvm-system as in qemu-system-x86_64: while qemu-io holds an
image open for writing, a qcow2 node over it is refused with QEMU's lock message, accepted with
read-only and force-share (and reads the image), and force-share without read-only is refused.
usage: system_force_share.py E2KVM_SYSTEM ECHO_KERNEL"""
import os
import re
import subprocess
import sys
import tempfile
import shutil
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402
from qmp_client import QmpClient  # noqa: E402
from system_harness import SystemProcess  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img", "qemu-io")

SYSTEM, ECHO = (os.path.abspath(a) for a in sys.argv[1:3])
checker = Checker()


def machine_argv(tool, qmp_sock):
    if tool == "qemu":
        return ["qemu-system-x86_64", "-nodefaults", "-display", "none", "-S", "-machine",
                "none", "-qmp", "unix:%s,server=on,wait=off" % qmp_sock]
    return [SYSTEM, "-display", "none", "-serial", "none", "-S", "-kernel", ECHO,
            "-qmp", "unix:%s,server=on,wait=off" % qmp_sock]


def replies(tool, tmp, img):
    qmp_sock = os.path.join(tmp, tool + ".qmp")
    p = SystemProcess(machine_argv(tool, qmp_sock))
    out = []
    try:
        qmp = QmpClient(qmp_sock)
        for i, (ro, fs) in enumerate(((False, False), (True, False), (False, True), (True, True))):
            r = qmp.cmd("blockdev-add", driver="qcow2", **{"node-name": "n%d" % i},
                        file={"driver": "file", "filename": img}, **{"read-only": ro},
                        **{"force-share": fs})
            if "error" in r:
                desc = r["error"]["desc"]
                # QEMU names the lock it failed to take, ours the same way
                out.append(("error", re.sub(r"^Could not open '[^']*': ", "", desc)))
            else:
                out.append(("ok", r["return"]))
        if out[-1][0] == "ok":
            hmp = qmp.execute("human-monitor-command",
                              **{"command-line": "qemu-io n3 \"read -P 0x5a 0 64k\""})
            out.append(("read", re.sub(r"; [0-9:. ]+sec \(.*\)", "", hmp)))
        qmp.execute("quit")
        qmp.close()
        p.wait(30)
    finally:
        p.kill()
    return out


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-force-share-")
    holder = None
    try:
        img = os.path.join(tmp, "held.qcow2")
        run("qemu-img", "create", "-q", "-f", "qcow2", img, "1M")
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 64k", img)
        # qemu-io keeps the image open for writing while it waits on its standard input.
        holder = subprocess.Popen(["qemu-io", "-f", "qcow2", img], stdin=subprocess.PIPE,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        q = replies("qemu", tmp, img)
        o = replies("ours", tmp, img)
        checker.same("blockdev-add with and without force-share", q, o, "qemu-system",
                     "e2kvm-system")
        checker.check(q[0][0] == "error" and "lock" in q[0][1], f"qemu-system did not refuse: {q}")
    finally:
        if holder:
            holder.kill()
            holder.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("system_force_share: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
