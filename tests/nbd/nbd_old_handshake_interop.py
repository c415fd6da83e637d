#!/usr/bin/env python3
"""The NBD client of e2kvm-io against servers older than NBD_OPT_GO, compared with qemu-io.

A small server of our own speaks one of three handshakes: oldstyle (size and flags straight
after the greeting, no options), plain newstyle (no fixed-newstyle flag: NBD_OPT_EXPORT_NAME is
the only option), and fixed newstyle that answers NBD_OPT_GO with "unsupported" (the client must
fall back to NBD_OPT_EXPORT_NAME). It can hang up at a chosen point (after N bytes of the
handshake, before or after the first reply). For each case, e2kvm-io installed as qemu-io must
print exactly what qemu-io prints: opening fails for a cut handshake, a request fails with EIO
once the server has gone (and nothing more is said when the image is closed), and a read that
was answered in full succeeds.

Usage: nbd_old_handshake_interop.py E2KVM_IO"""
import os
import re
import socket
import struct
import subprocess
import sys
import tempfile
import threading

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from peers import require  # noqa: E402

SIZE = 1 << 20
INIT_MAGIC = b"NBDMAGIC"
OPT_MAGIC = 0x49484156454F5054
OLD_MAGIC = 0x00420281861253
REQ_MAGIC = 0x25609513
OPT_EXPORT_NAME, OPT_GO = 1, 7
REP_ERR_UNSUP = (1 << 31) + 1


class Server:
    """Serves one connection with handshake `style`; stops sending after `cut` bytes of the
    handshake (None: all of it) or, with `hangup` "request"/"reply", at the first request."""

    def __init__(self, path, style, cut=None, hangup=None):
        self.style, self.cut, self.hangup = style, cut, hangup
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(path)
        self.sock.listen(1)
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def recv(self, conn, n):
        data = b""
        while len(data) < n:
            chunk = conn.recv(n - len(data))
            if not chunk:
                raise EOFError
            data += chunk
        return data

    def greeting(self):
        """The server's greeting (for oldstyle: with the export's description) and how many
        bytes the client answers with (its flags)."""
        if self.style == "old":
            return INIT_MAGIC + struct.pack(">QQI", OLD_MAGIC, SIZE, 1) + b"\0" * 124, 0
        flags = 0 if self.style == "plain" else 1
        return INIT_MAGIC + struct.pack(">QH", OPT_MAGIC, flags), 4

    def serve(self):
        conn, _ = self.sock.accept()
        try:
            self.talk(conn)
        except (EOFError, OSError):
            pass
        finally:
            conn.close()
            self.sock.close()

    def send(self, conn, data, sent):
        """Sends `data`, stopping at the cut; returns the running count or None if cut."""
        if self.cut is not None and sent + len(data) >= self.cut:
            conn.sendall(data[: self.cut - sent])
            return None
        conn.sendall(data)
        return sent + len(data)

    def talk(self, conn):
        sent = 0
        greeting, reply_len = self.greeting()
        sent = self.send(conn, greeting, sent)
        if sent is None:
            return
        if self.style != "old":
            self.recv(conn, reply_len)  # client flags
            while True:
                magic, opt, length = struct.unpack(">QII", self.recv(conn, 16))
                assert magic == OPT_MAGIC
                payload = self.recv(conn, length)
                if opt == OPT_EXPORT_NAME:
                    assert payload == b"", payload
                    sent = self.send(conn, struct.pack(">QH", SIZE, 1) + b"\0" * 124, sent)
                    if sent is None:
                        return
                    break
                # Any other option (structured replies, GO): not supported by this server.
                conn.sendall(struct.pack(">QIII", 0x0003E889045565A9, opt, REP_ERR_UNSUP, 0))
        while True:
            magic, _flags, typ, handle, _off, length = struct.unpack(">IHHQQI",
                                                                     self.recv(conn, 28))
            assert magic == REQ_MAGIC
            if typ == 2:  # DISC
                return
            if self.hangup == "request":
                return
            if typ == 0:  # READ
                conn.sendall(struct.pack(">IIQ", 0x67446698, 0, handle) + b"\x5a" * length)
            elif typ == 1:  # WRITE
                self.recv(conn, length)
                conn.sendall(struct.pack(">IIQ", 0x67446698, 0, handle))
            else:
                conn.sendall(struct.pack(">IIQ", 0x67446698, 0, handle))
            if self.hangup == "reply":
                return


def run_io(prog, sock, commands):
    args = [prog, "-f", "raw"]
    for c in commands:
        args += ["-c", c]
    args.append(f"nbd+unix:///?socket={sock}")
    r = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=60)
    out = r.stdout.replace(sock, "SOCK")
    out = re.sub(r"\d+ ops; .*", "X ops", out)
    # The reason after the device is each program's own wording; the line itself is compared.
    return re.sub(r"(can.t open device \S+): .*", r"\1", out)


CASES = [
    # style, cut, hangup, commands
    ("old", None, None, ["read -P 0x5a 0 4096", "read -P 0x5a 65536 512"]),
    ("old", 20, None, ["read 0 512"]),
    ("old", 152, None, ["read 0 512"]),
    ("old", None, "request", ["read 0 512", "read 0 512"]),
    ("plain", None, None, ["read -P 0x5a 0 4096", "write 0 512", "write -z 0 8192",
                           "write -f 4096 512"]),
    ("plain", 12, None, ["read 0 512"]),
    ("plain", 18 + 10, None, ["read 0 512"]),
    ("plain", 18 + 134, "request", ["read 0 512"]),
    ("plain", None, "reply", ["read 0 512", "read 512 512", "flush"]),
    ("fixed-no-go", None, None, ["read -P 0x5a 0 4096"]),
    ("fixed-no-go", None, "request", ["write 0 512"]),
]


def main():
    ours = sys.argv[1]
    require("qemu-io")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        # Installed as qemu-io, as a drop-in replacement would be.
        alias = os.path.join(tmp, "qemu-io")
        os.symlink(os.path.abspath(ours), alias)
        for n, (style, cut, hangup, commands) in enumerate(CASES):
            outs = []
            for prog in ("qemu-io", alias):
                sock = os.path.join(tmp, f"s{n}-{len(outs)}.sock")
                server = Server(sock, style, cut, hangup)
                outs.append(run_io(prog, sock, commands))
                server.thread.join(10)
            name = f"{style} cut={cut} hangup={hangup} {commands}"
            if outs[0] != outs[1]:
                failures += 1
                print(f"FAIL {name}\n--- qemu-io\n{outs[0]}--- ours\n{outs[1]}")
            else:
                print(f"ok   {name}: {outs[0].strip().splitlines()[0]}")
    if failures:
        print(f"{failures} of {len(CASES)} cases differ")
        sys.exit(1)
    print("PASS")


if __name__ == "__main__":
    main()
