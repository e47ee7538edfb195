package rootfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

const (
	storFlags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	appeFlags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	restFlags = os.O_WRONLY | os.O_CREATE
)

// fixture is a home directory beside things it must never reach: a secret
// file standing in for /etc/shadow and a sibling user's home, with symlinks
// planted in the home that lead to both.
type fixture struct {
	fsys    *FS
	base    string
	home    string
	secret  string
	sibling string
}

// useOpenat2 makes the fixture's opens go through openat2 (beneath.go), or
// through os.Root alone as on a kernel without it.
func (f *fixture) useOpenat2(t *testing.T, on bool) {
	t.Helper()
	switch {
	case on && f.fsys.home == nil:
		require.False(t, beneathWorks(), "openat2 works here, yet the FS did not take it")
		t.Skip("this kernel has no openat2 with RESOLVE_BENEATH")
	case !on && f.fsys.home != nil:
		require.NoError(t, f.fsys.home.Close())
		f.fsys.home = nil
	}
}

func newFixture(t *testing.T, opts Options) *fixture {
	t.Helper()
	base := t.TempDir()
	f := &fixture{
		base:    base,
		home:    filepath.Join(base, "home"),
		secret:  filepath.Join(base, "secret"),
		sibling: filepath.Join(base, "sibling"),
	}
	require.NoError(t, os.MkdirAll(filepath.Join(f.home, "dir"), 0o755))
	require.NoError(t, os.Mkdir(f.sibling, 0o755))
	writeFile(t, f.secret, "top secret", 0o600)
	writeFile(t, filepath.Join(f.sibling, "neighbour.txt"), "neighbour", 0o644)
	writeFile(t, filepath.Join(f.home, "file.txt"), "hello", 0o644)
	writeFile(t, filepath.Join(f.home, "dir", "inner.txt"), "inner", 0o644)
	links := map[string]string{
		"shadow":   f.secret,
		"sib":      "../sibling",
		"sibfile":  "../sibling/neighbour.txt",
		"outdir":   base,
		"inlink":   "file.txt",
		"indir":    "dir",
		"dangling": "nowhere",
	}
	for name, target := range links {
		require.NoError(t, os.Symlink(target, filepath.Join(f.home, name)))
	}
	fsys, err := New(f.home, opts)
	require.NoError(t, err)
	t.Cleanup(func() { fsys.Close() })
	f.fsys = fsys
	return f
}

func writeFile(t *testing.T, name, content string, mode os.FileMode) {
	t.Helper()
	require.NoError(t, os.WriteFile(name, []byte(content), mode))
	require.NoError(t, os.Chmod(name, mode))
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	data, err := os.ReadFile(name)
	require.NoError(t, err)
	return string(data)
}

// snapshot records every entry below dir (symlinks not followed), with its
// mode, size, mtime and, for files, content.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries := map[string]string{}
	err := filepath.WalkDir(dir, func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		desc := fi.Mode().String() + " " + fi.ModTime().String()
		if fi.Mode().IsRegular() {
			desc += " " + readFile(t, name)
		}
		entries[name] = desc
		return nil
	})
	require.NoError(t, err)
	return entries
}

// upload does what the server does for one transfer: GetHandle, seek to a
// REST offset, copy, report a failed copy with Abort, Close.
func upload(t *testing.T, fsys *FS, name string, flags int, offset int64, data string, failure error) {
	t.Helper()
	h, err := fsys.GetHandle(name, flags, offset)
	require.NoError(t, err)
	if offset > 0 {
		_, err = h.Seek(offset, io.SeekStart)
		require.NoError(t, err)
	}
	_, err = io.Copy(h, strings.NewReader(data))
	require.NoError(t, err)
	if a, ok := h.(Aborter); ok && failure != nil {
		a.Abort(failure)
	}
	require.NoError(t, h.Close())
}

// referenceMode is the mode the process umask gives a new file or
// directory, found without touching the umask.
func referenceMode(t *testing.T, dir bool) os.FileMode {
	t.Helper()
	name := filepath.Join(t.TempDir(), "ref")
	if dir {
		require.NoError(t, os.Mkdir(name, 0o777))
	} else {
		require.NoError(t, os.WriteFile(name, nil, 0o666))
	}
	fi, err := os.Stat(name)
	require.NoError(t, err)
	return fi.Mode().Perm()
}

func TestClientPath(t *testing.T) {
	tests := []struct {
		in, rel, shown string
	}{
		{"", ".", "/"},
		{"/", ".", "/"},
		{".", ".", "/"},
		{"..", ".", "/"},
		{"/a/b", "a/b", "/a/b"},
		{"a//b/", "a/b", "/a/b"},
		{"a/../b", "b", "/b"},
		{"../../etc/shadow", "etc/shadow", "/etc/shadow"},
		{"/etc/shadow", "etc/shadow", "/etc/shadow"},
		{"/../../x/./y/..", "x", "/x"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			rel, shown := clientPath(tt.in)
			require.Equal(t, tt.rel, rel)
			require.Equal(t, tt.shown, shown)
		})
	}
}

type confinementCase struct {
	name string
	op   func(fsys *FS) error
	want error
}

func TestConfinement(t *testing.T) {
	tests := []confinementCase{
		{"dot-dot resolves inside the home", func(fsys *FS) error {
			_, err := fsys.GetHandle("../../secret", os.O_RDONLY, 0)
			return err
		}, fs.ErrNotExist},
		{"absolute path resolves inside the home", func(fsys *FS) error {
			_, err := fsys.GetHandle("/etc/shadow", os.O_RDONLY, 0)
			return err
		}, fs.ErrNotExist},
		{"download through a symlink to a file outside", func(fsys *FS) error {
			_, err := fsys.GetHandle("/shadow", os.O_RDONLY, 0)
			return err
		}, ErrOutsideHome},
		{"download through an absolute symlink back into the home", func(fsys *FS) error {
			_, err := fsys.GetHandle("absin", os.O_RDONLY, 0)
			return err
		}, ErrOutsideHome},
		{"stat through a symlink to a file outside", func(fsys *FS) error {
			_, err := fsys.Stat("shadow")
			return err
		}, ErrOutsideHome},
		{"download from a sibling home through a symlinked dir", func(fsys *FS) error {
			_, err := fsys.GetHandle("sib/neighbour.txt", os.O_RDONLY, 0)
			return err
		}, ErrOutsideHome},
		{"download through a relative symlink to a sibling file", func(fsys *FS) error {
			_, err := fsys.GetHandle("sibfile", os.O_RDONLY, 0)
			return err
		}, ErrOutsideHome},
		{"download through a symlinked dir pointing out", func(fsys *FS) error {
			_, err := fsys.GetHandle("outdir/secret", os.O_RDONLY, 0)
			return err
		}, ErrOutsideHome},
		{"list a symlinked dir pointing out", func(fsys *FS) error {
			return fsys.List("outdir", func([]Entry) error { return nil })
		}, ErrOutsideHome},
		{"store over a symlink to a file outside", func(fsys *FS) error {
			_, err := fsys.GetHandle("shadow", storFlags, 0)
			return err
		}, ErrOutsideHome},
		{"append to a symlink to a file outside", func(fsys *FS) error {
			_, err := fsys.GetHandle("shadow", appeFlags, 0)
			return err
		}, ErrOutsideHome},
		{"resume a symlink to a file outside", func(fsys *FS) error {
			_, err := fsys.GetHandle("shadow", restFlags, 3)
			return err
		}, ErrOutsideHome},
		{"store in a symlinked dir pointing out", func(fsys *FS) error {
			_, err := fsys.GetHandle("outdir/new.txt", storFlags, 0)
			return err
		}, ErrOutsideHome},
		{"store in a sibling home", func(fsys *FS) error {
			_, err := fsys.GetHandle("sib/new.txt", storFlags, 0)
			return err
		}, ErrOutsideHome},
		{"mkdir through a symlink", func(fsys *FS) error {
			return fsys.Mkdir("outdir/newdir", 0o755)
		}, ErrOutsideHome},
		{"rename target outside", func(fsys *FS) error {
			return fsys.Rename("file.txt", "outdir/stolen.txt")
		}, ErrOutsideHome},
		{"rename target in a sibling home", func(fsys *FS) error {
			return fsys.Rename("file.txt", "sib/file.txt")
		}, ErrOutsideHome},
		{"rename source outside", func(fsys *FS) error {
			return fsys.Rename("outdir/secret", "got.txt")
		}, ErrOutsideHome},
		{"delete through a symlinked dir", func(fsys *FS) error {
			return fsys.Remove("outdir/secret")
		}, ErrOutsideHome},
		{"rmdir through a symlinked dir", func(fsys *FS) error {
			return fsys.RemoveDir("outdir/sibling")
		}, ErrOutsideHome},
		{"chmod through a symlink", func(fsys *FS) error {
			return fsys.Chmod("shadow", 0o666)
		}, ErrOutsideHome},
		{"chtimes through a symlink", func(fsys *FS) error {
			return fsys.Chtimes("shadow", time.Unix(0, 0), time.Unix(0, 0))
		}, ErrOutsideHome},
	}
	for _, inPlace := range []bool{false, true} {
		for _, openat2 := range []bool{true, false} {
			t.Run(fmt.Sprint("InPlaceUploads=", inPlace, ",openat2=", openat2), func(t *testing.T) {
				testConfinement(t, Options{InPlaceUploads: inPlace}, openat2, tests)
			})
		}
	}
}

func testConfinement(t *testing.T, opts Options, openat2 bool, tests []confinementCase) {
	f := newFixture(t, opts)
	f.useOpenat2(t, openat2)
	require.NoError(t, os.Symlink(filepath.Join(f.home, "file.txt"), filepath.Join(f.home, "absin")))
	outside := snapshot(t, f.sibling)
	secret, err := os.Stat(f.secret)
	require.NoError(t, err)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op(f.fsys)
			require.ErrorIs(t, err, tt.want)
			if errors.Is(tt.want, ErrOutsideHome) {
				require.ErrorIs(t, err, fs.ErrPermission)
			}
			require.NotContains(t, err.Error(), f.base, "the error shows a host path")
		})
	}
	require.Equal(t, outside, snapshot(t, f.sibling))
	after, err := os.Stat(f.secret)
	require.NoError(t, err)
	require.Equal(t, secret.Mode(), after.Mode())
	require.Equal(t, secret.ModTime(), after.ModTime())
	require.Equal(t, "top secret", readFile(t, f.secret))
	entries, err := os.ReadDir(f.base)
	require.NoError(t, err)
	require.Len(t, entries, 3, "something was created beside the home")
}

func TestRemovingALinkLeavesItsTarget(t *testing.T) {
	f := newFixture(t, Options{})
	require.NoError(t, f.fsys.Remove("shadow"))
	require.NoError(t, f.fsys.Remove("outdir"))
	require.NoError(t, f.fsys.Remove("sib"))
	require.Equal(t, "top secret", readFile(t, f.secret))
	require.Equal(t, "neighbour", readFile(t, filepath.Join(f.sibling, "neighbour.txt")))
	_, err := os.Lstat(filepath.Join(f.home, "outdir"))
	require.ErrorIs(t, err, fs.ErrNotExist)
}

func TestReadOnly(t *testing.T) {
	f := newFixture(t, Options{ReadOnly: true})
	fsys := f.fsys
	tests := []struct {
		name string
		op   func() error
	}{
		{"STOR", func() error { _, err := fsys.GetHandle("file.txt", storFlags, 0); return err }},
		{"STOR new", func() error { _, err := fsys.GetHandle("new.txt", storFlags, 0); return err }},
		{"APPE", func() error { _, err := fsys.GetHandle("file.txt", appeFlags, 0); return err }},
		{"REST STOR", func() error { _, err := fsys.GetHandle("file.txt", restFlags, 2); return err }},
		{"open O_WRONLY", func() error { _, err := fsys.GetHandle("file.txt", os.O_WRONLY, 0); return err }},
		{"open O_RDWR", func() error { _, err := fsys.GetHandle("file.txt", os.O_RDWR, 0); return err }},
		{"open O_CREATE", func() error { _, err := fsys.GetHandle("new.txt", os.O_CREATE, 0); return err }},
		{"open O_TRUNC", func() error { _, err := fsys.GetHandle("file.txt", os.O_TRUNC, 0); return err }},
		{"open O_APPEND", func() error { _, err := fsys.GetHandle("file.txt", os.O_APPEND, 0); return err }},
		{"mkdir", func() error { return fsys.Mkdir("newdir", 0o755) }},
		{"delete", func() error { return fsys.Remove("file.txt") }},
		{"rmdir", func() error { return fsys.RemoveDir("dir") }},
		{"rename", func() error { return fsys.Rename("file.txt", "moved.txt") }},
		{"chmod", func() error { return fsys.Chmod("file.txt", 0o600) }},
		{"chtimes", func() error { return fsys.Chtimes("file.txt", time.Unix(0, 0), time.Unix(0, 0)) }},
		{"allocate", func() error { return fsys.AllocateSpace(10) }},
	}
	before := snapshot(t, f.home)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op()
			require.ErrorIs(t, err, fs.ErrPermission)
			require.ErrorIs(t, err, ErrReadOnly)
		})
	}
	require.Equal(t, before, snapshot(t, f.home))

	h, err := fsys.GetHandle("file.txt", os.O_RDONLY, 0)
	require.NoError(t, err)
	data, err := io.ReadAll(h)
	require.NoError(t, err)
	require.NoError(t, h.Close())
	require.Equal(t, "hello", string(data))
	_, err = listAll(fsys, "/")
	require.NoError(t, err)
}

func TestDownloadsAreOSFiles(t *testing.T) {
	for _, openat2 := range []bool{true, false} {
		t.Run(fmt.Sprint("openat2=", openat2), func(t *testing.T) {
			f := newFixture(t, Options{})
			f.useOpenat2(t, openat2)
			testDownloadsAreOSFiles(t, f)
		})
	}
}

func testDownloadsAreOSFiles(t *testing.T, f *fixture) {
	for _, name := range []string{"/file.txt", "inlink", "indir/inner.txt"} {
		t.Run(name, func(t *testing.T) {
			h, err := f.fsys.GetHandle(name, os.O_RDONLY, 0)
			require.NoError(t, err)
			defer h.Close()
			require.IsType(t, &os.File{}, h, "sendfile needs the *os.File itself")
			file := h.(*os.File)
			require.NotContains(t, file.Name(), f.base)
			data, err := io.ReadAll(file)
			require.NoError(t, err)
			require.NotEmpty(t, data)
		})
	}
}

func TestOpenRefusesWhatCannotBeTransferred(t *testing.T) {
	for _, openat2 := range []bool{true, false} {
		t.Run(fmt.Sprint("openat2=", openat2), func(t *testing.T) {
			f := newFixture(t, Options{})
			f.useOpenat2(t, openat2)
			testOpenRefusesWhatCannotBeTransferred(t, f)
		})
	}
}

func testOpenRefusesWhatCannotBeTransferred(t *testing.T, f *fixture) {
	require.NoError(t, syscall.Mkfifo(filepath.Join(f.home, "pipe"), 0o644))
	tests := []struct {
		name  string
		path  string
		flags int
		want  error
	}{
		{"download a directory", "dir", os.O_RDONLY, syscall.EISDIR},
		{"download the home", "/", os.O_RDONLY, syscall.EISDIR},
		{"store over a directory", "dir", storFlags, syscall.EISDIR},
		{"store over the home", "/", storFlags, syscall.EISDIR},
		{"append to a directory", "indir", appeFlags, syscall.EISDIR},
		{"download a FIFO", "pipe", os.O_RDONLY, ErrNotRegular},
		{"store over a FIFO", "pipe", storFlags, ErrNotRegular},
		{"missing file", "nothing.txt", os.O_RDONLY, fs.ErrNotExist},
		{"store in a missing directory", "nothing/x.txt", storFlags, fs.ErrNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Opening a FIFO without O_NONBLOCK would wait for a writer forever.
			type result struct {
				h   Handle
				err error
			}
			done := make(chan result, 1)
			go func() {
				h, err := f.fsys.GetHandle(tt.path, tt.flags, 0)
				if err == nil {
					h.Close()
				}
				done <- result{h, err}
			}()
			select {
			case res := <-done:
				require.ErrorIs(t, res.err, tt.want)
				require.NotContains(t, res.err.Error(), f.base)
				require.True(t, res.h == nil, "a failed GetHandle returns a nil interface")
			case <-time.After(10 * time.Second):
				t.Fatal("GetHandle blocked")
			}
		})
	}
	_, err := listAll(f.fsys, "pipe")
	require.ErrorIs(t, err, syscall.ENOTDIR)
}

func TestRemoveAndRemoveDir(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, home string)
		op    func(fsys *FS) error
		want  error // nil: success
		gone  string
		kept  string
	}{
		{name: "DELE a file", op: func(fsys *FS) error { return fsys.Remove("file.txt") }, gone: "file.txt"},
		{name: "DELE a directory", op: func(fsys *FS) error { return fsys.Remove("dir/") },
			want: syscall.EISDIR, kept: "dir"},
		{name: "DELE a symlink to a directory", op: func(fsys *FS) error { return fsys.Remove("indir") },
			gone: "indir", kept: "dir/inner.txt"},
		{name: "DELE a missing file", op: func(fsys *FS) error { return fsys.Remove("nothing") },
			want: fs.ErrNotExist},
		{name: "DELE the home", op: func(fsys *FS) error { return fsys.Remove("/") },
			want: fs.ErrPermission, kept: "."},
		{name: "RMD a file", op: func(fsys *FS) error { return fsys.RemoveDir("file.txt") },
			want: syscall.ENOTDIR, kept: "file.txt"},
		{name: "RMD a symlink to a directory", op: func(fsys *FS) error { return fsys.RemoveDir("indir") },
			want: syscall.ENOTDIR, kept: "indir"},
		{name: "RMD a non-empty directory", op: func(fsys *FS) error { return fsys.RemoveDir("dir") },
			want: fs.ErrExist, kept: "dir/inner.txt"},
		{name: "RMD an empty directory",
			setup: func(t *testing.T, home string) {
				require.NoError(t, os.Mkdir(filepath.Join(home, "empty"), 0o755))
			},
			op: func(fsys *FS) error { return fsys.RemoveDir("/dir/../empty") }, gone: "empty"},
		{name: "RMD the home", op: func(fsys *FS) error { return fsys.RemoveDir("..") },
			want: fs.ErrPermission, kept: "."},
		{name: "DELE the home", op: func(fsys *FS) error { return fsys.Remove("/") },
			want: fs.ErrPermission, kept: "file.txt"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			if tt.setup != nil {
				tt.setup(t, f.home)
			}
			err := tt.op(f.fsys)
			if tt.want == nil {
				require.NoError(t, err)
			} else {
				require.ErrorIs(t, err, tt.want)
			}
			if tt.gone != "" {
				_, err := os.Lstat(filepath.Join(f.home, tt.gone))
				require.ErrorIs(t, err, fs.ErrNotExist)
			}
			if tt.kept != "" {
				_, err := os.Lstat(filepath.Join(f.home, tt.kept))
				require.NoError(t, err)
			}
		})
	}
}

func TestRename(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     error // nil: success
	}{
		{"file to a new name", "file.txt", "dir/moved.txt", nil},
		{"file over a file", "file.txt", "dir/inner.txt", nil},
		{"directory to a new name", "dir", "renamed", nil},
		{"file over a directory", "file.txt", "dir", fs.ErrExist},
		{"directory over an empty directory", "dir", "empty", fs.ErrExist},
		{"missing source", "nothing", "x", fs.ErrNotExist},
		{"the home", "/", "x", fs.ErrPermission},
		{"over the home", "file.txt", "/", fs.ErrPermission},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, Options{})
			require.NoError(t, os.Mkdir(filepath.Join(f.home, "empty"), 0o755))
			before, _ := os.Lstat(filepath.Join(f.home, tt.old))
			err := f.fsys.Rename(tt.old, tt.new)
			if tt.want != nil {
				require.ErrorIs(t, err, tt.want)
				require.NotContains(t, err.Error(), f.base)
				return
			}
			require.NoError(t, err)
			after, err := os.Lstat(filepath.Join(f.home, tt.new))
			require.NoError(t, err)
			require.True(t, os.SameFile(before, after))
			_, err = os.Lstat(filepath.Join(f.home, tt.old))
			require.ErrorIs(t, err, fs.ErrNotExist)
		})
	}
}

func TestMkdirUsesTheUmask(t *testing.T) {
	f := newFixture(t, Options{})
	require.NoError(t, f.fsys.Mkdir("/new", 0o700))
	for _, name := range []string{"new"} {
		fi, err := os.Stat(filepath.Join(f.home, name))
		require.NoError(t, err)
		require.Equal(t, referenceMode(t, true), fi.Mode().Perm(), name)
	}
	require.ErrorIs(t, f.fsys.Mkdir("new", 0o755), fs.ErrExist)
}

func TestChmodChownChtimes(t *testing.T) {
	f := newFixture(t, Options{})
	require.NoError(t, f.fsys.Chmod("file.txt", 0o600))
	fi, err := os.Stat(filepath.Join(f.home, "file.txt"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode())

	require.ErrorIs(t, f.fsys.Chmod("file.txt", 0o4755), fs.ErrPermission)

	mtime := time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC)
	require.NoError(t, f.fsys.Chtimes("inlink", mtime, mtime))
	fi, err = f.fsys.Stat("file.txt")
	require.NoError(t, err)
	require.True(t, mtime.Equal(fi.ModTime()))
}

// TestOpenAfterClose: once the session's FS is closed, an open fails as
// closed, whichever way it goes; a download opened before keeps working.
func TestOpenAfterClose(t *testing.T) {
	for _, openat2 := range []bool{true, false} {
		t.Run(fmt.Sprint("openat2=", openat2), func(t *testing.T) {
			f := newFixture(t, Options{})
			f.useOpenat2(t, openat2)
			before, err := f.fsys.GetHandle("file.txt", os.O_RDONLY, 0)
			require.NoError(t, err)
			defer before.Close()
			require.NoError(t, f.fsys.Close())
			_, err = f.fsys.GetHandle("file.txt", os.O_RDONLY, 0)
			require.ErrorIs(t, err, fs.ErrClosed)
			_, err = f.fsys.OpenList("dir")
			require.ErrorIs(t, err, fs.ErrClosed)
			data, err := io.ReadAll(before)
			require.NoError(t, err)
			require.Equal(t, "hello", string(data))
		})
	}
}
