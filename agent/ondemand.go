package agent

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/packaging"
)

// OnDemandIdleExit is the idle_exit that install --on-demand sets where ftpd.toml has none.
const OnDemandIdleExit = 15 * time.Minute

const socketUnit = ServiceName + ".socket"

func (l Layout) socketFile() string { return filepath.Join(l.UnitDir, socketUnit) }
func (l Layout) packagedSocket() string {
	return filepath.Join(filepath.Dir(l.PackagedUnit), socketUnit)
}

// listenDropIn gives the socket the service's addresses when they are not port 21 alone.
func (l Layout) listenDropIn() string {
	return filepath.Join(l.UnitDir, socketUnit+".d", "listen.conf")
}

// listenStreams are the socket unit's ListenStream= lines for the service's ports:
// "listen", then sftp_listen and implicit_tls_listen where set, so that systemd
// holds each of them while idle_exit has stopped the service and any of them starts
// it. The service tells the sockets apart by their addresses. An address without a
// host is its port alone (the unit listens on IPv4 and IPv6 then).
func listenStreams(cfg config.Config) ([]string, error) {
	var streams []string
	for _, addr := range []string{cfg.Listen, cfg.SFTPListen, cfg.ImplicitTLS} {
		if addr == "" {
			continue
		}
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, fmt.Errorf("listen address %q: %w", addr, err)
		}
		if host == "" {
			addr = port
		}
		streams = append(streams, addr)
	}
	return streams, nil
}

// ensureSocketUnits writes what socket activation needs: the socket unit where no
// package installed one, and a drop-in with the addresses unless they are the
// unit's port 21 alone. It reports whether a file changed.
func (l *Lifecycle) ensureSocketUnits(cfg config.Config) (bool, error) {
	changed := false
	if _, err := os.Stat(l.Layout.packagedSocket()); err != nil {
		unit := append([]byte(ownHeader), packaging.Socket...)
		c, err := writeIfChanged(l.Layout.socketFile(), unit)
		if err != nil {
			return false, err
		}
		changed = c
	}
	streams, err := listenStreams(cfg)
	if err != nil {
		return false, err
	}
	var c bool
	if slices.Equal(streams, []string{"21"}) {
		c, err = removeOwn(l.Layout.listenDropIn())
	} else {
		dropIn := ownHeader + "# The addresses of listen, sftp_listen and implicit_tls_listen in ftpd.toml.\n[Socket]\nListenStream=\n"
		for _, s := range streams {
			dropIn += "ListenStream=" + s + "\n"
		}
		c, err = writeIfChanged(l.Layout.listenDropIn(), []byte(dropIn))
	}
	return changed || c, err
}

// startOnDemand hands the port to systemd's socket and keeps the service from
// starting at boot; the socket starts it on a connection. A service already running
// on its own listener holds the port, so it is stopped first, and its sessions end.
func (l *Lifecycle) startOnDemand(ctx context.Context, restart, reload bool) (string, error) {
	serviceActive := l.Systemctl(ctx, "is-active", "--quiet", ServiceName) == nil
	socketActive := l.Systemctl(ctx, "is-active", "--quiet", socketUnit) == nil
	msg := "systemd: "
	switch {
	case serviceActive && !socketActive:
		if err := l.Systemctl(ctx, "disable", "--now", ServiceName); err != nil {
			return "", err
		}
		serviceActive = false
		msg += "stopped " + ServiceName + " (its sessions ended) and "
	case l.Systemctl(ctx, "is-enabled", "--quiet", ServiceName) == nil:
		if err := l.Systemctl(ctx, "disable", ServiceName); err != nil {
			return "", err
		}
	}
	if err := l.Systemctl(ctx, "enable", "--now", socketUnit); err != nil {
		return "", err
	}
	msg += "enabled " + socketUnit + ": the service starts on a connection and stops after idle_exit without a session"
	switch {
	case serviceActive && restart:
		if err := l.Systemctl(ctx, "restart", ServiceName); err != nil {
			return "", err
		}
		msg += "; restarted " + ServiceName + " for the new settings"
	case serviceActive && reload:
		if err := l.Systemctl(ctx, "reload-or-restart", ServiceName); err != nil {
			return "", err
		}
		msg += "; " + ServiceName + " reloads the new certificate"
	}
	return msg, nil
}
