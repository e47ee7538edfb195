package ftpd

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"
)

// DemoAddr is where Demo listens unless told another address.
const DemoAddr = "127.0.0.1:2121"

// Demo serves a throw-away FTP root on addr, in plain FTP and explicit
// FTPS with a self-signed certificate, to one account "demo" with a random
// password. It prints the address, the password and commands to try to out,
// serves until ctx ends, and then removes the root. It touches nothing
// outside its temporary directory and needs no privileges: it runs without
// chroot or privilege separation, which it logs.
func Demo(ctx context.Context, logger *slog.Logger, out io.Writer, addr string) (err error) {
	if logger == nil {
		logger = slog.Default()
	}
	root, err := os.MkdirTemp("", "jelastic-ftp-demo-")
	if err != nil {
		return fmt.Errorf("create the demo FTP root: %w", err)
	}
	defer func() {
		if errRemove := os.RemoveAll(root); errRemove != nil && err == nil {
			err = fmt.Errorf("remove the demo FTP root: %w", errRemove)
		}
	}()
	welcome := "This is the jelastic-ftp demo. Files uploaded here are deleted when the demo stops.\n"
	if err := os.WriteFile(filepath.Join(root, "README.txt"), []byte(welcome), 0o644); err != nil {
		return fmt.Errorf("fill the demo FTP root: %w", err)
	}
	password, err := demoPassword()
	if err != nil {
		return err
	}
	cert, err := selfSignedCertificate([]string{"localhost"}, []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback})
	if err != nil {
		return err
	}

	settings := DefaultSettings()
	settings.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	settings.Logger = logger
	settings.Welcome = "jelastic-ftp demo ready."
	srv, err := New(settings, demoAuth{password: password, home: root})
	if err != nil {
		return err
	}
	l, err := (&net.ListenConfig{}).Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen for the demo on %s: %w; choose another address with --listen", addr, err)
	}

	if os.Geteuid() == 0 {
		logger.Warn("demo mode runs as root without chroot or privilege separation; use it only to try the server", "root", root)
	} else {
		logger.Info("demo mode: not running as root, so serving without chroot or privilege separation", "root", root)
	}
	host, port, _ := net.SplitHostPort(l.Addr().String())
	fmt.Fprintf(out, `jelastic-ftp demo: plain FTP and explicit FTPS (self-signed certificate) on %[1]s
  user:     demo
  password: %[4]s
  root:     %[5]s (deleted on exit)

Try:
  lftp -u demo,%[4]s -p %[3]s -e 'set ssl:verify-certificate no; ls; bye' %[2]s
  curl --ssl-reqd -k -u demo:%[4]s ftp://%[1]s/README.txt

Stop with Ctrl-C.
`, l.Addr(), host, port, password, root)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("demo server stopped: %w", err)
	}
	stopCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	errShutdown := srv.Shutdown(stopCtx)
	<-served
	return errShutdown
}

// demoPassword is 16 letters and digits, easy to paste into a shell.
func demoPassword() (string, error) {
	const alphabet = "abcdefghijkmnpqrstuvwxyz23456789"
	b := make([]byte, 16)
	for i := range b {
		n, err := rand.Int(rand.Reader, big.NewInt(int64(len(alphabet))))
		if err != nil {
			return "", fmt.Errorf("draw the demo password: %w", err)
		}
		b[i] = alphabet[n.Int64()]
	}
	return string(b), nil
}

type demoAuth struct {
	password string
	home     string
}

func (a demoAuth) Authenticate(_ context.Context, user, password string, _ netip.Addr) (Account, error) {
	userOK := subtle.ConstantTimeCompare([]byte(user), []byte("demo"))
	passOK := subtle.ConstantTimeCompare([]byte(password), []byte(a.password))
	if userOK&passOK != 1 {
		return Account{}, ErrBadLogin
	}
	return Account{Name: "demo", Home: a.home}, nil
}

// selfSignedCertificate makes an ECDSA P-256 certificate valid for a day
// for the given names, kept in memory only.
func selfSignedCertificate(dnsNames []string, ips []net.IP) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("generate a certificate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("draw a certificate serial number: %w", err)
	}
	now := time.Now()
	template := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "jelastic-ftp self-signed"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     dnsNames,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("create a self-signed certificate: %w", err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
