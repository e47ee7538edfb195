// Package logbuf takes log lines off the path of the work they describe: a
// Handler queues each record, and a goroutine of its own formats what is
// queued and writes it in one write. An FTP reply then waits neither for the
// log file or the journal (a 4 KiB download's 226 came 40 µs later for its log
// line, writing to a file) nor for the formatting of the line.
package logbuf

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"
)

// maxPending bounds the records queued; a caller waits for room beyond it.
const maxPending = 1024

// Handler queues records for the handler it wraps, which formats them into
// the queue's buffer. Records go out whole and in the order they came.
type Handler struct {
	inner slog.Handler
	q     *queue
}

// queue is shared by a Handler and those derived from it by WithAttrs and
// WithGroup, so that all their records keep one order.
type queue struct {
	out  io.Writer
	wake chan struct{} // holds a token while records wait
	done chan struct{} // the goroutine has ended

	mu      sync.Mutex
	room    sync.Cond // on mu: the queue was taken
	pending []entry
	closed  bool

	// format is held while records are formatted into buf and written out.
	format sync.Mutex
	buf    bytes.Buffer
}

type entry struct {
	h slog.Handler
	r slog.Record
}

// New starts a Handler whose records newHandler formats (it is given the
// writer to format into) and whose lines go to out. Close flushes and stops it.
func New(out io.Writer, newHandler func(io.Writer) slog.Handler) *Handler {
	q := &queue{out: out, wake: make(chan struct{}, 1), done: make(chan struct{})}
	q.room.L = &q.mu
	go q.run()
	return &Handler{inner: newHandler(formatTo{q}), q: q}
}

// formatTo is what the wrapped handlers write into: the queue's buffer,
// which only a holder of queue.format touches.
type formatTo struct{ q *queue }

func (f formatTo) Write(p []byte) (int, error) { return f.q.buf.Write(p) }

func (h *Handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

// Handle queues r. The record keeps its time; values are formatted later, so
// they must not change after the call (the service logs strings, numbers,
// durations, addresses and errors). Once the Handler is closed, Handle writes
// at once.
func (h *Handler) Handle(_ context.Context, r slog.Record) error {
	q := h.q
	q.mu.Lock()
	for !q.closed && len(q.pending) >= maxPending {
		q.room.Wait()
	}
	if q.closed {
		q.mu.Unlock()
		return q.write([]entry{{h.inner, r}})
	}
	q.pending = append(q.pending, entry{h.inner, r.Clone()})
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

func (h *Handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &Handler{inner: h.inner.WithAttrs(attrs), q: h.q}
}

func (h *Handler) WithGroup(name string) slog.Handler {
	return &Handler{inner: h.inner.WithGroup(name), q: h.q}
}

// Close writes what is queued and ends the goroutine.
func (h *Handler) Close() error {
	q := h.q
	q.mu.Lock()
	q.closed = true
	q.room.Broadcast()
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	<-q.done
	return nil
}

func (q *queue) run() {
	defer close(q.done)
	var batch []entry
	for range q.wake {
		q.mu.Lock()
		batch, q.pending = q.pending, batch[:0]
		closed := q.closed
		q.room.Broadcast()
		q.mu.Unlock()
		// A log that cannot be written has nowhere to report it.
		_ = q.write(batch)
		clear(batch) // the records' values may hold memory
		if closed {
			return // records after Close are written by Handle: this batch was the last
		}
	}
}

// write formats entries and writes them in one write.
func (q *queue) write(entries []entry) error {
	if len(entries) == 0 {
		return nil
	}
	q.format.Lock()
	defer q.format.Unlock()
	q.buf.Reset()
	for _, e := range entries {
		_ = e.h.Handle(context.Background(), e.r)
	}
	_, err := q.out.Write(q.buf.Bytes())
	if q.buf.Cap() > 64<<10 {
		q.buf = bytes.Buffer{} // a burst of lines does not keep its buffer
	}
	return err
}
