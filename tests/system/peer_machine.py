"""The two machines most system tests compare: qemu-system-x86_64 -machine none and
e2kvm-system -accel qtest, both -nodefaults without a display, with QMP on a Unix socket
(python3 stdlib only)."""


def machine_argv_for(system):
    """machine_argv(tool, sock, *extra): the command line of "qemu" or "ours" (`system`), QMP
    served on `sock`, with `extra` options after."""
    def machine_argv(tool, sock, *extra):
        args = ["-nodefaults", "-display", "none", "-qmp",
                "unix:%s,server=on,wait=off" % sock] + list(extra)
        if tool == "qemu":
            return ["qemu-system-x86_64", "-machine", "none"] + args
        return [system, "-accel", "qtest"] + args
    return machine_argv
