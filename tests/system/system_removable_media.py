#!/usr/bin/env python3
"""Removable media of a drive no device uses (-drive if=none,media=cdrom,file=...), in
e2kvm-system as in qemu-system-x86_64 -machine none (iotest 140): eject drops the medium and
the NBD export of it (BLOCK_EXPORT_DELETED), blockdev-change-medium puts another image in
(read-only kept, or read-write on request; a file that cannot be opened leaves the drive as it
was), the tray commands do nothing on a drive without a tray, and lookups fail with QEMU's
words; HMP's eject too. A drive with a tray (QEMU's ide-cd on a pc board, the e2k board's empty
CD-ROM drive) opens and closes it with DEVICE_TRAY_MOVED, and takes a medium only when open.
usage: system_removable_media.py E2KVM_SYSTEM"""
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
checker = Checker(sys.stderr)
machine_argv = machine_argv_for(SYSTEM)


def reply(r, tmp):
    if "error" in r:
        return [r["error"]["class"], r["error"]["desc"].replace(tmp, "TMP")]
    return r["return"]


def drive_state(q, tmp):
    """query-block's view of drive 'drv': removable, and the medium's file and read-only flag."""
    for b in q.execute("query-block"):
        if b["device"] == "drv":
            ins = b.get("inserted")
            return {"removable": b["removable"], "tray": b.get("tray_open"),
                    "medium": ins and [ins["file"].replace(tmp, "TMP"), ins["ro"]]}
    return None


def run(tool, tmp):
    out = []
    tmp = os.path.join(tmp, tool)  # the same file names for both
    os.mkdir(tmp)
    img = os.path.join(tmp, "a.qcow2")
    img2 = os.path.join(tmp, "b.qcow2")
    for f, pattern in ((img, "42"), (img2, "43")):
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", f, "64K"], check=True)
        subprocess.run(["qemu-io", "-c", "write -P %s 0 64k" % pattern, f], check=True,
                       stdout=subprocess.DEVNULL)
    sock = os.path.join(tmp, "qmp.sock")
    nbd_sock = os.path.join(tmp, "nbd.sock")
    p = SystemProcess(machine_argv(tool, sock, "-drive",
                                   "if=none,media=cdrom,id=drv,file=%s,driver=qcow2" % img))
    try:
        q = QmpClient(sock)
        t = lambda r: reply(r, tmp)  # noqa: E731
        out.append(drive_state(q, tmp))
        # No tray: opening and closing it change nothing.
        out.append(t(q.cmd("blockdev-open-tray", device="drv")))
        out.append(t(q.cmd("blockdev-close-tray", device="drv")))
        out.append(drive_state(q, tmp))
        # Lookups.
        out.append(t(q.cmd("eject", device="drv", id="drv")))
        out.append(t(q.cmd("eject")))
        out.append(t(q.cmd("eject", device="nosuch")))
        out.append(t(q.cmd("blockdev-remove-medium", id="drv")))  # a drive, not a device
        out.append(t(q.cmd("blockdev-insert-medium", id="drv", **{"node-name": "x"})))
        # The export of the drive goes with its medium.
        out.append(t(q.cmd("nbd-server-start",
                           addr={"type": "unix", "data": {"path": nbd_sock}})))
        out.append(t(q.cmd("nbd-server-add", device="drv")))
        out.append(t(q.cmd("eject", device="drv")))
        out.append((q.wait_event("BLOCK_EXPORT_DELETED") or {}).get("data"))
        out.append(drive_state(q, tmp))
        out.append(t(q.cmd("eject", device="drv")))  # empty already: fine
        # Another medium: read-only kept, then read-write on request.
        out.append(t(q.cmd("blockdev-change-medium", device="drv", filename=img2,
                           format="qcow2")))
        out.append(drive_state(q, tmp))
        out.append(t(q.cmd("blockdev-change-medium", device="drv", filename=img,
                           format="qcow2", **{"read-only-mode": "read-write"})))
        out.append(drive_state(q, tmp))
        out.append(t(q.cmd("blockdev-change-medium", device="drv",
                           filename=os.path.join(tmp, "missing.qcow2"))))
        out.append(t(q.cmd("blockdev-change-medium", device="drv", filename=img2,
                           **{"read-only-mode": "sideways"})))
        out.append(drive_state(q, tmp))
        # An image another node has open for writing cannot be the (read-only) medium.
        out.append(t(q.cmd("blockdev-add", driver="qcow2", **{
            "node-name": "w", "file": {"driver": "file", "filename": img2}})))
        out.append(t(q.cmd("blockdev-change-medium", device="drv", filename=img2,
                           format="qcow2", **{"read-only-mode": "read-only"})))
        out.append(drive_state(q, tmp))
        # The new medium is what an export serves.
        out.append(t(q.cmd("nbd-server-add", device="drv")))
        r = subprocess.run(["qemu-io", "-f", "raw", "-r", "-c", "read -P 42 0 64k",
                            "nbd+unix:///drv?socket=" + nbd_sock],
                           capture_output=True, text=True)
        out.append(re.sub(r"\d+:\d+:\d+\.\d+.*", "", r.stdout.splitlines()[0]) if r.stdout
                   else r.stderr)
        # The human monitor's eject.
        for line in ("eject nosuch", "eject -f drv"):
            out.append(t(q.cmd("human-monitor-command", **{"command-line": line})))
        out.append(drive_state(q, tmp))
        q.execute("quit")
        q.close()
        p.wait(30)
    finally:
        p.kill()
    return out


def tray_argv(tool, sock):
    """A CD-ROM drive with a tray: QEMU's ide-cd on a pc board, the e2k board's empty one."""
    qmp = ["-qmp", "unix:%s,server=on,wait=off" % sock, "-drive", "if=ide,media=cdrom,id=cd"]
    if tool == "qemu":
        return ["qemu-system-x86_64", "-machine", "pc", "-accel", "tcg", "-S", "-nodefaults",
                "-display", "none"] + qmp
    return [SYSTEM, "-accel", "qtest", "-nodefaults", "-display", "none"] + qmp


def run_tray(tool, tmp):
    out = []
    tmp = os.path.join(tmp, "tray-" + tool)
    os.mkdir(tmp)
    img = os.path.join(tmp, "a.qcow2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", img, "64K"], check=True)
    sock = os.path.join(tmp, "qmp.sock")
    p = SystemProcess(tray_argv(tool, sock))
    try:
        q = QmpClient(sock)
        t = lambda r: reply(r, tmp)  # noqa: E731

        def tray_events():
            # (The device's QOM path differs between the boards.)
            moved = [e["data"] for e in q.events if e["event"] == "DEVICE_TRAY_MOVED"]
            q.events.clear()
            return [[d["device"], d["tray-open"], bool(d["id"])] for d in moved]

        def cd_state():
            for b in q.execute("query-block"):
                if b["device"] == "cd":
                    ins = b.get("inserted")
                    return [b["removable"], b.get("tray_open"),
                            ins and [ins["file"].replace(tmp, "TMP"), ins["ro"]]]
            return None

        out.append(cd_state())
        out.append(t(q.cmd("blockdev-open-tray", device="cd")))
        out.append(tray_events())
        out.append(t(q.cmd("blockdev-open-tray", device="cd")))  # open already: no event
        out.append(tray_events())
        out.append(cd_state())
        out.append(t(q.cmd("blockdev-close-tray", device="cd")))
        out.append(tray_events())
        # The medium comes in through an open tray only.
        out.append(t(q.cmd("blockdev-change-medium", device="cd", filename=img,
                           format="qcow2")))
        out.append(tray_events())
        out.append(cd_state())
        out.append(t(q.cmd("eject", device="cd")))
        out.append(tray_events())
        out.append(cd_state())
        out.append(t(q.cmd("blockdev-close-tray", device="cd")))
        out.append(tray_events())
        q.execute("quit")
        q.close()
        p.wait(30)
    finally:
        p.kill()
    return out


with tempfile.TemporaryDirectory(prefix="e2kvm-media-") as tmp:
    checker.same("removable media", run("qemu", tmp), run("ours", tmp), "qemu", "ours")
    checker.same("a drive with a tray", run_tray("qemu", tmp), run_tray("ours", tmp), "qemu",
                 "ours")

sys.exit(checker.exit_status("removable media as in qemu-system-x86_64"))
