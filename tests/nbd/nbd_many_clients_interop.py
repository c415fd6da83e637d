#!/usr/bin/env python3
"""Interop: e2kvm-nbd serves many clients at once, as nbdkit does. 64 clients connect to the
server's Unix socket at the same moment (a non-blocking connect, as libnbd's, fails with EAGAIN
when the listen backlog is full), and 33 clients connect one after another while the first 32
stay connected and idle (silent before the greeting, and after negotiating); every client must
then negotiate and read the image. nbdkit runs the same checks first, so a failure on our side
is ours. Usage: nbd_many_clients_interop.py E2KVM_NBD"""
import os
import shutil
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker  # noqa: E402
from nbd_raw_client import CMD_READ, connect, disconnect, negotiate, request  # noqa: E402
from peers import require  # noqa: E402
from processes import ServerProcess  # noqa: E402

E2KVM_NBD = os.path.abspath(sys.argv[1])
PATTERN = bytes(range(256)) * 16  # the image's first 4 KiB
BURST = 64
IDLE = 32


def read_and_leave(sock):
    """Reads the first 4 KiB, checks them, and disconnects."""
    error, data = request(sock, CMD_READ, 0, len(PATTERN))
    if error:
        raise RuntimeError("read failed (error %d)" % error)
    if data != PATTERN:
        raise RuntimeError("read returned other data")
    disconnect(sock)


def one_client(path):
    """One whole client; returns None when served, else what went wrong."""
    try:
        sock = connect(path)
    except OSError as e:
        return "connect: " + e.strerror
    try:
        negotiate(sock)
        read_and_leave(sock)
        return None
    except (OSError, EOFError, RuntimeError) as e:
        sock.close()
        return str(e)


def burst(path):
    """BURST clients connecting at the same moment; returns their failures."""
    start = threading.Barrier(BURST)
    results = [None] * BURST

    def client(i):
        start.wait()
        results[i] = one_client(path)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(BURST)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return [r for r in results if r is not None]


def after_idle(path, negotiated):
    """IDLE clients stay connected (silent, or negotiated and then silent) while one more
    client comes; returns the failures."""
    idle, failures = [], []
    try:
        for _ in range(IDLE):
            try:
                sock = connect(path)
            except OSError as e:
                failures.append("idle connect: " + e.strerror)
                continue
            idle.append(sock)
            if negotiated:
                try:
                    negotiate(sock)
                except (OSError, EOFError, RuntimeError) as e:
                    failures.append("idle negotiation: " + str(e))
        last = one_client(path)
        if last is not None:
            failures.append("client %d: %s" % (IDLE + 1, last))
    finally:
        for sock in idle:
            sock.close()
    return failures


def main():
    require("nbdkit")
    checker = Checker(sys.stderr)
    tmp = tempfile.mkdtemp(prefix="e2kvm-nbd-many-")
    try:
        img = os.path.join(tmp, "disk.raw")
        with open(img, "wb") as f:
            f.write(PATTERN)
            f.truncate(1 << 20)
        sock = os.path.join(tmp, "s.sock")
        servers = [("nbdkit", ["nbdkit", "-f", "-r", "-U", sock, "file", img]),
                   ("e2kvm-nbd", [E2KVM_NBD, "-f", "raw", "-r", "-e", "0", "-t", "-k", sock,
                                  img])]
        for name, argv in servers:
            with ServerProcess(argv, unix_socket=sock):
                failed = burst(sock)
                checker.check(not failed, "%s: %d of %d clients at once failed: %s" %
                              (name, len(failed), BURST, sorted(set(failed))))
                for negotiated in (False, True):
                    failed = after_idle(sock, negotiated)
                    checker.check(not failed, "%s: with %d %s idle clients: %s" %
                                  (name, IDLE, "negotiated" if negotiated else "silent",
                                   failed))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("nbd many clients: %d at once and %d idle + 1 all served" %
                               (BURST, IDLE))


if __name__ == "__main__":
    sys.exit(main())
