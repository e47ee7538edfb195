package selfsigned

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func parse(t *testing.T, certPEM []byte) *x509.Certificate {
	t.Helper()
	block, _ := pem.Decode(certPEM)
	require.NotNil(t, block)
	c, err := x509.ParseCertificate(block.Bytes)
	require.NoError(t, err)
	return c
}

func TestNew(t *testing.T) {
	certPEM, keyPEM, err := New([]string{"node1.example.test", "node1", "192.0.2.1", "2001:db8::1"}, Validity)
	require.NoError(t, err)
	_, err = tls.X509KeyPair(certPEM, keyPEM)
	require.NoError(t, err)
	c := parse(t, certPEM)
	require.Equal(t, []string{"node1.example.test", "node1"}, c.DNSNames)
	require.Len(t, c.IPAddresses, 2)
	require.Equal(t, "node1.example.test", c.Subject.CommonName)
	require.LessOrEqual(t, c.NotAfter.Sub(c.NotBefore), 398*24*time.Hour)
}

func TestDue(t *testing.T) {
	now := time.Now()
	ours := func(validFor time.Duration) []byte {
		certPEM, _, err := New([]string{"node1"}, validFor)
		require.NoError(t, err)
		return certPEM
	}
	// A certificate someone else made, about to expire, is theirs to replace.
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	require.NoError(t, err)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{Organization: []string{"Example CA"}}, NotBefore: now, NotAfter: now.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	require.NoError(t, err)
	theirs := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	tests := []struct {
		name string
		cert []byte
		want bool
	}{
		{"fresh", ours(Validity), false},
		{"31 days left", ours(31 * 24 * time.Hour), false},
		{"29 days left", ours(29 * 24 * time.Hour), true},
		{"ten years, from an earlier version", ours(10 * 365 * 24 * time.Hour), true},
		{"398 days and an hour, from an earlier version", ours(Validity + time.Hour), true},
		{"not a certificate", []byte("junk"), false},
		{"someone else's, expiring", theirs, false},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, Due(tt.cert, now), tt.name)
	}
}

func TestWriteNew(t *testing.T) {
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certPEM, err := WriteNew(cert, key, []string{"node1"})
	require.NoError(t, err)
	onDisk, err := os.ReadFile(cert)
	require.NoError(t, err)
	require.Equal(t, certPEM, onDisk)
	keyPEM, err := os.ReadFile(key)
	require.NoError(t, err)
	_, err = tls.X509KeyPair(onDisk, keyPEM)
	require.NoError(t, err)
	fi, err := os.Stat(key)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "only root reads the key")
}

func TestHosts(t *testing.T) {
	hosts := Hosts("node1.example.test")
	require.Equal(t, []string{"node1.example.test", "node1"}, hosts[:2])
	for _, a := range Addresses() {
		require.Contains(t, hosts, a.String())
	}
	require.Equal(t, "localhost", Hosts("localhost")[0])
}
