package rootfs

import (
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/textproto"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
	"github.com/stretchr/testify/require"
)

// These tests check, against ftpserverlib itself, what the atomic uploads
// rely on: that a transfer reaches GetHandle, and that a broken one calls
// TransferError before Close.

type oneUserDriver struct {
	fsys *FS
}

func (d *oneUserDriver) GetSettings() (*ftpserver.Settings, error) {
	return &ftpserver.Settings{ListenAddr: "127.0.0.1:0"}, nil
}

func (d *oneUserDriver) ClientConnected(ftpserver.ClientContext) (string, error) {
	return "rootfs test", nil
}

func (d *oneUserDriver) ClientDisconnected(ftpserver.ClientContext) {}

func (d *oneUserDriver) AuthUser(_ ftpserver.ClientContext, _, _ string) (ftpserver.ClientDriver, error) {
	return d.fsys, nil
}

func (d *oneUserDriver) GetTLSConfig() (*tls.Config, error) {
	return nil, errors.New("no TLS in this test")
}

// ftpClient speaks just enough FTP for one binary transfer at a time.
type ftpClient struct {
	t    *testing.T
	ctrl *textproto.Conn
}

func dialFTP(t *testing.T, fsys *FS) *ftpClient {
	t.Helper()
	server := ftpserver.NewFtpServer(&oneUserDriver{fsys: fsys})
	require.NoError(t, server.Listen())
	go server.Serve()
	t.Cleanup(func() { server.Stop() })

	conn, err := net.DialTimeout("tcp", server.Addr(), 10*time.Second)
	require.NoError(t, err)
	require.NoError(t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	c := &ftpClient{t: t, ctrl: textproto.NewConn(conn)}
	t.Cleanup(func() { c.ctrl.Close() })
	c.expect(220)
	c.cmd(331, "USER alice")
	c.cmd(230, "PASS secret")
	c.cmd(200, "TYPE I")
	return c
}

func (c *ftpClient) cmd(code int, format string, args ...any) string {
	c.t.Helper()
	_, err := c.ctrl.Cmd(format, args...)
	require.NoError(c.t, err)
	return c.expect(code)
}

func (c *ftpClient) expect(code int) string {
	c.t.Helper()
	got, msg, err := c.ctrl.ReadResponse(0)
	require.NoError(c.t, err)
	require.Equal(c.t, code, got, msg)
	return msg
}

// data opens a passive data connection and sends command over it.
func (c *ftpClient) data(command string) *net.TCPConn {
	c.t.Helper()
	msg := c.cmd(229, "EPSV")
	start := strings.Index(msg, "(|||")
	end := strings.LastIndex(msg, "|)")
	require.True(c.t, start >= 0 && end > start, msg)
	port, err := strconv.Atoi(msg[start+4 : end])
	require.NoError(c.t, err)
	conn, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 10*time.Second)
	require.NoError(c.t, err)
	require.NoError(c.t, conn.SetDeadline(time.Now().Add(30*time.Second)))
	c.cmd(150, "%s", command)
	return conn.(*net.TCPConn)
}

func TestWithFTPServer(t *testing.T) {
	f := newFixture(t, Options{})
	c := dialFTP(t, f.fsys)
	target := filepath.Join(f.home, "dir", "x.php")
	writeFile(t, target, "old", 0o640)

	// A data connection reset in the middle of a STOR leaves the old file.
	conn := c.data("STOR /dir/x.php")
	_, err := conn.Write([]byte("half of the new"))
	require.NoError(t, err)
	require.NoError(t, conn.SetLinger(0))
	require.NoError(t, conn.Close())
	_, msg, err := c.ctrl.ReadResponse(0)
	require.NoError(t, err)
	require.NotContains(t, msg, f.base)
	require.Equal(t, "old", readFile(t, target))
	require.Empty(t, tempFiles(t, filepath.Dir(target)))

	// A STOR that completes replaces it, keeping its mode.
	conn = c.data("STOR /dir/x.php")
	_, err = conn.Write([]byte("new content"))
	require.NoError(t, err)
	require.NoError(t, conn.Close())
	c.expect(226)
	require.Equal(t, "new content", readFile(t, target))
	require.Empty(t, tempFiles(t, filepath.Dir(target)))

	// RETR reads it back; REST resumes a download.
	conn = c.data("RETR dir/x.php")
	data, err := io.ReadAll(conn)
	require.NoError(t, err)
	conn.Close()
	c.expect(226)
	require.Equal(t, "new content", string(data))

	c.cmd(350, "REST 4")
	conn = c.data("RETR dir/x.php")
	data, err = io.ReadAll(conn)
	require.NoError(t, err)
	conn.Close()
	c.expect(226)
	require.Equal(t, "content", string(data))

	// Refused names and escapes get a reply without host paths.
	msg = c.cmd(550, "RETR /shadow")
	require.NotContains(t, msg, f.base)
	c.cmd(350, "RNFR /file.txt")
	msg = c.cmd(553, "RNTO .x.ftpupload-0123456789abcdef")
	require.NotContains(t, msg, f.base)
}
