package ftpd

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"time"

	agentconfig "github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/internal/admission"
)

// maxCommandLength is the longest command line a session takes.
const maxCommandLength = agentconfig.MaxCommandLength

// Settings configure a Server. Start from DefaultSettings: in a zero
// Settings the booleans RequireSessionReuse and AtomicUploads are false,
// which is not the recommended setup. Zero numeric fields take the value
// DefaultSettings gives them.
type Settings struct {
	// PassivePortMin and PassivePortMax bound the ports offered for passive
	// data connections (both inclusive). Both zero lets the kernel choose.
	PassivePortMin, PassivePortMax int
	// PublicHost is the IPv4 address announced in PASV replies, for a
	// server behind NAT. Empty announces the local address of the control
	// connection. EPSV replies carry no address.
	PublicHost string

	// TLS enables explicit FTPS (AUTH TLS). It needs Certificates or
	// GetCertificate; GetCertificate lets certificates change without a
	// Reload. MinVersion is raised to TLS 1.2. GetConfigForClient,
	// WrapSession and UnwrapSession must be unset: the server's session
	// tickets carry the client they were issued to (tls.go).
	TLS *tls.Config
	// RequireTLS refuses USER before AUTH TLS and data connections without
	// PROT P.
	RequireTLS bool
	// RequireSessionReuse refuses a TLS data connection that does not
	// resume a TLS session this server gave a control connection from the
	// same client address logged in as the same user, as vsftpd's
	// require_ssl_reuse does for one control connection. Turn it off only
	// for clients that cannot reuse sessions.
	RequireSessionReuse bool

	// IdleTimeout closes a control connection that sends no command for
	// this long while no transfer runs. It is rounded up to whole seconds.
	IdleTimeout time.Duration
	// LoginTimeout closes a session that has not logged in this long after
	// it connected; commands before login do not extend it.
	LoginTimeout time.Duration
	// MaxSessions caps the sessions of the whole server, MaxSessionsPerIP
	// those from one client address, MaxSessionsBeforeLogin and
	// MaxSessionsBeforeLoginPerIP those not logged in yet (each at most
	// MaxSessions). Connections beyond get 421. MaxSessionsPerUser caps the
	// sessions logged in as one user: a login beyond gets 421. They make
	// the server's own admission gate; with Gate set they are not used.
	MaxSessions                 int
	MaxSessionsPerIP            int
	MaxSessionsBeforeLogin      int
	MaxSessionsBeforeLoginPerIP int
	MaxSessionsPerUser          int
	// Gate, when set, admits the server's connections together with other
	// servers' (the worker's SFTP server), with its own limits and bans; a
	// banned address gets 421 at once. It is fixed at New: Reload does not
	// change it.
	Gate *admission.Gate
	// LoginAttemptsPerSession is how many wrong passwords a session may send
	// before it is closed. Banning an address belongs to the Authenticator.
	LoginAttemptsPerSession int
	// FailedLoginDelay is waited before answering a wrong password.
	// Negative means no delay.
	FailedLoginDelay time.Duration
	// ActiveMode allows PORT and EPRT, only towards the client's own
	// address and to ports from 1024 up.
	ActiveMode bool
	// AtomicUploads makes a STOR write beside its target and publish the
	// file under the target's name only once complete (rootfs.Options).
	AtomicUploads bool
	// MaxCommandLength is the longest command line accepted, CRLF excluded;
	// a longer one closes the connection. At most 4094.
	MaxCommandLength int

	// Logger receives one line per login, failed login and transfer. Nil
	// uses slog.Default().
	Logger *slog.Logger
	// TransferLog, if not nil, receives one xferlog(5) line per transfer.
	// Writes to it are serialised.
	TransferLog io.Writer
	// Welcome is the greeting sent with the 220 reply; it may span lines.
	Welcome string
}

// DefaultSettings returns the recommended settings, those of ftpd.toml's
// defaults (agent/config): no FTPS until TLS is set, passive mode only,
// session reuse required, atomic uploads.
func DefaultSettings() Settings {
	d := agentconfig.Default()
	return Settings{
		RequireSessionReuse:         d.TLS.RequireSessionReuse,
		IdleTimeout:                 d.IdleTimeout,
		LoginTimeout:                d.LoginTimeout,
		MaxSessions:                 d.Limits.MaxSessions,
		MaxSessionsPerIP:            d.Limits.MaxSessionsPerIP,
		MaxSessionsBeforeLogin:      d.Limits.MaxSessionsBeforeLogin,
		MaxSessionsBeforeLoginPerIP: d.Limits.MaxSessionsBeforeLoginPerIP,
		MaxSessionsPerUser:          d.Limits.MaxSessionsPerUser,
		LoginAttemptsPerSession:     d.Limits.LoginAttemptsPerSession,
		FailedLoginDelay:            d.Limits.FailedLoginDelay,
		AtomicUploads:               d.AtomicUploads,
		MaxCommandLength:            d.Limits.MaxCommandLength,
		Welcome:                     "FTP server ready.",
	}
}

// config is a validated Settings with its defaults applied, shared
// read-only by every session started while it is current.
type config struct {
	Settings
	idleSeconds int
	logger      *slog.Logger
	tls         *tls.Config // base for the sessions' configs; nil without FTPS
}

func newConfig(s Settings) (*config, error) {
	def := DefaultSettings()
	orDefault(&s.IdleTimeout, def.IdleTimeout)
	orDefault(&s.LoginTimeout, def.LoginTimeout)
	orDefault(&s.FailedLoginDelay, def.FailedLoginDelay)
	for _, limit := range []struct {
		v   *int
		def int
	}{
		{&s.MaxSessions, def.MaxSessions},
		{&s.MaxSessionsPerIP, def.MaxSessionsPerIP},
		{&s.MaxSessionsBeforeLogin, def.MaxSessionsBeforeLogin},
		{&s.MaxSessionsBeforeLoginPerIP, def.MaxSessionsBeforeLoginPerIP},
		{&s.MaxSessionsPerUser, def.MaxSessionsPerUser},
		{&s.LoginAttemptsPerSession, def.LoginAttemptsPerSession},
		{&s.MaxCommandLength, def.MaxCommandLength},
	} {
		orDefault(limit.v, limit.def)
	}
	orDefault(&s.Welcome, def.Welcome)
	if s.FailedLoginDelay < 0 {
		s.FailedLoginDelay = 0
	}

	var errs []error
	if s.IdleTimeout < 0 {
		errs = append(errs, fmt.Errorf("idle timeout %v is negative", s.IdleTimeout))
	}
	if s.LoginTimeout < 0 {
		errs = append(errs, fmt.Errorf("login timeout %v is negative", s.LoginTimeout))
	}
	if s.MaxSessions < 0 || s.MaxSessionsPerIP < 0 || s.MaxSessionsBeforeLogin < 0 || s.MaxSessionsBeforeLoginPerIP < 0 ||
		s.MaxSessionsPerUser < 0 || s.LoginAttemptsPerSession < 0 {
		errs = append(errs, errors.New("session and login limits must not be negative"))
	}
	if s.MaxCommandLength < 64 || s.MaxCommandLength > maxCommandLength {
		errs = append(errs, fmt.Errorf("command length limit %d is outside 64..%d", s.MaxCommandLength, maxCommandLength))
	}
	if err := checkPassivePorts(s.PassivePortMin, s.PassivePortMax); err != nil {
		errs = append(errs, err)
	}
	if s.PublicHost != "" {
		addr, err := netip.ParseAddr(s.PublicHost)
		if err != nil || !addr.Unmap().Is4() {
			errs = append(errs, fmt.Errorf("public host %q is not an IPv4 address, which PASV needs", s.PublicHost))
		} else {
			s.PublicHost = addr.Unmap().String()
		}
	}
	base, err := baseTLS(s.TLS)
	if err != nil {
		errs = append(errs, err)
	}
	if s.RequireTLS && s.TLS == nil {
		errs = append(errs, errors.New("TLS is required but no TLS configuration is set"))
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid FTP settings: %w", errors.Join(errs...))
	}

	logger := s.Logger
	if logger == nil {
		logger = slog.Default()
	}
	return &config{
		Settings:    s,
		idleSeconds: int((s.IdleTimeout + time.Second - 1) / time.Second),
		logger:      logger,
		tls:         base,
	}, nil
}

// Limits are the session limits of s, for an admission gate.
func (s Settings) Limits() admission.Limits {
	return admission.Limits{
		MaxSessions:                 s.MaxSessions,
		MaxSessionsPerIP:            s.MaxSessionsPerIP,
		MaxSessionsBeforeLogin:      s.MaxSessionsBeforeLogin,
		MaxSessionsBeforeLoginPerIP: s.MaxSessionsBeforeLoginPerIP,
		MaxSessionsPerUser:          s.MaxSessionsPerUser,
	}
}

// orDefault sets a zero setting to its default.
func orDefault[T comparable](v *T, def T) {
	var zero T
	if *v == zero {
		*v = def
	}
}

func checkPassivePorts(lo, hi int) error {
	if lo == 0 && hi == 0 {
		return nil
	}
	if lo < 1024 || hi > 65535 || lo > hi {
		return fmt.Errorf("passive port range %d-%d must lie within 1024-65535 and not be empty", lo, hi)
	}
	return nil
}
