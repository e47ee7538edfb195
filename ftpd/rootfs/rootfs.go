// Package rootfs is the per-session file system of the FTP worker, confined
// to one user's home directory by os.Root.
//
// Client paths are slash paths relative to the home: "/", "a/../b" and
// "../../etc/shadow" all name something inside it. os.Root refuses every
// path that would leave the home, including through symlinks planted by
// another user or by the web application; absolute symlinks are refused
// even when they point back into the home.
//
// New files are created with mode 0666 and directories with 0777, so the
// process umask (set by the server) decides the final permissions; the
// modes that FTP commands pass in are ignored.
//
// Temporary upload files (".NAME.ftpupload-" and 16 hex digits) are left
// out of listings, and clients can neither read nor create such names.
// Clients cannot create symlinks (no SITE SYMLINK) nor change ownership.
//
// Errors name the client's path, never the host path, and wrap the errno
// or one of the Err values below, so errors.Is with fs.ErrNotExist,
// fs.ErrPermission and fs.ErrExist gives the right answer.
package rootfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Options set what a session may do in its home.
type Options struct {
	// ReadOnly refuses every call that would change the home.
	ReadOnly bool
	// InPlaceUploads makes STOR write straight into the target file.
	// By default (false) a STOR that replaces a file writes to a hidden
	// temporary file that is renamed over the target only once the upload
	// has completed, so a web application never serves half a file.
	// The replacement is a new inode: it keeps the old permission bits but
	// is owned by the FTP user and drops any hard link. Creating it needs
	// write access to the directory as well as to the file.
	InPlaceUploads bool
}

// FS is one session's view of its home directory. It is safe for
// concurrent use.
type FS struct {
	root *os.Root
	home *os.File // the same directory for openat2 (beneath.go); nil without
	opts Options
}

// Errors specific to this package. All of them match fs.ErrPermission.
var (
	// ErrReadOnly refuses every change on a read-only account.
	ErrReadOnly error = &refusal{msg: "the account is read-only"}
	// ErrOutsideHome refuses a path that leads out of the home through a
	// symlink.
	ErrOutsideHome error = &refusal{msg: "the path leads outside the home directory"}
	// ErrReservedName refuses any use of a temporary upload name; the
	// server answers it with 553, as for any forbidden name.
	ErrReservedName error = &refusal{msg: "the name is reserved for uploads in progress"}
	// ErrNotRegular refuses FIFOs, sockets and devices, which a transfer
	// could block on.
	ErrNotRegular error = &refusal{msg: "only regular files and directories can be opened"}
)

type refusal struct{ msg string }

func (r *refusal) Error() string { return r.msg }

func (r *refusal) Is(target error) bool {
	return target == fs.ErrPermission
}

// New opens home as the root of a session's file system.
func New(home string, opts Options) (*FS, error) {
	root, err := os.OpenRoot(home)
	if err != nil {
		return nil, fmt.Errorf("open home directory %s: %w", home, err)
	}
	return &FS{root: root, home: openHome(home, root), opts: opts}, nil
}

// Close releases the home directory. Files and uploads still open stay
// usable and finish normally.
func (fsys *FS) Close() error {
	if fsys.home != nil {
		_ = fsys.home.Close()
	}
	return fsys.root.Close()
}

// clientPath turns a client path into the name to give os.Root and the
// path to show the client in errors.
func clientPath(name string) (rel, shown string) {
	shown = path.Clean("/" + name)
	if shown == "/" {
		return ".", shown
	}
	return shown[1:], shown
}

// pathError hides the host path that os errors carry behind the client's.
func pathError(op, shown string, err error) error {
	return &os.PathError{Op: op, Path: shown, Err: cause(err)}
}

func cause(err error) error {
	var errno syscall.Errno
	switch {
	case errors.As(err, &errno):
		return errno
	case errors.Is(err, fs.ErrClosed):
		return fs.ErrClosed
	default:
		// os.Root reports a path leaving the root with an error value of
		// its own, the only one it returns without an errno for the
		// names we give it.
		return ErrOutsideHome
	}
}

// resolve cleans a client path and refuses our temporary upload names.
func resolve(op, name string) (rel, shown string, err error) {
	rel, shown = clientPath(name)
	if hasUploadTemp(rel) {
		return "", "", &os.PathError{Op: op, Path: shown, Err: ErrReservedName}
	}
	return rel, shown, nil
}

// resolveWrite is resolve for calls that change the home.
func (fsys *FS) resolveWrite(op, name string) (rel, shown string, err error) {
	if fsys.opts.ReadOnly {
		_, shown = clientPath(name)
		return "", "", &os.PathError{Op: op, Path: shown, Err: ErrReadOnly}
	}
	return resolve(op, name)
}

// Stat returns the file info of name, following symlinks that stay inside
// the home.
func (fsys *FS) Stat(name string) (os.FileInfo, error) {
	rel, shown, err := resolve("stat", name)
	if err != nil {
		return nil, err
	}
	fi, err := fsys.root.Stat(rel)
	if err != nil {
		return nil, pathError("stat", shown, err)
	}
	return fi, nil
}

const writeFlags = os.O_WRONLY | os.O_RDWR | os.O_CREATE | os.O_TRUNC | os.O_APPEND

// openAt opens name in root without blocking on a FIFO and reports what it
// opened.
func openAt(root *os.Root, rel, shown string, flag int) (*os.File, os.FileInfo, error) {
	f, err := root.OpenFile(rel, flag|syscall.O_NONBLOCK, 0o666)
	if err != nil {
		return nil, nil, pathError("open", shown, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, pathError("open", shown, err)
	}
	return f, fi, nil
}

// detach returns a regular file as an *os.File (so that io.Copy to a TCP
// connection can use sendfile) named after the client path: a file opened
// through os.Root carries the host path, which would show in every read or
// write error. It closes f, which must be a regular file (transferable).
func detach(f *os.File, shown string) (*os.File, error) {
	defer f.Close()
	// Only a regular file may be renamed this way: for a directory,
	// (*os.File).Readdir would lstat its entries by name from the host root.
	fd, err := unix.FcntlInt(f.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, pathError("open", shown, err)
	}
	// O_NONBLOCK only served to open FIFOs without waiting for a writer.
	if err := unix.SetNonblock(fd, false); err != nil {
		unix.Close(fd)
		return nil, pathError("open", shown, err)
	}
	return os.NewFile(uintptr(fd), shown), nil
}

// Mkdir creates the directory name; the umask sets its permissions.
func (fsys *FS) Mkdir(name string, _ os.FileMode) error {
	rel, shown, err := fsys.resolveWrite("mkdir", name)
	if err != nil {
		return err
	}
	if err := fsys.root.Mkdir(rel, 0o777); err != nil {
		return pathError("mkdir", shown, err)
	}
	return nil
}

// Remove deletes a file or a symlink (DELE), never a directory.
func (fsys *FS) Remove(name string) error {
	return fsys.unlink("remove", name, 0)
}

// RemoveDir deletes an empty directory (RMD), never a file.
func (fsys *FS) RemoveDir(name string) error {
	return fsys.unlink("rmdir", name, unix.AT_REMOVEDIR)
}

// unlink uses unlinkat on the parent directory because os.Root.Remove
// removes whichever of a file or a directory it finds.
func (fsys *FS) unlink(op, name string, flags int) error {
	rel, shown, err := fsys.resolveWrite(op, name)
	if err != nil {
		return err
	}
	if rel == "." {
		return &os.PathError{Op: op, Path: shown, Err: fs.ErrPermission}
	}
	dir, err := fsys.openDir(path.Dir(rel))
	if err != nil {
		return pathError(op, shown, err)
	}
	defer dir.Close()
	if err := unix.Unlinkat(int(dir.Fd()), path.Base(rel), flags); err != nil {
		return pathError(op, shown, err)
	}
	return nil
}

// Rename moves oldname to newname, replacing a file but never a directory.
func (fsys *FS) Rename(oldname, newname string) error {
	oldRel, oldShown, err := fsys.resolveWrite("rename", oldname)
	if err != nil {
		return err
	}
	newRel, newShown, err := fsys.resolveWrite("rename", newname)
	if err != nil {
		return err
	}
	fail := func(err error) error {
		return &os.LinkError{Op: "rename", Old: oldShown, New: newShown, Err: err}
	}
	if oldRel == "." || newRel == "." {
		return fail(fs.ErrPermission)
	}
	// rename(2) would replace an empty directory.
	if fi, err := fsys.root.Lstat(newRel); err == nil && fi.IsDir() {
		return fail(fs.ErrExist)
	}
	if err := fsys.root.Rename(oldRel, newRel); err != nil {
		return fail(cause(err))
	}
	return nil
}

// Chmod sets the permission bits of name; setuid, setgid and sticky bits
// are refused.
func (fsys *FS) Chmod(name string, mode os.FileMode) error {
	rel, shown, err := fsys.resolveWrite("chmod", name)
	if err != nil {
		return err
	}
	if mode != mode.Perm() {
		return &os.PathError{Op: "chmod", Path: shown, Err: fs.ErrPermission}
	}
	if err := fsys.root.Chmod(rel, mode); err != nil {
		return pathError("chmod", shown, err)
	}
	return nil
}

// Chtimes sets the access and modification times of name (MFMT).
func (fsys *FS) Chtimes(name string, atime, mtime time.Time) error {
	rel, shown, err := fsys.resolveWrite("chtimes", name)
	if err != nil {
		return err
	}
	if err := fsys.root.Chtimes(rel, atime, mtime); err != nil {
		return pathError("chtimes", shown, err)
	}
	return nil
}

// AllocateSpace answers ALLO: there is nothing to reserve, but a read-only
// account is told early that it cannot upload.
func (fsys *FS) AllocateSpace(int) error {
	if fsys.opts.ReadOnly {
		return ErrReadOnly
	}
	return nil
}
