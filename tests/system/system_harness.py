"""Helpers shared by the e2kvm-system test scripts: a running e2kvm-system process with its
serial output collected, and a PPM screendump reader (python3 stdlib only; the QMP client is
tests/lib/qmp_client.py)."""
import signal
import subprocess
import threading
import time


class SystemProcess:
    """e2kvm-system with stdout (the serial port with -serial stdio) and stderr collected."""

    def __init__(self, argv, stdin_bytes=None, env=None):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, env=env)
        self.out = b""
        self.err = b""
        self.lock = threading.Lock()
        self.readers = [threading.Thread(target=self._pump, args=(self.proc.stdout, "out")),
                        threading.Thread(target=self._pump, args=(self.proc.stderr, "err"))]
        for t in self.readers:
            t.daemon = True
            t.start()
        if stdin_bytes is not None:
            self.write(stdin_bytes)

    def _pump(self, f, which):
        while True:
            chunk = f.read1(4096) if hasattr(f, "read1") else f.read(4096)
            if not chunk:
                return
            with self.lock:
                setattr(self, which, getattr(self, which) + chunk)

    def write(self, data):
        self.proc.stdin.write(data)
        self.proc.stdin.flush()

    def serial(self):
        with self.lock:
            return self.out.decode(errors="replace")

    def stderr(self):
        with self.lock:
            return self.err.decode(errors="replace")

    def wait_serial(self, text, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if text in self.serial():
                return True
            if self.proc.poll() is not None:
                time.sleep(0.1)
                return text in self.serial()
            time.sleep(0.02)
        return False

    def wait(self, timeout=20):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            rc = None
        for t in self.readers:
            t.join(5)
        return rc

    def terminate(self, sig=signal.SIGTERM):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def check_shutdown(check, proc, qmp, reason, event_timeout, exit_timeout, what):
    """Checks the end of an e2kvm-system run: a SHUTDOWN event with `reason` (not from the guest)
    within event_timeout seconds and exit code 0 within exit_timeout; closes the QMP client."""
    e = qmp.wait_event("SHUTDOWN", event_timeout)
    check(e is not None and e["data"] == {"guest": False, "reason": reason},
          "%sSHUTDOWN %s: %r" % (what, reason, e))
    rc = proc.wait(exit_timeout)
    check(rc == 0, "%sexit code 0 after SHUTDOWN %s, got %r" % (what, reason, rc))
    qmp.close()
    return rc


def read_ppm(path):
    """Decodes a binary PPM (P6, maxval 255): returns (width, height, pixel(x, y) -> (r, g, b))."""
    data = open(path, "rb").read()
    fields, pos = [], 0
    while len(fields) < 4:
        if pos >= len(data):
            raise ValueError("%s: truncated PPM header" % path)
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while end < len(data) and not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    if fields[0] != b"P6" or fields[3] != b"255":
        raise ValueError("%s: not a binary PPM with maxval 255" % path)
    width, height = int(fields[1]), int(fields[2])
    pixels = data[pos + 1:]
    if len(pixels) < width * height * 3:
        raise ValueError("%s: truncated" % path)

    def pixel(x, y):
        i = (y * width + x) * 3
        return tuple(pixels[i:i + 3])
    return width, height, pixel


def read_results(stdout):
    """What HMP qemu-io reads printed on the process's stdout (as QEMU prints them), in order:
    True for a read whose pattern matched."""
    results, failed = [], False
    for line in stdout.decode(errors="replace").splitlines():
        if line.startswith("Pattern verification failed"):
            failed = True
        elif line.startswith("read ") and " bytes at offset " in line:
            results.append(not failed)
            failed = False
    return results
