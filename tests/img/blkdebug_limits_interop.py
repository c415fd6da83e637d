#!/usr/bin/env python3
"""Interop: a blkdebug node with opt-write-zero / max-write-zero / max-transfer (as iotest 204)
splits e2kvm-io's write -z as qemu-io's does, writing the pieces shorter than opt-write-zero as
data (the qcow2 image below ends up mapped the same), and e2kvm-img map names the file under a
blkdebug node (--image-opts driver=blkdebug,image.driver=qcow2) as qemu-img map does.
Usage: blkdebug_limits_interop.py E2KVM_IMG E2KVM_IO"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img", "qemu-io")

E2KVM_IMG = os.path.abspath(sys.argv[1])
E2KVM_IO = os.path.abspath(sys.argv[2])
checker = Checker()

NODE = "driver=blkdebug,image.driver=qcow2"
CASES = {
    "max-transfer and opt-write-zero": ("align=512,max-transfer=64k,opt-write-zero=1M",
                                        "write -z 8003584 2093056"),
    "non-power-of-2 limits": ("align=512,opt-write-zero=15M,max-write-zero=15M",
                              "write -z 32M 32M"),
    "no limits": ("align=4k", "write -z 3M 5M"),
}


def make_image(path):
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-o", "cluster_size=1M", path, "80M"])
    run(["qemu-io", "-f", "qcow2", "-c", "write -P 22 0 70M", path])


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-bdlim-")
    try:
        for name, (limits, command) in CASES.items():
            maps = []
            for program in ("qemu-io", E2KVM_IO):
                image = os.path.join(tmp, "%s.qcow2" % os.path.basename(program))
                make_image(image)
                p = run([program, "-c", "open -o %s,%s blkdebug::%s" % (NODE, limits, image),
                         "-c", command], ok=False)
                checker.check(p.returncode == 0, "%s: %s succeeds" % (name, program))
                maps.append(run(["qemu-img", "map", "--output=json", image]).stdout)
                run(["qemu-io", "-f", "qcow2", "-c", "read -P 0 %s" % command.split(" ", 2)[2],
                     image])
            checker.same(name + ": the image's map after write -z", maps[0], maps[1],
                         "qemu-io", "e2kvm-io")
        image = os.path.join(tmp, "map.qcow2")
        make_image(image)
        opts = "%s,image.file.driver=file,image.file.filename=%s,align=4k" % (NODE, image)
        outputs = [run([program, "map", "--image-opts", opts], ok=False)
                   for program in ("qemu-img", E2KVM_IMG)]
        checker.same("map over a blkdebug node", outputs[0].stdout + outputs[0].stderr,
                     outputs[1].stdout + outputs[1].stderr, "qemu-img", "e2kvm-img")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("blkdebug limits: as qemu-io / qemu-img")


sys.exit(main())
