// Package config reads and writes the add-on's settings file, ftpd.toml, and the
// per-user options file, users.toml, both under /etc/jelastic-ftp.
package config

import (
	"crypto/tls"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"path"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/BurntSushi/toml"

	"github.com/jelastic/jelastic-ftp/users"
)

// MaxCommandLength is the longest command line the FTP server can be set to
// take, CRLF excluded: 4 KiB with it, a path of PATH_MAX.
const MaxCommandLength = 4094

// DefaultPath is where the agent looks for its settings.
const DefaultPath = "/etc/jelastic-ftp/ftpd.toml"

// Config holds every setting of ftpd.toml, already parsed into Go types.
type Config struct {
	Root          string        // directory every FTP user is confined to
	Listen        string        // host:port of the control connection
	SFTPListen    string        // host:port of the SFTP service; "" = no SFTP
	PassivePorts  PortRange     // ports offered for passive data connections
	PublicHost    string        // address announced in PASV replies; "" = detect
	TLS           TLS           // FTPS settings
	IdleTimeout   time.Duration // inactivity before a session is closed
	LoginTimeout  time.Duration // from connecting to a successful login
	IdleExit      time.Duration // socket-activated: exit after this long without a session; 0 = never
	Limits        Limits        // session and brute-force limits
	Umask         fs.FileMode   // permission bits removed from created files
	AtomicUploads bool          // upload to a temporary name, rename when complete
	ActiveMode    bool          // allow PORT/EPRT data connections
	TransferLog   string        // xferlog-format log file; "" = none
	Owner         string        // account or %group allowed to `sudo passwd` FTP users; "" = detect
}

// PortRange is an inclusive range of TCP ports.
type PortRange struct {
	First, Last int
}

func (r PortRange) String() string { return fmt.Sprintf("%d-%d", r.First, r.Last) }

// TLS holds the FTPS settings; an empty Cert and Key mean FTPS is off.
type TLS struct {
	Cert                string // PEM certificate chain
	Key                 string // PEM private key
	RequireTLS          bool   // refuse login and transfers without TLS
	MinVersion          uint16 // tls.VersionTLS12 or tls.VersionTLS13
	RequireSessionReuse bool   // TLS data connections must resume a session of the same client and user
}

// Enabled reports whether a certificate and key are configured.
func (t TLS) Enabled() bool { return t.Cert != "" && t.Key != "" }

// Limits bounds sessions and slows down password guessing.
type Limits struct {
	MaxSessions             int
	MaxSessionsPerIP        int
	LoginAttemptsPerSession int
	FailedLoginDelay        time.Duration
	BanAfterFailures        int // failures from one address within BanWindow; 0 = never ban
	BanWindow               time.Duration
	BanDuration             time.Duration
	MaxCommandLength        int // bytes in one command line

	// Sessions not logged in yet, in all and from one address (capped by
	// MaxSessions and MaxSessionsPerIP), and sessions logged in as one user.
	MaxSessionsBeforeLogin      int
	MaxSessionsBeforeLoginPerIP int
	MaxSessionsPerUser          int
}

// Default returns the settings used when ftpd.toml is missing, and the base that
// the keys present in the file override.
func Default() Config {
	return Config{
		Root:         "/var/ftp/webroot",
		Listen:       ":21",
		SFTPListen:   ":2022",
		PassivePorts: PortRange{First: 10100, Last: 12000},
		TLS: TLS{
			MinVersion:          tls.VersionTLS12,
			RequireSessionReuse: true,
		},
		IdleTimeout:  300 * time.Second,
		LoginTimeout: 30 * time.Second,
		Limits: Limits{
			MaxSessions:             200,
			MaxSessionsPerIP:        50, // as vsftpd's code: rclone in LIST mode holds more than 20
			LoginAttemptsPerSession: 3,
			FailedLoginDelay:        time.Second,
			BanAfterFailures:        10,
			BanWindow:               10 * time.Minute,
			BanDuration:             15 * time.Minute,
			MaxCommandLength:        MaxCommandLength,

			MaxSessionsBeforeLogin:      150,
			MaxSessionsBeforeLoginPerIP: 10,
			MaxSessionsPerUser:          50,
		},
		Umask:         0o022,
		AtomicUploads: true,
	}
}

// keyError is a bad value, named by its TOML key. keys[0] is the key at fault; the
// others are related keys, tried in order when Load looks for a line to report,
// because the key at fault may be absent from the file and hold its default.
type keyError struct {
	keys  []toml.Key
	value string // as written in TOML; "" when not worth repeating
	msg   string
}

func (e *keyError) Error() string {
	key := e.keys[0].String()
	if e.value == "" {
		return key + ": " + e.msg
	}
	return key + ": " + e.value + ": " + e.msg
}

// dotted turns "limits.max_sessions" into a toml.Key; ftpd.toml's keys hold no dots.
func dotted(keys ...string) []toml.Key {
	out := make([]toml.Key, len(keys))
	for i, k := range keys {
		out[i] = strings.Split(k, ".")
	}
	return out
}

func badValue(key, value, format string, args ...any) *keyError {
	return &keyError{keys: dotted(key), value: value, msg: fmt.Sprintf(format, args...)}
}

// Validate reports the first setting that the agent cannot use, naming its key.
func (c Config) Validate() error {
	checks := []func() error{
		func() error { return checkRoot(c.Root) },
		func() error { return checkListen("listen", c.Listen, ":21") },
		func() error {
			if c.SFTPListen == "" {
				return nil
			}
			return checkListen("sftp_listen", c.SFTPListen, ":2022")
		},
		func() error {
			if c.SFTPListen != "" && c.SFTPListen == c.Listen {
				return badValue("sftp_listen", quote(c.SFTPListen), "must differ from listen: FTP and SFTP each need their own port")
			}
			return nil
		},
		func() error { return checkPorts(c.PassivePorts) },
		func() error { return checkPublicHost(c.PublicHost) },
		c.TLS.validate,
		func() error { return checkDuration("idle_timeout", c.IdleTimeout, 10*time.Second, 24*time.Hour) },
		func() error { return checkDuration("login_timeout", c.LoginTimeout, 5*time.Second, 10*time.Minute) },
		func() error {
			if c.IdleExit == 0 {
				return nil
			}
			return checkDuration("idle_exit", c.IdleExit, 10*time.Second, 24*time.Hour)
		},
		c.Limits.validate,
		func() error { return checkUmask(c.Umask) },
		func() error { return checkPath("transfer_log", c.TransferLog, true) },
		func() error { return checkOwner(c.Owner) },
	}
	for _, check := range checks {
		if err := check(); err != nil {
			return err
		}
	}
	return nil
}

func checkRoot(root string) error {
	if err := checkPath("root", root, false); err != nil {
		return err
	}
	if root == "/" {
		return badValue("root", quote(root), "must not be the whole file system")
	}
	// Every user's home lies below the root and goes into /etc/passwd.
	if strings.ContainsAny(root, ":\n\r") {
		return badValue("root", quote(root), "must not contain ':' or a newline, which /etc/passwd cannot hold")
	}
	return nil
}

// checkPath accepts an absolute, clean path, or "" when optional.
func checkPath(key, p string, optional bool) error {
	switch {
	case p == "" && optional:
		return nil
	case p == "":
		return badValue(key, `""`, "must be an absolute path")
	case !utf8.ValidString(p) || strings.ContainsRune(p, 0):
		return badValue(key, quote(p), "must be valid UTF-8 without NUL bytes")
	case !path.IsAbs(p):
		return badValue(key, quote(p), "must be an absolute path")
	case path.Clean(p) != p:
		return badValue(key, quote(p), "must be a clean path (write it as %s)", quote(path.Clean(p)))
	}
	return nil
}

// checkListen accepts host:port for key; example is its usual port, for the message.
func checkListen(key, listen, example string) error {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return badValue(key, quote(listen), `must be host:port, such as %q or "192.0.2.10%s"`, example, example)
	}
	if host != "" {
		if _, err := netip.ParseAddr(host); err != nil {
			return badValue(key, quote(listen), "the host must be empty (every address) or an IP address")
		}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return badValue(key, quote(listen), "the port must be a number between 1 and 65535")
	}
	return nil
}

func checkPorts(r PortRange) error {
	v := quote(r.String())
	switch {
	case r.First < 1024 || r.First > 65535 || r.Last < 1024 || r.Last > 65535:
		return badValue("passive_ports", v, "both ports must be between 1024 and 65535")
	case r.First > r.Last:
		return badValue("passive_ports", v, "the first port must not be above the second")
	}
	return nil
}

func checkPublicHost(host string) error {
	if host == "" {
		return nil
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if !addr.Is4() {
			return badValue("public_host", quote(host), "must be an IPv4 address or a host name, because PASV replies carry only IPv4")
		}
		return nil
	}
	if !isHostName(host) {
		return badValue("public_host", quote(host), "must be an IPv4 address or a host name")
	}
	return nil
}

// isHostName checks RFC 1123 syntax: dot-separated labels of letters, digits and
// inner hyphens, at most 63 bytes each and 253 in all.
func isHostName(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

func (t TLS) validate() error {
	if err := checkPath("tls.cert", t.Cert, true); err != nil {
		return err
	}
	if err := checkPath("tls.key", t.Key, true); err != nil {
		return err
	}
	switch {
	case t.Cert != "" && t.Key == "":
		return &keyError{keys: dotted("tls.key", "tls.cert"), value: `""`, msg: "must be set when tls.cert is"}
	case t.Key != "" && t.Cert == "":
		return &keyError{keys: dotted("tls.cert", "tls.key"), value: `""`, msg: "must be set when tls.key is"}
	case t.RequireTLS && !t.Enabled():
		return badValue("tls.require_tls", "true", "needs tls.cert and tls.key")
	}
	if _, ok := tlsVersionName(t.MinVersion); !ok {
		return badValue("tls.min_version", fmt.Sprintf("0x%04x", t.MinVersion), `must be "1.2" or "1.3"`)
	}
	return nil
}

func (l Limits) validate() error {
	if err := checkInt("limits.max_sessions", l.MaxSessions, 1, MaxSessionsCeiling); err != nil {
		return err
	}
	if err := checkInt("limits.max_sessions_per_ip", l.MaxSessionsPerIP, 1, MaxSessionsCeiling); err != nil {
		return err
	}
	if l.MaxSessionsPerIP > l.MaxSessions {
		return &keyError{
			keys:  dotted("limits.max_sessions_per_ip", "limits.max_sessions"),
			value: strconv.Itoa(l.MaxSessionsPerIP),
			msg:   fmt.Sprintf("must not be above limits.max_sessions (%d)", l.MaxSessions),
		}
	}
	for _, limit := range []struct {
		key string
		v   int
	}{
		{"limits.max_sessions_before_login", l.MaxSessionsBeforeLogin},
		{"limits.max_sessions_before_login_per_ip", l.MaxSessionsBeforeLoginPerIP},
		{"limits.max_sessions_per_user", l.MaxSessionsPerUser},
	} {
		if err := checkInt(limit.key, limit.v, 1, 100000); err != nil {
			return err
		}
	}
	if err := checkInt("limits.login_attempts_per_session", l.LoginAttemptsPerSession, 1, 100); err != nil {
		return err
	}
	if err := checkDuration("limits.failed_login_delay", l.FailedLoginDelay, 0, time.Minute); err != nil {
		return err
	}
	if err := checkInt("limits.ban_after_failures", l.BanAfterFailures, 0, 100000); err != nil {
		return err
	}
	if err := checkDuration("limits.ban_window", l.BanWindow, time.Second, 24*time.Hour); err != nil {
		return err
	}
	if err := checkDuration("limits.ban_duration", l.BanDuration, time.Second, 30*24*time.Hour); err != nil {
		return err
	}
	return checkInt("limits.max_command_length", l.MaxCommandLength, 512, MaxCommandLength)
}

func checkInt(key string, v, lo, hi int) error {
	if v < lo || v > hi {
		return badValue(key, strconv.Itoa(v), "must be between %d and %d", lo, hi)
	}
	return nil
}

func checkDuration(key string, d, lo, hi time.Duration) error {
	if d < lo || d > hi {
		return badValue(key, quote(formatDuration(d)), "must be between %s and %s", formatDuration(lo), formatDuration(hi))
	}
	return nil
}

func checkUmask(m fs.FileMode) error {
	v := quote(formatUmask(m))
	switch {
	case m&^0o777 != 0:
		return badValue("umask", v, "must be at most 777")
	case m&0o700 != 0:
		// All FTP users are one system user: masking owner bits would lock
		// users out of their own uploads.
		return badValue("umask", v, "must keep the owner's permissions (the first of three digits must be 0)")
	}
	return nil
}

func checkOwner(owner string) error {
	if owner == "" {
		return nil // detected where it is used
	}
	if !isAccountName(strings.TrimPrefix(owner, OwnerGroupPrefix)) {
		return badValue("owner", quote(owner), "%s", ownerRule)
	}
	return nil
}

// OwnerGroupPrefix marks an owner that is a group, as sudoers writes it: "%ssh-access".
const OwnerGroupPrefix = "%"

const (
	nameChars       = "up to 32 lower-case letters, digits, '_' and '-', starting with a letter or '_'"
	accountNameRule = "must be an account name: " + nameChars
	ownerRule       = "must be an account name, or a group name after '%': " + nameChars + "; or empty to detect the owner"
)

func isAccountName(name string) bool { return users.ValidateName(name) == nil }

func tlsVersionName(v uint16) (string, bool) {
	switch v {
	case tls.VersionTLS12:
		return "1.2", true
	case tls.VersionTLS13:
		return "1.3", true
	}
	return "", false
}

func formatUmask(m fs.FileMode) string { return fmt.Sprintf("%03o", uint32(m)) }

// formatDuration writes whole hours, minutes or seconds as "15m" rather than
// time.Duration's "15m0s", which reads oddly in a hand-edited file.
func formatDuration(d time.Duration) string {
	switch {
	case d == 0:
		return "0s"
	case d%time.Hour == 0:
		return strconv.FormatInt(int64(d/time.Hour), 10) + "h"
	case d%time.Minute == 0:
		return strconv.FormatInt(int64(d/time.Minute), 10) + "m"
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	}
	return d.String()
}
