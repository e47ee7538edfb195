package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/jelastic/jelastic-ftp/agent"
	"github.com/jelastic/jelastic-ftp/users/passhash"
)

func newUserCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage FTP accounts (system accounts with UID 700 in group jelastic-ftp)",
	}
	cmd.AddCommand(newUserAddCmd(), newUserPasswdCmd(), newUserDelCmd(), newUserListCmd(), newUserShowCmd())
	return cmd
}

// exactArgs is cobra.ExactArgs reporting a usage error (exit 2).
func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) != n {
			return usagef("expected %s, got %d argument(s)", what, len(args))
		}
		return nil
	}
}

// passwordSource is how a command receives a new password: never as an argument, which
// would show in ps and the shell history.
type passwordSource struct {
	stdin, generate bool
}

func (p *passwordSource) flags(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&p.stdin, "password-stdin", false, "read the password from standard input (one line)")
	cmd.Flags().BoolVar(&p.generate, "generate", false, "generate a strong random password and print it once")
	cmd.MarkFlagsMutuallyExclusive("password-stdin", "generate")
}

// read returns the password and whether it was generated (and so must be shown).
func (p *passwordSource) read(cmd *cobra.Command) (string, bool, error) {
	switch {
	case p.generate:
		pw, err := passhash.Generate()
		return pw, true, err
	case p.stdin:
		pw, err := readPasswordLine(cmd.InOrStdin())
		return pw, false, err
	}
	in, ok := cmd.InOrStdin().(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return "", false, usagef("no password given: use --password-stdin or --generate (a password is never taken as an argument)")
	}
	pw, err := promptPassword(in, cmd.ErrOrStderr())
	return pw, false, err
}

// readPasswordLine reads one line, without its line ending, refusing endless input.
func readPasswordLine(r io.Reader) (string, error) {
	const limit = 4096
	line, err := bufio.NewReaderSize(io.LimitReader(r, limit), limit).ReadBytes('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read the password from standard input: %w", err)
	}
	if len(line) >= limit {
		return "", errors.New("the password on standard input is longer than 4096 bytes")
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) == 0 {
		return "", errors.New("no password on standard input")
	}
	return string(line), nil
}

// promptPassword asks twice without echo, as passwd does.
func promptPassword(in *os.File, out io.Writer) (string, error) {
	fd := int(in.Fd())
	fmt.Fprint(out, "New password: ")
	first, err := term.ReadPassword(fd)
	fmt.Fprintln(out)
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	fmt.Fprint(out, "Retype new password: ")
	second, err := term.ReadPassword(fd)
	fmt.Fprintln(out)
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	if !bytes.Equal(first, second) {
		return "", errors.New("the passwords do not match; nothing was changed")
	}
	return string(first), nil
}

// completeFTPUser offers the FTP accounts' names for the one argument of user del,
// passwd and show; nothing where the accounts cannot be read (not root).
func completeFTPUser(_ *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
	if len(args) > 0 {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	list, err := agent.NewAdmin().ListUsers()
	if err != nil {
		return nil, cobra.ShellCompDirectiveNoFileComp
	}
	var names []string
	for _, u := range list {
		if strings.HasPrefix(u.Name, toComplete) {
			names = append(names, u.Name)
		}
	}
	return names, cobra.ShellCompDirectiveNoFileComp
}

func printWarnings(cmd *cobra.Command, warn agent.Warnings) {
	for _, w := range warn {
		fmt.Fprintf(cmd.ErrOrStderr(), "ftpctl: warning: %s\n", w)
	}
}

func printJSON(cmd *cobra.Command, v any) error {
	enc := json.NewEncoder(cmd.OutOrStdout())
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newUserAddCmd() *cobra.Command {
	var (
		req     agent.AddUserRequest
		pw      passwordSource
		asJSON  bool
		noOwner bool
	)
	cmd := &cobra.Command{
		Use:   "add NAME [--home PATH] [--password-stdin | --generate] [--read-only] [--json]",
		Short: "Create an FTP account confined to a home inside the FTP root",
		Args:  exactArgs(1, "the user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name = args[0]
			req.GrantOwner = !noOwner
			password, generated, err := pw.read(cmd)
			if err != nil {
				return err
			}
			req.Password = password
			admin := agent.NewAdmin()
			warn, err := admin.AddUser(context.Background(), req)
			if err != nil {
				return err
			}
			printWarnings(cmd, warn)
			info, err := admin.GetUser(req.Name)
			if err != nil {
				return err
			}
			if asJSON {
				out := info.JSON()
				if generated {
					out.Password = password
				}
				return printJSON(cmd, out)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created FTP user %s with home %s\n", info.Name, info.Home)
			if generated {
				fmt.Fprintf(cmd.OutOrStdout(), "password: %s\n", password)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&req.Home, "home", "", "home folder inside the FTP root (default: the FTP root)")
	cmd.Flags().BoolVar(&req.ReadOnly, "read-only", false, "the user may download and list but not change anything")
	cmd.Flags().BoolVar(&noOwner, "no-owner-passwd", false, "do not let the container owner change this password with sudo")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	pw.flags(cmd)
	return cmd
}

func newUserPasswdCmd() *cobra.Command {
	var (
		pw     passwordSource
		asJSON bool
	)
	cmd := &cobra.Command{
		Use:               "passwd NAME [--password-stdin | --generate] [--json]",
		ValidArgsFunction: completeFTPUser,
		Short:             "Change the password of an FTP account",
		Args:              exactArgs(1, "the user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			password, generated, err := pw.read(cmd)
			if err != nil {
				return err
			}
			admin := agent.NewAdmin()
			if err := admin.SetPassword(context.Background(), args[0], password); err != nil {
				return err
			}
			switch {
			case asJSON:
				info, err := admin.GetUser(args[0])
				if err != nil {
					return err
				}
				out := info.JSON()
				if generated {
					out.Password = password
				}
				return printJSON(cmd, out)
			case generated:
				fmt.Fprintf(cmd.OutOrStdout(), "password of %s changed\npassword: %s\n", args[0], password)
			default:
				fmt.Fprintf(cmd.OutOrStdout(), "password of %s changed\n", args[0])
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	pw.flags(cmd)
	return cmd
}

func newUserDelCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "del NAME",
		ValidArgsFunction: completeFTPUser,
		Short:             "Delete an FTP account; the files in its home stay",
		Args:              exactArgs(1, "the user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			warn, err := agent.NewAdmin().DeleteUser(context.Background(), args[0])
			if err != nil {
				return err
			}
			printWarnings(cmd, warn)
			fmt.Fprintf(cmd.OutOrStdout(), "deleted FTP user %s (the files in its home were kept)\n", args[0])
			return nil
		},
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func lastChange(u agent.UserInfo) string {
	if u.PasswordChanged.IsZero() {
		return "never"
	}
	return u.PasswordChanged.Format("2006-01-02")
}

func newUserListCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--json]",
		Short: "List the FTP accounts",
		Args:  exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			list, err := agent.NewAdmin().ListUsers()
			if err != nil {
				return err
			}
			if asJSON {
				if list == nil {
					list = []agent.UserInfo{}
				}
				return printJSON(cmd, list)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tHOME\tREAD-ONLY\tLOCKED\tPASSWORD CHANGED")
			for _, u := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", u.Name, u.Home, yesNo(u.ReadOnly), yesNo(u.Locked), lastChange(u))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print a JSON array")
	return cmd
}

func newUserShowCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:               "show NAME [--json]",
		ValidArgsFunction: completeFTPUser,
		Short:             "Show one FTP account",
		Args:              exactArgs(1, "the user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			u, err := agent.NewAdmin().GetUser(args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, u.JSON())
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintf(tw, "user:\t%s\nhome:\t%s\nshell:\t%s\nread-only:\t%s\nlocked:\t%s\npassword changed:\t%s\n",
				u.Name, u.Home, u.Shell, yesNo(u.ReadOnly), yesNo(u.Locked), lastChange(u))
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
