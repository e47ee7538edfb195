package agent

import (
	"os"

	"github.com/jelastic/jelastic-ftp/internal/selfsigned"
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
	for _, a := range selfsigned.Addresses() {
		if a.Is4() {
			return a.String()
		}
	}
	return ""
}
