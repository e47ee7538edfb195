package config

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/users/allowfrom"
	"github.com/jelastic/jelastic-ftp/users/authkeys"
	"github.com/jelastic/jelastic-ftp/users/perm"
)

var readOnly = UserOptions{Permissions: perm.ReadOnly}

func writeUsers(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users.toml")
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	return path
}

func TestLoadUsersMissingFile(t *testing.T) {
	s, err := LoadUsers(filepath.Join(t.TempDir(), "users.toml"))
	require.NoError(t, err)
	require.NotNil(t, s)
	require.Empty(t, s)
}

func TestLoadUsers(t *testing.T) {
	tests := []struct {
		name string
		file string
		want UserStore
	}{
		{"empty", "", UserStore{}},
		{"header only", usersHeader, UserStore{}},
		{"empty users table", "[users]\n", UserStore{}},
		{"tables", "[users.alice]\nread_only = true\n\n[users.bob]\nread_only = false\n",
			UserStore{"alice": readOnly, "bob": {}}},
		{"table without options", "[users.carol]\n", UserStore{"carol": {}}},
		{"quoted name", "[users.\"web-dev\"]\nread_only = true\n", UserStore{"web-dev": readOnly}},
		{"dotted key", "users.dave.read_only = true\n", UserStore{"dave": readOnly}},
		{"inline", "users = { eve = { read_only = true } }\n", UserStore{"eve": readOnly}},
		{"permissions", "[users.fay]\npermissions = \"download, list\"\n", UserStore{"fay": readOnly}},
		{"all permissions", "[users.gil]\npermissions = \"*\"\n", UserStore{"gil": {}}},
		{"allow_from", "[users.hal]\nallow_from = [\"10.0.0.0/8\", \"::1\"]\n",
			UserStore{"hal": {AllowFrom: allowfrom.List{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("::1/128")}}}},
		{"max_sessions", "[users.ida]\nmax_sessions = 3\n", UserStore{"ida": {MaxSessions: 3}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadUsers(writeUsers(t, tt.file))
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestLoadUsersErrorsNameTheLine(t *testing.T) {
	tests := []struct {
		name string
		file string
		want string // after the path
	}{
		{"syntax", "# x\n[users.alice\n", ":2: not valid TOML: "},
		{"unknown option", "# x\n[users.alice]\nread_only = true\nhidden = true\n", `:4: users.alice.hidden: unknown key`},
		{"unknown top-level key", "# x\nversion = 2\n", `:2: version: unknown key`},
		{"unknown table", "# x\n[groups.web]\n", `:2: groups.web: unknown key`},
		{"bad type", "# x\n[users.alice]\nread_only = \"yes\"\n", `:3: users.alice.read_only: "yes": must be true or false, not a string`},
		{"users not a table", "# x\nusers = 1\n", `:2: users: must be a table`},
		{"user not a table", "# x\n[users]\nalice = true\n", `:3: users.alice: must be a table`},
		{"bad user name", "# x\n\n[users.Alice]\n", `:3: users.Alice: the user name ` + accountNameRule},
		{"bad permission", "# x\n[users.alice]\npermissions = \"list,fly\"\n", `:3: users.alice.permissions: "list,fly": unknown permission "fly": use ` + perm.Valid},
		{"empty permissions", "# x\n[users.alice]\npermissions = \"\"\n", `:3: users.alice.permissions: "": the permission list is empty; give at least one of ` + perm.Valid},
		{"both read_only and permissions", "# x\n[users.alice]\npermissions = \"list\"\nread_only = true\n", `:4: users.alice.read_only: give either read_only or permissions, not both`},
		{"allow_from not an array", "# x\n[users.alice]\nallow_from = \"10.0.0.1\"\n", `:3: users.alice.allow_from: "10.0.0.1": must be a non-empty array of addresses and CIDR blocks in double quotes, such as ["10.0.0.0/8"], not a string`},
		{"allow_from empty", "# x\n[users.alice]\nallow_from = []\n", `:3: users.alice.allow_from: must be a non-empty array of addresses and CIDR blocks in double quotes, such as ["10.0.0.0/8"], not an array`},
		{"allow_from bad block", "# x\n[users.alice]\nallow_from = [\"10.0.0.1/8\"]\n", `:3: users.alice.allow_from: "10.0.0.1/8" has address bits set beyond its /8; did you mean 10.0.0.0/8?`},
		{"allow_from number", "# x\n[users.alice]\nallow_from = [1]\n", `:3: users.alice.allow_from: must be a string in double quotes, not a whole number`},
		{"max_sessions zero", "# x\n[users.alice]\nmax_sessions = 0\n", `:3: users.alice.max_sessions: 0: must be between 1 and 100000`},
		{"max_sessions string", "# x\n[users.alice]\nmax_sessions = \"2\"\n", `:3: users.alice.max_sessions: "2": must be a whole number, not a string`},
		{"authorized_keys not an array", "# x\n[users.alice]\nauthorized_keys = \"ssh-ed25519 AAAA\"\n", `:3: users.alice.authorized_keys: "ssh-ed25519 AAAA": must be an array of OpenSSH public key lines in quotes, not a string`},
		{"authorized_keys with a command", "# x\n[users.alice]\nauthorized_keys = ['command=\"ls\" " + testKey + "']\n", `:3: users.alice.authorized_keys: the option command is not accepted: only from="…" is, as SFTP offers no shell, command or forwarding`},
		{"bad user name dotted", "# x\nusers.\"a b\".read_only = true\n", `:2: users."a b".read_only: the user name ` + accountNameRule},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeUsers(t, tt.file)
			_, err := LoadUsers(path)
			require.Error(t, err)
			if tt.name == "syntax" {
				require.Contains(t, err.Error(), path+tt.want)
			} else {
				require.EqualError(t, err, path+tt.want)
			}
		})
	}
}

func TestMarshalUsers(t *testing.T) {
	s := UserStore{
		"zed": {}, "alice": readOnly, "bob_1": {MaxSessions: 2},
		"web-dev": {Permissions: perm.Of(perm.List, perm.Upload), AllowFrom: allowfrom.List{netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::/32")}},
		"keyed":   {AuthorizedKeys: []authkeys.Key{mustKey(t, testKey+" laptop"), mustKey(t, `from="10.0.0.0/8" `+testKey)}},
	}
	want := usersHeader + `
[users.alice]
permissions = "list,download"

[users.bob_1]
max_sessions = 2

[users.keyed]
authorized_keys = [
  "` + testKey + ` laptop",
  "from=\"10.0.0.0/8\" ` + testKey + `",
]

[users.web-dev]
permissions = "list,upload"
allow_from = ["192.0.2.7", "2001:db8::/32"]

[users.zed]
`
	data := MarshalUsers(s)
	require.Equal(t, want, string(data))

	for range 5 { // map order varies between calls; the bytes must not
		require.Equal(t, data, MarshalUsers(s))
	}

	got, err := LoadUsers(writeUsers(t, string(data)))
	require.NoError(t, err)
	require.Equal(t, data, MarshalUsers(got))
	require.Equal(t, s["keyed"].AuthorizedKeys[1].String(), got["keyed"].AuthorizedKeys[1].String())
	delete(s, "keyed")
	delete(got, "keyed") // parsed keys hold their wire bytes in another form
	require.Equal(t, s, got)
}

// testKey is an Ed25519 public key line without a comment.
const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIO/wGCBEvrugAhlo33tzVLOi+I+7eGWx/ZFPoB/F9/1M"

func mustKey(t *testing.T, line string) authkeys.Key {
	t.Helper()
	k, err := authkeys.Parse(line)
	require.NoError(t, err)
	return k
}

func TestMarshalUsersEmpty(t *testing.T) {
	data := MarshalUsers(nil)
	require.Equal(t, usersHeader, string(data))
	got, err := LoadUsers(writeUsers(t, string(data)))
	require.NoError(t, err)
	require.Equal(t, UserStore{}, got)
}

func TestUsersFileAdmits(t *testing.T) {
	path := writeUsers(t, "[users.alice]\nallow_from = [\"127.0.0.2\"]\n[users.bob]\n")
	tests := []struct {
		user, client string
		want         bool
	}{
		{"alice", "127.0.0.2", true},
		{"alice", "127.0.0.1", false},
		{"alice", "::ffff:127.0.0.2", true},
		{"bob", "127.0.0.1", true},
		{"nobody-on-file", "192.0.2.1", true},
	}
	for _, tt := range tests {
		ok, err := UsersFile(path).Admits(tt.user, netip.MustParseAddr(tt.client))
		require.NoError(t, err)
		require.Equal(t, tt.want, ok, "%s from %s", tt.user, tt.client)
	}
	_, err := UsersFile(writeUsers(t, "[users.alice]\nallow_from = 1\n")).Admits("alice", netip.MustParseAddr("127.0.0.1"))
	require.Error(t, err, "a broken file admits nobody")
	require.Equal(t, UsersFile("/etc/jelastic-ftp/users.toml"), UsersBeside("/etc/jelastic-ftp/ftpd.toml"))
}

// parseCase is one input of a Parse function: the value it gives, or that it fails.
type parseCase[T any] struct {
	in   string
	want T
	ok   bool
}

func checkParse[T any](t *testing.T, parse func(string) (T, error), cases []parseCase[T]) {
	t.Helper()
	for _, tt := range cases {
		got, err := parse(tt.in)
		require.Equal(t, tt.ok, err == nil, "%q: %v", tt.in, err)
		require.Equal(t, tt.want, got, tt.in)
	}
}

func TestParseUserValues(t *testing.T) {
	date := func(s string) time.Time { d, _ := time.Parse(DateLayout, s); return d }
	checkParse(t, ParseExpires, []parseCase[time.Time]{
		{"never", time.Time{}, true}, {"2027-01-31", date("2027-01-31"), true}, {"1970-01-01", date("1970-01-01"), true},
		{"1969-12-31", time.Time{}, false}, {"2027-02-30", time.Time{}, false}, {"31.01.2027", time.Time{}, false}, {"", time.Time{}, false}, {"-1", time.Time{}, false},
	})
	checkParse(t, ParsePasswordMaxDays, []parseCase[int]{
		{"never", -1, true}, {"1", 1, true}, {"99999", 99999, true},
		{"0", 0, false}, {"100000", 0, false}, {"-1", 0, false}, {"30d", 0, false}, {"", 0, false},
	})
	checkParse(t, ParseMaxSessions, []parseCase[int]{
		{"none", 0, true}, {"1", 1, true}, {"100000", 100000, true},
		{"0", 0, false}, {"100001", 0, false}, {"two", 0, false}, {"", 0, false},
	})
	checkParse(t, ParseInactive, []parseCase[time.Duration]{
		{"90d", 90 * 24 * time.Hour, true}, {"36h", 36 * time.Hour, true},
		{"0d", 0, false}, {"-3d", 0, false}, {"d", 0, false}, {"90", 0, false}, {"99999d", 0, false},
	})
}
