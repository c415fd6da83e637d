#!/usr/bin/env python3
"""The file name query-named-block-nodes shows for a qcow2 node whose backing is not the one
its header names, next to qemu-system-x86_64 (-machine none -nodefaults) given the same QMP,
as QEMU's iotest 228 reads it: QEMU names such a node by its open options as a json: name.
Nodes with generated names (which e2kvm does not list) are left out. Cases: the backing opened from a "file:" header name (plain); change-backing-file to another
name and back (json:, then plain again); a qcow2 node given as backing whose header names the
same file (plain) or another (json:); null-co as backing; no backing (backing: null); a
chain whose lowest layer has null-co as backing (json: names nested in json: names).
usage: system_json_filename.py E2KVM_SYSTEM"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402
from qmp_client import QmpClient  # noqa: E402

SKIP = 77
SYSTEM = sys.argv[1]
QEMU = shutil.which("qemu-system-x86_64")
checker = Checker(sys.stderr)
if peers.missing("qemu-system-x86_64", "qemu-img"):
    print("SKIP: needs qemu-system-x86_64 and qemu-img")
    sys.exit(SKIP)


def file(path):
    return {"driver": "file", "filename": path}


def scenario(prog, tmp):
    out = []
    p = lambda n: os.path.join(tmp, n)  # noqa: E731
    run("qemu-img", "create", "-f", "qcow2", p("base.img"), "1M")
    run("qemu-img", "create", "-f", "qcow2", "-b", "file:" + p("base.img"), "-F", "qcow2",
        p("top.img"))
    run("qemu-img", "create", "-f", "qcow2", "-b", p("base.img"), "-F", "qcow2", p("mid.img"))
    sock = p("qmp.sock")
    argv = [prog, "-machine", "none", "-nodefaults", "-display", "none"]
    if prog != QEMU:
        argv += ["-serial", "none", "-S"]
    argv += ["-qmp", "unix:%s,server=on,wait=off" % sock]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE)
    q = QmpClient(sock, timeout=60)

    def cmd(command, **args):
        return json.loads(json.dumps(q.cmd(command, **args)).replace(tmp, "TMP"))

    def names(label):
        nodes = cmd("query-named-block-nodes")["return"]
        out.append([label] + sorted(
            (n["node-name"], n["file"], n["image"]["filename"],
             n["image"].get("backing-image", {}).get("filename"),
             n["image"].get("full-backing-filename"))
            for n in nodes if n["drv"] != "file" and not n["node-name"].startswith("#")))

    try:
        out.append(cmd("blockdev-add", **{"node-name": "top", "driver": "qcow2",
                                          "file": file(p("top.img"))}))
        names("implicit backing")
        for name in ("null-co://", "file:" + p("base.img"), p("base.img")):
            out.append(cmd("change-backing-file", **{"device": "top",
                                                     "image-node-name": "top",
                                                     "backing-file": name}))
            names("header says " + name.replace(tmp, "TMP"))
        out.append(cmd("blockdev-del", **{"node-name": "top"}))
        out.append(cmd("blockdev-add", **{"node-name": "base", "driver": "qcow2",
                                          "file": file(p("base.img"))}))
        out.append(cmd("blockdev-add", **{"node-name": "mid", "driver": "qcow2",
                                          "file": file(p("mid.img")), "backing": "base"}))
        out.append(cmd("blockdev-add", **{"node-name": "top", "driver": "qcow2",
                                          "file": file(p("top.img")), "backing": "base"}))
        names("backing given as a node")
        out.append(cmd("blockdev-del", **{"node-name": "top"}))
        out.append(cmd("blockdev-del", **{"node-name": "mid"}))
        out.append(cmd("blockdev-del", **{"node-name": "base"}))
        out.append(cmd("blockdev-add", **{"node-name": "null", "driver": "null-co"}))
        out.append(cmd("blockdev-add", **{"node-name": "top", "driver": "qcow2",
                                          "file": file(p("top.img")), "backing": "null"}))
        names("null-co as backing")
        out.append(cmd("blockdev-del", **{"node-name": "top"}))
        out.append(cmd("blockdev-add", **{"node-name": "top", "driver": "qcow2",
                                          "file": file(p("top.img")), "backing": None}))
        names("no backing")
        out.append(cmd("blockdev-del", **{"node-name": "top"}))
        out.append(cmd("blockdev-del", **{"node-name": "null"}))
        out.append(cmd("blockdev-add", **{
            "node-name": "mid", "driver": "qcow2", "file": file(p("mid.img")),
            "backing": {"node-name": "base", "driver": "qcow2", "file": file(p("base.img")),
                        "backing": {"driver": "null-co"}}}))
        names("null-co under the lowest layer")
    finally:
        q.cmd("quit")
        proc.communicate(timeout=30)
    return out


tmp = tempfile.mkdtemp(prefix="e2kvm-jsonname-")
try:
    results = {}
    for who, prog in (("qemu", QEMU), ("ours", SYSTEM)):
        d = os.path.join(tmp, who)
        os.makedirs(d)
        results[who] = scenario(prog, d)
    checker.same("json: file names", json.dumps(results["qemu"], indent=1),
                 json.dumps(results["ours"], indent=1), "qemu-system", "e2kvm-system")
    if os.environ.get("E2KVM_TEST_VERBOSE"):
        print(json.dumps(results["ours"], indent=1))
finally:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(checker.exit_status("system_json_filename: all checks passed"))
