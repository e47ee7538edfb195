#!/usr/bin/python3
"""SFTP load client for scripts/bench.sh, with paramiko (Debian's python3-paramiko, so
run by /usr/bin/python3): one subcommand per measurement, each printing its figures on
one line of stdout and its failures on stderr (exit status 1).

Every connection offers one choice of each algorithm, so that ours and OpenSSH's sshd
are measured doing the same work: curve25519 key exchange, an ed25519 host key,
aes128-ctr with hmac-sha2-256 (paramiko knows no AEAD cipher). The password comes from
the environment (BENCH_PASS). Every socket has a timeout and every loop a bound.
"""

import argparse
import concurrent.futures
import os
import socket
import sys
import time

import paramiko

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ftpbench import memory  # noqa: E402

TIMEOUT = 60  # seconds for any one socket operation or handshake


def connect(host, port, user):
    """A logged-in SFTP session: connect, key exchange, password, sftp subsystem."""
    sock = socket.create_connection((host, port), timeout=TIMEOUT)
    t = paramiko.Transport(sock)
    try:
        opts = t.get_security_options()
        opts.kex = ("curve25519-sha256@libssh.org",)
        opts.key_types = ("ssh-ed25519",)
        opts.ciphers = ("aes128-ctr",)
        opts.digests = ("hmac-sha2-256",)
        opts.compression = ("none",)
        t.banner_timeout = t.auth_timeout = TIMEOUT
        t.start_client(timeout=TIMEOUT)
        t.auth_password(user, os.environ["BENCH_PASS"])
        sftp = paramiko.SFTPClient.from_transport(t)
        sftp.get_channel().settimeout(TIMEOUT)
        return sftp
    except BaseException:
        t.close()
        raise


def cmd_wait(a):
    """Waits until the server sends its SSH version line."""
    deadline = time.monotonic() + a.seconds
    last = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((a.host, a.port), timeout=2) as s:
                line = s.recv(256)
                if line.startswith(b"SSH-2.0-"):
                    return
                last = line
        except OSError as e:
            last = e
        time.sleep(0.1)
    sys.exit(f"no SSH version line on {a.host}:{a.port} within {a.seconds}s (last: {last!r})")


def cmd_sessions(a):
    """Logins per second: connect, log in, open the sftp subsystem (its INIT and
    VERSION), close; a.workers sessions at once."""

    def one(_):
        connect(a.host, a.port, a.user).get_channel().get_transport().close()

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(a.workers) as pool:
        futures = [pool.submit(one, i) for i in range(a.count)]
        errors = [f.exception() for f in futures if f.exception() is not None]
    elapsed = time.monotonic() - start
    if errors:
        sys.exit(f"{len(errors)} of {a.count} sessions failed; first: {errors[0]!r}")
    print(f"{a.count / elapsed:.1f}")


def cmd_idle(a):
    """Memory of the server's processes before and while a.count SFTP sessions sit
    idle; prints processes, RSS and PSS (KiB) before and after, as ftpbench.py idle."""
    time.sleep(a.settle)
    before = memory(a.pid)
    sessions = []
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(connect, a.host, a.port, a.user) for _ in range(a.count)]
            sessions = [f.result() for f in futures if f.exception() is None]
            errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            sys.exit(f"{len(errors)} of {a.count} logins failed; first: {errors[0]!r}")
        # Every session answers a request, so all of them are really up when measured.
        for sftp in sessions:
            sftp.stat(".")
        after = memory(a.pid)
    finally:
        for sftp in sessions:
            sftp.get_channel().get_transport().close()
    print(*before, *after)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub = p.add_subparsers(dest="cmd", required=True)

    def server(name, fn):
        s = sub.add_parser(name)
        s.add_argument("--host", default="127.0.0.1")
        s.add_argument("--port", type=int, required=True)
        s.add_argument("--user", default="bench")
        s.set_defaults(fn=fn)
        return s

    s = server("wait", cmd_wait)
    s.add_argument("--seconds", type=float, default=20)
    s = server("sessions", cmd_sessions)
    s.add_argument("--count", type=int, default=400)
    s.add_argument("--workers", type=int, default=4)
    s = server("idle", cmd_idle)
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--count", type=int, default=500)
    s.add_argument("--settle", type=float, default=5)
    a = p.parse_args()
    a.fn(a)


if __name__ == "__main__":
    main()
