package ftpd

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
)

// session is one control connection: a private ftpserverlib instance
// (engine.go) whose connection runs the proxy's command filter (control.go)
// on every read and sends its replies straight to the client.
type session struct {
	srv    *Server
	conf   *config
	id     uint64
	client netip.AddrPort
	since  time.Time
	raw    net.Conn
	ctx    context.Context // ends with the session; bounds password checks
	cancel context.CancelFunc
	log    *slog.Logger

	out        replyWriter
	tlsControl *tls.Config // nil without FTPS
	tlsData    *tls.Config
	// token marks the proxy's answers sent through the engine as SITE
	// commands; loginToken is the password of the login handover. Neither
	// ever reaches the client.
	token, loginToken string

	engineListener *oneConnListener
	engineGone     chan struct{} // ftpserverlib ended the session (ClientDisconnected)
	loggedIn       atomic.Bool
	asciiType      atomic.Bool // last TYPE was ASCII, for xferlog

	// relayMu guards the reply being gathered and the count of replies to drop.
	relayMu  sync.Mutex
	reply    []byte // an engine reply being gathered
	head     []byte // the first bytes of its current line, up to 4
	swallow  int    // engine replies to drop: answers to the proxy's own commands
	midReply bool   // part of a reply has been seen
	dropped  bool   // the reply being gathered is dropped

	mu          sync.Mutex
	tlsOn       bool
	user        string     // after login
	handover    *sessionFS // prepared at PASS, taken by the engine's AuthUser
	fs          *sessionFS // after login
	cc          ftpserver.ClientContext
	data        map[io.Closer]struct{} // passive data listeners and connections
	transfer    *transfer              // the one in progress
	openFiles   int                    // transfers whose file is open
	filesClosed sync.Cond              // on mu: openFiles went down
	over        bool                   // the client is gone: no new transfers
	stopping    bool                   // Shutdown waits for the transfer to end

	closeOnce sync.Once
}

func newSession(srv *Server, conf *config, id uint64, conn net.Conn, client netip.AddrPort) *session {
	ctx, cancel := context.WithCancel(context.Background())
	s := &session{
		srv:        srv,
		conf:       conf,
		id:         id,
		client:     client,
		since:      time.Now(),
		raw:        conn,
		ctx:        ctx,
		cancel:     cancel,
		log:        conf.logger,
		out:        replyWriter{conn: conn, timeout: conf.IdleTimeout},
		engineGone: make(chan struct{}),
		head:       make([]byte, 0, 4),
	}
	s.filesClosed.L = &s.mu
	return s
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("draw a session secret: %w", err)
	}
	return hex.EncodeToString(b), nil
}

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

func (s *session) run() {
	defer s.cancel()
	ftp, err := s.start()
	if err != nil {
		s.report(slog.LevelError, "session setup failed", "err", err)
		s.close(421, "Service not available.")
		return
	}
	context.AfterFunc(s.ctx, s.hangUp)
	// Serve returns once ClientDisconnected has closed the engine's listener.
	_ = ftp.Serve()
	s.close(0, "")
	s.teardown()
}

// start sets up TLS and the engine.
func (s *session) start() (*ftpserver.FtpServer, error) {
	var err error
	if s.token, err = randomHex(16); err != nil {
		return nil, err
	}
	if s.loginToken, err = randomHex(32); err != nil {
		return nil, err
	}
	if s.conf.tls != nil {
		s.tlsControl, s.tlsData, err = sessionTLS(s.conf.tls, s.conf.RequireSessionReuse, func() {
			s.report(slog.LevelWarn, "TLS data connection refused: it did not resume the control connection's session", "user", s.userName())
		})
		if err != nil {
			return nil, err
		}
	}
	return s.newEngine()
}

// hangUp runs when the client connection ends, however it ends: it closes
// the passive transfers, so that a command ftpserverlib holds back behind
// one lets go, and unsticks an engine that waits on anything else.
//
// ftpserverlib's Close is the last resort, used only after a grace period,
// as it races the engine's own end of the session on an unguarded flag
// (client_handler.go, disconnect).
func (s *session) hangUp() {
	s.closeData()
	grace := time.NewTimer(engineGrace)
	defer grace.Stop()
	select {
	case <-s.engineGone:
		return
	case <-grace.C:
	}
	s.mu.Lock()
	cc := s.cc
	s.mu.Unlock()
	if cc == nil {
		return // the engine never greeted: nothing to unstick
	}
	s.report(slog.LevelWarn, "closing a session stuck on a transfer", "user", s.userName())
	_ = cc.Close()
}

// teardown waits for open files once the engine has ended the session.
func (s *session) teardown() {
	s.mu.Lock()
	for s.openFiles > 0 {
		s.filesClosed.Wait()
	}
	fs := s.fs
	s.mu.Unlock()
	if fs != nil {
		_ = fs.FS.Close()
	}
	s.report(slog.LevelInfo, "session closed", "user", s.userName(), "duration", time.Since(s.since).Round(time.Millisecond))
}

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
	busy := s.transfer != nil
	s.mu.Unlock()
	if !busy {
		s.close(421, "Server is shutting down.")
	}
}

// trackData keeps a passive data listener or connection to close with the
// session; it returns false if the session is already over.
func (s *session) trackData(c io.Closer) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.over {
		return false
	}
	if s.data == nil {
		s.data = map[io.Closer]struct{}{}
	}
	s.data[c] = struct{}{}
	return true
}

func (s *session) untrackData(c io.Closer) {
	s.mu.Lock()
	delete(s.data, c)
	s.mu.Unlock()
}

// closeData ends the session's passive transfers, so that a command
// ftpserverlib holds back until the transfer ends lets it go.
func (s *session) closeData() {
	s.mu.Lock()
	s.over = true
	data := s.data
	s.data = nil
	s.mu.Unlock()
	for c := range data {
		_ = c.Close()
	}
}

// transferring tells whether a file transfer runs: a quiet control
// connection then does not count as idle (transfers watch themselves,
// watchTransfer).
func (s *session) transferring() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.transfer != nil
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

// maxReply bounds how much of one engine reply is gathered before it is sent.
const maxReply = 16 << 10

// relay passes the engine's replies to the client, each in one write, and
// drops the answers to the commands the proxy sent on its own. A reply ends
// with a "ddd text" line (isLastReplyLine); ftpserverlib writes a long line
// in pieces.
func (s *session) relay(p []byte) {
	s.relayMu.Lock()
	defer s.relayMu.Unlock()
	for len(p) > 0 {
		if !s.midReply {
			s.midReply = true
			s.dropped = s.swallow > 0
			if s.dropped {
				s.swallow--
			}
		}
		line, rest, complete := bytes.Cut(p, []byte("\n"))
		if complete {
			line = p[:len(line)+1]
		}
		p = rest
		if n := len(s.head); n < cap(s.head) {
			s.head = append(s.head, line[:min(cap(s.head)-n, len(line))]...)
		}
		s.reply = append(s.reply, line...)
		last := complete && isLastReplyLine(s.head)
		final := last && s.head[0] != '1' // a 1xx reply is followed by another
		if complete {
			s.head = s.head[:0]
		}
		if last && isEngineFEAT(s.reply) {
			s.reply = rewriteFEAT(s.reply, s.conf.ActiveMode)
		}
		if last && (s.reply[0] == '4' || s.reply[0] == '5') {
			s.reply = plainError(s.reply)
		}
		if last || len(s.reply) >= maxReply {
			s.sendReply()
		}
		if last {
			s.midReply = false
		}
		if final {
			s.closeIfStopping()
		}
	}
}

func (s *session) sendReply() {
	if !s.dropped && s.out.write(s.reply) != nil {
		s.close(0, "")
	}
	s.reply = s.reply[:0]
}

// dropReplies makes relay drop the engine's next n replies.
func (s *session) dropReplies(n int) {
	s.relayMu.Lock()
	s.swallow += n
	s.relayMu.Unlock()
}

// closeIfStopping ends a session that Shutdown let finish its transfer,
// once the transfer's final reply has gone out.
func (s *session) closeIfStopping() {
	s.mu.Lock()
	stop := s.stopping && s.transfer == nil
	s.mu.Unlock()
	if stop {
		s.close(421, "Server is shutting down.")
	}
}

// isLastReplyLine tells whether line ends a reply: "ddd text" rather than
// "ddd-text" or a continuation line.
func isLastReplyLine(line []byte) bool {
	return len(line) >= 4 && isDigit(line[0]) && isDigit(line[1]) && isDigit(line[2]) && line[3] == ' '
}

func isDigit(b byte) bool { return b >= '0' && b <= '9' }

// replyWriter writes whole reply lines to the client from the proxy and
// the relay, over plain TCP or, after AUTH TLS, TLS.
type replyWriter struct {
	mu      sync.Mutex
	conn    net.Conn
	timeout time.Duration
}

func (w *replyWriter) write(line []byte) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
	_, err := w.conn.Write(line)
	return err
}

func (w *replyWriter) reply(code int, msg string) error {
	return w.write(fmt.Appendf(nil, "%d %s\r\n", code, msg))
}

// tryReply sends a last reply unless a write is stuck on a client that
// does not read, which must not hold up closing the session.
func (w *replyWriter) tryReply(code int, msg string) {
	if !w.mu.TryLock() {
		return
	}
	defer w.mu.Unlock()
	_ = w.conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = fmt.Fprintf(w.conn, "%d %s\r\n", code, msg)
}

// upgrade sends the 234 reply and runs the TLS handshake with nothing else
// written in between.
func (w *replyWriter) upgrade(ctx context.Context, config *tls.Config) (*tls.Conn, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	_ = w.conn.SetWriteDeadline(time.Now().Add(w.timeout))
	if _, err := w.conn.Write([]byte("234 Proceed with TLS negotiation.\r\n")); err != nil {
		return nil, err
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
