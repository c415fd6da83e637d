"""SHA-256 of a file's contents, read in 1 MiB blocks, for test scripts that compare images
written by two tools."""
import hashlib


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()
