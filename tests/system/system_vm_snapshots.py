#!/usr/bin/env python3
"""VM snapshots through HMP (human-monitor-command): savevm, loadvm, delvm and info snapshots
in e2kvm-system -accel qtest next to qemu-system-x86_64 -machine none (iotest 068's commands):
the answers and errors the block layer decides (no snapshot of that name, a disk-only
snapshot, a raw disk that cannot take snapshots, no disk at all), the run state around them,
the disk contents a loadvm reverts to, and the images afterwards as qemu-img sees them
(snapshot -l with a VM state size, check). A state QEMU saved is refused by e2kvm with a clear
error. Also -set GROUP.ID.ARG=VALUE and its errors next to qemu-system's.
usage: system_vm_snapshots.py E2KVM_SYSTEM ECHO_KERNEL"""
import os
import re
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
ECHO = os.path.abspath(sys.argv[2])  # a guest that waits for serial input: it runs on
checker = Checker(sys.stderr)
machine_argv = machine_argv_for(SYSTEM)

# A snapshot line: ID, TAG, VM SIZE, DATE, TIME, VM CLOCK; sizes, dates and clocks differ
# between the two machines (their states differ), whether the size is zero does not.
LINE = re.compile(r"^(\S+)\s+(\S+)\s+([\d.]+ \S*B)\s+\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+"
                  r"\d\d:\d\d:\d\d\.\d{3}\s*(\d*)$")


def normalized(text, tmp):
    out = []
    for line in text.replace("\r\n", "\n").replace(tmp, "TMP").split("\n"):
        m = LINE.match(line)
        if m:
            size = "0 B" if m.group(3) == "0 B" else "SIZE"
            line = "%s %s %s DATE CLOCK %s" % (m.group(1), m.group(2), size, m.group(4))
        out.append(line)
    return "\n".join(out)


def hmp(q, line, tmp):
    return normalized(q.execute("human-monitor-command", **{"command-line": line}), tmp)


def qemu_img(*args):
    r = subprocess.run(["qemu-img"] + list(args), stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    return r.returncode, r.stdout


def session(tool, tmp, drive_args, lines, guest=False):
    """Runs HMP `lines` ("!status" asks query-status) on one machine; the answers in order.
    With `guest`, e2kvm runs a guest (qemu-system's -machine none runs without one)."""
    sock = os.path.join(tmp, "qmp-%s.sock" % tool)
    argv = machine_argv(tool, sock, *drive_args)
    if guest and tool != "qemu":
        argv = [SYSTEM, "-nodefaults", "-display", "none", "-serial", "none", "-kernel", ECHO,
                "-qmp", "unix:%s,server=on,wait=off" % sock] + list(drive_args)
    p = SystemProcess(argv)
    out = []
    try:
        q = QmpClient(sock)
        for line in lines:
            if line == "!status":
                s = q.execute("query-status")
                out.append("running=%s status=%s" % (s["running"], s["status"]))
            else:
                out.append("%s -> %s" % (line, hmp(q, line, tmp)))
        if guest:
            # The events of it all: STOP and RESUME around savevm and loadvm of a running
            # machine (and no RESET for the load).
            q.execute("query-status")
            out.append([(e["event"], e.get("data", {}).get("reason")) for e in q.events
                        if e["event"] in ("STOP", "RESUME", "RESET")])
        q.execute("quit")
        p.wait(30)
    finally:
        p.kill()
    return out


def run_tool(tool, tmp):
    tmp = os.path.join(tmp, tool)  # the same file names for both
    os.mkdir(tmp)
    img = os.path.join(tmp, "a.qcow2")
    raw = os.path.join(tmp, "b.raw")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", img, "1M"], check=True)
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", raw, "1M"], check=True)
    subprocess.run(["qemu-img", "snapshot", "-c", "diskonly", img], check=True)
    out = {}
    out["qcow2"] = session(tool, tmp, ["-drive", "if=none,id=drv0,file=%s,format=qcow2" % img], [
        "info snapshots",
        "loadvm nope",
        "loadvm diskonly",
        "savevm s1",
        'qemu-io drv0 "write -P 0x11 0 64k"',
        "savevm s2",
        "info snapshots",
        "loadvm s1",
        "delvm nope",
        "delvm s2",
        "savevm s1",  # replaces the older s1
        "info snapshots",
    ])
    # loadvm s1 put back the zeros written over after it was taken.
    r = subprocess.run(["qemu-io", "-c", "read -P 0 0 64k", img], stdout=subprocess.PIPE,
                       text=True)
    out["data"] = re.sub(r"\(.*\)", "", r.stdout.split("\n")[0])
    rc, listing = qemu_img("snapshot", "-l", img)
    out["snapshot -l"] = (rc, normalized(listing, tmp))
    rc, check = qemu_img("check", img)
    # The state's clusters are the snapshot's only: the active disk let them go.
    out["check"] = (rc, [l for l in check.split("\n") if not l.startswith("Image end offset")])
    out["raw"] = session(tool, tmp, ["-drive", "if=none,id=drv1,file=%s,format=raw" % raw], [
        "info snapshots", "savevm x", "loadvm x", "delvm x"])
    out["none"] = session(tool, tmp, [], ["info snapshots", "savevm x", "loadvm x", "delvm x"])
    # The run state: savevm resumes a running machine, a failed loadvm leaves it stopped, a
    # loadvm after cont runs on.
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", img, "1M"], check=True)
    out["run state"] = session(tool, tmp, ["-drive", "if=none,id=drv0,file=%s,format=qcow2" % img],
                               ["!status", "savevm s1", "!status", "loadvm nope", "!status",
                                "cont", "!status", "loadvm s1", "!status", "stop", "loadvm s1",
                                "!status"], guest=True)
    return out, img


def set_errors(tool, tmp):
    """-set's messages, without the program name, and whether the line is accepted."""
    prog = "qemu-system-x86_64" if tool == "qemu" else SYSTEM
    base = ([prog, "-machine", "none"] if tool == "qemu" else [prog, "-accel", "qtest"]) + \
        ["-nodefaults", "-display", "none", "-serial", "none"]
    img = os.path.join(tmp, "set.qcow2")
    if not os.path.exists(img):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", img, "1M"], check=True)
    out = []
    for extra in (["-set", "device.hba0.iothread=iothread0"],
                  ["-device", "virtio-scsi,id=hba0", "-set", "device.hba1.iothread=x"],
                  ["-device", "virtio-scsi,id=hba0", "-set", "foo.hba0.iothread=x"],
                  ["-device", "virtio-scsi,id=hba0", "-set", "device.hba0.iothread"],
                  ["-set"],
                  ["-set", "drive.d0.format=qcow2", "-drive", "if=none,id=d0,file=" + img],
                  # accepted: the drive's format is set afterwards, the iothread exists
                  ["-drive", "if=none,id=d0,file=" + img, "-set", "drive.d0.format=qcow2",
                   "-object", "iothread,id=io0", "-device", "virtio-scsi,id=hba0",
                   "-set", "device.hba0.iothread=io0", "-monitor", "stdio"]):
        argv = base + extra
        if tool == "qemu" and "-monitor" in extra:
            argv[1:3] = ["-machine", "pc", "-S"]  # a board with a PCI bus for virtio-scsi
        try:
            r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               input="quit\n", text=True, timeout=30)
            err = r.stderr.strip().split("\n")[0].replace(tmp, "TMP")
            err = re.sub(r"^(qemu-system-x86_64|e2kvm-system): ", "", err)
            out.append((r.returncode == 0, err))
        except subprocess.TimeoutExpired:
            out.append(("timeout", ""))
    return out


def main():
    with tempfile.TemporaryDirectory() as tmp:
        theirs, qemu_img_path = run_tool("qemu", tmp)
        ours, our_img = run_tool("ours", tmp)
        for key in theirs:
            checker.same(key, theirs[key], ours[key], "qemu-system-x86_64", "e2kvm-system")
        checker.check(ours["snapshot -l"][0] == 0 and "SIZE" in ours["snapshot -l"][1],
                      "qemu-img snapshot -l shows e2kvm's snapshot with a VM state size")

        # Each machine's state in the other's image: e2kvm refuses QEMU's with a clear error.
        sock = os.path.join(tmp, "cross.sock")
        p = SystemProcess(machine_argv("ours", sock, "-drive",
                                       "if=none,id=drv0,file=%s,format=qcow2" % qemu_img_path))
        try:
            q = QmpClient(sock)
            answer = q.execute("human-monitor-command", **{"command-line": "loadvm s1"})
            checker.check("saved by QEMU" in answer and answer.startswith("Error: "),
                          "QEMU's VM state refused by e2kvm: %r" % answer)
            q.execute("quit")
            p.wait(30)
        finally:
            p.kill()

        checker.same("-set", set_errors("qemu", tmp), set_errors("ours", tmp),
                     "qemu-system-x86_64", "e2kvm-system")
    return checker.exit_status("system_vm_snapshots: savevm/loadvm/delvm as qemu-system")


if __name__ == "__main__":
    sys.exit(main())
