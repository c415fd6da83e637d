#!/usr/bin/env python3
"""block-commit names its top and base by file name, and a chain whose bottom has another
backing than its header names (null-co here) has json:{...} names only (iotest 224): ours finds
the layers by those names as qemu-system-x86_64 -machine none does, with and without a
filter-node-name, and the base holds the committed data afterwards.
usage: system_commit_json_names.py E2KVM_SYSTEM"""
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


def layer(name, path, backing):
    return {"node-name": name, "driver": "qcow2", "backing": backing,
            "file": {"driver": "file", "filename": path}}


def run(tool, tmp, filter_node):
    out = []
    tmp = os.path.join(tmp, "%s-%s" % (tool, filter_node))
    os.mkdir(tmp)
    base, mid, top = (os.path.join(tmp, n + ".qcow2") for n in ("base", "mid", "top"))
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base, "64M"], check=True)
    for image, below in ((mid, base), (top, mid)):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", below, "-F", "qcow2",
                        image], check=True)
    subprocess.run(["qemu-io", "-c", "write -P 1 0 1M", mid], check=True,
                   stdout=subprocess.DEVNULL)
    sock = os.path.join(tmp, "qmp.sock")
    p = SystemProcess(machine_argv(tool, sock))
    try:
        q = QmpClient(sock)
        tree = layer("top", top, layer("mid", mid, layer("base", base, {"driver": "null-co"})))
        out.append(q.cmd("blockdev-add", **tree))
        names = {n["node-name"]: n["image"]["filename"]
                 for n in q.execute("query-named-block-nodes") if "node-name" in n}
        out.append([names[n].startswith("json:") for n in ("mid", "base")])
        args = {"job-id": "commit", "device": "top", "top": names["mid"], "base": names["base"]}
        if filter_node:
            args["filter-node-name"] = "filter_node"
        out.append(q.cmd("block-commit", **args))
        done = q.wait_event("BLOCK_JOB_COMPLETED")
        out.append(done and {k: done["data"][k] for k in ("device", "len", "offset")})
        if done:
            q.execute("quit")
            q.close()
            p.wait(30)
    finally:
        p.kill()
    r = subprocess.run(["qemu-io", "-f", "qcow2", "-r", "-c", "read -P 1 0 1M", base],
                       capture_output=True, text=True)
    out.append(r.stdout.splitlines()[:1])
    return out


with tempfile.TemporaryDirectory(prefix="e2kvm-commitjson-") as tmp:
    for filter_node in (False, True):
        checker.same("filter-node-name %s" % filter_node, run("qemu", tmp, filter_node),
                     run("ours", tmp, filter_node), "qemu", "ours")

sys.exit(checker.exit_status("block-commit by json: names as in qemu-system-x86_64"))
