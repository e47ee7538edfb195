package sftpd

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/ftpd/rootfs"
	"github.com/jelastic/jelastic-ftp/users/perm"
)

// folderOf makes a folder of n empty files named f00000, f00001, …
func folderOf(tb testing.TB, n int) string {
	tb.Helper()
	dir := tb.TempDir()
	for i := range n {
		if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%05d", i)), nil, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	return dir
}

// listHandler is a handler of the folder home, with only what a listing needs.
func listHandler(tb testing.TB, home string) *handler {
	tb.Helper()
	fsys, err := rootfs.New(home, rootfs.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { fsys.Close() })
	return &handler{fs: fsys, perms: perm.Of(perm.List)}
}

// readDir lists "/" as pkg/sftp does, sftp.MaxFilelist names at a time, calling
// name with each and readdir after each READDIR; it returns how many it listed.
func readDir(tb testing.TB, h *handler, name func(string), readdir func()) int {
	tb.Helper()
	la, err := h.Filelist(sftp.NewRequest("List", "/"))
	if err != nil {
		tb.Fatal(err)
	}
	if c, ok := la.(io.Closer); ok { // as pkg/sftp closes it
		defer c.Close()
	}
	out := make([]os.FileInfo, sftp.MaxFilelist)
	for off := int64(0); ; {
		n, err := la.ListAt(out, off)
		for _, fi := range out[:n] {
			name(fi.Name())
		}
		off += int64(n)
		readdir()
		if errors.Is(err, io.EOF) {
			return int(off)
		}
		if err != nil {
			tb.Fatal(err)
		}
	}
}

// TestListingStreams: a folder of far more entries than one rootfs batch is listed
// whole and once, and what a listing holds between READDIRs stays the same whatever
// the folder's size (before, a listing held every entry until the client closed it).
func TestListingStreams(t *testing.T) {
	const entries = 30_000
	h := listHandler(t, folderOf(t, entries))
	seen := make([]bool, entries)
	var before, m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	var most uint64
	readdirs := 0
	n := readDir(t, h, func(name string) {
		var i int
		_, err := fmt.Sscanf(name, "f%05d", &i)
		require.NoError(t, err, name)
		require.False(t, seen[i], "%s listed twice", name)
		seen[i] = true
	}, func() {
		// Every 30 READDIRs: a GC after each would take long under -race.
		if readdirs++; readdirs%30 == 1 {
			runtime.GC()
			runtime.ReadMemStats(&m)
			most = max(most, m.HeapAlloc)
		}
	})
	require.Equal(t, entries, n)
	require.NotContains(t, seen, false)
	// Entries held: 30,000 would take over 2 MiB; one batch (a 32 KiB getdents
	// buffer and at most 1,366 entries) takes about 100 KiB.
	held := int64(most) - int64(before.HeapAlloc)
	require.Less(t, held, int64(512<<10), "a listing held %d bytes between READDIRs", held)
}

// TestListingInOrderOnly: pkg/sftp reads a listing from the start, in order; any
// other offset is refused rather than answered with the wrong entries.
func TestListingInOrderOnly(t *testing.T) {
	h := listHandler(t, folderOf(t, 10))
	la, err := h.Filelist(sftp.NewRequest("List", "/"))
	require.NoError(t, err)
	defer la.(io.Closer).Close()
	out := make([]os.FileInfo, 4)
	n, err := la.ListAt(out, 0)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	_, err = la.ListAt(out, 2)
	require.ErrorIs(t, err, sftp.ErrSSHFxFailure)
	n, err = la.ListAt(out, 4)
	require.NoError(t, err)
	require.Equal(t, 4, n)
	n, err = la.ListAt(out, 8)
	require.ErrorIs(t, err, io.EOF)
	require.Equal(t, 2, n)
	n, err = la.ListAt(out, 10)
	require.ErrorIs(t, err, io.EOF)
	require.Zero(t, n)
}

// BenchmarkListing lists a folder of 10,000 files as pkg/sftp asks for it.
func BenchmarkListing(b *testing.B) {
	const entries = 10_000
	h := listHandler(b, folderOf(b, entries))
	b.ReportAllocs()
	for b.Loop() {
		if n := readDir(b, h, func(string) {}, func() {}); n != entries {
			b.Fatalf("%d entries listed, want %d", n, entries)
		}
	}
}

// TestUploadSizes: new files of every size class — empty, kept in memory until the
// close (one write, several out of order, the most kept), and written as they come
// (past the most kept, and far past) — show up only when closed, whole; a cut one of
// each leaves nothing.
func TestUploadSizes(t *testing.T) {
	home, addr := testServer(t, perm.All, nil)
	for _, size := range []int{0, 4 << 10, 100 << 10, smallUpload, smallUpload + 1, 2 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			data := make([]byte, size)
			rand.Read(data)
			name := fmt.Sprintf("new-%d.bin", size)
			_, sc := sftpClient(t, addr)
			f, err := sc.Create(name)
			require.NoError(t, err)
			_, err = f.ReadFrom(bytes.NewReader(data)) // concurrent writes of 32 KiB
			require.NoError(t, err)
			_, err = os.Lstat(filepath.Join(home, name))
			require.ErrorIs(t, err, fs.ErrNotExist, "published before Close")
			require.NoError(t, f.Close())
			got, err := os.ReadFile(filepath.Join(home, name))
			require.NoError(t, err)
			require.True(t, bytes.Equal(data, got), "the upload arrived changed: %d bytes of %d", len(got), size)

			c2, sc2 := sftpClient(t, addr)
			cut := "cut-" + name
			f, err = sc2.Create(cut)
			require.NoError(t, err)
			_, err = f.ReadFrom(bytes.NewReader(data))
			require.NoError(t, err)
			c2.Close() // the connection ends with the handle open
			require.Eventually(t, func() bool { return smallBytes.Load() == 0 }, 5*time.Second, 10*time.Millisecond,
				"a cut upload kept its memory")
			_, err = os.Lstat(filepath.Join(home, cut))
			require.ErrorIs(t, err, fs.ErrNotExist, "a cut upload was published")
		})
	}
	entries, err := os.ReadDir(home)
	require.NoError(t, err)
	require.Len(t, entries, 6, "only the closed uploads, and no temporary file")
}
