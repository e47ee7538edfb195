package ftpd

import (
	"net"
	"syscall"

	"golang.org/x/sys/unix"
)

// quickAck makes the kernel acknowledge what conn has received at once.
//
// A TLS handshake ends with the client's Finished, to which the server (Go's
// TLS, unlike OpenSSL's, which sends its session tickets then) has nothing
// to answer, so the kernel delays the acknowledgement, by 40 ms on Linux. A
// client with Nagle's algorithm on (Python's ftplib, for one) holds its
// first data back until that acknowledgement comes: 40 ms per FTPS upload,
// and before the first command of an FTPS session.
func quickAck(conn net.Conn) {
	onSocket(conn, func(fd int) {
		_ = unix.SetsockoptInt(fd, unix.IPPROTO_TCP, unix.TCP_QUICKACK, 1)
	})
}

// onSocket runs f on conn's socket, if conn has one.
func onSocket(conn any, f func(fd int)) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = rc.Control(func(fd uintptr) { f(int(fd)) })
}
