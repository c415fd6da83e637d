"""Dirty-bitmap maps read over NBD with nbdinfo for the Python test scripts: serve an image for
one nbdinfo --map=qemu:dirty-bitmap:NAME run and parse what nbdinfo prints."""
import time

from checks import run
from processes import ServerProcess


def served_dirty_map(server_argv, sock, name, start_timeout=10):
    """Starts server_argv (serving on the unix socket `sock`), returns the stdout of
    `nbdinfo --map=qemu:dirty-bitmap:NAME` against it and stops the server. A refused
    connection is retried for a while: the socket file appears at bind(), before listen()."""
    with ServerProcess(server_argv, unix_socket=sock, start_timeout=start_timeout):
        for attempt in range(50):
            p = run("nbdinfo", "--map=qemu:dirty-bitmap:" + name, f"nbd+unix:///?socket={sock}",
                    ok=attempt == 49)
            if p.returncode == 0:
                break
            time.sleep(0.05)
    return p.stdout


def parse_nbdinfo_map(text):
    """nbdinfo --map lines as (offset, length, type == 1) tuples."""
    out = []
    for line in text.splitlines():
        f = line.split()
        out.append((int(f[0]), int(f[1]), f[2] == "1"))
    return out
