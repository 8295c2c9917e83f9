"""Sandbox guard for untrusted training scripts run by `zpa compare`.

Loaded at interpreter start-up (this folder is put first on PYTHONPATH) in the
child process only; never imported by zpa itself. An audit hook, which the
script cannot remove, refuses and records:

- network: any socket connect/sendto/bind or name lookup;
- write:   creating, changing or removing files outside the sandbox root;
- read:    opening files under a denied folder (the project the harness runs from);
- spawn:   starting a program other than this Python.

Each refusal is written as one JSON line to a file descriptor opened before
the hook was installed, and the call raises PermissionError. A network
namespace (unshare -n), where available, backs up the network rule.
"""

import json
import os
import sys


def _install() -> None:
    root = os.environ.get("ZPA_SANDBOX_ROOT")
    log_path = os.environ.get("ZPA_SANDBOX_LOG")
    if not root or not log_path:
        return
    sep = os.pathsep
    realpath = os.path.realpath
    root = realpath(root)
    deny_read = [realpath(p) for p in os.environ.get("ZPA_SANDBOX_DENY_READ", "").split(sep) if p]
    allow_read = [realpath(p) for p in os.environ.get("ZPA_SANDBOX_ALLOW_READ", "").split(sep) if p]
    allow_read += [realpath(p) for p in {sys.prefix, sys.exec_prefix, sys.base_prefix} if p]
    python = {realpath(sys.executable), sys.executable}
    log_fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    write_flags = os.O_WRONLY | os.O_RDWR | os.O_APPEND | os.O_CREAT | os.O_TRUNC
    harmless_writes = ("/dev/null", "/dev/stdout", "/dev/stderr", "/dev/shm")
    busy = [False]

    def under(path, folder):
        return path == folder or path.startswith(folder.rstrip("/") + "/")

    def resolve(path):
        if isinstance(path, int) or path is None:
            return None
        if isinstance(path, bytes):
            path = os.fsdecode(path)
        try:
            return realpath(os.fspath(path))
        except (TypeError, ValueError):
            return None

    def refuse(kind, detail):
        if not busy[0]:
            busy[0] = True
            try:
                os.write(log_fd, (json.dumps({"kind": kind, "detail": detail}) + "\n").encode())
            finally:
                busy[0] = False
        raise PermissionError(f"zpa sandbox: {kind} is not allowed here ({detail})")

    def check_write(path, what):
        p = resolve(path)
        if p is None or under(p, root) or p.startswith(harmless_writes) or p.startswith("/proc/self/"):
            return
        refuse("write", f"{what} {p}")

    def hook(event, args):
        if busy[0]:
            return
        if event == "open":
            path, mode, flags = args
            p = resolve(path)
            if p is None:
                return
            writing = (mode is not None and any(c in mode for c in "wax+")) or (mode is None and flags & write_flags)
            if writing:
                check_write(p, "open for writing")
            elif any(under(p, d) for d in deny_read) and not any(under(p, a) for a in allow_read) and not under(p, root):
                refuse("read", f"read {p}")
        elif event in ("os.remove", "os.rmdir", "os.mkdir", "os.truncate", "os.chmod", "os.chown", "os.utime",
                       "shutil.rmtree", "os.mkfifo", "os.mknod"):
            check_write(args[0], event)
        elif event in ("os.rename", "os.link", "os.symlink", "shutil.copyfile", "shutil.move"):
            check_write(args[0] if event == "os.symlink" else args[1], event)
            if event in ("os.rename", "shutil.move"):
                check_write(args[0], event)
        elif event in ("socket.connect", "socket.sendto", "socket.sendmsg", "socket.bind"):
            refuse("network", f"{event} {args[1]!r}")
        elif event in ("socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr"):
            refuse("network", f"{event} {args[0]!r}")
        elif event == "urllib.Request":
            refuse("network", f"request {args[0]!r}")
        elif event in ("subprocess.Popen", "os.posix_spawn", "os.spawn", "os.exec"):
            exe = resolve(args[0])
            if exe not in python:
                refuse("spawn", f"{event} {args[0]!r}")
        elif event == "os.system":
            refuse("spawn", f"os.system {args[0]!r}")

    sys.addaudithook(hook)


_install()
del _install
