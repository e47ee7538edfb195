// Package ftpd is the FTP/FTPS service of jelastic-ftp: its own protocol
// engine. It takes everything from outside: the listener, the password check
// (Authenticator) and the settings, so that it can run as an unprivileged,
// chrooted worker.
//
// A session (session.go) owns its control connection, its TLS, its login,
// its current folder and its data channel; it reads each command line,
// bounded, and runs it from one command table (commands.go), which says per
// command whether it needs a login, TLS when TLS is required, and which of
// the account's permissions (users/perm). Transfers and listings (transfer.go, list.go) run beside the
// control loop, so that ABOR and STAT are read meanwhile; data connections
// (data.go) serve only the session's client address, and TLS data
// connections resume a session ticket of that client and user (tls.go).
package ftpd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jelastic/jelastic-ftp/internal/admission"
	"github.com/jelastic/jelastic-ftp/internal/idlemem"
)

// ErrServerClosed is returned by Serve once Shutdown has been called. It
// matches net.ErrClosed too, as the listener was closed.
var ErrServerClosed = fmt.Errorf("ftp server closed: %w", net.ErrClosed)

// Server is an FTP server. Its methods are safe for concurrent use.
type Server struct {
	auth   Authenticator
	conf   atomic.Pointer[config]
	lastID atomic.Uint64
	xferMu sync.Mutex // one xferlog line at a time

	mu        sync.Mutex
	closing   bool
	listeners map[net.Listener]struct{}
	sessions  map[uint64]*session
	// gate counts the sessions against the limits and refuses banned
	// addresses; shared with the worker's SFTP server, or the server's own
	// (ownGate), whose limits Reload sets.
	gate    *admission.Gate
	ownGate bool
	// How many times EndSessions ended each user's sessions, so that a
	// login under way meanwhile fails; one entry per user ever ended.
	revoked map[string]uint64
	// The users of sessions that ended lately, by session ID, for the
	// session tickets they were given (tls.go), oldest first in endedOrder.
	endedUsers map[uint64]string
	endedOrder []uint64
	running    sync.WaitGroup // sessions
}

// New checks the settings and returns a server that serves nothing until
// Serve is called.
func New(s Settings, auth Authenticator) (*Server, error) {
	if auth == nil {
		return nil, errors.New("an FTP server needs an Authenticator")
	}
	conf, err := newConfig(s)
	if err != nil {
		return nil, err
	}
	srv := &Server{
		auth:       auth,
		listeners:  map[net.Listener]struct{}{},
		sessions:   map[uint64]*session{},
		gate:       s.Gate,
		revoked:    map[string]uint64{},
		endedUsers: map[uint64]string{},
	}
	if srv.gate == nil {
		if srv.gate, err = admission.New(conf.Limits()); err != nil {
			return nil, err
		}
		srv.ownGate = true
		// A gate shared with other servers is its owner's to watch.
		srv.gate.WhenEmpty(idlemem.New(idlemem.Quiet, srv.gate.Empty).Done)
	}
	srv.conf.Store(conf)
	return srv, nil
}

// Reload replaces the settings for sessions that start from now on;
// sessions already running keep theirs. Invalid settings are refused and
// the current ones stay. The Gate stays the one New was given.
func (srv *Server) Reload(s Settings) error {
	conf, err := newConfig(s)
	if err != nil {
		return err
	}
	if srv.ownGate {
		if err := srv.gate.SetLimits(conf.Limits()); err != nil {
			return err
		}
	}
	srv.conf.Store(conf)
	return nil
}

// Serve accepts connections on l until l fails or Shutdown is called, and
// then returns ErrServerClosed. It may run on several listeners at once.
func (srv *Server) Serve(l net.Listener) error { return srv.serve(l, false) }

// ServeImplicitTLS is Serve for implicit FTPS, for clients that only speak
// it (port 990 by custom): each connection starts with a TLS handshake, as
// if it had sent AUTH TLS, and the server greets it over TLS. It needs TLS
// in the settings.
func (srv *Server) ServeImplicitTLS(l net.Listener) error { return srv.serve(l, true) }

func (srv *Server) serve(l net.Listener, implicitTLS bool) error {
	srv.mu.Lock()
	if srv.closing {
		srv.mu.Unlock()
		return ErrServerClosed
	}
	srv.listeners[l] = struct{}{}
	srv.mu.Unlock()
	defer func() {
		srv.mu.Lock()
		delete(srv.listeners, l)
		srv.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		conn, err := l.Accept()
		if err != nil {
			if srv.shuttingDown() {
				return ErrServerClosed
			}
			if !retryableAccept(err) {
				return fmt.Errorf("accept FTP connections on %s: %w", l.Addr(), err)
			}
			// Out of file descriptors or similar: wait for sessions to end
			// rather than spin.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			srv.conf.Load().logger.Warn("accept failed; retrying", "err", err, "delay", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		srv.admit(conn, implicitTLS)
	}
}

func retryableAccept(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

func (srv *Server) shuttingDown() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.closing
}

// admit starts a session for conn, or turns it away with 421 when the
// server is full or closing, or the client is banned.
func (srv *Server) admit(conn net.Conn, implicitTLS bool) {
	conf := srv.conf.Load()
	client := ClientAddrPort(conn.RemoteAddr())

	srv.mu.Lock()
	if srv.closing {
		srv.mu.Unlock()
		conf.logger.Warn("connection refused", "client", client.Addr(), "reason", replyShuttingDown.text)
		go refuse(conn, replyShuttingDown.text)
		return
	}
	pass, refusal := srv.gate.Admit(client.Addr(), time.Now())
	if refusal != nil {
		srv.mu.Unlock()
		switch {
		case !refusal.Banned():
			conf.logger.Warn("connection refused", "client", client.Addr(), "reason", refusal.Reason)
		case !refusal.Told:
			conf.logger.Warn("connection refused: client banned", "client", client.Addr(), "source", refusal.Source.String(), "until", refusal.Until.Format(time.RFC3339))
		}
		if refusal.Banned() && implicitTLS {
			// No TLS handshake for a banned client: it would cost the server a
			// signature per attempt, and a 421 in clear text reaches a client
			// that waits for TLS as a garbled record ("wrong version number"),
			// which says no more than a closed connection.
			conn.Close()
			return
		}
		go refuse(conn, refusal.Reason)
		return
	}
	s := newSession(srv, conf, srv.lastID.Add(1), conn, client)
	s.implicitTLS = implicitTLS
	s.pass = pass
	srv.sessions[s.id] = s
	srv.running.Add(1)
	srv.mu.Unlock()

	go func() {
		defer srv.running.Done()
		s.run()
		srv.mu.Lock()
		delete(srv.sessions, s.id)
		pass.Leave()
		if user := s.userName(); user != "" {
			srv.remember(s.id, user)
		}
		srv.mu.Unlock()
	}()
}

// loggedIn moves session s from waiting to logged in as user, unless user
// has as many sessions as max_sessions_per_user or the account's own limit
// (accountMax) allow, or EndSessions ended user's sessions since
// revocations returned revoked; then it returns the refusal, and the limit
// it applied.
func (srv *Server) loggedIn(s *session, user string, accountMax int, revoked uint64) (*reply, int) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if srv.revoked[user] != revoked {
		return &replyAccessChanged, 0
	}
	if limit, ok := s.pass.LogIn(user, accountMax); !ok {
		return &replyUserSessions, limit
	}
	return nil, 0
}

// revocations counts the times EndSessions ended user's sessions.
func (srv *Server) revocations(user string) uint64 {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return srv.revoked[user]
}

// EndSessions closes user's sessions, but those from an address keep
// admits (keep nil: none stay), with a 421 reply that says why; a transfer
// in progress is aborted and an atomic upload discarded. A login of user
// under way fails. It returns how many sessions it closed.
func (srv *Server) EndSessions(user string, keep func(netip.Addr) bool, why string) int {
	srv.mu.Lock()
	srv.revoked[user]++
	var ending []*session
	for _, s := range srv.sessions {
		// A session already closed may still be finishing its transfer.
		if s.userName() == user && s.ctx.Err() == nil && (keep == nil || !keep(s.client.Addr())) {
			ending = append(ending, s)
		}
	}
	srv.mu.Unlock()
	// At once: a client that does not read holds its last reply up to a second.
	var closing sync.WaitGroup
	for _, s := range ending {
		closing.Go(func() {
			s.report(slog.LevelInfo, "session ended: the account's access was taken away", "user", user, "reason", why)
			s.close(421, why)
		})
	}
	closing.Wait()
	return len(ending)
}

// maxEndedUsers bounds how many ended sessions' users the server remembers
// for their session tickets.
const maxEndedUsers = 4096

// remember keeps the user of an ended session. Called with srv.mu held.
func (srv *Server) remember(id uint64, user string) {
	if len(srv.endedOrder) >= maxEndedUsers {
		delete(srv.endedUsers, srv.endedOrder[0])
		srv.endedOrder = srv.endedOrder[1:]
	}
	srv.endedUsers[id] = user
	srv.endedOrder = append(srv.endedOrder, id)
}

// ticketLoginWait bounds how long a data connection's TLS handshake waits
// for the session that issued its ticket to log in: a client that opens
// connections in parallel (rclone) may resume one's ticket while that one
// is still logging in.
const ticketLoginWait = 3 * time.Second

// userOfSession returns the user session id logged in as, "" if none. A
// session still logging in is waited for, up to ticketLoginWait.
func (srv *Server) userOfSession(id uint64) string {
	srv.mu.Lock()
	s, live := srv.sessions[id]
	user := srv.endedUsers[id]
	srv.mu.Unlock()
	if !live {
		return user
	}
	timer := time.NewTimer(ticketLoginWait)
	defer timer.Stop()
	select {
	case <-s.decided:
	case <-timer.C:
	}
	return s.userName()
}

func refuse(conn net.Conn, msg string) {
	defer conn.Close()
	_ = conn.SetWriteDeadline(time.Now().Add(5 * time.Second))
	_, _ = fmt.Fprintf(conn, "421 %s\r\n", msg)
}

// Shutdown stops accepting connections, closes idle sessions, and lets
// running transfers finish until ctx ends; then it closes the sessions
// left. It returns ctx's error if it had to cut transfers short.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	srv.closing = true
	for l := range srv.listeners {
		_ = l.Close()
	}
	sessions := make([]*session, 0, len(srv.sessions))
	for _, s := range srv.sessions {
		sessions = append(sessions, s)
	}
	srv.mu.Unlock()

	for _, s := range sessions {
		s.stopWhenIdle()
	}
	done := make(chan struct{})
	go func() {
		srv.running.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	for _, s := range sessions {
		s.close(replyShuttingDown.code, replyShuttingDown.text)
	}
	<-done
	return fmt.Errorf("shut down the FTP server: transfers cut short: %w", ctx.Err())
}

// SessionInfo describes a session for status displays.
type SessionInfo struct {
	ID       uint64
	User     string // empty until login
	Client   netip.AddrPort
	Since    time.Time
	TLS      bool // the control connection is encrypted
	Transfer *TransferInfo
}

// TransferInfo describes a file transfer in progress.
type TransferInfo struct {
	Direction string // "upload" or "download"
	Path      string // as the client named it
	Bytes     int64  // transferred so far
	Since     time.Time
}

// Sessions lists the sessions open now, oldest first.
func (srv *Server) Sessions() []SessionInfo {
	srv.mu.Lock()
	sessions := make([]*session, 0, len(srv.sessions))
	for _, s := range srv.sessions {
		sessions = append(sessions, s)
	}
	srv.mu.Unlock()
	infos := make([]SessionInfo, 0, len(sessions))
	for _, s := range sessions {
		infos = append(infos, s.info())
	}
	slices.SortFunc(infos, func(a, b SessionInfo) int { return cmp.Compare(a.ID, b.ID) })
	return infos
}

// ClientAddrPort returns a's address with any IPv4-in-IPv6 mapping removed, so
// that one client is counted and compared as one address.
func ClientAddrPort(a net.Addr) netip.AddrPort {
	if tcp, ok := a.(*net.TCPAddr); ok {
		ap := tcp.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
