#!/usr/bin/env python3
"""change-backing-file of a layer opened read-only as a backing file (iotest 195), in
e2kvm-system as in qemu-system-x86_64 -machine none: the header records the new name (QEMU
reopens the layer read-write for it), the layer's node shows it and stays read-only; a layer
opened writable is changed as it is.
usage: system_change_backing_readonly.py E2KVM_SYSTEM"""
import json
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


def reply(r):
    return {"error": r["error"]["desc"]} if "error" in r else r["return"]


def header_backing(path):
    info = json.loads(subprocess.run(["qemu-img", "info", "-U", "--output=json", path],
                                     check=True, capture_output=True, text=True).stdout)
    return info.get("backing-filename"), info.get("backing-filename-format")


def node_view(q, name):
    for n in q.execute("query-named-block-nodes"):
        if n.get("node-name") == name:
            return {"ro": n["ro"], "backing_file": n.get("backing_file"),
                    "image.backing-filename": n["image"].get("backing-filename")}
    return None


def run(tool, tmp):
    out = []
    base = os.path.join(tmp, tool + ".base")
    mid = os.path.join(tmp, tool + ".mid")
    top = os.path.join(tmp, tool + ".top")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base, "64M"], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", mid],
                   check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", mid, "-F", "qcow2", top],
                   check=True)
    for layer, drive in (("mid", "backing.node-name=mid"), ("top", "node-name=top")):
        # (mid names its base again: it named /dev/null after the first run.)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2",
                        mid], check=True)
        sock = os.path.join(tmp, tool + layer + ".qmp")
        p = SystemProcess(machine_argv(tool, sock) +
                          ["-drive", "if=none,file=%s,%s" % (top, drive)])
        try:
            q = QmpClient(sock)
            out.append(reply(q.cmd("change-backing-file", device="none0", **{
                "image-node-name": layer, "backing-file": "/dev/null"})))
            out.append(node_view(q, layer))
            # The layer still reads its old backing file (only the name changed).
            out.append(reply(q.cmd("human-monitor-command",
                                   **{"command-line": 'qemu-io none0 "read 0 4k"'})))
            q.execute("quit")
            q.close()
            p.wait(30)
        finally:
            p.kill()
        out.append(header_backing(mid if layer == "mid" else top))
    return out


with tempfile.TemporaryDirectory(prefix="e2kvm-cbf-") as tmp:
    checker.same("change-backing-file", str(run("qemu", tmp)).replace(tmp + "/qemu.", "X."),
                 str(run("ours", tmp)).replace(tmp + "/ours.", "X."), "qemu", "ours")

sys.exit(checker.exit_status("change-backing-file of read-only layers as in qemu-system-x86_64"))
