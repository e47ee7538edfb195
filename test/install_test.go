package e2e

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/internal/testtool"
)

// These tests drive `ftpctl install` and `ftpctl uninstall` as the platform would, in
// each test's private /etc. The add-on's state, log and PID file go to the test's
// temporary folder through hidden flags, the service gets free ports on 127.0.0.1, and
// every service a test starts is stopped by PID when it ends.

// installEnv is an Env with the add-on's other folders and ports of its own.
type installEnv struct {
	*Env
	State, Log, Run string
	Port            int
	Addr            string
	// pids are the services seen during the test, all stopped at its end.
	pids []int
}

func newInstallEnv(t *testing.T) *installEnv {
	t.Helper()
	testtool.Require(t, "curl")
	base := t.TempDir()
	ie := &installEnv{
		Env:   NewEnv(t),
		State: filepath.Join(base, "lib"),
		Log:   filepath.Join(base, "log"),
		Run:   filepath.Join(base, "run"),
		Port:  freePorts(t),
	}
	ie.Addr = fmt.Sprintf("127.0.0.1:%d", ie.Port)
	ie.StateDir = ie.State // where `ftpctl user` refreshes the state copy install keeps
	t.Cleanup(ie.stopServices)
	return ie
}

// flags are what every install in these tests passes: where things go and which ports.
func (ie *installEnv) flags(extra ...string) []string {
	return append([]string{
		"--root", ie.Root,
		"--listen", ie.Addr,
		"--sftp-listen", ie.SFTPAddr(),
		"--passive-ports", fmt.Sprintf("%d-%d", ie.Port+2, ie.Port+portBlock-1),
		"--state-dir", ie.State, "--log-dir", ie.Log, "--run-dir", ie.Run,
	}, extra...)
}

// SFTPAddr is the SFTP address of the installed service: the port after the FTP port.
func (ie *installEnv) SFTPAddr() string {
	host, _, _ := net.SplitHostPort(ie.Addr)
	return net.JoinHostPort(host, strconv.Itoa(ie.Port+1))
}

func (ie *installEnv) install(extra ...string) Result {
	ie.t.Helper()
	r := ie.Ftpctl("", append([]string{"install"}, ie.flags(extra...)...)...)
	ie.track()
	return r
}

func (ie *installEnv) uninstall(extra ...string) Result {
	ie.t.Helper()
	args := append([]string{"uninstall", "--state-dir", ie.State, "--log-dir", ie.Log, "--run-dir", ie.Run}, extra...)
	return ie.Ftpctl("", args...)
}

// installOut is the JSON `ftpctl install --json` prints; Fields keeps every key, to
// tell a missing password from an empty one.
type installOut struct {
	User         string `json:"user"`
	Password     string `json:"password"`
	Host         string `json:"host"`
	Port         int    `json:"port"`
	FTPS         string `json:"ftps"`
	PassivePorts string `json:"passive_ports"`
	Root         string `json:"root"`
	Fields       map[string]any
}

func parseInstallOut(t *testing.T, r Result) installOut {
	t.Helper()
	require.Equal(t, 0, r.Code, "ftpctl install failed:\nstdout: %s\nstderr: %s", r.Stdout, r.Stderr)
	var out installOut
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &out), r.Stdout)
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &out.Fields))
	return out
}

// pid is the service the PID file names; 0 when there is no PID file.
func (ie *installEnv) pid() int {
	data, err := os.ReadFile(filepath.Join(ie.Run, "jelastic-ftp.pid"))
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	require.NoError(ie.t, err)
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	require.NoError(ie.t, err)
	return pid
}

func (ie *installEnv) track() {
	if pid := ie.pid(); pid != 0 && !slices.Contains(ie.pids, pid) {
		ie.pids = append(ie.pids, pid)
	}
}

func (ie *installEnv) stopServices() {
	ie.track()
	for _, pid := range ie.pids {
		if !isServeProcess(pid) {
			continue
		}
		_ = syscall.Kill(pid, syscall.SIGTERM)
		if !waitFor(stopTimeout, func() bool { return !running(pid) }) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			ie.t.Errorf("ftpctl serve (PID %d) did not stop within %s of SIGTERM", pid, stopTimeout)
		}
	}
}

// running reports whether pid is a live process; a zombie is not.
func running(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	return i > 0 && i+2 < len(stat) && stat[i+2] != 'Z' && stat[i+2] != 'X'
}

func isServeProcess(pid int) bool {
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && running(pid) && bytes.HasPrefix(cmdline, []byte("ftpctl\x00serve\x00"))
}

// login lists the FTP root with curl, in clear or with explicit FTPS, and returns
// curl's exit status: 0 logged in, 67 login refused.
func (ie *installEnv) login(user, password string, useTLS bool) Result {
	ie.t.Helper()
	args := []string{"-sS", "--connect-timeout", "5", "--max-time", "30", "-u", user + ":" + password}
	if useTLS {
		args = append(args, curlTLS...)
	}
	return runTool(ie.t, "", "curl", append(args, "ftp://"+ie.Addr+"/")...)
}

func (ie *installEnv) requireLogin(user, password string) {
	ie.t.Helper()
	for _, useTLS := range []bool{false, true} {
		r := ie.login(user, password, useTLS)
		require.Equal(ie.t, 0, r.Code, "login as %s (TLS %v): %s", user, useTLS, r)
	}
}

// systemFiles are the files install writes, by name, "<absent>" for a missing one.
func (ie *installEnv) systemFiles() map[string]string {
	ie.t.Helper()
	files := map[string]string{}
	paths := map[string]string{}
	for _, f := range []string{"passwd", "shadow", "group", "gshadow", "sudoers.d/jelastic", "jelastic-ftp/ftpd.toml", "jelastic-ftp/users.toml"} {
		paths["/etc/"+f] = filepath.Join(ie.Etc, f)
	}
	for _, f := range []string{"cert.pem", "key.pem", "cert-host", "ssh_host_ed25519_key", "ssh_host_ecdsa_key", "ssh_host_rsa_key"} {
		paths["state/"+f] = filepath.Join(ie.State, f)
	}
	for name, p := range paths {
		b, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			files[name] = "<absent>"
			continue
		}
		require.NoError(ie.t, err)
		files[name] = string(b)
	}
	return files
}

func requireOneLine(t *testing.T, stderr string) {
	t.Helper()
	require.Equal(t, 1, strings.Count(stderr, "\n"), "one line on stderr: %q", stderr)
	require.True(t, strings.HasPrefix(stderr, "ftpctl: "), stderr)
}

func TestInstallFreshRepeatedAndReset(t *testing.T) {
	ie := newInstallEnv(t)
	ie.addAccount(sudoOwner)

	r := ie.install("--json", "--public-host", "127.0.0.1")
	out := parseInstallOut(t, r)
	require.Equal(t, "jelastic-ftp", out.User)
	require.GreaterOrEqual(t, len(out.Password), 16)
	require.Equal(t, "127.0.0.1", out.Host)
	require.Equal(t, ie.Port, out.Port)
	require.Equal(t, "explicit", out.FTPS)
	require.Equal(t, fmt.Sprintf("%d-%d", ie.Port+2, ie.Port+portBlock-1), out.PassivePorts)
	require.Equal(t, ie.Root, out.Root)
	require.Contains(t, r.Stderr, "ftpctl: FTP root "+ie.Root+": given with --root\n")
	pid := ie.pid()
	require.True(t, isServeProcess(pid), "the PID file names ftpctl serve")
	require.Contains(t, r.Stderr, fmt.Sprintf("no systemd: started ftpctl serve (PID %d); it will not restart after a reboot", pid))
	ie.requireLogin(out.User, out.Password)
	// The service install started keeps the last logins in install's state folder.
	require.True(t, waitFor(10*time.Second, func() bool { return ie.showUser(out.User).LastLogin != nil }),
		"no last login recorded in %s", ie.State)

	// What install left: the account, the owner's rule, the settings and a certificate
	// only root can use.
	entry := ie.passwdEntry("jelastic-ftp")
	require.Equal(t, "700", entry[2])
	require.Equal(t, ie.Root, entry[5])
	require.Contains(t, ie.ReadEtc(dropIn), ownerRule(sudoOwner, "jelastic-ftp"))
	cfg, err := config.Load(filepath.Join(ie.Etc, "jelastic-ftp/ftpd.toml"))
	require.NoError(t, err)
	require.Equal(t, ie.Addr, cfg.Listen)
	require.Equal(t, "127.0.0.1", cfg.PublicHost)
	require.Equal(t, filepath.Join(ie.State, "cert.pem"), cfg.TLS.Cert)
	for name, mode := range map[string]os.FileMode{"cert.pem": 0o644, "key.pem": 0o600} {
		fi, err := os.Stat(filepath.Join(ie.State, name))
		require.NoError(t, err)
		require.Equal(t, mode, fi.Mode().Perm(), name)
		require.Equal(t, uint32(0), fi.Sys().(*syscall.Stat_t).Uid, name)
	}

	// A second run changes nothing, keeps the password and the running service.
	before := ie.systemFiles()
	r = ie.install("--json", "--public-host", "127.0.0.1")
	again := parseInstallOut(t, r)
	require.NotContains(t, again.Fields, "password", "no password when none was made")
	require.Equal(t, before, ie.systemFiles())
	require.Equal(t, pid, ie.pid())
	require.Contains(t, r.Stderr, fmt.Sprintf("ftpctl serve is running (PID %d)", pid))
	ie.requireLogin(out.User, out.Password)

	// --reset-password: a new password that works at once, without a restart.
	r = ie.install("--json", "--public-host", "127.0.0.1", "--reset-password")
	reset := parseInstallOut(t, r)
	require.GreaterOrEqual(t, len(reset.Password), 16)
	require.NotEqual(t, out.Password, reset.Password)
	require.Equal(t, pid, ie.pid(), "no restart for a new password")
	require.Equal(t, 67, ie.login(out.User, out.Password, false).Code, "the old password is refused")
	ie.requireLogin(out.User, reset.Password)
	after := ie.systemFiles()
	require.NotEqual(t, before["/etc/shadow"], after["/etc/shadow"])
	delete(before, "/etc/shadow")
	delete(after, "/etc/shadow")
	require.Equal(t, before, after, "only shadow changes")

	// Without --json: the same facts for a human.
	r = ie.install()
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Regexp(t, `(?m)^password:\s+unchanged`, r.Stdout)
	require.Regexp(t, `(?m)^port:\s+`+strconv.Itoa(ie.Port)+`$`, r.Stdout)
}

func TestInstallChangedSettingsRestart(t *testing.T) {
	ie := newInstallEnv(t)
	out := parseInstallOut(t, ie.install("--json"))
	pid := ie.pid()
	// Without --public-host, clients are sent to the primary address, else the host name.
	if ip := net.ParseIP(out.Host); ip != nil {
		require.False(t, ip.IsLoopback(), "the primary address is not a loopback one: %s", out.Host)
	} else {
		require.NotEmpty(t, out.Host)
	}

	r := ie.install("--idle-timeout", "2m")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Contains(t, r.Stderr, "restarted ftpctl serve for the new settings")
	require.NotEqual(t, pid, ie.pid())
	require.False(t, running(pid), "the old service is gone")
	require.True(t, isServeProcess(ie.pid()))
	ie.requireLogin(out.User, out.Password)
}

func TestInstallNoStart(t *testing.T) {
	ie := newInstallEnv(t)
	r := ie.install("--no-start", "--json")
	out := parseInstallOut(t, r)
	require.Contains(t, r.Stderr, "--no-start")
	require.Equal(t, 0, ie.pid(), "no PID file")
	requireRefused(t, ie.Addr)
	require.FileExists(t, filepath.Join(ie.Etc, "jelastic-ftp/ftpd.toml"))

	r = ie.install()
	require.Equal(t, 0, r.Code, r.Stderr)
	require.True(t, isServeProcess(ie.pid()))
	ie.requireLogin(out.User, out.Password)
}

func requireRefused(t *testing.T, addr string) {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err == nil {
		conn.Close()
	}
	require.ErrorIs(t, err, syscall.ECONNREFUSED, "nothing listens on %s", addr)
}

func TestInstallRefusesBadRequests(t *testing.T) {
	ie := newInstallEnv(t)
	junk := filepath.Join(t.TempDir(), "junk.pem")
	require.NoError(t, os.WriteFile(junk, []byte("not PEM"), 0o600))
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"reversed passive ports", []string{"--passive-ports", "12000-10100"}, 2, "passive_ports"},
		{"passive ports not a range", []string{"--passive-ports", "10100"}, 2, "--passive-ports"},
		{"bad listen", []string{"--listen", "nowhere"}, 2, "listen"},
		{"bad user name", []string{"--user", "bad:name"}, 2, "--user"},
		{"bad owner", []string{"--owner", "Root"}, 2, "owner"},
		{"cert without key", []string{"--tls-cert", junk}, 2, "tls-key"},
		{"bad duration", []string{"--idle-timeout", "soon"}, 2, "idle-timeout"},
		{"short idle timeout", []string{"--idle-timeout", "1s"}, 2, "idle_timeout"},
		{"relative root", []string{"--root", "webroot"}, 2, "absolute"},
		{"IPv6 public host", []string{"--public-host", "::1"}, 2, "public_host"},
		{"an argument", []string{"now"}, 2, "no arguments"},
		{"on demand without systemd", []string{"--on-demand"}, 2, "--on-demand needs systemd"},
		{"missing root", []string{"--root", "/nonexistent/webroot"}, 1, "does not exist"},
		{"cert and key not a pair", []string{"--tls-cert", junk, "--tls-key", junk}, 1, "do not form a pair"},
		{"not an FTP account", []string{"--user", "root"}, 1, "not an FTP account"},
	}
	etcBefore := ie.Snapshot()
	settings := ie.ReadEtc("jelastic-ftp/ftpd.toml")
	check := func(t *testing.T, r Result, code int, want string) {
		t.Helper()
		require.Equal(t, code, r.Code, r.Stderr)
		requireOneLine(t, r.Stderr)
		require.Contains(t, r.Stderr, want)
		require.Empty(t, r.Stdout)
		require.Equal(t, etcBefore, ie.Snapshot())
		require.Equal(t, settings, ie.ReadEtc("jelastic-ftp/ftpd.toml"))
		for _, dir := range []string{ie.State, ie.Log, ie.Run} {
			require.NoDirExists(t, dir)
		}
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			// Later flags win, so each case overrides the defaults of ie.flags.
			check(t, ie.install(tc.args...), tc.code, tc.want)
		})
	}
	t.Run("port in use", func(t *testing.T) {
		l, err := net.Listen("tcp", ie.Addr)
		require.NoError(t, err)
		defer l.Close()
		check(t, ie.install(), 1, "could not listen on "+ie.Addr)
	})
}

func TestInstallNewCertificateWhenHostnameChanges(t *testing.T) {
	ie := newInstallEnv(t)
	installAs := func(host string) Result {
		t.Helper()
		r := ie.runNS(nsOptions{hostname: host}, "", ftpctlBin, append([]string{"install"}, ie.flags()...)...)
		ie.track()
		require.Equal(t, 0, r.Code, r.Stderr)
		return r
	}
	certFile := filepath.Join(ie.State, "cert.pem")

	r := installAs("node-a")
	require.Contains(t, r.Stderr, "made a self-signed certificate for node-a")
	certA := readCert(t, certFile)
	require.Contains(t, certA.DNSNames, "node-a")
	pid := ie.pid()

	r = installAs("node-a")
	require.NotContains(t, r.Stderr, "made a self-signed certificate")
	require.Equal(t, certA.Raw, readCert(t, certFile).Raw, "same host, same certificate")

	// A clone gets a new host name, and with it a new certificate.
	r = installAs("node-b")
	require.Contains(t, r.Stderr, "made a self-signed certificate for node-b")
	require.Contains(t, r.Stderr, "the host name changed from node-a")
	certB := readCert(t, certFile)
	require.NotEqual(t, certA.Raw, certB.Raw)
	require.Contains(t, certB.DNSNames, "node-b")
	require.Equal(t, "node-b\n", string(mustRead(t, filepath.Join(ie.State, "cert-host"))))

	// The running service takes it up on SIGHUP, without a restart.
	require.Equal(t, pid, ie.pid())
	require.Contains(t, r.Stderr, fmt.Sprintf("ftpctl serve (PID %d) reloads the new certificate", pid))
	var presented []byte
	ok := waitFor(10*time.Second, func() bool {
		presented = presentedCert(t, ie.Addr)
		return bytes.Equal(presented, certB.Raw)
	})
	require.True(t, ok, "the service still presents the old certificate")
}

func readCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(mustRead(t, path))
	require.NotNil(t, block, "no PEM in %s", path)
	cert, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return cert
}

// presentedCert is the certificate the server at addr shows after AUTH TLS.
func presentedCert(t *testing.T, addr string) []byte {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	rd := bufio.NewReader(conn)
	line, err := rd.ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(line, "220"), line)
	_, err = conn.Write([]byte("AUTH TLS\r\n"))
	require.NoError(t, err)
	line, err = rd.ReadString('\n')
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(line, "234"), line)
	tc := tls.Client(conn, &tls.Config{InsecureSkipVerify: true}) // self-signed: we compare bytes
	require.NoError(t, tc.Handshake())
	return tc.ConnectionState().PeerCertificates[0].Raw
}

func TestUninstall(t *testing.T) {
	ie := newInstallEnv(t)
	ie.addAccount(sudoOwner)
	etcBefore := ie.Snapshot()

	out := parseInstallOut(t, ie.install("--json"))
	deployHome := addFTPUser(t, ie.Env, "deploy", ftpPassword)
	require.NoError(t, os.WriteFile(filepath.Join(ie.Root, "index.php"), []byte("<?php echo 1;"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(deployHome, "upload.txt"), []byte("kept"), 0o644))
	require.Contains(t, ie.ReadEtc(dropIn), ownerRule(sudoOwner, "deploy"))
	pid := ie.pid()
	require.True(t, isServeProcess(pid))

	r := ie.uninstall()
	require.Equal(t, 0, r.Code, r.Stderr)
	for _, want := range []string{
		fmt.Sprintf("stopped ftpctl serve (PID %d)", pid),
		"deleted FTP user jelastic-ftp", "deleted FTP user deploy",
		"removed the group jelastic-ftp", "kept every file in the FTP root " + ie.Root,
	} {
		require.Contains(t, r.Stdout, want)
	}
	after := ie.Snapshot()
	for _, f := range append(accountFiles, dropIn) {
		require.Equal(t, etcBefore[f], after[f], "%s is as before install", f)
	}
	require.Equal(t, "<?php echo 1;", string(mustRead(t, filepath.Join(ie.Root, "index.php"))))
	require.Equal(t, "kept", string(mustRead(t, filepath.Join(deployHome, "upload.txt"))))
	require.False(t, running(pid), "the service is gone")
	requireRefused(t, ie.Addr)
	require.Equal(t, 0, ie.pid(), "no PID file")
	require.FileExists(t, filepath.Join(ie.Etc, "jelastic-ftp/ftpd.toml"), "settings stay without --purge")
	ie.RequireConsistent()

	r = ie.uninstall()
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Equal(t, "nothing to do: jelastic-ftp is not installed\n", r.Stdout)

	// Installing again works, with a new account and password.
	again := parseInstallOut(t, ie.install("--json"))
	require.NotEmpty(t, again.Password)
	require.NotEqual(t, out.Password, again.Password)
	ie.requireLogin(again.User, again.Password)

	r = ie.uninstall("--purge")
	require.Equal(t, 0, r.Code, r.Stderr)
	for _, dir := range []string{filepath.Join(ie.Etc, "jelastic-ftp"), ie.State, ie.Log} {
		require.NoDirExists(t, dir)
		if !strings.HasPrefix(dir, ie.Etc) {
			require.Contains(t, r.Stdout, "removed "+dir)
		}
	}
	require.Contains(t, r.Stdout, "removed /etc/jelastic-ftp")
	after = ie.Snapshot()
	for _, f := range append(accountFiles, dropIn) {
		require.Equal(t, etcBefore[f], after[f], "%s is as before install", f)
	}
	require.FileExists(t, filepath.Join(ie.Root, "index.php"))
	r = ie.uninstall("--purge")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.Contains(t, r.Stdout, "nothing to do")
}

func TestInstallHookScript(t *testing.T) {
	testtool.Require(t, "install")
	ie := newInstallEnv(t)
	hook, err := filepath.Abs("../scripts/install-hook.sh")
	require.NoError(t, err)
	binDir := t.TempDir() // seen as /usr/local/bin by the hook

	r := ie.runNS(nsOptions{binDir: binDir}, "", hook, append([]string{ftpctlBin}, ie.flags()...)...)
	out := parseInstallOut(t, r)
	require.NotEmpty(t, out.Password)
	require.Equal(t, ie.Root, out.Root)
	ie.track()
	fi, err := os.Stat(filepath.Join(binDir, "ftpctl"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o755), fi.Mode().Perm())
	require.Equal(t, mustRead(t, ftpctlBin), mustRead(t, filepath.Join(binDir, "ftpctl")))
	require.True(t, isServeProcess(ie.pid()))
	ie.requireLogin(out.User, out.Password)

	// Run again (the platform retries): the same binary, nothing restarted.
	pid := ie.pid()
	r = ie.runNS(nsOptions{binDir: binDir}, "", hook, append([]string{ftpctlBin}, ie.flags()...)...)
	again := parseInstallOut(t, r)
	require.NotContains(t, again.Fields, "password")
	require.Equal(t, pid, ie.pid())

	// An upgrade: a different binary replaces the one the service runs, so it restarts.
	upgraded := filepath.Join(t.TempDir(), "ftpctl")
	require.NoError(t, os.WriteFile(upgraded, append(mustRead(t, ftpctlBin), "\x00upgrade"...), 0o755))
	r = ie.runNS(nsOptions{binDir: binDir}, "", hook, append([]string{upgraded}, ie.flags()...)...)
	parseInstallOut(t, r)
	ie.track()
	require.Contains(t, r.Stderr, "restarted ftpctl serve for the new ftpctl binary")
	require.NotEqual(t, pid, ie.pid())
	require.False(t, running(pid))
	require.Equal(t, mustRead(t, upgraded), mustRead(t, filepath.Join(binDir, "ftpctl")))
	ie.requireLogin(out.User, out.Password)

	// With the binary next to the script, and a failure: non-zero, the reason on stderr,
	// nothing on stdout.
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "install-hook.sh"), mustRead(t, hook), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "ftpctl"), mustRead(t, ftpctlBin), 0o755))
	r = ie.runNS(nsOptions{binDir: binDir}, "", filepath.Join(dir, "install-hook.sh"), ie.flags("--passive-ports", "1-2")...)
	require.NotEqual(t, 0, r.Code)
	require.Empty(t, r.Stdout)
	require.Contains(t, r.Stderr, "passive_ports")
	require.Contains(t, r.Stderr, "install-hook: ftpctl install failed")

	r = ie.runNS(nsOptions{binDir: binDir}, "", hook, "/nonexistent/ftpctl")
	require.NotEqual(t, 0, r.Code)
	require.Empty(t, r.Stdout)
	require.Contains(t, r.Stderr, "/nonexistent/ftpctl")
}

// nsOptions are what runNS adds to Env.Command's private /etc.
type nsOptions struct {
	hostname string // a UTS namespace with this host name
	binDir   string // bound over /usr/local/bin
}

// runNS is Env.Run with a host name of its own or another /usr/local/bin.
func (e *Env) runNS(o nsOptions, stdin, name string, args ...string) Result {
	e.t.Helper()
	ns := *e
	if o.hostname != "" {
		ns.hostname = o.hostname
	}
	if o.binDir != "" {
		ns.binds = append(slices.Clone(e.binds), bind{Src: o.binDir, Dst: "/usr/local/bin"})
	}
	r := ns.Run(stdin, name, args...)
	require.NotEqual(e.t, 125, r.Code, "setting up the namespace failed: %s", r.Stderr)
	return r
}
