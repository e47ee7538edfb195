package rootfs

import (
	"os"
	"path/filepath"
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

	res, err := SweepUploads(dir, start, SweepLimits{Entries: 1000, Duration: time.Minute})
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

	// A bound on entries stops the walk and says so.
	res, err = SweepUploads(dir, start, SweepLimits{Entries: 2, Duration: time.Minute})
	require.NoError(t, err)
	assert.False(t, res.Complete)
}
