package sftpd

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/textproto"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/jelastic/jelastic-ftp/ftpd"
	"github.com/jelastic/jelastic-ftp/internal/admission"
	"github.com/jelastic/jelastic-ftp/internal/testtool"
	"github.com/jelastic/jelastic-ftp/users/perm"
)

// fakeAuth admits alice with "pw" to home, with perms.
type fakeAuth struct {
	home  string
	perms perm.Set
	key   ssh.PublicKey // alice's, if any
}

func (a fakeAuth) Authenticate(_ context.Context, user, password string, _ netip.Addr) (ftpd.Account, error) {
	if user != "alice" || password != "pw" {
		return ftpd.Account{}, ErrBadLogin
	}
	return ftpd.Account{Name: user, Home: a.home, Permissions: a.perms}, nil
}

func (a fakeAuth) AuthenticateKey(_ context.Context, user string, key ssh.PublicKey, _ netip.Addr) (ftpd.Account, error) {
	if user != "alice" || a.key == nil || !bytes.Equal(key.Marshal(), a.key.Marshal()) {
		return ftpd.Account{}, ErrBadLogin
	}
	return ftpd.Account{Name: user, Home: a.home, Permissions: a.perms}, nil
}

func testServer(t *testing.T, perms perm.Set, change func(*Settings)) (home, addr string) {
	return testServerKey(t, perms, nil, change)
}

func testServerKey(t *testing.T, perms perm.Set, key ssh.PublicKey, change func(*Settings)) (home, addr string) {
	t.Helper()
	home = t.TempDir()
	_, hostKey, err := ed25519.GenerateKey(rand.Reader)
	require.NoError(t, err)
	signer, err := ssh.NewSignerFromKey(hostKey)
	require.NoError(t, err)
	s := Settings{
		HostKeys: []ssh.Signer{signer}, IdleTimeout: time.Minute, Gate: testGate(t, 10, 10, 10),
		LoginAttemptsPerSession: 2, AtomicUploads: true,
		Logger: slog.New(slog.DiscardHandler), // a test that reads the log sets its own
	}
	if change != nil {
		change(&s)
	}
	srv, err := New(s, fakeAuth{home: home, perms: perms, key: key})
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		require.NoError(t, srv.Shutdown(ctx))
		require.ErrorIs(t, <-served, net.ErrClosed)
	})
	return home, ln.Addr().String()
}

// testGate is a gate of total sessions, sessions per address and per user, with as
// many before login.
func testGate(t *testing.T, total, perIP, perUser int) *admission.Gate {
	t.Helper()
	g, err := admission.New(admission.Limits{MaxSessions: total, MaxSessionsPerIP: perIP, MaxSessionsBeforeLogin: total, MaxSessionsBeforeLoginPerIP: perIP, MaxSessionsPerUser: perUser})
	require.NoError(t, err)
	return g
}

func dial(t *testing.T, addr, password string) (*ssh.Client, error) {
	t.Helper()
	return ssh.Dial("tcp", addr, &ssh.ClientConfig{
		User: "alice", Auth: []ssh.AuthMethod{ssh.Password(password)},
		HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second,
	})
}

func sftpClient(t *testing.T, addr string) (*ssh.Client, *sftp.Client) {
	t.Helper()
	c, err := dial(t, addr, "pw")
	require.NoError(t, err)
	sc, err := sftp.NewClient(c, sftp.UseConcurrentWrites(true), sftp.MaxConcurrentRequestsPerFile(64))
	require.NoError(t, err)
	t.Cleanup(func() { sc.Close(); c.Close() })
	return c, sc
}

// TestUploadIsAtomic: concurrent, out-of-order writes land in order; the file shows
// under its name only after Close; a connection that ends first leaves the old file.
func TestUploadIsAtomic(t *testing.T) {
	home, addr := testServer(t, perm.All, nil)
	require.NoError(t, os.WriteFile(filepath.Join(home, "app.bin"), []byte("old"), 0o644))
	data := make([]byte, 8<<20)
	rand.Read(data)

	_, sc := sftpClient(t, addr)
	f, err := sc.Create("app.bin")
	require.NoError(t, err)
	_, err = f.ReadFrom(bytes.NewReader(data))
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(home, "app.bin"))
	require.NoError(t, err)
	require.Equal(t, "old", string(got), "published before Close")
	require.NoError(t, f.Close())
	got, err = os.ReadFile(filepath.Join(home, "app.bin"))
	require.NoError(t, err)
	require.True(t, bytes.Equal(data, got), "the upload arrived changed")

	c2, sc2 := sftpClient(t, addr)
	f, err = sc2.Create("app.bin")
	require.NoError(t, err)
	_, err = f.Write(data[:1<<20])
	require.NoError(t, err)
	c2.Close() // the connection ends with the handle open
	require.Eventually(t, func() bool {
		entries, _ := os.ReadDir(home)
		got, _ := os.ReadFile(filepath.Join(home, "app.bin"))
		return len(entries) == 1 && bytes.Equal(data, got)
	}, 5*time.Second, 10*time.Millisecond, "the cut upload replaced the file or left a temporary one")
}

func TestPermissionRefusals(t *testing.T) {
	home, addr := testServer(t, perm.Of(perm.List, perm.Download), nil)
	require.NoError(t, os.WriteFile(filepath.Join(home, "a.txt"), []byte("a"), 0o644))
	_, sc := sftpClient(t, addr)
	tests := []struct {
		name string
		do   func() error
	}{
		{"upload", func() error { _, err := sc.Create("new.txt"); return err }},
		{"overwrite", func() error { _, err := sc.Create("a.txt"); return err }},
		{"delete", func() error { return sc.Remove("a.txt") }},
		{"rename", func() error { return sc.Rename("a.txt", "b.txt") }},
		{"mkdir", func() error { return sc.Mkdir("d") }},
		{"chmod", func() error { return sc.Chmod("a.txt", 0o600) }},
		{"mtime", func() error { return sc.Chtimes("a.txt", time.Unix(1, 0), time.Unix(1, 0)) }},
		{"hard link", func() error { return sc.Link("a.txt", "l.txt") }},
	}
	for _, tt := range tests {
		// pkg/sftp's client turns the status into os.ErrPermission and drops its
		// message; the end-to-end tests read it with paramiko.
		require.ErrorIs(t, tt.do(), os.ErrPermission, tt.name)
	}
	f, err := sc.Open("a.txt")
	require.NoError(t, err)
	b, err := io.ReadAll(f)
	require.NoError(t, err)
	require.Equal(t, "a", string(b))
	f.Close()
}

func TestOnlyTheSFTPSubsystem(t *testing.T) {
	_, addr := testServer(t, perm.All, nil)
	c, err := dial(t, addr, "pw")
	require.NoError(t, err)
	defer c.Close()
	for _, try := range []func(*ssh.Session) error{
		func(s *ssh.Session) error { return s.Shell() },
		func(s *ssh.Session) error { return s.Start("id") },
		func(s *ssh.Session) error { return s.RequestSubsystem("shell") },
		func(s *ssh.Session) error { return s.RequestPty("xterm", 24, 80, nil) },
	} {
		s, err := c.NewSession()
		require.NoError(t, err)
		require.Error(t, try(s))
		s.Close()
	}
	_, err = c.Dial("tcp", addr)
	require.ErrorContains(t, err, "prohibited", "direct-tcpip")
	_, err = c.Listen("tcp", "127.0.0.1:0")
	require.Error(t, err, "tcpip-forward")
}

func TestLoginLimits(t *testing.T) {
	_, addr := testServer(t, perm.All, func(s *Settings) { s.Gate = testGate(t, 10, 1, 10) })
	_, err := dial(t, addr, "wrong")
	require.ErrorContains(t, err, "unable to authenticate")
	// The refused connection's session ends a moment after the client sees it.
	var c *ssh.Client
	require.Eventually(t, func() bool {
		c, err = dial(t, addr, "pw")
		return err == nil
	}, 5*time.Second, 10*time.Millisecond, "the password is refused: %v", err)
	defer c.Close()
	_, err = dial(t, addr, "pw")
	require.Error(t, err, "a second connection from the address beyond max_sessions_per_ip")
}

func TestIdleTimeout(t *testing.T) {
	_, addr := testServer(t, perm.All, func(s *Settings) { s.IdleTimeout = 300 * time.Millisecond })
	c, err := dial(t, addr, "pw")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- c.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("an idle connection stayed open")
	}
}

func TestKeyLogin(t *testing.T) {
	newSigner := func() ssh.Signer {
		_, k, err := ed25519.GenerateKey(rand.Reader)
		require.NoError(t, err)
		s, err := ssh.NewSignerFromKey(k)
		require.NoError(t, err)
		return s
	}
	mine, other := newSigner(), newSigner()
	_, addr := testServerKey(t, perm.All, mine.PublicKey(), nil)
	login := func(user string, auth ...ssh.AuthMethod) error {
		c, err := ssh.Dial("tcp", addr, &ssh.ClientConfig{User: user, Auth: auth, HostKeyCallback: ssh.InsecureIgnoreHostKey(), Timeout: 5 * time.Second})
		if err == nil {
			c.Close()
		}
		return err
	}
	require.NoError(t, login("alice", ssh.PublicKeys(mine)))
	require.NoError(t, login("alice", ssh.PublicKeys(other, mine)), "the second key offered")
	require.Error(t, login("alice", ssh.PublicKeys(other)))
	require.Error(t, login("bob", ssh.PublicKeys(mine)), "alice's key is not bob's")
	require.NoError(t, login("alice", ssh.PublicKeys(other), ssh.Password("pw")), "the password after a refused key")
}

// dialFrom opens a TCP connection to addr from 127.0.0.ip.
func dialFrom(t *testing.T, ip byte, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, ip)}, Timeout: 5 * time.Second}
	c, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	return c
}

// ftpAuth is fakeAuth for the FTP server.
type ftpAuth struct{ fakeAuth }

func (a ftpAuth) Authenticate(ctx context.Context, user, password string, client netip.Addr) (ftpd.Account, error) {
	acct, err := a.fakeAuth.Authenticate(ctx, user, password, client)
	if errors.Is(err, ErrBadLogin) {
		err = ftpd.ErrBadLogin
	}
	return acct, err
}

// TestSharedGate: an FTP and an SFTP server sharing one gate, as in the worker,
// count their sessions together — per user and before login — and a banned address
// is closed at accept, before the SSH version exchange, and logged once per ban.
func TestSharedGate(t *testing.T) {
	gate, err := admission.New(admission.Limits{MaxSessions: 20, MaxSessionsPerIP: 20, MaxSessionsBeforeLogin: 3, MaxSessionsBeforeLoginPerIP: 2, MaxSessionsPerUser: 1})
	require.NoError(t, err)
	logs := &testtool.SyncBuffer{}
	home, addr := testServer(t, perm.All, func(s *Settings) {
		s.Gate = gate
		s.Logger = slog.New(slog.NewTextHandler(logs, nil))
	})
	fs := ftpd.DefaultSettings()
	fs.Gate = gate
	fs.Logger = slog.New(slog.NewTextHandler(logs, nil))
	ftpSrv, err := ftpd.New(fs, ftpAuth{fakeAuth{home: home, perms: perm.All}})
	require.NoError(t, err)
	ftpLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go ftpSrv.Serve(ftpLn)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		ftpSrv.Shutdown(ctx)
	})
	// ftpLogin logs in as alice from 127.0.0.ip and returns the last reply.
	ftpLogin := func(ip byte) string {
		t.Helper()
		c := textproto.NewConn(dialFrom(t, ip, ftpLn.Addr().String()))
		for _, cmd := range []string{"", "USER alice", "PASS pw"} {
			if cmd != "" {
				require.NoError(t, c.PrintfLine("%s", cmd))
			}
			code, msg, err := c.ReadResponse(0)
			require.NoError(t, err)
			if code >= 400 || cmd == "PASS pw" {
				return fmt.Sprintf("%d %s", code, msg)
			}
		}
		panic("unreachable")
	}
	// Closed before the version exchange: not one byte of the server's version.
	closedAtAccept := func(ip byte) {
		t.Helper()
		got, err := io.ReadAll(dialFrom(t, ip, addr))
		require.NoError(t, err, "closed, not timed out")
		require.Empty(t, got)
	}

	// One session per user, whichever the protocol.
	c, err := dial(t, addr, "pw")
	require.NoError(t, err)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), `msg=login client=127.0.0.1 user=alice`) }, 5*time.Second, 10*time.Millisecond)
	require.Contains(t, ftpLogin(2), "421 Too many sessions for this user")
	c.Close()
	require.Eventually(t, func() bool { return len(ftpSrv.Sessions()) == 0 }, 5*time.Second, 10*time.Millisecond)
	var ftpIn string
	require.Eventually(t, func() bool {
		ftpIn = ftpLogin(2)
		return strings.HasPrefix(ftpIn, "230 ")
	}, 5*time.Second, 10*time.Millisecond, "the SFTP session's end frees the user's place: %s", ftpIn)
	// The SSH login succeeds, and the server closes the connection after it.
	if c, err := dial(t, addr, "pw"); err == nil {
		_, err = c.NewSession()
		require.Error(t, err, "alice is logged in over FTP")
		c.Close()
	}
	require.Eventually(t, func() bool {
		return strings.Contains(logs.String(), `msg="login refused: too many sessions for the user" client=127.0.0.1 user=alice limit=1`)
	}, 5*time.Second, 10*time.Millisecond)

	// Sessions before login: two SFTP connections that do not log in fill 127.0.0.5's
	// places, and a third, over FTP, from another address fills the total.
	waiting := []net.Conn{dialFrom(t, 5, addr), dialFrom(t, 5, addr)}
	for _, w := range waiting {
		_, err := bufio.NewReader(w).ReadString('\n') // the version: the session is counted
		require.NoError(t, err)
	}
	closedAtAccept(5)
	require.Contains(t, ftpLogin(5), "421 Too many connections waiting to log in from your address.")
	ftp6 := textproto.NewConn(dialFrom(t, 6, ftpLn.Addr().String()))
	_, _, err = ftp6.ReadResponse(220)
	require.NoError(t, err)
	closedAtAccept(7)
	require.Contains(t, ftpLogin(8), "421 Too many connections waiting to log in, try again later.")
	for _, w := range waiting {
		w.Close()
	}
	ftp6.Close()

	// A banned address: closed at once, logged once.
	now := time.Now()
	require.NoError(t, gate.Ban(admission.Source(netip.MustParseAddr("127.0.0.9")), now.Add(time.Minute), now))
	for range 3 {
		closedAtAccept(9)
	}
	require.Equal(t, 1, strings.Count(logs.String(), `msg="connection refused: client banned" client=127.0.0.9 source=127.0.0.9/32`), logs.String())
	require.Contains(t, logs.String(), `protocol=sftp`)
}

// TestOpenHandlesBounded: a channel holds at most maxOpenHandles files open, since
// each is a descriptor of the worker all sessions share; closing one makes room, and
// a file that fails to open takes none.
func TestOpenHandlesBounded(t *testing.T) {
	home, addr := testServer(t, perm.All, nil)
	require.NoError(t, os.WriteFile(filepath.Join(home, "f.txt"), []byte("x"), 0o644))
	_, sc := sftpClient(t, addr)
	for range 3 {
		_, err := sc.Open("/missing.txt")
		require.Error(t, err)
	}
	var open []*sftp.File
	for range maxOpenHandles {
		f, err := sc.Open("/f.txt")
		require.NoError(t, err)
		open = append(open, f)
	}
	_, err := sc.Open("/f.txt")
	require.ErrorContains(t, err, "open on this channel already")
	_, err = sc.Create("/new.txt")
	require.ErrorContains(t, err, "open on this channel already", "uploads count too")
	require.NoError(t, open[0].Close())
	f, err := sc.Open("/f.txt")
	require.NoError(t, err, "a closed handle makes room")
	require.NoError(t, f.Close())
	for _, f := range open[1:] {
		require.NoError(t, f.Close())
	}
	w, err := sc.Create("/new.txt")
	require.NoError(t, err)
	require.NoError(t, w.Close())
}
