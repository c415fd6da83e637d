#!/usr/bin/env python3
"""Interop: e2kvm-nbd with X.509 TLS (QEMU --tls-creds directory layout) against qemu-img,
qemu-io and nbdinfo as clients; plain clients refused in required mode, clients trusting a
different CA refused, client certificates checked with --tls-verify-peer.
Usage: nbd_tls_interop.py E2KVM_NBD (needs openssl)."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

E2KVM_NBD = os.path.abspath(sys.argv[1])
failures = []


def run(cmd, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=60, **kw)


def check(label, ok, detail=""):
    print(("ok   " if ok else "FAIL ") + label)
    if not ok:
        failures.append(label)
        if detail:
            print(detail)


def openssl(*args, cwd):
    p = run(["openssl", *args], cwd=cwd)
    if p.returncode != 0:
        raise RuntimeError("openssl " + " ".join(args) + ": " + p.stderr)


def make_ca(d, name):
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            f"/CN={name}", "-keyout", f"{name}-key.pem", "-out", f"{name}-cert.pem",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def make_cert(d, ca, name, cn, ext):
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}", "-keyout",
            f"{name}-key.pem", "-out", f"{name}.csr", cwd=d)
    with open(os.path.join(d, f"{name}.ext"), "w") as f:
        f.write(ext)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}-cert.pem", "-CAkey",
            f"{ca}-key.pem", "-CAcreateserial", "-days", "2", "-out", f"{name}-cert.pem",
            "-extfile", f"{name}.ext", cwd=d)


def creds_dir(base, name, files):
    d = os.path.join(base, name)
    os.makedirs(d)
    for src, dst in files.items():
        shutil.copy(os.path.join(base, "pki", src), os.path.join(d, dst))
    return d


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


class Server:
    def __init__(self, args):
        self.port = free_port()
        self.proc = subprocess.Popen([E2KVM_NBD, "-b", "127.0.0.1", "-p", str(self.port),
                                      "-t", "-e", "0", *args], stderr=subprocess.PIPE,
                                     text=True)
        deadline = time.time() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                break
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise RuntimeError("server did not start: " + self.proc.stderr.read())
                time.sleep(0.05)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=10)


def main():
    if not shutil.which("openssl"):
        print("openssl missing")
        sys.exit(1)
    tmp = tempfile.mkdtemp(prefix="e2kvm-nbd-tls-")
    try:
        pki = os.path.join(tmp, "pki")
        os.makedirs(pki)
        make_ca(pki, "ca")
        make_ca(pki, "otherca")
        make_cert(pki, "ca", "server", "localhost",
                  "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
                  "keyUsage=critical,digitalSignature,keyEncipherment\n")
        make_cert(pki, "ca", "client", "client",
                  "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,"
                  "keyEncipherment\n")
        make_cert(pki, "otherca", "rogue", "client",
                  "extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,"
                  "keyEncipherment\n")
        server_dir = creds_dir(tmp, "server", {"ca-cert.pem": "ca-cert.pem",
                                               "server-cert.pem": "server-cert.pem",
                                               "server-key.pem": "server-key.pem"})
        client_dir = creds_dir(tmp, "client", {"ca-cert.pem": "ca-cert.pem",
                                               "client-cert.pem": "client-cert.pem",
                                               "client-key.pem": "client-key.pem"})
        anon_dir = creds_dir(tmp, "anon", {"ca-cert.pem": "ca-cert.pem"})
        wrong_dir = creds_dir(tmp, "wrong", {"otherca-cert.pem": "ca-cert.pem",
                                             "rogue-cert.pem": "client-cert.pem",
                                             "rogue-key.pem": "client-key.pem"})
        rogue_dir = creds_dir(tmp, "rogue", {"ca-cert.pem": "ca-cert.pem",
                                             "rogue-cert.pem": "client-cert.pem",
                                             "rogue-key.pem": "client-key.pem"})
        img = os.path.join(tmp, "img.raw")
        run(["qemu-img", "create", "-f", "raw", img, "4M"])
        run(["qemu-io", "-f", "raw", "-c", "write -P 0x5a 1M 64k", img])

        def qemu_opts(port, d):
            return ["--object", f"tls-creds-x509,id=tls0,dir={d},endpoint=client",
                    "--image-opts",
                    f"driver=nbd,host=localhost,port={port},tls-creds=tls0"]

        srv = Server(["--tls-creds", server_dir, "-f", "raw", img])
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
            srv.stop()

        srv = Server(["--tls-creds", server_dir, "--tls-verify-peer", "-r", "-f", "raw", img])
        try:
            p = run(["qemu-img", "info", *qemu_opts(srv.port, client_dir)])
            check("client certificate accepted", p.returncode == 0, p.stderr)
            p = run(["qemu-img", "info", *qemu_opts(srv.port, anon_dir)])
            check("client without certificate refused", p.returncode != 0, p.stdout)
            p = run(["qemu-img", "info", *qemu_opts(srv.port, rogue_dir)])
            check("client certificate from another CA refused", p.returncode != 0, p.stdout)
        finally:
            srv.stop()

        srv = Server(["--tls-creds", server_dir, "--tls-mode", "allowed", "-r", "-f", "raw",
                      img])
        try:
            p = run(["nbdinfo", "--size", f"nbd://localhost:{srv.port}/"])
            check("allowed mode: plain client served", p.returncode == 0, p.stderr)
            p = run(["nbdinfo", "--size",
                     f"nbds://localhost:{srv.port}/?tls-certificates={anon_dir}"])
            check("allowed mode: TLS client served", p.returncode == 0, p.stderr)
        finally:
            srv.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failures: {failures}")
        sys.exit(1)


main()
