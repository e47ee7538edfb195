package ftpd

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestChunksAdaptToTheLink(t *testing.T) {
	tests := []struct {
		name  string
		took  time.Duration // per chunk, with a 64 s idle timeout
		steps int
		want  int64
	}{
		{"a fast link grows them up to the cap", 0, 20, maxChunk},
		{"three fast chunks: 512 KiB", 0, 3, 8 * minChunk},
		{"a slow link keeps the smallest", 10 * time.Second, 20, minChunk},
		{"in between, the size stays", 3 * time.Second, 20, minChunk},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newChunks(64 * time.Second)
			for range tt.steps {
				c.next()
				c.start = c.start.Add(-tt.took)
				c.done()
			}
			assert.Equal(t, tt.want, c.next())
		})
	}
	// Fast, then slow: the size comes down again.
	c := newChunks(64 * time.Second)
	for range 10 {
		c.next()
		c.done()
	}
	for range 2 {
		c.next()
		c.start = c.start.Add(-10 * time.Second)
		c.done()
	}
	assert.Equal(t, int64(maxChunk/4), c.next())
}
