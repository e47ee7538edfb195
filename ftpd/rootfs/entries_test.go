package rootfs

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDirReaderAsLstat: dirReader gives what os.Lstat gives for every kind
// of entry, over more names than one getdents buffer holds.
func TestDirReaderAsLstat(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "page.php"), "<?php echo 1;", 0o640)
	writeFile(t, filepath.Join(dir, "setuid"), "", os.ModeSetuid|0o755)
	writeFile(t, filepath.Join(dir, "setgid"), "", os.ModeSetgid|0o750)
	require.NoError(t, os.Mkdir(filepath.Join(dir, "sticky"), 0o755))
	require.NoError(t, os.Chmod(filepath.Join(dir, "sticky"), os.ModeSticky|0o777))
	require.NoError(t, os.Symlink("page.php", filepath.Join(dir, "link")))
	require.NoError(t, os.Symlink("nowhere", filepath.Join(dir, "dangling")))
	require.NoError(t, syscall.Mkfifo(filepath.Join(dir, "fifo"), 0o600))
	sock, err := net.Listen("unix", filepath.Join(dir, "sock"))
	require.NoError(t, err)
	defer sock.Close()
	old := filepath.Join(dir, "old.txt")
	writeFile(t, old, "old", 0o644)
	require.NoError(t, os.Chtimes(old, time.Time{}, time.Date(2001, 2, 3, 4, 5, 6, 789, time.UTC)))
	long := strings.Repeat("n", 200)
	for i := range 400 { // about 90 KiB of records: several reads of 32 KiB
		writeFile(t, filepath.Join(dir, long+string(rune('a'+i%26))+strings.Repeat("x", i/26)), "", 0o644)
	}

	d, err := os.Open(dir)
	require.NoError(t, err)
	defer d.Close()
	byName, err := readAll(d)
	require.NoError(t, err)

	want, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, byName, len(want))
	for _, e := range want {
		got, ok := byName[e.Name()]
		require.True(t, ok, "missing %q", e.Name())
		lst, err := os.Lstat(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		require.Equal(t, lst.Mode(), got.Mode, e.Name())
		require.Equal(t, lst.Size(), got.Size, e.Name())
		require.Equal(t, lst.ModTime().UnixNano(), got.Mtime, e.Name())
	}
	require.Equal(t, os.ModeSetuid|0o755, byName["setuid"].Mode)
	require.Equal(t, os.ModeSetgid|0o750, byName["setgid"].Mode)
	require.Equal(t, os.ModeDir|os.ModeSticky|0o777, byName["sticky"].Mode)
	require.Equal(t, os.ModeSocket, byName["sock"].Mode.Type())
}

// readAll collects what a dirReader gives, by name; the names are copied, as
// each batch reuses them.
func readAll(dir *os.File) (map[string]Entry, error) {
	r, err := newDirReader(dir)
	if err != nil {
		return nil, err
	}
	byName := map[string]Entry{}
	for {
		batch, err := r.next()
		if errors.Is(err, io.EOF) {
			return byName, nil
		}
		if err != nil {
			return byName, err
		}
		for _, e := range batch {
			byName[string(e.Name)] = e
		}
	}
}

// TestDirReaderOfAFile: a file is no directory to read.
func TestDirReaderOfAFile(t *testing.T) {
	name := filepath.Join(t.TempDir(), "f")
	writeFile(t, name, "x", 0o644)
	f, err := os.Open(name)
	require.NoError(t, err)
	defer f.Close()
	_, err = readAll(f)
	require.ErrorIs(t, err, syscall.ENOTDIR)
}
