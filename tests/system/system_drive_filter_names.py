#!/usr/bin/env python3
"""The file name query-block shows for a -drive over blkverify and blkdebug, next to
qemu-system-x86_64 -machine none (iotest 099): a blkverify:RAW:TEST name, the same name made
from blkverify's options (the image under test given by its file's options), a json: name for
blkdebug with inline rules (members in QEMU's QDict order), a blkverify whose image under test
has such a name (json: for the whole node, a raw format over it), blkdebug with a config file
and without one.
usage: system_drive_filter_names.py E2KVM_SYSTEM"""
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

peers.require("qemu-system-x86_64", "qemu-img")
SYSTEM = os.path.abspath(sys.argv[1])
checker = Checker(sys.stderr)
machine_argv = machine_argv_for(SYSTEM)


def drive_specs(d):
    img, compare, conf = (os.path.join(d, n) for n in ("t.qcow2", "t.qcow2.compare",
                                                       "blkdebug.conf"))
    return [
        "file=blkverify:%s:%s" % (compare, img),
        "file.driver=blkverify,file.raw.filename=%s,file.test.file.filename=%s" % (compare, img),
        "file.driver=blkdebug,file.image.filename=%s,file.inject-error.0.event=l1_update" % img,
        "file.driver=blkverify,file.raw.filename=%s,file.test.file.driver=blkdebug,"
        "file.test.file.image.filename=%s,file.test.file.inject-error.0.event=l1_update"
        % (compare, img),
        "file.driver=blkdebug,file.config=%s,file.image.filename=%s" % (conf, img),
        "file.driver=blkdebug,file.image.filename=%s" % img,
    ]


def names(tool, tmp):
    d = os.path.join(tmp, tool)
    os.mkdir(d)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", os.path.join(d, "t.qcow2"),
                    "128K"], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw",
                    os.path.join(d, "t.qcow2.compare"), "128K"], check=True)
    open(os.path.join(d, "blkdebug.conf"), "w").close()
    out = []
    for i, spec in enumerate(drive_specs(d)):
        sock = os.path.join(d, "qmp%d.sock" % i)
        p = SystemProcess(machine_argv(tool, sock, "-drive", "if=none,id=drv0," + spec))
        try:
            try:
                q = QmpClient(sock)
            except OSError:
                p.wait(30)
                out.append(("no machine", p.err.decode(errors="replace").replace(d, "DIR")))
                continue
            inserted = q.execute("query-block")[0]["inserted"]
            out.append((inserted["file"].replace(d, "DIR"), inserted["drv"],
                        inserted["image"]["format"]))
            q.execute("quit")
            p.wait(30)
        finally:
            p.kill()
    return out


with tempfile.TemporaryDirectory(prefix="e2kvm-drivenames-") as tmp:
    checker.same("-drive file names", names("qemu", tmp), names("ours", tmp), "qemu", "ours")

sys.exit(checker.exit_status("-drive names over blkverify and blkdebug as in qemu-system-x86_64"))
