package logbuf

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

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

func textHandler(w io.Writer) slog.Handler { return slog.NewTextHandler(w, nil) }

func TestRecordsArriveWholeAndInOrder(t *testing.T) {
	out := &slowOut{}
	h := New(out, textHandler)
	log := slog.New(h)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				log.Info("line", "writer", g, "line", i, "pad", strings.Repeat("x", 100))
			}
		})
	}
	wg.Wait()
	require.NoError(t, h.Close())

	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 8*500)
	next := map[int]int{}
	for _, l := range lines {
		_, rest, ok := strings.Cut(l, " writer=")
		require.True(t, ok, "a torn line: %q", l)
		var g, i int
		_, err := fmt.Sscanf(rest, "%d line=%d", &g, &i)
		require.NoError(t, err, "a torn line: %q", l)
		require.Equal(t, next[g], i, "writer %d out of order", g)
		next[g]++
	}
	assert.Less(t, out.writes, 8*500, "queued lines go out together")

	// After Close, records are written at once.
	log.Info("late")
	assert.True(t, strings.HasSuffix(out.String(), "msg=late\n"), out.String())
}

// TestLinesAreThoseOfTheWrappedHandler: the same bytes as the handler
// writing directly, the record's own time included, through With and
// WithGroup too.
func TestLinesAreThoseOfTheWrappedHandler(t *testing.T) {
	when := time.Date(2026, 11, 22, 3, 4, 5, 6e6, time.UTC)
	emit := func(l *slog.Logger) {
		l = l.With("session", 7)
		r := slog.NewRecord(when, slog.LevelWarn, "login failed", 0)
		r.AddAttrs(slog.String("user", "a b"), slog.Duration("took", 1500*time.Millisecond),
			slog.Any("err", errors.New("wrong password")))
		require.NoError(t, l.Handler().Handle(t.Context(), r))
		require.NoError(t, l.WithGroup("tls").Handler().Handle(t.Context(), slog.NewRecord(when, slog.LevelInfo, "ok", 0)))
	}
	var want bytes.Buffer
	emit(slog.New(textHandler(&want)))

	out := &slowOut{}
	h := New(out, textHandler)
	emit(slog.New(h))
	require.NoError(t, h.Close())
	require.Equal(t, want.String(), out.String())
	require.Contains(t, out.String(), `time=2026-11-22T03:04:05.006Z level=WARN msg="login failed" session=7 user="a b" took=1.5s err="wrong password"`)
}

func TestLevelsAreTheWrappedHandlers(t *testing.T) {
	out := &slowOut{}
	h := New(out, func(w io.Writer) slog.Handler {
		return slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelWarn})
	})
	log := slog.New(h)
	assert.False(t, log.Enabled(t.Context(), slog.LevelInfo))
	assert.True(t, log.Enabled(t.Context(), slog.LevelWarn))
	log.Info("dropped")
	log.Warn("kept")
	require.NoError(t, h.Close())
	assert.NotContains(t, out.String(), "dropped")
	assert.Contains(t, out.String(), "kept")
}

func TestQueueIsBounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		out := &slowOut{gate: make(chan struct{})}
		h := New(out, textHandler)
		log := slog.New(h)
		log.Info("first")
		synctest.Wait() // the goroutine has taken it and waits in out
		for i := range maxPending {
			log.Info("queued", "i", i) // fills the queue
		}
		done := make(chan struct{})
		go func() {
			defer close(done)
			log.Info("beyond")
		}()
		synctest.Wait()
		select {
		case <-done:
			t.Fatal("a record beyond the bound did not wait for room")
		default:
		}
		close(out.gate) // out drains, and the waiting record goes in
		synctest.Wait()
		<-done
		require.NoError(t, h.Close())
		assert.Equal(t, 2+maxPending, strings.Count(out.String(), "\n"))
		assert.True(t, strings.HasSuffix(out.String(), "msg=beyond\n"))
	})
}
