package atomicfile

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestWrite(t *testing.T) {
	tests := []struct {
		name    string
		before  string // "" = no file
		mode    os.FileMode
		content string
	}{
		{"new file", "", 0o640, "a = 1\n"},
		{"replace", "old\n", 0o600, "new\n"},
		{"empty content", "old\n", 0o644, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "users.toml")
			if tt.before != "" {
				require.NoError(t, os.WriteFile(p, []byte(tt.before), 0o644))
			}
			require.NoError(t, Write(p, []byte(tt.content), tt.mode))
			got, err := os.ReadFile(p)
			require.NoError(t, err)
			require.Equal(t, tt.content, string(got))
			fi, err := os.Stat(p)
			require.NoError(t, err)
			require.Equal(t, tt.mode, fi.Mode().Perm())
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			require.Len(t, entries, 1, "a temporary file was left behind")
		})
	}
}

func TestWriteRefusesSymlink(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "target")
	require.NoError(t, os.WriteFile(target, []byte("keep"), 0o644))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(target, link))
	require.Error(t, Write(link, []byte("evil"), 0o644))
	got, err := os.ReadFile(target)
	require.NoError(t, err)
	require.Equal(t, "keep", string(got))
}

func TestWriteMissingDir(t *testing.T) {
	err := Write(filepath.Join(t.TempDir(), "no", "such"), []byte("x"), 0o644)
	require.ErrorContains(t, err, "no such file or directory")
}
