package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/jelastic/jelastic-ftp/agent"
	"github.com/jelastic/jelastic-ftp/internal/privsep"
	"github.com/jelastic/jelastic-ftp/monitor"
)

func newUnbanCmd() *cobra.Command {
	var all, asJSON bool
	cmd := &cobra.Command{
		Use:   "unban SOURCE... | --all",
		Short: "Lift bans set after repeated failed logins, before they end",
		Long: `Lift the bans the running service set after repeated failed logins, at once:
clients from those sources are admitted again over FTP, FTPS and SFTP, the failures
counted against them are forgotten, and the bans are removed from the saved ones, so
they do not come back after a restart.

A SOURCE is an IPv4 address, an IPv6 address (its /64 is lifted, as bans are set on
it), or a source as ftpctl status lists it (203.0.113.9/32, 2001:db8:1:2::/64). A
bad one is reported and nothing is lifted. A source that was not banned is reported
and is not an error: the exit status is 0 when the service did what was asked, 1
when it is not running or could not lift them.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := agent.UnbanRequest(args, all)
			if err != nil {
				return usageError{err}
			}
			if os.Geteuid() != 0 {
				return errors.New("ftpctl unban must run as root: it asks the service over its control socket")
			}
			reply, err := agent.NewAdmin().Unban(u)
			if errors.Is(err, monitor.ErrNotRunning) {
				return err
			}
			if asJSON {
				if err := printJSON(cmd, reply); err != nil {
					return err
				}
			} else {
				printUnban(cmd.OutOrStdout(), u, reply)
			}
			return err
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "lift every ban")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON: the sources lifted and those not banned")
	return cmd
}

// maxBansShown bounds the bans listed in text, by status and unban --all; --json
// lists them all.
const maxBansShown = 10

// printUnban says which sources' bans were lifted and which were not banned; with
// --all, the first maxBansShown lifted.
func printUnban(out io.Writer, u privsep.Unban, r monitor.UnbanReply) {
	if u.All && len(r.Lifted) == 0 {
		fmt.Fprintln(out, "no ban was running")
	}
	shown := r.Lifted
	if u.All {
		shown = shown[:min(len(shown), maxBansShown)]
	}
	for _, src := range shown {
		fmt.Fprintf(out, "lifted the ban on %s\n", src)
	}
	if n := len(r.Lifted) - len(shown); n > 0 {
		fmt.Fprintf(out, "and %d more lifted (--json lists them all)\n", n)
	}
	for _, src := range r.NotBanned {
		fmt.Fprintf(out, "%s was not banned\n", src)
	}
}

// printBans lists the running bans, ending last first, as status shows them.
func printBans(out io.Writer, bans []privsep.Ban, now time.Time) {
	fmt.Fprintf(out, "\nbans: %d\n", len(bans))
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	for _, b := range bans[:min(len(bans), maxBansShown)] {
		fmt.Fprintf(tw, "  %s\tuntil %s (%s left)\n", b.Source, b.Until.UTC().Format(time.RFC3339), timeLeft(b.Until.Sub(now)))
	}
	tw.Flush()
	if n := len(bans) - maxBansShown; n > 0 {
		fmt.Fprintf(out, "  and %d more (ftpctl status --json lists them all)\n", n)
	}
}

// timeLeft is d as a person reads it: seconds under a minute, else whole minutes.
func timeLeft(d time.Duration) string {
	if r := d.Round(time.Second); r < time.Minute {
		return fmt.Sprintf("%ds", max(0, int(r.Seconds())))
	}
	s := d.Round(time.Minute).String() // "3m0s", "1h5m0s"
	return s[:len(s)-2]
}
