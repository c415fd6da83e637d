#!/usr/bin/env python3
"""block-commit in a chain with throttle filters (iotest 040 TestCommitWithFilters), in
e2kvm-system as in qemu-system-x86_64 (-machine pc, for the scsi-hd a case plugs). One
blockdev-add makes top-filter (throttle) over cow-3 <- cow-2 <- cow-1 <- bottom-filter
(throttle) over cow-0, all qcow2 with 1 MiB of their own data each. The cases:
1. filterless: commit cow-2 into cow-1; cow-2 (held by nothing else) goes away.
2. through: commit cow-1 into cow-0 through bottom-filter; both go away.
3. with filter: a scsi-hd on top-filter, active commit of device top-filter into cow-2: after
   complete the disk is on cow-2 and top-filter (the monitor's node) stays, with cow-3, until
   blockdev-del takes both.
4. without filter: active commit of top-node cow-3 (the active layer under the filter) into
   cow-2: top-filter then stands over cow-2 and cow-3 goes away.
The replies, job events, node names and drivers (not the backing file names, which QEMU spells
as json: through filters) and which image holds which data afterwards must be QEMU's.
usage: system_commit_filtered_chain.py E2KVM_SYSTEM"""
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
from system_harness import SystemProcess  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img", "qemu-io")
SYSTEM = os.path.abspath(sys.argv[1])
checker = Checker(sys.stderr)


def machine_argv(tool, sock):
    args = ["-nodefaults", "-display", "none", "-qmp", "unix:%s,server=on,wait=off" % sock,
            "-device", "virtio-scsi,id=vio-scsi"]
    if tool == "qemu":
        return ["qemu-system-x86_64", "-machine", "pc", "-accel", "tcg", "-S"] + args
    return [SYSTEM, "-accel", "qtest"] + args


def reply(r):
    return r["error"]["desc"] if "error" in r else r["return"]


def nodes(q):
    return sorted([n["node-name"], n["drv"]] for n in q.cmd("query-named-block-nodes")["return"]
                  if not n["node-name"].startswith("#"))


def tree(imgs):
    def qcow2(i, name, backing=None):
        node = {"node-name": name, "driver": "qcow2",
                "file": {"driver": "file", "filename": imgs[i]}}
        if backing:
            node["backing"] = backing
        return node
    bottom = {"node-name": "bottom-filter", "driver": "throttle", "throttle-group": "tg",
              "file": qcow2(0, "cow-0")}
    chain = qcow2(3, "cow-3", qcow2(2, "cow-2", qcow2(1, "cow-1", bottom)))
    return {"node-name": "top-filter", "driver": "throttle", "throttle-group": "tg",
            "file": chain}


def patterns(imgs):
    """For each image, which of the four 1 MiB patterns (image i wrote pattern i+1 at i MiB)
    reading it gives."""
    out = []
    for img in imgs:
        found = []
        for i in range(4):
            r = subprocess.run(["qemu-io", "-r", "-f", "qcow2", "-c",
                                "read -P %d %dM 1M" % (i + 1, i), img],
                               capture_output=True, text=True)
            found.append(r.returncode == 0 and "verification failed" not in r.stdout)
        out.append(found)
    return out


def run(tool, tmp, case):
    imgs = [os.path.join(tmp, "%d.img" % i) for i in range(4)]
    for i, img in enumerate(imgs):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", img, "64M"], check=True)
        subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P %d %dM 1M" % (i + 1, i), img],
                       check=True, stdout=subprocess.DEVNULL)
    sock = os.path.join(tmp, "qmp.sock")
    p = SystemProcess(machine_argv(tool, sock))
    out = []
    try:
        q = QmpClient(sock)

        def cmd(command, **args):
            out.append([command, reply(q.cmd(command, **args))])
            return out[-1][1]

        def wait(event):
            e = q.wait_event(event, 30)
            out.append([event, e and e["data"]])
            return e

        cmd("object-add", **{"qom-type": "throttle-group", "id": "tg"})
        cmd("blockdev-add", **tree(imgs))
        out.append(nodes(q))
        if case == "filterless":
            if cmd("block-commit", **{"job-id": "commit", "device": "top-filter",
                                      "top-node": "cow-2", "base-node": "cow-1",
                                      "backing-file": imgs[1]}) == {}:
                wait("BLOCK_JOB_COMPLETED")
        elif case == "through":
            if cmd("block-commit", **{"job-id": "commit", "device": "top-filter",
                                      "top-node": "cow-1", "base-node": "cow-0",
                                      "backing-file": imgs[0]}) == {}:
                wait("BLOCK_JOB_COMPLETED")
        else:
            if case == "with filter":
                cmd("device_add", id="drv0", driver="scsi-hd", bus="vio-scsi.0",
                    drive="top-filter")
                cmd("blockdev-del", **{"node-name": "top-filter"})
                args = {"job-id": "commit", "device": "top-filter", "base-node": "cow-2"}
            else:
                args = {"job-id": "commit", "device": "top-filter", "top-node": "cow-3",
                        "base-node": "cow-2"}
            if cmd("block-commit", **args) == {} and wait("BLOCK_JOB_READY"):
                cmd("block-job-complete", device="commit")
                wait("BLOCK_JOB_COMPLETED")
            if case == "with filter":
                out.append(nodes(q))
                cmd("blockdev-del", **{"node-name": "top-filter"})
                out.append(sorted([b.get("qdev"), b.get("inserted", {}).get("node-name")]
                                  for b in q.cmd("query-block")["return"]))
        out.append(nodes(q))
        q.cmd("quit")
        p.wait(30)
    finally:
        p.kill()
    out.append(patterns(imgs))
    return json.loads(json.dumps(out).replace(tmp + "/", ""))


with tempfile.TemporaryDirectory(prefix="e2kvm-commitfilt-") as tmp:
    for case in ("filterless", "through", "with filter", "without filter"):
        results = {}
        for tool in ("qemu", "ours"):
            d = os.path.join(tmp, "%s-%s" % (tool, case.replace(" ", "-")))
            os.mkdir(d)
            results[tool] = json.dumps(run(tool, d, case), indent=1)
        checker.same(case, results["qemu"], results["ours"], "qemu-system", "e2kvm-system")

sys.exit(checker.exit_status("block-commit in a chain with filters as in qemu-system-x86_64"))
