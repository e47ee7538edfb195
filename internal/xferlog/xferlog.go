// Package xferlog formats transfer log lines as xferlog(5) describes them, the format
// wu-ftpd, vsftpd and ProFTPD write and log analysers read.
package xferlog

import (
	"strconv"
	"time"
	"unicode"
	"unicode/utf8"
)

// Entry is one finished transfer.
type Entry struct {
	End     time.Time     // when it ended: the line's current-time
	Elapsed time.Duration // rounded up to whole seconds
	Host    string        // the client's address
	Bytes   int64
	Path    string // as the client named it
	User    string
	Service string // "ftp" or "sftp"
	ASCII   bool   // an FTP transfer in ASCII mode
	Upload  bool
	Failed  bool
}

// Line formats e: current-time transfer-time remote-host file-size filename
// transfer-type special-action-flag direction access-mode username service-name
// authentication-method authenticated-user-id completion-status, and a newline.
func (e Entry) Line() string {
	return string(e.Append(make([]byte, 0, 96+len(e.Path)+len(e.User))))
}

// Append appends e's line to b. It runs once per transfer, on the core that
// serves the files: appended piece by piece, without fmt, a line costs one
// allocation at most.
func (e Entry) Append(b []byte) []byte {
	kind, dir, status := byte('b'), byte('o'), byte('c')
	if e.ASCII {
		kind = 'a'
	}
	if e.Upload {
		dir = 'i'
	}
	if e.Failed {
		status = 'i'
	}
	b = e.End.AppendFormat(b, "Mon Jan _2 15:04:05 2006")
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64((e.Elapsed+time.Second-1)/time.Second), 10)
	b = append(b, ' ')
	b = append(b, e.Host...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, e.Bytes, 10)
	b = append(b, ' ')
	b = appendField(b, e.Path)
	b = append(b, ' ', kind, ' ', '_', ' ', dir, ' ', 'r', ' ')
	b = appendField(b, e.User)
	b = append(b, ' ')
	b = append(b, e.Service...)
	b = append(b, " 0 * "...)
	return append(b, status, '\n')
}

// appendField appends s as one field of the space-separated log, in one piece
// and on one line, whatever the client named its file: each space or control
// character becomes '_'.
func appendField(b []byte, s string) []byte {
	for _, r := range s {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			r = '_'
		}
		b = utf8.AppendRune(b, r)
	}
	return b
}
