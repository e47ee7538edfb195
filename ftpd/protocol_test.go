package ftpd

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/internal/testtool"
)

// These tests speak FTP directly for what no ordinary client does on
// purpose: bad PORT targets, stolen data connections, endless lines.

var insecureTLS = &tls.Config{InsecureSkipVerify: true}

func TestFailedLoginsAreDelayedAnswerAlikeAndEndTheSession(t *testing.T) {
	t.Parallel()
	const delay = 150 * time.Millisecond
	ts := startServer(t, func(s *Settings) { s.FailedLoginDelay = delay })
	c := dialFTP(t, ts.addr)
	var replies []string
	for _, user := range []string{testUser, "nobody", testUser} {
		c.must(331, "USER %s", user)
		start := time.Now()
		code, msg := c.cmd("PASS wrong")
		replies = append(replies, fmt.Sprintf("%d %s", code, msg))
		require.GreaterOrEqual(t, time.Since(start), delay, "the failure must be answered after the delay")
	}
	// Unknown user and wrong password read the same; the third failure
	// ends the session.
	require.Equal(t, []string{"530 Login incorrect.", "530 Login incorrect.", "530 Login incorrect."}, replies)
	require.True(t, c.closed(), "the session must end after three failures")
	require.Regexp(t, `level=WARN msg="login failed" client=127\.0\.0\.1 user=nobody attempt=2`, ts.logs.String())
}

func TestAuthenticatorOutageClosesWith421(t *testing.T) {
	t.Parallel()
	settings := DefaultSettings()
	logs := &testtool.SyncBuffer{}
	settings.Logger = slog.New(slog.NewTextHandler(logs, nil))
	srv, err := New(settings, brokenAuth{})
	require.NoError(t, err)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	serveUntilCleanup(t, srv, l)

	c := dialFTP(t, l.Addr().String())
	c.must(331, "USER %s", testUser)
	c.must(421, "PASS %s", testPassword)
	require.True(t, c.closed())
	require.Contains(t, logs.String(), `level=ERROR msg="password check failed" client=127.0.0.1 user=alice err="unexpected EOF"`)
}

type brokenAuth struct{}

func (brokenAuth) Authenticate(context.Context, string, string, netip.Addr) (Account, error) {
	return Account{}, io.ErrUnexpectedEOF
}

func TestTLSAndLoginOrder(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		requireTLS bool
		script     func(c *ftpConn)
	}{
		{"USER before AUTH TLS is refused when TLS is required", true, func(c *ftpConn) {
			c.must(530, "USER %s", testUser)
		}},
		{"PBSZ and PROT need AUTH TLS first", false, func(c *ftpConn) {
			c.must(503, "PBSZ 0")
			c.must(503, "PROT P")
		}},
		{"PASS without USER", false, func(c *ftpConn) {
			c.must(503, "PASS x")
		}},
		{"passive data needs PROT P when TLS is required", true, func(c *ftpConn) {
			c.startTLS(insecureTLS)
			c.login()
			c.must(522, "EPSV")
			c.must(200, "PBSZ 0")
			c.must(200, "PROT P")
			c.must(229, "EPSV")
		}},
		{"no second login on a session", false, func(c *ftpConn) {
			c.login()
			c.must(530, "USER bob")
			c.must(230, "PASS x")
			c.must(503, "AUTH TLS")
			c.must(257, "PWD")
		}},
		{"AUTH with another mechanism", false, func(c *ftpConn) {
			c.must(504, "AUTH KERBEROS")
			c.startTLS(insecureTLS)
			c.must(503, "AUTH TLS")
			c.login()
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, func(s *Settings) { s.RequireTLS = tt.requireTLS })
			tt.script(dialFTP(t, ts.addr))
		})
	}
}

func TestCommandsPipelinedBehindAuthTLSCloseTheSession(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := dialFTP(t, ts.addr)
	// Sent in one write: clear text behind AUTH must not be read as if
	// it had come through TLS.
	_, err := io.WriteString(c.conn, "AUTH TLS\r\nUSER alice\r\n")
	require.NoError(t, err)
	c.expect(503)
	require.True(t, c.closed())
}

func TestActiveModeOnlyToTheClientAndUnprivilegedPorts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		active bool
		cmd    string
		want   int
	}{
		{"active mode off", false, "PORT 127,0,0,1,39,16", 502},
		{"EPRT with active mode off", false, "EPRT |1|127.0.0.1|10000|", 502},
		{"another host", true, "PORT 127,0,0,3,39,16", 501},
		{"another host by EPRT", true, "EPRT |1|127.0.0.3|10000|", 501},
		{"privileged port", true, "PORT 127,0,0,1,0,80", 504},
		{"privileged port by EPRT", true, "EPRT |1|127.0.0.1|22|", 504},
		{"malformed", true, "PORT 127,0,0,1,300,1", 501},
		{"too few fields", true, "PORT 127,0,0,1,39", 501},
		{"family mismatch", true, "EPRT |2|127.0.0.1|10000|", 501},
		{"leading zeros would be octal to some resolvers", true, "PORT 127,000,000,001,39,16", 200},
		{"own address, high port", true, "EPRT |1|127.0.0.1|10000|", 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := startServer(t, func(s *Settings) { s.ActiveMode = tt.active })
			c := dialFTP(t, ts.addr)
			c.login()
			c.must(tt.want, "%s", tt.cmd)
		})
	}
}

func TestActiveTransferToTheClient(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(s *Settings) { s.ActiveMode = true })
	ts.writeHome(t, "a.txt", []byte("active data"))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()

	c := dialFTP(t, ts.addr)
	c.login()
	port := l.Addr().(*net.TCPAddr).Port
	c.must(200, "PORT 127,0,0,1,%d,%d", port>>8, port&0xff)
	require.NoError(t, c.text.PrintfLine("RETR a.txt"))
	data, err := l.Accept()
	require.NoError(t, err)
	got, err := io.ReadAll(data)
	require.NoError(t, err)
	require.Equal(t, "active data", string(got))
	c.expect(150)
	c.expect(226)
}

func TestPassiveDataConnectionFromAnotherAddressIsDropped(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.writeHome(t, "secret.txt", []byte("for alice only"))
	c := dialFTP(t, ts.addr)
	c.login()
	dataAddr := c.epsv("127.0.0.1")

	thief := dialThief(t, dataAddr)
	data, err := net.DialTimeout("tcp", dataAddr, 5*time.Second)
	require.NoError(t, err)
	defer data.Close()

	require.NoError(t, c.text.PrintfLine("RETR secret.txt"))
	c.expect(150)
	got, err := io.ReadAll(data)
	require.NoError(t, err)
	require.Equal(t, "for alice only", string(got))
	c.expect(226)
	requireClosedEmpty(t, thief)
	require.Contains(t, ts.logs.String(), `msg="passive data connection from another address refused" client=127.0.0.1 user=alice from=127.0.0.2:`)
}

// dialThief connects to a passive data port from 127.0.0.2, another address
// than the clients'.
func dialThief(t *testing.T, dataAddr string) net.Conn {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: 5 * time.Second}
	conn, err := d.Dial("tcp", dataAddr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// requireClosedEmpty checks that the server closes conn without sending a byte.
func requireClosedEmpty(t *testing.T, conn net.Conn) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(5*time.Second)))
	got, err := io.ReadAll(conn)
	require.Empty(t, got)
	require.NotErrorIs(t, err, os.ErrDeadlineExceeded, "the server must close the connection")
}

// TestForeignConnectionDoesNotHoldTheControlLoop: a connection from another
// address waiting on the passive port when a small download comes does not
// make the download wait for the client's in the control loop, where ABOR
// could not be read (inlineDownload); the download waits for the client as
// any other, and ABOR ends it.
func TestForeignConnectionDoesNotHoldTheControlLoop(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.writeHome(t, "small.txt", []byte("small"))
	c := dialFTP(t, ts.addr)
	c.login()
	thief := dialThief(t, c.epsv("127.0.0.1"))

	require.NoError(t, c.text.PrintfLine("RETR small.txt"))
	waitFor(t, "the download to wait for its connection", ts.transferOpen)
	require.NoError(t, c.text.PrintfLine("ABOR"))
	c.expect(226)
	c.must(200, "NOOP")
	requireClosedEmpty(t, thief)
}

// TestErrorRepliesNameTheClientPath: a failed RETR says what the file system
// said about the client's path, and nothing in between.
func TestErrorRepliesNameTheClientPath(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := dialFTP(t, ts.addr)
	c.login()
	c.passive()
	msg := c.must(550, "RETR missing.txt")
	require.Equal(t, "Could not access file: open /missing.txt: no such file or directory", msg)
}

// TestUnusedPassiveConnectionIsClosed: the server accepts a passive data
// connection as soon as it comes (before the transfer command); one that no
// transfer takes is closed with its listener when the next EPSV replaces it,
// and the next transfer works.
func TestUnusedPassiveConnectionIsClosed(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.writeHome(t, "a.txt", []byte("payload"))
	c := dialFTP(t, ts.addr)
	c.login()
	unused := c.passive()
	data := c.passive()
	require.NoError(t, unused.SetReadDeadline(time.Now().Add(5*time.Second)))
	got, err := io.ReadAll(unused)
	require.Empty(t, got)
	require.NoError(t, err, "the server closes the unused connection (EOF), not the deadline")

	require.NoError(t, c.text.PrintfLine("RETR a.txt"))
	c.expect(150)
	got, err = io.ReadAll(data)
	require.NoError(t, err)
	require.Equal(t, "payload", string(got))
	c.expect(226)
}

// countingListener counts the bytes the server reads from its clients.
type countingListener struct {
	net.Listener
	read *atomic.Int64
}

func (l countingListener) Accept() (net.Conn, error) {
	conn, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return countingConn{Conn: conn, read: l.read}, nil
}

type countingConn struct {
	net.Conn
	read *atomic.Int64
}

func (c countingConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func TestEndlessCommandLineClosesAfterReadingLittle(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	var read atomic.Int64
	ts := startServerOn(t, countingListener{Listener: l, read: &read})
	c := dialFTP(t, ts.addr)

	written := make(chan int64, 1)
	go func() {
		// 1 MiB without a newline; the write fails once the server closes.
		n, _ := io.Copy(c.conn, io.LimitReader(bytes.NewReader(bytes.Repeat([]byte("A"), 1<<20)), 1<<20))
		written <- n
	}()
	// The 500 reply may be lost to a reset, as the client keeps sending.
	require.True(t, c.closed())
	<-written
	// The server reads through a buffer of MaxCommandLength+2 bytes, then
	// drains at most drainLimit bytes, however much the client sends.
	require.Less(t, read.Load(), int64(maxCommandLength+2+drainLimit+1024), "the server kept reading the endless line")
	require.Contains(t, ts.logs.String(), `msg="command line too long; closing" client=127.0.0.1`)
}

func TestLongestCommandLineIsAccepted(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(s *Settings) { s.MaxCommandLength = 100 })
	c := dialFTP(t, ts.addr)
	c.login()
	c.must(550, "SIZE /%s", strings.Repeat("x", 100-len("SIZE /")))
	require.NoError(t, c.text.PrintfLine("SIZE /%s", strings.Repeat("x", 101-len("SIZE /"))))
	c.expect(500)
	require.True(t, c.closed())
}

func TestIdleTimeoutClosesTheControlConnection(t *testing.T) {
	t.Parallel()
	for _, loggedIn := range []bool{false, true} {
		t.Run(fmt.Sprintf("logged in %v", loggedIn), func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, func(s *Settings) { s.IdleTimeout = time.Second })
			c := dialFTP(t, ts.addr)
			if loggedIn {
				c.login()
			}
			msg := c.expect(421)
			require.Contains(t, msg, "1 second")
			require.True(t, c.closed())
		})
	}
}

func TestSessionLimits(t *testing.T) {
	t.Parallel()
	ts := startServer(t, func(s *Settings) {
		s.MaxSessions = 3
		s.MaxSessionsPerIP = 2
	})
	from := dialerFrom
	refused := func(d *net.Dialer, reason string) { t.Helper(); ts.requireRefused(t, d, reason) }

	first := dialFTP(t, ts.addr)
	dialFTP(t, ts.addr)
	refused(from(1), "Too many connections from your address.")
	dialFTPFrom(t, from(2), ts.addr)
	refused(from(4), "Too many connections, try again later.")

	// A session that ends frees its place.
	first.must(221, "QUIT")
	waitFor(t, "the session to end", func() bool { return len(ts.srv.Sessions()) == 2 })
	dialFTPFrom(t, from(1), ts.addr)
}

func TestSiteCommands(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.writeHome(t, "f.txt", []byte("x"))
	c := dialFTP(t, ts.addr)
	c.login()
	tests := []struct {
		cmd  string
		want int
	}{
		{"SITE CHMOD 640 f.txt", 200},
		{"SITE CHMOD 640", 501},
		{"SITE CHMOD rw f.txt", 501},
		{"SITE SYMLINK /etc/passwd p", 504},
		{"SITE CHOWN 0 f.txt", 504},
		{"SITE RMDIR /", 504},
		{"SITE HELP", 214},
	}
	for _, tt := range tests {
		c.must(tt.want, "%s", tt.cmd)
	}
	require.Equal(t, "-rw-r-----", statMode(t, ts, "f.txt"))
}

func TestFeaturesClientsNeed(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	c := dialFTP(t, ts.addr)
	msg := c.must(211, "FEAT")
	for _, feature := range []string{"UTF8", "SIZE", "MDTM", "REST STREAM", "EPSV", "MLST type*;size*;modify*;", "MLSD", "MFMT",
		"AUTH TLS", "PBSZ", "PROT", "HASH SHA-512;SHA-256*;SHA-1;MD5;CRC32", "XSHA256", "HOST"} {
		require.Contains(t, msg, "\n "+feature+"\n", "FEAT lacks %s", feature)
	}
	require.NotContains(t, msg, "EPRT", "active mode is off")
	require.True(t, strings.HasPrefix(msg, "Features:\n"), msg)

	// The selection of OPTS HASH shows, after login as before.
	c.login()
	c.must(200, "OPTS HASH SHA-1")
	require.Contains(t, c.must(211, "FEAT"), "\n HASH SHA-512;SHA-256;SHA-1*;MD5;CRC32\n")
}

func statMode(t *testing.T, ts *testServer, name string) string {
	t.Helper()
	info, err := os.Stat(filepath.Join(ts.home, name))
	require.NoError(t, err)
	return info.Mode().String()
}

// TestIdleTimeoutDuringTransfers: a transfer that moves keeps a quiet control
// connection open past the idle timeout; one that stops moving ends the session,
// also in active mode, where the server dials the data connection itself.
func TestIdleTimeoutDuringTransfers(t *testing.T) {
	t.Parallel()
	// Each mode reaches the file by another path: plain passive uploads are
	// spliced in chunks, FTPS and active ones are copied.
	for _, mode := range []string{"passive", "FTPS", "active"} {
		t.Run("a steady upload outlasts the timeout, "+mode, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, func(s *Settings) {
				s.IdleTimeout = time.Second
				s.ActiveMode = mode == "active"
			})
			c := dialFTP(t, ts.addr)
			var data net.Conn
			switch mode {
			case "passive":
				c.login()
				data = c.startStor("steady.bin")
			case "FTPS":
				// One server name for both connections, so that the data connection resumes.
				config := &tls.Config{InsecureSkipVerify: true, ServerName: "ftp", ClientSessionCache: tls.NewLRUClientSessionCache(2)}
				c.startTLS(config)
				c.login()
				c.must(200, "PBSZ 0")
				c.must(200, "PROT P")
				data = tls.Client(c.startStor("steady.bin"), config)
			case "active":
				c.login()
				l, err := net.Listen("tcp", "127.0.0.1:0")
				require.NoError(t, err)
				defer l.Close()
				c.must(200, "EPRT |1|127.0.0.1|%d|", l.Addr().(*net.TCPAddr).Port)
				require.NoError(t, c.text.PrintfLine("STOR steady.bin"))
				data, err = l.Accept()
				require.NoError(t, err)
				c.expect(150)
			}
			chunk := bytes.Repeat([]byte{3}, minChunk)
			tick := time.NewTicker(300 * time.Millisecond)
			defer tick.Stop()
			for range 8 { // 2.4 s at a chunk every 0.3 s
				<-tick.C
				_, err := data.Write(chunk)
				require.NoError(t, err)
			}
			require.NoError(t, data.Close())
			c.expect(226)
			require.Len(t, ts.readHome(t, "steady.bin"), 8*minChunk)
		})
	}
	for _, pipelined := range []bool{false, true} {
		t.Run(fmt.Sprintf("a stalled active download ends the session (a command sent meanwhile: %v)", pipelined), func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, func(s *Settings) {
				s.ActiveMode = true
				s.IdleTimeout = time.Second
			})
			// Far more than the socket buffers of both ends hold.
			ts.writeHome(t, "big.bin", bytes.Repeat([]byte{1}, 64<<20))
			c := dialFTP(t, ts.addr)
			c.login()
			l, err := net.Listen("tcp", "127.0.0.1:0")
			require.NoError(t, err)
			defer l.Close()
			c.must(200, "EPRT |1|127.0.0.1|%d|", l.Addr().(*net.TCPAddr).Port)
			require.NoError(t, c.text.PrintfLine("RETR big.bin"))
			data, err := l.Accept()
			require.NoError(t, err)
			defer data.Close() // and never read
			c.expect(150)
			if pipelined {
				// The server holds it back until the transfer ends.
				require.NoError(t, c.text.PrintfLine("NOOP"))
			}
			msg := c.expect(421)
			require.Contains(t, msg, "No data moved for 1 seconds")
			require.True(t, c.closed())
		})
	}
}

// TestABOR cancels transfers as FileZilla's cancel button does: an aborted
// upload publishes nothing and leaves no temporary file, and the session
// goes on.
// TestTransfersThatSlowDownOutlastTheIdleTimeout: a transfer that went fast
// (so its chunks grew to maxChunk) and then slows to a rate at which one chunk
// takes longer than the idle timeout still moves, so it must not be cut: a
// user may set a speed limit in the middle of a download.
func TestTransfersThatSlowDownOutlastTheIdleTimeout(t *testing.T) {
	t.Parallel()
	const (
		fast = 12 << 20 // enough for the chunks to grow to maxChunk
		slow = 6 << 20  // more than the socket buffers hold
		rate = 1 << 20  // a chunk of maxChunk takes 4 s: four times the timeout
	)
	// pace moves n bytes at about rate per second, a step every 50 ms.
	pace := func(t *testing.T, n int, step func([]byte) (int, error)) {
		buf := make([]byte, rate/20)
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for n > 0 {
			<-tick.C
			got, err := step(buf[:min(len(buf), n)])
			require.NoError(t, err)
			n -= got
		}
	}
	content := bytes.Repeat([]byte("0123456789abcdef"), (fast+slow)/16)
	settings := func(s *Settings) { s.IdleTimeout = time.Second }

	t.Run("download", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, settings)
		ts.writeHome(t, "big.bin", content)
		c := dialFTP(t, ts.addr)
		c.login()
		// A small receive buffer, so that what the client has not read stays
		// on the server's side.
		small := net.Dialer{Timeout: 5 * time.Second, Control: func(_, _ string, raw syscall.RawConn) error {
			return raw.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 64<<10) })
		}}
		data, err := small.Dial("tcp", c.epsv("127.0.0.1"))
		require.NoError(t, err)
		defer data.Close()
		require.NoError(t, c.text.PrintfLine("RETR big.bin"))
		c.expect(150)
		var got bytes.Buffer
		_, err = io.CopyN(&got, data, fast)
		require.NoError(t, err)
		pace(t, slow, func(p []byte) (int, error) {
			n, err := io.ReadFull(data, p)
			got.Write(p[:n])
			return n, err
		})
		rest, err := io.ReadAll(data)
		require.NoError(t, err)
		got.Write(rest)
		require.True(t, bytes.Equal(content, got.Bytes()), "the download arrived whole")
		c.expect(226)
	})
	t.Run("a passive download that stops moving still ends", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, settings)
		ts.writeHome(t, "big.bin", content)
		c := dialFTP(t, ts.addr)
		c.login()
		data := c.startRetr("big.bin")
		_, err := io.CopyN(io.Discard, data, fast)
		require.NoError(t, err)
		// and nothing more is read
		require.NoError(t, c.conn.SetReadDeadline(time.Now().Add(5*time.Second)))
		code, msg, err := c.text.ReadResponse(0)
		require.NoError(t, err, "the server ends the transfer within the timeout and a bit")
		require.GreaterOrEqual(t, code, 400, msg)
	})
	t.Run("upload", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, settings)
		c := dialFTP(t, ts.addr)
		c.login()
		data := c.startStor("big.bin")
		_, err := data.Write(content[:fast])
		require.NoError(t, err)
		rest := content[fast:]
		pace(t, len(rest), func(p []byte) (int, error) {
			n, err := data.Write(rest[:len(p)])
			rest = rest[n:]
			return n, err
		})
		require.NoError(t, data.Close())
		c.expect(226)
		require.True(t, bytes.Equal(content, ts.readHome(t, "big.bin")), "the upload arrived whole")
	})
}

func TestABOR(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.writeHome(t, "page.php", []byte("old"))
	ts.writeHome(t, "big.bin", bytes.Repeat([]byte{5}, 64<<20))
	c := dialFTP(t, ts.addr)
	c.login()
	transferOpen := ts.transferOpen

	data := c.startStor("page.php")
	_, err := data.Write([]byte("<?php half"))
	require.NoError(t, err)
	waitFor(t, "the upload to start", transferOpen)
	require.NoError(t, c.text.PrintfLine("ABOR"))
	c.expect(426)
	c.expect(226)
	waitFor(t, "the upload to end", func() bool { return !transferOpen() })
	require.Equal(t, "old", string(ts.readHome(t, "page.php")))
	entries, err := os.ReadDir(ts.home)
	require.NoError(t, err)
	for _, e := range entries {
		require.False(t, strings.Contains(e.Name(), ".ftpupload-"), "left behind: %s", e.Name())
	}

	// A download the client stops reading.
	c.startRetr("big.bin")
	waitFor(t, "the download to start", transferOpen)
	require.NoError(t, c.text.PrintfLine("ABOR"))
	c.expect(426)
	c.expect(226)
	c.must(200, "NOOP")
}

// TestDownloadWhicheverComesFirst: a download is served whether the client
// connects its passive data connection before the command (a small file
// then goes out from the control loop, inlineDownload) or after it (the
// transfer waits for the connection), and ABOR ends a transfer still
// waiting for its connection.
func TestDownloadWhicheverComesFirst(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	small := bytes.Repeat([]byte{1}, 4<<10)
	large := bytes.Repeat([]byte{2}, inlineMax+1)
	ts.writeHome(t, "small.bin", small)
	ts.writeHome(t, "large.bin", large)
	ts.writeHome(t, "empty.bin", nil)
	c := dialFTP(t, ts.addr)
	c.login()
	for _, tt := range []struct {
		name         string
		want         []byte
		connectFirst bool
	}{
		{"small.bin", small, true},
		{"small.bin", small, false},
		{"large.bin", large, true},
		{"large.bin", large, false},
		{"empty.bin", nil, true},
	} {
		addr := c.epsv("127.0.0.1")
		var data net.Conn
		var err error
		if tt.connectFirst {
			data, err = net.DialTimeout("tcp", addr, 5*time.Second)
			require.NoError(t, err)
		}
		require.NoError(t, c.text.PrintfLine("RETR %s", tt.name))
		if !tt.connectFirst {
			data, err = net.DialTimeout("tcp", addr, 5*time.Second)
			require.NoError(t, err)
		}
		c.expect(150)
		got, err := io.ReadAll(data)
		require.NoError(t, err)
		require.Equal(t, len(tt.want), len(got), "%s, connected first: %v", tt.name, tt.connectFirst)
		require.True(t, bytes.Equal(tt.want, got), "%s: other bytes", tt.name)
		data.Close()
		c.expect(226)
	}

	c.epsv("127.0.0.1")
	require.NoError(t, c.text.PrintfLine("RETR small.bin"))
	waitFor(t, "the download to wait for its connection", ts.transferOpen)
	require.NoError(t, c.text.PrintfLine("ABOR"))
	c.expect(226)
	c.must(200, "NOOP")
}

// TestRESTBeyondTheEndSendsNothing: a download from an offset at or past
// the end of the file sends no byte and completes.
func TestRESTBeyondTheEndSendsNothing(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.writeHome(t, "f.txt", []byte("0123456789"))
	c := dialFTP(t, ts.addr)
	c.login()
	for _, offset := range []int{4, 10, 20} {
		c.must(350, "REST %d", offset)
		data := c.startRetr("f.txt")
		got, err := io.ReadAll(data)
		require.NoError(t, err)
		require.Equal(t, "0123456789"[min(offset, 10):], string(got), "REST %d", offset)
		c.expect(226)
	}
}
