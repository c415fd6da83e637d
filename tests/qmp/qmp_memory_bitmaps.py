#!/usr/bin/env python3
"""Non-persistent dirty bitmaps on a raw node and the null-co driver, over QMP against a
machine-less e2kvm QMP server.

Raw: a bitmap added with block-dirty-bitmap-add (persistent ones are refused with QEMU's
message) records writes, write-zeroes and discards made with qemu-io through a writable NBD
export; exported with nbd-server-add bitmap=, `nbdinfo --map=qemu:dirty-bitmap:b` and
`qemu-img map` with x-dirty-bitmap must show what QEMU shows for the same requests. QEMU cannot
run a QMP server here, so QEMU's answer is taken live another way: the same qemu-io requests
on a qcow2 image with a persistent bitmap of the same granularity, exported by qemu-nbd -B
(QEMU's bitmap code records both the same way). The extents are also checked against the ones
derived from the requests by hand.

null-co: blockdev-add with QEMU's errors for bad options; nodes with and without read-zeroes
exported over NBD map exactly as qemu-nbd --image-opts driver=null-co,... maps them
(nbdinfo --map and qemu-img map --output=json); writes are dropped; an in-memory bitmap on it
records them.

With E2KVM_NBD given: `e2kvm-nbd -B b` on a raw file fails as `qemu-nbd -B b` does (a raw
file holds no bitmaps).
usage: qmp_memory_bitmaps.py QMP_TEST_SERVER [E2KVM_NBD]"""
import json
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run as run_command  # noqa: E402
from peers import require  # noqa: E402
from processes import ServerProcess  # noqa: E402
from qmp_client import QmpClient, reply_checks  # noqa: E402

KiB = 1 << 10
MiB = 1 << 20
checker = Checker(sys.stderr)
check = checker.check

# The requests made through the writable export, as qemu-io commands.
WRITES = ["write -P 0x22 512 512", "write -z 1M 64k", "discard 3M 128k", "write -P 0x33 2M 4k",
          "write -z -u 2560k 1k"]
# Dirty ranges they leave at 64 KiB and at 512-byte granularity, derived by hand.
EXPECT_64K = [(0, 64 * KiB), (1 * MiB, 64 * KiB), (2 * MiB, 64 * KiB), (2560 * KiB, 64 * KiB),
              (3 * MiB, 128 * KiB)]
EXPECT_512 = [(512, 512), (1 * MiB, 64 * KiB), (2 * MiB, 4 * KiB), (2560 * KiB, 1 * KiB),
              (3 * MiB, 128 * KiB)]
ok, err = reply_checks(check)


def run(*argv, **kw):
    return run_command(*argv, **kw).stdout


def nbdinfo_map(uri, context=None):
    """nbdinfo --map output; retried briefly (a fresh qemu-nbd socket appears before listen)."""
    argv = ["nbdinfo", "--map" + ("=" + context if context else ""), uri]
    for attempt in range(50):
        p = run_command(argv, ok=attempt == 49)
        if p.returncode == 0:
            return p.stdout
        time.sleep(0.05)
    return ""


def dirty_ranges(nbdinfo_text):
    ranges = []
    for line in nbdinfo_text.splitlines():
        fields = line.split()
        if len(fields) >= 3 and int(fields[2]) & 1:
            ranges.append((int(fields[0]), int(fields[1])))
    return merge(ranges)


def dirty_from_qemu_img_map(sock, export, bitmap):
    out = run("qemu-img", "map", "--output=json", "--image-opts",
              "driver=nbd,export=%s,server.type=unix,server.path=%s,"
              "x-dirty-bitmap=qemu:dirty-bitmap:%s" % (export, sock, bitmap))
    # With x-dirty-bitmap, dirty ranges are reported as "data": false.
    return merge([(e["start"], e["length"]) for e in json.loads(out) if not e["data"]])


def merge(ranges):
    out = []
    for start, length in sorted(ranges):
        if out and out[-1][0] + out[-1][1] == start:
            out[-1] = (out[-1][0], out[-1][1] + length)
        else:
            out.append((start, length))
    return out


def qemu_bitmap_maps(tmp):
    """What QEMU's own bitmap code records for WRITES: nbdinfo --map text for a 64 KiB and a
    512-byte bitmap, from qemu-io on a qcow2 image and qemu-nbd -B."""
    img = os.path.join(tmp, "ref.qcow2")
    run("qemu-img", "create", "-q", "-f", "qcow2", img, "4M")
    run("qemu-img", "bitmap", "--add", "-f", "qcow2", img, "b")
    run("qemu-img", "bitmap", "--add", "-g", "512", "-f", "qcow2", img, "b2")
    argv = ["qemu-io", "-f", "qcow2"]
    for w in WRITES:
        argv += ["-c", w]
    run(argv + [img])
    sock = os.path.join(tmp, "ref.sock")
    with ServerProcess(["qemu-nbd", "-r", "-t", "-k", sock, "-f", "qcow2", "-B", "b", "-B", "b2",
                        img], unix_socket=sock):
        uri = "nbd+unix:///?socket=" + sock
        return nbdinfo_map(uri, "qemu:dirty-bitmap:b"), nbdinfo_map(uri, "qemu:dirty-bitmap:b2")


def qemu_null_maps(tmp, read_zeroes):
    """qemu-nbd's view of a 4 MiB null-co disk: nbdinfo --map and qemu-img map --output=json."""
    sock = os.path.join(tmp, "null-%s.sock" % read_zeroes)
    opts = "driver=null-co,size=4M,read-zeroes=%s" % ("on" if read_zeroes else "off")
    with ServerProcess(["qemu-nbd", "-r", "-t", "-k", sock, "--image-opts", opts],
                       unix_socket=sock):
        uri = "nbd+unix:///?socket=" + sock
        text = nbdinfo_map(uri)
        return text, run("qemu-img", "map", "--output=json", "-f", "raw", uri)


def raw_node_checks(q, tmp, nbd_sock, qemu_b, qemu_b2):
    img = os.path.join(tmp, "t.raw")
    run("qemu-img", "create", "-q", "-f", "raw", img, "4M")
    run("qemu-io", "-f", "raw", "-c", "write -P 0x11 1M 1M", img)

    # discard=unmap as qemu-io (the reference) opens images; the default, ignore, would drop
    # the discard and so leave its range clean, in QEMU as here.
    ok(q.cmd("blockdev-add", driver="raw", **{"node-name": "r"}, discard="unmap",
             file={"driver": "file", "filename": img}), "blockdev-add raw")
    r = q.cmd("query-named-block-nodes")["return"]
    node = [x for x in r if x["node-name"] == "r"][0]
    check("dirty-bitmaps" not in node, "raw node without bitmaps lists none: %r" % node)
    err(q.cmd("block-dirty-bitmap-add", node="r", name="p", persistent=True),
        "Can't store persistent bitmaps to r: Operation not supported",
        "persistent bitmap on raw")
    for g in (0, 256, 1000):
        err(q.cmd("block-dirty-bitmap-add", node="r", name="g", granularity=g),
            "Granularity must be power of 2 and at least 512", "granularity %d" % g)
    err(q.cmd("block-dirty-bitmap-add", node="r", name="g", granularity=1 << 32),
        "Parameter 'granularity' expects uint32_t", "granularity 2^32")
    ok(q.cmd("block-dirty-bitmap-add", node="r", name="b"), "add b on raw")
    ok(q.cmd("block-dirty-bitmap-add", node="r", name="b2", granularity=512), "add b2 on raw")
    err(q.cmd("block-dirty-bitmap-add", node="r", name="b"), "Bitmap already exists: b",
        "add b again")

    ok(q.cmd("block-export-add", type="nbd", id="w", **{"node-name": "r"}, name="w",
             writable=True), "writable export of r")
    argv = ["qemu-io", "-f", "raw"]
    for w in WRITES:
        argv += ["-c", w]
    run(argv + ["nbd+unix:///w?socket=" + nbd_sock])
    ok(q.cmd("block-export-del", id="w"), "block-export-del w")
    check(q.wait_event("BLOCK_EXPORT_DELETED") is not None, "export w deleted")

    ok(q.cmd("block-dirty-bitmap-disable", node="r", name="b"), "disable b")
    err(q.cmd("nbd-server-add", device="r", name="r2", bitmap="b2"),
        "Enabled bitmap 'b2' incompatible with readonly export", "enabled bitmap read-only")
    ok(q.cmd("nbd-server-add", device="r", bitmap="b"), "export r with b")
    ok(q.cmd("block-export-add", type="nbd", id="r2", **{"node-name": "r"}, name="r2",
             writable=True, bitmaps=["b2"]), "export r2 with b2")

    r = q.cmd("query-named-block-nodes")["return"]
    node = [x for x in r if x["node-name"] == "r"][0]
    bitmaps = {b["name"]: b for b in node.get("dirty-bitmaps", [])}
    check(set(bitmaps) == {"b", "b2"}, "bitmaps of r: %r" % node.get("dirty-bitmaps"))
    check(bitmaps.get("b") == {"name": "b", "count": 6 * 64 * KiB, "granularity": 64 * KiB,
                               "recording": False, "busy": True, "persistent": False},
          "bitmap b info %r" % bitmaps.get("b"))
    count_b2 = sum(length for _, length in EXPECT_512)
    check(bitmaps.get("b2") == {"name": "b2", "count": count_b2, "granularity": 512,
                                "recording": True, "busy": True, "persistent": False},
          "bitmap b2 info %r" % bitmaps.get("b2"))
    check(node["drv"] == "raw" and node["image"]["virtual-size"] == 4 * MiB,
          "raw node info %r" % node)

    # Our export against QEMU's for the same requests: the whole nbdinfo text, clean extents too.
    ours_b = nbdinfo_map("nbd+unix:///r?socket=" + nbd_sock, "qemu:dirty-bitmap:b")
    ours_b2 = nbdinfo_map("nbd+unix:///r2?socket=" + nbd_sock, "qemu:dirty-bitmap:b2")
    checker.same("nbdinfo --map=qemu:dirty-bitmap:b (raw node)", qemu_b, ours_b, "qemu-nbd",
                 "e2kvm")
    checker.same("nbdinfo --map=qemu:dirty-bitmap:b2 (raw node)", qemu_b2, ours_b2, "qemu-nbd",
                 "e2kvm")
    check(dirty_ranges(ours_b) == EXPECT_64K, "b dirty ranges %r" % dirty_ranges(ours_b))
    check(dirty_ranges(ours_b2) == EXPECT_512, "b2 dirty ranges %r" % dirty_ranges(ours_b2))
    got = dirty_from_qemu_img_map(nbd_sock, "r", "b")
    check(got == EXPECT_64K, "qemu-img map x-dirty-bitmap b: %r" % got)
    # The data went to the file.
    run("qemu-io", "-r", "-f", "raw", "-c", "read -P 0x22 512 512", "-c", "read -P 0 1M 64k",
        "-c", "read -P 0x11 1088k 960k", "-c", "read -P 0x33 2M 4k", "-c", "read -P 0 3M 128k",
        "nbd+unix:///r?socket=" + nbd_sock)

    err(q.cmd("block-dirty-bitmap-remove", node="r", name="b"),
        "Bitmap 'b' is currently in use by another operation and cannot be used",
        "remove exported bitmap")
    for name in ("r", "r2"):
        ok(q.cmd("nbd-server-remove", name=name), "nbd-server-remove " + name)
        check(q.wait_event("BLOCK_EXPORT_DELETED") is not None, "export %s deleted" % name)
    ok(q.cmd("block-dirty-bitmap-clear", node="r", name="b"), "clear b")
    ok(q.cmd("block-dirty-bitmap-remove", node="r", name="b2"), "remove b2")
    r = q.cmd("query-named-block-nodes")["return"]
    node = [x for x in r if x["node-name"] == "r"][0]
    check([b["name"] for b in node.get("dirty-bitmaps", [])] == ["b"]
          and node["dirty-bitmaps"][0]["count"] == 0, "after clear/remove %r" % node)
    ok(q.cmd("blockdev-del", **{"node-name": "r"}), "blockdev-del r")


def null_node_checks(q, tmp, nbd_sock, qemu_maps):
    def add(**kw):
        return q.cmd("blockdev-add", driver="null-co", **kw)

    err(add(**{"node-name": "x"}, size=-1),
        "Parameter 'size' expects a non-negative number below 2^64", "negative size")
    err(add(**{"node-name": "x"}, size="4M"), "Invalid parameter type for 'size', expected: "
        "integer", "size as string")
    err(add(**{"node-name": "x"}, **{"latency-ns": -5}), "latency-ns is invalid",
        "negative latency")
    err(add(**{"node-name": "x"}, **{"read-zeroes": "on"}),
        "Invalid parameter type for 'read-zeroes', expected: boolean", "read-zeroes as string")
    err(add(**{"node-name": "x"}, foo=1), "Parameter 'foo' is unexpected", "unknown option")
    err(add(**{"node-name": "x"}, file={"driver": "file", "filename": "/dev/null"}),
        "Parameter 'file' is unexpected", "file option")
    err(add(**{"node-name": "x"}, size=(1 << 63) - 1),
        "Could not refresh total sector count: File too large", "size too large")
    err(add(), "'node-name' must be specified for the root node", "no node name")
    ok(add(**{"node-name": "nz"}, size=4 * MiB, **{"read-zeroes": True}), "null-co nz")
    ok(add(**{"node-name": "nn"}, size=4 * MiB, **{"latency-ns": 1000}), "null-co nn")
    ok(add(**{"node-name": "nd"}), "null-co with defaults")
    err(add(**{"node-name": "nz"}), "Duplicate nodes with node-name='nz'", "duplicate null node")

    nodes = {x["node-name"]: x for x in q.cmd("query-named-block-nodes")["return"]}
    nz, nd = nodes.get("nz", {}), nodes.get("nd", {})
    check(nz.get("drv") == "null-co" and nz.get("image", {}).get("virtual-size") == 4 * MiB
          and nz.get("image", {}).get("format") == "null-co"
          and nz.get("image", {}).get("actual-size") == 0, "nz info %r" % nz)
    check(nd.get("image", {}).get("virtual-size") == 1 << 30 and nd.get("file") == "null-co://",
          "null-co defaults %r" % nd)

    err(q.cmd("block-dirty-bitmap-add", node="nz", name="p", persistent=True),
        "Can't store persistent bitmaps to nz: Operation not supported",
        "persistent on null-co")
    ok(q.cmd("block-dirty-bitmap-add", node="nz", name="nb"), "bitmap on null-co")

    ok(q.cmd("nbd-server-add", device="nz", writable=True), "export nz")
    ok(q.cmd("nbd-server-add", device="nn"), "export nn")
    uri_nz = "nbd+unix:///nz?socket=" + nbd_sock
    uri_nn = "nbd+unix:///nn?socket=" + nbd_sock
    for uri, read_zeroes in ((uri_nz, True), (uri_nn, False)):
        qemu_text, qemu_json = qemu_maps[read_zeroes]
        checker.same("nbdinfo --map null-co read-zeroes=%s" % read_zeroes, qemu_text,
                     nbdinfo_map(uri), "qemu-nbd", "e2kvm")
        checker.same("qemu-img map null-co read-zeroes=%s" % read_zeroes, qemu_json,
                     run("qemu-img", "map", "--output=json", "-f", "raw", uri), "qemu-nbd",
                     "e2kvm")
    # Writes are dropped; reads give zeros.
    run("qemu-io", "-f", "raw", "-c", "write -P 0x55 64k 64k", "-c", "write -z 1M 512",
        "-c", "read -P 0 64k 64k", uri_nz)
    run("qemu-io", "-r", "-f", "raw", "-c", "read -P 0 0 4M", uri_nn)
    ok(q.cmd("nbd-server-remove", name="nz"), "nbd-server-remove nz")
    check(q.wait_event("BLOCK_EXPORT_DELETED") is not None, "export nz deleted")
    ok(q.cmd("block-dirty-bitmap-disable", node="nz", name="nb"), "disable nb")
    ok(q.cmd("nbd-server-add", device="nz", name="nzb", bitmap="nb"), "export nz with nb")
    got = dirty_ranges(nbdinfo_map("nbd+unix:///nzb?socket=" + nbd_sock,
                                   "qemu:dirty-bitmap:nb"))
    check(got == [(64 * KiB, 64 * KiB), (1 * MiB, 64 * KiB)], "nb dirty ranges %r" % got)
    nodes = {x["node-name"]: x for x in q.cmd("query-named-block-nodes")["return"]}
    check([b["count"] for b in nodes["nz"].get("dirty-bitmaps", [])] == [128 * KiB],
          "nb count %r" % nodes["nz"].get("dirty-bitmaps"))
    err(q.cmd("blockdev-del", **{"node-name": "nz"}), "Node nz is in use", "del exported nz")
    ok(q.cmd("nbd-server-remove", name="nn"), "nbd-server-remove nn")
    check(q.wait_event("BLOCK_EXPORT_DELETED") is not None, "export nn deleted")
    ok(q.cmd("blockdev-del", **{"node-name": "nn"}), "blockdev-del nn")
    ok(q.cmd("blockdev-add", driver="null-co", **{"node-name": "nn"}, **{"read-only": True}),
       "null-co read-only, same name again")
    r = q.cmd("nbd-server-add", device="nn", name="nnw", writable=True)
    check("error" in r, "writable export of a read-only null-co node: %r" % r)


def nbd_tool_checks(tmp, e2kvm_nbd):
    img = os.path.join(tmp, "plain.raw")
    run("qemu-img", "create", "-q", "-f", "raw", img, "1M")
    sock = os.path.join(tmp, "tool.sock")
    for fmt in ([], ["-f", "raw"]):
        theirs = run_command(["qemu-nbd", "-k", sock] + fmt + ["-B", "b", img], ok=False,
                             timeout=20)
        ours = run_command([e2kvm_nbd, "-k", sock] + fmt + ["-B", "b", img], ok=False,
                           timeout=20)

        def last_line(p, prog):
            lines = [x for x in p.stderr.splitlines() if x.startswith(prog + ": ")]
            return lines[-1][len(prog) + 2:] if lines else p.stderr

        check(theirs.returncode == 1 and ours.returncode == 1,
              "-B on raw %r: exit %d (qemu-nbd %d)" % (fmt, ours.returncode, theirs.returncode))
        checker.same("-B b on a raw file %r" % fmt, last_line(theirs, "qemu-nbd"),
                     last_line(ours, "e2kvm-nbd"), "qemu-nbd", "e2kvm-nbd")


def main():
    require("qemu-img", "qemu-io", "qemu-nbd", "nbdinfo")
    tmp = tempfile.mkdtemp(prefix="e2kvm-qmp-membitmap-")
    server = None
    try:
        qemu_b, qemu_b2 = qemu_bitmap_maps(tmp)
        qemu_maps = {rz: qemu_null_maps(tmp, rz) for rz in (True, False)}

        qmp_sock = os.path.join(tmp, "qmp.sock")
        nbd_sock = os.path.join(tmp, "nbd.sock")
        server = ServerProcess([sys.argv[1], "unix:%s,server=on,wait=off" % qmp_sock],
                               stdout=None, stderr=None)
        q = QmpClient(qmp_sock, connect_timeout=10)
        ok(q.cmd("nbd-server-start", addr={"type": "unix", "data": {"path": nbd_sock}}),
           "nbd-server-start")
        raw_node_checks(q, tmp, nbd_sock, qemu_b, qemu_b2)
        null_node_checks(q, tmp, nbd_sock, qemu_maps)
        if len(sys.argv) > 2:
            nbd_tool_checks(tmp, sys.argv[2])
        ok(q.cmd("quit"), "quit")
        check(q.wait_event("SHUTDOWN") is not None, "SHUTDOWN event")
        check(server.wait(20) == 0, "server exit status")
    finally:
        if server:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("qmp memory bitmaps and null-co: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
