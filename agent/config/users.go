package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"

	"github.com/BurntSushi/toml"
)

// DefaultUsersPath is where the agent keeps per-user options.
const DefaultUsersPath = "/etc/jelastic-ftp/users.toml"

// UserOptions are the per-user settings that /etc/passwd and /etc/shadow cannot
// hold. The zero value is what a user without an entry gets.
type UserOptions struct {
	ReadOnly bool // may download and list, but change nothing
}

// UserStore maps FTP user names to their options.
type UserStore map[string]UserOptions

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
		case len(key) == 2 && key[0] == "users" && isTable:
			if !isAccountName(key[1]) {
				return nil, doc.errorAt(&keyError{keys: []toml.Key{key}, msg: "the user name " + accountNameRule})
			}
			if _, ok := store[key[1]]; !ok {
				store[key[1]] = UserOptions{}
			}
		case len(key) == 3 && key[0] == "users" && key[2] == "read_only":
			if !isAccountName(key[1]) {
				return nil, doc.errorAt(&keyError{keys: []toml.Key{key}, msg: "the user name " + accountNameRule})
			}
			readOnly, err := asBool(doc.value(key))
			if err != nil {
				return nil, doc.errorAt(&keyError{keys: []toml.Key{key}, value: formatRaw(doc.value(key)), msg: err.Error()})
			}
			opts := store[key[1]]
			opts.ReadOnly = readOnly
			store[key[1]] = opts
		case len(key) <= 2 && key[0] == "users":
			return nil, doc.errorAt(&keyError{keys: []toml.Key{key}, msg: "must be a table"})
		default:
			return nil, doc.errorAt(&keyError{keys: []toml.Key{key}, msg: "unknown key"})
		}
	}
	return store, nil
}

// MarshalUsers writes s as users.toml, users sorted by name, so that rewriting an
// unchanged store gives identical bytes.
func MarshalUsers(s UserStore) []byte {
	var buf bytes.Buffer
	buf.WriteString(usersHeader)
	names := make([]string, 0, len(s))
	for name := range s {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(&buf, "\n[%s]\nread_only = %t\n", toml.Key{"users", name}, s[name].ReadOnly)
	}
	return buf.Bytes()
}
