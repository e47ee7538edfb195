package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/monitor"
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
	require.NotContains(t, r.Stdout, "removed the sudo rules", "nothing of ours was left to remove")
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
	t.Run("jelastic named by an older install, but missing", func(t *testing.T) {
		ie := newInstallEnv(t)
		ie.MustRun("", "groupadd", "ssh-access")
		ie.addDataOwner("apache", "ssh-access")
		ie.WriteEtc("jelastic-ftp/ftpd.toml", fmt.Sprintf("root = %q\nowner = \"jelastic\"\n", ie.Root), 0o644)
		r := ie.install("--no-start", "--json")
		out := parseInstallOut(t, r)
		require.Contains(t, r.Stderr, "%ssh-access may change FTP passwords with sudo passwd (detected: the group ssh-access of the node's SSH users exists; the owner jelastic that /etc/jelastic-ftp/ftpd.toml named does not exist)")
		require.Contains(t, ie.ReadEtc("jelastic-ftp/ftpd.toml"), "\nowner = \"\"\n")
		ie.requireOnlyPasswdFor("apache", out.User)
	})
	t.Run("jelastic named and present", func(t *testing.T) {
		ie := newInstallEnv(t)
		ie.MustRun("", "groupadd", "ssh-access")
		ie.addAccount("jelastic")
		ie.WriteEtc("jelastic-ftp/ftpd.toml", fmt.Sprintf("root = %q\nowner = \"jelastic\"\n", ie.Root), 0o644)
		r := ie.install("--no-start", "--json")
		out := parseInstallOut(t, r)
		require.Contains(t, r.Stderr, "jelastic may change FTP passwords with sudo passwd (set in /etc/jelastic-ftp/ftpd.toml)")
		ie.requireDropIn(ownerRule("jelastic", out.User))
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

// serviceStatus asks the service install started (its control socket is below the
// test's run folder) for `ftpctl status --json`.
func (ie *installEnv) serviceStatus() (st struct {
	Running  bool     `json:"running"`
	Warnings []string `json:"warnings"`
	Service  struct {
		PID           int    `json:"pid"`
		PublicHost    string `json:"public_host"`
		PublicAddress string `json:"public_address"`
		ConfigSHA256  string `json:"config_sha256"`
		Certificate   struct {
			SHA256 string `json:"sha256"`
		} `json:"certificate"`
	} `json:"service"`
}) {
	ie.t.Helper()
	r := ie.Env.Run("", "env", monitor.RunDirEnv+"="+filepath.Join(ie.Run, "jelastic-ftp"), ftpctlBin, "status", "--json")
	require.NoError(ie.t, json.Unmarshal([]byte(r.Stdout), &st), r.String())
	return st
}

// pasvHost logs in and returns the address a PASV reply sends the client to.
func (ie *installEnv) pasvHost(user, password string) string {
	ie.t.Helper()
	c := dialRaw(ie.t, ie.Addr, "")
	c.login(user, password)
	m := regexp.MustCompile(`\((\d+),(\d+),(\d+),(\d+),\d+,\d+\)`).FindStringSubmatch(c.expect(227, "PASV"))
	require.NotNil(ie.t, m)
	c.expect(221, "QUIT")
	return strings.Join(m[1:5], ".")
}

func (ie *installEnv) reload() Result {
	ie.t.Helper()
	return ie.Ftpctl("", "reload", "--run-dir", ie.Run)
}

// setPublicHost edits ftpd.toml by hand, as an operator would.
func (ie *installEnv) setPublicHost(host string) string {
	ie.t.Helper()
	conf := regexp.MustCompile(`(?m)^public_host = .*$`).ReplaceAllString(ie.ReadEtc("jelastic-ftp/ftpd.toml"), fmt.Sprintf("public_host = %q", host))
	ie.WriteEtc("jelastic-ftp/ftpd.toml", conf, 0o644)
	sum := sha256.Sum256([]byte(conf))
	return hex.EncodeToString(sum[:])
}

// TestPublicHostName: a host name in public_host is resolved by the service, on start
// and on reload; one that does not resolve, or garbage, is refused by install and by
// reload with nothing changed, and a SIGHUP that meets one keeps the last good
// address. The service never stops serving.
func TestPublicHostName(t *testing.T) {
	ie := newInstallEnv(t)
	ie.WriteEtc("hosts", ie.ReadEtc("hosts")+"192.0.2.77 ftp.example.test\n192.0.2.78 ftp2.example.test\n", 0o644)
	// No DNS server: names outside /etc/hosts fail at once instead of after a timeout.
	ie.WriteEtc("resolv.conf", "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n", 0o644)

	out := parseInstallOut(t, ie.install("--json", "--public-host", "ftp.example.test"))
	require.Equal(t, "ftp.example.test", out.Host)
	pid := ie.pid()
	require.Equal(t, "192.0.2.77", ie.pasvHost(out.User, out.Password))
	st := ie.serviceStatus()
	require.Equal(t, "ftp.example.test", st.Service.PublicHost)
	require.Equal(t, "192.0.2.77", st.Service.PublicAddress)

	for _, bad := range []struct{ host, why string }{
		{"nowhere.invalid", "the host name does not resolve to an IPv4 address"},
		{"ftp example", "must be an IPv4 address or a host name"},
		{"::1", "must be an IPv4 address or a host name"},
		{"-x-.example", "must be an IPv4 address or a host name"},
	} {
		before := ie.systemFiles()
		r := ie.install("--public-host", bad.host)
		require.Equal(t, 2, r.Code, "%q: %s", bad.host, r)
		requireOneLine(t, r.Stderr)
		require.Contains(t, r.Stderr, "public_host: "+strconv.Quote(bad.host)+": "+bad.why)
		require.Equal(t, before, ie.systemFiles(), "%q changed something", bad.host)
		require.Equal(t, pid, ie.pid())
	}
	require.Equal(t, "192.0.2.77", ie.pasvHost(out.User, out.Password), "still serving, as before")

	// A hand edit to another name, and reload: new sessions get its address.
	digest := ie.setPublicHost("ftp2.example.test")
	r := ie.reload()
	require.Equal(t, 0, r.Code, r.String())
	require.Contains(t, r.Stdout, fmt.Sprintf("ftpctl serve (PID %d) reloaded /etc/jelastic-ftp/ftpd.toml", pid))
	require.Equal(t, "192.0.2.78", ie.pasvHost(out.User, out.Password))
	require.Equal(t, digest, ie.serviceStatus().Service.ConfigSHA256)
	r = ie.reload()
	require.Equal(t, 0, r.Code, r.String())
	require.Contains(t, r.Stdout, "already runs with")

	// A name that does not resolve: reload refuses it and leaves the service alone.
	ie.setPublicHost("nowhere.invalid")
	r = ie.reload()
	require.Equal(t, 1, r.Code, r.String())
	requireOneLine(t, r.Stderr)
	require.Contains(t, r.Stderr, `public_host: "nowhere.invalid": the host name does not resolve`)
	require.Contains(t, r.Stderr, "the service keeps its settings")
	require.Equal(t, digest, ie.serviceStatus().Service.ConfigSHA256)
	require.Equal(t, "192.0.2.78", ie.pasvHost(out.User, out.Password))
	// Install refuses the file as it is too, and changes nothing.
	before := ie.systemFiles()
	r = ie.install()
	require.Equal(t, 2, r.Code, r.String())
	requireOneLine(t, r.Stderr)
	require.Equal(t, before, ie.systemFiles())

	// SIGHUP straight to the service: it takes the file, keeps the last good address
	// and says why, and goes on serving.
	digest = ie.setPublicHost("nowhere.invalid")
	require.NoError(t, syscall.Kill(pid, syscall.SIGHUP))
	require.True(t, waitFor(15*time.Second, func() bool { return ie.serviceStatus().Service.ConfigSHA256 == digest }), "the service reloaded")
	st = ie.serviceStatus()
	require.Equal(t, "192.0.2.78", st.Service.PublicAddress)
	require.Equal(t, "192.0.2.78", ie.pasvHost(out.User, out.Password))
	require.Equal(t, pid, ie.pid())
	require.True(t, isServeProcess(pid))
	log, err := os.ReadFile(filepath.Join(ie.Log, "ftpd.log"))
	require.NoError(t, err)
	require.Contains(t, string(log), `public_host: \"nowhere.invalid\": the host name does not resolve`)
	require.Contains(t, string(log), "passive-mode replies keep announcing 192.0.2.78")
}

// TestInstallAfterHandEdit: without systemd, install after a hand edit that left it
// nothing to write still brings the running service to the file as it is; and the
// certificate's SHA-256 in install's answer and status is the one clients see.
func TestInstallAfterHandEdit(t *testing.T) {
	ie := newInstallEnv(t)
	out := parseInstallOut(t, ie.install("--json"))
	pid := ie.pid()

	fp := ie.MustRun("", "openssl", "x509", "-noout", "-fingerprint", "-sha256", "-in", filepath.Join(ie.State, "cert.pem")).Stdout
	_, fp, ok := strings.Cut(strings.TrimSpace(fp), "=")
	require.True(t, ok)
	require.Equal(t, fp, out.Fields["cert_sha256"])
	presented := sha256.Sum256(presentedCert(t, ie.Addr))
	require.Equal(t, strings.ReplaceAll(fp, ":", ""), strings.ToUpper(hex.EncodeToString(presented[:])))
	require.Equal(t, fp, ie.serviceStatus().Service.Certificate.SHA256)

	// The file as install writes it, one value changed in place: install has nothing
	// to write, but the service has not read it.
	conf := ie.ReadEtc("jelastic-ftp/ftpd.toml")
	edited := strings.Replace(conf, "\nidle_timeout = \"5m\"\n", "\nidle_timeout = \"2m\"\n", 1)
	require.NotEqual(t, conf, edited)
	ie.WriteEtc("jelastic-ftp/ftpd.toml", edited, 0o644)
	r := ie.install()
	require.Equal(t, 0, r.Code, r.String())
	require.Contains(t, r.Stderr, "restarted ftpctl serve for the new settings")
	require.Regexp(t, `(?m)^certificate SHA-256:\s+`+fp+`$`, r.Stdout)
	require.Equal(t, edited, ie.ReadEtc("jelastic-ftp/ftpd.toml"), "the hand edit stays")
	require.NotEqual(t, pid, ie.pid())
	require.False(t, running(pid))
	sum := sha256.Sum256([]byte(edited))
	require.Equal(t, hex.EncodeToString(sum[:]), ie.serviceStatus().Service.ConfigSHA256)

	// Now the service runs with the file: install leaves it alone.
	pid = ie.pid()
	r = ie.install()
	require.Equal(t, 0, r.Code, r.String())
	require.Contains(t, r.Stderr, fmt.Sprintf("ftpctl serve is running (PID %d)", pid))
	ie.requireLogin(out.User, out.Password)
}

// TestCompletionOffersFTPUsers: shell completion (cobra's __complete, which the
// generated bash, zsh and fish scripts call) offers the FTP accounts, and no others,
// for user del, passwd and show.
func TestCompletionOffersFTPUsers(t *testing.T) {
	e := NewEnv(t)
	for _, name := range []string{"alpha", "alpine", "beta"} {
		require.Equal(t, 0, e.addUser(name).Code)
	}
	e.MustRun("", "useradd", "-M", "-s", "/bin/false", "alsonot")
	for _, sub := range []string{"del", "passwd", "show"} {
		r := e.Ftpctl("", "__complete", "user", sub, "al")
		require.Equal(t, 0, r.Code, r.String())
		require.Equal(t, "alpha\nalpine\n:4\n", r.Stdout, "user %s", sub)
		r = e.Ftpctl("", "__complete", "user", sub, "")
		require.Equal(t, "alpha\nalpine\nbeta\n:4\n", r.Stdout, "user %s", sub)
		r = e.Ftpctl("", "__complete", "user", sub, "alpha", "")
		require.Equal(t, ":4\n", r.Stdout, "user %s takes one name", sub)
	}
}
