package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/internal/selfsigned"
)

func TestParseState(t *testing.T) {
	good := `{"schema": 1, "host": "node1", "accounts": [], "ftpd_toml": "", "users_toml": "", "sudo_grants": []}`
	st, err := ParseState([]byte(good + "\n"))
	require.NoError(t, err)
	require.Equal(t, "node1", st.Host)

	tests := []struct{ name, in, msg string }{
		{"empty", "  \n", "no state on standard input"},
		{"truncated", good[:len(good)/2], "ends too early"},
		{"cut at a value", `{"schema": 1, "host": "no`, "ends too early"},
		{"two objects", good + good, "data after its JSON object"},
		{"unknown key", strings.Replace(good, `"host"`, `"hots"`, 1), "not the JSON"},
		{"other schema", strings.Replace(good, `"schema": 1`, `"schema": 2`, 1), "schema 2"},
		{"no schema", `{"host": "x"}`, "schema 0"},
		{"not JSON", "schema = 1", "not the JSON"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseState([]byte(tt.in))
			require.ErrorContains(t, err, tt.msg)
			require.NotContains(t, err.Error(), "\n", "one line")
		})
	}
}

// The manifest lists the state copy in /etc/jelastic/redeploy.conf by its path.
func TestManifestKeepsTheStateCopy(t *testing.T) {
	data, err := os.ReadFile("../packaging/manifest.jps")
	require.NoError(t, err)
	want := Layout{StateDir: DefaultStateDir}.StateCopy()
	require.Contains(t, string(data), "\n  stateCopy: "+want+"\n")
}

func TestPlanImportTLS(t *testing.T) {
	certPEM, keyPEM, err := selfsigned.New([]string{"node1"}, selfsigned.Validity)
	require.NoError(t, err)
	l := &Lifecycle{Layout: Layout{StateDir: "/here"}}
	ours := config.TLS{Cert: "/there/cert.pem", Key: "/there/key.pem"}
	given := config.TLS{Cert: "/etc/ssl/ftp.pem", Key: "/etc/ssl/ftp.key"}
	good := func(selfSigned bool, host string) *StateTLS {
		return &StateTLS{SelfSigned: selfSigned, Host: host, CertPEM: string(certPEM), KeyPEM: string(keyPEM)}
	}
	tests := []struct {
		name     string
		settings config.TLS
		st       *StateTLS
		err      string
		written  bool   // the PEMs are to be written
		cert     string // where the settings then say the certificate is
	}{
		{"no TLS at all", config.TLS{}, nil, "", false, ""},
		{"settings name a certificate the state lacks", given, nil, "carries none", false, ""},
		{"a certificate the settings do not use", config.TLS{}, good(false, ""), "do not use", false, ""},
		{"ours, for this host: a redeploy", ours, good(true, "node1"), "", true, "/here/cert.pem"},
		{"ours, for another host: install makes one", ours, good(true, "node2"), "", false, "/here/cert.pem"},
		{"ours, not made yet", ours, &StateTLS{SelfSigned: true}, "", false, "/here/cert.pem"},
		{"ours for this host, broken", ours, &StateTLS{SelfSigned: true, Host: "node1", CertPEM: string(certPEM), KeyPEM: "junk"}, "do not form a pair", false, ""},
		{"given by path", given, good(false, ""), "", true, given.Cert},
		{"given by path, broken", given, &StateTLS{CertPEM: "junk", KeyPEM: string(keyPEM)}, "do not form a pair", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &importPlan{st: &State{TLS: tt.st}, hostname: "node1"}
			p.cfg.TLS = tt.settings
			err := l.planImportTLS(p)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				require.ErrorContains(t, err, "nothing was changed")
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.written, p.certPEM != nil)
			require.Equal(t, tt.cert, p.cfg.TLS.Cert)
		})
	}
}

// TestPlanImportKeepsTheNodesAddresses: a node with settings of its own keeps the
// addresses it listens on and announces; the rest of the settings are the layer's.
func TestPlanImportKeepsTheNodesAddresses(t *testing.T) {
	dir := t.TempDir()
	root := filepath.Join(dir, "webroot")
	local := fmt.Sprintf("root = %q\nlisten = \"10.0.0.2:21\"\nsftp_listen = \"10.0.0.2:2022\"\nimplicit_tls_listen = \"10.0.0.2:990\"\npublic_host = \"10.0.0.2\"\nidle_timeout = \"1m\"\n", root)
	layer := fmt.Sprintf("root = %q\nlisten = \"10.0.0.1:21\"\nsftp_listen = \"10.0.0.1:2022\"\nimplicit_tls_listen = \"10.0.0.1:990\"\npublic_host = \"10.0.0.1\"\nidle_timeout = \"7m\"\n", root)
	l := &Lifecycle{
		Admin:    &Admin{Etc: dir, ConfigPath: filepath.Join(dir, "ftpd.toml"), UsersPath: filepath.Join(dir, "users.toml")},
		Layout:   Layout{StateDir: dir},
		Hostname: func() (string, error) { return "node2", nil },
	}
	require.NoError(t, os.WriteFile(l.Admin.ConfigPath, []byte(local), 0o644))
	for f, line := range map[string]string{"passwd": "root:x:0:0:root:/root:/bin/sh", "shadow": "root:*:20000:0:99999:7:::", "group": "root:x:0:", "gshadow": "root:*::"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, f), []byte(line+"\n"), 0o600))
	}
	p, err := l.planImport(&State{Schema: 1, Host: "node1", Settings: layer})
	require.NoError(t, err)
	require.Equal(t, "10.0.0.2:21", p.cfg.Listen)
	require.Equal(t, "10.0.0.2:2022", p.cfg.SFTPListen)
	require.Equal(t, "10.0.0.2:990", p.cfg.ImplicitTLS)
	require.Equal(t, "10.0.0.2", p.cfg.PublicHost)
	require.Equal(t, 7*time.Minute, p.cfg.IdleTimeout, "the layer's setting")
}
