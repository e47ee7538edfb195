#!/usr/bin/env python3
"""Load client for scripts/bench.sh: one subcommand per measurement, each printing
its figures on one line of stdout and its failures on stderr (exit status 1).

The password comes from the environment (BENCH_PASS), never from the command line,
so that it does not show in ps. Every socket has a timeout and every loop a bound.
"""

import argparse
import concurrent.futures
import ftplib
import os
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import threading
import time

TIMEOUT = 60  # seconds for any one socket operation


# Resumes the control connection's TLS session on data connections, as both servers
# require; shared with the end-to-end tests' client.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "testdata"))
from ftp_steps import ReusingFTP_TLS  # noqa: E402


def login(host, port, user, tls=False):
    """A logged-in session; with tls, FTPS with PROT P (ftplib leaves Nagle's
    algorithm on, as many clients do)."""
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # the benchmark's own self-signed certificate
        ftp = ReusingFTP_TLS(context=ctx, timeout=TIMEOUT)
    else:
        ftp = ftplib.FTP(timeout=TIMEOUT)
    ftp.connect(host, port)
    ftp.login(user, os.environ["BENCH_PASS"])
    if tls:
        ftp.prot_p()
    return ftp


def wait_until(a, ready, what):
    """Waits until a connection to the server sends what ready accepts (its first
    bytes), so the measurements start on a ready server."""
    deadline = time.monotonic() + a.seconds
    last = None
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((a.host, a.port), timeout=2) as s:
                first = s.recv(512)
                if ready(s, first):
                    return
                last = first
        except OSError as e:
            last = e
        time.sleep(0.1)
    sys.exit(f"no {what} on {a.host}:{a.port} within {a.seconds}s (last: {last!r})")


def cmd_wait(a):
    """Waits until the server greets."""

    def greeted(s, first):
        if first.startswith(b"220"):
            s.sendall(b"QUIT\r\n")
            return True
        return False

    wait_until(a, greeted, "FTP greeting")


def cmd_sendfile(a):
    """Loopback throughput of the kernel's sendfile into curl, the client of the FTP
    rows: the ceiling for a server that streams a file into a socket. The file goes
    out as a bare HTTP/1.0 response, the least protocol curl will read from a socket."""
    size = os.path.getsize(a.file)
    ln = socket.create_server(("127.0.0.1", 0))
    ln.settimeout(TIMEOUT)
    sent = {}

    def sender():
        conn, _ = ln.accept()
        with conn, open(a.file, "rb") as f:
            conn.settimeout(TIMEOUT)
            request = b""
            while b"\r\n\r\n" not in request and len(request) < 65536:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            conn.sendall(f"HTTP/1.0 200 OK\r\nContent-Length: {size}\r\n\r\n".encode())
            # Blocking: with a timeout, Python polls between short sendfile calls.
            conn.settimeout(None)
            sent["n"] = conn.sendfile(f)

    t = threading.Thread(target=sender)
    t.start()
    port = ln.getsockname()[1]
    curl = subprocess.run(
        a.pin + ["curl", "-sS", "--max-time", str(TIMEOUT * 10), "-o", "/dev/null",
         "-w", "%{size_download} %{speed_download}", f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, timeout=TIMEOUT * 11)
    t.join(TIMEOUT)
    ln.close()
    got, speed = (curl.stdout.split() + ["0", "0"])[:2]
    if curl.returncode != 0 or int(got) != size or sent.get("n") != size:
        sys.exit(f"sendfile baseline: curl got {got} of {size} bytes: {curl.stderr.strip()}")
    print(f"{float(speed) / 1e6:.1f}")


def cmd_parallel(a):
    """a.streams downloads of a.file at once, each over its own session, by a client
    that does not copy: each thread splices its data connection into /dev/null. Eight
    curls on one core spend it copying into their buffers and bound the row
    themselves; this one leaves the bound to the server. Prints MB/s, all together."""
    got, want = [0] * a.streams, [None] * a.streams
    errors = []

    def one(i):
        try:
            ftp = login(a.host, a.port, a.user)
            ftp.voidcmd("TYPE I")
            want[i] = ftp.size(a.file)
            conn = ftp.transfercmd("RETR " + a.file)
            # splice(2) needs a blocking socket; SO_RCVTIMEO still bounds each wait.
            conn.settimeout(None)
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, struct.pack("ll", TIMEOUT, 0))
            r, w = os.pipe()
            null = os.open(os.devnull, os.O_WRONLY)
            try:
                for _ in range(1 << 20):  # bound: 1 TiB in 1 MiB splices
                    n = os.splice(conn.fileno(), w, 1 << 20)
                    if n == 0:
                        break
                    got[i] += n
                    for _ in range(n):  # drain the pipe; each splice moves at least a byte
                        n -= os.splice(r, null, n)
                        if n == 0:
                            break
            finally:
                conn.close()
                for fd in (r, w, null):
                    os.close(fd)
            ftp.voidresp()
            ftp.quit()
        except (OSError, ftplib.Error) as e:
            errors.append(e)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(a.streams)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT * 10)
    took = time.perf_counter() - t0
    if errors or any(t.is_alive() for t in threads):
        sys.exit(f"parallel downloads: {errors[:1] or 'a download hung'}")
    if got != want:
        sys.exit(f"parallel downloads moved {got} bytes, want {want}")
    print(f"{sum(got) / took / 1e6:.1f}")


def rate(a, one):
    """Runs one(i) a.count times, a.workers at once, and prints how many per second."""
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(a.workers) as pool:
        futures = [pool.submit(one, i) for i in range(a.count)]
        errors = [f.exception() for f in futures if f.exception() is not None]
    elapsed = time.monotonic() - start
    if errors:
        sys.exit(f"{len(errors)} of {a.count} sessions failed; first: {errors[0]!r}")
    print(f"{a.count / elapsed:.1f}")


def cmd_sessions(a):
    """Logins per second: connect, (AUTH TLS, PBSZ, PROT,) USER, PASS, QUIT, with a
    few sessions at once."""
    rate(a, lambda _: login(a.host, a.port, a.user, a.tls).quit())


def cmd_smallfiles(a):
    """Uploads every file of a local folder over one session, then downloads them
    all back; prints files per second for each direction."""
    names = sorted(os.listdir(a.local))
    ftp = login(a.host, a.port, a.user, a.tls)
    ftp.mkd(a.remote)
    ftp.cwd(a.remote)
    start = time.monotonic()
    for name in names:
        with open(os.path.join(a.local, name), "rb") as f:
            ftp.storbinary(f"STOR {name}", f)
    up = time.monotonic() - start
    got = 0

    def count(block):
        nonlocal got
        got += len(block)

    start = time.monotonic()
    for name in names:
        ftp.retrbinary(f"RETR {name}", count)
    down = time.monotonic() - start
    ftp.quit()
    want = sum(os.path.getsize(os.path.join(a.local, n)) for n in names)
    if got != want:
        sys.exit(f"downloaded {got} bytes, uploaded {want}")
    print(f"{len(names) / up:.1f} {len(names) / down:.1f}")


def cmd_listing(a):
    """Median milliseconds for LIST and for MLSD of one folder; "n/a" when the
    server does not know MLSD."""
    ftp = login(a.host, a.port, a.user)
    results = []
    for kind in ("LIST", "MLSD"):
        times = []
        for _ in range(a.reps):
            lines = 0

            def count(_line):
                nonlocal lines
                lines += 1

            start = time.monotonic()
            try:
                ftp.retrlines(f"{kind} {a.dir}", count)
            except ftplib.error_perm as e:
                if kind == "MLSD" and str(e)[:3] in ("500", "502"):
                    times = None
                    break
                raise
            times.append((time.monotonic() - start) * 1000)
            if lines < a.entries:
                sys.exit(f"{kind} {a.dir} gave {lines} lines, want at least {a.entries}")
        results.append("n/a" if times is None else f"{statistics.median(times):.1f}")
    ftp.quit()
    print(" ".join(results))


def tree(root):
    """The PIDs of root and all its descendants."""
    parent = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue  # the process ended meanwhile
        # "pid (comm) state ppid ...": comm may hold spaces and parentheses.
        parent[int(entry)] = int(stat[stat.rindex(")") + 2:].split()[1])
    pids, frontier = {root}, [root]
    while frontier:
        p = frontier.pop()
        kids = [c for c, pp in parent.items() if pp == p and c not in pids]
        pids.update(kids)
        frontier.extend(kids)
    return pids


def memory(root):
    """(process count, RSS KiB, PSS KiB, anonymous PSS KiB) summed over root's process
    tree. RSS counts pages shared between forked processes once per process; PSS
    splits them. The anonymous part is heaps and stacks; the rest of PSS is the pages
    of the program and its libraries mapped from their files."""
    n = rss = pss = anon = 0
    for pid in tree(root):
        try:
            with open(f"/proc/{pid}/status") as f:
                rss_kib = next(int(l.split()[1]) for l in f if l.startswith("VmRSS:"))
            with open(f"/proc/{pid}/smaps_rollup") as f:
                rollup = dict(l.split()[:2] for l in f if l.startswith(("Pss:", "Pss_Anon:")))
        except (OSError, StopIteration):
            continue  # ended, or a kernel thread without memory
        if "Pss:" not in rollup:
            continue
        n, rss = n + 1, rss + rss_kib
        pss, anon = pss + int(rollup["Pss:"]), anon + int(rollup.get("Pss_Anon:", 0))
    return n, rss, pss, anon


def idle_memory(a, open_session, ping, close):
    """Memory of the server's processes before and while a.count sessions (opened
    by open_session) sit idle; prints processes, RSS, PSS and its anonymous part (KiB)
    before and after.
    "Before" is read a.settle seconds after the last session of the earlier rows
    ended: the memory an idle server keeps, not what it holds while it winds down.
    Every session answers ping before "after" is read, so all are really up."""
    time.sleep(a.settle)
    before = memory(a.pid)
    sessions = []
    try:
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(open_session) for _ in range(a.count)]
            sessions = [f.result() for f in futures if f.exception() is None]
            errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            sys.exit(f"{len(errors)} of {a.count} logins failed; first: {errors[0]!r}")
        for session in sessions:
            ping(session)
        after = memory(a.pid)
    finally:
        for session in sessions:
            close(session)
    print(*before, *after)


def cmd_idle(a):
    """Memory with a.count logged-in FTP sessions idle (idle_memory)."""

    def close(ftp):
        try:
            ftp.quit()
        except (OSError, ftplib.Error):
            ftp.close()

    idle_memory(a, lambda: login(a.host, a.port, a.user), lambda ftp: ftp.voidcmd("NOOP"), close)


def subcommands(p, wait):
    """The parser's subcommands with "wait" (running wait), and a maker of more of
    those that talk to a server."""
    sub = p.add_subparsers(dest="cmd", required=True)

    def server(name, fn):
        s = sub.add_parser(name)
        s.add_argument("--host", default="127.0.0.1")
        s.add_argument("--port", type=int, required=True)
        s.add_argument("--user", default="bench")
        s.set_defaults(fn=fn)
        return s

    s = server("wait", wait)
    s.add_argument("--seconds", type=float, default=20)
    return sub, server


def main():
    p = argparse.ArgumentParser(description=__doc__)
    sub, server = subcommands(p, cmd_wait)
    s = sub.add_parser("sendfile")
    s.add_argument("file")
    s.add_argument("--client-cpu", help="run curl on this CPU only, as bench.sh runs its clients")
    s.set_defaults(fn=cmd_sendfile)
    s = server("parallel", cmd_parallel)
    s.add_argument("--file", required=True)
    s.add_argument("--streams", type=int, default=8)
    s = server("sessions", cmd_sessions)
    s.add_argument("--tls", action="store_true", help="FTPS")
    s.add_argument("--count", type=int, default=400)
    s.add_argument("--workers", type=int, default=4)
    s = server("smallfiles", cmd_smallfiles)
    s.add_argument("--tls", action="store_true", help="FTPS with PROT P")
    s.add_argument("--local", required=True)
    s.add_argument("--remote", required=True)
    s = server("listing", cmd_listing)
    s.add_argument("--dir", required=True)
    s.add_argument("--entries", type=int, required=True)
    s.add_argument("--reps", type=int, default=5)
    s = server("idle", cmd_idle)
    s.add_argument("--pid", type=int, required=True)
    s.add_argument("--count", type=int, default=500)
    s.add_argument("--settle", type=float, default=5)
    a = p.parse_args()
    a.pin = ["taskset", "-c", a.client_cpu] if getattr(a, "client_cpu", None) else []
    a.fn(a)


if __name__ == "__main__":
    main()
