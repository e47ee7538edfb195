package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/jelastic/jelastic-ftp/agent"
	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/internal/privsep"
	"github.com/jelastic/jelastic-ftp/monitor"
	"github.com/jelastic/jelastic-ftp/users"
	"github.com/jelastic/jelastic-ftp/users/allowfrom"
	"github.com/jelastic/jelastic-ftp/users/passhash"
	"github.com/jelastic/jelastic-ftp/users/perm"
)

func newUserCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "user",
		Short: "Manage FTP accounts (system accounts with UID 700 in group jelastic-ftp)",
	}
	cmd.AddCommand(newUserAddCmd(), newUserModCmd(), newUserPasswdCmd(), newUserDelCmd(), newUserListCmd(), newUserShowCmd(), newUserKeyCmd())
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
		req      agent.AddUserRequest
		settings settingFlags
		pw       passwordSource
		asJSON   bool
		noOwner  bool
	)
	cmd := &cobra.Command{
		Use:   "add NAME [--home PATH] [--password-stdin | --generate] [account options] [--json]",
		Short: "Create an FTP account confined to a home inside the FTP root",
		Args:  exactArgs(1, "the user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			req.Name = args[0]
			req.GrantOwner = !noOwner
			var err error
			if req.UserSettings, err = settings.parse(cmd); err != nil {
				return err
			}
			password, generated, err := pw.read(cmd)
			if err != nil {
				return err
			}
			req.Password = password
			admin := agent.NewAdmin()
			warn, err := admin.AddUser(context.Background(), req)
			if err != nil {
				return requestError(err)
			}
			printWarnings(cmd, warn)
			saveState(cmd, agent.NewLifecycle())
			info, err := admin.GetUser(req.Name)
			if err != nil {
				return err
			}
			if asJSON {
				out := info.JSON(time.Now())
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
	settings.register(cmd, false)
	cmd.Flags().BoolVar(&noOwner, "no-owner-passwd", false, "do not let the container owner change this password with sudo")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	pw.flags(cmd)
	return cmd
}

func newUserModCmd() *cobra.Command {
	var (
		settings settingFlags
		asJSON   bool
	)
	cmd := &cobra.Command{
		Use:   "mod NAME [account options] [--json]",
		Short: "Change an FTP account's home, permissions, status, expiry, addresses or description",
		Long: `Change an FTP account. Every option given is changed in one transaction under
the locks of passwd and shadow; a bad value changes nothing (exit status 2).

--disable and --enable use shadow's lock ('!' before the hash), as usermod -L/-U and
passwd -l/-u do, so each tool sees the other's change and the password survives.
--expires and --password-max-days are shadow's fields, as chage -E and chage -M set
them. --permissions, --allow-from and --max-sessions live in users.toml.

Access taken away ends the user's live sessions within 2 seconds, a transfer in
progress with them: --disable (or an expiry now past), --home, a permission taken
away, and --allow-from for sessions from addresses it no longer admits.`,
		Args: exactArgs(1, "the user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			s, err := settings.parse(cmd)
			if err != nil {
				return err
			}
			admin := agent.NewAdmin()
			end, err := admin.ModifyUser(context.Background(), args[0], s)
			if err != nil {
				return requestError(err)
			}
			ended := endSessions(cmd, admin, args[0], end)
			info, err := admin.GetUser(args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(cmd, info.JSON(time.Now()))
			}
			fmt.Fprintf(cmd.OutOrStdout(), "changed FTP user %s%s\n", info.Name, ended)
			return nil
		},
	}
	settings.register(cmd, true)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the changed account as JSON")
	return cmd
}

// settingFlags are the account options `user add` and `user mod` share, kept as
// typed so that each is parsed, and refused with exit status 2, before anything
// changes.
type settingFlags struct {
	home, description, permissions, expires, maxDays, allowFrom, maxSessions string
	readOnly, readWrite, disable, enable                                     bool
}

func (f *settingFlags) register(cmd *cobra.Command, mod bool) {
	fl := cmd.Flags()
	home := "home folder inside the FTP root (default: the FTP root)"
	if mod {
		home = "new home folder inside the FTP root, made when missing; files in the old one stay"
	}
	fl.StringVar(&f.home, "home", "", home)
	fl.BoolVar(&f.readOnly, "read-only", false, "may list and download only (--permissions list,download)")
	fl.BoolVar(&f.readWrite, "read-write", false, "may do everything (--permissions '*')")
	fl.StringVar(&f.permissions, "permissions", "", "what the user may do: "+perm.Valid)
	fl.BoolVar(&f.disable, "disable", false, "refuse every login, keeping the password (shadow's lock, as usermod -L)")
	fl.BoolVar(&f.enable, "enable", false, "allow logins again with the password the account had (as usermod -U)")
	fl.StringVar(&f.expires, "expires", "", `refuse logins from this day on (YYYY-MM-DD, as chage -E), or "never"`)
	fl.StringVar(&f.maxDays, "password-max-days", "", `days a password logs in after it is set (as chage -M), or "never"`)
	fl.StringVar(&f.allowFrom, "allow-from", "", `addresses and CIDR blocks the user may log in from, comma-separated, or "any"`)
	fl.StringVar(&f.maxSessions, "max-sessions", "", `sessions of this user at once, or "none" for only the service's limits`)
	fl.StringVar(&f.description, "description", "", "a note about the account, kept in passwd's GECOS field (no ':', ',' or '=')")
	cmd.MarkFlagsMutuallyExclusive("read-only", "read-write", "permissions")
	cmd.MarkFlagsMutuallyExclusive("disable", "enable")
}

// parse turns the flags given into settings; a bad value is a usage error.
func (f *settingFlags) parse(cmd *cobra.Command) (s agent.UserSettings, err error) {
	given := func(name string) bool { return cmd.Flags().Changed(name) }
	if given("home") {
		s.Home = &f.home
	}
	switch {
	case given("read-only"):
		s.Permissions = &perm.ReadOnly
	case given("read-write"):
		s.Permissions = &perm.All
	}
	switch {
	case given("disable"):
		s.Disabled = &f.disable
	case given("enable"):
		disabled := !f.enable
		s.Disabled = &disabled
	}
	description := func(text string) (string, error) { return text, users.ValidateDescription(text) }
	// The first bad value is reported, one sentence, and nothing changes.
	return s, cmp.Or(
		parseFlag(cmd, "permissions", f.permissions, perm.Parse, &s.Permissions),
		parseFlag(cmd, "expires", f.expires, config.ParseExpires, &s.Expires),
		parseFlag(cmd, "password-max-days", f.maxDays, config.ParsePasswordMaxDays, &s.PasswordMaxDays),
		parseFlag(cmd, "allow-from", f.allowFrom, allowfrom.Parse, &s.AllowFrom),
		parseFlag(cmd, "max-sessions", f.maxSessions, config.ParseMaxSessions, &s.MaxSessions),
		parseFlag(cmd, "description", f.description, description, &s.Description),
	)
}

// parseFlag sets *dst to the parsed value of flag name when it was given.
func parseFlag[T any](cmd *cobra.Command, name, text string, parse func(string) (T, error), dst **T) error {
	if !cmd.Flags().Changed(name) {
		return nil
	}
	v, err := parse(text)
	if err != nil {
		return usagef("--%s: %v", name, err)
	}
	*dst = &v
	return nil
}

// endSessions has the running service end name's live sessions as end says, and
// returns what to add to the command's report: nothing when none ended or no service
// runs (then there are none). A failure is a warning: the change itself is made.
func endSessions(cmd *cobra.Command, admin *agent.Admin, name string, end agent.SessionEnd) string {
	n, err := admin.EndSessions(name, end)
	switch {
	case errors.Is(err, monitor.ErrNotRunning) || n == 0 && err == nil:
		return ""
	case err != nil:
		printWarnings(cmd, agent.Warnings{fmt.Sprintf("the live sessions of %s may go on until they end: %v", name, err)})
		return ""
	case n == 1:
		return "; ended its live session"
	}
	return fmt.Sprintf("; ended its %d live sessions", n)
}

func newUserPasswdCmd() *cobra.Command {
	var (
		pw           passwordSource
		asJSON, keep bool
	)
	cmd := &cobra.Command{
		Use:               "passwd NAME [--password-stdin | --generate] [--keep-sessions] [--json]",
		ValidArgsFunction: completeFTPUser,
		Short:             "Change the password of an FTP account, ending its live sessions",
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
			ended := ""
			if !keep {
				ended = endSessions(cmd, admin, args[0], agent.SessionEnd{Reason: privsep.EndPassword})
			}
			saveState(cmd, agent.NewLifecycle())
			switch {
			case asJSON:
				info, err := admin.GetUser(args[0])
				if err != nil {
					return err
				}
				out := info.JSON(time.Now())
				if generated {
					out.Password = password
				}
				return printJSON(cmd, out)
			case generated:
				fmt.Fprintf(cmd.OutOrStdout(), "password of %s changed%s\npassword: %s\n", args[0], ended, password)
			default:
				fmt.Fprintf(cmd.OutOrStdout(), "password of %s changed%s\n", args[0], ended)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the result as JSON")
	cmd.Flags().BoolVar(&keep, "keep-sessions", false, "let the user's live sessions go on (by default they end)")
	pw.flags(cmd)
	return cmd
}

func newUserDelCmd() *cobra.Command {
	return &cobra.Command{
		Use:               "del NAME",
		ValidArgsFunction: completeFTPUser,
		Short:             "Delete an FTP account, ending its live sessions; the files in its home stay",
		Args:              exactArgs(1, "the user name"),
		RunE: func(cmd *cobra.Command, args []string) error {
			admin := agent.NewAdmin()
			warn, err := admin.DeleteUser(context.Background(), args[0])
			if err != nil {
				return err
			}
			printWarnings(cmd, warn)
			ended := endSessions(cmd, admin, args[0], agent.SessionEnd{Reason: privsep.EndDeleted})
			saveState(cmd, agent.NewLifecycle())
			fmt.Fprintf(cmd.OutOrStdout(), "deleted FTP user %s (the files in its home were kept)%s\n", args[0], ended)
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

// day writes a date of shadow's, or "never".
func day(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Format(time.DateOnly)
}

// state is the one word that says whether and why an account cannot log in.
func state(u agent.UserInfo, now time.Time) string {
	switch {
	case u.Disabled:
		return "disabled"
	case u.Locked:
		return "no password"
	case u.Expired(now):
		return "expired"
	case u.PasswordAgedOut(now):
		return "aged out"
	}
	return "active"
}

func lastLogin(u agent.UserInfo) string {
	l := u.LastLogin
	if l == nil {
		return "never"
	}
	return fmt.Sprintf("%s from %s (%s)", l.Time.Local().Format("2006-01-02 15:04"), l.Address, l.Protocol)
}

func newUserListCmd() *cobra.Command {
	var (
		asJSON   bool
		inactive string
	)
	cmd := &cobra.Command{
		Use:   "list [--inactive AGE] [--json]",
		Short: "List the FTP accounts",
		Long: `List the FTP accounts. --inactive AGE ("90d", "36h") lists only those not used
for that long: whose last login is older, or, for an account that never logged in,
whose password was set (when it was created or last changed) before then.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			now := time.Now()
			var idle time.Duration
			if cmd.Flags().Changed("inactive") {
				var err error
				if idle, err = config.ParseInactive(inactive); err != nil {
					return usagef("--inactive: %v", err)
				}
			}
			list, err := agent.NewAdmin().ListUsers()
			if err != nil {
				return err
			}
			if idle > 0 {
				list = slices.DeleteFunc(list, func(u agent.UserInfo) bool {
					used := u.LastUsed()
					return !used.IsZero() && now.Sub(used) < idle
				})
			}
			if asJSON {
				out := make([]agent.UserJSON, 0, len(list))
				for _, u := range list {
					out = append(out, u.JSON(now))
				}
				return printJSON(cmd, out)
			}
			var table bytes.Buffer
			tw := tabwriter.NewWriter(&table, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "USER\tHOME\tPERMISSIONS\tSTATE\tEXPIRES\tLAST LOGIN\tDESCRIPTION")
			for _, u := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.Name, u.Home, u.Permissions, state(u, now), day(u.Expires), lastLogin(u), u.Description)
			}
			tw.Flush()
			// An empty description would leave the padding of the column before it.
			for line := range strings.Lines(table.String()) {
				fmt.Fprintln(cmd.OutOrStdout(), strings.TrimRight(line, " \n"))
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&inactive, "inactive", "", `only accounts unused for this long, such as "90d"`)
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
			now := time.Now()
			if asJSON {
				return printJSON(cmd, u.JSON(now))
			}
			expires := day(u.Expires)
			if u.Expired(now) {
				expires += " (expired)"
			}
			maxDays, pwExpires := "never", day(u.PasswordExpires())
			if u.PasswordMaxDays >= 0 {
				maxDays = strconv.Itoa(u.PasswordMaxDays)
			}
			if u.PasswordAgedOut(now) {
				pwExpires += " (aged out: refused since " + u.PasswordExpires().AddDate(0, 0, 1).Format(time.DateOnly) + ")"
			}
			sessions := "no limit of its own"
			if u.MaxSessions > 0 {
				sessions = strconv.Itoa(u.MaxSessions)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			for _, row := range [][2]string{
				{"user", u.Name},
				{"description", u.Description},
				{"home", u.Home},
				{"shell", u.Shell},
				{"permissions", u.Permissions.String()},
				{"read-only", yesNo(u.ReadOnly())},
				{"allow from", u.AllowFrom.String()},
				{"max sessions", sessions},
				{"state", state(u, now)},
				{"disabled", yesNo(u.Disabled)},
				{"locked", yesNo(u.Locked)},
				{"expires", expires},
				{"password changed", day(u.PasswordChanged)},
				{"password max days", maxDays},
				{"password expires", pwExpires},
				{"last login", lastLogin(u)},
			} {
				fmt.Fprintf(tw, "%s:\t%s\n", row[0], row[1])
			}
			return tw.Flush()
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}
