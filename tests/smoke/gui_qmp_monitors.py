#!/usr/bin/env python3
"""Several monitors: starts the real e2kvm under xvfb-run with --vm Demo --run and two --qmp
sockets, as a backup tool with its own monitor next to another client would. Both answer
query-status; a stop/cont through the first is seen (STOP, RESUME) on both; a fleecing backup job
started through the second (blockdev-add of a qcow2 overlay over the VM's disk, blockdev-backup
sync=none) is listed by query-jobs on both and its JOB_STATUS_CHANGE and BLOCK_JOB_CANCELLED
events reach both; quit through the first ends the application and closes the second.
Usage: gui_qmp_monitors.py E2KVM GUEST_DIR"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from qmp_client import QmpClient  # noqa: E402


def main():
    app, guest = sys.argv[1], sys.argv[2]
    if not shutil.which("qemu-img"):
        print("SKIP: qemu-img not installed (needed to create the fleecing overlay)")
        sys.exit(77)
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, XDG_CONFIG_HOME=f"{tmp}/config", XDG_DATA_HOME=f"{tmp}/data",
                   XDG_RUNTIME_DIR=f"{tmp}/run", E2KVM_GUEST_DIR=guest)
        env.pop("QT_QPA_PLATFORM", None)
        os.makedirs(f"{tmp}/run", mode=0o700)
        socks = [f"{tmp}/qmp-a.sock", f"{tmp}/qmp-b.sock"]
        argv = ["xvfb-run", "-a", app, "--vm", "Demo", "--run"]
        for s in socks:
            argv += ["--qmp", f"unix:{s},server=on,wait=off"]
        # A session of its own: on failure the whole group (xvfb-run, Xvfb, e2kvm) is ended.
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)
        try:
            run(socks, tmp)
            out, _ = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    print(proc.communicate(timeout=10)[0])
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    print(proc.communicate()[0])
        print(out)
        assert proc.returncode == 0, f"e2kvm exited with {proc.returncode}"
        for s in socks:
            assert not os.path.exists(s), f"{s} left behind"
    print("PASS")


def expect_event(client, label, name, **data):
    """Waits for event `name` whose data contains `data` on `client`."""
    deadline = time.time() + 20
    while time.time() < deadline:
        e = client.wait_event(name, timeout=max(0.1, deadline - time.time()))
        assert e is not None, f"monitor {label}: no {name} {data} (kept: {client.event_names()})"
        if all(e.get("data", {}).get(k) == v for k, v in data.items()):
            return e
    raise AssertionError(f"monitor {label}: no {name} {data}")


def run(socks, tmp):
    a = QmpClient(socks[0], timeout=30, connect_timeout=60, tag_ids=True)
    b = QmpClient(socks[1], timeout=30, connect_timeout=60, tag_ids=True)
    for c in (a, b):
        assert "QMP" in c.greeting, c.greeting

    # Both answer; the VM started by --run is running for both.
    for _ in range(100):
        if a.execute("query-status")["status"] == "running":
            break
        time.sleep(0.1)
    for c in (a, b):
        status = c.execute("query-status")
        assert status["status"] == "running" and status["running"] is True, status

    # A machine event from one monitor's command reaches both.
    a.execute("stop")
    for label, c in (("a", a), ("b", b)):
        expect_event(c, label, "STOP")
    assert b.execute("query-status")["status"] == "paused"
    a.execute("cont")
    for label, c in (("a", a), ("b", b)):
        expect_event(c, label, "RESUME")

    # The backup tool's monitor (b) starts a fleecing job on the VM's disk.
    nodes = b.execute("query-named-block-nodes")
    disk = [n for n in nodes if n["file"].endswith("/e2kvm/demo.qcow2")]
    assert disk, nodes
    node = disk[0]["node-name"]
    size = disk[0]["image"]["virtual-size"]
    fleece = f"{tmp}/fleece.qcow2"
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", fleece, str(size)], check=True)
    b.execute("blockdev-add", driver="qcow2", **{"node-name": "fleece"},
              file={"driver": "file", "filename": fleece}, backing=node)
    b.execute("blockdev-backup", **{"job-id": "fl"}, device=node, target="fleece", sync="none")
    for label, c in (("a", a), ("b", b)):
        expect_event(c, label, "JOB_STATUS_CHANGE", id="fl", status="running")
        jobs = c.execute("query-jobs")
        assert [j["id"] for j in jobs] == ["fl"], (label, jobs)
        assert jobs[0]["status"] == "running", (label, jobs)

    # The other monitor cancels it: both hear the end.
    a.execute("job-cancel", id="fl")
    for label, c in (("a", a), ("b", b)):
        expect_event(c, label, "BLOCK_JOB_CANCELLED", device="fl")
        expect_event(c, label, "JOB_STATUS_CHANGE", id="fl", status="null")
    for c in (a, b):
        assert c.execute("query-jobs") == []
    b.execute("blockdev-del", **{"node-name": "fleece"})

    # quit through one monitor ends the application; the other sees its connection close.
    a.execute("quit")
    deadline = time.time() + 30
    closed = False
    while time.time() < deadline and not closed:
        try:
            b.read()
        except (EOFError, ConnectionResetError):
            closed = True
        except TimeoutError:
            pass
    assert closed, "monitor b stayed open after quit"
    a.close()
    b.close()


if __name__ == "__main__":
    main()
