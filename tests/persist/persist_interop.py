#!/usr/bin/env python3
"""Persistent dirty bitmaps in qcow2 against QEMU 7.2 (qemu-img, qemu-io, qemu-nbd, nbdinfo).

usage: persist_interop.py E2KVM_IMG E2KVM_IO E2KVM_NBD
Every step checks `qemu-img check` (exit 0) on the images it touched.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
from nbd_maps import parse_nbdinfo_map as parse_nbdinfo, served_dirty_map  # noqa: E402
from peers import require  # noqa: E402
from processes import ServerProcess  # noqa: E402

IMG, IO, NBD = sys.argv[1:4]
checker = Checker()
expect = checker.expect


def check_clean(path, step):
    p = run("qemu-img", "check", path, ok=False)
    expect(p.returncode == 0, f"{step}: qemu-img check {path} rc={p.returncode}: {p.stdout}{p.stderr}")


def qemu_bitmaps(path):
    info = json.loads(run("qemu-img", "info", "-U", "--output=json", path).stdout)
    return info.get("format-specific", {}).get("data", {}).get("bitmaps", [])


def qemu_nbd_map(path, name, sock):
    return served_dirty_map(["qemu-nbd", "-r", "-f", "qcow2", "-B", name, "-k", sock, path], sock, name)


def our_nbd_map(path, name, sock):
    return served_dirty_map([NBD, "-r", "-f", "qcow2", "-B", name, "-k", sock, path], sock, name)


def our_map(path, name):
    """Our `map --bitmap` JSON as nbdinfo-like (offset, length, dirty) runs."""
    runs = json.loads(run(IMG, "map", "--bitmap", name, "--output=json", path).stdout)
    return [(r["start"], r["length"], r["dirty"]) for r in runs]


WRITES = [("w", "0", "1k"), ("w", "1M", "64k"), ("w", "3000k", "200k"), ("zero", "2M", "64k"),
          ("discard", "7M", "1M")]


def qemu_io_cmds():
    out = []
    for kind, off, ln in WRITES:
        out.append({"w": f"write -P 0x5a {off} {ln}", "zero": f"write -z {off} {ln}",
                    "discard": f"discard {off} {ln}"}[kind])
    return out


def main():
    require("qemu-img", "qemu-io", "qemu-nbd", "nbdinfo")
    tmp = tempfile.mkdtemp(prefix="persist-")
    try:
        os.chdir(tmp)
        sock = os.path.join(tmp, "s")

        # 1. Bitmaps QEMU made and dirtied read identically by us.
        run("qemu-img", "create", "-q", "-f", "qcow2", "q.qcow2", "8M")
        run("qemu-img", "bitmap", "--add", "q.qcow2", "b")
        run("qemu-img", "bitmap", "--add", "-g", "512", "q.qcow2", "fine")
        run("qemu-io", "-f", "qcow2", *sum((["-c", c] for c in qemu_io_cmds()), []), "q.qcow2")
        run("qemu-img", "bitmap", "--disable", "q.qcow2", "fine")
        for name in ("b", "fine"):
            ref = parse_nbdinfo(qemu_nbd_map("q.qcow2", name, sock))
            expect(our_map("q.qcow2", name) == ref, f"our map of QEMU bitmap {name}")
            expect(parse_nbdinfo(our_nbd_map("q.qcow2", name, sock)) == ref,
                   f"e2kvm-nbd -B {name} of a QEMU bitmap")
        expect(json.loads(run(IMG, "info", "--output=json", "q.qcow2").stdout)
               ["format-specific"]["data"]["bitmaps"] == qemu_bitmaps("q.qcow2"),
               "info lists QEMU's bitmaps as qemu-img does")

        # 2. Bitmaps we add and dirty equal QEMU's tracking of the same writes.
        run("qemu-img", "create", "-q", "-f", "qcow2", "e.qcow2", "8M")
        run(IMG, "bitmap", "--add", "e.qcow2", "b")
        check_clean("e.qcow2", "add")
        run(IMG, "bitmap", "--add", "-g", "512", "e.qcow2", "fine")
        check_clean("e.qcow2", "add -g 512")
        # (-d unmap is the default of both tools; it is spelled out for clarity)
        run(IO, "-f", "qcow2", "-d", "unmap", *sum((["-c", c] for c in qemu_io_cmds()), []),
            "e.qcow2")
        check_clean("e.qcow2", "writes")
        run(IMG, "bitmap", "--disable", "e.qcow2", "fine")
        check_clean("e.qcow2", "disable")
        expect(qemu_bitmaps("e.qcow2") == qemu_bitmaps("q.qcow2"),
               f"qemu-img info lists our bitmaps as its own: {qemu_bitmaps('e.qcow2')}")
        for name in ("b", "fine"):
            expect(qemu_nbd_map("e.qcow2", name, sock) == qemu_nbd_map("q.qcow2", name, sock),
                   f"qemu-nbd reads our bitmap {name} as QEMU's own")
        run("qemu-img", "compare", "e.qcow2", "q.qcow2")

        # 3. Atomic batches: a failing action changes nothing; a good batch applies in order.
        before = (qemu_bitmaps("e.qcow2"), our_map("e.qcow2", "b"), our_map("e.qcow2", "fine"))
        p = run(IMG, "bitmap", "--add", "--merge", "nosuch", "e.qcow2", "x", ok=False)
        expect(p.returncode == 1 and "nosuch" in p.stderr, f"failing batch: {p.stderr}")
        after = (qemu_bitmaps("e.qcow2"), our_map("e.qcow2", "b"), our_map("e.qcow2", "fine"))
        expect(after == before, "failing batch left the bitmaps unchanged")
        check_clean("e.qcow2", "failing batch")
        run(IMG, "bitmap", "--add", "--disable", "--merge", "b", "--merge", "fine", "e.qcow2", "u")
        check_clean("e.qcow2", "add+merge batch")
        ref = dict((b["name"], b) for b in qemu_bitmaps("e.qcow2"))
        expect(ref["u"]["flags"] == [], f"u is disabled: {ref['u']}")
        dirty_u = [r for r in our_map("e.qcow2", "u") if r[2]]
        dirty_b = [r for r in our_map("e.qcow2", "b") if r[2]]
        expect(dirty_u == dirty_b, "u = b | fine (fine is finer, so b's 64k runs)")
        run(IMG, "bitmap", "--remove", "--add", "--clear", "e.qcow2", "u")
        expect(all(not r[2] for r in our_map("e.qcow2", "u")), "remove+add+clear gives a clean u")
        check_clean("e.qcow2", "remove+add")

        # 4. Checkpoint rotation: each older bitmap holds only its period's writes.
        run("qemu-img", "create", "-q", "-f", "qcow2", "c.qcow2", "4M")
        run(IMG, "checkpoint", "-q", "c.qcow2", "cp1")
        run(IO, "-c", "write 0 4k", "c.qcow2")
        run(IMG, "checkpoint", "-q", "c.qcow2", "cp2")
        run(IO, "-c", "write 1M 4k", "c.qcow2")
        run(IMG, "checkpoint", "-q", "c.qcow2", "cp3")
        check_clean("c.qcow2", "checkpoints")
        flags = {b["name"]: b["flags"] for b in qemu_bitmaps("c.qcow2")}
        expect(flags == {"cp1": [], "cp2": [], "cp3": ["auto"]}, f"checkpoint flags {flags}")
        expect([r for r in our_map("c.qcow2", "cp1") if r[2]] == [(0, 65536, True)], "cp1 runs")
        expect([r for r in our_map("c.qcow2", "cp2") if r[2]] == [(1 << 20, 65536, True)],
               "cp2 runs")
        expect(not any(r[2] for r in our_map("c.qcow2", "cp3")), "cp3 clean")
        # Reading back through QEMU's server gives the same.
        expect(parse_nbdinfo(qemu_nbd_map("c.qcow2", "cp2", sock)) == our_map("c.qcow2", "cp2"),
               "qemu-nbd reads cp2 as we do")

        # 5. Crash: an aborted writer leaves in-use bitmaps; both tools call them inconsistent.
        shutil.copy("c.qcow2", "k.qcow2")
        p = run(IO, "-c", "write 2M 4k", "-c", "abort", "k.qcow2", ok=False)
        expect(p.returncode != 0, "abort crashed e2kvm-io")
        flags = {b["name"]: b["flags"] for b in qemu_bitmaps("k.qcow2")}
        expect(all("in-use" in f for f in flags.values()), f"in-use after crash: {flags}")
        check_clean("k.qcow2", "after crash")
        p = run(IMG, "map", "--bitmap", "cp3", "k.qcow2", ok=False)
        expect(p.returncode == 1 and "inconsistent" in p.stderr and "--remove" in p.stderr,
               f"our map refuses an inconsistent bitmap: {p.stderr}")
        p = run("qemu-nbd", "-r", "-B", "cp3", "-k", sock, "k.qcow2", ok=False)
        expect(p.returncode != 0 and "inconsistent" in p.stderr, f"qemu-nbd refuses: {p.stderr}")
        p = run(NBD, "-r", "-B", "cp3", "-k", sock, "k.qcow2", ok=False)
        expect(p.returncode != 0 and "inconsistent" in p.stderr, f"e2kvm-nbd refuses: {p.stderr}")
        p = run(IMG, "bitmap", "--enable", "k.qcow2", "cp1", ok=False)
        expect(p.returncode == 1 and "inconsistent" in p.stderr, "enable refused")
        p = run(IMG, "bitmap", "--merge", "cp1", "k.qcow2", "cp3", ok=False)
        expect(p.returncode == 1 and "inconsistent" in p.stderr, "merge refused")
        for name in ("cp1", "cp2", "cp3"):
            run(IMG, "bitmap", "--remove", "k.qcow2", name)
            check_clean("k.qcow2", f"remove inconsistent {name}")
        expect(qemu_bitmaps("k.qcow2") == [], "all removed")
        run("qemu-io", "-c", "read -P 0xcd 2M 4k", "-c", "read -P 0xcd 0 4k", "k.qcow2")
        p = run("qemu-img", "info", "k.qcow2")
        expect("bitmaps" not in p.stdout, "no bitmaps extension left")

        # The same after a QEMU crash (qemu-io abort), then removal by us.
        shutil.copy("c.qcow2", "k2.qcow2")
        run("qemu-io", "-c", "write 2M 4k", "-c", "abort", "k2.qcow2", ok=False)
        p = run(IMG, "map", "--bitmap", "cp1", "k2.qcow2", ok=False)
        expect(p.returncode == 1 and "inconsistent" in p.stderr, "QEMU crash: inconsistent")
        run(IMG, "bitmap", "--remove", "k2.qcow2", "cp1")
        check_clean("k2.qcow2", "remove after QEMU crash")
        names = [b["name"] for b in qemu_bitmaps("k2.qcow2")]
        expect(names == ["cp2", "cp3"], f"left {names}")

        # 6. SIGKILL of a writer holding the image open read-write.
        shutil.copy("c.qcow2", "s.qcow2")
        w = subprocess.Popen([IO, "s.qcow2"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        w.stdin.write("write 3M 4k\n")
        w.stdin.flush()
        time.sleep(0.5)
        w.send_signal(signal.SIGKILL)
        w.wait(timeout=10)
        flags = {b["name"]: b["flags"] for b in qemu_bitmaps("s.qcow2")}
        expect(all("in-use" in f for f in flags.values()), f"in-use after SIGKILL: {flags}")
        check_clean("s.qcow2", "after SIGKILL")

        # 7. A bitmap-unaware writer: autoclear bit clear => QEMU ignores the extension; so do
        # we, and our next read-write open drops it.
        shutil.copy("c.qcow2", "a.qcow2")
        with open("a.qcow2", "r+b") as f:
            f.seek(88)
            v = int.from_bytes(f.read(8), "big")
            f.seek(88)
            f.write((v & ~1).to_bytes(8, "big"))
        p = run(IMG, "info", "a.qcow2")
        expect("lacking bitmap support" in p.stderr and "bitmaps:" not in p.stdout,
               f"unaware writer warning: {p.stderr}")
        run(IO, "-c", "write 0 4k", "a.qcow2")
        run(IMG, "bitmap", "--add", "a.qcow2", "new")
        names = [b["name"] for b in qemu_bitmaps("a.qcow2")]
        expect(names == ["new"], f"the stale extension was replaced: {names}")
        p = run("qemu-img", "check", "a.qcow2", ok=False)
        expect(p.returncode in (0, 3), f"only leaks after dropping: rc={p.returncode}")

        # 8. v2 images cannot hold bitmaps.
        run("qemu-img", "create", "-q", "-f", "qcow2", "-o", "compat=0.10", "v2.qcow2", "1M")
        p = run(IMG, "bitmap", "--add", "v2.qcow2", "b", ok=False)
        expect(p.returncode == 1 and "v2" in p.stderr, f"v2 refused: {p.stderr}")

        # 9. Resize with bitmaps: grown in memory, saved at the new size, QEMU reads them.
        shutil.copy("c.qcow2", "r.qcow2")
        run(IMG, "resize", "r.qcow2", "64M")
        check_clean("r.qcow2", "resize")
        ref = parse_nbdinfo(qemu_nbd_map("r.qcow2", "cp1", sock))
        expect(ref == our_map("r.qcow2", "cp1") and ref[-1][0] + ref[-1][1] == 64 << 20,
               f"resized bitmap: {ref}")

        # 10. convert --bitmaps copies bitmaps as qemu-img does; inconsistent ones refused or
        # skipped.
        run(IMG, "convert", "--bitmaps", "-O", "qcow2", "c.qcow2", "cv.qcow2")
        run("qemu-img", "convert", "--bitmaps", "-O", "qcow2", "c.qcow2", "cq.qcow2")
        check_clean("cv.qcow2", "convert --bitmaps")
        expect(qemu_bitmaps("cv.qcow2") == qemu_bitmaps("cq.qcow2"), "converted bitmap list")
        for name in ("cp1", "cp2", "cp3"):
            expect(our_map("cv.qcow2", name) == our_map("cq.qcow2", name), f"converted {name}")
        p = run(IMG, "convert", "--bitmaps", "-O", "qcow2", "k2.qcow2", "cb.qcow2", ok=False)
        # The bitmap named is the one qemu-img visits first (the last in the directory).
        q = run("qemu-img", "convert", "--bitmaps", "-O", "qcow2", "k2.qcow2", "cbq.qcow2",
                ok=False)
        expect(p.returncode == 1 and q.returncode == 1 and
               p.stderr.split(": ", 1)[-1] == q.stderr.split(": ", 1)[-1],
               f"convert refuses inconsistent: {p.stderr} (qemu-img: {q.stderr})")
        run(IMG, "convert", "--bitmaps", "--skip-broken-bitmaps", "-O", "qcow2", "k2.qcow2",
            "cb.qcow2")
        expect(qemu_bitmaps("cb.qcow2") == [], "broken bitmaps skipped")
        check_clean("cb.qcow2", "convert --skip-broken-bitmaps")
        p = run(IMG, "convert", "--bitmaps", "-O", "raw", "c.qcow2", "c.raw", ok=False)
        expect(p.returncode == 1, "convert --bitmaps to raw refused")

        # 11. A writable e2kvm-nbd export records writes made over NBD in an enabled bitmap,
        # shows it in use meanwhile and saves it when it exits.
        run("qemu-img", "create", "-q", "-f", "qcow2", "n.qcow2", "4M")
        run(IMG, "bitmap", "--add", "n.qcow2", "live")
        srv = ServerProcess([NBD, "-f", "qcow2", "-B", "live", "-k", sock, "n.qcow2"],
                            unix_socket=sock, start_timeout=4)
        try:
            time.sleep(0.1)
            flags = {b["name"]: b["flags"] for b in qemu_bitmaps("n.qcow2")}
            expect(flags == {"live": ["in-use", "auto"]}, f"in use while served: {flags}")
            run("qemu-io", "-f", "raw", "-c", "write 1M 4k", f"nbd+unix:///?socket={sock}")
            srv.wait(timeout=30)  # the last client left
        finally:
            rc = srv.kill()
        expect(rc == 0, f"e2kvm-nbd exit {rc}: {srv.stderr_text()}")
        check_clean("n.qcow2", "after serving")
        expect([r for r in our_map("n.qcow2", "live") if r[2]] == [(1 << 20, 65536, True)],
               "write over NBD recorded and saved")

        # 12. Hostile bitmap metadata: both tools refuse to open, we never crash.
        def directory_offset(path):
            data = open(path, "rb").read(65536)
            pos = int.from_bytes(data[100:104], "big")
            while pos + 8 <= len(data):
                typ = int.from_bytes(data[pos:pos + 4], "big")
                ln = int.from_bytes(data[pos + 4:pos + 8], "big")
                if typ == 0:
                    break
                if typ == 0x23852875:
                    return int.from_bytes(data[pos + 24:pos + 32], "big")
                pos += 8 + ((ln + 7) & ~7)
            raise AssertionError("no bitmaps extension")

        for what, field, size, value in (("reserved flag", 12, 4, 4),
                                         ("table past EOF", 0, 8, 1 << 40),
                                         ("granularity 2^40", 17, 1, 40),
                                         ("zero table size", 8, 4, 0)):
            shutil.copy("c.qcow2", "h.qcow2")
            off = directory_offset("h.qcow2")
            with open("h.qcow2", "r+b") as f:
                f.seek(off + field)
                f.write(value.to_bytes(size, "big"))
            q = run("qemu-img", "info", "h.qcow2", ok=False)
            for cmd in ([IMG, "info", "h.qcow2"], [IMG, "map", "--bitmap", "cp1", "h.qcow2"],
                        [IMG, "bitmap", "--remove", "h.qcow2", "cp1"]):
                p = run(*cmd, ok=False)
                expect(p.returncode == 1 and "bitmap" in p.stderr.lower(),
                       f"{what}: {cmd[1]} rc={p.returncode} {p.stderr} (qemu-img: {q.returncode})")
            # qemu-img info reads only the directory; we load every bitmap on open, so a table
            # past the end of the file is refused at once (QEMU refuses it on loading).
            if what != "table past EOF":
                expect(q.returncode == 1, f"{what}: qemu-img also refuses")
            if what in ("reserved flag", "granularity 2^40"):  # QEMU's words (iotest 242)
                p = run(IMG, "info", "h.qcow2", ok=False)
                expect(p.stderr.split(": ", 1)[-1] == q.stderr.split(": ", 1)[-1],
                       f"{what}: info's message {p.stderr!r}, qemu-img's {q.stderr!r}")
    finally:
        os.chdir("/")
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("all persistent bitmap interop checks passed",
                               "{count} failure(s)")


if __name__ == "__main__":
    sys.exit(main())
