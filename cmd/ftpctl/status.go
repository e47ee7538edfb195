package main

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/jelastic/jelastic-ftp/agent"
)

func newStatusCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [--json]",
		Short: "Show the service, its certificate, FTP users, sudo rules and live sessions",
		Long: `Show at a glance what is installed and running. The exit status is 1 when
something is broken (the reasons are listed), 0 otherwise.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			r := agent.NewAdmin().Status()
			if asJSON {
				if err := printJSON(cmd, r); err != nil {
					return err
				}
			} else {
				printStatus(cmd.OutOrStdout(), r)
			}
			if len(r.Problems) > 0 {
				return errors.New(r.Problems[0])
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func printStatus(out io.Writer, r agent.Report) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	state := "not running"
	if r.Socket == "active" {
		state = "not running; jelastic-ftp.socket holds the port and starts it on the next connection"
	}
	if r.Running {
		state = fmt.Sprintf("running (PID %d, worker PID %d, since %s)", r.Service.PID, r.Service.WorkerPID, r.Service.Started.Format(time.DateTime))
	}
	fmt.Fprintf(tw, "service:\t%s\n", state)
	if r.Systemd != "" {
		fmt.Fprintf(tw, "systemd unit:\t%s\n", r.Systemd)
	}
	if r.Socket != "" && r.Socket != "inactive" {
		fmt.Fprintf(tw, "systemd socket:\t%s\n", r.Socket)
	}
	fmt.Fprintf(tw, "config:\t%s\n", r.ConfigPath)
	if s := r.Service; s != nil {
		public := s.PublicHost
		switch {
		case s.PublicAddr == "":
			public = "(the address the client connected to)"
		case public != s.PublicAddr:
			public += " (" + s.PublicAddr + ")"
		}
		fmt.Fprintf(tw, "listen:\t%s\n", s.Listen)
		if s.ImplicitTLS != "" {
			fmt.Fprintf(tw, "implicit FTPS:\t%s\n", s.ImplicitTLS)
		}
		fmt.Fprintf(tw, "FTP root:\t%s\npassive ports:\t%s\npublic address:\t%s\n", s.Root, s.PassivePorts, public)
		fmt.Fprintf(tw, "certificate:\t%s, issued by %s, expires %s\ncertificate SHA-256:\t%s\n", s.Certificate.Subject, s.Certificate.Issuer, s.Certificate.NotAfter.Format(time.DateOnly), s.Certificate.SHA256)
		if s.SFTPListen != "" {
			fmt.Fprintf(tw, "SFTP listen:\t%s\n", s.SFTPListen)
			for _, fp := range s.SFTPHostKeyFingerprints {
				fmt.Fprintf(tw, "SSH host key:\t%s\n", fp)
			}
		}
	}
	tw.Flush()

	c := r.Accounts
	fmt.Fprintf(out, "\nFTP users: %d (%d disabled, %d expired, %d with an aged-out password)\n", c.Total, c.Disabled, c.Expired, c.PasswordAgedOut)
	tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  USER\tHOME\tREAD-ONLY\tLOCKED")
	for _, u := range r.Users {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", u.Name, u.Home, yesNo(u.ReadOnly()), yesNo(u.Locked))
	}
	tw.Flush()

	owner := "none found"
	if r.Owner != "" {
		owner = r.Owner
	}
	fmt.Fprintf(out, "\nowner: %s (%s)\n", owner, r.OwnerReason)
	fmt.Fprintln(out, "sudo rules (the owner may change these passwords):")
	if len(r.Grants) == 0 {
		fmt.Fprintln(out, "  none")
	}
	for _, g := range r.Grants {
		fmt.Fprintf(out, "  %s may run: sudo %s\n", g.Owner, g.Command)
	}

	if s := r.Service; s != nil && s.Sessions != nil {
		fmt.Fprintf(out, "\nsessions: %d\n", s.Sessions.Count)
		tw = tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
		for _, se := range s.Sessions.Sessions {
			user := se.User
			if user == "" {
				user = "(not logged in)"
			}
			transfer := ""
			if t := se.Transfer; t != nil {
				transfer = fmt.Sprintf("%s %s, %d bytes", t.Direction, t.Path, t.Bytes)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\tsince %s\t%s\n", cmp.Or(string(se.Protocol), "ftp"), user, se.Client, se.Since.Format(time.TimeOnly), transfer)
		}
		tw.Flush()
	}
	if s := r.Service; s != nil {
		printBans(out, s.Bans, time.Now())
	}
	for _, w := range r.Warnings {
		fmt.Fprintf(out, "\nwarning: %s", w)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(out, "\nproblem: %s", p)
	}
	if len(r.Warnings)+len(r.Problems) > 0 {
		fmt.Fprintln(out)
	}
}
