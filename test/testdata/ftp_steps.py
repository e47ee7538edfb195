#!/usr/bin/env python3
"""Runs a list of FTP steps with Python's ftplib, for the end-to-end tests.

Reads one JSON object from stdin:
  {"host": "127.0.0.1", "port": 2121,
   "tls": "none" | "noreuse" | "reuse",  # explicit FTPS with PROT P after login
   "tls_max": "" | "1.2" | "1.3",
   "epsv": false,                         # EPSV instead of PASV (ftplib uses
                                          # EPSV only over IPv6 by itself)
   "source": "",                          # local address to bind, control and data
   "steps": [[op, args...], ...]}
and writes a JSON list with one result per step, never stopping at a failure:
  {"ok": true, "reply": "226 ...", "lines": [...]} or {"ok": false, "error": "530 ..."}.

Steps:
  ["login", user, password]        USER/PASS (after AUTH TLS), then PBSZ/PROT P
  ["cmd", line]                    any command on the control connection
  ["lines", command]               LIST, NLST or MLSD over a data connection
  ["retr", remote, local, rest]    download into local; rest > 0 appends to it
  ["stor", remote, local, rest]    upload local; rest > 0 sends REST and the
                                   local file from that offset
  ["appe", remote, local, offset]  APPE the local file from offset
  ["tls_version"]                  the control connection's TLS version
"""
import ftplib
import json
import ssl
import sys


class ReusingFTP_TLS(ftplib.FTP_TLS):
    """FTP_TLS that resumes the control connection's TLS session on each data
    connection, as FileZilla, lftp and curl do; ftplib itself starts a new
    session every time. ftpd/testdata/ftpclient.py and scripts/bench/ftpbench.py
    import it from here."""

    def ntransfercmd(self, cmd, rest=None):
        conn, size = ftplib.FTP.ntransfercmd(self, cmd, rest)
        if self._prot_p:
            conn = self.context.wrap_socket(
                conn, server_hostname=self.host, session=self.sock.session)
        return conn, size


def connect(req):
    source = (req["source"], 0) if req.get("source") else None
    timeout = 30
    if req["tls"] == "none":
        ftp = ftplib.FTP(timeout=timeout, source_address=source)
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        if req.get("tls_max") == "1.2":
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        elif req.get("tls_max") == "1.3":
            ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        cls = ReusingFTP_TLS if req["tls"] == "reuse" else ftplib.FTP_TLS
        ftp = cls(context=ctx, timeout=timeout, source_address=source)
    if req.get("epsv"):
        ftp.makepasv = lambda: ftplib.parse229(ftp.sendcmd("EPSV"), ftp.sock.getpeername())
    ftp.connect(req["host"], req["port"])
    return ftp


def step_login(ftp, req, user, password):
    reply = ftp.login(user, password)
    if req["tls"] != "none":
        ftp.prot_p()
    return {"reply": reply}


def step_cmd(ftp, req, line):
    return {"reply": ftp.sendcmd(line)}


def step_lines(ftp, req, command):
    lines = []
    reply = ftp.retrlines(command, lines.append)
    return {"reply": reply, "lines": lines}


def step_retr(ftp, req, remote, local, rest):
    with open(local, "ab" if rest else "wb") as f:
        reply = ftp.retrbinary("RETR " + remote, f.write, rest=rest or None)
    return {"reply": reply}


def step_stor(ftp, req, remote, local, rest):
    with open(local, "rb") as f:
        f.seek(rest)
        reply = ftp.storbinary("STOR " + remote, f, rest=rest or None)
    return {"reply": reply}


def step_appe(ftp, req, remote, local, offset):
    with open(local, "rb") as f:
        f.seek(offset)
        reply = ftp.storbinary("APPE " + remote, f)
    return {"reply": reply}


def step_tls_version(ftp, req):
    return {"reply": ftp.sock.version()}


STEPS = {
    "login": step_login,
    "cmd": step_cmd,
    "lines": step_lines,
    "retr": step_retr,
    "stor": step_stor,
    "appe": step_appe,
    "tls_version": step_tls_version,
}


def run(req):
    results = []
    try:
        ftp = connect(req)
    except (ftplib.Error, OSError, EOFError) as e:
        err = {"ok": False, "error": "connect: %s" % e}
        return [err] * len(req["steps"])
    for op, *args in req["steps"]:
        try:
            result = STEPS[op](ftp, req, *args)
            result["ok"] = True
        except (ftplib.Error, OSError, EOFError, ValueError) as e:
            result = {"ok": False, "error": str(e) or type(e).__name__}
        results.append(result)
    try:
        ftp.close()
    except OSError:
        pass
    return results


def main():
    req = json.load(sys.stdin)
    json.dump(run(req), sys.stdout)
    print()


if __name__ == "__main__":
    main()
