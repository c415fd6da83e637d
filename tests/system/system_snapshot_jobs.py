#!/usr/bin/env python3
"""QMP snapshot-save, snapshot-load and snapshot-delete (jobs over a list of -blockdev nodes) in
e2kvm-system -accel qtest next to qemu-system-x86_64 -machine none: the replies, the
JOB_STATUS_CHANGE events of each job, query-jobs with the errors QEMU gives (unknown node, an
empty list, a node that keeps no snapshots, a vmstate node not in the list or without the
state, a tag that exists or is missing), the disk contents a snapshot-load reverts to, and the
images afterwards as qemu-img sees them (snapshot -l, check); HMP savevm over a lone
protocol node.
With a running machine (a guest in e2kvm): STOP and RESUME inside the jobs' events, a failed
load leaving the machine stopped.
usage: system_snapshot_jobs.py E2KVM_SYSTEM ECHO_KERNEL"""
import os
import re
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checker  # noqa: E402
import peers  # noqa: E402
from qmp_client import QmpClient  # noqa: E402
from peer_machine import machine_argv_for  # noqa: E402
from system_harness import SystemProcess  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img", "qemu-io")
SYSTEM = os.path.abspath(sys.argv[1])
ECHO = os.path.abspath(sys.argv[2])  # a guest that waits for serial input: it runs on
checker = Checker(sys.stderr)
machine_argv = machine_argv_for(SYSTEM)

# A snapshot line of qemu-img snapshot -l: the VM state's size, dates and clocks differ between
# the two machines (their states differ); whether the size is zero does not.
LINE = re.compile(r"^(\S+)\s+(\S+)\s+([\d.]+ \S*B)\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+"
                  r"\d\d:\d\d:\d\d\.\d{3}\s*(\d*)$")


def normalized(text):
    out = []
    for line in text.split("\n"):
        m = LINE.match(line)
        if m:
            size = "0 B" if m.group(3) == "0 B" else "SIZE"
            line = "%s %s %s %s" % (m.group(1), m.group(2), size, m.group(4))
        out.append(line)
    return out


def save(job, tag, vmstate, devices):
    return ("snapshot-save", {"job-id": job, "tag": tag, "vmstate": vmstate, "devices": devices})


def load(job, tag, vmstate, devices):
    return ("snapshot-load", {"job-id": job, "tag": tag, "vmstate": vmstate, "devices": devices})


def delete(job, tag, devices):
    return ("snapshot-delete", {"job-id": job, "tag": tag, "devices": devices})


def hmp(line):
    return ("human-monitor-command", {"command-line": line})


STEPS = [
    save("s-ok", "s1", "da", ["da", "db"]),
    save("s-ok", "s9", "da", ["da"]),  # the concluded job's id is still in use
    hmp('qemu-io da "write -P 0x11 0 64k"'),
    save("s-exists", "s1", "da", ["da", "db"]),
    save("s-vm-unknown", "s2", "dx", ["da", "db"]),
    save("s-vm-unlisted", "s2", "db", ["da"]),
    save("s-unknown", "s2", "da", ["da", "nope"]),
    save("s-raw", "s2", "da", ["da", "dc"]),
    save("s-empty", "s2", "da", []),
    save("s-file", "s2", "fa", ["fa"]),
    save("s-partial", "onlya", "da", ["da", "db"]),  # only on da: taken again on both
    ("snapshot-save", {"job-id": "s-noargs", "tag": "x", "vmstate": "da"}),
    load("l-ok", "s1", "da", ["da", "db"]),
    load("l-missing", "nope", "da", ["da", "db"]),
    load("l-partial", "onlyb", "da", ["da", "db"]),
    load("l-diskonly", "diskonly", "da", ["da", "db"]),
    load("l-vm-nostate", "s1", "db", ["da", "db"]),
    load("l-vm-unlisted", "s1", "dc", ["da", "db"]),
    load("l-unknown", "s1", "da", ["da", "nope"]),
    delete("d-missing", "nope", ["da", "db"]),
    delete("d-raw", "s1", ["da", "dc"]),
    delete("d-one", "s1", ["db"]),
    delete("d-empty", "s1", []),
    delete("d-unknown", "s1", ["x"]),
]


def concluded(q, job_id, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        for j in q.execute("query-jobs"):
            if j["id"] == job_id and j["status"] == "concluded":
                return j
        time.sleep(0.05)
    return None


def run_tool(tool, tmp):
    tmp = os.path.join(tmp, tool)
    os.mkdir(tmp)
    a, b, c = (os.path.join(tmp, n) for n in ("a.qcow2", "b.qcow2", "c.raw"))
    for img in (a, b):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", img, "1M"], check=True)
        subprocess.run(["qemu-img", "snapshot", "-c", "diskonly", img], check=True)
    subprocess.run(["qemu-img", "snapshot", "-c", "onlya", a], check=True)
    subprocess.run(["qemu-img", "snapshot", "-c", "onlyb", b], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", c, "1M"], check=True)
    blockdevs = []
    for f, d, img, fmt in (("fa", "da", a, "qcow2"), ("fb", "db", b, "qcow2"),
                           ("fc", "dc", c, "raw")):
        blockdevs += ["-blockdev", "driver=file,filename=%s,node-name=%s" % (img, f),
                      "-blockdev", "driver=%s,file=%s,node-name=%s" % (fmt, f, d)]
    sock = os.path.join(tmp, "qmp.sock")
    p = SystemProcess(machine_argv(tool, sock, *blockdevs))
    out = {"replies": [], "jobs": []}
    try:
        q = QmpClient(sock)
        for command, args in STEPS:
            r = q.cmd(command, **args)
            reply = r.get("error", {}).get("desc") if "error" in r else "ok"
            if command == "human-monitor-command":
                reply = "hmp"
            out["replies"].append((command, args.get("job-id"), reply))
            if command.startswith("snapshot-") and "return" in r:
                j = concluded(q, args["job-id"])
                out["jobs"].append(j)
        # By id: QEMU lists the newest job first, e2kvm the oldest (the same for every job type).
        out["query-jobs"] = sorted(q.execute("query-jobs"), key=lambda j: j["id"])
        for j in out["query-jobs"]:
            q.execute("job-dismiss", id=j["id"])
        out["after dismiss"] = q.execute("query-jobs")
        q.execute("query-status")
        out["events"] = [(e["data"]["id"], e["data"]["status"]) for e in q.events
                         if e["event"] == "JOB_STATUS_CHANGE"]
        out["block job events"] = [e["event"] for e in q.events
                                   if e["event"].startswith("BLOCK_JOB")]
        q.execute("quit")
        p.wait(30)
    finally:
        p.kill()
    # snapshot-load s1 put back the zeros written over after s1 was taken.
    r = subprocess.run(["qemu-io", "-c", "read -P 0 0 64k", a], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    out["data after load"] = re.sub(r"\(.*\)", "", r.stdout.split("\n")[0])
    for name, img in (("a", a), ("b", b)):
        r = subprocess.run(["qemu-img", "snapshot", "-l", img], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        out["snapshot -l " + name] = (r.returncode, normalized(r.stdout))
        r = subprocess.run(["qemu-img", "check", img], stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, text=True)
        out["check " + name] = (r.returncode, [line for line in r.stdout.split("\n")
                                               if not line.startswith("Image end offset")])
    # HMP's savevm and loadvm over a lone protocol node: covered, and without snapshots.
    p = SystemProcess(machine_argv(tool, sock, "-blockdev",
                                   "driver=file,filename=%s,node-name=file" % a))
    try:
        q = QmpClient(sock)
        out["lone file node"] = [
            q.execute("human-monitor-command", **{"command-line": line})
            for line in ("savevm snap0", "info snapshots", "loadvm snap0", "delvm snap0")]
        out["lone file node"].append(q.cmd("snapshot-delete", **{
            "job-id": "d", "tag": "snap0", "devices": ["file"]}).get("return"))
        out["lone file node"].append((concluded(q, "d") or {}).get("error"))
        q.execute("quit")
        p.wait(30)
    finally:
        p.kill()
    out["running machine"] = running_machine(tool, tmp, a)
    return out


def running_machine(tool, tmp, img):
    """The run state and events around the jobs on a running machine."""
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", img, "1M"], check=True)
    sock = os.path.join(tmp, "run.sock")
    blockdev = ["-blockdev", "driver=file,filename=%s,node-name=fa" % img,
                "-blockdev", "driver=qcow2,file=fa,node-name=da"]
    argv = machine_argv(tool, sock, *blockdev)
    if tool != "qemu":
        argv = [SYSTEM, "-nodefaults", "-display", "none", "-serial", "none", "-kernel", ECHO,
                "-qmp", "unix:%s,server=on,wait=off" % sock] + blockdev
    p = SystemProcess(argv)
    out = []
    try:
        q = QmpClient(sock)
        for command, args in (save("s", "s1", "da", ["da"]), load("l1", "nope", "da", ["da"]),
                              ("cont", {}), load("l2", "s1", "da", ["da"]),
                              ("stop", {}), load("l3", "s1", "da", ["da"])):
            r = q.cmd(command, **args)
            out.append((command, "error" in r))
            if command.startswith("snapshot-"):
                out.append((concluded(q, args["job-id"]) or {}).get("error"))
            s = q.execute("query-status")
            out.append((s["running"], s["status"]))
        out.append([(e["event"], e.get("data", {}).get("id"), e.get("data", {}).get("status"))
                    for e in q.events
                    if e["event"] in ("JOB_STATUS_CHANGE", "STOP", "RESUME", "RESET")])
        q.execute("quit")
        p.wait(30)
    finally:
        p.kill()
    return out


def main():
    with tempfile.TemporaryDirectory() as tmp:
        theirs = run_tool("qemu", tmp)
        ours = run_tool("ours", tmp)
        for key in theirs:
            checker.same(key, theirs[key], ours[key], "qemu-system-x86_64", "e2kvm-system")
        checker.check(any(j and j["id"] == "l-ok" and "error" not in j for j in ours["jobs"]),
                      "snapshot-load of s1 succeeded in e2kvm")
        checker.check(any(line.split()[1:3] == ["s1", "SIZE"]
                          for line in ours["snapshot -l a"][1] if len(line.split()) > 2),
                      "qemu-img snapshot -l shows s1 with a VM state on da")
    return checker.exit_status("system_snapshot_jobs: snapshot-save/-load/-delete as qemu-system")


if __name__ == "__main__":
    sys.exit(main())
