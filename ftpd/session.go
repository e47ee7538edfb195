package ftpd

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jelastic/jelastic-ftp/ftpd/rootfs"
	"github.com/jelastic/jelastic-ftp/internal/admission"
	"github.com/jelastic/jelastic-ftp/users/perm"
)

var errSessionEnded = errors.New("the session has ended")

// session is one control connection: it reads the client's commands, runs
// them from the command table (commands.go) and answers them. Everything
// but a transfer runs in the control loop's goroutine; a transfer (RETR,
// STOR, APPE, LIST, NLST, MLSD) runs in a goroutine of its own, so that the
// loop can read ABOR and STAT meanwhile, and holds back other commands until
// it ends.
type session struct {
	srv    *Server
	conf   *config
	id     uint64
	client netip.AddrPort
	since  time.Time
	raw    net.Conn // the TCP connection
	ctx    context.Context
	cancel context.CancelFunc
	log    *slog.Logger
	out    replyWriter

	// Owned by the control loop.
	conn     net.Conn // raw, or TLS over it after AUTH TLS
	in       *lineReader
	tlsConf  *tls.Config // made at AUTH TLS, for the control and data connections
	userArg  string      // from USER, waiting for PASS
	failures int
	protP    bool
	perms    perm.Set   // the account's, from login
	fs       *rootfs.FS // after login
	cwd      string     // a clean absolute path
	rnfr     string     // the source RNFR found, for the RNTO right after
	prevVerb string
	rest     int64
	hashAlgo string
	data     dataChannel // what the last PASV, EPSV, PORT or EPRT set up
	warnings warnLimiter

	implicitTLS bool            // TLS from the first byte (ServeImplicitTLS)
	pass        *admission.Pass // the session's place in the gate's counts
	loggedIn    atomic.Bool
	ascii       atomic.Bool // the last TYPE was ASCII, for xferlog

	mu       sync.Mutex
	tlsOn    bool
	user     string                 // after login
	open     map[io.Closer]struct{} // data listeners and connections
	busy     *job                   // the transfer command running
	transfer *transfer              // its file, once open
	over     bool                   // the client is gone: no new transfers
	stopping bool                   // Shutdown waits for the transfer to end

	closeOnce sync.Once

	decided    chan struct{} // closed once logged in, or at the session's end
	decideOnce sync.Once
}

func newSession(srv *Server, conf *config, id uint64, conn net.Conn, client netip.AddrPort) *session {
	ctx, cancel := context.WithCancel(context.Background())
	return &session{
		srv:      srv,
		conf:     conf,
		id:       id,
		client:   client,
		since:    time.Now(),
		raw:      conn,
		ctx:      ctx,
		cancel:   cancel,
		log:      conf.logger,
		out:      replyWriter{conn: conn, timeout: conf.IdleTimeout},
		conn:     conn,
		in:       newLineReader(conn, conf.MaxCommandLength+2),
		cwd:      "/",
		hashAlgo: defaultHash,
		decided:  make(chan struct{}),
	}
}

// decide marks the session's user as known for good: logged in, or never.
func (s *session) decide() { s.decideOnce.Do(func() { close(s.decided) }) }

// report logs one line about this session. The client address comes first so
// that a fail2ban pattern can anchor on it before any client-chosen text.
func (s *session) report(level slog.Level, msg string, args ...any) {
	h := s.log.Handler()
	if !h.Enabled(context.Background(), level) {
		return
	}
	// A record made here rather than by Logger.Log, which would also walk the
	// stack for the caller's PC that no log line shows.
	r := slog.NewRecord(time.Now(), level, msg, 0)
	r.AddAttrs(slog.Any("client", s.client.Addr()))
	r.Add(args...)
	r.AddAttrs(slog.Uint64("session", s.id))
	_ = h.Handle(context.Background(), r)
}

// run greets the client and serves its commands until the session ends.
func (s *session) run() {
	defer s.teardown()
	defer s.recoverPanic()
	context.AfterFunc(s.ctx, s.closeData)
	if s.implicitTLS && !s.startImplicitTLS() {
		s.close(0, "")
		return
	}
	if s.reply(220, s.conf.Welcome) != nil {
		s.close(0, "")
		return
	}
	for s.next() {
	}
	s.close(0, "")
}

// recoverPanic ends a session that hit a bug, rather than the worker and
// every session with it.
func (s *session) recoverPanic() {
	if r := recover(); r != nil {
		s.report(slog.LevelError, "internal error; closing the session", "user", s.userName(), "panic", r, "stack", string(debug.Stack()))
		s.close(421, "Internal error, closing the session.")
	}
}

// next reads and handles one command; false ends the session.
func (s *session) next() bool {
	line, err := s.readLine()
	if err != nil {
		return s.readFailed(err)
	}
	verb, arg := splitCommand(line)
	cmd := lookup(verb)
	if cmd == nil || !cmd.duringTransfer(arg) {
		if !s.waitIdle() {
			return false
		}
	}
	ok := s.dispatch(cmd, verb, arg)
	s.prevVerb = verb
	return ok && s.ctx.Err() == nil
}

// splitCommand splits a line into its verb, upper-cased, and argument.
func splitCommand(line string) (verb, arg string) {
	verb, arg, _ = strings.Cut(line, " ")
	return strings.ToUpper(verb), arg
}

func (s *session) readLine() (string, error) {
	deadline := time.Now().Add(s.conf.IdleTimeout)
	if login := s.since.Add(s.conf.LoginTimeout); !s.loggedIn.Load() && login.Before(deadline) {
		// Commands before login do not move the login deadline.
		deadline = login
	}
	_ = s.conn.SetReadDeadline(deadline)
	line, err := s.in.readLine()
	if err != nil {
		return "", err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) > s.conf.MaxCommandLength {
		return "", errLineTooLong
	}
	return string(line), nil
}

// readFailed ends the session after a failed read, unless it is the idle
// timeout during a transfer, which does not count as idle.
func (s *session) readFailed(err error) bool {
	var netErr net.Error
	switch {
	case errors.Is(err, errLineTooLong):
		s.report(slog.LevelWarn, "command line too long; closing", "limit", s.conf.MaxCommandLength)
		s.closeDraining(500, "Command line too long.")
	case errors.As(err, &netErr) && netErr.Timeout():
		if !s.loggedIn.Load() && !time.Now().Before(s.since.Add(s.conf.LoginTimeout)) {
			s.report(slog.LevelInfo, "no login before the login timeout; closing", "timeout", s.conf.LoginTimeout)
			s.close(421, "Login timeout ("+strconv.Itoa(seconds(s.conf.LoginTimeout))+" seconds): closing control connection.")
			return false
		}
		if s.running() != nil {
			return true
		}
		s.close(421, "Timeout ("+strconv.Itoa(s.conf.idleSeconds)+" seconds): closing control connection.")
	}
	return false
}

// seconds rounds d up to whole seconds.
func seconds(d time.Duration) int { return int((d + time.Second - 1) / time.Second) }

// waitIdle waits for the running transfer command, if any, to end; false if
// the session ends first.
func (s *session) waitIdle() bool {
	c := s.running()
	if c == nil {
		return true
	}
	select {
	case <-c.done:
		return true
	case <-s.ctx.Done():
		return false
	}
}

func (s *session) running() *job {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.busy
}

// teardown waits for the transfer command, if any, once the client is gone,
// and closes the home.
func (s *session) teardown() {
	s.cancel()
	s.decide()
	if c := s.running(); c != nil {
		<-c.done
	}
	s.data.close()
	if s.fs != nil {
		_ = s.fs.Close()
	}
	s.warnings.flush(s)
	s.report(slog.LevelInfo, "session closed", "user", s.userName(), "duration", time.Since(s.since).Round(time.Millisecond))
}

// reply sends one reply; text may span lines.
func (s *session) reply(code int, text string) error {
	err := s.out.write(appendReply(nil, code, text))
	if err != nil {
		s.close(0, "")
	}
	return err
}

// send sends one reply of the table.
func (s *session) send(r reply) error { return s.reply(r.code, r.text) }

// close ends the session, sending a last reply if msg is set. Safe to call
// from any goroutine, more than once.
func (s *session) close(code int, msg string) {
	s.closeOnce.Do(func() {
		if msg != "" {
			s.out.tryReply(code, msg)
		}
		s.cancel()
		_ = s.raw.Close()
	})
}

// drainLimit bounds what closeDraining reads from a client it hangs up on.
const drainLimit = 16 << 10

// closeDraining is close for a client that has sent more than the server
// read: closing a socket with unread input makes the kernel reset the
// connection, which discards the reply before the client reads it. So it
// sends the reply and a FIN, and reads a little of the rest first.
func (s *session) closeDraining(code int, msg string) {
	s.closeOnce.Do(func() {
		s.out.tryReply(code, msg)
		s.cancel()
		if tcp, ok := s.raw.(interface{ CloseWrite() error }); ok {
			_ = tcp.CloseWrite()
		}
		_ = s.raw.SetReadDeadline(time.Now().Add(time.Second))
		_, _ = io.CopyN(io.Discard, s.raw, drainLimit)
		_ = s.raw.Close()
	})
}

// stopWhenIdle closes the session now, or after its current transfer.
func (s *session) stopWhenIdle() {
	s.mu.Lock()
	s.stopping = true
	busy := s.busy != nil
	s.mu.Unlock()
	if !busy {
		s.close(421, "Server is shutting down.")
	}
}

// closeIfStopping ends a session that Shutdown let finish its transfer,
// once the transfer's final reply has gone out.
func (s *session) closeIfStopping() {
	s.mu.Lock()
	stop := s.stopping
	s.mu.Unlock()
	if stop {
		s.close(421, "Server is shutting down.")
	}
}

// track keeps a data listener or connection to close with the session; it
// returns false if the session is already over.
func (s *session) track(c io.Closer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.over {
		return false
	}
	if s.open == nil {
		s.open = map[io.Closer]struct{}{}
	}
	s.open[c] = struct{}{}
	return true
}

func (s *session) untrack(c io.Closer) {
	s.mu.Lock()
	delete(s.open, c)
	s.mu.Unlock()
}

// closeData ends the session's data connections once the client is gone,
// so that a transfer stuck on one ends.
func (s *session) closeData() {
	s.mu.Lock()
	s.over = true
	open := s.open
	s.open = nil
	s.mu.Unlock()
	for c := range open {
		_ = c.Close()
	}
}

func (s *session) userName() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.user
}

func (s *session) info() SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	info := SessionInfo{ID: s.id, User: s.user, Client: s.client, Since: s.since, TLS: s.tlsOn}
	if t := s.transfer; t != nil {
		info.Transfer = &TransferInfo{Direction: t.direction(), Path: t.path, Bytes: t.bytes.Load(), Since: t.start}
	}
	return info
}

// sleep waits d unless the session ends first.
func (s *session) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}

// replyWriter writes whole replies to the client, over plain TCP or, after
// AUTH TLS, TLS, from the control loop and the transfer goroutine.
type replyWriter struct {
	mu      sync.Mutex
	conn    net.Conn
	timeout time.Duration
}

func (w *replyWriter) write(b []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
	_, err := w.conn.Write(b)
	return err
}

// stream writes a reply in pieces that fn produces, with no other reply in
// between.
func (w *replyWriter) stream(fn func(write func([]byte) error) error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return fn(func(b []byte) error {
		_ = w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
		_, err := w.conn.Write(b)
		return err
	})
}

// tryReply sends a last reply unless a write is stuck on a client that
// does not read, which must not hold up closing the session.
func (w *replyWriter) tryReply(code int, msg string) {
	if !w.mu.TryLock() {
		return
	}
	defer w.mu.Unlock()
	_ = w.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = w.conn.Write(appendReply(nil, code, msg))
}

// upgrade runs the TLS handshake, after the 234 reply to AUTH when accept is
// set, with nothing else written in between.
func (w *replyWriter) upgrade(ctx context.Context, config *tls.Config, accept bool) (*tls.Conn, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
	if accept {
		if _, err := w.conn.Write(appendReply(nil, replyAuthOK.code, replyAuthOK.text)); err != nil {
			return nil, err
		}
	}
	conn := tls.Server(w.conn, config)
	ctx, cancel := context.WithTimeout(ctx, w.timeout)
	defer cancel()
	if err := conn.HandshakeContext(ctx); err != nil {
		return nil, err
	}
	w.conn = conn
	return conn, nil
}

// appendReply appends a reply: "code text", or for a text of several lines
// "code-line" for each but the last.
func appendReply(b []byte, code int, text string) []byte {
	for {
		line, rest, more := strings.Cut(text, "\n")
		line = strings.TrimSuffix(line, "\r")
		b = strconv.AppendInt(b, int64(code), 10)
		if more && rest != "" {
			b = append(b, '-')
		} else {
			b = append(b, ' ')
		}
		b = append(b, line...)
		b = append(b, '\r', '\n')
		if !more || rest == "" {
			return b
		}
		text = rest
	}
}
