package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/jelastic/jelastic-ftp/agent"
	"github.com/jelastic/jelastic-ftp/internal/hostkeys"
)

func newUserKeyCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "key",
		Short: "The public keys an FTP account may log in with over SFTP",
		Long: `An FTP account may log in over SFTP with a public key instead of its password.
Keys are OpenSSH authorized_keys lines; the only option accepted is from="…" (addresses,
wildcards and CIDR blocks, a leading ! to exclude). They are kept in users.toml, and
the service reads them at each login.`,
	}
	cmd.AddCommand(newUserKeyAddCmd(), newUserKeyListCmd(), newUserKeyDelCmd())
	return cmd
}

func newUserKeyAddCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "add NAME < KEYS",
		ValidArgsFunction: completeFTPUser,
		Short:             "Let an FTP account log in over SFTP with the keys given on standard input",
		Args:              exactArgs(1, "the user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := agent.ReadKeys(cmd.InOrStdin())
			if err != nil {
				return requestError(err)
			}
			added, err := agent.NewAdmin().AddKeys(context.Background(), args[0], keys)
			if err != nil {
				return requestError(err)
			}
			saveState(cmd, agent.NewLifecycle())
			fmt.Fprintf(cmd.OutOrStdout(), "%d key(s) added to %s, %d updated\n", added, args[0], len(keys)-added)
			return nil
		},
	}
}

// keyJSON is one key in `user key list --json`.
type keyJSON struct {
	Fingerprint string   `json:"fingerprint"`
	Type        string   `json:"type"`
	Comment     string   `json:"comment"`
	From        []string `json:"from"`
	Line        string   `json:"line"`
}

func newUserKeyListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:               "list NAME [--json]",
		ValidArgsFunction: completeFTPUser,
		Short:             "List the keys of an FTP account, with their fingerprints",
		Args:              exactArgs(1, "the user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			keys, err := agent.NewAdmin().Keys(args[0])
			if err != nil {
				return requestError(err)
			}
			if asJSON {
				out := []keyJSON{}
				for _, k := range keys {
					out = append(out, keyJSON{Fingerprint: k.Fingerprint(), Type: k.Pub.Type(), Comment: k.Comment, From: k.From, Line: k.String()})
				}
				return printJSON(cmd, out)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "KEY\tCOMMENT\tFROM")
			for _, k := range keys {
				from := strings.Join(k.From, ",")
				if from == "" {
					from = "any"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", hostkeys.Fingerprint(k.Pub), k.Comment, from)
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the keys as JSON")
	return cmd
}

func newUserKeyDelCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "del NAME FINGERPRINT",
		ValidArgsFunction: completeFTPUser,
		Short:             "Take a key (SHA256:…, as user key list shows it) from an FTP account",
		Args:              exactArgs(2, "the user name and the key's SHA256 fingerprint"),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := agent.NewAdmin().DeleteKey(context.Background(), args[0], args[1]); err != nil {
				return requestError(err)
			}
			saveState(cmd, agent.NewLifecycle())
			fmt.Fprintf(cmd.OutOrStdout(), "key %s taken from %s\n", args[1], args[0])
			return nil
		},
	}
}
