package lastlogin

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var t0 = time.Date(2026, 12, 6, 3, 30, 0, 0, time.UTC)

func TestRecordAndFlush(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", FileName)
	b := NewBook(path)
	b.Record("alice", netip.MustParseAddr("127.0.0.2"), "ftp", t0)
	b.Record("bob", netip.MustParseAddr("::ffff:192.0.2.7"), "ftps", t0.Add(time.Minute))
	b.Record("alice", netip.MustParseAddr("2001:db8::1"), "ftps", t0.Add(2*time.Minute+500*time.Millisecond))
	_, err := os.Stat(path)
	require.ErrorIs(t, err, os.ErrNotExist, "nothing is written at the time of the login")

	require.NoError(t, b.Flush())
	got, err := Read(path)
	require.NoError(t, err)
	require.Equal(t, map[string]Login{
		"alice": {Time: t0.Add(2 * time.Minute), Address: "2001:db8::1", Protocol: "ftps"},
		"bob":   {Time: t0.Add(time.Minute), Address: "192.0.2.7", Protocol: "ftps"},
	}, got)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), fi.Mode().Perm())
}

func TestFlushMergesWithTheFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	first, second := NewBook(path), NewBook(path)
	first.Record("alice", netip.MustParseAddr("127.0.0.1"), "ftp", t0.Add(time.Hour))
	first.Record("bob", netip.MustParseAddr("127.0.0.1"), "ftp", t0)
	require.NoError(t, first.Flush())
	// An older record (a book flushed late) does not replace a newer one.
	second.Record("alice", netip.MustParseAddr("127.0.0.9"), "ftp", t0)
	second.Record("carol", netip.MustParseAddr("127.0.0.3"), "ftp", t0)
	require.NoError(t, second.Flush())
	got, err := Read(path)
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1", got["alice"].Address)
	require.Equal(t, "127.0.0.3", got["carol"].Address)
	require.Len(t, got, 3)

	require.NoError(t, Forget(path, "alice"))
	got, err = Read(path)
	require.NoError(t, err)
	require.NotContains(t, got, "alice")
	require.Len(t, got, 2)
}

func TestFlushesByItself(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	b := NewBook(path)
	b.Record("alice", netip.MustParseAddr("127.0.0.2"), "ftp", t0)
	deadline := time.Now().Add(FlushEvery + 10*time.Second)
	for {
		got, err := Read(path)
		require.NoError(t, err)
		if len(got) == 1 {
			require.Equal(t, "127.0.0.2", got["alice"].Address)
			return
		}
		require.True(t, time.Now().Before(deadline), "not written within %s", FlushEvery)
		time.Sleep(50 * time.Millisecond) // polling a file nobody signals about
	}
}

func TestFailedFlushKeepsTheLogins(t *testing.T) {
	dir := t.TempDir()
	blocker := filepath.Join(dir, "not-a-dir")
	require.NoError(t, os.WriteFile(blocker, nil, 0o600))
	b := NewBook(filepath.Join(blocker, FileName))
	b.Record("alice", netip.MustParseAddr("127.0.0.2"), "ftp", t0)
	require.Error(t, b.Flush())
	b.path = func() string { return filepath.Join(dir, FileName) }
	require.NoError(t, b.Flush())
	got, err := Read(b.path())
	require.NoError(t, err)
	require.Equal(t, "127.0.0.2", got["alice"].Address)
}

func TestReadRefusesGarbage(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	got, err := Read(path)
	require.NoError(t, err)
	require.Empty(t, got)
	require.NoError(t, os.WriteFile(path, []byte("{not json"), 0o600))
	_, err = Read(path)
	require.ErrorContains(t, err, "is not valid")
	require.NoError(t, Forget(filepath.Join(t.TempDir(), FileName), "alice"), "nothing to forget")
}
