#!/usr/bin/env python3
"""Starts the real e2kvm under xvfb-run with --vm Demo --run --qmp unix:SOCK and drives it as a
QMP client would: capabilities, query-status, stop/cont with STOP/RESUME events, the block node
of the VM's disk with its bitmap, screendump of the GUI's VM, fleecing of the running disk as
iotest image-fleecing does it (a copy-before-write filter put under the VM's device with qom-set,
a snapshot-access node exported over NBD that keeps its point in time), and quit ending the
application.
Usage: gui_qmp.py E2KVM GUEST_DIR"""
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from peers import require  # noqa: E402
from qmp_client import QmpClient, QmpError  # noqa: E402
import hashlib  # noqa: E402


def main():
    app, guest = sys.argv[1], sys.argv[2]
    require("xvfb-run", "Xvfb", "xauth", "qemu-img")
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, XDG_CONFIG_HOME=f"{tmp}/config", XDG_DATA_HOME=f"{tmp}/data",
                   XDG_RUNTIME_DIR=f"{tmp}/run", E2KVM_GUEST_DIR=guest)
        env.pop("QT_QPA_PLATFORM", None)
        os.makedirs(f"{tmp}/run", mode=0o700)
        sock_path = f"{tmp}/qmp.sock"
        proc = subprocess.Popen(["xvfb-run", "-a", app, "--vm", "Demo", "--run", "--qmp",
                                 f"unix:{sock_path},server=on,wait=off"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        try:
            run(sock_path, tmp)
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                # xvfb-run's children (Xvfb, e2kvm) too, or communicate() waits for their pipe.
                os.killpg(proc.pid, signal.SIGKILL)
                print(proc.communicate()[0])
        print(out)
        assert proc.returncode == 0, f"e2kvm exited with {proc.returncode}"
    print("PASS")


def run(sock_path, tmp):
    q = QmpClient(sock_path, timeout=30, connect_timeout=60, negotiate=False, tag_ids=True)
    greeting = q.read()
    assert "QMP" in greeting, greeting

    def cmd(name, args=None):
        return q.execute(name, **(args or {}))

    cmd("qmp_capabilities")
    # The commands QEMU's VM iotests (223, image-fleecing, 124, 257, 055) drive e2kvm-system
    # with are answered by the app too.
    names = {c["name"] for c in cmd("query-commands")}
    wanted = {"qom-set", "blockdev-add", "blockdev-del", "blockdev-backup", "drive-backup",
              "blockdev-create", "block_resize", "transaction", "query-block",
              "query-named-block-nodes", "block-dirty-bitmap-add", "block-dirty-bitmap-merge",
              "block-dirty-bitmap-remove", "block-dirty-bitmap-clear",
              "block-dirty-bitmap-disable", "nbd-server-start", "nbd-server-add",
              "nbd-server-stop", "query-jobs", "query-block-jobs", "job-finalize", "job-dismiss",
              "block-job-cancel", "human-monitor-command", "query-status", "stop", "cont"}
    assert wanted <= names, sorted(wanted - names)
    # The VM was started by --run: it must reach "running" within 10 s.
    status = None
    for _ in range(100):
        status = cmd("query-status")
        if status["status"] == "running":
            break
        time.sleep(0.1)
    assert status == {"status": "running", "singlestep": False, "running": True}, status
    assert cmd("query-name") == {"name": "Demo"}
    cmd("stop")
    assert cmd("query-status") == {"status": "paused", "singlestep": False, "running": False}
    cmd("cont")
    assert cmd("query-status")["running"] is True
    nodes = cmd("query-named-block-nodes")
    disk = [n for n in nodes if n["file"].endswith("/e2kvm/demo.qcow2")]
    assert disk, nodes
    bitmaps = [b["name"] for b in disk[0].get("dirty-bitmaps", [])]
    assert "backup" in bitmaps, disk[0]
    time.sleep(1.0)
    shot = f"{tmp}/screen.png"
    cmd("screendump", {"filename": shot, "format": "png"})
    with open(shot, "rb") as img:
        head = img.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n", head
    width, height = int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")
    assert (width, height) == (1024, 768), (width, height)
    fleece(cmd, tmp, disk[0])
    cmd("quit")
    events = q.event_names()
    assert "STOP" in events and "RESUME" in events, events
    q.close()


DEVICE = "/machine/peripheral-anon/device[0]"


def inserted_node(cmd):
    """The node query-block shows under the VM's first disk device."""
    block = [b for b in cmd("query-block") if b["device"] == "disk0"]
    assert block and block[0].get("qdev") == DEVICE + "/virtio-backend", block
    return block[0]["inserted"]["node-name"]


def export_digest(uri, size, copy):
    """SHA-256 of an NBD export's whole contents, copied with qemu-img as a backup client would."""
    r = subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "raw", uri, copy],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert r.returncode == 0, r.stdout
    with open(copy, "rb") as f:
        data = f.read()
    assert len(data) == size, (len(data), size)
    return hashlib.sha256(data).hexdigest()


def fleece(cmd, tmp, disk):
    node, size = disk["node-name"], disk["image"]["virtual-size"]
    assert inserted_node(cmd) == node
    fleece_file = f"{tmp}/fleece.raw"
    with open(fleece_file, "wb") as f:
        f.truncate(size)
    cmd("blockdev-add", {"node-name": "fl-temp", "driver": "file", "filename": fleece_file})
    cmd("blockdev-add", {"driver": "copy-before-write", "node-name": "fl-cbw", "file": node,
                         "target": "fl-temp"})
    cmd("qom-set", {"path": DEVICE, "property": "drive", "value": "fl-cbw"})
    assert inserted_node(cmd) == "fl-cbw"
    cmd("blockdev-add", {"driver": "snapshot-access", "node-name": "fl-access", "file": "fl-cbw"})
    try:
        cmd("blockdev-del", {"node-name": "fl-cbw"})
        raise AssertionError("blockdev-del of the filter under the running VM succeeded")
    except QmpError as e:
        assert e.error_class == "GenericError", e
    sock = f"{tmp}/nbd.sock"
    cmd("nbd-server-start", {"addr": {"type": "unix", "data": {"path": sock}}})
    cmd("nbd-server-add", {"device": "fl-access"})
    uri = f"nbd+unix:///fl-access?socket={sock}"
    first = export_digest(uri, size, f"{tmp}/copy1.raw")
    time.sleep(1.0)  # the guest goes on running (and writing) under the filter
    assert export_digest(uri, size, f"{tmp}/copy2.raw") == first, "the point in time moved"
    cmd("nbd-server-stop")
    cmd("blockdev-del", {"node-name": "fl-access"})
    cmd("qom-set", {"path": DEVICE, "property": "drive", "value": node})
    assert inserted_node(cmd) == node
    cmd("blockdev-del", {"node-name": "fl-cbw"})
    cmd("blockdev-del", {"node-name": "fl-temp"})
    names = [n["node-name"] for n in cmd("query-named-block-nodes")]
    assert "fl-cbw" not in names and "fl-temp" not in names, names


if __name__ == "__main__":
    main()
