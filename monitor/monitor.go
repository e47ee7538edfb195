package monitor

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coreos/go-systemd/v22/daemon"
	"golang.org/x/crypto/ssh"

	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/internal/hostkeys"
	"github.com/jelastic/jelastic-ftp/internal/idlemem"
	"github.com/jelastic/jelastic-ftp/internal/privsep"
	"github.com/jelastic/jelastic-ftp/internal/selfsigned"
	"github.com/jelastic/jelastic-ftp/users"
	"github.com/jelastic/jelastic-ftp/users/authkeys"
	"github.com/jelastic/jelastic-ftp/users/lastlogin"
)

// ServeOptions locate what the monitor reads; the zero value means the real system.
type ServeOptions struct {
	ConfigPath string
	Etc        string
	Logger     *slog.Logger
	// WorkerCommand starts the worker; the default re-executes this binary
	// (/proc/self/exe) with the hidden "worker" command.
	WorkerCommand []string
	// StateDir keeps the bans across restarts; the default is $STATE_DIRECTORY, and
	// without either bans last as long as the process.
	StateDir string
}

// authConcurrency bounds simultaneous password checks: a yescrypt check takes tens of
// milliseconds and megabytes, and a login storm must not starve the machine.
const authConcurrency = 4

// maxPendingLogins bounds the login requests held at once, delayed or waiting for a
// check; beyond it the monitor stops reading the worker's channel until one ends.
const maxPendingLogins = 1024

// Serve is the privileged monitor: it opens the listener, starts the unprivileged
// worker with it, answers the worker's login requests from the account databases,
// restarts a worker that dies, reloads on SIGHUP and stops on SIGTERM or SIGINT.
func Serve(ctx context.Context, opts ServeOptions) error {
	m, err := newMonitor(opts)
	if err != nil {
		return err
	}
	ls, err := openListeners(m.cfg)
	if err != nil {
		return err
	}
	defer ls.Close()
	// Neither the monitor nor the worker holds what the caller left open; systemd's
	// sockets are taken by now.
	if err := privsep.CloseInherited(); err != nil {
		return err
	}
	m.activated = ls.activated
	m.log.Info("listening", "addr", ls.ftp.Addr().String(), "root", m.cfg.Root, "socket_activation", ls.activated)
	m.started, m.listenAddr = time.Now(), ls.ftp.Addr().String()
	if ls.sftp != nil {
		m.sftpAddr = ls.sftp.Addr().String()
		m.log.Info("listening for SFTP", "addr", m.sftpAddr)
	}
	if ls.implicit != nil {
		m.implicitAddr = ls.implicit.Addr().String()
		m.log.Info("listening for implicit FTPS", "addr", m.implicitAddr)
	}

	ctx, stop := signal.NotifyContext(ctx, syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	stopControl, err := m.serveControl(ctx)
	if err != nil {
		return err
	}
	defer stopControl()
	go m.housekeeping(ctx)
	defer func() { m.saveBans(m.opts.StateDir, time.Now(), true) }()
	return m.superviseWorkers(ctx, ls, hup)
}

type monitor struct {
	opts ServeOptions
	log  *slog.Logger

	mu       sync.Mutex
	cfg      config.Config
	digest   string // config.Digest of the file cfg came from
	wcfg     privsep.WorkerConfig
	throttle *throttle
	sem      chan struct{}
	pending  chan struct{}     // login requests being delayed or checked
	memory   *idlemem.Releaser // after bursts of password checks
	xferlog  *os.File          // nil when no transfer log is configured
	xmu      sync.Mutex

	activated bool // systemd passed the listening socket: idle_exit applies
	sftp      bool // the worker gets an SFTP listener
	hostKeys  hostkeys.Set
	sweepFrom string // where the last worker's sweep of upload leftovers got

	// For `ftpctl status`.
	started    time.Time
	listenAddr string
	sftpAddr   string        // "" without SFTP
	ch         *privsep.Conn // the current worker's channel
	workerPID  int
	workers    atomic.Int32
	queries    statusQueries
	ending     endRequests
	unbanning  unbanRequests

	// banMu orders the bans sent to the worker: a new worker gets the running ones
	// with its settings, and then, on banCh, each one set.
	banMu sync.Mutex
	banCh *privsep.Conn // the worker that has the running bans; nil between workers
	// saveMu makes the saves of bans.json one at a time.
	saveMu sync.Mutex

	implicitAddr string // the implicit FTPS listener's address; "" without one
}

func newMonitor(opts ServeOptions) (*monitor, error) {
	if opts.ConfigPath == "" {
		opts.ConfigPath = config.DefaultPath
	}
	if opts.Etc == "" {
		opts.Etc = "/etc"
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if len(opts.WorkerCommand) == 0 {
		opts.WorkerCommand = []string{"/proc/self/exe", "worker"}
	}
	m := &monitor{
		opts:    opts,
		log:     opts.Logger,
		sem:     make(chan struct{}, authConcurrency),
		pending: make(chan struct{}, maxPendingLogins),
		memory:  idlemem.New(idlemem.Quiet, nil),
	}
	m.opts.StateDir = stateDir(opts.StateDir)
	if err := m.load(); err != nil {
		return nil, err
	}
	if err := m.loadBans(m.opts.StateDir, time.Now()); err != nil {
		m.log.Warn("the bans from before the restart are lost", "err", err)
	}
	return m, nil
}

// load reads the configuration and certificate and prepares the worker's settings;
// on error the previous ones stay in force.
func (m *monitor) load() error {
	cfg, digest, err := config.LoadDigest(m.opts.ConfigPath)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(cfg.Root); err != nil || !fi.IsDir() {
		return fmt.Errorf("the FTP root %s does not exist or is not a folder; create it or set root in %s", cfg.Root, m.opts.ConfigPath)
	}
	w := privsep.WorkerConfig{
		Root:                    cfg.Root,
		UID:                     users.UID,
		Umask:                   uint32(cfg.Umask),
		PassivePortMin:          cfg.PassivePorts.First,
		PassivePortMax:          cfg.PassivePorts.Last,
		RequireTLS:              cfg.TLS.RequireTLS,
		RequireSessionReuse:     cfg.TLS.RequireSessionReuse,
		MinTLSVersion:           cfg.TLS.MinVersion,
		IdleTimeout:             cfg.IdleTimeout,
		MaxSessions:             cfg.Limits.MaxSessions,
		MaxSessionsPerIP:        cfg.Limits.MaxSessionsPerIP,
		LoginAttemptsPerSession: cfg.Limits.LoginAttemptsPerSession,
		FailedLoginDelay:        cfg.Limits.FailedLoginDelay,
		ActiveMode:              cfg.ActiveMode,
		AtomicUploads:           cfg.AtomicUploads,
		MaxCommandLength:        cfg.Limits.MaxCommandLength,
		Chroot:                  os.Geteuid() == 0,

		LoginTimeout:                cfg.LoginTimeout,
		MaxSessionsBeforeLogin:      cfg.Limits.MaxSessionsBeforeLogin,
		MaxSessionsBeforeLoginPerIP: cfg.Limits.MaxSessionsBeforeLoginPerIP,
		MaxSessionsPerUser:          cfg.Limits.MaxSessionsPerUser,
	}
	if w.PublicHost, err = config.ResolvePublicHost(context.Background(), cfg.PublicHost, m.wcfg.PublicHost); err != nil {
		m.log.Error("public_host", "err", err)
	}
	if w.Chroot {
		if w.GID, err = users.GroupGID(m.opts.Etc); err != nil {
			return err
		}
	}
	if w.CertPEM, w.KeyPEM, err = m.loadCertificate(cfg); err != nil {
		return err
	}
	m.mu.Lock()
	sftp := cfg.SFTPListen != "" || m.sftp // a running SFTP listener keeps its keys until a restart
	m.mu.Unlock()
	if sftp {
		if w.HostKeysPEM, err = m.loadHostKeys(); err != nil {
			return err
		}
	}
	var xferlog *os.File
	if cfg.TransferLog != "" {
		// Reopened on every load, so that SIGHUP after logrotate moves to the new file.
		xferlog, err = os.OpenFile(cfg.TransferLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o640)
		if err != nil {
			return fmt.Errorf("open the transfer log: %w", err)
		}
		w.TransferLog = true
	}
	m.xmu.Lock()
	if m.xferlog != nil {
		m.xferlog.Close()
	}
	m.xferlog = xferlog
	m.xmu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cfg, m.wcfg, m.digest = cfg, w, digest
	// One throttle for the monitor's life: a reload (logrotate, a new certificate)
	// changes its limits and keeps its counts and bans.
	if m.throttle == nil {
		m.throttle = newThrottle(m.log, cfg.Limits.BanAfterFailures, cfg.Limits.BanWindow, cfg.Limits.BanDuration)
	} else {
		m.throttle.setLimits(cfg.Limits.BanAfterFailures, cfg.Limits.BanWindow, cfg.Limits.BanDuration)
	}
	return nil
}

// loadCertificate reads the configured pair, making it anew first when it is a
// self-signed one of ours that is about to expire, or makes a self-signed one in
// memory so that FTPS is always offered.
func (m *monitor) loadCertificate(cfg config.Config) (certPEM, keyPEM []byte, err error) {
	host, _ := os.Hostname()
	if !cfg.TLS.Enabled() {
		return selfsigned.New(append(selfsigned.Hosts(host), "localhost", "127.0.0.1", "::1"), selfsigned.Validity)
	}
	if certPEM, err = os.ReadFile(cfg.TLS.Cert); err != nil {
		return nil, nil, fmt.Errorf("read the TLS certificate: %w", err)
	}
	if selfsigned.Due(certPEM, time.Now()) {
		if certPEM, err = selfsigned.WriteNew(cfg.TLS.Cert, cfg.TLS.Key, selfsigned.Hosts(host)); err != nil {
			return nil, nil, err
		}
		m.log.Info("renewed the self-signed certificate", "cert", cfg.TLS.Cert, "for", selfsigned.Validity.String())
	}
	if keyPEM, err = os.ReadFile(cfg.TLS.Key); err != nil {
		return nil, nil, fmt.Errorf("read the TLS key: %w", err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return nil, nil, fmt.Errorf("TLS certificate %s and key %s do not form a pair: %w", cfg.TLS.Cert, cfg.TLS.Key, err)
	}
	return certPEM, keyPEM, nil
}

// loadHostKeys reads the SSH host keys from the state directory, making those that
// are missing; without a state directory they are made once, in memory.
func (m *monitor) loadHostKeys() (hostkeys.Set, error) {
	if m.opts.StateDir == "" {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.hostKeys == nil {
			keys, err := hostkeys.Generate()
			if err != nil {
				return nil, err
			}
			m.log.Warn("no state directory: the SSH host keys are made anew at every start")
			m.hostKeys = keys
		}
		return m.hostKeys, nil
	}
	keys, made, err := hostkeys.Ensure(m.opts.StateDir)
	if err != nil {
		return nil, err
	}
	for _, f := range made {
		m.log.Info("made an SSH host key", "file", f)
	}
	return keys, nil
}

// restartDelay grows while workers keep dying young, so a crash loop does not spin.
func restartDelay(prev time.Duration, lived time.Duration) time.Duration {
	if lived > time.Minute {
		return 100 * time.Millisecond
	}
	return min(max(2*prev, 100*time.Millisecond), 30*time.Second)
}

func (m *monitor) superviseWorkers(ctx context.Context, ls *listeners, hup <-chan os.Signal) error {
	// The worker inherits duplicates; the monitor keeps the listeners for the next one.
	lf, err := ls.ftp.File()
	if err != nil {
		return fmt.Errorf("listener: %w", err)
	}
	defer lf.Close()
	var implicit, sftpFile *os.File
	if ls.implicit != nil {
		if implicit, err = ls.implicit.File(); err != nil {
			return fmt.Errorf("implicit FTPS listener: %w", err)
		}
		defer implicit.Close()
	}
	if ls.sftp != nil {
		if sftpFile, err = ls.sftp.File(); err != nil {
			return fmt.Errorf("SFTP listener: %w", err)
		}
		defer sftpFile.Close()
		m.mu.Lock()
		m.sftp = true
		m.mu.Unlock()
	}
	var delay time.Duration
	for {
		started := time.Now()
		err := m.runWorker(ctx, lf, implicit, sftpFile, hup)
		if ctx.Err() != nil {
			return nil
		}
		if errors.Is(err, errIdleExit) {
			m.log.Info("no session for idle_exit; exiting until systemd starts the service again on the next connection", "idle_exit", m.config().IdleExit)
			return nil
		}
		delay = restartDelay(delay, time.Since(started))
		m.log.Error("worker stopped; starting a new one", "err", err, "in", delay)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(delay):
		}
	}
}

// runWorker starts one worker with the listener lf, and implicit and sftpFile unless
// nil, and serves it until it exits.
func (m *monitor) runWorker(ctx context.Context, lf, implicit, sftpFile *os.File, hup <-chan os.Signal) error {
	ch, child, err := privsep.Pair()
	if err != nil {
		return err
	}
	defer ch.Close()
	cmd := exec.Command(m.opts.WorkerCommand[0], m.opts.WorkerCommand[1:]...)
	cmd.Args[0] = "ftpctl" // what ps shows, rather than /proc/self/exe
	cmd.ExtraFiles = privsep.ExtraFiles(map[int]*os.File{
		privsep.ListenerFD: lf, privsep.ChannelFD: child, privsep.ImplicitTLSListenerFD: implicit, privsep.SFTPListenerFD: sftpFile,
	})
	cmd.Env = []string{privsep.EnvMarker + "=1", "PATH=/usr/sbin:/usr/bin:/sbin:/bin"}
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := startWithTimerSlack(cmd, workerTimerSlack); err != nil {
		child.Close()
		return fmt.Errorf("start worker: %w", err)
	}
	child.Close()
	m.log.Info("worker started", "pid", cmd.Process.Pid)
	m.workers.Add(1)
	m.mu.Lock()
	m.ch, m.workerPID = ch, cmd.Process.Pid
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.ch, m.workerPID = nil, 0
		m.mu.Unlock()
		m.banMu.Lock()
		m.banCh = nil
		m.banMu.Unlock()
	}()
	m.mu.Lock()
	w := m.wcfg
	w.SweepFrom, w.SFTP = m.sweepFrom, m.sftp
	w.ImplicitTLS = implicit != nil
	m.mu.Unlock()
	if err := m.sendStart(ch, w); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return err
	}

	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	go m.serveChannel(ch)
	notify(daemon.SdNotifyReady)
	var watchdog, statusTick <-chan time.Time
	if every, err := daemon.SdWatchdogEnabled(false); err == nil && every > 0 {
		t := time.NewTicker(every / 2)
		defer t.Stop()
		watchdog = t.C
	}
	if os.Getenv("NOTIFY_SOCKET") != "" {
		t := time.NewTicker(statusEvery)
		defer t.Stop()
		statusTick = t.C
		go m.notifyStatus(ctx, ch)
	}
	// Only a socket-activated service may exit when idle: nothing would start
	// another one. (Without idle_exit it looks once a minute, for a SIGHUP that
	// sets one.)
	var idle idleWatch
	var idleCheckC <-chan time.Time
	idleCheck := time.NewTimer(idleCheckEvery(m.config().IdleExit))
	defer idleCheck.Stop()
	if m.activated {
		idleCheckC = idleCheck.C
	}
	stopWorker := func() {
		notify(daemon.SdNotifyStopping)
		cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(privsep.ShutdownGrace + workerStopMargin):
			cmd.Process.Kill()
			<-exited
		}
	}
	for {
		select {
		case err := <-exited:
			return fmt.Errorf("worker exited: %v", err)
		case <-watchdog:
			// Pinged from the supervising loop itself, so a wedged monitor is restarted.
			notify(daemon.SdNotifyWatchdog)
		case <-statusTick:
			go m.notifyStatus(ctx, ch)
		case <-hup:
			notify(daemon.SdNotifyReloading + "\n" + daemon.SdNotifyMonotonicUsec())
			m.reload(ch)
			notify(daemon.SdNotifyReady)
		case now := <-idleCheckC:
			limit := m.config().IdleExit
			idleCheck.Reset(idleCheckEvery(limit))
			if limit == 0 {
				continue
			}
			// Bounded, so that a wedged worker cannot stall this loop (and
			// with it the watchdog pings that get it restarted).
			askCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
			l, err := m.queries.ask(askCtx, ch)
			cancel()
			if err == nil && idle.observe(l.Count, now, limit) {
				stopWorker()
				return errIdleExit
			}
		case <-ctx.Done():
			stopWorker()
			return ctx.Err()
		}
	}
}

// sendStart sends a new worker its settings and the running bans, which it reads
// before it serves, and makes it the worker that gets each ban set from now on.
func (m *monitor) sendStart(ch *privsep.Conn, w privsep.WorkerConfig) error {
	m.banMu.Lock()
	defer m.banMu.Unlock()
	m.mu.Lock()
	th := m.throttle
	m.mu.Unlock()
	batches := slices.Collect(slices.Chunk(th.running(time.Now()), privsep.MaxBansPerMessage))
	w.BanBatches = len(batches)
	if err := ch.Send(privsep.Message{Kind: privsep.KindConfig, Config: &w}); err != nil {
		return err
	}
	for _, b := range batches {
		if err := ch.Send(privsep.Message{Kind: privsep.KindBans, Bans: b}); err != nil {
			return fmt.Errorf("send the bans to the worker: %w", err)
		}
	}
	m.banCh = ch
	return nil
}

// sendBan hands the worker the ban just set on client's source, so that it refuses
// the source at accept; called before the reply to the login that set it.
func (m *monitor) sendBan(th *throttle, client netip.Addr) {
	b, ok := th.banOf(client)
	if !ok {
		return
	}
	m.banMu.Lock()
	defer m.banMu.Unlock()
	if m.banCh == nil {
		return // the next worker gets it with the running ones
	}
	if err := m.banCh.Send(privsep.Message{Kind: privsep.KindBans, Bans: []privsep.Ban{b}}); err != nil {
		m.log.Error("cannot send a ban to the worker; it refuses the client at login only", "client", client.String(), "err", err)
	}
}

// banCheckEvery is how often bans that ran out are ended (and logged as such) when
// no login from their source asks first, and changed bans are saved.
const banCheckEvery = 10 * time.Second

// certCheckEvery is how often a service that runs for months looks whether its
// self-signed certificate is due; a reload, which renews it, follows when it is.
const certCheckEvery = 12 * time.Hour

// housekeeping ends bans that ran out and renews the certificate in time.
func (m *monitor) housekeeping(ctx context.Context) {
	bans, certs := time.NewTicker(banCheckEvery), time.NewTicker(certCheckEvery)
	defer bans.Stop()
	defer certs.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-bans.C:
			m.mu.Lock()
			th := m.throttle
			m.mu.Unlock()
			th.expire(now)
			m.saveBans(m.opts.StateDir, now, false)
		case now := <-certs.C:
			if cfg := m.config(); cfg.TLS.Enabled() {
				if certPEM, err := os.ReadFile(cfg.TLS.Cert); err == nil && selfsigned.Due(certPEM, now) {
					syscall.Kill(os.Getpid(), syscall.SIGHUP)
				}
			}
		}
	}
}

// config returns the settings in force (SIGHUP may replace them).
func (m *monitor) config() config.Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg
}

// workerStopMargin is how much longer than the shutdown grace the monitor waits for a
// stopping worker before it kills it.
const workerStopMargin = 5 * time.Second

// statusEvery is how often `systemctl status` learns the number of sessions.
const statusEvery = 15 * time.Second

// notifyStatus puts the session count into `systemctl status`.
func (m *monitor) notifyStatus(ctx context.Context, ch *privsep.Conn) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	l, err := m.queries.ask(ctx, ch)
	if err != nil {
		return
	}
	transfers := 0
	for _, s := range l.Sessions {
		if s.Transfer != nil {
			transfers++
		}
	}
	notify(fmt.Sprintf("STATUS=%d sessions, %d transfers", l.Count, transfers))
}

// notify tells systemd the service's state under Type=notify; elsewhere it does nothing.
func notify(state string) {
	daemon.SdNotify(false, state)
}

// reload re-reads the configuration and certificate for new sessions.
func (m *monitor) reload(ch *privsep.Conn) {
	m.mu.Lock()
	oldListen, oldImplicit, oldSFTP := m.cfg.Listen, m.cfg.ImplicitTLS, m.cfg.SFTPListen
	m.mu.Unlock()
	if err := m.load(); err != nil {
		m.log.Error("reload failed; keeping the running configuration", "err", err)
		return
	}
	m.mu.Lock()
	w, listen, implicit, sftpListen := m.wcfg, m.cfg.Listen, m.cfg.ImplicitTLS, m.cfg.SFTPListen
	w.SFTP = m.sftp
	m.mu.Unlock()
	if listen != oldListen {
		m.log.Warn("the listen address changed; it takes effect after a restart", "listen", listen)
	}
	if implicit != oldImplicit {
		m.log.Warn("implicit_tls_listen changed; it takes effect after a restart", "implicit_tls_listen", implicit)
	}
	if sftpListen != oldSFTP {
		m.log.Warn("the SFTP listen address changed; it takes effect after a restart", "sftp_listen", sftpListen)
	}
	if err := ch.Send(privsep.Message{Kind: privsep.KindConfig, Config: &w}); err != nil {
		m.log.Error("reload: send settings to the worker", "err", err)
		return
	}
	m.log.Info("configuration reloaded")
}

// serveChannel answers the worker's requests until the channel closes. A malformed
// message means the worker is not behaving: the channel is closed, which stops it.
func (m *monitor) serveChannel(ch *privsep.Conn) {
	for {
		msg, err := ch.Recv()
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				m.log.Debug("privsep channel closed", "err", err)
			}
			ch.Close()
			return
		}
		switch msg.Kind {
		case privsep.KindXferlog:
			m.writeXferlog(msg.Line)
			continue
		case privsep.KindSessions:
			m.queries.answer(msg.ID, msg.Sessions)
			continue
		case privsep.KindEnd:
			m.ending.answer(msg.ID, msg.End)
			continue
		case privsep.KindUnban:
			if msg.Unban == nil { // the worker lifted the bans asked
				m.unbanning.calls.Deliver(msg.ID, struct{}{})
				continue
			}
		case privsep.KindSweep:
			m.mu.Lock()
			m.sweepFrom = msg.Sweep.Cursor
			m.mu.Unlock()
			continue
		}
		if msg.Kind != privsep.KindAuth {
			m.log.Error("unexpected message from the worker; closing its channel", "kind", msg.Kind)
			ch.Close()
			return
		}
		m.pending <- struct{}{}
		go func() {
			defer func() { <-m.pending }()
			m.delayLogin(msg.Auth)
			m.sem <- struct{}{}
			defer func() { <-m.sem }()
			reply := m.checkLogin(msg.Auth)
			ch.Send(privsep.Message{Kind: privsep.KindAuthReply, ID: msg.ID, Reply: &reply})
			m.memory.Done()
		}()
	}
}

func (m *monitor) writeXferlog(line string) {
	m.xmu.Lock()
	defer m.xmu.Unlock()
	if m.xferlog == nil {
		return
	}
	if _, err := m.xferlog.WriteString(line); err != nil {
		m.log.Error("write the transfer log", "err", err)
	}
}

// delayLogin holds a login to an account under attack back before its check,
// without taking one of the checks' slots meanwhile.
func (m *monitor) delayLogin(req *privsep.AuthRequest) {
	m.mu.Lock()
	th := m.throttle
	m.mu.Unlock()
	if d := th.accountDelay(req.User, time.Now()); d > 0 {
		time.Sleep(d)
	}
}

// admitKey decides an SFTP login by public key: the account may log in (as for a
// password, but without one), and the key is among its authorized keys, from an
// address its from= allows. The SSH library in the worker checks the client's
// signature; a worker that lied about it would gain nothing it does not have, as
// every account shares its UID and chroot.
func (m *monitor) admitKey(req *privsep.AuthRequest, client netip.Addr, now time.Time) (users.Account, error) {
	pub, err := ssh.ParsePublicKey(req.PublicKey)
	if err != nil {
		return users.Account{}, fmt.Errorf("%w: malformed public key", users.ErrBadLogin)
	}
	gate := config.UsersBeside(m.opts.ConfigPath)
	acc, err := users.Admit(m.opts.Etc, req.User, client, gate, now)
	if err != nil {
		return acc, err
	}
	store, err := config.LoadUsers(string(gate))
	if err != nil {
		return users.Account{}, err
	}
	k, ok := authkeys.Find(store[acc.Name].AuthorizedKeys, pub)
	switch {
	case !ok:
		return users.Account{}, fmt.Errorf("%w: the key %s is not the account's", users.ErrBadLogin, ssh.FingerprintSHA256(pub))
	case !k.Admits(client):
		return users.Account{}, fmt.Errorf("%w: the key %s may not log in from %s (its from=)", users.ErrBadLogin, k.Fingerprint(), client)
	}
	return acc, nil
}

// checkLogin decides a login. Only this process can read /etc/shadow.
func (m *monitor) checkLogin(req *privsep.AuthRequest) privsep.AuthReply {
	refused := privsep.AuthReply{Failure: privsep.FailureBadLogin}
	client, err := netip.ParseAddr(req.Client)
	if err != nil {
		m.log.Error("worker sent a malformed client address", "client", req.Client)
		return privsep.AuthReply{Failure: privsep.FailureError}
	}
	client = client.Unmap()
	m.mu.Lock()
	cfg, th := m.cfg, m.throttle
	m.mu.Unlock()
	now := time.Now()
	if th.banned(client, now) {
		m.log.Warn("login refused: client banned", "client", client.String(), "user", req.User, "protocol", req.Protocol)
		return privsep.AuthReply{Failure: privsep.FailureBanned}
	}
	var acc users.Account
	if req.PublicKey != nil {
		acc, err = m.admitKey(req, client, now)
	} else {
		acc, err = users.Authenticate(m.opts.Etc, req.User, req.Password, client, config.UsersBeside(m.opts.ConfigPath), now)
	}
	if err != nil {
		if !errors.Is(err, users.ErrBadLogin) {
			m.log.Error("cannot check passwords", "err", err)
			return privsep.AuthReply{Failure: privsep.FailureError}
		}
		m.log.Info("login refused", "client", client.String(), "user", req.User, "protocol", req.Protocol, "reason", strings.TrimPrefix(err.Error(), users.ErrBadLogin.Error()+": "))
		// A client offers every key it has, one after another; only a wrong
		// password is a guess.
		if req.PublicKey == nil && th.fail(client, req.User, now) {
			m.sendBan(th, client)
		}
		return refused
	}
	if !users.Within(acc.Home, cfg.Root) {
		m.log.Warn("login refused: home outside the FTP root", "client", client.String(), "user", acc.Name, "home", acc.Home, "root", cfg.Root)
		return refused
	}
	rel, err := filepath.Rel(cfg.Root, acc.Home)
	if err != nil {
		return refused
	}
	store, err := config.LoadUsers(filepath.Join(filepath.Dir(m.opts.ConfigPath), filepath.Base(config.DefaultUsersPath)))
	if err != nil {
		m.log.Error("cannot read per-user options", "err", err)
		return privsep.AuthReply{Failure: privsep.FailureError}
	}
	protocol := string(req.Protocol)
	if req.TLS && req.Protocol == privsep.ProtocolFTP {
		protocol = "ftps"
	}
	lastlogin.Record(acc.Name, client, protocol, now)
	return privsep.AuthReply{OK: true, Home: rel, Permissions: store[acc.Name].Permissions, MaxSessions: store[acc.Name].MaxSessions}
}
