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

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

var errConnectionReset = errors.New("connection reset by peer")

// tempFiles lists the temporary upload files on disk in dir.
func tempFiles(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	var temps []string
	for _, e := range entries {
		if strings.Contains(e.Name(), uploadMarker) {
			temps = append(temps, e.Name())
		}
	}
	return temps
}

// withFlink pretends, for one test, that the kernel does or does not link
// files by descriptor. Tests of unnamed files skip where the file system
// under t.TempDir has no O_TMPFILE.
func withFlink(t *testing.T, state int32) {
	t.Helper()
	if state != flinkMissing {
		fd, err := unix.Open(t.TempDir(), unix.O_TMPFILE|unix.O_WRONLY|unix.O_CLOEXEC, 0o600)
		if err != nil {
			t.Skipf("no O_TMPFILE in the temporary folder: %v", err)
		}
		unix.Close(fd)
	}
	saved := flink.Load()
	flink.Store(state)
	t.Cleanup(func() { flink.Store(saved) })
}

func TestAtomicUpload(t *testing.T) {
	tests := []struct {
		name     string
		flink    int32
		existing bool
		failure  error
		want     string // "" means no file
		// visible is how many temporary files the directory shows mid-upload.
		visible int
	}{
		{"complete over an existing file", flinkWorks, true, nil, "new content", 1},
		{"aborted over an existing file", flinkWorks, true, errConnectionReset, "old", 1},
		{"complete new file", flinkWorks, false, nil, "new content", 0},
		{"aborted new file", flinkWorks, false, errConnectionReset, "", 0},
		{"complete new file, no linking by descriptor", flinkMissing, false, nil, "new content", 1},
		{"aborted new file, no linking by descriptor", flinkMissing, false, errConnectionReset, "", 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			withFlink(t, tt.flink)
			f := newFixture(t, Options{})
			target := filepath.Join(f.home, "dir", "x.php")
			if tt.existing {
				writeFile(t, target, "old", 0o640)
			}

			h, err := f.fsys.GetHandle("/dir/x.php", storFlags, 0)
			require.NoError(t, err)
			require.Empty(t, tempFiles(t, filepath.Join(f.home, "dir")), "created before the first byte")
			_, err = io.Copy(h, strings.NewReader("new content"))
			require.NoError(t, err)

			// Mid-upload: the target is untouched, a temporary file hidden.
			if tt.existing {
				require.Equal(t, "old", readFile(t, target))
			} else {
				require.NoFileExists(t, target)
			}
			require.Len(t, tempFiles(t, filepath.Join(f.home, "dir")), tt.visible)
			listed, err := listAll(f.fsys, "dir")
			require.NoError(t, err)
			for name := range listed {
				require.NotContains(t, name, uploadMarker)
			}

			if tt.failure != nil {
				h.(Aborter).Abort(tt.failure)
			}
			require.NoError(t, h.Close())

			require.Empty(t, tempFiles(t, filepath.Join(f.home, "dir")))
			if tt.want == "" {
				require.NoFileExists(t, target)
				return
			}
			require.Equal(t, tt.want, readFile(t, target))
			fi, err := os.Stat(target)
			require.NoError(t, err)
			wantMode := os.FileMode(0o640)
			if !tt.existing {
				wantMode = referenceMode(t, false)
			}
			require.Equal(t, wantMode, fi.Mode().Perm())
		})
	}
}

// TestAtomicUploadFindsOutAboutLinking: the first new-file upload learns
// whether the kernel links by descriptor, and leaves no trace of asking.
func TestAtomicUploadFindsOutAboutLinking(t *testing.T) {
	withFlink(t, flinkUnknown)
	f := newFixture(t, Options{})
	h, err := f.fsys.GetHandle("/a.txt", storFlags, 0)
	require.NoError(t, err)
	_, err = io.WriteString(h, "a")
	require.NoError(t, err)
	learned := flink.Load()
	require.NotEqual(t, flinkUnknown, learned)
	t.Logf("linking by descriptor: %v", learned == flinkWorks)
	require.Len(t, tempFiles(t, f.home), 1, "the first upload has a name either way")
	require.NoError(t, h.Close())
	require.Equal(t, "a", readFile(t, filepath.Join(f.home, "a.txt")))
	require.Empty(t, tempFiles(t, f.home))

	// The next upload goes by what the first learned.
	h, err = f.fsys.GetHandle("/b.txt", storFlags, 0)
	require.NoError(t, err)
	_, err = io.WriteString(h, "b")
	require.NoError(t, err)
	if learned == flinkWorks {
		require.Empty(t, tempFiles(t, f.home), "an unnamed file")
	} else {
		require.Len(t, tempFiles(t, f.home), 1)
	}
	require.NoError(t, h.Close())
	require.Equal(t, "b", readFile(t, filepath.Join(f.home, "b.txt")))
}

// takeName writes part of an upload to x.txt, then makes x.txt behind its back.
func takeName(t *testing.T, f *fixture, h Handle) {
	_, err := io.WriteString(h, "mine")
	require.NoError(t, err)
	writeFile(t, filepath.Join(f.home, "x.txt"), "theirs", 0o644)
}

// TestUnnamedUploadsAreBounded: past maxUnnamed uploads at once, each of
// which keeps a thread, the next takes a temporary name; the count goes back
// when they end.
func TestUnnamedUploadsAreBounded(t *testing.T) {
	withFlink(t, flinkWorks)
	saved, before := maxUnnamed, unnamed.Load()
	maxUnnamed = before + 1
	t.Cleanup(func() { maxUnnamed = saved })
	f := newFixture(t, Options{})
	start := func(name string) Handle {
		h, err := f.fsys.GetHandle(name, storFlags, 0)
		require.NoError(t, err)
		_, err = io.WriteString(h, name)
		require.NoError(t, err)
		return h
	}
	first := start("/a.txt")
	require.Empty(t, tempFiles(t, f.home))
	second := start("/b.txt")
	require.Len(t, tempFiles(t, f.home), 1, "the second upload is past the bound")
	require.NoError(t, second.Close())
	require.NoError(t, first.Close())
	require.Equal(t, before, unnamed.Load())
	third := start("/c.txt")
	require.Empty(t, tempFiles(t, f.home), "the bound is free again")
	require.NoError(t, third.Close())
	for _, name := range []string{"a.txt", "b.txt", "c.txt"} {
		require.Equal(t, "/"+name, readFile(t, filepath.Join(f.home, name)))
	}
	require.Equal(t, before, unnamed.Load())
}

// TestAtomicUploadEdges: uploads without content, without a data
// connection, and races with whoever else writes the directory.
func TestAtomicUploadEdges(t *testing.T) {
	tests := []struct {
		name  string
		flink int32
		run   func(t *testing.T, f *fixture, h Handle)
		want  string // the target's content after Close; "" means no file
	}{
		{"no bytes make an empty file", flinkWorks, func(*testing.T, *fixture, Handle) {}, "\x00empty"},
		{"no bytes make an empty file, named", flinkMissing, func(*testing.T, *fixture, Handle) {}, "\x00empty"},
		{"no data connection makes nothing", flinkWorks, func(_ *testing.T, _ *fixture, h Handle) {
			h.(Aborter).Abort(errConnectionReset)
		}, ""},
		{"the name taken meanwhile is replaced", flinkWorks, takeName, "mine"},
		{"the name taken meanwhile is replaced, named", flinkMissing, takeName, "mine"},
		{"a directory made meanwhile stays", flinkWorks, func(t *testing.T, f *fixture, h Handle) {
			_, err := io.WriteString(h, "mine")
			require.NoError(t, err)
			require.NoError(t, os.Mkdir(filepath.Join(f.home, "x.txt"), 0o755))
		}, "\x00dir"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			withFlink(t, tt.flink)
			f := newFixture(t, Options{})
			h, err := f.fsys.GetHandle("/x.txt", storFlags, 0)
			require.NoError(t, err)
			tt.run(t, f, h)
			err = h.Close()
			require.Empty(t, tempFiles(t, f.home))
			target := filepath.Join(f.home, "x.txt")
			switch tt.want {
			case "":
				require.NoError(t, err)
				require.NoFileExists(t, target)
			case "\x00dir":
				require.Error(t, err)
				require.DirExists(t, target)
			case "\x00empty":
				require.NoError(t, err)
				require.Empty(t, readFile(t, target))
			default:
				require.NoError(t, err)
				require.Equal(t, tt.want, readFile(t, target))
			}
		})
	}
}

// TestAtomicUploadRefusesBeforeTheFirstByte: what can be refused is refused
// when the upload is opened, before the server answers 150.
func TestAtomicUploadRefusesBeforeTheFirstByte(t *testing.T) {
	f := newFixture(t, Options{})
	require.NoError(t, os.Mkdir(filepath.Join(f.home, "sub"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(f.home, "plain"), nil, 0o644))
	require.NoError(t, syscall.Mkfifo(filepath.Join(f.home, "fifo"), 0o600))
	for _, tc := range []struct {
		path string
		want error
	}{
		{"/sub", syscall.EISDIR},
		{"/", syscall.EISDIR},
		{"/missing/x.txt", fs.ErrNotExist},
		{"/plain/x.txt", syscall.ENOTDIR},
		{"/fifo/x.txt", syscall.ENOTDIR}, // at once, not when a writer comes
	} {
		done := make(chan error, 1)
		go func() {
			_, err := f.fsys.GetHandle(tc.path, storFlags, 0)
			done <- err
		}()
		select {
		case err := <-done:
			require.ErrorIs(t, err, tc.want, tc.path)
		case <-time.After(5 * time.Second):
			w, _ := os.OpenFile(filepath.Join(f.home, "fifo"), os.O_WRONLY, 0) // lets it go
			defer w.Close()
			t.Fatalf("GetHandle(%q) waited", tc.path)
		}
	}
	require.Empty(t, tempFiles(t, f.home))
}

// TestAtomicUploadCannotCreate: when the file cannot be made at the first
// byte (here its folder was removed after the upload opened), every write and
// Close say so, and nothing is published.
func TestAtomicUploadCannotCreate(t *testing.T) {
	for name, state := range map[string]int32{"unnamed": flinkWorks, "named": flinkMissing} {
		t.Run(name, func(t *testing.T) {
			withFlink(t, state)
			f := newFixture(t, Options{})
			dir := filepath.Join(f.home, "gone")
			require.NoError(t, os.Mkdir(dir, 0o755))
			h, err := f.fsys.GetHandle("/gone/x.txt", storFlags, 0)
			require.NoError(t, err)
			require.NoError(t, os.Remove(dir))
			for range 2 {
				_, err = io.WriteString(h, "x")
				require.ErrorIs(t, err, fs.ErrNotExist)
			}
			require.ErrorIs(t, h.Close(), fs.ErrNotExist)
			require.NoDirExists(t, dir)
		})
	}
}

func TestAtomicUploadSurvivesClose(t *testing.T) {
	f := newFixture(t, Options{})
	h, err := f.fsys.GetHandle("file.txt", storFlags, 0)
	require.NoError(t, err)
	require.NoError(t, f.fsys.Close())
	_, err = io.WriteString(h, "after close")
	require.NoError(t, err)
	require.NoError(t, h.Close())
	require.Equal(t, "after close", readFile(t, filepath.Join(f.home, "file.txt")))
}

func TestUploadWritesInPlace(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		path     string
		existing string
		flags    int
		offset   int64
		data     string
		failure  error
		want     string
	}{
		{name: "APPE", path: "x.bin", existing: "abc", flags: appeFlags, data: "def", want: "abcdef"},
		{name: "APPE to a new file", path: "x.bin", flags: appeFlags, data: "def", want: "def"},
		{name: "APPE keeps an aborted part", path: "x.bin", existing: "abc", flags: appeFlags,
			data: "de", failure: errConnectionReset, want: "abcde"},
		{name: "REST then STOR resumes", path: "x.bin", existing: "hello wor", flags: restFlags,
			offset: 9, data: "ld", want: "hello world"},
		{name: "REST then STOR in the middle", path: "x.bin", existing: "hello world", flags: restFlags,
			offset: 6, data: "W", want: "hello World"},
		{name: "STOR with in-place uploads", opts: Options{InPlaceUploads: true}, path: "x.bin",
			existing: "old content", flags: storFlags, data: "new", want: "new"},
		{name: "aborted STOR with in-place uploads", opts: Options{InPlaceUploads: true}, path: "x.bin",
			existing: "old content", flags: storFlags, data: "ne", failure: errConnectionReset, want: "ne"},
		{name: "STOR through a symlink inside the home", path: "inlink",
			flags: storFlags, data: "through", want: "through"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.opts)
			target := filepath.Join(f.home, tt.path)
			if tt.existing != "" {
				writeFile(t, target, tt.existing, 0o644)
			}
			upload(t, f.fsys, tt.path, tt.flags, tt.offset, tt.data, tt.failure)
			require.Equal(t, tt.want, readFile(t, target))
			require.Empty(t, tempFiles(t, f.home))
		})
	}

	f := newFixture(t, Options{})
	h, err := f.fsys.GetHandle("file.txt", appeFlags, 0)
	require.NoError(t, err)
	require.IsType(t, &os.File{}, h, "an append has no temporary file to publish")
	require.NoError(t, h.Close())
	fi, err := os.Lstat(filepath.Join(f.home, "inlink"))
	require.NoError(t, err)
	require.Equal(t, fs.ModeSymlink, fi.Mode().Type())
}

func TestUploadKeepsFilePermissions(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root ignores file permissions")
	}
	f := newFixture(t, Options{})
	target := filepath.Join(f.home, "locked.txt")
	writeFile(t, target, "locked", 0o444)
	_, err := f.fsys.GetHandle("locked.txt", storFlags, 0)
	require.ErrorIs(t, err, fs.ErrPermission)
	require.Equal(t, "locked", readFile(t, target))
	require.Empty(t, tempFiles(t, f.home))
}

func TestUploadTempNames(t *testing.T) {
	long := strings.Repeat("n", 255)
	tests := []struct {
		name string
		temp bool
	}{
		{uploadTempName("x.php"), true},
		{uploadTempName(long), true},
		{".x.php.ftpupload-0123456789abcdef", true},
		{"x.php.ftpupload-0123456789abcdef", false},
		{"..ftpupload-0123456789abcdef", false},
		{".x.php.ftpupload-0123456789ABCDEF", false},
		{".x.php.ftpupload-0123456789abcde", false},
		{".x.php.ftpupload-0123456789abcdef0", false},
		{".x.php.ftpupload-0123456789abcdeg", false},
		{"x.php", false},
		{".htaccess", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.temp, isUploadTemp(tt.name))
			require.LessOrEqual(t, len(tt.name), 255)
		})
	}
	require.NotEqual(t, uploadTempName("x"), uploadTempName("x"))
	require.True(t, hasUploadTemp("a/.b.ftpupload-0123456789abcdef/c"))
	require.False(t, hasUploadTemp("a/b.ftpupload-0123456789abcdef/c"))
}

func TestLongNameUpload(t *testing.T) {
	f := newFixture(t, Options{})
	name := strings.Repeat("n", 255)
	upload(t, f.fsys, name, storFlags, 0, "long", nil)
	require.Equal(t, "long", readFile(t, filepath.Join(f.home, name)))
}

func TestTempNamesAreRefused(t *testing.T) {
	f := newFixture(t, Options{})
	temp := ".file.txt.ftpupload-0123456789abcdef"
	writeFile(t, filepath.Join(f.home, temp), "partial", 0o644)
	tests := []struct {
		name string
		op   func() error
	}{
		{"stat", func() error { _, err := f.fsys.Stat(temp); return err }},
		{"download", func() error { _, err := f.fsys.GetHandle(temp, 0, 0); return err }},
		{"STOR", func() error { _, err := f.fsys.GetHandle("/"+temp, storFlags, 0); return err }},
		{"APPE", func() error { _, err := f.fsys.GetHandle(temp, appeFlags, 0); return err }},
		{"list", func() error { _, err := listAll(f.fsys, temp); return err }},
		{"delete", func() error { return f.fsys.Remove(temp) }},
		{"rename from", func() error { return f.fsys.Rename(temp, "x") }},
		{"rename to", func() error { return f.fsys.Rename("file.txt", "dir/"+temp) }},
		{"mkdir", func() error { return f.fsys.Mkdir(temp+"/sub", 0o755) }},
		{"chmod", func() error { return f.fsys.Chmod(temp, 0o600) }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.op()
			require.ErrorIs(t, err, ErrReservedName)
			require.ErrorIs(t, err, fs.ErrPermission)
		})
	}
	require.Equal(t, "partial", readFile(t, filepath.Join(f.home, temp)))
	require.Equal(t, "hello", readFile(t, filepath.Join(f.home, "file.txt")))
}

// BenchmarkUpload measures what opening, writing and publishing a 4 KiB
// upload costs in the file system, atomic and in place.
func BenchmarkUpload(b *testing.B) {
	data := make([]byte, 4<<10)
	for _, inPlace := range []bool{false, true} {
		name := "atomic"
		if inPlace {
			name = "in place"
		}
		b.Run(name, func(b *testing.B) {
			fsys, err := New(b.TempDir(), Options{InPlaceUploads: inPlace})
			if err != nil {
				b.Fatal(err)
			}
			defer fsys.Close()
			for i := range b.N {
				h, err := fsys.GetHandle(fmt.Sprintf("/f%d", i%1000), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := h.Write(data); err != nil {
					b.Fatal(err)
				}
				if err := h.Close(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestUploadErrorsNameTheClientPath: a failed write names the path the
// client gave, never the temporary file or the host's FTP root.
func TestUploadErrorsNameTheClientPath(t *testing.T) {
	f := newFixture(t, Options{})
	h, err := f.fsys.GetHandle("/dir/x.php", storFlags, 0)
	require.NoError(t, err)
	up, ok := h.(*atomicUpload)
	require.True(t, ok, "an atomic upload")
	_, err = h.Write([]byte("x"))
	require.NoError(t, err)
	require.NoError(t, up.file.Close()) // the file fails under the upload

	_, err = h.Write([]byte("x"))
	var pe *os.PathError
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "/dir/x.php", pe.Path)
	_, err = h.(io.ReaderFrom).ReadFrom(strings.NewReader("x"))
	require.ErrorAs(t, err, &pe)
	assert.Equal(t, "/dir/x.php", pe.Path)
	assert.NotContains(t, err.Error(), f.home)
	h.(Aborter).Abort(err)
	_ = h.Close() // reports the file closed under it
	require.NoFileExists(t, filepath.Join(f.home, "dir", "x.php"))
}
