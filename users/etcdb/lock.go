package etcdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ErrBusy matches (errors.Is) every error saying that another process or
// goroutine still held a lock when the caller stopped waiting.
var ErrBusy = errors.New("account database busy")

// BusyError says which process held a lock when Lock gave up.
type BusyError struct {
	Path    string // the locked database (/etc/passwd) or /etc/.pwd.lock
	PID     int    // the holder, 0 when it could not be found
	Command string // the holder's name from /proc/PID/comm, "" when unknown
}

func (e *BusyError) Error() string {
	holder := "another process"
	switch {
	case e.PID > 0 && e.Command != "":
		holder = fmt.Sprintf("PID %d (%s)", e.PID, e.Command)
	case e.PID > 0:
		holder = fmt.Sprintf("PID %d", e.PID)
	}
	return fmt.Sprintf("%s is locked by %s; try again when it has finished", e.Path, holder)
}

// Is makes errors.Is(err, ErrBusy) true for a *BusyError.
func (e *BusyError) Is(target error) bool { return target == ErrBusy }

// Locks is what Lock took; Unlock releases it. It is not safe for concurrent use.
type Locks struct {
	pid      int
	pwdFD    int      // the fcntl-locked dir/.pwd.lock, -1 once closed
	held     []string // the <file>.lock paths we created, in locking order
	released bool
}

// inProcess lets one Locks exist at a time in this process. Without it a second
// Lock would either wait on its own OFD lock until its deadline or, with the
// classic-lock fallback (locks belong to the process), "succeed" and race the
// first holder.
var inProcess = make(chan struct{}, 1)

// Lock takes the locks shadow-utils, PAM, libuser and systemd use for the account
// databases in dir (normally "/etc"): an fcntl write lock on dir/.pwd.lock (what
// glibc's lckpwdf takes), then for each named file ("passwd", "shadow", ...)
// dir/<file>.lock by shadow-utils' link protocol. Pass the files in the order
// useradd locks them: passwd, group, gshadow, shadow.
//
// Busy locks are polled until ctx is done; without a deadline Lock waits until ctx
// is cancelled. Keep the deadline and the time the locks are held well under 15 s:
// useradd and passwd -l give up after 15 s. On failure nothing is held, and the
// error is a *BusyError (errors.Is ErrBusy) when a lock stayed busy.
//
// A process may hold only one Locks at a time: a concurrent Lock in the same
// process waits for the first one's Unlock, within its own ctx.
//
// A <file>.lock naming a dead process is removed as shadow-utils does; one naming
// this process's own PID is also treated as stale, because this process holds no
// lock at that point: it is left by an earlier run that had the same PID, as
// happens when a container restarts. An empty or unparsable <file>.lock is an
// error, as in shadow-utils.
func Lock(ctx context.Context, dir string, files ...string) (*Locks, error) {
	if err := checkLockNames(files); err != nil {
		return nil, err
	}
	select {
	case inProcess <- struct{}{}:
	default:
		select {
		case inProcess <- struct{}{}:
		case <-ctx.Done():
			return nil, fmt.Errorf("lock the account databases in %s: another goroutine of this process still holds them: %w", dir, ErrBusy)
		}
	}
	l := &Locks{pid: os.Getpid(), pwdFD: -1}
	fd, err := lockPwd(ctx, filepath.Join(dir, ".pwd.lock"), true)
	if err != nil {
		<-inProcess
		return nil, err
	}
	l.pwdFD = fd
	for _, name := range files {
		path := filepath.Join(dir, name)
		if err := lockFile(ctx, path, l.pid); err != nil {
			return nil, errors.Join(err, l.Unlock())
		}
		l.held = append(l.held, path+".lock")
	}
	return l, nil
}

func checkLockNames(files []string) error {
	seen := map[string]bool{}
	for _, name := range files {
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\x00") {
			return fmt.Errorf("lock account database %q: a database is named by a plain file name such as \"passwd\"", name)
		}
		if seen[name] {
			return fmt.Errorf("lock account database %q: it is listed twice", name)
		}
		seen[name] = true
	}
	return nil
}

// Unlock releases the locks in reverse order. A <file>.lock is removed only while
// it still holds our PID. Calling Unlock again does nothing.
func (l *Locks) Unlock() error {
	if l == nil || l.released {
		return nil
	}
	l.released = true
	var errs []error
	for i := len(l.held) - 1; i >= 0; i-- {
		if err := removeOwnLock(l.held[i], l.pid); err != nil {
			errs = append(errs, err)
		}
	}
	if l.pwdFD >= 0 {
		// Closing the descriptor releases the fcntl lock, OFD or classic.
		if err := unix.Close(l.pwdFD); err != nil {
			errs = append(errs, fmt.Errorf("release the lock on .pwd.lock: %w", err))
		}
		l.pwdFD = -1
	}
	<-inProcess
	return errors.Join(errs...)
}

// lockPwd takes a whole-file write lock on path, the lock glibc's lckpwdf takes.
// OFD locks are used because a classic lock is dropped by any close() of that file
// in the process; kernels before 3.15 reject them with EINVAL, and then ofd is
// false on the retry. The returned descriptor holds the lock.
func lockPwd(ctx context.Context, path string, ofd bool) (int, error) {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_CREAT|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return -1, fmt.Errorf("open the lock file %s: %w", path, err)
	}
	for attempt := 0; ; attempt++ {
		cmd := unix.F_SETLK
		if ofd {
			cmd = unix.F_OFD_SETLK
		}
		lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart}
		err := unix.FcntlFlock(uintptr(fd), cmd, &lk)
		switch {
		case err == nil:
			return fd, nil
		case ofd && errors.Is(err, unix.EINVAL):
			ofd = false
			continue
		case !errors.Is(err, unix.EAGAIN) && !errors.Is(err, unix.EACCES):
			unix.Close(fd)
			return -1, fmt.Errorf("lock %s: %w", path, err)
		}
		if !pause(ctx, attempt) {
			pid := fcntlHolder(fd, ofd)
			unix.Close(fd)
			return -1, &BusyError{Path: path, PID: pid, Command: command(pid)}
		}
	}
}

// fcntlHolder returns the PID of a process holding a lock that conflicts with ours
// on fd, or 0. The kernel reports -1 for OFD locks (taken by systemd and by this
// package), so those holders are looked up in /proc.
func fcntlHolder(fd int, ofd bool) int {
	cmd := unix.F_GETLK
	if ofd {
		cmd = unix.F_OFD_GETLK
	}
	lk := unix.Flock_t{Type: unix.F_WRLCK, Whence: io.SeekStart}
	if err := unix.FcntlFlock(uintptr(fd), cmd, &lk); err != nil || lk.Type == unix.F_UNLCK {
		return 0
	}
	if lk.Pid > 0 {
		return int(lk.Pid)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return 0
	}
	return lockOwnerFromProc(st.Dev, st.Ino)
}

// lockOwnerFromProc finds a process with an fcntl lock on the file (dev, ino) by
// reading the "lock:" lines of /proc/*/fdinfo/*, which list the locks each open
// file description holds. It runs only when Lock gives up, so its cost is
// irrelevant.
func lockOwnerFromProc(dev, ino uint64) int {
	want := fmt.Sprintf(" %02x:%02x:%d ", unix.Major(dev), unix.Minor(dev), ino)
	procs, _ := os.ReadDir("/proc")
	for _, p := range procs {
		pid, err := strconv.Atoi(p.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		fds, _ := os.ReadDir(filepath.Join("/proc", p.Name(), "fdinfo"))
		for _, fd := range fds {
			info, _ := os.ReadFile(filepath.Join("/proc", p.Name(), "fdinfo", fd.Name()))
			for _, ln := range strings.Split(string(info), "\n") {
				if strings.HasPrefix(ln, "lock:") && strings.Contains(ln, want) {
					return pid
				}
			}
		}
	}
	return 0
}

// command is the name of process pid, or "" when it cannot be read.
func command(pid int) string {
	if pid <= 0 {
		return ""
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/comm", pid))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// pause waits before retry number attempt+1, growing from 10 ms to 200 ms. It
// reports false, at once, when ctx is done.
func pause(ctx context.Context, attempt int) bool {
	d := min(10*time.Millisecond<<min(attempt, 5), 200*time.Millisecond)
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// lockFile creates path.lock with shadow-utils' protocol, polling while a live
// process holds it.
func lockFile(ctx context.Context, path string, pid int) error {
	for attempt := 0; ; attempt++ {
		holder, err := tryLockFile(path, pid)
		if err != nil {
			return err
		}
		if holder == 0 {
			return nil
		}
		if !pause(ctx, attempt) {
			if holder < 0 {
				holder = 0
			}
			return &BusyError{Path: path, PID: holder, Command: command(holder)}
		}
	}
}

// maxStaleSteals bounds how often one attempt removes a stale lock or finds one
// vanish before it counts as busy: only a tool that ignores .pwd.lock can race us.
const maxStaleSteals = 3

// tryLockFile makes one attempt, as shadow-utils' do_lock_file does: write
// "<pid>\0" to path.<pid>, hard-link it to path.lock and check that the link count
// is 2 (link() is atomic, even on NFS where its result may be lost). It returns 0
// when the lock is ours, the live holder's PID, or -1 when busy for another reason.
func tryLockFile(path string, pid int) (int, error) {
	lockPath := path + ".lock"
	tmp := fmt.Sprintf("%s.%d", path, pid)
	if err := writePIDFile(tmp, pid); err != nil {
		return 0, err
	}
	defer unix.Unlink(tmp)
	for range maxStaleSteals {
		err := unix.Link(tmp, lockPath)
		if err == nil {
			return 0, checkLinkCount(tmp, lockPath, pid)
		}
		if !errors.Is(err, unix.EEXIST) {
			return 0, fmt.Errorf("create the lock file %s: %w", lockPath, err)
		}
		holder, err := readLockPID(lockPath)
		if errors.Is(err, fs.ErrNotExist) {
			continue // released since link(); try again
		}
		if err != nil {
			return 0, err
		}
		if holder != pid && alive(holder) {
			return holder, nil
		}
		if err := unix.Unlink(lockPath); err != nil && !errors.Is(err, unix.ENOENT) {
			return 0, fmt.Errorf("remove the stale lock file %s (PID %d no longer runs): %w", lockPath, holder, err)
		}
	}
	return -1, nil
}

// writePIDFile writes shadow-utils' lock content to a fresh file. An old file of
// that name is removed first rather than truncated: it may be a hard link to a
// lock left by an earlier process with our PID, and truncating would rewrite it.
func writePIDFile(tmp string, pid int) error {
	if err := unix.Unlink(tmp); err != nil && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("remove the old temporary lock file %s: %w", tmp, err)
	}
	fd, err := unix.Open(tmp, unix.O_CREAT|unix.O_EXCL|unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o600)
	if err != nil {
		return fmt.Errorf("create the temporary lock file %s: %w", tmp, err)
	}
	content := []byte(strconv.Itoa(pid) + "\x00")
	n, err := unix.Write(fd, content)
	if err == nil && n != len(content) {
		err = io.ErrShortWrite
	}
	if err == nil {
		err = unix.Fdatasync(fd)
	}
	if cerr := unix.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		unix.Unlink(tmp)
		return fmt.Errorf("write the temporary lock file %s: %w", tmp, err)
	}
	return nil
}

func checkLinkCount(tmp, lockPath string, pid int) error {
	var st unix.Stat_t
	err := unix.Stat(tmp, &st)
	if err == nil && st.Nlink == 2 {
		return nil
	}
	cleanup := removeOwnLock(lockPath, pid)
	if err != nil {
		return errors.Join(fmt.Errorf("check the lock file %s: %w", lockPath, err), cleanup)
	}
	return errors.Join(fmt.Errorf("check the lock file %s: %s has %d links instead of 2; the filesystem does not support hard links reliably", lockPath, tmp, st.Nlink), cleanup)
}

// maxPID is the kernel's PID_MAX_LIMIT.
const maxPID = 1 << 22

// readLockPID parses a shadow-utils lock file: a decimal PID, optionally followed
// by a NUL and anything (libuser writes no NUL). Like shadow's get_pid, it rejects
// an empty file and trailing bytes such as a newline.
func readLockPID(lockPath string) (int, error) {
	fd, err := unix.Open(lockPath, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("read the lock file %s: %w", lockPath, err)
	}
	buf := make([]byte, 32)
	n, err := unix.Read(fd, buf)
	unix.Close(fd)
	if err != nil {
		return 0, fmt.Errorf("read the lock file %s: %w", lockPath, err)
	}
	text, _, _ := bytes.Cut(buf[:n], []byte{0})
	const advice = "if no useradd, usermod, groupadd, passwd or similar tool is running, remove it"
	if len(text) == 0 {
		return 0, fmt.Errorf("the lock file %s holds no PID; %s", lockPath, advice)
	}
	pid, err := strconv.Atoi(string(text))
	if err != nil || !allDigits(text) || pid <= 0 || pid > maxPID {
		return 0, fmt.Errorf("the lock file %s holds %q, not a PID; %s", lockPath, text, advice)
	}
	return pid, nil
}

func allDigits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// alive reports whether process pid exists; EPERM means it exists but belongs to
// someone else.
func alive(pid int) bool {
	err := unix.Kill(pid, 0)
	return err == nil || errors.Is(err, unix.EPERM)
}

// removeOwnLock removes lockPath if it still holds pid; a lock some other process
// took over is left alone.
func removeOwnLock(lockPath string, pid int) error {
	holder, err := readLockPID(lockPath)
	if err != nil {
		return fmt.Errorf("release %s: %w", lockPath, err)
	}
	if holder != pid {
		return fmt.Errorf("release %s: it now holds PID %d instead of ours (%d), so it was left in place", lockPath, holder, pid)
	}
	if err := unix.Unlink(lockPath); err != nil {
		return fmt.Errorf("release %s: %w", lockPath, err)
	}
	return nil
}
