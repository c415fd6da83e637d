#!/usr/bin/env python3
"""QMP-driven NBD over TCP with TLS: object-add tls-creds-x509 + nbd-server-start {inet,
tls-creds} + block-export-add, then qemu-io reads over TLS and a plain client is refused.
usage: qmp_nbd_tls.py QMP_TEST_SERVER (needs openssl)"""
import os
import shutil
import socket
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmp_iotest223 import Qmp  # noqa: E402

SERVER = sys.argv[1]  # noqa: F811 (the imported module reads argv too)


def run(*argv, cwd=None):
    return subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=cwd)


def openssl(*args, cwd):
    p = run("openssl", *args, cwd=cwd)
    if p.returncode != 0:
        raise RuntimeError("openssl %s: %s" % (" ".join(args), p.stderr))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    if not shutil.which("openssl"):
        print("openssl missing: skipped")
        return 0
    tmp = tempfile.mkdtemp(prefix="e2kvm-qmp-tls-")
    proc = None
    failures = []

    def check(cond, what):
        if not cond:
            failures.append(what)
            print("FAIL:", what, file=sys.stderr)

    try:
        pki = os.path.join(tmp, "pki")
        os.makedirs(pki)
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=ca",
                "-keyout", "ca-key.pem", "-out", "ca-cert.pem",
                "-addext", "basicConstraints=critical,CA:TRUE",
                "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=pki)
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout",
                "server-key.pem", "-out", "server.csr", cwd=pki)
        with open(os.path.join(pki, "server.ext"), "w") as f:
            f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\n")
        openssl("x509", "-req", "-in", "server.csr", "-CA", "ca-cert.pem", "-CAkey",
                "ca-key.pem", "-CAcreateserial", "-days", "2", "-out", "server-cert.pem",
                "-extfile", "server.ext", cwd=pki)
        server_dir = os.path.join(tmp, "server")
        client_dir = os.path.join(tmp, "client")
        os.makedirs(server_dir)
        os.makedirs(client_dir)
        for name in ("ca-cert.pem", "server-cert.pem", "server-key.pem"):
            shutil.copy(os.path.join(pki, name), server_dir)
        shutil.copy(os.path.join(pki, "ca-cert.pem"), client_dir)

        img = os.path.join(tmp, "t.qcow2")
        run("qemu-img", "create", "-f", "qcow2", img, "4M")
        run("qemu-io", "-f", "qcow2", "-c", "write -P 0x5a 1M 64k", img)
        qmp_sock = os.path.join(tmp, "qmp.sock")
        proc = subprocess.Popen([SERVER, "unix:%s,server=on,wait=off" % qmp_sock])
        q = Qmp(qmp_sock)
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
                "tls-creds-x509,id=tls0,dir=%s,endpoint=client" % client_dir, "--image-opts",
                "driver=nbd,host=localhost,port=%d,export=disk,tls-creds=tls0" % port,
                "-c", "read -P 0x5a 1M 64k", "-c", "read -P 0 0 64k")
        check(p.returncode == 0 and "Pattern verification failed" not in p.stdout,
              "qemu-io over TLS: %s %s" % (p.stdout, p.stderr))
        p = run("nbdinfo", "--size", "nbd://127.0.0.1:%d/disk" % port)
        check(p.returncode != 0, "plain client was served: %s" % p.stdout)

        check(q.cmd("quit") == {"return": {}}, "quit")
        check(proc.wait(timeout=20) == 0, "server exit status")
    finally:
        if proc and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        return 1
    print("qmp nbd tls: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
