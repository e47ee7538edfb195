package ftpd

import (
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/users/perm"
)

// deniedPrefix starts every refusal for a missing permission.
const deniedPrefix = "550 Permission denied: this account may not "

// TestPermissionsByCommand runs every command that needs a permission, and
// some that need none, as a user lacking each permission in turn: exactly
// the commands that need it are refused, with a 550 naming it, and FEAT
// stays the same for every user.
func TestPermissionsByCommand(t *testing.T) {
	t.Parallel()
	// In order on one connection; no data connection is set up, so a
	// transfer command answers 550 after its permission check, and changes
	// no file.
	rows := []struct {
		cmd  string
		need perm.Perm // 0: none
	}{
		{"PWD", 0}, {"CWD dir", 0}, {"CDUP", 0}, {"STAT", 0}, {"SITE HELP", 0}, {"NOOP", 0},
		{"LIST", perm.List}, {"NLST", perm.List}, {"MLSD", perm.List}, {"MLST f.txt", perm.List},
		{"STAT f.txt", perm.List}, {"SIZE f.txt", perm.List}, {"MDTM f.txt", perm.List},
		{"RETR f.txt", perm.Download}, {"HASH f.txt", perm.Download}, {"XMD5 f.txt", perm.Download},
		{"STOR new.txt", perm.Upload}, {"APPE new.txt", perm.Upload}, {"ALLO 10", perm.Upload},
		{"STOR f.txt", perm.Overwrite}, {"APPE f.txt", perm.Overwrite},
		{"DELE missing.txt", perm.Delete},
		{"RNFR f.txt", perm.Rename}, {"RNTO g.txt", perm.Rename}, {"RNFR g.txt", perm.Rename}, {"RNTO f.txt", perm.Rename},
		{"MKD newdir", perm.Mkdir}, {"RMD empty", perm.Rmdir},
		{"SITE CHMOD 644 f.txt", perm.Chmod}, {"MFMT 20200102030405 f.txt", perm.Mtime},
	}
	feat := func(user string) string {
		ts := startServer(t)
		c := dialFTP(t, ts.addr)
		c.loginAs(user)
		_, msg := c.cmd("FEAT")
		return msg
	}
	wantFeat := feat(testUser)
	for _, missing := range append(perm.All.Names(), "") {
		user := testUser
		if missing != "" {
			user = "no-" + missing
		}
		t.Run(user, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, func(s *Settings) { s.AtomicUploads = true })
			ts.writeHome(t, "f.txt", []byte("hello"))
			ts.writeHome(t, "dir/.keep", nil)
			require.NoError(t, os.Mkdir(filepath.Join(ts.home, "empty"), 0o755))
			c := dialFTP(t, ts.addr)
			c.loginAs(user)
			_, msg := c.cmd("FEAT")
			require.Equal(t, wantFeat, msg, "FEAT does not change per user")
			for _, row := range rows {
				code, msg := c.cmd("%s", row.cmd)
				got := strconv.Itoa(code) + " " + msg
				if row.need != 0 && row.need.String() == missing {
					require.Equal(t, permissionDenied(row.need).text, msg, row.cmd)
					require.Equal(t, 550, code, row.cmd)
					require.Contains(t, msg, `(permission "`+missing+`")`, row.cmd)
				} else {
					require.False(t, strings.HasPrefix(got, deniedPrefix), "%s: %s", row.cmd, got)
				}
			}
			require.Equal(t, "hello", string(ts.readHome(t, "f.txt")), "no file changed but by name")
		})
	}
}

// TestPermissionDeniedText pins the refusal's wording, which has words for
// every permission.
func TestPermissionDeniedText(t *testing.T) {
	t.Parallel()
	require.Equal(t, reply{550, `Permission denied: this account may not delete (permission "delete").`}, permissionDenied(perm.Delete))
	for _, name := range perm.All.Names() {
		set, err := perm.Parse(name)
		require.NoError(t, err)
		for i := range len(perm.All.Names()) {
			if p := perm.Perm(1) << i; set.Has(p) {
				require.NotEmpty(t, permissionActions[p], name)
				require.Equal(t, name, p.String())
			}
		}
	}
	require.Len(t, permissionActions, len(perm.All.Names()))
}

// TestRenameOverExistingNeedsOverwrite: a rename onto an existing name
// replaces that file, so it needs overwrite as well as rename.
func TestRenameOverExistingNeedsOverwrite(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.writeHome(t, "a.txt", []byte("a"))
	ts.writeHome(t, "b.txt", []byte("b"))
	c := dialFTP(t, ts.addr)
	c.loginAs("no-overwrite")
	c.must(350, "RNFR a.txt")
	require.Equal(t, permissionDenied(perm.Overwrite).text, c.must(550, "RNTO b.txt"))
	require.Equal(t, "b", string(ts.readHome(t, "b.txt")))
	c.must(350, "RNFR a.txt")
	c.must(250, "RNTO c.txt")
	require.Equal(t, "a", string(ts.readHome(t, "c.txt")))
}

// TestReadOnlyStaysListAndDownload: the read-only account is exactly list
// and download.
func TestReadOnlyStaysListAndDownload(t *testing.T) {
	t.Parallel()
	require.Equal(t, "list,download", perm.ReadOnly.String())
	ts := startServer(t)
	ts.writeHome(t, "f.txt", []byte("hello"))
	c := dialFTP(t, ts.addr)
	c.loginAs("reader")
	c.must(213, "SIZE f.txt")
	require.Equal(t, permissionDenied(perm.Delete).text, c.must(550, "DELE f.txt"))
	require.Equal(t, permissionDenied(perm.Overwrite).text, c.must(550, "STOR f.txt"))
}

// TestAccountSessionLimit: an account's own limit applies beside the
// server's per-user one, and a session that ends frees its place.
func TestAccountSessionLimit(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	first := dialFTP(t, ts.addr)
	first.loginAs("single")
	second := dialFTP(t, ts.addr)
	second.must(331, "USER single")
	require.Equal(t, replyUserSessions.text, second.must(421, "PASS %s", testPassword))
	other := dialFTP(t, ts.addr)
	other.login() // alice has no limit of her own
	first.must(221, "QUIT")
	waitFor(t, "the first session to end", func() bool {
		for _, in := range ts.srv.Sessions() {
			if in.User == "single" {
				return false
			}
		}
		return true
	})
	third := dialFTP(t, ts.addr)
	third.loginAs("single")
}

// TestEndSessions: EndSessions closes the user's sessions but those from
// addresses it keeps, with 421 and its sentence, and discards an atomic
// upload in progress; other users' sessions go on.
func TestEndSessions(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(s *Settings) { s.AtomicUploads = true })
	ts.writeHome(t, "up.bin", []byte("old content"))
	uploading := dialFTPFrom(t, dialerFrom(1), ts.addr)
	uploading.login()
	kept := dialFTPFrom(t, dialerFrom(2), ts.addr)
	kept.login()
	other := dialFTPFrom(t, dialerFrom(1), ts.addr)
	other.loginAs("reader")

	data := uploading.startStor("up.bin")
	_, err := data.Write(make([]byte, 64<<10))
	require.NoError(t, err)
	waitFor(t, "the upload to be under way", func() bool {
		for _, s := range ts.srv.Sessions() {
			if s.Transfer != nil && s.Transfer.Bytes > 0 {
				return true
			}
		}
		return false
	})

	keep := func(a netip.Addr) bool { return a == netip.MustParseAddr("127.0.0.2") }
	require.Equal(t, 1, ts.srv.EndSessions(testUser, keep, "Access taken away."))
	require.NoError(t, uploading.conn.SetDeadline(time.Now().Add(2*time.Second)))
	require.Equal(t, "Access taken away.", uploading.expect(421))
	require.True(t, uploading.closed(), "the session's connection ends")
	waitFor(t, "the upload to be discarded", func() bool {
		entries, err := os.ReadDir(ts.home)
		return err == nil && len(entries) == 1
	})
	require.Equal(t, "old content", string(ts.readHome(t, "up.bin")))
	kept.must(200, "NOOP")
	other.must(200, "NOOP")

	// A login under way when the sessions end fails.
	revoked := ts.srv.revocations(testUser)
	require.Equal(t, 1, ts.srv.EndSessions(testUser, nil, "Access taken away."))
	late := dialFTP(t, ts.addr)
	late.login() // after EndSessions: a new login is fine
	s := newSession(ts.srv, ts.srv.conf.Load(), 0, nil, netip.AddrPort{})
	refusal, _ := ts.srv.loggedIn(s, testUser, 10, revoked)
	require.Equal(t, &replyAccessChanged, refusal)
}
