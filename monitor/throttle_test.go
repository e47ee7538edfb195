package monitor

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/internal/admission"
	"github.com/jelastic/jelastic-ftp/internal/lru"
	"github.com/jelastic/jelastic-ftp/internal/privsep"
)

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

func testThrottle(limit int, window, banFor time.Duration) (*throttle, *bytes.Buffer) {
	var log bytes.Buffer
	return newThrottle(slog.New(slog.NewTextHandler(&log, nil)), limit, window, banFor), &log
}

func TestThrottle(t *testing.T) {
	a := netip.MustParseAddr("203.0.113.9")
	b := netip.MustParseAddr("2001:db8::1")
	th, _ := testThrottle(3, time.Minute, 10*time.Minute)

	require.False(t, th.fail(a, "alice", t0))
	require.False(t, th.fail(a, "bob", t0.Add(10*time.Second)))
	require.False(t, th.banned(a, t0.Add(11*time.Second)))
	require.True(t, th.fail(a, "carol", t0.Add(20*time.Second)), "third failure within the window bans, whatever the names")
	require.True(t, th.banned(a, t0.Add(21*time.Second)))
	require.True(t, th.banned(netip.MustParseAddr("::ffff:203.0.113.9"), t0.Add(21*time.Second)), "a mapped address is the same client")
	require.False(t, th.banned(netip.MustParseAddr("203.0.113.10"), t0.Add(21*time.Second)), "other IPv4 addresses are not affected")
	require.False(t, th.banned(b, t0.Add(21*time.Second)))
	require.False(t, th.banned(a, t0.Add(20*time.Second+10*time.Minute)), "the ban ends")

	// Failures spread wider than the window never add up to a ban.
	th, _ = testThrottle(3, time.Minute, 10*time.Minute)
	for i := range 10 {
		require.False(t, th.fail(b, "alice", t0.Add(time.Duration(i)*31*time.Second)))
	}

	// Limit 0 never bans.
	th, _ = testThrottle(0, time.Minute, time.Minute)
	for range 100 {
		require.False(t, th.fail(a, "alice", t0))
	}
	require.Zero(t, th.accountDelay("alice", t0))
}

// TestThrottleIPv6Prefix: failures from different addresses of one /64 add up, and the
// ban covers the whole /64 and nothing beyond it.
func TestThrottleIPv6Prefix(t *testing.T) {
	th, _ := testThrottle(3, time.Minute, time.Hour)
	for i, a := range []string{"2001:db8:0:1::1", "2001:db8:0:1::2", "2001:db8:0:1:ffff::9"} {
		banned := th.fail(netip.MustParseAddr(a), "alice", t0.Add(time.Duration(i)*time.Second))
		require.Equal(t, i == 2, banned, a)
	}
	require.True(t, th.banned(netip.MustParseAddr("2001:db8:0:1:1234::1"), t0.Add(time.Minute)))
	require.False(t, th.banned(netip.MustParseAddr("2001:db8:0:2::1"), t0.Add(time.Minute)))
}

// TestThrottleReload: new limits apply, counts and bans stay.
func TestThrottleReload(t *testing.T) {
	a, b := netip.MustParseAddr("198.51.100.1"), netip.MustParseAddr("198.51.100.2")
	th, _ := testThrottle(2, time.Minute, time.Hour)
	th.fail(a, "x", t0)
	require.True(t, th.fail(a, "x", t0))
	th.fail(b, "x", t0)
	th.setLimits(3, time.Minute, 2*time.Hour)
	require.True(t, th.banned(a, t0.Add(time.Minute)), "the ban survives the reload")
	require.False(t, th.fail(b, "x", t0.Add(time.Second)), "the new limit applies")
	require.True(t, th.fail(b, "x", t0.Add(2*time.Second)), "the count from before the reload stays")
	require.True(t, th.banned(b, t0.Add(time.Hour+time.Minute)), "the new ban duration applies")
}

// TestThrottleLogsOnce: a ban is logged once when set and once when it ends, client first.
func TestThrottleLogsOnce(t *testing.T) {
	th, log := testThrottle(2, time.Minute, time.Minute)
	a := netip.MustParseAddr("192.0.2.7")
	for i := range 4 {
		th.fail(a, "alice", t0.Add(time.Duration(i)*time.Millisecond))
	}
	th.banned(a, t0.Add(time.Second))
	th.expire(t0.Add(2 * time.Minute))
	th.banned(a, t0.Add(3*time.Minute))
	th.expire(t0.Add(4 * time.Minute))
	out := log.String()
	require.Equal(t, 1, strings.Count(out, `msg="client banned after repeated failed logins" client=192.0.2.7 `), out)
	require.Equal(t, 1, strings.Count(out, `msg="ban ended" client=192.0.2.7 `), out)
}

// TestThrottleBanEndsWhenAsked: a ban that ran out ends at the next login of its source
// when no expire ran before.
func TestThrottleBanEndsWhenAsked(t *testing.T) {
	th, log := testThrottle(1, time.Minute, time.Minute)
	a := netip.MustParseAddr("192.0.2.8")
	require.True(t, th.fail(a, "alice", t0))
	require.False(t, th.banned(a, t0.Add(time.Minute)))
	require.Contains(t, log.String(), `msg="ban ended" client=192.0.2.8 `)
	require.Zero(t, th.bans.Len())
}

// TestAccountDelay: failures against one account from many addresses, none of which is
// banned, slow that account down, up to a bound, and no other account.
func TestAccountDelay(t *testing.T) {
	th, log := testThrottle(10, time.Minute, time.Hour)
	tests := []struct {
		failures int
		want     time.Duration
	}{{0, 0}, {9, 0}, {10, accountDelayStep}, {19, accountDelayStep}, {20, 2 * accountDelayStep}, {1000, maxAccountDelay}}
	done := 0
	for _, tt := range tests {
		for ; done < tt.failures; done++ {
			addr := netip.AddrFrom4([4]byte{10, byte(done >> 16), byte(done >> 8), byte(done)})
			require.False(t, th.fail(addr, "alice", t0))
		}
		require.Equal(t, tt.want, th.accountDelay("alice", t0.Add(time.Second)), "%d failures", tt.failures)
	}
	require.Zero(t, th.accountDelay("bob", t0), "other accounts")
	require.Zero(t, th.accountDelay("alice", t0.Add(time.Minute)), "the window ended")
	require.Equal(t, 1, strings.Count(log.String(), `msg="logins to the account slowed after repeated failed logins from any address" client=10.0.0.9 user=alice`), log.String())

	long := strings.Repeat("a", maxNameLen+1)
	for i := range 50 {
		th.fail(netip.AddrFrom4([4]byte{11, 0, 0, byte(i)}), long, t0)
	}
	require.Zero(t, th.accountDelay(long, t0), "names no account can have are not counted")
}

func TestThrottleMemoryBounded(t *testing.T) {
	th, _ := testThrottle(5, time.Minute, time.Minute)
	th.sources, th.accounts, th.bans = lru.New[netip.Prefix, *failures](50), lru.New[string, *failures](20), lru.New[netip.Prefix, ban](30)
	for i := range 200 {
		addr := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		th.fail(addr, fmt.Sprint("user", i), t0.Add(time.Duration(i)*time.Millisecond))
	}
	require.Equal(t, 50, th.sources.Len())
	require.Equal(t, 20, th.accounts.Len())
	_, kept := th.sources.Peek(admission.Source(netip.AddrFrom4([4]byte{10, 0, 0, 199})))
	require.True(t, kept, "the newest address is kept")
	for i := range 100 {
		addr := netip.AddrFrom4([4]byte{10, 1, 0, byte(i)})
		for range 5 {
			th.fail(addr, "x", t0)
		}
	}
	require.Equal(t, 30, th.bans.Len())
	require.True(t, th.banned(netip.AddrFrom4([4]byte{10, 1, 0, 99}), t0), "the newest ban is kept")
}

// BenchmarkThrottleFull: a failure from a new address when every table is full costs
// the same as when they are empty (no scan for the oldest record).
func BenchmarkThrottleFull(b *testing.B) {
	th, _ := testThrottle(1_000_000, time.Hour, time.Hour)
	for i := range maxSources {
		th.fail(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), "alice", t0)
	}
	b.ResetTimer()
	for i := range b.N {
		th.fail(netip.AddrFrom4([4]byte{11, byte(i >> 16), byte(i >> 8), byte(i)}), "alice", t0)
	}
}

// TestBansSavedAndRestored: the bans running when a monitor stops are in force in the
// next one, for no longer than the ban duration; ended ones and garbage are dropped.
func TestBansSavedAndRestored(t *testing.T) {
	dir := t.TempDir()
	m := loginWorld(t)
	a, b := netip.MustParseAddr("203.0.113.5"), netip.MustParseAddr("2001:db8:5:5::1")
	now := time.Now()
	for range 3 {
		m.throttle.fail(a, "alice", now.Add(-time.Hour)) // banned an hour ago, for 15 minutes: ended
		m.throttle.fail(b, "alice", now)
	}
	m.saveBans(dir, now, false)
	saved, err := os.ReadFile(filepath.Join(dir, bansFileName))
	require.NoError(t, err)
	require.NotContains(t, string(saved), "203.0.113.5", "an ended ban is not saved")

	next := loginWorld(t)
	require.NoError(t, next.loadBans(dir, now))
	require.True(t, next.throttle.banned(netip.MustParseAddr("2001:db8:5:5::9"), now.Add(time.Minute)), "the /64 is still banned")
	require.False(t, next.throttle.banned(b, now.Add(16*time.Minute)), "for no longer than before")

	// A ban far in the future (a clock set wrong, an edited file) lasts ban_duration.
	require.NoError(t, os.WriteFile(filepath.Join(dir, bansFileName), []byte(`[{"client":"192.0.2.1","until":"2999-01-01T00:00:00Z"},{"client":"","until":"2999-01-01T00:00:00Z"}]`), 0o600))
	next = loginWorld(t)
	require.NoError(t, next.loadBans(dir, now))
	require.Equal(t, 1, next.throttle.bans.Len(), "a record without an address is dropped")
	require.True(t, next.throttle.banned(netip.MustParseAddr("192.0.2.1"), now))
	require.False(t, next.throttle.banned(netip.MustParseAddr("192.0.2.1"), now.Add(16*time.Minute)))

	require.NoError(t, os.WriteFile(filepath.Join(dir, bansFileName), []byte("{not json"), 0o600))
	require.Error(t, loginWorld(t).loadBans(dir, now))
}

// TestThrottleUnban: an operator's unban lifts the named sources' bans at once, logs
// each, forgets their failures (one more typo does not ban again), reports the ones
// not banned, and leaves the others; with All, every running ban goes.
func TestThrottleUnban(t *testing.T) {
	th, log := testThrottle(3, time.Minute, time.Hour)
	a, b, c := netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("2001:db8:1:2::7"), netip.MustParseAddr("198.51.100.4")
	near := netip.MustParseAddr("192.0.2.50") // two failures, not banned
	for i := range 3 {
		at := t0.Add(time.Duration(i) * time.Second)
		th.fail(a, "alice", at)
		th.fail(b, "alice", at)
		th.fail(c, "alice", at)
	}
	th.fail(near, "alice", t0)
	th.fail(near, "alice", t0)
	th.snapshot(t0) // saved: nothing changed since
	now := t0.Add(time.Minute)

	lifted, notBanned := th.unban(privsep.Unban{Sources: []netip.Prefix{
		admission.Source(a), admission.Source(b), admission.Source(near), netip.MustParsePrefix("10.0.0.1/32"),
	}}, now)
	require.Equal(t, []netip.Prefix{admission.Source(a), netip.MustParsePrefix("2001:db8:1:2::/64")}, lifted)
	require.Equal(t, []netip.Prefix{admission.Source(near), netip.MustParsePrefix("10.0.0.1/32")}, notBanned)
	require.Contains(t, log.String(), `msg="ban lifted" client=203.0.113.9 source=203.0.113.9/32 by=ftpctl`)
	require.Contains(t, log.String(), `msg="ban lifted" client=2001:db8:1:2::7 source=2001:db8:1:2::/64 by=ftpctl`)
	require.False(t, th.banned(a, now))
	require.False(t, th.banned(netip.MustParseAddr("2001:db8:1:2::99"), now), "the whole /64")
	require.True(t, th.banned(c, now), "a source not named stays banned")
	_, changed := th.snapshot(now)
	require.True(t, changed, "bans.json is due to be rewritten")

	require.False(t, th.fail(a, "alice", now), "one more typo after an unban does not ban")
	require.False(t, th.fail(near, "alice", now), "the failures before the unban are forgotten")
	require.False(t, th.fail(a, "alice", now))
	require.True(t, th.fail(a, "alice", now), "the limit counts again from the unban")

	lifted, notBanned = th.unban(privsep.Unban{All: true}, now)
	require.ElementsMatch(t, []netip.Prefix{admission.Source(a), admission.Source(c)}, lifted)
	require.Empty(t, notBanned)
	require.Zero(t, th.bans.Len())
	lifted, _ = th.unban(privsep.Unban{All: true}, now)
	require.Empty(t, lifted, "nothing left to lift")

	// A ban that ran out is not lifted by an operator but ends as usual.
	for range 2 {
		require.False(t, th.fail(a, "alice", now), "--all forgot the failures of the sources it lifted")
	}
	require.True(t, th.fail(a, "alice", now))
	later := now.Add(2 * time.Hour)
	lifted, notBanned = th.unban(privsep.Unban{Sources: []netip.Prefix{admission.Source(a)}}, later)
	require.Empty(t, lifted)
	require.Equal(t, []netip.Prefix{admission.Source(a)}, notBanned)
	require.Equal(t, 2, strings.Count(log.String(), `msg="ban lifted" client=203.0.113.9 `), log.String())
}
