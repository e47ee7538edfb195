package rootfs

import (
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// The calls below are the SFTP service's: FTP has no command for them.

// Lstat returns the file info of name itself, a symlink not followed.
func (fsys *FS) Lstat(name string) (os.FileInfo, error) {
	rel, shown, err := resolve("lstat", name)
	if err != nil {
		return nil, err
	}
	fi, err := fsys.root.Lstat(rel)
	if err != nil {
		return nil, pathError("lstat", shown, err)
	}
	return fi, nil
}

// Readlink returns the target of the symlink name when it stays inside the home: a
// relative target that does not climb above the home. Any other target is refused
// with ErrOutsideHome rather than shown, so that a link planted towards another
// home or /etc tells the client nothing.
func (fsys *FS) Readlink(name string) (string, error) {
	rel, shown, err := resolve("readlink", name)
	if err != nil {
		return "", err
	}
	target, err := fsys.root.Readlink(rel)
	if err != nil {
		return "", pathError("readlink", shown, err)
	}
	if path.IsAbs(target) || !within(path.Join(path.Dir(rel), target)) {
		return "", &os.PathError{Op: "readlink", Path: shown, Err: ErrOutsideHome}
	}
	return target, nil
}

// within reports whether a cleaned path relative to the home stays in it.
func within(rel string) bool { return rel != ".." && !strings.HasPrefix(rel, "../") }

// Link makes newname a hard link to the file oldname, both inside the home.
// Directories cannot be linked; a symlink is linked as itself, not followed.
func (fsys *FS) Link(oldname, newname string) error {
	oldRel, oldShown, err := fsys.resolveWrite("link", oldname)
	if err != nil {
		return err
	}
	newRel, newShown, err := fsys.resolveWrite("link", newname)
	if err != nil {
		return err
	}
	if err := fsys.root.Link(oldRel, newRel); err != nil {
		return &os.LinkError{Op: "link", Old: oldShown, New: newShown, Err: cause(err)}
	}
	return nil
}

// StatFS describes the file system that holds the home (statvfs).
func (fsys *FS) StatFS() (unix.Statfs_t, error) {
	var st unix.Statfs_t
	dir, err := fsys.root.Open(".")
	if err != nil {
		return st, pathError("statvfs", "/", err)
	}
	defer dir.Close()
	if err := unix.Fstatfs(int(dir.Fd()), &st); err != nil {
		return st, pathError("statvfs", "/", err)
	}
	return st, nil
}
