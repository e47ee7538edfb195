package ftpd

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"golang.org/x/sys/unix"

	"github.com/jelastic/jelastic-ftp/ftpd/rootfs"
)

var errSessionEnded = errors.New("the session has ended")

// openHome opens an account's home as its session's file system.
func openHome(acct Account, atomicUploads bool) (*rootfs.FS, error) {
	return rootfs.New(acct.Home, rootfs.Options{ReadOnly: acct.ReadOnly, InPlaceUploads: !atomicUploads})
}

// sessionFS is the ftpserverlib client driver of a logged-in session: the
// account's rootfs, with transfers tracked for logs and Sessions, and SITE
// limited to what is safe.
type sessionFS struct {
	*rootfs.FS
	s *session
	// renamable is the path of the last successful Stat. ftpserverlib keeps the
	// source of an earlier RNFR when a later one fails; RNFR stats its path right
	// before the RNTO that the proxy lets through, so Rename accepts only that one.
	renamable atomic.Pointer[string]
}

func (f *sessionFS) Stat(name string) (os.FileInfo, error) {
	fi, err := f.FS.Stat(name)
	if err != nil {
		f.renamable.Store(nil)
	} else {
		f.renamable.Store(&name)
	}
	return fi, err
}

func (f *sessionFS) Rename(from, to string) error {
	if p := f.renamable.Load(); p == nil || *p != from {
		return &os.PathError{Op: "rename", Path: from, Err: os.ErrNotExist}
	}
	return f.FS.Rename(from, to)
}

var (
	_ ftpserver.ClientDriverExtentionFileTransfer = (*sessionFS)(nil)
	_ ftpserver.ClientDriverExtensionSite         = (*sessionFS)(nil)
	_ ftpserver.ClientDriverExtensionRemoveDir    = (*sessionFS)(nil)
	_ ftpserver.ClientDriverExtensionFileList     = (*sessionFS)(nil)
)

// hashCommands open files through GetHandle without any data connection.
var hashCommands = map[string]bool{
	"HASH": true, "XCRC": true, "MD5": true, "XMD5": true,
	"XSHA": true, "XSHA1": true, "XSHA256": true, "XSHA512": true, "COMB": true,
}

func (f *sessionFS) GetHandle(name string, flags int, offset int64) (ftpserver.FileTransfer, error) {
	f.s.mu.Lock()
	cc := f.s.cc
	f.s.mu.Unlock()
	// While a transfer runs, ftpserverlib reads only ABOR, STAT and QUIT,
	// so a hash command as the last command means no transfer.
	hashing := hashCommands[cc.GetLastCommand()]

	h, err := f.FS.GetHandle(name, flags, offset)
	if err != nil || hashing {
		return h, err
	}
	return f.s.startTransfer(h, name, flags&(os.O_WRONLY|os.O_RDWR) != 0)
}

// Site answers SITE: the proxy's own answers, SITE CHMOD (rootfs keeps only
// the permission bits) and HELP. SYMLINK, CHOWN, MKDIR and RMDIR (a
// recursive delete) are refused.
func (f *sessionFS) Site(param string) *ftpserver.AnswerCommand {
	if answer := f.s.proxyAnswer(param); answer != nil {
		return answer
	}
	sub, args, _ := strings.Cut(param, " ")
	sub = strings.ToUpper(sub)
	switch sub {
	case "CHMOD":
		// ftpserverlib indexes the path without checking it is there.
		mode, name, _ := strings.Cut(args, " ")
		if _, err := strconv.ParseUint(mode, 8, 32); err != nil || name == "" {
			return &ftpserver.AnswerCommand{Code: 501, Message: "Usage: SITE CHMOD <octal mode> <path>"}
		}
		return nil
	case "HELP":
		return &ftpserver.AnswerCommand{Code: 214, Message: "SITE CHMOD <octal mode> <path>"}
	}
	return &ftpserver.AnswerCommand{Code: 504, Message: "SITE " + sub + " is not supported."}
}

// proxyAnswer decodes an answer the proxy sent as "SITE token code text".
func (s *session) proxyAnswer(param string) *ftpserver.AnswerCommand {
	rest, ok := strings.CutPrefix(param, s.token+" ")
	if !ok {
		return nil
	}
	code, msg, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(code)
	if err != nil {
		return nil
	}
	return &ftpserver.AnswerCommand{Code: n, Message: msg}
}

// transfer is a file transfer in progress.
type transfer struct {
	upload bool
	path   string
	start  time.Time
	bytes  atomic.Int64
	watch  *time.Timer // watchTransfer's

	// tcp is the data connection's TCP connection, once the transfer has
	// started moving data through it (see trackedFile.noteConn).
	tcp atomic.Pointer[net.TCPConn]
}

func (t *transfer) direction() string {
	if t.upload {
		return "upload"
	}
	return "download"
}

func (s *session) startTransfer(h ftpserver.FileTransfer, path string, upload bool) (ftpserver.FileTransfer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.over {
		_ = h.Close()
		return nil, errSessionEnded
	}
	t := &transfer{upload: upload, path: path, start: time.Now()}
	s.transfer = t
	s.openFiles++
	s.watchTransfer(t, 0, t.start)
	return &trackedFile{FileTransfer: h, s: s, t: t}, nil
}

// watchTransfer ends the session when t has moved no byte for an idle
// timeout: ftpserverlib dials active data connections without any deadline,
// and a command the client sent meanwhile keeps the engine from reading,
// so neither the data connection nor the control connection would notice.
//
// It looks every quarter of the idle timeout, at the bytes the transfer has
// counted and at those TCP has moved on its data connection (tcpMoved), which
// also grow in the middle of a sendfile or splice chunk; while they grow, it
// moves the deadlines of a passive data connection on (ftpserverlib's active
// ones have none; this watch alone ends them). A chunk that grew while the transfer
// was fast thus outlives the timeout when the client slows down (a speed
// limit set in the middle of a download), as long as bytes keep moving.
// Called with s.mu held.
func (s *session) watchTransfer(t *transfer, last uint64, lastMoved time.Time) {
	t.watch = time.AfterFunc(s.conf.IdleTimeout/4, func() {
		s.mu.Lock()
		running, user := s.transfer == t, s.user
		s.mu.Unlock()
		if !running {
			return
		}
		now := time.Now()
		tcp := t.tcp.Load()
		moved := uint64(t.bytes.Load()) + tcpMoved(tcp)
		if moved != last {
			last, lastMoved = moved, now
			if dc := s.passiveData(tcp); dc != nil {
				_ = dc.SetDeadline(now.Add(s.conf.IdleTimeout))
			}
		} else if now.Sub(lastMoved) >= s.conf.IdleTimeout {
			s.report(slog.LevelWarn, "transfer stalled; closing", "user", user, "path", t.path)
			s.close(421, fmt.Sprintf("No data moved for %d seconds: closing control connection.", s.conf.idleSeconds))
			return
		}
		s.mu.Lock()
		if s.transfer == t {
			s.watchTransfer(t, last, lastMoved)
		}
		s.mu.Unlock()
	})
}

// passiveData returns the passive data connection over tcp, if tcp is one.
func (s *session) passiveData(tcp *net.TCPConn) *dataConn {
	if tcp == nil {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.data {
		if dc, ok := c.(*dataConn); ok && dc.Conn == net.Conn(tcp) {
			return dc
		}
	}
	return nil
}

// tcpMoved returns how many bytes TCP has carried on conn so far: those the
// client acknowledged plus those received from it (TCP_INFO). 0 for nil.
func tcpMoved(conn *net.TCPConn) uint64 {
	if conn == nil {
		return 0
	}
	var n uint64
	onSocket(conn, func(fd int) {
		if info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			n = info.Bytes_acked + info.Bytes_received
		}
	})
	return n
}

func (s *session) endTransfer(t *transfer, failed bool) {
	elapsed := time.Since(t.start)
	status := "ok"
	if failed {
		status = "aborted"
	}
	user := s.userName()
	s.report(slog.LevelInfo, "transfer", "user", user, "direction", t.direction(), "path", t.path,
		"bytes", t.bytes.Load(), "duration", elapsed.Round(time.Millisecond), "status", status)
	if w := s.conf.TransferLog; w != nil {
		line := xferlogLine(time.Now(), elapsed, s.client.Addr().String(), t, user, s.asciiType.Load(), failed)
		s.srv.xferMu.Lock()
		_, err := io.WriteString(w, line)
		s.srv.xferMu.Unlock()
		if err != nil {
			s.report(slog.LevelError, "cannot write the transfer log", "err", err)
		}
	}
	s.mu.Lock()
	t.watch.Stop()
	if s.transfer == t {
		s.transfer = nil
	}
	s.openFiles--
	s.filesClosed.Broadcast()
	s.mu.Unlock()
}

// trackedFile counts a transfer's bytes and reports it when closed. It
// passes TransferError on, which atomic uploads depend on.
type trackedFile struct {
	ftpserver.FileTransfer
	s      *session
	t      *transfer
	failed bool
	closed bool
}

// ftpserverlib calls TransferError, Read, Write and Close from the
// transfer's goroutine only.

func (f *trackedFile) Read(p []byte) (int, error) {
	n, err := f.FileTransfer.Read(p)
	f.t.bytes.Add(int64(n))
	return n, err
}

func (f *trackedFile) Write(p []byte) (int, error) {
	n, err := f.FileTransfer.Write(p)
	f.t.bytes.Add(int64(n))
	return n, err
}

// WriteTo sends a download in chunks (chunks.go) that a plain TCP data
// connection writes with sendfile(2) (rootfs hands out the *os.File for
// that). At the end it shuts a plain connection for writing at once: the
// client sees the end of the file before the server has logged the transfer
// and closed up.
func (f *trackedFile) WriteTo(w io.Writer) (int64, error) {
	f.noteConn(w)
	var total int64
	sizes := newChunks(f.s.conf.IdleTimeout)
	for {
		n, err := io.CopyN(w, f.FileTransfer, sizes.next())
		sizes.done()
		total += n
		f.t.bytes.Add(n)
		if errors.Is(err, io.EOF) {
			if plain, ok := w.(*dataConn); ok {
				return total, plain.CloseWrite()
			}
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// ReadFrom receives an upload. From a plain passive data connection it
// comes in chunks (dataConn.WriteTo) that the kernel splices into the file;
// from TLS or an active connection, as a stream that is counted as it
// comes, for the progress and the stall watch (watchTransfer).
func (f *trackedFile) ReadFrom(r io.Reader) (int64, error) {
	f.noteConn(r)
	if _, chunk := r.(*io.LimitedReader); chunk {
		n, err := io.Copy(f.FileTransfer, r)
		f.t.bytes.Add(n)
		return n, err
	}
	return io.CopyBuffer(writeOnly{f}, r, make([]byte, 32<<10))
}

// noteConn finds the TCP connection under what the transfer reads from or
// writes to (a passive data connection, TLS over one, a chunk of one, or
// ftpserverlib's active connection), for watchTransfer.
func (f *trackedFile) noteConn(rw any) {
	for {
		switch c := rw.(type) {
		case *dataConn:
			rw = c.Conn
		case *tls.Conn:
			rw = c.NetConn()
		case *io.LimitedReader:
			rw = c.R
		case *net.TCPConn:
			f.t.tcp.Store(c)
			return
		default:
			return
		}
	}
}

// writeOnly hides a writer's ReadFrom, so that io.Copy writes piece by piece.
type writeOnly struct{ io.Writer }

func (f *trackedFile) TransferError(err error) {
	f.failed = true
	if inner, ok := f.FileTransfer.(ftpserver.FileTransferError); ok {
		inner.TransferError(err)
	}
}

func (f *trackedFile) Close() error {
	err := f.FileTransfer.Close()
	if !f.closed {
		f.closed = true
		// A failed close loses an upload (an atomic upload is not
		// published); a download was complete already.
		f.s.endTransfer(f.t, f.failed || (err != nil && f.t.upload))
	}
	return err
}

// xferlogLine formats a transfer as xferlog(5) does: current-time
// transfer-time remote-host file-size filename transfer-type
// special-action-flag direction access-mode username service-name
// authentication-method authenticated-user-id completion-status.
func xferlogLine(now time.Time, elapsed time.Duration, host string, t *transfer, user string, ascii, failed bool) string {
	kind, dir, status := 'b', 'o', 'c'
	if ascii {
		kind = 'a'
	}
	if t.upload {
		dir = 'i'
	}
	if failed {
		status = 'i'
	}
	seconds := int64((elapsed + time.Second - 1) / time.Second)
	return fmt.Sprintf("%s %d %s %d %s %c _ %c r %s ftp 0 * %c\n",
		now.Format("Mon Jan _2 15:04:05 2006"), seconds, host, t.bytes.Load(),
		xferlogField(t.path), kind, dir, xferlogField(user), status)
}

// xferlogField keeps a field of the space-separated log in one piece and
// on one line, whatever the client named its file.
func xferlogField(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsSpace(r) || unicode.IsControl(r) {
			return '_'
		}
		return r
	}, s)
}
