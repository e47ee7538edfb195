package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"syscall"
	"time"

	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/monitor"
)

// reloadTimeout bounds the wait for the service to report the reloaded settings.
const reloadTimeout = 15 * time.Second

// controlSocket is where the service that install starts answers status requests:
// RunDir/jelastic-ftp, systemd's RuntimeDirectory or what startDetached passes on.
func (l Layout) controlSocket() string {
	return filepath.Join(l.RunDir, ServiceName, filepath.Base(monitor.ControlSocket()))
}

// ServiceReady checks what the service itself checks of valid settings when it starts
// or reloads, so that `ftpctl reload` refuses what the service would: the FTP root is a
// folder, a host name in public_host resolves, and the TLS pair loads.
func ServiceReady(ctx context.Context, cfg config.Config) error {
	if !isDir(cfg.Root) {
		return fmt.Errorf("the FTP root %s does not exist or is not a folder; create it or change root", cfg.Root)
	}
	if _, err := config.PublicAddress(ctx, cfg.PublicHost); err != nil {
		return err
	}
	if cfg.TLS.Enabled() {
		return checkPair(cfg.TLS.Cert, cfg.TLS.Key)
	}
	return nil
}

// Reload has the running service take ftpd.toml as it is now, for new sessions: it
// checks the file as the service would, sends SIGHUP to the service and waits until
// the service reports the file's digest as the one in force. On any error the service
// keeps its settings.
func (l *Lifecycle) Reload(ctx context.Context) (string, error) {
	path := l.Admin.ConfigPath
	cfg, digest, err := config.LoadDigest(path)
	if err == nil {
		err = ServiceReady(ctx, cfg)
	}
	if err != nil {
		return "", fmt.Errorf("%w; the service keeps its settings", err)
	}
	st, err := monitor.QueryStatusAt(l.Layout.controlSocket(), 3*time.Second)
	if err != nil {
		return "", fmt.Errorf("the service is not running, so there is nothing to reload (start it with ftpctl install; a socket-activated one reads the file when it starts): %w", errors.Unwrap(err))
	}
	if st.ConfigSHA256 == digest {
		return fmt.Sprintf("ftpctl serve (PID %d) already runs with %s as it is", st.PID, path), nil
	}
	if err := syscall.Kill(st.PID, syscall.SIGHUP); err != nil {
		return "", fmt.Errorf("tell ftpctl serve (PID %d) to reload: %w", st.PID, err)
	}
	deadline := time.Now().Add(reloadTimeout)
	for {
		now, err := monitor.QueryStatusAt(l.Layout.controlSocket(), 3*time.Second)
		if err == nil && now.ConfigSHA256 == digest {
			msg := fmt.Sprintf("ftpctl serve (PID %d) reloaded %s for new sessions", st.PID, path)
			if !sameListen(cfg.Listen, st.Listen) {
				msg += fmt.Sprintf("; the listen address %s takes effect after a restart (ftpctl install restarts it)", cfg.Listen)
			}
			if cfg.SFTPListen != st.SFTPListen && !sameListen(cfg.SFTPListen, st.SFTPListen) {
				msg += fmt.Sprintf("; the SFTP address %q takes effect after a restart (ftpctl install restarts it)", cfg.SFTPListen)
			}
			return msg, nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("ftpctl serve (PID %d) did not report the new settings within %s; its log says why", st.PID, reloadTimeout)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond): // the control socket is all there is to watch
		}
	}
}

// serviceStale reports whether the running service answers with settings other than
// config: a hand edit install found already in place, which the service never read.
func (l *Lifecycle) serviceStale(newConfig []byte) bool {
	st, err := monitor.QueryStatusAt(l.Layout.controlSocket(), 3*time.Second)
	return err == nil && st.ConfigSHA256 != "" && st.ConfigSHA256 != config.Digest(newConfig)
}

// sameListen reports whether the listen setting a names the address b a listener has,
// where ":21", "0.0.0.0:21" and "[::]:21" all mean every address.
func sameListen(a, b string) bool {
	ha, pa, errA := net.SplitHostPort(a)
	hb, pb, errB := net.SplitHostPort(b)
	if errA != nil || errB != nil || pa != pb {
		return false
	}
	every := func(h string) bool {
		ip, err := netip.ParseAddr(h)
		return h == "" || err == nil && ip.IsUnspecified()
	}
	if every(ha) || every(hb) {
		return every(ha) && every(hb)
	}
	ia, errA := netip.ParseAddr(ha)
	ib, errB := netip.ParseAddr(hb)
	return errA == nil && errB == nil && ia.Unmap() == ib.Unmap()
}
