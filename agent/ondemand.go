package agent

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/jelastic/jelastic-ftp/packaging"
)

// OnDemandIdleExit is the idle_exit that install --on-demand sets where ftpd.toml has none.
const OnDemandIdleExit = 15 * time.Minute

const socketUnit = ServiceName + ".socket"

func (l Layout) socketFile() string { return filepath.Join(l.UnitDir, socketUnit) }
func (l Layout) packagedSocket() string {
	return filepath.Join(filepath.Dir(l.PackagedUnit), socketUnit)
}

// listenDropIn points the socket at the configured address when it is not port 21.
func (l Layout) listenDropIn() string {
	return filepath.Join(l.UnitDir, socketUnit+".d", "listen.conf")
}

// listenStream is the socket unit's ListenStream= for a "listen" setting: the port
// alone for every address (the unit listens on both IPv4 and IPv6 then), else the
// address as it is.
func listenStream(listen string) (string, error) {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "", fmt.Errorf("listen %q: %w", listen, err)
	}
	if host == "" {
		return port, nil
	}
	return listen, nil
}

// ensureSocketUnits writes what socket activation needs: the socket unit where no
// package installed one, and a drop-in with the address unless it is the unit's
// port 21. It reports whether a file changed.
func (l *Lifecycle) ensureSocketUnits(listen string) (bool, error) {
	changed := false
	if _, err := os.Stat(l.Layout.packagedSocket()); err != nil {
		unit := append([]byte(ownHeader), packaging.Socket...)
		c, err := writeIfChanged(l.Layout.socketFile(), unit)
		if err != nil {
			return false, err
		}
		changed = c
	}
	stream, err := listenStream(listen)
	if err != nil {
		return false, err
	}
	var c bool
	if stream == "21" {
		c, err = removeOwn(l.Layout.listenDropIn())
	} else {
		dropIn := fmt.Sprintf("%s# The address of \"listen\" in ftpd.toml.\n[Socket]\nListenStream=\nListenStream=%s\n", ownHeader, stream)
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
