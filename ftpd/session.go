package ftpd

import (
	"bufio"
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

// session is one control connection: the proxy in front of ftpserverlib
// (control.go) and the private ftpserverlib instance behind it (engine.go).
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

	engine         net.Conn // the proxy's end of the pipe to ftpserverlib
	engineListener *oneConnListener
	engineServed   chan struct{} // ftpserverlib's Serve returned
	swallow        atomic.Int32  // engine replies to drop: answers to the proxy's own commands
	replied        chan struct{} // before login: an engine reply reached the client
	engineDone     chan struct{} // the engine closed its end of the pipe
	engineGone     chan struct{} // ftpserverlib ended the session (ClientDisconnected)
	loggedIn       atomic.Bool
	asciiType      atomic.Bool // last TYPE was ASCII, for xferlog

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
		replied:    make(chan struct{}, 1),
		engineDone: make(chan struct{}),
		engineGone: make(chan struct{}),
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
	attrs := append([]any{"client", s.client.Addr()}, args...)
	attrs = append(attrs, "session", s.id)
	s.log.Log(context.Background(), level, msg, attrs...)
}

func (s *session) run() {
	defer s.cancel()
	if err := s.start(); err != nil {
		s.report(slog.LevelError, "session setup failed", "err", err)
		s.close(421, "Service not available.")
		return
	}
	s.serveCommands()
	s.close(0, "")
	s.teardown()
}

// start sets up TLS and the engine, and starts relaying its replies.
func (s *session) start() error {
	var err error
	if s.token, err = randomHex(16); err != nil {
		return err
	}
	if s.loginToken, err = randomHex(32); err != nil {
		return err
	}
	if s.conf.tls != nil {
		s.tlsControl, s.tlsData, err = sessionTLS(s.conf.tls, s.conf.RequireSessionReuse, func() {
			s.report(slog.LevelWarn, "TLS data connection refused: it did not resume the control connection's session", "user", s.userName())
		})
		if err != nil {
			return err
		}
	}
	engineEnd, proxyEnd := net.Pipe()
	s.engine = proxyEnd
	if err := s.startEngine(engineEnd); err != nil {
		engineEnd.Close()
		proxyEnd.Close()
		return err
	}
	go s.relayReplies()
	return nil
}

// teardown waits for the engine and open files after the client is gone.
func (s *session) teardown() {
	s.engine.Close()
	s.closeData()
	<-s.engineDone
	s.stopEngine()
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

// relayReplies copies the engine's replies to the client, dropping the
// answers to the proxy's own commands. Before login it tells the proxy,
// which waits for each reply, when one is complete.
func (s *session) relayReplies() {
	defer close(s.engineDone)
	defer s.close(0, "")
	r := bufio.NewReader(s.engine)
	start, drop := true, false
	for {
		line, err := r.ReadBytes('\n')
		if len(line) == 0 && err != nil {
			return
		}
		if start {
			drop = s.takeSwallow()
		}
		if !drop {
			if s.out.write(line) != nil {
				return
			}
		}
		start = isLastReplyLine(line)
		if !start || line[0] == '1' {
			continue // a 1xx reply is followed by another
		}
		if !drop && !s.loggedIn.Load() {
			select {
			case s.replied <- struct{}{}:
			default:
			}
		}
		s.closeIfStopping()
	}
}

func (s *session) takeSwallow() bool {
	for {
		n := s.swallow.Load()
		if n <= 0 {
			return false
		}
		if s.swallow.CompareAndSwap(n, n-1) {
			return true
		}
	}
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
