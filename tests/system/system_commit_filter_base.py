#!/usr/bin/env python3
"""block-commit of a layer whose backing is a throttle node over the base (iotest 255's chain:
base <- throttled <- mid <- overlay) copies only what the layer stores, in e2kvm-system as in
qemu-system-x86_64 -machine none: the filter over the base adds nothing of its own, so the job
ends at once although the filter lets 4 KiB/s through, and the base then holds the data.
usage: system_commit_filter_base.py E2KVM_SYSTEM"""
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
    tmp = os.path.join(tmp, tool)
    os.mkdir(tmp)
    base, mid, top = (os.path.join(tmp, n) for n in ("base.raw", "mid.qcow2", "top.qcow2"))
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", base, "64M"], check=True)
    for image in (mid, top):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", image, "64M"], check=True)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x11 1M 64k", mid], check=True,
                   stdout=subprocess.DEVNULL)
    sock = os.path.join(tmp, "qmp.sock")
    p = SystemProcess(machine_argv(tool, sock))
    try:
        q = QmpClient(sock)
        for command, args in (
                ("object-add", {"qom-type": "throttle-group", "id": "tg", "x-bps-read": 4096}),
                ("blockdev-add", {"driver": "file", "node-name": "base", "filename": base}),
                ("blockdev-add", {"driver": "throttle", "node-name": "throttled",
                                  "throttle-group": "tg", "file": "base"}),
                ("blockdev-add", {"driver": "qcow2", "node-name": "mid", "backing": "throttled",
                                  "file": {"driver": "file", "filename": mid}}),
                ("blockdev-add", {"driver": "qcow2", "node-name": "top", "backing": "mid",
                                  "file": {"driver": "file", "filename": top}}),
                ("block-commit", {"job-id": "j", "device": "top", "top-node": "mid"})):
            r = q.cmd(command, **args)
            out.append([command, r.get("error", {}).get("desc", "ok")])
        done = q.wait_event("BLOCK_JOB_COMPLETED")
        out.append(done and {k: done["data"][k] for k in ("device", "type", "len", "offset")})
        if done:
            q.execute("quit")
            q.close()
            p.wait(30)
    finally:
        p.kill()
    r = subprocess.run(["qemu-io", "-f", "raw", "-r", "-c", "read -P 0x11 1M 64k", base],
                       capture_output=True, text=True)
    out.append(r.stdout.splitlines()[:1])
    return out


with tempfile.TemporaryDirectory(prefix="e2kvm-commitfilter-") as tmp:
    checker.same("commit above a filter over the base", run("qemu", tmp), run("ours", tmp),
                 "qemu", "ours")

sys.exit(checker.exit_status("commit above a filter over the base as in qemu-system-x86_64"))
