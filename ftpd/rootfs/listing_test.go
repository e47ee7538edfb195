package rootfs

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadDir(t *testing.T) {
	f := newFixture(t, Options{})
	writeFile(t, filepath.Join(f.home, ".file.txt.ftpupload-0123456789abcdef"), "partial", 0o644)
	writeFile(t, filepath.Join(f.home, ".htaccess"), "deny", 0o644)

	infos, err := f.fsys.ReadDir("/")
	require.NoError(t, err)
	byName := map[string]os.FileInfo{}
	for _, fi := range infos {
		byName[fi.Name()] = fi
	}
	tests := []struct {
		name string
		mode fs.FileMode // type bits
		size int64       // -1: any
	}{
		{"file.txt", 0, 5},
		{".htaccess", 0, 4},
		{"dir", fs.ModeDir, -1},
		{"inlink", 0, 5},          // followed: its target is inside
		{"indir", fs.ModeDir, -1}, // followed: its target is inside
		{"shadow", fs.ModeSymlink, -1},
		{"sib", fs.ModeSymlink, -1},
		{"sibfile", fs.ModeSymlink, -1},
		{"outdir", fs.ModeSymlink, -1},
		{"dangling", fs.ModeSymlink, -1},
	}
	require.Len(t, byName, len(tests), "temporary upload files must not be listed")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fi, ok := byName[tt.name]
			require.True(t, ok)
			require.Equal(t, tt.mode, fi.Mode().Type())
			if tt.size >= 0 {
				require.Equal(t, tt.size, fi.Size())
			}
		})
	}

	_, err = f.fsys.ReadDir("file.txt")
	require.Error(t, err)
	_, err = f.fsys.ReadDir("nothing")
	require.ErrorIs(t, err, fs.ErrNotExist)
	inner, err := f.fsys.ReadDir("indir")
	require.NoError(t, err)
	require.Len(t, inner, 1)
}

// dirLister is the listing half of File.
type dirLister interface {
	Readdir(int) ([]os.FileInfo, error)
	Readdirnames(int) ([]string, error)
}

func TestOpenedDirectoryHidesTempFiles(t *testing.T) {
	f := newFixture(t, Options{})
	dir := filepath.Join(f.home, "dir")
	for i := range 5 {
		writeFile(t, filepath.Join(dir, fmt.Sprintf(".f%d.ftpupload-0123456789abcdef", i)), "", 0o644)
	}
	want := []string{"inner.txt"}

	tests := []struct {
		name string
		list func(d dirLister) []string
	}{
		{"Readdir(-1)", func(d dirLister) []string {
			infos, err := d.Readdir(-1)
			require.NoError(t, err)
			var names []string
			for _, fi := range infos {
				names = append(names, fi.Name())
			}
			return names
		}},
		{"Readdirnames(-1)", func(d dirLister) []string {
			names, err := d.Readdirnames(-1)
			require.NoError(t, err)
			return names
		}},
		{"Readdir(1) until EOF", func(d dirLister) []string {
			var names []string
			for range 10 {
				infos, err := d.Readdir(1)
				if err == io.EOF {
					return names
				}
				require.NoError(t, err)
				require.Len(t, infos, 1)
				names = append(names, infos[0].Name())
			}
			t.Fatal("Readdir(1) never reached EOF")
			return nil
		}},
		{"Readdirnames(1) until EOF", func(d dirLister) []string {
			var names []string
			for range 10 {
				batch, err := d.Readdirnames(1)
				if err == io.EOF {
					return names
				}
				require.NoError(t, err)
				require.Len(t, batch, 1)
				names = append(names, batch...)
			}
			t.Fatal("Readdirnames(1) never reached EOF")
			return nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := f.fsys.Open("/indir")
			require.NoError(t, err)
			defer d.Close()
			require.Equal(t, "/indir", d.Name())
			names := tt.list(d)
			slices.Sort(names)
			require.Equal(t, want, names)
		})
	}
}

// BenchmarkReadDir lists a directory of 10,000 files, as a LIST or MLSD of
// a large upload folder does.
func BenchmarkReadDir(b *testing.B) {
	const entries = 10_000
	fsys := benchHome(b, entries)
	b.ReportAllocs()
	for b.Loop() {
		infos, err := fsys.ReadDir("/")
		if err != nil || len(infos) != entries {
			b.Fatalf("ReadDir: %d entries, %v", len(infos), err)
		}
	}
}

func BenchmarkList(b *testing.B) {
	const entries = 10_000
	fsys := benchHome(b, entries)
	b.ReportAllocs()
	for b.Loop() {
		n := 0
		if err := fsys.List("/", func(batch []Entry) error { n += len(batch); return nil }); err != nil || n != entries {
			b.Fatalf("List: %d entries, %v", n, err)
		}
	}
}

// benchHome is a home of n empty files, open as a session's file system.
func benchHome(b *testing.B, n int) *FS {
	home := b.TempDir()
	for i := range n {
		if err := os.WriteFile(filepath.Join(home, fmt.Sprintf("file-%05d.php", i)), nil, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	fsys, err := New(home, Options{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { fsys.Close() })
	return fsys
}
