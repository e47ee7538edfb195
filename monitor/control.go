package monitor

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
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

func (m *monitor) answerControl(ctx context.Context, c *net.UnixConn) {
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if !peerAllowed(c) {
		return
	}
	st := m.status(ctx)
	json.NewEncoder(c).Encode(st)
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
	ch, workerPID := m.ch, m.workerPID
	m.mu.Unlock()
	st := ServiceStatus{
		PID: os.Getpid(), Started: m.started, Listen: m.listenAddr, Root: cfg.Root,
		PassivePorts: cfg.PassivePorts.String(), PublicHost: cfg.PublicHost,
		PublicAddr: w.PublicHost, ConfigSHA256: digest,
		WorkerPID: workerPID, Workers: int(m.workers.Load()),
		PasswordChecks: users.PasswordChecks(),
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
	if err := json.NewDecoder(c).Decode(&st); err != nil {
		return st, fmt.Errorf("read the service's status: %w", err)
	}
	return st, nil
}
