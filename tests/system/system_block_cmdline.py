#!/usr/bin/env python3
"""The block-layer command line QEMU's python iotests give QEMU_PROG, next to
qemu-system-x86_64: `-drive format=help` in its two-line layout, `-M none -device help` listing
the block devices we map with qemu's own lines, `-drive if=virtio,...,cache=,aio=`, `-blockdev`
(dotted keys and JSON), `-device virtio-blk|scsi-hd,drive=`, an empty `-drive
if=ide,media=cdrom`, as query-block shows them; `-chardev socket,id=mon,fd=N` (iotests'
socketpair) and `-qtest unix:path=SOCK` (we connect; memory commands answered as qemu does).
usage: system_block_cmdline.py E2KVM_SYSTEM"""
import json
import os
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img")
SYSTEM = sys.argv[1]
QEMU = "qemu-system-x86_64"
checker = Checker(sys.stderr)
check = checker.check
IOTESTS_OPTS = ["-nodefaults", "-display", "none"]


def run(argv):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60)


# -drive format=help: iotests read the words after "Supported formats:" on line 0 (read-write)
# and line 1 (read-only).
ours = run([SYSTEM] + IOTESTS_OPTS + ["-accel", "qtest", "-drive", "format=help"])
qemu = run([QEMU] + IOTESTS_OPTS + ["-accel", "tcg", "-drive", "format=help"])
ol, ql = ours.stdout.splitlines(), qemu.stdout.splitlines()
check(ours.returncode == 0 and len(ol) == 2, "-drive format=help: %r" % ours.stdout)
check([x.split(":")[0] for x in ol] == [x.split(":")[0] for x in ql],
      "format=help layout: ours %r, qemu %r" % (ol, ql))
formats = ol[0].split(":")[1].split() if ol else []
check({"qcow2", "raw", "file", "null-co"} <= set(formats), "formats: %r" % formats)
qemu_formats = set(ql[0].split(":")[1].split()) if ql else set()
check(set(formats) <= qemu_formats, "formats qemu does not know: %r" % (set(formats) - qemu_formats))

# -device help: every line of ours is qemu's line for that model.
ours = run([SYSTEM, "-M", "none", "-device", "help"])
qemu = run([QEMU, "-M", "none", "-device", "help"])
qemu_lines = set(qemu.stdout.splitlines())
for line in ours.stdout.splitlines():
    check(line in qemu_lines, "-device help line not qemu's: %r" % line)
for name in ("virtio-blk-pci", "virtio-blk-device", "virtio-scsi-pci", "scsi-hd"):
    check(('name "%s"' % name) in ours.stdout, "-device help lacks %s" % name)
check("virtio-blk" in ours.stdout and "virtio-scsi-pci" in ours.stdout, "iotests' probes")

# Errors as qemu-system gives them (after the program name).
scratch = tempfile.TemporaryDirectory(prefix="e2kvm-blockcl-err-")
x = os.path.join(scratch.name, "x.qcow2")
subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", x, "1M"], check=True)
for args in (["-device", "foo"], ["-device", "virtio-blk-pci"],
             ["-drive", "file=%s,cache=bogus" % x], ["-drive", "file=%s,aio=bogus" % x],
             ["-drive", "file=%s,if=virtio,aio=native" % x]):
    o = run([SYSTEM, "-S"] + IOTESTS_OPTS + args).stderr.strip().split(": ", 1)[-1]
    q = run([QEMU, "-S"] + IOTESTS_OPTS + args).stderr.strip().splitlines()
    q = q[-1].split(": ", 1)[-1] if q else ""
    checker.same("error for %s" % " ".join(args), q, o, "qemu", "ours")
scratch.cleanup()


def session(argv, commands):
    """Runs argv with a QMP monitor on an inherited socketpair fd (as iotests.VM does) and a
    qtest socket we listen on; returns (QMP replies, qtest answers, stderr)."""
    with tempfile.TemporaryDirectory(prefix="e2kvm-blockcl-") as tmp:
        qpath = os.path.join(tmp, "qtest.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(qpath)
        listener.listen(1)
        listener.settimeout(30)
        mine, theirs = socket.socketpair()
        fd = theirs.fileno()
        p = subprocess.Popen(argv + ["-chardev", "socket,id=mon,fd=%d" % fd, "-mon",
                                     "chardev=mon,mode=control", "-qtest", "unix:path=" + qpath],
                             pass_fds=[fd], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        theirs.close()
        replies, answers = [], []
        try:
            conn, _ = listener.accept()
            qf = conn.makefile("r")
            for line in ("writel 0x1000 0x12345678", "readl 0x1000", "readb 0x1001",
                         "write 0x2000 3 0xa1b2c3", "read 0x2000 4", "memset 0x3000 2 0x7f",
                         "read 0x3000 3", "nosuch 1"):
                conn.sendall((line + "\n").encode())
                answers.append(qf.readline().rstrip("\n"))
            mine.settimeout(30)
            mf = mine.makefile("rw")
            json.loads(mf.readline())  # greeting
            for c in [{"execute": "qmp_capabilities"}] + commands + [{"execute": "quit"}]:
                mf.write(json.dumps(c) + "\n")
                mf.flush()
                while True:
                    m = json.loads(mf.readline())
                    if "event" not in m:
                        replies.append(m)
                        break
            conn.close()
        finally:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        return replies, answers, p.stderr.read().decode()


def block_summary(reply):
    out = []
    for d in reply.get("return", []):
        ins = d.get("inserted")
        out.append({"device": d["device"], "qdev": d.get("qdev"), "removable": d["removable"],
                    "tray_open": d.get("tray_open"), "io-status": d.get("io-status"),
                    "node": ins and (ins["node-name"] if not ins["node-name"].startswith("#")
                                     else "(generated)"),
                    "ro": ins and ins["ro"], "drv": ins and ins["drv"]})
    return sorted(out, key=lambda d: (d["device"], d["qdev"] or ""))


with tempfile.TemporaryDirectory(prefix="e2kvm-blockcl-img-") as tmp:
    imgs = {}
    for n in ("a", "b", "c", "d"):
        imgs[n] = os.path.join(tmp, n + ".qcow2")
        subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", imgs[n], "1M"], check=True)
    common = ["-S"] + IOTESTS_OPTS + [
        "-drive", "if=virtio,id=drive0,file=%s,format=qcow2,cache=writeback,aio=threads,"
        "node-name=node0" % imgs["a"],
        "-blockdev", "driver=qcow2,file.driver=file,file.filename=%s,node-name=source" % imgs["b"],
        "-blockdev", json.dumps({"driver": "qcow2", "node-name": "src2", "read-only": True,
                                 "file": {"driver": "file", "filename": imgs["c"]}}),
        "-device", "virtio-scsi", "-device", "scsi-hd,id=sda,drive=source",
        "-device", "virtio-blk-pci,id=vd1,drive=src2",
        "-drive", "if=none,id=d3,file=%s,format=qcow2,node-name=n3" % imgs["d"],
        "-device", "virtio-blk,drive=d3,id=vd3",
        "-drive", "if=ide,media=cdrom"]
    cmds = [{"execute": "query-block"}]
    ours_r, ours_q, ours_err = session([SYSTEM, "-accel", "qtest"] + common, cmds)
    qemu_r, qemu_q, qemu_err = session([QEMU, "-accel", "tcg"] + common, cmds)
    check(len(ours_r) == 3, "our QMP session: %r %s" % (ours_r, ours_err))
    if len(ours_r) == 3 and len(qemu_r) == 3:
        mine, theirs = block_summary(ours_r[1]), block_summary(qemu_r[1])
        # qemu's empty CD-ROM sits at some /machine/unattached/device[N] of its PC board.
        for d in mine + theirs:
            if d["qdev"] and d["qdev"].startswith("/machine/unattached/"):
                d["qdev"] = "/machine/unattached/device[N]"
        checker.same("query-block of -drive/-blockdev/-device", theirs, mine, "qemu", "ours")
    checker.same("qtest memory commands", qemu_q, ours_q, "qemu", "ours")

sys.exit(checker.exit_status("system_block_cmdline: all checks passed"))
