package privsep

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// CloseInherited closes every descriptor above stderr that this process inherited, so
// that neither it nor a process it starts holds what its caller left open: a shell
// that ran `ftpctl install` with /etc/shadow open would otherwise pass it on to
// `ftpctl serve` and from there to the unprivileged worker. Inherited descriptors are
// told apart from the process's own by close-on-exec, which Go sets on every one it
// opens; call it before handing any descriptor to a child (os/exec's ExtraFiles, which
// the child gets without the flag) and after taking systemd's sockets, which the
// activation package marks close-on-exec.
func CloseInherited() error {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("list inherited descriptors: %w", err)
	}
	for _, e := range entries {
		fd, err := strconv.Atoi(e.Name())
		if err != nil || fd < 3 {
			continue
		}
		flags, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0)
		if errors.Is(err, unix.EBADF) {
			continue // the descriptor ReadDir listed /proc/self/fd through, closed since
		}
		if err != nil {
			return fmt.Errorf("inspect descriptor %d: %w", fd, err)
		}
		if flags&unix.FD_CLOEXEC == 0 {
			if err := unix.Close(fd); err != nil {
				return fmt.Errorf("close inherited descriptor %d: %w", fd, err)
			}
		}
	}
	return nil
}
