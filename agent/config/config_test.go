package config

import (
	"crypto/tls"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/stretchr/testify/require"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ftpd.toml")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestDefault(t *testing.T) {
	c := Default()
	require.NoError(t, c.Validate())
	require.Equal(t, "/var/ftp/webroot", c.Root)
	require.Equal(t, ":21", c.Listen)
	require.Equal(t, PortRange{First: 10100, Last: 12000}, c.PassivePorts)
	require.Equal(t, "", c.PublicHost)
	require.Equal(t, TLS{MinVersion: tls.VersionTLS12, RequireSessionReuse: true}, c.TLS)
	require.False(t, c.TLS.Enabled())
	require.Equal(t, 300*time.Second, c.IdleTimeout)
	require.Equal(t, 30*time.Second, c.LoginTimeout)
	require.Equal(t, Limits{
		MaxSessions:                 200,
		MaxSessionsPerIP:            50,
		MaxSessionsBeforeLogin:      150,
		MaxSessionsBeforeLoginPerIP: 10,
		MaxSessionsPerUser:          50,
		LoginAttemptsPerSession:     3,
		FailedLoginDelay:            time.Second,
		BanAfterFailures:            10,
		BanWindow:                   10 * time.Minute,
		BanDuration:                 15 * time.Minute,
		MaxCommandLength:            4094,
	}, c.Limits)
	require.Equal(t, "022", formatUmask(c.Umask))
	require.True(t, c.AtomicUploads)
	require.False(t, c.ActiveMode)
	require.Equal(t, "", c.TransferLog)
	require.Equal(t, "", c.Owner, "detected where it is used")
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ftpd.toml")

	c, found, err := LoadFound(path)
	require.NoError(t, err)
	require.False(t, found)
	require.Equal(t, Default(), c)

	c, err = Load(path)
	require.NoError(t, err)
	require.Equal(t, Default(), c)
}

func TestLoadFoundExisting(t *testing.T) {
	c, found, err := LoadFound(writeFile(t, "# nothing set\n"))
	require.NoError(t, err)
	require.True(t, found)
	require.Equal(t, Default(), c)
}

func TestLoadUnreadable(t *testing.T) {
	_, err := Load(t.TempDir()) // a directory
	require.ErrorContains(t, err, "read settings: ")
}

func TestLoadEachKey(t *testing.T) {
	tests := []struct {
		file string
		want func(*Config)
	}{
		{`root = "/srv/ftp"`, func(c *Config) { c.Root = "/srv/ftp" }},
		{`listen = "127.0.0.1:2121"`, func(c *Config) { c.Listen = "127.0.0.1:2121" }},
		{`listen = "[::1]:21"`, func(c *Config) { c.Listen = "[::1]:21" }},
		{`sftp_listen = "127.0.0.1:2222"`, func(c *Config) { c.SFTPListen = "127.0.0.1:2222" }},
		{`sftp_listen = ""`, func(c *Config) { c.SFTPListen = "" }},
		{`passive_ports = "30000-30010"`, func(c *Config) { c.PassivePorts = PortRange{30000, 30010} }},
		{`passive_ports = "65535-65535"`, func(c *Config) { c.PassivePorts = PortRange{65535, 65535} }},
		{`public_host = "203.0.113.7"`, func(c *Config) { c.PublicHost = "203.0.113.7" }},
		{`public_host = "ftp.example.com"`, func(c *Config) { c.PublicHost = "ftp.example.com" }},
		{`idle_timeout = "90s"`, func(c *Config) { c.IdleTimeout = 90 * time.Second }},
		{`idle_timeout = "1h30m"`, func(c *Config) { c.IdleTimeout = 90 * time.Minute }},
		{`idle_exit = "15m"`, func(c *Config) { c.IdleExit = 15 * time.Minute }},
		{`idle_exit = "0s"`, func(c *Config) { c.IdleExit = 0 }},
		{`umask = "027"`, func(c *Config) { c.Umask = 0o027 }},
		{`umask = "0"`, func(c *Config) { c.Umask = 0 }},
		{`atomic_uploads = false`, func(c *Config) { c.AtomicUploads = false }},
		{`active_mode = true`, func(c *Config) { c.ActiveMode = true }},
		{`transfer_log = "/var/log/xferlog"`, func(c *Config) { c.TransferLog = "/var/log/xferlog" }},
		{`owner = "web_admin"`, func(c *Config) { c.Owner = "web_admin" }},
		{`owner = "%ssh-access"`, func(c *Config) { c.Owner = "%ssh-access" }},
		{`owner = ""`, func(c *Config) { c.Owner = "" }},
		{"[tls]\ncert = \"/etc/ssl/c.pem\"\nkey = \"/etc/ssl/k.pem\"\nrequire_tls = true", func(c *Config) {
			c.TLS.Cert, c.TLS.Key, c.TLS.RequireTLS = "/etc/ssl/c.pem", "/etc/ssl/k.pem", true
		}},
		{"[tls]\nmin_version = \"1.3\"", func(c *Config) { c.TLS.MinVersion = tls.VersionTLS13 }},
		{"[tls]\nrequire_session_reuse = false", func(c *Config) { c.TLS.RequireSessionReuse = false }},
		{`tls = { min_version = "1.3" }`, func(c *Config) { c.TLS.MinVersion = tls.VersionTLS13 }},
		{`tls.require_session_reuse = false`, func(c *Config) { c.TLS.RequireSessionReuse = false }},
		{"[limits]\nmax_sessions = 10\nmax_sessions_per_ip = 10", func(c *Config) {
			c.Limits.MaxSessions, c.Limits.MaxSessionsPerIP = 10, 10
		}},
		{"[limits]\nlogin_attempts_per_session = 5", func(c *Config) { c.Limits.LoginAttemptsPerSession = 5 }},
		{"[limits]\nfailed_login_delay = \"0s\"", func(c *Config) { c.Limits.FailedLoginDelay = 0 }},
		{"[limits]\nfailed_login_delay = \"2500ms\"", func(c *Config) { c.Limits.FailedLoginDelay = 2500 * time.Millisecond }},
		{"[limits]\nban_after_failures = 0", func(c *Config) { c.Limits.BanAfterFailures = 0 }},
		{"[limits]\nban_window = \"1h\"", func(c *Config) { c.Limits.BanWindow = time.Hour }},
		{"[limits]\nban_duration = \"24h\"", func(c *Config) { c.Limits.BanDuration = 24 * time.Hour }},
		{"[limits]\nmax_command_length = 1024", func(c *Config) { c.Limits.MaxCommandLength = 1024 }},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			got, err := Load(writeFile(t, tt.file+"\n"))
			require.NoError(t, err)
			want := Default()
			tt.want(&want)
			require.Equal(t, want, got)
		})
	}
}

func TestLoadErrorsNameTheLine(t *testing.T) {
	// Each file starts with two lines, so that a line number of 1 would be wrong.
	const head = "# settings\n\n"
	tests := []struct {
		name string
		file string // after head
		want string // after the path
	}{
		{"syntax", "root = /srv\n", ":3: not valid TOML: "},
		{"syntax later line", "root = \"/srv\"\n\n[limits\n", ":5: not valid TOML: "},
		{"duplicate key", "root = \"/a\"\nroot = \"/b\"\n", ":4: not valid TOML: "},
		{"unknown key", "root = \"/srv\"\nroots = \"/srv\"\n", ":4: roots: unknown key"},
		{"unknown key in table", "[limits]\nmax_sesions = 3\n", ":4: limits.max_sesions: unknown key"},
		{"unknown table", "[log]\nlevel = 1\n", ":3: log: unknown key"},
		{"table as value", "tls = true\n", ":3: tls: must be a table, written [tls]"},
		{"array of tables", "[[limits]]\n", ":3: limits: must be a table, written [limits]"},
		{"wrong type string", "root = 5\n", ":3: root: 5: must be a string in double quotes, not a whole number"},
		{"wrong type bool", "active_mode = \"yes\"\n", `:3: active_mode: "yes": must be true or false, not a string`},
		{"wrong type int", "[limits]\nmax_sessions = \"200\"\n", `:4: limits.max_sessions: "200": must be a whole number, not a string`},
		{"wrong type float", "[limits]\nmax_sessions = 2.5\n", `:4: limits.max_sessions: 2.5: must be a whole number, not a decimal number`},
		{"wrong type array", "owner = [\"a\",\n  \"b\"]\n", `:4: owner: must be a string in double quotes, not an array`},
		{"root relative", "root = \"srv/ftp\"\n", `:3: root: "srv/ftp": must be an absolute path`},
		{"root empty", "root = \"\"\n", `:3: root: "": must be an absolute path`},
		{"root unclean", "root = \"/srv//ftp/\"\n", `:3: root: "/srv//ftp/": must be a clean path (write it as "/srv/ftp")`},
		{"root slash", "root = \"/\"\n", `:3: root: "/": must not be the whole file system`},
		{"root colon", "root = \"/srv/a:b\"\n", `:3: root: "/srv/a:b": must not contain ':' or a newline, which /etc/passwd cannot hold`},
		{"root newline", "root = \"/srv/a\\nb\"\n", `:3: root: "/srv/a\u000Ab": must not contain ':' or a newline, which /etc/passwd cannot hold`},
		{"listen no port", "listen = \"0.0.0.0\"\n", `:3: listen: "0.0.0.0": must be host:port, such as ":21" or "192.0.2.10:21"`},
		{"listen bad port", "listen = \":ftp\"\n", `:3: listen: ":ftp": the port must be a number between 1 and 65535`},
		{"listen port 0", "listen = \":0\"\n", `:3: listen: ":0": the port must be a number between 1 and 65535`},
		{"sftp_listen no port", "sftp_listen = \"0.0.0.0\"\n", `:3: sftp_listen: "0.0.0.0": must be host:port, such as ":2022" or "192.0.2.10:2022"`},
		{"sftp_listen same as listen", "listen = \":2121\"\nsftp_listen = \":2121\"\n", `:4: sftp_listen: ":2121": must differ from listen: FTP and SFTP each need their own port`},
		{"listen host name", "listen = \"localhost:21\"\n", `:3: listen: "localhost:21": the host must be empty (every address) or an IP address`},
		{"ports reversed", "passive_ports = \"12000-10100\"\n", `:3: passive_ports: "12000-10100": the first port must not be above the second`},
		{"ports low", "passive_ports = \"1000-2000\"\n", `:3: passive_ports: "1000-2000": both ports must be between 1024 and 65535`},
		{"ports high", "passive_ports = \"60000-70000\"\n", `:3: passive_ports: "60000-70000": both ports must be between 1024 and 65535`},
		{"ports one", "passive_ports = \"10100\"\n", `:3: passive_ports: "10100": must be two ports joined by '-', such as "10100-12000"`},
		{"ports words", "passive_ports = \"a-b\"\n", `:3: passive_ports: "a-b": must be two ports joined by '-', such as "10100-12000"`},
		{"ports int", "passive_ports = 10100\n", `:3: passive_ports: 10100: must be two ports joined by '-', such as "10100-12000", not a whole number`},
		{"public host IPv6", "public_host = \"2001:db8::1\"\n", `:3: public_host: "2001:db8::1": must be an IPv4 address or a host name, because PASV replies carry only IPv4`},
		{"public host junk", "public_host = \"ftp example\"\n", `:3: public_host: "ftp example": must be an IPv4 address or a host name`},
		{"public host hyphen", "public_host = \"-ftp.example.com\"\n", `:3: public_host: "-ftp.example.com": must be an IPv4 address or a host name`},
		{"idle not a duration", "idle_timeout = \"5 minutes\"\n", `:3: idle_timeout: "5 minutes": is not a duration: write a number and a unit (ms, s, m or h), such as "90s" or "5m"`},
		{"idle integer", "idle_timeout = 300\n", `:3: idle_timeout: 300: must be a duration in double quotes, such as "90s" or "5m", not a whole number`},
		{"idle too short", "idle_timeout = \"5s\"\n", `:3: idle_timeout: "5s": must be between 10s and 24h`},
		{"idle too long", "idle_timeout = \"25h\"\n", `:3: idle_timeout: "25h": must be between 10s and 24h`},
		{"idle exit too short", "idle_exit = \"5s\"\n", `:3: idle_exit: "5s": must be between 10s and 24h`},
		{"idle exit integer", "idle_exit = 600\n", `:3: idle_exit: 600: must be a duration in double quotes, such as "90s" or "5m", not a whole number`},
		{"umask not octal", "umask = \"089\"\n", `:3: umask: "089": must be octal digits in double quotes, such as "022"`},
		{"umask integer", "umask = 0o22\n", `:3: umask: 18: must be octal digits in double quotes, such as "022", not a whole number`},
		{"umask too big", "umask = \"1022\"\n", `:3: umask: "1022": must be at most 777`},
		{"umask owner", "umask = \"222\"\n", `:3: umask: "222": must keep the owner's permissions (the first of three digits must be 0)`},
		{"transfer log relative", "transfer_log = \"xferlog\"\n", `:3: transfer_log: "xferlog": must be an absolute path`},
		{"owner upper case", "owner = \"Admin\"\n", `:3: owner: "Admin": ` + ownerRule},
		{"owner all", "owner = \"ALL\"\n", `:3: owner: "ALL": ` + ownerRule},
		{"owner group all", "owner = \"%ALL\"\n", `:3: owner: "%ALL": ` + ownerRule},
		{"owner percent", "owner = \"%\"\n", `:3: owner: "%": ` + ownerRule},
		{"owner double percent", "owner = \"%%wheel\"\n", `:3: owner: "%%wheel": ` + ownerRule},
		{"owner group colon", "owner = \"%:admins\"\n", `:3: owner: "%:admins": ` + ownerRule},
		{"owner list", "owner = \"%wheel,root\"\n", `:3: owner: "%wheel,root": ` + ownerRule},
		{"owner space", "owner = \"%wheel root\"\n", `:3: owner: "%wheel root": ` + ownerRule},
		{"owner uid", "owner = \"#0\"\n", `:3: owner: "#0": ` + ownerRule},
		{"owner percent inside", "owner = \"a%b\"\n", `:3: owner: "a%b": ` + ownerRule},
		{"cert relative", "[tls]\ncert = \"c.pem\"\nkey = \"/k.pem\"\n", `:4: tls.cert: "c.pem": must be an absolute path`},
		{"cert without key", "[tls]\ncert = \"/c.pem\"\n", `:4: tls.key: "": must be set when tls.cert is`},
		{"key without cert", "[tls]\n\nkey = \"/k.pem\"\n", `:5: tls.cert: "": must be set when tls.key is`},
		{"require tls without cert", "[tls]\nrequire_tls = true\n", `:4: tls.require_tls: true: needs tls.cert and tls.key`},
		{"min version", "[tls]\nmin_version = \"1.1\"\n", `:4: tls.min_version: "1.1": must be "1.2" or "1.3"`},
		{"min version float", "[tls]\nmin_version = 1.2\n", `:4: tls.min_version: 1.2: must be "1.2" or "1.3"`},
		{"max sessions zero", "[limits]\nmax_sessions = 0\n", `:4: limits.max_sessions: 0: must be between 1 and 100000`},
		{"per ip above max, both set", "[limits]\nmax_sessions_per_ip = 50\nmax_sessions = 40\n", `:4: limits.max_sessions_per_ip: 50: must not be above limits.max_sessions (40)`},
		{"per ip above max, max set", "[limits]\nmax_sessions = 5\n", `:4: limits.max_sessions_per_ip: 50: must not be above limits.max_sessions (5)`},
		{"login attempts", "[limits]\nlogin_attempts_per_session = 0\n", `:4: limits.login_attempts_per_session: 0: must be between 1 and 100`},
		{"failed login delay", "[limits]\nfailed_login_delay = \"-1s\"\n", `:4: limits.failed_login_delay: "-1s": must be between 0s and 1m`},
		{"ban after failures", "[limits]\nban_after_failures = -1\n", `:4: limits.ban_after_failures: -1: must be between 0 and 100000`},
		{"ban window", "[limits]\nban_window = \"0s\"\n", `:4: limits.ban_window: "0s": must be between 1s and 24h`},
		{"ban duration", "[limits]\nban_duration = \"1000h\"\n", `:4: limits.ban_duration: "1000h": must be between 1s and 720h`},
		{"max command length", "[limits]\nmax_command_length = 100\n", `:4: limits.max_command_length: 100: must be between 512 and 4094`},
		{"dotted key", "limits.max_command_length = 100\n", `:3: limits.max_command_length: 100: must be between 512 and 4094`},
		{"inline table", "limits = { max_command_length = 100 }\n", `:3: limits.max_command_length: 100: must be between 512 and 4094`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, head+tt.file)
			_, err := Load(path)
			require.Error(t, err)
			if strings.HasSuffix(tt.want, "not valid TOML: ") {
				require.True(t, strings.HasPrefix(err.Error(), path+tt.want), err.Error())
			} else {
				require.EqualError(t, err, path+tt.want)
			}
			var fe *FileError
			require.True(t, errors.As(err, &fe))
			require.Equal(t, path, fe.Path)
			require.Positive(t, fe.Line)
		})
	}
}

func TestErrorLineOfMultiLineValue(t *testing.T) {
	// A value spanning lines is placed at its last line: see document.line.
	path := writeFile(t, "root = \"\"\"\nsrv\"\"\"\n")
	_, err := Load(path)
	require.EqualError(t, err, path+`:2: root: "srv": must be an absolute path`)
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Config)
		want   string // "" for valid
	}{
		{"default", func(*Config) {}, ""},
		{"tls on", func(c *Config) { c.TLS.Cert, c.TLS.Key, c.TLS.RequireTLS = "/c", "/k", true }, ""},
		{"min version unset", func(c *Config) { c.TLS.MinVersion = 0 }, `tls.min_version: 0x0000: must be "1.2" or "1.3"`},
		{"min version 1.1", func(c *Config) { c.TLS.MinVersion = tls.VersionTLS11 }, `tls.min_version: 0x0302: must be "1.2" or "1.3"`},
		{"root not UTF-8", func(c *Config) { c.Root = "/srv/\xff" }, `root: "/srv/` + "\uFFFD" + `": must be valid UTF-8 without NUL bytes`},
		{"root NUL", func(c *Config) { c.Root = "/srv/\x00" }, `root: "/srv/\u0000": must be valid UTF-8 without NUL bytes`},
		{"umask type bits", func(c *Config) { c.Umask = 0o1022 }, `umask: "1022": must be at most 777`},
		{"odd idle timeout", func(c *Config) { c.IdleTimeout = 90*time.Second + time.Millisecond }, ""},
		{"per ip", func(c *Config) { c.Limits.MaxSessionsPerIP = 0 }, `limits.max_sessions_per_ip: 0: must be between 1 and 100000`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := Default()
			tt.change(&c)
			err := c.Validate()
			if tt.want == "" {
				require.NoError(t, err)
			} else {
				require.EqualError(t, err, tt.want)
			}
		})
	}
}

func TestMarshalRoundTrip(t *testing.T) {
	custom := Config{
		Root:         `/srv/ftp "quoted" \back`,
		Listen:       "[::]:2121",
		PassivePorts: PortRange{First: 40000, Last: 40100},
		PublicHost:   "ftp.example.com",
		TLS: TLS{
			Cert:                "/etc/ssl/ftp/cert.pem",
			Key:                 "/etc/ssl/ftp/ключ.pem",
			RequireTLS:          true,
			MinVersion:          tls.VersionTLS13,
			RequireSessionReuse: false,
		},
		IdleTimeout:  90*time.Second + 500*time.Millisecond,
		LoginTimeout: 5 * time.Minute,
		Limits: Limits{
			MaxSessions:                 1000,
			MaxSessionsPerIP:            1000,
			MaxSessionsBeforeLogin:      7,
			MaxSessionsBeforeLoginPerIP: 2,
			MaxSessionsPerUser:          3,
			LoginAttemptsPerSession:     1,
			FailedLoginDelay:            0,
			BanAfterFailures:            0,
			BanWindow:                   36 * time.Hour / 2,
			BanDuration:                 720 * time.Hour,
			MaxCommandLength:            4000,
		},
		Umask:         0o077,
		AtomicUploads: false,
		ActiveMode:    true,
		TransferLog:   "/var/log/jelastic-ftp/xfer\tlog",
		Owner:         "owner_2",
	}
	for name, c := range map[string]Config{"default": Default(), "custom": custom} {
		t.Run(name, func(t *testing.T) {
			data, err := Marshal(c)
			require.NoError(t, err)
			got, err := Load(writeFile(t, string(data)))
			require.NoError(t, err)
			require.Equal(t, c, got)

			again, err := Marshal(got)
			require.NoError(t, err)
			require.Equal(t, string(data), string(again))
		})
	}
}

func TestMarshalRefusesInvalid(t *testing.T) {
	c := Default()
	c.PassivePorts = PortRange{First: 2, Last: 1}
	_, err := Marshal(c)
	require.EqualError(t, err, `write settings: passive_ports: "2-1": both ports must be between 1024 and 65535`)
}

// TestMarshalDocumentsEveryKey keeps the template and the list of known keys in
// step: the file Marshal writes sets every key, each after a comment.
func TestMarshalDocumentsEveryKey(t *testing.T) {
	data, err := Marshal(Default())
	require.NoError(t, err)
	var tree map[string]any
	md, err := toml.Decode(string(data), &tree)
	require.NoError(t, err)

	var written []string
	for _, key := range md.Keys() {
		if md.Type(key...) != "Hash" {
			written = append(written, key.String())
		}
	}
	var known []string
	for key := range (&Config{}).setters() {
		known = append(known, key)
	}
	slices.Sort(written)
	slices.Sort(known)
	require.Equal(t, known, written)

	lines := strings.Split(string(data), "\n")
	for i, line := range lines {
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		// A key is commented if the nearest non-key line above it is a comment.
		j := i - 1
		for j > 0 && strings.Contains(lines[j], " = ") && !strings.HasPrefix(lines[j], "#") {
			j--
		}
		require.True(t, strings.HasPrefix(lines[j], "#"), "no comment above %q", line)
	}
}

func TestFormatDuration(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "0s"},
		{time.Second, "1s"},
		{300 * time.Second, "5m"},
		{90 * time.Minute, "90m"},
		{48 * time.Hour, "48h"},
		{1500 * time.Millisecond, "1.5s"},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, formatDuration(tt.d))
		back, err := time.ParseDuration(tt.want)
		require.NoError(t, err)
		require.Equal(t, tt.d, back)
	}
}
