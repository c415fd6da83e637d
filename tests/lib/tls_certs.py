"""X.509 test certificates made with the openssl command line, in the file names QEMU's
tls-creds-x509 directories use (NAME-cert.pem, NAME-key.pem), for the TLS test scripts (which
require "openssl" with peers.require first)."""
import os
import shutil

from checks import run

SERVER_EXTENSIONS = ("subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n"
                     "keyUsage=critical,digitalSignature,keyEncipherment\n")
CLIENT_EXTENSIONS = ("extendedKeyUsage=clientAuth\nkeyUsage=critical,digitalSignature,"
                     "keyEncipherment\n")


def openssl(*args, cwd):
    p = run("openssl", *args, cwd=cwd, ok=False)
    if p.returncode != 0:
        raise RuntimeError("openssl " + " ".join(args) + ": " + p.stderr)


def make_ca(d, name):
    """A self-signed CA in d: NAME-key.pem, NAME-cert.pem."""
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj",
            f"/CN={name}", "-keyout", f"{name}-key.pem", "-out", f"{name}-cert.pem",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def make_cert(d, ca, name, cn, extensions, subject=None):
    """A certificate for CN=cn (or the openssl `subject`, "/C=AQ/O=Org/CN=x") signed by CA `ca`
    in d: NAME-key.pem, NAME-cert.pem."""
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", subject or f"/CN={cn}", "-keyout",
            f"{name}-key.pem", "-out", f"{name}.csr", cwd=d)
    with open(f"{d}/{name}.ext", "w") as f:
        f.write(extensions)
    openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}-cert.pem", "-CAkey",
            f"{ca}-key.pem", "-CAcreateserial", "-days", "2", "-out", f"{name}-cert.pem",
            "-extfile", f"{name}.ext", cwd=d)


def creds_dir(pki, d, ca, identity=None, role="client"):
    """Makes d a tls-creds-x509 directory: ca-cert.pem is CA `ca` from pki and, if given, the
    certificate and key of `identity` are ROLE-cert.pem and ROLE-key.pem. Returns d."""
    os.makedirs(d)
    shutil.copy(os.path.join(pki, f"{ca}-cert.pem"), os.path.join(d, "ca-cert.pem"))
    if identity is not None:
        for part in ("cert", "key"):
            shutil.copy(os.path.join(pki, f"{identity}-{part}.pem"),
                        os.path.join(d, f"{role}-{part}.pem"))
    return d
