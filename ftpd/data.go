package ftpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

var (
	errForeignData = errors.New("too many data connections from other addresses")
	errNoDataConn  = errors.New("the client did not open the data connection in time")
)

// maxForeignDataConns bounds how many connections from other addresses a
// passive port drops while it waits for its client.
const maxForeignDataConns = 16

// dataConnectTimeout bounds the wait for a passive data connection and the
// dial of an active one.
const dataConnectTimeout = 30 * time.Second

// dataChannel is what the last PASV, EPSV, PORT or EPRT set up for the next
// transfer: a passive listener or an active target.
type dataChannel struct {
	passive *passive
	active  netip.AddrPort
}

func (d *dataChannel) ready() bool { return d.passive != nil || d.active.IsValid() }

// take hands the channel to a transfer.
func (d *dataChannel) take() dataChannel {
	taken := *d
	*d = dataChannel{}
	return taken
}

func (d *dataChannel) close() {
	if d.passive != nil {
		_ = d.passive.Close()
	}
	*d = dataChannel{}
}

func (s *session) cmdPASV(string) bool {
	host := s.conf.PublicHost
	local := ClientAddrPort(s.raw.LocalAddr()).Addr()
	if !local.Is4() {
		return s.send(replyPASVOverIPv6) == nil
	}
	if host == "" {
		host = local.String()
	}
	p, alive := s.listenPassive()
	if p == nil {
		return alive
	}
	port := p.port()
	b := []byte("Entering Passive Mode (")
	b = append(b, strings.ReplaceAll(host, ".", ",")...)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(port>>8), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(port&0xff), 10)
	b = append(b, ')')
	return s.reply(227, string(b)) == nil
}

func (s *session) cmdEPSV(string) bool {
	p, alive := s.listenPassive()
	if p == nil {
		return alive
	}
	return s.reply(229, "Entering Extended Passive Mode (|||"+strconv.Itoa(p.port())+"|)") == nil
}

// listenPassive replaces the data channel with a new passive listener, on
// the address the client reached the server at. Without one it has
// answered, and alive tells whether the session goes on.
func (s *session) listenPassive() (p *passive, alive bool) {
	s.data.close()
	l, err := s.listen(ClientAddrPort(s.raw.LocalAddr()).Addr())
	if err != nil {
		s.report(slog.LevelWarn, "cannot listen for a passive data connection", "user", s.userName(), "err", err)
		return nil, s.reply(425, "Could not listen for passive connection: "+err.Error()) == nil
	}
	p = &passive{l: l, s: s}
	if !s.track(p) {
		_ = l.Close()
		return nil, false
	}
	s.data.passive = p
	return p, true
}

// dataListener and dataDialer make data connections without TCP
// keep-alives: a transfer that does not move ends by its stall watch
// (watchTransfer) long before they would, and each connection saves the
// four setsockopt calls that set them.
var (
	dataListener = net.ListenConfig{KeepAlive: -1}
	dataDialer   = net.Dialer{Timeout: dataConnectTimeout, KeepAlive: -1}
)

// listenTCP opens a passive data listener on addr.
func listenTCP(addr netip.AddrPort) (*net.TCPListener, error) {
	l, err := dataListener.Listen(context.Background(), "tcp", addr.String())
	if err != nil {
		return nil, err
	}
	return l.(*net.TCPListener), nil
}

// listen opens a listener on a random port of the passive range (ports.go).
func (s *session) listen(ip netip.Addr) (*net.TCPListener, error) {
	if s.conf.PassivePortMin == 0 {
		return listenTCP(netip.AddrPortFrom(ip, 0))
	}
	ports := passivePorts{min: s.conf.PassivePortMin, max: s.conf.PassivePortMax}
	var err error
	for range ports.attempts() {
		var l *net.TCPListener
		if l, err = listenTCP(netip.AddrPortFrom(ip, uint16(ports.next()))); err == nil {
			return l, nil
		}
		if !errors.Is(err, syscall.EADDRINUSE) {
			break
		}
	}
	return nil, fmt.Errorf("no free port in %d-%d: %w", ports.min, ports.max, err)
}

// passive is a passive data listener. It takes only a connection from the
// session's client address: another host that connects first is dropped,
// and the client still gets in.
//
// It accepts when the transfer command comes, not in a goroutine of its own
// as soon as PASV is answered: clients connect first and then send the
// command, so the connection is in the listener's queue by then and the
// accept is one system call, where a goroutine woken by the connection cost
// a wake-up of the process per file.
type passive struct {
	l *net.TCPListener
	s *session

	mu      sync.Mutex
	claimed bool         // by wait, or by Close
	taken   *net.TCPConn // the client's, accepted ahead by takeQueued
}

func (p *passive) port() int { return p.l.Addr().(*net.TCPAddr).Port }

// queued tells whether a connection waits in the listener's queue, so
// that accepting it does not wait.
func (p *passive) queued() bool {
	ready := false
	onSocket(p.l, func(fd int) {
		fds := [1]unix.PollFd{{Fd: int32(fd), Events: unix.POLLIN}}
		n, err := unix.Poll(fds[:], 0)
		ready = err == nil && n > 0 && fds[0].Revents&unix.POLLIN != 0
	})
	return ready
}

// acceptOne accepts a connection: the client's, or nil and no error for
// one from another address, which it closes.
func (p *passive) acceptOne() (*net.TCPConn, error) {
	conn, err := p.l.AcceptTCP()
	if err != nil {
		return nil, err
	}
	from := ClientAddrPort(conn.RemoteAddr())
	if from.Addr() == p.s.client.Addr() {
		return conn, nil
	}
	p.s.report(slog.LevelWarn, "passive data connection from another address refused", "user", p.s.userName(), "from", from)
	conn.Close()
	return nil, nil
}

// takeQueued accepts, without waiting, the client's connection if it is in
// the listener's queue, closing any from other addresses queued before it;
// wait then returns it. It tells whether it got it: only then may a download
// run in the control loop (inlineDownload), which must not wait on anyone.
func (p *passive) takeQueued() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.claimed || p.taken != nil {
		return p.taken != nil
	}
	// A queued connection is accepted at once; the deadline only guards
	// against the queue having emptied in between.
	_ = p.l.SetDeadline(time.Now().Add(time.Second))
	for range maxForeignDataConns {
		if !p.queued() {
			return false
		}
		conn, err := p.acceptOne()
		if err != nil {
			return false
		}
		if conn != nil {
			p.taken = conn
			return true
		}
	}
	return false
}

// wait returns the client's connection once it has come, and closes the
// listener: one connection per PASV.
func (p *passive) wait(ctx context.Context) (*net.TCPConn, error) {
	p.mu.Lock()
	claimed, taken := p.claimed, p.taken
	p.claimed, p.taken = true, nil
	p.mu.Unlock()
	if claimed {
		return nil, net.ErrClosed
	}
	defer p.l.Close()
	if taken != nil {
		return taken, nil
	}
	_ = p.l.SetDeadline(time.Now().Add(dataConnectTimeout))
	stop := context.AfterFunc(ctx, func() { _ = p.l.Close() })
	defer stop()
	for range maxForeignDataConns {
		conn, err := p.acceptOne()
		switch {
		case conn != nil:
			return conn, nil
		case err == nil:
			continue
		case ctx.Err() != nil:
			return nil, ctx.Err()
		case errors.Is(err, os.ErrDeadlineExceeded):
			return nil, errNoDataConn
		}
		return nil, err
	}
	return nil, errForeignData
}

// Close closes the listener. A connection the client opened that no
// transfer took is accepted and closed first, so that the client sees it
// end (EOF) rather than reset with the listener.
func (p *passive) Close() error {
	p.s.untrack(p)
	p.mu.Lock()
	claimed, taken := p.claimed, p.taken
	p.claimed, p.taken = true, nil
	p.mu.Unlock()
	if taken != nil {
		_ = taken.Close()
	}
	if !claimed {
		// A client that reset its connection meanwhile leaves nothing to accept.
		_ = p.l.SetDeadline(time.Now().Add(time.Second))
	}
	for i := 0; !claimed && i < maxForeignDataConns && p.queued(); i++ {
		conn, err := p.l.AcceptTCP()
		if err != nil {
			break
		}
		_ = conn.Close()
	}
	return p.l.Close()
}

func (s *session) cmdPORT(arg string) bool { return s.setActive("PORT", arg, parsePORT) }
func (s *session) cmdEPRT(arg string) bool { return s.setActive("EPRT", arg, parseEPRT) }

// setActive takes PORT and EPRT only when active mode is on, towards the
// client's own address and to an unprivileged port.
func (s *session) setActive(verb, arg string, parse func(string) (netip.AddrPort, error)) bool {
	if !s.conf.ActiveMode {
		return s.send(replyActiveOff) == nil
	}
	target, err := parse(arg)
	if err != nil {
		return s.reply(501, "Syntax error in "+verb+" argument.") == nil
	}
	if target.Addr().WithZone("") != s.client.Addr().WithZone("") {
		s.warn("active data connection to another address refused", "user", s.userName(), "target", target)
		return s.send(replyOwnAddress) == nil
	}
	if target.Port() < 1024 {
		s.warn("active data connection to a privileged port refused", "user", s.userName(), "target", target)
		return s.send(replyPrivilegedPort) == nil
	}
	s.data.close()
	s.data.active = target
	return s.reply(200, verb+" command successful") == nil
}

// parsePORT reads "h1,h2,h3,h4,p1,p2" (RFC 959).
func parsePORT(arg string) (netip.AddrPort, error) {
	fields := strings.Split(arg, ",")
	if len(fields) != 6 {
		return netip.AddrPort{}, errors.New("PORT needs six numbers")
	}
	var b [6]byte
	for i, f := range fields {
		n, err := strconv.ParseUint(f, 10, 8)
		if err != nil {
			return netip.AddrPort{}, fmt.Errorf("PORT field %q: %w", f, err)
		}
		b[i] = byte(n)
	}
	return netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[:4])), uint16(b[4])<<8|uint16(b[5])), nil
}

// parseEPRT reads "|1|a.b.c.d|port|" or "|2|ipv6|port|" (RFC 2428).
func parseEPRT(arg string) (netip.AddrPort, error) {
	fields := strings.Split(arg, "|")
	if len(fields) != 5 || fields[0] != "" || fields[4] != "" {
		return netip.AddrPort{}, errors.New("EPRT needs |family|address|port|")
	}
	addr, err := netip.ParseAddr(fields[2])
	if err != nil {
		return netip.AddrPort{}, err
	}
	if (fields[1] == "1") != addr.Is4() || (fields[1] != "1" && fields[1] != "2") {
		return netip.AddrPort{}, fmt.Errorf("EPRT family %q does not match %s", fields[1], addr)
	}
	port, err := strconv.ParseUint(fields[3], 10, 16)
	if err != nil || port == 0 {
		return netip.AddrPort{}, fmt.Errorf("EPRT port %q is not valid", fields[3])
	}
	return netip.AddrPortFrom(addr.WithZone(""), uint16(port)), nil
}

// connect opens the data connection of channel ch: it takes the passive
// connection or dials the active target.
func (s *session) connect(ctx context.Context, ch dataChannel) (*dataConn, error) {
	var conn *net.TCPConn
	if ch.passive != nil {
		defer ch.passive.Close()
		c, err := ch.passive.wait(ctx)
		if err != nil {
			return nil, err
		}
		conn = c
	} else {
		c, err := dataDialer.DialContext(ctx, "tcp", ch.active.String())
		if err != nil {
			return nil, err
		}
		conn = c.(*net.TCPConn)
	}
	// Twice the idle timeout: a file transfer's stall watch (watchTransfer)
	// ends a transfer that does not move, with its own reply, first.
	dc := &dataConn{TCPConn: conn, timeout: 2 * s.conf.IdleTimeout}
	if !s.track(dc) {
		_ = conn.Close()
		return nil, errSessionEnded
	}
	return dc, nil
}

// secure runs the TLS handshake on a data connection, after 150, when the
// client asks for it then. A connection that did not resume a TLS session
// the server gave this client (tls.go) is refused when session reuse is
// required: reused reports false, and the caller answers 522 once the
// client has finished with the connection, so that its replies stay in
// step (refuseData).
func (s *session) secure(dc *dataConn) (tc *tls.Conn, reused bool, err error) {
	tc = tls.Server(dc, s.tlsConf) // PROT P needs AUTH TLS first
	ctx, cancel := context.WithTimeout(s.ctx, s.conf.IdleTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		return nil, false, err
	}
	if s.conf.RequireSessionReuse && !tc.ConnectionState().DidResume {
		s.report(slog.LevelWarn, "TLS data connection refused: it did not resume the control connection's session", "user", s.userName())
		return tc, false, nil
	}
	return tc, true, nil
}

// dataConn is a TCP data connection whose reads and writes each get the
// idle timeout for deadline. The first reads acknowledge at once
// (quickAck): they carry a TLS handshake.
type dataConn struct {
	*net.TCPConn
	timeout time.Duration
	reads   int // reads that returned data, up to handshakeReads
}

// handshakeReads is how many reads of a data connection acknowledge at
// once: they cover a TLS handshake's.
const handshakeReads = 3

func (c *dataConn) Read(p []byte) (int, error) {
	_ = c.SetReadDeadline(time.Now().Add(c.timeout))
	n, err := c.TCPConn.Read(p)
	if n > 0 && c.reads < handshakeReads {
		c.reads++
		quickAck(c.TCPConn)
	}
	return n, err
}

func (c *dataConn) Write(p []byte) (int, error) {
	_ = c.SetWriteDeadline(time.Now().Add(c.timeout))
	return c.TCPConn.Write(p)
}
