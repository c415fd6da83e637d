#!/usr/bin/env python3
"""query-named-block-nodes and x-debug-query-block-graph as qemu-system-x86_64 -machine none
gives them (iotest 273): nodes newest first, protocol file nodes and format nodes in one
creation order; blockdev-snapshot with a file node as the new backing (it shows as format
"file", read-only, in its overlay's backing-image chain, and the overlay keeps its plain file
name); graph ids as met in creation order, file and backing edges with their permissions.
usage: system_block_graph.py E2KVM_SYSTEM"""
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


def make_chain(tmp):
    base, mid, top = (os.path.join(tmp, n + ".qcow2") for n in ("base", "mid", "top"))
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base, "64M"], check=True)
    for image, below in ((mid, base), (top, mid)):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", below, "-F", "qcow2",
                        image], check=True)
    return base, mid, top


def without_sizes(value):
    if isinstance(value, dict):
        return {k: without_sizes(v) for k, v in value.items() if k != "actual-size"}
    if isinstance(value, list):
        return [without_sizes(v) for v in value]
    return value


def snapshot_of(q, node, overlay):
    r = q.cmd("blockdev-snapshot", node=node, overlay=overlay)
    return r.get("error", {}).get("desc", "ok")


def queries(q, tmp):
    text = json.dumps([without_sizes(q.execute("query-named-block-nodes")),
                       q.execute("x-debug-query-block-graph")])
    return json.loads(text.replace(tmp, "DIR"))


def file_node_backing(tool, tmp):
    """iotest 273: the chain's nodes on the command line, the base a plain file node."""
    tmp = os.path.join(tmp, tool + "-file")
    os.mkdir(tmp)
    base, mid, top = make_chain(tmp)
    sock = os.path.join(tmp, "qmp.sock")
    p = SystemProcess(machine_argv(
        tool, sock,
        "-blockdev", "file,node-name=base,filename=" + base,
        "-blockdev", "file,node-name=midf,filename=" + mid,
        "-blockdev", '{"driver":"qcow2","node-name":"mid","file":"midf","backing":null}',
        "-blockdev", "file,node-name=topf,filename=" + top,
        "-blockdev", '{"driver":"qcow2","file":"topf","node-name":"top","backing":null}'))
    out = []
    try:
        q = QmpClient(sock)
        out.append(queries(q, tmp))
        out.append(snapshot_of(q, "base", "mid"))
        out.append(queries(q, tmp))
        out.append(snapshot_of(q, "mid", "top"))
        out.append(queries(q, tmp))
        q.execute("quit")
        p.wait(30)
    finally:
        p.kill()
    return out


def format_chain(tool, tmp):
    """The same chain all qcow2, added over QMP, and a node added after the snapshots."""
    tmp = os.path.join(tmp, tool + "-format")
    os.mkdir(tmp)
    base, mid, top = make_chain(tmp)
    sock = os.path.join(tmp, "qmp.sock")
    p = SystemProcess(machine_argv(tool, sock))
    out = []
    try:
        q = QmpClient(sock)
        for name, path in (("basef", base), ("midf", mid), ("topf", top)):
            out.append(q.cmd("blockdev-add", driver="file", filename=path, **{"node-name": name}))
        out.append(q.cmd("blockdev-add", driver="qcow2", file="basef", **{"node-name": "base"}))
        for name in ("mid", "top"):
            out.append(q.cmd("blockdev-add", driver="qcow2", file=name + "f", backing=None,
                             **{"node-name": name}))
        out.append(queries(q, tmp))
        out.append(snapshot_of(q, "base", "mid"))
        out.append(snapshot_of(q, "mid", "top"))
        out.append(q.cmd("blockdev-add", driver="file", filename=base, **{"node-name": "late"}))
        out.append(queries(q, tmp))
        q.execute("quit")
        p.wait(30)
    finally:
        p.kill()
    return out


with tempfile.TemporaryDirectory(prefix="e2kvm-graph-") as tmp:
    for scenario in (file_node_backing, format_chain):
        checker.same(scenario.__name__, scenario("qemu", tmp), scenario("ours", tmp),
                     "qemu", "ours")

sys.exit(checker.exit_status("node lists and block graphs as in qemu-system-x86_64"))
