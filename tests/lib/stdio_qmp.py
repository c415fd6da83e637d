"""The command line that runs a machine with its QMP monitor on stdin/stdout, for tests that
give the same QMP session to qemu-system-x86_64 (-machine none) and to e2kvm-system."""


def stdio_qmp_argv(tool, system):
    """`tool` is "qemu" for qemu-system-x86_64, anything else for e2kvm-system at `system`."""
    prog = ["qemu-system-x86_64", "-machine", "none"] if tool == "qemu" else [
        system, "-accel", "qtest"]
    return prog + ["-nodefaults", "-display", "none", "-nographic", "-qmp", "stdio",
                   "-serial", "none"]
