package rootfs

import (
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// The hot opens — a file to download, the folder of an upload, of a listing
// or of a removal — take one openat2(2) whose walk the kernel confines to the
// home (Linux 5.6 and later): RESOLVE_BENEATH refuses "..", an absolute path
// or a symlink that would lead out, as os.Root does, and RESOLVE_NO_MAGICLINKS
// the /proc links that could jump anywhere. os.Root walks the path an element
// at a time and wraps each descriptor for the poller, which a file or folder
// refuses: an open then took a dozen system calls, on every file a client
// downloads. Every other call, and every open where the kernel lacks
// openat2 or a filter refuses it, goes through os.Root.
const beneathResolve = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS

// beneathWorks tells whether openat2 with RESOLVE_BENEATH is there; found
// out once.
var beneathWorks = sync.OnceValue(func() bool {
	fd, err := unix.Openat2(unix.AT_FDCWD, ".", &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: beneathResolve,
	})
	if err != nil {
		return false
	}
	unix.Close(fd)
	return true
})

// openHome opens home again as a path-only descriptor for openat2, which
// os.Root does not expose, and checks that it is the directory root holds:
// had the path been swapped between the two opens, it returns nil and the
// session goes through os.Root alone.
func openHome(home string, root *os.Root) *os.File {
	if !beneathWorks() {
		return nil
	}
	fd, err := unix.Open(home, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil
	}
	var st unix.Stat_t
	fi, err := root.Stat(".")
	if err != nil || unix.Fstat(fd, &st) != nil {
		unix.Close(fd)
		return nil
	}
	if rst, ok := fi.Sys().(*syscall.Stat_t); !ok || rst.Dev != st.Dev || rst.Ino != st.Ino {
		unix.Close(fd)
		return nil
	}
	// os.NewFile gives the descriptor a reference count: an open under way
	// holds it (RawConn.Control), and FS.Close during one closes it after.
	return os.NewFile(uintptr(fd), home)
}

// errNoBeneath sends an open through os.Root.
var errNoBeneath = errors.New("openat2 is not available")

// openBeneath opens rel in the home with openat2 and flags (O_CREAT is not
// among them), or returns errNoBeneath. A path that would lead out of the
// home is ErrOutsideHome; other errors are the errno.
func (fsys *FS) openBeneath(rel string, flags int) (int, error) {
	if fsys.home == nil {
		return -1, errNoBeneath
	}
	rc, err := fsys.home.SyscallConn()
	if err != nil {
		return -1, errNoBeneath
	}
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC | unix.O_NOCTTY), Resolve: beneathResolve}
	fd := -1
	var openErr error
	ctlErr := rc.Control(func(home uintptr) {
		// EAGAIN: a rename or mount somewhere during the walk, after which
		// the kernel cannot vouch for it; EINTR: a signal. Both ask again.
		for range 4 {
			fd, openErr = unix.Openat2(int(home), rel, &how)
			if openErr != unix.EAGAIN && openErr != unix.EINTR {
				return
			}
		}
	})
	switch {
	case ctlErr != nil:
		return -1, fmt.Errorf("home directory: %w", os.ErrClosed)
	case openErr == unix.EXDEV:
		return -1, ErrOutsideHome
	case openErr == unix.EAGAIN || openErr == unix.EINTR:
		return -1, errNoBeneath
	case openErr != nil:
		return -1, openErr
	}
	return fd, nil
}

// openDir opens the folder rel to work inside it.
func (fsys *FS) openDir(rel string) (*os.File, error) {
	fd, err := fsys.openBeneath(rel, unix.O_RDONLY|unix.O_DIRECTORY)
	if errors.Is(err, errNoBeneath) {
		return fsys.root.OpenFile(rel, os.O_RDONLY|syscall.O_DIRECTORY, 0)
	}
	if err != nil {
		return nil, err
	}
	return os.NewFile(uintptr(fd), rel), nil
}
