package main

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/jelastic/jelastic-ftp/agent"
)

func newReloadCmd() *cobra.Command {
	lc := agent.NewLifecycle()
	cmd := &cobra.Command{
		Use:   "reload",
		Short: "Have the running service take /etc/jelastic-ftp/ftpd.toml as it is now",
		Long: `Check ftpd.toml as the service would (syntax, ranges, the FTP root, that a host
name in public_host resolves, the TLS pair), then tell the running service (SIGHUP)
to use it for new sessions, and wait until it reports the new settings in force.
Sessions already open keep theirs. When the file is refused, the service is not
touched and keeps its settings. A new listen address needs a restart
(ftpctl install does it).`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if os.Geteuid() != 0 {
				return errors.New("ftpctl reload must run as root: it signals the service")
			}
			msg, err := lc.Reload(context.Background())
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), msg)
			return nil
		},
	}
	layoutFlags(cmd, &lc.Layout)
	return cmd
}
