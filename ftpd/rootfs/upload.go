package rootfs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

// A temporary upload file is named ".NAME" + uploadMarker + 16 hex digits.
const (
	uploadMarker  = ".ftpupload-"
	randomHexLen  = 16
	maxNameInTemp = 200 // keeps the temporary name within NAME_MAX (255)
)

// Handle is a file opened for a transfer. An upload's handle may also be an
// Aborter.
type Handle interface {
	io.ReadWriteSeeker
	io.Closer
}

// Aborter is a handle that can be told, before Close, that its transfer did
// not complete, so that Close discards what was written.
type Aborter interface {
	Abort(reason error)
}

// GetHandle opens name for a transfer (RETR, STOR, APPE, REST and hashes).
// flags: O_RDONLY to download, O_WRONLY with O_APPEND to append,
// O_CREATE|O_TRUNC to upload a whole file, O_CREATE alone to resume at offset
// (the server seeks there after this call).
//
// A download is the *os.File itself, so that sending it can use sendfile.
// An upload that replaces a whole file is atomic unless
// Options.InPlaceUploads is set; appends and resumes write in place.
func (fsys *FS) GetHandle(name string, flags int, offset int64) (Handle, error) {
	if flags&writeFlags == 0 {
		f, _, err := fsys.OpenDownload(name)
		if err != nil {
			return nil, err // not a nil *os.File in a non-nil interface
		}
		return f, nil
	}
	rel, shown, err := fsys.resolveWrite("open", name)
	if err != nil {
		return nil, err
	}
	if flags&os.O_TRUNC != 0 && offset == 0 && !fsys.opts.InPlaceUploads {
		return fsys.startUpload(rel, shown, flags)
	}
	return fsys.openRegular(rel, shown, flags)
}

// OpenDownload opens name to send it (RETR), as GetHandle does, and reports
// its size then: the sender stops there rather than reading until a read
// finds the end, a system call more per file.
func (fsys *FS) OpenDownload(name string) (*os.File, int64, error) {
	rel, shown, err := resolve("open", name)
	if err != nil {
		return nil, 0, err
	}
	return fsys.openFile(rel, shown, os.O_RDONLY)
}

// openRegular opens a file to transfer in place. The handle is the
// *os.File itself.
func (fsys *FS) openRegular(rel, shown string, flags int) (Handle, error) {
	f, _, err := fsys.openFile(rel, shown, flags)
	if err != nil {
		return nil, err // not a nil *os.File in a non-nil interface
	}
	return f, nil
}

// openFile opens a regular file and reports its size.
func (fsys *FS) openFile(rel, shown string, flags int) (*os.File, int64, error) {
	if flags == os.O_RDONLY {
		if f, size, err := fsys.openDownload(rel, shown); !errors.Is(err, errNoBeneath) {
			return f, size, err
		}
	}
	f, fi, err := openAt(fsys.root, rel, shown, flags)
	if err != nil {
		return nil, 0, err
	}
	if err := transferable(fi.Mode(), shown); err != nil {
		f.Close()
		return nil, 0, err
	}
	detached, err := detach(f, shown)
	if err != nil {
		return nil, 0, err
	}
	return detached, fi.Size(), nil
}

// openDownload opens a regular file to read with openat2 (beneath.go): four
// system calls where os.Root and detach take a dozen.
func (fsys *FS) openDownload(rel, shown string) (*os.File, int64, error) {
	// O_NONBLOCK: a FIFO in the way fails instead of waiting for a writer.
	fd, err := fsys.openBeneath(rel, unix.O_RDONLY|unix.O_NONBLOCK)
	if errors.Is(err, errNoBeneath) {
		return nil, 0, err
	}
	if err != nil {
		return nil, 0, pathError("open", shown, err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return nil, 0, pathError("open", shown, err)
	}
	if err := transferable(fileMode(st.Mode), shown); err != nil {
		unix.Close(fd)
		return nil, 0, err
	}
	// Blocking again, so that os.NewFile leaves the poller out of it, as a
	// regular file needs.
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_SETFL, 0); err != nil {
		unix.Close(fd)
		return nil, 0, pathError("open", shown, err)
	}
	return os.NewFile(uintptr(fd), shown), st.Size, nil
}

// transferable refuses what a transfer cannot move: a directory (EISDIR), and
// FIFOs, sockets and devices, which it could block on (ErrNotRegular).
func transferable(mode fs.FileMode, shown string) error {
	switch {
	case mode.IsRegular():
		return nil
	case mode.IsDir():
		return &os.PathError{Op: "open", Path: shown, Err: syscall.EISDIR}
	}
	return &os.PathError{Op: "open", Path: shown, Err: ErrNotRegular}
}

// atomicUpload writes a STOR beside its target and publishes it on Close,
// unless the server reported a failed transfer first: nobody ever sees a
// half-written file under the target's name, and an aborted upload leaves
// the old file as it was.
//
// The file is created when the first byte is to be written, not when the
// upload is opened: the server opens the handle before it answers 150, so
// the client's wait for that answer does not include the file system's
// work. What can be checked cheaply (the target, and write access to its
// directory) is checked when it is opened, so that almost every refusal
// still comes before 150.
//
// A new file is written unnamed (O_TMPFILE) and linked under its name when
// complete, where the kernel lets an unprivileged process do that
// (flinkWorks): no temporary name shows in the directory, and an upload cut
// by a crash leaves nothing behind. A file that replaces another, or on a
// kernel or file system without it, is written under a hidden temporary name
// and renamed over the target; SweepUploads removes those a killed worker
// leaves.
//
// The server calls Abort before Close when the data connection fails to
// open, breaks, or is aborted (ABOR), when copying fails (disk full), and
// when the client's control connection is gone by the time the data
// connection ends. A client that closes the data connection cleanly in the
// middle of a file and keeps its control connection cannot be told from one
// that finished: plain FTP sends no length.
//
// The new content is not fsynced, so a host crash right after an upload
// may lose it. ext4 writes a file renamed over another before the rename
// itself (auto_da_alloc), so a replaced file is never left empty.
type atomicUpload struct {
	dir      *os.File    // the target's directory, independent of FS.Close
	name     string      // the target's name in dir: one path element
	shown    string      // the client's path, in errors
	replaces bool        // the target is a file already
	mode     fs.FileMode // its permissions, which the new content keeps

	file      *os.File // the new content, once created
	tempName  string   // its name in dir; "" while it is unnamed
	createErr error    // why it could not be created
	locked    bool     // to the thread that opened the unnamed file
	failure   error
	closed    bool
}

// startUpload opens an atomic upload to rel, or an in-place one where rel is
// a symlink.
func (fsys *FS) startUpload(rel, shown string, flags int) (Handle, error) {
	name := path.Base(rel)
	if name == "." || name == ".." || name == "/" {
		return nil, &os.PathError{Op: "open", Path: shown, Err: syscall.EISDIR}
	}
	// The directory is held open so that the file lands where the upload
	// started even if the directory is moved meanwhile; every later call
	// names one element inside it.
	// O_DIRECTORY: a FIFO in the way fails instead of waiting for a writer.
	dir, err := fsys.openDir(path.Dir(rel))
	if err != nil {
		return nil, pathError("open", shown, err)
	}
	u := &atomicUpload{dir: dir, name: name, shown: shown}
	err = u.check()
	if errors.Is(err, errThroughSymlink) {
		dir.Close()
		// Renaming over a symlink would turn it into a plain file behind
		// the back of whoever made it; write through it instead.
		return fsys.openRegular(rel, shown, flags)
	}
	if err != nil {
		dir.Close()
		return nil, err
	}
	return u, nil
}

var errThroughSymlink = errors.New("the target is a symlink")

// check looks at the target and at the directory before the upload starts.
func (u *atomicUpload) check() error {
	dirfd := int(u.dir.Fd())
	var st unix.Stat_t
	err := unix.Fstatat(dirfd, u.name, &st, unix.AT_SYMLINK_NOFOLLOW)
	switch {
	case errors.Is(err, unix.ENOENT):
		// a new file: the umask sets its permissions
	case err != nil:
		return pathError("open", u.shown, err)
	case st.Mode&unix.S_IFMT == unix.S_IFLNK:
		return errThroughSymlink
	case st.Mode&unix.S_IFMT == unix.S_IFDIR:
		return &os.PathError{Op: "open", Path: u.shown, Err: syscall.EISDIR}
	case st.Mode&unix.S_IFMT != unix.S_IFREG:
		return &os.PathError{Op: "open", Path: u.shown, Err: ErrNotRegular}
	default:
		// rename(2) only needs write access to the directory; opening the
		// target for writing keeps the file's own permissions in force,
		// as an in-place upload would.
		fd, err := unix.Openat(dirfd, u.name, unix.O_WRONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
		if err != nil {
			return pathError("open", u.shown, err)
		}
		unix.Close(fd)
		u.replaces, u.mode = true, fs.FileMode(st.Mode).Perm()
	}
	// Creating the file needs write and search access to the directory.
	if err := unix.Faccessat(dirfd, ".", unix.W_OK|unix.X_OK, 0); err != nil {
		return pathError("open", u.shown, err)
	}
	return nil
}

// Linking an unnamed file by its descriptor (linkat with AT_EMPTY_PATH)
// needed CAP_DAC_READ_SEARCH before Linux relaxed it for the credentials
// that opened the file; the first new-file upload finds out and every later
// one follows.
const (
	flinkUnknown int32 = iota
	flinkWorks
	flinkMissing
)

var flink atomic.Int32

// maxUnnamed bounds the uploads written unnamed at once: each keeps its OS
// thread until it ends, and a Go program stops at 10,000 threads. Beyond it,
// uploads take a temporary name.
var maxUnnamed int32 = 512

var unnamed atomic.Int32

// create makes the file the upload writes to, once.
func (u *atomicUpload) create() error {
	if u.file == nil && u.createErr == nil {
		u.createErr = u.open()
	}
	return u.createErr
}

func (u *atomicUpload) open() error {
	dirfd := int(u.dir.Fd())
	if !u.replaces && flink.Load() != flinkMissing {
		if unnamed.Add(1) <= maxUnnamed {
			// The kernel compares the credentials of the thread that links
			// with those that opened, and after Go's setuid, which each thread
			// makes for itself, no two threads share them: the goroutine
			// keeps its thread until Close has linked the file.
			runtime.LockOSThread()
			if fd, temp, ok := openUnnamed(dirfd, u.name); ok {
				u.file, u.tempName, u.locked = os.NewFile(uintptr(fd), u.shown), temp, true
				return nil
			}
			runtime.UnlockOSThread()
		}
		unnamed.Add(-1)
	}
	temp := uploadTempName(u.name)
	fd, err := unix.Openat(dirfd, temp, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0o666)
	if err != nil {
		return pathError("open", u.shown, err)
	}
	if u.replaces {
		// The new content keeps the permissions of the file it replaces.
		if err := unix.Fchmod(fd, uint32(u.mode)); err != nil {
			unix.Close(fd)
			_ = unix.Unlinkat(dirfd, temp, 0)
			return pathError("open", u.shown, err)
		}
	}
	u.file, u.tempName = os.NewFile(uintptr(fd), u.shown), temp
	return nil
}

// openUnnamed opens an unnamed file in dirfd that can be linked by its
// descriptor. The first call links it under a temporary name to find out
// whether the kernel allows that, and returns the name: a file once linked
// cannot be linked again after its last name is removed. ok false: use a
// named file (the file system has no O_TMPFILE, the kernel does not link
// by descriptor, or creating fails, in which case the named file says why).
func openUnnamed(dirfd int, name string) (fd int, tempName string, ok bool) {
	fd, err := unix.Openat(dirfd, ".", unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o666)
	if err != nil {
		return -1, "", false
	}
	if flink.Load() != flinkUnknown {
		return fd, "", true
	}
	probe := uploadTempName(name)
	if err := unix.Linkat(fd, "", dirfd, probe, unix.AT_EMPTY_PATH); err != nil {
		unix.Close(fd)
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EPERM) {
			flink.Store(flinkMissing) // what a kernel that does not allow it says
		}
		return -1, "", false
	}
	flink.Store(flinkWorks)
	return fd, probe, true
}

// Abort records that the transfer did not complete. The server calls it and
// then Close from the same goroutine.
func (u *atomicUpload) Abort(reason error) {
	u.failure = reason
}

// Close publishes the upload, or removes it after a failure, leaving any
// previous file untouched.
func (u *atomicUpload) Close() error {
	if u.closed {
		return &os.PathError{Op: "close", Path: u.shown, Err: fs.ErrClosed}
	}
	u.closed = true
	defer u.dir.Close()
	defer func() {
		if u.locked {
			runtime.UnlockOSThread()
			unnamed.Add(-1)
		}
	}()
	if u.failure != nil && u.file == nil {
		return nil
	}
	err := u.create() // a transfer of no bytes makes an empty file
	if err == nil && u.failure == nil {
		err = u.publish()
	}
	if u.file != nil {
		if errClose := u.file.Close(); errClose != nil && err == nil {
			err = errClose
		}
	}
	if u.tempName != "" {
		if errRemove := unix.Unlinkat(int(u.dir.Fd()), u.tempName, 0); errRemove != nil && err == nil {
			err = pathError("remove", u.shown, errRemove)
		}
	}
	return err
}

// publish puts the content under the target's name. It leaves tempName
// set only to a name that Close must remove.
func (u *atomicUpload) publish() error {
	dirfd := int(u.dir.Fd())
	if u.tempName != "" {
		// Closed first: an error on close (a failed write-back, on NFS)
		// keeps the upload from being published.
		err := u.file.Close()
		u.file = nil
		if err != nil {
			return err
		}
	} else {
		err := unix.Linkat(int(u.file.Fd()), "", dirfd, u.name, unix.AT_EMPTY_PATH)
		switch {
		case err == nil:
			return nil
		case !errors.Is(err, unix.EEXIST):
			return pathError("link", u.shown, err)
		}
		// The name was taken during the upload: the upload replaces it,
		// as it would have, had it been there at the start.
		temp := uploadTempName(u.name)
		if err := unix.Linkat(int(u.file.Fd()), "", dirfd, temp, unix.AT_EMPTY_PATH); err != nil {
			return pathError("link", u.shown, err)
		}
		u.tempName = temp
	}
	if err := unix.Renameat(dirfd, u.tempName, dirfd, u.name); err != nil {
		return pathError("rename", u.shown, err)
	}
	u.tempName = ""
	return nil
}

// The file is named after the client's path (os.NewFile), which every
// error of a write names.

func (u *atomicUpload) Write(p []byte) (int, error) {
	if err := u.create(); err != nil {
		return 0, err
	}
	return u.file.Write(p)
}

// WriteAt writes at an offset with pwrite(2), which SFTP's concurrent
// writes need. Once the file exists it may be called from any goroutine, at
// once; the call that creates it must come from the goroutine that will call
// Close, as Write's must.
func (u *atomicUpload) WriteAt(p []byte, off int64) (int, error) {
	if err := u.create(); err != nil {
		return 0, err
	}
	return u.file.WriteAt(p, off)
}

// ReadFrom keeps *os.File's splice(2) from a TCP connection.
func (u *atomicUpload) ReadFrom(r io.Reader) (int64, error) {
	if err := u.create(); err != nil {
		return 0, err
	}
	return u.file.ReadFrom(r)
}

func (u *atomicUpload) Seek(offset int64, whence int) (int64, error) {
	if err := u.create(); err != nil {
		return 0, err
	}
	return u.file.Seek(offset, whence)
}

func (u *atomicUpload) Read([]byte) (int, error) {
	return 0, &os.PathError{Op: "read", Path: u.shown, Err: syscall.EBADF}
}

func uploadTempName(name string) string {
	var random [randomHexLen / 2]byte
	rand.Read(random[:])
	if len(name) > maxNameInTemp {
		name = name[:maxNameInTemp]
	}
	return "." + name + uploadMarker + hex.EncodeToString(random[:])
}

func isUploadTemp(name string) bool {
	i := strings.LastIndex(name, uploadMarker)
	if i < 2 || name[0] != '.' || len(name)-i-len(uploadMarker) != randomHexLen {
		return false
	}
	for _, c := range name[i+len(uploadMarker):] {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// hasUploadTemp reports whether any element of the cleaned path rel is a
// temporary upload name.
func hasUploadTemp(rel string) bool {
	if !strings.Contains(rel, uploadMarker) {
		return false
	}
	for elem := range strings.SplitSeq(rel, "/") {
		if isUploadTemp(elem) {
			return true
		}
	}
	return false
}
