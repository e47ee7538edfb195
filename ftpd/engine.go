package ftpd

import (
	"context"
	"crypto/subtle"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	ftpserver "github.com/fclairamb/ftpserverlib"
)

var (
	errNoTLS        = errors.New("TLS is not configured")
	errNotFromProxy = errors.New("login did not come through the session's proxy")
	errForeignData  = errors.New("too many data connections from other addresses")
)

// maxForeignDataConns bounds how many connections from other addresses a
// passive port drops while it waits for its client.
const maxForeignDataConns = 16

// newEngine makes a private ftpserverlib server for this session alone,
// serving the client through an engineConn.
//
// One server per session costs a struct, and it gives GetTLSConfig and
// WrapPassiveListener, which ftpserverlib calls without any client context,
// a session to answer for. It also lets every session keep the settings it
// started with across a Reload.
func (s *session) newEngine() (*ftpserver.FtpServer, error) {
	l := &oneConnListener{addr: s.raw.LocalAddr(), conns: make(chan net.Conn, 1), closed: make(chan struct{})}
	l.conns <- &engineConn{s: s, ctl: newControl(s)}

	settings := &ftpserver.Settings{
		Listener:                l,
		ListenAddr:              s.raw.LocalAddr().String(), // only shown by STAT
		PublicHost:              s.conf.PublicHost,
		Banner:                  "jelastic-ftp",
		IdleTimeout:             s.conf.idleSeconds, // enforced by the proxy (control.readLine)
		ConnectionTimeout:       30,
		ActiveTransferPortNon20: true, // the worker cannot bind port 20
		DisableActiveMode:       !s.conf.ActiveMode,
		TLSRequired:             ftpserver.ClearOrEncrypted, // the proxy enforces RequireTLS
		EnableHASH:              true,
		DefaultTransferType:     ftpserver.TransferTypeBinary,
		DisableASCIIConversion:  true, // files stay byte-exact, as vsftpd does by default
		ActiveConnectionsCheck:  ftpserver.IPMatchRequired,
		PasvConnectionsCheck:    ftpserver.IPMatchRequired,
	}
	if s.conf.PassivePortMin != 0 {
		settings.PassiveTransferPortRange = passivePorts{min: s.conf.PassivePortMin, max: s.conf.PassivePortMax}
	}

	ftp := ftpserver.NewFtpServer(&engineDriver{s: s, settings: settings})
	// ftpserverlib logs routine events at Info and Debug; the proxy logs
	// what an operator needs.
	ftp.Logger = slog.New(atLeast{Handler: s.log.Handler(), min: slog.LevelWarn}).With("session", s.id)
	if err := ftp.Listen(); err != nil {
		return nil, fmt.Errorf("start the FTP engine: %w", err)
	}
	s.engineListener = l
	return ftp, nil
}

// engineGrace is how long the engine gets to end a session whose client is
// gone before its transfer is cut.
const engineGrace = 5 * time.Second

// engineDriver is the ftpserverlib driver of one session.
type engineDriver struct {
	s        *session
	settings *ftpserver.Settings
}

var (
	_ ftpserver.MainDriver                         = (*engineDriver)(nil)
	_ ftpserver.MainDriverExtensionPassiveWrapper  = (*engineDriver)(nil)
	_ ftpserver.MainDriverExtensionPostAuthMessage = (*engineDriver)(nil)
	_ ftpserver.MainDriverExtensionQuitMessage     = (*engineDriver)(nil)
)

func (d *engineDriver) GetSettings() (*ftpserver.Settings, error) { return d.settings, nil }

func (d *engineDriver) ClientConnected(cc ftpserver.ClientContext) (string, error) {
	d.s.mu.Lock()
	d.s.cc = cc
	d.s.mu.Unlock()
	return d.s.conf.Welcome, nil
}

func (d *engineDriver) ClientDisconnected(ftpserver.ClientContext) {
	close(d.s.engineGone)
	d.s.engineListener.Close() // ends the engine's Serve
}

// AuthUser completes the login the proxy has checked: it takes the file
// system prepared for the account, and only with the session's login token
// for password.
func (d *engineDriver) AuthUser(cc ftpserver.ClientContext, user, pass string) (ftpserver.ClientDriver, error) {
	s := d.s
	s.mu.Lock()
	fs := s.handover
	if fs == nil || subtle.ConstantTimeCompare([]byte(pass), []byte(s.loginToken)) != 1 {
		s.mu.Unlock()
		return nil, errNotFromProxy
	}
	s.handover = nil
	s.mu.Unlock()
	if s.conf.RequireTLS {
		// Refuses transfers without PROT P, behind the proxy's own check.
		if err := cc.SetTLSRequirement(ftpserver.MandatoryEncryption); err != nil {
			return nil, err
		}
	}
	s.mu.Lock()
	s.fs, s.user = fs, user
	s.mu.Unlock()
	return fs, nil
}

// GetTLSConfig serves TLS data connections, passive and active. ftpserverlib
// also calls it to decide whether FEAT lists AUTH TLS.
func (d *engineDriver) GetTLSConfig() (*tls.Config, error) {
	if d.s.tlsData == nil {
		return nil, errNoTLS
	}
	return d.s.tlsData, nil
}

func (d *engineDriver) WrapPassiveListener(l net.Listener) (net.Listener, error) {
	wrapped := &dataListener{Listener: l, s: d.s, ready: make(chan struct{})}
	if !d.s.trackData(wrapped) {
		_ = l.Close()
		return nil, errSessionEnded
	}
	go wrapped.acceptEarly()
	return wrapped, nil
}

func (d *engineDriver) PostAuthMessage(_ ftpserver.ClientContext, _ string, err error) string {
	if err != nil {
		return "Login incorrect."
	}
	return "Login successful."
}

func (d *engineDriver) QuitMessage() string { return "Goodbye." }

// dataListener hands ftpserverlib only the passive data connections that
// come from the session's client. ftpserverlib's own IP check (IPMatchRequired)
// fails the transfer when another host connects first; dropping such
// connections here lets the real client still connect.
//
// It accepts as soon as the PASV reply is out rather than when ftpserverlib
// asks, after the transfer command: clients connect first and then send the
// command, and the connection's arrival wakes the worker anyway (Go watches
// every socket), so the accept is done while the command is on its way.
// (The listener stays open until the transfer ends: ftpserverlib sets its
// deadline before calling Accept.)
type dataListener struct {
	net.Listener
	s     *session
	ready chan struct{} // closed once acceptEarly has its result

	mu      sync.Mutex
	early   accepted
	claimed bool // by Accept, or by Close, which closes an unclaimed connection
}

type accepted struct {
	conn net.Conn
	err  error
}

func (l *dataListener) acceptEarly() {
	conn, err := l.accept()
	l.mu.Lock()
	l.early = accepted{conn, err}
	l.mu.Unlock()
	close(l.ready)
}

// Accept returns the connection acceptEarly took. ftpserverlib calls it once
// per PASV, from the transfer's goroutine.
func (l *dataListener) Accept() (net.Conn, error) {
	<-l.ready
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.claimed {
		return nil, net.ErrClosed
	}
	l.claimed = true
	return l.early.conn, l.early.err
}

func (l *dataListener) accept() (net.Conn, error) {
	for range maxForeignDataConns {
		conn, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		from := addrPort(conn.RemoteAddr())
		if from.Addr() == l.s.client.Addr() {
			data := &dataConn{Conn: conn, timeout: l.s.conf.IdleTimeout, s: l.s}
			if !l.s.trackData(data) {
				_ = conn.Close()
				return nil, errSessionEnded
			}
			return data, nil
		}
		l.s.report(slog.LevelWarn, "passive data connection from another address refused", "user", l.s.userName(), "from", from)
		conn.Close()
	}
	return nil, errForeignData
}

// Close closes the listening socket from a goroutine of its own: ftpserverlib
// closes it before it sends the transfer's 226, and nothing waits for it. A
// connection that came in but was never asked for (PASV, then no transfer) is
// closed with it.
func (l *dataListener) Close() error {
	l.s.untrackData(l)
	go func() {
		_ = l.Listener.Close()
		<-l.ready
		l.mu.Lock()
		defer l.mu.Unlock()
		if !l.claimed && l.early.conn != nil {
			l.claimed = true
			_ = l.early.conn.Close()
		}
	}()
	return nil
}

// dataConn gives up on a data connection on which nothing moves for the
// idle timeout: ftpserverlib sets no deadline on data connections, and it
// keeps the control connection alive as long as a transfer is open.
type dataConn struct {
	net.Conn
	timeout time.Duration
	s       *session

	// ftpserverlib writes listings one entry per Write; gathering them saves a
	// system call per line. Whatever is pending goes out before any Read (a TLS
	// handshake waits for the peer's answer), before ReadFrom, and on Close.
	mu   sync.Mutex
	wbuf []byte

	reads int // reads that returned data, up to handshakeReads

	// ended is set once TCP has nothing left to carry but the goodbye: an upload
	// was read to the client's FIN, or a download was sent and followed by ours.
	ended atomic.Bool
}

// dataWriteBuffer is how many bytes of small writes a data connection gathers.
const dataWriteBuffer = 32 << 10

// Close ends the data connection. ftpserverlib closes it before it sends the
// transfer's 226; once the connection has ended (see dataConn.ended), closing
// the socket only finishes TCP's goodbye, which the reply need not wait for,
// so a goroutine of its own does it, after the reply has gone out.
func (c *dataConn) Close() error {
	c.mu.Lock()
	err := c.flushLocked()
	c.mu.Unlock()
	c.s.untrackData(c)
	if err == nil && c.ended.Load() {
		go c.Conn.Close()
		return nil
	}
	return errors.Join(err, c.Conn.Close())
}

// handshakeReads is how many reads of a data connection acknowledge at
// once (quickAck): they cover a TLS handshake's.
const handshakeReads = 3

func (c *dataConn) Read(p []byte) (int, error) {
	if err := c.flush(); err != nil {
		return 0, err
	}
	_ = c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
	n, err := c.Conn.Read(p)
	if n > 0 && c.reads < handshakeReads {
		c.reads++
		quickAck(c.Conn)
	}
	return n, err
}

func (c *dataConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.wbuf)+len(p) > dataWriteBuffer {
		if err := c.flushLocked(); err != nil {
			return 0, err
		}
		if len(p) >= dataWriteBuffer {
			_ = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
			return c.Conn.Write(p)
		}
	}
	c.wbuf = append(c.wbuf, p...)
	return len(p), nil
}

func (c *dataConn) flush() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.flushLocked()
}

func (c *dataConn) flushLocked() error {
	if len(c.wbuf) == 0 {
		return nil
	}
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	_, err := c.Conn.Write(c.wbuf)
	c.wbuf = c.wbuf[:0]
	return err
}

// ReadFrom keeps sendfile(2) for downloads (see trackedFile.WriteTo, which
// sends in chunks so that the deadline moves on).
func (c *dataConn) ReadFrom(r io.Reader) (int64, error) {
	if err := c.flush(); err != nil {
		return 0, err
	}
	_ = c.Conn.SetWriteDeadline(time.Now().Add(c.timeout))
	return io.Copy(c.Conn, r)
}

// WriteTo receives an upload in chunks (chunks.go), with a new deadline for each. The
// chunks reach the file (trackedFile.ReadFrom) as the TCP connection itself
// under an io.LimitedReader, which an *os.File takes with splice(2): the
// data never passes through the worker's memory.
func (c *dataConn) WriteTo(w io.Writer) (int64, error) {
	var total int64
	sizes := newChunks(c.timeout)
	for {
		_ = c.Conn.SetReadDeadline(time.Now().Add(c.timeout))
		size := sizes.next()
		n, err := io.Copy(w, &io.LimitedReader{R: c.Conn, N: size})
		sizes.done()
		total += n
		if err == nil && n < size {
			c.ended.Store(true)
		}
		if err != nil || n < size {
			return total, err
		}
	}
}

// CloseWrite ends a download: what is pending, then the FIN.
func (c *dataConn) CloseWrite() error {
	if err := c.flush(); err != nil {
		return err
	}
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		err := cw.CloseWrite()
		c.ended.Store(err == nil)
		return err
	}
	return nil
}

// oneConnListener yields the session's engineConn once, then blocks until
// closed, which is how ftpserverlib's Serve loop ends.
type oneConnListener struct {
	addr      net.Addr
	conns     chan net.Conn
	closed    chan struct{}
	closeOnce sync.Once
}

func (l *oneConnListener) Accept() (net.Conn, error) {
	select {
	case conn := <-l.conns:
		return conn, nil
	case <-l.closed:
		// ftpserverlib ends Serve quietly on exactly this error.
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.addr, Err: net.ErrClosed}
	}
}

func (l *oneConnListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	return nil
}

func (l *oneConnListener) Addr() net.Addr { return l.addr }

// engineConn is the connection ftpserverlib serves. Its reads run the
// proxy's command filter on the client's connection, in the engine's own
// goroutine, and its writes are the engine's replies to the client: no
// goroutine stands between the client and the engine.
//
// Deadlines are the proxy's: it reads with the idle timeout and writes with
// its own, so the engine's are ignored.
type engineConn struct {
	s   *session
	ctl *control
}

func (c *engineConn) Read(p []byte) (int, error) { return c.ctl.read(p) }

func (c *engineConn) Write(p []byte) (int, error) {
	c.s.relay(p)
	return len(p), nil // a client that is gone ends the session through its reads
}

func (c *engineConn) Close() error {
	c.s.close(0, "")
	return nil
}

func (c *engineConn) LocalAddr() net.Addr                { return c.s.raw.LocalAddr() }
func (c *engineConn) RemoteAddr() net.Addr               { return c.s.raw.RemoteAddr() }
func (c *engineConn) SetDeadline(t time.Time) error      { return nil }
func (c *engineConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *engineConn) SetWriteDeadline(t time.Time) error { return nil }

// atLeast drops log records below min.
type atLeast struct {
	slog.Handler
	min slog.Level
}

func (h atLeast) Enabled(ctx context.Context, level slog.Level) bool {
	return level >= h.min && h.Handler.Enabled(ctx, level)
}

func (h atLeast) WithAttrs(attrs []slog.Attr) slog.Handler {
	return atLeast{Handler: h.Handler.WithAttrs(attrs), min: h.min}
}

func (h atLeast) WithGroup(name string) slog.Handler {
	return atLeast{Handler: h.Handler.WithGroup(name), min: h.min}
}
