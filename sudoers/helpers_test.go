package sudoers

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/internal/testtool"
)

// newDropIn is a drop-in in a fresh directory, checked by the real visudo.
func newDropIn(t *testing.T) DropIn {
	t.Helper()
	return DropIn{Path: filepath.Join(t.TempDir(), "jelastic"), Visudo: testtool.Require(t, "visudo")}
}

// writeDropIn puts content at d.Path as sudo wants it (0440, root:root when root).
func writeDropIn(t *testing.T, d DropIn, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(d.Path, []byte(content), 0o600))
	require.NoError(t, os.Chmod(d.Path, 0o440))
}

// requireUntouched asserts the drop-in still holds want (or is absent when want is nil)
// and that no temporary file was left beside it.
func requireUntouched(t *testing.T, d DropIn, want []byte) {
	t.Helper()
	got, err := os.ReadFile(d.Path)
	if want == nil {
		require.ErrorIs(t, err, os.ErrNotExist)
	} else {
		require.NoError(t, err)
		require.Equal(t, string(want), string(got))
	}
	requireNoTemp(t, d)
}

func requireNoTemp(t *testing.T, d DropIn) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(d.Path))
	require.NoError(t, err)
	for _, e := range entries {
		require.Equal(t, filepath.Base(d.Path), e.Name(), "unexpected file left in the drop-in directory")
	}
}

// requireSudoMode asserts the mode and, when running as root, the owner sudo wants.
func requireSudoMode(t *testing.T, path string) {
	t.Helper()
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o440), fi.Mode())
	if os.Geteuid() == 0 {
		st := fi.Sys().(*syscall.Stat_t)
		require.Equal(t, [2]uint32{0, 0}, [2]uint32{st.Uid, st.Gid}, "owner uid:gid")
	}
}
