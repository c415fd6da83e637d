#!/usr/bin/env python3
"""Self-test of the shared Python test library (tests/lib): the Checker's record and exit
status, run()'s failures and timeouts, peers.require()'s skip, the process and socket helpers, and the QMP client
against a scripted QMP server on a unix socket. usage: selftest.py"""
import io
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from checks import Checker, CommandFailed, run  # noqa: E402
from peers import SKIP_RETURN_CODE, missing  # noqa: E402
from processes import ServerNotStarted, ServerProcess, free_port, wait_for_path  # noqa: E402
from qmp_client import QmpClient, QmpError, QmpProtocolError  # noqa: E402


class CheckerTest(unittest.TestCase):
    def test_records_failures_and_exit_status(self):
        out = io.StringIO()
        c = Checker(out)
        self.assertTrue(c.check(True, "fine"))
        self.assertEqual(c.exit_status(None), 0)
        self.assertFalse(c.check(False, "broken thing"))
        c.same("outputs", "a", "b", "qemu", "ours")
        self.assertEqual(c.failures, ["broken thing", "outputs"])
        self.assertIn("FAIL: broken thing", out.getvalue())
        self.assertIn("--- qemu\na\n--- ours\nb", out.getvalue())
        self.assertEqual(c.exit_status("passed", "{count} failed: {failures}"), 1)
        self.assertIn("2 failed: ['broken thing', 'outputs']", out.getvalue())

    def test_deferred_failures_print_with_the_summary(self):
        out = io.StringIO()
        c = Checker(out, deferred=True, separator="|")
        c.check(False, "one")
        c.fail("two")
        self.assertEqual(out.getvalue(), "")
        self.assertEqual(c.exit_status("ok", "{count} bad"), 1)
        self.assertEqual(out.getvalue(), "one|two\n2 bad\n")


class RunTest(unittest.TestCase):
    def test_failure_raises_with_output(self):
        with self.assertRaises(CommandFailed) as e:
            run("sh", "-c", "echo oops >&2; exit 3")
        self.assertIn("(3): oops", str(e.exception))
        self.assertEqual(run(["sh", "-c", "exit 4"], ok=False).returncode, 4)

    def test_timeout_and_text(self):
        with self.assertRaises(subprocess.TimeoutExpired):
            run("sleep", "5", timeout=0.3)
        p = run("sh", "-c", "printf 'a\\377b'; cat", stdin="in")
        self.assertEqual(p.stdout, "a\ufffdbin")


class PeersTest(unittest.TestCase):
    LIB = os.path.dirname(os.path.abspath(__file__))

    def require_in_child(self, *tools):
        code = f"import peers; peers.require(*{tools!r}); print('ran')"
        return subprocess.run([sys.executable, "-c", code], cwd=self.LIB, capture_output=True,
                              text=True, timeout=30)

    def test_missing_tool_skips_with_the_skip_code(self):
        absent = "e2kvm-no-such-peer"
        self.assertEqual(missing("sh", absent), [absent])
        p = self.require_in_child("sh", absent)
        self.assertEqual(p.returncode, SKIP_RETURN_CODE)
        self.assertEqual(SKIP_RETURN_CODE, 77)
        self.assertIn(f"SKIP: {absent} not found on PATH", p.stdout)
        self.assertNotIn("ran", p.stdout)

    def test_present_tools_let_the_test_run(self):
        p = self.require_in_child("sh")
        self.assertEqual((p.returncode, p.stdout), (0, "ran\n"))

    def test_shell_helper_skips_the_same_way(self):
        sh = os.path.join(self.LIB, "peers.sh")
        p = subprocess.run(["bash", "-c", f'. "{sh}"; require_peers sh e2kvm-no-such-peer; '
                            "echo ran"], capture_output=True, text=True, timeout=30)
        self.assertEqual(p.returncode, SKIP_RETURN_CODE)
        self.assertIn("SKIP: e2kvm-no-such-peer not found on PATH", p.stdout)
        p = subprocess.run(["bash", "-c", f'. "{sh}"; require_peers sh; echo ran'],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual((p.returncode, p.stdout), (0, "ran\n"))


class ProcessesTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmp.cleanup)

    def test_free_port_can_be_bound(self):
        s = socket.socket()
        s.bind(("127.0.0.1", free_port()))
        s.close()

    def test_wait_for_path_gives_up(self):
        missing = os.path.join(self.tmp.name, "never")
        start = time.time()
        self.assertFalse(wait_for_path(missing, timeout=0.2))
        self.assertLess(time.time() - start, 5)
        p = subprocess.Popen(["true"])
        p.wait()
        self.assertFalse(wait_for_path(missing, proc=p, timeout=30))

    def test_server_that_exits_is_reported_with_stderr(self):
        sock = os.path.join(self.tmp.name, "s")
        with self.assertRaises(ServerNotStarted) as e:
            ServerProcess(["sh", "-c", "echo no-such-image >&2; exit 1"], unix_socket=sock)
        self.assertIn("exited: no-such-image", str(e.exception))
        with self.assertRaises(ServerNotStarted) as e:
            ServerProcess(["sleep", "30"], unix_socket=sock, start_timeout=0.2)
        self.assertIn("did not listen", str(e.exception))

    def test_tcp_server_ready_then_stopped(self):
        port = free_port()
        code = ("import socket,time\ns=socket.socket()\ns.bind(('127.0.0.1',%d))\ns.listen()\n"
                "time.sleep(60)" % port)
        with ServerProcess([sys.executable, "-c", code], tcp_port=port) as srv:
            self.assertTrue(srv.running())
        self.assertEqual(srv.proc.returncode, -signal.SIGTERM)

    def test_stop_raises_when_asked_and_the_server_ignores_sigterm(self):
        srv = ServerProcess(["sh", "-c", "trap '' TERM; sleep 30"])
        time.sleep(0.2)
        with self.assertRaises(subprocess.TimeoutExpired):
            srv.stop(timeout=0.3, kill_on_timeout=False)
        self.assertEqual(srv.proc.returncode, -signal.SIGKILL)


class ScriptedQmpServer(threading.Thread):
    """Answers one connection: greeting, then each command through `reply(msg)` -> a list of
    messages to send."""

    def __init__(self, path, reply):
        super().__init__(daemon=True)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(1)
        self.reply = reply

    def run(self):
        conn, _ = self.listener.accept()
        f = conn.makefile("rwb")
        f.write(b'{"QMP": {"version": {}, "capabilities": ["oob"]}}\n')
        f.flush()
        for line in f:
            for msg in self.reply(json.loads(line)):
                f.write(json.dumps(msg).encode() + b"\n")
                f.flush()
        conn.close()


def scripted_reply(msg):
    cmd = msg["execute"]
    tag = {"id": msg["id"]} if "id" in msg else {}
    if cmd == "qmp_capabilities":
        return [dict(tag, **{"return": {}})]
    if cmd == "stop":
        return [{"event": "STOP", "data": {}}, dict(tag, **{"return": {}})]
    if cmd == "query-name":
        return [dict(tag, **{"return": {"name": msg.get("arguments", {}).get("echo")}})]
    if cmd == "wrong-id":
        return [{"return": {}, "id": "other"}]
    return [dict(tag, error={"class": "CommandNotFound", "desc": f"no {cmd}"})]


class QmpClientTest(unittest.TestCase):
    def connect(self, **kw):
        tmp = tempfile.TemporaryDirectory()
        self.addCleanup(tmp.cleanup)
        path = os.path.join(tmp.name, "qmp.sock")
        ScriptedQmpServer(path, scripted_reply).start()
        q = QmpClient(path, timeout=5, **kw)
        self.addCleanup(q.close)
        return q

    def test_commands_errors_and_events(self):
        q = self.connect()
        self.assertEqual(q.greeting["QMP"]["capabilities"], ["oob"])
        self.assertEqual(q.execute("query-name", echo="vm"), {"name": "vm"})
        with self.assertRaises(QmpError) as e:
            q.execute("nosuch")
        self.assertEqual((e.exception.error_class, e.exception.desc),
                         ("CommandNotFound", "no nosuch"))
        self.assertEqual(q.cmd("stop"), {"return": {}})
        self.assertEqual(q.event_names(), ["STOP"])
        self.assertEqual(q.wait_event("STOP", 1)["event"], "STOP")
        start = time.time()
        self.assertIsNone(q.wait_event("STOP", 0.3))
        self.assertLess(time.time() - start, 3)

    def test_tagged_replies_must_echo_the_id(self):
        q = self.connect(tag_ids=True)
        self.assertEqual(q.execute("query-name", echo="x"), {"name": "x"})
        with self.assertRaises(QmpProtocolError):
            q.cmd("wrong-id")

    def test_no_server(self):
        with tempfile.TemporaryDirectory() as tmp:
            with self.assertRaises(OSError):
                QmpClient(os.path.join(tmp, "none"), connect_timeout=0.2)


if __name__ == "__main__":
    unittest.main()
