package monitor

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"

	"github.com/coreos/go-systemd/v22/activation"

	"github.com/jelastic/jelastic-ftp/agent/config"
)

// listeners are the sockets the service serves on: FTP always, SFTP and implicit
// FTPS when ftpd.toml sets them.
type listeners struct {
	ftp, sftp, implicit *net.TCPListener
	activated           bool // systemd passed at least one of them
}

func (ls *listeners) Close() {
	for _, l := range []*net.TCPListener{ls.ftp, ls.sftp, ls.implicit} {
		if l != nil {
			l.Close()
		}
	}
}

// openListeners takes the sockets systemd passed (socket activation), each for the
// setting whose address it listens on, and opens the configured ones it did not
// pass. A passed socket that matches neither sftp_listen nor implicit_tls_listen is
// FTP's, whatever "listen" says, so a socket unit that holds port 21 alone serves
// FTP as before; the ports SFTP and implicit FTPS need are held by systemd too when
// the socket unit lists them (install --on-demand writes them into its drop-in), so
// a service stopped by idle_exit is started by an SFTP client as well.
func openListeners(cfg config.Config) (_ *listeners, err error) {
	ls := &listeners{}
	// What was opened before an error is closed; the error path returns nil, so
	// the deferred close must hold its own reference.
	defer func() {
		if err != nil {
			ls.Close()
		}
	}()
	if os.Getenv("LISTEN_FDS") != "" {
		ls.activated = true
		passed, err := activation.Listeners()
		if err != nil {
			return nil, fmt.Errorf("socket activation: %w", err)
		}
		var unnamed []*net.TCPListener
		for _, l := range passed {
			tl, ok := l.(*net.TCPListener)
			if !ok {
				if l != nil {
					l.Close()
				}
				continue
			}
			addr := tl.Addr().String()
			switch {
			case cfg.SFTPListen != "" && ls.sftp == nil && config.Overlap(cfg.SFTPListen, addr):
				ls.sftp = tl
			case cfg.ImplicitTLS != "" && ls.implicit == nil && config.Overlap(cfg.ImplicitTLS, addr):
				ls.implicit = tl
			default:
				unnamed = append(unnamed, tl)
			}
		}
		switch len(unnamed) {
		case 0:
			return nil, errors.New("socket activation: systemd passed no TCP listening socket for FTP")
		case 1:
			ls.ftp = unnamed[0]
		default:
			var addrs []string
			for _, l := range unnamed {
				addrs = append(addrs, l.Addr().String())
				l.Close()
			}
			return nil, fmt.Errorf("socket activation: systemd passed %d sockets that are not sftp_listen or implicit_tls_listen (%s); the socket unit's ListenStream= lines must name listen, sftp_listen and implicit_tls_listen once each", len(addrs), strings.Join(addrs, ", "))
		}
	} else if ls.ftp, err = listenTCP("listen", cfg.Listen); err != nil {
		return nil, err
	}
	if ls.sftp == nil && cfg.SFTPListen != "" {
		if ls.sftp, err = listenTCP("sftp_listen", cfg.SFTPListen); err != nil {
			return nil, err
		}
	}
	if ls.implicit == nil && cfg.ImplicitTLS != "" {
		if ls.implicit, err = listenTCP("implicit_tls_listen", cfg.ImplicitTLS); err != nil {
			return nil, err
		}
	}
	return ls, nil
}

func listenTCP(setting, addr string) (*net.TCPListener, error) {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (%s): %w", addr, setting, err)
	}
	return l.(*net.TCPListener), nil
}
