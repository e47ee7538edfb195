package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// These tests give ftpd.toml no owner, as a first install does, and check whom install
// detects on nodes shaped like the platform's stacks, with the real sudo.

// platformGrant is the line the platform's own node tooling writes into
// /etc/sudoers.d/jelastic, spaced its way.
const platformGrant = "%ssh-access ALL=NOPASSWD: /usr/bin/passwd jelastic-ftp\n"

// addDataOwner creates a stack's data owner: an account with UID 700 (and a group of
// its own), a member of the given supplementary groups.
func (e *Env) addDataOwner(name string, groups ...string) {
	e.t.Helper()
	args := []string{"-o", "-u", "700", "-M", "-d", e.t.TempDir(), "-s", "/bin/sh"}
	if len(groups) > 0 {
		args = append(args, "-G", strings.Join(groups, ","))
	}
	e.MustRun("", "useradd", append(args, name)...)
}

// ownerStatus is the owner part of `ftpctl status --json`.
type ownerStatus struct {
	Owner       string `json:"owner"`
	OwnerReason string `json:"owner_reason"`
}

func (ie *installEnv) ownerStatus() ownerStatus {
	ie.t.Helper()
	r := ie.Ftpctl("", "status", "--json")
	var st ownerStatus
	require.NoError(ie.t, json.Unmarshal([]byte(r.Stdout), &st), r.String())
	return st
}

// requireOnlyPasswdFor proves account may run exactly `passwd user` (and `passwd
// OTHER` for others) through sudo: the real sudo lets it set user's password (fed on
// stdin), and refuses everything else.
func (ie *installEnv) requireOnlyPasswdFor(account, user string, others ...string) {
	ie.t.Helper()
	const pw = "Owner-Set-Pass-7"
	r := ie.asOwner(account, pw+"\n"+pw+"\n", "/usr/bin/passwd", user)
	require.Equal(ie.t, 0, r.Code, "sudo passwd %s as %s: %s", user, account, r)
	require.NoError(ie.t, ie.authenticate(user, pw), "the password the owner set works")
	for _, args := range [][]string{
		{"/usr/bin/passwd", "root"},
		{"/usr/bin/passwd"},
		{"/usr/bin/passwd", "-d", user},
		{"/usr/bin/id"},
		{"/bin/sh", "-c", "id"},
	} {
		r := ie.asOwner(account, "Evil-Pass-99\nEvil-Pass-99\n", args...)
		require.NotEqual(ie.t, 0, r.Code, "sudo %v as %s was allowed: %s", args, account, r)
	}
	var want []string
	for _, u := range append([]string{user}, others...) {
		want = append(want, "(root) NOPASSWD: /usr/bin/passwd "+u)
	}
	require.ElementsMatch(ie.t, want, ie.sudoList(account), "all that sudo grants %s", account)
	ie.requireSudoersValid()
}

// TestOwnerSSHAccessGroup is the platform's usual node: no account jelastic, apache
// owns the data with UID 700 and is in the group ssh-access, which gets the rule.
func TestOwnerSSHAccessGroup(t *testing.T) {
	requireSudoTools(t)
	ie := newInstallEnv(t)
	ie.MustRun("", "groupadd", "ssh-access")
	ie.addDataOwner("apache", "ssh-access")

	r := ie.install("--no-start", "--json")
	out := parseInstallOut(t, r)
	require.Contains(t, r.Stderr, "%ssh-access may change FTP passwords with sudo passwd (detected: the group ssh-access")
	require.NotRegexp(t, `warning: .*(sudo|owner)`, r.Stderr)
	require.Equal(t, "%ssh-access", out.Fields["owner"])
	ie.requireDropIn(ownerRule("%ssh-access", out.User))
	st := ie.ownerStatus()
	require.Equal(t, "%ssh-access", st.Owner)
	require.Contains(t, st.OwnerReason, "detected: the group ssh-access")

	ie.requireOnlyPasswdFor("apache", out.User)
	ie.RequireConsistent()
}

// TestOwnerPlatformLineKept: the platform already granted the same in our drop-in;
// install neither duplicates nor rewrites it, and uninstall leaves it.
func TestOwnerPlatformLineKept(t *testing.T) {
	requireSudoTools(t)
	ie := newInstallEnv(t)
	ie.MustRun("", "groupadd", "ssh-access")
	ie.addDataOwner("apache", "ssh-access")
	platform := "# Managed by the platform\nDefaults:%ssh-access !lecture\n" + platformGrant + "jelastic ALL=(ALL) NOPASSWD: /usr/bin/true\n"
	ie.WriteEtc(dropIn, platform, 0o440)
	before, _ := ie.dropIn()

	out := parseInstallOut(t, ie.install("--no-start", "--json"))
	require.Equal(t, "jelastic-ftp", out.User)
	after, _ := ie.dropIn()
	require.Equal(t, before, after, "the drop-in is not rewritten")
	ie.requireOnlyPasswdFor("apache", out.User)

	// Again, and after an uninstall: the platform's lines stay byte for byte.
	require.Equal(t, 0, ie.install("--no-start").Code)
	after, _ = ie.dropIn()
	require.Equal(t, before, after)
	r := ie.uninstall()
	require.Equal(t, 0, r.Code, r.String())
	require.Equal(t, platform, ie.ReadEtc(dropIn))
}

// TestOwnerDetection: with no group ssh-access, the account jelastic; without it, the
// account with UID 700 that is not an FTP user; with neither, a warning and no rule.
func TestOwnerDetection(t *testing.T) {
	requireSudoTools(t)
	t.Run("only jelastic", func(t *testing.T) {
		ie := newInstallEnv(t)
		ie.addDataOwner("apache")
		ie.addAccount("jelastic")
		r := ie.install("--no-start", "--json")
		out := parseInstallOut(t, r)
		require.Contains(t, r.Stderr, "jelastic may change FTP passwords with sudo passwd (detected: there is no group ssh-access, and the account jelastic exists)")
		ie.requireDropIn(ownerRule("jelastic", out.User))
		ie.requireOnlyPasswdFor("jelastic", out.User)
		require.NotEqual(t, 0, ie.asOwner("apache", "Evil-Pass-99\nEvil-Pass-99\n", "/usr/bin/passwd", out.User).Code)
	})
	t.Run("only the data owner", func(t *testing.T) {
		ie := newInstallEnv(t)
		ie.addDataOwner("nginx")
		r := ie.install("--no-start", "--json")
		out := parseInstallOut(t, r)
		require.Contains(t, r.Stderr, "nginx may change FTP passwords with sudo passwd (detected: there is neither a group ssh-access nor an account jelastic, and nginx is the first account with UID 700")
		ie.requireDropIn(ownerRule("nginx", out.User))
		ie.requireOnlyPasswdFor("nginx", out.User)
		require.Equal(t, "nginx", ie.ownerStatus().Owner)

		// A later user add grants the same owner; a reinstall keeps it.
		require.Equal(t, 0, ie.addUser("site2").Code)
		require.Equal(t, 0, ie.install("--no-start").Code)
		ie.requireDropIn(ownerRule("nginx", out.User) + ownerRule("nginx", "site2"))
		ie.requireOnlyPasswdFor("nginx", "site2", out.User)
	})
	t.Run("none", func(t *testing.T) {
		ie := newInstallEnv(t)
		r := ie.install("--no-start", "--json")
		out := parseInstallOut(t, r)
		require.Regexp(t, `(?m)^ftpctl: warning: no sudo rule for jelastic-ftp, as no owner was found: there is no group ssh-access, no account jelastic and no account with UID 700 besides the FTP users; set owner in /etc/jelastic-ftp/ftpd.toml or give ftpctl install --owner$`, r.Stderr)
		_, ok := ie.dropIn()
		require.False(t, ok, "no rule without an owner")
		require.NoError(t, ie.authenticate(out.User, out.Password), "the FTP account works without a rule")
		st := ie.ownerStatus()
		require.Equal(t, "", st.Owner)
		require.Contains(t, st.OwnerReason, "there is no group ssh-access")
	})
}

// TestOwnerChangeMovesRules: naming an owner moves every rule of ours to it, in file
// order; a bad owner is refused with exit 2 and nothing changed.
func TestOwnerChangeMovesRules(t *testing.T) {
	requireSudoTools(t)
	ie := newInstallEnv(t)
	ie.MustRun("", "groupadd", "ssh-access")
	ie.addDataOwner("apache", "ssh-access")
	ie.addAccount("deployer")
	out := parseInstallOut(t, ie.install("--no-start", "--json"))
	require.Equal(t, 0, ie.addUser("site2").Code)
	ie.requireDropIn(ownerRule("%ssh-access", out.User) + ownerRule("%ssh-access", "site2"))

	for _, bad := range []string{"%ALL", "ALL", "%", "%%ssh-access", "%ssh-access,root", "%ssh-access root", "%:ssh-access", "#0", "deployer, /bin/sh"} {
		before := ie.systemFiles()
		r := ie.install("--no-start", "--owner", bad)
		require.Equal(t, 2, r.Code, "--owner %q: %s", bad, r)
		requireOneLine(t, r.Stderr)
		require.Contains(t, r.Stderr, "owner")
		require.Equal(t, before, ie.systemFiles(), "--owner %q changed something", bad)
	}

	r := ie.install("--no-start", "--owner", "deployer")
	require.Equal(t, 0, r.Code, r.String())
	require.Contains(t, r.Stderr, "deployer may change FTP passwords with sudo passwd (given with --owner)")
	require.Contains(t, ie.ReadEtc("jelastic-ftp/ftpd.toml"), "\nowner = \"deployer\"\n")
	ie.requireDropIn(ownerRule("deployer", out.User) + ownerRule("deployer", "site2"))
	require.NotEqual(t, 0, ie.asOwner("apache", "Evil-Pass-99\nEvil-Pass-99\n", "/usr/bin/passwd", out.User).Code)
	ie.requireOnlyPasswdFor("deployer", out.User, "site2")

	// And back to a group, named this time.
	require.Equal(t, 0, ie.install("--no-start", "--owner", "%ssh-access").Code)
	ie.requireDropIn(ownerRule("%ssh-access", out.User) + ownerRule("%ssh-access", "site2"))
	ie.requireOnlyPasswdFor("apache", out.User, "site2")
}
