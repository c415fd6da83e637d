#!/usr/bin/env python3
"""Interop: e2kvm-nbd with X.509 TLS (QEMU --tls-creds directory layout) against qemu-img,
qemu-io and nbdinfo as clients; plain clients refused in required mode, clients trusting a
different CA refused, client certificates checked with --tls-verify-peer; qemu-nbd's own
syntax (--object tls-creds-x509 / authz-simple, --tls-creds ID, --tls-authz ID) lets in and
turns away the same clients as qemu-nbd does.
Usage: nbd_tls_interop.py E2KVM_NBD (needs openssl)."""
import functools
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run as run_command  # noqa: E402
from peers import require  # noqa: E402
from processes import ServerProcess, free_port  # noqa: E402
from tls_certs import CLIENT_EXTENSIONS, SERVER_EXTENSIONS  # noqa: E402
from tls_certs import creds_dir, make_ca, make_cert  # noqa: E402

E2KVM_NBD = os.path.abspath(sys.argv[1])
checker = Checker()
check = checker.labelled
run = functools.partial(run_command, ok=False)  # exit codes are checked, not raised


def server(args, program=E2KVM_NBD):
    """e2kvm-nbd (or `program`) serving on a free loopback port (its `port` attribute)."""
    port = free_port()
    return ServerProcess([program, "-b", "127.0.0.1", "-p", str(port), "-t", "-e", "0", *args],
                         tcp_port=port, stdout=None)


def qemu_syntax_cases(server_dir, clients, img):
    """qemu-nbd's --object syntax: which clients each server lets in, qemu-nbd's answer being
    the expected one. `clients`: name -> tls-certificates directory."""
    dn2 = "C=AQ,O=Example\\, Inc.,CN=client2"  # as GnuTLS prints the certificate's subject
    creds = f"tls-creds-x509,id=tls0,dir={server_dir},endpoint=server"
    cases = [
        # (label, extra server arguments, {client: let in?}); verify-peer defaults to on
        ("tls-creds-x509 object", ["--object", creds, "--tls-creds", "tls0"],
         {"client": True, "client2": True, "anon": False, "rogue": False}),
        ("verify-peer=off", ["--object", creds + ",verify-peer=off", "--tls-creds", "tls0"],
         {"client": True, "anon": True}),
        ("authz-simple with the client's DN",
         ["--object", creds, "--object", "authz-simple,id=auth0,identity=" +
          dn2.replace(",", ",,"), "--tls-creds", "tls0", "--tls-authz", "auth0"],
         {"client2": True, "client": False, "anon": False}),
        ("authz-simple with the RDNs reversed",
         ["--object", creds, "--object",
          "authz-simple,id=auth0,identity=CN=client2,,O=Example\\,, Inc.,,C=AQ",
          "--tls-creds", "tls0", "--tls-authz", "auth0"],
         {"client2": False}),
    ]
    for label, extra, expected in cases:
        for program in ("qemu-nbd", E2KVM_NBD):
            srv = server([*extra, "-r", "-f", "raw", img], program=program)
            try:
                for client, let_in in expected.items():
                    p = run(["nbdinfo", "--size", f"nbds://localhost:{srv.port}/"
                             f"?tls-certificates={clients[client]}"])
                    who = os.path.basename(program)
                    check(f"{label}: {who} {'lets in' if let_in else 'turns away'} {client}",
                          (p.returncode == 0) == let_in, p.stdout + p.stderr)
            finally:
                srv.stop(kill_on_timeout=False)
    p = run([E2KVM_NBD, "--tls-authz", "auth0", img])
    check("--tls-authz without --tls-creds refused as qemu-nbd does", p.returncode != 0 and
          "--tls-authz is not permitted without --tls-creds" in p.stderr, p.stderr)
    p = run([E2KVM_NBD, "--object", "tls-creds-x509,id=t,dir=" + server_dir + ",endpoint=client",
             "--tls-creds", "t", img])
    check("client-endpoint credentials refused for a server", p.returncode != 0 and
          "Expected TLS credentials for a server endpoint" in p.stderr, p.stderr)
    p = run([E2KVM_NBD, "--object", creds + ",verify-peer=maybe", "--tls-creds", "tls0", img])
    check("verify-peer=maybe refused", p.returncode != 0 and
          "Parameter 'verify-peer' expects 'on' or 'off'" in p.stderr, p.stderr)


def main():
    require("openssl", "qemu-img", "qemu-io", "qemu-nbd", "nbdinfo")
    tmp = tempfile.mkdtemp(prefix="e2kvm-nbd-tls-")
    try:
        pki = os.path.join(tmp, "pki")
        os.makedirs(pki)
        make_ca(pki, "ca")
        make_ca(pki, "otherca")
        make_cert(pki, "ca", "server", "localhost", SERVER_EXTENSIONS)
        make_cert(pki, "ca", "client", "client", CLIENT_EXTENSIONS)
        make_cert(pki, "otherca", "rogue", "client", CLIENT_EXTENSIONS)
        make_cert(pki, "ca", "client2", "client2", CLIENT_EXTENSIONS,
                  subject="/C=AQ/O=Example, Inc./CN=client2")
        server_dir = creds_dir(pki, os.path.join(tmp, "server"), "ca", "server", "server")
        client_dir = creds_dir(pki, os.path.join(tmp, "client"), "ca", "client")
        anon_dir = creds_dir(pki, os.path.join(tmp, "anon"), "ca")
        wrong_dir = creds_dir(pki, os.path.join(tmp, "wrong"), "otherca", "rogue")
        rogue_dir = creds_dir(pki, os.path.join(tmp, "rogue"), "ca", "rogue")
        client2_dir = creds_dir(pki, os.path.join(tmp, "client2"), "ca", "client2")
        img = os.path.join(tmp, "img.raw")
        run_command(["qemu-img", "create", "-f", "raw", img, "4M"])
        run_command(["qemu-io", "-f", "raw", "-c", "write -P 0x5a 1M 64k", img])

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

        qemu_syntax_cases(server_dir, {"client": client_dir, "client2": client2_dir,
                                       "anon": anon_dir, "rogue": rogue_dir}, img)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    sys.exit(checker.exit_status(None, "{count} failures: {failures}"))


main()
