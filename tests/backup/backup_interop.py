#!/usr/bin/env python3
"""e2kvm-backup against real peers:
1. A running VM (e2kvm-system, then qemu-system-x86_64 -machine none) with two QMP sockets: a
   full and an incremental point are taken through one while a client keeps writing through
   the other (human-monitor-command qemu-io). Every write goes to its own 64 KiB slot, so the
   disk at any moment is "the first k writes": each restored point must be exactly that for
   some k between the writes finished before the backup started and those started before it
   ended (cmp with a disk built from the write log); qemu-img compare reads the point's file
   (through its backing chain) the same way; the incremental file holds about the changed
   bytes; nothing of the backup is left in the VM (nodes, exports, jobs, old checkpoints).
2. --nbd against qemu-nbd -r (full) and qemu-nbd -r -B BITMAP (incremental); a bitmap the
   export does not offer gives a full point with the reason; the same over TCP with TLS
   (--tls-creds).
3. An image file; qemu-img check and info --backing-chain on the points; prune --keep 2
   leaves points that restore exactly as before; verify finds a corrupted point; a checkpoint
   bitmap removed by hand gives a full point with a warning.
4. --compress (zstd) and --compress=zlib: the points are qcow2 files of that compression type
   that qemu-img checks and converts to the disk, much smaller than uncompressed points of
   the same data (with a random, incompressible part stored as it is); restore and a prune
   that merges them keep both the data and the compression.
usage: backup_interop.py E2KVM_BACKUP E2KVM_SYSTEM"""
import filecmp
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
from file_digest import sha256  # noqa: E402
from peers import require  # noqa: E402
from processes import wait_for_path  # noqa: E402
from qmp_client import QmpClient  # noqa: E402

SLOT = 65536
REGION = 32 << 20  # writes go to slots from 32 MiB on
SLOTS = 400
DISK = 64 << 20

check = Checker()


def backup(*args, ok=True, timeout=120):
    return run(BACKUP, *args, ok=ok, timeout=timeout)


def points(directory):
    return json.loads(backup("list", directory, "--output=json").stdout)


def initial_disk(path):
    """A 64 MiB qcow2 with some data and a zero run; returns a raw copy of it."""
    run("qemu-img", "create", "-q", "-f", "qcow2", path, str(DISK))
    run("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 0 3M", "-c", "write -P 0x22 8M 1M",
        "-c", "write -z 9M 64k", "-c", "write -P 0x33 40M 256k", path)
    raw = path + ".initial.raw"
    run("qemu-img", "convert", "-f", "qcow2", "-O", "raw", path, raw)
    return raw


def apply_writes(initial_raw, count, out):
    """The disk after the first `count` writes of the writer."""
    shutil.copyfile(initial_raw, out)
    with open(out, "r+b") as f:
        for i in range(count):
            f.seek(REGION + i * SLOT)
            f.write(bytes([i % 250 + 1]) * SLOT)


def prefix_length(restored_raw, initial_raw, lo, hi):
    """The k for which `restored_raw` is the disk after exactly k writes (None if no k in
    [lo, hi] fits)."""
    with open(restored_raw, "rb") as f:
        k = 0
        for i in range(SLOTS):
            f.seek(REGION + i * SLOT)
            if f.read(SLOT) == bytes([i % 250 + 1]) * SLOT:
                k = i + 1
            else:
                break
    return k if lo <= k <= hi else None


class Writer(threading.Thread):
    """Writes slot after slot through its own QMP monitor until stopped."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.qmp = QmpClient(sock, timeout=30)
        self.started_count = 0
        self.done_count = 0
        self.stop_flag = False
        self.error = None

    def run(self):
        try:
            for i in range(SLOTS):
                if self.stop_flag:
                    break
                self.started_count = i + 1
                line = 'qemu-io drive0 "write -P %d %d %d"' % (i % 250 + 1, REGION + i * SLOT,
                                                               SLOT)
                r = self.qmp.execute("human-monitor-command", **{"command-line": line})
                if r:
                    raise RuntimeError("qemu-io said: " + r)
                self.done_count = i + 1
                time.sleep(0.002)
        except Exception as e:  # noqa: BLE001 (reported by the main thread)
            self.error = e

    def finish(self):
        """Stops writing and closes the monitor connection (QEMU serves one client per
        monitor socket at a time)."""
        self.stop_flag = True
        self.join(30)
        self.qmp.close()


def start_vm(prog, tmp, disk):
    q1, q2 = os.path.join(tmp, "q1.sock"), os.path.join(tmp, "q2.sock")
    if prog == "qemu-system-x86_64":
        argv = [prog, "-machine", "none", "-nodefaults", "-display", "none"]
    else:
        argv = [prog, "-display", "none", "-serial", "none", "-S"]
    for s in (q1, q2):
        argv += ["-qmp", "unix:%s,server=on,wait=off" % s]
    argv += ["-drive", "if=none,id=drive0,file=%s,format=qcow2" % disk]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for_path(q1, proc)
    wait_for_path(q2, proc)
    return proc, q1, q2


def leftovers(qmp, repo_id):
    """What of e2kvm-backup is still in the VM."""
    out = []
    disk = qmp_node(qmp)
    for n in qmp.execute("query-named-block-nodes"):
        if n["node-name"].startswith("e2kb-"):
            out.append("node " + n["node-name"])
        for b in n.get("dirty-bitmaps", []):
            if b["name"].startswith("e2kvm-backup-" + repo_id) and n["node-name"] == disk:
                out.append("bitmap " + b["name"])
    for j in qmp.execute("query-block-jobs"):
        out.append("job " + j["device"])
    for e in qmp.execute("query-block-exports"):
        out.append("export " + e["id"])
    return out


def repo_id(directory):
    with open(os.path.join(directory, "e2kvm-backup.json")) as f:
        return json.load(f)["id"]


def running_vm(prog, tmp):
    name = os.path.basename(prog)
    tmp = os.path.join(tmp, name)
    os.makedirs(tmp)
    disk = os.path.join(tmp, "disk.qcow2")
    initial = initial_disk(disk)
    proc, q1, q2 = start_vm(prog, tmp, disk)
    repo = os.path.join(tmp, "backups")
    writer = Writer(q2)
    windows = []
    try:
        writer.start()
        while writer.done_count < 5 and writer.is_alive():
            time.sleep(0.01)
        for kind in ("full", "inc"):
            lo = writer.done_count
            backup(kind, "--qmp", "unix:" + q1, "--device", "drive0", repo, "-c", "2")
            hi = writer.started_count
            windows.append((lo, hi))
            time.sleep(0.3)
        writer.finish()
        check.check(writer.error is None, f"{name}: the writer kept writing ({writer.error})")
        check.check(windows[1][0] > windows[0][1],
                    f"{name}: writes happened between the two points {windows}")
        pts = points(repo)
        check.same(f"{name}: point types", "full inc", " ".join(p["type"] for p in pts))
        qmp = QmpClient(q2)
        rid = repo_id(repo)
        left = leftovers(qmp, rid)
        check.same(f"{name}: what the backups left in the VM", "bitmap e2kvm-backup-%s-2" % rid,
                   " ".join(left))
        ks = []
        for p, (lo, hi) in zip(pts, windows):
            restored = os.path.join(tmp, "restored-%d.raw" % p["point"])
            backup("restore", repo, restored, "--point", str(p["point"]))
            k = prefix_length(restored, initial, lo, hi)
            check.check(k is not None, f"{name}: point {p['point']} is the disk after k writes, "
                                       f"{lo} <= k <= {hi}")
            if k is None:
                continue
            ks.append(k)
            expected = os.path.join(tmp, "expected-%d.raw" % p["point"])
            apply_writes(initial, k, expected)
            check.check(filecmp.cmp(restored, expected, shallow=False),
                        f"{name}: point {p['point']} restores exactly the disk after {k} writes")
            c = run("qemu-img", "compare", "-f", "raw", "-F", "qcow2", expected,
                    os.path.join(repo, p["file"]), ok=False)
            check.check(c.returncode == 0,
                        f"{name}: qemu-img compare reads point {p['point']} the same: "
                        f"{c.stdout.strip()}")
        if len(ks) == 2:
            changed = (ks[1] - ks[0]) * SLOT
            inc = pts[1]
            check.check(inc["changed"] >= changed and inc["changed"] <= changed + 4 * SLOT,
                        f"{name}: the incremental point lists what changed ({inc['changed']} "
                        f"bytes for {changed} written)")
            check.check(inc["size"] <= changed + (1 << 20),
                        f"{name}: the incremental file holds about the changed bytes "
                        f"({inc['size']} for {changed})")
        r = backup("verify", repo, ok=False)
        check.check(r.returncode == 0, f"{name}: verify: {r.stdout.strip()} {r.stderr.strip()}")

        # A checkpoint removed by hand: the next point is full, and says why.
        qmp.execute("block-dirty-bitmap-remove", node=qmp_node(qmp), name="e2kvm-backup-%s-2" % rid)
        r = backup("inc", "--qmp", "unix:" + q1, "--device", "drive0", repo)
        check.check("taking a full point" in r.stderr and "missing" in r.stderr,
                    f"{name}: a missing checkpoint gives a full point with a warning: "
                    f"{r.stderr.strip()}")
        check.same(f"{name}: type of the point after the bitmap was removed", "full",
                   points(repo)[-1]["type"])
        qmp.close()
    finally:
        writer.stop_flag = True
        try:
            QmpClient(q2).execute("quit")
        except Exception:  # noqa: BLE001
            pass
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    run("qemu-img", "check", disk)


def qmp_node(qmp):
    for b in qmp.execute("query-block"):
        if b["device"] == "drive0":
            return b["inserted"]["node-name"]
    raise RuntimeError("no drive0")


def nbd_export(tmp):
    tmp = os.path.join(tmp, "nbd")
    os.makedirs(tmp)
    disk = os.path.join(tmp, "disk.qcow2")
    initial_disk(disk)
    run("qemu-img", "bitmap", "--add", disk, "b0")
    sock = os.path.join(tmp, "nbd.sock")
    uri = "nbd+unix:///?socket=" + sock
    repo = os.path.join(tmp, "backups")

    def serve(*extra):
        p = subprocess.Popen(["qemu-nbd", "-r", "-f", "qcow2", "-k", sock, *extra, disk],
                             stderr=subprocess.PIPE)
        wait_for_path(sock, p)
        return p

    p = serve()
    try:
        backup("full", "--nbd", uri, repo, "-p")
    finally:
        p.terminate()
        p.wait()
    run("qemu-io", "-f", "qcow2", "-c", "write -P 0x44 1M 128k", "-c", "write -z 8M 64k",
        "-c", "write -P 0x55 50M 64k", disk)
    p = serve("-B", "b0", "--persistent")
    try:
        backup("inc", "--nbd", uri, "--bitmap", "b0", repo)
        r = backup("inc", "--nbd", uri, "--bitmap", "nosuch", repo)
        check.check("does not offer the bitmap 'nosuch'" in r.stderr,
                    "--nbd: a bitmap the export lacks gives a full point: " + r.stderr.strip())
    finally:
        p.terminate()
        p.wait()
    pts = points(repo)
    check.same("--nbd point types", "full inc full", " ".join(p["type"] for p in pts))
    check.same("--nbd incremental changed bytes", str(128 * 1024 + 2 * SLOT),
               str(pts[1]["changed"]))
    want = os.path.join(tmp, "now.raw")
    run("qemu-img", "convert", "-f", "qcow2", "-O", "raw", disk, want)
    for n in (2, 3):
        got = os.path.join(tmp, "restored-%d.raw" % n)
        backup("restore", repo, got, "--point", str(n))
        check.check(filecmp.cmp(got, want, shallow=False),
                    f"--nbd: point {n} restores the disk as qemu-nbd served it")


def nbd_tls(tmp):
    """--nbd nbd://HOST:PORT with --tls-creds against qemu-nbd with TLS over TCP."""
    import tls_certs
    from processes import free_port, wait_for_tcp
    tmp = os.path.join(tmp, "tls")
    os.makedirs(tmp)
    pki = os.path.join(tmp, "pki")
    os.makedirs(pki)
    tls_certs.make_ca(pki, "ca")
    tls_certs.make_cert(pki, "ca", "server", "localhost", tls_certs.SERVER_EXTENSIONS)
    srv = tls_certs.creds_dir(pki, os.path.join(tmp, "srv"), "ca", "server", "server")
    cli = tls_certs.creds_dir(pki, os.path.join(tmp, "cli"), "ca")
    disk = os.path.join(tmp, "disk.qcow2")
    initial_disk(disk)
    run("qemu-img", "bitmap", "--add", disk, "b0")
    run("qemu-io", "-f", "qcow2", "-c", "write -P 0x66 5M 192k", disk)
    port = free_port()
    p = subprocess.Popen(["qemu-nbd", "-r", "-f", "qcow2", "-B", "b0", "--persistent",
                          "--object", "tls-creds-x509,id=tls0,dir=%s,endpoint=server,"
                          "verify-peer=off" % srv, "--tls-creds", "tls0", "-b", "127.0.0.1",
                          "-p", str(port), disk], stderr=subprocess.PIPE)
    repo = os.path.join(tmp, "backups")
    uri = "nbd://localhost:%d/" % port
    try:
        wait_for_tcp(port, proc=p)
        r = backup("full", "--nbd", uri, repo, ok=False)
        check.check(r.returncode != 0 and "TLS" in r.stderr,
                    "TLS: without --tls-creds the export is refused: " + r.stderr.strip())
        backup("full", "--nbd", uri, "--tls-creds", cli, repo)
        backup("inc", "--nbd", uri, "--tls-creds", cli, "--bitmap", "b0", repo)
    finally:
        p.terminate()
        p.wait()
    pts = points(repo)
    check.same("TLS: point types", "full inc", " ".join(p["type"] for p in pts))
    check.same("TLS: incremental changed bytes", str(192 * 1024), str(pts[-1]["changed"]))
    got, want = os.path.join(tmp, "got.raw"), os.path.join(tmp, "want.raw")
    backup("restore", repo, got)
    run("qemu-img", "convert", "-f", "qcow2", "-O", "raw", disk, want)
    check.check(filecmp.cmp(got, want, shallow=False), "TLS: the latest point restores the disk")


def image_file(tmp):
    tmp = os.path.join(tmp, "image")
    os.makedirs(tmp)
    disk = os.path.join(tmp, "disk.qcow2")
    initial_disk(disk)
    repo = os.path.join(tmp, "backups")
    digests = {}
    rng = random.Random(7)
    for n in range(1, 6):
        backup("full" if n == 1 else "inc", disk, repo)
        out = os.path.join(tmp, "p%d.raw" % n)
        backup("restore", repo, out)
        want = os.path.join(tmp, "want.raw")
        run("qemu-img", "convert", "-f", "qcow2", "-O", "raw", disk, want)
        check.check(filecmp.cmp(out, want, shallow=False), f"image: point {n} restores the disk")
        digests[n] = sha256(out)
        off = rng.randrange(0, DISK // SLOT) * SLOT
        run("qemu-io", "-f", "qcow2", "-c", "write -P %d %d 64k" % (n + 0x60, off), disk)
    pts = points(repo)
    check.same("image: point types", "full inc inc inc inc", " ".join(p["type"] for p in pts))
    for p in pts:
        c = run("qemu-img", "check", os.path.join(repo, p["file"]), ok=False)
        check.check(c.returncode == 0, f"image: qemu-img check {p['file']}: {c.stdout.strip()}")
    chain = run("qemu-img", "info", "--backing-chain", os.path.join(repo, pts[-1]["file"])).stdout
    check.check(chain.count("image: ") == 5 and "backing file format: qcow2" in chain,
                "image: qemu-img info --backing-chain walks all five points")

    # prune: the kept points restore exactly as before.
    r = backup("prune", repo, "--keep", "2")
    check.check("point 4 now holds everything up to it" in r.stdout, "prune: " + r.stdout.strip())
    pts = points(repo)
    check.same("image: points after prune --keep 2", "4 full 5 inc",
               " ".join("%d %s" % (p["point"], p["type"]) for p in pts))
    for n in (4, 5):
        out = os.path.join(tmp, "after-prune-%d.raw" % n)
        backup("restore", repo, out, "--point", str(n))
        check.same(f"image: point {n} after prune", digests[n], sha256(out))
    left = sorted(f for f in os.listdir(repo) if not f.startswith("."))
    check.same("image: files after prune", "e2kvm-backup.json point-0004.qcow2 point-0005.qcow2",
               " ".join(left))
    r = backup("verify", repo, ok=False)
    check.check(r.returncode == 0, "image: verify after prune: " + r.stdout.strip())

    # A corrupted point is found by verify.
    victim = os.path.join(repo, "point-0005.qcow2")
    with open(victim, "r+b") as f:
        f.seek(os.path.getsize(victim) - 1000)
        b = f.read(1)
        f.seek(-1, 1)
        f.write(bytes([b[0] ^ 0xff]))
    r = backup("verify", repo, ok=False)
    check.check(r.returncode != 0 and "point 5" in r.stderr and "checksum mismatch" in r.stderr,
                "verify finds the corrupted point: " + r.stderr.strip())
    check.same("verified flags after the corruption", "True False",
               " ".join(str(p["verified"]) for p in points(repo)))
    # A raw image: every point is full, and says so.
    raw = os.path.join(tmp, "disk.raw")
    run("qemu-img", "convert", "-f", "qcow2", "-O", "raw", disk, raw)
    rrepo = os.path.join(tmp, "raw-backups")
    backup("full", "-f", "raw", raw, rrepo)
    r = backup("inc", "-f", "raw", raw, rrepo)
    check.check("cannot keep a checkpoint bitmap" in r.stderr, "raw: inc says why it is full: "
                + r.stderr.strip())


def compressed(tmp):
    tmp = os.path.join(tmp, "compressed")
    os.makedirs(tmp)
    disk = os.path.join(tmp, "disk.qcow2")
    run("qemu-img", "create", "-q", "-f", "qcow2", disk, str(DISK))
    text = os.path.join(tmp, "text")
    with open(text, "wb") as f:
        f.write(b"".join(b"line %06d of a compressible disk\n" % i for i in range(200000)))
        f.write(random.Random(3).randbytes(2 << 20))  # incompressible: stored as it is
    run("qemu-io", "-f", "qcow2", "-c", "write -s %s 0 %d" % (text, os.path.getsize(text)),
        "-c", "write -P 0x44 30M 1M", disk)
    plain, packed, zlib = (os.path.join(tmp, d) for d in ("plain", "packed", "zlib"))
    backup("full", disk, plain)
    r = backup("full", "--compress", disk, packed)
    check.check("stored zstd-compressed" in r.stdout, "full --compress says so: " + r.stdout)
    backup("full", "--compress=zlib", disk, zlib)

    def restores(repo, what, point=None):
        out = os.path.join(tmp, "restored.raw")
        backup("restore", repo, out, "--force", *(["--point", str(point)] if point else []))
        want = os.path.join(tmp, "want.raw")
        run("qemu-img", "convert", "-f", "qcow2", "-O", "raw", disk, want)
        check.check(filecmp.cmp(out, want, shallow=False), what + ": restores the disk")

    for repo, kind in ((packed, "zstd"), (zlib, "zlib")):
        f = os.path.join(repo, points(repo)[-1]["file"])
        check.check(run("qemu-img", "check", f, ok=False).returncode == 0, kind + ": qemu-img check")
        info = json.loads(run("qemu-img", "info", "--output=json", f).stdout)
        check.same(kind + ": compression type", kind,
                   info["format-specific"]["data"]["compression-type"])
        check.same(kind + ": manifest", kind, points(repo)[-1]["compression"])
        cmp = run("qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", disk, f, ok=False)
        check.check(cmp.returncode == 0, kind + ": qemu-img compare with the disk: " + cmp.stdout)
        restores(repo, kind)
    small, big = points(packed)[0]["size"], points(plain)[0]["size"]
    check.check(small * 2 < big, f"zstd point {small} bytes, uncompressed {big} bytes")
    check.same("uncompressed manifest", "", points(plain)[0]["compression"])
    # An incremental compressed point over the full one, then a prune that merges them.
    run("qemu-io", "-f", "qcow2", "-c", "write -P 0x55 1M 128k", "-c", "write -z 30M 64k", disk)
    backup("inc", "--compress", disk, packed)
    restores(packed, "zstd incremental")
    backup("prune", packed, "--keep", "1")
    f = os.path.join(packed, points(packed)[-1]["file"])
    info = json.loads(run("qemu-img", "info", "--output=json", f).stdout)
    check.same("merged point: compression type", "zstd",
               info["format-specific"]["data"]["compression-type"])
    restores(packed, "zstd after prune")
    r = backup("full", "--compress=lz4", disk, os.path.join(tmp, "bad"), ok=False)
    check.check(r.returncode != 0 and "--compress takes zstd" in r.stderr,
                "--compress=lz4 is refused: " + r.stderr.strip())


def main():
    global BACKUP
    BACKUP, system = sys.argv[1], sys.argv[2]
    require("qemu-img", "qemu-io", "qemu-nbd", "qemu-system-x86_64", "openssl")
    tmp = tempfile.mkdtemp(prefix="backup-interop-")
    try:
        for step in (lambda: running_vm(system, tmp),
                     lambda: running_vm("qemu-system-x86_64", tmp),
                     lambda: nbd_export(tmp), lambda: nbd_tls(tmp), lambda: image_file(tmp),
                     lambda: compressed(tmp)):
            try:
                step()
            except Exception as e:  # noqa: BLE001
                traceback.print_exc()
                check.fail("step failed: %r" % e)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return check.exit_status("backup interop: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
