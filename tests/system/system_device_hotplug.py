#!/usr/bin/env python3
"""device_add and device_del of storage devices (iotests 238 and 240), in e2kvm-system as in
qemu-system-x86_64 -machine pc: a virtio-scsi controller in an iothread, scsi-hd disks on a
blockdev node plugged and unplugged (DEVICE_DELETED, the node free again for blockdev-del),
throttling a hot-plugged disk, one iothread per node ("Cannot change iothread of active block
backend"), one writer per node, a node exported over NBD, and qemu-system's errors. Then, in
e2kvm-system only (a pc guest must agree to a PCI unplug): a virtio-blk disk on a -drive is
unplugged with its drive, and the board shows each plug and unplug at once (through qtest).
usage: system_device_hotplug.py E2KVM_SYSTEM"""
import os
import re
import socket
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checker  # noqa: E402
import peers  # noqa: E402
from qmp_client import QmpClient  # noqa: E402
from system_harness import SystemProcess  # noqa: E402

peers.require("qemu-system-x86_64")
SYSTEM = os.path.abspath(sys.argv[1])
checker = Checker(sys.stderr)


def argv(tool, sock, *extra):
    qmp = ["-nodefaults", "-display", "none", "-qmp", "unix:%s,server=on,wait=off" % sock]
    if tool == "qemu":  # a board with a PCI bus for the controllers
        return ["qemu-system-x86_64", "-machine", "pc", "-accel", "tcg", "-S"] + qmp + list(extra)
    return [SYSTEM, "-accel", "qtest"] + qmp + list(extra)


def reply(r, tmp):
    if "error" in r:
        return [r["error"]["class"], r["error"]["desc"].replace(tmp, "TMP")]
    return r["return"]


def deleted(q):
    """The DEVICE_DELETED of the device just unplugged (QEMU's comes after the reply)."""
    e = q.wait_event("DEVICE_DELETED", timeout=10)
    while e is not None and e["data"]["path"].endswith("/virtio-backend"):
        e = q.wait_event("DEVICE_DELETED", timeout=10)
    return e and e["data"]


def qdevs(q):
    """Each device's qdev and node ("#block…" names are generated)."""
    return sorted([b["qdev"], re.sub(r"^#block\d+$", "GENERATED", b["inserted"]["node-name"])]
                  for b in q.execute("query-block") if b.get("qdev"))


def run(tool, tmp):
    out = []
    tmp = os.path.join(tmp, tool)
    os.mkdir(tmp)
    sock = os.path.join(tmp, "qmp.sock")
    nbd_sock = os.path.join(tmp, "nbd.sock")
    p = SystemProcess(argv(tool, sock, "-object", "iothread,id=iothread0", "-object",
                           "iothread,id=iothread1"))
    try:
        q = QmpClient(sock)
        t = lambda r: reply(r, tmp)  # noqa: E731
        add = lambda **a: t(q.cmd("device_add", **a))  # noqa: E731
        # iotest 238: a disk in an iothread, throttled, unplugged; its node free again.
        out.append(t(q.cmd("blockdev-add", driver="null-co", **{"node-name": "hd0",
                                                                   "read-zeroes": True})))
        out.append(add(driver="virtio-scsi", id="scsi0", iothread="iothread0"))
        out.append(add(driver="scsi-hd", id="scsi-hd0", drive="hd0"))
        out.append(qdevs(q))
        out.append(t(q.cmd("block_set_io_throttle", id="scsi-hd0", bps=0, bps_rd=0, bps_wr=0,
                           iops=1000, iops_rd=0, iops_wr=0)))
        # qemu-system's errors.
        out.append(add(driver="virtio-scsi", id="scsi9", iothread="nope"))
        out.append(add(driver="virtio-scsi", id="scsi0"))
        out.append(add(driver="scsi-hd", id="scsi-hd0", drive="hd0"))
        out.append(add(driver="scsi-hd", id="x", drive="nonode"))
        out.append(add(driver="virtio-blk-pci", id="x", drive="nonode"))
        out.append(add(driver="scsi-hd", id="x"))
        out.append(add(driver="scsi-hd", id="x", drive="hd0", bus="nobus.0"))
        out.append(add(driver="foo", id="x"))
        # Option syntax cannot be smuggled in through names.
        out.append(add(driver="virtio-blk-pci", id="v", **{"drive=hd0,x": "1"}))
        out.append(add(driver="virtio-blk-pci,drive=hd0", id="v"))
        out.append(add(driver="virtio-blk-pci", id="v,drive=hd0", drive="hd0"))
        out.append(t(q.cmd("device_add", id="x")))
        out.append(add(driver="scsi-hd", id="scsi-hd1", drive="hd0"))  # a second writer
        out.append(t(q.cmd("blockdev-del", **{"node-name": "hd0"})))  # in use
        out.append(t(q.cmd("device_del", id="nope")))
        out.append(t(q.cmd("device_del", id="scsi-hd0")))
        out.append(deleted(q))
        out.append(qdevs(q))
        # Plugged again, unplugged by QOM path.
        out.append(add(driver="scsi-hd", id="scsi-hd0", drive="hd0"))
        out.append(t(q.cmd("device_del", id="/machine/peripheral/scsi-hd0")))
        out.append(deleted(q))
        out.append(t(q.cmd("blockdev-del", **{"node-name": "hd0"})))
        # iotest 240: a read-only node on two controllers in different iothreads.
        out.append(t(q.cmd("blockdev-add", driver="null-co", **{
            "node-name": "hd1", "read-only": True, "read-zeroes": True})))
        out.append(add(driver="virtio-scsi", id="scsi1", iothread="iothread1"))
        out.append(add(driver="scsi-hd", id="a0", drive="hd1", bus="scsi0.0"))
        out.append(add(driver="scsi-hd", id="a1", drive="hd1", bus="scsi0.0"))  # same iothread
        out.append(add(driver="scsi-hd", id="b0", drive="hd1", bus="scsi1.0"))
        out.append(t(q.cmd("device_del", id="a0")))
        out.append(deleted(q))
        out.append(t(q.cmd("device_del", id="a1")))
        out.append(deleted(q))
        out.append(add(driver="scsi-hd", id="b0", drive="hd1", bus="scsi1.0"))
        out.append(qdevs(q))
        out.append(t(q.cmd("device_del", id="b0")))
        out.append(deleted(q))
        # The human monitor's device_add and device_del.
        hmp = lambda line: t(q.cmd("human-monitor-command", **{"command-line": line}))  # noqa
        out.append(hmp("device_add scsi-hd,id=h0,drive=hd1,bus=scsi1.0"))
        out.append(hmp("device_add scsi-hd,id=h1,drive=hd1,bus=scsi0.0"))
        out.append(hmp("device_del h0"))
        out.append(deleted(q))
        out.append(hmp("device_del h0"))
        # An exported node goes into a device's iothread.
        out.append(t(q.cmd("nbd-server-start", addr={"type": "unix",
                                                     "data": {"path": nbd_sock}})))
        out.append(t(q.cmd("nbd-server-add", device="hd1")))
        out.append(add(driver="scsi-hd", id="c0", drive="hd1", bus="scsi1.0"))
        out.append(qdevs(q))
        q.execute("quit")
        q.close()
        p.wait(30)
    finally:
        p.kill()
    return out


class Qtest:
    """The qtest socket e2kvm-system connects to: reads and writes of the board's MMIO."""

    def __init__(self, path):
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(1)
        self.listener.settimeout(20)

    def accept(self):
        self.conn, _ = self.listener.accept()
        self.conn.settimeout(20)
        self.file = self.conn.makefile("rw")

    def ask(self, line):
        self.file.write(line + "\n")
        self.file.flush()
        return self.file.readline().strip()

    def readq(self, addr):
        r = self.ask("readq 0x%x" % addr).split()
        return int(r[1], 16) if r[0] == "OK" else r


DISK = 0xF0010000  # block device slot 0: CAPACITY, SECTOR, COUNT, ADDR, CMD, STATUS, .., FLAGS


def board_view(qt):
    """Slot 0's FLAGS and CAPACITY, DRIVES, and its first 8 bytes read by DMA if present."""
    view = [qt.readq(DISK + 0x40), qt.readq(DISK), qt.readq(0xF0000020)]
    if view[0] & 2:
        for off, v in ((0x08, 0), (0x10, 1), (0x18, 0x200000), (0x20, 1)):
            qt.ask("writeq 0x%x 0x%x" % (DISK + off, v))
        view += [qt.readq(DISK + 0x28), qt.ask("read 0x200000 8")]
    return view


def run_board(tmp):
    """e2kvm-system alone: a -drive's virtio-blk disk goes with its drive, and the board
    shows each plug and unplug at once (slot 0's registers through qtest)."""
    out = []
    tmp = os.path.join(tmp, "board")
    os.mkdir(tmp)
    sock = os.path.join(tmp, "qmp.sock")
    img, img2 = os.path.join(tmp, "d.raw"), os.path.join(tmp, "e.raw")
    for path, data in ((img, b"FIRSTDSK"), (img2, b"HOTPLUGD")):
        with open(path, "wb") as f:
            f.write(data)
            f.truncate(1 << 20)
    qt = Qtest(os.path.join(tmp, "qtest.sock"))
    p = SystemProcess(argv("ours", sock, "-qtest", "unix:" + os.path.join(tmp, "qtest.sock"),
                           "-drive", "if=none,id=drive0,format=raw,file=" + img, "-device",
                           "virtio-blk-pci,drive=drive0,id=vd0"))
    try:
        qt.accept()
        q = QmpClient(sock)
        t = lambda r: reply(r, tmp)  # noqa: E731
        out.append(qdevs(q))
        out.append(board_view(qt))
        out.append(t(q.cmd("device_del", id="vd0")))
        out.append([e["data"] for e in (q.wait_event("DEVICE_DELETED", timeout=10),
                                        q.wait_event("DEVICE_DELETED", timeout=10)) if e])
        out.append([b["device"] for b in q.execute("query-block")])
        out.append(board_view(qt))
        out.append(t(q.cmd("blockdev-add", driver="raw", **{
            "node-name": "n0", "read-only": True,
            "file": {"driver": "file", "filename": img2}})))
        out.append(t(q.cmd("device_add", driver="virtio-blk-pci", drive="n0")))
        out.append(qdevs(q))
        out.append(board_view(qt))
        out.append(t(q.cmd("device_del", id="/machine/peripheral-anon/device[0]")))
        out.append(board_view(qt))
        out.append(t(q.cmd("blockdev-del", **{"node-name": "n0"})))
        q.execute("quit")
        q.close()
        p.wait(30)
    finally:
        p.kill()
    return out


with tempfile.TemporaryDirectory(prefix="e2kvm-hotplug-") as tmp:
    checker.same("device_add/device_del", run("qemu", tmp), run("ours", tmp), "qemu", "ours")
    board = run_board(tmp)
    checker.same("virtio-blk on the e2k board", board, [
        [["/machine/peripheral/vd0/virtio-backend", "GENERATED"]],
        [2, 2048, 1, 0, "OK 0x" + b"FIRSTDSK".hex()],
        {},
        [{"path": "/machine/peripheral/vd0/virtio-backend"},
         {"device": "vd0", "path": "/machine/peripheral/vd0"}],
        [],
        [0, 0, 0],
        {},
        {},
        [["/machine/peripheral-anon/device[0]/virtio-backend", "n0"]],
        [3, 2048, 1, 0, "OK 0x" + b"HOTPLUGD".hex()],
        {},
        [0, 0, 0],
        {},
    ], "ours", "expected")

sys.exit(checker.exit_status("device hot-plug as in qemu-system-x86_64"))
