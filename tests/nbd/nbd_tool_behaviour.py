#!/usr/bin/env python3
"""e2kvm-nbd as a program: socket activation under nbdinfo/nbdcopy, --fork with --pid-file,
exit after the last client without -t, SIGTERM flushes and exits cleanly, -B on an image
without that bitmap fails like qemu-nbd, bad command lines fail with a message.
Usage: nbd_tool_behaviour.py E2KVM_NBD"""
import functools
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run as run_command  # noqa: E402
from peers import require  # noqa: E402
from processes import wait_for_path  # noqa: E402

E2KVM_NBD = os.path.abspath(sys.argv[1])
checker = Checker()
check = checker.labelled
run = functools.partial(run_command, ok=False)  # exit codes are checked, not raised


def pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False


def main():
    require("qemu-img", "qemu-io", "qemu-nbd", "nbdinfo", "nbdcopy")
    tmp = tempfile.mkdtemp(prefix="e2kvm-nbd-tool-")
    try:
        img = os.path.join(tmp, "img.raw")
        run_command(["qemu-img", "create", "-f", "raw", img, "8M"])  # set-up: must succeed
        run_command(["qemu-io", "-f", "raw", "-c", "write -P 0x61 2M 1M", img])

        p = run(["nbdinfo", "--size", "--", "[", E2KVM_NBD, "-r", "-f", "raw", img, "]"])
        check("socket activation: nbdinfo -- [ e2kvm-nbd ]",
              p.returncode == 0 and p.stdout.strip() == "8388608", p.stdout + p.stderr)
        p = run(["nbdinfo", "--map", "--", "[", E2KVM_NBD, "-r", img, "]"])
        q = run(["nbdinfo", "--map", "--", "[", "qemu-nbd", "-r", img, "]"])
        check("socket activation: --map same as qemu-nbd", p.stdout == q.stdout and p.stdout,
              p.stdout + "\n---\n" + q.stdout)
        out = os.path.join(tmp, "out.raw")
        p = run(["nbdcopy", "--", "[", E2KVM_NBD, "-r", "-f", "raw", img, "]", out])
        check("socket activation: nbdcopy -- [ e2kvm-nbd ] out",
              p.returncode == 0 and open(out, "rb").read() == open(img, "rb").read(), p.stderr)
        copy = os.path.join(tmp, "copy.raw")
        run_command(["qemu-img", "create", "-f", "raw", copy, "8M"])
        p = run(["nbdcopy", out, "--", "[", E2KVM_NBD, "-f", "raw", copy, "]"])
        check("socket activation: nbdcopy back into a writable export",
              p.returncode == 0 and open(copy, "rb").read() == open(img, "rb").read(), p.stderr)

        sock = os.path.join(tmp, "s")
        pidfile = os.path.join(tmp, "pid")
        p = run([E2KVM_NBD, "--fork", "--pid-file", pidfile, "-k", sock, "-f", "raw", img])
        check("--fork returns once serving", p.returncode == 0 and os.path.exists(sock)
              and os.path.exists(pidfile), p.stderr)
        pid = int(open(pidfile).read())
        check("--fork child alive", pid_alive(pid))
        uri = f"nbd+unix:///?socket={sock}"
        p = run(["qemu-io", "-f", "raw", "-c", "write -P 0x62 0 64k", uri])
        check("write through the forked server", p.returncode == 0, p.stderr)
        deadline = time.time() + 10
        while pid_alive(pid) and time.time() < deadline:
            time.sleep(0.05)
        check("without -t it exits after the last client", not pid_alive(pid))
        check("socket and pid file removed on exit",
              not os.path.exists(sock) and not os.path.exists(pidfile))
        with open(img, "rb") as f:
            check("data written before exit is in the image", f.read(65536) == b"\x62" * 65536)

        srv = subprocess.Popen([E2KVM_NBD, "-t", "-k", sock, "-f", "raw", img],
                               stderr=subprocess.PIPE, text=True)
        check("-t: serving", wait_for_path(sock, srv))
        p = run(["nbdinfo", "--list", uri])
        check("-t: nbdinfo --list", p.returncode == 0, p.stderr)
        p = run(["nbdinfo", "--size", uri])
        check("-t: still serving after clients left", p.returncode == 0 and srv.poll() is None)
        # LIST-only clients (qemu-nbd -L) do not end a non-persistent server either.
        srv.send_signal(signal.SIGTERM)
        try:
            rc = srv.wait(timeout=10)
        except subprocess.TimeoutExpired:
            srv.kill()
            rc = -1
        check("SIGTERM: clean exit status 0", rc == 0, srv.stderr.read())

        srv = subprocess.Popen([E2KVM_NBD, "-k", sock, "-f", "raw", img],
                               stderr=subprocess.PIPE, text=True)
        check("non-persistent server: serving", wait_for_path(sock, srv))
        p = run([E2KVM_NBD, "-L", "-k", sock])
        check("e2kvm-nbd -L lists the export", p.returncode == 0, p.stderr)
        time.sleep(0.2)
        check("a listing client does not end a non-persistent server", srv.poll() is None)
        srv.send_signal(signal.SIGINT)
        check("SIGINT ends the server", srv.wait(timeout=10) == 0)

        p = run([E2KVM_NBD, "-k", sock, "-B", "nosuch", img])
        check("-B on an image without the bitmap fails",
              p.returncode != 0 and "Bitmap 'nosuch' is not found" in p.stderr, p.stderr)
        p = run([E2KVM_NBD, "-k", sock, os.path.join(tmp, "missing.raw")])
        check("missing image fails with its name",
              p.returncode != 0 and "missing.raw" in p.stderr, p.stderr)
        for bad in (["-p", "99999", img], ["--tls-mode", "bogus", img], [], ["-e", "x", img],
                    ["--tls-mode", "required", img], ["-k", sock, "-b", "::1", img]):
            p = run([E2KVM_NBD, *bad])
            check(f"bad command line {bad} fails with a message",
                  p.returncode != 0 and p.stderr.startswith("e2kvm-nbd: "), p.stderr)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(checker.exit_status(None, "{count} failures: {failures}"))


main()
