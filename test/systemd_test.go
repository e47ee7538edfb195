package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
	// systemd would hold this socket; the configured listen address stays unused.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	activated := l.Addr().String()
	lf, err := l.(*net.TCPListener).File()
	require.NoError(t, err)
	l.Close()
	t.Cleanup(func() { lf.Close() })

	s := startFTPWith(t, e, nil, func(s *ftpServer) {
		configured := s.Addr
		// LISTEN_PID must be the service's own PID: the shell execs into ftpctl.
		s.cmd = e.Command(context.Background(), "sh", "-c", `LISTEN_PID=$$ exec "$0" serve`, ftpctlBin)
		s.cmd.Env = append(s.cmd.Env, "LISTEN_FDS=1")
		s.cmd.ExtraFiles = []*os.File{lf}
		s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
		s.cmd.WaitDelay = 5 * time.Second
		s.Addr = activated
		t.Cleanup(func() {
			conn, err := net.DialTimeout("tcp", configured, time.Second)
			if err == nil {
				conn.Close()
				t.Errorf("the configured address %s was opened although systemd passed a socket", configured)
			}
		})
	})
	r := runTool(t, "", "curl", "-sS", "--max-time", "20", "-u", "alice:"+ftpPassword, fmt.Sprintf("ftp://%s/", s.Addr))
	require.Equal(t, 0, r.Code, r.String())
	require.Contains(t, s.Log(), "addr="+activated)
}
