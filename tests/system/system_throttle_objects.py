#!/usr/bin/env python3
"""Objects and filter nodes of e2kvm-system against qemu-system-x86_64 -machine none -nodefaults
(-qmp stdio, as iotests 129, 202, 216, 218, 258 use them): object-add/-del of iothread and
throttle-group (limits and x- properties, QEMU's errors, a group in use), blockdev-add of
throttle nodes (errors; reads really wait for the group's rate), -object throttle-group with a
-drive driver=throttle, and copy-on-read filters that copy what a read finds in the backing
file into the top image (its allocation map after the run compared with QEMU's).
usage: system_throttle_objects.py E2KVM_SYSTEM"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img", "qemu-io")
SYSTEM = os.path.abspath(sys.argv[1])
checker = Checker(sys.stderr)


def argv(tool):
    if tool == "qemu":
        return ["qemu-system-x86_64", "-machine", "none", "-nodefaults", "-display", "none",
                "-nographic", "-qmp", "stdio", "-serial", "none"]
    return [SYSTEM, "-accel", "qtest", "-nodefaults", "-display", "none", "-nographic",
            "-qmp", "stdio", "-serial", "none"]


def session(tool, extra, commands):
    text = "".join(json.dumps(c) + "\n" for c in commands)
    start = time.monotonic()
    p = subprocess.run(argv(tool) + extra, input=text, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=120)
    elapsed = time.monotonic() - start
    out = re.sub(r'\{"QMP": .*\}\n', "QMP_VERSION\n", p.stdout)
    out = re.sub(r'"timestamp": \{[^}]*\}', "TIMESTAMP", out)
    out = re.sub(r"^(qemu-system-x86_64|e2kvm-system): ", "PROG: ", out, flags=re.M)
    out = re.sub(r"\d+ ops; .*", "OPS", out)
    return (out, p.returncode), elapsed


def same(what, extra, commands):
    q, _ = session("qemu", extra, commands)
    o, _ = session("ours", extra, commands)
    checker.same(what, q, o, "qemu", "ours")


def cmd(name, **args):
    return {"execute": name, "arguments": args} if args else {"execute": name}


def hmp(line):
    return cmd("human-monitor-command", **{"command-line": line})


CAPS, QUIT = cmd("qmp_capabilities"), cmd("quit")

same("object-add/-del", [], [
    CAPS,
    cmd("object-add", **{"qom-type": "iothread", "id": "io0"}),
    cmd("object-add", **{"qom-type": "iothread", "id": "io0"}),
    cmd("object-add", **{"qom-type": "iothread", "id": "io1", "foo": 1}),
    cmd("object-add", **{"qom-type": "throttle-group", "id": "tg",
                         "limits": {"iops-write": 1, "iops-write-max": 1}}),
    cmd("object-add", **{"qom-type": "throttle-group", "id": "tg2", "x-bps-total": 1024}),
    cmd("object-add", **{"qom-type": "throttle-group", "id": "tg3",
                         "limits": {"bps-total": -1}}),
    cmd("object-add", **{"qom-type": "throttle-group", "id": "tg3",
                         "limits": {"bps-total": 10, "bps-read": 10}}),
    cmd("object-add", **{"qom-type": "throttle-group", "id": "tg4", "limits": {"foo": 10}}),
    cmd("object-add", **{"qom-type": "throttle-group", "id": "io0"}),
    cmd("blockdev-add", driver="throttle", **{"node-name": "t", "throttle-group": "nope"},
        file={"driver": "null-co"}),
    cmd("blockdev-add", driver="throttle", **{"node-name": "t"}, file={"driver": "null-co"}),
    cmd("blockdev-add", driver="throttle", **{"node-name": "t", "throttle-group": "tg"},
        file={"driver": "null-co", "foo": 1}),
    cmd("blockdev-add", driver="throttle", **{"node-name": "t", "throttle-group": "tg"},
        file={"driver": "null-co"}),
    hmp('qemu-io t "read 0 512"'),
    cmd("object-del", id="tg"),
    cmd("object-del", id="tg2"),
    cmd("object-del", id="io0"),
    cmd("object-del", id="io0"),
    QUIT])

# The group's rate holds the reads back: 256 KiB at 64 KiB/s (a tenth of a second's worth may
# go at once) takes about 4 s in QEMU; ours must wait too.
throttled = [CAPS,
             cmd("object-add", **{"qom-type": "throttle-group", "id": "tg",
                                  "limits": {"bps-read": 65536}}),
             cmd("blockdev-add", driver="throttle", **{"node-name": "t", "throttle-group": "tg"},
                 file={"driver": "null-co", "read-zeroes": True}),
             hmp('qemu-io t "read 0 64k"'), hmp('qemu-io t "read 64k 64k"'),
             hmp('qemu-io t "read 128k 64k"'), hmp('qemu-io t "read 192k 64k"'), QUIT]
(qo, qt), (oo, ot) = session("qemu", [], throttled), session("ours", [], throttled)
checker.same("throttled reads", qo, oo, "qemu", "ours")
checker.check(qt > 2 and ot > 2, "throttled reads took qemu %.1f s, ours %.1f s" % (qt, ot))

same("-object throttle-group with -drive driver=throttle",
     ["-object", "throttle-group,id=tg0,x-bps-total=1048576", "-drive",
      "if=none,id=drive0,driver=throttle,node-name=source,throttle-group=tg0,"
      "file.driver=null-co,file.read-zeroes=on"],
     [CAPS, hmp('qemu-io drive0 "read -P 0 0 4k"'), QUIT])

# -drive throttling.* (iotest 096): the limits and the group query-block shows for the drive,
# also once a snapshot has put another node under it.
THROTTLE_KEYS = ("bps", "bps_rd", "bps_wr", "iops", "iops_rd", "iops_wr", "group", "iops_size",
                 "bps_rd_max", "bps_rd_max_length", "iops_max", "node-name")


def throttle_info(tool, drive, snapshot):
    commands = [CAPS, cmd("query-block")]
    if snapshot:
        commands += [cmd("blockdev-snapshot-sync", **{"node-name": "base"},
                         **{"snapshot-node-name": "target", "snapshot-file": snapshot,
                            "format": "qcow2"}), cmd("query-block")]
    (out, _), _ = session(tool, ["-drive", drive], commands + [QUIT])
    infos = []
    for line in out.splitlines():
        r = json.loads(line) if line.startswith("{\"return\"") else {}
        if isinstance(r.get("return"), list):
            infos.append([{k: v for k, v in d["inserted"].items() if k in THROTTLE_KEYS}
                          for d in r["return"]])
    return infos


with tempfile.TemporaryDirectory(prefix="e2kvm-throttle-") as tmp:
    img = os.path.join(tmp, "base.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", img, "1M"], check=True)
    for i, opts in enumerate(("throttling.group=mygroup,throttling.iops-total=6000,"
                              "throttling.iops-size=1024",
                              "throttling.bps-read=1000,throttling.bps-read-max=2000")):
        drive = "if=none,id=drive0,file=%s,format=qcow2,node-name=base,%s" % (img, opts)
        got = {}
        for tool in ("qemu", "ours"):
            snap = os.path.join(tmp, "%s-%d-target.qcow2" % (tool, i))
            got[tool] = throttle_info(tool, drive, snap)
        checker.same("-drive %s" % opts, got["qemu"], got["ours"], "qemu", "ours")

# copy-on-read (iotest 216's tree): what the read found in the backing file is in the top image
# afterwards.
with tempfile.TemporaryDirectory(prefix="e2kvm-cor-") as tmp:
    maps = {}
    for tool in ("qemu", "ours"):
        base = os.path.join(tmp, tool + "-base.qcow2")
        top = os.path.join(tmp, tool + "-top.qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", base, "4M"], check=True)
        subprocess.run(["qemu-io", "-c", "write -P 1 0 1M", base], check=True,
                       stdout=subprocess.DEVNULL)
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2",
                        top], check=True)
        subprocess.run(["qemu-io", "-c", "write -P 2 1M 1M", top], check=True,
                       stdout=subprocess.DEVNULL)
        tree = {"driver": "copy-on-read", "node-name": "node0", "file": {
            "driver": "raw", "file": {"driver": "copy-on-read", "file": {
                "driver": "raw", "file": {
                    "driver": "qcow2", "file": {"driver": "file", "filename": top},
                    "backing": {"driver": "qcow2",
                                "file": {"driver": "file", "filename": base}}}}}}}
        out, _ = session(tool, [], [CAPS, cmd("blockdev-add", **tree),
                                    hmp('qemu-io node0 "read 0 4M"'), QUIT])
        checker.check('"error"' not in out[0], "%s copy-on-read: %s" % (tool, out[0]))
        m = subprocess.run(["qemu-img", "map", "--output=json", top], capture_output=True,
                           text=True, check=True).stdout
        maps[tool] = [(e["start"], e["length"], e["depth"], e["data"]) for e in json.loads(m)]
    checker.same("top image after copy-on-read", maps["qemu"], maps["ours"], "qemu", "ours")

sys.exit(checker.exit_status("objects and filter nodes as in qemu-system-x86_64"))
