"""A minimal NBD client for the Python test scripts, speaking the protocol itself so a test
can see exactly what a server does: a non-blocking connect to a Unix socket (as libnbd's),
the fixed newstyle handshake with NBD_OPT_GO, and simple-reply requests (python3 stdlib only)."""
import errno
import os
import socket
import struct

IHAVEOPT = 0x49484156454F5054
OPTION_REPLY_MAGIC = 0x3E889045565A9
REQUEST_MAGIC = 0x25609513
SIMPLE_REPLY_MAGIC = 0x67446698
OPT_GO, REP_ACK, REP_INFO = 7, 1, 3
CMD_READ, CMD_WRITE, CMD_DISC, CMD_TRIM, CMD_WRITE_ZEROES = 0, 1, 2, 4, 6


def receive(sock, n):
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("the server closed the connection")
        data += chunk
    return data


def connect(path):
    """A non-blocking connect to a Unix socket, as libnbd makes it; raises OSError (EAGAIN when
    the server's listen queue is full). The socket returned blocks (60 s timeout)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.setblocking(False)
    err = sock.connect_ex(path)
    if err not in (0, errno.EINPROGRESS):
        sock.close()
        raise OSError(err, os.strerror(err))
    sock.setblocking(True)
    sock.settimeout(60)
    return sock


def negotiate(sock, name=b""):
    """Fixed newstyle handshake with NBD_OPT_GO; returns the export's transmission flags."""
    greeting = receive(sock, 18)
    if greeting[:8] != b"NBDMAGIC" or struct.unpack(">Q", greeting[8:16])[0] != IHAVEOPT:
        raise RuntimeError("bad greeting %r" % greeting)
    sock.sendall(struct.pack(">I", 3))  # fixed newstyle, no zeroes
    data = struct.pack(">I", len(name)) + name + struct.pack(">H", 0)
    sock.sendall(struct.pack(">QII", IHAVEOPT, OPT_GO, len(data)) + data)
    flags = None
    while True:
        magic, _option, reply, length = struct.unpack(">QIII", receive(sock, 20))
        payload = receive(sock, length)
        if magic != OPTION_REPLY_MAGIC or reply & 0x80000000:
            raise RuntimeError("NBD_OPT_GO refused (reply 0x%x)" % reply)
        if reply == REP_INFO and struct.unpack(">H", payload[:2])[0] == 0:
            flags = struct.unpack(">H", payload[10:12])[0]
        if reply == REP_ACK:
            return flags


def request(sock, command, offset, length, payload=b"", cookie=1):
    """Sends one request and returns (error, data) from its simple reply."""
    sock.sendall(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, command, cookie, offset, length) +
                 payload)
    magic, error, _cookie = struct.unpack(">IIQ", receive(sock, 16))
    if magic != SIMPLE_REPLY_MAGIC:
        raise RuntimeError("bad reply magic 0x%x" % magic)
    data = receive(sock, length) if command == CMD_READ and error == 0 else b""
    return error, data


def disconnect(sock):
    sock.sendall(struct.pack(">IHHQQI", REQUEST_MAGIC, 0, CMD_DISC, 0, 0, 0))
    sock.close()
