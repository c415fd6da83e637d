#!/usr/bin/env python3
"""Interop: a qcow2 image's external data file as QEMU 7.2's tools handle it (iotests 061,
244, 270, 289): the data file given as a node of its own in json: options (null-co, raw over
blkdebug, blkdebug), errors injected there (a failed write frees nothing; a failed flush fails
qemu-io silently), `convert -c` to an image with a data file failing at its first write, names
relative to the working directory (created there, looked for there), an existing data file
emptied by create, --image-opts without a driver (the format probed) and a recorded name that
does not exist. Each scenario is a shell script run twice, in two empty directories, with
qemu-img/qemu-io on PATH being QEMU's or ours; outputs (directory masked), exit codes and
QEMU's `qemu-img check` of the images left must agree.
Usage: qcow2_data_file_node_interop.py E2KVM_IMG E2KVM_IO"""
import os
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker  # noqa: E402
import peers  # noqa: E402

peers.require("qemu-img", "qemu-io")

checker = Checker()

NULL_DATA = """json:{"driver": "qcow2", "file": {"filename": "$D/t.qcow2"},
 "data-file": {"driver": "null-co", "size": "67108864"}}"""

BLKDEBUG_DATA = """json:{"driver": "qcow2", "file": {"driver": "file", "filename": "$D/t.qcow2"},
 "data-file": {"driver": "raw", "file": {"driver": "blkdebug", "config": "$D/blkdebug.conf",
 "image": {"driver": "file", "filename": "$D/t.qcow2.data"}}}}"""

FLUSH_FAILS = """json:{"driver": "qcow2", "file": {"driver": "file", "filename": "$D/t.qcow2"},
 "data-file": {"driver": "blkdebug", "inject-error": [{"event": "none", "iotype": "flush"}],
 "image": {"driver": "file", "filename": "$D/t.qcow2.data"}}}"""

SCENARIOS = {
    "null-co data file node": """
qemu-img create -q -f qcow2 -o data_file=$D/t.qcow2.data t.qcow2 64M
qemu-io -c 'write -P 7 768 1M' '%s' | sed 's/,.*//'
""" % NULL_DATA,
    "raw over blkdebug data file, failed write": """
qemu-img create -q -f qcow2 -o data_file=$D/t.qcow2.data t.qcow2 64K
printf '[inject-error]\\nevent = "none"\\niotype = "write"\\n' > blkdebug.conf
qemu-io -c 'write 0 64k' '%s'
qemu-io -c 'read -P 0 0 64k' t.qcow2 | sed 's/,.*//'
""" % BLKDEBUG_DATA,
    "blkdebug data file, failed flush": """
qemu-img create -q -f qcow2 -o data_file=$D/t.qcow2.data t.qcow2 1M
qemu-io -c 'write 0 512' -c flush -t writeback '%s' | sed 's/,.*//'
echo "exit ${PIPESTATUS[0]}"
""" % FLUSH_FAILS,
    "convert -c to an image with a data file": """
qemu-img create -q -f qcow2 src.qcow2 4M
qemu-io -c 'write -P 1 0 4M' src.qcow2 >/dev/null
qemu-img convert -c -O qcow2 -o data_file=$D/t.qcow2.data src.qcow2 t.qcow2
""",
    "relative data file name": """
mkdir sub
qemu-img create -q -f qcow2 -o data_file=rel.data sub/t.qcow2 1M
ls . sub
qemu-io -c 'write -P 3 0 4k' sub/t.qcow2 | sed 's/,.*//'
cd sub && qemu-io -c 'read -P 3 0 4k' t.qcow2
""",
    "create empties an existing data file": """
qemu-io -f raw -c 'write -P 9 0 128k' -c 'truncate 2M' --image-opts \\
    driver=file,filename=t.qcow2.data 2>&1 | sed 's/,.*//'
qemu-img create -q -f qcow2 -o data_file=t.qcow2.data,data_file_raw=on t.qcow2 1M
stat -c %s t.qcow2.data
qemu-io -f raw -c 'read -P 0 0 128k' t.qcow2.data | sed 's/,.*//'
""",
    "image-opts without a driver": """
qemu-img create -q -f qcow2 -o data_file=$D/t.qcow2.data t.qcow2 1M
qemu-io -c 'write -P 5 0 4k' t.qcow2 >/dev/null
qemu-img amend -o data_file= t.qcow2
qemu-io -c 'read -P 5 0 4k' t.qcow2
qemu-io -c "open -o data-file.filename=$D/t.qcow2.data,file.filename=$D/t.qcow2" \\
    -c 'read -P 5 0 4k' | sed 's/,.*//'
qemu-img info --image-opts "data-file.filename=$D/t.qcow2.data,file.filename=$D/t.qcow2" |
    grep -v 'disk size'
""",
    "recorded data file that is not there": """
qemu-img create -q -f qcow2 -o data_file=$D/t.qcow2.data t.qcow2 1M
qemu-img amend -o data_file=foo t.qcow2
qemu-io -c 'read 0 4k' t.qcow2
qemu-img info t.qcow2 | grep 'data file'
""",
}


def masked(text, directory):
    return text.replace(directory, "DIR")


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-dfnode-")
    try:
        bins = {"qemu": os.path.join(tmp, "bin-qemu"), "e2kvm": os.path.join(tmp, "bin-e2kvm")}
        for side, path in bins.items():
            os.makedirs(path)
        for name in ("qemu-img", "qemu-io"):
            os.symlink(shutil.which(name), os.path.join(bins["qemu"], name))
        os.symlink(os.path.abspath(sys.argv[1]), os.path.join(bins["e2kvm"], "qemu-img"))
        os.symlink(os.path.abspath(sys.argv[2]), os.path.join(bins["e2kvm"], "qemu-io"))
        real_img = shutil.which("qemu-img")
        for index, (what, script) in enumerate(SCENARIOS.items()):
            results = {}
            for side, path in bins.items():
                directory = os.path.join(tmp, "%s-%d" % (side, index))
                os.makedirs(directory)
                env = dict(os.environ, PATH=path + os.pathsep + os.environ["PATH"], D=directory)
                p = subprocess.run(["bash", "-c", script.replace("$D", directory)], cwd=directory, env=env, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   timeout=120)
                output = masked(p.stdout, directory)
                image = os.path.join(directory, "t.qcow2")
                check = ""
                if os.path.exists(image):  # judged by QEMU's own check, from the same place
                    c = subprocess.run([real_img, "check", image], cwd=directory, text=True,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                    check = "%d %s" % (c.returncode, masked(c.stdout, directory))
                results[side] = (p.returncode, output, check)
            for i, aspect in enumerate(("exit code", "output", "qemu-img check after")):
                checker.same("%s (%s)" % (what, aspect), results["qemu"][i], results["e2kvm"][i],
                             "qemu-img/qemu-io", "e2kvm-img/e2kvm-io")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("qcow2 external data file as a node: as QEMU's tools")


sys.exit(main())
