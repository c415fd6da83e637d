#!/usr/bin/env python3
"""e2kvm-system's SDL window under Xvfb (SDL_VIDEODRIVER=x11): the demo guest's console appears
in a window of the guest's size, pixel for pixel what QMP screendump returns; keys typed into
the window reach the guest as PC set-1 scancodes (the demo echoes them on serial); Ctrl+Alt+G
grabs and releases (window title); a resized window shows the picture scaled with its aspect
kept; STOP/RESUME show in the title; closing the window quits with SHUTDOWN reason host-ui.
Screenshots (window.png, scaled.png) go to OUT_DIR for a human to look at.
usage: system_sdl_window.py E2KVM_SYSTEM X11_TOOL DEMO_DISK OUT_DIR"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checker  # noqa: E402
from peers import require  # noqa: E402
from qmp_client import QmpClient  # noqa: E402
from system_harness import SystemProcess, check_shutdown, read_ppm  # noqa: E402

TITLE = "e2kvm (sdltest)"
SCREEN_W, SCREEN_H = 1280, 1024
checker = Checker(sys.stderr)
check = checker.check


def tool(*args, timeout=20):
    p = subprocess.run([X11_TOOL] + list(args), capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout.strip(), p.stderr.strip()


def window():
    """(x, y, w, h, title) of our window, or None."""
    rc, out, _ = tool("find", "e2kvm (")
    if rc != 0:
        return None
    x, y, w, h, title = out.split(" ", 4)
    return int(x), int(y), int(w), int(h), title


def wait_for(pred, timeout=20, step=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def grab(path):
    rc, _, err = tool("grab", path)
    check(rc == 0, "x11_tool grab: %s" % err)
    return read_ppm(path) if path.endswith(".ppm") else None


def static_region_matches(tmp, qmp, win):
    """Compares the part of the window that does not change over time (title bar start, the
    labels column) with the guest's own picture from screendump."""
    guest = os.path.join(tmp, "guest.ppm")
    screen = os.path.join(tmp, "screen.ppm")
    if qmp.cmd("screendump", filename=guest, format="ppm") != {"return": {}}:
        return False
    gw, gh, gpx = read_ppm(guest)
    _, _, spx = grab(screen)
    x0, y0 = win[0], win[1]
    if gpx(500, 4) != (0x2A, 0x5D, 0xB0):
        return False  # the console is not drawn yet
    for y in range(0, 140, 3):
        for x in range(0, 150, 3):
            if spx(x0 + x, y0 + y) != gpx(x, y):
                return False
    return True


def key(*names):
    rc, _, err = tool("key", TITLE, *names)
    check(rc == 0, "x11_tool key %s: %s" % (names, err))


def inner(system, demo_disk, out_dir):
    tmp = tempfile.mkdtemp(prefix="e2kvm-system-sdl-")
    disk = os.path.join(tmp, "demo.raw")
    shutil.copyfile(demo_disk, disk)
    sock = os.path.join(tmp, "qmp.sock")
    env = dict(os.environ, SDL_VIDEODRIVER="x11", E2KVM_TRACE_FIRST_FRAME="1")
    # In a sanitizer build: the X11 extension libraries SDL loads and unloads itself keep a few
    # allocations to the end, which LeakSanitizer can then no longer attribute (no symbols), so
    # leak checking is off for this one process; the headless tests keep it.
    env["ASAN_OPTIONS"] = (env.get("ASAN_OPTIONS", "") + ":detect_leaks=0").lstrip(":")
    p = SystemProcess([system, "-display", "sdl", "-name", "sdltest", "-serial", "stdio",
                       "-drive", "file=%s,format=raw" % disk,
                       "-qmp", "unix:%s,server=on,wait=off" % sock], env=env)
    try:
        qmp = QmpClient(sock)
        check(wait_for(lambda: "first frame on screen" in p.stderr(), 30),
              "first frame traced: %r" % p.stderr())
        # The window takes the guest's 1024x768 mode and stays on the screen.
        win = wait_for(lambda: (lambda w: w if w and w[2:4] == (1024, 768) else None)(window()))
        if not check(win is not None, "window of 1024x768: %r" % (window(),)):
            return
        check(win[4] == TITLE, "title %r" % win[4])
        check(0 <= win[0] and win[0] + 1024 <= SCREEN_W and 0 <= win[1] and
              win[1] + 768 <= SCREEN_H, "window inside the screen: %r" % (win,))
        check(wait_for(lambda: static_region_matches(tmp, qmp, win), 30),
              "window shows the guest picture 1:1")

        # Keys typed into the window: 'a', '1', Enter, Up (E0 48), right Ctrl (E0 1D).
        check(p.wait_serial("records from sector", 20), "demo ready")
        key("a", "1", "Return", "Up", "Control_R")
        for line in ("key 'a' scancode 0x1e", "key '1' scancode 0x02", "scancode 0x1c",
                     "scancode 0xe048", "scancode 0xe01d"):
            check(p.wait_serial(line, 20), "serial shows %r: %r" % (line, p.serial()[-400:]))
        grab(os.path.join(out_dir, "window.png"))

        # Ctrl+Alt+G: grab (title says how to release), again: released; G never reaches the
        # guest.
        key("+Control_L", "+Alt_L", "g", "-Alt_L", "-Control_L")
        check(wait_for(lambda: (window() or (0,) * 5)[4].endswith(
            "Press Ctrl+Alt+G to release grab"), 10), "grab title: %r" % (window(),))
        key("+Control_L", "+Alt_L", "g", "-Alt_L", "-Control_L")
        check(wait_for(lambda: (window() or (0,) * 5)[4] == TITLE, 10),
              "title after release: %r" % (window(),))
        time.sleep(0.3)
        check("scancode 0x22" not in p.serial(), "the hot key's G went to the guest")

        # STOP / RESUME in the title.
        check(qmp.cmd("stop") == {"return": {}}, "stop")
        check(wait_for(lambda: (window() or (0,) * 5)[4] == TITLE + " [Stopped]", 10),
              "stopped title: %r" % (window(),))
        check(qmp.cmd("cont") == {"return": {}}, "cont")
        check(wait_for(lambda: (window() or (0,) * 5)[4] == TITLE, 10),
              "running title: %r" % (window(),))

        # A window resized to 1200x700 shows the picture scaled to 933x700, centred, with
        # black bars left and right.
        rc, _, err = tool("resize", TITLE, "1200", "700")
        check(rc == 0, "resize: %s" % err)
        check(wait_for(lambda: (window() or (0,) * 5)[2:4] == (1200, 700), 10),
              "resized: %r" % (window(),))
        win = window()

        def scaled_ok():
            _, _, spx = grab(os.path.join(tmp, "scaled.ppm"))
            left = (1200 - 933) // 2
            bars = spx(win[0] + 5, win[1] + 350) == (0, 0, 0) and \
                spx(win[0] + 1195, win[1] + 350) == (0, 0, 0)
            title = spx(win[0] + left + 400, win[1] + 2) == (0x2A, 0x5D, 0xB0)
            edge = spx(win[0] + left - 2, win[1] + 2) == (0, 0, 0)
            return bars and title and edge
        check(wait_for(scaled_ok, 10), "scaled picture with aspect kept")
        grab(os.path.join(out_dir, "scaled.png"))

        # Closing the window ends e2kvm-system: SHUTDOWN host-ui, exit 0.
        rc, _, err = tool("close", TITLE)
        check(rc == 0, "close: %s" % err)
        check_shutdown(check, p, qmp, "host-ui", 20, 20, "closing the window: ")
    finally:
        p.kill()
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    global X11_TOOL
    if len(sys.argv) >= 2 and sys.argv[1] == "--inner":
        system, X11_TOOL, demo_disk, out_dir = sys.argv[2:6]
        os.makedirs(out_dir, exist_ok=True)
        inner(system, demo_disk, out_dir)
        return checker.exit_status("SDL window checks passed; screenshots in %s" % out_dir)
    require("xvfb-run", "Xvfb", "xauth")
    xvfb = shutil.which("xvfb-run")
    argv = [xvfb, "-a", "-s", "-screen 0 %dx%dx24" % (SCREEN_W, SCREEN_H), sys.executable,
            os.path.abspath(__file__), "--inner"] + sys.argv[1:5]
    try:
        return subprocess.run(argv, timeout=240).returncode
    except subprocess.TimeoutExpired:
        print("FAIL: timed out", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
