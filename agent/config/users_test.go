package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

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
			UserStore{"alice": {ReadOnly: true}, "bob": {}}},
		{"table without options", "[users.carol]\n", UserStore{"carol": {}}},
		{"quoted name", "[users.\"web-dev\"]\nread_only = true\n", UserStore{"web-dev": {ReadOnly: true}}},
		{"dotted key", "users.dave.read_only = true\n", UserStore{"dave": {ReadOnly: true}}},
		{"inline", "users = { eve = { read_only = true } }\n", UserStore{"eve": {ReadOnly: true}}},
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
	s := UserStore{"zed": {}, "alice": {ReadOnly: true}, "bob_1": {}, "web-dev": {ReadOnly: true}}
	want := usersHeader + `
[users.alice]
read_only = true

[users.bob_1]
read_only = false

[users.web-dev]
read_only = true

[users.zed]
read_only = false
`
	data := MarshalUsers(s)
	require.Equal(t, want, string(data))

	for range 5 { // map order varies between calls; the bytes must not
		require.Equal(t, data, MarshalUsers(s))
	}

	got, err := LoadUsers(writeUsers(t, string(data)))
	require.NoError(t, err)
	require.Equal(t, s, got)
	require.Equal(t, data, MarshalUsers(got))
}

func TestMarshalUsersEmpty(t *testing.T) {
	data := MarshalUsers(nil)
	require.Equal(t, usersHeader, string(data))
	got, err := LoadUsers(writeUsers(t, string(data)))
	require.NoError(t, err)
	require.Equal(t, UserStore{}, got)
}
