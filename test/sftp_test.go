package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

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
// ends the run with a non-zero status unless prefixed with "-".
func (s *sftpServer) sftpBatch(t *testing.T, user, password, commands string) Result {
	t.Helper()
	args := append([]string{"-p", password, "sftp"}, sshOptions(s.SFTPPort)...)
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
