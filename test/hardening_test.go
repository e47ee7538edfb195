package e2e

import (
	"bufio"
	"bytes"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"

	"github.com/jelastic/jelastic-ftp/internal/admission"
	"github.com/jelastic/jelastic-ftp/internal/selfsigned"
	"github.com/jelastic/jelastic-ftp/internal/testtool"
	"github.com/jelastic/jelastic-ftp/monitor"
)

// These tests repeat the attacks of issue 15 against the real service.

// openFDs lists where each of pid's descriptors points.
func openFDs(t *testing.T, pid int) map[string]string {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	fds := map[string]string{}
	for _, en := range entries {
		if target, err := os.Readlink(filepath.Join(dir, en.Name())); err == nil {
			fds[en.Name()] = target
		}
	}
	return fds
}

// requireOnlyOwnFDs fails when pid holds a descriptor to a file other than allowed:
// sockets, pipes, epoll and event descriptors are the process's own, and so is the
// cgroup CPU quota file the Go runtime keeps open to size itself.
func requireOnlyOwnFDs(t *testing.T, what string, pid int, allowed ...string) {
	t.Helper()
	for fd, target := range openFDs(t, pid) {
		own := strings.HasPrefix(target, "socket:[") || strings.HasPrefix(target, "pipe:[") ||
			strings.HasPrefix(target, "anon_inode:") || target == "/dev/null" ||
			strings.HasPrefix(target, "/sys/fs/cgroup/")
		for _, a := range allowed {
			own = own || target == a
		}
		require.True(t, own, "%s (PID %d) holds descriptor %s -> %s", what, pid, fd, target)
	}
}

// TestNoInheritedDescriptors: a caller holding /etc/shadow open on descriptor 7 (a
// shell's `exec 7</etc/shadow`) across `ftpctl install` and across `ftpctl serve`
// passes it neither to the service nor to its chrooted worker.
func TestNoInheritedDescriptors(t *testing.T) {
	t.Run("install", func(t *testing.T) {
		ie := newInstallEnv(t)
		args := append([]string{"-c", `exec 7</etc/shadow; exec "$0" "$@"`, ftpctlBin, "install"}, ie.flags()...)
		r := ie.Env.Run("", "bash", args...)
		ie.track()
		require.Equal(t, 0, r.Code, "install: %s", r)
		monitor := ie.pid()
		require.NotZero(t, monitor)
		var worker int
		require.True(t, waitFor(15*time.Second, func() bool { worker = workerOf(monitor); return worker != 0 }), "no worker")
		log := filepath.Join(ie.Log, "ftpd.log")
		requireOnlyOwnFDs(t, "ftpctl serve", monitor, log)
		requireOnlyOwnFDs(t, "the worker", worker, log)
	})
	t.Run("serve", func(t *testing.T) {
		e := NewEnv(t)
		addFTPUser(t, e, "alice", ftpPassword)
		shadow, err := os.Open(filepath.Join(e.Etc, "shadow"))
		require.NoError(t, err)
		defer shadow.Close()
		s := startFTPWith(t, e, nil, func(s *ftpServer) {
			s.cmd.ExtraFiles = []*os.File{nil, nil, nil, nil, shadow} // descriptor 7
		})
		worker := s.requireWorker(0)
		requireOnlyOwnFDs(t, "ftpctl serve", s.PID())
		requireOnlyOwnFDs(t, "the worker", worker)
	})
}

// TestWorkerDiesWithMonitor: SIGKILL to the monitor ends the worker at once, also in
// the middle of a download that a graceful stop would let run for its grace period.
func TestWorkerDiesWithMonitor(t *testing.T) {
	e := NewEnv(t)
	home := addFTPUser(t, e, "alice", ftpPassword)
	randomFile(t, home, "big.bin", 64<<20)
	s := startFTP(t, e, nil)
	worker := s.requireWorker(0)
	c := dialRaw(t, s.Addr, "")
	c.login("alice", ftpPassword)
	c.passive() // never read: the download stalls in the socket buffers
	c.expect(150, "RETR big.bin")

	s.stopped = true // the test ends the service itself
	require.NoError(t, syscall.Kill(s.PID(), syscall.SIGKILL))
	require.True(t, waitGone(worker, 5*time.Second), "worker %d outlived its monitor by 5 s", worker)
	c.waitClosed(5 * time.Second)
}

// requireBannedAtAccept connects to the FTP server at addr from the local address
// from and requires the ban's 421 as the first and only reply, before any command.
func requireBannedAtAccept(t *testing.T, addr, from string) {
	t.Helper()
	require.Equal(t, "421 "+admission.ReasonBanned+"\r\n", firstWords(t, addr, from))
}

// requireSFTPClosedAtAccept connects to the SFTP server at addr from the local
// address from and requires it closed before the server sent its SSH version.
func requireSFTPClosedAtAccept(t *testing.T, addr, from string) {
	t.Helper()
	require.Empty(t, firstWords(t, addr, from), "a banned client gets no SSH version")
}

// firstWords returns all a server at addr sends a client at from that sends nothing,
// until it closes the connection; failing if it does not within 5 seconds.
func firstWords(t *testing.T, addr, from string) string {
	t.Helper()
	conn := dialFrom(t, from, addr)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	got, err := io.ReadAll(conn)
	require.NoError(t, err, "the server must close the connection at once; it sent %q", got)
	return string(got)
}

// firstLine returns the first line a server at addr sends a client at from; the
// connection stays open until the test ends.
func firstLine(t *testing.T, addr, from string) string {
	t.Helper()
	conn := dialFrom(t, from, addr)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	line, _ := bufio.NewReader(conn).ReadString('\n')
	return line
}

// failLogin sends one wrong password as user from the local address from.
func failLogin(t *testing.T, s *ftpServer, from, user string) {
	t.Helper()
	require.NoError(t, tryWrongPassword(s.Addr, from, user))
}

// tryWrongPassword is failLogin for goroutines other than the test's.
func tryWrongPassword(addr, from, user string) error {
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	conn, err := d.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	tp := textproto.NewConn(conn)
	for _, step := range []struct {
		cmd  string
		want int
	}{{"", 220}, {"USER " + user, 331}, {"PASS Wrong-Secret-1", 530}} {
		if step.cmd != "" {
			if err := tp.PrintfLine("%s", step.cmd); err != nil {
				return err
			}
		}
		if _, msg, err := tp.ReadResponse(step.want); err != nil {
			return fmt.Errorf("%q from %s: %w (%s)", step.cmd, from, err, msg)
		}
	}
	return nil
}

// TestBanSurvivesReload: SIGHUP (logrotate, a new certificate) keeps the bans, and so
// does a restart with a state folder.
func TestBanSurvivesReload(t *testing.T) {
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	conf := ftpConf{
		"limits.ban_after_failures": "3",
		"limits.ban_window":         `"1m"`,
		"limits.ban_duration":       `"10m"`,
	}
	state := t.TempDir()
	withState := func(s *ftpServer) { s.cmd.Env = append(s.cmd.Env, monitor.StateDirEnv+"="+state) }
	s := startFTPWith(t, e, conf, withState)
	for range 3 {
		failLogin(t, s, "127.0.0.7", "alice")
	}
	s.waitLog(0, `msg="client banned after repeated failed logins" client=127.0.0.7 `)

	refused := func(s *ftpServer, mark int) {
		t.Helper()
		requireBannedAtAccept(t, s.Addr, "127.0.0.7")
		s.waitLog(mark, `msg="connection refused: client banned" client=127.0.0.7 source=127.0.0.7/32`)
		dialRaw(t, s.Addr, "127.0.0.8").login("alice", ftpPassword)
	}
	mark := len(s.Log())
	require.NoError(t, syscall.Kill(s.PID(), syscall.SIGHUP))
	s.waitLog(mark, "configuration reloaded")
	refused(s, mark)

	s.stop()
	s = startFTPWith(t, e, conf, withState)
	s.waitLog(0, "restored bans from before the restart", "bans=1")
	refused(s, 0)
}

// TestBannedAtAccept: an address banned for wrong FTP passwords is refused at accept
// (issue 15): FTP answers 421 before any command, SFTP closes before the SSH version
// exchange, while another address logs in over both; the refusals are logged once per
// ban; the ban holds after SIGHUP and after the worker is killed (the monitor gives
// the new worker the running bans), and ends when ban_duration runs out.
func TestBannedAtAccept(t *testing.T) {
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	const banFor = 15 * time.Second
	s := startSFTP(t, e, ftpConf{
		"limits.ban_after_failures": "3",
		"limits.ban_window":         `"1m"`,
		"limits.ban_duration":       strconv.Quote(banFor.String()),
	})
	sftpAddr := fmt.Sprintf("127.0.0.1:%d", s.SFTPPort)
	sftpWorks := func(from string) Result {
		t.Helper()
		return s.sftpBatch(t, "alice", ftpPassword, "ls\n", "-oBindAddress="+from)
	}
	for range 3 {
		failLogin(t, s.ftpServer, "127.0.0.7", "alice")
	}
	banned := time.Now()
	s.waitLog(0, `msg="client banned after repeated failed logins" client=127.0.0.7 `)

	refused := func(mark int) {
		t.Helper()
		requireBannedAtAccept(t, s.Addr, "127.0.0.7")
		requireSFTPClosedAtAccept(t, sftpAddr, "127.0.0.7")
		r := sftpWorks("127.0.0.7")
		require.NotEqual(t, 0, r.Code, "OpenSSH from the banned address")
		require.Contains(t, r.Stderr, "kex_exchange_identification", "closed before the version exchange: %s", r)
		require.Equal(t, 1, strings.Count(s.Log()[mark:], `msg="connection refused: client banned" client=127.0.0.7 source=127.0.0.7/32`),
			"three refusals, one line:\n%s", s.Log()[mark:])
		dialRaw(t, s.Addr, "127.0.0.8").login("alice", ftpPassword)
		r = sftpWorks("127.0.0.8")
		require.Equal(t, 0, r.Code, "SFTP from another address: %s", r)
	}
	refused(0)
	require.NotContains(t, s.Log(), "login refused: client banned", "the banned client never reached a login")

	mark := len(s.Log())
	require.NoError(t, syscall.Kill(s.PID(), syscall.SIGHUP))
	s.waitLog(mark, "configuration reloaded")
	requireBannedAtAccept(t, s.Addr, "127.0.0.7")
	requireSFTPClosedAtAccept(t, sftpAddr, "127.0.0.7")

	worker := s.requireWorker(0)
	mark = len(s.Log())
	require.NoError(t, syscall.Kill(worker, syscall.SIGKILL))
	s.requireWorker(worker)
	refused(mark) // the new worker logs its first refusal under the ban again
	require.Less(t, time.Since(banned), banFor, "the checks above must run while the ban does")

	require.True(t, waitFor(banFor+10*time.Second, func() bool {
		return strings.HasPrefix(firstLine(t, s.Addr, "127.0.0.7"), "220 ")
	}), "the ban did not end:\n%s", s.Log())
	require.GreaterOrEqual(t, time.Since(banned), banFor-time.Second, "the ban lasted ban_duration")
	dialRaw(t, s.Addr, "127.0.0.7").login("alice", ftpPassword)
	r := sftpWorks("127.0.0.7")
	require.Equal(t, 0, r.Code, "SFTP after the ban: %s", r)
}

// statusBans is what `ftpctl status --json` lists of the running bans: each source
// with its end.
func (e *Env) statusBans() map[string]time.Time {
	e.t.Helper()
	r := e.Ftpctl("", "status", "--json")
	var st struct {
		Service *struct {
			Bans []struct {
				Source string    `json:"source"`
				Until  time.Time `json:"until"`
			} `json:"bans"`
		} `json:"service"`
	}
	require.NoError(e.t, json.Unmarshal([]byte(r.Stdout), &st), r.String())
	require.NotNil(e.t, st.Service, "status reached no service: %s", r)
	out := map[string]time.Time{}
	for _, b := range st.Service.Bans {
		out[b.Source] = b.Until
	}
	return out
}

// TestUnban: an operator who locked an address out sees the ban in ftpctl status and
// lifts it with ftpctl unban: the address logs in over FTP and SFTP at once, one more
// typo does not ban it again, and the ban is gone from bans.json, so a restart does
// not bring it back. A bad argument changes nothing; --all lifts every ban; with the
// service stopped, unban fails and says so.
func TestUnban(t *testing.T) {
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	state := t.TempDir()
	t.Setenv(monitor.StateDirEnv, state) // the service's bans.json, as systemd's StateDirectory= gives it
	bansFile := filepath.Join(state, "bans.json")
	s := startSFTP(t, e, ftpConf{
		"limits.ban_after_failures": "3",
		"limits.ban_window":         `"1m"`,
		"limits.ban_duration":       `"10m"`,
	})
	sftpAddr := fmt.Sprintf("127.0.0.1:%d", s.SFTPPort)
	ban := func(from string) {
		t.Helper()
		for range 3 {
			failLogin(t, s.ftpServer, from, "alice")
		}
		s.waitLog(0, `msg="client banned after repeated failed logins" client=`+from+" ")
		requireBannedAtAccept(t, s.Addr, from)
	}
	ban("127.0.0.9")
	ban("127.0.0.10")

	bans := e.statusBans()
	require.Len(t, bans, 2, "%v", bans)
	require.WithinDuration(t, time.Now().Add(10*time.Minute), bans["127.0.0.9/32"], time.Minute)
	require.Contains(t, bans, "127.0.0.10/32")
	text := e.Ftpctl("", "status").Stdout
	require.Contains(t, text, "\nbans: 2\n", text)
	require.Regexp(t, `(?m)^  127\.0\.0\.9/32 +until 20\d\d-\d\d-\d\dT\d\d:\d\d:\d\dZ \((9|10)m left\)$`, text)

	// A bad argument among good ones: one line naming it, nothing lifted.
	r := e.Ftpctl("", "unban", "127.0.0.9", "not-an-address")
	require.Equal(t, 2, r.Code, "%s", r)
	require.Equal(t, "ftpctl: \"not-an-address\" is neither an IP address nor a ban source such as 203.0.113.9/32 or 2001:db8:1:2::/64\n", r.Stderr)
	require.Empty(t, r.Stdout)
	requireBannedAtAccept(t, s.Addr, "127.0.0.9")
	require.Len(t, e.statusBans(), 2)
	require.NotContains(t, s.Log(), "ban lifted")

	r = e.Ftpctl("", "unban", "127.0.0.9", "192.0.2.1")
	require.Equal(t, 0, r.Code, "%s", r)
	require.Equal(t, "lifted the ban on 127.0.0.9/32\n192.0.2.1/32 was not banned\n", r.Stdout)
	// At once, with no wait: the worker confirmed before ftpctl returned.
	dialRaw(t, s.Addr, "127.0.0.9").login("alice", ftpPassword)
	res := s.sftpBatch(t, "alice", ftpPassword, "ls\n", "-oBindAddress=127.0.0.9")
	require.Equal(t, 0, res.Code, "SFTP after the unban: %s", res)
	requireBannedAtAccept(t, s.Addr, "127.0.0.10")
	requireSFTPClosedAtAccept(t, sftpAddr, "127.0.0.10")
	require.Equal(t, 1, strings.Count(s.Log(), `msg="ban lifted" client=127.0.0.9 source=127.0.0.9/32 by=ftpctl`), s.Log())
	bans = e.statusBans()
	require.NotContains(t, bans, "127.0.0.9/32")
	require.Contains(t, bans, "127.0.0.10/32")
	saved, err := os.ReadFile(bansFile)
	require.NoError(t, err)
	require.NotContains(t, string(saved), `"127.0.0.9"`, "bans.json rewritten without it")
	require.Contains(t, string(saved), `"127.0.0.10"`, "and with the other ban")
	failLogin(t, s.ftpServer, "127.0.0.9", "alice")
	dialRaw(t, s.Addr, "127.0.0.9").login("alice", ftpPassword) // one more typo bans nothing

	ban("127.0.0.11")
	r = e.Ftpctl("", "unban", "--all", "--json")
	require.Equal(t, 0, r.Code, "%s", r)
	var reply struct {
		Lifted    []string `json:"lifted"`
		NotBanned []string `json:"not_banned"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &reply), r.String())
	require.ElementsMatch(t, []string{"127.0.0.10/32", "127.0.0.11/32"}, reply.Lifted)
	require.Empty(t, reply.NotBanned)
	for _, from := range []string{"127.0.0.10", "127.0.0.11"} {
		dialRaw(t, s.Addr, from).login("alice", ftpPassword)
	}
	require.Empty(t, e.statusBans())
	require.Contains(t, e.Ftpctl("", "status").Stdout, "\nbans: 0\n")
	saved, err = os.ReadFile(bansFile)
	require.NoError(t, err)
	require.JSONEq(t, "[]", string(saved))
	r = e.Ftpctl("", "unban", "--all")
	require.Equal(t, 0, r.Code, "%s", r)
	require.Equal(t, "no ban was running\n", r.Stdout)

	s.stop()
	r = e.Ftpctl("", "unban", "127.0.0.9")
	require.Equal(t, 1, r.Code, "%s", r)
	require.Regexp(t, `^ftpctl: the service is not running, so no ban can be lifted; .*: dial unix .*\n$`, r.Stderr)
}

// TestAccountSlowedFromManyAddresses: 100 addresses guessing one account's password,
// each too few times to be banned, slow that account's logins down; its user still
// logs in, later.
func TestAccountSlowedFromManyAddresses(t *testing.T) {
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	addFTPUser(t, e, "bob", ftpPassword)
	s := startFTP(t, e, ftpConf{
		"limits.ban_after_failures": "10",
		"limits.ban_window":         `"10m"`,
		"limits.ban_duration":       `"10m"`,
	})
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for i := range 100 {
		wg.Go(func() { errs <- tryWrongPassword(s.Addr, fmt.Sprintf("127.0.0.%d", 10+i), "alice") })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 1, strings.Count(s.Log(), `msg="logins to the account slowed after repeated failed logins from any address"`), s.Log())
	require.NotContains(t, s.Log(), "client banned", "no address failed often enough to be banned")

	c := dialRaw(t, s.Addr, "127.0.0.200")
	c.expect(331, "USER alice")
	started := time.Now()
	c.expect(230, "PASS %s", ftpPassword)
	require.GreaterOrEqual(t, time.Since(started), 4*time.Second, "100 failures against the account delay its logins")
	dialRaw(t, s.Addr, "127.0.0.201").login("bob", ftpPassword)
}

// TestFail2banFilter runs the packaged filter over the service's real log lines,
// among them failures with user names crafted to look like another client's address:
// fail2ban finds the real client addresses and only those. The packaged jail, enabled,
// passes fail2ban's own configuration test.
func TestFail2banFilter(t *testing.T) {
	regex := testtool.Require(t, "fail2ban-regex")
	client := testtool.Require(t, "fail2ban-client")
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	s := startFTP(t, e, nil)
	failLogin(t, s, "127.0.0.3", "x client=10.9.9.9")
	failLogin(t, s, "127.0.0.3", `a" msg="login refused" client=10.1.1.1`)
	failLogin(t, s, "127.0.0.4", "alice")
	dialRaw(t, s.Addr, "127.0.0.5").login("alice", ftpPassword)
	s.waitLog(0, `msg="login refused" client=127.0.0.4 user=alice`)

	dir := t.TempDir()
	log := filepath.Join(dir, "ftpd.log")
	require.NoError(t, os.WriteFile(log, []byte(s.Log()), 0o644))
	filter, err := filepath.Abs("../packaging/fail2ban/filter.conf")
	require.NoError(t, err)
	r := runTool(t, "", regex, "-o", "ip", log, filter)
	require.Equal(t, 0, r.Code, "%s", r)
	require.Equal(t, []string{"127.0.0.3", "127.0.0.3", "127.0.0.4"}, strings.Fields(r.Stdout), "fail2ban-regex over:\n%s", s.Log())

	// fail2ban's configuration with our filter and the jail switched on.
	etc := filepath.Join(dir, "fail2ban")
	require.NoError(t, exec.Command("cp", "-a", "/etc/fail2ban", etc).Run())
	require.NoError(t, os.RemoveAll(filepath.Join(etc, "jail.d")))
	require.NoError(t, os.MkdirAll(filepath.Join(etc, "jail.d"), 0o755))
	copyFile(t, filter, filepath.Join(etc, "filter.d", "jelastic-ftp.conf"))
	copyFile(t, "../packaging/fail2ban/jail.conf", filepath.Join(etc, "jail.d", "jelastic-ftp.conf"))
	local := "[sshd]\nenabled = false\n\n[jelastic-ftp]\nenabled = true\nlogpath = " + log + "\n"
	require.NoError(t, os.WriteFile(filepath.Join(etc, "jail.d", "jelastic-ftp.local"), []byte(local), 0o644))
	r = runTool(t, "", client, "-c", etc, "-t")
	require.Equal(t, 0, r.Code, "%s", r)
	require.Contains(t, r.Stdout+r.Stderr, "OK: configuration test is successful")
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(to, data, 0o644))
}

// TestTLS12AEADOnly: on TLS 1.2 the service completes a handshake with AEAD suites
// only; each CBC suite a client may insist on (LUCKY13) is refused.
func TestTLS12AEADOnly(t *testing.T) {
	openssl := testtool.Require(t, "openssl")
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	s := startFTP(t, e, nil)
	handshake := func(cipher string) Result {
		// SECLEVEL=0 lets the client offer the old suites, so only the server decides.
		return runTool(t, "", openssl, "s_client", "-connect", s.Addr, "-starttls", "ftp",
			"-tls1_2", "-cipher", cipher+":@SECLEVEL=0", "-brief")
	}
	for _, cipher := range []string{"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-ECDSA-CHACHA20-POLY1305"} {
		r := handshake(cipher)
		require.Contains(t, r.Stdout+r.Stderr, "Ciphersuite: "+cipher, "%s is offered: %s", cipher, r)
	}
	for _, cipher := range []string{"ECDHE-ECDSA-AES128-SHA", "ECDHE-ECDSA-AES256-SHA", "ECDHE-ECDSA-AES128-SHA256", "ECDHE-ECDSA-AES256-SHA384", "AES128-SHA", "AES256-SHA", "AES128-GCM-SHA256"} {
		r := handshake(cipher)
		require.NotEqual(t, 0, r.Code, "%s is refused: %s", cipher, r)
		require.Contains(t, r.Stdout+r.Stderr, "handshake failure", "%s: the server refuses it: %s", cipher, r)
	}
}

// TestSelfSignedCertificate: install makes a certificate for at most 398 days that
// names the node's full and short names and each of its addresses, and a reload
// renews one of ours that expires within 30 days.
func TestSelfSignedCertificate(t *testing.T) {
	ie := newInstallEnv(t)
	ie.WriteEtc("hosts", ie.ReadEtc("hosts")+"127.0.1.1 node-a.example.test node-a\n", 0o644)
	r := ie.runNS(nsOptions{hostname: "node-a"}, "", ftpctlBin, append([]string{"install"}, ie.flags()...)...)
	ie.track()
	require.Equal(t, 0, r.Code, "%s", r)
	certFile, keyFile := filepath.Join(ie.State, "cert.pem"), filepath.Join(ie.State, "key.pem")
	cert := readCert(t, certFile)
	require.LessOrEqual(t, cert.NotAfter.Sub(cert.NotBefore), 398*24*time.Hour)
	require.Greater(t, time.Until(cert.NotAfter), 397*24*time.Hour)
	require.Equal(t, []string{"node-a.example.test", "node-a"}, cert.DNSNames)
	var ips []string
	for _, ip := range cert.IPAddresses {
		ips = append(ips, ip.String())
	}
	for _, a := range selfsigned.Addresses() {
		require.Contains(t, ips, a.String())
	}

	// One of ours with 10 days left, as an install long ago would have left it.
	old, oldKey, err := selfsigned.New([]string{"node-a"}, 10*24*time.Hour)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(keyFile, oldKey, 0o600))
	require.NoError(t, os.WriteFile(certFile, old, 0o644))
	pid := ie.pid()
	require.NoError(t, syscall.Kill(pid, syscall.SIGHUP))
	var renewed *x509.Certificate
	require.True(t, waitFor(15*time.Second, func() bool {
		renewed = readCert(t, certFile)
		return time.Until(renewed.NotAfter) > 397*24*time.Hour
	}), "the reload did not renew the certificate")
	require.True(t, waitFor(10*time.Second, func() bool { return bytes.Equal(presentedCert(t, ie.Addr), renewed.Raw) }),
		"the service does not present the renewed certificate")
	require.Contains(t, string(mustRead(t, filepath.Join(ie.Log, "ftpd.log"))), `msg="renewed the self-signed certificate"`)
}

// TestPassiveRangeWarning: install and status warn when the passive ports are fewer
// than the sessions allowed.
func TestPassiveRangeWarning(t *testing.T) {
	ie := newInstallEnv(t)
	r := ie.install()
	require.Equal(t, 0, r.Code, "%s", r)
	want := fmt.Sprintf("passive_ports %d-%d has %d ports, fewer than max_sessions (200)", ie.Port+2, ie.Port+portBlock-1, portBlock-2)
	require.Contains(t, r.Stderr, "warning: "+want)
	r = ie.Ftpctl("", "status", "--json")
	var st struct{ Warnings []string }
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &st), "%s", r)
	require.Len(t, slices.DeleteFunc(st.Warnings, func(w string) bool { return !strings.HasPrefix(w, want) }), 1, "%q", st.Warnings)
}

// TestSweepBeyondFirstBatch: a leftover of a killed upload behind 200,100 other entries
// (more than the sweep before serving used to visit) is removed by the sweep that runs
// beside serving.
func TestSweepBeyondFirstBatch(t *testing.T) {
	e := NewEnv(t)
	// 200,000 files take minutes to make on a busy disk and a second in memory. (The
	// tests run in a mount namespace of their own; the servers they start inherit it.)
	require.NoError(t, unix.Mount("tmpfs", e.Root, "tmpfs", 0, "mode=0755,size=512m"))
	t.Cleanup(func() { unix.Unmount(e.Root, unix.MNT_DETACH) })
	addFTPUser(t, e, "alice", ftpPassword)
	for d := range 100 {
		dir := filepath.Join(e.Root, fmt.Sprintf("d%03d", d))
		require.NoError(t, os.Mkdir(dir, 0o755))
		for f := range 2001 {
			require.NoError(t, unix.Mknod(filepath.Join(dir, fmt.Sprintf("f%04d", f)), unix.S_IFREG|0o644, 0))
		}
	}
	last := filepath.Join(e.Root, "zz")
	require.NoError(t, os.Mkdir(last, 0o755))
	require.NoError(t, os.Chown(last, 700, ftpGID(t, e)))
	leftover := filepath.Join(last, ".big.bin.ftpupload-0123456789abcdef")
	require.NoError(t, os.WriteFile(leftover, []byte("half of it"), 0o644))
	old := time.Now().Add(-time.Hour)
	require.NoError(t, os.Chtimes(leftover, old, old))

	s := startFTP(t, e, nil)
	dialRaw(t, s.Addr, "").login("alice", ftpPassword)
	require.True(t, waitFor(time.Minute, func() bool {
		return findLine(s.Log(), "removed leftovers of interrupted uploads", "files=1", "complete=true") != ""
	}), "the sweep did not finish within a minute:\n%s", s.Log())
	_, err := os.Lstat(leftover)
	require.True(t, os.IsNotExist(err), "the leftover is still there: %v", err)
}

// TestBanIPv6Prefix: failures from two addresses of one IPv6 /64 add up to a ban of
// the whole /64, while another /64 still logs in. ::1 is the only IPv6 loopback
// address, so the test's thread moves into a network namespace of its own, where the
// loopback holds addresses of two /64s; the server it starts inherits that namespace.
func TestBanIPv6Prefix(t *testing.T) {
	ip := testtool.Require(t, "ip")
	runtime.LockOSThread() // never unlocked: the thread ends with the test
	require.NoError(t, unix.Unshare(unix.CLONE_NEWNET))
	own, err := os.Readlink("/proc/thread-self/ns/net")
	require.NoError(t, err)
	host, err := os.Readlink("/proc/1/ns/net") // the suite's first process: the machine's network
	require.NoError(t, err)
	require.NotEqual(t, host, own, "the machine's own network must not get the test's addresses")
	for _, args := range [][]string{
		{"link", "set", "lo", "up"},
		{"addr", "add", "2001:db8:1:1::1/64", "dev", "lo", "nodad"},
		{"addr", "add", "2001:db8:1:1::2/64", "dev", "lo", "nodad"},
		{"addr", "add", "2001:db8:1:1::3/64", "dev", "lo", "nodad"},
		{"addr", "add", "2001:db8:1:2::2/64", "dev", "lo", "nodad"},
	} {
		out, err := exec.Command(ip, args...).CombinedOutput()
		require.NoError(t, err, "ip %v: %s", args, out)
	}
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	s := startFTPWith(t, e, ftpConf{
		"limits.ban_after_failures": "4",
		"limits.ban_window":         `"1m"`,
		"limits.ban_duration":       `"10m"`,
	}, func(s *ftpServer) {
		s.conf["listen"] = strconv.Quote(fmt.Sprintf("[::]:%d", s.Port))
		s.writeConfig()
	})
	server := fmt.Sprintf("[2001:db8:1:1::1]:%d", s.Port)
	for _, from := range []string{"2001:db8:1:1::2", "2001:db8:1:1::3", "2001:db8:1:1::2", "2001:db8:1:1::3"} {
		require.NoError(t, tryWrongPassword(server, from, "alice"))
	}
	s.waitLog(0, `msg="client banned after repeated failed logins" client=2001:db8:1:1::3 source=2001:db8:1:1::/64`)
	requireBannedAtAccept(t, server, "2001:db8:1:1::1") // a third address of the /64
	s.waitLog(0, `msg="connection refused: client banned" client=2001:db8:1:1::1 source=2001:db8:1:1::/64`)
	dialRaw(t, server, "2001:db8:1:2::2").login("alice", ftpPassword)
}
