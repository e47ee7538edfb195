package etcdb

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func ctxWithin(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func ourPIDContent() string { return strconv.Itoa(os.Getpid()) + "\x00" }

func TestLockAndUnlock(t *testing.T) {
	dir := t.TempDir()
	l, err := Lock(ctxWithin(t, 5*time.Second), dir, "passwd", "group", "shadow")
	require.NoError(t, err)
	for _, name := range []string{"passwd", "group", "shadow"} {
		got, err := os.ReadFile(filepath.Join(dir, name+".lock"))
		require.NoError(t, err)
		require.Equal(t, ourPIDContent(), string(got), "the lock holds shadow-utils' \"<pid>\\0\"")
	}
	st, err := os.Stat(filepath.Join(dir, ".pwd.lock"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	require.ElementsMatch(t, []string{".pwd.lock", "passwd.lock", "group.lock", "shadow.lock"}, dirNames(t, dir))

	require.NoError(t, l.Unlock())
	require.Equal(t, []string{".pwd.lock"}, dirNames(t, dir))
	require.NoError(t, l.Unlock(), "a second Unlock does nothing")

	l, err = Lock(ctxWithin(t, 5*time.Second), dir, "passwd")
	require.NoError(t, err, "the locks can be taken again")
	require.NoError(t, l.Unlock())
}

func TestLockBusyFcntl(t *testing.T) {
	for _, mode := range []string{"classic", "lock"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			holder, release := startHolder(t, mode, dir)

			_, err := Lock(ctxWithin(t, 200*time.Millisecond), dir, "passwd")
			require.ErrorIs(t, err, ErrBusy)
			var busy *BusyError
			require.ErrorAs(t, err, &busy)
			require.Equal(t, holder, busy.PID)
			require.Equal(t, filepath.Join(dir, ".pwd.lock"), busy.Path)
			require.Contains(t, err.Error(), "is locked by PID "+strconv.Itoa(holder)+" (")
			require.NotContains(t, dirNames(t, dir), "passwd.lock")

			// The lock is taken as soon as the holder lets go.
			result := make(chan error, 1)
			ctx := ctxWithin(t, 10*time.Second)
			go func() {
				l, err := Lock(ctx, dir, "passwd")
				if err == nil {
					err = l.Unlock()
				}
				result <- err
			}()
			release()
			require.NoError(t, <-result)
		})
	}
}

func TestLockBlocksOtherProcess(t *testing.T) {
	dir := t.TempDir()
	l, err := Lock(ctxWithin(t, 5*time.Second), dir, "passwd")
	require.NoError(t, err)
	out, err := helperCmd(t, "trylock", dir, "passwd").CombinedOutput()
	require.Error(t, err)
	require.Contains(t, string(out), filepath.Join(dir, ".pwd.lock")+" is locked by PID "+strconv.Itoa(os.Getpid()))
	require.NoError(t, l.Unlock())

	out, err = helperCmd(t, "trylock", dir, "passwd").CombinedOutput()
	require.NoError(t, err, "%s", out)
}

func TestLockClassicFallback(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, ".pwd.lock")
	holder, release := startHolder(t, "classic", dir)
	_, err := lockPwd(ctxWithin(t, 100*time.Millisecond), path, false)
	var busy *BusyError
	require.ErrorAs(t, err, &busy)
	require.Equal(t, holder, busy.PID)
	release()
	fd, err := lockPwd(ctxWithin(t, 5*time.Second), path, false)
	require.NoError(t, err)
	require.NoError(t, unix.Close(fd))
}

func TestLockFileHeldByLiveProcess(t *testing.T) {
	for _, tc := range []struct {
		name string
		pid  int
	}{
		{"init", 1},
		{"parent", os.Getppid()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			lockPath := filepath.Join(dir, "shadow.lock")
			content := strconv.Itoa(tc.pid) + "\x00"
			require.NoError(t, os.WriteFile(lockPath, []byte(content), 0o600))

			_, err := Lock(ctxWithin(t, 100*time.Millisecond), dir, "passwd", "shadow")
			var busy *BusyError
			require.ErrorAs(t, err, &busy)
			require.Equal(t, tc.pid, busy.PID)
			require.Equal(t, filepath.Join(dir, "shadow"), busy.Path)
			require.Contains(t, err.Error(), filepath.Join(dir, "shadow")+" is locked by PID "+strconv.Itoa(tc.pid))

			got, err := os.ReadFile(lockPath)
			require.NoError(t, err)
			require.Equal(t, content, string(got), "a live holder's lock is not stolen")
			require.ElementsMatch(t, []string{".pwd.lock", "shadow.lock"}, dirNames(t, dir),
				"passwd.lock, taken first, is released and no temporary file stays")

			// .pwd.lock was released too.
			l, err := Lock(ctxWithin(t, time.Second), dir, "passwd")
			require.NoError(t, err)
			require.NoError(t, l.Unlock())
		})
	}
}

func TestStaleLockStolen(t *testing.T) {
	dead := strconv.Itoa(deadPID(t))
	for _, tc := range []struct{ name, content string }{
		{"dead PID", dead + "\x00"},
		{"dead PID, libuser format", dead},
		{"our own PID from an earlier run", ourPIDContent()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			lockPath := filepath.Join(dir, "passwd.lock")
			require.NoError(t, os.WriteFile(lockPath, []byte(tc.content), 0o600))
			l, err := Lock(ctxWithin(t, 5*time.Second), dir, "passwd")
			require.NoError(t, err)
			got, err := os.ReadFile(lockPath)
			require.NoError(t, err)
			require.Equal(t, ourPIDContent(), string(got))
			require.NoError(t, l.Unlock())
			require.Equal(t, []string{".pwd.lock"}, dirNames(t, dir))
		})
	}
}

func TestBadLockFile(t *testing.T) {
	for _, tc := range []struct{ name, content, want string }{
		{"empty", "", "holds no PID"},
		{"NUL only", "\x00", "holds no PID"},
		{"newline", "123\n", `holds "123\n", not a PID`},
		{"garbage", "garbage", "not a PID"},
		{"zero", "0\x00", "not a PID"},
		{"negative", "-5\x00", "not a PID"},
		{"plus sign", "+5\x00", "not a PID"},
		{"leading space", " 5\x00", "not a PID"},
		{"huge", "99999999999999999999\x00", "not a PID"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			lockPath := filepath.Join(dir, "gshadow.lock")
			require.NoError(t, os.WriteFile(lockPath, []byte(tc.content), 0o600))
			_, err := Lock(ctxWithin(t, 5*time.Second), dir, "gshadow")
			require.Error(t, err)
			require.NotErrorIs(t, err, ErrBusy)
			require.Contains(t, err.Error(), lockPath)
			require.Contains(t, err.Error(), tc.want)
			require.Contains(t, err.Error(), "remove it")
			got, err := os.ReadFile(lockPath)
			require.NoError(t, err)
			require.Equal(t, tc.content, string(got))
			require.ElementsMatch(t, []string{".pwd.lock", "gshadow.lock"}, dirNames(t, dir))
		})
	}
}

func TestLockTwiceInProcess(t *testing.T) {
	dir := t.TempDir()
	l, err := Lock(ctxWithin(t, 5*time.Second), dir, "passwd")
	require.NoError(t, err)
	_, err = Lock(ctxWithin(t, 50*time.Millisecond), t.TempDir(), "passwd")
	require.ErrorIs(t, err, ErrBusy)
	require.Contains(t, err.Error(), "another goroutine of this process")
	require.NoError(t, l.Unlock())
}

func TestLockNames(t *testing.T) {
	for _, files := range [][]string{{""}, {"."}, {".."}, {"../passwd"}, {"a/b"}, {"passwd", "passwd"}, {"a\x00"}} {
		_, err := Lock(ctxWithin(t, time.Second), t.TempDir(), files...)
		require.Error(t, err, "%q", files)
	}
}

func TestLockMissingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "missing")
	_, err := Lock(ctxWithin(t, time.Second), dir, "passwd")
	require.ErrorIs(t, err, os.ErrNotExist)
	require.Contains(t, err.Error(), filepath.Join(dir, ".pwd.lock"))
	// The in-process slot was given back.
	l, err := Lock(ctxWithin(t, time.Second), t.TempDir(), "passwd")
	require.NoError(t, err)
	require.NoError(t, l.Unlock())
}

func TestUnlockLeavesForeignLock(t *testing.T) {
	dir := t.TempDir()
	l, err := Lock(ctxWithin(t, 5*time.Second), dir, "passwd", "shadow")
	require.NoError(t, err)
	lockPath := filepath.Join(dir, "passwd.lock")
	require.NoError(t, os.WriteFile(lockPath, []byte("1\x00"), 0o600))
	err = l.Unlock()
	require.Error(t, err)
	require.Contains(t, err.Error(), "left in place")
	require.ElementsMatch(t, []string{".pwd.lock", "passwd.lock"}, dirNames(t, dir), "shadow.lock is still released")
	require.False(t, errors.Is(err, ErrBusy))
}
