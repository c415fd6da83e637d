#!/usr/bin/env python3
"""The QMP half of QEMU iotest 223 against a machine-less e2kvm QMP server: a 4 MiB qcow2 node,
persistent dirty bitmaps, writes through a writable NBD export (qemu-io), then the bitmaps
exported read-only and read back with `qemu-img map --image-opts ... x-dirty-bitmap=` and
`nbdinfo --map`; after quit `qemu-img info` lists the stored bitmaps and qemu-nbd exports the
same dirty extents.
usage: qmp_iotest223.py QMP_TEST_SERVER
       qmp_iotest223.py PROGRAM ARG... (a command line with "{qmp}" where the QMP address
       "unix:PATH,server=on,wait=off" goes, e.g. e2kvm-system -qmp {qmp} ...; the program must
       exit 0 after "quit")"""
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run as run_command  # noqa: E402
from peers import require  # noqa: E402
from processes import ServerProcess  # noqa: E402
from qmp_client import QmpClient, reply_checks  # noqa: E402

SERVER = sys.argv[1:]
MiB = 1 << 20
checker = Checker(sys.stderr)
check = checker.check
ok, err = reply_checks(check)


def run(*argv, **kw):
    return run_command(*argv, **kw).stdout


def dirty_from_qemu_img_map(sock, export, bitmap):
    out = run("qemu-img", "map", "--output=json", "--image-opts",
              "driver=nbd,export=%s,server.type=unix,server.path=%s,"
              "x-dirty-bitmap=qemu:dirty-bitmap:%s" % (export, sock, bitmap))
    # With x-dirty-bitmap, dirty ranges are reported as "data": false.
    return merge([(e["start"], e["length"]) for e in json.loads(out) if not e["data"]])


def dirty_from_nbdinfo(uri, bitmap):
    out = run("nbdinfo", "--map=qemu:dirty-bitmap:" + bitmap, uri)
    ranges = []
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 3 and int(fields[2]) & 1:
            ranges.append((int(fields[0]), int(fields[1])))
    return merge(ranges)


def merge(ranges):
    out = []
    for start, length in sorted(ranges):
        if out and out[-1][0] + out[-1][1] == start:
            out[-1] = (out[-1][0], out[-1][1] + length)
        else:
            out.append((start, length))
    return out


def main():
    require("qemu-img", "qemu-io", "qemu-nbd", "nbdinfo")
    tmp = tempfile.mkdtemp(prefix="e2kvm-qmp223-")
    server = None
    try:
        img = os.path.join(tmp, "t.qcow2")
        qmp_sock = os.path.join(tmp, "qmp.sock")
        nbd_sock = os.path.join(tmp, "nbd.sock")
        run("qemu-img", "create", "-f", "qcow2", img, "4M")
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 1M 2M", img)

        spec = "unix:%s,server=on,wait=off" % qmp_sock
        argv = SERVER if len(SERVER) > 1 else SERVER + ["{qmp}"]
        server = ServerProcess([a.replace("{qmp}", spec) for a in argv], stdout=None, stderr=None)
        q = QmpClient(qmp_sock, connect_timeout=10, negotiate=False)
        greeting = q.read()
        check("QMP" in greeting and "oob" in greeting["QMP"]["capabilities"]
              and set(greeting["QMP"]["version"]["qemu"]) == {"major", "minor", "micro"}
              and "package" in greeting["QMP"]["version"], "greeting %r" % greeting)

        err(q.cmd("query-block-exports"),
            "Expecting capabilities negotiation with 'qmp_capabilities'",
            "command before negotiation", "CommandNotFound")
        ok(q.cmd("qmp_capabilities"), "qmp_capabilities")
        err(q.cmd("qmp_capabilities"),
            "Capabilities negotiation is already complete, command ignored",
            "second qmp_capabilities", "CommandNotFound")
        err(q.cmd("no-such-command"), "The command no-such-command has not been found",
            "unknown command", "CommandNotFound")
        err(q.cmd("stop"), "No machine", "stop without machine")
        # "id" comes back as given.
        q.send_raw(b'{"execute": "query-block-exports", "id": {"tag": [1, "x"]}}\n')
        r = q.read()
        check(r == {"return": [], "id": {"tag": [1, "x"]}}, "id echo %r" % r)

        ok(q.cmd("blockdev-add", driver="qcow2", **{"node-name": "n"},
                 file={"driver": "file", "filename": img}), "blockdev-add")
        err(q.cmd("blockdev-add", driver="qcow2", **{"node-name": "n"},
                  file={"driver": "file", "filename": img}),
            "Duplicate nodes with node-name='n'", "duplicate node")
        err(q.cmd("blockdev-add", driver="qcow2", **{"node-name": "x"}),
            "Parameter 'file' is missing", "missing file")
        ok(q.cmd("block-dirty-bitmap-add", node="n", name="b", persistent=True), "add b")
        ok(q.cmd("block-dirty-bitmap-add", node="n", name="b2", persistent=True,
                 granularity=512), "add b2")
        err(q.cmd("block-dirty-bitmap-add", node="n", name="b"), "Bitmap already exists: b",
            "add b again")
        err(q.cmd("block-dirty-bitmap-add", node="nosuch", name="b"),
            "Cannot find device='nosuch' nor node-name='nosuch'", "add on missing node")
        err(q.cmd("block-dirty-bitmap-add", node="n", name="g", granularity=1000),
            "Granularity must be power of 2 and at least 512", "bad granularity")

        err(q.cmd("nbd-server-add", device="n"), "NBD server not running", "add before start")
        ok(q.cmd("nbd-server-start", addr={"type": "unix", "data": {"path": nbd_sock}}),
           "nbd-server-start")
        err(q.cmd("nbd-server-start", addr={"type": "unix", "data": {"path": nbd_sock}}),
            "NBD server already running", "second nbd-server-start")

        # Writes go through the node: a writable export and qemu-io as its client.
        ok(q.cmd("block-export-add", type="nbd", id="w", **{"node-name": "n"}, name="w",
                 writable=True), "block-export-add writable")
        w_uri = "nbd+unix:///w?socket=" + nbd_sock
        run("qemu-io", "-f", "raw", "-c", "write -P 0x22 512 512", "-c",
            "write -P 0x33 2M 2M", w_uri)
        ok(q.cmd("block-export-del", id="w"), "block-export-del")
        e = q.wait_event("BLOCK_EXPORT_DELETED")
        check(e is not None and e["data"] == {"id": "w"}
              and set(e["timestamp"]) == {"seconds", "microseconds"},
              "BLOCK_EXPORT_DELETED %r" % e)
        err(q.cmd("block-export-del", id="w"), "Export 'w' is not found", "del again")

        ok(q.cmd("block-dirty-bitmap-disable", node="n", name="b"), "disable b")
        err(q.cmd("nbd-server-add", device="nosuch"),
            "Cannot find device='nosuch' nor node-name='nosuch'", "export missing node")
        ok(q.cmd("nbd-server-add", device="n", bitmap="b"), "export n with b")
        err(q.cmd("nbd-server-add", device="n"), "Block export id 'n' is already in use",
            "export n again")
        err(q.cmd("nbd-server-add", device="n", name="n2", bitmap="b2"),
            "Enabled bitmap 'b2' incompatible with readonly export", "enabled bitmap read-only")
        err(q.cmd("nbd-server-add", device="n", name="n3", bitmap="b3"),
            "Bitmap 'b3' is not found", "missing bitmap")
        ok(q.cmd("nbd-server-add", device="n", name="n2", bitmap="b2", writable=True),
           "export n2 writable with b2")
        err(q.cmd("block-dirty-bitmap-remove", node="n", name="b"),
            "Bitmap 'b' is currently in use by another operation and cannot be used",
            "remove exported bitmap")

        r = q.cmd("query-named-block-nodes")
        nodes = {x["node-name"]: x for x in r["return"]}
        bitmaps = {b["name"]: b for b in nodes["n"]["dirty-bitmaps"]}
        check(bitmaps["b"]["recording"] is False and bitmaps["b"]["busy"] is True
              and bitmaps["b"]["persistent"] is True and bitmaps["b"]["granularity"] == 65536
              and bitmaps["b"]["count"] == 65536 + 2 * MiB, "bitmap b info %r" % bitmaps["b"])
        check(bitmaps["b2"]["recording"] is True and bitmaps["b2"]["granularity"] == 512
              and bitmaps["b2"]["count"] == 512 + 2 * MiB, "bitmap b2 info %r" % bitmaps["b2"])
        check(nodes["n"]["drv"] == "qcow2" and nodes["n"]["image"]["virtual-size"] == 4 * MiB,
              "node info %r" % nodes["n"])
        r = q.cmd("query-block-exports")
        check(sorted(x["id"] for x in r["return"]) == ["n", "n2"], "exports %r" % r)

        expect_b = [(0, 65536), (2 * MiB, 2 * MiB)]
        expect_b2 = [(512, 512), (2 * MiB, 2 * MiB)]
        got = dirty_from_qemu_img_map(nbd_sock, "n", "b")
        check(got == expect_b, "qemu-img map b: %r" % got)
        got = dirty_from_nbdinfo("nbd+unix:///n?socket=" + nbd_sock, "b")
        check(got == expect_b, "nbdinfo b: %r" % got)
        got = dirty_from_nbdinfo("nbd+unix:///n2?socket=" + nbd_sock, "b2")
        check(got == expect_b2, "nbdinfo b2: %r" % got)
        # The data written through the node reads back.
        run("qemu-io", "-r", "-f", "raw", "-c", "read -P 0x22 512 512", "-c",
            "read -P 0x11 1M 1M", "-c", "read -P 0x33 2M 2M", "nbd+unix:///n?socket=" + nbd_sock)

        ok(q.cmd("nbd-server-remove", name="n"), "nbd-server-remove")
        e = q.wait_event("BLOCK_EXPORT_DELETED")
        check(e is not None and e["data"] == {"id": "n"}, "event for n: %r" % e)
        err(q.cmd("nbd-server-remove", name="n"), "Export 'n' is not found", "remove again")

        # transaction: all or nothing.
        ok(q.cmd("transaction", actions=[
            {"type": "block-dirty-bitmap-add",
             "data": {"node": "n", "name": "t1", "persistent": True, "disabled": True}},
            {"type": "block-dirty-bitmap-merge",
             "data": {"node": "n", "target": "t1", "bitmaps": ["b", {"node": "n", "name": "b"}]}},
            {"type": "block-dirty-bitmap-clear", "data": {"node": "n", "name": "b"}}]),
           "transaction")
        err(q.cmd("transaction", actions=[
            {"type": "block-dirty-bitmap-add", "data": {"node": "n", "name": "t2"}},
            {"type": "block-dirty-bitmap-add", "data": {"node": "n", "name": "t1"}}]),
            "Bitmap already exists: t1", "failing transaction")
        r = q.cmd("query-named-block-nodes")
        bitmaps = {b["name"]: b for b in r["return"][0]["dirty-bitmaps"]}
        check("t2" not in bitmaps, "failed transaction left t2 behind")
        check(bitmaps["t1"]["count"] == 65536 + 2 * MiB and bitmaps["b"]["count"] == 0,
              "merge/clear %r" % bitmaps)
        ok(q.cmd("block-dirty-bitmap-remove", node="n", name="b"), "remove b")
        ok(q.cmd("block-dirty-bitmap-add", node="n", name="mem"), "non-persistent bitmap")

        err(q.cmd("blockdev-del", **{"node-name": "n"}), "Node n is in use", "del busy node")
        ok(q.cmd("nbd-server-stop"), "nbd-server-stop")
        e = q.wait_event("BLOCK_EXPORT_DELETED")
        check(e is not None and e["data"] == {"id": "n2"}, "event for n2: %r" % e)
        err(q.cmd("nbd-server-stop"), "NBD server not running", "stop again")

        ok(q.cmd("quit"), "quit")
        e = q.wait_event("SHUTDOWN")
        check(e is not None and e["data"] == {"guest": False, "reason": "host-qmp-quit"},
              "SHUTDOWN %r" % e)
        check(server.wait(20) == 0, "server exit status")

        info = json.loads(run("qemu-img", "info", "--output=json", img))
        stored = {b["name"]: b for b in info["format-specific"]["data"].get("bitmaps", [])}
        check(set(stored) == {"b2", "t1"}, "stored bitmaps %r" % stored)
        check(stored.get("b2", {}).get("flags") == ["auto"]
              and stored.get("b2", {}).get("granularity") == 512, "b2 stored %r" % stored)
        check(stored.get("t1", {}).get("flags") == [], "t1 stored %r" % stored)
        run("qemu-img", "check", img)
        # QEMU's own NBD server sees the same dirty extents in the stored bitmaps.
        qsock = os.path.join(tmp, "qemu-nbd.sock")
        with ServerProcess(["qemu-nbd", "-r", "-t", "-k", qsock, "-f", "qcow2", "-B", "t1",
                            "-B", "b2", img], unix_socket=qsock):
            got = dirty_from_nbdinfo("nbd+unix:///?socket=" + qsock, "t1")
            check(got == expect_b, "qemu-nbd t1: %r" % got)
            got = dirty_from_nbdinfo("nbd+unix:///?socket=" + qsock, "b2")
            check(got == expect_b2, "qemu-nbd b2: %r" % got)
    finally:
        if server:
            server.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("qmp iotest 223: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
