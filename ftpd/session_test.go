package ftpd

import (
	"bytes"
	"io"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRelayWritesWholeReplies feeds the relay the engine's output in pieces
// and reads what the client gets, one write at a time.
func TestRelayWritesWholeReplies(t *testing.T) {
	// ftpserverlib writes a line longer than its 4 KiB buffer in 4 KiB pieces.
	long := "257 \"/" + strings.Repeat("d", 20000) + "\" created\r\n"
	var pieces []string
	for rest := long; rest != ""; rest = rest[min(4096, len(rest)):] {
		pieces = append(pieces, rest[:min(4096, len(rest))])
	}
	tests := []struct {
		name    string
		drop    int      // replies the proxy swallows
		writes  []string // as the engine writes them
		want    []string // as the client reads them, write by write
		pending bool     // the last reply is not complete
	}{
		{"one line", 0, []string{"200 OK\r\n"}, []string{"200 OK\r\n"}, false},
		{"a multi-line reply goes out in one write", 0,
			[]string{"211-Features:\r\n", " UTF8\r\n", "211 End\r\n"},
			[]string{"211-Features:\r\n UTF8\r\n211 End\r\n"}, false},
		{"a line written in pieces", 0, []string{"22", "6 Done\r", "\n"}, []string{"226 Done\r\n"}, false},
		{"a 1xx reply is sent before its transfer ends", 0,
			[]string{"150 Opening\r\n"}, []string{"150 Opening\r\n"}, false},
		{"the first reply is swallowed, whole", 1,
			[]string{"331-Password\r\n", "331 please\r\n", "230 Logged in\r\n"},
			[]string{"230 Logged in\r\n"}, false},
		{"an incomplete reply waits", 0, []string{"200-part\r\n"}, nil, true},
		{"a long line goes out in bounded pieces", 0, pieces,
			[]string{long[:maxReply], long[maxReply:]}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer client.Close()
			s := newSession(nil, &config{}, 1, server, netip.AddrPort{})
			s.out.timeout = 5 * time.Second
			s.dropReplies(tt.drop)
			got := make(chan []string, 1)
			go func() {
				var writes []string
				buf := make([]byte, 64<<10)
				for {
					n, err := client.Read(buf)
					if err != nil {
						got <- writes
						return
					}
					writes = append(writes, string(buf[:n]))
				}
			}()
			for _, w := range tt.writes {
				s.relay([]byte(w))
			}
			server.Close()
			assert.Equal(t, tt.want, <-got)
			assert.Equal(t, tt.pending, s.midReply)
		})
	}
}

// TestRelayRewritesFEAT checks the one reply the relay changes.
func TestRelayRewritesFEAT(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	s := newSession(nil, &config{}, 1, server, netip.AddrPort{})
	s.out.timeout = 5 * time.Second
	go func() {
		s.relay([]byte("211- These are my features\r\n EPRT\r\n MLST\r\n211 end\r\n"))
		server.Close()
	}()
	got, err := io.ReadAll(client)
	require.NoError(t, err)
	assert.Equal(t, "211-Features:\r\n MLST type*;size*;modify*;\r\n211 End\r\n", string(got))
	assert.False(t, bytes.Contains(got, []byte("EPRT")))
}

// FuzzRelay checks that the relay passes any output of the engine to the
// client byte for byte, however it is cut into writes, and holds back only
// an unfinished reply.
func FuzzRelay(f *testing.F) {
	f.Add("200 OK\r\n211-a\r\n b\r\n211 end\r\n", uint8(3))
	f.Add("150 x\r\n226 y\r\n", uint8(1))
	f.Add("no code\r\n550 z\r\n", uint8(7))
	f.Fuzz(func(t *testing.T, output string, step uint8) {
		if bytes.HasPrefix([]byte(output), engineFEAT) {
			return // the one reply the relay rewrites
		}
		client, server := net.Pipe()
		defer client.Close()
		s := newSession(nil, &config{}, 1, server, netip.AddrPort{})
		s.out.timeout = 5 * time.Second
		got := make(chan []byte, 1)
		go func() {
			b, _ := io.ReadAll(client)
			got <- b
		}()
		n := int(step%32) + 1
		for rest := output; rest != ""; rest = rest[min(n, len(rest)):] {
			s.relay([]byte(rest[:min(n, len(rest))]))
		}
		pending := append([]byte(nil), s.reply...)
		server.Close()
		require.Equal(t, output, string(<-got)+string(pending))
	})
}
