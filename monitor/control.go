package monitor

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"time"

	"github.com/jelastic/jelastic-ftp/internal/certfp"
	"github.com/jelastic/jelastic-ftp/internal/hostkeys"
	"github.com/jelastic/jelastic-ftp/internal/privsep"
	"github.com/jelastic/jelastic-ftp/users"
)

// RunDirEnv overrides RunDir, for tests and unusual layouts.
const RunDirEnv = "JELASTIC_FTP_RUN_DIR"

// RunDir holds the running service's control socket.
func RunDir() string {
	if d := os.Getenv(RunDirEnv); d != "" {
		return d
	}
	return "/run/jelastic-ftp"
}

// ControlSocket is where `ftpctl status` asks the running service about itself.
func ControlSocket() string { return filepath.Join(RunDir(), "control.sock") }

// ServiceStatus is what the running service reports about itself.
type ServiceStatus struct {
	PID          int             `json:"pid"`
	Started      time.Time       `json:"started"`
	Listen       string          `json:"listen"`
	ImplicitTLS  string          `json:"implicit_tls_listen,omitempty"` // the implicit FTPS listener; "" = none
	Root         string          `json:"root"`
	PassivePorts string          `json:"passive_ports"`
	PublicHost   string          `json:"public_host"`
	PublicAddr   string          `json:"public_address"` // what PASV announces; "" = the address the client connected to
	ConfigSHA256 string          `json:"config_sha256"`  // config.Digest of the settings file in force
	Certificate  CertificateInfo `json:"certificate"`
	// SFTPListen is the SFTP listener's address, "" without SFTP; the fingerprints
	// describe its host keys as `ssh-keygen -l` does.
	SFTPListen              string               `json:"sftp_listen,omitempty"`
	SFTPHostKeyFingerprints []string             `json:"sftp_host_key_fingerprints,omitempty"`
	WorkerPID               int                  `json:"worker_pid"`
	Workers                 int                  `json:"workers_started"`
	Sessions                *privsep.SessionList `json:"sessions"`
	// PasswordChecks counts the hashes computed to decide logins since the start.
	PasswordChecks uint64 `json:"password_checks"`
	// Bans are the running bans, the one ending last first.
	Bans []privsep.Ban `json:"bans"`
}

// CertificateInfo summarises the certificate the service presents.
type CertificateInfo struct {
	Subject  string    `json:"subject"`
	Issuer   string    `json:"issuer"`
	NotAfter time.Time `json:"not_after"`
	SHA256   string    `json:"sha256"` // Fingerprint of the DER certificate, as clients show it
	DNSNames []string  `json:"dns_names,omitempty"`
	IPs      []string  `json:"ip_addresses,omitempty"`
}

// certificateInfo reads the first certificate of a PEM chain.
func certificateInfo(certPEM []byte) (CertificateInfo, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return CertificateInfo{}, errors.New("no PEM certificate")
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return CertificateInfo{}, err
	}
	info := CertificateInfo{Subject: c.Subject.String(), Issuer: c.Issuer.String(), NotAfter: c.NotAfter, SHA256: certfp.Of(c.Raw), DNSNames: c.DNSNames}
	for _, ip := range c.IPAddresses {
		info.IPs = append(info.IPs, ip.String())
	}
	return info, nil
}

// statusQueries tracks the monitor's requests to the worker for its sessions.
type statusQueries struct {
	calls privsep.Calls[*privsep.SessionList]
}

func (q *statusQueries) ask(ctx context.Context, ch *privsep.Conn) (*privsep.SessionList, error) {
	id, reply, done := q.calls.Start()
	defer done()
	if err := ch.Send(privsep.Message{Kind: privsep.KindSessions, ID: id}); err != nil {
		return nil, err
	}
	select {
	case l := <-reply:
		return l, nil
	case <-ctx.Done():
		return nil, fmt.Errorf("the worker did not list its sessions: %w", ctx.Err())
	}
}

// answer delivers a worker's reply; an answer nobody asked for is dropped.
func (q *statusQueries) answer(id uint64, l *privsep.SessionList) {
	if l != nil {
		q.calls.Deliver(id, l)
	}
}

// serveControl answers status requests on a unix socket that only root (or the
// service's own user) may use, checked with SO_PEERCRED besides the file mode.
func (m *monitor) serveControl(ctx context.Context) (stop func(), err error) {
	path := ControlSocket()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	os.Remove(path) // a socket left by a killed service
	old := syscall.Umask(0o177)
	l, err := net.Listen("unix", path)
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go m.answerControl(ctx, c.(*net.UnixConn))
		}
	}()
	return func() { l.Close(); os.Remove(path) }, nil
}

// ControlRequest is one request on the control socket: Op says which, and
// exactly the field of that op is set.
type ControlRequest struct {
	Op    string               `json:"op"`
	End   *privsep.EndSessions `json:"end,omitempty"`
	Unban *privsep.Unban       `json:"unban,omitempty"`
}

// The ops of the control socket.
const (
	OpStatus = "status"       // answered with ServiceStatus
	OpEnd    = "end-sessions" // answered with EndReply
	OpUnban  = "unban"        // answered with UnbanReply
)

// wellFormed reports whether r sets exactly the field of its op, and a valid one.
func (r ControlRequest) wellFormed() bool {
	switch r.Op {
	case OpStatus:
		return r.End == nil && r.Unban == nil
	case OpEnd:
		return r.End != nil && r.End.Valid() && r.Unban == nil
	case OpUnban:
		return r.Unban != nil && r.Unban.Valid() && r.End == nil
	}
	return false
}

// maxControlRequest bounds a request; an EndSessions or an Unban fits a privsep packet.
const maxControlRequest = privsep.MaxMessage

// EndReply answers OpEnd.
type EndReply struct {
	Ended int    `json:"ended"`
	Error string `json:"error,omitempty"`
}

// endWait bounds how long the monitor waits for the worker to end sessions (access
// taken away ends them within 2 seconds) or to lift bans.
const endWait = 1500 * time.Millisecond

func (m *monitor) answerControl(ctx context.Context, c *net.UnixConn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if !peerAllowed(c) {
		return
	}
	var req ControlRequest
	dec := json.NewDecoder(io.LimitReader(c, maxControlRequest))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		m.log.Warn("control socket: unreadable request", "err", err)
		return
	}
	if !req.wellFormed() {
		m.log.Warn("control socket: malformed request", "op", req.Op)
		return
	}
	switch req.Op {
	case OpStatus:
		json.NewEncoder(c).Encode(m.status(ctx))
	case OpEnd:
		n, err := m.endSessions(ctx, *req.End)
		reply := EndReply{Ended: n}
		if err != nil {
			reply.Error = err.Error()
			m.log.Error("could not end sessions", "user", req.End.User, "err", err)
		}
		json.NewEncoder(c).Encode(reply)
	case OpUnban:
		reply, err := m.unban(ctx, *req.Unban)
		if err != nil {
			reply.Error = err.Error()
			m.log.Error("could not lift bans in the worker", "err", err)
		}
		json.NewEncoder(c).Encode(reply)
	}
}

// UnbanReply answers OpUnban: the sources whose bans were lifted and, of those named,
// the ones not banned. Error says the worker may still refuse the lifted sources at
// accept until their bans would have ended; the monitor lifted them all the same.
type UnbanReply struct {
	Lifted    []netip.Prefix `json:"lifted"`
	NotBanned []netip.Prefix `json:"not_banned"`
	Error     string         `json:"error,omitempty"`
}

// unban lifts bans as an operator asked: in the throttle, in bans.json, and in the
// worker, which confirms before the answer, so that a client of a lifted source is
// admitted once ftpctl returns. Holding banMu orders it with the bans sent to the
// worker: a ban set meanwhile reaches the worker after the unban, or not at all.
func (m *monitor) unban(ctx context.Context, u privsep.Unban) (UnbanReply, error) {
	now := time.Now()
	m.mu.Lock()
	th := m.throttle
	m.mu.Unlock()
	id, reply, done := m.unbanning.calls.Start()
	defer done()
	m.banMu.Lock()
	var r UnbanReply
	r.Lifted, r.NotBanned = th.unban(u, now)
	ch := m.banCh
	var err error
	if ch != nil {
		// The sources named, banned or not: the worker's table may hold a ban the
		// monitor's dropped when full.
		if err = ch.Send(privsep.Message{Kind: privsep.KindUnban, ID: id, Unban: &u}); err != nil {
			err = fmt.Errorf("the bans are lifted but the worker was not told, so it refuses those sources at accept until they would have ended: %w", err)
		}
	}
	m.banMu.Unlock()
	m.saveBans(m.opts.StateDir, now, false)
	if ch == nil || err != nil {
		return r, err // with no worker, the next one gets the running bans
	}
	ctx, cancel := context.WithTimeout(ctx, endWait)
	defer cancel()
	select {
	case <-reply:
		return r, nil
	case <-ctx.Done():
		return r, fmt.Errorf("the worker did not confirm lifting the bans: %w", ctx.Err())
	}
}

// endRequests tracks the monitor's requests to the worker to end sessions.
type endRequests struct {
	calls privsep.Calls[int]
}

// answer delivers a worker's count; an answer nobody asked for is dropped.
func (q *endRequests) answer(id uint64, e *privsep.EndSessions) {
	q.calls.Deliver(id, e.Ended)
}

// unbanRequests tracks the monitor's requests to the worker to lift bans.
type unbanRequests struct {
	calls privsep.Calls[struct{}]
}

// endSessions has the worker end a user's sessions and returns how many ended; with no
// worker running there are none.
func (m *monitor) endSessions(ctx context.Context, e privsep.EndSessions) (int, error) {
	m.mu.Lock()
	ch := m.ch
	m.mu.Unlock()
	if ch == nil {
		return 0, nil
	}
	e.Ended = 0
	id, reply, done := m.ending.calls.Start()
	defer done()
	if err := ch.Send(privsep.Message{Kind: privsep.KindEnd, ID: id, End: &e}); err != nil {
		return 0, err
	}
	ctx, cancel := context.WithTimeout(ctx, endWait)
	defer cancel()
	select {
	case n := <-reply:
		m.log.Info("sessions ended: the account's access was taken away", "user", e.User, "reason", e.Reason, "sessions", n)
		return n, nil
	case <-ctx.Done():
		return 0, fmt.Errorf("the worker did not confirm ending %s's sessions: %w", e.User, ctx.Err())
	}
}

func peerAllowed(c *net.UnixConn) bool {
	raw, err := c.SyscallConn()
	if err != nil {
		return false
	}
	var cred *syscall.Ucred
	raw.Control(func(fd uintptr) {
		cred, err = syscall.GetsockoptUcred(int(fd), syscall.SOL_SOCKET, syscall.SO_PEERCRED)
	})
	return err == nil && (cred.Uid == 0 || int(cred.Uid) == os.Geteuid())
}

func (m *monitor) status(ctx context.Context) ServiceStatus {
	m.mu.Lock()
	cfg, w, digest := m.cfg, m.wcfg, m.digest
	ch, workerPID, th := m.ch, m.workerPID, m.throttle
	m.mu.Unlock()
	st := ServiceStatus{
		PID: os.Getpid(), Started: m.started, Listen: m.listenAddr, ImplicitTLS: m.implicitAddr, Root: cfg.Root,
		PassivePorts: cfg.PassivePorts.String(), PublicHost: cfg.PublicHost,
		PublicAddr: w.PublicHost, ConfigSHA256: digest,
		WorkerPID: workerPID, Workers: int(m.workers.Load()),
		PasswordChecks: users.PasswordChecks(),
	}
	if th != nil {
		// Ending last first: the one an operator who just locked themselves out
		// looks for tops the list.
		st.Bans = th.running(time.Now())
		slices.SortStableFunc(st.Bans, func(a, b privsep.Ban) int { return b.Until.Compare(a.Until) })
	}
	st.Certificate, _ = certificateInfo(w.CertPEM)
	if st.SFTPListen = m.sftpAddr; st.SFTPListen != "" {
		st.SFTPHostKeyFingerprints, _ = hostkeys.Set(w.HostKeysPEM).Fingerprints()
	}
	if ch != nil {
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		if l, err := m.queries.ask(ctx, ch); err == nil {
			st.Sessions = l
		}
	}
	return st
}

// QueryStatus asks the running service; an error means it does not answer.
func QueryStatus(timeout time.Duration) (ServiceStatus, error) {
	return QueryStatusAt(ControlSocket(), timeout)
}

// QueryStatusAt asks the service whose control socket is socket.
func QueryStatusAt(socket string, timeout time.Duration) (ServiceStatus, error) {
	var st ServiceStatus
	c, err := net.DialTimeout("unix", socket, timeout)
	if err != nil {
		return st, fmt.Errorf("the service does not answer on %s: %w", socket, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if err := json.NewEncoder(c).Encode(ControlRequest{Op: OpStatus}); err != nil {
		return st, fmt.Errorf("ask the service for its status: %w", err)
	}
	if err := json.NewDecoder(c).Decode(&st); err != nil {
		return st, fmt.Errorf("read the service's status: %w", err)
	}
	return st, nil
}

// ErrNotRunning is EndSessionsAt's and UnbanAt's error when no service answers: there
// are no sessions to end, and no ban can be lifted.
var ErrNotRunning = errors.New("the service is not running")

// EndSessionsAt asks the service whose control socket is socket to end sessions as e
// says, and returns how many it ended.
func EndSessionsAt(socket string, e privsep.EndSessions, timeout time.Duration) (int, error) {
	if !e.Valid() {
		return 0, fmt.Errorf("end sessions: malformed request for user %q", e.User)
	}
	var reply EndReply
	if err := ask(socket, ControlRequest{Op: OpEnd, End: &e}, &reply, timeout); err != nil {
		return 0, fmt.Errorf("ask the service to end %s's sessions: %w", e.User, err)
	}
	if reply.Error != "" {
		return reply.Ended, errors.New(reply.Error)
	}
	return reply.Ended, nil
}

// UnbanAt asks the service whose control socket is socket to lift the bans u names.
// An error with a reply means the service lifted them but its worker may refuse the
// sources at accept until the bans would have ended.
func UnbanAt(socket string, u privsep.Unban, timeout time.Duration) (UnbanReply, error) {
	var reply UnbanReply
	if !u.Valid() {
		return reply, errors.New("unban: malformed request")
	}
	if err := ask(socket, ControlRequest{Op: OpUnban, Unban: &u}, &reply, timeout); err != nil {
		return reply, fmt.Errorf("ask the service to lift bans: %w", err)
	}
	if reply.Error != "" {
		return reply, errors.New(reply.Error)
	}
	return reply, nil
}

// ask sends req to the service whose control socket is socket and decodes its answer
// into reply; an error wrapping ErrNotRunning means none answers.
func ask(socket string, req ControlRequest, reply any, timeout time.Duration) error {
	c, err := net.DialTimeout("unix", socket, timeout)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrNotRunning, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	if err := json.NewEncoder(c).Encode(req); err != nil {
		return err
	}
	if err := json.NewDecoder(c).Decode(reply); err != nil {
		return fmt.Errorf("no answer: %w", err)
	}
	return nil
}
