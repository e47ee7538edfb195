// Go 1.24 made listeners Multipath TCP by default. FTP clients speak plain TCP, so
// an MPTCP listener only adds the kernel's MPTCP layer to every passive data
// connection's socket, accept and close (2-3 % of the worker's CPU time per small
// transfer in perf).

//go:debug multipathtcp=0

// Command ftpctl manages the jelastic-ftp add-on: FTP accounts, the owner's sudo rule,
// and the FTP/FTPS service itself.
package main

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"
)

// usageError marks a mistake in how the command was called (exit 2), as opposed to a
// failure while doing what was asked (exit 1).
type usageError struct{ err error }

func (u usageError) Error() string { return u.err.Error() }
func (u usageError) Unwrap() error { return u.err }

func usagef(format string, args ...any) error {
	return usageError{fmt.Errorf(format, args...)}
}

func newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "ftpctl",
		Short: "Manage the jelastic-ftp add-on: FTP accounts, sudo rule and FTP/FTPS service",
		Long: `Manage the jelastic-ftp add-on: FTP accounts, the container owner's sudo rule,
and the FTP/FTPS service.

Exit status: 0 when the command did what was asked; 1 when it failed (the message on
standard error says why); 2 when the command line was wrong and nothing was changed.

Files:
  /etc/jelastic-ftp/ftpd.toml   the service's settings; every key is optional and
                                documented in /usr/share/doc/jelastic-ftp/ftpd.toml.example
  /etc/jelastic-ftp/users.toml  per-user options, written by ftpctl user
  /etc/sudoers.d/jelastic       the rules that let the owner change FTP passwords`,
		Version:       versionString(),
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetVersionTemplate("ftpctl {{.Version}}\n")
	root.SetFlagErrorFunc(func(_ *cobra.Command, err error) error { return usageError{err} })
	root.AddCommand(newUserCmd(), newSudoersCmd(), newServeCmd(), newWorkerCmd(), newStatusCmd(), newInstallCmd(), newUninstallCmd(), newReloadCmd(), newUnbanCmd(), newStateCmd(), newVersionCmd())
	for _, build := range buildSteps {
		root.AddCommand(build())
	}
	requireSubcommand(root)
	return root
}

// buildSteps are hidden commands that only build tags compile in (docs.go):
// the installed binary carries none of their dependencies, which every
// process of the service would load and initialise for nothing.
var buildSteps []func() *cobra.Command

// requireSubcommand makes every command group answer an unknown or missing subcommand
// with a usage error (exit 2) instead of cobra's help text and exit 0, so scripts notice.
func requireSubcommand(cmd *cobra.Command) {
	if !cmd.HasSubCommands() {
		return
	}
	cmd.Args = func(c *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usagef("unknown command %q for %q; see %q", args[0], c.CommandPath(), c.CommandPath()+" --help")
		}
		return nil
	}
	cmd.RunE = func(c *cobra.Command, _ []string) error {
		return usagef("%s needs a subcommand; see %q", c.CommandPath(), c.CommandPath()+" --help")
	}
	for _, sub := range cmd.Commands() {
		requireSubcommand(sub)
	}
}

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	root := newRoot()
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	fmt.Fprintf(os.Stderr, "ftpctl: %v\n", err)
	var u usageError
	if errors.As(err, &u) || isCobraUsage(err) {
		return 2
	}
	return 1
}

// isCobraUsage recognises cobra's own complaints about the command line, which it
// returns as plain errors.
func isCobraUsage(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand flag", "flag needs an argument", "if any flags in the group", "invalid argument"} {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}
