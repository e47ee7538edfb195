"""Runs SFTP steps with paramiko for the end-to-end tests (test/sftp_test.go).

Reads one JSON object on stdin: host, port, user, password, and steps, each a list
[operation, arguments...]. Prints a JSON list with one result per step:
{"ok": bool, "error": str, "code": int (the SFTP status code of a refusal, or -1),
"value": any}. It stops early only for "kill", which ends the process with SIGKILL
half way through an upload, as a client that dies would.
"""
import errno
import json
import os
import signal
import socket
import sys

import paramiko

STATUS = {errno.ENOENT: 2, errno.EACCES: 3}


def main():
    req = json.load(sys.stdin)
    sock = socket.create_connection((req["host"], req["port"]), timeout=30)
    transport = paramiko.Transport(sock)
    transport.connect(username=req["user"], password=req["password"])
    sftp = None
    results = []
    for step in req["steps"]:
        op, args = step[0], step[1:]
        res = {"ok": True, "error": "", "code": -1, "value": None}
        try:
            if op in ("shell", "exec", "subsystem"):
                chan = transport.open_session()
                if op == "shell":
                    chan.invoke_shell()
                elif op == "exec":
                    chan.exec_command(args[0])
                else:
                    chan.invoke_subsystem(args[0])
                chan.close()
            elif op == "direct-tcpip":
                transport.open_channel("direct-tcpip", (args[0], args[1]), ("127.0.0.1", 40000)).close()
            elif op == "tcpip-forward":
                transport.request_port_forward("127.0.0.1", 0)
            else:
                if sftp is None:
                    sftp = paramiko.SFTPClient.from_transport(transport)
                res["value"] = run(sftp, op, args)
        except (IOError, OSError, paramiko.SSHException) as e:
            res["ok"] = False
            res["error"] = str(e)
            res["code"] = STATUS.get(getattr(e, "errno", None), -1)
        results.append(res)
    transport.close()
    print(json.dumps(results))


def run(sftp, op, args):
    if op == "get":
        with sftp.open(args[0], "rb") as f:
            return f.read().decode("latin-1")
    if op == "put":
        with sftp.open(args[0], "wb") as f:
            f.write(args[1].encode("latin-1"))
        return None
    if op == "kill":
        # Writes args[1] bytes to args[0] and dies before closing the handle.
        f = sftp.open(args[0], "wb")
        f.set_pipelined(True)
        chunk = b"x" * 32768
        for _ in range(args[1] // len(chunk)):
            f.write(chunk)
        f.flush()
        sftp.stat("/")  # every write answered before the end
        os.kill(os.getpid(), signal.SIGKILL)
    if op == "listdir":
        return sorted(sftp.listdir(args[0]))
    if op == "stat":
        return sftp.stat(args[0]).st_size
    if op == "lstat":
        return oct(sftp.lstat(args[0]).st_mode)
    if op == "readlink":
        return sftp.readlink(args[0])
    if op == "normalize":
        return sftp.normalize(args[0])
    if op == "mkdir":
        return sftp.mkdir(args[0])
    if op == "rmdir":
        return sftp.rmdir(args[0])
    if op == "remove":
        return sftp.remove(args[0])
    if op == "rename":
        return sftp.rename(args[0], args[1])
    if op == "posix_rename":
        return sftp.posix_rename(args[0], args[1])
    if op == "symlink":
        return sftp.symlink(args[0], args[1])
    if op == "chmod":
        return sftp.chmod(args[0], int(args[1], 8))
    if op == "utime":
        return sftp.utime(args[0], (args[1], args[1]))
    if op == "statvfs":
        # paramiko has no statvfs call; the extension is sent by hand.
        t, msg = sftp._request(paramiko.sftp.CMD_EXTENDED, "statvfs@openssh.com", args[0])
        msg.get_int64()  # bsize
        msg.get_int64()  # frsize
        return msg.get_int64()  # blocks
    if op == "hardlink":
        sftp._request(paramiko.sftp.CMD_EXTENDED, "hardlink@openssh.com", args[0], args[1])
        return None
    raise ValueError("unknown step " + op)


if __name__ == "__main__":
    main()
