// Package admission decides which connections the worker serves. One Gate, shared by
// the worker's FTP and SFTP servers, counts their sessions against the limits — in
// all, per address, not logged in yet (in all and per address), per user — and holds
// the bans the monitor sends, so that a banned source is refused at accept, before
// any greeting, whichever protocol it speaks. Every check is O(1).
package admission

import (
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/jelastic/jelastic-ftp/internal/lru"
)

// MaxBans bounds a ban table, the monitor's and the worker's alike: an attack from
// more sources than this makes it forget the ban set longest ago, never grow.
const MaxBans = 100_000

// Source is what failed logins are counted and bans set against: one IPv4 address,
// or the /64 an IPv6 address lies in, since one subscriber usually holds a whole /64.
func Source(addr netip.Addr) netip.Prefix {
	addr = addr.Unmap()
	bits := 32
	if addr.Is6() {
		bits = 64
	}
	p, _ := addr.Prefix(bits)
	return p
}

// IsSource reports whether p is what Source returns for the addresses in it.
func IsSource(p netip.Prefix) bool {
	return p.IsValid() && !p.Addr().Is4In6() && p == Source(p.Addr())
}

// ParseSource reads a source as an operator names it: an address stands for its
// Source (an IPv6 address for its /64), and a prefix must be a source itself, as
// `ftpctl status` shows them (203.0.113.9/32, 2001:db8:1:2::/64).
func ParseSource(s string) (netip.Prefix, error) {
	if addr, err := netip.ParseAddr(s); err == nil {
		return Source(addr), nil
	}
	p, err := netip.ParsePrefix(s)
	if err != nil {
		return netip.Prefix{}, fmt.Errorf("%q is neither an IP address nor a ban source such as 203.0.113.9/32 or 2001:db8:1:2::/64", s)
	}
	if !IsSource(p) {
		return netip.Prefix{}, fmt.Errorf("%s is not a ban source: bans are on one IPv4 address or one IPv6 /64 (%s here)", s, Source(p.Addr()))
	}
	return p, nil
}

// Limits are the caps a Gate applies; each must be positive.
type Limits struct {
	MaxSessions                 int // sessions of all servers sharing the gate
	MaxSessionsPerIP            int // sessions from one address
	MaxSessionsBeforeLogin      int // sessions not logged in yet; at most MaxSessions
	MaxSessionsBeforeLoginPerIP int // those from one address; at most each of the two above
	MaxSessionsPerUser          int // sessions logged in as one user
}

// check validates l and returns it with the caps of sessions before login kept
// within the others.
func (l Limits) check() (Limits, error) {
	if l.MaxSessions <= 0 || l.MaxSessionsPerIP <= 0 || l.MaxSessionsBeforeLogin <= 0 ||
		l.MaxSessionsBeforeLoginPerIP <= 0 || l.MaxSessionsPerUser <= 0 {
		return l, fmt.Errorf("session limits must be positive: %+v", l)
	}
	l.MaxSessionsBeforeLogin = min(l.MaxSessionsBeforeLogin, l.MaxSessions)
	l.MaxSessionsBeforeLoginPerIP = min(l.MaxSessionsBeforeLoginPerIP, l.MaxSessionsBeforeLogin, l.MaxSessionsPerIP)
	return l, nil
}

// Gate admits connections. Its methods are safe for concurrent use.
type Gate struct {
	mu           sync.Mutex
	limits       Limits
	sessions     int
	perIP        map[netip.Addr]int
	waiting      int // sessions not logged in yet
	waitingPerIP map[netip.Addr]int
	perUser      map[string]int
	bans         *lru.Map[netip.Prefix, *ban] // oldest ban first
	emptied      func()                       // see WhenEmpty
}

type ban struct {
	until time.Time
	told  bool // a refusal under this ban was logged
}

// New returns a gate with no sessions and no bans.
func New(l Limits) (*Gate, error) {
	g := &Gate{
		perIP:        map[netip.Addr]int{},
		waitingPerIP: map[netip.Addr]int{},
		perUser:      map[string]int{},
		bans:         lru.New[netip.Prefix, *ban](MaxBans),
	}
	if err := g.SetLimits(l); err != nil {
		return nil, err
	}
	return g, nil
}

// SetLimits applies reloaded limits to the sessions that start from now on; the
// counts stay. Invalid limits are refused and the current ones stay.
func (g *Gate) SetLimits(l Limits) error {
	l, err := l.check()
	if err != nil {
		return err
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	g.limits = l
	return nil
}

// WhenEmpty makes f run, outside the gate's lock, each time the last session
// leaves: the moment a worker can hand back what a burst of sessions, of any
// protocol, left on its heap.
func (g *Gate) WhenEmpty(f func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.emptied = f
}

// Empty reports whether no session is admitted.
func (g *Gate) Empty() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.sessions == 0
}

// The sentences a refused client is told (FTP's 421) and the log gives as reason.
const (
	ReasonBanned          = "Your address is banned after repeated failed logins; try again later."
	ReasonFull            = "Too many connections, try again later."
	ReasonPerIP           = "Too many connections from your address."
	ReasonWaiting         = "Too many connections waiting to log in, try again later."
	ReasonWaitingFromAddr = "Too many connections waiting to log in from your address."
)

// Refusal says why a connection is not admitted.
type Refusal struct {
	Reason string // one of the Reason sentences
	// For a banned source: the ban, and whether a refusal under it was logged
	// already, so that a banned client hammering away is logged once per ban.
	Source netip.Prefix
	Until  time.Time
	Told   bool
}

// Banned reports whether the connection was refused for a ban.
func (r *Refusal) Banned() bool { return r.Reason == ReasonBanned }

// Admit counts a new connection from addr, not logged in yet, or says why it may
// not start. The session returns its Pass when it ends.
func (g *Gate) Admit(addr netip.Addr, now time.Time) (*Pass, *Refusal) {
	addr = addr.Unmap()
	g.mu.Lock()
	defer g.mu.Unlock()
	src := Source(addr)
	if b, ok := g.bans.Peek(src); ok {
		if now.Before(b.until) {
			r := &Refusal{Reason: ReasonBanned, Source: src, Until: b.until, Told: b.told}
			b.told = true
			return nil, r
		}
		g.bans.Remove(src)
	}
	var reason string
	switch {
	case g.sessions >= g.limits.MaxSessions:
		reason = ReasonFull
	case g.perIP[addr] >= g.limits.MaxSessionsPerIP:
		reason = ReasonPerIP
	case g.waiting >= g.limits.MaxSessionsBeforeLogin:
		reason = ReasonWaiting
	case g.waitingPerIP[addr] >= g.limits.MaxSessionsBeforeLoginPerIP:
		reason = ReasonWaitingFromAddr
	}
	if reason != "" {
		return nil, &Refusal{Reason: reason}
	}
	g.sessions++
	g.perIP[addr]++
	g.waiting++
	g.waitingPerIP[addr]++
	return &Pass{g: g, addr: addr}, nil
}

// Ban refuses connections from source until until, replacing an earlier ban of it;
// bans that ended by now are dropped first, oldest first, so that the table, bounded
// to MaxBans, holds running ones.
func (g *Gate) Ban(source netip.Prefix, until, now time.Time) error {
	if !IsSource(source) {
		return fmt.Errorf("ban of %s: not an IPv4 address or an IPv6 /64", source)
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for {
		src, b, ok := g.bans.Oldest()
		if !ok || now.Before(b.until) {
			break
		}
		g.bans.Remove(src)
	}
	if now.Before(until) {
		g.bans.Put(source, &ban{until: until})
	}
	return nil
}

// Unban lifts the ban of source before its time, as the monitor says an operator
// asked, and reports whether one was in the table.
func (g *Gate) Unban(source netip.Prefix) bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	_, ok := g.bans.Peek(source)
	g.bans.Remove(source)
	return ok
}

// UnbanAll lifts every ban and returns how many the table held.
func (g *Gate) UnbanAll() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	n := g.bans.Len()
	g.bans = lru.New[netip.Prefix, *ban](MaxBans)
	return n
}

// Pass is one admitted session's place in the counts.
type Pass struct {
	g    *Gate
	addr netip.Addr
	// Guarded by g.mu.
	user string // "" until LogIn
	left bool
}

// LogIn moves the session from the ones not logged in to user's, unless user has as
// many sessions as allowed — the lower of max_sessions_per_user and the account's own
// limit (accountMax; 0 for none) — or the session logged in or left already. It
// returns the limit it applied.
func (p *Pass) LogIn(user string, accountMax int) (limit int, ok bool) {
	g := p.g
	g.mu.Lock()
	defer g.mu.Unlock()
	limit = g.limits.MaxSessionsPerUser
	if accountMax > 0 {
		limit = min(limit, accountMax)
	}
	if p.left || p.user != "" || g.perUser[user] >= limit {
		return limit, false
	}
	p.user = user
	g.perUser[user]++
	g.waiting--
	decrement(g.waitingPerIP, p.addr)
	return limit, true
}

// Leave counts the session out; calling it again does nothing.
func (p *Pass) Leave() {
	if emptied := p.leave(); emptied != nil {
		emptied()
	}
}

// leave counts the session out and returns the gate's WhenEmpty function if it
// was the last one.
func (p *Pass) leave() func() {
	g := p.g
	g.mu.Lock()
	defer g.mu.Unlock()
	if p.left {
		return nil
	}
	p.left = true
	g.sessions--
	decrement(g.perIP, p.addr)
	if p.user != "" {
		decrement(g.perUser, p.user)
	} else {
		g.waiting--
		decrement(g.waitingPerIP, p.addr)
	}
	if g.sessions == 0 {
		return g.emptied
	}
	return nil
}

func decrement[K comparable](m map[K]int, k K) {
	if m[k]--; m[k] <= 0 {
		delete(m, k)
	}
}
