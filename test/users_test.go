package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/internal/testtool"
	"github.com/jelastic/jelastic-ftp/users"
	"github.com/jelastic/jelastic-ftp/users/etcdb"
)

const goodPassword = "Correct-Horse-7"

func (e *Env) addUser(name string, args ...string) Result {
	e.t.Helper()
	return e.Ftpctl(goodPassword+"\n", append([]string{"user", "add", name, "--password-stdin"}, args...)...)
}

func (e *Env) authenticate(name, password string) error {
	gate := config.UsersBeside(filepath.Join(e.Etc, "jelastic-ftp", "ftpd.toml"))
	_, err := users.Authenticate(e.Etc, name, password, netip.MustParseAddr("127.0.0.1"), gate, time.Now())
	return err
}

// passwdEntry returns the fields of name's line in the test's passwd.
func (e *Env) passwdEntry(name string) []string {
	e.t.Helper()
	f, err := etcdb.Parse(etcdb.Passwd, []byte(e.ReadEtc("passwd")))
	require.NoError(e.t, err)
	entry, err := f.Lookup(name)
	require.NoError(e.t, err)
	return entry
}

func TestUserAddIsAccountShadowUtilsAccepts(t *testing.T) {
	e := NewEnv(t)
	r := e.addUser("alice", "--home", filepath.Join(e.Root, "site1"))
	require.Equal(t, 0, r.Code, r.Stderr)

	e.RequireConsistent()
	got := strings.Split(strings.TrimSpace(e.MustRun("", "getent", "passwd", "alice").Stdout), ":")
	require.Equal(t, "700", got[2])
	group := strings.Split(strings.TrimSpace(e.MustRun("", "getent", "group", "jelastic-ftp").Stdout), ":")
	require.Equal(t, group[2], got[3], "primary group is jelastic-ftp")
	require.Equal(t, filepath.Join(e.Root, "site1"), got[5])

	fi, err := os.Stat(filepath.Join(e.Root, "site1"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o755), fi.Mode().Perm())
	st := fi.Sys().(*syscall.Stat_t)
	require.Equal(t, uint32(700), st.Uid)
	require.Equal(t, group[2], fmt.Sprint(st.Gid))

	require.NoError(t, e.authenticate("alice", goodPassword))
	require.ErrorIs(t, e.authenticate("alice", "wrong-password"), users.ErrBadLogin)
	require.True(t, strings.Contains(e.ReadEtc("shadow"), "alice:$6$"), "new hashes are SHA-512 crypt")

	// A second add of the same name fails and changes nothing.
	before := e.Snapshot()
	r = e.addUser("alice")
	require.Equal(t, 1, r.Code)
	require.Contains(t, r.Stderr, "already exists")
	require.Equal(t, before, e.Snapshot())
}

func TestUserHashesWrittenByChpasswdVerify(t *testing.T) {
	testtool.Require(t, "chpasswd")
	e := NewEnv(t)
	require.Equal(t, 0, e.addUser("bob").Code)
	for _, method := range []string{"SHA512", "SHA256", "MD5", "YESCRYPT"} {
		t.Run(method, func(t *testing.T) {
			pw := "Chpasswd-" + method + "-ü"
			e.MustRun("bob:"+pw+"\n", "chpasswd", "-c", method)
			require.NoError(t, e.authenticate("bob", pw))
			require.ErrorIs(t, e.authenticate("bob", pw+"x"), users.ErrBadLogin)
		})
	}
	// PAM's chpasswd (no -c) writes what the distribution configures: yescrypt on Debian 12.
	e.MustRun("bob:Pam-Written-9\n", "chpasswd")
	require.NoError(t, e.authenticate("bob", "Pam-Written-9"))
}

func TestUserPasswd(t *testing.T) {
	e := NewEnv(t)
	require.Equal(t, 0, e.addUser("carol").Code)

	r := e.Ftpctl("Second-Pass-42\n", "user", "passwd", "carol", "--password-stdin")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.NoError(t, e.authenticate("carol", "Second-Pass-42"))
	require.Error(t, e.authenticate("carol", goodPassword))

	r = e.Ftpctl("", "user", "passwd", "carol", "--generate", "--json")
	require.Equal(t, 0, r.Code, r.Stderr)
	var out struct{ User, Password string }
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &out))
	require.Equal(t, "carol", out.User)
	require.GreaterOrEqual(t, len(out.Password), 16)
	require.NoError(t, e.authenticate("carol", out.Password))

	// Without a terminal and without a flag there is no way to ask: a usage error.
	before := e.Snapshot()
	r = e.Ftpctl("", "user", "passwd", "carol")
	require.Equal(t, 2, r.Code)
	require.Contains(t, r.Stderr, "--password-stdin")
	require.Equal(t, before, e.Snapshot())
}

func TestUserDelRefusesOtherAccounts(t *testing.T) {
	e := NewEnv(t)
	e.MustRun("", "useradd", "-M", "-s", "/bin/false", "webapp")
	before := e.Snapshot()
	for _, name := range []string{"root", "webapp", "nobody", "ghost"} {
		r := e.Ftpctl("", "user", "del", name)
		require.Equal(t, 1, r.Code, name)
		require.Equal(t, 1, strings.Count(strings.TrimSpace(r.Stderr), "\n")+1, "one line: %q", r.Stderr)
		require.Equal(t, before, e.Snapshot(), name)
		r = e.Ftpctl("x-Password-1\n", "user", "passwd", name, "--password-stdin")
		require.Equal(t, 1, r.Code, name)
		require.Equal(t, before, e.Snapshot(), name)
	}
}

func TestUserDelKeepsFiles(t *testing.T) {
	e := NewEnv(t)
	home := filepath.Join(e.Root, "dave")
	require.Equal(t, 0, e.addUser("dave", "--home", home, "--read-only").Code)
	require.NoError(t, os.WriteFile(filepath.Join(home, "index.php"), []byte("<?php"), 0o644))
	require.Contains(t, e.ReadEtc("jelastic-ftp/users.toml"), "dave")

	r := e.Ftpctl("", "user", "del", "dave")
	require.Equal(t, 0, r.Code, r.Stderr)
	for _, f := range accountFiles {
		require.NotRegexp(t, `(?m)^dave:`, e.ReadEtc(f), f)
	}
	require.NotContains(t, e.ReadEtc("jelastic-ftp/users.toml"), "dave")
	require.FileExists(t, filepath.Join(home, "index.php"))
	require.Regexp(t, `(?m)^jelastic-ftp:`, e.ReadEtc("group"), "the group stays")
	e.RequireConsistent()
}

func TestUserListAndShow(t *testing.T) {
	e := NewEnv(t)
	require.Equal(t, 0, e.addUser("erin").Code)
	require.Equal(t, 0, e.addUser("frank", "--home", filepath.Join(e.Root, "f"), "--read-only").Code)
	e.MustRun("", "usermod", "-L", "erin")

	var list []struct {
		User, Home         string
		Locked             bool
		ReadOnly           bool   `json:"read_only"`
		LastPasswordChange string `json:"last_password_change"`
	}
	r := e.Ftpctl("", "user", "list", "--json")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &list))
	require.Len(t, list, 2)
	require.Equal(t, "erin", list[0].User)
	require.True(t, list[0].Locked, "usermod -L locks")
	require.Equal(t, e.Root, list[0].Home)
	require.Equal(t, "frank", list[1].User)
	require.True(t, list[1].ReadOnly)
	require.False(t, list[1].Locked)
	require.Equal(t, time.Now().UTC().Format("2006-01-02"), list[1].LastPasswordChange)
	require.ErrorIs(t, e.authenticate("erin", goodPassword), users.ErrBadLogin, "a locked account never logs in")

	table := e.Ftpctl("", "user", "list").Stdout
	require.Regexp(t, `(?m)^frank\s+\S+/f\s+list,download\s+active\s`, table)
	show := e.Ftpctl("", "user", "show", "frank").Stdout
	require.Regexp(t, `(?m)^read-only:\s+yes$`, show)
	r = e.Ftpctl("", "user", "show", "root")
	require.Equal(t, 1, r.Code)
}

func TestBadInputChangesNothing(t *testing.T) {
	e := NewEnv(t)
	require.Equal(t, 0, e.addUser("keeper").Code)
	outside := t.TempDir()
	cases := []struct {
		name  string
		stdin string
		args  []string
		code  int
	}{
		{"colon in name", goodPassword, []string{"user", "add", "a:b", "--password-stdin"}, 1},
		{"newline in name", goodPassword, []string{"user", "add", "a\nroot::0:0::/:/bin/sh", "--password-stdin"}, 1},
		{"upper case", goodPassword, []string{"user", "add", "Alice", "--password-stdin"}, 1},
		{"leading dash", goodPassword, []string{"user", "add", "--password-stdin", "--", "-x"}, 1},
		{"too long", goodPassword, []string{"user", "add", strings.Repeat("a", 33), "--password-stdin"}, 1},
		{"empty name", goodPassword, []string{"user", "add", "", "--password-stdin"}, 1},
		{"home outside root", goodPassword, []string{"user", "add", "h1", "--home", outside, "--password-stdin"}, 2},
		{"home escaping by ..", goodPassword, []string{"user", "add", "h2", "--home", e.Root + "/../x", "--password-stdin"}, 2},
		{"relative home", goodPassword, []string{"user", "add", "h3", "--home", "site", "--password-stdin"}, 2},
		{"colon in home", goodPassword, []string{"user", "add", "h4", "--home", e.Root + "/a:b", "--password-stdin"}, 2},
		{"newline in home", goodPassword, []string{"user", "add", "h5", "--home", e.Root + "/a\nb", "--password-stdin"}, 2},
		{"newline inside password", "Good-Pass\nword-1", []string{"user", "passwd", "keeper", "--password-stdin"}, 0},
		{"short password", "short", []string{"user", "add", "h6", "--password-stdin"}, 1},
		{"empty password", "", []string{"user", "add", "h7", "--password-stdin"}, 1},
		{"password as argument", "", []string{"user", "add", "h8", "--password", "x"}, 2},
		{"both sources", goodPassword, []string{"user", "add", "h9", "--password-stdin", "--generate"}, 2},
		{"missing name", "", []string{"user", "add"}, 2},
		{"unknown command", "", []string{"user", "frobnicate"}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := e.Snapshot()
			r := e.Ftpctl(tc.stdin+"\n", tc.args...)
			if tc.code == 0 {
				// Only the first line is read: "Good-Pass" is the password, the rest ignored.
				require.Equal(t, 0, r.Code, r.Stderr)
				require.NoError(t, e.authenticate("keeper", "Good-Pass"))
				return
			}
			require.Equal(t, tc.code, r.Code, "stdout %q stderr %q", r.Stdout, r.Stderr)
			require.True(t, strings.HasPrefix(r.Stderr, "ftpctl: "), r.Stderr)
			require.Equal(t, before, e.Snapshot())
		})
	}
	_, err := os.Stat(filepath.Join(outside, "h1"))
	require.ErrorIs(t, err, os.ErrNotExist)
	e.RequireConsistent()
}

// TestConcurrentWithUseradd races ftpctl against shadow-utils on the same files: the
// locks must serialise them so that no update is lost.
func TestConcurrentWithUseradd(t *testing.T) {
	testtool.Require(t, "useradd")
	e := NewEnv(t)
	require.Equal(t, 0, e.addUser("seed").Code)
	const n = 50
	var wg sync.WaitGroup
	results := make(chan string, 2*n)
	for i := range n {
		wg.Add(2)
		go func() {
			defer wg.Done()
			if r := e.addUser(fmt.Sprintf("ftp%02d", i)); r.Code != 0 {
				results <- fmt.Sprintf("ftpctl ftp%02d: %s", i, r.Stderr)
			}
		}()
		go func() {
			defer wg.Done()
			if r := e.Run("", "useradd", "-M", "-d", "/", "-s", "/bin/false", fmt.Sprintf("sys%02d", i)); r.Code != 0 {
				results <- fmt.Sprintf("useradd sys%02d: %s", i, r.Stderr)
			}
		}()
	}
	wg.Wait()
	close(results)
	for r := range results {
		t.Error(r)
	}
	passwd, shadow := e.ReadEtc("passwd"), e.ReadEtc("shadow")
	for i := range n {
		for _, name := range []string{fmt.Sprintf("ftp%02d", i), fmt.Sprintf("sys%02d", i)} {
			require.Equal(t, 1, strings.Count(passwd, "\n"+name+":"), "%s in passwd", name)
			require.Equal(t, 1, strings.Count(shadow, "\n"+name+":"), "%s in shadow", name)
		}
	}
	e.RequireConsistent()
}

// TestKillNineNeverTearsFiles kills ftpctl at random moments of adds and deletes: the
// databases must always be whole and parsable, and the next command must succeed.
func TestKillNineNeverTearsFiles(t *testing.T) {
	e := NewEnv(t)
	require.Equal(t, 0, e.addUser("anchor").Code)
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	const rounds = 40
	for i := range rounds {
		name := fmt.Sprintf("k%02d", i%5)
		args := []string{"user", "add", name, "--password-stdin"}
		if strings.Contains(e.ReadEtc("passwd"), "\n"+name+":") {
			args = []string{"user", "del", name}
		}
		cmd := e.Command(t.Context(), ftpctlBin, args...)
		cmd.Stdin = strings.NewReader(goodPassword + "\n")
		require.NoError(t, cmd.Start())
		// A random point in the few milliseconds a command lives; the wait is the
		// experiment itself, not synchronisation.
		time.Sleep(time.Duration(rng.IntN(15000)) * time.Microsecond)
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		// The killed process was unshare or the command itself; wait for the command to
		// be gone, whichever it was, before inspecting the files.
		waitNoProcess(t, ftpctlBin)
		for _, f := range []struct {
			name string
			kind etcdb.Kind
		}{{"passwd", etcdb.Passwd}, {"shadow", etcdb.Shadow}, {"group", etcdb.Group}, {"gshadow", etcdb.GShadow}} {
			data := e.ReadEtc(f.name)
			require.True(t, strings.HasPrefix(data, "root:"), "round %d: %s lost its head", i, f.name)
			require.True(t, strings.HasSuffix(data, "\n"), "round %d: %s truncated", i, f.name)
			_, err := etcdb.Parse(f.kind, []byte(data))
			require.NoError(t, err)
		}
		require.Contains(t, e.ReadEtc("passwd"), "\nanchor:")
		require.Contains(t, e.ReadEtc("shadow"), "\nanchor:")
	}
	require.Equal(t, 0, e.addUser("after").Code, "a stale lock of a killed ftpctl is taken over")
	// A kill between the files of one change can leave a shadow line whose passwd line
	// is not written yet (add) or already gone (del): never a passwd entry without its
	// password line. The next add of that name clears the leftover, and then every
	// database is consistent again.
	for i := range 5 {
		name := fmt.Sprintf("k%02d", i)
		if !strings.Contains(e.ReadEtc("passwd"), "\n"+name+":") {
			require.Equal(t, 0, e.addUser(name).Code, name)
		}
		r := e.Ftpctl("", "user", "del", name)
		require.Equal(t, 0, r.Code, "%s: %s", name, r.Stderr)
	}
	e.RequireConsistent()
}

// waitNoProcess waits until no process runs the binary at path.
func waitNoProcess(t *testing.T, path string) {
	t.Helper()
	require.Eventually(t, func() bool {
		entries, _ := os.ReadDir("/proc")
		for _, en := range entries {
			if exe, err := os.Readlink("/proc/" + en.Name() + "/exe"); err == nil && exe == path {
				return false
			}
		}
		return true
	}, 10*time.Second, 5*time.Millisecond)
}
