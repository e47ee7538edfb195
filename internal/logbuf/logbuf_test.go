package logbuf

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// slowOut records what reaches it and can hold writes back.
type slowOut struct {
	mu     sync.Mutex
	buf    bytes.Buffer
	writes int
	gate   chan struct{} // when not nil, each write waits for a token
}

func (o *slowOut) Write(p []byte) (int, error) {
	if o.gate != nil {
		<-o.gate
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.writes++
	return o.buf.Write(p)
}

func (o *slowOut) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

func TestWritesArriveWholeAndInOrder(t *testing.T) {
	out := &slowOut{}
	w := New(out)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				fmt.Fprintf(w, "writer=%d line=%d %s\n", g, i, strings.Repeat("x", 100))
			}
		}()
	}
	wg.Wait()
	require.NoError(t, w.Close())

	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 8*500)
	next := map[int]int{}
	for _, l := range lines {
		var g, i int
		_, err := fmt.Sscanf(l, "writer=%d line=%d", &g, &i)
		require.NoError(t, err, "a torn line: %q", l)
		require.Equal(t, next[g], i, "writer %d out of order", g)
		next[g]++
	}
	assert.Less(t, out.writes, 8*500, "queued lines go out together")

	// After Close, writes go straight through.
	_, err := w.Write([]byte("late\n"))
	require.NoError(t, err)
	assert.True(t, strings.HasSuffix(out.String(), "late\n"))
}

func TestQueueIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &slowOut{gate: make(chan struct{})}
		w := New(out)
		line := bytes.Repeat([]byte("y"), 64<<10)
		_, err := w.Write(line)
		require.NoError(t, err)
		synctest.Wait() // the goroutine has taken it and waits in out
		for range maxPending / len(line) {
			_, err := w.Write(line) // fills the queue
			require.NoError(t, err)
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			_, _ = w.Write(line)
		}()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("a write beyond the bound did not wait for room")
		default:
		}
		close(out.gate) // out drains, and the waiting write goes in
		synctest.Wait()
		<-done
		require.NoError(t, w.Close())
		assert.Equal(t, (2+maxPending/len(line))*len(line), len(out.String()))
	})
}
