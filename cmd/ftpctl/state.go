package main

import (
	"context"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/jelastic/jelastic-ftp/agent"
)

func newStateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "state",
		Short: "Copy this node's add-on (accounts with their password hashes, options, sudo rules, settings, certificate) to another node",
		Long: `The add-on's state is everything that makes it on this node: the FTP accounts with
their password hashes (read from /etc/shadow, so a password changed with
sudo passwd is included), their homes and options, the owner's sudo rules,
ftpd.toml and the certificate with its key. It is JSON with a schema version;
it holds secrets, so only root may export it and it is never written readable
by others.

ftpctl keeps a copy, ` + agent.DefaultStateDir + `/state.json (mode 0600), refreshed by
every change ftpctl makes; ftpctl install restores it when it finds the copy
but no FTP account, as after a redeploy.`,
	}
	cmd.AddCommand(newStateExportCmd(), newStateImportCmd(), newStateSaveCmd())
	return cmd
}

func newStateExportCmd() *cobra.Command {
	lc := agent.NewLifecycle()
	cmd := &cobra.Command{
		Use:   "export",
		Short: "Print this node's add-on state as JSON on standard output (it holds password hashes and the TLS key)",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			st, err := lc.Export()
			if err != nil {
				return err
			}
			data, err := agent.MarshalState(st)
			if err != nil {
				return err
			}
			if _, err := fmt.Fprintf(cmd.OutOrStdout(), "%s\n", data); err != nil {
				return err
			}
			saveState(cmd, lc)
			return nil
		},
	}
	layoutFlags(cmd, &lc.Layout)
	return cmd
}

func newStateImportCmd() *cobra.Command {
	var noStart bool
	lc := agent.NewLifecycle()
	cmd := &cobra.Command{
		Use:   "import [--no-start] < STATE",
		Short: "Make this node match a state from ftpctl state export, read from standard input",
		Long: `Make this node match the state on standard input: the same FTP accounts with
the same password hashes (FTP accounts the state lacks are deleted; their files
stay), per-user options, sudo rules, settings and certificate; then the service
is started, or restarted when what it reads changed. Everything is checked before
anything is written: bad or truncated input changes nothing. Run twice, the
second run changes nothing.

This node keeps its own listen, sftp_listen, implicit_tls_listen and public_host. A
self-signed certificate made for another host is not taken: install makes one for
this host.`,
		Args: exactArgs(0, "no arguments (the state comes on standard input)"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			data, err := io.ReadAll(io.LimitReader(cmd.InOrStdin(), agent.MaxStateSize+1))
			if err != nil {
				return fmt.Errorf("read the state from standard input: %w", err)
			}
			if len(data) > agent.MaxStateSize {
				return usagef("the state on standard input is larger than %d bytes: nothing was changed", agent.MaxStateSize)
			}
			st, err := agent.ParseState(data)
			if err != nil {
				return usageError{err}
			}
			res, err := lc.Import(context.Background(), st, noStart)
			printWarnings(cmd, res.Warnings)
			for _, c := range res.Changed {
				fmt.Fprintln(cmd.OutOrStdout(), c)
			}
			for _, n := range res.Notes {
				fmt.Fprintf(cmd.ErrOrStderr(), "ftpctl: %s\n", n)
			}
			return requestError(err)
		},
	}
	cmd.Flags().BoolVar(&noStart, "no-start", false, "apply the state but neither start nor restart the service")
	layoutFlags(cmd, &lc.Layout)
	return cmd
}

func newStateSaveCmd() *cobra.Command {
	lc := agent.NewLifecycle()
	cmd := &cobra.Command{
		Use:   "save",
		Short: "Refresh the state copy now (the platform runs it before a redeploy)",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := lc.SaveCopy(); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "saved %s\n", lc.Layout.StateCopy())
			return nil
		},
	}
	layoutFlags(cmd, &lc.Layout)
	return cmd
}

// saveState refreshes the state copy after a change: the change itself succeeded,
// so a failure here is a warning.
func saveState(cmd *cobra.Command, lc *agent.Lifecycle) {
	if err := lc.SaveCopy(); err != nil {
		printWarnings(cmd, agent.Warnings{fmt.Sprintf("the state copy %s was not refreshed: %v", lc.Layout.StateCopy(), err)})
	}
}
