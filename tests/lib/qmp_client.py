"""A QMP client for the Python test scripts: connects to a unix socket (retrying until the
server has created it), reads the greeting, negotiates capabilities, sends commands and keeps
the events that arrive meanwhile for wait_event() (python3 stdlib only)."""
import json
import socket
import time


class QmpError(RuntimeError):
    """A command answered with an error: `error_class` and `desc` as QMP gave them."""

    def __init__(self, command, error_class, desc):
        super().__init__(f"{command}: {error_class}: {desc}")
        self.command = command
        self.error_class = error_class
        self.desc = desc


class QmpProtocolError(RuntimeError):
    """The server sent something that is not a reply to the command just sent."""


class QmpClient:
    """One QMP connection. cmd() returns the raw reply (for tests that check error replies
    exactly); execute() returns the reply's "return" or raises QmpError. With tag_ids each
    command carries a fresh "id" that its reply must echo."""

    def __init__(self, path, timeout=20, connect_timeout=None, negotiate=True, tag_ids=False):
        deadline = time.time() + (timeout if connect_timeout is None else connect_timeout)
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            try:
                self.sock.connect(path)
                break
            except OSError:
                self.sock.close()
                if time.time() > deadline:
                    raise
                time.sleep(0.05)
        self.timeout = timeout
        self.file = self.sock.makefile("rb")
        self.events = []
        self.tag_ids = tag_ids
        self.next_id = 0
        self.greeting = None
        if negotiate:
            self.greeting = self.read()
            r = self.cmd("qmp_capabilities")
            if {k: v for k, v in r.items() if k != "id"} != {"return": {}}:
                raise QmpProtocolError(f"qmp_capabilities: {r!r}")

    def read(self):
        """The next message from the server, decoded."""
        line = self.file.readline()
        if not line:
            raise EOFError("QMP connection closed")
        return json.loads(line)

    def send(self, command, **args):
        msg = {"execute": command}
        if args:
            msg["arguments"] = args
        if self.tag_ids:
            self.next_id += 1
            msg["id"] = f"{command}-{self.next_id}"
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        return msg.get("id")

    def send_raw(self, data):
        """Sends bytes as they are (a hand-written message)."""
        self.sock.sendall(data)

    def cmd(self, command, **args):
        """Sends a command and returns its reply; events read meanwhile are kept."""
        tag = self.send(command, **args)
        while True:
            r = self.read()
            if "event" in r:
                self.events.append(r)
                continue
            if self.tag_ids and r.get("id") != tag:
                raise QmpProtocolError(f"{command}: reply without id {tag!r}: {r!r}")
            return r

    def execute(self, command, **args):
        """Sends a command and returns its "return" value; QmpError for an error reply."""
        r = self.cmd(command, **args)
        if "error" in r:
            raise QmpError(command, r["error"].get("class"), r["error"].get("desc"))
        if "return" not in r:
            raise QmpProtocolError(f"{command}: reply without return: {r!r}")
        return r["return"]

    def event_names(self):
        """Names of the events received and not yet taken by wait_event()."""
        return [e["event"] for e in self.events]

    def wait_event(self, name, timeout=20):
        """The first event called `name` (kept earlier or arriving within `timeout` seconds),
        removed from the queue; None if none arrives in time or the connection closes."""
        deadline = time.time() + timeout
        try:
            while True:
                for e in self.events:
                    if e["event"] == name:
                        self.events.remove(e)
                        return e
                self.sock.settimeout(max(0.1, deadline - time.time()))
                try:
                    r = self.read()
                except EOFError:
                    return None
                except socket.timeout:
                    if time.time() >= deadline:
                        return None
                    continue
                if "event" in r:
                    self.events.append(r)
        finally:
            self.sock.settimeout(self.timeout)

    def close(self):
        try:
            self.file.close()
            self.sock.close()
        except OSError:
            pass


def reply_checks(check):
    """ok(reply, what) and err(reply, desc, what, cls="GenericError"): check a QMP reply with
    `check` (a Checker's check) for success, or for exactly this error."""
    def ok(r, what):
        check(r == {"return": {}}, "%s: %r" % (what, r))

    def err(r, desc, what, cls="GenericError"):
        check(r.get("error") == {"class": cls, "desc": desc},
              "%s: expected error %r, got %r" % (what, desc, r))
    return ok, err
