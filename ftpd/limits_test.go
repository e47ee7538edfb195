package ftpd

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/internal/admission"
	"github.com/jelastic/jelastic-ftp/internal/testtool"
)

// TestLoginDeadline: commands before login do not extend it; the session
// is closed at the deadline with 421, and a login in time stays.
func TestLoginDeadline(t *testing.T) {
	t.Parallel()
	const timeout = time.Second
	ts := startServer(t, func(s *Settings) { s.LoginTimeout = timeout })
	start := time.Now()
	c := dialFTP(t, ts.addr)
	in := dialFTP(t, ts.addr)
	in.login()
	var code int
	var msg string
	for range 50 { // a NOOP every 100 ms: 5 s at most
		if code, msg = c.cmd("NOOP"); code != 200 {
			break
		}
		time.Sleep(100 * time.Millisecond) // the client's pace, not a synchronisation
	}
	require.Equal(t, 421, code, msg)
	require.Equal(t, "Login timeout (1 seconds): closing control connection.", msg)
	require.GreaterOrEqual(t, time.Since(start), timeout)
	require.Less(t, time.Since(start), 2*timeout+time.Second, "the NOOPs must not have moved the deadline")
	require.True(t, c.closed())
	in.must(200, "NOOP") // the one logged in stays
	require.Contains(t, ts.logs.String(), `msg="no login before the login timeout; closing" client=127.0.0.1`)
}

// TestSessionCapsBeforeLoginAndPerUser: sessions not logged in are capped per
// address and in all, below the total, so logged-in clients and other
// addresses still get in; a user has at most MaxSessionsPerUser sessions.
func TestSessionCapsBeforeLoginAndPerUser(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(s *Settings) {
		s.MaxSessions = 10
		s.MaxSessionsPerIP = 10
		s.MaxSessionsBeforeLogin = 3
		s.MaxSessionsBeforeLoginPerIP = 2
		s.MaxSessionsPerUser = 2
	})
	from := dialerFrom
	refused := func(d *net.Dialer, reason string) { t.Helper(); ts.requireRefused(t, d, reason) }
	first := dialFTPFrom(t, from(1), ts.addr)
	dialFTPFrom(t, from(1), ts.addr)
	refused(from(1), "Too many connections waiting to log in from your address.")
	dialFTPFrom(t, from(2), ts.addr)
	refused(from(3), "Too many connections waiting to log in, try again later.")

	// A login frees a place before login.
	first.login()
	second := dialFTPFrom(t, from(1), ts.addr)
	second.login()
	third := dialFTPFrom(t, from(3), ts.addr)
	third.must(331, "USER %s", testUser)
	third.must(421, "PASS %s", testPassword)
	require.True(t, third.closed())
	require.Contains(t, ts.logs.String(), `msg="login refused: too many sessions for the user" client=127.0.0.3 user=alice limit=2`)
}

// TestPASVOverIPv6 points to EPSV: PASV cannot carry an IPv6 address.
func TestPASVOverIPv6(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "[::1]:0")
	if err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	}
	ts := startServerOn(t, l)
	c := dialFTP(t, ts.addr)
	c.login()
	require.Equal(t, "PASV cannot announce an IPv6 address: use EPSV.", c.must(522, "PASV"))
	c.must(229, "EPSV")
}

// TestRepeatedWarningsAreCounted: a client sending unknown commands gets
// a few warning lines, then one line with the count when it leaves.
func TestRepeatedWarningsAreCounted(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := dialFTP(t, ts.addr)
	for range 100 {
		c.must(500, "BOGUS")
	}
	c.must(221, "QUIT")
	waitFor(t, "the session to end", func() bool { return strings.Contains(ts.logs.String(), `msg="session closed"`) })
	logs := ts.logs.String()
	require.Equal(t, warnBurst, strings.Count(logs, `msg="unknown command" client=127.0.0.1 command=BOGUS`), logs)
	require.Contains(t, logs, `msg="warnings left out" client=127.0.0.1 warning="unknown command" count=95`)
}

// TestUploadWhoseClientLeavesIsNotPublished: the client closes its control
// connection, then its data connection cleanly, as a killed client's kernel
// does: the old file stays, and the transfer is logged as aborted. One that
// keeps its control connection replaces the file. (The data connection is
// closed once the server has seen the control connection end: closed in
// the same instant from two CPUs, the two ends may reach the server in
// either order; a killed process closes them from one.)
func TestUploadWhoseClientLeavesIsNotPublished(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.writeHome(t, "page.php", []byte("old"))
	c := dialFTP(t, ts.addr)
	c.login()
	data := c.startStor("page.php")
	_, err := data.Write([]byte("<?php half"))
	require.NoError(t, err)
	require.NoError(t, c.conn.Close())
	waitFor(t, "the session to end", func() bool { return strings.Contains(ts.logs.String(), `msg="session closed"`) })
	require.NoError(t, data.Close())
	waitFor(t, "the upload to end", func() bool {
		return strings.Contains(ts.logs.String(), "msg=transfer client=127.0.0.1 user=alice direction=upload path=/page.php")
	})
	// Depending on which end the server sees first, it read the part or not.
	require.Regexp(t, `path=/page\.php bytes=(0|10) duration=\S+ status=aborted`, ts.logs.String())
	require.Equal(t, "old", string(ts.readHome(t, "page.php")))
	entries, err := os.ReadDir(ts.home)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file is left")

	c = dialFTP(t, ts.addr)
	c.login()
	c.stor("page.php", []byte("<?php whole"))
	require.Equal(t, "<?php whole", string(ts.readHome(t, "page.php")))
}

// TestImplicitFTPS serves implicit FTPS (TLS from the first byte) beside
// explicit FTPS on one server: curl's ftps:// downloads with PROT P, and a
// client that speaks plain FTP to it gets no greeting.
func TestImplicitFTPS(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.writeHome(t, "hello.txt", []byte("over implicit TLS\n"))
	implicit := ts.serveImplicitTLS(t)
	out, err := runTool(t, "curl", "-sS", "-k", "--max-time", "15", "-u", testUser+":"+testPassword,
		"ftps://"+implicit+"/hello.txt")
	require.NoError(t, err, out)
	require.Equal(t, "over implicit TLS\n", out)

	plain, err := net.DialTimeout("tcp", implicit, 5*time.Second)
	require.NoError(t, err)
	defer plain.Close()
	_, err = plain.Write([]byte("USER alice\r\n"))
	require.NoError(t, err)
	require.NoError(t, plain.SetReadDeadline(time.Now().Add(10*time.Second)))
	got, _ := io.ReadAll(plain)
	require.False(t, strings.HasPrefix(string(got), "220"), "no clear greeting on the implicit TLS port: %q", got)
}

// serveImplicitTLS serves implicit FTPS on a new listener until the test ends, and
// returns its address.
func (ts *testServer) serveImplicitTLS(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- ts.srv.ServeImplicitTLS(l) }()
	t.Cleanup(func() {
		l.Close()
		<-served
	})
	return l.Addr().String()
}

// homeOnceMissing gives testUser a missing home at the first login only.
type homeOnceMissing struct {
	fakeAuth
	calls atomic.Int32
}

func (a *homeOnceMissing) Authenticate(ctx context.Context, user, password string, client netip.Addr) (Account, error) {
	acct, err := a.fakeAuth.Authenticate(ctx, user, password, client)
	if a.calls.Add(1) == 1 {
		acct.Home = filepath.Join(a.home, "missing")
	}
	return acct, err
}

// TestFailedLoginLeavesNoSessionCounted: a login whose home cannot be
// opened counts neither as waiting nor as the user's session afterwards.
func TestFailedLoginLeavesNoSessionCounted(t *testing.T) {
	t.Parallel()
	settings := DefaultSettings()
	settings.MaxSessionsPerUser = 1
	settings.MaxSessionsBeforeLoginPerIP = 1
	logs := &testtool.SyncBuffer{}
	settings.Logger = slog.New(slog.NewTextHandler(logs, nil))
	srv, err := New(settings, &homeOnceMissing{fakeAuth: fakeAuth{home: t.TempDir()}})
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	serveUntilCleanup(t, srv, l)

	c := dialFTP(t, l.Addr().String())
	c.must(331, "USER %s", testUser)
	c.must(421, "PASS %s", testPassword)
	require.True(t, c.closed())
	waitFor(t, "the session to end", func() bool { return len(srv.Sessions()) == 0 })
	dialFTP(t, l.Addr().String()).login()
}

// TestBannedAtAccept: a source banned in the server's gate gets 421 before any
// greeting, on plain FTP; on implicit FTPS the connection is closed without a
// handshake. The refusal is logged once per ban; other addresses get in, and the
// limits of a shared gate hold for the server.
func TestBannedAtAccept(t *testing.T) {
	t.Parallel()
	gate, err := admission.New(admission.Limits{MaxSessions: 10, MaxSessionsPerIP: 10, MaxSessionsBeforeLogin: 10, MaxSessionsBeforeLoginPerIP: 10, MaxSessionsPerUser: 1})
	require.NoError(t, err)
	ts := startServer(t, func(s *Settings) { s.Gate = gate })
	now := time.Now()
	require.NoError(t, gate.Ban(netip.MustParsePrefix("127.0.0.7/32"), now.Add(time.Minute), now))

	for range 3 {
		ts.requireRefused(t, dialerFrom(7), admission.ReasonBanned)
	}
	require.Equal(t, 1, strings.Count(ts.logs.String(), `msg="connection refused: client banned" client=127.0.0.7 source=127.0.0.7/32 until=`), ts.logs.String())
	dialFTPFrom(t, dialerFrom(8), ts.addr).login()
	// max_sessions_per_user is the gate's, not the settings' (the default, higher).
	c := dialFTPFrom(t, dialerFrom(9), ts.addr)
	c.must(331, "USER %s", testUser)
	c.must(421, "PASS %s", testPassword)

	implicit := ts.serveImplicitTLS(t)
	conn, err := dialerFrom(7).Dial("tcp", implicit)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	got, err := io.ReadAll(conn)
	require.NoError(t, err, "closed, not timed out")
	require.Empty(t, got, "no handshake and no reply for a banned client on implicit FTPS")
}
