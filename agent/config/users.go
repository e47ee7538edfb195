package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/jelastic/jelastic-ftp/users/allowfrom"
	"github.com/jelastic/jelastic-ftp/users/authkeys"
	"github.com/jelastic/jelastic-ftp/users/perm"
)

// DefaultUsersPath is where the agent keeps per-user options.
const DefaultUsersPath = "/etc/jelastic-ftp/users.toml"

// UsersBeside is the users.toml that goes with the ftpd.toml at configPath.
func UsersBeside(configPath string) UsersFile {
	return UsersFile(filepath.Join(filepath.Dir(configPath), filepath.Base(DefaultUsersPath)))
}

// The ranges of the per-user settings.
const (
	// MaxSessionsCeiling bounds limits.max_sessions and a user's max_sessions.
	MaxSessionsCeiling = 100000
	// MaxPasswordDays is the longest maximum password age, shadow's conventional
	// 99999 (what useradd writes for "no limit" on most distributions).
	MaxPasswordDays = 99999
	// DateLayout is how account expiry dates are written, as `chage -E` takes them.
	DateLayout = "2006-01-02"
)

// UserOptions are the per-user settings that /etc/passwd and /etc/shadow cannot
// hold. The zero value is what a user without an entry gets: every permission,
// from any address, with only the service-wide session limits.
type UserOptions struct {
	Permissions perm.Set
	AllowFrom   allowfrom.List // nil: any address
	MaxSessions int            // sessions at once; 0: only limits.max_sessions applies
	// AuthorizedKeys may log in over SFTP instead of the password.
	AuthorizedKeys []authkeys.Key
}

// ReadOnly reports whether the user can change nothing, which is what the worker
// enforces for sessions that do not check permissions one by one.
func (o UserOptions) ReadOnly() bool { return o.Permissions.ChangesNothing() }

// UserStore maps FTP user names to their options.
type UserStore map[string]UserOptions

// UsersFile is a users.toml, read afresh on every use so that `ftpctl user mod`
// applies to the next login without a reload.
type UsersFile string

// Admits reports whether name may log in from client, before any password is
// checked: users.Authenticate asks it.
func (f UsersFile) Admits(name string, client netip.Addr) (bool, error) {
	store, err := LoadUsers(string(f))
	if err != nil {
		return false, err
	}
	return store[name].AllowFrom.Admits(client), nil
}

// usersHeader warns hand editors; the file is rewritten whole by ftpctl.
const usersHeader = `# Per-user FTP options that /etc/passwd and /etc/shadow cannot hold.
# Managed by "ftpctl user": change them with that command, not by hand.
`

// LoadUsers reads the per-user options at path. A missing file is an empty store.
func LoadUsers(path string) (UserStore, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return UserStore{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read user options: %w", err)
	}
	return parseUsers(path, data)
}

// userKeys read one option of a user's table into opts.
var userKeys = map[string]func(v any, opts *UserOptions) error{
	// read_only is what files written before permissions existed hold.
	"read_only": func(v any, opts *UserOptions) error {
		readOnly, err := asBool(v)
		if readOnly {
			opts.Permissions = perm.ReadOnly
		}
		return err
	},
	"permissions": func(v any, opts *UserOptions) error {
		s, err := asString(v)
		if err != nil {
			return err
		}
		opts.Permissions, err = perm.Parse(s)
		return err
	},
	"allow_from": func(v any, opts *UserOptions) error {
		list, ok := v.([]any)
		if !ok || len(list) == 0 {
			return fmt.Errorf(`must be a non-empty array of addresses and CIDR blocks in double quotes, such as ["10.0.0.0/8"], not %s`, tomlType(v))
		}
		opts.AllowFrom = allowfrom.List{}
		for _, item := range list {
			s, err := asString(item)
			if err != nil {
				return err
			}
			p, err := allowfrom.ParseOne(s)
			if err != nil {
				return err
			}
			opts.AllowFrom = append(opts.AllowFrom, p)
		}
		return nil
	},
	"authorized_keys": func(v any, opts *UserOptions) error {
		list, ok := v.([]any)
		if !ok {
			return fmt.Errorf(`must be an array of OpenSSH public key lines in quotes, not %s`, tomlType(v))
		}
		for _, item := range list {
			s, err := asString(item)
			if err != nil {
				return err
			}
			k, err := authkeys.Parse(s)
			if err != nil {
				return err
			}
			opts.AuthorizedKeys = append(opts.AuthorizedKeys, k)
		}
		return nil
	},
	"max_sessions": func(v any, opts *UserOptions) error {
		n, err := asInt(v)
		if err != nil {
			return err
		}
		if n < 1 || n > MaxSessionsCeiling {
			return fmt.Errorf("must be between 1 and %d", MaxSessionsCeiling)
		}
		opts.MaxSessions = n
		return nil
	},
}

func parseUsers(path string, data []byte) (UserStore, error) {
	doc, err := decode(path, data)
	if err != nil {
		return nil, err
	}
	store := UserStore{}
	// A file may spell a user's table as [users.alice], as a dotted key or
	// inline, and md.Keys does not list implicit tables, so each case checks the
	// name itself.
	for _, key := range doc.md.Keys() {
		isTable := doc.md.Type(key...) == "Hash"
		switch {
		case len(key) == 1 && key[0] == "users" && isTable:
		case len(key) >= 2 && key[0] == "users" && !isAccountName(key[1]):
			return nil, doc.errorAt(&keyError{keys: []toml.Key{key}, msg: "the user name " + accountNameRule})
		case len(key) == 2 && key[0] == "users" && isTable:
			if _, ok := store[key[1]]; !ok {
				store[key[1]] = UserOptions{}
			}
		case len(key) == 3 && key[0] == "users" && userKeys[key[2]] != nil:
			if key[2] == "read_only" && doc.md.IsDefined("users", key[1], "permissions") {
				return nil, doc.errorAt(&keyError{keys: []toml.Key{key}, msg: "give either read_only or permissions, not both"})
			}
			opts := store[key[1]]
			if err := userKeys[key[2]](doc.value(key), &opts); err != nil {
				return nil, doc.errorAt(&keyError{keys: []toml.Key{key}, value: formatRaw(doc.value(key)), msg: err.Error()})
			}
			store[key[1]] = opts
		case len(key) <= 2 && key[0] == "users":
			return nil, doc.errorAt(&keyError{keys: []toml.Key{key}, msg: "must be a table"})
		default:
			return nil, doc.errorAt(&keyError{keys: []toml.Key{key}, msg: "unknown key"})
		}
	}
	return store, nil
}

// MarshalUsers writes s as users.toml, users sorted by name and only the options
// that differ from the zero value, so that rewriting an unchanged store gives
// identical bytes.
func MarshalUsers(s UserStore) []byte {
	var buf bytes.Buffer
	buf.WriteString(usersHeader)
	names := make([]string, 0, len(s))
	for name := range s {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		opts := s[name]
		fmt.Fprintf(&buf, "\n[%s]\n", toml.Key{"users", name})
		if opts.Permissions != perm.All {
			fmt.Fprintf(&buf, "permissions = %s\n", strconv.Quote(opts.Permissions.String()))
		}
		if opts.AllowFrom != nil {
			quoted := make([]string, 0, len(opts.AllowFrom))
			for _, s := range opts.AllowFrom.Strings() {
				quoted = append(quoted, strconv.Quote(s))
			}
			fmt.Fprintf(&buf, "allow_from = [%s]\n", strings.Join(quoted, ", "))
		}
		if opts.MaxSessions > 0 {
			fmt.Fprintf(&buf, "max_sessions = %d\n", opts.MaxSessions)
		}
		if len(opts.AuthorizedKeys) > 0 {
			buf.WriteString("authorized_keys = [\n")
			for _, k := range opts.AuthorizedKeys {
				fmt.Fprintf(&buf, "  %s,\n", strconv.Quote(k.String()))
			}
			buf.WriteString("]\n")
		}
	}
	return buf.Bytes()
}

// ParseExpires reads an account expiry as `chage -E` takes it: a date, or "never"
// (the zero time).
func ParseExpires(s string) (time.Time, error) {
	if s == "never" {
		return time.Time{}, nil
	}
	d, err := time.Parse(DateLayout, s)
	if err != nil || d.Year() < 1970 {
		return time.Time{}, fmt.Errorf(`expiry %q is not a date from 1970 on written YYYY-MM-DD, nor "never"`, s)
	}
	return d, nil
}

// ParsePasswordMaxDays reads a maximum password age in days, or "never" (-1), as
// `chage -M` stores it.
func ParsePasswordMaxDays(s string) (int, error) {
	if s == "never" {
		return -1, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxPasswordDays {
		return 0, fmt.Errorf(`maximum password age %q is not a number of days from 1 to %d, nor "never"`, s, MaxPasswordDays)
	}
	return n, nil
}

// ParseMaxSessions reads how many sessions a user may have at once: a number, or
// "none" for no limit of its own (0).
func ParseMaxSessions(s string) (int, error) {
	if s == "none" {
		return 0, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxSessionsCeiling {
		return 0, fmt.Errorf(`session limit %q is not a number from 1 to %d, nor "none"`, s, MaxSessionsCeiling)
	}
	return n, nil
}

// ParseInactive reads the age of `user list --inactive`: days ("90d") or a Go
// duration ("36h").
func ParseInactive(s string) (time.Duration, error) {
	var d time.Duration
	var err error
	if days, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		n, err = strconv.Atoi(days)
		d = time.Duration(n) * 24 * time.Hour
		if n > 100*365 {
			err = errors.New("too long")
		}
	} else {
		d, err = time.ParseDuration(s)
	}
	if err != nil || d <= 0 {
		return 0, fmt.Errorf(`inactivity %q is not a positive number of days such as "90d" or a duration such as "36h"`, s)
	}
	return d, nil
}

// DefaultStateDir holds what the service keeps between runs: the self-signed
// certificate install makes, the users' last logins.
const DefaultStateDir = "/var/lib/jelastic-ftp"

// StateDirEnv overrides DefaultStateDir for the service and ftpctl, for tests.
const StateDirEnv = "JELASTIC_FTP_STATE_DIR"

// StateDir is DefaultStateDir unless StateDirEnv names another.
func StateDir() string { return cmp.Or(os.Getenv(StateDirEnv), DefaultStateDir) }
