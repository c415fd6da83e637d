#!/usr/bin/env python3
"""The actions of a QMP transaction in their order, against qemu-system-x86_64 -machine none
-nodefaults with -qmp stdio (as iotest 254 gives them): an external snapshot taken by an
action is there for the actions after it (a bitmap added to and merged into the new overlay
by its node name), and taken back when a later action fails.
usage: system_transaction_order.py E2KVM_SYSTEM"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker  # noqa: E402
import peers  # noqa: E402
from stdio_qmp import stdio_qmp_argv  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img")
SYSTEM = os.path.abspath(sys.argv[1])
checker = Checker(sys.stderr)


def argv(tool):
    return stdio_qmp_argv(tool, SYSTEM)


def session(tool, extra, commands):
    """The replies (events left out; of query-block, each device's node name and bitmaps)
    and the exit status."""
    text = "".join(json.dumps(c) + "\n" for c in commands)
    p = subprocess.run(argv(tool) + extra, input=text, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    replies = []
    for line in p.stdout.splitlines():
        try:
            msg = json.loads(line)
        except ValueError:
            replies.append(re.sub(r"^(qemu-system-x86_64|e2kvm-system): ", "PROG: ", line))
            continue
        if "QMP" in msg or "event" in msg:
            continue
        ret = msg.get("return")
        if isinstance(ret, list) and ret and "inserted" in ret[0]:
            msg = [(d["device"], d["inserted"]["node-name"],
                    d["inserted"].get("dirty-bitmaps")) for d in ret]
        replies.append(msg)
    return replies, p.returncode


def transaction(actions):
    return {"execute": "transaction", "arguments": {"actions": actions}}


def action(kind, **data):
    return {"type": kind, "data": data}


CAPS = {"execute": "qmp_capabilities"}
QUIT = {"execute": "quit"}
QUERY = {"execute": "query-block"}

with tempfile.TemporaryDirectory(prefix="e2kvm-txorder-") as tmp:
    disk = os.path.join(tmp, "disk.qcow2")
    results = {}
    for tool in ("qemu", "ours"):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", disk, "1M"], check=True)
        top = os.path.join(tmp, "top.qcow2")
        failed = os.path.join(tmp, "failed.qcow2")
        snapshot = {"device": "drive0", "snapshot-file": top, "snapshot-node-name": "snap",
                    "format": "qcow2"}
        results[tool] = session(tool, [
            "-drive", "if=none,id=drive0,file=%s,format=qcow2,node-name=base" % disk], [
            CAPS,
            {"execute": "block-dirty-bitmap-add",
             "arguments": {"node": "drive0", "name": "bitmap0"}},
            # A later action fails: the snapshot is taken back.
            transaction([
                action("blockdev-snapshot-sync", **dict(snapshot, **{
                    "snapshot-file": failed, "snapshot-node-name": "gone"})),
                action("block-dirty-bitmap-add", node="gone", name="bitmap0"),
                action("block-dirty-bitmap-add", node="gone", name="bitmap0")]),
            QUERY,
            transaction([
                action("blockdev-snapshot-sync", **snapshot),
                action("block-dirty-bitmap-add", node="snap", name="bitmap0"),
                action("block-dirty-bitmap-merge", node="snap", target="bitmap0",
                       bitmaps=[{"node": "base", "name": "bitmap0"}])]),
            QUERY, QUIT])
        for f in (disk, top, failed):
            if os.path.exists(f):
                os.unlink(f)
    checker.same("a snapshot's overlay for the actions after it", results["qemu"],
                 results["ours"], "qemu", "ours")

sys.exit(checker.exit_status("transaction actions in order as in qemu-system-x86_64"))
