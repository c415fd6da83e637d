#!/usr/bin/env python3
"""e2kvm-nbd -k PATH where PATH names something already, as qemu-nbd takes it: a socket that a
killed server left behind, a socket bound by another program and closed, or a plain file are
replaced, and the new server serves there (iotest 264 restarts qemu-nbd on the same -k path).
Each case runs with qemu-nbd and with e2kvm-nbd; both must serve, and qemu-io must read the
export's data through them.
Usage: nbd_socket_reuse_interop.py E2KVM_NBD"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
from peers import require  # noqa: E402

E2KVM_NBD = os.path.abspath(sys.argv[1])
checker = Checker()
check = checker.labelled


def start_server(program, sock, pidfile, img):
    """Starts `program` as iotests' qemu_nbd_popen does (--persistent --pid-file); returns the
    process once it wrote its pid file, or the process and its error when it exited first."""
    if os.path.exists(pidfile):
        os.remove(pidfile)
    proc = subprocess.Popen([program, "--persistent", "--pid-file", pidfile, "-k", sock,
                             "-f", "raw", img], stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 10
    while not os.path.exists(pidfile):
        if proc.poll() is not None or time.time() > deadline:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
            return None, proc.stderr.read()
        time.sleep(0.01)
    return proc, ""


def serves(sock):
    p = run(["qemu-io", "-r", "-f", "raw", "-c", "read -P 0x6b 0 64k",
             f"nbd+unix:///?socket={sock}"], ok=False)
    return p.returncode == 0 and "read 65536/65536" in p.stdout, p.stdout + p.stderr


def leave_killed_server_socket(program, sock, pidfile, img):
    proc, err = start_server(program, sock, pidfile, img)
    if proc:
        proc.kill()  # SIGKILL: the socket file stays
        proc.wait()
    return os.path.exists(sock)


def leave_closed_socket(sock):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(sock)
    s.listen(1)
    s.close()
    return os.path.exists(sock)


def leave_plain_file(sock):
    with open(sock, "w") as f:
        f.write("not a socket\n")
    return True


def main():
    require("qemu-img", "qemu-io", "qemu-nbd")
    tmp = tempfile.mkdtemp(prefix="e2kvm-nbd-sock-")
    try:
        img = os.path.join(tmp, "img.raw")
        run(["qemu-img", "create", "-f", "raw", img, "4M"])
        run(["qemu-io", "-f", "raw", "-c", "write -P 0x6b 0 64k", img])
        sock = os.path.join(tmp, "nbd-sock")
        pidfile = os.path.join(tmp, "pid")
        leftovers = {
            "socket of a killed qemu-nbd":
                lambda: leave_killed_server_socket("qemu-nbd", sock, pidfile, img),
            "socket of a killed e2kvm-nbd":
                lambda: leave_killed_server_socket(E2KVM_NBD, sock, pidfile, img),
            "closed socket of another program": lambda: leave_closed_socket(sock),
            "plain file": lambda: leave_plain_file(sock),
        }
        for what, leave in leftovers.items():
            results = {}
            for name, program in (("qemu-nbd", "qemu-nbd"), ("e2kvm-nbd", E2KVM_NBD)):
                if os.path.lexists(sock):
                    os.remove(sock)
                if not leave():
                    check(f"{what}: left at the path", False)
                    continue
                proc, err = start_server(program, sock, pidfile, img)
                ok, detail = serves(sock) if proc else (False, err)
                results[name] = ok
                if proc:
                    proc.kill()
                    proc.wait()
                check(f"{name} -k over a {what}: serves", ok or name == "qemu-nbd", detail)
            check(f"{what}: e2kvm-nbd as qemu-nbd",
                  results.get("e2kvm-nbd") == results.get("qemu-nbd"), str(results))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(checker.exit_status(None, "{count} failures: {failures}"))


main()
