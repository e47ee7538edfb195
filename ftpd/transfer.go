package ftpd

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jelastic/jelastic-ftp/ftpd/rootfs"
	"github.com/jelastic/jelastic-ftp/internal/xferlog"
)

var (
	errAborted    = errors.New("aborted by ABOR")
	errClientGone = errors.New("the control connection closed before the data connection ended")
)

// job is a command that uses a data connection (RETR, STOR, APPE, LIST,
// NLST, MLSD), running beside the control loop.
type job struct {
	done   chan struct{}
	ctx    context.Context // ends with ABOR or the session
	cancel context.CancelFunc

	mu      sync.Mutex
	opened  bool      // 150 went out
	aborted bool      // by ABOR: no reply of its own
	conn    io.Closer // the data connection, once open
}

// abortWait bounds how long ABOR waits for its transfer to end.
const abortWait = 10 * time.Second

// abort ends the job for ABOR and waits for it; it reports whether the
// job had answered 150.
func (j *job) abort() bool {
	j.mu.Lock()
	j.aborted = true
	opened, conn := j.opened, j.conn
	j.mu.Unlock()
	j.cancel()
	if conn != nil {
		_ = conn.Close()
	}
	timer := time.NewTimer(abortWait)
	defer timer.Stop()
	select {
	case <-j.done:
	case <-timer.C:
	}
	return opened
}

func (j *job) isAborted() bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.aborted
}

// startJob runs a data command in a goroutine of its own, with the data
// channel the last PASV, EPSV, PORT or EPRT set up; inline, it runs it in
// the control loop's, for a command that cannot wait on the client
// (inlineDownload).
func (s *session) startJob(run func(j *job, ch dataChannel), inline bool) bool {
	ch := s.data.take()
	j := &job{done: make(chan struct{})}
	j.ctx, j.cancel = context.WithCancel(s.ctx)
	s.mu.Lock()
	s.busy = j
	s.mu.Unlock()
	body := func() {
		defer func() {
			j.cancel()
			s.mu.Lock()
			s.busy = nil
			s.mu.Unlock()
			close(j.done)
			s.closeIfStopping()
		}()
		defer s.recoverPanic()
		run(j, ch)
	}
	if inline {
		body()
	} else {
		go body()
	}
	return true
}

// inlineMax is the largest download that runs in the control loop's
// goroutine: it fits the send buffer a new TCP socket has on Linux
// (net.ipv4.tcp_wmem's default, 16 KiB), so sending it does not wait for
// the client to read.
const inlineMax = 16 << 10

// inlineDownload tells whether a download of left bytes can run in the
// control loop: small, in clear, over a passive connection the client has
// already opened, accepted here. Nothing in it then waits on the client,
// so the loop need not read ABOR meanwhile, and a small file costs no
// goroutine, no wake-up of one and no growing of its stack. A connection
// from another address in the queue is closed, and does not make the loop
// wait for the client's.
func (s *session) inlineDownload(left int64, protP bool) bool {
	p := s.data.passive
	return !protP && left <= inlineMax && p != nil && p.takeQueued()
}

// openData connects the data channel and answers 150, then secures the
// connection with TLS after PROT P. On failure it has answered, unless
// ABOR came first, and returns nil.
func (s *session) openData(j *job, ch dataChannel, protP bool) (*dataConn, io.ReadWriter) {
	if !ch.ready() {
		s.send(replyNoDataConn)
		return nil, nil
	}
	dc, err := s.connect(j.ctx, ch)
	if err != nil {
		if !j.isAborted() && s.ctx.Err() == nil {
			s.report(slog.LevelInfo, "data connection failed", "user", s.userName(), "err", err)
			s.reply(425, "Can't open data connection: "+err.Error())
		}
		return nil, nil
	}
	j.mu.Lock()
	if j.aborted {
		j.mu.Unlock()
		s.closeConn(dc)
		return nil, nil
	}
	j.conn, j.opened = dc, true
	err = s.send(replyTransferOpen)
	j.mu.Unlock()
	if err != nil {
		s.closeConn(dc)
		return nil, nil
	}
	if !protP {
		return dc, dc
	}
	tc, reused, err := s.secure(dc)
	if err != nil {
		s.report(slog.LevelInfo, "TLS handshake failed on a data connection", "user", s.userName(), "err", err)
		s.closeConn(dc)
		s.finish(j, reply{425, "TLS handshake on the data connection failed."})
		return nil, nil
	}
	if !reused {
		return dc, refused{tc}
	}
	return dc, tc
}

// refused is a TLS data connection that failed the session reuse check: it
// carries no data.
type refused struct{ *tls.Conn }

// refuseData ends a refused data connection the way its client expects an
// empty transfer to end, and then answers 522: a client that does not
// reuse sessions reads the reply to its command and stays in step.
func (s *session) refuseData(j *job, dc *dataConn, r refused, upload bool) {
	if upload {
		_, _ = io.Copy(io.Discard, r.Conn)
	}
	_ = r.Close()
	s.closeConn(dc)
	s.finish(j, replyDataReuseMissing)
}

// finish sends a job's final reply unless ABOR answered for it.
func (s *session) finish(j *job, r reply) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.aborted && s.ctx.Err() == nil {
		s.send(r)
	}
}

// closeConn closes a data connection and forgets it.
func (s *session) closeConn(dc *dataConn) {
	s.untrack(dc)
	_ = dc.Close()
}

func (s *session) cmdREST(arg string) bool {
	n, err := strconv.ParseInt(arg, 10, 64)
	switch {
	case err != nil || n < 0:
		return s.reply(550, "Couldn't parse size: "+arg) == nil
	case s.ascii.Load():
		return s.send(replyRestASCII) == nil
	}
	s.rest = n
	return s.send(replyRestOK) == nil
}

func (s *session) cmdRETR(arg string) bool { return s.transferFile(arg, os.O_RDONLY) }
func (s *session) cmdAPPE(arg string) bool {
	s.rest = 0
	return s.transferFile(arg, os.O_WRONLY|os.O_CREATE|os.O_APPEND)
}

func (s *session) cmdSTOR(arg string) bool {
	flags := os.O_WRONLY | os.O_CREATE
	if s.rest == 0 {
		flags |= os.O_TRUNC
	}
	return s.transferFile(arg, flags)
}

// transferFile opens a file for RETR, STOR or APPE, answering an error
// before 150, and moves it over the data connection in a job.
func (s *session) transferFile(arg string, flags int) bool {
	name := s.abs(arg)
	offset := s.rest
	s.rest = 0
	upload := flags != os.O_RDONLY
	var h rootfs.Handle
	var left int64 // the bytes a download sends
	var err error
	if upload {
		h, err = s.fs.GetHandle(name, flags, offset)
	} else {
		var f *os.File
		var size int64
		if f, size, err = s.fs.OpenDownload(name); err == nil {
			h, left = f, max(size-offset, 0)
		}
	}
	if err == nil && offset != 0 {
		if _, err = h.Seek(offset, io.SeekStart); err != nil {
			_ = h.Close()
		}
	}
	if err != nil {
		s.data.close()
		return s.reply(errorCode(err, 550), "Could not access file: "+err.Error()) == nil
	}
	protP, ascii := s.protP, s.ascii.Load()
	inline := !upload && s.inlineDownload(left, protP)
	return s.startJob(func(j *job, ch dataChannel) {
		t := s.startTransfer(name, upload, !inline)
		dc, stream := s.openData(j, ch, protP)
		failure := errNoDataConn
		if dc != nil {
			failure = s.move(j, t, dc, stream, h, upload, left)
		}
		if a, ok := h.(rootfs.Aborter); ok && failure != nil {
			a.Abort(failure)
		}
		err := h.Close()
		if failure == nil && err != nil && upload {
			failure = err
			s.report(slog.LevelError, "could not save an upload", "user", s.userName(), "path", name, "err", err)
			s.finish(j, reply{451, "Could not save the file: " + err.Error()})
		} else if failure == nil {
			s.finish(j, replyTransferDone)
		}
		if dc != nil {
			s.closeConn(dc) // after the reply: TCP's goodbye need not hold it up
		}
		s.endTransfer(t, failure != nil, ascii)
	}, inline)
}

// move copies between the file and the data connection. nil means the
// transfer is complete and the file may be kept; otherwise it has answered
// (unless ABOR did, or the client is gone).
func (s *session) move(j *job, t *transfer, dc *dataConn, stream io.ReadWriter, h rootfs.Handle, upload bool, left int64) error {
	t.conn.Store(dc)
	if r, ok := stream.(refused); ok {
		s.refuseData(j, dc, r, upload)
		return errNoSessionReuse
	}
	var err error
	if upload {
		err = s.receive(t, dc, stream, h)
	} else {
		err = s.sendFile(t, dc, stream, h, left)
	}
	switch {
	case j.isAborted():
		return errAborted
	case err != nil:
		s.finish(j, reply{426, "Transfer failed: " + err.Error()})
		return err
	case upload && s.clientGone(hangUpGrace(time.Since(t.start))):
		// The client's data connection ended, but so did its control
		// connection: a killed client, not a complete file.
		return errClientGone
	}
	return nil
}

// maxHangUpGrace bounds how long the end of an upload waits to see whether
// the client's control connection ends too.
const maxHangUpGrace = 2 * time.Millisecond

// hangUpGrace is how long an upload that took elapsed waits for the
// control connection's end: a killed client's kernel closes its two
// connections one after the other as the process exits, usually within
// microseconds, but a dying process that loses its core in between can
// end the control connection milliseconds later (README: what counts as a
// complete upload). A hundredth of the upload's time, so that a live
// client's upload takes 1 % longer at most; an upload of under 5 ms, over
// before a kill could come, only looks.
func hangUpGrace(elapsed time.Duration) time.Duration {
	if elapsed < 5*time.Millisecond {
		return 0
	}
	return min(elapsed/100, maxHangUpGrace)
}

// clientGone tells whether the client has left: its session is over, or
// its control connection hangs up within grace.
func (s *session) clientGone(grace time.Duration) bool {
	gone := false
	onSocket(s.raw, func(fd int) {
		fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLRDHUP}}
		timeout := unix.NsecToTimespec(int64(grace))
		for {
			n, err := unix.Ppoll(fds, &timeout, nil)
			if err == unix.EINTR {
				continue
			}
			gone = err == nil && n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP|unix.POLLERR) != 0
			return
		}
	})
	// The control loop closes the control connection once it has read its
	// end, after cancelling the session.
	return gone || s.ctx.Err() != nil
}

// sendFile sends the left bytes of a download in chunks (chunks.go); over
// plain TCP the kernel sends each with sendfile(2) from the *os.File rootfs
// gives. It stops at the size the file had when opened, or earlier if it
// shrank, and then shuts the connection for writing, so that the client
// sees the end of the file before the 226.
func (s *session) sendFile(t *transfer, dc *dataConn, w io.Writer, h rootfs.Handle, left int64) error {
	sizes := newChunks(s.conf.IdleTimeout)
	chunk := &io.LimitedReader{R: h}
	for {
		var n int64
		var err error
		chunk.N = min(sizes.next(), left)
		if w == io.Writer(dc) {
			_ = dc.SetWriteDeadline(time.Now().Add(dc.timeout))
			n, err = dc.TCPConn.ReadFrom(chunk)
		} else {
			n, err = io.Copy(w, chunk)
		}
		sizes.done()
		t.bytes.Add(n)
		left -= n
		if err != nil {
			return err
		}
		if chunk.N > 0 || left == 0 { // the file ended
			if tc, ok := w.(*tls.Conn); ok {
				return tc.Close() // close_notify: the end of the data
			}
			return dc.CloseWrite()
		}
	}
}

// receive takes an upload in chunks: from plain TCP each goes into the
// file with splice(2) (an *os.File, or rootfs's upload, reads from the TCP
// connection itself); over TLS it is copied.
func (s *session) receive(t *transfer, dc *dataConn, r io.Reader, h rootfs.Handle) error {
	sizes := newChunks(s.conf.IdleTimeout)
	var src io.Reader = dc.TCPConn
	if r != io.Reader(dc) {
		src = r
	}
	dst := io.Writer(h)
	if _, ok := h.(io.ReaderFrom); !ok || src != io.Reader(dc.TCPConn) {
		dst = writeOnly{h}
	}
	for {
		size := sizes.next()
		if src == io.Reader(dc.TCPConn) {
			_ = dc.SetReadDeadline(time.Now().Add(dc.timeout))
		}
		n, err := io.Copy(dst, &io.LimitedReader{R: src, N: size})
		sizes.done()
		t.bytes.Add(n)
		if err != nil {
			return err
		}
		if n < size {
			if tc, ok := r.(*tls.Conn); ok {
				return tc.Close() // close_notify: the client waits for it
			}
			return nil
		}
	}
}

// writeOnly hides a writer's ReadFrom, so that io.Copy writes piece by piece.
type writeOnly struct{ io.Writer }

// transfer is a file transfer in progress.
type transfer struct {
	upload bool
	path   string
	start  time.Time
	bytes  atomic.Int64
	watch  *time.Timer // watchTransfer's

	conn atomic.Pointer[dataConn] // once connected
}

func (t *transfer) direction() string {
	if t.upload {
		return "upload"
	}
	return "download"
}

// startTransfer shows a transfer in Sessions and, with watch, ends it when
// it stalls; an inline download (inlineDownload) does not wait on the
// client, and its data connection's write deadline bounds it all the same.
func (s *session) startTransfer(path string, upload, watch bool) *transfer {
	t := &transfer{upload: upload, path: path, start: time.Now()}
	s.mu.Lock()
	s.transfer = t
	if watch {
		s.watchTransfer(t, 0, t.start)
	}
	s.mu.Unlock()
	return t
}

// watchTransfer ends the session when t has moved no byte for an idle
// timeout: a command the client sent meanwhile waits for the transfer, so
// the control connection's idle timeout does not notice.
//
// It looks every quarter of the idle timeout, at the bytes the transfer has
// counted and at those TCP has moved on its data connection (tcpMoved), which
// also grow in the middle of a sendfile or splice chunk; while they grow, it
// moves the data connection's deadlines on. A chunk that grew while the
// transfer was fast thus outlives the timeout when the client slows down (a
// speed limit set in the middle of a download), as long as bytes keep
// moving. Called with s.mu held.
func (s *session) watchTransfer(t *transfer, last uint64, lastMoved time.Time) {
	t.watch = time.AfterFunc(s.conf.IdleTimeout/4, func() {
		s.mu.Lock()
		running, user := s.transfer == t, s.user
		s.mu.Unlock()
		if !running {
			return
		}
		now := time.Now()
		dc := t.conn.Load()
		var moved uint64
		if dc != nil {
			moved = tcpMoved(dc.TCPConn)
		}
		moved += uint64(t.bytes.Load())
		if moved != last {
			last, lastMoved = moved, now
			if dc != nil {
				_ = dc.SetDeadline(now.Add(dc.timeout))
			}
		} else if now.Sub(lastMoved) >= s.conf.IdleTimeout {
			s.report(slog.LevelWarn, "transfer stalled; closing", "user", user, "path", t.path)
			s.close(421, "No data moved for "+strconv.Itoa(s.conf.idleSeconds)+" seconds: closing control connection.")
			return
		}
		s.mu.Lock()
		if s.transfer == t {
			s.watchTransfer(t, last, lastMoved)
		}
		s.mu.Unlock()
	})
}

// tcpMoved returns how many bytes TCP has carried on conn so far: those the
// client acknowledged plus those received from it (TCP_INFO).
func tcpMoved(conn *net.TCPConn) uint64 {
	var n uint64
	onSocket(conn, func(fd int) {
		if info, err := unix.GetsockoptTCPInfo(fd, unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
			n = info.Bytes_acked + info.Bytes_received
		}
	})
	return n
}

// endTransfer logs a transfer and forgets it.
func (s *session) endTransfer(t *transfer, failed, ascii bool) {
	s.mu.Lock()
	if t.watch != nil {
		t.watch.Stop()
	}
	if s.transfer == t {
		s.transfer = nil
	}
	user := s.user
	s.mu.Unlock()
	elapsed := time.Since(t.start)
	status := "ok"
	if failed {
		status = "aborted"
	}
	s.report(slog.LevelInfo, "transfer", "user", user, "direction", t.direction(), "path", t.path,
		"bytes", t.bytes.Load(), "duration", elapsed.Round(time.Millisecond), "status", status)
	if w := s.conf.TransferLog; w != nil {
		line := xferlog.Entry{
			End: time.Now(), Elapsed: elapsed, Host: s.client.Addr().String(), Bytes: t.bytes.Load(),
			Path: t.path, User: user, Service: "ftp", ASCII: ascii, Upload: t.upload, Failed: failed,
		}.Line()
		s.srv.xferMu.Lock()
		_, err := io.WriteString(w, line)
		s.srv.xferMu.Unlock()
		if err != nil {
			s.report(slog.LevelError, "cannot write the transfer log", "err", err)
		}
	}
}
