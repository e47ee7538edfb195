package config

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"
)

// FileError is a problem found at a line of a settings file. It reads
// "path:line: message", the form editors and grep understand.
type FileError struct {
	Path string
	Line int // from 1; 0 when the line is unknown
	Err  error
}

func (e *FileError) Error() string {
	if e.Line == 0 {
		return fmt.Sprintf("%s: %v", e.Path, e.Err)
	}
	return fmt.Sprintf("%s:%d: %v", e.Path, e.Line, e.Err)
}

func (e *FileError) Unwrap() error { return e.Err }

// Load reads the settings at path. A missing file yields Default(); use LoadFound
// to tell that case apart.
func Load(path string) (Config, error) {
	c, _, err := LoadFound(path)
	return c, err
}

// LoadFound is Load that also reports whether the file existed.
func LoadFound(path string) (cfg Config, found bool, err error) {
	cfg, data, err := LoadDigest(path)
	return cfg, data != "", err
}

// LoadDigest is Load that also returns the Digest of the file read, "" when it is
// missing. The service reports the digest of what it loaded, so that install and
// `ftpctl reload` can tell whether it runs with the file as it is now.
func LoadDigest(path string) (cfg Config, digest string, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Default(), "", nil
	}
	if err != nil {
		return Config{}, "", fmt.Errorf("read settings: %w", err)
	}
	cfg, err = parseConfig(path, data)
	return cfg, Digest(data), err
}

// Digest names the content of a settings file: its SHA-256, in hex.
func Digest(data []byte) string {
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:])
}

func parseConfig(path string, data []byte) (Config, error) {
	doc, err := decode(path, data)
	if err != nil {
		return Config{}, err
	}
	c := Default()
	setters := c.setters()
	// md.Keys is in file order, so the first problem reported is the topmost.
	for _, key := range doc.md.Keys() {
		name := key.String()
		if name == "tls" || name == "limits" {
			if doc.md.Type(key...) != "Hash" {
				return Config{}, doc.errorAt(&keyError{keys: []toml.Key{key}, msg: "must be a table, written [" + name + "]"})
			}
			continue
		}
		set, ok := setters[name]
		if !ok {
			return Config{}, doc.errorAt(&keyError{keys: []toml.Key{key}, msg: "unknown key"})
		}
		if err := set(doc.value(key)); err != nil {
			return Config{}, doc.errorAt(&keyError{keys: []toml.Key{key}, value: formatRaw(doc.value(key)), msg: err.Error()})
		}
	}
	if err := c.Validate(); err != nil {
		return Config{}, doc.errorAt(err)
	}
	return c, nil
}

// setters maps each dotted key of ftpd.toml to a function storing its value in c.
// It is the list of known keys.
func (c *Config) setters() map[string]func(any) error {
	return map[string]func(any) error{
		"root":                              into(&c.Root, asString),
		"listen":                            into(&c.Listen, asString),
		"sftp_listen":                       into(&c.SFTPListen, asString),
		"passive_ports":                     into(&c.PassivePorts, asPortRange),
		"public_host":                       into(&c.PublicHost, asString),
		"idle_timeout":                      into(&c.IdleTimeout, asDuration),
		"idle_exit":                         into(&c.IdleExit, asDuration),
		"umask":                             into(&c.Umask, asUmask),
		"atomic_uploads":                    into(&c.AtomicUploads, asBool),
		"active_mode":                       into(&c.ActiveMode, asBool),
		"transfer_log":                      into(&c.TransferLog, asString),
		"owner":                             into(&c.Owner, asString),
		"tls.cert":                          into(&c.TLS.Cert, asString),
		"tls.key":                           into(&c.TLS.Key, asString),
		"tls.require_tls":                   into(&c.TLS.RequireTLS, asBool),
		"tls.min_version":                   into(&c.TLS.MinVersion, asTLSVersion),
		"tls.require_session_reuse":         into(&c.TLS.RequireSessionReuse, asBool),
		"limits.max_sessions":               into(&c.Limits.MaxSessions, asInt),
		"limits.max_sessions_per_ip":        into(&c.Limits.MaxSessionsPerIP, asInt),
		"limits.login_attempts_per_session": into(&c.Limits.LoginAttemptsPerSession, asInt),
		"limits.failed_login_delay":         into(&c.Limits.FailedLoginDelay, asDuration),
		"limits.ban_after_failures":         into(&c.Limits.BanAfterFailures, asInt),
		"limits.ban_window":                 into(&c.Limits.BanWindow, asDuration),
		"limits.ban_duration":               into(&c.Limits.BanDuration, asDuration),
		"limits.max_command_length":         into(&c.Limits.MaxCommandLength, asInt),

		"login_timeout":                           into(&c.LoginTimeout, asDuration),
		"limits.max_sessions_before_login":        into(&c.Limits.MaxSessionsBeforeLogin, asInt),
		"limits.max_sessions_before_login_per_ip": into(&c.Limits.MaxSessionsBeforeLoginPerIP, asInt),
		"limits.max_sessions_per_user":            into(&c.Limits.MaxSessionsPerUser, asInt),
	}
}

func into[T any](dst *T, parse func(any) (T, error)) func(any) error {
	return func(v any) error {
		parsed, err := parse(v)
		if err != nil {
			return err
		}
		*dst = parsed
		return nil
	}
}

func asString(v any) (string, error) {
	s, ok := v.(string)
	if !ok {
		return "", fmt.Errorf("must be a string in double quotes, not %s", tomlType(v))
	}
	return s, nil
}

func asBool(v any) (bool, error) {
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("must be true or false, not %s", tomlType(v))
	}
	return b, nil
}

func asInt(v any) (int, error) {
	n, ok := v.(int64)
	if !ok {
		return 0, fmt.Errorf("must be a whole number, not %s", tomlType(v))
	}
	if n < math.MinInt || n > math.MaxInt {
		return 0, errors.New("is out of range")
	}
	return int(n), nil
}

func asDuration(v any) (time.Duration, error) {
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf(`must be a duration in double quotes, such as "90s" or "5m", not %s`, tomlType(v))
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, errors.New(`is not a duration: write a number and a unit (ms, s, m or h), such as "90s" or "5m"`)
	}
	return d, nil
}

func asPortRange(v any) (PortRange, error) {
	const usage = `must be two ports joined by '-', such as "10100-12000"`
	s, ok := v.(string)
	if !ok {
		return PortRange{}, fmt.Errorf("%s, not %s", usage, tomlType(v))
	}
	first, last, ok := strings.Cut(s, "-")
	if !ok {
		return PortRange{}, errors.New(usage)
	}
	var r PortRange
	var err1, err2 error
	r.First, err1 = strconv.Atoi(first)
	r.Last, err2 = strconv.Atoi(last)
	if err1 != nil || err2 != nil {
		return PortRange{}, errors.New(usage)
	}
	return r, nil
}

func asUmask(v any) (fs.FileMode, error) {
	const usage = `must be octal digits in double quotes, such as "022"`
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("%s, not %s", usage, tomlType(v))
	}
	if len(s) == 0 || len(s) > 4 {
		return 0, errors.New(usage)
	}
	n, err := strconv.ParseUint(s, 8, 32)
	if err != nil {
		return 0, errors.New(usage)
	}
	return fs.FileMode(n), nil
}

func asTLSVersion(v any) (uint16, error) {
	switch v {
	case "1.2":
		return tls.VersionTLS12, nil
	case "1.3":
		return tls.VersionTLS13, nil
	}
	return 0, errors.New(`must be "1.2" or "1.3"`)
}

// tomlType names the TOML type of a decoded value for error messages.
func tomlType(v any) string {
	switch v.(type) {
	case string:
		return "a string"
	case int64:
		return "a whole number"
	case float64:
		return "a decimal number"
	case bool:
		return "a boolean"
	case time.Time:
		return "a date or time"
	case []any, []map[string]any:
		return "an array"
	case map[string]any:
		return "a table"
	}
	return fmt.Sprintf("%T", v)
}

// formatRaw echoes a scalar value as written in TOML; tables and arrays are left
// out because they may be long.
func formatRaw(v any) string {
	switch v := v.(type) {
	case string:
		return quote(v)
	case int64, float64, bool:
		return fmt.Sprint(v)
	}
	return ""
}

// document is a decoded settings file kept with its source text, to name lines in
// errors.
type document struct {
	path string
	data []byte
	tree map[string]any
	md   toml.MetaData
}

func decode(path string, data []byte) (*document, error) {
	doc := &document{path: path, data: data}
	md, err := toml.Decode(string(data), &doc.tree)
	if err != nil {
		var pe toml.ParseError
		if errors.As(err, &pe) {
			return nil, &FileError{Path: path, Line: parseErrorLine(data, pe), Err: errors.New("not valid TOML: " + pe.Message)}
		}
		return nil, &FileError{Path: path, Err: err}
	}
	doc.md = md
	return doc, nil
}

// parseErrorLine is the line of a syntax error. Position.Line counts an unexpected
// newline as part of the next line, "[users.alice⏎" being reported on the line
// after it, so the line is recounted from the error's byte offset when there is one.
func parseErrorLine(data []byte, pe toml.ParseError) int {
	if start := pe.Position.Start; start > 0 && start < len(data) {
		return bytes.Count(data[:start], []byte("\n")) + 1
	}
	return pe.Position.Line
}

// value returns the decoded value of key, or nil.
func (d *document) value(key toml.Key) any {
	var v any = d.tree
	for _, part := range key {
		table, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = table[part]
	}
	return v
}

// errorAt places err at a line: for a keyError, that of the first of its keys
// present in the file.
func (d *document) errorAt(err error) error {
	var ke *keyError
	if errors.As(err, &ke) {
		for _, key := range ke.keys {
			if line := d.line(key); line > 0 {
				return &FileError{Path: d.path, Line: line, Err: err}
			}
		}
	}
	return &FileError{Path: d.path, Err: err}
}

// line returns the line that defines key, or 0. BurntSushi/toml keeps key
// positions private, so this parses ever longer whole-line prefixes of the file
// until one defines the key; for a value spanning several lines that is its last.
// It runs only to report an error, on a file a few kilobytes long.
func (d *document) line(key toml.Key) int {
	if !d.md.IsDefined(key...) {
		return 0
	}
	end := 0
	for i, text := range bytes.SplitAfter(d.data, []byte("\n")) {
		end += len(text)
		var tree map[string]any
		md, err := toml.Decode(string(d.data[:end]), &tree)
		if err == nil && md.IsDefined(key...) {
			return i + 1
		}
	}
	return 0
}
