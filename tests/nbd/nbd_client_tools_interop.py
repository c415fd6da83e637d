#!/usr/bin/env python3
"""Interop: e2kvm-img and e2kvm-io as NBD clients print what qemu-img and qemu-io print on the
same export. A qcow2 image with a persistent bitmap "b0" and writes after it is served by
qemu-nbd and by e2kvm-nbd (-B b0, over a Unix socket, then over TCP with an export name); then
info (human, JSON), map (human, JSON), compare and convert, and qemu-io's read -P / read -v /
map, run through every way QEMU names an NBD export: nbd+unix:// and nbd:// URIs, the legacy
nbd:unix:PATH[:exportname=X] and nbd:HOST:PORT[:exportname=X], and --image-opts
driver=nbd,server.type=unix|inet,... including x-dirty-bitmap=qemu:dirty-bitmap:b0, with which
map is the bitmap's dirty ranges as QEMU reports them (incremental backup, iotest 223).
Writes through qemu-io and e2kvm-io to a writable export leave the same image. A raw file of
1000 bytes served with its format probed maps as whole 512-byte blocks (iotest 241). A map
through x-dirty-bitmap=qemu:allocation-depth reads the depths as base:allocation flags, as
QEMU (iotest nbd-qemu-allocation). A refused
export gives qemu-io's message and leaves a QEMU server (qemu-storage-daemon) nothing to log.
Usage: nbd_client_tools_interop.py E2KVM_IMG E2KVM_IO E2KVM_NBD"""
import os
import re
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402
from processes import ServerProcess, free_port  # noqa: E402

peers.require("qemu-img", "qemu-io", "qemu-nbd")

E2KVM_IMG = os.path.abspath(sys.argv[1])
E2KVM_IO = os.path.abspath(sys.argv[2])
E2KVM_NBD = os.path.abspath(sys.argv[3])
checker = Checker()


def speeds(text):
    """qemu-io's timing line varies from run to run: keep only the byte counts."""
    return re.sub(r"; [0-9:. ]+sec \(.*\)", "", text)


def same_run(what, qemu_argv, ours_argv):
    q = run(qemu_argv, ok=False)
    o = run(ours_argv, ok=False)
    checker.same(f"{what}: exit status", q.returncode, o.returncode, "qemu", "e2kvm")
    checker.same(f"{what}: stdout", speeds(q.stdout), speeds(o.stdout), "qemu", "e2kvm")
    return q, o


def make_image(path):
    run("qemu-img", "create", "-q", "-f", "qcow2", path, "4M")
    run("qemu-io", "-f", "qcow2", "-c", "write -P 1 0 1M", path)
    run("qemu-img", "bitmap", "--add", path, "b0")
    run("qemu-io", "-f", "qcow2", "-c", "write -P 2 512k 64k", "-c", "write -z 2M 128k",
        "-c", "write -P 3 3M 4k", "-c", "write -P 4 4032k 64k", path)


def client_checks(server, names, opts):
    """names: image names of the export; opts: the --image-opts server part."""
    for name in names:
        for args in (["info"], ["info", "--output=json"], ["map"], ["map", "--output=json"]):
            same_run(f"{server} img {' '.join(args)} {name}", ["qemu-img"] + args + [name],
                     [E2KVM_IMG] + args + [name])
        same_run(f"{server} io {name}",
                 ["qemu-io", "-r", "-f", "raw", "-c", "read -P 1 0 64k", "-c",
                  "read -P 2 512k 64k", "-c", "read -v 3M 48", "-c", "map", name],
                 [E2KVM_IO, "-r", "-f", "raw", "-c", "read -P 1 0 64k", "-c",
                  "read -P 2 512k 64k", "-c", "read -v 3M 48", "-c", "map", name])
    for extra in ("", ",x-dirty-bitmap=qemu:dirty-bitmap:b0"):
        o = "driver=nbd," + opts + extra
        for args in (["info"], ["map"], ["map", "--output=json"]):
            same_run(f"{server} img {' '.join(args)} --image-opts {o}",
                     ["qemu-img"] + args + ["--image-opts", o],
                     [E2KVM_IMG] + args + ["--image-opts", o])
        same_run(f"{server} io map --image-opts {o}",
                 ["qemu-io", "-r", "-c", "map", "--image-opts", o],
                 [E2KVM_IO, "-r", "-c", "map", "--image-opts", o])


def serve(server, image, sock=None, port=None, export=None, read_only=True):
    argv = [server] + (["-r"] if read_only else []) + ["-t", "-f", "qcow2", "-B", "b0"]
    if sock:
        argv += ["-k", sock]
    if port:
        argv += ["-b", "127.0.0.1", "-p", str(port)]
    if export is not None:
        argv += ["-x", export]
    return ServerProcess(argv + [image], unix_socket=sock, tcp_port=port)


def refused_export_checks(tmp):
    """A refused export: the same message as qemu-io, and the client ends the negotiation
    cleanly (NBD_OPT_ABORT), so that a QEMU server logs nothing."""
    if shutil.which("qemu-storage-daemon") is None:
        print("note: no qemu-storage-daemon, refused-export checks against it skipped")
        return
    raw = os.path.join(tmp, "q.raw")
    run("qemu-img", "create", "-q", "-f", "raw", raw, "1M")
    sock = os.path.join(tmp, "q.sock")
    logs = []
    for io in ("qemu-io", E2KVM_IO):
        server = ServerProcess(["qemu-storage-daemon", "--blockdev",
                                f"driver=file,filename={raw},node-name=n", "--nbd-server",
                                f"addr.type=unix,addr.path={sock}", "--export",
                                "type=nbd,id=e,node-name=n,name=good"], unix_socket=sock)
        try:
            p = run(io, "-f", "raw", "-c", "read 0 512", f"nbd+unix:///bad?socket={sock}",
                    ok=False)
            logs.append((p.returncode, p.stderr.split(": ", 1)[1]))
        finally:
            server.stop()
        logs.append(server.stderr_text())
    checker.same("refused export: message, then the server's log", logs[:2], logs[2:],
                 "qemu-io", "e2kvm-io")


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-nbd-client-")
    try:
        image = os.path.join(tmp, "a.qcow2")
        make_image(image)
        sock = os.path.join(tmp, "s.sock")
        flat = os.path.join(tmp, "flat.raw")
        run("qemu-img", "convert", "-O", "raw", image, flat)
        for server in ("qemu-nbd", E2KVM_NBD):
            label = os.path.basename(server)
            with serve(server, image, sock=sock):
                client_checks(label, [f"nbd+unix:///?socket={sock}", f"nbd:unix:{sock}"],
                              f"server.type=unix,server.path={sock}")
                same_run(f"{label} compare", ["qemu-img", "compare", "-f", "raw", flat,
                                              f"nbd+unix:///?socket={sock}"],
                         [E2KVM_IMG, "compare", "-f", "raw", flat, f"nbd+unix:///?socket={sock}"])
                for tool in ("qemu-img", E2KVM_IMG):
                    out = os.path.join(tmp, "out.qcow2")
                    run(tool, "convert", "-O", "qcow2", f"nbd:unix:{sock}", out)
                    checker.check(run("qemu-img", "compare", "-q", image, out, ok=False)
                                  .returncode == 0, f"{label} {tool} convert from NBD")
                    os.unlink(out)
            port = free_port()
            with serve(server, image, port=port, export="exp"):
                client_checks(label + " tcp", [f"nbd://127.0.0.1:{port}/exp",
                                               f"nbd:127.0.0.1:{port}:exportname=exp"],
                              f"server.type=inet,server.host=127.0.0.1,server.port={port},"
                              "export=exp")
            # Writes and a convert into a writable export: the same image results.
            results = []
            for tool_io, tool_img in (("qemu-io", "qemu-img"), (E2KVM_IO, E2KVM_IMG)):
                copy = os.path.join(tmp, "w.qcow2")
                shutil.copy(image, copy)
                with serve(server, copy, sock=sock, read_only=False):
                    uri = f"nbd+unix:///?socket={sock}"
                    run(tool_io, "-f", "raw", "-c", "write -P 9 64k 4k", "-c",
                        "write -z 1M 64k", "-c", "discard 2M 64k", uri)
                    run(tool_img, "convert", "-n", "-f", "raw", "-O", "raw", flat,
                        f"nbd:unix:{sock}")
                    run(tool_io, "-f", "raw", "-c", "write -P 7 3M 4k", uri)
                results.append(run("qemu-img", "map", "--output=json", copy).stdout + speeds(
                    run("qemu-io", "-r", "-c", "read -P 7 3M 4k", copy).stdout))
                os.unlink(copy)
            checker.same(f"{label} written through the NBD client", results[0], results[1],
                         "qemu", "e2kvm")
            # A 1000-byte raw file served with its format probed: the server rounds the size up
            # to 512-byte blocks and may describe the tail in smaller pieces; clients map whole
            # blocks.
            odd = os.path.join(tmp, "odd.raw")
            with open(odd, "w") as f:
                f.write("0" * 1000)
            with ServerProcess([server, "-t", "-k", sock, odd], unix_socket=sock):
                same_run(f"{label} map of an unaligned export",
                         ["qemu-img", "map", "-f", "raw", "--output=json", f"nbd:unix:{sock}"],
                         [E2KVM_IMG, "map", "-f", "raw", "--output=json", f"nbd:unix:{sock}"])
                same_run(f"{label} io map of an unaligned export",
                         ["qemu-io", "-f", "raw", "-c", "map", f"nbd:unix:{sock}"],
                         [E2KVM_IO, "-f", "raw", "-c", "map", f"nbd:unix:{sock}"])
            # qemu:allocation-depth read as if it were base:allocation (iotest
            # nbd-qemu-allocation): depth 2 (the backing file) has the "zero" bit.
            base = os.path.join(tmp, "depth-base.qcow2")
            top = os.path.join(tmp, "depth.qcow2")
            run("qemu-img", "create", "-q", "-f", "qcow2", base, "4M")
            run("qemu-io", "-f", "qcow2", "-c", "write 0 2M", base)
            run("qemu-img", "create", "-q", "-f", "qcow2", "-b", base, "-F", "qcow2", top, "4M")
            run("qemu-io", "-f", "qcow2", "-c", "write 1M 2M", top)
            with ServerProcess([server, "-t", "-r", "-A", "-f", "qcow2", "-k", sock, top],
                               unix_socket=sock):
                o = f"driver=nbd,server.type=unix,server.path={sock}"
                for extra in ("", ",x-dirty-bitmap=qemu:allocation-depth"):
                    same_run(f"{label} map with allocation depth {extra}",
                             ["qemu-img", "map", "--output=json", "--image-opts", o + extra],
                             [E2KVM_IMG, "map", "--output=json", "--image-opts", o + extra])
        refused_export_checks(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("nbd client tools: same output as qemu-img and qemu-io")


sys.exit(main())
