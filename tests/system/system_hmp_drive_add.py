#!/usr/bin/env python3
"""HMP drive_add / drive_del through QMP's human-monitor-command, in e2kvm-system as in
qemu-system-x86_64 -machine none (iotest 153): drive_add of an if=none drive answers "OK" and
holds the image's locks (qemu-io cannot write it), a second drive of the same id is refused,
an unnamed one is "none0"; drive_del closes the drive's image (the locks go once no drive of
it is left) and names a drive that is not there.
usage: system_hmp_drive_add.py E2KVM_SYSTEM"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checker  # noqa: E402
import peers  # noqa: E402
from qmp_client import QmpClient  # noqa: E402
from peer_machine import machine_argv_for  # noqa: E402
from system_harness import SystemProcess  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img", "qemu-io")
SYSTEM = os.path.abspath(sys.argv[1])
checker = Checker(sys.stderr)
machine_argv = machine_argv_for(SYSTEM)


def run(tool, tmp):
    out = []
    d = os.path.join(tmp, tool)
    os.mkdir(d)
    img = os.path.join(d, "t.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", img, "1M"], check=True)
    sock = os.path.join(d, "qmp.sock")
    p = SystemProcess(machine_argv(tool, sock))

    def hmp(line):
        r = q.cmd("human-monitor-command", **{"command-line": line % {"img": img}})
        out.append((line, r.get("return", r.get("error")).replace(d, "DIR")))

    def write():
        r = subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write 0 512", img],
                           capture_output=True, text=True)
        out.append(("write", r.returncode, r.stderr.replace(d, "DIR")))

    try:
        q = QmpClient(sock)
        hmp("drive_add 0 if=none,id=d0,file=%(img)s")
        write()
        hmp("drive_add 0 if=none,id=d0,file=%(img)s,readonly=on")
        hmp("drive_del d0")
        write()
        hmp("drive_del d0")
        for name in ("d0", "d1"):
            hmp("drive_add 0 if=none,id=" + name + ",file=%(img)s,readonly=on")
        hmp("drive_add 0 if=none,file=%(img)s,readonly=on")
        out.append(sorted(b["device"] for b in q.cmd("query-block")["return"]))
        hmp("drive_del d0")
        hmp("drive_del none2")
        write()
        hmp("drive_del d1")
        write()
        q.execute("quit")
        q.close()
        p.wait(30)
    finally:
        p.kill()
    return out


with tempfile.TemporaryDirectory(prefix="e2kvm-driveadd-") as tmp:
    checker.same("drive_add/drive_del", run("qemu", tmp), run("ours", tmp), "qemu", "ours")

sys.exit(checker.exit_status("HMP drive_add and drive_del as in qemu-system-x86_64"))
