package ftpd

import (
	"io"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLineReader(t *testing.T) {
	const max = 1000
	long := strings.Repeat("x", max-2) + "\r\n" // exactly max with its newline
	tests := []struct {
		name    string
		input   string
		oneByte bool
		want    []string
		err     error
	}{
		{"two lines in one read", "USER a\r\nPASS b\r\n", false, []string{"USER a\r\n", "PASS b\r\n"}, io.EOF},
		{"byte by byte", "NOOP\r\nQUIT\n", true, []string{"NOOP\r\n", "QUIT\n"}, io.EOF},
		{"a line of the longest length, then a short one", long + "PWD\r\n", false, []string{long, "PWD\r\n"}, io.EOF},
		{"the longest line byte by byte", long, true, []string{long}, io.EOF},
		{"one byte too many without a newline", strings.Repeat("y", max) + "\n", false, nil, errLineTooLong},
		{"a line cut by the end of the input", "STOR half", false, nil, io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var src io.Reader = strings.NewReader(tt.input)
			if tt.oneByte {
				src = iotest.OneByteReader(src)
			}
			l := newLineReader(src, max)
			var got []string
			for {
				line, err := l.readLine()
				if err != nil {
					require.ErrorIs(t, err, tt.err)
					break
				}
				got = append(got, string(line))
			}
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestLineReaderBuffer(t *testing.T) {
	long := strings.Repeat("z", 3000) + "\n"
	l := newLineReader(io.MultiReader(strings.NewReader("A\r\nB\r\n"), strings.NewReader(long+"C\r\n")), 4096)
	line, err := l.readLine()
	require.NoError(t, err)
	assert.Equal(t, "A\r\n", string(line))
	assert.Equal(t, 3, l.buffered(), "B's line was read with A's")
	assert.Equal(t, lineBuffer, cap(l.buf), "short lines keep the small buffer")

	for _, want := range []string{"B\r\n", long, "C\r\n"} {
		line, err := l.readLine()
		require.NoError(t, err)
		assert.Equal(t, want, string(line))
	}
	assert.Equal(t, 0, l.buffered())
	_, err = l.readLine()
	require.ErrorIs(t, err, io.EOF)
	assert.Equal(t, lineBuffer, cap(l.buf), "the buffer shrinks back after a long line")
}

// FuzzLineReader checks lineReader against strings.SplitAfter, however the
// input is cut into reads.
func FuzzLineReader(f *testing.F) {
	f.Add("USER a\r\nPASS b\r\n", uint8(3))
	f.Add(strings.Repeat("x", 300)+"\n\n", uint8(1))
	f.Fuzz(func(t *testing.T, input string, step uint8) {
		const max = 512
		var want []string
		tooLong := false
		for _, line := range strings.SplitAfter(input, "\n") {
			if !strings.HasSuffix(line, "\n") {
				tooLong = tooLong || len(line) >= max
				break // cut by the end of the input
			}
			if len(line) > max {
				tooLong = true
				break
			}
			want = append(want, line)
		}
		l := newLineReader(&chunked{s: input, step: int(step%64) + 1}, max)
		var got []string
		var err error
		for {
			var line []byte
			if line, err = l.readLine(); err != nil {
				break
			}
			got = append(got, string(line))
		}
		if tooLong {
			require.ErrorIs(t, err, errLineTooLong)
			require.Equal(t, want, got[:min(len(got), len(want))])
			return
		}
		require.ErrorIs(t, err, io.EOF)
		require.Equal(t, want, got)
	})
}

// chunked reads s step bytes at a time.
type chunked struct {
	s    string
	step int
}

func (c *chunked) Read(p []byte) (int, error) {
	if c.s == "" {
		return 0, io.EOF
	}
	n := copy(p, c.s[:min(c.step, len(c.s))])
	c.s = c.s[n:]
	return n, nil
}
