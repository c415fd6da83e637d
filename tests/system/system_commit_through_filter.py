#!/usr/bin/env python3
"""block-commit whose top is a filter node (iotest 129): a throttle node over a qcow2 image
whose backing file is a base, with a snapshot's overlay added above the throttle node, commits
top-node=throttle into that base, in e2kvm-system as in qemu-system-x86_64 -machine none. A slow
throttle group keeps the job running through 'stop'; a fast one lets it finish: the overlay then
reads the base, which holds the committed data.
usage: system_commit_through_filter.py E2KVM_SYSTEM"""
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


def reply(r):
    return {"error": r["error"]["desc"]} if "error" in r else r["return"]


def chain_names(q):
    """The file names (last component) of drive0's chain as query-block shows it."""
    for b in q.execute("query-block"):
        if b["device"] == "drive0":
            names, image = [], b["inserted"]["image"]
            while image:
                names.append(os.path.basename(image["filename"]))
                image = image.get("backing-image")
            return names
    return None


def run(tool, tmp, bps):
    out = []
    base = os.path.join(tmp, tool + ".base")
    test = os.path.join(tmp, tool + ".test")
    overlay = os.path.join(tmp, tool + ".overlay")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base, "64M"], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", test],
                   check=True)
    subprocess.run(["qemu-io", "-c", "write -P 0x5d 1M 4M", test], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", overlay, "64M"], check=True)
    sock = os.path.join(tmp, tool + ".qmp")
    drive = ("if=none,id=drive0,driver=throttle,node-name=source,throttle-group=tg0,"
             "file.driver=qcow2,file.file.filename=" + test)
    p = SystemProcess(machine_argv(tool, sock) +
                      ["-object", "throttle-group,id=tg0,x-bps-total=%d" % bps, "-drive", drive])
    try:
        q = QmpClient(sock)
        out.append(reply(q.cmd("blockdev-add", **{
            "node-name": "overlay", "driver": "qcow2",
            "file": {"driver": "file", "filename": overlay}})))
        out.append(reply(q.cmd("blockdev-snapshot", node="source", overlay="overlay")))
        out.append(reply(q.cmd("block-commit", device="drive0", **{"top-node": "source"})))
        if bps < 1000000:
            out.append(reply(q.cmd("stop")))
            jobs = q.execute("query-block-jobs")
            out.append([(j["type"], j["status"], j["ready"]) for j in jobs])
            # (QEMU's cancel waits for the throttled request in flight: the process is
            # killed instead.)
            q.close()
            return [str(x).replace(tool + ".", "X.") for x in out]
        out.append(out[-1] == {} and bool(q.wait_event("BLOCK_JOB_COMPLETED", 60)))
        out.append(chain_names(q))
        q.execute("quit")
        q.close()
        p.wait(30)
    finally:
        p.kill()
    if bps >= 1000000:
        r = subprocess.run(["qemu-io", "-r", "-c", "read -P 0x5d 1M 4M", base],
                           capture_output=True, text=True)
        out.append(r.returncode == 0 and "Pattern verification failed" not in r.stdout)
    return [str(x).replace(tool + ".", "X.") for x in out]


with tempfile.TemporaryDirectory(prefix="e2kvm-commitflt-") as tmp:
    for bps in (1024, 1000000000):
        checker.same("commit through a throttle node (%d B/s)" % bps, run("qemu", tmp, bps),
                     run("ours", tmp, bps), "qemu", "ours")

sys.exit(checker.exit_status("block-commit of a filter node as in qemu-system-x86_64"))
