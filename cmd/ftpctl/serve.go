package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/ftpd"
	"github.com/jelastic/jelastic-ftp/ftpd/worker"
	"github.com/jelastic/jelastic-ftp/internal/logbuf"
	"github.com/jelastic/jelastic-ftp/monitor"
	"github.com/jelastic/jelastic-ftp/users/lastlogin"
)

func newLogger(out io.Writer, debug bool) *slog.Logger {
	return slog.New(newLogHandler(out, debug))
}

func newLogHandler(out io.Writer, debug bool) slog.Handler {
	level := slog.LevelInfo
	if debug {
		level = slog.LevelDebug
	}
	return slog.NewTextHandler(out, &slog.HandlerOptions{Level: level})
}

func newServeCmd() *cobra.Command {
	var (
		cfgPath    string
		demo       bool
		demoListen string
		debug      bool
	)
	cmd := &cobra.Command{
		Use:   "serve [--config PATH] [--demo [--listen ADDR]]",
		Short: "Run the FTP/FTPS service (the privileged monitor and its chrooted worker)",
		Long: `Run the FTP/FTPS service in the foreground. As root, the monitor keeps the
account databases and the TLS key to itself and serves through a worker that is
chrooted into the FTP root and runs as UID 700 without capabilities.

Started by systemd's socket activation (jelastic-ftp.socket), it serves the socket
systemd passes instead of "listen", and with "idle_exit" in ftpd.toml it exits after
that long without a session, for systemd to start it again on the next connection.

--demo needs no root and changes nothing in /etc: a temporary FTP root, one user
"demo" with a password printed at start, a self-signed certificate in memory, on
127.0.0.1:2121 or the address --listen names (a second demo, or a busy port).`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			logger := newLogger(os.Stderr, debug)
			if cmd.Flags().Changed("listen") && !demo {
				return errors.New("--listen goes with --demo; the service listens where \"listen\" in ftpd.toml says")
			}
			if demo {
				ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
				defer stop()
				return ftpd.Demo(ctx, logger, cmd.OutOrStdout(), demoListen)
			}
			// Logins recorded in the last seconds are written out on the way out.
			defer func() {
				if err := lastlogin.Flush(); err != nil {
					logger.Error("write the last logins", "err", err)
				}
			}()
			return monitor.Serve(context.Background(), monitor.ServeOptions{ConfigPath: cfgPath, Logger: logger})
		},
	}
	cmd.Flags().StringVar(&cfgPath, "config", config.DefaultPath, "the configuration file")
	cmd.Flags().BoolVar(&demo, "demo", false, "serve a throw-away demo root on 127.0.0.1:2121 (no root needed)")
	cmd.Flags().StringVar(&demoListen, "listen", ftpd.DemoAddr, "with --demo: the address to serve the demo on")
	cmd.Flags().BoolVar(&debug, "debug", false, "log debug messages")
	return cmd
}

// newWorkerCmd is the unprivileged half of `serve`, started by the monitor only.
func newWorkerCmd() *cobra.Command {
	return &cobra.Command{
		Use:    "worker",
		Hidden: true,
		Args:   exactArgs(0, "no arguments"),
		RunE: func(*cobra.Command, []string) error {
			// Log lines are formatted and written by a goroutine of their
			// own, off the path of the replies they describe.
			h := logbuf.New(os.Stderr, func(w io.Writer) slog.Handler { return newLogHandler(w, false) })
			defer h.Close()
			return worker.Run(slog.New(h))
		},
	}
}
