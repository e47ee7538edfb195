package ftpd

import "bytes"

// driverError is how ftpserverlib wraps what the file system returned:
// "550 Could not access file: driver error: calling GetHandle: open /x: no
// such file or directory".
var driverError = []byte("driver error: calling ")

// plainError drops ftpserverlib's "driver error: calling Method: " from an
// error reply: the method's name tells the client's user nothing, and what
// follows names the client's path and the reason.
func plainError(reply []byte) []byte {
	for {
		i := bytes.Index(reply, driverError)
		if i < 0 {
			return reply
		}
		rest := reply[i+len(driverError):]
		j := bytes.Index(rest, []byte(": "))
		if j <= 0 || bytes.ContainsAny(rest[:j], " \r\n") {
			return reply
		}
		reply = append(reply[:i], rest[j+2:]...)
	}
}
