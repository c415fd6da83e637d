#!/usr/bin/env python3
"""An external snapshot of a protocol-only file node and an NBD export of a file node, in
e2kvm-system as in qemu-system-x86_64 -machine none (iotest 182): blockdev-snapshot-sync on a
{driver: file} node creates the overlay over the file (its length in whole sectors, backing
format "file") and prints qemu-img's Formatting line; nothing holds the overlay, so its node
is gone once the command ends (its name is free again) and the file node is read-only from
then on; nbd-server-add of a file node exports the file's bytes, and the node cannot be
deleted while exported.
usage: system_file_node_snapshot.py E2KVM_SYSTEM"""
import hashlib
import json
import os
import re
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


def run(tool, tmp):
    out = []
    d = os.path.join(tmp, tool)
    os.mkdir(d)
    img = os.path.join(d, "t.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", img, "32M"], check=True)
    sock = os.path.join(d, "qmp.sock")
    nbd_sock = os.path.join(d, "nbd.sock")
    p = SystemProcess(machine_argv(tool, sock))

    def cmd(command, **args):
        r = q.cmd(command, **args)
        out.append((command, r["error"]["desc"].replace(d, "DIR") if "error" in r
                    else r["return"]))

    def nodes():
        r = q.cmd("query-named-block-nodes")["return"]
        out.append(sorted((n["node-name"], n["drv"], n["ro"]) for n in r))

    try:
        q = QmpClient(sock)
        cmd("blockdev-add", **{"node-name": "node0", "driver": "file", "filename": img,
                               "locking": "on"})
        cmd("blockdev-snapshot-sync", **{"node-name": "node0", "snapshot-file": img + ".ov",
                                         "snapshot-node-name": "node1"})
        nodes()
        r = subprocess.run(["qemu-img", "info", "-U", "--output=json", img + ".ov"],
                           capture_output=True, text=True)
        if r.returncode == 0:
            info = json.loads(r.stdout)
            out.append((info["virtual-size"], info.get("backing-filename", "").replace(d, "DIR"),
                        info.get("backing-filename-format")))
        else:
            out.append(("no overlay", r.stderr.replace(d, "DIR")))
        # The overlay's name is free again: nothing held the overlay.
        cmd("blockdev-add", **{"node-name": "node1", "driver": "file", "filename": img,
                               "locking": "on"})
        cmd("nbd-server-start", addr={"type": "unix", "data": {"path": nbd_sock}})
        cmd("nbd-server-add", device="node1")
        nodes()
        exported = subprocess.run(["qemu-img", "dd", "-f", "raw", "if=nbd+unix:///node1?socket="
                                   + nbd_sock, "of=" + os.path.join(d, "copy"), "bs=65536"],
                                  capture_output=True, text=True)
        out.append(("export read", exported.returncode, exported.stderr))
        # The export's length is the file's in whole sectors (the rest reads as zeros).
        copied = b""
        if exported.returncode == 0:
            with open(os.path.join(d, "copy"), "rb") as f:
                copied = f.read()
        with open(img, "rb") as f:
            data = f.read()
        padded = data + bytes(max(0, len(copied) - len(data)))
        out.append(("export bytes", len(copied), hashlib.sha256(copied).hexdigest() ==
                    hashlib.sha256(padded).hexdigest()))
        cmd("blockdev-del", **{"node-name": "node1"})
        cmd("nbd-server-remove", name="node1")
        cmd("blockdev-del", **{"node-name": "node1"})
        nodes()
        q.execute("quit")
        q.close()
        p.wait(30)
    finally:
        p.kill()
    formatting = [re.sub(r"'[^']*t\.qcow2\.ov'", "'OVERLAY'", line.replace(d, "DIR"))
                  for line in p.serial().splitlines() if line.startswith("Formatting")]
    out.append(formatting)
    return out


with tempfile.TemporaryDirectory(prefix="e2kvm-filesnap-") as tmp:
    checker.same("file node snapshot", run("qemu", tmp), run("ours", tmp), "qemu", "ours")

sys.exit(checker.exit_status("file node snapshot and export as in qemu-system-x86_64"))
