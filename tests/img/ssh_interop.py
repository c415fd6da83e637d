#!/usr/bin/env python3
"""Interop: the ssh protocol driver of e2kvm-img / e2kvm-io against QEMU's (Debian's qemu-img
and qemu-io have it). The test runs its own sshd on a loopback port (its own host key, an
AuthorizedKeysFile with a key of its own held by its own ssh-agent, SFTP in-process), then:
  - e2kvm-io writes a raw and a qcow2 image over ssh:// URLs, json: names and --image-opts, and
    qemu-io reads the patterns back over ssh (and the files are what was written), and the
    other way round;
  - e2kvm-img info, map and convert over ssh print what qemu-img's print;
  - truncate grows the remote file as QEMU's, and refuses to shrink it; create -f raw makes one;
  - a wrong host key hash, a refused connection and a port that is no number fail with the
    same messages as qemu-img's (iotest 162).
Skipped (77) when sshd, ssh-agent or the QEMU peers are missing.
Usage: ssh_interop.py E2KVM_IMG E2KVM_IO"""
import base64
import hashlib
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402
from processes import ServerProcess, free_port, wait_for_path  # noqa: E402

SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
if not os.path.exists(SSHD):
    print("SKIP: sshd is not installed (openssh-server)", flush=True)
    sys.exit(peers.SKIP_RETURN_CODE)
peers.require("qemu-img", "qemu-io", "ssh-keygen", "ssh-agent", "ssh-add")

E2KVM_IMG = os.path.abspath(sys.argv[1])
E2KVM_IO = os.path.abspath(sys.argv[2])
OURS = {}  # our programs under QEMU's names (their messages name argv[0], as the iotests run them)
checker = Checker()


def host_key_sha256(pub_path):
    """The sha256 of the host key's blob in hexadecimal, as host_key_check=sha256: takes it."""
    with open(pub_path) as f:
        blob = base64.b64decode(f.read().split()[1])
    return hashlib.sha256(blob).hexdigest()


def start_sshd(tmp, port):
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(tmp, "host_key"))
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", os.path.join(tmp, "user_key"))
    shutil.copy(os.path.join(tmp, "user_key.pub"), os.path.join(tmp, "authorized_keys"))
    config = os.path.join(tmp, "sshd_config")
    with open(config, "w") as f:
        f.write(f"""Port {port}
ListenAddress 127.0.0.1
HostKey {tmp}/host_key
AuthorizedKeysFile {tmp}/authorized_keys
PidFile {tmp}/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
Subsystem sftp internal-sftp
""")
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # sshd's privilege separation dir
    log = open(os.path.join(tmp, "sshd.log"), "w")
    return ServerProcess([SSHD, "-D", "-e", "-f", config], tcp_port=port, stderr=log)


def start_agent(tmp):
    sock = os.path.join(tmp, "agent.sock")
    agent = ServerProcess(["ssh-agent", "-D", "-a", sock], unix_socket=sock)
    env = dict(os.environ, SSH_AUTH_SOCK=sock)
    run("ssh-add", "-q", os.path.join(tmp, "user_key"), env=env)
    return agent, env


def normalise(text, tmp, port):
    text = re.sub(r"; [0-9:. ]+sec \(.*\)", "", text)
    text = text.replace(tmp, "TMP").replace(str(port), "PORT")
    return re.sub(r"^(qemu-img|qemu-io|e2kvm-img|e2kvm-io): ", "PROG: ", text, flags=re.M)


class Peers:
    def __init__(self, tmp, port, env):
        self.tmp, self.port, self.env = tmp, port, env

    def run(self, argv):
        p = run(argv, ok=False, env=self.env, timeout=120)
        return p.returncode, normalise(p.stdout, self.tmp, self.port), \
            normalise(p.stderr, self.tmp, self.port)

    def same(self, what, qemu_argv, ours_argv):
        """qemu_argv and ours_argv (the same but for the program) give the same result."""
        theirs, ours = self.run(qemu_argv), self.run(ours_argv)
        checker.same(what, theirs, ours, "qemu", "e2kvm")
        return ours

    def ok(self, what, argv):
        code, out, err = self.run(argv)
        checker.check(code == 0 and "failed" not in out, f"{what}: {code} {out} {err}")
        return out


def main():
    tmp = tempfile.mkdtemp(prefix="e2kvm-ssh-")
    os.chmod(tmp, 0o755)
    port = free_port()
    user = pwd.getpwuid(os.getuid()).pw_name
    bindir = peers.named_bin(tmp, {"qemu-img": E2KVM_IMG, "qemu-io": E2KVM_IO})
    OURS["img"], OURS["io"] = os.path.join(bindir, "qemu-img"), os.path.join(bindir, "qemu-io")
    try:
        sshd = start_sshd(tmp, port)
        agent, env = start_agent(tmp)
        try:
            check_everything(Peers(tmp, port, env), tmp, port, user)
        finally:
            agent.stop()
            sshd.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return checker.exit_status("ssh interop: all checks passed")


def check_everything(p, tmp, port, user):
    ours_io, ours_img = OURS["io"], OURS["img"]
    hkc = "sha256:" + host_key_sha256(os.path.join(tmp, "host_key.pub"))
    raw = os.path.join(tmp, "disk.raw")
    qcow2 = os.path.join(tmp, "disk.qcow2")
    run("qemu-img", "create", "-q", "-f", "raw", raw, "4M")
    run("qemu-img", "create", "-q", "-f", "qcow2", qcow2, "4M")
    url = f"ssh://{user}@127.0.0.1:{port}{raw}?host_key_check={hkc}"
    qurl = f"ssh://127.0.0.1:{port}{qcow2}?host_key_check={hkc}"

    # Ours writes, QEMU reads over ssh; the file itself holds the data.
    p.ok("e2kvm-io writes raw over ssh",
         [ours_io, "-f", "raw", "-c", "write -P 0x5a 0 1M", "-c", "write -P 0x33 3M 64k", url])
    p.ok("qemu-io reads our raw writes over ssh",
         ["qemu-io", "-f", "raw", "-c", "read -P 0x5a 0 1M", "-c", "read -P 0x33 3M 64k",
          "-c", "read -P 0 1M 2M", url])
    p.ok("the raw file holds our writes",
         ["qemu-io", "-f", "raw", "-c", "read -P 0x5a 0 1M", raw])
    # QEMU writes over ssh, ours reads.
    p.ok("qemu-io writes raw over ssh", ["qemu-io", "-f", "raw", "-c", "write -P 0x77 64k 128k", url])
    p.ok("e2kvm-io reads qemu-io's writes over ssh",
         [ours_io, "-f", "raw", "-c", "read -P 0x77 64k 128k", "-c", "read -P 0x5a 0 64k", url])

    # qcow2 over ssh, probed and given, both ways.
    p.ok("e2kvm-io writes qcow2 over ssh",
         [ours_io, "-c", "write -P 0xa1 512k 256k", "-c", "flush", qurl])
    p.ok("qemu-img check of the qcow2 written over ssh", ["qemu-img", "check", "-q", qcow2])
    p.ok("qemu-io reads our qcow2 writes over ssh",
         ["qemu-io", "-f", "qcow2", "-c", "read -P 0xa1 512k 256k", "-c", "read -P 0 0 512k", qurl])
    p.ok("qemu-io writes qcow2 over ssh", ["qemu-io", "-f", "qcow2", "-c", "write -P 0xb2 2M 64k", qurl])
    p.ok("e2kvm-io reads qemu-io's qcow2 writes over ssh",
         [ours_io, "-f", "qcow2", "-c", "read -P 0xb2 2M 64k", "-c", "read -P 0xa1 512k 256k", qurl])

    # Option spellings: json: with QEMU's current names, --image-opts with the older ones.
    json_name = ('json:{"driver": "raw", "file": {"driver": "ssh", "server": {"host": "127.0.0.1", '
                 f'"port": "{port}"}}, "path": "{raw}", "host-key-check": {{"mode": "none"}}}}}}')
    p.ok("e2kvm-io reads over a json: ssh name", [ours_io, "-c", "read -P 0x77 64k 128k", json_name])
    p.ok("e2kvm-io writes over --image-opts driver=ssh",
         [ours_io, "--image-opts", "-c", "write -P 0x19 2M 4k",
          f"driver=ssh,host=127.0.0.1,port={port},path={raw},host_key_check=no"])
    p.ok("qemu-io reads what --image-opts wrote", ["qemu-io", "-f", "raw", "-c", "read -P 0x19 2M 4k", raw])

    # What the tools print about such images.
    for what, args in [("info raw", ["info", url]),
                       ("info qcow2", ["info", qurl]),
                       ("info driver=ssh", ["info", "--image-opts",
                                            f"driver=ssh,host=127.0.0.1,port={port},path={raw},"
                                            "host_key_check=no"]),
                       ("info raw over driver=ssh", ["info", "--image-opts",
                                                     f"driver=raw,file.driver=ssh,file.host=127.0.0.1,"
                                                     f"file.port={port},file.path={raw},"
                                                     "file.host_key_check=no"]),
                       ("info --output=json qcow2", ["info", "--output=json", qurl]),
                       ("map raw", ["map", "--output=json", "-f", "raw", url]),
                       ("compare", ["compare", "-f", "raw", "-F", "raw", url, raw])]:
        p.same(f"{what} over ssh", ["qemu-img"] + args, [ours_img] + args)
    converted = os.path.join(tmp, "copy.qcow2")
    p.ok("e2kvm-img convert from ssh", [ours_img, "convert", "-O", "qcow2", qurl, converted])
    p.ok("the copy matches", ["qemu-img", "compare", "-f", "qcow2", "-F", "qcow2", converted, qcow2])

    # Growing: the remote file lengthens; shrinking is refused as by QEMU.
    for name, tool in (("grown-q.raw", "qemu-io"), ("grown-e.raw", ours_io)):
        path = os.path.join(tmp, name)
        run("qemu-img", "create", "-q", "-f", "raw", path, "1M")
        u = f"ssh://127.0.0.1:{port}{path}?host_key_check=no"
        p.run([tool, "-f", "raw", "-c", "truncate 3M", u])
    checker.same("truncate grows the remote file", os.path.getsize(os.path.join(tmp, "grown-q.raw")),
                 os.path.getsize(os.path.join(tmp, "grown-e.raw")), "qemu-io", "e2kvm-io")
    shrink = f"ssh://127.0.0.1:{port}{os.path.join(tmp, 'grown-q.raw')}?host_key_check=no"
    p.same("truncate cannot shrink", ["qemu-io", "-f", "raw", "-c", "truncate 1M", shrink],
           [ours_io, "-f", "raw", "-c", "truncate 1M", shrink])

    # A relative backing name resolves beside the image on the server, unless the image's name
    # carries a host key check (then QEMU cannot tell the backing file's name).
    run("qemu-img", "create", "-q", "-f", "qcow2", os.path.join(tmp, "base.qcow2"), "4M")
    run("qemu-io", "-f", "qcow2", "-c", "write -P 0x4b 0 64k", os.path.join(tmp, "base.qcow2"))
    top = os.path.join(tmp, "top.qcow2")
    run("qemu-img", "create", "-q", "-f", "qcow2", "-b", "base.qcow2", "-F", "qcow2", top)
    plain = f"ssh://127.0.0.1:{port}{top}"  # host key in known_hosts mode: an agreed failure
    config = os.path.join(tmp, "ssh_config_none")
    for name in (plain, f"{plain}?host_key_check=no"):
        p.same(f"info of an image with a relative backing name over {name}",
               ["qemu-img", "info", "--backing-chain", name],
               [ours_img, "info", "--backing-chain", name])
    del config
    json_top = ('json:{"driver": "qcow2", "file": {"driver": "ssh", "server": {"host": "127.0.0.1", '
                f'"port": "{port}"}}, "path": "{top}", "host-key-check": {{"mode": "none"}}}}}}')
    ours = p.same("info of an image with a relative backing name over a json: ssh name",
                  ["qemu-img", "info", json_top], [ours_img, "info", json_top])
    checker.check(f"(actual path: ssh://{user}@127.0.0.1:PORT" in ours[1],
                  f"the backing file resolves on the server: {ours}")

    # Creating a raw image on the server.
    sizes = []
    for name, tool in (("made-q.raw", "qemu-img"), ("made-e.raw", ours_img)):
        u = f"ssh://127.0.0.1:{port}{tmp}/{name}?host_key_check=no"
        code, out, err = p.run([tool, "create", "-f", "raw", u, "3M"])
        sizes.append((code, out.replace(name, "NAME"), err, os.path.getsize(os.path.join(tmp, name))
                      if os.path.exists(os.path.join(tmp, name)) else None))
    checker.same("create -f raw over ssh", sizes[0], sizes[1], "qemu-img", "e2kvm-img")

    # Failures in QEMU's words.
    wrong = "sha256:" + "00" * 32
    for what, name in [
            ("wrong host key hash", f"ssh://127.0.0.1:{port}{raw}?host_key_check={wrong}"),
            ("missing remote file", f"ssh://127.0.0.1:{port}{tmp}/nothing?host_key_check=no"),
            # Whatever this machine's known_hosts says about the test's server, both say it.
            ("default known_hosts check", f"ssh://127.0.0.1:{port}{raw}"),
            ("a user the server refuses",
             f"ssh://nobody-e2kvm@127.0.0.1:{port}{raw}?host_key_check=no"),
            ("refused connection",
             'json:{"driver": "ssh", "host": "localhost", "port": "0", "path": "/foo"}'),
            ("port that is no number",
             'json:{"driver": "ssh", "host": "localhost", "port": 0.42, "path": "/foo"}')]:
        p.same(what, ["qemu-img", "info", name], [ours_img, "info", name])


if __name__ == "__main__":
    sys.exit(main())
