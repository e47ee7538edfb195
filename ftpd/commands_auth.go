package ftpd

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"unicode"

	"github.com/jelastic/jelastic-ftp/ftpd/rootfs"
)

func (s *session) cmdUSER(arg string) bool {
	if s.loggedIn.Load() {
		return s.send(replyNoSecondUser) == nil
	}
	s.userArg = arg
	return s.send(replyPassword) == nil
}

func (s *session) cmdPASS(password string) bool {
	if s.loggedIn.Load() {
		return s.send(replyAlreadyIn) == nil
	}
	if s.userArg == "" {
		return s.send(replyUserFirst) == nil
	}
	user := s.userArg
	s.userArg = ""
	// A login under way when the user's access is taken away fails (EndSessions).
	revoked := s.srv.revocations(user)
	acct, err := s.srv.auth.Authenticate(context.WithValue(s.ctx, overTLSKey{}, s.tlsActive()), user, password, s.client.Addr())
	if s.ctx.Err() != nil {
		return false // the session is being closed
	}
	if err == nil {
		err = checkAccount(acct)
	}
	if err != nil && !errors.Is(err, ErrBadLogin) {
		s.report(slog.LevelError, "password check failed", "user", user, "err", err)
		s.close(replyLoginOutage.code, replyLoginOutage.text)
		return false
	}
	if err == nil {
		return s.login(acct, revoked)
	}
	s.failures++
	s.report(slog.LevelWarn, "login failed", "user", user, "attempt", s.failures)
	if !s.sleep(s.conf.FailedLoginDelay) {
		return false
	}
	if s.failures >= s.conf.LoginAttemptsPerSession {
		s.close(replyLoginIncorrect.code, replyLoginIncorrect.text)
		return false
	}
	return s.send(replyLoginIncorrect) == nil
}

// checkAccount makes sure an authenticator's account can be logged and served.
func checkAccount(acct Account) error {
	if acct.Name == "" || acct.Home == "" || strings.ContainsFunc(acct.Name, unicode.IsControl) {
		return fmt.Errorf("the authenticator returned an unusable account (name %q, home %q)", acct.Name, acct.Home)
	}
	return nil
}

// login opens the account's home and starts serving it, unless the account
// already has as many sessions as it may.
func (s *session) login(acct Account, revoked uint64) bool {
	// An account that may change nothing gets a home that refuses changes
	// too, beside the command table's checks.
	readOnly := acct.Permissions.ChangesNothing()
	fs, err := rootfs.New(acct.Home, rootfs.Options{ReadOnly: readOnly, InPlaceUploads: !s.conf.AtomicUploads})
	if err != nil {
		s.report(slog.LevelError, "home directory not usable", "user", acct.Name, "err", err)
		s.close(replyHomeUnavailable.code, replyHomeUnavailable.text)
		return false
	}
	// From here the session counts as the user's (its admission.Pass
	// counts it out when it ends), so nothing fails after.
	if refusal, limit := s.srv.loggedIn(s, acct.Name, acct.MaxSessions, revoked); refusal != nil {
		_ = fs.Close()
		msg := "login refused: too many sessions for the user"
		if *refusal == replyAccessChanged {
			msg = "login refused: the account's access changed during login"
		}
		s.report(slog.LevelWarn, msg, "user", acct.Name, "limit", limit)
		s.close(refusal.code, refusal.text)
		return false
	}
	s.fs, s.perms = fs, acct.Permissions
	s.mu.Lock()
	s.user = acct.Name
	s.mu.Unlock()
	s.loggedIn.Store(true)
	s.decide()
	s.report(slog.LevelInfo, "login", "user", acct.Name, "tls", s.tlsActive(), "permissions", acct.Permissions.String())
	return s.send(replyLoggedIn) == nil
}

func (s *session) cmdAUTH(arg string) bool {
	switch {
	case s.loggedIn.Load():
		return s.send(replyAuthAfterUser) == nil
	case s.conf.tls == nil:
		return s.send(replyNoTLS) == nil
	case s.tlsActive():
		return s.send(replyTLSActive) == nil
	}
	switch strings.ToUpper(arg) {
	case "TLS", "TLS-C", "SSL", "TLS-P":
	default:
		return s.send(replyAuthMechanism) == nil
	}
	if s.in.buffered() > 0 {
		// Clear text sent behind AUTH would be taken as if it had come
		// through TLS (command injection, as in CVE-2011-0411).
		s.report(slog.LevelWarn, "commands pipelined after AUTH TLS; closing")
		s.close(replyPipelinedAuth.code, replyPipelinedAuth.text)
		return false
	}
	s.tlsConf = s.sessionTLS()
	conn, err := s.out.upgrade(s.ctx, s.tlsConf, true)
	if err != nil {
		s.report(slog.LevelInfo, "TLS handshake failed on the control connection", "err", err)
		return false
	}
	s.secured(conn)
	s.userArg = "" // AUTH resets the login (RFC 4217 section 4)
	return true
}

// startImplicitTLS runs the TLS handshake an implicit FTPS client starts
// with, before the greeting.
func (s *session) startImplicitTLS() bool {
	if s.conf.tls == nil {
		s.report(slog.LevelError, "implicit FTPS needs TLS in the settings")
		return false
	}
	s.tlsConf = s.sessionTLS()
	conn, err := s.out.upgrade(s.ctx, s.tlsConf, false)
	if err != nil {
		s.report(slog.LevelInfo, "TLS handshake failed on the control connection", "err", err)
		return false
	}
	s.secured(conn)
	return true
}

// secured moves the control connection onto TLS.
func (s *session) secured(conn *tls.Conn) {
	quickAck(s.raw) // the client's first command may wait for it
	s.conn = conn
	s.in = newLineReader(conn, s.conf.MaxCommandLength+2)
	s.mu.Lock()
	s.tlsOn = true
	s.mu.Unlock()
}

// cmdPBSZ and cmdPROT are refused on a clear control connection (RFC 4217
// section 9): PROT P there would give TLS data connections without a TLS
// session to resume.
func (s *session) cmdPBSZ(string) bool {
	if !s.tlsActive() {
		return s.send(replyTLSBeforeProt) == nil
	}
	return s.send(replyPBSZ) == nil
}

func (s *session) cmdPROT(arg string) bool {
	if !s.tlsActive() {
		return s.send(replyTLSBeforeProt) == nil
	}
	switch strings.ToUpper(arg) {
	case "P":
		s.protP = true
	case "C":
		s.protP = false
	default:
		return s.send(replyProtLevel) == nil
	}
	return s.send(replyProt) == nil
}

func (s *session) cmdQUIT(string) bool {
	s.close(replyGoodbye.code, replyGoodbye.text)
	return false
}
