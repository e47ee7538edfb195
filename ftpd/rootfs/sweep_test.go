package rootfs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

func TestSweepUploads(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	start := time.Now()
	old := start.Add(-time.Hour)
	stale := ".index.php" + uploadMarker + "0123456789abcdef"
	files := []struct {
		path  string
		mtime time.Time
		gone  bool
	}{
		{stale, old, true},
		{"site/deep/" + stale, old, true},
		{"site/.index.php" + uploadMarker + "fedcba9876543210", start.Add(time.Minute), false}, // changed after the cutoff
		{"site/.index.php" + uploadMarker + "xyz", old, false},                                 // not our name
		{"site/.htaccess", old, false},
		{"site/index.php", old, false},
	}
	for _, f := range files {
		p := filepath.Join(dir, f.path)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
		require.NoError(t, os.Chtimes(p, f.mtime, f.mtime))
	}
	// A symlink with a temporary name, and a link to a folder holding one outside.
	require.NoError(t, os.WriteFile(filepath.Join(outside, stale), []byte("x"), 0o644))
	require.NoError(t, os.Chtimes(filepath.Join(outside, stale), old, old))
	require.NoError(t, os.Symlink(filepath.Join(outside, stale), filepath.Join(dir, "site", ".a"+uploadMarker+"0123456789abcdef")))
	require.NoError(t, os.Symlink(outside, filepath.Join(dir, "elsewhere")))

	res, err := SweepUploads(context.Background(), dir, start, SweepOptions{})
	require.NoError(t, err)
	assert.Equal(t, SweepResult{Removed: 2, Complete: true}, res)
	for _, f := range files {
		_, err := os.Stat(filepath.Join(dir, f.path))
		assert.Equal(t, f.gone, os.IsNotExist(err), f.path)
	}
	_, err = os.Lstat(filepath.Join(dir, "site", ".a"+uploadMarker+"0123456789abcdef"))
	assert.NoError(t, err, "a symlink is left alone")
	_, err = os.Stat(filepath.Join(outside, stale))
	assert.NoError(t, err, "nothing outside the root is touched")
}

// sweepTree makes folders d0…d4 holding, first in walk order, a leftover of an upload
// from before start, and files f0…f4; it returns the leftovers.
func sweepTree(t *testing.T, dir string, start time.Time) []string {
	t.Helper()
	old := start.Add(-time.Hour)
	var leftovers []string
	for d := range 5 {
		for f := range 5 {
			p := filepath.Join(dir, fmt.Sprintf("d%d/f%d", d, f))
			require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
			require.NoError(t, os.WriteFile(p, nil, 0o644))
		}
		p := filepath.Join(dir, fmt.Sprintf("d%d/.z%s0123456789abcdef", d, uploadMarker))
		require.NoError(t, os.WriteFile(p, nil, 0o644))
		require.NoError(t, os.Chtimes(p, old, old))
		leftovers = append(leftovers, p)
	}
	return leftovers
}

// TestSweepResumes: a sweep stopped in its second folder reports that folder, and
// the next one, started there, checks it again, visits the rest and then the start
// up to it, so every leftover goes, those beyond the first batch included.
func TestSweepResumes(t *testing.T) {
	dir, start := t.TempDir(), time.Now()
	leftovers := sweepTree(t, dir, start)
	ctx, cancel := context.WithCancel(context.Background())
	var cursors []string
	res, err := SweepUploads(ctx, dir, start, SweepOptions{Batch: 14, Pause: time.Hour, Progress: func(c string) {
		cursors = append(cursors, c)
		cancel()
	}})
	require.NoError(t, err)
	require.False(t, res.Complete)
	require.Equal(t, []string{"d1"}, cursors, "14 entries: the 5 folders, d0's 6 entries, 3 of d1's")
	first := res.Removed
	_, err = os.Lstat(leftovers[0])
	require.True(t, os.IsNotExist(err), "d0's leftover is left")

	var visited []string
	res, err = SweepUploads(context.Background(), dir, start, SweepOptions{From: cursors[0], Batch: 1, Progress: func(c string) {
		if len(visited) == 0 || visited[len(visited)-1] != c {
			visited = append(visited, c)
		}
	}})
	require.NoError(t, err)
	require.True(t, res.Complete)
	require.Equal(t, 5, first+res.Removed)
	require.Equal(t, []string{"d1", "d2", "d3", "d4", ".", "d0", ""}, visited,
		"d1 again, the rest, then from the start up to d1, and the end")
	for _, p := range leftovers {
		_, err := os.Lstat(p)
		require.True(t, os.IsNotExist(err), "%s is left", p)
	}
}

// TestSweepManySubfolders: a folder holding more sub-folders than one chunk is read
// again for the next ones; every sub-folder is visited once, in name order, from the
// start and from a cursor among them.
func TestSweepManySubfolders(t *testing.T) {
	dir, start := t.TempDir(), time.Now()
	old := start.Add(-time.Hour)
	const n = 2*sweepChunk + 17
	var names []string
	for i := range n {
		name := fmt.Sprintf("s%04d", (i*7919)%n) // made out of order
		names = append(names, name)
		p := filepath.Join(dir, name, ".f"+uploadMarker+"0123456789abcdef")
		require.NoError(t, os.Mkdir(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, nil, 0o644))
		require.NoError(t, os.Chtimes(p, old, old))
		require.NoError(t, os.WriteFile(filepath.Join(dir, name, "f"), nil, 0o644)) // read in every sweep
	}
	slices.Sort(names)
	for _, from := range []string{"", names[sweepChunk+3]} {
		var visited []string
		res, err := SweepUploads(context.Background(), dir, start, SweepOptions{From: from, Batch: 1, Progress: func(c string) {
			if c != "." && c != "" && (len(visited) == 0 || visited[len(visited)-1] != c) {
				visited = append(visited, c)
			}
		}})
		require.NoError(t, err)
		require.True(t, res.Complete)
		want := names
		if from != "" {
			i := slices.Index(names, from)
			want = append(slices.Clone(names[i:]), names[:i]...)
			require.Equal(t, 0, res.Removed, "all were removed by the first sweep")
		} else {
			require.Equal(t, n, res.Removed)
		}
		require.Equal(t, want, visited, "from %q", from)
	}
}

// TestSweepMemoryIsBounded: sweeping a folder of 20,000 files allocates a small
// amount whatever their number: the entries stream through one buffer, and only
// sub-folder names and leftovers cost memory. Reading the folder whole took ~100 bytes
// per entry.
func TestSweepMemoryIsBounded(t *testing.T) {
	dir, start := t.TempDir(), time.Now()
	big := filepath.Join(dir, "big")
	require.NoError(t, os.Mkdir(big, 0o755))
	for i := range 20_000 {
		require.NoError(t, unix.Mknod(filepath.Join(big, fmt.Sprintf("entry-with-a-long-name-%d.php", i)), unix.S_IFREG|0o644, 0))
	}
	leftover := filepath.Join(big, ".z"+uploadMarker+"0123456789abcdef")
	require.NoError(t, os.WriteFile(leftover, nil, 0o644))
	old := start.Add(-time.Hour)
	require.NoError(t, os.Chtimes(leftover, old, old))

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	res, err := SweepUploads(context.Background(), dir, start, SweepOptions{Batch: 1000, Progress: func(string) {}})
	runtime.ReadMemStats(&after)
	require.NoError(t, err)
	require.Equal(t, SweepResult{Removed: 1, Complete: true}, res)
	allocated := after.TotalAlloc - before.TotalAlloc
	t.Logf("sweeping 20,001 entries allocated %d bytes", allocated)
	require.Less(t, allocated, uint64(256<<10), "the sweep must stream the folder")
}

// TestSweepChunkBounds: a chunk keeps the smallest names read, within its count and
// byte bounds, and says when it left some out.
func TestSweepChunkBounds(t *testing.T) {
	long := func(i int) string { return fmt.Sprintf("%03d", i) + strings.Repeat("x", 197) } // 200 bytes
	for _, tt := range []struct {
		name string
		n    int
		make func(int) string
		kept int
		more bool
	}{
		{"few", 10, func(i int) string { return fmt.Sprintf("%03d", i) }, 10, false},
		{"by count", 3 * sweepChunk, func(i int) string { return fmt.Sprintf("%04d", i) }, sweepChunk, true},
		{"by bytes", 100, long, sweepChunkBytes / 200, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var c chunk
			var all []string
			for i := range tt.n {
				name := tt.make((i * 7919) % tt.n) // out of order
				all = append(all, name)
				c.keep([]byte(name))
			}
			slices.Sort(all)
			require.Equal(t, all[:tt.kept], c.names)
			require.Equal(t, tt.more, c.more)
		})
	}
}
