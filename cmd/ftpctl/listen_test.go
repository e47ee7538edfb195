package main

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestListenersArePlainTCP checks the //go:debug line in main.go: Go would
// otherwise open listeners as Multipath TCP where the kernel has it.
func TestListenersArePlainTCP(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	raw, err := l.(*net.TCPListener).SyscallConn()
	require.NoError(t, err)
	var proto int
	var errOpt error
	require.NoError(t, raw.Control(func(fd uintptr) {
		proto, errOpt = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_PROTOCOL)
	}))
	require.NoError(t, errOpt)
	require.Equal(t, unix.IPPROTO_TCP, proto)
}
