package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
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

	"github.com/jelastic/jelastic-ftp/internal/testtool"
)

// notifyListener is the NOTIFY_SOCKET systemd would hold: it collects what the
// service reports.
type notifyListener struct {
	path string
	conn *net.UnixConn
	got  chan string
}

func listenNotify(t *testing.T) *notifyListener {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	require.NoError(t, err)
	n := &notifyListener{path: path, conn: conn, got: make(chan string, 64)}
	t.Cleanup(func() { conn.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			k, err := conn.Read(buf)
			if err != nil {
				close(n.got)
				return
			}
			n.got <- string(buf[:k])
		}
	}()
	return n
}

// expect waits for the next notification and checks that it holds every field. The
// periodic STATUS= updates are passed over unless one is expected.
func (n *notifyListener) expect(t *testing.T, fields ...string) string {
	t.Helper()
	wantStatus := strings.HasPrefix(fields[0], "STATUS=")
	deadline := time.After(20 * time.Second)
	for {
		select {
		case msg, ok := <-n.got:
			require.True(t, ok, "the notify socket closed while waiting for %v", fields)
			if strings.HasPrefix(msg, "STATUS=") && !wantStatus {
				continue
			}
			for _, f := range fields {
				require.Contains(t, strings.Split(msg, "\n"), f, "notification %q", msg)
			}
			return msg
		case <-deadline:
			t.Fatalf("no notification %v within 20 s", fields)
			return ""
		}
	}
}

func TestServiceNotifyProtocol(t *testing.T) {
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	n := listenNotify(t)
	s := startFTPWith(t, e, nil, func(s *ftpServer) {
		s.cmd.Env = append(s.cmd.Env, "NOTIFY_SOCKET="+n.path)
	})
	n.expect(t, "READY=1")
	n.expect(t, "STATUS=0 sessions, 0 transfers")

	// A session open across the reload must survive it.
	c := dialRaw(t, s.Addr, "")
	c.login("alice", ftpPassword)
	require.NoError(t, syscall.Kill(s.PID(), syscall.SIGHUP))
	msg := n.expect(t, "RELOADING=1")
	require.Contains(t, msg, "MONOTONIC_USEC=", "systemd's notify-reload needs the time of the reload")
	n.expect(t, "READY=1")
	c.expect(200, "NOOP")

	// `ftpctl status` reaches the running service and sees the session.
	r := e.Ftpctl("", "status", "--json")
	require.Equal(t, 0, r.Code, "%s%s", r.Stdout, r.Stderr)
	var st struct {
		Running bool
		Service struct {
			PID       int `json:"pid"`
			WorkerPID int `json:"worker_pid"`
			Sessions  struct {
				Count int
				List  []struct{ User, Client string }
			}
		}
	}
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &st))
	require.True(t, st.Running)
	require.Equal(t, s.PID(), st.Service.PID)
	require.Equal(t, s.workerPID(), st.Service.WorkerPID)
	require.Equal(t, 1, st.Service.Sessions.Count)
	require.Equal(t, "alice", st.Service.Sessions.List[0].User)

	s.stop()
	n.expect(t, "STOPPING=1")
	r = e.Ftpctl("", "status")
	require.Equal(t, 1, r.Code, "status must fail once the service is gone")
	require.Contains(t, r.Stderr, "not running")
}

func TestServiceSocketActivation(t *testing.T) {
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	s, addrs := startActivatedFTP(t, e, nil)
	r := runTool(t, "", "curl", "-sS", "--max-time", "20", "-u", "alice:"+ftpPassword, fmt.Sprintf("ftp://%s/", s.Addr))
	require.Equal(t, 0, r.Code, r.String())
	require.Contains(t, s.Log(), "addr="+addrs["listen"])
}

// TestServiceSocketActivationEveryPort: the socket unit of install --on-demand holds
// the SFTP and implicit FTPS ports too (so that a service stopped by idle_exit is
// started by any of its clients); the service takes each socket systemd passes for
// the setting whose address it listens on, whatever their order, and serves FTP,
// implicit FTPS and SFTP on them.
func TestServiceSocketActivationEveryPort(t *testing.T) {
	for _, tool := range []string{"curl", "sftp", "sshpass"} {
		testtool.Require(t, tool)
	}
	e := NewEnv(t)
	home := addFTPUser(t, e, "alice", ftpPassword)
	require.NoError(t, os.WriteFile(filepath.Join(home, "hello.txt"), []byte("hello\n"), 0o644))
	s, addrs := startActivatedFTP(t, e, nil, "sftp_listen", "implicit_tls_listen")
	s.waitLog(0, `msg="listening for SFTP" addr=`+addrs["sftp_listen"])
	s.waitLog(0, `msg="listening for implicit FTPS" addr=`+addrs["implicit_tls_listen"])
	require.Contains(t, s.Log(), "socket_activation=true")

	for _, url := range []string{"ftp://" + addrs["listen"], "ftps://" + addrs["implicit_tls_listen"]} {
		r := runTool(t, "", "curl", "-sS", "-k", "--max-time", "20", "-u", "alice:"+ftpPassword, url+"/hello.txt")
		require.Equal(t, 0, r.Code, "%s: %s", url, r)
		require.Equal(t, "hello\n", r.Stdout, url)
	}
	_, port, err := net.SplitHostPort(addrs["sftp_listen"])
	require.NoError(t, err)
	sftpPort, err := strconv.Atoi(port)
	require.NoError(t, err)
	ss := &sftpServer{ftpServer: s, SFTPPort: sftpPort}
	r := ss.sftpBatch(t, "alice", ftpPassword, "get hello.txt "+filepath.Join(t.TempDir(), "got.txt")+"\n")
	require.Equal(t, 0, r.Code, "SFTP on the passed socket: %s", r)
}

// TestServiceSocketActivationIdleExit: with idle_exit, a socket-activated service
// runs on while a session is open and exits (status 0, for systemd to start it
// again on the next connection) once there has been none for idle_exit.
func TestServiceSocketActivationIdleExit(t *testing.T) {
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	s, _ := startActivatedFTP(t, e, ftpConf{"idle_exit": `"10s"`, "idle_timeout": `"60s"`})
	worker := s.workerPID()
	session, err := net.DialTimeout("tcp", s.Addr, 5*time.Second)
	require.NoError(t, err)
	defer session.Close()
	banner := make([]byte, 3)
	_, err = io.ReadFull(session, banner)
	require.NoError(t, err)
	require.Equal(t, "220", string(banner))

	select {
	case <-s.exited:
		t.Fatalf("the service exited with a session open: %v\n%s", s.waitErr, s.Log())
	case <-time.After(15 * time.Second): // idle_exit and half again
	}
	require.NoError(t, session.Close())
	select {
	case <-s.exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("the service did not exit without sessions:\n%s", s.Log())
	}
	s.stopped = true
	require.NoError(t, s.waitErr, "exit status 0, so that systemd does not count a failure")
	require.Contains(t, s.Log(), "no session for idle_exit; exiting until systemd starts the service again")
	_, err = os.Stat(fmt.Sprintf("/proc/%d", worker))
	require.ErrorIs(t, err, os.ErrNotExist, "the worker has ended and been reaped")
}

// startActivatedFTP starts `ftpctl serve` as systemd's socket activation would:
// with a listening socket of its own (LISTEN_FDS), which it must use instead of
// the configured address, and one more for each setting in held (sftp_listen,
// implicit_tls_listen), which names that socket's address. It returns the address
// of each socket by setting, "listen" for FTP's.
func startActivatedFTP(t *testing.T, e *Env, conf ftpConf, held ...string) (*ftpServer, map[string]string) {
	addrs := map[string]string{}
	var files []*os.File
	for _, setting := range append(held, "listen") {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addrs[setting] = l.Addr().String()
		f, err := l.(*net.TCPListener).File()
		require.NoError(t, err)
		l.Close()
		t.Cleanup(func() { f.Close() })
		files = append(files, f)
	}
	// FTP's socket among the others: the service tells them apart by address, not order.
	files = slices.Insert(files[:len(files)-1], len(held)/2, files[len(files)-1])

	s := startFTPWith(t, e, conf, func(s *ftpServer) {
		configured := s.Addr
		for _, setting := range held {
			s.conf[setting] = strconv.Quote(addrs[setting])
		}
		s.writeConfig()
		// LISTEN_PID must be the service's own PID: the shell execs into ftpctl.
		s.cmd = e.Command(context.Background(), "sh", "-c", `LISTEN_PID=$$ exec "$0" serve`, ftpctlBin)
		s.cmd.Env = append(s.cmd.Env, fmt.Sprintf("LISTEN_FDS=%d", len(files)))
		s.cmd.ExtraFiles = files
		s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
		s.cmd.WaitDelay = 5 * time.Second
		s.Addr = addrs["listen"]
		t.Cleanup(func() {
			conn, err := net.DialTimeout("tcp", configured, time.Second)
			if err == nil {
				conn.Close()
				t.Errorf("the configured address %s was opened although systemd passed a socket", configured)
			}
		})
	})
	return s, addrs
}
