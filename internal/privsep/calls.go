package privsep

import (
	"sync"
	"sync/atomic"
)

// Calls matches replies to the requests that are waiting for them, by message ID, for
// either end of the channel. Replies nobody waits for (late, or made up) are dropped.
type Calls[T any] struct {
	next    atomic.Uint64
	mu      sync.Mutex
	pending map[uint64]chan T
}

// Start registers a request: send it with id, wait on reply, and call done when no
// longer waiting.
func (c *Calls[T]) Start() (id uint64, reply <-chan T, done func()) {
	id = c.next.Add(1)
	ch := make(chan T, 1)
	c.mu.Lock()
	if c.pending == nil {
		c.pending = map[uint64]chan T{}
	}
	c.pending[id] = ch
	c.mu.Unlock()
	return id, ch, func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}
}

// Deliver hands v to the request with id, if one waits.
func (c *Calls[T]) Deliver(id uint64, v T) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if ch, ok := c.pending[id]; ok {
		ch <- v
		delete(c.pending, id)
	}
}
