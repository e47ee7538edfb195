package rootfs

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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

func TestWalksBefore(t *testing.T) {
	for _, tt := range []struct {
		a, b string
		want bool
	}{
		{"a", "b", true},
		{"b", "a", false},
		{"a", "a/b", true}, // a folder before what it holds
		{"a/b", "a", false},
		{"a/z", "b", true},   // all of a before b
		{"a/z", "a.b", true}, // by name, not by whole path: "a" < "a.b", though "a/" > "a."
		{"a.b", "a/z", false},
		{"a/b/c", "a/c", true},
		{"x", "x", false},
	} {
		require.Equal(t, tt.want, walksBefore(tt.a, tt.b), "%s before %s", tt.a, tt.b)
	}
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

// TestSweepResumes: a sweep stopped after its first batch reports where it was, and
// the next one, started there, visits the rest and then the start, so every leftover
// goes, those beyond the first batch included.
func TestSweepResumes(t *testing.T) {
	dir, start := t.TempDir(), time.Now()
	leftovers := sweepTree(t, dir, start)
	ctx, cancel := context.WithCancel(context.Background())
	var cursors []string
	res, err := SweepUploads(ctx, dir, start, SweepOptions{Batch: 8, Pause: time.Hour, Progress: func(c string) {
		cursors = append(cursors, c)
		cancel()
	}})
	require.NoError(t, err)
	require.False(t, res.Complete)
	require.Equal(t, []string{"d1"}, cursors, "8 entries: d0, its leftover and 5 files, d1")
	require.Equal(t, 1, res.Removed, "the first batch held one leftover")

	var visited []string
	res, err = SweepUploads(context.Background(), dir, start, SweepOptions{From: cursors[0], Batch: 1, Progress: func(c string) { visited = append(visited, c) }})
	require.NoError(t, err)
	require.True(t, res.Complete)
	require.Equal(t, 4, res.Removed)
	require.Equal(t, "d1/.z"+uploadMarker+"0123456789abcdef", visited[0], "it goes on right after the cursor")
	require.Equal(t, "d0", visited[slices.Index(visited, "d4/f4")+1], "then from the start")
	require.Equal(t, "d1", visited[len(visited)-2], "up to the cursor")
	require.Equal(t, "", visited[len(visited)-1], "and says when the tree was all visited")
	for _, p := range leftovers {
		_, err := os.Lstat(p)
		require.True(t, os.IsNotExist(err), "%s is left", p)
	}
}
