package config

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"time"
)

// resolveTimeout bounds the look-up of a public_host name, so that a slow DNS server
// cannot hold up a start, a reload or an install for long.
const resolveTimeout = 5 * time.Second

// PublicAddress is the address passive-mode replies announce for public_host: an IPv4
// address as it is, a host name resolved to its first IPv4 address, and "" (the
// address the client connected to) for "". The monitor calls it on every start and
// reload, and install and `ftpctl reload` before they accept a setting, so a name
// that does not resolve never reaches the worker, which takes IPv4 addresses only.
func PublicAddress(ctx context.Context, host string) (string, error) {
	if err := checkPublicHost(host); err != nil {
		return "", err
	}
	if host == "" {
		return "", nil
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		return addr.String(), nil
	}
	ctx, cancel := context.WithTimeout(ctx, resolveTimeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip4", host)
	if err != nil || len(addrs) == 0 {
		msg := "it has no IPv4 address"
		if err != nil {
			msg = err.Error()
		}
		return "", badValue("public_host", quote(host), "the host name does not resolve to an IPv4 address (%s); give an IPv4 address or a name this node resolves", msg)
	}
	return addrs[0].Unmap().String(), nil
}

// ResolvePublicHost is PublicAddress for the monitor: when a name does not resolve it
// keeps last, the address in use, and says so in the error.
func ResolvePublicHost(ctx context.Context, host, last string) (string, error) {
	addr, err := PublicAddress(ctx, host)
	if err != nil {
		keep := last
		if keep == "" {
			keep = "the address each client connected to"
		}
		return last, fmt.Errorf("%w; passive-mode replies keep announcing %s", err, keep)
	}
	return addr, nil
}
