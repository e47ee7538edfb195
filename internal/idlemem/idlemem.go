// Package idlemem hands a long-running process's free heap back to the kernel
// once a burst of work is over. The Go runtime returns it only gradually, and
// on a container host the memory counts against the container meanwhile.
package idlemem

import (
	"runtime/debug"
	"sync"
	"time"
)

// Quiet is how long a process stays without work before it returns the memory the
// work used: long enough that a client's next connection or a burst's next
// password check usually comes first, short enough that a node at rest is measured
// at rest.
const Quiet = 2 * time.Second

// Releaser returns free memory after a quiet period.
type Releaser struct {
	after time.Duration
	idle  func() bool // nil: always idle once the period has passed

	mu    sync.Mutex
	timer *time.Timer
}

// New returns a Releaser that returns memory after a quiet period of after,
// if idle (when not nil) still says so then.
func New(after time.Duration, idle func() bool) *Releaser {
	return &Releaser{after: after, idle: idle}
}

// Done marks the end of some work: memory goes back after the quiet period,
// unless more work is done meanwhile.
func (r *Releaser) Done() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.timer == nil {
		r.timer = time.AfterFunc(r.after, r.release)
	} else {
		r.timer.Reset(r.after)
	}
}

func (r *Releaser) release() {
	if r.idle == nil || r.idle() {
		debug.FreeOSMemory()
	}
}
