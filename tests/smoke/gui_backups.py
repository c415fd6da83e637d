#!/usr/bin/env python3
"""The Backups tab of the real e2kvm, driven as a user would under Xvfb: e2kvm starts the Demo VM
(--vm Demo --run, with --qmp for the test's writes), xdotool clicks the Backups tab and presses
the buttons' keys (Alt+B Back up now, Alt+F Verify, Alt+R Restore to image and the file name
typed into the file dialog), while the guest runs on. Between the two backups and after the
second, the disk is written through QMP's human-monitor-command "qemu-io" (as a typing guest
would). The restored image must equal the disk as it was at the second backup: the final disk
with the write made after it undone; qemu-img compares it with the point's qcow2 chain too.
xwd grabs the screen at each step: the PNGs are checked with check_png.py and kept in
$E2KVM_SMOKE_KEEP when set. Without xvfb-run, xdotool, xwd or qemu-img: exit 77 (skipped).
Usage: gui_backups.py E2KVM GUEST_DIR CHECK_PNG"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "lib"))
from peers import require  # noqa: E402
from qmp_client import QmpClient  # noqa: E402
from xwd_png import xwd_to_png  # noqa: E402

# e2kvm opens its 1280x860 window at (0, 0) on a bare X server (no window manager); the
# Backups tab of its tab bar is here (Console, Details, Images, Bitmaps, Exports, Backups, Log).
WINDOW_SIZE = (1280, 860)
BACKUPS_TAB = (647, 61)
MiB = 1 << 20
FIRST_WRITE = (1 * MiB, 64 << 10, 0x11)  # between the backups: in the restored image
LATER_WRITE = (2 * MiB, 64 << 10, 0x22)  # after the second backup: not in it


def run(*args, **kwargs):
    return subprocess.run(args, check=True, text=True, capture_output=True, **kwargs).stdout


def xdotool(*args):
    return run("xdotool", *[str(a) for a in args])


def windows(title_regex):
    """The visible windows whose title matches (xdotool search fails when there is none)."""
    found = subprocess.run(["xdotool", "search", "--onlyvisible", "--name", title_regex],
                           text=True, capture_output=True)
    return found.stdout.split()


def wait_for(what, predicate, timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def main():
    app, guest, check = sys.argv[1:4]
    require("xvfb-run", "Xvfb", "xauth", "xdotool", "xwd", "qemu-img")
    if os.environ.get("E2KVM_BACKUPS_SMOKE_DISPLAY") != "1":
        # Run the test itself on the virtual display, so that xdotool and xwd reach it.
        env = dict(os.environ, E2KVM_BACKUPS_SMOKE_DISPLAY="1")
        sys.exit(subprocess.call(["xvfb-run", "-a", "-s", "-screen 0 1600x1200x24",
                                  sys.executable, os.path.abspath(__file__), *sys.argv[1:]],
                                 env=env))
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, XDG_CONFIG_HOME=f"{tmp}/config", XDG_DATA_HOME=f"{tmp}/data",
                   XDG_RUNTIME_DIR=f"{tmp}/run", E2KVM_GUEST_DIR=guest)
        env.pop("QT_QPA_PLATFORM", None)
        os.makedirs(f"{tmp}/run", mode=0o700)
        sock = f"{tmp}/qmp.sock"
        with open(f"{tmp}/e2kvm.log", "w") as log:
            proc = subprocess.Popen([app, "--vm", "Demo", "--run", "--qmp",
                                     f"unix:{sock},server=on,wait=off"], env=env,
                                    stdout=log, stderr=subprocess.STDOUT)
            try:
                restored, point_file = drive(tmp, sock, check)
                proc.wait(timeout=60)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()
        with open(f"{tmp}/e2kvm.log") as log:
            print(log.read())
        assert proc.returncode == 0, f"e2kvm exited with {proc.returncode}"
        compare(tmp, guest, restored, point_file)
    print("PASS")


def drive(tmp, sock, check):
    """Backs up twice, verifies and restores through the GUI; returns the restored image and
    the file of the restored point, after asking e2kvm to quit."""
    q = QmpClient(sock, timeout=30, connect_timeout=60)
    wait_for("the VM to run", lambda: q.execute("query-status")["status"] == "running")
    disk = [n for n in q.execute("query-named-block-nodes")
            if n["file"].endswith("/e2kvm/demo.qcow2")]
    assert disk, "no node for demo.qcow2"
    node = disk[0]["node-name"]
    backups = f"{tmp}/data/e2kvm/backups/Demo/disk0"
    shots = f"{tmp}/shots"
    os.makedirs(shots)

    def points():
        try:
            with open(f"{backups}/e2kvm-backup.json") as f:
                return json.load(f)["points"]
        except (OSError, ValueError, KeyError):
            return []

    def write(offset, length, pattern):
        q.execute("human-monitor-command",
                  **{"command-line": f'qemu-io {node} "write -P {pattern} {offset} {length}"'})

    def shot(name):
        dump = run("xwd", "-id", window, "-silent", encoding="latin-1")
        path = f"{shots}/{name}.png"
        xwd_to_png(dump.encode("latin-1"), path)
        print(run(sys.executable, check, path).strip())
        return path

    window = wait_for("the e2kvm window", lambda: windows("^e2kvm$"), 30)[0]
    geometry = run("xwininfo", "-id", window)
    for line in ("Absolute upper-left X:  0", "Absolute upper-left Y:  0",
                 f"Width: {WINDOW_SIZE[0]}", f"Height: {WINDOW_SIZE[1]}"):
        assert line in geometry, f"the window is not where the test clicks:\n{geometry}"
    time.sleep(1.0)  # the console shows the guest
    xdotool("mousemove", *BACKUPS_TAB, "click", "1")
    time.sleep(0.5)
    shot("backups-empty")

    xdotool("key", "alt+b")  # Back up now: the first point is full
    first = wait_for("the first point", lambda: len(points()) == 1 and points())
    assert first[0]["type"] == "full", first
    write(*FIRST_WRITE)
    xdotool("key", "alt+b")  # the second: incremental, while the guest runs on
    second = wait_for("the second point", lambda: len(points()) == 2 and points())
    assert second[1]["type"] == "inc", second
    assert second[1]["changed"] >= FIRST_WRITE[1], second[1]
    write(*LATER_WRITE)
    assert q.execute("query-status")["status"] == "running"

    xdotool("key", "alt+f")  # Verify
    wait_for("verified points", lambda: all(p["verified"] for p in points()) and points())
    time.sleep(0.5)
    shot("backups")

    restored = f"{tmp}/restored.raw"
    xdotool("key", "alt+r")  # Restore to image…: the latest point, as raw
    wait_for("the file dialog", lambda: windows("^Restore point 2 to"), 20)
    time.sleep(0.5)
    xdotool("key", "ctrl+a")
    xdotool("type", "--delay", "20", restored)
    xdotool("key", "Return")
    wait_for("the restored image", lambda: os.path.exists(restored), 60)
    time.sleep(1.0)
    shot("backups-restored")
    point_file = f"{backups}/{points()[1]['file']}"
    keep = os.environ.get("E2KVM_SMOKE_KEEP")
    if keep:
        os.makedirs(keep, exist_ok=True)
        for name in os.listdir(shots):
            shutil.copy(f"{shots}/{name}", keep)
    q.execute("quit")
    q.close()
    return restored, point_file


def compare(tmp, guest, restored, point_file):
    """The restored image is the disk as it was at the second backup: the final disk (stored
    when e2kvm quit) without the later write."""
    final = f"{tmp}/final.raw"
    run("qemu-img", "convert", "-f", "qcow2", "-O", "raw", f"{tmp}/data/e2kvm/demo.qcow2", final)
    with open(final, "rb") as f:
        expected = bytearray(f.read())
    with open(f"{guest}/demo-disk.raw", "rb") as f:
        f.seek(LATER_WRITE[0])
        before = f.read(LATER_WRITE[1])
    offset, length, pattern = LATER_WRITE
    assert expected[offset:offset + length] == bytes([pattern]) * length
    expected[offset:offset + length] = before
    with open(restored, "rb") as f:
        got = f.read()
    offset, length, pattern = FIRST_WRITE
    assert got[offset:offset + length] == bytes([pattern]) * length, "the first write is missing"
    assert got == bytes(expected), "the restored image differs from the disk at the backup"
    # QEMU reads the point's qcow2 chain (point 2 backed by point 1) as the same disk.
    run("qemu-img", "compare", "-f", "raw", "-F", "qcow2", restored, point_file)
    print(f"restored {len(got)} bytes: the disk as at point 2; qemu-img compare agrees")


if __name__ == "__main__":
    main()
