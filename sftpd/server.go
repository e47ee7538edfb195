// Package sftpd is the SFTP service of jelastic-ftp, for the same accounts as FTP:
// SSH with golang.org/x/crypto/ssh, of which it accepts only session channels asking
// for the sftp subsystem, and the SFTP protocol with github.com/pkg/sftp over each
// account's rootfs. Like ftpd it takes everything from outside — the listener, the
// host keys, the password check — so that it runs in the unprivileged, chrooted
// worker, where the monitor decides every login.
package sftpd

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/jelastic/jelastic-ftp/ftpd"
	"github.com/jelastic/jelastic-ftp/internal/admission"
)

// ErrBadLogin is what an Authenticator returns for an unknown user or a wrong
// password, without saying which; any other error ends the connection, as the
// password check itself is then out of order.
var ErrBadLogin = errors.New("login incorrect")

// Authenticator checks a user's password; in production it asks the monitor.
type Authenticator interface {
	Authenticate(ctx context.Context, user, password string, client netip.Addr) (ftpd.Account, error)
}

// KeyAuthenticator is an Authenticator that also decides whether a public key may
// log in; the server checks the client's signature with it. Without it only
// passwords are accepted.
type KeyAuthenticator interface {
	AuthenticateKey(ctx context.Context, user string, key ssh.PublicKey, client netip.Addr) (ftpd.Account, error)
}

// Settings configure a Server; the worker fills them from the monitor's settings,
// which take their defaults and ranges from agent/config.
type Settings struct {
	// HostKeys sign the key exchange; at least one.
	HostKeys []ssh.Signer
	// IdleTimeout closes a connection from which nothing arrives for this long.
	IdleTimeout time.Duration
	// Gate admits the connections, counted with the FTP server's that share it
	// against its limits (in all, per address, not logged in yet, per user), and
	// refuses banned addresses; connections it refuses are closed at once, as SSH
	// has no way to say why before its version exchange. It is fixed at New.
	Gate *admission.Gate
	// LoginAttemptsPerSession is how many failed logins a connection may make.
	LoginAttemptsPerSession int
	// FailedLoginDelay is waited before a wrong password is answered.
	FailedLoginDelay time.Duration
	// AtomicUploads publishes a file written whole (opened with truncation) only
	// when the client closes its handle (rootfs.Options).
	AtomicUploads bool
	// Logger gets the same lines as ftpd's, with protocol=sftp; nil: slog.Default().
	Logger *slog.Logger
	// TransferLog, if not nil, receives one xferlog(5) line per transfer, with the
	// service name "sftp".
	TransferLog io.Writer
}

// Bounds of the protocol, which no setting needs to change.
const (
	// loginGrace bounds the SSH handshake and login, as sshd's LoginGraceTime does.
	loginGrace = 60 * time.Second
	// maxChannels bounds the session channels of one connection at once; each
	// serves SFTP with pkg/sftp's eight workers, packets of at most 256 KiB and
	// replies of at most 32 KiB of data.
	maxChannels = 4
	// serverVersion names the server without its version, for scanners to learn less.
	serverVersion = "SSH-2.0-jelastic-ftp"
)

func (s Settings) validate() error {
	var errs []error
	if len(s.HostKeys) == 0 {
		errs = append(errs, errors.New("no SSH host key"))
	}
	if s.Gate == nil {
		errs = append(errs, errors.New("no admission gate"))
	}
	if s.IdleTimeout <= 0 || s.LoginAttemptsPerSession <= 0 {
		errs = append(errs, errors.New("the idle timeout and login attempts must be positive"))
	}
	if s.FailedLoginDelay < 0 {
		errs = append(errs, errors.New("the failed-login delay must not be negative"))
	}
	if len(errs) > 0 {
		return fmt.Errorf("invalid SFTP settings: %w", errors.Join(errs...))
	}
	return nil
}

// Server is an SFTP server. Its methods are safe for concurrent use.
type Server struct {
	auth   Authenticator
	conf   atomic.Pointer[Settings]
	lastID atomic.Uint64
	xferMu sync.Mutex // one xferlog line at a time

	gate *admission.Gate

	mu        sync.Mutex
	closing   bool
	listeners map[net.Listener]struct{}
	sessions  map[uint64]*session
	running   sync.WaitGroup
}

// ErrServerClosed is returned by Serve once Shutdown has been called.
var ErrServerClosed = fmt.Errorf("sftp server closed: %w", net.ErrClosed)

// New checks the settings and returns a server that serves nothing until Serve.
func New(s Settings, auth Authenticator) (*Server, error) {
	if auth == nil {
		return nil, errors.New("an SFTP server needs an Authenticator")
	}
	srv := &Server{
		auth:      auth,
		listeners: map[net.Listener]struct{}{},
		sessions:  map[uint64]*session{},
	}
	if err := srv.Reload(s); err != nil {
		return nil, err
	}
	srv.gate = s.Gate
	return srv, nil
}

// Reload replaces the settings for connections from now on; invalid ones are
// refused and the current ones stay. The Gate stays the one New was given.
func (srv *Server) Reload(s Settings) error {
	if err := s.validate(); err != nil {
		return err
	}
	if s.Logger == nil {
		s.Logger = slog.Default()
	}
	srv.conf.Store(&s)
	return nil
}

// Serve accepts connections on l until l fails or Shutdown is called.
func (srv *Server) Serve(l net.Listener) error {
	srv.mu.Lock()
	if srv.closing {
		srv.mu.Unlock()
		return ErrServerClosed
	}
	srv.listeners[l] = struct{}{}
	srv.mu.Unlock()
	var backoff time.Duration
	for {
		conn, err := l.Accept()
		if err != nil {
			srv.mu.Lock()
			closing := srv.closing
			srv.mu.Unlock()
			if closing {
				return ErrServerClosed
			}
			if !retryable(err) {
				return fmt.Errorf("accept SFTP connections on %s: %w", l.Addr(), err)
			}
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			srv.conf.Load().Logger.Warn("accept failed; retrying", "protocol", "sftp", "err", err, "delay", backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		srv.admit(conn)
	}
}

func retryable(err error) bool {
	for _, errno := range []syscall.Errno{syscall.EMFILE, syscall.ENFILE, syscall.ENOBUFS, syscall.ENOMEM, syscall.ECONNABORTED, syscall.EINTR} {
		if errors.Is(err, errno) {
			return true
		}
	}
	return false
}

// admit starts a session for conn, or closes it when the server is full or closing,
// or the client is banned.
func (srv *Server) admit(conn net.Conn) {
	conf := srv.conf.Load()
	client := ftpd.ClientAddrPort(conn.RemoteAddr())
	srv.mu.Lock()
	var pass *admission.Pass
	refusal := &admission.Refusal{Reason: "Server is shutting down."}
	if !srv.closing {
		pass, refusal = srv.gate.Admit(client.Addr(), time.Now())
	}
	if refusal != nil {
		srv.mu.Unlock()
		conn.Close()
		switch {
		case !refusal.Banned():
			conf.Logger.Warn("connection refused", "client", client.Addr(), "reason", refusal.Reason, "protocol", "sftp")
		case !refusal.Told:
			conf.Logger.Warn("connection refused: client banned", "client", client.Addr(), "source", refusal.Source.String(), "until", refusal.Until.Format(time.RFC3339), "protocol", "sftp")
		}
		return
	}
	s := newSession(srv, conf, srv.lastID.Add(1), conn, client, pass)
	srv.sessions[s.id] = s
	srv.running.Add(1)
	srv.mu.Unlock()
	go func() {
		defer srv.running.Done()
		s.run()
		srv.mu.Lock()
		delete(srv.sessions, s.id)
		pass.Leave()
		srv.mu.Unlock()
	}()
}

// Shutdown stops accepting connections and lets sessions with a transfer in progress
// go on until ctx ends; idle ones are closed at once, the rest when ctx ends.
func (srv *Server) Shutdown(ctx context.Context) error {
	srv.mu.Lock()
	srv.closing = true
	for l := range srv.listeners {
		_ = l.Close()
	}
	srv.mu.Unlock()
	done := make(chan struct{})
	go func() {
		srv.running.Wait()
		close(done)
	}()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for ctx.Err() == nil {
		for _, s := range srv.snapshot() {
			if !s.transferring() {
				s.close()
			}
		}
		select {
		case <-done:
			return nil
		case <-tick.C:
		case <-ctx.Done():
		}
	}
	for _, s := range srv.snapshot() {
		s.close()
	}
	<-done
	return fmt.Errorf("shut down the SFTP server: transfers cut short: %w", ctx.Err())
}

func (srv *Server) snapshot() []*session {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	out := make([]*session, 0, len(srv.sessions))
	for _, s := range srv.sessions {
		out = append(out, s)
	}
	return out
}

// EndSessions closes the sessions of user whose address keep does not admit (all of
// them when keep is nil), as the monitor asks when the account's access was taken
// away; an upload in progress is discarded as on any dropped connection. It returns
// how many it closed.
func (srv *Server) EndSessions(user string, keep func(netip.Addr) bool, why string) int {
	n := 0
	for _, s := range srv.snapshot() {
		s.mu.Lock()
		name := s.user
		s.mu.Unlock()
		if name != user || keep != nil && keep(s.client.Addr()) {
			continue
		}
		s.log.Info("session ended: the account's access was taken away", "client", s.client.Addr().String(), "protocol", "sftp", "user", user, "reason", why)
		s.close()
		n++
	}
	return n
}

// Sessions lists the connections open now, oldest first.
func (srv *Server) Sessions() []ftpd.SessionInfo {
	sessions := srv.snapshot()
	infos := make([]ftpd.SessionInfo, 0, len(sessions))
	for _, s := range sessions {
		infos = append(infos, s.info())
	}
	slices.SortFunc(infos, func(a, b ftpd.SessionInfo) int { return cmp.Compare(a.ID, b.ID) })
	return infos
}
