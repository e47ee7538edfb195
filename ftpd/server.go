// Package ftpd is the FTP/FTPS service of jelastic-ftp, built on
// github.com/fclairamb/ftpserverlib. It takes everything from outside: the
// listener, the password check (Authenticator) and the settings, so that it
// can run as an unprivileged, chrooted worker.
//
// ftpserverlib terminates TLS itself and has no hook on commands, so a
// session puts a small control-connection proxy in front of it (control.go).
// The proxy owns the client's socket and TLS, reads and bounds every command
// line, handles USER, PASS and AUTH itself (repeated attempts, delays, no
// detail on failures), vets PORT and EPRT, and passes the rest to a private
// ftpserverlib instance. It runs inside the engine's reads of its
// connection (engineConn), so a command costs no hop between goroutines.
// Each session gets its own ftpserverlib server, so the driver callbacks
// that receive no client context (GetTLSConfig, WrapPassiveListener) still
// know their session (engine.go); this is what binds TLS data connections
// to their control connection (tls.go).
package ftpd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

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
	perIP     map[netip.Addr]int
	running   sync.WaitGroup // sessions
	memory    *idlemem.Releaser
}

// idleRelease is how long the server stays without sessions before it
// returns the memory they used to the kernel; a server that has sessions
// keeps it for them.
const idleRelease = 2 * time.Second

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
		auth:      auth,
		listeners: map[net.Listener]struct{}{},
		sessions:  map[uint64]*session{},
		perIP:     map[netip.Addr]int{},
	}
	srv.memory = idlemem.New(idleRelease, srv.idle)
	srv.conf.Store(conf)
	return srv, nil
}

// Reload replaces the settings for sessions that start from now on;
// sessions already running keep theirs. Invalid settings are refused and
// the current ones stay.
func (srv *Server) Reload(s Settings) error {
	conf, err := newConfig(s)
	if err != nil {
		return err
	}
	srv.conf.Store(conf)
	return nil
}

// Serve accepts connections on l until l fails or Shutdown is called, and
// then returns ErrServerClosed. It may run on several listeners at once.
func (srv *Server) Serve(l net.Listener) error {
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
		srv.admit(conn)
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
// server is full or closing.
func (srv *Server) admit(conn net.Conn) {
	conf := srv.conf.Load()
	client := addrPort(conn.RemoteAddr())

	srv.mu.Lock()
	var refusal string
	switch {
	case srv.closing:
		refusal = "Server is shutting down."
	case len(srv.sessions) >= conf.MaxSessions:
		refusal = "Too many connections, try again later."
	case srv.perIP[client.Addr()] >= conf.MaxSessionsPerIP:
		refusal = "Too many connections from your address."
	}
	if refusal != "" {
		srv.mu.Unlock()
		conf.logger.Warn("connection refused", "client", client.Addr(), "reason", refusal)
		go refuse(conn, refusal)
		return
	}
	s := newSession(srv, conf, srv.lastID.Add(1), conn, client)
	srv.sessions[s.id] = s
	srv.perIP[client.Addr()]++
	srv.running.Add(1)
	srv.mu.Unlock()

	go func() {
		defer srv.running.Done()
		s.run()
		srv.mu.Lock()
		delete(srv.sessions, s.id)
		if srv.perIP[client.Addr()]--; srv.perIP[client.Addr()] <= 0 {
			delete(srv.perIP, client.Addr())
		}
		idle := len(srv.sessions) == 0
		srv.mu.Unlock()
		if idle {
			srv.memory.Done()
		}
	}()
}

func (srv *Server) idle() bool {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	return len(srv.sessions) == 0
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
		s.close(421, "Server is shutting down.")
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

// addrPort returns a's address with any IPv4-in-IPv6 mapping removed, so
// that one client is counted and compared as one address.
func addrPort(a net.Addr) netip.AddrPort {
	if tcp, ok := a.(*net.TCPAddr); ok {
		ap := tcp.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}
