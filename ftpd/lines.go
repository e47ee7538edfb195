package ftpd

import (
	"bytes"
	"errors"
	"io"
)

var errLineTooLong = errors.New("command line too long")

// lineBuffer is how many bytes a session's line reader holds at first.
const lineBuffer = 256

// lineReader reads the client's command lines, each at most max bytes with
// its newline. Its buffer starts small, grows only for a long line and goes
// back to small once that is read: commands are a few dozen bytes, and a
// session may sit idle for hours (a bufio.Reader able to hold the longest
// line costed 4 KiB per session, a tenth of an idle session's memory).
type lineReader struct {
	src  io.Reader
	max  int
	buf  []byte
	r, w int // buf[r:w] is read from src and not yet returned
}

func newLineReader(src io.Reader, max int) *lineReader {
	return &lineReader{src: src, max: max}
}

// readLine returns the next line, newline included, valid until the next
// call; errLineTooLong if max bytes come without a newline.
func (l *lineReader) readLine() ([]byte, error) {
	for {
		if i := bytes.IndexByte(l.buf[l.r:l.w], '\n'); i >= 0 {
			line := l.buf[l.r : l.r+i+1]
			l.r += i + 1
			return line, nil
		}
		if l.w-l.r >= l.max {
			return nil, errLineTooLong
		}
		l.makeRoom()
		n, err := l.src.Read(l.buf[l.w:])
		l.w += n
		if n == 0 && err != nil {
			return nil, err
		}
	}
}

// makeRoom leaves space after buf[w], keeping buf[r:w] and at most max bytes.
func (l *lineReader) makeRoom() {
	pending := l.w - l.r
	if pending == 0 && cap(l.buf) > lineBuffer {
		l.buf = nil // the long line is done with
	}
	if l.buf == nil {
		l.buf, l.r, l.w = make([]byte, lineBuffer), 0, 0
	}
	if l.r > 0 {
		copy(l.buf, l.buf[l.r:l.w])
		l.r, l.w = 0, pending
	}
	if l.w == len(l.buf) {
		bigger := make([]byte, min(2*len(l.buf), l.max))
		copy(bigger, l.buf[:l.w])
		l.buf = bigger
	}
}

// buffered is how many bytes have been read from src and not returned yet.
func (l *lineReader) buffered() int { return l.w - l.r }
