package admission

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func TestSource(t *testing.T) {
	for addr, want := range map[string]string{
		"203.0.113.9":                            "203.0.113.9/32",
		"::ffff:203.0.113.9":                     "203.0.113.9/32",
		"2001:db8:1:2:aaaa:bbbb:cccc:dddd":       "2001:db8:1:2::/64",
		"2001:db8:1:2::1":                        "2001:db8:1:2::/64",
		"2001:db8:1:3::1":                        "2001:db8:1:3::/64",
		"::1":                                    "::/64",
		"fe80::1:2:3:4":                          "fe80::/64",
		"2001:db8:ffff:ffff:ffff:ffff:ffff:ffff": "2001:db8:ffff:ffff::/64",
	} {
		src := Source(netip.MustParseAddr(addr))
		require.Equal(t, want, src.String(), addr)
		require.True(t, IsSource(src), addr)
	}
	for _, p := range []string{"10.0.0.0/8", "10.0.0.1/31", "2001:db8::/48", "2001:db8::1/64", "2001:db8::1/128", "::ffff:10.0.0.1/128"} {
		require.False(t, IsSource(netip.MustParsePrefix(p)), p)
	}
	require.False(t, IsSource(netip.Prefix{}))
}

func limits(total, perIP, waiting, waitingPerIP, perUser int) Limits {
	return Limits{MaxSessions: total, MaxSessionsPerIP: perIP, MaxSessionsBeforeLogin: waiting, MaxSessionsBeforeLoginPerIP: waitingPerIP, MaxSessionsPerUser: perUser}
}

// step is one thing a test does to a gate: admit a connection from addr (and log it
// in as user, when set), or let an earlier one leave.
type step struct {
	addr    string
	user    string
	leave   int    // > 0: the pass admitted at this step (1-based) leaves instead
	refused string // the expected refusal of the admission ("" admitted)
	userCap bool   // the login is expected to be refused for the user's limit
}

func TestGateLimits(t *testing.T) {
	tests := []struct {
		name   string
		limits Limits
		steps  []step
	}{
		{"total", limits(2, 5, 5, 5, 5), []step{{addr: "10.0.0.1", user: "a"}, {addr: "10.0.0.2", user: "b"}, {addr: "10.0.0.3", refused: ReasonFull}, {leave: 1}, {addr: "10.0.0.3"}}},
		{"per address, an IPv6 address counting alone", limits(10, 2, 10, 10, 10), []step{
			{addr: "2001:db8::1", user: "a"}, {addr: "::ffff:10.0.0.1", user: "a"}, {addr: "10.0.0.1", user: "a"},
			{addr: "10.0.0.1", refused: ReasonPerIP}, {addr: "2001:db8::2"}, {addr: "2001:db8::1"}, {addr: "2001:db8::1", refused: ReasonPerIP},
		}},
		{"before login in all", limits(10, 10, 2, 2, 10), []step{{addr: "10.0.0.1"}, {addr: "10.0.0.2"}, {addr: "10.0.0.3", refused: ReasonWaiting}, {leave: 2}, {addr: "10.0.0.3"}}},
		{"a login makes room before login", limits(10, 10, 1, 1, 10), []step{{addr: "10.0.0.1", user: "a"}, {addr: "10.0.0.2"}, {addr: "10.0.0.3", refused: ReasonWaiting}}},
		{"before login per address", limits(10, 10, 5, 2, 10), []step{{addr: "10.0.0.1"}, {addr: "10.0.0.1"}, {addr: "10.0.0.1", refused: ReasonWaitingFromAddr}, {addr: "10.0.0.2"}}},
		{"before login within the total", limits(1, 10, 5, 5, 10), []step{{addr: "10.0.0.1"}, {addr: "10.0.0.2", refused: ReasonFull}}},
		{"per user", limits(10, 10, 10, 10, 2), []step{
			{addr: "10.0.0.1", user: "a"}, {addr: "10.0.0.2", user: "a"}, {addr: "10.0.0.3", user: "a", userCap: true},
			{addr: "10.0.0.4", user: "b"}, {leave: 1}, {addr: "10.0.0.5", user: "a"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := New(tt.limits)
			require.NoError(t, err)
			passes := make([]*Pass, len(tt.steps))
			for i, s := range tt.steps {
				if s.leave > 0 {
					passes[s.leave-1].Leave()
					passes[s.leave-1].Leave() // twice is once
					continue
				}
				p, r := g.Admit(netip.MustParseAddr(s.addr), t0)
				if s.refused != "" {
					require.Nil(t, p, "step %d", i+1)
					require.Equal(t, s.refused, r.Reason, "step %d", i+1)
					require.False(t, r.Banned())
					continue
				}
				require.Nil(t, r, "step %d", i+1)
				passes[i] = p
				if s.user != "" {
					_, ok := p.LogIn(s.user, 0)
					require.Equal(t, !s.userCap, ok, "step %d", i+1)
				}
			}
			for _, p := range passes {
				if p != nil {
					p.Leave()
				}
			}
			require.Zero(t, g.sessions)
			require.Zero(t, g.waiting)
			require.Empty(t, g.perIP)
			require.Empty(t, g.waitingPerIP)
			require.Empty(t, g.perUser)
		})
	}
}

func TestGateAccountLimit(t *testing.T) {
	g, err := New(limits(10, 10, 10, 10, 3))
	require.NoError(t, err)
	login := func(accountMax int) (int, bool) {
		p, r := g.Admit(netip.MustParseAddr("10.0.0.1"), t0)
		require.Nil(t, r)
		return p.LogIn("alice", accountMax)
	}
	limit, ok := login(1)
	require.True(t, ok)
	require.Equal(t, 1, limit, "the account's own limit when lower")
	limit, ok = login(1)
	require.False(t, ok)
	require.Equal(t, 1, limit)
	_, ok = login(5)
	require.True(t, ok, "max_sessions_per_user when the account's is higher")
	_, ok = login(0)
	require.True(t, ok, "0: no limit of the account's own")
	limit, ok = login(0)
	require.False(t, ok)
	require.Equal(t, 3, limit)

	p, _ := g.Admit(netip.MustParseAddr("10.0.0.2"), t0)
	_, ok = p.LogIn("bob", 0)
	require.True(t, ok)
	_, ok = p.LogIn("carol", 0)
	require.False(t, ok, "a session logs in once")
	p.Leave()
	_, ok = p.LogIn("carol", 0)
	require.False(t, ok, "nor after it left")
}

// TestGateReload: new limits apply to the next connection; the sessions counted
// stay counted.
func TestGateReload(t *testing.T) {
	g, err := New(limits(3, 3, 3, 3, 3))
	require.NoError(t, err)
	a := netip.MustParseAddr("10.0.0.1")
	for range 2 {
		_, r := g.Admit(a, t0)
		require.Nil(t, r)
	}
	require.NoError(t, g.SetLimits(limits(2, 5, 5, 5, 5)))
	_, r := g.Admit(a, t0)
	require.Equal(t, ReasonFull, r.Reason)
	require.Error(t, g.SetLimits(limits(0, 5, 5, 5, 5)))
	require.Error(t, g.SetLimits(limits(5, 5, 5, 5, -1)))
	_, r = g.Admit(a, t0)
	require.Equal(t, ReasonFull, r.Reason, "refused limits change nothing")
	_, err = New(Limits{})
	require.Error(t, err)

	// The caps before login are kept within the others.
	g, err = New(limits(2, 1, 50, 50, 5))
	require.NoError(t, err)
	require.Equal(t, limits(2, 1, 2, 1, 5), g.limits)
}

func TestGateBans(t *testing.T) {
	g, err := New(limits(100, 100, 100, 100, 100))
	require.NoError(t, err)
	until := t0.Add(10 * time.Minute)
	require.NoError(t, g.Ban(netip.MustParsePrefix("203.0.113.9/32"), until, t0))
	require.NoError(t, g.Ban(netip.MustParsePrefix("2001:db8:1:2::/64"), until, t0))
	require.Error(t, g.Ban(netip.MustParsePrefix("2001:db8:1:2::/48"), until, t0), "not a source")
	require.Error(t, g.Ban(netip.MustParsePrefix("203.0.113.0/24"), until, t0), "not a source")

	tests := []struct {
		addr   string
		at     time.Time
		banned bool
		told   bool
	}{
		{"203.0.113.9", t0, true, false},
		{"203.0.113.9", t0.Add(time.Second), true, true}, // logged once per ban
		{"::ffff:203.0.113.9", t0.Add(time.Second), true, true},
		{"203.0.113.10", t0, false, false},
		{"2001:db8:1:2::99", t0, true, false},
		{"2001:db8:1:2:ffff::1", t0, true, true}, // the whole /64
		{"2001:db8:1:3::1", t0, false, false},
		{"2001:db8:1:2::99", until, false, false}, // ended
		{"2001:db8:1:2::99", t0, false, false},    // and gone
	}
	for _, tt := range tests {
		p, r := g.Admit(netip.MustParseAddr(tt.addr), tt.at)
		if !tt.banned {
			require.Nil(t, r, "%s at %v", tt.addr, tt.at)
			p.Leave()
			continue
		}
		require.Nil(t, p)
		require.True(t, r.Banned(), "%s at %v", tt.addr, tt.at)
		require.Equal(t, ReasonBanned, r.Reason)
		require.Equal(t, until, r.Until)
		require.Equal(t, Source(netip.MustParseAddr(tt.addr)), r.Source)
		require.Equal(t, tt.told, r.Told, "%s at %v", tt.addr, tt.at)
	}
	require.Zero(t, g.sessions, "a banned connection is not counted")

	// A new ban of the same source is logged again, and ends at its own time.
	later := t0.Add(time.Hour)
	require.NoError(t, g.Ban(netip.MustParsePrefix("203.0.113.9/32"), later, t0.Add(time.Minute)))
	_, r := g.Admit(netip.MustParseAddr("203.0.113.9"), until)
	require.True(t, r.Banned())
	require.False(t, r.Told)
	// A ban that ended already is not kept.
	require.NoError(t, g.Ban(netip.MustParsePrefix("198.51.100.1/32"), t0, t0))
	_, r = g.Admit(netip.MustParseAddr("198.51.100.1"), t0)
	require.Nil(t, r)
}

func TestParseSource(t *testing.T) {
	for arg, want := range map[string]string{
		"203.0.113.9":        "203.0.113.9/32",
		"203.0.113.9/32":     "203.0.113.9/32",
		"::ffff:203.0.113.9": "203.0.113.9/32",
		"2001:db8:1:2::7":    "2001:db8:1:2::/64", // an IPv6 address stands for its /64
		"2001:db8:1:2::/64":  "2001:db8:1:2::/64",
		"fe80::1%eth0":       "fe80::/64",
		"::1":                "::/64",
	} {
		got, err := ParseSource(arg)
		require.NoError(t, err, arg)
		require.Equal(t, want, got.String(), arg)
	}
	for arg, msg := range map[string]string{
		"":                    `"" is neither an IP address nor a ban source`,
		"not-an-address":      `"not-an-address" is neither an IP address nor a ban source such as 203.0.113.9/32`,
		"203.0.113.9/33":      `"203.0.113.9/33" is neither`,
		"203.0.113.0/24":      "203.0.113.0/24 is not a ban source: bans are on one IPv4 address or one IPv6 /64 (203.0.113.0/32 here)",
		"2001:db8:1:2::7/64":  "2001:db8:1:2::7/64 is not a ban source: bans are on one IPv4 address or one IPv6 /64 (2001:db8:1:2::/64 here)",
		"2001:db8::/48":       "2001:db8::/48 is not a ban source",
		"2001:db8::1/128":     "(2001:db8::/64 here)",
		"::ffff:10.0.0.1/128": "(10.0.0.1/32 here)",
		"example.com":         `"example.com" is neither`,
	} {
		_, err := ParseSource(arg)
		require.ErrorContains(t, err, msg, arg)
	}
}

// TestGateUnban: a lifted ban admits its source at once, and only that source; a new
// ban of it holds again; UnbanAll empties the table.
func TestGateUnban(t *testing.T) {
	g, err := New(limits(100, 100, 100, 100, 100))
	require.NoError(t, err)
	until := t0.Add(10 * time.Minute)
	for _, p := range []string{"203.0.113.9/32", "203.0.113.10/32", "2001:db8:1:2::/64"} {
		require.NoError(t, g.Ban(netip.MustParsePrefix(p), until, t0))
	}
	admitted := func(addr string) bool {
		p, r := g.Admit(netip.MustParseAddr(addr), t0.Add(time.Second))
		if r != nil {
			require.True(t, r.Banned(), addr)
			return false
		}
		p.Leave()
		return true
	}
	require.True(t, g.Unban(netip.MustParsePrefix("203.0.113.9/32")))
	require.True(t, admitted("203.0.113.9"))
	require.True(t, admitted("::ffff:203.0.113.9"))
	require.False(t, admitted("203.0.113.10"), "another source stays banned")
	require.False(t, g.Unban(netip.MustParsePrefix("203.0.113.9/32")), "lifted already")
	require.False(t, g.Unban(netip.MustParsePrefix("198.51.100.1/32")), "never banned")

	require.NoError(t, g.Ban(netip.MustParsePrefix("203.0.113.9/32"), until, t0.Add(2*time.Second)))
	require.False(t, admitted("203.0.113.9"), "banned again after the unban")

	require.Equal(t, 3, g.UnbanAll())
	for _, a := range []string{"203.0.113.9", "203.0.113.10", "2001:db8:1:2::1"} {
		require.True(t, admitted(a), a)
	}
	require.Zero(t, g.UnbanAll())
	require.NoError(t, g.Ban(netip.MustParsePrefix("203.0.113.10/32"), until, t0))
	require.False(t, admitted("203.0.113.10"), "the table works after UnbanAll")
}

// TestGateBanTableBounded: the table holds at most MaxBans; a new ban drops the ones
// that ended first, else the oldest.
func TestGateBanTableBounded(t *testing.T) {
	g, err := New(limits(10, 10, 10, 10, 10))
	require.NoError(t, err)
	addr := func(i int) netip.Addr { return netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}) }
	for i := range MaxBans {
		until := t0.Add(time.Hour)
		if i < 10 {
			until = t0.Add(time.Minute) // the oldest ten end first
		}
		require.NoError(t, g.Ban(Source(addr(i)), until, t0))
	}
	require.Equal(t, MaxBans, g.bans.Len())
	require.NoError(t, g.Ban(Source(addr(MaxBans)), t0.Add(time.Hour), t0))
	require.Equal(t, MaxBans, g.bans.Len())
	_, r := g.Admit(addr(0), t0)
	require.Nil(t, r, "the oldest ban made room")
	_, r = g.Admit(addr(MaxBans), t0)
	require.True(t, r.Banned())

	require.NoError(t, g.Ban(Source(addr(MaxBans+1)), t0.Add(time.Hour), t0.Add(2*time.Minute)))
	require.Equal(t, MaxBans-9+1, g.bans.Len(), "the bans that ended were dropped")
	_, r = g.Admit(addr(10), t0.Add(2*time.Minute))
	require.True(t, r.Banned(), "running bans stay")
}

// BenchmarkAdmitFullBanTable: admitting with a full ban table costs no scan.
func BenchmarkAdmitFullBanTable(b *testing.B) {
	g, _ := New(limits(10, 10, 10, 10, 10))
	for i := range MaxBans {
		g.Ban(Source(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})), t0.Add(time.Hour), t0)
	}
	a := netip.MustParseAddr("192.0.2.1")
	b.ResetTimer()
	for range b.N {
		p, _ := g.Admit(a, t0)
		p.Leave()
	}
}

func TestGateWhenEmpty(t *testing.T) {
	g, err := New(limits(10, 10, 10, 10, 10))
	require.NoError(t, err)
	emptied := 0
	g.WhenEmpty(func() {
		require.True(t, g.Empty(), "called while a session is still counted")
		emptied++
	})
	require.True(t, g.Empty())
	a, r := g.Admit(netip.MustParseAddr("203.0.113.1"), t0)
	require.Nil(t, r)
	b, r := g.Admit(netip.MustParseAddr("203.0.113.2"), t0)
	require.Nil(t, r)
	_, ok := b.LogIn("alice", 0)
	require.True(t, ok)
	require.False(t, g.Empty())

	a.Leave()
	require.Equal(t, 0, emptied, "one session is still there")
	b.Leave()
	require.Equal(t, 1, emptied)
	b.Leave()
	require.Equal(t, 1, emptied, "a second Leave counts nothing out")

	c, r := g.Admit(netip.MustParseAddr("203.0.113.1"), t0)
	require.Nil(t, r)
	c.Leave()
	require.Equal(t, 2, emptied, "each time the gate empties")
}
