package monitor

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestThrottle(t *testing.T) {
	a := netip.MustParseAddr("203.0.113.9")
	b := netip.MustParseAddr("2001:db8::1")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := newThrottle(3, time.Minute, 10*time.Minute)

	require.False(t, th.fail(a, t0))
	require.False(t, th.fail(a, t0.Add(10*time.Second)))
	require.False(t, th.banned(a, t0.Add(11*time.Second)))
	require.True(t, th.fail(a, t0.Add(20*time.Second)), "third failure within the window bans")
	require.True(t, th.banned(a, t0.Add(21*time.Second)))
	require.False(t, th.banned(b, t0.Add(21*time.Second)), "other addresses are not affected")
	require.False(t, th.banned(a, t0.Add(21*time.Second+10*time.Minute)), "the ban ends")

	// Failures spread wider than the window never add up to a ban.
	th = newThrottle(3, time.Minute, 10*time.Minute)
	for i := range 10 {
		require.False(t, th.fail(b, t0.Add(time.Duration(i)*31*time.Second)))
	}

	// Limit 0 never bans.
	th = newThrottle(0, time.Minute, time.Minute)
	for range 100 {
		require.False(t, th.fail(a, t0))
	}
}

func TestThrottleMemoryBounded(t *testing.T) {
	th := newThrottle(5, time.Minute, time.Minute)
	th.maxAddr = 50
	t0 := time.Now()
	for i := range 200 {
		th.fail(netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)}), t0.Add(time.Duration(i)*time.Millisecond))
	}
	require.Len(t, th.addrs, 50)
	_, kept := th.addrs[netip.AddrFrom4([4]byte{10, 0, 0, 199})]
	require.True(t, kept, "the newest address is kept")
}
