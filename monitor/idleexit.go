package monitor

import (
	"errors"
	"time"
)

// errIdleExit ends a socket-activated service that has had no session for
// idle_exit: systemd keeps the listening socket and starts the service again
// on the next connection, so a container whose FTP is seldom used holds no
// memory for it in between.
var errIdleExit = errors.New("no session for idle_exit")

// idleWatch decides when a socket-activated service may exit.
type idleWatch struct {
	since time.Time // when sessions were first seen gone; zero while there are some
}

// observe records how many sessions there are at now and reports whether
// there has been none for limit. A limit of 0 never ends the service.
func (w *idleWatch) observe(sessions int, now time.Time, limit time.Duration) bool {
	if sessions > 0 || limit <= 0 {
		w.since = time.Time{}
		return false
	}
	if w.since.IsZero() {
		w.since = now
	}
	return now.Sub(w.since) >= limit
}

// idleCheckEvery is how often the sessions are counted for a limit: often
// enough that the service exits at most a tenth of the limit late, and no
// more often than once a second nor less than once a minute (also without a
// limit, for a reload that sets one).
func idleCheckEvery(limit time.Duration) time.Duration {
	if limit <= 0 {
		return time.Minute
	}
	return min(max(limit/10, time.Second), time.Minute)
}
