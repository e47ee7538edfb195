package ftpd

import "time"

// Transfers move in chunks: each moves the idle deadline on and updates the
// progress that Sessions and `ftpctl status` show. Chunks start small and
// grow while they go fast, as every chunk costs system calls (a 1 GiB
// download in 64 KiB chunks takes 16,384 sendfile calls). A chunk may take
// longer than the idle timeout: watchTransfer moves the deadline on while TCP
// moves the chunk's bytes.
const (
	minChunk = 64 << 10
	maxChunk = 4 << 20
)

// chunks sizes the chunks of one transfer.
type chunks struct {
	size    int64
	timeout time.Duration
	start   time.Time
}

func newChunks(timeout time.Duration) *chunks { return &chunks{size: minChunk, timeout: timeout} }

// next returns the size of the next chunk and starts timing it.
func (c *chunks) next() int64 {
	c.start = time.Now()
	return c.size
}

// done adapts the size to how long the last chunk took: doubled when it
// took under 1/64 of the idle timeout, halved when it took over 1/8.
func (c *chunks) done() {
	took := time.Since(c.start)
	switch {
	case took < c.timeout/64:
		c.size = min(2*c.size, maxChunk)
	case took > c.timeout/8:
		c.size = max(c.size/2, minChunk)
	}
}
