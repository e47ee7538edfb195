package ftpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/internal/testtool"
	"github.com/jelastic/jelastic-ftp/users/perm"
)

const (
	testUser     = "alice"
	testPassword = "s3cret pass"
	// clientTimeout bounds every external client run.
	clientTimeout = 20 * time.Second
)

// fakeAuth knows one user with every permission, testUser, a read-only
// user, "reader", a user "no-PERM" for each permission with every one but
// that, and "single", who may have one session at once; all with
// testPassword.
type fakeAuth struct {
	home string
}

func (a fakeAuth) Authenticate(_ context.Context, user, password string, _ netip.Addr) (Account, error) {
	if password != testPassword {
		return Account{}, ErrBadLogin
	}
	switch user {
	case testUser:
		return Account{Name: testUser, Home: a.home}, nil
	case "reader":
		return Account{Name: "reader", Home: a.home, Permissions: perm.ReadOnly}, nil
	case "single":
		return Account{Name: "single", Home: a.home, MaxSessions: 1}, nil
	}
	if name, ok := strings.CutPrefix(user, "no-"); ok {
		if p, ok := allBut(name); ok {
			return Account{Name: user, Home: a.home, Permissions: p}, nil
		}
	}
	return Account{}, ErrBadLogin
}

// allBut returns the set of every permission but the one called name.
func allBut(name string) (perm.Set, bool) {
	var rest []string
	found := false
	for _, n := range perm.All.Names() {
		if n == name {
			found = true
		} else {
			rest = append(rest, n)
		}
	}
	set, err := perm.Parse(strings.Join(rest, ","))
	return set, found && err == nil
}

var (
	certOnce sync.Once
	cert     tls.Certificate
	certErr  error
)

func testCertificate(t testing.TB) tls.Certificate {
	certOnce.Do(func() {
		cert, certErr = selfSignedCertificate([]string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1)})
	})
	require.NoError(t, certErr)
	return cert
}

type testServer struct {
	srv     *Server
	addr    string // host:port of the control connection
	host    string
	port    string
	home    string
	logs    *testtool.SyncBuffer
	xferlog *testtool.SyncBuffer
}

// startServer serves a fresh home on 127.0.0.1 with FTPS, fast login
// failures and the given changes; the server is shut down when the test
// ends.
func startServer(t testing.TB, change ...func(*Settings)) *testServer {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	return startServerOn(t, l, change...)
}

// startServerOn is startServer on a listener of the test's choice.
func startServerOn(t testing.TB, l net.Listener, change ...func(*Settings)) *testServer {
	t.Helper()
	ts := &testServer{home: t.TempDir(), logs: &testtool.SyncBuffer{}, xferlog: &testtool.SyncBuffer{}}
	s := DefaultSettings()
	s.TLS = &tls.Config{Certificates: []tls.Certificate{testCertificate(t)}}
	s.FailedLoginDelay = 50 * time.Millisecond
	s.IdleTimeout = 10 * time.Second
	s.Logger = slog.New(slog.NewTextHandler(ts.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s.TransferLog = ts.xferlog
	for _, c := range change {
		c(&s)
	}
	srv, err := New(s, fakeAuth{home: ts.home})
	require.NoError(t, err)
	ts.srv = srv
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("server log:\n%s", ts.logs.String())
		}
	})
	serveUntilCleanup(t, srv, l)
	ts.addr = l.Addr().String()
	ts.host, ts.port, err = net.SplitHostPort(ts.addr)
	require.NoError(t, err)
	return ts
}

// serveUntilCleanup serves l and shuts the server down when the test ends.
func serveUntilCleanup(t testing.TB, srv *Server, l net.Listener) {
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
		err := <-served
		require.ErrorIs(t, err, ErrServerClosed)
		require.ErrorIs(t, err, net.ErrClosed)
	})
}

// writeHome creates a file under the server's home.
func (ts *testServer) writeHome(t testing.TB, name string, content []byte) {
	t.Helper()
	p := filepath.Join(ts.home, filepath.FromSlash(name))
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	require.NoError(t, os.WriteFile(p, content, 0o644))
}

func (ts *testServer) readHome(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ts.home, filepath.FromSlash(name)))
	require.NoError(t, err)
	return b
}

// runTool runs an external client with a deadline and returns its combined
// output.
func runTool(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	path := testtool.Require(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", "HOME="+t.TempDir())
	cmd.WaitDelay = time.Second
	out, err := cmd.CombinedOutput()
	if ctx.Err() != nil {
		err = fmt.Errorf("%s timed out after %v: %w", name, clientTimeout, ctx.Err())
	}
	return string(out), err
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// dialerFrom dials from 127.0.0.ip.
func dialerFrom(ip byte) *net.Dialer {
	return &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, ip)}, Timeout: 5 * time.Second}
}

// requireRefused connects through d and requires one reply, "421 reason",
// and the connection's end.
func (ts *testServer) requireRefused(t *testing.T, d *net.Dialer, reason string) {
	t.Helper()
	conn, err := d.Dial("tcp", ts.addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	reply, err := io.ReadAll(conn)
	require.NoError(t, err)
	require.Equal(t, "421 "+reason+"\r\n", string(reply))
}

// ftpConn is a bare FTP control connection for protocol-level tests that
// no real client can drive (bad PORT arguments, stolen data connections).
type ftpConn struct {
	t    testing.TB
	conn net.Conn
	text *textproto.Conn
}

func dialFTP(t testing.TB, addr string) *ftpConn {
	t.Helper()
	return dialFTPFrom(t, &net.Dialer{Timeout: 5 * time.Second}, addr)
}

// dialFTPFrom is dialFTP through d, from an address of the test's choice.
func dialFTPFrom(t testing.TB, d *net.Dialer, addr string) *ftpConn {
	t.Helper()
	conn, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	require.NoError(t, conn.SetDeadline(time.Now().Add(clientTimeout)))
	c := &ftpConn{t: t, conn: conn, text: textproto.NewConn(conn)}
	t.Cleanup(func() { c.text.Close() })
	c.expect(220)
	return c
}

// cmd sends a command and returns the reply.
func (c *ftpConn) cmd(format string, args ...any) (int, string) {
	c.t.Helper()
	require.NoError(c.t, c.text.PrintfLine(format, args...))
	return c.read()
}

func (c *ftpConn) read() (int, string) {
	c.t.Helper()
	code, msg, err := c.text.ReadResponse(0)
	var protoErr textproto.ProtocolError
	require.False(c.t, errors.As(err, &protoErr), "bad reply: %v", err)
	if err != nil {
		var replyErr *textproto.Error
		require.ErrorAs(c.t, err, &replyErr)
	}
	return code, msg
}

func (c *ftpConn) expect(want int) string {
	c.t.Helper()
	code, msg := c.read()
	require.Equal(c.t, want, code, "reply %d %s", code, msg)
	return msg
}

func (c *ftpConn) must(want int, format string, args ...any) string {
	c.t.Helper()
	code, msg := c.cmd(format, args...)
	require.Equal(c.t, want, code, "%s: reply %d %s", fmt.Sprintf(format, args...), code, msg)
	return msg
}

func (c *ftpConn) login() {
	c.t.Helper()
	c.loginAs(testUser)
}

// loginAs logs in as one of fakeAuth's users.
func (c *ftpConn) loginAs(user string) {
	c.t.Helper()
	c.must(331, "USER %s", user)
	c.must(230, "PASS %s", testPassword)
}

// startTLS secures the control connection.
func (c *ftpConn) startTLS(config *tls.Config) {
	c.t.Helper()
	c.must(234, "AUTH TLS")
	conn := tls.Client(c.conn, config)
	require.NoError(c.t, conn.Handshake())
	c.conn = conn
	c.text = textproto.NewConn(conn)
}

// epsv opens a passive data port and returns its address.
func (c *ftpConn) epsv(host string) string {
	c.t.Helper()
	msg := c.must(229, "EPSV")
	open, closing := strings.Index(msg, "(|||"), strings.LastIndex(msg, "|)")
	require.True(c.t, open >= 0 && closing > open, "EPSV reply %q", msg)
	return net.JoinHostPort(host, msg[open+4:closing])
}

// passive opens a passive data connection (EPSV), which the test's end
// closes.
func (c *ftpConn) passive() net.Conn {
	c.t.Helper()
	data, err := net.DialTimeout("tcp", c.epsv("127.0.0.1"), 5*time.Second)
	require.NoError(c.t, err)
	c.t.Cleanup(func() { data.Close() })
	return data
}

// startStor opens a passive data connection and starts STOR of name on it.
func (c *ftpConn) startStor(name string) net.Conn {
	return c.start("STOR", name)
}

// startRetr opens a passive data connection and starts RETR of name on it.
func (c *ftpConn) startRetr(name string) net.Conn {
	return c.start("RETR", name)
}

func (c *ftpConn) start(verb, name string) net.Conn {
	c.t.Helper()
	data := c.passive()
	require.NoError(c.t, c.text.PrintfLine("%s %s", verb, name))
	c.expect(150)
	return data
}

// stor uploads content as name.
func (c *ftpConn) stor(name string, content []byte) {
	c.t.Helper()
	data := c.startStor(name)
	_, err := data.Write(content)
	require.NoError(c.t, err)
	require.NoError(c.t, data.Close())
	c.expect(226)
}

// closed tells whether the server closed the connection, after at most a
// few more reply lines.
func (c *ftpConn) closed() bool {
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	for range 10 {
		if _, err := c.text.ReadLine(); err != nil {
			return !errors.Is(err, os.ErrDeadlineExceeded)
		}
	}
	return false
}

// transferOpen tells whether the server's one session has a file transfer
// under way.
func (ts *testServer) transferOpen() bool {
	sessions := ts.srv.Sessions()
	return len(sessions) == 1 && sessions[0].Transfer != nil
}
