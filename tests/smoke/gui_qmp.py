#!/usr/bin/env python3
"""Starts the real e2kvm under xvfb-run with --vm Demo --run --qmp unix:SOCK and drives it as a
QMP client would: capabilities, query-status, stop/cont with STOP/RESUME events, the block node
of the VM's disk with its bitmap, screendump of the GUI's VM, and quit ending the application.
Usage: gui_qmp.py E2KVM GUEST_DIR"""
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from peers import require  # noqa: E402
from qmp_client import QmpClient  # noqa: E402


def main():
    app, guest = sys.argv[1], sys.argv[2]
    require("xvfb-run", "Xvfb", "xauth")
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, XDG_CONFIG_HOME=f"{tmp}/config", XDG_DATA_HOME=f"{tmp}/data",
                   XDG_RUNTIME_DIR=f"{tmp}/run", E2KVM_GUEST_DIR=guest)
        env.pop("QT_QPA_PLATFORM", None)
        os.makedirs(f"{tmp}/run", mode=0o700)
        sock_path = f"{tmp}/qmp.sock"
        proc = subprocess.Popen(["xvfb-run", "-a", app, "--vm", "Demo", "--run", "--qmp",
                                 f"unix:{sock_path},server=on,wait=off"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            run(sock_path, tmp)
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
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
    cmd("quit")
    events = q.event_names()
    assert "STOP" in events and "RESUME" in events, events
    q.close()


if __name__ == "__main__":
    main()
