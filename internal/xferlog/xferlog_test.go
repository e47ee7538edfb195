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
		{Entry{End: end, Elapsed: time.Millisecond, Host: "203.0.113.9", Bytes: 1 << 40, Path: "/web/a file\tname\x00.txt", User: "x y", Service: "ftp"},
			"Sun Dec  6 04:05:06 2026 1 203.0.113.9 1099511627776 /web/a_file_name_.txt b _ o r x_y ftp 0 * c\n"},
		{Entry{End: end, Elapsed: 61 * time.Second, Host: "127.0.0.1", Bytes: 7, Path: "/Übersicht/файл\u00a01\u2028.php", User: "ünï", Service: "sftp", Upload: true, Failed: true},
			"Sun Dec  6 04:05:06 2026 61 127.0.0.1 7 /Übersicht/файл_1_.php b _ i r ünï sftp 0 * i\n"},
		{Entry{End: end, Host: "127.0.0.1", Path: "/bad\xffbyte", User: "u", Service: "ftp"},
			"Sun Dec  6 04:05:06 2026 0 127.0.0.1 0 /bad\ufffdbyte b _ o r u ftp 0 * c\n"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, tt.e.Line())
		require.Equal(t, "prefix "+tt.want, string(tt.e.Append([]byte("prefix "))))
	}
}
