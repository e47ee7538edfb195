//go:build docs

package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/agent/config"
)

func TestGenDocs(t *testing.T) {
	dir := t.TempDir()
	require.Equal(t, 0, run([]string{"gen-docs", dir}))

	tests := []struct {
		file string
		want []string
	}{
		{"man/ftpctl.1", []string{`.TH "FTPCTL" "1"`, "Exit status: 0", "/etc/jelastic-ftp/ftpd.toml", `\fBftpctl-user(1)\fP`}},
		{"man/ftpctl-user.1", []string{`.TH "FTPCTL-USER" "1"`, `\fBftpctl-user-add(1)\fP`, `\fBftpctl(1)\fP`}},
		{"man/ftpctl-user-add.1", []string{`.TH "FTPCTL-USER-ADD" "1"`, "ftpctl user add NAME", `\fB--home\fP=""`}},
		{"man/ftpctl-reload.1", []string{`.TH "FTPCTL-RELOAD" "1"`, "SIGHUP"}},
		{"man/ftpctl-version.1", []string{`.TH "FTPCTL-VERSION" "1"`}},
		{"man/ftpctl-serve.1", []string{`\fB--config\fP="/etc/jelastic-ftp/ftpd.toml"`, "--demo needs no root"}},
		{"completions/ftpctl.bash", []string{"bash completion V2 for ftpctl"}},
		{"completions/_ftpctl", []string{"#compdef ftpctl"}},
		{"completions/ftpctl.fish", []string{"complete -c ftpctl"}},
	}
	for _, tt := range tests {
		data, err := os.ReadFile(filepath.Join(dir, tt.file))
		require.NoError(t, err)
		for _, w := range tt.want {
			require.Contains(t, string(data), w, tt.file)
		}
	}

	page, err := os.ReadFile(filepath.Join(dir, "man", "ftpctl.1"))
	require.NoError(t, err)
	require.NotContains(t, string(page), "Auto generated", "pages must not change from one build to the next")
	for _, hidden := range []string{"ftpctl-worker.1", "ftpctl-gen-docs.1", "ftpctl-help.1"} {
		require.NoFileExists(t, filepath.Join(dir, "man", hidden))
	}

	cfg, err := config.Load(filepath.Join(dir, "ftpd.toml.example"))
	require.NoError(t, err)
	require.Equal(t, config.Default(), cfg)
}

func TestGenDocsNeedsFolder(t *testing.T) {
	require.Equal(t, 2, run([]string{"gen-docs"}))
}
