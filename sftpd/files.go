package sftpd

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/pkg/sftp"

	"github.com/jelastic/jelastic-ftp/ftpd"
	"github.com/jelastic/jelastic-ftp/ftpd/rootfs"
	"github.com/jelastic/jelastic-ftp/internal/xferlog"
	"github.com/jelastic/jelastic-ftp/users/perm"
)

// handler answers one session's SFTP requests from its account's rootfs, with the
// account's permissions. Paths are the client's, "/" being the home.
type handler struct {
	s     *session
	fs    *rootfs.FS
	user  string
	perms perm.Set

	mu      sync.Mutex
	uploads map[string]*upload // open uploads by path, for a setstat before close

	open atomic.Int32 // files and folders open, of maxOpenHandles
}

// maxOpenHandles bounds the files and folders one channel holds open at once. Each
// is a descriptor of the worker, which every session shares, and a folder's also a
// batch of up to about 100 KiB; clients keep a few open (OpenSSH's sftp one or two,
// rclone and lftp one per parallel transfer).
const maxOpenHandles = 64

// holding opens a handle with open, counted against maxOpenHandles from now until
// the handle's Close calls h.closed.
func holding[T any](h *handler, open func() (T, error)) (T, error) {
	if h.open.Add(1) > maxOpenHandles {
		h.closed()
		var none T
		return none, fmt.Errorf("%w: %d files and folders are open on this channel already; close one first", sftp.ErrSSHFxFailure, maxOpenHandles)
	}
	v, err := open()
	if err != nil {
		h.closed()
	}
	return v, err
}

// closed counts a handle out.
func (h *handler) closed() { h.open.Add(-1) }

func newHandler(s *session, fsys *rootfs.FS, acct ftpd.Account) *handler {
	return &handler{s: s, fs: fsys, user: acct.Name, perms: acct.Permissions, uploads: map[string]*upload{}}
}

func (h *handler) handlers() sftp.Handlers {
	return sftp.Handlers{FileGet: h, FilePut: h, FileCmd: h, FileList: h}
}

var (
	_ sftp.FileReader           = (*handler)(nil)
	_ sftp.FileWriter           = (*handler)(nil)
	_ sftp.FileCmder            = (*handler)(nil)
	_ sftp.PosixRenameFileCmder = (*handler)(nil)
	_ sftp.StatVFSFileCmder     = (*handler)(nil)
	_ sftp.FileLister           = (*handler)(nil)
	_ sftp.LstatFileLister      = (*handler)(nil)
	_ sftp.ReadlinkFileLister   = (*handler)(nil)
	_ sftp.TransferError        = (*upload)(nil)
	_ sftp.TransferError        = (*download)(nil)
)

// need refuses a request that needs a permission the account lacks, naming it.
func (h *handler) need(p perm.Perm) error {
	if h.perms.Has(p) {
		return nil
	}
	return fmt.Errorf("%w: the account lacks the %q permission", sftp.ErrSSHFxPermissionDenied, p.String())
}

// status gives an error the SFTP status code that fits it; pkg/sftp finds the code
// of a bare errno, not of rootfs's refusals or of errors it wraps.
func status(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%w: %v", sftp.ErrSSHFxNoSuchFile, err)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w: %v", sftp.ErrSSHFxPermissionDenied, err)
	}
	return err
}

// Fileread opens a file to download.
func (h *handler) Fileread(r *sftp.Request) (io.ReaderAt, error) {
	if err := h.need(perm.Download); err != nil {
		return nil, err
	}
	return holding(h, func() (io.ReaderAt, error) { return h.openRead(r) })
}

func (h *handler) openRead(r *sftp.Request) (io.ReaderAt, error) {
	f, err := h.fs.GetHandle(r.Filepath, os.O_RDONLY, 0)
	if err != nil {
		return nil, status(err)
	}
	ra, ok := f.(io.ReaderAt)
	if !ok {
		f.Close()
		return nil, fmt.Errorf("%w: %s cannot be read at offsets", sftp.ErrSSHFxFailure, r.Filepath)
	}
	return &download{ReaderAt: ra, c: f, h: h, t: h.s.startTransfer(r.Filepath, false)}, nil
}

// download counts what a client reads and logs the transfer when it closes.
type download struct {
	io.ReaderAt
	c      io.Closer
	h      *handler
	t      *transfer
	failed atomic.Bool
}

func (d *download) ReadAt(p []byte, off int64) (int, error) {
	n, err := d.ReaderAt.ReadAt(p, off)
	d.t.bytes.Add(int64(n))
	return n, err
}

func (d *download) TransferError(error) { d.failed.Store(true) }

func (d *download) Close() error {
	defer d.h.closed()
	err := d.c.Close()
	d.t.s.endTransfer(d.t, d.failed.Load())
	return err
}

// Filewrite opens a file to upload. Opened with truncation it is an atomic upload
// (with atomic_uploads on): published under its name only when the client closes
// the handle, and discarded if the connection ends first. Without truncation (a
// resumed upload, reput) it is written in place, as FTP's REST+STOR and APPE are.
func (h *handler) Filewrite(r *sftp.Request) (io.WriterAt, error) {
	flags := r.Pflags()
	fi, err := h.fs.Stat(r.Filepath)
	exists := err == nil
	switch {
	case exists && fi.IsDir():
		return nil, &os.PathError{Op: "open", Path: r.Filepath, Err: syscall.EISDIR}
	case exists && flags.Excl:
		return nil, fmt.Errorf("%w: %s exists", sftp.ErrSSHFxFailure, r.Filepath)
	case !exists && !flags.Creat:
		return nil, status(err)
	}
	need := perm.Upload
	if exists {
		need = perm.Overwrite
	}
	if err := h.need(need); err != nil {
		return nil, err
	}
	return holding(h, func() (io.WriterAt, error) { return h.openWrite(r, flags) })
}

func (h *handler) openWrite(r *sftp.Request, flags sftp.FileOpenFlags) (io.WriterAt, error) {
	// The append flag is not passed on: pkg/sftp runs writes in several workers,
	// which O_APPEND would put in the order they happen to run, and clients that
	// append (OpenSSH's reput) give the offsets at the end of the file anyway.
	of := os.O_WRONLY | os.O_CREATE
	if flags.Trunc {
		of |= os.O_TRUNC
	}
	f, err := h.fs.GetHandle(r.Filepath, of, 0)
	if err != nil {
		return nil, status(err)
	}
	w, ok := f.(writeAtCloser)
	if !ok {
		f.Close()
		return nil, fmt.Errorf("%w: %s cannot be written", sftp.ErrSSHFxFailure, r.Filepath)
	}
	u := newUpload(h, r.Filepath, w)
	h.mu.Lock()
	h.uploads[r.Filepath] = u
	h.mu.Unlock()
	return u, nil
}

type writeAtCloser interface {
	io.WriterAt
	io.Closer
}

// upload writes a client's WRITEs where they come, from several of pkg/sftp's
// workers at once (pwrite needs no order). An atomic upload is the exception at
// both ends: rootfs creates a new file unnamed and links it on Close, which the
// kernel allows only from the thread that created it. A small one is therefore
// kept in memory and written whole by Close, which creates, writes and links the
// file in one call; a larger one creates its file from a goroutine of the upload's
// own that keeps its thread until Close, and the writes between go straight to
// the file.
type upload struct {
	h    *handler
	path string
	w    writeAtCloser
	t    *transfer

	startMu sync.Mutex  // over the fields below, until the file exists
	started atomic.Bool // the file exists: writes go straight to it
	small   []byte      // what an atomic upload holds in memory, from offset 0
	ops     chan func() // to the upload's goroutine, once it has one
	// later holds the mode and times a client set before closing, applied to the
	// published file.
	later attrChange

	failed atomic.Bool
}

// smallUpload is the most an atomic upload keeps in memory before it creates its
// file (a client's largest WRITE, so that most files of a web site take one), and
// smallUploads what all of them may keep at once.
const (
	smallUpload  = maxData
	smallUploads = 32 << 20
)

var smallBytes atomic.Int64 // held by small uploads, of smallUploads

func newUpload(h *handler, path string, w writeAtCloser) *upload {
	u := &upload{h: h, path: path, w: w, t: h.s.startTransfer(path, true)}
	if _, atomic := w.(rootfs.Aborter); !atomic {
		u.started.Store(true) // in place: an *os.File, with no thread to keep
	}
	return u
}

// do runs op in the upload's goroutine, if it has one, and waits for it.
func (u *upload) do(op func()) {
	if u.ops == nil {
		op()
		return
	}
	done := make(chan struct{})
	u.ops <- func() { op(); close(done) }
	<-done
}

func (u *upload) WriteAt(p []byte, off int64) (n int, err error) {
	if u.started.Load() {
		n, err = u.w.WriteAt(p, off)
	} else {
		n, err = u.writeBeforeStart(p, off)
	}
	u.t.bytes.Add(int64(n))
	if err != nil {
		u.failed.Store(true)
	}
	return n, status(err)
}

// writeBeforeStart keeps p in memory if the upload stays small, and otherwise
// creates the file from the upload's goroutine with what was kept, then writes p.
func (u *upload) writeBeforeStart(p []byte, off int64) (int, error) {
	u.startMu.Lock()
	defer u.startMu.Unlock()
	if u.started.Load() {
		return u.w.WriteAt(p, off)
	}
	if end := off + int64(len(p)); end <= smallUpload {
		grow := max(0, end-int64(len(u.small)))
		if grow == 0 || smallBytes.Add(grow) <= smallUploads {
			u.small = append(u.small, make([]byte, grow)...)
			return copy(u.small[off:], p), nil
		}
		smallBytes.Add(-grow) // all small uploads together hold enough
	}
	u.ops = make(chan func())
	go func() {
		for op := range u.ops {
			op()
		}
	}()
	var err error
	u.do(func() { _, err = u.w.WriteAt(u.small, 0) }) // creates the file, even empty
	u.release()
	u.started.Store(true)
	if err != nil {
		return 0, err
	}
	return u.w.WriteAt(p, off)
}

// release lets go of what the upload kept in memory.
func (u *upload) release() {
	smallBytes.Add(-int64(len(u.small)))
	u.small = nil
}

// TransferError is pkg/sftp telling that the connection ended with the handle open.
func (u *upload) TransferError(err error) { u.failed.Store(true) }

// Close publishes the upload; pkg/sftp calls it once every write has returned.
func (u *upload) Close() error {
	defer u.h.closed()
	u.h.mu.Lock()
	if u.h.uploads[u.path] == u {
		delete(u.h.uploads, u.path)
	}
	u.h.mu.Unlock()
	u.startMu.Lock()
	defer u.startMu.Unlock()
	var err error
	u.do(func() {
		a, atomic := u.w.(rootfs.Aborter)
		if !u.started.Load() && len(u.small) > 0 && !u.failed.Load() {
			// Created, written and linked below, on this goroutine's thread.
			if _, err = u.w.WriteAt(u.small, 0); err != nil {
				u.failed.Store(true)
			}
		}
		if atomic && u.failed.Load() {
			a.Abort(errors.New("the SFTP connection ended before the file was closed"))
		}
		if errClose := u.w.Close(); err == nil {
			err = errClose
		}
	})
	u.release()
	if u.ops != nil {
		close(u.ops)
	}
	failed := u.failed.Load() || err != nil
	if !failed {
		err = u.later.apply(u.h.fs, u.path)
	}
	u.t.s.endTransfer(u.t, failed)
	return status(err)
}

// setAttrs truncates the open file now (one written in place), and keeps a mode
// or times for the published file (OpenSSH's put -p sets them before closing).
func (u *upload) setAttrs(c attrChange) error {
	u.startMu.Lock()
	defer u.startMu.Unlock()
	if c.size != nil {
		t, ok := u.w.(truncater)
		if !ok {
			return fmt.Errorf("%w: %s cannot be truncated while it is uploaded", sftp.ErrSSHFxOpUnsupported, u.path)
		}
		if err := t.Truncate(*c.size); err != nil {
			return err
		}
	}
	if c.mode != nil {
		u.later.mode = c.mode
	}
	if c.times != nil {
		u.later.times = c.times
	}
	return nil
}

// Filecmd changes the home: setstat, rename, remove, mkdir, rmdir, hard links.
func (h *handler) Filecmd(r *sftp.Request) error {
	switch r.Method {
	case "Setstat":
		return h.setstat(r)
	case "Rename":
		if err := h.need(perm.Rename); err != nil {
			return err
		}
		// SFTP version 3 renames only onto a free name; posix-rename replaces.
		if _, err := h.fs.Lstat(r.Target); err == nil {
			return fmt.Errorf("%w: %s exists", sftp.ErrSSHFxFailure, r.Target)
		}
		return status(h.fs.Rename(r.Filepath, r.Target))
	case "Remove":
		if err := h.need(perm.Delete); err != nil {
			return err
		}
		return status(h.fs.Remove(r.Filepath))
	case "Mkdir":
		if err := h.need(perm.Mkdir); err != nil {
			return err
		}
		return status(h.fs.Mkdir(r.Filepath, 0))
	case "Rmdir":
		if err := h.need(perm.Rmdir); err != nil {
			return err
		}
		return status(h.fs.RemoveDir(r.Filepath))
	case "Link":
		// hardlink@openssh.com: a new name, within the home.
		if err := h.need(perm.Upload); err != nil {
			return err
		}
		return status(h.fs.Link(r.Filepath, r.Target))
	case "Symlink":
		return fmt.Errorf("%w: symbolic links cannot be made here", sftp.ErrSSHFxPermissionDenied)
	}
	return sftp.ErrSSHFxOpUnsupported
}

// PosixRename renames, replacing a file at the target (posix-rename@openssh.com).
func (h *handler) PosixRename(r *sftp.Request) error {
	if err := h.need(perm.Rename); err != nil {
		return err
	}
	return status(h.fs.Rename(r.Filepath, r.Target))
}

func (h *handler) setstat(r *sftp.Request) error {
	flags, attrs := r.AttrFlags(), r.Attributes()
	if flags.UidGid {
		return fmt.Errorf("%w: ownership cannot be changed", sftp.ErrSSHFxPermissionDenied)
	}
	var change attrChange
	if flags.Size {
		// scp writes in place and truncates at the end.
		if err := h.need(perm.Overwrite); err != nil {
			return err
		}
		size := int64(attrs.Size)
		change.size = &size
	}
	if flags.Permissions {
		if err := h.need(perm.Chmod); err != nil {
			return err
		}
		m := attrs.FileMode() &^ fs.ModeType
		change.mode = &m
	}
	if flags.Acmodtime {
		if err := h.need(perm.Mtime); err != nil {
			return err
		}
		change.times = &[2]time.Time{attrs.AccessTime(), attrs.ModTime()}
	}
	h.mu.Lock()
	u := h.uploads[r.Filepath]
	h.mu.Unlock()
	if u != nil {
		return status(u.setAttrs(change))
	}
	if change.size != nil {
		if err := truncate(h.fs, r.Filepath, *change.size); err != nil {
			return status(err)
		}
	}
	return status(change.apply(h.fs, r.Filepath))
}

// attrChange is what a setstat asks for; nil fields are left as they are.
type attrChange struct {
	size  *int64
	mode  *os.FileMode
	times *[2]time.Time
}

// apply sets the mode and times of name.
func (c attrChange) apply(fsys *rootfs.FS, name string) error {
	if c.mode != nil {
		if err := fsys.Chmod(name, *c.mode); err != nil {
			return err
		}
	}
	if c.times != nil {
		return fsys.Chtimes(name, c.times[0], c.times[1])
	}
	return nil
}

type truncater interface{ Truncate(int64) error }

// truncate sets the size of the file name, which must exist.
func truncate(fsys *rootfs.FS, name string, size int64) error {
	f, err := fsys.GetHandle(name, os.O_WRONLY, 0) // in place: no O_TRUNC
	if err != nil {
		return err
	}
	defer f.Close()
	t, ok := f.(truncater)
	if !ok {
		return fmt.Errorf("%w: %s cannot be truncated", sftp.ErrSSHFxOpUnsupported, name)
	}
	return t.Truncate(size)
}

// StatVFS describes the file system of the home (statvfs@openssh.com, df in sftp).
func (h *handler) StatVFS(*sftp.Request) (*sftp.StatVFS, error) {
	st, err := h.fs.StatFS()
	if err != nil {
		return nil, status(err)
	}
	return &sftp.StatVFS{
		Bsize: uint64(st.Bsize), Frsize: uint64(st.Frsize), Blocks: st.Blocks, Bfree: st.Bfree, Bavail: st.Bavail,
		Files: st.Files, Ffree: st.Ffree, Favail: st.Ffree, Namemax: uint64(st.Namelen),
	}, nil
}

// Filelist lists a folder (needs the list permission) or describes one name.
func (h *handler) Filelist(r *sftp.Request) (sftp.ListerAt, error) {
	switch r.Method {
	case "List":
		if err := h.need(perm.List); err != nil {
			return nil, err
		}
		return holding(h, func() (sftp.ListerAt, error) {
			l, err := h.fs.OpenList(r.Filepath)
			if err != nil {
				return nil, status(err)
			}
			return &dirLister{l: l, h: h}, nil
		})
	case "Stat":
		fi, err := h.fs.Stat(r.Filepath)
		if err != nil {
			return nil, status(err)
		}
		return listerAt{fi}, nil
	}
	return nil, sftp.ErrSSHFxOpUnsupported
}

// Lstat describes a name without following a symlink.
func (h *handler) Lstat(r *sftp.Request) (sftp.ListerAt, error) {
	fi, err := h.fs.Lstat(r.Filepath)
	if err != nil {
		return nil, status(err)
	}
	return listerAt{fi}, nil
}

// Readlink shows a symlink's target when it stays inside the home.
func (h *handler) Readlink(name string) (string, error) {
	t, err := h.fs.Readlink(name)
	return t, status(err)
}

// listerAt is a listing of one name (a stat).
type listerAt []os.FileInfo

// dirLister answers a folder's READDIRs from rootfs a batch at a time: pkg/sftp
// asks for sftp.MaxFilelist entries at a time, each time at the offset after the
// last, and closes the lister with the handle. Between READDIRs it holds the open
// folder and what is left of one rootfs batch, whatever the folder's size.
type dirLister struct {
	h     *handler
	l     *rootfs.Lister
	batch []rootfs.Entry // left of the batch read last; rootfs reuses it
	next  int64          // the offset of batch[0]
	err   error          // to give at the next call: io.EOF or why reading failed
}

func (d *dirLister) ListAt(out []os.FileInfo, off int64) (int, error) {
	if off != d.next {
		return 0, fmt.Errorf("%w: a folder is listed in order, from the start", sftp.ErrSSHFxFailure)
	}
	n := 0
	for n < len(out) && d.err == nil {
		if len(d.batch) == 0 {
			d.batch, d.err = d.l.Next()
			continue
		}
		e := d.batch[0]
		d.batch = d.batch[1:]
		out[n] = entryInfo{name: string(e.Name), size: e.Size, mtime: e.Mtime, mode: e.Mode}
		n++
	}
	d.next += int64(n)
	switch {
	case d.err == nil:
		return n, nil
	case errors.Is(d.err, io.EOF):
		return n, io.EOF
	case n > 0:
		return n, nil // the error comes with the next READDIR
	}
	return 0, status(d.err)
}

func (d *dirLister) Close() error {
	d.h.closed()
	return d.l.Close()
}

// entryInfo is a listed entry; rootfs reuses its batches, so the name is a copy.
type entryInfo struct {
	name  string
	size  int64
	mtime int64 // nanoseconds since 1970
	mode  fs.FileMode
}

func (e entryInfo) Name() string       { return e.name }
func (e entryInfo) Size() int64        { return e.size }
func (e entryInfo) Mode() fs.FileMode  { return e.mode }
func (e entryInfo) ModTime() time.Time { return time.Unix(0, e.mtime) }
func (e entryInfo) IsDir() bool        { return e.mode.IsDir() }
func (e entryInfo) Sys() any           { return nil }

func (l listerAt) ListAt(out []os.FileInfo, off int64) (int, error) {
	if off >= int64(len(l)) {
		return 0, io.EOF
	}
	n := copy(out, l[off:])
	if n < len(out) {
		return n, io.EOF
	}
	return n, nil
}

// transfer is a file open for a download or an upload.
type transfer struct {
	s      *session
	upload bool
	path   string
	start  time.Time
	bytes  atomic.Int64
}

func (t *transfer) direction() string {
	if t.upload {
		return "upload"
	}
	return "download"
}

func (s *session) startTransfer(path string, upload bool) *transfer {
	t := &transfer{s: s, upload: upload, path: path, start: time.Now()}
	s.mu.Lock()
	s.transfers[t] = struct{}{}
	s.mu.Unlock()
	return t
}

// endTransfer logs a transfer as ftpd does, with an xferlog line of service "sftp".
func (s *session) endTransfer(t *transfer, failed bool) {
	s.mu.Lock()
	delete(s.transfers, t)
	user := s.user
	s.mu.Unlock()
	elapsed := time.Since(t.start)
	st := "ok"
	if failed {
		st = "aborted"
	}
	s.report(slog.LevelInfo, "transfer", "user", user, "direction", t.direction(), "path", t.path,
		"bytes", t.bytes.Load(), "duration", elapsed.Round(time.Millisecond), "status", st)
	if w := s.conf.TransferLog; w != nil {
		line := xferlog.Entry{
			End: time.Now(), Elapsed: elapsed, Host: s.client.Addr().String(), Bytes: t.bytes.Load(),
			Path: t.path, User: user, Service: "sftp", Upload: t.upload, Failed: failed,
		}.Line()
		s.srv.xferMu.Lock()
		_, err := io.WriteString(w, line)
		s.srv.xferMu.Unlock()
		if err != nil {
			s.report(slog.LevelError, "cannot write the transfer log", "err", err)
		}
	}
}
