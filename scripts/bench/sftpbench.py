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
import os
import socket
import sys

import paramiko

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ftpbench import idle_memory, rate, subcommands, wait_until  # noqa: E402

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
    wait_until(a, lambda _, first: first.startswith(b"SSH-2.0-"), "SSH version line")


def cmd_sessions(a):
    """Logins per second: connect, log in, open the sftp subsystem (its INIT and
    VERSION), close; a.workers sessions at once."""
    rate(a, lambda _: connect(a.host, a.port, a.user).get_channel().get_transport().close())


def cmd_idle(a):
    """Memory with a.count SFTP sessions idle (ftpbench.idle_memory)."""
    idle_memory(
        a,
        lambda: connect(a.host, a.port, a.user),
        lambda sftp: sftp.stat("."),
        lambda sftp: sftp.get_channel().get_transport().close(),
    )


def main():
    p = argparse.ArgumentParser(description=__doc__)
    _, server = subcommands(p, cmd_wait)
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
