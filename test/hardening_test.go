package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
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
