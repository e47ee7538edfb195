package rootfs

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReadlinkShowsOnlyTargetsInsideTheHome(t *testing.T) {
	f := newFixture(t, Options{})
	require.NoError(t, os.Symlink("../file.txt", filepath.Join(f.home, "dir", "up")))
	require.NoError(t, os.Symlink("../../home/file.txt", filepath.Join(f.home, "dir", "around")))
	tests := []struct {
		name, want string
		err        error
	}{
		{"inlink", "file.txt", nil},
		{"/indir", "dir", nil},
		{"dangling", "nowhere", nil},
		{"dir/up", "../file.txt", nil},
		{"dir/around", "", ErrOutsideHome}, // climbs above the home, even to come back
		{"shadow", "", ErrOutsideHome},     // absolute
		{"sib", "", ErrOutsideHome},
		{"sibfile", "", ErrOutsideHome},
		{"file.txt", "", syscall.EINVAL}, // not a symlink
		{"missing", "", fs.ErrNotExist},
	}
	for _, tt := range tests {
		got, err := f.fsys.Readlink(tt.name)
		if tt.err == nil {
			require.NoError(t, err, tt.name)
			require.Equal(t, tt.want, got, tt.name)
			continue
		}
		require.Error(t, err, tt.name)
		require.True(t, errors.Is(err, tt.err), "%s: %v", tt.name, err)
		require.NotContains(t, err.Error(), f.base, "%s: the host path shows", tt.name)
	}
}

func TestLstatDoesNotFollow(t *testing.T) {
	f := newFixture(t, Options{})
	for _, name := range []string{"shadow", "sib", "inlink", "dangling"} {
		fi, err := f.fsys.Lstat(name)
		require.NoError(t, err, name)
		require.Equal(t, fs.ModeSymlink, fi.Mode().Type(), name)
	}
	fi, err := f.fsys.Lstat("/dir/../file.txt")
	require.NoError(t, err)
	require.True(t, fi.Mode().IsRegular())
}

func TestLinkStaysInsideTheHome(t *testing.T) {
	tests := []struct {
		name, old, new string
		opts           Options
		err            error
	}{
		{"a file", "file.txt", "dir/hard.txt", Options{}, nil},
		{"a symlink out, as itself", "shadow", "shadow2", Options{}, nil},
		{"through a symlink out", "sib/neighbour.txt", "stolen", Options{}, ErrOutsideHome},
		{"into a symlink out", "file.txt", "sib/planted", Options{}, ErrOutsideHome},
		{"a directory", "dir", "dir2", Options{}, fs.ErrPermission},
		{"onto a name taken", "file.txt", "dir/inner.txt", Options{}, fs.ErrExist},
		{"read-only", "file.txt", "copy.txt", Options{ReadOnly: true}, ErrReadOnly},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, tt.opts)
			before := snapshot(t, f.base)
			err := f.fsys.Link(tt.old, tt.new)
			if tt.err != nil {
				require.Error(t, err)
				require.True(t, errors.Is(err, tt.err), "%v", err)
				require.Equal(t, before, snapshot(t, f.base), "a refused link changed something")
				return
			}
			require.NoError(t, err)
			a, err := os.Lstat(filepath.Join(f.home, tt.old))
			require.NoError(t, err)
			b, err := os.Lstat(filepath.Join(f.home, tt.new))
			require.NoError(t, err)
			require.True(t, os.SameFile(a, b))
		})
	}
	// The symlink linked as itself still leads nowhere readable.
	f := newFixture(t, Options{})
	require.NoError(t, f.fsys.Link("shadow", "shadow2"))
	_, err := f.fsys.Stat("shadow2")
	require.ErrorIs(t, err, ErrOutsideHome)
}

func TestStatFS(t *testing.T) {
	f := newFixture(t, Options{})
	st, err := f.fsys.StatFS()
	require.NoError(t, err)
	require.NotZero(t, st.Blocks)
	require.NotZero(t, st.Bsize)
}
