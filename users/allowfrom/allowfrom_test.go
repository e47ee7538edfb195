package allowfrom

import (
	"net/netip"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in        string
		text      string
		admits    []string
		refuses   []string
		admitsAll bool
	}{
		{in: "any", text: "any", admitsAll: true},
		{in: " any ", text: "any", admitsAll: true},
		{in: "127.0.0.2", text: "127.0.0.2", admits: []string{"127.0.0.2", "::ffff:127.0.0.2"}, refuses: []string{"127.0.0.1", "::1"}},
		{in: "10.0.0.0/8, 192.0.2.7", text: "10.0.0.0/8,192.0.2.7", admits: []string{"10.255.0.1", "192.0.2.7"}, refuses: []string{"11.0.0.1", "192.0.2.8"}},
		{in: "2001:db8::/32,::1", text: "2001:db8::/32,::1", admits: []string{"2001:db8:1::5", "::1"}, refuses: []string{"2001:db9::1", "127.0.0.1"}},
		{in: "::ffff:10.1.2.3", text: "10.1.2.3", admits: []string{"10.1.2.3"}, refuses: []string{"10.1.2.4"}},
		{in: "::ffff:10.0.0.0/104", text: "10.0.0.0/8", admits: []string{"10.9.9.9"}, refuses: []string{"11.0.0.0"}},
		{in: "0.0.0.0/0", text: "0.0.0.0/0", admits: []string{"203.0.113.1"}, refuses: []string{"2001:db8::1"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			l, err := Parse(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.text, l.String())
			require.Equal(t, tt.admitsAll, l == nil)
			for _, a := range tt.admits {
				require.True(t, l.Admits(netip.MustParseAddr(a)), a)
			}
			for _, a := range tt.refuses {
				require.False(t, l.Admits(netip.MustParseAddr(a)), a)
			}
			again, err := Parse(l.String())
			require.NoError(t, err)
			require.Equal(t, l, again)
		})
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "the address list is empty"},
		{"localhost", `"localhost" is not an IP address`},
		{"10.0.0.1/8", `did you mean 10.0.0.0/8?`},
		{"10.0.0.0/33", `"10.0.0.0/33" is not`},
		{"10.0.0.0/8,", `"" is not`},
		{"any,10.0.0.1", `"any" stands alone`},
		{"fe80::1%eth0", `"fe80::1%eth0" is not`},
		{"::ffff:0:0/64", `IPv4-mapped`},
		{"1.2.3", `"1.2.3" is not`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			require.ErrorContains(t, err, tt.want)
		})
	}
}
