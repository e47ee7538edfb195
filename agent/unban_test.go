package agent

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/internal/privsep"
)

func TestUnbanRequest(t *testing.T) {
	many := make([]string, privsep.MaxBansPerMessage+1)
	for i := range many {
		many[i] = fmt.Sprintf("10.0.%d.%d", i/256, i%256)
	}
	tests := []struct {
		name string
		args []string
		all  bool
		want []string // the sources asked; nil with all
		err  string   // the expected error, "" none
	}{
		{name: "IPv4 address", args: []string{"203.0.113.9"}, want: []string{"203.0.113.9/32"}},
		{name: "IPv6 address lifts its /64", args: []string{"2001:db8:1:2::7"}, want: []string{"2001:db8:1:2::/64"}},
		{name: "sources as status shows them", args: []string{"203.0.113.9/32", "2001:db8:1:2::/64"}, want: []string{"203.0.113.9/32", "2001:db8:1:2::/64"}},
		{name: "repeats count once", args: []string{"203.0.113.9", "203.0.113.9/32", "::ffff:203.0.113.9", "2001:db8:1:2::7", "2001:db8:1:2::8"}, want: []string{"203.0.113.9/32", "2001:db8:1:2::/64"}},
		{name: "all", all: true},
		{name: "the most at once", args: many[:privsep.MaxBansPerMessage], want: nil},
		{name: "nothing", err: "name the addresses or sources to unban, or give --all"},
		{name: "all with a source", args: []string{"203.0.113.9"}, all: true, err: "--all lifts every ban: give it no source (got 203.0.113.9)"},
		{name: "not an address", args: []string{"203.0.113.9", "not-an-address"}, err: `"not-an-address" is neither an IP address nor a ban source`},
		{name: "a wider block", args: []string{"203.0.113.0/24"}, err: "203.0.113.0/24 is not a ban source"},
		{name: "an IPv6 /64 not masked", args: []string{"2001:db8:1:2::7/64"}, err: "(2001:db8:1:2::/64 here)"},
		{name: "a host name", args: []string{"ftp.example.com"}, err: `"ftp.example.com" is neither`},
		{name: "too many", args: many, err: fmt.Sprintf("at most %d sources at once (got %d)", privsep.MaxBansPerMessage, len(many))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			u, err := UnbanRequest(tt.args, tt.all)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				require.NotContains(t, err.Error(), "\n", "one line")
				return
			}
			require.NoError(t, err)
			require.True(t, u.Valid(), "the service takes it")
			require.Equal(t, tt.all, u.All)
			if tt.want == nil && !tt.all {
				require.Len(t, u.Sources, len(tt.args))
				return
			}
			var got []string
			for _, s := range u.Sources {
				got = append(got, s.String())
			}
			require.Equal(t, tt.want, got)
		})
	}
}

// TestUnbanNotRunning: with no service, ftpctl unban says so in one sentence that
// names what to do.
func TestUnbanNotRunning(t *testing.T) {
	a := &Admin{ControlSocket: filepath.Join(t.TempDir(), "control.sock")}
	_, err := a.Unban(privsep.Unban{Sources: []netip.Prefix{netip.MustParsePrefix("203.0.113.9/32")}})
	require.ErrorContains(t, err, "the service is not running, so no ban can be lifted; it restores the bans it saved when it starts (start it with ftpctl install, then run ftpctl unban again): dial unix ")
	require.False(t, strings.Contains(err.Error(), "ask the service"), err.Error())
}
