package rootfs

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"

	ftpserver "github.com/fclairamb/ftpserverlib"
)

// A temporary upload file is named ".NAME" + uploadMarker + 16 hex digits.
const (
	uploadMarker  = ".ftpupload-"
	randomHexLen  = 16
	maxNameInTemp = 200 // keeps the temporary name within NAME_MAX (255)
)

// GetHandle opens name for a transfer (RETR, STOR, APPE, REST, COMB and
// hashes). flags follow ftpserverlib: O_RDONLY to download, O_WRONLY with
// O_APPEND to append, O_CREATE|O_TRUNC to upload a whole file, O_CREATE alone
// to resume at offset (the server seeks there after this call).
//
// A download is the *os.File itself, so that sending it can use sendfile.
// An upload that replaces a whole file is atomic unless
// Options.InPlaceUploads is set; appends and resumes write in place.
func (fsys *FS) GetHandle(name string, flags int, offset int64) (ftpserver.FileTransfer, error) {
	if flags&writeFlags == 0 {
		rel, shown, err := resolve("open", name)
		if err != nil {
			return nil, err
		}
		return fsys.openRegular(rel, shown, os.O_RDONLY)
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

// openRegular opens a file to transfer in place. The handle is the
// *os.File itself.
func (fsys *FS) openRegular(rel, shown string, flags int) (ftpserver.FileTransfer, error) {
	f, fi, err := openAt(fsys.root, rel, shown, flags)
	if err != nil {
		return nil, err
	}
	if fi.IsDir() {
		f.Close()
		return nil, &os.PathError{Op: "open", Path: shown, Err: syscall.EISDIR}
	}
	detached, err := detach(f, fi, shown)
	if err != nil {
		return nil, err // not a nil *os.File in a non-nil interface
	}
	return detached, nil
}

// atomicUpload writes a STOR to a hidden file beside its target and
// publishes it by rename(2) on Close, unless the server reported a failed
// transfer first.
//
// ftpserverlib v0.32.0 calls TransferError before Close when the data
// connection fails to open, breaks, or is aborted (ABOR), and when copying
// fails (disk full). A client that closes the data connection cleanly in
// the middle of a file cannot be told from one that finished: FTP sends no
// length (ftpserverlib#635).
//
// The rename makes the new content appear at once for readers; it is not
// fsynced, so a host crash right after an upload may lose it.
type atomicUpload struct {
	*os.File          // the temporary file, named after the client path
	dir      *os.Root // the target's directory, independent of FS.Close
	tempName string
	name     string
	shown    string
	failure  error
	closed   bool
}

// TransferError records that the transfer did not complete. The server
// calls it and then Close from the same goroutine.
func (u *atomicUpload) TransferError(err error) {
	u.failure = err
}

// Close publishes the upload, or removes it after a failure, leaving any
// previous file untouched.
func (u *atomicUpload) Close() error {
	if u.closed {
		return &os.PathError{Op: "close", Path: u.shown, Err: fs.ErrClosed}
	}
	u.closed = true
	defer u.dir.Close()

	err := u.File.Close()
	if err == nil && u.failure == nil {
		if err = u.dir.Rename(u.tempName, u.name); err == nil {
			return nil
		}
		err = pathError("rename", u.shown, err)
	}
	if errRemove := u.dir.Remove(u.tempName); errRemove != nil && err == nil {
		err = pathError("remove", u.shown, errRemove)
	}
	return err
}

// startUpload creates the temporary file of an atomic upload to rel.
func (fsys *FS) startUpload(rel, shown string, flags int) (ftpserver.FileTransfer, error) {
	// The directory is held open so that the rename lands where the
	// temporary file is even if the directory is moved meanwhile.
	dir, err := fsys.root.OpenRoot(path.Dir(rel))
	if err != nil {
		return nil, pathError("open", shown, err)
	}
	upload, err := newUpload(dir, path.Base(rel), shown)
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
	return upload, nil
}

var errThroughSymlink = errors.New("the target is a symlink")

func newUpload(dir *os.Root, name, shown string) (*atomicUpload, error) {
	old, err := dir.Lstat(name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// a new file: the umask sets its permissions
	case err != nil:
		return nil, pathError("open", shown, err)
	case old.Mode()&fs.ModeSymlink != 0:
		return nil, errThroughSymlink
	case old.IsDir():
		return nil, &os.PathError{Op: "open", Path: shown, Err: syscall.EISDIR}
	case !old.Mode().IsRegular():
		return nil, &os.PathError{Op: "open", Path: shown, Err: ErrNotRegular}
	default:
		// rename(2) only needs write access to the directory; opening the
		// target for writing keeps the file's own permissions in force,
		// as an in-place upload would.
		probe, err := dir.OpenFile(name, os.O_WRONLY|syscall.O_NONBLOCK, 0)
		if err != nil {
			return nil, pathError("open", shown, err)
		}
		probe.Close()
	}

	tempName := uploadTempName(name)
	// O_NONBLOCK, which a regular file ignores, spares the four fcntl calls
	// with which os tries to put a file into non-blocking mode for its poller
	// and takes it out again when the poller refuses a regular file.
	temp, err := dir.OpenFile(tempName, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NONBLOCK, 0o666)
	if err != nil {
		return nil, pathError("open", shown, err)
	}
	if old != nil {
		// The new content keeps the permissions of the file it replaces.
		if err := temp.Chmod(old.Mode().Perm()); err != nil {
			temp.Close()
			dir.Remove(tempName)
			return nil, pathError("open", shown, err)
		}
	}
	return &atomicUpload{File: temp, dir: dir, tempName: tempName, name: name, shown: shown}, nil
}

// The temporary file is written as opened through os.Root, which puts its
// path under the root in every error; the errors name the client's path
// instead. (Files for other transfers are re-opened by detach for that, at
// five more system calls, which uploads save.)

func (u *atomicUpload) Write(p []byte) (int, error) {
	n, err := u.File.Write(p)
	return n, u.shownError(err)
}

// ReadFrom keeps *os.File's splice(2) from a TCP connection.
func (u *atomicUpload) ReadFrom(r io.Reader) (int64, error) {
	n, err := u.File.ReadFrom(r)
	return n, u.shownError(err)
}

func (u *atomicUpload) shownError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return &fs.PathError{Op: pe.Op, Path: u.shown, Err: pe.Err}
	}
	return err
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
