package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/internal/testtool"
	"github.com/jelastic/jelastic-ftp/users/perm"
)

// These tests drive what issue 13 asks of the engine with real clients against the
// real service: each permission refused alone while the others work, an account's
// own session limit, and sessions that end when access is taken away.

// putHomeFile writes a file into home as the FTP user's own.
func putHomeFile(t *testing.T, e *Env, home, name, content string) {
	t.Helper()
	p := filepath.Join(home, name)
	require.NoError(t, os.WriteFile(p, []byte(content), 0o644))
	require.NoError(t, os.Chown(p, 700, ftpGID(t, e)))
}

// TestPermissionsEachRefusedAlone: for each permission, a user with every other one
// runs one FTP command per permission with Python's ftplib; exactly the commands
// that need the missing one get a 550 naming it, and change nothing, while the
// others work and FEAT reads the same for every user.
func TestPermissionsEachRefusedAlone(t *testing.T) {
	testtool.Require(t, "python3")
	e := NewEnv(t)
	names := perm.All.Names()
	homes := map[string]string{}
	for _, missing := range names {
		var rest []string
		for _, n := range names {
			if n != missing {
				rest = append(rest, n)
			}
		}
		user := "no" + missing
		homes[user] = addFTPUser(t, e, user, ftpPassword, "--permissions", strings.Join(rest, ","))
	}
	s := startFTP(t, e, nil)
	local := t.TempDir()
	upload := filepath.Join(local, "up.txt")
	require.NoError(t, os.WriteFile(upload, []byte("uploaded"), 0o644))

	steps := []struct {
		step pyStep
		need string
	}{
		{pyCmd("FEAT"), ""},
		{pyLines("LIST"), "list"},
		{pyLines("NLST"), "list"},
		{pyCmd("SIZE f.txt"), "list"},
		{pyRetr("f.txt", filepath.Join(local, "f.txt")), "download"},
		{pyStor("new.txt", upload), "upload"},
		{pyStor("o.txt", upload), "overwrite"},
		{pyStep{"appe", "o.txt", upload, 0}, "overwrite"},
		{pyCmd("DELE d.txt"), "delete"},
		{pyCmd("RNFR r.txt"), "rename"},
		{pyCmd("RNTO r2.txt"), "rename"},
		{pyCmd("MKD newdir"), "mkdir"},
		{pyCmd("RMD empty"), "rmdir"},
		{pyCmd("SITE CHMOD 600 f.txt"), "chmod"},
		{pyCmd("MFMT 20200102030405 f.txt"), "mtime"},
	}
	var feat string
	for _, missing := range names {
		user := "no" + missing
		home := homes[user]
		for name, content := range map[string]string{"f.txt": "hello", "o.txt": "old", "d.txt": "delete me", "r.txt": "rename me"} {
			putHomeFile(t, e, home, name, content)
		}
		require.NoError(t, os.Mkdir(filepath.Join(home, "empty"), 0o755))
		require.NoError(t, os.Chown(filepath.Join(home, "empty"), 700, ftpGID(t, e)))

		all := []pyStep{pyLogin(user, ftpPassword)}
		for _, st := range steps {
			all = append(all, st.step)
		}
		rs := s.ftplib(t, pyConn{}, all...)
		pyOK(t, rs, 0)
		for i, st := range steps {
			r := rs[i+1]
			if st.need == missing {
				require.False(t, r.OK, "%s: step %v passed: %+v", user, st.step, r)
				require.True(t, strings.HasPrefix(r.Error, "550 Permission denied: this account may not "), "%s: step %v: %s", user, st.step, r.Error)
				require.Contains(t, r.Error, `(permission "`+missing+`")`, "%s: step %v", user, st.step)
			} else {
				require.True(t, r.OK, "%s: step %v failed: %+v", user, st.step, r)
			}
		}
		if feat == "" {
			feat = rs[1].Reply
		}
		require.Equal(t, feat, rs[1].Reply, "FEAT does not change per user")

		exists := func(name string) bool {
			_, err := os.Stat(filepath.Join(home, name))
			return err == nil
		}
		require.Equal(t, missing != "upload", exists("new.txt"), "%s: new.txt", user)
		o, err := os.ReadFile(filepath.Join(home, "o.txt"))
		require.NoError(t, err)
		if missing == "overwrite" {
			require.Equal(t, "old", string(o), "%s: o.txt is untouched", user)
		} else {
			require.Equal(t, "uploadeduploaded", string(o), "%s: o.txt was overwritten, then appended to", user)
		}
		require.Equal(t, missing == "delete", exists("d.txt"), "%s: d.txt", user)
		require.Equal(t, missing == "rename", exists("r.txt"), "%s: r.txt", user)
		require.Equal(t, missing != "mkdir", exists("newdir"), "%s: newdir", user)
		require.Equal(t, missing == "rmdir", exists("empty"), "%s: empty", user)
		fi, err := os.Stat(filepath.Join(home, "f.txt"))
		require.NoError(t, err)
		require.Equal(t, missing == "chmod", fi.Mode().Perm() == 0o644, "%s: mode of f.txt is %v", user, fi.Mode().Perm())
		require.Equal(t, missing == "mtime", fi.ModTime().Year() != 2020, "%s: mtime of f.txt is %v", user, fi.ModTime())
	}
}

// TestAccountMaxSessions: --max-sessions 1 refuses a second session at login with a
// 421 that says why, and lets one in again once the first has ended.
func TestAccountMaxSessions(t *testing.T) {
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword, "--max-sessions", "1")
	s := startFTP(t, e, nil)
	first := dialRaw(t, s.Addr, "")
	first.login("alice", ftpPassword)
	second := dialRaw(t, s.Addr, "")
	second.expect(331, "USER alice")
	require.Equal(t, "Too many sessions for this user, try again later.", second.expect(421, "PASS %s", ftpPassword))
	first.expect(221, "QUIT")
	first.waitClosed(5 * time.Second)
	require.True(t, waitFor(5*time.Second, func() bool {
		c := dialRaw(t, s.Addr, "")
		c.expect(331, "USER alice")
		code, _ := c.do("PASS %s", ftpPassword)
		return code == 230
	}), "a session again once the first ended")
}

// TestLoginOverTLSRecordedAsFTPS: the last login says ftps for a TLS session, ftp for
// a clear one.
func TestLoginOverTLSRecordedAsFTPS(t *testing.T) {
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	addFTPUser(t, e, "bob", ftpPassword)
	s := startFTP(t, e, nil)
	require.Equal(t, 0, s.curl(t, "alice", ftpPassword, "", curlTLS...).Code)
	require.Equal(t, 0, s.curl(t, "bob", ftpPassword, "").Code)
	protocol := func(user string) string {
		if l := e.showUser(user).LastLogin; l != nil {
			return l.Protocol
		}
		return ""
	}
	require.True(t, waitFor(10*time.Second, func() bool { return protocol("alice") != "" && protocol("bob") != "" }), "last logins recorded")
	require.Equal(t, "ftps", protocol("alice"))
	require.Equal(t, "ftp", protocol("bob"))
}

// endWithin is how soon a session ends once access is taken away.
const endWithin = 2 * time.Second

// uploadingSession logs alice in from 127.0.0.1 and starts replacing big.bin, whose
// old content it returns, with an upload that stays in progress.
func uploadingSession(t *testing.T, s *ftpServer, home string, e *Env) (*rawFTP, string) {
	t.Helper()
	old := randomFile(t, home, "big.bin", 1<<20)
	require.NoError(t, os.Chown(old, 700, ftpGID(t, e)))
	want := fileSHA256(t, old)
	c := dialRaw(t, s.Addr, "127.0.0.1")
	c.login("alice", ftpPassword)
	c.expect(200, "TYPE I")
	data := c.passive()
	c.expect(150, "STOR big.bin")
	chunk := make([]byte, 256<<10)
	_, err := data.Write(chunk)
	require.NoError(t, err)
	return c, want
}

// requireNoLeftovers waits for the home to hold only the files named: an upload cut
// short leaves nothing behind.
func requireNoLeftovers(t *testing.T, home string, names ...string) {
	t.Helper()
	var got []string
	ok := waitFor(5*time.Second, func() bool {
		entries, err := os.ReadDir(home)
		require.NoError(t, err)
		got = got[:0]
		for _, en := range entries {
			got = append(got, en.Name())
		}
		slices.Sort(got)
		return slices.Equal(got, names)
	})
	require.True(t, ok, "home holds %v, want %v", got, names)
}

// TestAccessTakenAwayEndsSessions: deleting, disabling, narrowing the addresses of,
// moving the home of, taking a permission from and changing the password of a user
// each end its live session within 2 seconds, with the upload in progress discarded
// and the old file byte-identical; a session from an address the new allow-from
// admits goes on, and so does one whose password changes with --keep-sessions.
func TestAccessTakenAwayEndsSessions(t *testing.T) {
	requireShadowTools(t)
	const changed = "The access of this account was changed; log in again."
	tests := []struct {
		name   string
		change func(e *Env) []string // ftpctl's arguments
		stdin  string
		reply  string // the 421's text
		kept   bool   // the session from 127.0.0.2 goes on
	}{
		{"deleted", func(*Env) []string { return []string{"user", "del", "alice"} }, "", "This account was deleted; closing the session.", false},
		{"disabled", func(*Env) []string { return []string{"user", "mod", "alice", "--disable"} }, "", "This account may no longer log in; closing the session.", false},
		{"narrowed", func(*Env) []string { return []string{"user", "mod", "alice", "--allow-from", "127.0.0.2"} }, "", changed, true},
		{"read-only", func(*Env) []string { return []string{"user", "mod", "alice", "--read-only"} }, "", changed, false},
		{"new home", func(e *Env) []string {
			return []string{"user", "mod", "alice", "--home", filepath.Join(e.Root, "elsewhere")}
		}, "", changed, false},
		{"password", func(*Env) []string { return []string{"user", "passwd", "alice", "--password-stdin"} }, "Another-Secret-7\n", "The password of this account was changed; log in again with the new one.", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := NewEnv(t)
			home := addFTPUser(t, e, "alice", ftpPassword)
			s := startFTP(t, e, nil)
			c, want := uploadingSession(t, s, home, e)
			other := dialRaw(t, s.Addr, "127.0.0.2")
			other.login("alice", ftpPassword)

			r := e.Ftpctl(tt.stdin, tt.change(e)...)
			require.Equal(t, 0, r.Code, r.String())
			require.Contains(t, r.Stdout, "ended its", "ftpctl says it ended sessions")
			got := c.waitClosed(endWithin)
			require.Contains(t, got, "421 "+tt.reply)
			requireNoLeftovers(t, home, "big.bin")
			require.Equal(t, want, fileSHA256(t, filepath.Join(home, "big.bin")), "the old file stays as it was")

			if tt.kept {
				other.expect(200, "NOOP") // 127.0.0.2 is still admitted
				require.Contains(t, r.Stdout, "ended its live session\n")
			} else {
				require.Contains(t, other.waitClosed(endWithin), "421 "+tt.reply)
				require.Contains(t, r.Stdout, "ended its 2 live sessions")
			}
		})
	}
}

// TestPasswdKeepSessions: `user passwd --keep-sessions` changes the password and lets
// the live session go on; the new password is what logs in next.
func TestPasswdKeepSessions(t *testing.T) {
	requireShadowTools(t)
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	s := startFTP(t, e, nil)
	c := dialRaw(t, s.Addr, "")
	c.login("alice", ftpPassword)
	r := e.Ftpctl("Another-Secret-7\n", "user", "passwd", "alice", "--password-stdin", "--keep-sessions")
	require.Equal(t, 0, r.Code, r.String())
	require.Equal(t, "password of alice changed\n", r.Stdout)
	c.expect(200, "NOOP")
	require.Equal(t, 0, s.curl(t, "alice", "Another-Secret-7", "").Code)
}

// TestEndSessionsServiceStopped: with no service running, a change that would end
// sessions is made and says nothing about them.
func TestEndSessionsServiceStopped(t *testing.T) {
	requireShadowTools(t)
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	r := e.Ftpctl("", "user", "mod", "alice", "--disable")
	require.Equal(t, 0, r.Code, r.String())
	require.Equal(t, "changed FTP user alice\n", r.Stdout)
	require.Empty(t, r.Stderr)
	require.True(t, e.showUser("alice").Disabled)
}
