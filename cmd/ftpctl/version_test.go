package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func runRoot(t *testing.T, args ...string) string {
	t.Helper()
	root := newRoot()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetArgs(args)
	require.NoError(t, root.Execute())
	return out.String()
}

func TestVersion(t *testing.T) {
	old := version
	t.Cleanup(func() { version = old })
	version = ""
	require.NotEmpty(t, versionString())
	require.NotEqual(t, "unknown", versionString(), "tests carry build info")

	version = "1.2.3" // as scripts/package.sh sets it
	require.Equal(t, "ftpctl 1.2.3\n", runRoot(t, "--version"))
	require.Equal(t, "ftpctl 1.2.3\n", runRoot(t, "version"))
	var got map[string]string
	require.NoError(t, json.Unmarshal([]byte(runRoot(t, "version", "--json")), &got))
	require.Equal(t, "1.2.3", got["version"])
	require.Regexp(t, `^go1\.`, got["go_version"])
}
