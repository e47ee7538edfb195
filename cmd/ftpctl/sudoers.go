package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/jelastic/jelastic-ftp/agent"
	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/sudoers"
)

func newSudoersCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "sudoers",
		Short: "Show the sudo rules that let the container owner change FTP passwords",
	}
	cmd.AddCommand(newSudoersStatusCmd())
	return cmd
}

// sudoersStatus is the JSON form of `ftpctl sudoers status`.
type sudoersStatus struct {
	File        string        `json:"file"`
	Owner       string        `json:"owner"`
	OwnerReason string        `json:"owner_reason"`
	Grants      []agent.Grant `json:"grants"`
	Sudo        bool          `json:"sudo_installed"`
	Included    bool          `json:"drop_in_included"`
	OwnerExists bool          `json:"owner_exists"`
	Valid       bool          `json:"sudoers_valid"`
	Warnings    []string      `json:"warnings"`
}

func newSudoersStatusCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "status [--json]",
		Short: "List what is granted to whom and check that sudo will honour it",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.Load(config.DefaultPath)
			if err != nil {
				return err
			}
			grants, err := agent.Grants(sudoers.Default())
			if err != nil {
				return err
			}
			owner, err := agent.NewAdmin().ChooseOwner(cfg.Owner)
			if err != nil {
				return err
			}
			rep := sudoers.Check(owner.Owner)
			st := sudoersStatus{
				File: sudoers.DefaultPath, Owner: owner.Owner, OwnerReason: owner.Reason, Grants: grants,
				Sudo: rep.Sudo != "", Included: rep.Included, OwnerExists: rep.OwnerExists, Valid: rep.ConfigValid,
				Warnings: rep.Warnings,
			}
			if owner.Owner == "" {
				st.Warnings = append([]string{"no owner was found: " + owner.Reason}, st.Warnings...)
			}
			if st.Warnings == nil {
				st.Warnings = []string{}
			}
			if asJSON {
				return printJSON(cmd, st)
			}
			out := cmd.OutOrStdout()
			tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "drop-in:\t%s\nowner:\t%s (%s)\n", st.File, st.Owner, st.OwnerReason)
			fmt.Fprintf(tw, "sudo installed:\t%s\ndrop-in read by sudo:\t%s\nowner exists:\t%s\nsudoers valid:\t%s\n",
				yesNo(st.Sudo), yesNo(st.Included), yesNo(st.OwnerExists), yesNo(st.Valid))
			if err := tw.Flush(); err != nil {
				return err
			}
			if len(grants) == 0 {
				fmt.Fprintln(out, "no grants")
			}
			for _, g := range grants {
				fmt.Fprintf(out, "grant: %s may run: sudo %s\n", g.Owner, g.Command)
			}
			for _, w := range st.Warnings {
				fmt.Fprintf(out, "warning: %s\n", w)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
