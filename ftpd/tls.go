package ftpd

import (
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
)

// errNoSessionReuse is what a client that did not resume its control
// connection's TLS session on a data connection reads in the reply.
var errNoSessionReuse = errors.New("TLS session reuse required: the data connection must resume the TLS session of its control connection")

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
		return nil, errors.New("TLS configuration must not set GetConfigForClient, WrapSession or UnwrapSession: they would bypass the per-session ticket keys that bind data connections to their control connection")
	}
	base := c.Clone()
	if base.MinVersion < tls.VersionTLS12 {
		base.MinVersion = tls.VersionTLS12
	}
	if base.MaxVersion != 0 && base.MaxVersion < base.MinVersion {
		return nil, fmt.Errorf("TLS MaxVersion %#x is below TLS 1.2", base.MaxVersion)
	}
	// Resumption is how a data connection proves it belongs to its control
	// connection, so tickets stay on whatever the caller set.
	base.SessionTicketsDisabled = false
	return base, nil
}

// sessionTLS derives the TLS configurations of one control connection and
// its data connections from base.
//
// Both share a session ticket key drawn for this session alone, so a data
// connection can only resume a TLS session that this control connection
// (or one of its own data connections) negotiated: a ticket from another
// client's session does not decrypt and leads to a full handshake, which
// the data configuration refuses when requireReuse is set. This is the
// check vsftpd calls require_ssl_reuse; crypto/tls supports resumption by
// ticket in TLS 1.2 and 1.3.
func sessionTLS(base *tls.Config, requireReuse bool, refused func()) (control, data *tls.Config, err error) {
	var key [32]byte
	if _, err := rand.Read(key[:]); err != nil {
		return nil, nil, fmt.Errorf("draw a TLS session ticket key: %w", err)
	}
	control = base.Clone()
	control.SetSessionTicketKeys([][32]byte{key})
	data = base.Clone()
	data.SetSessionTicketKeys([][32]byte{key})
	if requireReuse {
		verify := base.VerifyConnection
		data.VerifyConnection = func(cs tls.ConnectionState) error {
			if verify != nil {
				if err := verify(cs); err != nil {
					return err
				}
			}
			if !cs.DidResume {
				refused()
				return errNoSessionReuse
			}
			return nil
		}
	}
	return control, data, nil
}
