#!/usr/bin/env python3
"""Builds small qcow2 images byte by byte (python3 struct, no QEMU): one valid image and a
corpus of corrupt variants, each with a regular expression the opener's error must match.
usage: qcow2_corpus.py OUTDIR   writes valid.qcow2 and one file per corrupt case."""
import os
import struct
import sys

CLUSTER_BITS = 16
CLUSTER = 1 << CLUSTER_BITS
DISK_SIZE = 4 << 20
COPIED = 1 << 63
HEADER_LENGTH = 112

# Cluster layout of the valid image.
REFTABLE, REFBLOCK, L1, L2, DATA = 1, 2, 3, 4, 5
NCLUSTERS = 6


def header(**over):
    f = dict(magic=0x514649FB, version=3, backing_offset=0, backing_size=0,
             cluster_bits=CLUSTER_BITS, size=DISK_SIZE, crypt=0, l1_size=1,
             l1_offset=L1 * CLUSTER, reftable_offset=REFTABLE * CLUSTER, reftable_clusters=1,
             nb_snapshots=0, snapshots_offset=0, incompat=0, compat=0, autoclear=0,
             refcount_order=4, header_length=HEADER_LENGTH, compression_type=0)
    f.update(over)
    return struct.pack(">IIQIIQIIQQIIQQQQIIB7x", f["magic"], f["version"], f["backing_offset"],
                       f["backing_size"], f["cluster_bits"], f["size"], f["crypt"], f["l1_size"],
                       f["l1_offset"], f["reftable_offset"], f["reftable_clusters"],
                       f["nb_snapshots"], f["snapshots_offset"], f["incompat"], f["compat"],
                       f["autoclear"], f["refcount_order"], f["header_length"],
                       f["compression_type"])


def extension(kind, data, declared_length=None):
    length = len(data) if declared_length is None else declared_length
    padded = data + b"\0" * (-len(data) % 8)
    return struct.pack(">II", kind, length) + padded


def image(header_bytes=None, extensions=b"", backing=b"", l1_entry=None, l2_entry=None,
          reftable_entry=None):
    """A valid image unless arguments say otherwise: data cluster 0 of the disk = 0xab."""
    buf = bytearray(NCLUSTERS * CLUSTER)
    ext_end = extensions + struct.pack(">II", 0, 0)
    if backing:
        off = HEADER_LENGTH + len(ext_end)
        hdr = header_bytes or header(backing_offset=off, backing_size=len(backing))
    else:
        hdr = header_bytes or header()
    body = hdr + ext_end + backing
    buf[0:len(body)] = body
    struct.pack_into(">Q", buf, REFTABLE * CLUSTER,
                     REFBLOCK * CLUSTER if reftable_entry is None else reftable_entry)
    for c in range(NCLUSTERS):
        struct.pack_into(">H", buf, REFBLOCK * CLUSTER + 2 * c, 1)
    struct.pack_into(">Q", buf, L1 * CLUSTER, (L2 * CLUSTER | COPIED) if l1_entry is None
                     else l1_entry)
    struct.pack_into(">Q", buf, L2 * CLUSTER, (DATA * CLUSTER | COPIED) if l2_entry is None
                     else l2_entry)
    buf[DATA * CLUSTER:(DATA + 1) * CLUSTER] = b"\xab" * CLUSTER
    return bytes(buf)


def cases():
    """name -> (bytes or callable(dir) writing the file, error regex)."""
    far = 1 << 40
    return {
        "l1-past-eof": (image(header(l1_offset=far)), r"L1"),
        "l2-past-eof": (image(l2_entry=None, l1_entry=far | COPIED), r"L2"),
        "refcount-table-overlaps-header": (image(header(reftable_offset=0)),
                                           r"(?i)refcount|reference count|overlap"),
        "cluster-bits-40": (image(header(cluster_bits=40)), r"(?i)cluster"),
        "l1-size-2g": (image(header(l1_size=1 << 31)), r"L1"),
        "huge-refcount-table": (image(header(reftable_clusters=0xFFFFFFFF)),
                                "(?i)refcount|reference count"),
        "backing-name-too-long": (image(header(backing_offset=HEADER_LENGTH + 8,
                                               backing_size=2000)), r"(?i)backing"),
        "truncated-header": (image()[:50], r"(?i)header|truncat|short|end of file"),
        "truncated-in-l1": (image()[:L1 * CLUSTER + 4], r"(?i)L1|truncat|end of file|short"),
        "header-length-garbage": (image(header(header_length=0xFFFFFFF0)), r"(?i)header"),
        "unknown-incompatible-bit": (image(header(incompat=1 << 40)),
                                     r"(?i)incompatible|unsupported|feature"),
        "extension-past-cluster": (image(extensions=extension(0x12345678, b"x" * 16,
                                                               declared_length=0x20000)),
                                   r"(?i)extension"),
        "refcount-order-7": (image(header(refcount_order=7)), r"(?i)refcount|reference count"),
        "l1-unaligned": (image(header(l1_offset=L1 * CLUSTER + 8)), r"L1"),
        "l2-entry-unaligned": (image(l2_entry=(DATA * CLUSTER + 512) | COPIED),
                               r"(?i)L2|cluster|offset|align"),
        "size-needs-bigger-l1": (image(header(size=1 << 50)), r"(?i)L1|size"),
        "unknown-compression-type": (image(header(compression_type=9, incompat=1 << 3)),
                                     r"(?i)compression"),
        "encrypted": (image(header(crypt=1)), r"(?i)encrypt"),
        "version-9": (image(header(version=9)), r"(?i)version"),
        # (A table past the end of the file reads as zeros, as in QEMU: not corrupt.)
        "snapshot-table-unaligned": (image(header(nb_snapshots=1, snapshots_offset=far + 8)),
                                     r"(?i)snapshot"),
        "data-cluster-past-eof": (image(l2_entry=far | COPIED), r"(?i)past|beyond|end of"),
    }


def backing_loop(outdir):
    """a.qcow2 names b.qcow2 as its backing file and b names a."""
    for me, other in (("loop-a.qcow2", b"loop-b.qcow2"), ("loop-b.qcow2", b"loop-a.qcow2")):
        with open(os.path.join(outdir, me), "wb") as f:
            f.write(image(backing=other))
    return os.path.join(outdir, "loop-a.qcow2")


def backing_self(outdir):
    path = os.path.join(outdir, "self-backing.qcow2")
    with open(path, "wb") as f:
        f.write(image(backing=b"self-backing.qcow2"))
    return path


LOOP_REGEX = r"(?i)loop|itself|circular|chain|recurs"


def write_corpus(outdir):
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "valid.qcow2"), "wb") as f:
        f.write(image())
    written = {}
    for name, (data, regex) in cases().items():
        path = os.path.join(outdir, name + ".qcow2")
        with open(path, "wb") as f:
            f.write(data)
        written[name] = (path, regex)
    written["backing-loop"] = (backing_loop(outdir), LOOP_REGEX)
    written["backing-self"] = (backing_self(outdir), LOOP_REGEX)
    return written


if __name__ == "__main__":
    for name, (path, _) in write_corpus(sys.argv[1]).items():
        print(path)
