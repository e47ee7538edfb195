package ftpd

import (
	"bytes"
	"crypto/rand"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// errNoSessionReuse is why a refused TLS data connection's transfer failed.
var errNoSessionReuse = errors.New("the TLS data connection did not resume a session of this client")

// TLS12CipherSuites are the only suites offered on TLS 1.2: ECDHE key exchange (forward
// secrecy) with an AEAD cipher, AES-GCM or ChaCha20-Poly1305. Go's defaults add CBC
// suites (LUCKY13) and RSA key exchange. TLS 1.3's suites are all AEAD and fixed.
var TLS12CipherSuites = []uint16{
	tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
	tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
	tls.TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
}

// baseTLS checks the configured TLS and returns the copy sessions derive
// theirs from, or nil when FTPS is off.
func baseTLS(c *tls.Config) (*tls.Config, error) {
	if c == nil {
		return nil, nil
	}
	if len(c.Certificates) == 0 && c.GetCertificate == nil {
		return nil, errors.New("TLS configuration has neither Certificates nor GetCertificate")
	}
	if c.GetConfigForClient != nil || c.WrapSession != nil || c.UnwrapSession != nil {
		return nil, errors.New("TLS configuration must not set GetConfigForClient, WrapSession or UnwrapSession: they would bypass the session tickets that bind data connections to their client")
	}
	base := c.Clone()
	if base.MinVersion < tls.VersionTLS12 {
		base.MinVersion = tls.VersionTLS12
	}
	if base.MaxVersion != 0 && base.MaxVersion < base.MinVersion {
		return nil, fmt.Errorf("TLS MaxVersion %#x is below TLS 1.2", base.MaxVersion)
	}
	// Resumption is how a data connection proves it belongs to its client, so
	// tickets stay on whatever the caller set. Their key is drawn for each
	// configuration: a Reload rotates it.
	base.SessionTicketsDisabled = false
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, fmt.Errorf("draw a TLS session ticket key: %w", err)
	}
	base.SetSessionTicketKeys([][32]byte{key})
	return base, nil
}

// Session tickets carry who they were issued to: the client's address, the
// session they were issued in and, once it is known, its user. A data
// connection resumes only a ticket of its own client address whose user is
// the data connection's session's user; anything else takes a full
// handshake, which secure refuses when session reuse is required. So a
// client's own connections share their tickets (rclone keeps one TLS session
// cache for its connections), and another user behind the same address
// cannot take over a transfer. This is vsftpd's require_ssl_reuse, widened
// from one control connection to one client and user.

// ticketTag starts the identity the server adds to a session ticket.
const ticketTag = "jelastic-ftp ticket 1\x00"

// sessionTLS derives the TLS configuration of a session's connections.
func (s *session) sessionTLS() *tls.Config {
	c := s.conf.tls.Clone()
	c.WrapSession = func(cs tls.ConnectionState, ss *tls.SessionState) ([]byte, error) {
		ss.Extra = append(ss.Extra, s.ticketIdentity())
		return c.EncryptTicket(cs, ss)
	}
	c.UnwrapSession = func(ticket []byte, cs tls.ConnectionState) (*tls.SessionState, error) {
		ss, err := c.DecryptTicket(ticket, cs)
		if err != nil || ss == nil {
			return nil, nil // not resumed: a full handshake
		}
		for _, extra := range ss.Extra {
			if s.ticketAccepted(extra) {
				return ss, nil
			}
		}
		return nil, nil
	}
	return c
}

// ticketIdentity is tag, client address (16 bytes), session ID (8 bytes)
// and user.
func (s *session) ticketIdentity() []byte {
	addr := s.client.Addr().Unmap().As16()
	b := append([]byte(ticketTag), addr[:]...)
	b = binary.BigEndian.AppendUint64(b, s.id)
	return append(b, s.userName()...)
}

// ticketAccepted tells whether a ticket with this identity may be resumed by
// this session: same client address and, on a data connection, same user.
func (s *session) ticketAccepted(identity []byte) bool {
	rest, ok := bytes.CutPrefix(identity, []byte(ticketTag))
	if !ok || len(rest) < 24 {
		return false
	}
	if netip.AddrFrom16([16]byte(rest[:16])) != netip.AddrFrom16(s.client.Addr().Unmap().As16()) {
		return false
	}
	if !s.loggedIn.Load() {
		return true // a control connection: its login is still to come
	}
	user := string(rest[24:])
	if user == "" {
		// Issued to a control connection before its login.
		user = s.srv.userOfSession(binary.BigEndian.Uint64(rest[16:24]))
	}
	return user != "" && user == s.userName()
}
