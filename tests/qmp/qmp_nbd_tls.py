#!/usr/bin/env python3
"""QMP-driven NBD over TCP with TLS: object-add tls-creds-x509 + nbd-server-start {inet,
tls-creds} + block-export-add, then qemu-io reads over TLS with a client certificate, while
clients without one (verify-peer defaults to on, as in QEMU) and plain clients are refused;
then object-add authz-simple + nbd-server-start tls-authz lets in only the client whose
certificate's distinguished name is the identity.
usage: qmp_nbd_tls.py QMP_TEST_SERVER (needs openssl)"""
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
from processes import ServerProcess, free_port  # noqa: E402
from peers import require  # noqa: E402
from qmp_client import QmpClient  # noqa: E402
from tls_certs import CLIENT_EXTENSIONS, SERVER_EXTENSIONS, creds_dir  # noqa: E402
from tls_certs import make_ca, make_cert  # noqa: E402

SERVER = sys.argv[1]


CLIENT2_DN = "C=AQ,O=Example\\, Inc.,CN=client2"  # as GnuTLS prints the subject


def make_credentials(tmp):
    """A CA, a server certificate and two client certificates; returns the creds dirs of the
    server and of the clients: "client", "client2" (subject CLIENT2_DN) and "anon" (none)."""
    pki = os.path.join(tmp, "pki")
    os.makedirs(pki)
    make_ca(pki, "ca")
    make_cert(pki, "ca", "server", "localhost", SERVER_EXTENSIONS)
    make_cert(pki, "ca", "client", "client", CLIENT_EXTENSIONS)
    make_cert(pki, "ca", "client2", "client2", CLIENT_EXTENSIONS,
              subject="/C=AQ/O=Example, Inc./CN=client2")
    server_dir = creds_dir(pki, os.path.join(tmp, "server"), "ca", "server", "server")
    clients = {name: creds_dir(pki, os.path.join(tmp, name), "ca", name)
               for name in ("client", "client2")}
    clients["anon"] = creds_dir(pki, os.path.join(tmp, "anon"), "ca")
    return server_dir, clients


def let_in(port, client_dir):
    """Whether nbdinfo presenting the certificate in client_dir (if any) is served."""
    p = run("nbdinfo", "--size", "nbds://localhost:%d/disk?tls-certificates=%s"
            % (port, client_dir), ok=False)
    return p.returncode == 0


def main():
    require("openssl", "qemu-img", "qemu-io", "nbdinfo")
    checker = Checker(sys.stderr)
    check = checker.check
    with tempfile.TemporaryDirectory(prefix="e2kvm-qmp-tls-") as tmp:
        server_dir, clients = make_credentials(tmp)
        img = os.path.join(tmp, "t.qcow2")
        run("qemu-img", "create", "-f", "qcow2", img, "4M")
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 1M 64k", img)
        qmp_sock = os.path.join(tmp, "qmp.sock")
        with ServerProcess([SERVER, "unix:%s,server=on,wait=off" % qmp_sock], stdout=None,
                           stderr=None) as server:
            q = QmpClient(qmp_sock, connect_timeout=10, negotiate=False)
            q.read()
            check(q.cmd("qmp_capabilities") == {"return": {}}, "negotiation")
            r = q.cmd("object-add", **{"qom-type": "tls-creds-x509"}, id="tls0", dir=server_dir,
                      endpoint="server")
            check(r == {"return": {}}, "object-add %r" % r)
            r = q.cmd("nbd-server-start", addr={"type": "inet", "host": "127.0.0.1", "port": "1"},
                      **{"tls-creds": "nosuch"})
            check("error" in r, "unknown tls-creds accepted: %r" % r)
            port = free_port()
            r = q.cmd("nbd-server-start",
                      addr={"type": "inet", "data": {"host": "127.0.0.1", "port": str(port)}},
                      **{"tls-creds": "tls0"})
            check(r == {"return": {}}, "nbd-server-start %r" % r)
            r = q.cmd("blockdev-add", driver="qcow2", **{"node-name": "n"},
                      file={"driver": "file", "filename": img})
            check(r == {"return": {}}, "blockdev-add %r" % r)
            r = q.cmd("block-export-add", type="nbd", id="e", **{"node-name": "n"}, name="disk")
            check(r == {"return": {}}, "block-export-add %r" % r)

            p = run("qemu-io", "-r", "--object",
                    "tls-creds-x509,id=tls0,dir=%s,endpoint=client" % clients["client"],
                    "--image-opts",
                    "driver=nbd,host=localhost,port=%d,export=disk,tls-creds=tls0" % port,
                    "-c", "read -P 0x5a 1M 64k", "-c", "read -P 0 0 64k", ok=False)
            check(p.returncode == 0 and "Pattern verification failed" not in p.stdout,
                  "qemu-io over TLS: %s %s" % (p.stdout, p.stderr))
            p = run("nbdinfo", "--size", "nbd://127.0.0.1:%d/disk" % port, ok=False)
            check(p.returncode != 0, "plain client was served: %s" % p.stdout)
            check(not let_in(port, clients["anon"]),
                  "verify-peer (default on): a client without a certificate was served")

            # Only client2 by its distinguished name.
            r = q.cmd("object-add", **{"qom-type": "authz-simple"}, id="auth0",
                      identity=CLIENT2_DN)
            check(r == {"return": {}}, "object-add authz-simple %r" % r)
            check(q.cmd("nbd-server-stop") == {"return": {}}, "nbd-server-stop")
            r = q.cmd("nbd-server-start",
                      addr={"type": "inet", "data": {"host": "127.0.0.1", "port": str(port)}},
                      **{"tls-creds": "tls0", "tls-authz": "nosuch"})
            check("error" in r, "unknown tls-authz accepted: %r" % r)
            r = q.cmd("nbd-server-start",
                      addr={"type": "inet", "data": {"host": "127.0.0.1", "port": str(port)}},
                      **{"tls-creds": "tls0", "tls-authz": "auth0"})
            check(r == {"return": {}}, "nbd-server-start with tls-authz %r" % r)
            r = q.cmd("block-export-add", type="nbd", id="e", **{"node-name": "n"}, name="disk")
            check(r == {"return": {}}, "block-export-add %r" % r)
            check(let_in(port, clients["client2"]), "tls-authz: client2 was turned away")
            check(not let_in(port, clients["client"]), "tls-authz: another client was served")
            check(not let_in(port, clients["anon"]), "tls-authz: an anonymous client was served")

            check(q.cmd("quit") == {"return": {}}, "quit")
            check(server.wait(20) == 0, "server exit status")
    return checker.exit_status("qmp nbd tls: all checks passed")


if __name__ == "__main__":
    sys.exit(main())
