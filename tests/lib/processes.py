"""Processes and sockets for the Python test scripts: a free loopback TCP port, waiting for a
unix socket or a TCP listener to appear, and ServerProcess, a server started for a test that
is stopped (SIGTERM, then SIGKILL) when the test leaves it (python3 stdlib only)."""
import os
import signal
import socket
import subprocess
import time


def free_port():
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_for_path(path, proc=None, timeout=10, step=0.02):
    """Waits until `path` exists; False after `timeout` seconds or once `proc` has exited."""
    deadline = time.time() + timeout
    while not os.path.exists(path):
        if proc is not None and proc.poll() is not None:
            return False
        if time.time() > deadline:
            return False
        time.sleep(step)
    return True


def wait_for_tcp(port, host="127.0.0.1", proc=None, timeout=10, step=0.05):
    """Waits until a connection to host:port succeeds; False after `timeout` seconds or once
    `proc` has exited."""
    deadline = time.time() + timeout
    while True:
        try:
            socket.create_connection((host, port), timeout=1).close()
            return True
        except OSError:
            if (proc is not None and proc.poll() is not None) or time.time() > deadline:
                return False
            time.sleep(step)


class ServerNotStarted(RuntimeError):
    """A server exited, or did not start listening, before the test could use it."""


class ServerProcess:
    """A server process for one test: started with stdout dropped and stderr in a text pipe by
    default (pass None to inherit either), ready once `unix_socket` exists or `tcp_port`
    accepts connections (else ServerNotStarted with its stderr), stopped by stop() or on
    leaving a `with` block; a stale socket file is removed before the start and after the
    stop."""

    def __init__(self, argv, unix_socket=None, tcp_port=None, start_timeout=10,
                 stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=None):
        self.argv = list(argv)
        self.unix_socket = unix_socket
        self.port = tcp_port
        self._remove_socket()
        self.proc = subprocess.Popen(self.argv, stdout=stdout, stderr=stderr,
                                     text=True, errors="replace", env=env)
        if unix_socket is not None:
            ready = wait_for_path(unix_socket, self.proc, start_timeout)
            where = unix_socket
        elif tcp_port is not None:
            ready = wait_for_tcp(tcp_port, proc=self.proc, timeout=start_timeout)
            where = f"127.0.0.1:{tcp_port}"
        else:
            ready = True
        if not ready:
            exited = self.proc.poll() is not None
            self.stop()
            state = "exited" if exited else f"did not listen on {where} in {start_timeout} s"
            raise ServerNotStarted(f"{' '.join(self.argv)} {state}: {self.stderr_text()}")

    def _remove_socket(self):
        if self.unix_socket is not None and os.path.exists(self.unix_socket):
            os.unlink(self.unix_socket)

    def running(self):
        return self.proc.poll() is None

    def wait(self, timeout):
        """Waits for the server to exit by itself; subprocess.TimeoutExpired if it does not."""
        return self.proc.wait(timeout=timeout)

    def stop(self, sig=signal.SIGTERM, timeout=10, kill_on_timeout=True):
        """Sends `sig` if the server still runs and returns its exit status. If it does not exit
        within `timeout` seconds it is killed (kill_on_timeout) or TimeoutExpired is raised."""
        try:
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                if not kill_on_timeout:
                    raise
                return self.proc.returncode
        finally:
            self._remove_socket()

    def kill(self):
        """Ends the server at once (SIGKILL) if it still runs."""
        return self.stop(signal.SIGKILL)

    def stderr_text(self):
        """What the server wrote to stderr; only once it has exited."""
        if self.proc.stderr is None or self.proc.poll() is None:
            return ""
        return self.proc.stderr.read()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
        for pipe in (self.proc.stdout, self.proc.stderr):
            if pipe is not None:
                pipe.close()
