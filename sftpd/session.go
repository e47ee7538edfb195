package sftpd

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"

	"github.com/jelastic/jelastic-ftp/ftpd"
	"github.com/jelastic/jelastic-ftp/ftpd/rootfs"
	"github.com/jelastic/jelastic-ftp/internal/admission"
)

// session is one SSH connection.
type session struct {
	srv    *Server
	conf   *Settings
	id     uint64
	conn   *idleConn
	client netip.AddrPort
	since  time.Time
	log    *slog.Logger
	pass   *admission.Pass // the session's place in the gate's counts

	failures int // failed logins; the SSH library calls back one at a time
	// granted are the accounts the callbacks admitted, by the number each one's
	// ssh.Permissions carry: the library may end a login on a key it admitted
	// earlier (a signature after a query), so the last callback is not the one that
	// counts.
	granted []ftpd.Account

	mu        sync.Mutex
	user      string
	transfers map[*transfer]struct{}
}

func newSession(srv *Server, conf *Settings, id uint64, conn net.Conn, client netip.AddrPort, pass *admission.Pass) *session {
	return &session{
		srv: srv, conf: conf, id: id, client: client, since: time.Now(), log: conf.Logger, pass: pass,
		conn:      &idleConn{Conn: conn, timeout: conf.IdleTimeout},
		transfers: map[*transfer]struct{}{},
	}
}

// report logs one line about this session as ftpd does: the client address first, so
// that a fail2ban pattern can anchor on it before any client-chosen text.
func (s *session) report(level slog.Level, msg string, args ...any) {
	h := s.log.Handler()
	if !h.Enabled(context.Background(), level) {
		return
	}
	r := slog.NewRecord(time.Now(), level, msg, 0)
	r.AddAttrs(slog.Any("client", s.client.Addr()))
	r.Add(args...)
	r.AddAttrs(slog.Uint64("session", s.id), slog.String("protocol", "sftp"))
	_ = h.Handle(context.Background(), r)
}

func (s *session) run() {
	defer s.conn.Close()
	_ = s.conn.SetDeadline(time.Now().Add(loginGrace))
	sconn, chans, reqs, err := ssh.NewServerConn(s.conn, s.serverConfig())
	if err != nil {
		s.report(slog.LevelDebug, "SSH handshake or login ended", "err", err)
		return
	}
	defer sconn.Close()
	n, err := strconv.Atoi(sconn.Permissions.Extensions[grantKey])
	if err != nil || n < 0 || n >= len(s.granted) || s.granted[n].Name != sconn.User() {
		s.report(slog.LevelError, "login without an account granted to it", "user", sconn.User())
		return
	}
	acct := s.granted[n]
	if limit, ok := s.pass.LogIn(acct.Name, acct.MaxSessions); !ok {
		s.report(slog.LevelWarn, "login refused: too many sessions for the user", "user", acct.Name, "limit", limit)
		return
	}
	_ = s.conn.SetDeadline(time.Time{})
	s.conn.arm()

	fsys, err := rootfs.New(acct.Home, rootfs.Options{ReadOnly: acct.Permissions.ChangesNothing(), InPlaceUploads: !s.conf.AtomicUploads})
	if err != nil {
		s.report(slog.LevelError, "home directory not usable", "user", acct.Name, "err", err)
		return
	}
	defer fsys.Close()
	s.mu.Lock()
	s.user = acct.Name
	s.mu.Unlock()
	s.report(slog.LevelInfo, "login", "user", acct.Name, "permissions", acct.Permissions.String(), "method", sconn.Permissions.Extensions[methodKey])

	// Global requests are port forwarding (tcpip-forward) and keepalives: refused.
	go ssh.DiscardRequests(reqs)
	h := newHandler(s, fsys, acct)
	var wg sync.WaitGroup
	var open atomic.Int32
	for nc := range chans {
		if nc.ChannelType() != "session" {
			// direct-tcpip (ssh -L), x11, auth-agent@openssh.com and the rest.
			s.report(slog.LevelWarn, "channel refused", "user", acct.Name, "type", nc.ChannelType())
			_ = nc.Reject(ssh.Prohibited, "this server only serves SFTP")
			continue
		}
		if open.Load() >= maxChannels {
			_ = nc.Reject(ssh.ResourceShortage, "too many channels on one connection")
			continue
		}
		ch, creqs, err := nc.Accept()
		if err != nil {
			continue
		}
		open.Add(1)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer open.Add(-1)
			s.serveChannel(ch, creqs, h)
		}()
	}
	wg.Wait()
	s.report(slog.LevelInfo, "session closed", "user", acct.Name, "duration", time.Since(s.since).Round(time.Millisecond))
}

// The ssh.Permissions extensions a successful callback sets.
const (
	grantKey  = "jelastic-ftp-grant" // the index in session.granted
	methodKey = "jelastic-ftp-method"
)

// serverConfig is the SSH configuration of this connection.
func (s *session) serverConfig() *ssh.ServerConfig {
	cfg := &ssh.ServerConfig{
		MaxAuthTries:  s.conf.LoginAttemptsPerSession,
		ServerVersion: serverVersion,
		PasswordCallback: func(meta ssh.ConnMetadata, password []byte) (*ssh.Permissions, error) {
			return s.login(meta.User(), string(password))
		},
		// Some clients (and sshpass setups) answer a password prompt rather than
		// send the password method: the same check behind one question.
		KeyboardInteractiveCallback: func(meta ssh.ConnMetadata, challenge ssh.KeyboardInteractiveChallenge) (*ssh.Permissions, error) {
			answers, err := challenge("", "", []string{"Password: "}, []bool{false})
			if err != nil {
				return nil, err
			}
			if len(answers) != 1 {
				return nil, ErrBadLogin
			}
			return s.login(meta.User(), answers[0])
		},
	}
	if ka, ok := s.srv.auth.(KeyAuthenticator); ok {
		cfg.PublicKeyCallback = func(meta ssh.ConnMetadata, key ssh.PublicKey) (*ssh.Permissions, error) {
			return s.loginKey(ka, meta.User(), key)
		}
	}
	for _, k := range s.conf.HostKeys {
		cfg.AddHostKey(k)
	}
	return cfg
}

// login asks the Authenticator, as an FTP login does.
func (s *session) login(user, password string) (*ssh.Permissions, error) {
	ctx, cancel := context.WithTimeout(context.Background(), loginGrace)
	defer cancel()
	got, err := s.srv.auth.Authenticate(ctx, user, password, s.client.Addr())
	switch {
	case errors.Is(err, ErrBadLogin):
		s.failures++
		s.report(slog.LevelWarn, "login failed", "user", user, "attempt", s.failures)
		time.Sleep(s.conf.FailedLoginDelay)
		return nil, err
	case err != nil:
		s.report(slog.LevelError, "password check failed", "user", user, "err", err)
		s.conn.Close() // no login can succeed; as FTP's 421
		return nil, err
	}
	return s.grant(got, "password"), nil
}

// loginKey asks whether key may log in as user. A refused key is no failed login:
// clients offer each key they hold in turn, and a key cannot be guessed.
func (s *session) loginKey(ka KeyAuthenticator, user string, key ssh.PublicKey) (*ssh.Permissions, error) {
	ctx, cancel := context.WithTimeout(context.Background(), loginGrace)
	defer cancel()
	got, err := ka.AuthenticateKey(ctx, user, key, s.client.Addr())
	switch {
	case errors.Is(err, ErrBadLogin):
		s.report(slog.LevelInfo, "key refused", "user", user, "key", ssh.FingerprintSHA256(key))
		return nil, err
	case err != nil:
		s.report(slog.LevelError, "key check failed", "user", user, "err", err)
		s.conn.Close()
		return nil, err
	}
	return s.grant(got, "publickey"), nil
}

// grant keeps an admitted account for run, which takes the one whose permissions
// the login ended with.
func (s *session) grant(acct ftpd.Account, method string) *ssh.Permissions {
	s.granted = append(s.granted, acct)
	return &ssh.Permissions{Extensions: map[string]string{grantKey: strconv.Itoa(len(s.granted) - 1), methodKey: method}}
}

// serveChannel answers a session channel's requests: the sftp subsystem once, and
// nothing else — no shell, exec, pty, environment or agent forwarding.
func (s *session) serveChannel(ch ssh.Channel, reqs <-chan *ssh.Request, h *handler) {
	defer ch.Close()
	started := false
	for req := range reqs {
		ok := !started && req.Type == "subsystem" && subsystem(req.Payload) == "sftp"
		if req.WantReply {
			_ = req.Reply(ok, nil)
		}
		if !ok {
			if req.Type != "env" && req.Type != "pty-req" {
				s.report(slog.LevelInfo, "request refused", "user", h.user, "request", req.Type)
			}
			continue
		}
		started = true
		go func() {
			c := &exitChannel{Channel: ch}
			rs := sftp.NewRequestServer(newLimitsConn(c), h.handlers(), sftp.WithStartDirectory("/"), sftp.WithRSMaxTxPacket(maxData))
			if err := rs.Serve(); err != nil && !errors.Is(err, io.EOF) {
				s.report(slog.LevelDebug, "SFTP ended", "user", h.user, "err", err)
			}
			_ = c.Close()
		}()
	}
}

// exitChannel reports an exit status of 0 before it closes, as sshd does when its
// sftp-server ends: scp judges a transfer by it, and pkg/sftp closes the channel
// itself when the client ends the session.
type exitChannel struct {
	ssh.Channel
	once sync.Once
}

func (c *exitChannel) Close() error {
	c.once.Do(func() {
		_, _ = c.SendRequest("exit-status", false, ssh.Marshal(struct{ Status uint32 }{0}))
	})
	return c.Channel.Close()
}

// subsystem reads the name of a subsystem request: one SSH string.
func subsystem(payload []byte) string {
	if len(payload) < 4 {
		return ""
	}
	n := binary.BigEndian.Uint32(payload)
	if uint64(n) != uint64(len(payload)-4) {
		return ""
	}
	return string(payload[4:])
}

// close ends the connection, and with it every transfer.
func (s *session) close() { _ = s.conn.Close() }

func (s *session) transferring() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.transfers) > 0
}

func (s *session) info() ftpd.SessionInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := ftpd.SessionInfo{ID: s.id, User: s.user, Client: s.client, Since: s.since, TLS: true}
	var latest *transfer
	for t := range s.transfers {
		if latest == nil || t.start.After(latest.start) {
			latest = t
		}
	}
	if latest != nil {
		in.Transfer = &ftpd.TransferInfo{Direction: latest.direction(), Path: latest.path, Bytes: latest.bytes.Load(), Since: latest.start}
	}
	return in
}

// idleConn closes a connection from which nothing arrives for its timeout, once
// armed after login (until then the login deadline holds). The deadline moves at
// most once a second, not on every read.
type idleConn struct {
	net.Conn
	timeout time.Duration
	armed   atomic.Bool
	moved   atomic.Int64 // unix nanoseconds of the last move
}

func (c *idleConn) arm() {
	c.armed.Store(true)
	c.extend(time.Now())
}

func (c *idleConn) extend(now time.Time) {
	c.moved.Store(now.UnixNano())
	_ = c.Conn.SetReadDeadline(now.Add(c.timeout))
}

func (c *idleConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 && c.armed.Load() {
		if now := time.Now(); now.UnixNano()-c.moved.Load() > int64(time.Second) {
			c.extend(now)
		}
	}
	return n, err
}
