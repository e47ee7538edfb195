package etcdb

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// helperEnv makes the test binary act as a helper process instead of running tests.
const helperEnv = "JFTP_ETCDB_HELPER"

func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		if err := runHelper(mode, os.Args[1:]); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// runHelper holds a lock until stdin closes ("classic": a classic fcntl lock on
// dir/.pwd.lock as lckpwdf takes it; "lock": Lock(dir, files...)), tries Lock
// for 200 ms ("trylock": dir files...), exits at once ("exit"), or runs WriteFile in the helper's own mount namespace after
// bind-mounting a file over its target ("bindwrite": src target newdata).
func runHelper(mode string, args []string) error {
	switch mode {
	case "classic":
		fd, err := unix.Open(filepath.Join(args[0], ".pwd.lock"), unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
		if err != nil {
			return err
		}
		lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart}
		if err := unix.FcntlFlock(uintptr(fd), unix.F_SETLKW, &lk); err != nil {
			return err
		}
		return holdUntilStdinCloses()
	case "lock":
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		l, err := Lock(ctx, args[0], args[1:]...)
		if err != nil {
			return err
		}
		if err := holdUntilStdinCloses(); err != nil {
			return err
		}
		return l.Unlock()
	case "trylock":
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		l, err := Lock(ctx, args[0], args[1:]...)
		if err != nil {
			return err
		}
		return l.Unlock()
	case "exit":
		return nil
	case "bindwrite":
		if err := unix.Mount(args[0], args[1], "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind-mount %s over %s: %w", args[0], args[1], err)
		}
		return WriteFile(args[1], []byte(args[2]))
	}
	return fmt.Errorf("unknown helper mode %q", mode)
}

func holdUntilStdinCloses() error {
	if _, err := fmt.Println("ready"); err != nil {
		return err
	}
	_, err := io.Copy(io.Discard, os.Stdin)
	return err
}

func helperCmd(t *testing.T, mode string, args ...string) *exec.Cmd {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), helperEnv+"="+mode)
	return cmd
}

// startHolder starts a helper that holds a lock, and returns once it holds it.
// Closing the returned stdin (also done at cleanup) makes it release and exit.
func startHolder(t *testing.T, mode string, args ...string) (pid int, release func()) {
	t.Helper()
	cmd := helperCmd(t, mode, args...)
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	cmd.Stderr = os.Stderr
	require.NoError(t, cmd.Start())
	done := false
	release = func() {
		if done {
			return
		}
		done = true
		stdin.Close()
		require.NoError(t, cmd.Wait())
	}
	t.Cleanup(release)

	ready := make(chan error, 1)
	go func() {
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err == nil && line != "ready\n" {
			err = fmt.Errorf("helper said %q", line)
		}
		ready <- err
	}()
	select {
	case err := <-ready:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the lock holder did not report ready within 10 s")
	}
	return cmd.Process.Pid, release
}

// deadPID returns the PID of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := helperCmd(t, "exit")
	require.NoError(t, cmd.Run())
	pid := cmd.Process.Pid
	require.ErrorIs(t, syscall.Kill(pid, 0), syscall.ESRCH, "PID %d was reused at once", pid)
	return pid
}

func requireRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
}

// dirNames lists dir's entries.
func dirNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}
