package rootfs

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"io/fs"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Entry is one directory entry as lstat(2) describes it. Name is valid only
// during the call of the function that received it.
type Entry struct {
	Name  []byte
	Size  int64
	Mtime int64 // nanoseconds since 1970
	Mode  fs.FileMode
}

// direntBuffer is how many bytes of directory records one getdents(2) reads:
// one batch of a listing. A record takes at least 24 bytes, so a batch holds
// at most 1,366 entries.
const direntBuffer = 32 << 10

// dirReader reads an open directory one getdents(2) buffer at a time, with
// one lstat per entry, as (*os.File).Readdir does. The entries and their
// names are reused by its next call, so a listing costs the same memory
// whatever the directory's size.
type dirReader struct {
	rc    syscall.RawConn
	buf   []byte
	batch []Entry
}

func newDirReader(dir *os.File) (*dirReader, error) {
	rc, err := dir.SyscallConn()
	if err != nil {
		return nil, err
	}
	return &dirReader{rc: rc, buf: make([]byte, direntBuffer)}, nil
}

// next returns the entries of the next getdents buffer that holds any, or
// io.EOF after the last.
func (r *dirReader) next() ([]Entry, error) {
	var readErr error
	ctlErr := r.rc.Read(func(fdp uintptr) bool {
		fd := int(fdp)
		for {
			n, err := unix.Getdents(fd, r.buf)
			if err != nil {
				readErr = err
				return true
			}
			if n <= 0 {
				readErr = io.EOF
				return true
			}
			r.batch = r.batch[:0]
			for rec := r.buf[:n]; len(rec) > 0; {
				name, size := direntName(rec)
				rec = rec[size:]
				if len(name) == 0 || string(name) == "." || string(name) == ".." {
					continue
				}
				var st unix.Stat_t
				if err := lstatAt(fd, name, &st); err != nil {
					if errors.Is(err, unix.ENOENT) {
						continue // removed since the directory was read
					}
					readErr = err
					return true
				}
				r.batch = append(r.batch, Entry{Name: name, Size: st.Size, Mtime: st.Mtim.Nano(), Mode: fileMode(st.Mode)})
			}
			if len(r.batch) > 0 {
				return true
			}
		}
	})
	if ctlErr != nil {
		return nil, ctlErr
	}
	if readErr != nil {
		return nil, readErr
	}
	return r.batch, nil
}

// direntName returns the name in the linux_dirent64 record at the start of
// rec (a view of rec, followed there by its NUL), and the record's length;
// an empty name for a record it cannot read.
func direntName(rec []byte) ([]byte, int) {
	const nameOff = int(unsafe.Offsetof(unix.Dirent{}.Name))
	if len(rec) < nameOff {
		return nil, len(rec)
	}
	// Read field by field: a whole unix.Dirent may reach past the buffer's end.
	size := int(binary.NativeEndian.Uint16(rec[unsafe.Offsetof(unix.Dirent{}.Reclen):]))
	if size < nameOff || size > len(rec) {
		return nil, len(rec)
	}
	name := rec[nameOff:size]
	end := bytes.IndexByte(name, 0)
	if end < 0 {
		return nil, size
	}
	return name[:end], size
}

// lstatAt is fstatat(fd, name, st, AT_SYMLINK_NOFOLLOW) for a name that a
// NUL follows in memory, which unix.Fstatat would copy to add one.
func lstatAt(fd int, name []byte, st *unix.Stat_t) error {
	_, _, errno := unix.Syscall6(unix.SYS_NEWFSTATAT, uintptr(fd), uintptr(unsafe.Pointer(&name[0])),
		uintptr(unsafe.Pointer(st)), unix.AT_SYMLINK_NOFOLLOW, 0, 0)
	if errno != 0 {
		return errno
	}
	return nil
}

// fileMode turns st_mode into an fs.FileMode, as os.Lstat does.
func fileMode(mode uint32) fs.FileMode {
	m := fs.FileMode(mode & 0o777)
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		m |= fs.ModeDir
	case unix.S_IFLNK:
		m |= fs.ModeSymlink
	case unix.S_IFIFO:
		m |= fs.ModeNamedPipe
	case unix.S_IFSOCK:
		m |= fs.ModeSocket
	case unix.S_IFBLK:
		m |= fs.ModeDevice
	case unix.S_IFCHR:
		m |= fs.ModeDevice | fs.ModeCharDevice
	}
	for _, bit := range []struct {
		unix uint32
		fs   fs.FileMode
	}{{unix.S_ISUID, fs.ModeSetuid}, {unix.S_ISGID, fs.ModeSetgid}, {unix.S_ISVTX, fs.ModeSticky}} {
		if mode&bit.unix != 0 {
			m |= bit.fs
		}
	}
	return m
}
