package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/agent"
	"github.com/jelastic/jelastic-ftp/internal/testtool"
	"github.com/jelastic/jelastic-ftp/users"
)

// The SFTP service, end to end, with clients nobody here wrote: OpenSSH's sftp, scp
// and ssh (the password given by sshpass) and Python's paramiko.

// sftpServer is an ftpServer that also serves SFTP, on the port after its FTP port.
type sftpServer struct {
	*ftpServer
	SFTPPort int
}

// startSFTP is startFTP with sftp_listen on 127.0.0.1 and the port after the FTP port,
// which the passive range then leaves out. It waits for the SSH banner.
func startSFTP(t *testing.T, e *Env, conf ftpConf) *sftpServer {
	t.Helper()
	for _, tool := range []string{"sftp", "sshpass", "ssh", "scp"} {
		testtool.Require(t, tool)
	}
	s := startFTPWith(t, e, conf, func(s *ftpServer) {
		s.conf["sftp_listen"] = strconv.Quote(fmt.Sprintf("127.0.0.1:%d", s.Port+1))
		s.conf["passive_ports"] = strconv.Quote(fmt.Sprintf("%d-%d", s.Port+2, s.Port+portBlock-1))
		s.writeConfig()
	})
	ss := &sftpServer{ftpServer: s, SFTPPort: s.Port + 1}
	s.waitLog(0, `msg="listening for SFTP"`)
	return ss
}

// sshOptions are every OpenSSH client's: no known hosts kept, the password alone.
func sshOptions(port int) []string {
	return []string{
		"-oBatchMode=no", // before sftp's -b, which would turn it on: the first value wins
		"-oStrictHostKeyChecking=no", "-oUserKnownHostsFile=/dev/null", "-oGlobalKnownHostsFile=/dev/null",
		"-oPubkeyAuthentication=no", "-oPreferredAuthentications=password", "-oNumberOfPasswordPrompts=1",
		"-oLogLevel=ERROR", "-oConnectTimeout=10", "-oPort=" + strconv.Itoa(port),
	}
}

// sftpBatch runs OpenSSH's sftp with commands in batch mode, where a failing command
// ends the run with a non-zero status unless prefixed with "-"; opts come before the
// batch options.
func (s *sftpServer) sftpBatch(t *testing.T, user, password, commands string, opts ...string) Result {
	t.Helper()
	args := append(append([]string{"-p", password, "sftp"}, opts...), sshOptions(s.SFTPPort)...)
	return runTool(t, commands, "sshpass", append(args, "-b", "-", user+"@127.0.0.1")...)
}

// sshTool runs ssh or scp as user with args after the options.
func (s *sftpServer) sshTool(t *testing.T, tool, password string, args ...string) Result {
	t.Helper()
	opts := sshOptions(s.SFTPPort)
	return runTool(t, "", "sshpass", append(append([]string{"-p", password, tool}, opts...), args...)...)
}

type sftpStep []any

// sftpResult is one step's outcome; see testdata/sftp_steps.py.
type sftpResult struct {
	OK    bool   `json:"ok"`
	Error string `json:"error"`
	Code  int    `json:"code"` // SFTP status of a refusal: 2 no such file, 3 permission denied
	Value any    `json:"value"`
}

// paramiko runs steps in one SSH connection with paramiko; stdin, if it ends with a
// "kill" step, the process dies there and no results come back.
func (s *sftpServer) paramikoRun(t *testing.T, user, password string, steps ...sftpStep) Result {
	t.Helper()
	in, err := json.Marshal(map[string]any{"host": "127.0.0.1", "port": s.SFTPPort, "user": user, "password": password, "steps": steps})
	require.NoError(t, err)
	return runTool(t, string(in), "/usr/bin/python3", "testdata/sftp_steps.py")
}

func (s *sftpServer) paramiko(t *testing.T, user, password string, steps ...sftpStep) []sftpResult {
	t.Helper()
	r := s.paramikoRun(t, user, password, steps...)
	require.Equal(t, 0, r.Code, "sftp_steps.py: %s", r)
	var out []sftpResult
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &out), r.String())
	require.Len(t, out, len(steps))
	return out
}

// TestSFTPTransfersOpenSSH: byte-exact uploads and downloads of 0 B, 1 B and 64 MiB
// with sftp and scp, resumed ones with reput and reget, and the transfers logged.
func TestSFTPTransfersOpenSSH(t *testing.T) {
	e := NewEnv(t)
	home := addFTPUser(t, e, "alice", ftpPassword)
	s := startSFTP(t, e, ftpConf{"transfer_log": strconv.Quote(filepath.Join(t.TempDir(), "xferlog"))})
	local := t.TempDir()
	var cmds strings.Builder
	for _, size := range []int{0, 1, 64 << 20} {
		name := fmt.Sprintf("f%d.bin", size)
		randomFile(t, local, name, size)
		fmt.Fprintf(&cmds, "put %s %s\nget %s %s\n", filepath.Join(local, name), name, name, filepath.Join(local, "back-"+name))
	}
	r := s.sftpBatch(t, "alice", ftpPassword, cmds.String())
	require.Equal(t, 0, r.Code, "sftp: %s", r)
	for _, size := range []int{0, 1, 64 << 20} {
		name := fmt.Sprintf("f%d.bin", size)
		requireSameFile(t, filepath.Join(local, name), filepath.Join(home, name))
		requireSameFile(t, filepath.Join(local, name), filepath.Join(local, "back-"+name))
	}
	mark := len(s.Log())

	// Resumed transfers: the server holds the first part of an upload, the client
	// the first part of a download.
	big := filepath.Join(local, fmt.Sprintf("f%d.bin", 64<<20))
	data := mustRead(t, big)
	require.NoError(t, os.WriteFile(filepath.Join(home, "resumed.bin"), data[:10<<20], 0o644))
	require.NoError(t, os.Chown(filepath.Join(home, "resumed.bin"), users.UID, ftpGID(t, e))) // as an upload left it
	require.NoError(t, os.WriteFile(filepath.Join(local, "partial.bin"), data[:(20<<20)+3], 0o644))
	r = s.sftpBatch(t, "alice", ftpPassword, fmt.Sprintf("reput %s resumed.bin\nreget f%d.bin %s\n", big, 64<<20, filepath.Join(local, "partial.bin")))
	require.Equal(t, 0, r.Code, "sftp: %s", r)
	requireSameFile(t, big, filepath.Join(home, "resumed.bin"))
	requireSameFile(t, big, filepath.Join(local, "partial.bin"))
	line := s.waitLog(mark, `msg=transfer`, "user=alice", "direction=upload", "path=/resumed.bin", "protocol=sftp", "status=ok")
	require.Contains(t, line, fmt.Sprintf("bytes=%d", (64<<20)-(10<<20)), "a resumed upload counts what it sent")

	// OpenSSH's sftp takes the longer reads and writes that limits@openssh.com offers.
	r = s.sftpBatch(t, "alice", ftpPassword, "pwd\n", "-vvv")
	require.Equal(t, 0, r.Code, "sftp: %s", r)
	require.Contains(t, r.Stderr, "using 261120 / 261120", "OpenSSH's sftp uses 32 KiB without the limits")

	// scp in its SFTP mode, both ways.
	r = s.sshTool(t, "scp", ftpPassword, "-s", "-P", strconv.Itoa(s.SFTPPort), big, "alice@127.0.0.1:scp.bin")
	require.Equal(t, 0, r.Code, "scp up: %s\n%s", r, s.Log())
	requireSameFile(t, big, filepath.Join(home, "scp.bin"))
	r = s.sshTool(t, "scp", ftpPassword, "-s", "-P", strconv.Itoa(s.SFTPPort), "alice@127.0.0.1:f1.bin", filepath.Join(local, "scp-back.bin"))
	require.Equal(t, 0, r.Code, "scp down: %s", r)
	requireSameFile(t, filepath.Join(local, "f1.bin"), filepath.Join(local, "scp-back.bin"))

	// One xferlog line per transfer, as FTP's, with the service "sftp".
	xferlog := string(mustRead(t, strings.Trim(s.conf["transfer_log"], `"`)))
	require.Regexp(t, `(?m) 127\.0\.0\.1 67108864 /f67108864\.bin b _ i r alice sftp 0 \* c$`, xferlog)
	require.Regexp(t, `(?m) 127\.0\.0\.1 0 /f0\.bin b _ o r alice sftp 0 \* c$`, xferlog)
}

// TestSFTPConfinement runs the probes of the FTP tests over SFTP: "..", absolute paths
// and symlinks to /etc/shadow and into another home never lead out of the home, and
// no symlink can be made.
func TestSFTPConfinement(t *testing.T) {
	e := NewEnv(t)
	home := addFTPUser(t, e, "alice", ftpPassword)
	bobHome := addFTPUser(t, e, "bob", ftpPassword)
	require.NoError(t, os.WriteFile(filepath.Join(bobHome, "secret.txt"), []byte("bob's"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(home, "mine.txt"), []byte("alice's"), 0o644))
	// Owned as an upload leaves it: the kernel links only files one owns or may write.
	require.NoError(t, os.Chown(filepath.Join(home, "mine.txt"), users.UID, ftpGID(t, e)))
	for name, target := range map[string]string{"shadow": "/etc/shadow", "bobs": "../bob", "bobfile": "../bob/secret.txt", "inside": "mine.txt"} {
		require.NoError(t, os.Symlink(target, filepath.Join(home, name)))
	}
	s := startSFTP(t, e, nil)
	before := treeState(t, filepath.Dir(home), "")

	steps := []sftpStep{
		{"normalize", "."}, {"normalize", "../../.."}, {"listdir", "/../.."},
		{"get", "../../../../etc/shadow"}, {"get", "/etc/shadow"}, {"get", "shadow"},
		{"get", "../bob/secret.txt"}, {"get", "bobs/secret.txt"}, {"get", "bobfile"},
		{"listdir", "bobs"}, {"readlink", "shadow"}, {"readlink", "bobs"},
		{"put", "bobs/planted.txt", "x"}, {"put", "shadow", "x"}, {"symlink", "/etc/shadow", "link"},
		{"get", "inside"}, {"readlink", "inside"}, {"hardlink", "mine.txt", "hard.txt"}, {"statvfs", "/"},
	}
	rs := s.paramiko(t, "alice", ftpPassword, steps...)
	require.Equal(t, "/", rs[0].Value)
	require.Equal(t, "/", rs[1].Value, "above the home is the home")
	require.Contains(t, rs[2].Value, "mine.txt", "the listing of /../.. is the home's")
	for i := 3; i < 15; i++ {
		require.False(t, rs[i].OK, "%v succeeded: %+v", steps[i], rs[i])
		require.NotContains(t, fmt.Sprint(rs[i].Value), "root:", "%v", steps[i])
		require.NotContains(t, fmt.Sprint(rs[i].Value), "bob's", "%v", steps[i])
	}
	require.False(t, rs[15].OK == false, "a symlink inside the home is followed: %+v", rs[15])
	require.Equal(t, "alice's", rs[15].Value)
	require.Equal(t, "mine.txt", rs[16].Value)
	require.True(t, rs[17].OK, "hardlink inside the home: %+v", rs[17])
	require.True(t, rs[18].OK, "statvfs: %+v", rs[18])
	after := treeState(t, filepath.Dir(home), "")
	require.Len(t, after, len(before)+1, "only the hard link was added")
	fa, err := os.Stat(filepath.Join(home, "mine.txt"))
	require.NoError(t, err)
	fb, err := os.Stat(filepath.Join(home, "hard.txt"))
	require.NoError(t, err)
	require.True(t, os.SameFile(fa, fb))
}

// TestSFTPNoShellNoForwarding: ssh gets no shell and no command, and neither
// forwarding direction nor any channel but a session is opened.
func TestSFTPNoShellNoForwarding(t *testing.T) {
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	s := startSFTP(t, e, nil)

	r := s.sshTool(t, "ssh", ftpPassword, "-T", "alice@127.0.0.1")
	require.NotEqual(t, 0, r.Code, "ssh without a command: %s", r)
	require.Contains(t, r.Stderr, "shell request failed", r.String())
	r = s.sshTool(t, "ssh", ftpPassword, "alice@127.0.0.1", "cat /etc/passwd")
	require.NotEqual(t, 0, r.Code, "ssh with a command: %s", r)
	require.NotContains(t, r.Stdout, "root:")
	r = s.sshTool(t, "ssh", ftpPassword, "-N", "-oExitOnForwardFailure=yes", "-R", "0:127.0.0.1:"+strconv.Itoa(s.Port), "alice@127.0.0.1")
	require.NotEqual(t, 0, r.Code, "ssh -R: %s", r)
	require.Contains(t, r.Stderr, "forwarding failed", r.String())

	rs := s.paramiko(t, "alice", ftpPassword,
		sftpStep{"shell"}, sftpStep{"exec", "id"}, sftpStep{"subsystem", "shell"},
		sftpStep{"direct-tcpip", "127.0.0.1", s.Port}, sftpStep{"tcpip-forward"}, sftpStep{"listdir", "/"})
	for i, what := range []string{"shell", "exec", "another subsystem", "ssh -L (direct-tcpip)", "ssh -R (tcpip-forward)"} {
		require.False(t, rs[i].OK, "%s was granted", what)
	}
	require.Contains(t, rs[3].Error, "prohibited")
	require.True(t, rs[5].OK, "the same connection still serves SFTP: %+v", rs[5])
	s.waitLog(0, `msg="channel refused"`, "user=alice", "type=direct-tcpip", "protocol=sftp")
	s.waitLog(0, `msg="request refused"`, "request=shell", "protocol=sftp")
}

// TestSFTPLoginsDecidedByTheMonitor: a password changed with ftpctl or chpasswd counts
// at the next SFTP login, a ban earned over FTP refuses SFTP from that address, and
// the last login names the protocol.
func TestSFTPLoginsDecidedByTheMonitor(t *testing.T) {
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	s := startSFTP(t, e, ftpConf{
		"limits.ban_after_failures": "3",
		"limits.ban_window":         `"1m"`,
		"limits.ban_duration":       `"10m"`,
	})
	works := func(password string, opts ...string) bool {
		t.Helper()
		r := s.sftpBatch(t, "alice", password, "ls\n", opts...)
		return r.Code == 0
	}
	require.True(t, works(ftpPassword))
	var u agent.UserJSON
	require.True(t, waitFor(10*time.Second, func() bool {
		u = e.showUser("alice")
		return u.LastLogin != nil
	}), "no last login recorded")
	require.Equal(t, "sftp", u.LastLogin.Protocol)
	require.Equal(t, "127.0.0.1", u.LastLogin.Address)

	const second, third = "Second-Secret-7", "Third-Secret-8"
	r := e.Ftpctl(second+"\n", "user", "passwd", "alice", "--password-stdin")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.False(t, works(ftpPassword), "old password after ftpctl user passwd")
	require.True(t, works(second), "new password after ftpctl user passwd")
	e.MustRun("alice:"+third+"\n", "chpasswd")
	require.False(t, works(second), "old password after chpasswd")
	require.True(t, works(third), "new password after chpasswd")
	s.waitLog(0, `msg="login failed"`, "user=alice", "protocol=sftp")

	// Three wrong passwords over FTP from 127.0.0.7; then SFTP from there is refused.
	for range 3 {
		failLogin(t, s.ftpServer, "127.0.0.7", "alice")
	}
	s.waitLog(0, `msg="client banned after repeated failed logins" client=127.0.0.7 `)
	mark := len(s.Log())
	require.False(t, works(third, "-oBindAddress=127.0.0.7"), "SFTP from a banned address")
	s.waitLog(mark, `msg="connection refused: client banned" client=127.0.0.7 source=127.0.0.7/32`, "protocol=sftp")
	require.True(t, works(third, "-oBindAddress=127.0.0.8"), "another address is not banned")
}

// TestSFTPSessionLimits: max_sessions_per_user and the caps of sessions not logged
// in yet hold for SFTP as for FTP, counted across both protocols.
func TestSFTPSessionLimits(t *testing.T) {
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	s := startSFTP(t, e, ftpConf{
		"limits.max_sessions_per_user":            "1",
		"limits.max_sessions_before_login_per_ip": "2",
	})
	sftpAddr := fmt.Sprintf("127.0.0.1:%d", s.SFTPPort)
	sftpLs := func(from string) Result {
		t.Helper()
		return s.sftpBatch(t, "alice", ftpPassword, "ls\n", "-oBindAddress="+from)
	}

	// alice logged in over FTP has her one session: SFTP is refused after the login.
	ftp := dialRaw(t, s.Addr, "127.0.0.2")
	ftp.login("alice", ftpPassword)
	r := sftpLs("127.0.0.3")
	require.NotEqual(t, 0, r.Code, "a second session of alice, over SFTP")
	s.waitLog(0, `msg="login refused: too many sessions for the user" client=127.0.0.3 user=alice limit=1`, "protocol=sftp")
	ftp.expect(221, "QUIT")
	ftp.waitClosed(5 * time.Second)
	require.True(t, waitFor(10*time.Second, func() bool { return sftpLs("127.0.0.3").Code == 0 }), "SFTP once the FTP session ended:\n%s", s.Log())

	// Two SFTP connections from 127.0.0.5 that have not logged in fill its places
	// before login, for SFTP and FTP alike; other addresses still log in.
	for range 2 {
		require.True(t, strings.HasPrefix(firstLine(t, sftpAddr, "127.0.0.5"), "SSH-2.0-"))
	}
	requireSFTPClosedAtAccept(t, sftpAddr, "127.0.0.5")
	require.Equal(t, "421 Too many connections waiting to log in from your address.\r\n", firstWords(t, s.Addr, "127.0.0.5"))
	s.waitLog(0, `msg="connection refused" client=127.0.0.5 reason="Too many connections waiting to log in from your address." protocol=sftp`)
	r = sftpLs("127.0.0.6")
	require.Equal(t, 0, r.Code, "SFTP from another address: %s", r)
	dialRaw(t, s.Addr, "127.0.0.6").login("alice", ftpPassword)
}

// TestSFTPPermissions: a read-only account cannot change anything, and each
// permission, taken away alone, refuses its requests with permission denied while
// the others work.
func TestSFTPPermissions(t *testing.T) {
	e := NewEnv(t)
	home := addFTPUser(t, e, "alice", ftpPassword)
	addFTPUser(t, e, "reader", ftpPassword, "--home", home, "--read-only")
	s := startSFTP(t, e, nil)
	seed := func() {
		t.Helper()
		rs := s.paramiko(t, "alice", ftpPassword, sftpStep{"put", "old.txt", "old"}, sftpStep{"mkdir", "empty"})
		require.True(t, rs[0].OK, "%+v", rs[0])
	}
	seed()

	before := treeState(t, home, "")
	rs := s.paramiko(t, "reader", ftpPassword,
		sftpStep{"get", "old.txt"}, sftpStep{"listdir", "/"},
		sftpStep{"put", "new.txt", "x"}, sftpStep{"put", "old.txt", "x"}, sftpStep{"remove", "old.txt"},
		sftpStep{"rename", "old.txt", "moved.txt"}, sftpStep{"mkdir", "d"}, sftpStep{"rmdir", "empty"},
		sftpStep{"chmod", "old.txt", "600"}, sftpStep{"utime", "old.txt", 1000}, sftpStep{"hardlink", "old.txt", "l.txt"})
	require.True(t, rs[0].OK && rs[0].Value == "old", "download: %+v", rs[0])
	require.True(t, rs[1].OK, "list: %+v", rs[1])
	for _, r := range rs[2:] {
		require.False(t, r.OK, "a read-only account changed something: %+v", r)
		require.Equal(t, 3, r.Code, "permission denied: %+v", r)
	}
	require.Equal(t, before, treeState(t, home, ""), "the read-only account changed the home")

	tests := []struct {
		perm string
		step sftpStep
		also sftpStep // needs every other permission and works
	}{
		{"list", sftpStep{"listdir", "/"}, sftpStep{"get", "old.txt"}},
		{"download", sftpStep{"get", "old.txt"}, sftpStep{"listdir", "/"}},
		{"upload", sftpStep{"put", "new.txt", "x"}, sftpStep{"put", "old.txt", "replaced"}},
		{"overwrite", sftpStep{"put", "old.txt", "x"}, sftpStep{"put", "new.txt", "x"}},
		{"delete", sftpStep{"remove", "old.txt"}, sftpStep{"rmdir", "empty"}},
		{"rename", sftpStep{"rename", "old.txt", "moved.txt"}, sftpStep{"remove", "old.txt"}},
		{"mkdir", sftpStep{"mkdir", "d"}, sftpStep{"rename", "old.txt", "moved.txt"}},
		{"rmdir", sftpStep{"rmdir", "empty"}, sftpStep{"mkdir", "d"}},
		{"chmod", sftpStep{"chmod", "old.txt", "600"}, sftpStep{"utime", "old.txt", 1000}},
		{"mtime", sftpStep{"utime", "old.txt", 1000}, sftpStep{"chmod", "old.txt", "600"}},
	}
	all := []string{"list", "download", "upload", "overwrite", "delete", "rename", "mkdir", "rmdir", "chmod", "mtime"}
	for _, tt := range tests {
		t.Run(tt.perm, func(t *testing.T) {
			require.NoError(t, os.RemoveAll(home))
			require.NoError(t, os.Mkdir(home, 0o755))
			require.NoError(t, os.Chown(home, users.UID, ftpGID(t, e)))
			e.mod("alice", "--permissions", "*")
			seed()
			var rest []string
			for _, p := range all {
				if p != tt.perm {
					rest = append(rest, p)
				}
			}
			e.mod("alice", "--permissions", strings.Join(rest, ","))
			rs := s.paramiko(t, "alice", ftpPassword, tt.step, tt.also)
			require.False(t, rs[0].OK, "%v without %s: %+v", tt.step, tt.perm, rs[0])
			require.Equal(t, 3, rs[0].Code, "permission denied: %+v", rs[0])
			require.Contains(t, rs[0].Error, fmt.Sprintf("%q permission", tt.perm))
			require.True(t, rs[1].OK, "%v without %s: %+v", tt.also, tt.perm, rs[1])
		})
	}
}

// TestSFTPKilledUploadLeavesOldFile: a client killed half way through an upload over
// an existing file leaves that file as it was; a complete upload replaces it.
func TestSFTPKilledUploadLeavesOldFile(t *testing.T) {
	e := NewEnv(t)
	home := addFTPUser(t, e, "alice", ftpPassword)
	old := randomFile(t, home, "app.bin", 1<<20)
	require.NoError(t, os.Chown(old, users.UID, ftpGID(t, e))) // as an upload left it
	keep := randomFile(t, t.TempDir(), "keep.bin", 1<<20)
	copyFile(t, old, keep)
	s := startSFTP(t, e, nil)

	for i, name := range []string{"app.bin", "app.bin", "new.bin", "app.bin"} {
		mark := len(s.Log())
		r := s.paramikoRun(t, "alice", ftpPassword, sftpStep{"kill", name, (i + 1) << 20})
		require.Equal(t, -1, r.Code, "the client was to die by SIGKILL: %s", r)
		s.waitLog(mark, `msg=transfer`, "path=/"+name, "status=aborted", "protocol=sftp")
		requireSameFile(t, keep, old)
		entries, err := os.ReadDir(home)
		require.NoError(t, err)
		require.Len(t, entries, 1, "nothing but the old file: %v", entries)
	}
	rs := s.paramiko(t, "alice", ftpPassword, sftpStep{"put", "app.bin", "new content"})
	require.True(t, rs[0].OK, "%+v", rs[0])
	require.Equal(t, "new content", string(mustRead(t, old)))
}

// TestSFTPWorkerConfined: while serving SFTP the worker is UID 700 without
// capabilities in the FTP root, and ftpctl status lists the SFTP session.
func TestSFTPWorkerConfined(t *testing.T) {
	e := NewEnv(t)
	home := addFTPUser(t, e, "alice", ftpPassword)
	randomFile(t, home, "big.bin", 64<<20)
	s := startSFTP(t, e, nil)
	worker := s.requireWorker(0)

	// A download that stalls: the client reads nothing once the transfer began.
	cmd := exec.Command("sshpass", append(append([]string{"-p", ftpPassword, "sftp"}, sshOptions(s.SFTPPort)...), "-b", "-", "alice@127.0.0.1")...)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	_, err = fmt.Fprintf(stdin, "ls\n")
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		return strings.Contains(e.Ftpctl("", "status").Stdout, "sftp  alice")
	}, 20*time.Second, 100*time.Millisecond, "ftpctl status lists the SFTP session")
	st := e.Ftpctl("", "status").Stdout
	require.Regexp(t, `(?m)^SFTP listen:\s+127\.0\.0\.1:`+strconv.Itoa(s.SFTPPort)+`$`, st)
	require.Regexp(t, `(?m)^SSH host key:\s+256 SHA256:\S+ \(ED25519\)$`, st)
	requireWorkerConfined(t, e, worker)
	require.Equal(t, worker, s.workerPID(), "the same worker serves SFTP")
	stdin.Close()
}

// TestSFTPHostKeysOfTheLayer: install makes the host keys and reports their
// fingerprints as ssh-keygen prints what the server presents; a second install keeps
// them, and a node that takes the layer's state presents the same keys.
func TestSFTPHostKeysOfTheLayer(t *testing.T) {
	testtool.Require(t, "ssh-keyscan")
	l := newLayer(t)
	a, b := l.newNode("node1"), l.newNode("node2")
	install := func(n *node) []string {
		t.Helper()
		out := onLayer(t, []*node{n}, "Layer-Pass-1a", "ftpctl install --reset-password --password-stdin --json")[0]
		require.Equal(t, float64(n.Port+1), out["sftp_port"], "%v", out)
		var fps []string
		for _, f := range out["sftp_host_key_fingerprints"].([]any) {
			fps = append(fps, f.(string))
		}
		return fps
	}
	first := install(a)
	require.Len(t, first, 3)
	require.Regexp(t, `^256 SHA256:\S+ \(ED25519\)$`, first[0])
	require.Regexp(t, `^256 SHA256:\S+ \(ECDSA\)$`, first[1])
	require.Regexp(t, `^3072 SHA256:\S+ \(RSA\)$`, first[2])
	for _, k := range []string{"ssh_host_ed25519_key", "ssh_host_ecdsa_key", "ssh_host_rsa_key"} {
		fi, err := os.Stat(filepath.Join(a.State, k))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), k)
	}
	require.ElementsMatch(t, first, presented(t, a.SFTPAddr()), "what install reports is what the server presents")
	require.Equal(t, first, install(a), "a second install keeps the keys")

	// The image's ftpd.toml names the node's own addresses: see multinode_test.go.
	require.NoError(t, os.MkdirAll(filepath.Join(b.Etc, "jelastic-ftp"), 0o755))
	b.WriteEtc("jelastic-ftp/ftpd.toml", fmt.Sprintf("listen = %q\nsftp_listen = %q\n", b.Addr, b.SFTPAddr()), 0o644)
	r := scaleOut(t, a, b)
	require.Contains(t, r.Stdout, "wrote the SSH host keys")
	require.ElementsMatch(t, first, presented(t, b.SFTPAddr()), "the new node presents the layer's keys")
}

// presented lists the host keys the server at addr offers, as ssh-keygen -l prints
// them without the host name.
func presented(t *testing.T, addr string) []string {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	require.NoError(t, err)
	var out []string
	require.True(t, waitFor(20*time.Second, func() bool {
		r := runTool(t, "", "sh", "-c", `ssh-keyscan -p "$1" -t ed25519,ecdsa,rsa "$0" 2>/dev/null | ssh-keygen -l -f -`, host, port)
		out = nil
		for _, line := range strings.Split(strings.TrimSpace(r.Stdout), "\n") {
			if f := strings.Fields(line); len(f) == 4 {
				out = append(out, f[0]+" "+f[1]+" "+f[3])
			}
		}
		return r.Code == 0 && len(out) == 3
	}), "ssh-keyscan %s found %v", addr, out)
	return out
}

// TestSFTPRclone: rclone's sftp backend with its defaults (several transfers at once,
// modification times set after each upload) copies, checks, syncs and purges a tree.
func TestSFTPRclone(t *testing.T) {
	testtool.Require(t, "rclone")
	e := NewEnv(t)
	home := addFTPUser(t, e, "alice", ftpPassword)
	s := startSFTP(t, e, nil)
	src := t.TempDir()
	for i := range 100 {
		dir := filepath.Join(src, fmt.Sprintf("d%d", i%7))
		require.NoError(t, os.MkdirAll(dir, 0o755))
		randomFile(t, dir, fmt.Sprintf("f%d.bin", i), 1000*i)
	}
	obscured := runTool(t, "", "rclone", "obscure", ftpPassword)
	require.Equal(t, 0, obscured.Code, obscured.String())
	remote := fmt.Sprintf(":sftp,host=127.0.0.1,port=%d,user=alice,pass=%s:site", s.SFTPPort, strings.TrimSpace(obscured.Stdout))
	rclone := func(args ...string) {
		t.Helper()
		r := runTool(t, "", "rclone", append(args, "--config", "/dev/null", "--low-level-retries", "1", "--retries", "1")...)
		require.Equal(t, 0, r.Code, "rclone %v: %s", args, r)
	}
	rclone("copy", src, remote)
	require.Equal(t, fileHashes(t, src), fileHashes(t, filepath.Join(home, "site")))
	rclone("check", src, remote)
	require.NoError(t, os.Remove(filepath.Join(src, "d1", "f1.bin")))
	rclone("sync", src, remote)
	require.NoFileExists(t, filepath.Join(home, "site", "d1", "f1.bin"))
	rclone("purge", remote)
	require.NoDirExists(t, filepath.Join(home, "site"))
}

// fileHashes maps each regular file below dir, by its path relative to dir, to its
// SHA-256.
func fileHashes(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out[rel] = fileSHA256(t, p)
		}
		return err
	}))
	return out
}

// TestSFTPPublicKeys: ftpctl user key gives an account OpenSSH keys, from= limits
// where each may log in from, a lock on the account stops them, and options other
// than from= are refused with nothing changed.
func TestSFTPPublicKeys(t *testing.T) {
	testtool.Require(t, "ssh-keygen")
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	s := startSFTP(t, e, nil)
	dir := t.TempDir()
	newKey := func(name string) (priv, pub string) {
		priv = filepath.Join(dir, name)
		runTool(t, "", "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name+"@laptop", "-f", priv)
		return priv, strings.TrimSpace(string(mustRead(t, priv+".pub")))
	}
	laptop, laptopPub := newKey("laptop")
	ci, ciPub := newKey("ci")
	works := func(key, from string) bool {
		t.Helper()
		args := []string{"-oBatchMode=yes", "-oStrictHostKeyChecking=no", "-oUserKnownHostsFile=/dev/null",
			"-oGlobalKnownHostsFile=/dev/null", "-oPreferredAuthentications=publickey", "-oIdentitiesOnly=yes",
			"-oLogLevel=ERROR", "-oBindAddress=" + from, "-i", key, "-P", strconv.Itoa(s.SFTPPort), "-b", "-", "alice@127.0.0.1"}
		return runTool(t, "ls\n", "sftp", args...).Code == 0
	}
	require.False(t, works(laptop, "127.0.0.1"), "a key before it was added")

	r := e.Ftpctl("# keys of alice\n\n"+laptopPub+"\n"+`from="127.0.0.2" `+ciPub+"\n", "user", "key", "add", "alice")
	require.Equal(t, 0, r.Code, r.String())
	require.Contains(t, r.Stdout, "2 key(s) added")
	r = e.Ftpctl("", "user", "key", "list", "alice", "--json")
	require.Equal(t, 0, r.Code, r.String())
	var listed []struct {
		Fingerprint string   `json:"fingerprint"`
		From        []string `json:"from"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &listed))
	require.Len(t, listed, 2)
	keygen := strings.Fields(runTool(t, "", "ssh-keygen", "-l", "-f", laptop+".pub").Stdout)
	require.Equal(t, keygen[1], listed[0].Fingerprint, "the fingerprint ssh-keygen -l prints")
	require.Equal(t, []string{"127.0.0.2"}, listed[1].From)

	require.True(t, works(laptop, "127.0.0.1"), "the laptop's key")
	require.False(t, works(ci, "127.0.0.1"), "the CI key from an address its from= leaves out")
	require.True(t, works(ci, "127.0.0.2"), "the CI key from its address")
	s.waitLog(0, "msg=login", "user=alice", "method=publickey", "protocol=sftp")

	e.MustRun("", "usermod", "-L", "alice")
	require.False(t, works(laptop, "127.0.0.1"), "a key of a disabled account")
	e.MustRun("", "usermod", "-U", "alice")
	require.True(t, works(laptop, "127.0.0.1"))

	before := e.ReadEtc("jelastic-ftp/users.toml")
	for _, bad := range []string{`command="ls" ` + laptopPub, "no-pty " + laptopPub, laptopPub[:40], `from="example.com" ` + laptopPub} {
		r := e.Ftpctl(bad+"\n", "user", "key", "add", "alice")
		require.Equal(t, 2, r.Code, "%q: %s", bad, r)
		require.Equal(t, 1, strings.Count(r.Stderr, "\n"), "one line: %q", r.Stderr)
		require.Equal(t, before, e.ReadEtc("jelastic-ftp/users.toml"), "%q changed users.toml", bad)
	}

	r = e.Ftpctl("", "user", "key", "del", "alice", listed[0].Fingerprint)
	require.Equal(t, 0, r.Code, r.String())
	require.False(t, works(laptop, "127.0.0.1"), "a deleted key")
}

// TestSFTPSessionEndsWhenAccessEnds: an OpenSSH sftp session of a user who is then
// deleted is closed by the service within endWithin, as FTP sessions are.
func TestSFTPSessionEndsWhenAccessEnds(t *testing.T) {
	requireShadowTools(t)
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	s := startSFTP(t, e, nil)

	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	args := append(append([]string{"-p", ftpPassword, "sftp"}, sshOptions(s.SFTPPort)...), "-b", "-", "alice@127.0.0.1")
	client := exec.CommandContext(ctx, "sshpass", args...)
	stdin, err := client.StdinPipe()
	require.NoError(t, err)
	var out testtool.SyncBuffer
	client.Stdout, client.Stderr = &out, &out
	require.NoError(t, client.Start())
	exited := make(chan error, 1)
	go func() { exited <- client.Wait() }()
	_, err = stdin.Write([]byte("pwd\n"))
	require.NoError(t, err)
	require.Eventually(t, func() bool { return strings.Contains(out.String(), "Remote working directory") }, 15*time.Second, 20*time.Millisecond, "the sftp session never logged in: %s", out.String())

	mark := len(s.Log())
	start := time.Now()
	r := e.Ftpctl("", "user", "del", "alice")
	require.Equal(t, 0, r.Code, r.String())
	require.Contains(t, r.Stdout, "ended its", "ftpctl says it ended the session")
	s.waitLog(mark, `msg="session ended: the account's access was taken away"`, "protocol=sftp", "user=alice")
	require.Less(t, time.Since(start), endWithin+cmdOverhead, "the session ended in time")
	// sftp notices the closed connection at its next request (pwd needs none).
	_, _ = stdin.Write([]byte("ls\n"))
	select {
	case err := <-exited:
		require.Error(t, err, "sftp ends with an error when the server closed its session: %s", out.String())
	case <-time.After(endWithin):
		t.Fatalf("the SFTP session of a deleted user still answered after %s: %s", endWithin, out.String())
	}
}

// cmdOverhead is what running ftpctl itself may take beside the ending of sessions.
const cmdOverhead = 3 * time.Second

// TestSFTPListingStreams lists a folder of 100,000 entries with OpenSSH's sftp and
// with paramiko at once: each gets every name once, and the worker's resident memory
// stays far below the size of the listings, which the worker reads a batch at a time
// as clients ask for them.
func TestSFTPListingStreams(t *testing.T) {
	e := NewEnv(t)
	home := addFTPUser(t, e, "alice", ftpPassword)
	const entries = 100_000
	names := emptyFiles(t, filepath.Join(home, "big"), "entry-with-a-long-name-", ".php", entries)
	s := startSFTP(t, e, nil)
	worker := s.workerPID()
	before := vmRSS(t, worker)

	var ls Result
	var listed []sftpResult
	peak := peakRSS(t, worker, func() {
		var wg sync.WaitGroup
		wg.Go(func() { ls = s.sftpBatch(t, "alice", ftpPassword, "ls -1 big\n") })
		wg.Go(func() { listed = s.paramiko(t, "alice", ftpPassword, sftpStep{"listdir", "big"}) })
		wg.Wait()
	})

	require.Equal(t, 0, ls.Code, "sftp ls: %s", ls.Stderr)
	var got []string
	for line := range strings.SplitSeq(ls.Stdout, "\n") {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "big/"); ok {
			got = append(got, name)
		}
	}
	require.Equal(t, names, got, "OpenSSH sftp's ls -1 (sorted by name)")
	require.True(t, listed[0].OK, "paramiko listdir: %+v", listed[0].Error)
	require.Len(t, listed[0].Value, entries)
	for i, name := range listed[0].Value.([]any) {
		require.Equal(t, names[i], name, "paramiko's listdir, sorted")
	}
	// Held whole, the two listings took ~100 MB of it; streamed, their batches and the
	// garbage collector's 16 MiB of room (internal/gcroom) take about 20 MB.
	t.Logf("worker VmRSS %d KiB before, %d KiB at the peak of 2 listings of %d entries", before, peak, entries)
	require.Less(t, peak-before, int64(32<<10), "SFTP listings must stream in bounded batches")

	// Once the last session has gone, the worker hands what they left on its heap
	// back to the kernel (internal/idlemem, told by the admission gate), whichever
	// protocol the sessions spoke; the Go runtime alone would keep it for minutes.
	var after int64
	released := waitFor(20*time.Second, func() bool {
		after = vmRSS(t, worker)
		return after-before < 4<<10
	})
	require.True(t, released, "worker VmRSS %d KiB before the listings, still %d KiB 20 s after them", before, after)
	t.Logf("worker VmRSS %d KiB once the sessions have gone", after)
}

// emptyFiles makes dir with n empty files named prefix+i+suffix, and returns their
// names sorted as strings.
func emptyFiles(t *testing.T, dir, prefix, suffix string, n int) []string {
	t.Helper()
	require.NoError(t, os.Mkdir(dir, 0o755))
	names := make([]string, n)
	for i := range n {
		names[i] = prefix + strconv.Itoa(i) + suffix
		f, err := os.OpenFile(filepath.Join(dir, names[i]), os.O_CREATE|os.O_WRONLY, 0o644)
		require.NoError(t, err)
		f.Close()
	}
	slices.Sort(names)
	return names
}
