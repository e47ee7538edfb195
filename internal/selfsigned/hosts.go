package selfsigned

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"
)

const (
	// Validity is how long a certificate made here lives: 398 days, the most the
	// CA/Browser Forum allows a public certificate. Nobody verifies a self-signed one,
	// but a short life bounds how long a copied key stays useful; install, reload and
	// the running service make a new one in time.
	Validity = 398 * 24 * time.Hour
	// RenewBefore is how long before it expires a certificate made here is replaced.
	RenewBefore = 30 * 24 * time.Hour
)

// organization marks the certificates this package makes, which may be replaced.
const organization = "jelastic-ftp self-signed"

// fqdnTimeout bounds the resolver's answer for the node's full name.
const fqdnTimeout = 2 * time.Second

// Hosts are the names and addresses a certificate for this node names: its fully
// qualified domain name (as the resolver, /etc/hosts first, gives it), its short host
// name, and every global address of its interfaces that are up.
func Hosts(hostname string) []string {
	short, _, _ := strings.Cut(hostname, ".")
	fqdn := hostname
	if !strings.Contains(hostname, ".") && hostname != "" {
		ctx, cancel := context.WithTimeout(context.Background(), fqdnTimeout)
		defer cancel()
		if c, err := net.DefaultResolver.LookupCNAME(ctx, hostname); err == nil {
			if c = strings.TrimSuffix(c, "."); strings.HasPrefix(c, short+".") {
				fqdn = c
			}
		}
	}
	var out []string
	for _, h := range []string{fqdn, short} {
		if h != "" && !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	for _, a := range Addresses() {
		out = append(out, a.String())
	}
	return out
}

// Addresses lists the global unicast addresses of interfaces that are up, in
// interface order.
func Addresses() []netip.Addr {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipnet, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipnet.IP)
			if ok && ip.Unmap().IsGlobalUnicast() {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}

// Due reports whether certPEM is a certificate made here that expires within
// RenewBefore of now or was made to live longer than Validity (by an earlier
// version); one made by anybody else is never due.
func Due(certPEM []byte, now time.Time) bool {
	block, _ := pem.Decode(certPEM)
	if block == nil {
		return false
	}
	c, err := x509.ParseCertificate(block.Bytes)
	if err != nil || !slices.Equal(c.Subject.Organization, []string{organization}) {
		return false
	}
	return now.Add(RenewBefore).After(c.NotAfter) || TooLong(c)
}

// TooLong reports whether c was made to live longer than Validity, as earlier
// versions made it (ten years, then 398 days and the hour of skew).
func TooLong(c *x509.Certificate) bool {
	return c.NotAfter.Sub(c.NotBefore) > Validity
}
