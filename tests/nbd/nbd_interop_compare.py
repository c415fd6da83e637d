#!/usr/bin/env python3
"""Interop: every NBD client (nbdinfo, qemu-img, qemu-io, nbdcopy, qemu-nbd -L) must print
the same with e2kvm-nbd as with qemu-nbd serving the same image, and e2kvm-nbd -L must print
what qemu-nbd -L prints. Usage: nbd_interop_compare.py E2KVM_NBD"""
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run as run_command  # noqa: E402
from peers import require  # noqa: E402
from processes import ServerProcess  # noqa: E402

E2KVM_NBD = os.path.abspath(sys.argv[1])
checker = Checker()


def run(cmd, check=True):
    return run_command(cmd, ok=check)


def normalize(text):
    # qemu-io timing lines differ from run to run.
    text = re.sub(r"\d+ ops; [0-9:.]+ sec \([^)]*\)", "X ops; TIME", text)
    return text


def compare(label, ours, theirs):
    checker.labelled(label, normalize(ours) == normalize(theirs),
                     f"--- qemu-nbd\n{theirs}\n--- e2kvm-nbd\n{ours}")


def client_outputs(tmp, sock, export, image, writable, contexts):
    uri = f"nbd+unix:///{export}?socket={sock}"
    jopts = f"driver=nbd,server.type=unix,server.path={sock},export={export}"
    out = {}

    def add(name, cmd, check=True):
        p = run(cmd, check=False)
        out[name] = f"rc={p.returncode}\n{p.stdout}"
        if check and p.returncode != 0:
            out[name] += p.stderr

    add("nbdinfo", ["nbdinfo", uri])
    add("nbdinfo --json", ["nbdinfo", "--json", uri])
    add("nbdinfo --list", ["nbdinfo", "--list", uri])
    add("nbdinfo --size", ["nbdinfo", "--size", uri])
    add("nbdinfo --can flush", ["nbdinfo", "--can", "flush", uri], check=False)
    for ctx in contexts:
        add(f"nbdinfo --map={ctx}", ["nbdinfo", f"--map={ctx}", uri])
        add(f"nbdinfo --map={ctx} --json", ["nbdinfo", "--json", f"--map={ctx}", uri])
        add(f"nbdinfo --map={ctx} --totals", ["nbdinfo", "--totals", f"--map={ctx}", uri])
        add(f"nbdinfo --map={ctx} --totals --json",
            ["nbdinfo", "--json", "--totals", f"--map={ctx}", uri])
    add("nbdinfo --map=nosuch:ctx", ["nbdinfo", "--map=nosuch:ctx", uri], check=False)
    add("qemu-img map json", ["qemu-img", "map", "--output=json", "--image-opts", jopts])
    add("qemu-img map human", ["qemu-img", "map", "--image-opts", jopts])
    add("qemu-img map start/max", ["qemu-img", "map", "--output=json", "--start-offset=12345",
                                   "--max-length=1234567", "--image-opts", jopts])
    for ctx in contexts:
        if ctx.startswith("qemu:"):
            add(f"qemu-img map x-dirty-bitmap={ctx}",
                ["qemu-img", "map", "--output=json", "--image-opts",
                 jopts + f",x-dirty-bitmap={ctx}"])
            add(f"qemu-img map x-dirty-bitmap={ctx} start/max",
                ["qemu-img", "map", "--output=json", "--start-offset=12345",
                 "--max-length=3000000", "--image-opts", jopts + f",x-dirty-bitmap={ctx}"])
    add("qemu-img compare", ["qemu-img", "compare", "-f", "raw", image, uri], check=False) \
        if image.endswith(".raw") else None
    add("qemu-io reads", ["qemu-io", "-r", "-f", "raw", "-c", "read -P 0x11 1M 1M",
                          "-c", "read -P 0 0 512k", "-c", "read -v 1048570 12",
                          "-c", "read 4M 512", uri], check=False)
    conv = os.path.join(tmp, "conv.raw")
    run(["qemu-img", "convert", "-f", "raw", "-O", "raw", uri, conv])
    add("qemu-img convert == source",
        ["qemu-img", "compare", "-f", "raw", "-F", "raw", conv, uri], check=False)
    cp = os.path.join(tmp, "copy.raw")
    add("nbdcopy out", ["nbdcopy", uri, cp])
    add("nbdcopy out == export", ["qemu-img", "compare", "-f", "raw", "-F", "raw", cp, uri],
        check=False)
    if writable:
        add("qemu-io writes", ["qemu-io", "-f", "raw", "-c", "write -P 0x44 64k 64k",
                               "-c", "write -z 2M 128k", "-c", "discard 3M 64k",
                               "-c", "flush", "-c", "read -P 0x44 64k 64k",
                               "-c", "read -P 0 2M 128k", "-c", "write 4194000 1000", uri],
            check=False)
        add("nbdcopy back", ["nbdcopy", cp, uri])
        add("nbdcopy back == copy", ["qemu-img", "compare", "-f", "raw", "-F", "raw", cp, uri],
            check=False)
        add("nbdinfo --map after writes", ["nbdinfo", "--map", uri])
    add("qemu-nbd -L", ["qemu-nbd", "-L", "-k", sock])
    add("e2kvm-nbd -L", [E2KVM_NBD, "-L", "-k", sock])
    return out


def make_raw(tmp, name):
    path = os.path.join(tmp, name)
    run(["qemu-img", "create", "-f", "raw", path, "4M"])
    run(["qemu-io", "-f", "raw", "-c", "write -P 0x11 1M 1M", "-c", "write -P 0x22 3M 4k",
         path])
    return path


def make_qcow2(tmp, name):
    base = os.path.join(tmp, "base.qcow2")
    run(["qemu-img", "create", "-f", "qcow2", "-o", "cluster_size=4k", base, "4M"])
    run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x11 1M 1M", "-c", "write -z 3M 64k", base])
    path = os.path.join(tmp, name)
    run(["qemu-img", "create", "-f", "qcow2", "-b", base, "-F", "qcow2", path])
    run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x22 3M 4k", "-c", "write -z 1536k 8k",
         path])
    return path


def make_bitmaps(tmp, name):
    # iotest 223's image: bitmap b (64 KiB) and b2 (512 B), both recording the second writes
    path = os.path.join(tmp, name)
    run(["qemu-img", "create", "-f", "qcow2", "-o", "cluster_size=4k", path, "4M"])
    run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x11 1M 2M", path])
    run(["qemu-img", "bitmap", "--add", "-g", "64k", path, "b"])
    run(["qemu-img", "bitmap", "--add", "-g", "512", path, "b2"])
    run(["qemu-io", "-f", "qcow2", "-c", "write -P 0x22 512 512", "-c", "write -P 0x33 2M 2M",
         path])
    return path


def scenario(tmp, label, image_maker, server_args, writable, contexts, export=""):
    sock = os.path.join(tmp, "sock")
    results = {}
    for kind, binary in (("qemu", "qemu-nbd"), ("ours", E2KVM_NBD)):
        image = image_maker()
        with ServerProcess([binary, "-k", sock] + server_args + [image], unix_socket=sock):
            results[kind] = client_outputs(tmp, sock, export, image, writable, contexts)
    for key in results["qemu"]:
        compare(f"{label}: {key}", results["ours"][key], results["qemu"][key])


def main():
    require("qemu-img", "qemu-io", "qemu-nbd", "nbdinfo", "nbdcopy")
    tmp = tempfile.mkdtemp(prefix="e2kvm-nbd-interop-")
    try:
        raw = lambda: make_raw(tmp, "img.raw")
        base = ["-t", "-e", "2"]
        scenario(tmp, "raw probed rw", raw, base + ["-x", "", "-A"], True,
                 ["base:allocation", "qemu:allocation-depth"])
        scenario(tmp, "raw -f raw ro", raw,
                 base + ["-r", "-f", "raw", "-x", "exp", "-D", "some text"], False,
                 ["base:allocation"], export="exp")
        scenario(tmp, "raw -e 1", raw, ["-t", "-f", "raw"], True, ["base:allocation"])
        qcow2 = lambda: make_qcow2(tmp, "img.qcow2")
        scenario(tmp, "qcow2 chain ro", qcow2, base + ["-r", "-f", "qcow2", "-A"], False,
                 ["base:allocation", "qemu:allocation-depth"])
        bitmaps = lambda: make_bitmaps(tmp, "bitmaps.qcow2")
        scenario(tmp, "qcow2 -B b -B b2 ro", bitmaps,
                 base + ["-r", "-f", "qcow2", "-B", "b", "-B", "b2", "-A"], False,
                 ["base:allocation", "qemu:allocation-depth", "qemu:dirty-bitmap:b",
                  "qemu:dirty-bitmap:b2"])
        scenario(tmp, "qcow2 -B b2 rw", bitmaps, base + ["-f", "qcow2", "-B", "b2"], True,
                 ["base:allocation", "qemu:dirty-bitmap:b2"])
        scenario(tmp, "qcow2 chain rw", qcow2, base + ["-f", "qcow2"], True,
                 ["base:allocation"])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(checker.exit_status("all outputs identical", "{count} mismatches: {failures}"))


main()
