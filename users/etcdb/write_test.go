package etcdb

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

var oldTime = time.Date(2020, 2, 3, 4, 5, 6, 789, time.UTC)

// setupFile creates dir/name with content, mode, owner and an old mtime.
func setupFile(t *testing.T, name, content string, mode uint32, uid, gid int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
	require.NoError(t, os.Chown(path, uid, gid))
	require.NoError(t, unix.Chmod(path, mode))
	require.NoError(t, os.Chtimes(path, oldTime, oldTime))
	return path
}

func statT(t *testing.T, path string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	require.NoError(t, unix.Lstat(path, &st))
	return st
}

// withRename makes WriteFile's renames onto target fail with errno.
func withRename(t *testing.T, target string, errno error) {
	t.Helper()
	t.Cleanup(func() { rename = unix.Rename })
	rename = func(from, to string) error {
		if to == target {
			return errno
		}
		return unix.Rename(from, to)
	}
}

func TestWriteFileKeepsModeOwnerAndBackup(t *testing.T) {
	type owner struct{ uid, gid int }
	owners := []owner{{os.Getuid(), os.Getgid()}}
	if os.Geteuid() == 0 {
		owners = append(owners, owner{0, 42}, owner{1234, 5678})
	}
	for _, o := range owners {
		for _, mode := range []uint32{0o640, 0o000, 0o400, 0o644, 0o600} {
			t.Run(fmt.Sprintf("%04o-%d-%d", mode, o.uid, o.gid), func(t *testing.T) {
				path := setupFile(t, "shadow", debianShadow, mode, o.uid, o.gid)
				newContent := debianShadow + "bob:!:20778:0:99999:7:::\n"
				require.NoError(t, WriteFile(path, []byte(newContent)))

				got, err := os.ReadFile(path)
				require.NoError(t, err)
				require.Equal(t, newContent, string(got))
				backup, err := os.ReadFile(path + "-")
				require.NoError(t, err)
				require.Equal(t, debianShadow, string(backup))

				for _, p := range []string{path, path + "-"} {
					st := statT(t, p)
					require.Equal(t, unix.S_IFREG|mode, st.Mode, p)
					require.Equal(t, uint32(o.uid), st.Uid, p)
					require.Equal(t, uint32(o.gid), st.Gid, p)
				}
				bst := statT(t, path+"-")
				require.Equal(t, oldTime.UnixNano(), bst.Mtim.Nano(), "the backup keeps the old mtime")
				require.ElementsMatch(t, []string{"shadow", "shadow-"}, dirNames(t, filepath.Dir(path)), "no temporary file is left")
			})
		}
	}
}

func TestWriteFileUnchangedDoesNothing(t *testing.T) {
	path := setupFile(t, "passwd", debianPasswd, 0o644, os.Getuid(), os.Getgid())
	before := statT(t, path)
	require.NoError(t, WriteFile(path, []byte(debianPasswd)))
	after := statT(t, path)
	require.Equal(t, before.Ino, after.Ino)
	require.Equal(t, []string{"passwd"}, dirNames(t, filepath.Dir(path)))
}

func TestWriteFileRefuses(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, path string)
		want  string
	}{
		{"symlink", func(t *testing.T, path string) {
			target := path + ".real"
			require.NoError(t, os.WriteFile(target, []byte("old\n"), 0o644))
			require.NoError(t, os.Symlink(target, path))
		}, "symbolic link"},
		{"directory", func(t *testing.T, path string) {
			require.NoError(t, os.Mkdir(path, 0o755))
		}, "not a regular file"},
		{"fifo", func(t *testing.T, path string) {
			require.NoError(t, unix.Mkfifo(path, 0o600))
		}, "not a regular file"},
		{"missing", func(t *testing.T, path string) {}, "no such file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "passwd")
			tc.setup(t, path)
			before := dirNames(t, dir)
			err := WriteFile(path, []byte("new\n"))
			require.Error(t, err)
			require.Contains(t, err.Error(), path)
			require.Contains(t, err.Error(), tc.want)
			require.Equal(t, before, dirNames(t, dir), "nothing is created, not even a backup")
			if tc.name == "symlink" {
				got, err := os.ReadFile(path + ".real")
				require.NoError(t, err)
				require.Equal(t, "old\n", string(got))
			}
			if tc.name == "missing" {
				require.ErrorIs(t, err, os.ErrNotExist)
			}
		})
	}
}

func TestWriteFileRenameFailure(t *testing.T) {
	path := setupFile(t, "passwd", debianPasswd, 0o644, os.Getuid(), os.Getgid())
	withRename(t, path, unix.EIO)
	err := WriteFile(path, []byte("new\n"))
	require.ErrorIs(t, err, unix.EIO)
	require.Contains(t, err.Error(), "unchanged")
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, debianPasswd, string(got))
	require.ElementsMatch(t, []string{"passwd", "passwd-"}, dirNames(t, filepath.Dir(path)), "the temporary file is removed")
}

func TestWriteFileBackupFailure(t *testing.T) {
	path := setupFile(t, "passwd", debianPasswd, 0o644, os.Getuid(), os.Getgid())
	withRename(t, path+"-", unix.ENOSPC)
	err := WriteFile(path, []byte("new\n"))
	require.ErrorIs(t, err, unix.ENOSPC)
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, debianPasswd, string(got))
	require.Equal(t, []string{"passwd"}, dirNames(t, filepath.Dir(path)))
}

func TestWriteFileInPlaceFallback(t *testing.T) {
	for _, errno := range []error{unix.EBUSY, unix.EXDEV} {
		for _, tc := range []struct{ name, content string }{
			{"longer", debianPasswd + "bob:x:700:700::/home/bob:/bin/sh\n"},
			{"shorter", "root:x:0:0:root:/root:/bin/bash\n"},
			{"same length", strings.Replace(debianPasswd, "root:x:", "root:*:", 1)},
			{"empty", ""},
		} {
			t.Run(errno.Error()+"/"+tc.name, func(t *testing.T) {
				path := setupFile(t, "passwd", debianPasswd, 0o640, os.Getuid(), os.Getgid())
				before := statT(t, path)
				withRename(t, path, errno)
				require.NoError(t, WriteFile(path, []byte(tc.content)))
				got, err := os.ReadFile(path)
				require.NoError(t, err)
				require.Equal(t, tc.content, string(got))
				after := statT(t, path)
				require.Equal(t, before.Ino, after.Ino, "rewritten in place")
				require.Equal(t, before.Mode, after.Mode)
				backup, err := os.ReadFile(path + "-")
				require.NoError(t, err)
				require.Equal(t, debianPasswd, string(backup))
				require.ElementsMatch(t, []string{"passwd", "passwd-"}, dirNames(t, filepath.Dir(path)))
			})
		}
	}
}

// TestWriteFileBindMount replaces a file that really is a bind mount, in a
// helper process with its own mount namespace.
func TestWriteFileBindMount(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	target := filepath.Join(dir, "passwd")
	require.NoError(t, os.WriteFile(src, []byte(debianPasswd), 0o644))
	require.NoError(t, os.WriteFile(target, []byte("placeholder\n"), 0o644))
	content := "root:x:0:0:root:/root:/bin/bash\n"
	cmd := helperCmd(t, "bindwrite", src, target, content)
	cmd.SysProcAttr = &syscall.SysProcAttr{Unshareflags: syscall.CLONE_NEWNS}
	out, err := cmd.CombinedOutput()
	var exitErr *exec.ExitError
	if errors.As(err, &exitErr) && strings.Contains(string(out), "bind-mount") {
		t.Skipf("bind mounts are not permitted here: %s", out)
	}
	require.NoError(t, err, "%s", out)
	got, err := os.ReadFile(src)
	require.NoError(t, err)
	require.Equal(t, content, string(got), "the mounted file received the new content")
	backup, err := os.ReadFile(target + "-")
	require.NoError(t, err)
	require.Equal(t, debianPasswd, string(backup))
}

func TestWriteFileRemovesStaleTemps(t *testing.T) {
	path := setupFile(t, "group", debianGroup, 0o644, os.Getuid(), os.Getgid())
	dir := filepath.Dir(path)
	for _, name := range []string{".group.jftp123", ".group-.jftp456", ".group.jftpx", "group.123", ".gshadow.jftp1"} {
		require.NoError(t, os.WriteFile(filepath.Join(dir, name), nil, 0o600))
	}
	require.NoError(t, WriteFile(path, []byte("new:x:1:\n")))
	require.ElementsMatch(t, []string{"group", "group-", ".group.jftpx", "group.123", ".gshadow.jftp1"}, dirNames(t, dir))
}

func TestWriteFileTempHasFinalPermissions(t *testing.T) {
	path := setupFile(t, "gshadow", debianGShadow, 0o000, os.Getuid(), os.Getgid())
	var seen []unix.Stat_t
	t.Cleanup(func() { rename = unix.Rename })
	rename = func(from, to string) error {
		require.True(t, strings.HasPrefix(filepath.Base(from), "."), "temporary names are hidden: %s", from)
		seen = append(seen, statT(t, from))
		return unix.Rename(from, to)
	}
	require.NoError(t, WriteFile(path, []byte("g:!::\n")))
	require.Len(t, seen, 2)
	for _, st := range seen {
		require.Equal(t, uint32(unix.S_IFREG), st.Mode)
	}
}

func TestWriteFileCopiesSELinuxLabel(t *testing.T) {
	requireRoot(t)
	path := setupFile(t, "shadow", debianShadow, 0o640, 0, 0)
	label := []byte("system_u:object_r:shadow_t:s0\x00")
	if err := unix.Setxattr(path, selinuxXattr, label, 0); err != nil {
		t.Skipf("cannot set %s here: %v", selinuxXattr, err)
	}
	require.NoError(t, WriteFile(path, []byte("new:!::::::::\n")))
	for _, p := range []string{path, path + "-"} {
		buf := make([]byte, 256)
		n, err := unix.Getxattr(p, selinuxXattr, buf)
		require.NoError(t, err, p)
		require.Equal(t, label, buf[:n], p)
	}
}
