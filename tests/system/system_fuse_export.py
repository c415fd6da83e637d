#!/usr/bin/env python3
"""QMP block-export-add {type: "fuse"} (QEMU iotest 308's ground) in e2kvm-system -accel qtest
next to qemu-system-x86_64 -machine none: the replies and errors (bad options, a missing
mountpoint, a directory, a second export on one mountpoint, a taken id, a read-only node
exported writable, a node in use), the exported file as a reader sees it (size, mode, bytes,
chmod, writes to a read-only export), writes through a writable export landing in the image,
truncate, fallocate and writes past the end (refused, or growing a growable export),
block-export-del leaving the mountpoint an empty file again with BLOCK_EXPORT_DELETED, and quit
unmounting what is left. Skipped (77) where FUSE cannot be mounted at all, even by QEMU.
usage: system_fuse_export.py E2KVM_SYSTEM"""
import errno
import hashlib
import os
import stat
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checker  # noqa: E402
import peers  # noqa: E402
from qmp_client import QmpClient  # noqa: E402
from peer_machine import machine_argv_for  # noqa: E402
from system_harness import SystemProcess  # noqa: E402

peers.require("qemu-system-x86_64", "qemu-img", "qemu-io")
SYSTEM = os.path.abspath(sys.argv[1])
checker = Checker(sys.stderr)
machine_argv = machine_argv_for(SYSTEM)
MiB = 1 << 20


class FuseUnavailable(Exception):
    pass


def attempt(fn):
    """fn()'s value, or the name of the errno it failed with."""
    try:
        return ("ok", fn())
    except OSError as e:
        return ("error", errno.errorcode.get(e.errno, str(e.errno)))


def mounted(path):
    with open("/proc/self/mountinfo") as f:
        return any(line.split()[4] == path for line in f)


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def pwrite(path, offset, data):
    fd = os.open(path, os.O_WRONLY)
    try:
        n = os.pwrite(fd, data, offset)
        os.fsync(fd)
        return n
    finally:
        os.close(fd)


def pread(path, offset, length):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, length, offset)
    finally:
        os.close(fd)


def seek(path, offset, whence):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.lseek(fd, offset, whence)
    finally:
        os.close(fd)


def fuse(q, export_id, node, mountpoint, **options):
    return q.cmd("block-export-add", type="fuse", id=export_id, **{"node-name": node},
                 mountpoint=mountpoint, **options)


def reply(r, tmp):
    if "error" in r:
        return ("error", r["error"]["class"], r["error"]["desc"].replace(tmp, "TMP"))
    return ("return", r["return"])


def file_view(path):
    """What a reader of the exported file sees."""
    st = os.stat(path)
    return {"size": st.st_size, "mode": oct(stat.S_IMODE(st.st_mode)),
            "regular": stat.S_ISREG(st.st_mode), "sha256": digest(path),
            "mounted": mounted(path)}


def run_tool(tool, top):
    tmp = os.path.join(top, tool)
    os.mkdir(tmp)
    img = os.path.join(tmp, "t.qcow2")
    raw = os.path.join(tmp, "g.raw")
    mp = os.path.join(tmp, "mp")
    mp2 = os.path.join(tmp, "mp2")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", img, "4M"], check=True)
    subprocess.run(["qemu-io", "-c", "write -P 0x11 0 1M", "-c", "write -P 0x22 3M 512k", img],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["qemu-img", "create", "-q", "-f", "raw", raw, "1M"], check=True)
    for path in (mp, mp2):
        open(path, "w").close()
    os.mkdir(os.path.join(tmp, "dir"))
    blockdevs = ["-blockdev", "driver=file,filename=%s,node-name=proto" % img,
                 "-blockdev", "driver=qcow2,file=proto,node-name=fmt"]
    sock = os.path.join(tmp, "qmp.sock")
    p = SystemProcess(machine_argv(tool, sock, *blockdevs))
    out = {}
    r = lambda x: reply(x, tmp)  # noqa: E731
    try:
        q = QmpClient(sock)
        out["file nodes"] = [
            r(q.cmd("blockdev-add", driver="file", filename=raw, **{"node-name": "ro",
                                                                    "read-only": True})),
            r(q.cmd("blockdev-add", driver="file", filename=raw, **{"node-name": "grow"}))]
        out["bad options"] = [
            r(q.cmd("block-export-add", type="fuse", id="x", **{"node-name": "fmt"})),
            r(fuse(q, "x", "fmt", mp, foo=1)),
            r(fuse(q, "x", "fmt", mp, **{"allow-other": "maybe"})),
            r(fuse(q, "x", "fmt", mp, growable="yes")),
            r(fuse(q, "1x", "fmt", mp)),
            r(fuse(q, "x", "nonode", mp)),
            r(fuse(q, "x", "ro", mp, writable=True)),
            r(fuse(q, "x", "fmt", mp, iothread="nope")),
            r(fuse(q, "x", "fmt", os.path.join(tmp, "absent"))),
            r(fuse(q, "x", "fmt", os.path.join(tmp, "dir"))),
        ]
        first = fuse(q, "e1", "fmt", mp)
        if "error" in first:
            desc = first["error"]["desc"]
            if tool == "qemu" and ("mount" in desc or "does not accept value 'fuse'" in desc):
                raise FuseUnavailable(desc)
        out["add e1"] = r(first)
        out["conflicts"] = [
            r(fuse(q, "e1", "fmt", mp2)),
            r(fuse(q, "e2", "fmt", mp)),
            r(q.cmd("nbd-server-start", addr={"type": "unix", "data": {
                "path": os.path.join(tmp, "nbd.sock")}})),
            r(q.cmd("block-export-add", type="nbd", id="e1", **{"node-name": "fmt"})),
            r(q.cmd("nbd-server-stop")),
            r(q.cmd("blockdev-del", **{"node-name": "fmt"})),
        ]
        out["query"] = q.execute("query-block-exports")
        out["read-only view"] = file_view(mp)
        plain = os.path.join(tmp, "plain.raw")
        subprocess.run(["qemu-img", "convert", "-U", "-O", "raw", img, plain], check=True)
        out["same bytes as the image"] = digest(mp) == digest(plain)
        out["read at the end"] = [attempt(lambda: len(pread(mp, 4 * MiB - 100, 4096))),
                                  attempt(lambda: len(pread(mp, 4 * MiB, 4096)))]
        out["seek"] = [attempt(lambda: seek(mp, off, whence)) for off, whence in (
            (0, os.SEEK_HOLE), (MiB, os.SEEK_DATA), (MiB, os.SEEK_HOLE),
            (3 * MiB + 512 * 1024, os.SEEK_DATA), (3 * MiB + 512 * 1024, os.SEEK_HOLE),
            (4 * MiB, os.SEEK_HOLE), (4 * MiB, os.SEEK_DATA), (5 * MiB, os.SEEK_HOLE))]
        out["chmod"] = [attempt(lambda: os.chmod(mp, 0o600)), oct(os.stat(mp).st_mode & 0o777),
                        attempt(lambda: os.chmod(mp, 0o500)), oct(os.stat(mp).st_mode & 0o777)]
        out["write to read-only"] = attempt(lambda: pwrite(mp, 0, b"x"))
        out["truncate read-only"] = attempt(lambda: os.truncate(mp, MiB))
        out["add e3 over the image"] = r(fuse(q, "e3", "fmt", img))
        out["image as raw"] = (os.stat(img).st_size, digest(img) == digest(mp))
        out["del e1"] = r(q.cmd("block-export-del", id="e1"))
        if out["del e1"][0] == "return":
            out["del e1 event"] = (q.wait_event("BLOCK_EXPORT_DELETED", 10) or {}).get("data")
        out["after del"] = (os.stat(mp).st_size, mounted(mp))
        out["del e3"] = r(q.cmd("block-export-del", id="e3"))
        if out["del e3"][0] == "return":
            q.wait_event("BLOCK_EXPORT_DELETED", 10)
        out["del unknown"] = r(q.cmd("block-export-del", id="e1"))

        out["add w"] = r(fuse(q, "w", "fmt", mp, writable=True, writethrough=True))
        out["writable view"] = file_view(mp)
        out["write"] = attempt(lambda: pwrite(mp, 64 * 1024, b"\xab" * 4096))
        out["read back"] = attempt(lambda: pread(mp, 64 * 1024 - 2, 8).hex())
        out["write past end"] = attempt(lambda: pwrite(mp, 4 * MiB, b"z" * 512))
        out["write across end"] = attempt(lambda: pwrite(mp, 4 * MiB - 256, b"z" * 512))
        out["truncate grow"] = (attempt(lambda: os.truncate(mp, 5 * MiB)), os.stat(mp).st_size)
        fa = subprocess.run(["fallocate", "-o", str(5 * MiB), "-l", "64k", mp],
                            stderr=subprocess.PIPE, text=True)
        out["fallocate at end"] = (fa.returncode, os.stat(mp).st_size)
        fa = subprocess.run(["fallocate", "-o", "0", "-l", "64k", mp],
                            stderr=subprocess.PIPE, text=True)
        out["fallocate inside"] = (fa.returncode, os.stat(mp).st_size)
        fa = subprocess.run(["fallocate", "-p", "-o", "0", "-l", "64k", mp],
                            stderr=subprocess.PIPE, text=True)
        out["punch hole"] = (fa.returncode, attempt(lambda: pread(mp, 0, 4).hex()),
                             os.stat(mp).st_size)
        out["del w"] = r(q.cmd("block-export-del", id="w"))
        if out["del w"][0] == "return":
            q.wait_event("BLOCK_EXPORT_DELETED", 10)

        # A growable export of a file node: writes past the end grow it.
        out["add g"] = r(fuse(q, "g", "grow", mp, writable=True, growable=True))
        out["grow write"] = (attempt(lambda: pwrite(mp, MiB + 4096, b"g" * 1000)),
                             os.stat(mp).st_size, os.stat(raw).st_size)
        out["shrink"] = (attempt(lambda: os.truncate(mp, MiB)), os.stat(mp).st_size)
        out["add g2 (second export)"] = r(fuse(q, "g2", "grow", mp2, **{"allow-other": "off"}))
        out["second view"] = file_view(mp2)
        out["chmod without allow-other"] = attempt(lambda: os.chmod(mp2, 0o440))
        out["query before quit"] = q.execute("query-block-exports")
        q.events.clear()
        out["quit"] = r(q.cmd("quit"))
        out["quit events"] = [(e["event"], e.get("data", {}).get("id")) for e in q.events]
        p.wait(30)
    finally:
        p.kill()
        for path in (mp, mp2, img):
            if mounted(path):
                subprocess.run(["fusermount3", "-u", "-z", path], stderr=subprocess.DEVNULL)
    out["unmounted after quit"] = [mounted(mp), mounted(mp2), os.stat(mp).st_size]
    io = subprocess.run(["qemu-io", "-c", "read -P 0xab 64k 4k", "-c", "read -P 0x11 60k 4k",
                         "-c", "read -P 0 4M 1M", img], stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT, text=True)
    out["image after"] = [line for line in io.stdout.split("\n") if "failed" in line
                          or "differ" in line or line.startswith("read ")]
    info = subprocess.run(["qemu-img", "info", "--output=json", img], stdout=subprocess.PIPE,
                          check=True, text=True)
    out["image size after"] = '"virtual-size": %d' % (5 * MiB + 64 * 1024) in info.stdout
    out["raw size after"] = os.stat(raw).st_size
    return out


def main():
    if not os.path.exists("/dev/fuse"):
        print("SKIP: no /dev/fuse on this machine", flush=True)
        return peers.SKIP_RETURN_CODE
    with tempfile.TemporaryDirectory() as top:
        try:
            theirs = run_tool("qemu", top)
        except FuseUnavailable as e:
            print("SKIP: qemu-system-x86_64 cannot mount a FUSE export here: %s" % e, flush=True)
            return peers.SKIP_RETURN_CODE
        ours = run_tool("ours", top)
        for key in theirs:
            checker.same(key, theirs[key], ours.get(key), "qemu-system-x86_64", "e2kvm-system")
        checker.check(ours["add e1"] == ("return", {}), "the first export was added")
        checker.check(ours["same bytes as the image"], "the export reads as the image's data")
        checker.check(ours["write"] == ("ok", 4096), "a write through the writable export")
    return checker.exit_status("system_fuse_export: FUSE block exports as qemu-system")


if __name__ == "__main__":
    sys.exit(main())
