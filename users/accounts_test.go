package users

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/users/passhash"
)

// A small Debian-like /etc with the oddities a real one carries.
const (
	basePasswd = "root:x:0:0:root:/root:/bin/bash\n# a comment someone left\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n+@netgroup::::::"
	baseShadow = "root:*:20000:0:99999:7:::\nnobody:*:20000:0:99999:7:::\n"
	baseGroup  = "root:x:0:\nusers:x:100:bob,carol\n"
	baseGShad  = "root:*::\nusers:*:carol:bob,carol\n"
)

var now = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

var loopback = netip.MustParseAddr("127.0.0.1")

// anyAddress is the Gate of an account without allow_from.
type anyAddress struct{}

func (anyAddress) Admits(string, netip.Addr) (bool, error) { return true, nil }

// onlyFrom admits every user from one address.
type onlyFrom netip.Addr

func (o onlyFrom) Admits(_ string, client netip.Addr) (bool, error) {
	return client == netip.Addr(o), nil
}

func newEtc(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range map[string]string{"passwd": basePasswd, "shadow": baseShadow, "group": baseGroup, "gshadow": baseGShad} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o640))
	}
	return dir
}

// change runs fn in a transaction and commits it.
func change(t *testing.T, dir string, fn func(tx *Tx) error) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	tx, err := Begin(ctx, dir)
	require.NoError(t, err)
	defer tx.Close()
	if err := fn(tx); err != nil {
		return err
	}
	return tx.Commit()
}

func read(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	require.NoError(t, err)
	return string(b)
}

func hash(t *testing.T, pw string) string {
	t.Helper()
	h, err := passhash.Hash(pw)
	require.NoError(t, err)
	return h
}

func TestAddKeepsUnrelatedLines(t *testing.T) {
	dir := newEtc(t)
	require.NoError(t, change(t, dir, func(tx *Tx) error {
		return tx.Add("alice", "/var/ftp/webroot", hash(t, "pw-alice-1"), now)
	}))
	passwd := read(t, dir, "passwd")
	require.True(t, strings.HasPrefix(passwd, "root:x:0:0:root:/root:/bin/bash\n# a comment someone left\nnobody:"))
	require.Contains(t, passwd, "\nalice:x:700:700:"+GECOS+":/var/ftp/webroot:"+Shell()+"\n+@netgroup::::::", "new entries go before NIS lines")
	require.Contains(t, read(t, dir, "group"), "\njelastic-ftp:x:700:\n")
	require.Contains(t, read(t, dir, "gshadow"), "\njelastic-ftp:!::\n")
	require.Regexp(t, `\nalice:\$6\$[^:]+:20778::::::\n$`, read(t, dir, "shadow"))

	acc, err := Authenticate(dir, "alice", "pw-alice-1", loopback, anyAddress{}, now)
	require.NoError(t, err)
	require.Equal(t, "/var/ftp/webroot", acc.Home)
}

func TestGroupPicksFreeGID(t *testing.T) {
	dir := newEtc(t)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "group"), []byte(baseGroup+"taken:x:700:\n"), 0o644))
	require.NoError(t, change(t, dir, func(tx *Tx) error { return tx.Add("a", "/srv", hash(t, "pw-a-12345"), now) }))
	require.Contains(t, read(t, dir, "group"), "\njelastic-ftp:x:999:\n")
	require.Contains(t, read(t, dir, "passwd"), "\na:x:700:999:")
}

func TestRefusesNonFTPAccounts(t *testing.T) {
	dir := newEtc(t)
	require.NoError(t, change(t, dir, func(tx *Tx) error { return tx.Add("ftp1", "/srv", hash(t, "pw-ftp1-123"), now) }))
	before := read(t, dir, "passwd") + read(t, dir, "shadow")
	for _, name := range []string{"root", "nobody", "ghost"} {
		require.Error(t, change(t, dir, func(tx *Tx) error { return tx.Delete(name) }), name)
		require.Error(t, change(t, dir, func(tx *Tx) error { return tx.SetPassword(name, hash(t, "x-1234567"), now) }), name)
		_, err := Authenticate(dir, name, "anything", loopback, anyAddress{}, now)
		require.ErrorIs(t, err, ErrBadLogin)
	}
	require.Equal(t, before, read(t, dir, "passwd")+read(t, dir, "shadow"))
}

func TestDeleteDropsMemberships(t *testing.T) {
	dir := newEtc(t)
	require.NoError(t, change(t, dir, func(tx *Tx) error { return tx.Add("bob", "/srv", hash(t, "pw-bob-1234"), now) }))
	require.NoError(t, change(t, dir, func(tx *Tx) error { return tx.Delete("bob") }))
	require.Equal(t, "root:x:0:\nusers:x:100:carol\njelastic-ftp:x:700:\n", read(t, dir, "group"))
	require.Equal(t, "root:*::\nusers:*:carol:carol\njelastic-ftp:!::\n", read(t, dir, "gshadow"))
	require.Equal(t, basePasswd+"\n", read(t, dir, "passwd"), "identical after add and delete, but for the final newline a change adds")
	require.Equal(t, baseShadow, read(t, dir, "shadow"))
}

func TestSetPassword(t *testing.T) {
	dir := newEtc(t)
	require.NoError(t, change(t, dir, func(tx *Tx) error { return tx.Add("carol", "/srv", hash(t, "first-pass-1"), now) }))
	// Aging fields set by someone else must survive a password change.
	sh := strings.Replace(read(t, dir, "shadow"), "::::::\n", ":0:90:7:::\n", 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "shadow"), []byte(sh), 0o640))
	later := now.AddDate(0, 0, 10)
	require.NoError(t, change(t, dir, func(tx *Tx) error { return tx.SetPassword("carol", hash(t, "second-pass-2"), later) }))
	require.Regexp(t, `\ncarol:\$6\$[^:]+:20788:0:90:7:::\n$`, read(t, dir, "shadow"))
	_, err := Authenticate(dir, "carol", "second-pass-2", loopback, anyAddress{}, later)
	require.NoError(t, err)
	_, err = Authenticate(dir, "carol", "first-pass-1", loopback, anyAddress{}, later)
	require.ErrorIs(t, err, ErrBadLogin)
}

func TestAuthenticateAging(t *testing.T) {
	h := hash(t, "right-pass-1")
	today := day(now) // 20778
	tests := []struct {
		name   string
		shadow string
		ok     bool // with the password
		key    bool // Admit, for a key: no password, no password aging
	}{
		{"plain", "u:" + h + ":20765::::::", true, true},
		{"locked", "u:!" + h + ":20765::::::", false, false},
		{"star", "u:*:20765::::::", false, true},
		{"empty", "u::20765::::::", false, true},
		{"expired yesterday", "u:" + h + ":20765:::::20777:", false, false},
		{"expires today", "u:" + h + ":20765:::::20778:", false, false},
		{"expires tomorrow", "u:" + h + ":20765:::::20779:", true, true},
		{"must change (0)", "u:" + h + ":0::::::", false, true},
		{"aged out", "u:" + h + ":20765:0:10:7:::", false, true},
		{"last day of max", "u:" + h + ":20768:0:10:7:::", true, true},
		{"no shadow line", "", false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newEtc(t)
			require.NoError(t, os.WriteFile(filepath.Join(dir, "passwd"), []byte(basePasswd+"\nu:x:700:700::/srv:/bin/false\n"), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "group"), []byte(baseGroup+"jelastic-ftp:x:700:\n"), 0o644))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "shadow"), []byte(baseShadow+tt.shadow+"\n"), 0o640))
			_, err := Authenticate(dir, "u", "right-pass-1", loopback, anyAddress{}, now)
			if tt.ok {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrBadLogin)
			}
			_, err = Admit(dir, "u", loopback, anyAddress{}, now)
			if tt.key {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, ErrBadLogin)
			}
			require.Equal(t, int64(20778), today)
		})
	}
}

func TestAddRefusesInjection(t *testing.T) {
	dir := newEtc(t)
	h := hash(t, "pw-inject-1")
	cases := []struct{ name, home, hash string }{
		{"a:b", "/srv", h},
		{"a\nroot", "/srv", h},
		{"ok", "/srv:/bin/sh", h},
		{"ok", "/srv\nevil:x:0:0::/:/bin/sh", h},
		{"ok", "/srv", "plain password"},
		{"ok", "/srv", ""},
		{"ok", "/srv", h + ":0:0"},
	}
	for _, c := range cases {
		require.Error(t, change(t, dir, func(tx *Tx) error { return tx.Add(c.name, c.home, c.hash, now) }), "%q %q %q", c.name, c.home, c.hash)
	}
	require.Equal(t, basePasswd, read(t, dir, "passwd"))
	require.Equal(t, baseShadow, read(t, dir, "shadow"))
	require.Equal(t, baseGroup, read(t, dir, "group"))
}

func TestList(t *testing.T) {
	dir := newEtc(t)
	require.NoError(t, change(t, dir, func(tx *Tx) error {
		if err := tx.Add("zed", "/srv/z", hash(t, "pw-zed-123"), now); err != nil {
			return err
		}
		return tx.Add("amy", "/srv/a", "!", now)
	}))
	list, err := Snapshot(dir)
	require.NoError(t, err)
	require.Len(t, list, 2)
	require.Equal(t, "zed", list[0].Name, "passwd order")
	require.False(t, list[0].Locked)
	require.Equal(t, now.Truncate(24*time.Hour), list[0].PasswordChanged)
	require.True(t, list[1].Locked)
}

func BenchmarkAddDelete10k(b *testing.B) {
	dir := b.TempDir()
	var pw, sh strings.Builder
	pw.WriteString("root:x:0:0:root:/root:/bin/bash\n")
	sh.WriteString("root:*:20000:0:99999:7:::\n")
	for i := range 10000 {
		name := "user" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strconv.Itoa(i)
		pw.WriteString(name + ":x:" + strconv.Itoa(1000+i) + ":100::/home/" + name + ":/bin/sh\n")
		sh.WriteString(name + ":$6$saltsaltsaltsalt$abc:20000:0:99999:7:::\n")
	}
	for name, content := range map[string]string{"passwd": pw.String(), "shadow": sh.String(), "group": baseGroup, "gshadow": baseGShad} {
		require.NoError(b, os.WriteFile(filepath.Join(dir, name), []byte(content), 0o640))
	}
	h := "$6$0123456789abcdef$nJRFgWH0yNvdZCVL9HgnBlnyxVF8e6qI8ypsRoJBhpStPuzcZC9st1iqMlCQPZfs82CNmvNAZRNkEDa1z5M5r1"
	ctx := context.Background()
	run := func(fn func(tx *Tx) error) {
		tx, err := Begin(ctx, dir)
		if err != nil {
			b.Fatal(err)
		}
		if err := fn(tx); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
		tx.Close()
	}
	b.Run("add", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			run(func(tx *Tx) error { return tx.Add("bench"+strconv.Itoa(i), "/srv", h, now) })
		}
	})
	b.Run("passwd", func(b *testing.B) {
		for b.Loop() {
			run(func(tx *Tx) error { return tx.SetPassword("bench0", h, now) })
		}
	})
	b.Run("add+del", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			run(func(tx *Tx) error { return tx.Add("gone", "/srv", h, now) })
			run(func(tx *Tx) error { return tx.Delete("gone") })
		}
	})
}
