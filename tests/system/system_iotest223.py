#!/usr/bin/env python3
"""The QMP half of QEMU iotest 223 ("Test reading dirty bitmap over NBD") against e2kvm-system:
persistent bitmaps added through QMP and stored at quit, writes under them, then the NBD server
of the running VM process exporting them, with the error strings, export flags, qemu-io reads
and `qemu-img map` outputs of 223.out (QEMU 7.2). Differences from the real test: qemu-system's
null-co node "null" is a fresh 4 MiB qcow2 image here (e2kvm opens qcow2 and raw only); the wording of two errors (unknown node, export id in
use) belongs to the QMP library and is checked by tests/qmp (whose own 223 script also runs
against e2kvm-system, see CMakeLists.txt), here only their class; the iothread pass is not run
(e2kvm has no iothreads). Then e2kvm-system's own part: a persistent
bitmap on the VM's drive node records writes made through an NBD export and is stored when
SIGTERM ends the process.
usage: system_iotest223.py E2KVM_SYSTEM ECHO_KERNEL"""
import json
import os
import re
import signal
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checker, run  # noqa: E402
from peers import require  # noqa: E402
from qmp_client import QmpClient, reply_checks  # noqa: E402
from system_harness import SystemProcess, check_shutdown  # noqa: E402

SYSTEM, ECHO = sys.argv[1:3]
checker = Checker(sys.stderr)
check = checker.check


def sh(*argv, timeout=60):
    p = run(*argv, ok=False, timeout=timeout)
    check(p.returncode == 0, "%s: exit %d: %s" % (" ".join(argv), p.returncode, p.stderr))
    return p.stdout


ok, err = reply_checks(check)


def err_mentioning(r, word, what):
    e = r.get("error", {})
    check(e.get("class") == "GenericError" and word in e.get("desc", ""),
          "%s: expected a GenericError naming %r, got %r" % (what, word, r))


def qmp_system(tmp, name, extra=()):
    sock = os.path.join(tmp, name + ".qmp")
    p = SystemProcess([SYSTEM, "-display", "none", "-serial", "none", "-S", "-kernel", ECHO,
                       "-qmp", "unix:%s,server=on,wait=off" % sock] + list(extra))
    return p, QmpClient(sock)


def quit_system(p, qmp, what):
    ok(qmp.cmd("quit"), what + ": quit")
    check_shutdown(check, p, qmp, "host-qmp-quit", 10, 30, what + ": ")


def image_map(sock, export, bitmap=None, extra=()):
    opts = "driver=nbd,export=%s,server.type=unix,server.path=%s" % (export, sock)
    if bitmap:
        opts += ",x-dirty-bitmap=qemu:dirty-bitmap:" + bitmap
    out = sh("qemu-img", "map", "--output=json", *extra, "--image-opts", opts)
    return re.sub(r'"offset": \d+', '"offset": OFFSET', out).strip()


MAP_BASE = """[{ "start": 0, "length": 4096, "depth": 0, "present": true, "zero": false, "data": true, "offset": OFFSET},
{ "start": 4096, "length": 1044480, "depth": 0, "present": true, "zero": true, "data": false, "offset": OFFSET},
{ "start": 1048576, "length": 3145728, "depth": 0, "present": true, "zero": false, "data": true, "offset": OFFSET}]"""
MAP_B = """[{ "start": 0, "length": 65536, "depth": 0, "present": false, "zero": false, "data": false},
{ "start": 65536, "length": 2031616, "depth": 0, "present": true, "zero": false, "data": true, "offset": OFFSET},
{ "start": 2097152, "length": 2097152, "depth": 0, "present": false, "zero": false, "data": false}]"""
MAP_B2 = """[{ "start": 0, "length": 512, "depth": 0, "present": true, "zero": false, "data": true, "offset": OFFSET},
{ "start": 512, "length": 512, "depth": 0, "present": false, "zero": false, "data": false},
{ "start": 1024, "length": 2096128, "depth": 0, "present": true, "zero": false, "data": true, "offset": OFFSET},
{ "start": 2097152, "length": 2097152, "depth": 0, "present": false, "zero": false, "data": false}]"""

LIST_3 = """exports available: 3
 export: 'n'
  size:  4194304
  flags: 0x58f ( readonly flush fua df multi cache )
  min block: 1
  opt block: 4096
  max block: 33554432
  available meta contexts: 2
   base:allocation
   qemu:dirty-bitmap:b
 export: 'n2'
  description: some text
  size:  4194304
  flags: 0xded ( flush fua trim zeroes df multi cache fast-zero )
  min block: 1
  opt block: 4096
  max block: 33554432
  available meta contexts: 2
   base:allocation
   qemu:dirty-bitmap:b2
 export: 'n3'
  size:  4194304
  flags: 0x58f ( readonly flush fua df multi cache )
  min block: 1
  opt block: 4096
  max block: 33554432
  available meta contexts: 2
   base:allocation
   qemu:dirty-bitmap:b3
"""
MAP_N3_B3 = """[{ "start": 0, "length": 4194304, "depth": 0, "present": true, "zero": false, "data": true, "offset": OFFSET}]"""


def iotest223(tmp):
    img = os.path.join(tmp, "t.qcow2")
    null = os.path.join(tmp, "null.qcow2")
    sock = os.path.join(tmp, "nbd")
    sh("qemu-img", "create", "-f", "qcow2", "-o", "cluster_size=4k", img, "4M")
    sh("qemu-img", "create", "-f", "qcow2", null, "4M")
    sh("qemu-io", "-f", "qcow2", "-c", "w -P 0x11 1M 2M", img)

    # Create partially sparse image, then add dirty bitmaps (stored at quit).
    p, qmp = qmp_system(tmp, "create")
    try:
        ok(qmp.cmd("blockdev-add", driver="qcow2", **{"node-name": "n"},
                   file={"driver": "file", "filename": img}), "blockdev-add n")
        ok(qmp.cmd("block-dirty-bitmap-add", node="n", name="b", persistent=True,
                   granularity=65536), "add b")
        ok(qmp.cmd("block-dirty-bitmap-add", node="n", name="b2", persistent=True,
                   granularity=512), "add b2")
        quit_system(p, qmp, "create")
    finally:
        p.kill()
    info = json.loads(sh("qemu-img", "info", "--output=json", img))
    bitmaps = info.get("format-specific", {}).get("data", {}).get("bitmaps", [])
    check(sorted((b["name"], b["granularity"], tuple(b["flags"])) for b in bitmaps) ==
          [("b", 65536, ("auto",)), ("b2", 512, ("auto",))],
          "bitmaps stored at quit: %r" % bitmaps)

    # Write part of the file under active bitmap.
    sh("qemu-io", "-f", "qcow2", "-c", "w -P 0x22 512 512", "-c", "w -P 0x33 2M 2M", img)

    # End dirty bitmaps, and start serving image over NBD.
    p, qmp = qmp_system(tmp, "serve")
    try:
        ok(qmp.cmd("blockdev-add", driver="qcow2", **{"node-name": "n"},
                   file={"driver": "file", "filename": img}), "blockdev-add n")
        ok(qmp.cmd("block-dirty-bitmap-disable", node="n", name="b"), "disable b")
        ok(qmp.cmd("blockdev-add", driver="qcow2", **{"node-name": "null"},
                   file={"driver": "file", "filename": null}), "blockdev-add null")
        ok(qmp.cmd("block-dirty-bitmap-add", node="null", name="b3"), "add b3")

        # Set up NBD with normal access.
        err(qmp.cmd("nbd-server-add", device="n"), "NBD server not running", "add before start")
        ok(qmp.cmd("nbd-server-start", addr={"type": "unix", "data": {"path": sock}}), "start")
        err(qmp.cmd("nbd-server-start", addr={"type": "unix", "data": {"path": sock + "1"}}),
            "NBD server already running", "second start")
        check(sh("qemu-nbd", "-L", "-k", sock) == "exports available: 0\n", "no exports yet")
        ok(qmp.cmd("nbd-server-add", device="n", bitmap="b"), "add n")
        err_mentioning(qmp.cmd("nbd-server-add", device="nosuch"), "nosuch", "add nosuch")
        err_mentioning(qmp.cmd("nbd-server-add", device="n"), "'n'", "add n again")
        err(qmp.cmd("nbd-server-add", device="n", name="n2", bitmap="b2"),
            "Enabled bitmap 'b2' incompatible with readonly export", "ro export of b2")
        err(qmp.cmd("nbd-server-add", device="n", name="n2", bitmap="b3"),
            "Bitmap 'b3' is not found", "b3 is on another node")
        ok(qmp.cmd("nbd-server-add", device="n", name="n2", writable=True,
                   description="some text", bitmap="b2"), "add n2")
        # As QEMU 7.2: a bitmap of another node (of the same size) may be exported, and it may
        # keep recording.
        ok(qmp.cmd("block-export-add", type="nbd", **{"node-name": "n"}, id="n3", name="n3",
                   bitmaps=[{"node": "null", "name": "b3"}]), "block-export-add n3 with null's b3")
        listing = sh("qemu-nbd", "-L", "-k", sock)
        check(listing == LIST_3, "qemu-nbd -L:\n%s" % listing)

        # Contrast normal status to large granularity dirty-bitmap.
        uri = "driver=nbd,export=n,server.type=unix,server.path=" + sock
        reads = sh("qemu-io", "-r", "--image-opts", uri, "-c", "r -P 0x22 512 512",
                   "-c", "r -P 0 512k 512k", "-c", "r -P 0x11 1m 1m", "-c", "r -P 0x33 2m 2m")
        check(reads.count("read ") == 4 and "Pattern verification failed" not in reads,
              "qemu-io pattern reads: %r" % reads)
        check(image_map(sock, "n") == MAP_BASE, "map n:\n" + image_map(sock, "n"))
        check(image_map(sock, "n", "b") == MAP_B, "map n b:\n" + image_map(sock, "n", "b"))
        # Contrast to small granularity dirty-bitmap.
        check(image_map(sock, "n2", "b2") == MAP_B2, "map n2 b2:\n"
              + image_map(sock, "n2", "b2"))
        # Check bitmap taken from another node.
        check(image_map(sock, "n3", "b3") == MAP_N3_B3, "map n3 b3:\n"
              + image_map(sock, "n3", "b3"))

        # End qemu NBD server.
        ok(qmp.cmd("nbd-server-remove", name="n"), "remove n")
        e = qmp.wait_event("BLOCK_EXPORT_DELETED", 5)
        check(e is not None and e["data"] == {"id": "n"}, "BLOCK_EXPORT_DELETED n: %r" % e)
        ok(qmp.cmd("nbd-server-remove", name="n2"), "remove n2")
        e = qmp.wait_event("BLOCK_EXPORT_DELETED", 5)
        check(e is not None and e["data"] == {"id": "n2"}, "BLOCK_EXPORT_DELETED n2: %r" % e)
        err(qmp.cmd("nbd-server-remove", name="n2"), "Export 'n2' is not found", "remove n2 again")
        ok(qmp.cmd("nbd-server-stop"), "stop")
        e = qmp.wait_event("BLOCK_EXPORT_DELETED", 5)
        check(e is not None and e["data"] == {"id": "n3"}, "BLOCK_EXPORT_DELETED n3: %r" % e)
        err(qmp.cmd("nbd-server-stop"), "NBD server not running", "stop again")
        quit_system(p, qmp, "serve")
    finally:
        p.kill()

    # Use qemu-nbd as server: the bitmaps as e2kvm-system left them.
    pid = os.path.join(tmp, "qemu-nbd.pid")
    sh("qemu-nbd", "-t", "-k", sock, "--fork", "--pid-file", pid, "-r", "-f", "qcow2",
       "-B", "b", img)
    try:
        check(image_map(sock, "", "b") == MAP_B, "qemu-nbd map b:\n" + image_map(sock, "", "b"))
    finally:
        os.kill(int(open(pid).read()), signal.SIGTERM)


def drive_bitmap_survives_sigterm(tmp):
    """A persistent bitmap on the VM's own drive node records NBD writes and is stored when
    SIGTERM ends e2kvm-system."""
    disk = os.path.join(tmp, "disk.qcow2")
    sock = os.path.join(tmp, "nbd2")
    sh("qemu-img", "create", "-f", "qcow2", disk, "8M")
    p, qmp = qmp_system(tmp, "drive", ["-drive", "file=%s,format=qcow2,id=vd" % disk])
    try:
        names = [n["node-name"] for n in qmp.cmd("query-named-block-nodes")["return"]]
        drive = [b["inserted"]["node-name"] for b in qmp.cmd("query-block")["return"]
                 if b["device"] == "vd"]
        check(len(drive) == 1 and re.match(r"#block\d+$", drive[0]) and drive[0] in names,
              "drive 'vd' is on a node of a generated name, as QEMU's: %r %r" % (drive, names))
        ok(qmp.cmd("cont"), "cont")
        ok(qmp.cmd("block-dirty-bitmap-add", node="vd", name="backup", persistent=True),
           "add backup")
        ok(qmp.cmd("nbd-server-start", addr={"type": "unix", "data": {"path": sock}}), "start")
        ok(qmp.cmd("nbd-server-add", device="vd", writable=True), "export vd")
        sh("qemu-io", "-f", "raw", "-c", "w -P 0x5a 1M 64k", "-c", "w -P 0x5b 6M 4k",
           "nbd+unix:///vd?socket=" + sock)
        p.terminate(signal.SIGTERM)
        check_shutdown(check, p, qmp, "host-signal", 10, 30, "SIGTERM: ")
    finally:
        p.kill()
    sh("qemu-img", "check", "-q", disk)
    info = json.loads(sh("qemu-img", "info", "--output=json", disk))
    bitmaps = info.get("format-specific", {}).get("data", {}).get("bitmaps", [])
    check([(b["name"], b["flags"]) for b in bitmaps] == [("backup", ["auto"])],
          "bitmap stored, not in use: %r" % bitmaps)
    out = sh("nbdinfo", "--map=qemu:dirty-bitmap:backup", "--", "[", "qemu-nbd", "-r", "-f",
             "qcow2", "-B", "backup", disk, "]")
    dirty = [tuple(int(x) for x in line.split()[:3]) for line in out.splitlines()]
    check(dirty == [(0, 1048576, 0), (1048576, 65536, 1), (1114112, 5177344, 0),
                    (6291456, 65536, 1), (6356992, 2031616, 0)],
          "dirty extents after SIGTERM: %r" % dirty)


def main():
    require("qemu-img", "qemu-io", "qemu-nbd", "nbdinfo")
    with tempfile.TemporaryDirectory(prefix="e2kvm-system-223-") as tmp:
        iotest223(tmp)
        drive_bitmap_survives_sigterm(tmp)
    return checker.exit_status("iotest 223 (QMP half) passed against e2kvm-system")


if __name__ == "__main__":
    sys.exit(main())
