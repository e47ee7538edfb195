package etcdb

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// rename replaces files; tests swap it to simulate a bind-mounted target.
var rename = unix.Rename

const selinuxXattr = "security.selinux"

// tempMarker is in the name of every temporary file WriteFile creates
// (.<file>.jftpNNN and .<file>-.jftpNNN): a leading dot and no "+", "-" or ".<pid>"
// suffix, so no other tool mistakes it for a database, backup or lock.
const tempMarker = ".jftp"

// WriteFile replaces the existing regular file path with data the way
// shadow-utils does, for use while Lock is held. It does nothing if the file
// already holds data.
//
//   - path must exist and be a regular file; a symlink is refused (as useradd
//     does). A missing file is an error (errors.Is fs.ErrNotExist) rather than
//     created: tools that find no gshadow simply do not use one, so creating it is
//     a decision for the caller.
//   - The old content is first saved as path + "-" (the backup shadow-utils
//     keeps), with the same owner, mode, SELinux label and modification time,
//     through a temporary file and rename so the backup is never torn.
//   - The new content goes to a temporary file in the same directory that is
//     created with mode 0600 and given the original's exact owner, mode and
//     SELinux label before any data is written; it is synced and renamed over path,
//     then the directory is synced. On error it is removed and path is untouched.
//   - If the rename fails with EBUSY or EXDEV, path is a bind mount (Podman,
//     Kubernetes subPath) and is rewritten in place instead. Readers may then see a
//     mix of old and new bytes while it is written, but its length never drops
//     below the new content's before that content is in place: shorter content is
//     first written padded with '\n' (blank lines, which every reader skips) to the
//     old length, synced, and only then truncated and synced again. A process
//     killed at any point after that first write therefore leaves the new entries;
//     only a power failure before its sync can leave a torn file, which path + "-"
//     allows to repair.
//
// Leftover temporary files of an earlier, interrupted call are removed.
func WriteFile(path string, data []byte) error {
	old, err := readOriginal(path)
	if err != nil {
		return err
	}
	if bytes.Equal(old.content, data) {
		return nil
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	removeStaleTemps(dir, base)

	backup, err := writeTemp(dir, "."+base+"-"+tempMarker, old.content, old, true)
	if err != nil {
		return fmt.Errorf("back up %s: %w", path, err)
	}
	if err := rename(backup, path+"-"); err != nil {
		os.Remove(backup)
		return fmt.Errorf("back up %s to %s-: %w", path, path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("back up %s: %w", path, err)
	}

	tmp, err := writeTemp(dir, "."+base+tempMarker, data, old, false)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	err = rename(tmp, path)
	switch {
	case errors.Is(err, unix.EBUSY) || errors.Is(err, unix.EXDEV):
		os.Remove(tmp)
		if err := rewriteInPlace(path, old, data); err != nil {
			return fmt.Errorf("rewrite %s in place (it is a mount point), which may be left incomplete; %s- holds its old content: %w", path, path, err)
		}
	case err != nil:
		os.Remove(tmp)
		return fmt.Errorf("replace %s, which is unchanged: %w", path, err)
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("replace %s: %w", path, err)
	}
	return nil
}

// original is what WriteFile keeps of the file it replaces.
type original struct {
	st      unix.Stat_t
	content []byte
	label   []byte // the security.selinux xattr, nil when absent
}

func readOriginal(path string) (*original, error) {
	// O_NONBLOCK keeps a FIFO planted under the name from blocking the open.
	fd, err := unix.Open(path, unix.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ELOOP) {
		return nil, fmt.Errorf("refusing to write %s: it is a symbolic link; replace it with a regular file", path)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	f := os.NewFile(uintptr(fd), path)
	defer f.Close()
	old := &original{}
	if err := unix.Fstat(fd, &old.st); err != nil {
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	if old.st.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("refusing to write %s: it is not a regular file", path)
	}
	if old.content, err = io.ReadAll(f); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if old.label, err = readLabel(fd); err != nil {
		return nil, fmt.Errorf("read the SELinux label of %s: %w", path, err)
	}
	return old, nil
}

func readLabel(fd int) ([]byte, error) {
	for range 3 { // the label can grow between the two calls; ERANGE then retries
		n, err := unix.Fgetxattr(fd, selinuxXattr, nil)
		if errors.Is(err, unix.ENODATA) || errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		if err != nil {
			return nil, err
		}
		buf := make([]byte, n)
		n, err = unix.Fgetxattr(fd, selinuxXattr, buf)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return buf[:n], nil
	}
	return nil, unix.ERANGE
}

// writeTemp creates dir/<prefix>NNN holding data, with old's owner, mode and
// label (and times when keepTimes), synced and closed. Nothing is left on error.
func writeTemp(dir, prefix string, data []byte, old *original, keepTimes bool) (name string, err error) {
	f, err := os.CreateTemp(dir, prefix+"*") // O_EXCL, mode 0600
	if err != nil {
		return "", err
	}
	name = f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(name)
		}
	}()
	fd := int(f.Fd())
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return "", fmt.Errorf("stat %s: %w", name, err)
	}
	// Ownership before mode: chown clears set-ID bits. Skipping a no-op chown
	// lets an unprivileged owner (tests) use this too.
	if st.Uid != old.st.Uid || st.Gid != old.st.Gid {
		if err := unix.Fchown(fd, int(old.st.Uid), int(old.st.Gid)); err != nil {
			return "", fmt.Errorf("set the owner of %s: %w", name, err)
		}
	}
	if err := unix.Fchmod(fd, old.st.Mode&0o7777); err != nil {
		return "", fmt.Errorf("set the mode of %s: %w", name, err)
	}
	if old.label != nil {
		err := unix.Fsetxattr(fd, selinuxXattr, old.label, 0)
		if err != nil && !errors.Is(err, unix.ENOTSUP) {
			return "", fmt.Errorf("set the SELinux label of %s: %w", name, err)
		}
	}
	if _, err := f.Write(data); err != nil {
		return "", err
	}
	if keepTimes {
		times := []unix.Timespec{old.st.Atim, old.st.Mtim}
		if err := unix.UtimesNanoAt(unix.AT_FDCWD, name, times, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return "", fmt.Errorf("set the times of %s: %w", name, err)
		}
	}
	if err := f.Sync(); err != nil {
		return "", err
	}
	if err := f.Close(); err != nil {
		return "", err
	}
	return name, nil
}

// rewriteInPlace overwrites path, which cannot be replaced by rename, with data;
// see WriteFile for the guarantees.
func rewriteInPlace(path string, old *original, data []byte) error {
	fd, err := unix.Open(path, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open for rewriting in place: %w", err)
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("stat: %w", err)
	}
	if st.Dev != old.st.Dev || st.Ino != old.st.Ino {
		return errors.New("the file was replaced while being written; is something editing it without the lock?")
	}
	padded := data
	if int64(len(data)) < st.Size {
		padded = append(bytes.Clone(data), bytes.Repeat([]byte{'\n'}, int(st.Size)-len(data))...)
	}
	for off := 0; off < len(padded); {
		n, err := unix.Pwrite(fd, padded[off:], int64(off))
		if err != nil {
			return fmt.Errorf("rewrite in place: %w", err)
		}
		off += n
	}
	if err := unix.Fsync(fd); err != nil {
		return fmt.Errorf("sync after rewriting in place: %w", err)
	}
	if err := unix.Ftruncate(fd, int64(len(data))); err != nil {
		return fmt.Errorf("truncate after rewriting in place: %w", err)
	}
	if err := unix.Fsync(fd); err != nil {
		return fmt.Errorf("sync after truncating: %w", err)
	}
	return nil
}

// removeStaleTemps deletes temporary files an interrupted WriteFile left beside
// base. Under the lock no other WriteFile can be using them. Failures are ignored:
// a leftover has the original's owner and mode, and the next call retries.
func removeStaleTemps(dir, base string) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range entries {
		for _, prefix := range []string{"." + base + tempMarker, "." + base + "-" + tempMarker} {
			rest, ok := strings.CutPrefix(e.Name(), prefix)
			if ok && rest != "" && allDigits([]byte(rest)) {
				os.Remove(filepath.Join(dir, e.Name()))
			}
		}
	}
}

// syncDir makes the renames in dir durable; shadow-utils and PAM skip this.
func syncDir(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open directory %s to sync it: %w", dir, err)
	}
	defer unix.Close(fd)
	if err := unix.Fsync(fd); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
