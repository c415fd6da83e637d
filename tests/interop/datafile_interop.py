#!/usr/bin/env python3
"""qcow2 external data files against QEMU 7.2 (qemu-img, qemu-io, qemu-nbd, nbdinfo).

usage: datafile_interop.py E2KVM_IMG E2KVM_IO E2KVM_NBD
Metadata files must be byte-identical to qemu-img's, each tool must read and write what the
other made, `qemu-img check` must stay clean, and bitmaps kept in meta.qcow2 must record
writes that land in disk.raw.
"""
import filecmp
import json
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
from nbd_maps import parse_nbdinfo_map, served_dirty_map  # noqa: E402
from peers import require  # noqa: E402
from processes import ServerProcess  # noqa: E402

IMG, IO, NBD = (os.path.abspath(p) for p in sys.argv[1:4])
checker = Checker()
expect = checker.expect


def check_clean(path, step):
    p = run("qemu-img", "check", path, ok=False)
    expect(p.returncode == 0, f"{step}: qemu-img check {path} rc={p.returncode}: {p.stdout}{p.stderr}")
    ours = run(IMG, "check", path, ok=False)
    expect((ours.returncode, ours.stdout) == (p.returncode, p.stdout),
           f"{step}: e2kvm-img check {path} differs:\n{ours.stdout}{ours.stderr}\nqemu:\n{p.stdout}")


def same_data(meta, raw, step):
    """qemu-img reads through meta.qcow2 exactly what disk.raw holds (a raw data file)."""
    p = run("qemu-img", "compare", "-f", "qcow2", "-F", "raw", meta, raw, ok=False)
    expect(p.returncode == 0, f"{step}: qemu-img compare {meta} {raw}: {p.stdout}{p.stderr}")


def write_random(path, size, seed):
    data = bytearray(size)
    x = seed * 2654435761 & 0xffffffff
    for i in range(0, size, 512):
        x = (x * 1103515245 + 12345) & 0xffffffff
        data[i:i + 512] = bytes([(x >> 16) & 0xff]) * 512
    with open(path, "wb") as f:
        f.write(data)
    return bytes(data)


def nbd_bitmap_map(server_cmd, sock, name):
    return parse_nbdinfo_map(served_dirty_map(server_cmd, sock, name))


def dirty_runs(runs):
    return [(o, n) for o, n, d in runs if d]


def main():
    require("qemu-img", "qemu-io", "qemu-nbd", "nbdinfo")
    with tempfile.TemporaryDirectory(prefix="e2kvm-datafile-") as d:
        os.chdir(d)
        sock = os.path.join(d, "nbd.sock")

        # 1. Create: metadata byte-identical to qemu-img's for the same options.
        for opts, size in [("data_file=q.raw", "10M"), ("data_file=q.raw,data_file_raw=on", "10M"),
                           ("data_file=q.raw,data_file_raw=on", "3G"),
                           ("data_file=q.raw,cluster_size=4096,preallocation=metadata", "20M"),
                           ("data_file=q.raw,data_file_raw=on,lazy_refcounts=on", "1M")]:
            for f in ("q.raw", "e.raw"):
                if os.path.exists(f):
                    os.unlink(f)
            run("qemu-img", "create", "-q", "-f", "qcow2", "-o", opts, "q.qcow2", size)
            os.rename("q.raw", "qemu-made.raw")
            run(IMG, "create", "-q", "-f", "qcow2", "-o", opts, "e.qcow2", size)
            expect(filecmp.cmp("q.qcow2", "e.qcow2", shallow=False),
                   f"create -o {opts} {size}: metadata differs from qemu-img's")
            expect(os.path.getsize("q.raw") == os.path.getsize("qemu-made.raw"),
                   f"create -o {opts} {size}: data file size")
            for fmt in ([], ["--output=json"]):
                qi = run("qemu-img", "info", *fmt, "e.qcow2").stdout
                ei = run(IMG, "info", *fmt, "e.qcow2").stdout
                expect(qi == ei, f"info {fmt} of -o {opts}:\n{ei}\nqemu:\n{qi}")
            check_clean("e.qcow2", f"create -o {opts}")
            os.unlink("qemu-made.raw")

        # Preallocated creation reserves the data file's host space as qemu-img's does, also
        # when the data file exists already (qemu-img makes it anew; its data is kept here).
        for mode in ("falloc", "full"):
            for existing in (False, True):
                for f in ("pre.raw", "pre.qcow2"):
                    if os.path.exists(f):
                        os.unlink(f)
                if existing:
                    run(IMG, "create", "-q", "-f", "raw", "pre.raw", "8M")
                run(IMG, "create", "-q", "-f", "qcow2", "-o",
                    f"data_file=pre.raw,preallocation={mode}", "pre.qcow2", "8M")
                expect(os.stat("pre.raw").st_blocks * 512 >= 8 << 20,
                       f"preallocation={mode} (data file existed: {existing}): data file holds "
                       f"{os.stat('pre.raw').st_blocks * 512} bytes")
                check_clean("pre.qcow2", f"preallocation={mode} with a data file")

        # info needs only the metadata: a missing data file is no error there (as qemu-img).
        os.unlink("q.raw")
        expect(run("qemu-img", "info", "e.qcow2").stdout == run(IMG, "info", "e.qcow2").stdout,
               "info with the data file missing")
        p = run(IO, "-c", "read 0 512", "e.qcow2", ok=False)
        expect(p.returncode != 0 and "q.raw" in p.stdout + p.stderr,
               f"e2kvm-io names the missing data file: {p.stdout}{p.stderr}")

        # 2. An existing raw disk is kept (qemu-img 7.2 would truncate it) and read through the
        # metadata file by qemu-io exactly as it is.
        disk = write_random("disk.raw", 8 << 20, 1)
        run(IMG, "create", "-q", "-f", "qcow2", "-o", "data_file=disk.raw,data_file_raw=on",
            "meta.qcow2", "8M")
        with open("disk.raw", "rb") as f:
            expect(f.read() == disk, "existing raw disk kept by create")
        check_clean("meta.qcow2", "create over an existing disk")
        same_data("meta.qcow2", "disk.raw", "create over an existing disk")
        p = run("qemu-io", "-c", "read -P 0x%02x 0 512" % disk[0], "meta.qcow2", ok=False)
        expect("Pattern verification failed" not in p.stdout and p.returncode == 0,
               f"qemu-io reads the disk through meta.qcow2: {p.stdout}{p.stderr}")

        # 3. A bitmap in meta.qcow2 records writes made through it; disk.raw changes only there.
        run(IMG, "bitmap", "--add", "meta.qcow2", "backup")
        run(IO, "-c", "write -P 0x5a 1M 64k", "-c", "write -P 0x6b 3000k 100k",
            "-c", "write -z 5M 128k", "-c", "discard 6M 64k", "meta.qcow2")
        check_clean("meta.qcow2", "e2kvm-io writes")
        same_data("meta.qcow2", "disk.raw", "e2kvm-io writes")
        expect([b["name"] for b in json.loads(run("qemu-img", "info", "--output=json",
                                                  "meta.qcow2").stdout)
                ["format-specific"]["data"].get("bitmaps", [])] == ["backup"],
               "qemu-img info lists the bitmap")
        want = [(1 << 20, 65536), (2944 << 10, 192 << 10), (5 << 20, 128 << 10),
                (6 << 20, 65536)]
        qmap = nbd_bitmap_map(["qemu-nbd", "-r", "-f", "qcow2", "-B", "backup", "-k", sock,
                               "meta.qcow2"], sock, "backup")
        expect(dirty_runs(qmap) == want, f"qemu-nbd -B backup: {qmap}")
        omap = nbd_bitmap_map([NBD, "-r", "-f", "qcow2", "-B", "backup", "-k", sock,
                               "meta.qcow2"], sock, "backup")
        expect(omap == qmap, f"e2kvm-nbd -B backup: {omap}")
        with open("disk.raw", "rb") as f:
            now = f.read()
        expect(now[1 << 20:(1 << 20) + 65536] == b"\x5a" * 65536, "write landed in disk.raw")
        expect(now[5 << 20:(5 << 20) + (128 << 10)] == bytes(128 << 10), "zeros in disk.raw")
        changed = [(1 << 20, 65536), (3000 << 10, 100 << 10), (5 << 20, 128 << 10),
                   (6 << 20, 65536)]
        masked_now, masked_old = bytearray(now), bytearray(disk)
        for o, n in changed:
            masked_now[o:o + n] = bytes(n)
            masked_old[o:o + n] = bytes(n)
        expect(masked_now == masked_old, "disk.raw unchanged outside the written ranges")

        # 3b. Writes over NBD to a writable e2kvm-nbd export land in disk.raw and dirty the
        # bitmap in meta.qcow2 (saved when the server exits after its last client).
        run(IMG, "bitmap", "--add", "meta.qcow2", "nbd")
        srv = ServerProcess([NBD, "-f", "qcow2", "-k", sock, "meta.qcow2"], unix_socket=sock,
                            start_timeout=5)
        try:
            time.sleep(0.1)
            run("qemu-io", "-f", "raw", "-c", "write -P 0x7c 7M 4k", f"nbd+unix:///?socket={sock}")
            srv.wait(timeout=30)
        finally:
            rc = srv.kill()
        expect(rc == 0, f"e2kvm-nbd exit {rc}: {srv.stderr_text()}")
        check_clean("meta.qcow2", "after serving over NBD")
        with open("disk.raw", "rb") as f:
            f.seek(7 << 20)
            expect(f.read(4096) == b"\x7c" * 4096, "NBD write landed in disk.raw")
        runs = json.loads(run(IMG, "map", "--bitmap", "nbd", "--output=json", "meta.qcow2").stdout)
        expect([(r["start"], r["length"]) for r in runs if r["dirty"]] == [(7 << 20, 65536)],
               f"NBD write recorded in bitmap nbd: {runs}")

        # 4. qemu-img made the image (raw off); e2kvm-io writes, QEMU reads; and back.
        run("qemu-img", "create", "-q", "-f", "qcow2", "-o", "data_file=q2.raw", "q2.qcow2", "4M")
        run(IO, "-c", "write -P 0x11 0 100k", "-c", "write -P 0x22 2M 4k",
            "-c", "write -z -u 64k 64k", "q2.qcow2")
        check_clean("q2.qcow2", "our writes to a qemu-made image")
        p = run("qemu-io", "-c", "read -P 0x11 0 64k", "-c", "read -P 0 64k 64k",
                "-c", "read -P 0x22 2M 4k", "-c", "read -P 0 3M 4k", "q2.qcow2", ok=False)
        expect(p.returncode == 0 and "verification failed" not in p.stdout,
               f"qemu-io reads our writes: {p.stdout}{p.stderr}")
        run("qemu-io", "-c", "write -P 0x33 1M 128k", "q2.qcow2")
        p = run(IO, "-c", "read -P 0x33 1M 128k", "-c", "read -P 0x22 2M 4k", "q2.qcow2",
                ok=False)
        expect(p.returncode == 0 and "verification failed" not in p.stdout,
               f"e2kvm-io reads qemu-io's writes: {p.stdout}{p.stderr}")
        for fmt in ([], ["--output=json"]):
            expect(run("qemu-img", "map", *fmt, "q2.qcow2").stdout ==
                   run(IMG, "map", *fmt, "q2.qcow2").stdout, f"map {fmt} of q2.qcow2")

        # 5. The same operations through qemu-io and e2kvm-io leave the same bytes.
        cmds = ["write -P 0xaa 0 1M", "discard 64k 64k", "write -z 128k 64k",
                "write -z -u 192k 64k", "write -z 2M 64k", "write -P 0xcc 4M 100"]
        for raw in ("off", "on"):
            results = []
            for tool in ("qemu-io", IO):
                for f in ("s.qcow2", "s.raw"):
                    if os.path.exists(f):
                        os.unlink(f)
                run("qemu-img", "create", "-q", "-f", "qcow2", "-o",
                    f"data_file=s.raw,data_file_raw={raw}", "s.qcow2", "6M")
                args = []
                for c in cmds:
                    args += ["-c", c]
                run(tool, *args, "s.qcow2")
                with open("s.qcow2", "rb") as f1, open("s.raw", "rb") as f2:
                    results.append((f1.read(), f2.read()))
            expect(results[0][0] == results[1][0], f"raw={raw}: metadata after the same writes")
            expect(results[0][1] == results[1][1], f"raw={raw}: data file after the same writes")

        # 6. Hostile headers: QEMU and we both refuse; we name the problem.
        run("qemu-img", "create", "-q", "-f", "qcow2", "h.qcow2", "1M")
        with open("h.qcow2", "r+b") as f:
            f.seek(72)
            f.write((4).to_bytes(8, "big"))
        p = run(IO, "-c", "read 0 512", "h.qcow2", ok=False)
        expect(p.returncode != 0 and "'data-file' is required" in p.stdout + p.stderr,
               f"bit without extension: {p.stdout}{p.stderr}")
        with open("h.qcow2", "r+b") as f:
            f.seek(72)
            f.write((0).to_bytes(8, "big"))
            f.seek(88)
            f.write((2).to_bytes(8, "big"))
        p = run(IO, "-c", "read 0 512", "h.qcow2", ok=False)
        expect(p.returncode != 0 and "data-file-raw requires a data file" in p.stdout + p.stderr,
               f"raw flag without data file: {p.stdout}{p.stderr}")

    return checker.exit_status("all data file interop checks passed",
                               "{count} data file interop check(s) failed")


if __name__ == "__main__":
    sys.exit(main())
