package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/agent"
	"github.com/jelastic/jelastic-ftp/internal/testtool"
	"github.com/jelastic/jelastic-ftp/users/perm"
)

// These tests drive the account options of `ftpctl user add/mod` against the real
// shadow-utils (usermod, passwd, chage) and the real service: each option must refuse
// or admit logins of real clients, and each tool must see what the other changed.

// loginFrom logs in as user with curl from the local address from and reports
// whether the server accepted the login (curl exit 67 is a refused login).
func (s *ftpServer) loginFrom(t *testing.T, user, from string) bool {
	t.Helper()
	r := s.curl(t, user, ftpPassword, "", "--interface", from)
	require.Contains(t, []int{0, 67}, r.Code, "curl: %s", r)
	return r.Code == 0
}

// showUser is `ftpctl user show NAME --json`.
func (e *Env) showUser(name string) agent.UserJSON {
	e.t.Helper()
	r := e.Ftpctl("", "user", "show", name, "--json")
	require.Equal(e.t, 0, r.Code, r.Stderr)
	var u agent.UserJSON
	require.NoError(e.t, json.Unmarshal([]byte(r.Stdout), &u), r.Stdout)
	return u
}

// shadowHash is name's password field in the test's /etc/shadow.
func (e *Env) shadowHash(name string) string {
	e.t.Helper()
	m := regexp.MustCompile(`(?m)^` + name + `:([^:]*):`).FindStringSubmatch(e.ReadEtc("shadow"))
	require.NotNil(e.t, m, "no shadow line for %s", name)
	return m[1]
}

// passwdStatus is the status letter of `passwd -S NAME`: L locked, P usable, NP none.
func (e *Env) passwdStatus(name string) string {
	e.t.Helper()
	return strings.Fields(e.MustRun("", "passwd", "-S", name).Stdout)[1]
}

// chageField is a line of `chage -l NAME`, such as "Account expires", as a date
// (YYYY-MM-DD) or "never".
func (e *Env) chageField(name, field string) string {
	e.t.Helper()
	out := e.MustRun("", "chage", "-l", name).Stdout
	m := regexp.MustCompile(`(?m)^` + field + `\s*:\s*(.+)$`).FindStringSubmatch(out)
	require.NotNil(e.t, m, "chage -l %s has no %q:\n%s", name, field, out)
	if m[1] == "never" {
		return "never"
	}
	d, err := time.Parse("Jan 02, 2006", m[1])
	require.NoError(e.t, err)
	return d.Format(time.DateOnly)
}

func (e *Env) mod(name string, args ...string) {
	e.t.Helper()
	r := e.Ftpctl("", append([]string{"user", "mod", name}, args...)...)
	require.Equal(e.t, 0, r.Code, "ftpctl user mod %s %v: %s", name, args, r.Stderr)
}

func requireShadowTools(t *testing.T) {
	t.Helper()
	testtool.Require(t, "curl")
	for _, tool := range []string{"usermod", "passwd", "chage"} {
		testtool.Require(t, tool)
	}
}

// aliceServer is a world with the FTP account alice and a running service.
func aliceServer(t *testing.T) (*Env, *ftpServer) {
	t.Helper()
	requireShadowTools(t)
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	return e, startFTP(t, e, nil)
}

// TestAccountDisable: usermod -L and ftpctl's --disable are one lock, each refusing
// the login and each seen by the other tool; enabling gives back the same hash.
func TestAccountDisable(t *testing.T) {
	e, s := aliceServer(t)
	hash := e.shadowHash("alice")
	require.True(t, s.loginFrom(t, "alice", "127.0.0.1"))

	e.MustRun("", "usermod", "-L", "alice")
	require.False(t, s.loginFrom(t, "alice", "127.0.0.1"), "login after usermod -L")
	require.True(t, e.showUser("alice").Disabled, "user show sees usermod -L")
	e.mod("alice", "--enable")
	require.Equal(t, "P", e.passwdStatus("alice"), "passwd -S sees --enable")
	require.Equal(t, hash, e.shadowHash("alice"))
	require.True(t, s.loginFrom(t, "alice", "127.0.0.1"))

	mark := len(s.Log())
	e.mod("alice", "--disable")
	require.Equal(t, "L", e.passwdStatus("alice"), "passwd -S sees --disable")
	require.Equal(t, "!"+hash, e.shadowHash("alice"), "the hash is kept behind the lock")
	require.False(t, s.loginFrom(t, "alice", "127.0.0.1"), "login after --disable")
	s.waitLog(mark, `msg="login refused"`, "user=alice", `reason="account disabled"`)
	u := e.showUser("alice")
	require.True(t, u.Disabled)
	require.True(t, u.Locked)

	e.MustRun("", "usermod", "-U", "alice")
	require.False(t, e.showUser("alice").Disabled, "user show sees usermod -U")
	require.Equal(t, hash, e.shadowHash("alice"))
	require.True(t, s.loginFrom(t, "alice", "127.0.0.1"))
}

// TestAccountExpiry: chage -E and --expires write the same field, both refuse the
// login, and chage -l and user show agree on the date.
func TestAccountExpiry(t *testing.T) {
	e, s := aliceServer(t)

	e.MustRun("", "chage", "-E", "yesterday", "alice")
	require.False(t, s.loginFrom(t, "alice", "127.0.0.1"), "login after chage -E yesterday")
	u := e.showUser("alice")
	require.True(t, u.Expired)
	require.NotNil(t, u.Expires)
	require.Equal(t, e.chageField("alice", "Account expires"), *u.Expires)

	e.mod("alice", "--expires", "never")
	require.Equal(t, "never", e.chageField("alice", "Account expires"))
	require.True(t, s.loginFrom(t, "alice", "127.0.0.1"))

	yesterday := time.Now().UTC().AddDate(0, 0, -1).Format(time.DateOnly)
	e.mod("alice", "--expires", yesterday)
	require.Equal(t, yesterday, e.chageField("alice", "Account expires"))
	require.False(t, s.loginFrom(t, "alice", "127.0.0.1"), "login after --expires yesterday")
	require.Equal(t, yesterday, *e.showUser("alice").Expires)

	nextYear := time.Now().UTC().AddDate(1, 0, 0).Format(time.DateOnly)
	e.mod("alice", "--expires", nextYear)
	require.Equal(t, nextYear, e.chageField("alice", "Account expires"))
	require.False(t, e.showUser("alice").Expired)
	require.True(t, s.loginFrom(t, "alice", "127.0.0.1"))
}

// TestAccountPasswordAge: a password older than chage -M or --password-max-days
// allows does not log in, and user show says since when.
func TestAccountPasswordAge(t *testing.T) {
	e, s := aliceServer(t)

	e.MustRun("", "chage", "-d", "2020-01-01", "-M", "1", "alice")
	require.False(t, s.loginFrom(t, "alice", "127.0.0.1"), "login with a password aged out under chage -M 1")
	u := e.showUser("alice")
	require.True(t, u.PasswordAgedOut)
	require.Equal(t, 1, *u.PasswordMaxDays)
	require.Equal(t, "2020-01-02", *u.PasswordExpires)
	require.Equal(t, e.chageField("alice", "Password expires"), *u.PasswordExpires)
	show := e.Ftpctl("", "user", "show", "alice").Stdout
	require.Regexp(t, `(?m)^password expires:\s+2020-01-02 \(aged out: refused since 2020-01-03\)$`, show)
	require.Regexp(t, `(?m)^state:\s+aged out$`, show)

	e.mod("alice", "--password-max-days", "never")
	require.Equal(t, "never", e.chageField("alice", "Password expires"))
	require.True(t, s.loginFrom(t, "alice", "127.0.0.1"))

	e.mod("alice", "--password-max-days", "30")
	require.Regexp(t, `Maximum number of days between password change\s*:\s*30\n`, e.MustRun("", "chage", "-l", "alice").Stdout)
	require.False(t, s.loginFrom(t, "alice", "127.0.0.1"), "a password set in 2020 is older than 30 days")
	// A new password restarts the clock.
	r := e.Ftpctl(ftpPassword+"\n", "user", "passwd", "alice", "--password-stdin")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.True(t, s.loginFrom(t, "alice", "127.0.0.1"))
}

// passwordChecks is how many hashes the running monitor has computed.
func (e *Env) passwordChecks() uint64 {
	e.t.Helper()
	r := e.Ftpctl("", "status", "--json")
	var st struct {
		Service *struct {
			PasswordChecks *uint64 `json:"password_checks"`
		} `json:"service"`
	}
	require.NoError(e.t, json.Unmarshal([]byte(r.Stdout), &st), r.String())
	require.NotNil(e.t, st.Service, "status reached no service: %s", r)
	require.NotNil(e.t, st.Service.PasswordChecks)
	return *st.Service.PasswordChecks
}

// TestAccountAllowFrom: an address outside --allow-from is refused before any hash is
// computed and counts towards the address's ban; an address inside logs in, and the
// last login shows it.
func TestAccountAllowFrom(t *testing.T) {
	requireShadowTools(t)
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword, "--allow-from", "127.0.0.2")
	addFTPUser(t, e, "idle", ftpPassword)
	e.MustRun("", "chage", "-d", "2020-01-01", "idle")
	s := startFTP(t, e, ftpConf{
		"limits.ban_after_failures": "2",
		"limits.ban_window":         `"1m"`,
		"limits.ban_duration":       `"10m"`,
	})
	require.Nil(t, e.showUser("alice").LastLogin)

	before := e.passwordChecks()
	mark := len(s.Log())
	require.False(t, s.loginFrom(t, "alice", "127.0.0.1"), "login from outside allow_from")
	s.waitLog(mark, `msg="login refused"`, "user=alice", "client=127.0.0.1", "127.0.0.1 is not in the account's allow_from")
	require.Equal(t, before, e.passwordChecks(), "a refused address cost a hash")

	require.True(t, s.loginFrom(t, "alice", "127.0.0.2"), "login from inside allow_from")
	require.Equal(t, before+1, e.passwordChecks(), "the admitted login is checked once")
	var last *agent.UserJSON
	require.True(t, waitFor(10*time.Second, func() bool {
		u := e.showUser("alice")
		last = &u
		return u.LastLogin != nil
	}), "no last login recorded")
	require.Equal(t, "127.0.0.2", last.LastLogin.Address)
	require.Equal(t, "ftp", last.LastLogin.Protocol)
	require.WithinDuration(t, time.Now(), last.LastLogin.Time, time.Minute)
	require.Regexp(t, `(?m)^alice\s.*\sfrom 127\.0\.0\.2 \(ftp\)`, e.Ftpctl("", "user", "list").Stdout)

	// The account used just now is not inactive; the one whose password was set in
	// 2020 and never logged in is.
	r := e.Ftpctl("", "user", "list", "--inactive", "90d", "--json")
	require.Equal(t, 0, r.Code, r.Stderr)
	var inactive []agent.UserJSON
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &inactive))
	require.Len(t, inactive, 1)
	require.Equal(t, "idle", inactive[0].User)

	// A second refusal from 127.0.0.1 reaches ban_after_failures: the address is
	// banned even for an account it may use.
	require.False(t, s.loginFrom(t, "alice", "127.0.0.1"))
	s.waitLog(mark, "client banned after repeated failed logins", "client=127.0.0.1")
	e.mod("alice", "--allow-from", "any")
	requireBannedAtAccept(t, s.Addr, "127.0.0.1")
	require.True(t, s.loginFrom(t, "alice", "127.0.0.3"), "any address after --allow-from any")
}

// TestAccountMod changes several settings at once, sees them in passwd, users.toml,
// user list and user show, and the service applies them to the next login.
func TestAccountMod(t *testing.T) {
	requireShadowTools(t)
	e := NewEnv(t)
	oldHome := addFTPUser(t, e, "alice", ftpPassword)
	addFTPUser(t, e, "bob", ftpPassword, "--read-only", "--description", "Bob from accounting", "--max-sessions", "2", "--disable")
	require.NoError(t, os.WriteFile(filepath.Join(oldHome, "keep.txt"), []byte("stays"), 0o644))
	s := startFTP(t, e, nil)
	local := t.TempDir()
	src := randomFile(t, local, "up.bin", 1024)

	newHome := filepath.Join(e.Root, "sites", "alice")
	e.mod("alice", "--home", newHome, "--permissions", "list,download", "--description", "Alice (design)",
		"--max-sessions", "3", "--expires", "2099-12-31", "--password-max-days", "365", "--allow-from", "127.0.0.0/8,::1")
	require.Equal(t, []string{"alice", "x", "700", strconv.Itoa(ftpGID(t, e)), "Alice (design)", newHome}, e.passwdEntry("alice")[:6])
	require.DirExists(t, newHome)
	require.FileExists(t, filepath.Join(oldHome, "keep.txt"), "files stay in the old home")
	require.Contains(t, e.ReadEtc("jelastic-ftp/users.toml"), "[users.alice]\npermissions = \"list,download\"\nallow_from = [\"127.0.0.0/8\", \"::1\"]\nmax_sessions = 3\n")
	u := e.showUser("alice")
	require.Equal(t, perm.ReadOnly, u.Permissions)
	require.True(t, u.ReadOnly)
	require.Equal(t, []string{"127.0.0.0/8", "::1"}, u.AllowFrom)
	require.Equal(t, 3, *u.MaxSessions)
	require.Equal(t, "2099-12-31", *u.Expires)
	require.Equal(t, 365, *u.PasswordMaxDays)
	require.Equal(t, "Alice (design)", u.Description)

	// The next login lands in the new home and may not upload.
	r := s.curl(t, "alice", ftpPassword, "")
	require.Equal(t, 0, r.Code, r.String())
	require.NotContains(t, r.Stdout, "keep.txt")
	r = s.curl(t, "alice", ftpPassword, "up.bin", "-T", src)
	require.NotEqual(t, 0, r.Code, "upload with list,download: %s", r)
	e.mod("alice", "--read-write")
	require.Contains(t, e.ReadEtc("jelastic-ftp/users.toml"), "[users.alice]\nallow_from", "every permission is the default, not written")
	r = s.curl(t, "alice", ftpPassword, "up.bin", "-T", src)
	require.Equal(t, 0, r.Code, r.String())
	require.FileExists(t, filepath.Join(newHome, "up.bin"))

	// The JSON keys are snake_case, the same for list and show.
	r = e.Ftpctl("", "user", "list", "--json")
	require.Equal(t, 0, r.Code, r.Stderr)
	var raw []map[string]any
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &raw))
	require.Len(t, raw, 2)
	for _, key := range []string{"user", "home", "description", "permissions", "read_only", "disabled", "locked", "expires", "expired",
		"last_password_change", "password_max_days", "password_expires", "password_aged_out", "allow_from", "max_sessions", "last_login"} {
		require.Contains(t, raw[1], key)
	}
	require.Equal(t, "bob", raw[1]["user"])
	require.Equal(t, "list,download", raw[1]["permissions"])
	require.Equal(t, true, raw[1]["disabled"])
	require.Equal(t, 2.0, raw[1]["max_sessions"])
	require.Nil(t, raw[1]["allow_from"], "null: any address")
	require.Nil(t, raw[1]["last_login"])

	var table string
	require.True(t, waitFor(10*time.Second, func() bool {
		table = e.Ftpctl("", "user", "list").Stdout
		return strings.Contains(table, "from 127.0.0.1")
	}), "no last login in:\n%s", table)
	require.Regexp(t, `(?m)^USER\s+HOME\s+PERMISSIONS\s+STATE\s+EXPIRES\s+LAST LOGIN\s+DESCRIPTION$`, table)
	require.Regexp(t, `(?m)^bob\s+\S+/bob\s+list,download\s+disabled\s+never\s+never\s+Bob from accounting$`, table)
	require.Regexp(t, `(?m)^alice\s+\S+/sites/alice\s+\*\s+active\s+2099-12-31\s+\S+ \S+ from 127\.0\.0\.1 \(ftp\)\s+Alice \(design\)$`, table)

	// status counts the disabled and expired accounts.
	e.MustRun("", "chage", "-E", "2020-01-01", "alice")
	r = e.Ftpctl("", "status", "--json")
	var st struct {
		Accounts agent.AccountCounts `json:"accounts"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &st), r.String())
	require.Equal(t, agent.AccountCounts{Total: 2, Disabled: 1, Expired: 1}, st.Accounts)
	require.Contains(t, e.Ftpctl("", "status").Stdout, "FTP users: 2 (1 disabled, 1 expired, 0 with an aged-out password)")
	e.RequireConsistent()
}

// TestAccountBadValues: a bad value of every option, on add and on mod, is a usage
// error of one line, and no file changes.
func TestAccountBadValues(t *testing.T) {
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	e.mod("alice", "--disable")
	outside := t.TempDir()
	bad := [][]string{
		{"--home", outside},
		{"--home", "relative/path"},
		{"--home", e.Root + "/a:b"},
		{"--permissions", ""},
		{"--permissions", "list,fly"},
		{"--permissions", "list,list"},
		{"--read-only", "--read-write"},
		{"--read-only", "--permissions", "list"},
		{"--disable", "--enable"},
		{"--expires", "tomorrow"},
		{"--expires", "2027-02-30"},
		{"--expires", "1969-12-31"},
		{"--password-max-days", "0"},
		{"--password-max-days", "100000"},
		{"--password-max-days", "30d"},
		{"--allow-from", ""},
		{"--allow-from", "localhost"},
		{"--allow-from", "10.0.0.1/8"},
		{"--allow-from", "any,10.0.0.1"},
		{"--max-sessions", "0"},
		{"--max-sessions", "-1"},
		{"--max-sessions", "many"},
		{"--description", "a:b"},
		{"--description", "Alice,Room 5"},
		{"--description", "team=web"},
		{"--description", "line\nbreak"},
		{"--description", "bell\a"},
		{"--description", strings.Repeat("x", 129)},
	}
	for _, args := range bad {
		for _, cmd := range [][]string{{"user", "mod", "alice"}, {"user", "add", "newbie", "--password-stdin"}} {
			full := append(append([]string{}, cmd...), args...)
			t.Run(strings.Join(full, " "), func(t *testing.T) {
				before := e.Snapshot()
				r := e.Ftpctl(ftpPassword+"\n", full...)
				require.Equal(t, 2, r.Code, r.String())
				require.Regexp(t, `^ftpctl: [^\n]+\n$`, r.Stderr, "one line")
				require.Equal(t, before, e.Snapshot(), "files changed")
				require.NoDirExists(t, filepath.Join(e.Root, "newbie"))
			})
		}
	}
	r := e.Ftpctl("", "user", "mod", "alice")
	require.Equal(t, 2, r.Code, "nothing to change: %s", r)
	for _, inactive := range []string{"0d", "ninety", "-5d"} {
		r := e.Ftpctl("", "user", "list", "--inactive", inactive)
		require.Equal(t, 2, r.Code, r.String())
	}
	// Enabling an account whose only password is the lock would leave it without one.
	e.MustRun("", "usermod", "-p", "!", "alice")
	before := e.Snapshot()
	r = e.Ftpctl("", "user", "mod", "alice", "--enable")
	require.Equal(t, 1, r.Code, r.String())
	require.Contains(t, r.Stderr, "no password to enable")
	require.Equal(t, before, e.Snapshot())
	// Another tool's account is not ours to change.
	r = e.Ftpctl("", "user", "mod", "root", "--disable")
	require.Equal(t, 1, r.Code, r.String())
	require.Equal(t, before, e.Snapshot())
}

// TestAccountAllowFromIPv6: allow_from compares IPv6 clients with IPv6 blocks.
func TestAccountAllowFromIPv6(t *testing.T) {
	requireShadowTools(t)
	if l, err := net.Listen("tcp", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	} else {
		l.Close()
	}
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword, "--allow-from", "127.0.0.1,2001:db8::/32")
	s := startFTPWith(t, e, nil, func(s *ftpServer) {
		s.conf["listen"] = fmt.Sprintf(`"[::1]:%d"`, s.Port)
		s.writeConfig()
		s.Addr = fmt.Sprintf("[::1]:%d", s.Port)
	})
	login := func() bool {
		r := s.curl(t, "alice", ftpPassword, "", "-g")
		require.Contains(t, []int{0, 67}, r.Code, "curl: %s", r)
		return r.Code == 0
	}
	mark := len(s.Log())
	require.False(t, login(), "::1 is in neither 127.0.0.1 nor 2001:db8::/32")
	s.waitLog(mark, "::1 is not in the account's allow_from")
	e.mod("alice", "--allow-from", "::1")
	require.True(t, login())
	require.True(t, waitFor(10*time.Second, func() bool {
		l := e.showUser("alice").LastLogin
		return l != nil && l.Address == "::1"
	}), "last login from ::1 not recorded")
}
