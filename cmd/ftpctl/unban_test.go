package main

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/internal/privsep"
	"github.com/jelastic/jelastic-ftp/monitor"
)

func TestTimeLeft(t *testing.T) {
	for d, want := range map[time.Duration]string{
		-time.Second:                          "0s",
		0:                                     "0s",
		42*time.Second + 400*time.Millisecond: "42s",
		59*time.Second + 600*time.Millisecond: "1m",
		3*time.Minute + 10*time.Second:        "3m",
		14*time.Minute + 40*time.Second:       "15m",
		65 * time.Minute:                      "1h5m",
	} {
		require.Equal(t, want, timeLeft(d), "%v", d)
	}
}

func TestPrintBans(t *testing.T) {
	now := time.Date(2026, 12, 6, 10, 12, 0, 0, time.UTC)
	ban := func(src string, left time.Duration) privsep.Ban {
		return privsep.Ban{Source: netip.MustParsePrefix(src), Until: now.Add(left)}
	}
	var b strings.Builder
	printBans(&b, []privsep.Ban{ban("203.0.113.9/32", 3*time.Minute), ban("2001:db8:1:2::/64", 30*time.Second)}, now)
	require.Equal(t, "\nbans: 2\n"+
		"  203.0.113.9/32     until 2026-12-06T10:15:00Z (3m left)\n"+
		"  2001:db8:1:2::/64  until 2026-12-06T10:12:30Z (30s left)\n", b.String())

	b.Reset()
	printBans(&b, nil, now)
	require.Equal(t, "\nbans: 0\n", b.String())

	var many []privsep.Ban
	for i := range maxBansShown + 3 {
		many = append(many, ban(fmt.Sprintf("10.0.0.%d/32", i), time.Hour))
	}
	b.Reset()
	printBans(&b, many, now)
	lines := strings.Split(strings.TrimSpace(b.String()), "\n")
	require.Len(t, lines, 1+maxBansShown+1)
	require.Equal(t, "  and 3 more (ftpctl status --json lists them all)", lines[len(lines)-1])
}

func TestPrintUnban(t *testing.T) {
	p := netip.MustParsePrefix
	many := make([]netip.Prefix, maxBansShown+2)
	for i := range many {
		many[i] = p(fmt.Sprintf("10.0.0.%d/32", i))
	}
	tests := []struct {
		name  string
		u     privsep.Unban
		reply monitor.UnbanReply
		want  string
	}{
		{"lifted and not banned", privsep.Unban{Sources: []netip.Prefix{p("127.0.0.9/32"), p("2001:db8::/64")}},
			monitor.UnbanReply{Lifted: []netip.Prefix{p("127.0.0.9/32")}, NotBanned: []netip.Prefix{p("2001:db8::/64")}},
			"lifted the ban on 127.0.0.9/32\n2001:db8::/64 was not banned\n"},
		{"all, none running", privsep.Unban{All: true}, monitor.UnbanReply{}, "no ban was running\n"},
		{"all, many", privsep.Unban{All: true}, monitor.UnbanReply{Lifted: many},
			"lifted the ban on 10.0.0.0/32\n"},
		{"sources named are all listed", privsep.Unban{Sources: many}, monitor.UnbanReply{Lifted: many}, "lifted the ban on 10.0.0.11/32\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var b strings.Builder
			printUnban(&b, tt.u, tt.reply)
			require.Contains(t, b.String(), tt.want)
		})
	}
	var b strings.Builder
	printUnban(&b, privsep.Unban{All: true}, monitor.UnbanReply{Lifted: many})
	require.Equal(t, maxBansShown, strings.Count(b.String(), "lifted the ban on"))
	require.True(t, strings.HasSuffix(b.String(), "\nand 2 more lifted (--json lists them all)\n"), b.String())
}
