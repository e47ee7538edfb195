package sudoers

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPasswdPathOnThisMachine(t *testing.T) {
	if !isExecutableFile("/usr/bin/passwd") {
		t.Skip("/usr/bin/passwd is not installed")
	}
	p, err := PasswdPath()
	require.NoError(t, err)
	require.Equal(t, "/usr/bin/passwd", p, "merged /usr: /usr/bin/passwd wins over /bin/passwd")
}

func TestFindPasswd(t *testing.T) {
	dir := t.TempDir()
	exe := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte("#!/bin/sh\n"), mode))
		return p
	}
	first := exe("first", 0o755)
	second := exe("second", 0o755)
	notExec := exe("plain", 0o644)
	aDir := filepath.Join(dir, "adir")
	require.NoError(t, os.Mkdir(aDir, 0o755))
	link := filepath.Join(dir, "link")
	require.NoError(t, os.Symlink(second, link))

	pathDir := filepath.Join(dir, "path bin")
	require.NoError(t, os.Mkdir(pathDir, 0o755))
	goodPath := filepath.Join(dir, "bin")
	require.NoError(t, os.Mkdir(goodPath, 0o755))
	inPath := filepath.Join(goodPath, "passwd")
	require.NoError(t, os.WriteFile(inPath, []byte("#!/bin/sh\n"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(pathDir, "passwd"), []byte("#!/bin/sh\n"), 0o755))

	cases := []struct {
		name       string
		candidates []string
		path       string
		want       string
		wantErr    string
	}{
		{name: "first candidate", candidates: []string{first, second}, want: first},
		{name: "skips missing, non-executable and directories", candidates: []string{dir + "/none", notExec, aDir, second}, want: second},
		{name: "a symlink keeps the name users type", candidates: []string{link}, want: link},
		{name: "falls back to PATH", candidates: []string{dir + "/none"}, path: goodPath, want: inPath},
		{name: "not found", candidates: []string{notExec}, path: dir + "/empty", wantErr: "install the passwd package"},
		{name: "PATH result unfit for sudoers", candidates: nil, path: pathDir, wantErr: "cannot be the command"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("PATH", tc.path)
			got, err := findPasswd(tc.candidates)
			if tc.wantErr != "" {
				require.ErrorContains(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tc.want, got)
			require.NoError(t, ValidCommand(got))
		})
	}
}
