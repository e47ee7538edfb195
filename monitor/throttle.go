package monitor

import (
	"log/slog"
	"net/netip"
	"sync"
	"time"

	"github.com/jelastic/jelastic-ftp/internal/admission"
	"github.com/jelastic/jelastic-ftp/internal/lru"
	"github.com/jelastic/jelastic-ftp/internal/privsep"
)

// Bounds of the throttle's tables: an attack from more sources or against more names
// than this makes the table forget the ones quiet longest, never grow. The bans are
// bounded by admission.MaxBans, as the worker's copy of them is.
const (
	maxSources  = 100_000
	maxAccounts = 10_000
)

// Per-account slow-down: every ban_after_failures failed logins against one account
// within ban_window, from any addresses, make each login to that account wait
// accountDelayStep longer, up to maxAccountDelay. It is a delay and not a lockout, so
// an attacker cannot keep the real user out, and it applies to right and wrong
// passwords alike, so the answer's timing tells nothing.
const (
	accountDelayStep = 500 * time.Millisecond
	maxAccountDelay  = 5 * time.Second
)

// maxNameLen is the longest account name Linux allows; longer names cannot be
// accounts, so they need no protection and are not counted.
const maxNameLen = 32

// throttle counts failed logins per source (an IPv4 address, an IPv6 /64) and per
// account, bans a source that fails too often, the way fail2ban would but without
// needing it, and slows down logins to an account under attack. It lives as long as
// the monitor: a reload changes its limits and keeps its counts and bans.
type throttle struct {
	log *slog.Logger

	mu       sync.Mutex
	limit    int // failures within window that ban a source; 0 = never ban, never slow down
	window   time.Duration
	banFor   time.Duration
	sources  *lru.Map[netip.Prefix, *failures]
	accounts *lru.Map[string, *failures]
	bans     *lru.Map[netip.Prefix, ban] // oldest ban first
	changed  bool                        // bans were set or ended since the last snapshot
}

// failures counts failed logins in a window that opens with the first of them.
type failures struct {
	since time.Time
	count int
}

// add counts one failure at now and returns the count within the window.
func (f *failures) add(now time.Time, window time.Duration) int {
	if now.Sub(f.since) >= window {
		f.since, f.count = now, 0
	}
	f.count++
	return f.count
}

type ban struct {
	client netip.Addr // the address whose failure set it off
	until  time.Time
}

func newThrottle(log *slog.Logger, limit int, window, banFor time.Duration) *throttle {
	t := &throttle{
		log:      log,
		sources:  lru.New[netip.Prefix, *failures](maxSources),
		accounts: lru.New[string, *failures](maxAccounts),
		bans:     lru.New[netip.Prefix, ban](admission.MaxBans),
	}
	t.setLimits(limit, window, banFor)
	return t
}

// setLimits applies reloaded settings; counts and running bans stay.
func (t *throttle) setLimits(limit int, window, banFor time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.limit, t.window, t.banFor = limit, window, banFor
}

// banned reports whether addr may not even try.
func (t *throttle) banned(addr netip.Addr, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	src := admission.Source(addr)
	b, ok := t.bans.Peek(src)
	if ok && !now.Before(b.until) {
		t.lift(src, b)
		return false
	}
	return ok
}

// lift ends a ban that ran out, and says so once.
func (t *throttle) lift(src netip.Prefix, b ban) {
	t.bans.Remove(src)
	t.changed = true
	t.log.Info("ban ended", "client", b.client.String(), "source", src.String())
}

// expire ends the bans that ran out by now, oldest first.
func (t *throttle) expire(now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for {
		src, b, ok := t.bans.Oldest()
		if !ok || now.Before(b.until) {
			return
		}
		t.lift(src, b)
	}
}

// unban lifts the running bans of u's sources, or all of them, before their time, as
// an operator asked with ftpctl, and forgets the failures counted against each source
// named, so that one more typo does not ban it again at once. It returns the sources
// whose bans it lifted and, of those named, the ones not banned.
func (t *throttle) unban(u privsep.Unban, now time.Time) (lifted, notBanned []netip.Prefix) {
	t.mu.Lock()
	defer t.mu.Unlock()
	sources := u.Sources
	if u.All {
		sources = make([]netip.Prefix, 0, t.bans.Len())
		for src := range t.bans.All() {
			sources = append(sources, src)
		}
	}
	lifted, notBanned = []netip.Prefix{}, []netip.Prefix{}
	for _, src := range sources {
		t.sources.Remove(src)
		b, ok := t.bans.Peek(src)
		if !ok || !now.Before(b.until) {
			// One that ran out is left to expire, which says it ended.
			if !u.All {
				notBanned = append(notBanned, src)
			}
			continue
		}
		t.bans.Remove(src)
		t.changed = true
		t.log.Info("ban lifted", "client", b.client.String(), "source", src.String(), "by", "ftpctl")
		lifted = append(lifted, src)
	}
	return lifted, notBanned
}

// fail records a failed login from addr for the account name and reports whether
// addr is now banned.
func (t *throttle) fail(addr netip.Addr, name string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.limit <= 0 {
		return false
	}
	if len(name) <= maxNameLen && count(t.accounts, name, now, t.window) == t.limit {
		t.log.Warn("logins to the account slowed after repeated failed logins from any address", "client", addr.Unmap().String(), "user", name, "window", t.window.String())
	}
	src := admission.Source(addr)
	if count(t.sources, src, now, t.window) < t.limit {
		return false
	}
	t.sources.Remove(src)
	if _, already := t.bans.Peek(src); !already {
		t.log.Warn("client banned after repeated failed logins", "client", addr.Unmap().String(), "source", src.String(), "for", t.banFor.String())
	}
	t.bans.Put(src, ban{client: addr.Unmap(), until: now.Add(t.banFor)})
	t.changed = true
	return true
}

// count adds a failure of key at now to table and returns its count in the window.
func count[K comparable](table *lru.Map[K, *failures], key K, now time.Time, window time.Duration) int {
	f, ok := table.Get(key)
	if !ok {
		f = &failures{since: now}
		table.Put(key, f)
	}
	return f.add(now, window)
}

// accountDelay is how long a login to the account name waits before its password is
// checked: zero unless the account has drawn at least limit failures within the
// window, from any addresses.
func (t *throttle) accountDelay(name string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.limit <= 0 || len(name) > maxNameLen {
		return 0
	}
	f, ok := t.accounts.Get(name)
	if !ok || now.Sub(f.since) >= t.window {
		return 0
	}
	return min(time.Duration(f.count/t.limit)*accountDelayStep, maxAccountDelay)
}
