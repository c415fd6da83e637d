#!/usr/bin/env python3
"""blockdev-add opens a backing file read-only unless its options say otherwise, as QEMU does
for the backing role: with a named inline backing node (and one given inline without a name)
another process may still open an image over the same backing file (qemu-img map without -U,
which cannot share the backing file with a writer), and query-named-block-nodes shows the
backing node read-only. Compared with qemu-system-x86_64 -machine none (iotest 041's TestFilters
reads its target this way). Before, e2kvm-system opened the backing file read-write and held its
write lock.
usage: system_backing_readonly.py E2KVM_SYSTEM"""
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


def observe(tool, tmp, backing_spec):
    base = os.path.join(tmp, "base.qcow2")
    top = os.path.join(tmp, "top.qcow2")
    other = os.path.join(tmp, "other.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base, "1M"], check=True)
    for image in (top, other):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2",
                        image], check=True)
    sock = os.path.join(tmp, tool + ".qmp")
    p = SystemProcess(machine_argv(tool, sock))
    try:
        q = QmpClient(sock)
        backing = dict(backing_spec, driver="qcow2",
                       file={"driver": "file", "filename": base})
        added = q.cmd("blockdev-add", driver="qcow2", **{"node-name": "top"},
                      file={"driver": "file", "filename": top}, backing=backing)
        mapped = subprocess.run(["qemu-img", "map", "--output", "json", other],
                                capture_output=True, text=True)
        ro = sorted((n["node-name"], n["ro"]) for n in q.execute("query-named-block-nodes")
                    if not n["node-name"].startswith("#"))
        q.execute("quit")
        q.close()
        p.wait(30)
        return {"blockdev-add": added, "qemu-img map of another image on the base":
                (mapped.returncode, mapped.stderr.replace(tmp, "TMP")), "read-only nodes": ro}
    finally:
        p.kill()


for label, spec in (("named backing", {"node-name": "base"}), ("unnamed backing", {}),
                    ("backing read-only false", {"node-name": "base", "read-only": False})):
    with tempfile.TemporaryDirectory(prefix="e2kvm-backingro-") as tmp:
        qemu = observe("qemu", tmp, spec)
    with tempfile.TemporaryDirectory(prefix="e2kvm-backingro-") as tmp:
        ours = observe("ours", tmp, spec)
    for what in qemu:
        checker.same("%s: %s" % (label, what), qemu[what], ours[what], "qemu-system-x86_64",
                     "e2kvm-system")

sys.exit(checker.exit_status("backing files opened read-only"))
