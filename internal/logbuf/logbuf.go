// Package logbuf takes log writes off the path of the work they describe: a
// Writer queues each write and a goroutine of its own passes the queue on in
// one write. An FTP reply then does not wait for the log file or the journal
// (a 4 KiB download's 226 came 40 µs later for its log line, writing to a file).
package logbuf

import (
	"io"
	"sync"
)

// maxPending bounds the bytes queued; a writer waits for room beyond it.
const maxPending = 256 << 10

// Writer queues writes for out. Each Write is passed on whole and in order.
type Writer struct {
	out  io.Writer
	wake chan struct{} // holds a token while the queue has bytes
	done chan struct{} // the goroutine has ended

	mu     sync.Mutex
	room   sync.Cond // on mu: the queue was taken
	queue  []byte
	closed bool
}

// New starts a Writer for out; Close flushes and stops it.
func New(out io.Writer) *Writer {
	w := &Writer{out: out, wake: make(chan struct{}, 1), done: make(chan struct{})}
	w.room.L = &w.mu
	go w.run()
	return w
}

// Write queues p. Once the Writer is closed, it writes p to out at once.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	for !w.closed && len(w.queue) > 0 && len(w.queue)+len(p) > maxPending {
		w.room.Wait()
	}
	if w.closed {
		w.mu.Unlock()
		return w.out.Write(p)
	}
	w.queue = append(w.queue, p...)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

// Close writes what is queued and ends the goroutine.
func (w *Writer) Close() error {
	w.mu.Lock()
	w.closed = true
	w.room.Broadcast()
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	<-w.done
	return nil
}

func (w *Writer) run() {
	defer close(w.done)
	var batch []byte
	for range w.wake {
		w.mu.Lock()
		batch, w.queue = w.queue, batch[:0]
		closed := w.closed
		w.room.Broadcast()
		w.mu.Unlock()
		if len(batch) > 0 {
			// A log that cannot be written has nowhere to report it.
			_, _ = w.out.Write(batch)
		}
		if closed {
			return // writes after Close go straight to out: this batch was the last
		}
	}
}
