#!/usr/bin/env python3
"""A block-commit's filter-node-name as a node while the job runs, next to qemu-system-x86_64
(-machine none -nodefaults) given the same QMP, as QEMU's iotest 258 uses it:
a five-layer chain (raw n0, qcow2 n1..n4 linked by blockdev-add), block-commit of n1 into n0
(device n4, filter-node-name "commit-filter", auto-finalize off), then block-stream into n3
with the filter as base-node (n2 is copied into n3), in both orders of finishing:
1. the stream ends first (n3 then leads to the filter's top), then the commit is finalized
   and n3 follows onto n0;
2. the commit ends first (the stream waits for job-finalize), then the stream ends on n0.
Compared: the answers, the named nodes and their drivers while the jobs run, the job events,
the backing links of x-debug-query-block-graph by node name afterwards, the filter being
gone, and each image's backing file name and map afterwards.
usage: system_commit_filter.py E2KVM_SYSTEM"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib"))
from checks import Checker, run  # noqa: E402
import peers  # noqa: E402
from qmp_client import QmpClient  # noqa: E402

SKIP = 77
SYSTEM = sys.argv[1]
QEMU = shutil.which("qemu-system-x86_64")
checker = Checker(sys.stderr)
if peers.missing("qemu-system-x86_64", "qemu-img", "qemu-io"):
    print("SKIP: needs qemu-system-x86_64, qemu-img and qemu-io")
    sys.exit(SKIP)

MiB = 1 << 20


class Vm:
    def __init__(self, prog, tmp):
        self.tmp = tmp
        sock = os.path.join(tmp, "qmp.sock")
        argv = [prog, "-machine", "none", "-nodefaults", "-display", "none"]
        if prog != QEMU:
            argv += ["-serial", "none", "-S"]
        argv += ["-qmp", "unix:%s,server=on,wait=off" % sock]
        self.proc = subprocess.Popen(argv, stdout=subprocess.PIPE)
        self.qmp = QmpClient(sock, timeout=60)

    def cmd(self, command, **args):
        r = self.qmp.cmd(command, **args)
        return json.loads(json.dumps(r).replace(self.tmp, "TMP"))

    def wait_status(self, jid, status, timeout=60):
        """Waits until job `jid` reports `status` (or, for "null", is gone)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            jobs = {j["id"]: j["status"] for j in self.cmd("query-jobs")["return"]}
            if jobs.get(jid, "null") == status:
                return True
            time.sleep(0.05)
        return False

    def events(self, jid):
        """The end events of job `jid` so far (its status changes in between depend on timing)."""
        self.qmp.cmd("query-version")
        out = []
        for e in list(self.qmp.events):
            d = e["data"]
            if e["event"] in ("BLOCK_JOB_COMPLETED", "BLOCK_JOB_PENDING", "BLOCK_JOB_ERROR") and \
                    d.get("id", d.get("device")) == jid:
                out.append((e["event"], d))
                self.qmp.events.remove(e)
        return out

    def named(self):
        """The named nodes (not the protocol nodes, which e2kvm does not list) and drivers."""
        return sorted((n["node-name"], n["drv"])
                      for n in self.cmd("query-named-block-nodes")["return"]
                      if n["drv"] != "file")

    def backing_links(self):
        g = self.cmd("x-debug-query-block-graph")
        if "return" not in g:
            return g
        names = {n["id"]: n["name"] for n in g["return"]["nodes"]}
        return sorted((names[e["parent"]], names[e["child"]]) for e in g["return"]["edges"]
                      if e["name"] == "backing" and not names[e["parent"]].startswith("#"))

    def quit(self):
        self.qmp.cmd("quit")
        self.proc.communicate(timeout=30)


def chain(p):
    node = {"node-name": "n0", "driver": "raw",
            "file": {"driver": "file", "filename": p("n0.img")}}
    for i in range(1, 5):
        node = {"node-name": "n%d" % i, "driver": "qcow2", "backing": node,
                "file": {"driver": "file", "filename": p("n%d.img" % i)}}
    return node


def scenario(prog, tmp, stream_first):
    out = {}
    p = lambda n: os.path.join(tmp, n)  # noqa: E731
    run("qemu-img", "create", "-f", "raw", p("n0.img"), str(4 * MiB))
    for i in range(1, 5):
        run("qemu-img", "create", "-f", "qcow2", p("n%d.img" % i), str(4 * MiB))
    run("qemu-io", "-f", "qcow2", "-c", "write -P 0x11 1M 64k", p("n1.img"))
    run("qemu-io", "-f", "qcow2", "-c", "write -P 0x22 2M 64k", "-c", "write -P 0x23 3M 64k",
        p("n2.img"))
    vm = Vm(prog, tmp)
    try:
        out["add"] = vm.cmd("blockdev-add", **chain(p))
        out["commit"] = vm.cmd("block-commit", **{
            "job-id": "commit", "device": "n4", "top-node": "n1", "base-node": "n0",
            "filter-node-name": "commit-filter", "auto-finalize": False})
        out["nodes while committing"] = vm.named()
        out["filter name taken"] = vm.cmd("blockdev-add", **{
            "node-name": "commit-filter", "driver": "null-co"})
        out["stream"] = vm.cmd("block-stream", **{
            "job-id": "stream", "device": "n3", "base-node": "commit-filter",
            "auto-finalize": stream_first})
        if stream_first:
            out["stream done"] = vm.wait_status("stream", "null")
            out["stream events"] = vm.events("stream")
            out["links after stream"] = vm.backing_links()
            out["commit pending"] = vm.wait_status("commit", "pending")
            out["finalize commit"] = vm.cmd("job-finalize", id="commit")
            out["commit done"] = vm.wait_status("commit", "null")
            out["commit events"] = vm.events("commit")
        else:
            out["commit pending"] = vm.wait_status("commit", "pending")
            out["stream pending"] = vm.wait_status("stream", "pending")
            out["finalize commit"] = vm.cmd("job-finalize", id="commit")
            out["commit done"] = vm.wait_status("commit", "null")
            out["commit events"] = vm.events("commit")
            out["finalize stream"] = vm.cmd("job-finalize", id="stream")
            out["stream done"] = vm.wait_status("stream", "null")
            out["stream events"] = vm.events("stream")
        out["links at the end"] = vm.backing_links()
        out["nodes at the end"] = vm.named()
        out["filter gone"] = vm.cmd("block-stream", **{
            "job-id": "s2", "device": "n4", "base-node": "commit-filter"})
    finally:
        vm.quit()
    for i in range(1, 5):
        f = p("n%d.img" % i)
        info = json.loads(run("qemu-img", "info", "-U", "--output=json", f).stdout)
        out["backing of n%d" % i] = json.loads(json.dumps(
            {k: info.get(k) for k in ("backing-filename", "backing-filename-format")}
        ).replace(tmp, "TMP"))
        m = json.loads(run("qemu-img", "map", "-U", "--output=json", "-f", "qcow2", f).stdout)
        out["map of n%d" % i] = [{k: e.get(k) for k in ("start", "length", "data", "zero",
                                                        "depth")} for e in m]
    return out


tmp = tempfile.mkdtemp(prefix="e2kvm-cfilter-")
try:
    for stream_first in (True, False):
        results = {}
        for who, prog in (("qemu", QEMU), ("ours", SYSTEM)):
            d = os.path.join(tmp, "%s-%d" % (who, stream_first))
            os.makedirs(d)
            results[who] = scenario(prog, d, stream_first)
        checker.same("commit filter (%s first)" % ("stream" if stream_first else "commit"),
                     json.dumps(results["qemu"], indent=1, sort_keys=True),
                     json.dumps(results["ours"], indent=1, sort_keys=True),
                     "qemu-system", "e2kvm-system")
        if os.environ.get("E2KVM_TEST_VERBOSE"):
            print(json.dumps(results["ours"], indent=1, sort_keys=True))
finally:
    shutil.rmtree(tmp, ignore_errors=True)
sys.exit(checker.exit_status("system_commit_filter: all checks passed"))
