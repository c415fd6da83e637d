#!/usr/bin/env python3
"""A transaction that takes an external snapshot of a drive and then moves its bitmaps to the
overlay (iotest 254), against qemu-system-x86_64 -machine none: the old active layer becomes
read-only only when every action is done, so the actions after the snapshot may still remove
its bitmaps; query-block's bitmaps of the drive and of its backing image, and the bitmaps each
image holds afterwards.
usage: system_snapshot_bitmaps.py E2KVM_SYSTEM"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402
from stdio_qmp import stdio_qmp_argv  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img")
SYSTEM = os.path.abspath(sys.argv[1])
checker = Checker(sys.stderr)


def add(node, name, persistent=False):
    return {"type": "block-dirty-bitmap-add",
            "data": {"node": node, "name": name, "persistent": persistent}}


def merge(name):
    return {"type": "block-dirty-bitmap-merge",
            "data": {"node": "snap", "target": name,
                     "bitmaps": [{"node": "base", "name": name}]}}


def commands(top):
    return [
        {"execute": "qmp_capabilities"},
        {"execute": "block-dirty-bitmap-add", "arguments": {"node": "drive0", "name": "bitmap0"}},
        {"execute": "block-dirty-bitmap-add",
         "arguments": {"node": "drive0", "name": "bitmap1", "persistent": True}},
        {"execute": "block-dirty-bitmap-add",
         "arguments": {"node": "drive0", "name": "bitmap2", "persistent": True}},
        {"execute": "human-monitor-command",
         "arguments": {"command-line": 'qemu-io drive0 "write 0 512K"'}},
        {"execute": "transaction", "arguments": {"actions": [
            {"type": "blockdev-snapshot-sync",
             "data": {"device": "drive0", "snapshot-file": top, "snapshot-node-name": "snap"}},
            add("snap", "bitmap0"), merge("bitmap0"),
            add("snap", "bitmap1", True), merge("bitmap1"),
            add("snap", "bitmap2", True), merge("bitmap2"),
            {"type": "block-dirty-bitmap-remove", "data": {"node": "base", "name": "bitmap2"}}]}},
        # Now the old layer is read-only: its bitmaps cannot change any more.
        {"execute": "block-dirty-bitmap-remove", "arguments": {"node": "base", "name": "bitmap1"}},
        {"execute": "query-block"},
        {"execute": "quit"},
    ]


def session(tool, tmp):
    disk = os.path.join(tmp, tool + "-disk.qcow2")
    top = os.path.join(tmp, tool + "-top.qcow2")
    run("qemu-img", "create", "-q", "-f", "qcow2", disk, "1M")
    text = "".join(json.dumps(c) + "\n" for c in commands(top))
    p = subprocess.run(stdio_qmp_argv(tool, SYSTEM) +
                       ["-drive", "if=none,id=drive0,node-name=base,format=qcow2,file=" + disk],
                       input=text, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                       timeout=60)
    out = []
    for line in p.stdout.splitlines():
        if not line.startswith("{"):
            continue  # qemu-io's statistics, the overlay's "Formatting" line
        r = json.loads(line)
        if "return" in r and isinstance(r["return"], list):
            d = r["return"][0]["inserted"]
            r = {"node": d["node-name"], "dirty-bitmaps": d.get("dirty-bitmaps"),
                 "backing bitmaps": d["image"].get("backing-image", {})
                 .get("format-specific", {}).get("data", {}).get("bitmaps")}
        elif "QMP" in r or "event" in r:
            continue
        out.append(r)
    for image in (disk, top):
        info = json.loads(run("qemu-img", "info", "--output=json", image).stdout)
        out.append(info.get("format-specific", {}).get("data", {}).get("bitmaps"))
    return out


with tempfile.TemporaryDirectory(prefix="e2kvm-snapbitmaps-") as tmp:
    q = session("qemu", tmp)
    o = session("ours", tmp)
    checker.check(len(q) > 6 and q[5] == {"return": {}}, "qemu-system ran the transaction")
    checker.same("replies and bitmaps", q, o, "qemu", "ours")

sys.exit(checker.exit_status("system_snapshot_bitmaps: all checks passed"))
