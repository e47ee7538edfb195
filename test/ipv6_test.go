package e2e

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestFTPOverIPv6 serves on [::1]: containers often reach clients over IPv6, where only
// EPSV can name the data port.
func TestFTPOverIPv6(t *testing.T) {
	if l, err := net.Listen("tcp", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	} else {
		l.Close()
	}
	e := NewEnv(t)
	home := addFTPUser(t, e, "alice", ftpPassword)
	want := filepath.Join(home, "v6.txt")
	require.NoError(t, os.WriteFile(want, []byte("over IPv6\n"), 0o644))
	s := startFTPWith(t, e, nil, func(s *ftpServer) {
		s.conf["listen"] = fmt.Sprintf(`"[::1]:%d"`, s.Port)
		s.writeConfig()
		s.Addr = fmt.Sprintf("[::1]:%d", s.Port)
	})
	for _, mode := range [][]string{nil, curlTLS} {
		dst := filepath.Join(t.TempDir(), "got.txt")
		r := s.curl(t, "alice", ftpPassword, "v6.txt", append([]string{"-g", "-o", dst}, mode...)...)
		require.Equal(t, 0, r.Code, r.String())
		requireSameFile(t, want, dst)
	}
	require.Contains(t, s.Log(), "client=::1", "the log names the IPv6 client")
}
