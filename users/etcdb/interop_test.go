package etcdb

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/internal/testtool"
)

// TestUseraddReadsOurFiles edits a root directory the way the users package
// does, then lets shadow-utils' useradd --prefix add an account to the result:
// useradd must accept our lines and lock files, and its output must parse back
// with our entry, the comments and the NIS line intact.
func TestUseraddReadsOurFiles(t *testing.T) {
	requireRoot(t)
	useradd := testtool.Require(t, "useradd")
	root := t.TempDir()
	etc := filepath.Join(root, "etc")
	require.NoError(t, os.Mkdir(etc, 0o755))
	files := map[string]struct {
		kind    Kind
		content string
		mode    os.FileMode
	}{
		"passwd":  {Passwd, "# local accounts\n" + debianPasswd + "+@netgroup:x:::::\n", 0o644},
		"shadow":  {Shadow, debianShadow, 0o640},
		"group":   {Group, debianGroup, 0o644},
		"gshadow": {GShadow, debianGShadow, 0o640},
	}
	for name, f := range files {
		require.NoError(t, os.WriteFile(filepath.Join(etc, name), []byte(f.content), f.mode))
	}

	order := []string{"passwd", "group", "gshadow", "shadow"}
	ctx := ctxWithin(t, 5*time.Second)
	l, err := Lock(ctx, etc, order...)
	require.NoError(t, err)
	for _, name := range order {
		f, err := Parse(files[name].kind, []byte(files[name].content))
		require.NoError(t, err)
		require.NoError(t, f.Add(sample(files[name].kind, "ftpa")))
		require.NoError(t, WriteFile(filepath.Join(etc, name), f.Bytes()))
	}
	require.NoError(t, l.Unlock())
	// A stale lock in our format must be one useradd recognises and steals.
	require.NoError(t, os.WriteFile(filepath.Join(etc, "shadow.lock"), []byte(strconv.Itoa(deadPID(t))+"\x00"), 0o600))

	out, err := exec.Command(useradd, "--prefix", root, "-M", "-N", "-g", "700", "-s", "/usr/sbin/nologin", "ftpb").CombinedOutput()
	require.NoError(t, err, "%s", out)

	data, err := os.ReadFile(filepath.Join(etc, "passwd"))
	require.NoError(t, err)
	passwd, err := Parse(Passwd, data)
	require.NoError(t, err)
	a, err := passwd.Lookup("ftpa")
	require.NoError(t, err)
	require.Equal(t, sample(Passwd, "ftpa"), a)
	_, err = passwd.Lookup("ftpb")
	require.NoError(t, err)
	require.Equal(t, data, passwd.Bytes())
	require.Regexp(t, `^# local accounts\n`, string(data))
	require.Regexp(t, `\nftpb:[^\n]*\n\+@netgroup:x:::::\n$`, string(data), "useradd, like us, adds before the NIS line")

	data, err = os.ReadFile(filepath.Join(etc, "shadow"))
	require.NoError(t, err)
	shadow, err := Parse(Shadow, data)
	require.NoError(t, err)
	_, err = shadow.Lookup("ftpb")
	require.NoError(t, err)
	require.NotContains(t, dirNames(t, etc), "shadow.lock")
}
