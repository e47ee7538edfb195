package worker

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// dropPrivileges confines the worker for good: chroot into the FTP root, then the FTP
// UID and group with no supplementary groups, which also empties every capability set,
// then no_new_privs so no setuid binary or file capability can give anything back.
// Go applies setuid and friends to every thread of the process.
func dropPrivileges(root string, uid, gid int) error {
	// The local time zone is read from /etc/localtime on first use, which the chroot
	// hides; load it while it is visible so log times stay local.
	_ = time.Local.String()
	if err := unix.Chroot(root); err != nil {
		return fmt.Errorf("chroot %s: %w", root, err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir / in the chroot: %w", err)
	}
	if err := syscall.Setgroups(nil); err != nil {
		return fmt.Errorf("drop supplementary groups: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("setgid %d: %w", gid, err)
	}
	if err := syscall.Setuid(uid); err != nil {
		return fmt.Errorf("setuid %d: %w", uid, err)
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return fmt.Errorf("set no_new_privs: %w", err)
	}
	return verifyDropped(uid, gid)
}

// verifyDropped fails closed if any step above silently did less than asked.
func verifyDropped(uid, gid int) error {
	if unix.Getuid() != uid || unix.Geteuid() != uid || unix.Getgid() != gid || unix.Getegid() != gid {
		return fmt.Errorf("privileges not dropped: uid %d/%d gid %d/%d", unix.Getuid(), unix.Geteuid(), unix.Getgid(), unix.Getegid())
	}
	if err := syscall.Setuid(0); err == nil {
		return fmt.Errorf("privileges not dropped: setuid(0) succeeded")
	}
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return fmt.Errorf("read capabilities: %w", err)
	}
	for _, d := range data {
		if d.Effective != 0 || d.Permitted != 0 || d.Inheritable != 0 {
			return fmt.Errorf("capabilities remain after dropping privileges: %+v", data)
		}
	}
	return nil
}

// dieWithMonitor has the kernel kill this process when the monitor dies, so that no
// worker serves on without the process that decides its logins. The monitor asks for
// that when it starts the worker, but a change of credentials (setuid) clears the
// request; it is made again here, on a thread kept for it, because the kernel keeps
// it per thread and Go ends a thread whose locked goroutine returns.
func dieWithMonitor(monitorPID int) error {
	armed := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread lives as long as the process
		armed <- unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(syscall.SIGKILL), 0, 0, 0)
		select {}
	}()
	if err := <-armed; err != nil {
		return fmt.Errorf("set the parent-death signal: %w", err)
	}
	// A monitor that died before the signal was armed has left this process to another
	// parent, and no signal will come.
	if ppid := os.Getppid(); ppid != monitorPID {
		return fmt.Errorf("the monitor (PID %d) is gone; stopping", monitorPID)
	}
	return nil
}
