package ftpd

import (
	"bytes"
	"context"
	"crypto/tls"
	"io"
	"log/slog"
	"net"
	"net/textproto"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/internal/testtool"
)

func TestSettingsAreChecked(t *testing.T) {
	t.Parallel()
	cert := testCertificate(t)
	tests := []struct {
		name    string
		change  func(*Settings)
		wantErr string
	}{
		{"defaults", func(*Settings) {}, ""},
		{"NAT setup", func(s *Settings) {
			s.PublicHost = "203.0.113.9"
			s.PassivePortMin, s.PassivePortMax = 50000, 50100
			s.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
			s.RequireTLS = true
		}, ""},
		{"host name for PASV", func(s *Settings) { s.PublicHost = "ftp.example.com" }, "not an IPv4 address"},
		{"IPv6 for PASV", func(s *Settings) { s.PublicHost = "2001:db8::1" }, "not an IPv4 address"},
		{"privileged passive ports", func(s *Settings) { s.PassivePortMin, s.PassivePortMax = 100, 200 }, "passive port range 100-200"},
		{"reversed passive ports", func(s *Settings) { s.PassivePortMin, s.PassivePortMax = 3000, 2000 }, "passive port range 3000-2000"},
		{"TLS required without TLS", func(s *Settings) { s.RequireTLS = true }, "TLS is required but no TLS configuration"},
		{"TLS without certificate", func(s *Settings) { s.TLS = &tls.Config{} }, "neither Certificates nor GetCertificate"},
		{"TLS that bypasses ticket keys", func(s *Settings) {
			s.TLS = &tls.Config{Certificates: []tls.Certificate{cert},
				GetConfigForClient: func(*tls.ClientHelloInfo) (*tls.Config, error) { return nil, nil }}
		}, "must not set GetConfigForClient"},
		{"command line beyond the engine's buffer", func(s *Settings) { s.MaxCommandLength = 5000 }, "command length limit 5000"},
		{"negative idle timeout", func(s *Settings) { s.IdleTimeout = -time.Second }, "idle timeout -1s is negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := DefaultSettings()
			tt.change(&s)
			_, err := New(s, fakeAuth{})
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.wantErr)
		})
	}

	_, err := New(DefaultSettings(), nil)
	require.ErrorContains(t, err, "needs an Authenticator")

	conf, err := newConfig(Settings{IdleTimeout: 1500 * time.Millisecond})
	require.NoError(t, err)
	require.Equal(t, 2, conf.idleSeconds, "idle timeout rounds up to whole seconds")
	require.Equal(t, 3, conf.LoginAttemptsPerSession, "zero takes the default")
	require.Equal(t, maxCommandLength, conf.MaxCommandLength)
}

// TestDataConnectionMustResumeATicketOfItsClientAndUser presents on a data
// connection the TLS ticket of another control connection from the same
// address: one logged in as another user is refused with 522, after which
// the session goes on in step; one logged in as the same user is taken, as
// rclone's shared session cache needs.
func TestDataConnectionMustResumeATicketOfItsClientAndUser(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.writeHome(t, "f.txt", []byte("private"))
	clientTLS := func(cache tls.ClientSessionCache) *tls.Config {
		return &tls.Config{InsecureSkipVerify: true, ServerName: "ftp.test", ClientSessionCache: cache}
	}
	login := func(user string, cache tls.ClientSessionCache) *ftpConn {
		c := dialFTP(t, ts.addr)
		c.startTLS(clientTLS(cache))
		c.must(331, "USER %s", user)
		c.must(230, "PASS %s", testPassword) // reading the replies stores the ticket
		return c
	}
	stranger, sameUser, own := tls.NewLRUClientSessionCache(4), tls.NewLRUClientSessionCache(4), tls.NewLRUClientSessionCache(4)
	login("reader", stranger)
	login(testUser, sameUser)
	b := login(testUser, own)
	b.must(200, "PBSZ 0")
	b.must(200, "PROT P")

	retr := func(cache tls.ClientSessionCache) ([]byte, *tls.Conn, error) {
		raw, err := net.DialTimeout("tcp", b.epsv("127.0.0.1"), 5*time.Second)
		require.NoError(t, err)
		defer raw.Close()
		require.NoError(t, raw.SetDeadline(time.Now().Add(10*time.Second)))
		require.NoError(t, b.text.PrintfLine("RETR f.txt"))
		b.expect(150)
		data := tls.Client(raw, clientTLS(cache))
		got, err := io.ReadAll(data)
		return got, data, err
	}

	got, data, err := retr(stranger)
	require.NoError(t, err)
	require.Empty(t, got, "another user's ticket must not get the file")
	require.False(t, data.ConnectionState().DidResume)
	msg := b.expect(522)
	require.Contains(t, msg, "require_session_reuse")
	b.must(200, "NOOP") // in step

	for _, cache := range []tls.ClientSessionCache{sameUser, own} {
		got, data, err = retr(cache)
		require.NoError(t, err)
		require.Equal(t, "private", string(got))
		require.True(t, data.ConnectionState().DidResume)
		b.expect(226)
	}
}

func TestShutdownLetsTransfersFinishAndClosesIdleSessions(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	idle := dialFTP(t, ts.addr)
	idle.login()
	busy := dialFTP(t, ts.addr)
	busy.login()
	data := busy.startStor("up.bin")
	// Progress shows chunk by chunk.
	content := bytes.Repeat([]byte("0123456789"), 3*minChunk/10)
	_, err := data.Write(content[:minChunk])
	require.NoError(t, err)

	var transfer *TransferInfo
	waitFor(t, "the upload to show in Sessions", func() bool {
		for _, s := range ts.srv.Sessions() {
			if s.Transfer != nil && s.Transfer.Bytes == minChunk {
				require.Equal(t, testUser, s.User)
				require.True(t, s.Client.Addr().IsLoopback())
				transfer = s.Transfer
				return true
			}
		}
		return false
	})
	require.Equal(t, "upload", transfer.Direction)
	require.Equal(t, "/up.bin", transfer.Path)
	require.Len(t, ts.srv.Sessions(), 2)

	shutdown := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		shutdown <- ts.srv.Shutdown(ctx)
	}()
	idle.expect(421)
	require.True(t, idle.closed())
	_, err = net.DialTimeout("tcp", ts.addr, time.Second)
	require.Error(t, err, "the listener must be closed")

	_, err = data.Write(content[minChunk:])
	require.NoError(t, err)
	require.NoError(t, data.Close())
	busy.expect(226)
	busy.expect(421)
	require.True(t, busy.closed())
	require.NoError(t, <-shutdown)
	require.Equal(t, content, ts.readHome(t, "up.bin"))
	require.Empty(t, ts.srv.Sessions())
}

func TestShutdownCutsStalledTransfersAtTheDeadline(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.writeHome(t, "up.bin", []byte("previous version"))
	busy := dialFTP(t, ts.addr)
	busy.login()
	data := busy.startStor("up.bin")
	_, err := data.Write([]byte("half of the new"))
	require.NoError(t, err)
	waitFor(t, "the upload to start", ts.transferOpen)

	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, ts.srv.Shutdown(ctx), context.DeadlineExceeded)
	require.True(t, busy.closed())
	require.Empty(t, ts.srv.Sessions())
	// The atomic upload was not published.
	require.Equal(t, "previous version", string(ts.readHome(t, "up.bin")))
	require.Regexp(t, `msg=transfer client=127\.0\.0\.1 user=alice direction=upload path=/up\.bin bytes=15 duration=\S+ status=aborted`, ts.logs.String())
}

func TestReloadAppliesToNewSessionsOnly(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	before := dialFTP(t, ts.addr)
	before.startTLS(insecureTLS)
	before.login()

	s := DefaultSettings()
	s.Welcome = "Reloaded."
	s.Logger = slog.New(slog.NewTextHandler(ts.logs, nil))
	require.NoError(t, ts.srv.Reload(s))
	s.PublicHost = "not an address"
	require.Error(t, ts.srv.Reload(s), "invalid settings must be refused")

	conn, err := net.DialTimeout("tcp", ts.addr, 5*time.Second)
	require.NoError(t, err)
	after := &ftpConn{t: t, conn: conn, text: textproto.NewConn(conn)}
	defer after.text.Close()
	require.Equal(t, "Reloaded.", after.expect(220))
	after.must(502, "AUTH TLS") // the new settings have no TLS
	before.must(257, "PWD")     // the old session keeps its TLS session and settings
}

func TestDemoServesUntilCancelledAndCleansUp(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"sh", "lftp", "curl"} {
		testtool.Require(t, tool)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	out := &testtool.SyncBuffer{}
	done := make(chan error, 1)
	go func() { done <- Demo(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)), out, "127.0.0.1:0") }()
	waitFor(t, "the demo's instructions", func() bool { return strings.Contains(out.String(), "Stop with Ctrl-C") })

	text := out.String()
	root := regexp.MustCompile(`(?m)^  root: +(\S+)`).FindStringSubmatch(text)
	require.Len(t, root, 2, text)
	require.DirExists(t, root[1])
	for _, line := range strings.Split(text, "\n") {
		if !strings.HasPrefix(line, "  lftp ") && !strings.HasPrefix(line, "  curl ") {
			continue
		}
		// Run the printed commands as a user would paste them.
		got, err := runTool(t, "sh", "-c", strings.TrimSpace(line))
		require.NoError(t, err, "%s: %s", line, got)
		want := "This is the jelastic-ftp demo" // the file curl fetches
		if strings.HasPrefix(line, "  lftp ") {
			want = "README.txt" // the listing lftp prints
		}
		require.Contains(t, got, want)
	}

	cancel()
	require.NoError(t, <-done)
	require.NoDirExists(t, root[1])
}
