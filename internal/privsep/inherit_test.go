package privsep

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// TestCloseInherited: a descriptor opened without close-on-exec, as a shell's
// `exec 7<file` leaves one, is closed and no longer reaches a child; the process's own
// descriptors stay open, and one handed over in ExtraFiles still reaches the child.
func TestCloseInherited(t *testing.T) {
	path := t.TempDir() + "/secret"
	require.NoError(t, os.WriteFile(path, []byte("x"), 0o600))
	inherited, err := unix.Open(path, unix.O_RDONLY, 0) // no O_CLOEXEC
	require.NoError(t, err)
	own, err := os.Open(path)
	require.NoError(t, err)
	defer own.Close()
	child := func(extra ...*os.File) string {
		cmd := exec.Command("ls", "-l", "/proc/self/fd/")
		cmd.ExtraFiles = extra
		out, err := cmd.Output()
		require.NoError(t, err)
		return string(out)
	}
	require.Contains(t, child(), path, "the inherited descriptor reaches a child before the call")

	require.NoError(t, CloseInherited())
	_, err = unix.FcntlInt(uintptr(inherited), unix.F_GETFD, 0)
	require.ErrorIs(t, err, unix.EBADF, "the inherited descriptor is closed")
	_, err = own.Stat()
	require.NoError(t, err, "the process's own descriptor stays open")
	require.NotContains(t, child(), path)
	out := child(own)
	require.Contains(t, out, " 3 -> "+path, "ExtraFiles still reach the child")
	require.Equal(t, 1, strings.Count(out, path), "only the handed-over descriptor: %s", out)
}
