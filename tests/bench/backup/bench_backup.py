#!/usr/bin/env python3
"""Benchmark of e2kvm-backup next to its peers, in the same run:
1. a full point of a 1 GiB qcow2 disk half full (512 x 1 MiB extents of random data), served
   by `qemu-nbd -r -e 4`, next to `nbdcopy` of the same export into a raw file (time ratio);
   and next to nbdcopy followed by `sync --data` and `openssl dgst -sha256` (a point is
   durable and checksummed before it is listed; nbdcopy alone does neither);
2. an incremental point of 1 % changed data (160 x 64 KiB writes recorded by a bitmap,
   served with -B), next to our full point;
3. restoring the incremental point (a two-file chain) to raw, next to
   `qemu-img convert -O raw` of the same chain;
4. a compressed full point (--compress, zstd) of a disk with 256 MiB of compressible data
   (log-like text, a quarter random), next to `qemu-img convert -c -o compression_type=zstd`
   of the same export to qcow2, alone and followed by `sync --data` and `openssl dgst`.
Each figure is the median of --runs runs. Exits non-zero if a run fails or the restored disk
differs from the disk (the work did not happen).
usage: bench_backup.py [--runs N] E2KVM_BACKUP"""
import argparse
import filecmp
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

MiB = 1 << 20


def run(*argv):
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if r.returncode != 0:
        sys.exit("bench_backup: %s failed: %s%s" % (" ".join(argv), r.stdout, r.stderr))
    return r


def timed(fn, runs, before=None):
    times = []
    for _ in range(runs):
        if before:
            before()
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def compressed_point(backup, runs, tmp):
    """Section 4: (ours, peer, peer made durable and checksummed, our size, peer's size)."""
    disk = os.path.join(tmp, "text.qcow2")
    raw = os.path.join(tmp, "text.raw")
    rng = random.Random(2)
    words = [b"block", b"write", b"flush", b"guest", b"sector", b"bitmap", b"export", b"error",
             b"cluster", b"offset", b"device", b"backup", b"restore", b"point", b"checksum"]
    with open(raw, "wb") as f:
        f.truncate(1024 * MiB)
        for i in range(256):
            f.seek(i * 4 * MiB)
            if i % 4 == 3:
                f.write(rng.randbytes(MiB))
                continue
            line = []
            size = 0
            while size < MiB:
                w = b"%08d %s %s %d\n" % (size, rng.choice(words), rng.choice(words),
                                          rng.randrange(1 << 20))
                line.append(w)
                size += len(w)
            f.write(b"".join(line)[:MiB])
    run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, disk)
    os.unlink(raw)
    sock = os.path.join(tmp, "text.sock")
    server = subprocess.Popen(["qemu-nbd", "-r", "-f", "qcow2", "-e", "4", "--persistent",
                               "-k", sock, disk])
    try:
        for _ in range(500):
            if os.path.exists(sock):
                break
            time.sleep(0.01)
        uri = "nbd+unix:///?socket=" + sock
        repo = os.path.join(tmp, "packed")
        out = os.path.join(tmp, "converted.qcow2")

        def fresh():
            shutil.rmtree(repo, ignore_errors=True)
            if os.path.exists(out):
                os.unlink(out)

        def convert():
            run("qemu-img", "convert", "-c", "-O", "qcow2", "-o", "compression_type=zstd",
                uri, out)

        def convert_durable():
            convert()
            run("sync", "--data", out)
            run("openssl", "dgst", "-sha256", out)
        ours = timed(lambda: run(backup, "full", "--compress", "--nbd", uri, repo), runs, fresh)
        ours_size = os.path.getsize(os.path.join(repo, "point-0001.qcow2"))
        peer = timed(convert, runs, fresh)
        peer_size = os.path.getsize(out)
        durable = timed(convert_durable, runs, fresh)
        run(backup, "full", "--compress", "--nbd", uri, repo)
        cmp = subprocess.run(["qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", disk,
                              os.path.join(repo, "point-0001.qcow2")], capture_output=True)
        if cmp.returncode != 0:
            sys.exit("bench_backup: the compressed point differs from the disk")
        return ours, peer, durable, ours_size, peer_size
    finally:
        server.terminate()
        server.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("backup")
    a = ap.parse_args()
    for tool in ("qemu-img", "qemu-io", "qemu-nbd", "nbdcopy", "openssl"):
        if shutil.which(tool) is None:
            sys.exit("bench_backup: %s is not installed" % tool)
    tmp = tempfile.mkdtemp(prefix="bench-backup-", dir=os.environ.get("TMPDIR", "/var/tmp"))
    server = None
    try:
        raw = os.path.join(tmp, "disk.raw")
        rng = random.Random(1)
        with open(raw, "wb") as f:
            f.truncate(1024 * MiB)
            for i in range(0, 1024, 2):
                f.seek(i * MiB)
                f.write(rng.randbytes(MiB))
        disk = os.path.join(tmp, "disk.qcow2")
        run("qemu-img", "convert", "-f", "raw", "-O", "qcow2", raw, disk)
        os.unlink(raw)
        run("qemu-img", "bitmap", "--add", disk, "b0")
        sock = os.path.join(tmp, "nbd.sock")
        uri = "nbd+unix:///?socket=" + sock

        def serve(*extra):
            nonlocal server
            if server:
                server.terminate()
                server.wait()
            server = subprocess.Popen(["qemu-nbd", "-r", "-f", "qcow2", "-e", "4",
                                       "--persistent", "-k", sock, *extra, disk])
            for _ in range(500):
                if os.path.exists(sock):
                    break
                time.sleep(0.01)

        serve()
        repo = os.path.join(tmp, "backups")
        copy = os.path.join(tmp, "nbdcopy.raw")

        def fresh_repo():
            shutil.rmtree(repo, ignore_errors=True)

        def clear_copy():
            if os.path.exists(copy):
                os.unlink(copy)

        ours_full = timed(lambda: run(a.backup, "full", "--nbd", uri, repo), a.runs, fresh_repo)
        peer_full = timed(lambda: run("nbdcopy", uri, copy), a.runs, clear_copy)

        def nbdcopy_durable():
            run("nbdcopy", uri, copy)
            run("sync", "--data", copy)
            run("openssl", "dgst", "-sha256", copy)
        peer_durable = timed(nbdcopy_durable, a.runs, clear_copy)
        stored = os.path.getsize(os.path.join(repo, "point-0001.qcow2"))

        # 1 % of the disk changes; the bitmap b0 records it.
        server.terminate()
        server.wait()
        cmds = []
        for _ in range(160):
            cmds += ["-c", "write -P %d %d 64k" % (rng.randrange(1, 255),
                                                   rng.randrange(0, 1024 * 16) * 65536)]
        run("qemu-io", "-f", "qcow2", *cmds, disk)
        serve("-B", "b0")

        incs = []
        for _ in range(a.runs):
            fresh_repo()
            run(a.backup, "full", "--nbd", uri, repo)
            t = time.perf_counter()
            r = run(a.backup, "inc", "--nbd", uri, "--bitmap", "b0", repo)
            incs.append(time.perf_counter() - t)
        ours_inc = statistics.median(incs)
        inc_line = r.stdout.strip()

        restored = os.path.join(tmp, "restored.raw")
        converted = os.path.join(tmp, "converted.raw")
        latest = os.path.join(repo, sorted(f for f in os.listdir(repo)
                                           if f.startswith("point-"))[-1])

        def clear(path):
            return lambda: os.path.exists(path) and os.unlink(path)

        ours_restore = timed(lambda: run(a.backup, "restore", repo, restored), a.runs,
                             clear(restored))
        peer_restore = timed(lambda: run("qemu-img", "convert", "-f", "qcow2", "-O", "raw",
                                         latest, converted), a.runs, clear(converted))

        def convert_durable():
            run("qemu-img", "convert", "-f", "qcow2", "-O", "raw", latest, converted)
            run("sync", "--data", converted)
        peer_restore_durable = timed(convert_durable, a.runs, clear(converted))
        server.terminate()
        server.wait()
        server = None
        now = os.path.join(tmp, "now.raw")
        run("qemu-img", "convert", "-f", "qcow2", "-O", "raw", disk, now)
        if not filecmp.cmp(restored, now, shallow=False):
            sys.exit("bench_backup: the restored disk differs from the disk")
        print("full point, 1 GiB disk with 512 MiB data (qemu-nbd -r -e 4):")
        print("  e2kvm-backup full   %7.3f s   (stored %d MiB)" % (ours_full, stored // MiB))
        print("  nbdcopy to raw      %7.3f s" % peer_full)
        print("  ratio ours/nbdcopy  %7.2f" % (ours_full / peer_full))
        print("  nbdcopy + sync --data + openssl sha256 (what a point also does: durable, "
              "checksummed) %7.3f s" % peer_durable)
        print("  ratio ours/that     %7.2f" % (ours_full / peer_durable))
        print("incremental point, 1 %% changed (160 x 64 KiB): %s" % inc_line)
        print("  e2kvm-backup inc    %7.3f s   (%.1f %% of our full point's time)"
              % (ours_inc, 100 * ours_inc / ours_full))
        print("restore of the incremental point (two-file chain) to raw:")
        print("  e2kvm-backup restore %6.3f s" % ours_restore)
        print("  qemu-img convert    %7.3f s" % peer_restore)
        print("  ratio ours/qemu-img %7.2f" % (ours_restore / peer_restore))
        print("  qemu-img convert + sync --data (durable, as our restore) %7.3f s"
              % peer_restore_durable)
        print("  ratio ours/that     %7.2f" % (ours_restore / peer_restore_durable))
        ours_c, peer_c, peer_cd, ours_sz, peer_sz = compressed_point(a.backup, a.runs, tmp)
        print("compressed full point (zstd), 1 GiB disk with 256 MiB of compressible data:")
        print("  e2kvm-backup full --compress %7.3f s   (stored %.1f MiB)"
              % (ours_c, ours_sz / MiB))
        print("  qemu-img convert -c (zstd)   %7.3f s   (%.1f MiB)" % (peer_c, peer_sz / MiB))
        print("  ratio ours/qemu-img          %7.2f" % (ours_c / peer_c))
        print("  qemu-img convert -c + sync --data + openssl sha256 %7.3f s" % peer_cd)
        print("  ratio ours/that              %7.2f" % (ours_c / peer_cd))
    finally:
        if server:
            server.terminate()
            server.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
