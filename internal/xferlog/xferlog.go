// Package xferlog formats transfer log lines as xferlog(5) describes them, the format
// wu-ftpd, vsftpd and ProFTPD write and log analysers read.
package xferlog

import (
	"fmt"
	"strings"
	"time"
	"unicode"
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
	kind, dir, status := 'b', 'o', 'c'
	if e.ASCII {
		kind = 'a'
	}
	if e.Upload {
		dir = 'i'
	}
	if e.Failed {
		status = 'i'
	}
	seconds := int64((e.Elapsed + time.Second - 1) / time.Second)
	return fmt.Sprintf("%s %d %s %d %s %c _ %c r %s %s 0 * %c\n",
		e.End.Format("Mon Jan _2 15:04:05 2006"), seconds, e.Host, e.Bytes,
		Field(e.Path), kind, dir, Field(e.User), e.Service, status)
}

// Field keeps a field of the space-separated log in one piece and on one line,
// whatever the client named its file.
func Field(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return '_'
		}
		return r
	}, s)
}
