#!/usr/bin/env python3
"""e2kvm-backup interrupted at random moments: a running e2kvm-system (and qemu-system-x86_64)
whose disk has 96 MiB of data; full and incremental backups are killed (SIGKILL) or stopped
(SIGTERM) after a random delay, with guest writes in between. After every interruption:
the manifest lists only complete points, every listed point verifies, the next backup
succeeds, and once a run completes nothing of the backups is left in the VM. At the end the
latest point restores exactly the disk (the VM is paused, nothing writes). Also a full disk
(a small tmpfs) under the backup directory: the run fails with ENOSPC, no half point is left.
usage: backup_faults.py E2KVM_BACKUP E2KVM_SYSTEM"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
from peers import require  # noqa: E402
from processes import wait_for_path  # noqa: E402
from qmp_client import QmpClient  # noqa: E402

check = Checker()
DISK = 256 << 20


def start_vm(prog, tmp, disk):
    sock = os.path.join(tmp, "qmp.sock")
    if prog == "qemu-system-x86_64":
        argv = [prog, "-machine", "none", "-nodefaults", "-display", "none"]
    else:
        argv = [prog, "-display", "none", "-serial", "none", "-S"]
    argv += ["-qmp", "unix:%s,server=on,wait=off" % sock,
             "-drive", "if=none,id=drive0,file=%s,format=qcow2" % disk]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wait_for_path(sock, proc)
    return proc, sock


def qmp_call(sock, command, **args):
    q = QmpClient(sock, timeout=60)
    try:
        return q.execute(command, **args)
    finally:
        q.close()


def listed(backup, repo):
    if not os.path.exists(os.path.join(repo, "e2kvm-backup.json")):
        return []
    return json.loads(run(backup, "list", repo, "--output=json").stdout)


def leftovers(sock):
    q = QmpClient(sock, timeout=60)
    try:
        out = [n["node-name"] for n in q.execute("query-named-block-nodes")
               if n["node-name"].startswith("e2kb-")]
        out += ["job " + j["device"] for j in q.execute("query-block-jobs")]
        out += ["export " + e["id"] for e in q.execute("query-block-exports")]
        bitmaps = [b["name"] for n in q.execute("query-named-block-nodes")
                   for b in n.get("dirty-bitmaps", []) if b["name"].startswith("e2kvm-backup-")]
        return out, bitmaps
    finally:
        q.close()


def scenario(backup, prog, tmp, rng, rounds):
    name = os.path.basename(prog)
    tmp = os.path.join(tmp, name)
    os.makedirs(tmp)
    disk = os.path.join(tmp, "disk.qcow2")
    run("qemu-img", "create", "-q", "-f", "qcow2", disk, str(DISK))
    run("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 0 96M", disk)
    proc, sock = start_vm(prog, tmp, disk)
    repo = os.path.join(tmp, "backups")
    src = ["--qmp", "unix:" + sock, "--device", "drive0"]
    try:
        kills = 0
        for i in range(rounds):
            kind = "full" if i % 3 == 0 else "inc"
            off = rng.randrange(0, DISK >> 16) << 16
            r = qmp_call(sock, "human-monitor-command",
                         **{"command-line": 'qemu-io drive0 "write -P %d %d 64k"' % (i + 1, off)})
            check.check(r == "", f"{name}: guest write {i}: {r}")
            before = listed(backup, repo)
            p = subprocess.Popen([backup, kind, *src, repo], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
            time.sleep(rng.uniform(0.0, 0.35))
            sig = signal.SIGKILL if i % 2 == 0 else signal.SIGTERM
            p.send_signal(sig)
            out, err = p.communicate(timeout=120)
            after = listed(backup, repo)
            if p.returncode == 0:
                check.check(len(after) == len(before) + 1,
                            f"{name}: round {i}: a completed run lists one more point")
            else:
                kills += 1
                # Killed before the manifest was replaced: nothing new is listed; killed after
                # (the point was durable and listed, the clean-up was cut short): one complete
                # point more, which the verify below checks like every other.
                check.check(after == before or (after[:-1] == before and len(after) ==
                                                len(before) + 1),
                            f"{name}: round {i}: an interrupted run ({sig.name}) lists no "
                            f"half point: before {json.dumps(before)} after {json.dumps(after)}")
                if sig == signal.SIGTERM and p.returncode != -signal.SIGTERM:
                    check.check("interrupted" in err, f"{name}: SIGTERM says interrupted: {err}")
            if after:
                v = run(backup, "verify", repo, ok=False)
                check.check(v.returncode == 0, f"{name}: round {i}: the listed points verify: "
                                               f"{v.stdout} {v.stderr}")
        check.check(kills > 0, f"{name}: at least one run was interrupted mid-way")
        # The next runs succeed and leave nothing behind.
        for kind in ("inc", "inc"):
            r = run(backup, kind, *src, repo, ok=False)
            check.check(r.returncode == 0, f"{name}: a run after the interruptions succeeds: "
                                           f"{r.stderr}")
        objs, bitmaps = leftovers(sock)
        check.same(f"{name}: temporary objects left in the VM", "", " ".join(objs))
        pts = listed(backup, repo)
        check.check(len(bitmaps) == 1 and bitmaps[0] == pts[-1]["checkpoint"],
                    f"{name}: only the latest checkpoint bitmap remains: {bitmaps}")
        check.same(f"{name}: files in the directory",
                   sorted(["e2kvm-backup.json"] + [p["file"] for p in pts]),
                   sorted(f for f in os.listdir(repo) if not f.startswith(".") or f == ".x"))
        got = os.path.join(tmp, "latest.raw")
        run(backup, "restore", repo, got)
        # The VM caches metadata: compare once it has closed the disk.
        qmp_call(sock, "quit")
        proc.wait(30)
        c = run("qemu-img", "compare", "-f", "raw", "-F", "qcow2", got, disk, ok=False)
        check.check(c.returncode == 0, f"{name}: the latest point is the disk: {c.stdout}")
        c = run("qemu-img", "check", disk, ok=False)
        check.check(c.returncode == 0, f"{name}: the disk passes qemu-img check: {c.stdout}")
    finally:
        if proc.poll() is None:
            proc.kill()


def full_disk(backup, system, tmp):
    """A backup directory on a 24 MiB tmpfs, a 64 MiB disk with 48 MiB of data."""
    mnt = os.path.join(tmp, "small")
    os.makedirs(mnt)
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", mnt]).returncode != 0:
        print("note: cannot mount a tmpfs here; the full-disk case is not run")
        return
    try:
        disk = os.path.join(tmp, "fd.qcow2")
        run("qemu-img", "create", "-q", "-f", "qcow2", disk, "64M")
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x77 0 48M", disk)
        repo = os.path.join(mnt, "backups")
        r = run(backup, "full", disk, repo, ok=False)
        check.check(r.returncode != 0 and "No space left" in r.stderr,
                    "a full backup directory says so: " + r.stderr.strip())
        check.same("nothing is listed after ENOSPC", "[]", json.dumps(listed(backup, repo)))
        check.same("no file is left after ENOSPC", "e2kvm-backup.json",
                   " ".join(sorted(f for f in os.listdir(repo) if not f.startswith("."))))
        info = run("qemu-img", "info", "--output=json", disk).stdout
        check.check('"bitmaps"' not in info, "the failed run left no checkpoint bitmap: " + info)
    finally:
        subprocess.run(["umount", mnt])


def main():
    backup, system = sys.argv[1], sys.argv[2]
    require("qemu-img", "qemu-io", "qemu-system-x86_64")
    rng = random.Random(int(os.environ.get("BACKUP_FAULTS_SEED", "2026")))
    tmp = tempfile.mkdtemp(prefix="backup-faults-")
    # A killed e2kvm-backup cannot remove its private socket directory: keep those in ours.
    os.environ["TMPDIR"] = tmp
    try:
        for prog, rounds in ((system, 10), ("qemu-system-x86_64", 6)):
            try:
                scenario(backup, prog, tmp, rng, rounds)
            except Exception as e:  # noqa: BLE001
                import traceback
                traceback.print_exc()
                check.fail(f"{prog}: {e!r}")
        full_disk(backup, system, tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return check.exit_status("backup faults: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
