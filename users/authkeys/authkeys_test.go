package authkeys

import (
	"crypto/ed25519"
	"crypto/rand"
	"net/netip"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"
)

func newKey(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	sp, err := ssh.NewPublicKey(pub)
	require.NoError(t, err)
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sp)))
}

func TestParse(t *testing.T) {
	key := newKey(t)
	tests := []struct {
		line, want, err string
	}{
		{key, key, ""},
		{key + " alice@laptop", key + " alice@laptop", ""},
		{"  " + key + " a b  ", key + " a b", ""},
		{`from="10.0.0.0/8,!10.0.0.7,192.0.2.*" ` + key, `from="10.0.0.0/8,!10.0.0.7,192.0.2.*" ` + key, ""},
		{`command="ls" ` + key, "", "the option command is not accepted"},
		{`no-pty ` + key, "", "the option no-pty is not accepted"},
		{`from="example.com" ` + key, "", "host names are not resolved"},
		{`from="10.0.0.0/33" ` + key, "", "not a CIDR block"},
		{`from="" ` + key, "", "empty pattern"},
		{`from="1.2.3.4",from="1.2.3.5" ` + key, "", "twice"},
		{"ssh-ed25519 AAAAnotbase64", "", "not an OpenSSH public key line"},
		{"", "", "not an OpenSSH public key line"},
		{key + "\n" + key, "", "one line"},
	}
	for _, tt := range tests {
		k, err := Parse(tt.line)
		if tt.err != "" {
			require.ErrorContains(t, err, tt.err, "%q", tt.line)
			continue
		}
		require.NoError(t, err, tt.line)
		require.Equal(t, tt.want, k.String())
		again, err := Parse(k.String())
		require.NoError(t, err)
		require.Equal(t, k.String(), again.String(), "String reads back")
	}
}

func TestAdmits(t *testing.T) {
	key := newKey(t)
	tests := []struct {
		from   string
		client string
		want   bool
	}{
		{"", "203.0.113.9", true},
		{`from="10.0.0.0/8"`, "10.1.2.3", true},
		{`from="10.0.0.0/8"`, "192.0.2.1", false},
		{`from="10.0.0.0/8,!10.0.0.7"`, "10.0.0.7", false},
		{`from="10.0.0.0/8,!10.0.0.7"`, "::ffff:10.0.0.8", true},
		{`from="192.0.2.?"`, "192.0.2.5", true},
		{`from="192.0.2.?"`, "192.0.2.50", false},
		{`from="2001:db8::/32"`, "2001:db8::1", true},
		{`from="!10.0.0.7"`, "10.0.0.8", false}, // a negation alone admits nobody, as in OpenSSH
	}
	for _, tt := range tests {
		k, err := Parse(strings.TrimSpace(tt.from + " " + key))
		require.NoError(t, err)
		require.Equal(t, tt.want, k.Admits(netip.MustParseAddr(tt.client)), "%s from %s", tt.from, tt.client)
	}
}

func TestFind(t *testing.T) {
	a, b := newKey(t), newKey(t)
	ka, err := Parse(a)
	require.NoError(t, err)
	kb, err := Parse(b)
	require.NoError(t, err)
	got, ok := Find([]Key{ka, kb}, kb.Pub)
	require.True(t, ok)
	require.Equal(t, kb.Fingerprint(), got.Fingerprint())
	_, ok = Find([]Key{ka}, kb.Pub)
	require.False(t, ok)
}
