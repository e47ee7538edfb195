package xferlog

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestLine(t *testing.T) {
	end := time.Date(2026, 12, 6, 4, 5, 6, 0, time.UTC)
	tests := []struct {
		e    Entry
		want string
	}{
		{Entry{End: end, Elapsed: 1500 * time.Millisecond, Host: "127.0.0.1", Bytes: 42, Path: "/up.bin", User: "alice", Service: "sftp", Upload: true},
			"Sun Dec  6 04:05:06 2026 2 127.0.0.1 42 /up.bin b _ i r alice sftp 0 * c\n"},
		{Entry{End: end, Host: "::1", Path: "/a b\nc", User: "bob", Service: "ftp", ASCII: true, Failed: true},
			"Sun Dec  6 04:05:06 2026 0 ::1 0 /a_b_c a _ o r bob ftp 0 * i\n"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.e.Line())
	}
}
