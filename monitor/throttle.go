package monitor

import (
	"net/netip"
	"sync"
	"time"
)

// throttle counts failed logins per client address and bans an address that fails
// too often, the way fail2ban would but without needing it. Its memory is bounded: when
// full, the record seen longest ago is dropped.
type throttle struct {
	mu      sync.Mutex
	limit   int // failures within window that trigger a ban; 0 = never ban
	window  time.Duration
	banFor  time.Duration
	maxAddr int
	addrs   map[netip.Addr]*failures
}

type failures struct {
	times       []time.Time // failures within the window, oldest first
	bannedUntil time.Time
	last        time.Time
}

func newThrottle(limit int, window, banFor time.Duration) *throttle {
	return &throttle{limit: limit, window: window, banFor: banFor, maxAddr: 100_000, addrs: map[netip.Addr]*failures{}}
}

// banned reports whether addr may not even try.
func (t *throttle) banned(addr netip.Addr, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.addrs[addr]
	return f != nil && now.Before(f.bannedUntil)
}

// fail records a failed login and reports whether addr is now banned.
func (t *throttle) fail(addr netip.Addr, now time.Time) bool {
	if t.limit <= 0 {
		return false
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	f := t.addrs[addr]
	if f == nil {
		if len(t.addrs) >= t.maxAddr {
			t.evictOldest()
		}
		f = &failures{}
		t.addrs[addr] = f
	}
	f.last = now
	keep := f.times[:0]
	for _, at := range f.times {
		if now.Sub(at) < t.window {
			keep = append(keep, at)
		}
	}
	f.times = append(keep, now)
	if len(f.times) >= t.limit {
		f.bannedUntil = now.Add(t.banFor)
		f.times = f.times[:0]
		return true
	}
	return false
}

// evictOldest drops the record touched longest ago; it runs only when the table is
// full, which takes an attack from 100,000 addresses.
func (t *throttle) evictOldest() {
	var oldest netip.Addr
	var at time.Time
	for a, f := range t.addrs {
		if at.IsZero() || f.last.Before(at) {
			oldest, at = a, f.last
		}
	}
	delete(t.addrs, oldest)
}
