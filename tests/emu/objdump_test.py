#!/usr/bin/env python3
"""e2kvm-objdump on a relocatable object: -t, -h and -r print what MCST's objdump prints for
the same object (objdump/symbols.expected was written by MCST's e2k-linux-objdump from
e2kvm-as's assembly of objdump/symbols.s); -dr labels the code with its symbols and shows the
relocation after the bundle it patches; broken files give an error naming the problem, not a
crash; fapb instructions (array prefetch programs) print as MCST's objdump prints them. With
E2K_OBJDUMP set to MCST's objdump, the same three listings are also compared with
it directly.

Usage: objdump_test.py E2KVM_OBJDUMP E2KVM_AS SOURCE_DIR"""
import os
import struct
import subprocess
import sys
import tempfile


def run(*args):
    return subprocess.run(args, capture_output=True, text=True, timeout=60)


def check(cond, what):
    if not cond:
        print("FAIL:", what)
        sys.exit(1)


def main():
    objdump, assembler, src_dir = sys.argv[1:4]
    source = os.path.join(src_dir, "objdump", "symbols.s")
    expected = open(os.path.join(src_dir, "objdump", "symbols.expected")).read()
    with tempfile.TemporaryDirectory() as d:
        obj = os.path.join(d, "s.o")
        r = run(assembler, "-o", obj, source)
        check(r.returncode == 0, f"e2kvm-as: {r.stderr}")
        listing = ""
        for flag in ("-t", "-h", "-r"):
            r = run(objdump, flag, obj)
            check(r.returncode == 0, f"{flag}: {r.stderr}")
            listing += r.stdout.replace(obj + ":", "FILE:")
        if listing != expected:
            print("--- expected\n" + expected + "--- e2kvm-objdump\n" + listing)
            check(False, "-t/-h/-r listings differ from MCST objdump's")

        peer = os.environ.get("E2K_OBJDUMP")
        if peer and os.path.exists(peer):
            for flag in ("-t", "-h", "-r"):
                check(run(objdump, flag, obj).stdout == run(peer, flag, obj).stdout,
                      f"{flag} differs from {peer}")
            print("compared with", peer)

        r = run(objdump, "-dr", obj)
        check(r.returncode == 0, f"-dr: {r.stderr}")
        out = r.stdout
        check("Disassembly of section .text:" in out, out)
        check("0000000000000000 <main>:" in out, "label of main: " + out)
        check("0000000000000020 <loop>:" in out, "label of loop: " + out)
        check("\t\t\t18: R_E2K_64_ABS_LIT\t.rodata\n" in out, "relocation line: " + out)
        check(out.index("<main>:") < out.index("R_E2K_64_ABS_LIT") < out.index("<loop>:"),
              "relocation after its bundle: " + out)
        check("table" not in out.split("Disassembly")[1], "no label from .rodata in .text")

        # Array prefetch program instructions (fapb) read as MCST's objdump prints them
        # (its text for these bytes), and --source gives fapb back.
        apb_src = os.path.join(d, "apb.s")
        open(apb_src, "w").write(
            "    .text\n    nop\naau:\n"
            "    { fapb ct=1, dcd=0, fmt=1, mrng=8, d=0, incr=0, ind=0, asz=1, abs=0, disp=0 }\n"
            "    { fapb ct=0, dcd=1, fmt=2, mrng=3, d=5, incr=2, ind=3, asz=5, abs=3, disp=7;"
            " fapb dpl=1, fmt=5, disp=-1 }\n")
        apb_obj = os.path.join(d, "apb.o")
        r = run(assembler, "-o", apb_obj, apb_src)
        check(r.returncode == 0, f"e2kvm-as fapb: {r.stderr}")
        r = run(objdump, "-d", apb_obj)
        check(r.returncode == 0, f"-d fapb: {r.stderr}")
        for line in [
                "       8:  apb ct=1, dcd=0, fmt=1, mrng=8, d=0, incr=0, ind=0, asz=1, abs=0, "
                "disp=0x0\n           apb dpl=0, fmt=0\n",
                "      18:  apb ct=0, dcd=1, fmt=2, mrng=3, d=5, incr=2, ind=3, asz=5, abs=3, "
                "disp=0x7\n           apb dpl=1, dcd=0, fmt=5, mrng=0, d=0, incr=0, ind=0, "
                "asz=0, abs=0, disp=0xffffffff\n",
                "          1432a3a3 00000007 8a000000 ffffffff \n"]:
            check(line in r.stdout, f"fapb listing lacks {line!r}: {r.stdout}")
        r = run(objdump, "-d", "--source", apb_obj)
        check("{ fapb ct=1, dcd=0, fmt=1, mrng=8, d=0, incr=0, ind=0, asz=1, abs=0, disp=0x0; "
              "fapb dpl=0, fmt=0 }" in r.stdout, f"fapb source: {r.stdout}")

        # Broken files: a clear error and exit status 1.
        data = bytearray(open(obj, "rb").read())
        shoff = struct.unpack_from("<Q", data, 40)[0]
        cases = {
            "truncated": bytes(data[:100]),
            "not elf": b"hello world" * 10,
            "section past end": bytes(data[:shoff]) + bytes(
                data[shoff:shoff + 64 + 24]) + struct.pack("<Q", 1 << 40) + bytes(
                data[shoff + 64 + 32:]),
            "too many sections": bytes(data[:60]) + struct.pack("<H", 0xff00) + bytes(data[62:]),
        }
        for name, bad in cases.items():
            path = os.path.join(d, "bad.o")
            open(path, "wb").write(bad)
            for flag in ("-d", "-t", "-h", "-r"):
                r = run(objdump, flag, path)
                check(r.returncode == 1 and r.stderr.startswith("e2kvm-objdump: " + path),
                      f"{name} {flag}: rc {r.returncode}: {r.stderr!r}")
    print("PASS")


if __name__ == "__main__":
    main()
