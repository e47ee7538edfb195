package agent

import (
	"net"
	"net/netip"
	"os"
)

// publicHost is what clients connect to: the configured public address, else the
// container's primary address, else its host name.
func publicHost(configured, hostname string) string {
	if configured != "" {
		return configured
	}
	if ip := primaryIPv4(); ip != "" {
		return ip
	}
	if hostname == "" {
		hostname, _ = os.Hostname()
	}
	return hostname
}

// primaryIPv4 is the first IPv4 address of the first interface that is up and not a
// loopback, the address the platform gives the container.
func primaryIPv4() string {
	for _, a := range interfaceAddrs() {
		if a.Is4() {
			return a.String()
		}
	}
	return ""
}

// hostAddresses are the addresses a self-signed certificate names.
func hostAddresses() []string {
	var out []string
	for _, a := range interfaceAddrs() {
		out = append(out, a.String())
	}
	return out
}

// interfaceAddrs lists global unicast addresses of interfaces that are up, in
// interface order.
func interfaceAddrs() []netip.Addr {
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
