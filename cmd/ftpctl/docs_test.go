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
		{"man/ftpctl.1", []string{".TH FTPCTL 1", ".SH EXIT STATUS", `.I /etc/jelastic\-ftp/ftpd.toml`, `.BR ftpctl\-user (1)`}},
		{"man/ftpctl-user.1", []string{".B ftpctl user\n\\fICOMMAND\\fR", `.BR ftpctl\-user\-add (1)`, `.BR ftpctl (1)`}},
		{"man/ftpctl-user-add.1", []string{".B ftpctl user add\nNAME ", `\fB\-\-home\fR \fIstring\fR`, `.BR ftpctl\-user (1)`}},
		{"man/ftpctl-serve.1", []string{`\fB\-\-config\fR`, `(default: /etc/jelastic\-ftp/ftpd.toml)`, "\n.PP\n\\-\\-demo needs no root"}},
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

func TestRoffLine(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text", "plain text"},
		{"--json and -h", `\-\-json and \-h`},
		{`C:\path`, `C:\epath`},
		{".starts like a request", `\&.starts like a request`},
		{"'also a request", `\&'also a request`},
		{"ends with a dot.", "ends with a dot."},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, roffLine(tt.in), tt.in)
	}
}
