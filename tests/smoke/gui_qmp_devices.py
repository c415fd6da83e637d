#!/usr/bin/env python3
"""device_add / device_del through the GUI's --qmp, on the selected running VM (the Demo VM
started with --run), as e2kvm-system answers them: nodes from blockdev-add plugged as a
virtio-blk-pci disk and as a scsi-hd disk on a virtio-scsi controller, shown by query-block on
their devices, written through the devices (HMP qemu-io -d), held by them (blockdev-del
refused while plugged), qemu-system's errors (duplicate id, unknown drive, a drive in use, an
unknown device), then device_del with DEVICE_DELETED, after which the nodes can go and the image
holds what the device wrote. Last, the VM is shut down from the GUI's menu (xdotool): a device
plugged into that run goes with it, its node free again, and device_add is refused.
The test runs itself under xvfb-run (the app and xdotool on one display).
Usage: gui_qmp_devices.py E2KVM GUEST_DIR"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from peers import require  # noqa: E402
from qmp_client import QmpClient  # noqa: E402

IMAGE_SIZE = 4 << 20


def main():
    app, guest = sys.argv[1], sys.argv[2]
    require("xvfb-run", "Xvfb", "xauth", "xdotool")
    if os.environ.get("E2KVM_DEVICES_SMOKE_DISPLAY") != "1":
        env = dict(os.environ, E2KVM_DEVICES_SMOKE_DISPLAY="1")
        sys.exit(subprocess.call(["xvfb-run", "-a", "-s", "-screen 0 1600x1200x24",
                                  sys.executable, os.path.abspath(__file__), *sys.argv[1:]],
                                 env=env))
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, XDG_CONFIG_HOME=f"{tmp}/config", XDG_DATA_HOME=f"{tmp}/data",
                   XDG_RUNTIME_DIR=f"{tmp}/run", E2KVM_GUEST_DIR=guest)
        env.pop("QT_QPA_PLATFORM", None)
        os.makedirs(f"{tmp}/run", mode=0o700)
        sock_path = f"{tmp}/qmp.sock"
        proc = subprocess.Popen([app, "--vm", "Demo", "--run", "--qmp",
                                 f"unix:{sock_path},server=on,wait=off"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            run(sock_path, tmp)
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                print(proc.communicate()[0])
        print(out)
        assert proc.returncode == 0, f"e2kvm exited with {proc.returncode}"
    print("PASS")


def wait_for(what, predicate, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def shut_down_from_menu():
    """VM ▸ Shut Down in the main window, as a user would."""
    found = wait_for("the e2kvm window", lambda: subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", "^e2kvm$"], text=True,
        capture_output=True).stdout.split())
    subprocess.run(["xdotool", "windowfocus", "--sync", found[0]], check=False)
    subprocess.run(["xdotool", "key", "alt+v"], check=True)
    time.sleep(0.5)
    subprocess.run(["xdotool", "key", "s"], check=True)


def image(path, first):
    """A raw image of IMAGE_SIZE bytes whose first 4 KiB are the byte `first`."""
    with open(path, "wb") as f:
        f.write(bytes([first]) * 4096)
        f.truncate(IMAGE_SIZE)


def run(sock_path, tmp):
    q = QmpClient(sock_path, timeout=30, connect_timeout=60)

    def ok(name, **args):
        r = q.cmd(name, **args)
        assert "return" in r, (name, args, r)
        return r["return"]

    def err(name, cls, desc, **args):
        r = q.cmd(name, **args)
        assert "error" in r, (name, args, r)
        got = (r["error"]["class"], r["error"]["desc"])
        assert got == (cls, desc), (name, args, got, (cls, desc))

    def hmp(line):
        return ok("human-monitor-command", **{"command-line": line})

    def qdevs():
        return sorted((b["qdev"], b.get("inserted", {}).get("node-name"))
                      for b in ok("query-block") if b.get("qdev"))

    def deleted():
        """The DEVICE_DELETED events of the device just unplugged, as (device, path)."""
        events = []
        while True:
            e = q.wait_event("DEVICE_DELETED", timeout=10)
            assert e is not None, ("no DEVICE_DELETED", events)
            events.append((e["data"].get("device"), e["data"]["path"]))
            if not e["data"]["path"].endswith("/virtio-backend"):
                return events

    status = None
    for _ in range(100):
        status = ok("query-status")
        if status["status"] == "running":
            break
        time.sleep(0.1)
    assert status["status"] == "running", status
    own = qdevs()
    assert own == [("/machine/peripheral-anon/device[0]/virtio-backend", own[0][1])], own

    image(f"{tmp}/vd.raw", 0x5A)
    image(f"{tmp}/sd.raw", 0x00)
    for node, path in (("hd0", f"{tmp}/vd.raw"), ("hd1", f"{tmp}/sd.raw")):
        ok("blockdev-add", driver="raw", **{"node-name": node},
           file={"driver": "file", "filename": path})

    # Plugged into the running VM: a virtio-blk-pci disk, and a scsi-hd disk on a controller.
    ok("device_add", driver="virtio-blk-pci", id="vd1", drive="hd0")
    ok("device_add", driver="virtio-scsi", id="scsi0")
    ok("device_add", driver="scsi-hd", id="sd0", drive="hd1", bus="scsi0.0")
    assert qdevs() == sorted(own + [("/machine/peripheral/vd1/virtio-backend", "hd0"),
                                    ("sd0", "hd1")]), qdevs()

    # The devices reach their images: a write through each (the files are read at the end).
    for dev, pattern in (("vd1", "0x44"), ("sd0", "0x33")):
        out = hmp('qemu-io -d %s "write -P %s 4k 4k"' % (dev, pattern))
        assert "Error" not in out and "error" not in out, (dev, out)

    # qemu-system's errors, as e2kvm-system gives them.
    err("device_add", "GenericError", "Duplicate device ID 'vd1'",
        driver="virtio-blk-pci", id="vd1", drive="hd1")
    err("device_add", "GenericError", "Property 'virtio-blk-device.drive' can't find value 'nonode'",
        driver="virtio-blk-pci", id="x", drive="nonode")
    err("device_add", "GenericError", "Property 'scsi-hd.drive' can't find value 'nonode'",
        driver="scsi-hd", id="x", drive="nonode")
    err("device_add", "GenericError", "Property 'virtio-blk-pci.drive' can't take value 'disk0', "
        "it's in use", driver="virtio-blk-pci", id="x", drive="disk0")
    err("device_add", "GenericError", "Bus 'nobus.0' not found",
        driver="scsi-hd", id="x", drive="hd1", bus="nobus.0")
    err("device_del", "DeviceNotFound", "Device 'nope' not found", id="nope")
    # A plugged node is in use.
    r = q.cmd("blockdev-del", **{"node-name": "hd0"})
    assert r.get("error", {}).get("desc") == "Node hd0 is in use", r

    # Unplugged: DEVICE_DELETED, query-block no longer lists them, the nodes can go.
    ok("device_del", id="vd1")
    assert deleted() == [(None, "/machine/peripheral/vd1/virtio-backend"),
                         ("vd1", "/machine/peripheral/vd1")]
    ok("device_del", id="scsi0")  # with the disk on its bus
    assert deleted() == [("sd0", "/machine/peripheral/sd0")]
    assert deleted() == [(None, "/machine/peripheral/scsi0/virtio-backend"),
                         ("scsi0", "/machine/peripheral/scsi0")]
    assert qdevs() == own, qdevs()
    ok("blockdev-del", **{"node-name": "hd0"})
    ok("blockdev-del", **{"node-name": "hd1"})
    for path, first, written in (("vd.raw", 0x5A, 0x44), ("sd.raw", 0x00, 0x33)):
        with open(f"{tmp}/{path}", "rb") as f:
            data = f.read(8192)
        assert data == bytes([first]) * 4096 + bytes([written]) * 4096, path

    # Plugged again (the freed slot), anonymous this time, and unplugged by QOM path.
    ok("blockdev-add", driver="raw", **{"node-name": "hd0"},
       file={"driver": "file", "filename": f"{tmp}/vd.raw"})
    ok("device_add", driver="virtio-blk-pci", drive="hd0")
    anon = [d for d, n in qdevs() if n == "hd0"]
    assert anon == ["/machine/peripheral-anon/device[1]/virtio-backend"], qdevs()
    ok("device_del", id="/machine/peripheral-anon/device[1]")
    assert deleted()[-1] == (None, "/machine/peripheral-anon/device[1]")
    # The human monitor's device_add and device_del.
    assert hmp("device_add virtio-blk-pci,id=h0,drive=hd0") == ""
    assert ("/machine/peripheral/h0/virtio-backend", "hd0") in qdevs(), qdevs()
    assert hmp("device_del h0") == ""
    assert deleted()[-1] == ("h0", "/machine/peripheral/h0")
    assert "Device 'h0' not found" in hmp("device_del h0")
    ok("blockdev-del", **{"node-name": "hd0"})
    assert ok("query-status")["status"] == "running"

    # The run ends (shut down from the GUI): the device plugged into it goes with it, its node
    # is free again, and the stopped VM takes no device.
    ok("blockdev-add", driver="raw", **{"node-name": "hd0"},
       file={"driver": "file", "filename": f"{tmp}/vd.raw"})
    ok("device_add", driver="virtio-blk-pci", id="vd2", drive="hd0")
    assert ("/machine/peripheral/vd2/virtio-backend", "hd0") in qdevs(), qdevs()
    shut_down_from_menu()
    wait_for("the VM to stop", lambda: ok("query-status")["status"] == "shutdown")
    wait_for("vd2 to go with its run", lambda: all(n != "hd0" for _, n in qdevs()))
    err("device_add", "GenericError", "device_add: VM 'Demo' has stopped",
        driver="virtio-blk-pci", id="vd3", drive="hd0")
    ok("blockdev-del", **{"node-name": "hd0"})
    ok("quit")
    q.close()


if __name__ == "__main__":
    main()
