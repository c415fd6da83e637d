#!/usr/bin/env python3
"""Block drivers beyond qcow2/raw/file through e2kvm-system's -drive and blockdev-add, against
qemu-system-x86_64 -machine none -nodefaults with -qmp stdio (as iotests 056, 071 run them):
-drive options handed to the drivers (driver=blkdebug,align=, unknown keys refused with QEMU's
messages), blockdev-add of blkdebug over a file node and of blkverify with a child by
reference (the mismatch ends the process), blockdev-add's unexpected-key errors, and the
order of the output at quit: the flush errors of closing the images before quit's reply.
usage: system_driver_nodes.py E2KVM_SYSTEM"""
import json
import os
import re
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img", "qemu-io")
SYSTEM = os.path.abspath(sys.argv[1])
QEMU = "qemu-system-x86_64"
checker = Checker(sys.stderr)


def argv(tool):
    if tool == "qemu":
        return [QEMU, "-machine", "none", "-nodefaults", "-display", "none", "-nographic",
                "-qmp", "stdio", "-serial", "none"]
    return [SYSTEM, "-accel", "qtest", "-nodefaults", "-display", "none", "-nographic",
            "-qmp", "stdio", "-serial", "none"]


def session(tool, extra, commands):
    """stdout and stderr together, as iotests read them, with the greeting, timestamps,
    program names and qemu-io timings made comparable; and the exit status."""
    text = "".join(c if isinstance(c, str) else json.dumps(c) + "\n"
                   for c in commands)
    p = subprocess.run(argv(tool) + extra, input=text, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60)
    out = p.stdout
    out = re.sub(r'\{"QMP": .*\}\n', "QMP_VERSION\n", out)
    out = re.sub(r'"timestamp": \{[^}]*\}', "TIMESTAMP", out)
    out = re.sub(r"^(qemu-system-x86_64|e2kvm-system): ", "PROG: ", out, flags=re.M)
    out = re.sub(r"\d+ ops; .*", "OPS", out)
    return out, p.returncode


def same(what, extra, commands):
    q = session("qemu", extra, commands)
    o = session("ours", extra, commands)
    checker.same(what, q, o, "qemu", "ours")


def hmp(line):
    return {"execute": "human-monitor-command", "arguments": {"command-line": line}}


CAPS = {"execute": "qmp_capabilities"}
QUIT = {"execute": "quit"}

with tempfile.TemporaryDirectory(prefix="e2kvm-drvnodes-") as tmp:
    img = os.path.join(tmp, "t.qcow2")
    base = os.path.join(tmp, "t.base")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", img, "1M"], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", base, "1M"], check=True)
    subprocess.run(["qemu-io", "-c", "write -P 0x11 0 64k", img], check=True,
                   stdout=subprocess.DEVNULL)

    # -drive: options for the drivers, and the keys no driver takes.
    for spec in ("file=%s,foo=bar" % img, "file=%s,driver=blkdebug,foo=1" % img,
                 "file=%s,format=qcow2,file.driver=file,file.foo=1" % img,
                 "file=%s,driver=nosuchdriver" % img):
        q = session("qemu", ["-drive", spec], [CAPS, QUIT])
        o = session("ours", ["-drive", spec], [CAPS, QUIT])
        checker.same("-drive %s" % spec, q[0].strip().splitlines()[-1:],
                     o[0].strip().splitlines()[-1:], "qemu", "ours")
    same("-drive driver=blkdebug,align=",
         ["-drive", "if=none,id=drive0,file=blkdebug::null-co://,align=65536,driver=blkdebug"],
         [CAPS, hmp('qemu-io drive0 "read 0 512"'), hmp('qemu-io drive0 "write 512 512"'),
          QUIT])
    same("-drive file.driver=blkdebug with inline rules",
         ["-drive", "if=none,id=drive0,file=%s,format=qcow2,file.driver=blkdebug,"
          "file.inject-error.0.event=read_aio" % img],
         [CAPS, hmp('qemu-io drive0 "read 0 512"'), QUIT])

    file_node = {"execute": "blockdev-add", "arguments": {
        "node-name": "drive0", "driver": "file", "filename": img}}
    # blkdebug over a file node: the injected error, then the flush errors of closing the
    # image before quit's reply.
    same("blkdebug over a file node", [], [
        CAPS, file_node,
        {"execute": "blockdev-add", "arguments": {
            "driver": "qcow2", "node-name": "drive0-debug",
            "file": {"driver": "blkdebug", "image": "drive0",
                     "inject-error": [{"event": "read_aio", "state": 42}],
                     "set-state": [{"event": "write_aio", "new_state": 42}]}}},
        hmp('qemu-io drive0-debug "read 0 512"'), hmp('qemu-io drive0-debug "write 0 512"'),
        hmp('qemu-io drive0-debug "read 0 512"'), QUIT])
    # blkverify: the test image by reference to a qcow2 node; the mismatch ends the process.
    same("blkverify over a node", [], [
        CAPS,
        {"execute": "blockdev-add", "arguments": {
            "node-name": "drive0", "driver": "qcow2",
            "file": {"driver": "file", "filename": img}}},
        {"execute": "blockdev-add", "arguments": {
            "driver": "blkverify", "node-name": "v", "test": "drive0",
            "raw": {"driver": "file", "filename": base}}},
        hmp('qemu-io v "read 0 512"'), QUIT])
    same("blkverify with the raw image by reference", [], [
        CAPS,
        {"execute": "blockdev-add", "arguments": {
            "node-name": "drive0", "driver": "file", "filename": base}},
        {"execute": "blockdev-add", "arguments": {
            "driver": "blkverify", "node-name": "v",
            "test": {"driver": "qcow2", "file": {"driver": "file", "filename": img}},
            "raw": "drive0"}},
        hmp('qemu-io v "read 65536 512"'), hmp('qemu-io v "read 0 512"'), QUIT])
    # What blockdev-add refuses, in QEMU's words.
    same("blockdev-add errors", [], [
        CAPS,
        {"execute": "blockdev-add", "arguments": {
            "driver": "blkdebug", "node-name": "a", "image": {"driver": "null-co", "foo": 1}}},
        {"execute": "blockdev-add", "arguments": {
            "driver": "blkdebug", "node-name": "a", "foo": 1, "image": {"driver": "null-co"}}},
        {"execute": "blockdev-add", "arguments": {
            "driver": "blkverify", "node-name": "a", "test": "nope",
            "raw": {"driver": "null-co"}}},
        {"execute": "blockdev-add", "arguments": {
            "driver": "blkdebug", "node-name": "b", "image": {"driver": "null-co"}}},
        hmp('qemu-io b "read 0 512"'), QUIT])

# -blockdev nodes exist before the drives (iotest 255): a -drive takes one as its backing node,
# here through a throttle filter.
with tempfile.TemporaryDirectory(prefix="e2kvm-drvnodes-") as tmp:
    base, mid, top = (os.path.join(tmp, n) for n in ("base.qcow2", "mid.qcow2", "top.qcow2"))
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base, "1M"], check=True)
    subprocess.run(["qemu-io", "-c", "write -P 0x22 0 64k", base], check=True,
                   stdout=subprocess.DEVNULL)
    for upper, lower in ((mid, base), (top, mid)):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", lower, "-F", "qcow2",
                        upper], check=True)
    subprocess.run(["qemu-io", "-c", "write -P 0x33 64k 64k", mid], check=True,
                   stdout=subprocess.DEVNULL)
    same("-drive backing= a -blockdev node",
         ["-object", "throttle-group,x-bps-read=1048576,id=throttle0",
          "-blockdev", "file,filename=%s,node-name=base-file" % base,
          "-blockdev", "qcow2,file=base-file,node-name=base",
          "-blockdev", "throttle,throttle-group=throttle0,file=base,node-name=throttled",
          "-blockdev", "file,filename=%s,node-name=mid-file" % mid,
          "-blockdev", "qcow2,file=mid-file,node-name=mid,backing=throttled",
          "-drive", "if=none,id=overlay,driver=qcow2,file=%s,backing=mid" % top],
         [CAPS, hmp('qemu-io overlay "read -P 0x22 0 64k"'),
          hmp('qemu-io overlay "read -P 0x33 64k 64k"'),
          hmp('qemu-io overlay "read -P 0 128k 64k"'), QUIT])

# drive-backup with format "file" (iotest 056): the target is created as a plain file of the
# source's size; without format, a blkdebug source's own format cannot create it.
with tempfile.TemporaryDirectory(prefix="e2kvm-drvnodes-") as tmp:
    sizes = {}
    for tool in ("qemu", "ours"):
        target = os.path.join(tmp, tool + "-target.img")
        commands = [CAPS,
                    {"execute": "drive-backup", "arguments": {
                        "device": "drive0", "sync": "full", "target": target + ".x"}},
                    {"execute": "drive-backup", "arguments": {
                        "device": "drive0", "sync": "full", "target": target,
                        "format": "file"}}, QUIT]
        out, status = session(tool, ["-drive", "if=none,id=drive0,file=blkdebug::null-co://,"
                                     "driver=blkdebug,align=65536"], commands)
        replies = [line for line in out.splitlines() if '"return"' in line or '"error"' in line]
        sizes[tool] = (replies, os.path.getsize(target) if os.path.exists(target) else None)
    checker.same("drive-backup format=file", sizes["qemu"], sizes["ours"], "qemu", "ours")

sys.exit(checker.exit_status("driver nodes as in qemu-system-x86_64"))
