package config

import (
	"bytes"
	"fmt"
	"io/fs"
	"strings"
	"text/template"
	"time"
)

// fileTemplate is ftpd.toml as Marshal writes it: every key, with its meaning, so
// that the file written at install time doubles as the documentation.
var fileTemplate = template.Must(template.New("ftpd.toml").Funcs(template.FuncMap{
	"q":        quote,
	"duration": func(d time.Duration) string { return quote(formatDuration(d)) },
	"umask":    func(m fs.FileMode) string { return quote(formatUmask(m)) },
	"tlsVersion": func(v uint16) string {
		name, _ := tlsVersionName(v)
		return quote(name)
	},
}).Parse(`# jelastic-ftp settings, read by the FTP service when it starts.
# After editing, run "ftpctl reload" (it checks the file first). A key left
# out takes its default value.
# Durations are strings such as "90s", "5m" or "1h".

# Directory FTP users are confined to; every user's home lies inside it.
# An absolute path other than "/".
root = {{q .Root}}

# Address of the control connection, as "host:port". An empty host listens on
# every address; otherwise give an IP address.
listen = {{q .Listen}}

# Address of the SFTP service (SSH), as "host:port", for the same accounts.
# It is the only port SFTP needs in the firewall. Empty: no SFTP.
sftp_listen = {{q .SFTPListen}}

# Ports offered for passive-mode data connections, "first-last", all within
# 1024-65535. Open them in the firewall as well.
passive_ports = {{q .PassivePorts.String}}

# IPv4 address or host name that passive-mode replies send clients to, behind
# NAT. A host name is resolved to its IPv4 address when the service starts and
# on every reload (install refuses one that does not resolve). Empty: the
# address the client connected to.
public_host = {{q .PublicHost}}

# Inactivity after which a session is closed, from "10s" to "24h".
idle_timeout = {{duration .IdleTimeout}}

# Time from connecting to a successful login, from "5s" to "10m"; commands
# sent before login do not extend it.
login_timeout = {{duration .LoginTimeout}}

# With socket activation (jelastic-ftp.socket), how long the service runs on
# without any session before it exits, from "10s" to "24h"; systemd starts it
# again on the next connection. "0s": it never exits on its own.
idle_exit = {{duration .IdleExit}}

# Permission bits removed from uploaded files and new directories, in octal.
# The first digit must be 0: all FTP users are one system user.
umask = {{umask .Umask}}

# Publish an upload under its name only once complete, so that an interrupted
# upload never replaces a good file (false: write into the target directly).
atomic_uploads = {{.AtomicUploads}}

# Allow active-mode data connections (PORT/EPRT), where the server connects
# back to the client. Passive mode is always available.
active_mode = {{.ActiveMode}}

# File that records every transfer in xferlog format; empty: no such log.
transfer_log = {{q .TransferLog}}

# Who may set FTP users' passwords with "sudo passwd NAME": an account, such
# as "apache", or every member of a group, written "%ssh-access". Empty: detect
# it on every install and user change (the group ssh-access when it exists,
# else the account jelastic, else the account with UID 700 that is not an FTP
# user, the stack's data owner); ftpctl status says which.
owner = {{q .Owner}}

[tls]
# PEM certificate chain and private key, as absolute paths. Empty: the
# service makes a self-signed certificate in memory when it starts, so FTPS
# is still offered (require_tls needs both set). ftpctl install sets both to
# a self-signed pair of its own unless given --tls-cert and --tls-key.
cert = {{q .TLS.Cert}}
key = {{q .TLS.Key}}

# Refuse logins and transfers on connections not protected by TLS.
require_tls = {{.TLS.RequireTLS}}

# Oldest TLS version accepted: "1.2" or "1.3".
min_version = {{tlsVersion .TLS.MinVersion}}

# TLS data connections must resume a TLS session this server gave a control
# connection from the same client address, logged in as the same user, so that
# no one else can take over a transfer. Set to false only for clients that
# cannot resume sessions.
require_session_reuse = {{.TLS.RequireSessionReuse}}

[limits]
# Sessions open at once, in all and from one client address.
max_sessions = {{.Limits.MaxSessions}}
max_sessions_per_ip = {{.Limits.MaxSessionsPerIP}}

# Of those, sessions not logged in yet, in all and from one address (capped
# by the two above), so that unauthenticated clients cannot take every
# place; and sessions logged in as one user.
max_sessions_before_login = {{.Limits.MaxSessionsBeforeLogin}}
max_sessions_before_login_per_ip = {{.Limits.MaxSessionsBeforeLoginPerIP}}
max_sessions_per_user = {{.Limits.MaxSessionsPerUser}}

# Failed logins after which a session is closed, and the pause after each.
login_attempts_per_session = {{.Limits.LoginAttemptsPerSession}}
failed_login_delay = {{duration .Limits.FailedLoginDelay}}

# An address that fails to log in ban_after_failures times within ban_window
# is refused for ban_duration. 0 failures: never ban.
ban_after_failures = {{.Limits.BanAfterFailures}}
ban_window = {{duration .Limits.BanWindow}}
ban_duration = {{duration .Limits.BanDuration}}

# Longest command line accepted, in bytes, CRLF excluded (512 to 4094).
max_command_length = {{.Limits.MaxCommandLength}}
`))

// Marshal writes c as a commented ftpd.toml that Load reads back as c. It refuses
// a Config that does not validate, so no one installs a file the agent rejects.
func Marshal(c Config) ([]byte, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("write settings: %w", err)
	}
	var buf bytes.Buffer
	if err := fileTemplate.Execute(&buf, c); err != nil {
		return nil, fmt.Errorf("write settings: %w", err)
	}
	return buf.Bytes(), nil
}

// quote writes s as a TOML basic string.
func quote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r < 0x20 || r == 0x7f:
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
