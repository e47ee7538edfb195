// Package worker is the unprivileged FTP and SFTP process. The monitor (package monitor)
// starts it with the listening sockets and a privsep channel; it takes its settings from
// the channel, chroots into the FTP root, drops to the FTP UID and only then serves,
// asking the monitor to check every password.
package worker

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/crypto/ssh"
	"golang.org/x/sys/unix"

	"github.com/jelastic/jelastic-ftp/ftpd"
	"github.com/jelastic/jelastic-ftp/ftpd/rootfs"
	"github.com/jelastic/jelastic-ftp/internal/admission"
	"github.com/jelastic/jelastic-ftp/internal/gcroom"
	"github.com/jelastic/jelastic-ftp/internal/hostkeys"
	"github.com/jelastic/jelastic-ftp/internal/idlemem"
	"github.com/jelastic/jelastic-ftp/internal/privsep"
	"github.com/jelastic/jelastic-ftp/sftpd"
)

// gcRoom is what the worker may allocate between garbage collections while its live
// heap is small: at Go's default, SFTP transfers spent a fifth of the worker's CPU
// time collecting (see internal/gcroom).
const gcRoom = 16 << 20

// Run is the worker's main.
func Run(logger *slog.Logger) error {
	started, monitorPID := time.Now(), os.Getppid()
	if os.Getenv(privsep.EnvMarker) != "1" {
		return errors.New("the worker is started by `ftpctl serve`, not by hand")
	}
	os.Unsetenv(privsep.EnvMarker)
	gcroom.Keep(gcRoom)
	// Started through /proc/self/exe, the process would be called "exe" in ps and top.
	unix.Prctl(unix.PR_SET_NAME, uintptr(unsafe.Pointer(&[]byte("ftpctl-worker\x00")[0])), 0, 0, 0)
	ch, err := privsep.FromFile(os.NewFile(privsep.ChannelFD, "privsep"))
	if err != nil {
		return err
	}
	xferlog := xferlogSink{ch}
	first, err := ch.Recv()
	if err != nil {
		return fmt.Errorf("read settings from the monitor: %w", err)
	}
	if first.Kind != privsep.KindConfig {
		return fmt.Errorf("expected settings from the monitor, got %q", first.Kind)
	}
	cfg := first.Config
	settings, err := toSettings(cfg, logger, xferlog)
	if err != nil {
		return err
	}
	// One gate for both servers, so that the limits and bans hold across protocols.
	gate, err := admission.New(settings.Limits())
	if err != nil {
		return err
	}
	// What a burst of sessions of either protocol leaves on the heap goes back to
	// the kernel once the last of them has gone.
	gate.WhenEmpty(idlemem.New(idlemem.Quiet, gate.Empty).Done)
	if err := takeBans(ch, cfg.BanBatches, gate); err != nil {
		return err
	}
	ln, err := inheritedListener(privsep.ListenerFD, "listener")
	if err != nil {
		return err
	}
	var implicitLn net.Listener
	if cfg.ImplicitTLS {
		if implicitLn, err = inheritedListener(privsep.ImplicitTLSListenerFD, "implicit FTPS listener"); err != nil {
			return err
		}
	}
	var sftpLn net.Listener
	if cfg.SFTP {
		if sftpLn, err = inheritedListener(privsep.SFTPListenerFD, "SFTP listener"); err != nil {
			return err
		}
	}

	syscall.Umask(int(cfg.Umask))
	if cfg.Chroot {
		if err := dropPrivileges(cfg.Root, cfg.UID, cfg.GID); err != nil {
			return err
		}
		logger.Info("worker confined", "chroot", cfg.Root, "uid", cfg.UID, "gid", cfg.GID)
	} else {
		logger.Warn("worker runs without chroot and without changing user: the monitor is not root")
	}
	if err := dieWithMonitor(monitorPID); err != nil {
		return err
	}

	auth := &monitorAuth{ch: ch, root: cfg.Root, chroot: cfg.Chroot, gate: gate}
	settings.Gate = gate
	srv, err := ftpd.New(settings, auth)
	if err != nil {
		return err
	}
	var sftpSrv *sftpd.Server
	if sftpLn != nil {
		s, err := toSFTPSettings(cfg, logger, xferlog, gate)
		if err != nil {
			return err
		}
		if sftpSrv, err = sftpd.New(s, sftpAuth{auth}); err != nil {
			return err
		}
	}
	stop := newStopper(srv, sftpSrv)
	auth.onSessions = func(id uint64) {
		var sftpSessions []ftpd.SessionInfo
		if sftpSrv != nil {
			sftpSessions = sftpSrv.Sessions()
		}
		ch.Send(privsep.Message{Kind: privsep.KindSessions, ID: id, Sessions: sessionList(srv.Sessions(), sftpSessions)})
	}
	auth.onEnd = func(id uint64, e *privsep.EndSessions) {
		n := srv.EndSessions(e.User, e.Stays, e.Reason.Sentence())
		if sftpSrv != nil {
			n += sftpSrv.EndSessions(e.User, e.Stays, e.Reason.Sentence())
		}
		ch.Send(privsep.Message{Kind: privsep.KindEnd, ID: id, End: &privsep.EndSessions{User: e.User, Reason: e.Reason, Ended: n}})
	}
	go auth.readLoop(func(c *privsep.WorkerConfig) {
		s, err := toSettings(c, logger, xferlog)
		if err == nil {
			err = srv.Reload(s)
		}
		if err == nil && sftpSrv != nil {
			var ss sftpd.Settings
			if ss, err = toSFTPSettings(c, logger, xferlog, gate); err == nil {
				err = sftpSrv.Reload(ss)
			}
		}
		if err == nil {
			err = gate.SetLimits(s.Limits())
		}
		if err != nil {
			logger.Error("reload refused", "err", err)
		}
	}, func(err error) {
		// Without the monitor no login can succeed; stop rather than linger.
		logger.Error("monitor channel lost; stopping", "err", err)
		stop.start()
	})

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		stop.start()
	}()
	// Beside serving, never before it: a large FTP root takes a while to walk.
	sweepCtx, stopSweep := context.WithCancel(context.Background())
	defer stopSweep()
	go sweepUploads(sweepCtx, cfg, started, logger, ch)
	if implicitLn != nil {
		go func() {
			if err := srv.ServeImplicitTLS(implicitLn); !errors.Is(err, net.ErrClosed) {
				logger.Error("implicit FTPS listener failed; stopping", "err", err)
				stop.start()
			}
		}()
	}
	if sftpSrv != nil {
		go func() {
			if err := sftpSrv.Serve(sftpLn); !errors.Is(err, net.ErrClosed) {
				// Without its SFTP service the worker would look healthy; a new one
				// gets the listener again.
				logger.Error("SFTP service stopped; stopping the worker", "err", err)
				stop.start()
			}
		}()
	}
	err = srv.Serve(ln)
	if errors.Is(err, net.ErrClosed) {
		// Serve returns once the listener is closed; running transfers end later.
		<-stop.done
		return nil
	}
	return err
}

// takeBans reads the running bans that follow the first settings, batches messages,
// so that the worker refuses banned addresses from its first connection on.
func takeBans(ch *privsep.Conn, batches int, gate *admission.Gate) error {
	for range batches {
		m, err := ch.Recv()
		if err != nil {
			return fmt.Errorf("read the bans from the monitor: %w", err)
		}
		if m.Kind != privsep.KindBans {
			return fmt.Errorf("expected bans from the monitor, got %q", m.Kind)
		}
		ban(gate, m.Bans)
	}
	return nil
}

// ban puts the monitor's bans into the gate; privsep checked each one's source.
func ban(gate *admission.Gate, bans []privsep.Ban) {
	now := time.Now()
	for _, b := range bans {
		_ = gate.Ban(b.Source, b.Until, now)
	}
}

// unban lifts the bans the monitor says an operator lifted; privsep checked each source.
func unban(gate *admission.Gate, u *privsep.Unban) {
	if u.All {
		gate.UnbanAll()
		return
	}
	for _, s := range u.Sources {
		gate.Unban(s)
	}
}

// inheritedListener takes the listening socket the monitor passed as descriptor fd.
func inheritedListener(fd int, name string) (net.Listener, error) {
	f := os.NewFile(uintptr(fd), name)
	defer f.Close()
	ln, err := net.FileListener(f)
	if err != nil {
		return nil, fmt.Errorf("inherited %s: %w", name, err)
	}
	return ln, nil
}

// sweepPace lets the sweep of upload leftovers walk the FTP root in batches with a
// pause between them, so that the sessions keep most of the disk meanwhile.
var sweepPace = rootfs.SweepOptions{Batch: 1000, Pause: 10 * time.Millisecond}

// sweepUploads removes what uploads cut short by an earlier worker left, even with
// atomic uploads now off: the names are the server's own. It goes on where the
// previous worker's sweep stopped and tells the monitor how far it got, so that a
// worker restarted again and again still covers the whole tree.
func sweepUploads(ctx context.Context, cfg *privsep.WorkerConfig, started time.Time, logger *slog.Logger, ch *privsep.Conn) {
	dir := cfg.Root
	if cfg.Chroot {
		dir = "/"
	}
	o := sweepPace
	o.From = cfg.SweepFrom
	o.Progress = func(cursor string) {
		ch.Send(privsep.Message{Kind: privsep.KindSweep, Sweep: &privsep.SweepState{Cursor: cursor}})
	}
	res, err := rootfs.SweepUploads(ctx, dir, started, o)
	switch {
	case err != nil:
		logger.Warn("cannot sweep upload leftovers", "err", err)
	case res.Removed > 0:
		logger.Info("removed leftovers of interrupted uploads", "files", res.Removed, "complete", res.Complete)
	}
}

// stopper runs the servers' graceful shutdown once, whoever asks first.
type stopper struct {
	once sync.Once
	srv  *ftpd.Server
	sftp *sftpd.Server // nil without SFTP
	done chan struct{}
}

func newStopper(srv *ftpd.Server, sftp *sftpd.Server) *stopper {
	return &stopper{srv: srv, sftp: sftp, done: make(chan struct{})}
}

func (s *stopper) start() {
	s.once.Do(func() {
		go func() {
			defer close(s.done)
			ctx, cancel := context.WithTimeout(context.Background(), privsep.ShutdownGrace)
			defer cancel()
			var wg sync.WaitGroup
			if s.sftp != nil {
				wg.Go(func() { s.sftp.Shutdown(ctx) })
			}
			s.srv.Shutdown(ctx)
			wg.Wait()
		}()
	})
}

// toSFTPSettings turns the monitor's message into SFTP settings: the host keys, and
// the gate shared with FTP.
func toSFTPSettings(c *privsep.WorkerConfig, logger *slog.Logger, xferlog io.Writer, gate *admission.Gate) (sftpd.Settings, error) {
	keys, err := hostkeys.Set(c.HostKeysPEM).Signers()
	if err != nil {
		return sftpd.Settings{}, fmt.Errorf("SSH host keys from the monitor: %w", err)
	}
	s := sftpd.Settings{
		HostKeys:                keys,
		IdleTimeout:             c.IdleTimeout,
		Gate:                    gate,
		LoginAttemptsPerSession: c.LoginAttemptsPerSession,
		FailedLoginDelay:        c.FailedLoginDelay,
		AtomicUploads:           c.AtomicUploads,
		Logger:                  logger,
	}
	if c.TransferLog {
		s.TransferLog = xferlog
	}
	return s, nil
}

// toSettings turns the monitor's message into server settings.
func toSettings(c *privsep.WorkerConfig, logger *slog.Logger, xferlog io.Writer) (ftpd.Settings, error) {
	s := ftpd.DefaultSettings()
	s.PassivePortMin, s.PassivePortMax = c.PassivePortMin, c.PassivePortMax
	s.PublicHost = c.PublicHost
	s.RequireTLS = c.RequireTLS
	s.RequireSessionReuse = c.RequireSessionReuse
	s.IdleTimeout = c.IdleTimeout
	s.MaxSessions, s.MaxSessionsPerIP = c.MaxSessions, c.MaxSessionsPerIP
	s.LoginTimeout, s.MaxSessionsPerUser = c.LoginTimeout, c.MaxSessionsPerUser
	s.MaxSessionsBeforeLogin, s.MaxSessionsBeforeLoginPerIP = c.MaxSessionsBeforeLogin, c.MaxSessionsBeforeLoginPerIP
	s.LoginAttemptsPerSession = c.LoginAttemptsPerSession
	s.FailedLoginDelay = c.FailedLoginDelay
	s.ActiveMode = c.ActiveMode
	s.AtomicUploads = c.AtomicUploads
	if c.MaxCommandLength > 0 {
		s.MaxCommandLength = c.MaxCommandLength
	}
	s.Logger = logger
	if c.TransferLog {
		s.TransferLog = xferlog
	}
	if len(c.CertPEM) > 0 {
		cert, err := tls.X509KeyPair(c.CertPEM, c.KeyPEM)
		if err != nil {
			return s, fmt.Errorf("TLS certificate from the monitor: %w", err)
		}
		s.TLS = &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   max(c.MinTLSVersion, tls.VersionTLS12),
			CipherSuites: ftpd.TLS12CipherSuites,
		}
	}
	return s, nil
}

// sessionList converts the servers' sessions for the monitor, bounded to one packet.
func sessionList(ftp, sftp []ftpd.SessionInfo) *privsep.SessionList {
	out := &privsep.SessionList{Count: len(ftp) + len(sftp), Sessions: []privsep.Session{}}
	type tagged struct {
		ftpd.SessionInfo
		proto privsep.Protocol
	}
	infos := make([]tagged, 0, len(ftp)+len(sftp))
	for _, in := range ftp {
		infos = append(infos, tagged{in, privsep.ProtocolFTP})
	}
	for _, in := range sftp {
		infos = append(infos, tagged{in, privsep.ProtocolSFTP})
	}
	for _, in := range infos[:min(len(infos), privsep.MaxSessionsListed)] {
		s := privsep.Session{User: in.User, Client: in.Client.String(), Since: in.Since, TLS: in.TLS, Protocol: in.proto}
		if t := in.Transfer; t != nil {
			path := t.Path
			if len(path) > 256 { // keeps 200 sessions within one packet
				path = path[:253] + "..."
			}
			s.Transfer = &privsep.Transfer{Direction: t.Direction, Path: path, Bytes: t.Bytes, Since: t.Since}
		}
		out.Sessions = append(out.Sessions, s)
	}
	return out
}

// xferlogSink hands transfer log lines to the monitor, which owns the log file.
type xferlogSink struct{ ch *privsep.Conn }

func (x xferlogSink) Write(p []byte) (int, error) {
	for line := range strings.SplitAfterSeq(string(p), "\n") {
		if line == "" {
			continue
		}
		line = strings.TrimSuffix(line, "\n")
		if len(line) >= privsep.MaxLogLine {
			line = line[:privsep.MaxLogLine-1] // the monitor refuses longer lines
		}
		line += "\n"
		if err := x.ch.Send(privsep.Message{Kind: privsep.KindXferlog, Line: line}); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

// monitorAuth checks passwords by asking the monitor: the worker cannot read
// /etc/shadow, and must not be able to.
type monitorAuth struct {
	ch     *privsep.Conn
	calls  privsep.Calls[privsep.AuthReply]
	mu     sync.Mutex
	closed error // set when the channel to the monitor failed: no login can succeed after
	root   string
	chroot bool
	gate   *admission.Gate // takes the monitor's bans
	// onSessions answers the monitor's request for the session list, onEnd its
	// request to end a user's sessions.
	onSessions func(id uint64)
	onEnd      func(id uint64, e *privsep.EndSessions)
}

func (a *monitorAuth) lost() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.closed
}

// authTimeout bounds a login check; the monitor queues checks to limit hashing load.
const authTimeout = 30 * time.Second

func (a *monitorAuth) Authenticate(ctx context.Context, user, password string, client netip.Addr) (ftpd.Account, error) {
	acct, err := a.login(ctx, privsep.AuthRequest{User: user, Password: password, Client: client.String(), Protocol: privsep.ProtocolFTP, TLS: ftpd.LoginOverTLS(ctx)})
	if errors.Is(err, errBadLogin) {
		err = ftpd.ErrBadLogin
	}
	return acct, err
}

// errBadLogin is a refused name or password; each protocol answers it its own way.
var errBadLogin = errors.New("login incorrect")

// login asks the monitor to decide a login, as it does for every protocol.
func (a *monitorAuth) login(ctx context.Context, auth privsep.AuthRequest) (ftpd.Account, error) {
	if err := a.lost(); err != nil {
		return ftpd.Account{}, err
	}
	id, reply, done := a.calls.Start()
	defer done()
	req := privsep.Message{Kind: privsep.KindAuth, ID: id, Auth: &auth}
	if err := a.ch.Send(req); err != nil {
		return ftpd.Account{}, err
	}
	ctx, cancel := context.WithTimeout(ctx, authTimeout)
	defer cancel()
	select {
	case r := <-reply:
		if !r.OK {
			if r.Failure == privsep.FailureError {
				return ftpd.Account{}, errors.New("the monitor could not check the password")
			}
			return ftpd.Account{}, errBadLogin
		}
		home := path.Join("/", r.Home)
		if !a.chroot {
			home = path.Join(a.root, home)
		}
		return ftpd.Account{Name: auth.User, Home: home, Permissions: r.Permissions, MaxSessions: r.MaxSessions}, nil
	case <-ctx.Done():
		return ftpd.Account{}, fmt.Errorf("password check: %w", ctx.Err())
	}
}

// sftpAuth puts the monitor's login decision behind the SFTP service, with the
// protocol recorded as "sftp".
type sftpAuth struct{ a *monitorAuth }

func (s sftpAuth) Authenticate(ctx context.Context, user, password string, client netip.Addr) (ftpd.Account, error) {
	return s.login(ctx, privsep.AuthRequest{User: user, Password: password, Client: client.String(), Protocol: privsep.ProtocolSFTP})
}

// AuthenticateKey asks whether key may log in as user; the SSH library checks the
// client's signature.
func (s sftpAuth) AuthenticateKey(ctx context.Context, user string, key ssh.PublicKey, client netip.Addr) (ftpd.Account, error) {
	return s.login(ctx, privsep.AuthRequest{User: user, Client: client.String(), Protocol: privsep.ProtocolSFTP, PublicKey: key.Marshal()})
}

func (s sftpAuth) login(ctx context.Context, req privsep.AuthRequest) (ftpd.Account, error) {
	acct, err := s.a.login(ctx, req)
	if errors.Is(err, errBadLogin) {
		err = sftpd.ErrBadLogin
	}
	return acct, err
}

// readLoop dispatches the monitor's messages until the channel fails.
func (a *monitorAuth) readLoop(onConfig func(*privsep.WorkerConfig), onLost func(error)) {
	for {
		m, err := a.ch.Recv()
		if err != nil {
			a.mu.Lock()
			a.closed = fmt.Errorf("monitor channel: %w", err)
			a.mu.Unlock()
			onLost(err)
			return
		}
		switch m.Kind {
		case privsep.KindConfig:
			onConfig(m.Config)
		case privsep.KindSessions:
			a.onSessions(m.ID)
		case privsep.KindEnd:
			go a.onEnd(m.ID, m.End) // logins wait for this loop
		case privsep.KindAuthReply:
			a.calls.Deliver(m.ID, *m.Reply)
		case privsep.KindBans:
			// Here, before the replies that follow: a client refused for the
			// login that set a ban finds its address banned when it reconnects.
			ban(a.gate, m.Bans)
		case privsep.KindUnban:
			if m.Unban != nil {
				unban(a.gate, m.Unban)
				a.ch.Send(privsep.Message{Kind: privsep.KindUnban, ID: m.ID})
			}
		}
	}
}
