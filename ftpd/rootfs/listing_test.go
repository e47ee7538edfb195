package rootfs

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestList(t *testing.T) {
	f := newFixture(t, Options{})
	writeFile(t, filepath.Join(f.home, ".file.txt.ftpupload-0123456789abcdef"), "partial", 0o644)
	writeFile(t, filepath.Join(f.home, ".htaccess"), "deny", 0o644)

	byName, err := listAll(f.fsys, "/")
	require.NoError(t, err)
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
			e, ok := byName[tt.name]
			require.True(t, ok)
			require.Equal(t, tt.mode, e.Mode.Type())
			if tt.size >= 0 {
				require.Equal(t, tt.size, e.Size)
			}
		})
	}

	_, err = listAll(f.fsys, "file.txt")
	require.Error(t, err)
	_, err = listAll(f.fsys, "nothing")
	require.ErrorIs(t, err, fs.ErrNotExist)
	inner, err := listAll(f.fsys, "indir")
	require.NoError(t, err)
	require.Len(t, inner, 1)
}

// listAll collects a listing by name, the names copied.
func listAll(fsys *FS, name string) (map[string]Entry, error) {
	byName := map[string]Entry{}
	err := fsys.List(name, func(batch []Entry) error {
		for _, e := range batch {
			byName[string(e.Name)] = e
		}
		return nil
	})
	return byName, err
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
