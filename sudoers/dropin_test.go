package sudoers

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	passwd = "/usr/bin/passwd"
	ruleA  = "jelastic ALL = NOPASSWD: /usr/bin/passwd ftp-a\n"
	ruleB  = "jelastic ALL = NOPASSWD: /usr/bin/passwd ftp-b\n"
)

func TestGrantCreatesAValidFile(t *testing.T) {
	d := newDropIn(t)
	changed, err := d.Grant("jelastic", "jelastic-ftp", passwd)
	require.NoError(t, err)
	require.True(t, changed)

	requireUntouched(t, d, []byte("jelastic ALL = NOPASSWD: /usr/bin/passwd jelastic-ftp\n"))
	requireSudoMode(t, d.Path)
	out, err := exec.Command(d.Visudo, "-c", "-f", d.Path).CombinedOutput()
	require.NoError(t, err, "visudo -cf: %s", out)

	grants, err := d.Grants()
	require.NoError(t, err)
	require.Equal(t, []Grant{{Owner: "jelastic", User: "jelastic-ftp", Command: passwd}}, grants)
}

func TestGrantTwiceChangesNothing(t *testing.T) {
	d := newDropIn(t)
	_, err := d.Grant("jelastic", "ftp-a", passwd)
	require.NoError(t, err)
	// An old mtime makes any rewrite visible without waiting for the clock to tick.
	old := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)
	require.NoError(t, os.Chtimes(d.Path, old, old))
	before, err := os.Stat(d.Path)
	require.NoError(t, err)

	changed, err := d.Grant("jelastic", "ftp-a", passwd)
	require.NoError(t, err)
	require.False(t, changed)

	after, err := os.Stat(d.Path)
	require.NoError(t, err)
	require.True(t, after.ModTime().Equal(old), "mtime changed to %s", after.ModTime())
	require.True(t, os.SameFile(before, after), "the file was replaced")
	requireUntouched(t, d, []byte(ruleA))
}

func TestGrantFixesModeAndOwner(t *testing.T) {
	cases := []struct {
		name     string
		mode     os.FileMode
		uid, gid int
		rootOnly bool
	}{
		{name: "world-readable", mode: 0o644},
		{name: "group-writable", mode: 0o660},
		{name: "setgid", mode: 0o440 | os.ModeSetgid},
		{name: "owned by a user", mode: 0o440, uid: 1000, gid: 1000, rootOnly: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.rootOnly && os.Geteuid() != 0 {
				t.Skip("needs root to chown")
			}
			d := newDropIn(t)
			writeDropIn(t, d, ruleA)
			require.NoError(t, os.Chmod(d.Path, tc.mode))
			if tc.rootOnly {
				require.NoError(t, os.Chown(d.Path, tc.uid, tc.gid))
			}

			changed, err := d.Grant("jelastic", "ftp-a", passwd)
			require.NoError(t, err)
			require.True(t, changed)
			requireUntouched(t, d, []byte(ruleA))
			requireSudoMode(t, d.Path)
		})
	}
}

// op is one call on a drop-in, for table-driven edit tests.
type op struct {
	revoke, revokeUser bool
	owner, user        string
}

func (o op) apply(d DropIn) (bool, error) {
	switch {
	case o.revokeUser:
		return d.RevokeUser(o.user)
	case o.revoke:
		return d.Revoke(o.owner, o.user, passwd)
	default:
		return d.Grant(o.owner, o.user, passwd)
	}
}

func grant(owner, user string) op  { return op{owner: owner, user: user} }
func revoke(owner, user string) op { return op{revoke: true, owner: owner, user: user} }
func revokeUser(user string) op    { return op{revokeUser: true, user: user} }

func TestEdits(t *testing.T) {
	const foreign = "# written by someone else\n" +
		"Defaults:bob !requiretty\n" +
		"\n" +
		"bob ALL = (root) /usr/bin/systemctl restart nginx\n"
	cases := []struct {
		name    string
		initial *string // nil: no file
		op      op
		changed bool
		want    *string // nil: no file
	}{
		{name: "grant creates", op: grant("jelastic", "ftp-a"), changed: true, want: ptr(ruleA)},
		{name: "grant a second user appends", initial: ptr(ruleA), op: grant("jelastic", "ftp-b"), changed: true, want: ptr(ruleA + ruleB)},
		{name: "grant another owner for the same user", initial: ptr(ruleA), op: grant("owner2", "ftp-a"), changed: true,
			want: ptr(ruleA + "owner2 ALL = NOPASSWD: /usr/bin/passwd ftp-a\n")},
		{name: "grant keeps foreign lines", initial: ptr(foreign), op: grant("jelastic", "ftp-a"), changed: true, want: ptr(foreign + ruleA)},
		{name: "grant present among foreign lines", initial: ptr(foreign + ruleA + "# end\n"), op: grant("jelastic", "ftp-a"), want: ptr(foreign + ruleA + "# end\n")},
		{name: "grant after a missing final newline", initial: ptr("bob ALL = /bin/ls"), op: grant("jelastic", "ftp-a"), changed: true,
			want: ptr("bob ALL = /bin/ls\n" + ruleA)},
		{name: "grant keeps a single copy", initial: ptr(ruleA + ruleB + ruleA + "# x\n" + ruleA), op: grant("jelastic", "ftp-a"), changed: true,
			want: ptr(ruleA + ruleB + "# x\n")},
		{name: "grant after a trailing backslash starts a fresh line", initial: ptr("# note \\"), op: grant("jelastic", "ftp-a"), changed: true,
			want: ptr("# note \\\n\n" + ruleA)},
		{
			// sudo joins these lines into one Defaults string.
			name:    "a rule-looking continued line is kept",
			initial: ptr("Defaults env_keep += \"A \\\n" + strings.TrimSuffix(ruleA, "\n") + "\"\n"),
			op:      grant("jelastic", "ftp-a"), changed: true,
			want: ptr("Defaults env_keep += \"A \\\n" + strings.TrimSuffix(ruleA, "\n") + "\"\n" + ruleA),
		},
		{name: "revoke removes only ours", initial: ptr(foreign + ruleA + "# mid\n" + ruleB), op: revoke("jelastic", "ftp-a"), changed: true,
			want: ptr(foreign + "# mid\n" + ruleB)},
		{name: "revoke keeps a missing final newline", initial: ptr(ruleA + "bob ALL = /bin/ls"), op: revoke("jelastic", "ftp-a"), changed: true,
			want: ptr("bob ALL = /bin/ls")},
		{name: "revoke the last line lacking its newline", initial: ptr("bob ALL = /bin/ls\n" + strings.TrimSuffix(ruleA, "\n")), op: revoke("jelastic", "ftp-a"), changed: true,
			want: ptr("bob ALL = /bin/ls\n")},
		{name: "revoke needs the same owner", initial: ptr(ruleA), op: revoke("other", "ftp-a"), want: ptr(ruleA)},
		{name: "revoke all duplicates", initial: ptr(ruleA + ruleB + ruleA), op: revoke("jelastic", "ftp-a"), changed: true, want: ptr(ruleB)},
		{name: "revoke the last rule deletes the file", initial: ptr(ruleA), op: revoke("jelastic", "ftp-a"), changed: true},
		{name: "revoke without a file", op: revoke("jelastic", "ftp-a")},
		{name: "revoke keeps an empty file", initial: ptr(""), op: revoke("jelastic", "ftp-a"), want: ptr("")},
		{name: "revoke user for every owner", initial: ptr(ruleA + "other ALL = NOPASSWD: /bin/passwd ftp-a\n" + ruleB), op: revokeUser("ftp-a"), changed: true,
			want: ptr(ruleB)},
		{name: "revoke user leaves look-alikes", initial: ptr(lookAlikes), op: revokeUser("ftp-a"), want: ptr(lookAlikes)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDropIn(t)
			if tc.initial != nil {
				writeDropIn(t, d, *tc.initial)
			}
			changed, err := tc.op.apply(d)
			require.NoError(t, err)
			require.Equal(t, tc.changed, changed)
			if tc.want == nil {
				requireUntouched(t, d, nil)
				return
			}
			requireUntouched(t, d, []byte(*tc.want))
			requireSudoMode(t, d.Path)
		})
	}
}

func ptr(s string) *string { return &s }

// lookAlikes are lines close to our rule that we must neither count nor remove.
const lookAlikes = "jelastic ALL = NOPASSWD: /usr/bin/passwd ftp-a # note\n" +
	"jelastic ALL=NOPASSWD: /usr/bin/passwd ftp-a\n" +
	" jelastic ALL = NOPASSWD: /usr/bin/passwd ftp-a\n" +
	"jelastic ALL = NOPASSWD: /usr/bin/passwd ftp-a \n" +
	"jelastic ALL = NOPASSWD: /usr/bin/passwd ftp-a\r\n" +
	"jelastic ALL = (root) NOPASSWD: /usr/bin/passwd ftp-a\n" +
	"#jelastic ALL = NOPASSWD: /usr/bin/passwd ftp-a\n" +
	"jelastic ALL = NOPASSWD: /usr/bin/passwd ftp-ab\n" +
	"jelastic ALL = NOPASSWD: /usr/bin/../bin/passwd ftp-a\n" +
	"bob ALL = /bin/ls \\\n" +
	"jelastic ALL = NOPASSWD: /usr/bin/passwd ftp-a\n"

func TestGrantsSkipsForeignLines(t *testing.T) {
	d := newDropIn(t)
	writeDropIn(t, d, "# comment\n"+ruleA+"bob ALL = /bin/ls \\\n"+ruleB+"bob ALL = /bin/ls\nother ALL = NOPASSWD: /bin/passwd ftp-b")
	grants, err := d.Grants()
	require.NoError(t, err)
	require.Equal(t, []Grant{
		{Owner: "jelastic", User: "ftp-a", Command: "/usr/bin/passwd"},
		{Owner: "other", User: "ftp-b", Command: "/bin/passwd"},
	}, grants)

	none, err := DropIn{Path: filepath.Join(t.TempDir(), "jelastic")}.Grants()
	require.NoError(t, err)
	require.Empty(t, none)
}

// badNames would each change the meaning of a rule if written into it unescaped.
var badNames = []string{
	"", "ALL", "Jelastic", "a b", "a,b", "root,jelastic", "a:b", "a=b", "!a", `a\b`, "#0", "%wheel",
	"%:admins", "+net", "a*", "a?", "a[b]", "a.b", "a~", "~a", "-a", "1a", `"a"`, "'a'", "a(b)", "a>b", "a$",
	"a\tb", "a\rb", "x\nroot ALL=(ALL) ALL", "jelastic-ftp, /bin/sh", "a\x00b", "é", strings.Repeat("a", 33),
}

func TestMaliciousNamesAreRefused(t *testing.T) {
	const initial = "# keep me\n" + ruleA
	for _, name := range badNames {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			d := newDropIn(t)
			writeDropIn(t, d, initial)
			require.Error(t, ValidName(name))
			calls := map[string]func() (bool, error){
				"grant user":  func() (bool, error) { return d.Grant("jelastic", name, passwd) },
				"revoke user": func() (bool, error) { return d.Revoke("jelastic", name, passwd) },
				"revoke all":  func() (bool, error) { return d.RevokeUser(name) },
			}
			if ValidOwner(name) != nil {
				calls["grant owner"] = func() (bool, error) { return d.Grant(name, "ftp-a", passwd) }
				calls["revoke owner"] = func() (bool, error) { return d.Revoke(name, "ftp-a", passwd) }
			}
			for call, f := range calls {
				changed, err := f()
				require.Error(t, err, call)
				require.False(t, changed, call)
				requireUntouched(t, d, []byte(initial))
			}
		})
	}
}

// badOwners would each change the meaning of a rule as its owner: everything in
// badNames but a plain %group, and what a '%' could smuggle in.
var badOwners = []string{
	"%", "%%", "%%wheel", "%ALL", "%Wheel", "%a,b", "%a b", "% a", "%:admins", "%#0", "%+net", "%a*",
	"%-a", "%a.b", "%\"a\"", "%a\nroot ALL=(ALL) ALL", "%a, /bin/sh", "%" + strings.Repeat("a", 33), "wheel%", "a%b",
}

func TestMaliciousOwnersAreRefused(t *testing.T) {
	const initial = "# keep me\n" + ruleA
	for _, owner := range append(slices.DeleteFunc(slices.Clone(badNames), func(s string) bool { return s == "%wheel" }), badOwners...) {
		t.Run(fmt.Sprintf("%q", owner), func(t *testing.T) {
			d := newDropIn(t)
			writeDropIn(t, d, initial)
			require.Error(t, ValidOwner(owner))
			for call, f := range map[string]func() (bool, error){
				"grant":  func() (bool, error) { return d.Grant(owner, "ftp-a", passwd) },
				"revoke": func() (bool, error) { return d.Revoke(owner, "ftp-a", passwd) },
			} {
				changed, err := f()
				require.Error(t, err, call)
				require.False(t, changed, call)
				requireUntouched(t, d, []byte(initial))
			}
		})
	}
}

func TestGroupOwner(t *testing.T) {
	d := newDropIn(t)
	require.NoError(t, ValidOwner("%ssh-access"))
	changed, err := d.Grant("%ssh-access", "jelastic-ftp", passwd)
	require.NoError(t, err)
	require.True(t, changed)
	requireUntouched(t, d, []byte("%ssh-access ALL = NOPASSWD: /usr/bin/passwd jelastic-ftp\n"))
	out, err := exec.Command(d.Visudo, "-c", "-f", d.Path).CombinedOutput()
	require.NoError(t, err, "visudo -cf: %s", out)
	group, ok := OwnerGroup("%ssh-access")
	require.True(t, ok)
	require.Equal(t, "ssh-access", group)
	require.Equal(t, "%ssh-access", GroupOwner(group))

	changed, err = d.Revoke("%ssh-access", "jelastic-ftp", passwd)
	require.NoError(t, err)
	require.True(t, changed)
	requireUntouched(t, d, nil)
}

// TestForeignEquivalentGrant: the platform's own line for the same grant, in the same
// file with its own spacing, is neither duplicated nor rewritten nor removed.
func TestForeignEquivalentGrant(t *testing.T) {
	const platform = "%ssh-access ALL=NOPASSWD: /usr/bin/passwd jelastic-ftp\n"
	cases := []struct {
		name, line string
		same       bool
	}{
		{name: "platform", line: platform, same: true},
		{name: "spaced, runas root", line: "  %ssh-access\tALL = (root) NOPASSWD : /usr/bin/passwd   jelastic-ftp  \n", same: true},
		{name: "another user", line: "%ssh-access ALL=NOPASSWD: /usr/bin/passwd other\n"},
		{name: "another group", line: "%wheel ALL=NOPASSWD: /usr/bin/passwd jelastic-ftp\n"},
		{name: "runas another", line: "%ssh-access ALL=(nobody) NOPASSWD: /usr/bin/passwd jelastic-ftp\n"},
		{name: "with a password", line: "%ssh-access ALL=PASSWD: /usr/bin/passwd jelastic-ftp\n"},
		{name: "more commands", line: "%ssh-access ALL=NOPASSWD: /usr/bin/passwd jelastic-ftp, /bin/ls\n"},
		{name: "commented", line: "# %ssh-access ALL=NOPASSWD: /usr/bin/passwd jelastic-ftp\n"},
		{name: "continued", line: "Defaults env_keep += \"A \\\n%ssh-access ALL=NOPASSWD: /usr/bin/passwd jelastic-ftp\"\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := newDropIn(t)
			initial := "# from the platform\n" + tc.line + "jelastic ALL=(ALL) NOPASSWD: /usr/bin/jem\n"
			writeDropIn(t, d, initial)
			changed, err := d.Grant("%ssh-access", "jelastic-ftp", passwd)
			require.NoError(t, err)
			if tc.same {
				require.False(t, changed)
				requireUntouched(t, d, []byte(initial))
				grants, err := d.Grants()
				require.NoError(t, err)
				require.Equal(t, []Grant{{Owner: "%ssh-access", User: "jelastic-ftp", Command: passwd}}, grants)
				// Not ours to remove.
				changed, err = d.Revoke("%ssh-access", "jelastic-ftp", passwd)
				require.NoError(t, err)
				require.False(t, changed)
				requireUntouched(t, d, []byte(initial))
				return
			}
			require.True(t, changed)
			requireUntouched(t, d, []byte(initial+"%ssh-access ALL = NOPASSWD: /usr/bin/passwd jelastic-ftp\n"))
			changed, err = d.Revoke("%ssh-access", "jelastic-ftp", passwd)
			require.NoError(t, err)
			require.True(t, changed)
			requireUntouched(t, d, []byte(initial))
		})
	}
}

func TestValidNameAccepts(t *testing.T) {
	for _, name := range []string{"jelastic", "jelastic-ftp", "_svc", "a", "a1_-", "ftp-" + strings.Repeat("x", 28)} {
		require.NoError(t, ValidName(name), name)
	}
}

func TestBadCommandsAreRefused(t *testing.T) {
	bad := []string{
		"", "passwd", "usr/bin/passwd", "/", "/usr/bin/", "/usr//bin/passwd", "/usr/bin/./passwd",
		"/usr/bin/../bin/sh", "/usr/bin/passwd, /bin/sh", "/usr/bin/pass wd", "/usr/bin/passwd\n",
		"/usr/bin/passwd*", "/usr/bin/pass?wd", `/usr/bin/passwd\`, "/usr/bin/passwd:", "/usr/bin/passwd=", "/usr/bin/\"passwd\"",
		"/usr/bin/passwd root", "/usr/bin/passwd ''", "/usr/bin/passwd#",
	}
	for _, cmd := range bad {
		t.Run(fmt.Sprintf("%q", cmd), func(t *testing.T) {
			d := newDropIn(t)
			require.Error(t, ValidCommand(cmd))
			changed, err := d.Grant("jelastic", "ftp-a", cmd)
			require.Error(t, err)
			require.False(t, changed)
			changed, err = d.Revoke("jelastic", "ftp-a", cmd)
			require.Error(t, err)
			require.False(t, changed)
			requireUntouched(t, d, nil)
		})
	}
	require.NoError(t, ValidCommand("/usr/local/sbin/passwd-2.0_x"))
}

func TestPathsSudoWouldIgnoreAreRefused(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"jelastic.conf", "jelastic~", ".jelastic", "jelastic.", "a.b.c"} {
		t.Run(name, func(t *testing.T) {
			d := DropIn{Path: filepath.Join(dir, name), Visudo: "/bin/true"}
			_, err := d.Grant("jelastic", "ftp-a", passwd)
			require.ErrorContains(t, err, "ignored by sudo")
			_, err = d.Grants()
			require.Error(t, err)
		})
	}
	for _, p := range []string{"jelastic", "sudoers.d/jelastic", dir + "/x/../jelastic", dir + "/"} {
		_, err := DropIn{Path: p, Visudo: "/bin/true"}.Grant("jelastic", "ftp-a", passwd)
		require.ErrorContains(t, err, "clean absolute path", p)
	}
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Empty(t, entries)
}

func TestVisudoFailureChangesNothing(t *testing.T) {
	scripts := t.TempDir()
	argsFile := filepath.Join(scripts, "args")
	failing := filepath.Join(scripts, "visudo")
	require.NoError(t, os.WriteFile(failing, []byte("#!/bin/sh\n"+
		"printf '%s\\n' \"$@\" > "+argsFile+"\n"+
		"echo \"$3:1:5: syntax error\" >&2\n"+
		"exit 1\n"), 0o755))

	cases := []struct {
		name    string
		visudo  string
		initial *string
		prefix  string
		message string
	}{
		{name: "script", visudo: failing, initial: ptr("# mine\n" + ruleB), prefix: "visudo rejected the new ", message: "syntax error"},
		{name: "script without a file", visudo: failing, prefix: "visudo rejected the new ", message: "syntax error"},
		{name: "false", visudo: "/bin/false", initial: ptr(ruleB + "# mine\n"), prefix: "visudo rejected the new ", message: "exit status 1"},
		{name: "missing binary", visudo: filepath.Join(scripts, "nonexistent"), initial: ptr(ruleB + "# mine\n"), prefix: "check the new ", message: "no such file"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := DropIn{Path: filepath.Join(t.TempDir(), "jelastic"), Visudo: tc.visudo}
			var initial []byte
			if tc.initial != nil {
				writeDropIn(t, d, *tc.initial)
				initial = []byte(*tc.initial)
			}
			changed, err := d.Grant("jelastic", "ftp-a", passwd)
			require.False(t, changed)
			require.ErrorContains(t, err, tc.prefix+d.Path+": ")
			require.ErrorContains(t, err, tc.message)
			require.ErrorContains(t, err, "nothing was changed")
			requireUntouched(t, d, initial)

			if tc.initial != nil {
				changed, err = d.Revoke("jelastic", "ftp-b", passwd)
				require.False(t, changed)
				require.ErrorContains(t, err, "nothing was changed")
				requireUntouched(t, d, initial)
			}
		})
	}

	// The check ran on a temporary file beside the drop-in whose name sudo skips.
	args, err := os.ReadFile(argsFile)
	require.NoError(t, err)
	fields := strings.Split(strings.TrimSpace(string(args)), "\n")
	require.Len(t, fields, 3)
	require.Equal(t, []string{"-c", "-f"}, fields[:2])
	require.True(t, strings.HasPrefix(filepath.Base(fields[2]), ".jelastic."), fields[2])
}

func TestRealVisudoRejectsABrokenFile(t *testing.T) {
	d := newDropIn(t)
	const broken = "bob ALL = = x\n"
	writeDropIn(t, d, broken)
	changed, err := d.Grant("jelastic", "ftp-a", passwd)
	require.False(t, changed)
	require.ErrorContains(t, err, "visudo rejected the new "+d.Path+": ")
	require.ErrorContains(t, err, "syntax error")
	requireUntouched(t, d, []byte(broken))
}

// A broken file of someone else does not stop us: only our drop-in is checked.
func TestBrokenNeighbourDoesNotBlockGrant(t *testing.T) {
	d := newDropIn(t)
	neighbour := filepath.Join(filepath.Dir(d.Path), "broken")
	require.NoError(t, os.WriteFile(neighbour, []byte("bob ALL = = x\n"), 0o440))
	changed, err := d.Grant("jelastic", "ftp-a", passwd)
	require.NoError(t, err)
	require.True(t, changed)
	got, err := os.ReadFile(d.Path)
	require.NoError(t, err)
	require.Equal(t, ruleA, string(got))
}

func TestWithoutVisudoTheFileIsStillWritten(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	saved := sbinDirs
	sbinDirs = nil
	t.Cleanup(func() { sbinDirs = saved })

	d := DropIn{Path: filepath.Join(t.TempDir(), "jelastic")}
	changed, err := d.Grant("jelastic", "ftp-a", passwd)
	require.True(t, changed)
	require.ErrorIs(t, err, ErrNotValidated)
	requireUntouched(t, d, []byte(ruleA))
	requireSudoMode(t, d.Path)

	changed, err = d.Grant("jelastic", "ftp-a", passwd)
	require.NoError(t, err, "nothing written, nothing to warn about")
	require.False(t, changed)
}

func TestSymlinkedDropInIsRefused(t *testing.T) {
	d := newDropIn(t)
	target := filepath.Join(t.TempDir(), "elsewhere")
	require.NoError(t, os.WriteFile(target, []byte(ruleB), 0o440))
	require.NoError(t, os.Symlink(target, d.Path))

	_, err := d.Grant("jelastic", "ftp-a", passwd)
	require.ErrorContains(t, err, "symbolic link")
	_, err = d.RevokeUser("ftp-b")
	require.ErrorContains(t, err, "symbolic link")
	got, err := os.ReadFile(target)
	require.NoError(t, err)
	require.Equal(t, ruleB, string(got))
	link, err := os.Readlink(d.Path)
	require.NoError(t, err)
	require.Equal(t, target, link)
}

func TestMissingDirectoryIsCreated(t *testing.T) {
	d := newDropIn(t)
	d.Path = filepath.Join(filepath.Dir(d.Path), "sudoers.d", "jelastic")
	changed, err := d.Grant("jelastic", "ftp-a", passwd)
	require.NoError(t, err)
	require.True(t, changed)
	fi, err := os.Stat(filepath.Dir(d.Path))
	require.NoError(t, err)
	require.Zero(t, fi.Mode().Perm()&0o022, "sudo ignores a directory others can write")
	requireUntouched(t, d, []byte(ruleA))
}

func TestRevokeCreatesNoDirectory(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "sudoers.d")
	d := DropIn{Path: filepath.Join(dir, "jelastic"), Visudo: "/bin/false"}
	changed, err := d.RevokeUser("ftp-a")
	require.NoError(t, err)
	require.False(t, changed)
	_, err = os.Stat(dir)
	require.ErrorIs(t, err, os.ErrNotExist)
}

func TestConcurrentGrantsLoseNothing(t *testing.T) {
	d := newDropIn(t)
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = d.Grant("jelastic", fmt.Sprintf("ftp-%d", i), passwd)
		}()
	}
	wg.Wait()
	require.NoError(t, errors.Join(errs...))
	grants, err := d.Grants()
	require.NoError(t, err)
	require.Len(t, grants, n)
	requireNoTemp(t, d)
}
