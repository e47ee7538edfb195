#!/usr/bin/env python3
"""Drives the FTP server under test with Python's ftplib.

Usage: ftpclient.py SCENARIO --port N [options]; prints one JSON object.
Scenarios:
  login  try --passwords in turn, then tell whether the connection is open
  retr   download --path once and report success or the error
  suite  run file and directory commands, checking every result; exit 1 on
         the first mismatch
"""
import argparse
import ftplib
import hashlib
import io
import json
import os
import socket
import ssl
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "test", "testdata"))
from ftp_steps import ReusingFTP_TLS  # noqa: E402  (the end-to-end tests' client)


def connect(args):
    if args.tls == "none":
        ftp = ftplib.FTP(timeout=10)
    else:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if args.tls_max == "1.2":
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        cls = ReusingFTP_TLS if args.tls == "reuse" else ftplib.FTP_TLS
        ftp = cls(context=ctx, timeout=10)
    if args.epsv:
        # ftplib only uses EPSV over IPv6.
        ftp.makepasv = lambda: ftplib.parse229(ftp.sendcmd("EPSV"), ftp.sock.getpeername())
    ftp.connect(args.host, args.port)
    return ftp


def login(ftp, args, password):
    if args.tls != "none":
        ftp.auth()
    ftp.login(args.user, password)
    if args.tls != "none":
        ftp.prot_p()


def scenario_login(args):
    ftp = connect(args)
    replies = []
    for password in args.passwords.split(","):
        try:
            replies.append(ftp.login(args.user, password))
            break
        except ftplib.error_perm as e:
            replies.append(str(e))
    try:
        ftp.voidcmd("NOOP")
        open_after = True
    except (EOFError, OSError, ftplib.Error):
        open_after = False
    return {"replies": replies, "open": open_after}


def scenario_retr(args):
    ftp = connect(args)
    login(ftp, args, args.password)
    buf = io.BytesIO()
    try:
        ftp.retrbinary("RETR " + args.path, buf.write)
        return {"ok": True, "bytes": len(buf.getvalue())}
    except (ftplib.Error, OSError, EOFError) as e:
        return {"ok": False, "error": "%s: %s" % (type(e).__name__, e)}


def check(cond, what):
    if not cond:
        raise AssertionError(what)


def get(ftp, name, rest=None):
    buf = io.BytesIO()
    ftp.retrbinary("RETR " + name, buf.write, rest=rest)
    return buf.getvalue()


def scenario_suite(args):
    ftp = connect(args)
    login(ftp, args, args.password)
    ftp.mkd("dir")
    ftp.cwd("dir")
    check(ftp.pwd() == "/dir", "PWD after CWD: " + ftp.pwd())
    sums = {}
    for size in (0, 1, 3 * 1024 * 1024 + 7):
        data = os.urandom(size)
        name = "f%d.bin" % size
        ftp.storbinary("STOR " + name, io.BytesIO(data))
        check(get(ftp, name) == data, "RETR %s differs from STOR" % name)
        check(ftp.size(name) == size, "SIZE %s" % name)
        sums[name] = hashlib.sha256(data).hexdigest()

    # APPE, upload resume (REST+STOR) and download resume (REST+RETR).
    ftp.storbinary("STOR grow.txt", io.BytesIO(b"hello "))
    ftp.storbinary("APPE grow.txt", io.BytesIO(b"world"))
    check(get(ftp, "grow.txt") == b"hello world", "APPE")
    ftp.storbinary("STOR grow.txt", io.BytesIO(b"WORLD!"), rest=6)
    check(get(ftp, "grow.txt") == b"hello WORLD!", "REST+STOR")
    check(get(ftp, "grow.txt", rest=6) == b"WORLD!", "REST+RETR")

    names = sorted(ftp.nlst())
    check(names == ["f0.bin", "f1.bin", "f3145735.bin", "grow.txt"], "NLST %r" % names)
    facts = dict(ftp.mlsd())
    check(facts["f1.bin"]["type"] == "file" and facts["f1.bin"]["size"] == "1", "MLSD %r" % facts)
    lines = []
    ftp.dir(lines.append)
    check(any(l.endswith(" grow.txt") and l.startswith("-") for l in lines), "LIST %r" % lines)
    mlst = ftp.sendcmd("MLST grow.txt")
    check(mlst.startswith("250") and "size=12;" in mlst.lower(), "MLST " + mlst)

    check(ftp.sendcmd("MFMT 20200102030405 grow.txt").startswith("213"), "MFMT")
    check(ftp.sendcmd("MDTM grow.txt") == "213 20200102030405", "MDTM after MFMT")

    ftp.rename("grow.txt", "moved.txt")
    check(get(ftp, "moved.txt") == b"hello WORLD!", "RNFR/RNTO")
    ftp.delete("moved.txt")
    check("moved.txt" not in ftp.nlst(), "DELE")
    ftp.mkd("sub")
    ftp.rmd("sub")
    try:
        ftp.rmd("f1.bin")
        check(False, "RMD removed a file")
    except ftplib.error_perm:
        pass
    ftp.quit()
    return {"ok": True, "sha256": sums}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("scenario", choices=["login", "retr", "suite"])
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--user", default="alice")
    p.add_argument("--password", default="")
    p.add_argument("--passwords", default="")
    p.add_argument("--path", default="")
    p.add_argument("--tls", choices=["none", "plain", "reuse"], default="none")
    p.add_argument("--tls-max", choices=["1.2", "1.3"], default="1.3")
    p.add_argument("--epsv", action="store_true")
    args = p.parse_args()
    result = {"login": scenario_login, "retr": scenario_retr, "suite": scenario_suite}[args.scenario](args)
    json.dump(result, sys.stdout)
    print()


if __name__ == "__main__":
    main()
