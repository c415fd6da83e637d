#!/usr/bin/env python3
"""Interop: a host file's own error reaches qemu-io's report, as with QEMU (iotest 308). A
read-only FUSE export (qemu-storage-daemon) refuses writes with EACCES even to root, who may
open it read-write: qemu-io and e2kvm-io, both named qemu-io, must print the same
"write failed: Permission denied" and exit status, and read it alike.
Usage: host_errno_interop.py E2KVM_IO"""
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402
from processes import ServerProcess, wait_for_path  # noqa: E402

peers.require("qemu-img", "qemu-io", "qemu-storage-daemon")
if not os.path.exists("/dev/fuse"):
    print("SKIP: no /dev/fuse for the FUSE export", flush=True)
    sys.exit(peers.SKIP_RETURN_CODE)

E2KVM_IO = os.path.abspath(sys.argv[1])
checker = Checker()


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-hosterrno-")
    server = None
    try:
        image = os.path.join(tmp, "t.raw")
        mount = os.path.join(tmp, "export.raw")
        run("qemu-img", "create", "-q", "-f", "raw", image, "1M")
        run("qemu-io", "-f", "raw", "-c", "write -P 7 0 64k", image)
        open(mount, "w").close()
        pidfile = os.path.join(tmp, "qsd.pid")
        server = ServerProcess(["qemu-storage-daemon",
                                "--blockdev", f"file,node-name=f,filename={image}",
                                "--blockdev", "raw,file=f,node-name=r",
                                "--export", f"fuse,id=e,node-name=r,mountpoint={mount}",
                                "--pidfile", pidfile])
        if not wait_for_path(pidfile, server.proc):
            print("SKIP: qemu-storage-daemon could not export over FUSE: "
                  + server.stderr_text(), flush=True)
            return peers.SKIP_RETURN_CODE
        links = os.path.join(tmp, "bin")
        os.makedirs(links)
        os.symlink(E2KVM_IO, os.path.join(links, "qemu-io"))
        results = []
        for tool in (shutil.which("qemu-io"), os.path.join(links, "qemu-io")):
            p = run([tool, "-f", "raw", "-c", "write -P 42 0 64k", "-c", "read -P 7 0 64k",
                     "-c", "writev -P 1 64k 512", mount], ok=False)
            # The second line of each request's report carries a time.
            lines = [ln for ln in p.stdout.splitlines() if " ops; " not in ln]
            results.append((p.returncode, lines, p.stderr))
        checker.same("write to a read-only FUSE export", results[0], results[1], "qemu-io",
                     "e2kvm-io")
        checker.check(any("Permission denied" in ln for ln in results[1][1]),
                      f"the export's EACCES is reported: {results[1]}")
    finally:
        if server:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("host_errno_interop: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
