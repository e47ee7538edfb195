package ftpd

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode"
)

// control is the proxy side of a session: the command filter in the
// engine's reads. It reads the client's commands, answers those
// ftpserverlib gets wrong or cannot see (USER, PASS, AUTH, PORT, EPRT,
// PBSZ/PROT before TLS) and passes the others on.
//
// The engine reads its next command only once it has answered the last
// one, except for transfers, which it runs beside its reads. So before
// login the proxy answers the client directly; after login it sends its
// answers through the engine as SITE commands carrying the session token
// (sessionFS.Site), which ftpserverlib executes in order, after any
// running transfer.
type control struct {
	s        *session
	conn     net.Conn // the client, plain or TLS
	in       *lineReader
	pending  []byte // command lines for the engine
	user     string // from USER, waiting for PASS
	failures int
	protP    bool
	readOnly bool
	// handover is the file system of a login passed to the engine, until
	// the engine has taken it.
	handover *sessionFS
	// prevVerb is the command before the current one: RNTO must follow RNFR at once
	// (RFC 959), which ftpserverlib does not check.
	prevVerb string
}

func newControl(s *session) *control {
	return &control{s: s, conn: s.raw, in: newLineReader(s.raw, s.conf.MaxCommandLength+2)}
}

// read gives the engine its next command lines, handling the client's
// commands until one is for the engine. Any error ends the session.
func (c *control) read(p []byte) (int, error) {
	for len(c.pending) == 0 {
		if !c.next() {
			c.s.close(0, "")
			return 0, net.ErrClosed // ftpserverlib ends the session quietly on it
		}
	}
	n := copy(p, c.pending)
	if n == len(c.pending) {
		c.pending = c.pending[:0]
	} else {
		c.pending = c.pending[n:]
	}
	return n, nil
}

// next handles one command from the client; false ends the session.
func (c *control) next() bool {
	if c.handover != nil && !c.loggedIn() {
		return false
	}
	line, err := c.readLine()
	if err != nil {
		return c.readFailed(err)
	}
	verb, arg := splitCommand(line)
	if c.s.loggedIn.Load() {
		ok := c.afterLogin(verb, arg, line)
		c.prevVerb = verb
		return ok
	}
	return c.beforeLogin(verb, arg, line)
}

// splitCommand splits a line exactly as ftpserverlib does, so that both
// agree on which command it is.
func splitCommand(line string) (verb, arg string) {
	verb, arg, _ = strings.Cut(line, " ")
	return strings.ToUpper(verb), arg
}

func (c *control) readLine() (string, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(c.s.conf.IdleTimeout))
	line, err := c.in.readLine()
	if err != nil {
		return "", err
	}
	line = line[:len(line)-1]
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if len(line) > c.s.conf.MaxCommandLength {
		return "", errLineTooLong
	}
	return string(line), nil
}

// readFailed ends the session after a failed read, unless it is the idle
// timeout during a transfer, which does not count as idle.
func (c *control) readFailed(err error) bool {
	var netErr net.Error
	switch {
	case errors.Is(err, errLineTooLong):
		c.s.report(slog.LevelWarn, "command line too long; closing", "limit", c.s.conf.MaxCommandLength)
		c.s.closeDraining(500, "Command line too long.")
	case errors.As(err, &netErr) && netErr.Timeout():
		if c.s.transferring() {
			return true
		}
		c.s.close(421, fmt.Sprintf("Timeout (%d seconds): closing control connection.", c.s.conf.idleSeconds))
	}
	return false
}

func (c *control) beforeLogin(verb, arg, line string) bool {
	switch verb {
	case "AUTH":
		return c.auth(arg)
	case "USER":
		if c.s.conf.RequireTLS && !c.tlsActive() {
			return c.answer(530, "TLS required: send AUTH TLS before USER.")
		}
		c.user = arg
		return c.answer(331, "Please specify the password.")
	case "PASS":
		return c.pass(arg)
	case "PBSZ", "PROT":
		return c.protection(verb, arg, line)
	}
	return c.forward(line)
}

func (c *control) afterLogin(verb, arg, line string) bool {
	switch verb {
	case "USER":
		return c.answer(530, "Already logged in; open a new connection to change user.")
	case "PASS":
		return c.answer(230, "Already logged in.")
	case "AUTH":
		return c.answer(503, "AUTH must come before USER.")
	case "PBSZ", "PROT":
		return c.protection(verb, arg, line)
	case "PASV", "EPSV":
		if c.s.conf.RequireTLS && !c.protP {
			return c.answer(522, "Data connections must be encrypted: send PROT P first.")
		}
	case "PORT", "EPRT":
		return c.port(verb, arg)
	case "RNFR":
		if c.readOnly {
			return c.answer(550, "Permission denied: this account is read-only.")
		}
	case "RNTO":
		if c.prevVerb != "RNFR" {
			return c.answer(503, "RNFR is expected before RNTO.")
		}
	case "TYPE":
		// Mirrors ftpserverlib's reading of TYPE, for the xferlog type field.
		switch strings.ReplaceAll(strings.ToUpper(arg), " ", "") {
		case "A", "AN", "L7":
			c.s.asciiType.Store(true)
		case "I", "L8":
			c.s.asciiType.Store(false)
		}
	}
	return c.forward(line)
}

func (c *control) tlsActive() bool {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	return c.s.tlsOn
}

// protection refuses PBSZ and PROT on a clear control connection (RFC 4217
// section 9), which would otherwise give TLS data connections without a TLS
// session to resume.
func (c *control) protection(verb, arg, line string) bool {
	if !c.tlsActive() {
		return c.answer(503, "Secure the control connection with AUTH TLS first.")
	}
	if verb == "PROT" {
		c.protP = arg == "P" // as ftpserverlib decides
	}
	return c.forward(line)
}

func (c *control) auth(arg string) bool {
	switch {
	case c.s.tlsControl == nil:
		return c.answer(502, "TLS is not configured on this server.")
	case c.tlsActive():
		return c.answer(503, "TLS is already active.")
	}
	switch strings.ToUpper(arg) {
	case "TLS", "TLS-C", "SSL", "TLS-P":
	default:
		return c.answer(504, "Only AUTH TLS is supported.")
	}
	if c.in.buffered() > 0 {
		// Clear text sent behind AUTH would be taken as if it had come
		// through TLS (command injection, as in CVE-2011-0411).
		c.s.report(slog.LevelWarn, "commands pipelined after AUTH TLS; closing")
		c.s.close(503, "Send nothing after AUTH TLS before the TLS handshake.")
		return false
	}
	conn, err := c.s.out.upgrade(c.s.ctx, c.s.tlsControl)
	if err != nil {
		c.s.report(slog.LevelInfo, "TLS handshake failed on the control connection", "err", err)
		return false
	}
	quickAck(c.s.raw) // the client's first command may wait for it
	c.conn = conn
	c.in = newLineReader(conn, c.s.conf.MaxCommandLength+2)
	c.s.mu.Lock()
	c.s.tlsOn = true
	c.s.mu.Unlock()
	c.user = "" // AUTH resets the login (RFC 4217 section 4)
	return true
}

func (c *control) pass(password string) bool {
	if c.user == "" {
		return c.answer(503, "Login with USER first.")
	}
	user := c.user
	c.user = ""
	acct, err := c.s.srv.auth.Authenticate(c.s.ctx, user, password, c.s.client.Addr())
	if c.s.ctx.Err() != nil {
		return false // the session is being closed
	}
	if err == nil {
		err = checkAccount(acct)
	}
	if err != nil && !errors.Is(err, ErrBadLogin) {
		c.s.report(slog.LevelError, "password check failed", "user", user, "err", err)
		c.s.close(421, "Login service not available, try again later.")
		return false
	}
	if err == nil {
		return c.login(acct)
	}
	c.failures++
	c.s.report(slog.LevelWarn, "login failed", "user", user, "attempt", c.failures)
	if !c.s.sleep(c.s.conf.FailedLoginDelay) {
		return false
	}
	if c.failures >= c.s.conf.LoginAttemptsPerSession {
		c.s.close(530, "Login incorrect.")
		return false
	}
	return c.answer(530, "Login incorrect.")
}

// checkAccount makes sure an account can be handed to ftpserverlib in a
// command line.
func checkAccount(acct Account) error {
	if acct.Name == "" || acct.Home == "" || strings.ContainsFunc(acct.Name, unicode.IsControl) {
		return fmt.Errorf("the authenticator returned an unusable account (name %q, home %q)", acct.Name, acct.Home)
	}
	return nil
}

// login opens the account's home and hands the session to the engine, as
// USER and PASS with the session token for password (engine.AuthUser).
// The next read finds out whether the engine took it (loggedIn).
func (c *control) login(acct Account) bool {
	fs, err := openHome(acct, c.s.conf.AtomicUploads)
	if err != nil {
		c.s.report(slog.LevelError, "home directory not usable", "user", acct.Name, "err", err)
		c.s.close(421, "Home directory not available.")
		return false
	}
	c.handover = &sessionFS{FS: fs, s: c.s}
	c.readOnly = acct.ReadOnly
	c.s.mu.Lock()
	c.s.handover = c.handover
	c.s.mu.Unlock()
	c.s.dropReplies(1) // the engine's 331 to USER; its 230 goes to the client
	c.toEngine("USER " + acct.Name)
	c.toEngine("PASS " + c.s.loginToken)
	return true
}

// loggedIn completes a login once the engine has read USER and PASS.
func (c *control) loggedIn() bool {
	sfs := c.handover
	c.handover = nil
	c.s.mu.Lock()
	ok := c.s.fs == sfs
	c.s.handover = nil
	c.s.mu.Unlock()
	if !ok {
		_ = sfs.Close()
		return false
	}
	c.s.loggedIn.Store(true)
	c.s.report(slog.LevelInfo, "login", "user", c.s.userName(), "tls", c.tlsActive(), "read_only", c.readOnly)
	return true
}

// port lets PORT and EPRT through only when active mode is on, towards the
// client's own address and to an unprivileged port. The engine receives
// the address as parsed here, never the client's spelling of it.
func (c *control) port(verb, arg string) bool {
	if c.s.conf.RequireTLS && !c.protP {
		return c.answer(522, "Data connections must be encrypted: send PROT P first.")
	}
	if !c.s.conf.ActiveMode {
		return c.answer(502, "Active mode is disabled: use PASV or EPSV.")
	}
	parse := parsePORT
	if verb == "EPRT" {
		parse = parseEPRT
	}
	target, err := parse(arg)
	if err != nil {
		return c.answer(501, fmt.Sprintf("Syntax error in %s argument.", verb))
	}
	if target.Addr().WithZone("") != c.s.client.Addr().WithZone("") {
		c.s.report(slog.LevelWarn, "active data connection to another address refused", "user", c.s.userName(), "target", target)
		return c.answer(501, "Data connections must go to your own address.")
	}
	if target.Port() < 1024 {
		c.s.report(slog.LevelWarn, "active data connection to a privileged port refused", "user", c.s.userName(), "target", target)
		return c.answer(504, "Refusing data connections to ports below 1024.")
	}
	return c.forward(formatPort(verb, target))
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

// parseEPRT reads "|1|a.b.c.d|port|" or "|2|ipv6|port|" (RFC 2428), with
// the "|" delimiter that ftpserverlib understands.
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

func formatPort(verb string, ap netip.AddrPort) string {
	if verb == "PORT" {
		a := ap.Addr().As4()
		return fmt.Sprintf("PORT %d,%d,%d,%d,%d,%d", a[0], a[1], a[2], a[3], ap.Port()>>8, ap.Port()&0xff)
	}
	family := 2
	if ap.Addr().Is4() {
		family = 1
	}
	return fmt.Sprintf("EPRT |%d|%s|%d|", family, ap.Addr(), ap.Port())
}

// forward passes a command to the engine.
func (c *control) forward(line string) bool {
	c.toEngine(line)
	return true
}

// answer replies to a command the engine does not see.
func (c *control) answer(code int, msg string) bool {
	if c.s.loggedIn.Load() {
		c.toEngine(fmt.Sprintf("SITE %s %d %s", c.s.token, code, msg))
		return true
	}
	return c.s.out.reply(code, msg) == nil
}

func (c *control) toEngine(line string) {
	c.pending = append(c.pending, line...)
	c.pending = append(c.pending, "\r\n"...)
}

// sleep waits d unless the session ends first.
func (s *session) sleep(d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}
