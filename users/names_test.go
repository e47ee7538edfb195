package users

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestValidateName(t *testing.T) {
	good := []string{"jelastic-ftp", "a", "_x", "user_1", strings.Repeat("a", 32), "a-"}
	bad := []string{"", strings.Repeat("a", 33), "Alice", "ALL", "1abc", "12345", "-x", "+x", "~x", ".x", "a.b",
		"a b", "a:b", "a,b", "a\nb", "a#b", "a!b", "a=b", `a\b`, `a"b`, "a$b", "svc$", "$", "é", "a*", "a/b"}
	for _, n := range good {
		require.NoError(t, ValidateName(n), n)
	}
	for _, n := range bad {
		require.Error(t, ValidateName(n), "%q", n)
	}
}

func TestValidateHome(t *testing.T) {
	const root = "/var/ftp/webroot"
	tests := []struct {
		home string
		ok   bool
	}{
		{root, true},
		{root + "/site1", true},
		{root + "/a/b/c", true},
		{"/var/ftp/webroot2", false},
		{"/var/ftp", false},
		{"/etc", false},
		{root + "/../x", false},
		{root + "/./x", false},
		{root + "/", false},
		{"site1", false},
		{root + "/a:b", false},
		{root + "/a\nb", false},
		{root + "/a\x00b", false},
	}
	for _, tt := range tests {
		err := ValidateHome(tt.home, root)
		if tt.ok {
			require.NoError(t, err, tt.home)
		} else {
			require.Error(t, err, "%q", tt.home)
		}
	}
	require.NoError(t, ValidateHome("/srv", "/"), "everything is inside /")
}
