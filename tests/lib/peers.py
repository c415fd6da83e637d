"""The peer programs a test compares against (qemu-img, qemu-nbd, nbdinfo, openssl, xvfb-run...).
A test calls require() with every peer it runs before doing anything else: when one is not on
PATH it prints which and exits with SKIP_RETURN_CODE, which the test's registration declares
(set_tests_properties(... SKIP_RETURN_CODE 77)), so ctest lists the test as skipped instead of
counting it as passed. ./dev installs every peer: a skip there means a broken set-up."""
import shutil
import sys

SKIP_RETURN_CODE = 77


def missing(*tools):
    """The tools, in order, that are not found on PATH."""
    return [tool for tool in tools if shutil.which(tool) is None]


def require(*tools):
    """Returns if every tool is on PATH; otherwise ends the test as skipped."""
    absent = missing(*tools)
    if absent:
        print(f"SKIP: {', '.join(absent)} not found on PATH (a peer this test compares with)",
              flush=True)
        sys.exit(SKIP_RETURN_CODE)


def named_bin(directory, programs):
    """Makes DIRECTORY/bin holding each program of `programs` ({name: path}) under its name
    (a symbolic link), so that a program that names itself by argv[0] runs as, say, qemu-img;
    returns that folder."""
    import os

    bindir = os.path.join(directory, "bin")
    os.makedirs(bindir, exist_ok=True)
    for name, path in programs.items():
        os.symlink(path, os.path.join(bindir, name))
    return bindir
