#!/usr/bin/env python3
"""Interop: e2kvm-nbd with X.509 TLS (QEMU --tls-creds directory layout) against qemu-img,
qemu-io and nbdinfo as clients; plain clients refused in required mode, clients trusting a
different CA refused, client certificates checked with --tls-verify-peer.
Usage: nbd_tls_interop.py E2KVM_NBD (needs openssl)."""
import functools
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run as run_command  # noqa: E402
from processes import ServerProcess, free_port  # noqa: E402
from tls_certs import CLIENT_EXTENSIONS, SERVER_EXTENSIONS, have_openssl  # noqa: E402
from tls_certs import creds_dir, make_ca, make_cert  # noqa: E402

E2KVM_NBD = os.path.abspath(sys.argv[1])
checker = Checker()
check = checker.labelled
run = functools.partial(run_command, ok=False)  # exit codes are checked, not raised


def server(args):
    """e2kvm-nbd serving on a free loopback port (its `port` attribute)."""
    port = free_port()
    return ServerProcess([E2KVM_NBD, "-b", "127.0.0.1", "-p", str(port), "-t", "-e", "0", *args],
                         tcp_port=port, stdout=None)


def main():
    if not have_openssl():
        print("openssl missing")
        sys.exit(1)
    tmp = tempfile.mkdtemp(prefix="e2kvm-nbd-tls-")
    try:
        pki = os.path.join(tmp, "pki")
        os.makedirs(pki)
        make_ca(pki, "ca")
        make_ca(pki, "otherca")
        make_cert(pki, "ca", "server", "localhost", SERVER_EXTENSIONS)
        make_cert(pki, "ca", "client", "client", CLIENT_EXTENSIONS)
        make_cert(pki, "otherca", "rogue", "client", CLIENT_EXTENSIONS)
        server_dir = creds_dir(pki, os.path.join(tmp, "server"), "ca", "server", "server")
        client_dir = creds_dir(pki, os.path.join(tmp, "client"), "ca", "client")
        anon_dir = creds_dir(pki, os.path.join(tmp, "anon"), "ca")
        wrong_dir = creds_dir(pki, os.path.join(tmp, "wrong"), "otherca", "rogue")
        rogue_dir = creds_dir(pki, os.path.join(tmp, "rogue"), "ca", "rogue")
        img = os.path.join(tmp, "img.raw")
        run(["qemu-img", "create", "-f", "raw", img, "4M"])
        run(["qemu-io", "-f", "raw", "-c", "write -P 0x5a 1M 64k", img])

        def qemu_opts(port, d):
            return ["--object", f"tls-creds-x509,id=tls0,dir={d},endpoint=client",
                    "--image-opts",
                    f"driver=nbd,host=localhost,port={port},tls-creds=tls0"]

        srv = server(["--tls-creds", server_dir, "-f", "raw", img])
        try:
            p = run(["qemu-io", "-r", *qemu_opts(srv.port, anon_dir)[:2], "--image-opts",
                     f"driver=nbd,host=localhost,port={srv.port},tls-creds=tls0",
                     "-c", "read -P 0x5a 1M 64k", "-c", "read -P 0 0 64k"])
            check("qemu-io over TLS reads the data", p.returncode == 0 and
                  "read 65536/65536" in p.stdout and "Pattern verification failed"
                  not in p.stdout, p.stdout + p.stderr)
            p = run(["qemu-img", "map", "--output=json", *qemu_opts(srv.port, anon_dir)])
            check("qemu-img map over TLS", p.returncode == 0 and '"data": true' in p.stdout,
                  p.stderr)
            p = run(["nbdinfo", "--map",
                     f"nbds://localhost:{srv.port}/?tls-certificates={anon_dir}"])
            check("nbdinfo --map over TLS", p.returncode == 0 and "data" in p.stdout,
                  p.stdout + p.stderr)
            p = run(["nbdinfo", "--size", f"nbd://localhost:{srv.port}/"])
            check("plain client refused when TLS is required", p.returncode != 0, p.stdout)
            p = run(["qemu-img", "info", "--image-opts",
                     f"driver=nbd,host=localhost,port={srv.port}"])
            check("plain qemu-img refused when TLS is required", p.returncode != 0, p.stdout)
            p = run(["qemu-img", "info", *qemu_opts(srv.port, wrong_dir)])
            check("client trusting another CA refuses the server", p.returncode != 0,
                  p.stdout)
            p = run(["nbdinfo", "--size",
                     f"nbds://localhost:{srv.port}/?tls-certificates={wrong_dir}"])
            check("nbdinfo trusting another CA refuses the server", p.returncode != 0,
                  p.stdout)
            p = run([E2KVM_NBD, "-L", "-b", "localhost", "-p", str(srv.port),
                     "--tls-creds", anon_dir])
            check("e2kvm-nbd -L over TLS", p.returncode == 0 and "size:  4194304" in p.stdout,
                  p.stdout + p.stderr)
        finally:
            srv.stop(kill_on_timeout=False)

        srv = server(["--tls-creds", server_dir, "--tls-verify-peer", "-r", "-f", "raw", img])
        try:
            p = run(["qemu-img", "info", *qemu_opts(srv.port, client_dir)])
            check("client certificate accepted", p.returncode == 0, p.stderr)
            p = run(["qemu-img", "info", *qemu_opts(srv.port, anon_dir)])
            check("client without certificate refused", p.returncode != 0, p.stdout)
            p = run(["qemu-img", "info", *qemu_opts(srv.port, rogue_dir)])
            check("client certificate from another CA refused", p.returncode != 0, p.stdout)
        finally:
            srv.stop(kill_on_timeout=False)

        srv = server(["--tls-creds", server_dir, "--tls-mode", "allowed", "-r", "-f", "raw",
                      img])
        try:
            p = run(["nbdinfo", "--size", f"nbd://localhost:{srv.port}/"])
            check("allowed mode: plain client served", p.returncode == 0, p.stderr)
            p = run(["nbdinfo", "--size",
                     f"nbds://localhost:{srv.port}/?tls-certificates={anon_dir}"])
            check("allowed mode: TLS client served", p.returncode == 0, p.stderr)
        finally:
            srv.stop(kill_on_timeout=False)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(checker.exit_status(None, "{count} failures: {failures}"))


main()
