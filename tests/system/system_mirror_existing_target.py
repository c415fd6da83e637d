#!/usr/bin/env python3
"""drive-mirror sync=top onto an existing target (mode existing), in e2kvm-system as in
qemu-system-x86_64 -machine none (iotest 156): the target is opened without its backing
chain, which need not exist yet; the chain the target's header names is opened when the job
completes, so the drive then reads the source's backing data through it.
usage: system_mirror_existing_target.py E2KVM_SYSTEM"""
import hashlib
import os
import shutil
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


def img(*args):
    subprocess.run(["qemu-img"] + list(args), check=True, capture_output=True)


def run(tool, tmp):
    out = []
    d = os.path.join(tmp, tool)
    os.mkdir(d)
    src = os.path.join(d, "src.qcow2")
    img("create", "-f", "qcow2", src + ".backing", "1M")
    img("create", "-f", "qcow2", "-b", src + ".backing", "-F", "qcow2", src, "1M")
    subprocess.run(["qemu-io", "-c", "write -P 1 0 256k", src + ".backing"], check=True,
                   capture_output=True)
    subprocess.run(["qemu-io", "-c", "write -P 2 64k 192k", src], check=True,
                   capture_output=True)
    img("create", "-f", "qcow2", "-u", "-b", src, "-F", "qcow2", src + ".overlay", "1M")
    tgt = os.path.join(d, "tgt.qcow2")
    # The target's backing file does not exist yet.
    img("create", "-f", "qcow2", "-u", "-b", tgt, "-F", "qcow2", tgt + ".overlay", "1M")
    sock = os.path.join(d, "qmp.sock")
    p = SystemProcess(machine_argv(tool, sock, "-drive", "if=none,id=source,file=" + src))

    def cmd(command, **args):
        r = q.cmd(command, **args)
        out.append((command, r["error"]["desc"].replace(d, "DIR") if "error" in r
                    else r["return"]))

    def hmp(line):
        cmd("human-monitor-command", **{"command-line": line})

    try:
        q = QmpClient(sock)
        cmd("blockdev-snapshot-sync", device="source", format="qcow2", mode="existing",
            **{"snapshot-file": src + ".overlay"})
        hmp('qemu-io source "write -P 3 128k 128k"')
        cmd("drive-mirror", device="source", target=tgt + ".overlay", mode="existing",
            sync="top")
        if out[-1][1] != {}:
            return out  # no job to follow
        ready = q.wait_event("BLOCK_JOB_READY")
        out.append(ready and (ready["data"]["len"], ready["data"]["offset"]))
        hmp('qemu-io source "write -P 4 192k 64k"')
        shutil.copy(src + ".backing", tgt + ".backing")
        shutil.copy(src, tgt)
        img("rebase", "-u", "-b", tgt + ".backing", "-F", "qcow2", tgt)
        cmd("block-job-complete", device="source")
        done = q.wait_event("BLOCK_JOB_COMPLETED")
        out.append(done and (done["data"]["len"], done["data"]["offset"],
                             done["data"].get("error")))
        # Through the target now, its backing chain included.
        for pattern, offset in ((1, "0"), (2, "64k"), (3, "128k"), (4, "192k")):
            hmp('qemu-io source "read -P %d %s 64k"' % (pattern, offset))
        for block in q.cmd("query-block")["return"]:
            inserted = block.get("inserted", {})
            out.append((block["device"], inserted.get("file", "").replace(d, "DIR"),
                        inserted.get("backing_file_depth")))
        q.execute("quit")
        q.close()
        p.wait(30)
    finally:
        p.kill()
    # What qemu-io printed for the reads (statistics lines aside).
    out.append([line for line in p.serial().splitlines()
                if line.startswith("read ") or "verification" in line])
    # What the target's chain reads, the source's chain gone.
    for f in (src, src + ".backing", src + ".overlay"):
        os.unlink(f)
    raw = os.path.join(d, "raw")
    img("convert", "-O", "raw", tgt + ".overlay", raw)
    with open(raw, "rb") as f:
        data = f.read()
    k = 65536
    out.append([data[i * k:(i + 1) * k].count(bytes([data[i * k]])) == k and data[i * k]
                for i in range(len(data) // k)])
    out.append(hashlib.sha256(data).hexdigest())
    return out


with tempfile.TemporaryDirectory(prefix="e2kvm-mirrorexisting-") as tmp:
    checker.same("mirror onto an existing target", run("qemu", tmp), run("ours", tmp), "qemu",
                 "ours")

sys.exit(checker.exit_status("drive-mirror mode existing as in qemu-system-x86_64"))
