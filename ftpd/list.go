package ftpd

import (
	"io"
	"io/fs"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/jelastic/jelastic-ftp/ftpd/rootfs"
)

// A listing is formatted straight from the batches of entries rootfs reads
// (rootfs.FS.List) into one buffer that goes out whenever it holds
// listFlush bytes: the memory of a listing is bounded by one batch of
// entries (32 KiB of directory records, rootfs.direntBuffer) plus the
// buffer, whatever the folder's size.
const listFlush = 64 << 10

// listFormat formats one entry as a line of LIST, NLST or MLSD.
type listFormat func(b []byte, e *rootfs.Entry) []byte

// listStyle is how LIST formats its lines for one session: times within
// half a year of the session's start show the hour, older ones the year,
// as ls does.
type listStyle struct{ recent time.Time }

const (
	listTimeRecent = "Jan _2 15:04"
	listTimeOld    = "Jan _2  2006"
	halfYear       = 6 * 30 * 24 * time.Hour
)

// appendLIST appends "mode 1 ftp ftp size date name".
func (st listStyle) appendLIST(b []byte, e *rootfs.Entry) []byte {
	b = appendMode(b, e.Mode)
	b = append(b, " 1 ftp ftp "...)
	var num [20]byte
	size := strconv.AppendInt(num[:0], e.Size, 10)
	for range 12 - len(size) {
		b = append(b, ' ')
	}
	b = append(b, size...)
	b = append(b, ' ')
	mtime := time.Unix(0, e.Mtime)
	layout := listTimeRecent
	if st.recent.Sub(mtime) > halfYear {
		layout = listTimeOld
	}
	b = mtime.AppendFormat(b, layout)
	b = append(b, ' ')
	b = append(b, e.Name...)
	return append(b, '\r', '\n')
}

// appendMLSx appends "Type=…;Size=…;Modify=…; name" (RFC 3659), without
// the line's end.
func appendMLSx(b []byte, e *rootfs.Entry) []byte {
	if e.Mode.IsDir() {
		b = append(b, "Type=dir;Size="...)
	} else {
		b = append(b, "Type=file;Size="...)
	}
	b = strconv.AppendInt(b, e.Size, 10)
	b = append(b, ";Modify="...)
	b = time.Unix(0, e.Mtime).UTC().AppendFormat(b, mlsxTime)
	b = append(b, "; "...)
	return append(b, e.Name...)
}

func appendMLSD(b []byte, e *rootfs.Entry) []byte {
	return append(appendMLSx(b, e), '\r', '\n')
}

// appendMode appends a mode as fs.FileMode.String writes it.
func appendMode(b []byte, m fs.FileMode) []byte {
	const kinds = "dalTLDpSugct?"
	start := len(b)
	for i, c := range kinds {
		if m&(1<<uint(31-i)) != 0 {
			b = append(b, byte(c))
		}
	}
	if len(b) == start {
		b = append(b, '-')
	}
	const rwx = "rwxrwxrwx"
	for i := range 9 {
		if m&(1<<uint(8-i)) != 0 {
			b = append(b, rwx[i])
		} else {
			b = append(b, '-')
		}
	}
	return b
}

// entryOf describes a file for a listing of one entry.
func entryOf(fi os.FileInfo) rootfs.Entry {
	return rootfs.Entry{Name: []byte(fi.Name()), Size: fi.Size(), Mtime: fi.ModTime().UnixNano(), Mode: fi.Mode()}
}

// listArgs are the ls options clients send with LIST and NLST, which are
// dropped unless a file has that name.
var listArgs = []string{"-al", "-la", "-a", "-l"}

func (s *session) listPath(arg string) string {
	lower := strings.ToLower(arg)
	for _, opt := range listArgs {
		if strings.HasPrefix(lower, opt) {
			if _, err := s.fs.Stat(s.abs(arg)); err != nil {
				_, rest, _ := strings.Cut(arg, " ")
				arg = rest
			}
			break
		}
	}
	return s.abs(arg)
}

func (s *session) cmdLIST(arg string) bool {
	return s.list(arg, listStyle{recent: s.since}.appendLIST, true, 450)
}

func (s *session) cmdMLSD(arg string) bool { return s.list(arg, appendMLSD, false, 550) }

// cmdNLST lists names, as paths relative to the current folder (RFC 959:
// for a program to use in further commands).
func (s *session) cmdNLST(arg string) bool {
	target := s.listPath(arg)
	dir := target
	if fi, err := s.fs.Stat(target); err == nil && !fi.IsDir() {
		dir = path.Dir(target)
	}
	prefix := relativePath(s.cwd, dir)
	if prefix != "" {
		prefix += "/"
	}
	return s.list(arg, func(b []byte, e *rootfs.Entry) []byte {
		b = append(b, prefix...)
		b = append(b, e.Name...)
		return append(b, '\r', '\n')
	}, true, 450)
}

// relativePath is the path of target from base, both clean and absolute:
// "" for base itself.
func relativePath(base, target string) string {
	up := ""
	for {
		if base == target {
			return strings.TrimSuffix(up, "/")
		}
		prefix := base
		if prefix != "/" {
			prefix += "/"
		}
		if rest, ok := strings.CutPrefix(target, prefix); ok {
			return up + rest
		}
		up += "../"
		base = path.Dir(base)
	}
}

// list sends a listing over a data connection: a folder's entries, or one
// line for a file where single allows it.
func (s *session) list(arg string, format listFormat, single bool, failCode int) bool {
	target := s.listPath(arg)
	fi, err := s.fs.Stat(target)
	if err != nil {
		s.data.close()
		return s.reply(failCode, "Could not list: "+err.Error()) == nil
	}
	if !fi.IsDir() && !single {
		s.data.close()
		return s.send(replyListFile) == nil
	}
	protP := s.protP
	return s.startJob(func(j *job, ch dataChannel) {
		dc, stream := s.openData(j, ch, protP)
		if dc == nil {
			return
		}
		if r, ok := stream.(refused); ok {
			s.refuseData(j, dc, r, false)
			return
		}
		buf := make([]byte, 0, listFlush+4<<10)
		write := func() error {
			if len(buf) == 0 {
				return nil
			}
			_, err := stream.Write(buf)
			buf = buf[:0]
			return err
		}
		if fi.IsDir() {
			err = s.fs.List(target, func(batch []rootfs.Entry) error {
				for i := range batch {
					buf = format(buf, &batch[i])
					if len(buf) >= listFlush {
						if err := write(); err != nil {
							return err
						}
					}
				}
				return nil
			})
		} else {
			e := entryOf(fi)
			buf = format(buf, &e)
		}
		if err == nil {
			err = write()
		}
		if err == nil {
			if c, ok := stream.(io.Closer); ok && stream != io.ReadWriter(dc) {
				err = c.Close() // TLS: close_notify ends the listing
			} else {
				err = dc.CloseWrite()
			}
		}
		if err != nil {
			s.finish(j, reply{426, "Listing failed: " + err.Error()})
		} else {
			s.finish(j, replyTransferDone)
		}
		s.closeConn(dc)
	}, false)
}

func (s *session) cmdMLST(arg string) bool {
	target := s.abs(arg)
	fi, err := s.fs.Stat(target)
	if err != nil {
		return s.reply(550, "Could not list: "+err.Error()) == nil
	}
	e := entryOf(fi)
	b := append([]byte("250-File details\r\n "), appendMLSx(nil, &e)...)
	b = append(b, "\r\n250 End\r\n"...)
	return s.out.write(b) == nil
}

// statPath answers STAT with a path: the LIST lines of a file or a folder
// on the control connection, streamed in batches like a listing.
func (s *session) statPath(arg string) bool {
	target := s.abs(arg)
	fi, err := s.fs.Stat(target)
	if err != nil {
		return s.reply(450, "Could not STAT: "+err.Error()) == nil
	}
	code := "213"
	if fi.IsDir() {
		code = "212"
	}
	style := listStyle{recent: s.since}
	err = s.out.stream(func(write func([]byte) error) error {
		buf := append(make([]byte, 0, listFlush+4<<10), code+"-STAT "+arg+"\r\n"...)
		line := func(e *rootfs.Entry) error {
			buf = style.appendLIST(append(buf, ' '), e)
			if len(buf) < listFlush {
				return nil
			}
			err := write(buf)
			buf = buf[:0]
			return err
		}
		var err error
		if fi.IsDir() {
			err = s.fs.List(target, func(batch []rootfs.Entry) error {
				for i := range batch {
					if err := line(&batch[i]); err != nil {
						return err
					}
				}
				return nil
			})
		} else {
			e := entryOf(fi)
			err = line(&e)
		}
		if err != nil {
			// The reply has begun: it ends with the error as its last line.
			buf = append(buf, code+" Could not list: "+err.Error()+"\r\n"...)
		} else {
			buf = append(buf, code+" End\r\n"...)
		}
		return write(buf)
	})
	if err != nil {
		s.close(0, "")
	}
	return err == nil
}
