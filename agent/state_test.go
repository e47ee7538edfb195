package agent

import (
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
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
