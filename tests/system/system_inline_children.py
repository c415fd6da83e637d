#!/usr/bin/env python3
"""Inline child definitions in blockdev-add and -blockdev, against qemu-system-x86_64
-machine none -nodefaults with -qmp stdio (as iotests 258, stream-under-throttle and
stream-error-on-reset give them): a named inline child (backing, file, under an unnamed
filter) is a node of its own that commands find by name; it is not the monitor's to delete,
goes when its parent goes, and a parent that fails to open takes its children with it; an
unnamed inline backing file; copy-on-read with a bottom node (iotest 310: what the chain holds
below the bottom node is not copied, the top image's map after it as QEMU leaves it); a
-blockdev list given by dotted indexes (file.inject-error.0.event=...) is a list.
usage: system_inline_children.py E2KVM_SYSTEM"""
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

peers.require("qemu-system-x86_64", "qemu-img", "qemu-io")
SYSTEM = os.path.abspath(sys.argv[1])
checker = Checker(sys.stderr)


def argv(tool):
    return stdio_qmp_argv(tool, SYSTEM)


def session(tool, extra, commands):
    """The replies, events left out, with names sorted where the order is QEMU's own; and
    the exit status."""
    text = "".join(json.dumps(c) + "\n" for c in commands)
    p = subprocess.run(argv(tool) + extra, input=text, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    replies = []
    for line in p.stdout.splitlines():
        line = re.sub(r"^(qemu-system-x86_64|e2kvm-system): ", "PROG: ", line)
        line = re.sub(r"\d+ ops; .*", "OPS", line)
        try:
            msg = json.loads(line)
        except ValueError:
            replies.append(line)
            continue
        if "QMP" in msg or "event" in msg:
            continue
        ret = msg.get("return")
        if isinstance(ret, list) and ret and isinstance(ret[0], dict) and "node-name" in ret[0]:
            msg = {"nodes": sorted(n["node-name"] for n in ret
                                   if not n["node-name"].startswith("#"))}
        replies.append(msg)
    return replies, p.returncode


def same(what, extra, commands):
    checker.same(what, session("qemu", extra, commands), session("ours", extra, commands),
                 "qemu", "ours")


def add(args):
    return {"execute": "blockdev-add", "arguments": args}


def hmp(line):
    return {"execute": "human-monitor-command", "arguments": {"command-line": line}}


CAPS = {"execute": "qmp_capabilities"}
QUIT = {"execute": "quit"}
NODES = {"execute": "query-named-block-nodes", "arguments": {"flat": True}}

with tempfile.TemporaryDirectory(prefix="e2kvm-inline-") as tmp:
    base = os.path.join(tmp, "base.raw")
    mid = os.path.join(tmp, "mid.qcow2")
    top = os.path.join(tmp, "top.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", base, "1M"], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", mid, "1M"], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", top, "1M"], check=True)
    subprocess.run(["qemu-io", "-f", "raw", "-c", "write -P 0x22 0 64k", base], check=True,
                   stdout=subprocess.DEVNULL)

    chain = {"driver": "qcow2", "node-name": "top",
             "file": {"driver": "file", "filename": top},
             "backing": {"driver": "qcow2", "node-name": "mid",
                         "file": {"driver": "file", "node-name": "mid-file",
                                  "filename": mid},
                         "backing": {"driver": "raw", "node-name": "base",
                                     "file": {"driver": "file", "filename": base}}}}
    same("a chain given inline: its named nodes", [], [
        CAPS, add(chain), NODES,
        hmp('qemu-io base "read -P 0x22 0 64k"'), hmp('qemu-io top "read -P 0x22 0 64k"'),
        {"execute": "blockdev-del", "arguments": {"node-name": "mid"}},
        {"execute": "blockdev-del", "arguments": {"node-name": "mid-file"}},
        {"execute": "blockdev-del", "arguments": {"node-name": "top"}}, NODES,
        add(chain), NODES, QUIT])

    broken = json.loads(json.dumps(chain))
    broken["file"]["filename"] = os.path.join(tmp, "missing.qcow2")
    same("a parent that does not open takes its inline children with it", [], [
        CAPS, add(broken), NODES, add(chain), NODES, QUIT])

    throttled = {"driver": "throttle", "node-name": "throttled", "throttle-group": "tg",
                 "file": {"driver": "throttle", "throttle-group": "tg",
                          "file": {"driver": "qcow2", "node-name": "inner",
                                   "file": {"driver": "file", "filename": mid}}}}
    same("a named node under an unnamed filter", [], [
        CAPS, {"execute": "object-add", "arguments": {"qom-type": "throttle-group",
                                                      "id": "tg"}},
        add(throttled), NODES, hmp('qemu-io inner "write -P 0x33 0 4k"'),
        hmp('qemu-io throttled "read -P 0x33 0 4k"'), QUIT])

    same("-blockdev with a list by dotted indexes", [
        "-blockdev", "driver=qcow2,node-name=top,file.driver=blkdebug,file.node-name=dbg,"
        "file.inject-error.0.event=pwritev,file.inject-error.0.immediately=true,"
        "file.inject-error.0.once=true,"
        "file.image.driver=file,file.image.filename=" + top], [
        CAPS, NODES, hmp('qemu-io top "write 0 4k"'), hmp('qemu-io top "write 0 4k"'), QUIT])

    # copy-on-read with a bottom node, over a chain given inline (iotest 310).
    cor_top = os.path.join(tmp, "cor-top.qcow2")
    cor_mid = os.path.join(tmp, "cor-mid.qcow2")
    cor_base = os.path.join(tmp, "cor-base.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", cor_base, "8M"], check=True)
    for pattern in ("write -P 1 0 1M", "write -P 1 3M 1M"):
        subprocess.run(["qemu-io", "-c", pattern, cor_base], check=True,
                       stdout=subprocess.DEVNULL)
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", cor_base, "-F", "qcow2",
                    cor_mid], check=True)
    for pattern in ("write -P 3 2M 1M", "write -P 3 4M 1M"):
        subprocess.run(["qemu-io", "-c", pattern, cor_mid], check=True,
                       stdout=subprocess.DEVNULL)
    cor = {"driver": "copy-on-read", "node-name": "node0", "bottom": "node2",
           "file": {"driver": "qcow2", "file": {"driver": "file", "filename": cor_top},
                    "backing": {"driver": "qcow2", "node-name": "node2",
                                "file": {"driver": "file", "filename": cor_mid},
                                "backing": {"driver": "qcow2",
                                            "file": {"driver": "file",
                                                     "filename": cor_base}}}}}
    maps = {}
    for tool in ("qemu", "ours"):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", cor_mid, "-F",
                        "qcow2", cor_top], check=True)
        subprocess.run(["qemu-io", "-c", "write -P 2 1M 1M", cor_top], check=True,
                       stdout=subprocess.DEVNULL)
        replies = session(tool, [], [CAPS, add(cor), hmp('qemu-io node0 "read 0 5M"'), QUIT])
        layers = subprocess.run(["qemu-img", "map", "--output=json", "-f", "qcow2", cor_top],
                                check=True, stdout=subprocess.PIPE, text=True).stdout
        maps[tool] = (replies, [(e["start"], e["length"], e["depth"], e["data"])
                                for e in json.loads(layers)])
        os.unlink(cor_top)
    checker.same("copy-on-read with a bottom node", maps["qemu"], maps["ours"], "qemu",
                 "ours")
    same("copy-on-read: a bottom node that is missing, then one of the chain", [], [
        CAPS, add(chain), add({"driver": "copy-on-read", "node-name": "cor",
                               "bottom": "nosuch", "file": "top"}),
        add({"driver": "copy-on-read", "node-name": "cor", "bottom": "mid", "file": "top"}),
        QUIT])

sys.exit(checker.exit_status("inline children as in qemu-system-x86_64"))
