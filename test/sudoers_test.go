package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/internal/testtool"
	"github.com/jelastic/jelastic-ftp/users"
)

// sudoOwner is the container owner that ftpd.toml names by default.
const sudoOwner = "jelastic"

// dropIn is our sudoers drop-in, relative to /etc.
const dropIn = "sudoers.d/jelastic"

// ownerRule is the line ftpctl writes to let owner change user's password.
func ownerRule(owner, user string) string {
	return owner + " ALL = NOPASSWD: /usr/bin/passwd " + user + "\n"
}

// requireSudoTools skips (or fails in CI) unless the real sudo stack is installed.
func requireSudoTools(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"sudo", "visudo", "su", "passwd", "useradd"} {
		testtool.Require(t, tool)
	}
}

// addAccount creates a login account in the test's /etc, with a home outside the copy
// so that nothing lands in the real /home.
func (e *Env) addAccount(name string) {
	e.t.Helper()
	e.MustRun("", "useradd", "-M", "-d", e.t.TempDir(), "-s", "/bin/sh", name)
}

// asOwner runs `sudo -n ARGS...` as account through su, with stdin. The arguments
// travel as positional parameters, so no shell quoting is involved.
func (e *Env) asOwner(account, stdin string, sudoArgs ...string) Result {
	e.t.Helper()
	// "--" stops su's own option parsing, which would otherwise take "-d" or "-c" for its own.
	args := append([]string{account, "-s", "/bin/sh", "-c", `exec sudo -n "$@"`, "--", "sh"}, sudoArgs...)
	return e.Run(stdin, "su", args...)
}

// sudoList returns the commands `sudo -l -U account` lists, one per line, as
// "(root) NOPASSWD: /usr/bin/passwd NAME".
func (e *Env) sudoList(account string) []string {
	e.t.Helper()
	r := e.MustRun("", "sudo", "-l", "-U", account)
	var cmds []string
	inCommands := false
	for l := range strings.Lines(r.Stdout) {
		switch {
		case strings.Contains(l, "may run the following commands"):
			inCommands = true
		case inCommands && strings.TrimSpace(l) != "":
			cmds = append(cmds, strings.TrimSpace(l))
		}
	}
	return cmds
}

// ourSudoRules is what sudo lists for account beyond what it listed in before.
func (e *Env) ourSudoRules(account string, before []string) []string {
	e.t.Helper()
	var ours []string
	for _, c := range e.sudoList(account) {
		if !slices.Contains(before, c) {
			ours = append(ours, c)
		}
	}
	return ours
}

// dropInState is what a rewrite of the drop-in would change: bytes, mode, owner,
// inode (a rename replaces it) and mtime.
type dropInState struct {
	Content  string
	Mode     os.FileMode
	UID, GID uint32
	Inode    uint64
	Mtime    time.Time
}

func (e *Env) dropIn() (dropInState, bool) {
	e.t.Helper()
	path := filepath.Join(e.Etc, dropIn)
	fi, err := os.Lstat(path)
	if os.IsNotExist(err) {
		return dropInState{}, false
	}
	require.NoError(e.t, err)
	content, err := os.ReadFile(path)
	require.NoError(e.t, err)
	st := fi.Sys().(*syscall.Stat_t)
	return dropInState{string(content), fi.Mode(), st.Uid, st.Gid, st.Ino, fi.ModTime()}, true
}

// requireDropIn asserts the drop-in holds exactly want, as sudo wants it: 0440 root:root.
func (e *Env) requireDropIn(want string) {
	e.t.Helper()
	got, ok := e.dropIn()
	require.True(e.t, ok, "the drop-in is missing")
	require.Equal(e.t, want, got.Content)
	require.Equal(e.t, os.FileMode(0o440), got.Mode)
	require.Equal(e.t, [2]uint32{0, 0}, [2]uint32{got.UID, got.GID}, "owner uid:gid")
	e.requireNoTempInSudoersD()
}

func (e *Env) requireNoTempInSudoersD() {
	e.t.Helper()
	entries, err := os.ReadDir(filepath.Join(e.Etc, "sudoers.d"))
	require.NoError(e.t, err)
	for _, en := range entries {
		require.False(e.t, strings.HasPrefix(en.Name(), ".jelastic"), "temporary file %s left behind", en.Name())
	}
}

// requireSudoersValid runs visudo on the whole configuration and on the drop-in.
func (e *Env) requireSudoersValid() {
	e.t.Helper()
	e.MustRun("", "visudo", "-c")
	if _, ok := e.dropIn(); ok {
		e.MustRun("", "visudo", "-cf", "/etc/"+dropIn)
	}
}

// shadowLine returns name's line in the test's shadow.
func (e *Env) shadowLine(name string) string {
	e.t.Helper()
	for l := range strings.Lines(e.ReadEtc("shadow")) {
		if strings.HasPrefix(l, name+":") {
			return l
		}
	}
	e.t.Fatalf("%s has no shadow line", name)
	return ""
}

// TestSudoOwnerChangesFTPPassword is the promise: after `ftpctl user add`, the
// owner runs `sudo passwd FTPUSER` and that password, and nothing else, changes.
func TestSudoOwnerChangesFTPPassword(t *testing.T) {
	requireSudoTools(t)
	e := NewEnv(t)
	e.addAccount(sudoOwner)
	before := e.sudoList(sudoOwner)

	for _, name := range []string{"jelastic-ftp", "site2"} {
		r := e.addUser(name)
		require.Equal(t, 0, r.Code, r.Stderr)
		require.Empty(t, r.Stderr, "no warnings on a sane system")
	}
	e.requireDropIn(ownerRule(sudoOwner, "jelastic-ftp") + ownerRule(sudoOwner, "site2"))
	e.requireSudoersValid()
	require.Equal(t, []string{
		"(root) NOPASSWD: /usr/bin/passwd jelastic-ftp",
		"(root) NOPASSWD: /usr/bin/passwd site2",
	}, e.ourSudoRules(sudoOwner, before))
	require.Equal(t, 0, e.Run("", "sudo", "-l", "-U", sudoOwner, "/usr/bin/passwd", "jelastic-ftp").Code)
	require.Equal(t, 1, e.Run("", "sudo", "-l", "-U", sudoOwner, "/usr/bin/passwd", "root").Code)

	// passwd reads both prompts' answers from stdin when it has no terminal.
	const newPassword = "Owner-Chosen-8"
	site2Before := e.shadowLine("site2")
	r := e.asOwner(sudoOwner, newPassword+"\n"+newPassword+"\n", "/usr/bin/passwd", "jelastic-ftp")
	require.Equal(t, 0, r.Code, "stdout %q stderr %q", r.Stdout, r.Stderr)
	require.NoError(t, e.authenticate("jelastic-ftp", newPassword))
	require.ErrorIs(t, e.authenticate("jelastic-ftp", goodPassword), users.ErrBadLogin)
	require.True(t, strings.HasPrefix(e.shadowLine("jelastic-ftp"), "jelastic-ftp:$y$"),
		"Debian's PAM writes yescrypt, which FTP logins must verify: %s", e.shadowLine("jelastic-ftp"))
	require.Equal(t, site2Before, e.shadowLine("site2"))
	require.NoError(t, e.authenticate("site2", goodPassword))
	e.RequireConsistent()

	refused := [][]string{
		{"/usr/bin/passwd", "root"},
		{"/usr/bin/passwd", sudoOwner},
		{"/usr/bin/passwd"},
		{"/usr/bin/passwd", "-d", "jelastic-ftp"},
		{"/usr/bin/passwd", "jelastic-ftp", "-d"},
		{"/usr/bin/passwd", "--", "jelastic-ftp"},
		{"/usr/bin/passwd", "jelastic-ftp", "root"},
		{"-u", "nobody", "/usr/bin/passwd", "jelastic-ftp"},
		{"-e", "/etc/shadow"},
		{"/bin/sh"},
		{"/bin/sh", "-c", "/usr/bin/passwd root"},
		{"id"},
	}
	rootBefore := e.shadowLine("root")
	snap := e.Snapshot()
	for _, args := range refused {
		r := e.asOwner(sudoOwner, "Evil-Pass-99\nEvil-Pass-99\n", args...)
		require.NotEqual(t, 0, r.Code, "sudo %v was allowed: %s", args, r.Stdout)
		require.Contains(t, r.Stderr, "sudo: a password is required", "sudo %v: refused by sudo itself", args)
		require.NotContains(t, r.Stdout, "uid=0", "sudo %v", args)
		require.Equal(t, rootBefore, e.shadowLine("root"), "sudo %v", args)
		require.Equal(t, snap, e.Snapshot(), "sudo %v", args)
	}
}

// TestSudoRulesFollowUserAddAndDel checks which adds grant and that deleting a user
// revokes exactly its rule.
func TestSudoRulesFollowUserAddAndDel(t *testing.T) {
	requireSudoTools(t)
	e := NewEnv(t)
	e.addAccount(sudoOwner)
	before := e.sudoList(sudoOwner)

	require.Equal(t, 0, e.addUser("alpha").Code)
	r := e.addUser("beta", "--no-owner-passwd")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Empty(t, r.Stderr)
	require.Equal(t, 0, e.addUser("gamma").Code)
	e.requireDropIn(ownerRule(sudoOwner, "alpha") + ownerRule(sudoOwner, "gamma"))
	require.NotEqual(t, 0, e.asOwner(sudoOwner, "Evil-Pass-99\nEvil-Pass-99\n", "/usr/bin/passwd", "beta").Code)

	r = e.Ftpctl("", "user", "del", "alpha")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Empty(t, r.Stderr)
	e.requireDropIn(ownerRule(sudoOwner, "gamma"))
	e.requireSudoersValid()
	require.Equal(t, []string{"(root) NOPASSWD: /usr/bin/passwd gamma"}, e.ourSudoRules(sudoOwner, before))

	// Deleting a user without a rule leaves the drop-in alone.
	st, _ := e.dropIn()
	require.Equal(t, 0, e.Ftpctl("", "user", "del", "beta").Code)
	after, _ := e.dropIn()
	require.Equal(t, st, after)

	// The library deletes a drop-in it leaves empty.
	require.Equal(t, 0, e.Ftpctl("", "user", "del", "gamma").Code)
	_, ok := e.dropIn()
	require.False(t, ok, "an emptied drop-in is removed")
	e.requireNoTempInSudoersD()
	e.requireSudoersValid()
	require.Empty(t, e.ourSudoRules(sudoOwner, before))
	require.Equal(t, before, e.sudoList(sudoOwner))
}

// TestSudoKeepsUnrelatedRules: someone else's lines in our drop-in survive byte for byte.
func TestSudoKeepsUnrelatedRules(t *testing.T) {
	requireSudoTools(t)
	const foreign = "# ops rule\nops ALL = NOPASSWD: /usr/bin/systemctl restart nginx\n"
	cases := []struct {
		name string
		mode os.FileMode
		// warning is what `user add` must say about the file it found, "" for nothing.
		warning string
	}{
		{"mode 0440", 0o440, ""},
		// sudo reads 0644, but visudo -c complains; a grant rewrites the file as 0440.
		{"mode 0644", 0o644, "mode 0644"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := NewEnv(t)
			e.addAccount(sudoOwner)
			e.WriteEtc(dropIn, foreign, tc.mode)

			r := e.addUser("one")
			require.Equal(t, 0, r.Code, r.Stderr)
			if tc.warning == "" {
				require.Empty(t, r.Stderr)
			} else {
				require.Contains(t, r.Stderr, tc.warning)
			}
			require.Equal(t, 0, e.addUser("two").Code)
			e.requireDropIn(foreign + ownerRule(sudoOwner, "one") + ownerRule(sudoOwner, "two"))
			e.requireSudoersValid()

			require.Equal(t, 0, e.Ftpctl("", "user", "del", "one").Code)
			e.requireDropIn(foreign + ownerRule(sudoOwner, "two"))
			require.Equal(t, 0, e.Ftpctl("", "user", "del", "two").Code)
			e.requireDropIn(foreign)
			e.requireSudoersValid()
		})
	}
}

// TestSudoDropInUntouchedWithoutChange: commands that need no new rule do not rewrite
// the drop-in at all (same bytes, inode and mtime).
func TestSudoDropInUntouchedWithoutChange(t *testing.T) {
	requireSudoTools(t)
	e := NewEnv(t)
	e.addAccount(sudoOwner)
	// A rule already there for an account not yet created: its add is a second grant.
	e.WriteEtc(dropIn, ownerRule(sudoOwner, "later"), 0o440)
	require.Equal(t, 0, e.addUser("first").Code)
	// An old mtime makes any rewrite visible even within the clock's resolution.
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	require.NoError(t, os.Chtimes(filepath.Join(e.Etc, dropIn), old, old))
	want, ok := e.dropIn()
	require.True(t, ok)
	require.Equal(t, ownerRule(sudoOwner, "later")+ownerRule(sudoOwner, "first"), want.Content)

	steps := []struct {
		name  string
		stdin string
		args  []string
		code  int
	}{
		{"passwd", "Another-Pass-3\n", []string{"user", "passwd", "first", "--password-stdin"}, 0},
		{"generated passwd", "", []string{"user", "passwd", "first", "--generate"}, 0},
		{"add of a user already granted", goodPassword + "\n", []string{"user", "add", "later", "--password-stdin"}, 0},
		{"duplicate add", goodPassword + "\n", []string{"user", "add", "first", "--password-stdin"}, 1},
		{"status", "", []string{"sudoers", "status"}, 0},
		{"list", "", []string{"user", "list"}, 0},
		{"del of a stranger", "", []string{"user", "del", "nosuchuser"}, 1},
	}
	for _, s := range steps {
		r := e.Ftpctl(s.stdin, s.args...)
		require.Equal(t, s.code, r.Code, "%s: %s", s.name, r.Stderr)
		got, ok := e.dropIn()
		require.True(t, ok, s.name)
		require.Equal(t, want, got, s.name)
	}
	e.requireNoTempInSudoersD()
}

// TestSudoRefusesMaliciousNames: no owner from ftpd.toml and no FTP user name that
// sudoers would read as more than one plain account (or, for the owner, one plain
// %group) gets anywhere near the drop-in.
func TestSudoRefusesMaliciousNames(t *testing.T) {
	requireSudoTools(t)
	e := NewEnv(t)
	e.addAccount(sudoOwner)
	require.Equal(t, 0, e.addUser("keeper").Code)
	config := e.ReadEtc("jelastic-ftp/ftpd.toml")

	t.Run("owner", func(t *testing.T) {
		defer e.WriteEtc("jelastic-ftp/ftpd.toml", config, 0o644)
		for _, owner := range []string{
			"ALL", "root,jelastic", "a b", "%ALL", "%", "%%sudo", "%sudo,root", "% sudo", "%sudo root", "%:admins",
			"#0", "+netgroup", "jelastic\nroot", `jelastic\,root`, "Jelastic", "-x", "a.b", "a~", "svc$", "jelastic ALL=(ALL) ALL #",
			`"jelastic"`, "a!b", "a=b", "a:b", "(root)", strings.Repeat("a", 33),
		} {
			// Line 2 holds the owner; %q yields a valid TOML basic string for these.
			e.WriteEtc("jelastic-ftp/ftpd.toml", fmt.Sprintf("root = %q\nowner = %q\n", e.Root, owner), 0o644)
			before := e.Snapshot()
			for _, args := range [][]string{
				{"user", "add", "victim", "--password-stdin"},
				{"sudoers", "status"},
			} {
				r := e.Ftpctl(goodPassword+"\n", args...)
				require.Equal(t, 1, r.Code, "owner %q, %v: %s", owner, args, r.Stdout)
				require.Equal(t, 1, strings.Count(r.Stderr, "\n"), "one line: %q", r.Stderr)
				require.True(t, strings.HasPrefix(r.Stderr, "ftpctl: /etc/jelastic-ftp/ftpd.toml:2: owner"), "owner %q: %q", owner, r.Stderr)
				require.Equal(t, before, e.Snapshot(), "owner %q, %v", owner, args)
			}
		}
	})

	t.Run("user", func(t *testing.T) {
		before := e.Snapshot()
		for _, name := range []string{
			"x, /bin/sh", "x,/bin/sh", "ALL", "a b", "%sudo", "%:admins", "#0", "+netgroup",
			`x\,y`, "a.b", "a~", "svc$", "x=y", "x!", "!x", "x:y", `"q"`, "(root)", "jelastic-ftp /bin/sh",
			"keeper\nroot", "keeper\tALL", "-d", "*", "keep*", "[a-z]", "Keeper", "",
		} {
			for _, args := range [][]string{
				{"user", "add", "--password-stdin", "--", name},
				{"user", "del", "--", name},
			} {
				r := e.Ftpctl(goodPassword+"\n", args...)
				require.Equal(t, 1, r.Code, "%q: %s", args, r.Stderr)
				require.Equal(t, before, e.Snapshot(), "%q", args)
			}
		}
		e.requireDropIn(ownerRule(sudoOwner, "keeper"))
	})
}

// TestSudoOwnerMissing: without the owner account the FTP account still works, and no
// rule is written for an account that someone could create later.
func TestSudoOwnerMissing(t *testing.T) {
	requireSudoTools(t)
	e := NewEnv(t)
	r := e.addUser("orphan")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.NoError(t, e.authenticate("orphan", goodPassword))
	lines := strings.Split(strings.TrimSuffix(r.Stderr, "\n"), "\n")
	require.Len(t, lines, 1, "one warning: %q", r.Stderr)
	require.True(t, strings.HasPrefix(lines[0], "ftpctl: warning: "), lines[0])
	require.Contains(t, lines[0], sudoOwner)
	_, ok := e.dropIn()
	require.False(t, ok, "no rule without an owner")
	e.requireNoTempInSudoersD()

	// Once the owner exists, the next add grants; the earlier user stays without a rule.
	e.addAccount(sudoOwner)
	r = e.addUser("adopted")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Empty(t, r.Stderr)
	e.requireDropIn(ownerRule(sudoOwner, "adopted"))
}

// TestSudoOwnerFromConfig: the owner named in ftpd.toml, not the default, gets the rule
// and can use it.
func TestSudoOwnerFromConfig(t *testing.T) {
	requireSudoTools(t)
	e := NewEnv(t)
	e.addAccount("webadmin")
	e.addAccount(sudoOwner)
	e.WriteEtc("jelastic-ftp/ftpd.toml", fmt.Sprintf("root = %q\nowner = \"webadmin\"\n", e.Root), 0o644)
	require.Equal(t, 0, e.addUser("site").Code)
	e.requireDropIn(ownerRule("webadmin", "site"))

	r := e.asOwner("webadmin", "Admin-Chosen-5\nAdmin-Chosen-5\n", "/usr/bin/passwd", "site")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.NoError(t, e.authenticate("site", "Admin-Chosen-5"))
	require.NotEqual(t, 0, e.asOwner(sudoOwner, "Evil-Pass-99\nEvil-Pass-99\n", "/usr/bin/passwd", "site").Code)
	require.NoError(t, e.authenticate("site", "Admin-Chosen-5"))
}

// TestSudoVisudoRejection forces visudo to reject the new drop-in (a fake visudo first
// in PATH, which ftpctl prefers): the FTP account is still created, the drop-in is left
// as it was, and the operator is told.
func TestSudoVisudoRejection(t *testing.T) {
	requireSudoTools(t)
	e := NewEnv(t)
	e.addAccount(sudoOwner)
	require.Equal(t, 0, e.addUser("before").Code)
	want, ok := e.dropIn()
	require.True(t, ok)

	bin := t.TempDir()
	log := filepath.Join(bin, "calls")
	fake := fmt.Sprintf("#!/bin/sh\necho \"$@\" >> %s\necho \"fake visudo: syntax error\" >&2\nexit 1\n", log)
	require.NoError(t, os.WriteFile(filepath.Join(bin, "visudo"), []byte(fake), 0o755))

	r := e.Run(goodPassword+"\n", "env", "PATH="+bin+":"+os.Getenv("PATH"), ftpctlBin, "user", "add", "after", "--password-stdin")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Contains(t, r.Stderr, "fake visudo: syntax error")
	require.Contains(t, r.Stderr, "no sudo rule for after")
	require.NoError(t, e.authenticate("after", goodPassword), "the FTP account works without the rule")
	got, ok := e.dropIn()
	require.True(t, ok)
	require.Equal(t, want, got)
	e.requireNoTempInSudoersD()

	// The candidate was checked under a name sudo ignores, never in place.
	calls, err := os.ReadFile(log)
	require.NoError(t, err)
	require.Regexp(t, `(?m)^-c -f /etc/sudoers\.d/\.jelastic\.\S+$`, string(calls))
}

// sudoersStatusJSON mirrors `ftpctl sudoers status --json`.
type sudoersStatusJSON struct {
	File   string `json:"file"`
	Owner  string `json:"owner"`
	Grants []struct {
		Owner, User, Command string
	} `json:"grants"`
	SudoInstalled  bool     `json:"sudo_installed"`
	DropInIncluded bool     `json:"drop_in_included"`
	OwnerExists    bool     `json:"owner_exists"`
	SudoersValid   bool     `json:"sudoers_valid"`
	Warnings       []string `json:"warnings"`
}

func (e *Env) sudoersStatus() sudoersStatusJSON {
	e.t.Helper()
	r := e.Ftpctl("", "sudoers", "status", "--json")
	require.Equal(e.t, 0, r.Code, r.Stderr)
	var st sudoersStatusJSON
	require.NoError(e.t, json.Unmarshal([]byte(r.Stdout), &st), r.Stdout)
	return st
}

func TestSudoersStatus(t *testing.T) {
	requireSudoTools(t)
	e := NewEnv(t)

	st := e.sudoersStatus()
	require.False(t, st.OwnerExists)
	require.Empty(t, st.Grants)
	require.NotNil(t, st.Grants, "an empty list, not null")
	require.Len(t, st.Warnings, 1, "%q", st.Warnings)
	require.Contains(t, st.Warnings[0], sudoOwner)
	require.Contains(t, e.Ftpctl("", "sudoers", "status").Stdout, "no grants")

	e.addAccount(sudoOwner)
	require.Equal(t, 0, e.addUser("web1").Code)
	require.Equal(t, 0, e.addUser("web2").Code)
	st = e.sudoersStatus()
	require.Equal(t, "/etc/sudoers.d/jelastic", st.File)
	require.Equal(t, sudoOwner, st.Owner)
	require.True(t, st.SudoInstalled)
	require.True(t, st.DropInIncluded)
	require.True(t, st.OwnerExists)
	require.True(t, st.SudoersValid)
	require.Empty(t, st.Warnings)
	require.Len(t, st.Grants, 2)
	for i, user := range []string{"web1", "web2"} {
		g := st.Grants[i]
		require.Equal(t, [3]string{sudoOwner, user, "/usr/bin/passwd " + user}, [3]string{g.Owner, g.User, g.Command})
	}

	plain := e.Ftpctl("", "sudoers", "status")
	require.Equal(t, 0, plain.Code, plain.Stderr)
	for _, user := range []string{"web1", "web2"} {
		require.Contains(t, plain.Stdout, "grant: jelastic may run: sudo /usr/bin/passwd "+user+"\n")
	}
	require.Regexp(t, `(?m)^drop-in read by sudo:\s+yes$`, plain.Stdout)
	require.NotContains(t, plain.Stdout, "warning")

	// Without the include line sudo ignores the drop-in, and status says so.
	sudoersFile := e.ReadEtc("sudoers")
	var kept []string
	for l := range strings.Lines(sudoersFile) {
		if !strings.Contains(l, "includedir") {
			kept = append(kept, l)
		}
	}
	require.Less(t, len(kept), len(strings.Split(sudoersFile, "\n")), "the copy's sudoers includes sudoers.d")
	e.WriteEtc("sudoers", strings.Join(kept, ""), 0o440)
	st = e.sudoersStatus()
	require.False(t, st.DropInIncluded)
	require.True(t, st.SudoersValid)
	require.Len(t, st.Warnings, 1, "%q", st.Warnings)
	require.Contains(t, st.Warnings[0], "includedir")
	require.Empty(t, e.ourSudoRules(sudoOwner, nil), "sudo ignores the drop-in")
	require.Regexp(t, `(?m)^drop-in read by sudo:\s+no$`, e.Ftpctl("", "sudoers", "status").Stdout)
}
