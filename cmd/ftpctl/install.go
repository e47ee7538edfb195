package main

import (
	"context"
	"errors"
	"fmt"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/jelastic/jelastic-ftp/agent"
)

// layoutFlags are hidden: they move the add-on's state, log and PID file out of the
// real system for the end-to-end tests.
func layoutFlags(cmd *cobra.Command, l *agent.Layout) {
	cmd.Flags().StringVar(&l.StateDir, "state-dir", l.StateDir, "where the certificate is kept")
	cmd.Flags().StringVar(&l.LogDir, "log-dir", l.LogDir, "where the service logs without systemd")
	cmd.Flags().StringVar(&l.RunDir, "run-dir", l.RunDir, "where the PID file goes (and systemd's marker is looked for)")
	for _, name := range []string{"state-dir", "log-dir", "run-dir"} {
		_ = cmd.Flags().MarkHidden(name)
	}
}

// requestError turns the agent's complaints about the command line into exit status 2.
func requestError(err error) error {
	if errors.Is(err, agent.ErrInvalidRequest) {
		return usageError{err}
	}
	return err
}

// installOut is the JSON answer of `ftpctl install`, which the platform mails to the
// owner; the password only when it was made now.
type installOut struct {
	User         string `json:"user"`
	Password     string `json:"password,omitempty"`
	Host         string `json:"host"`
	Port         int    `json:"port"`
	ImplicitPort int    `json:"implicit_ftps_port,omitempty"`
	FTPS         string `json:"ftps"`
	PassivePorts string `json:"passive_ports"`
	Root         string `json:"root"`
	Owner        string `json:"owner"`
	CertSHA256   string `json:"cert_sha256"`
	// SFTPPort is 0 when SFTP is off, and the fingerprints are then left out.
	SFTPPort                int      `json:"sftp_port"`
	SFTPHostKeyFingerprints []string `json:"sftp_host_key_fingerprints,omitempty"`

	// PasswordChanged: the account was created or its password reset now, with the
	// password printed or the one given on standard input (never printed back).
	PasswordChanged bool `json:"password_changed"`
}

func newInstallCmd() *cobra.Command {
	var (
		req         agent.InstallRequest
		requireTLS  bool
		asJSON      bool
		pwStdin     bool
		implicitTLS string
		sftpListen  string
	)
	lc := agent.NewLifecycle()
	cmd := &cobra.Command{
		Use:   "install [--root PATH] [--owner NAME|%GROUP] [--user NAME] [--listen ADDR] [--implicit-tls-listen ADDR] [--sftp-listen ADDR] [--passive-ports A-B] [--public-host HOST] [--tls-cert F --tls-key F] [--require-tls] [--idle-timeout D] [--on-demand] [--no-start] [--reset-password] [--password-stdin] [--json]",
		Short: "Set up the add-on: FTP user, settings, certificate and the running service",
		Long: `Set up the add-on on this node, or bring it in line with the flags: the group
and the FTP user (with a generated password and the owner's sudo rule), ftpd.toml,
a self-signed certificate for this host unless --tls-cert and --tls-key are given,
and the service (through systemd where it runs, else started in the background).

Without --root the FTP root is the node's web root, found from the stack's
well-known folders. Settings not given keep what ftpd.toml already says. Run again,
install changes nothing and keeps the password unless --reset-password.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("sftp-listen") {
				req.SFTPListen = &sftpListen
			}
			if cmd.Flags().Changed("require-tls") {
				req.RequireTLS = &requireTLS
			}
			if cmd.Flags().Changed("implicit-tls-listen") {
				req.ImplicitTLSListen = &implicitTLS
			}
			if pwStdin {
				pw, err := readPasswordLine(cmd.InOrStdin())
				if err != nil {
					return usageError{err}
				}
				req.Password = pw
			}
			res, err := lc.Install(context.Background(), req)
			if err != nil {
				return requestError(err)
			}
			stderr := cmd.ErrOrStderr()
			for _, n := range res.Notes {
				fmt.Fprintf(stderr, "ftpctl: %s\n", n)
			}
			printWarnings(cmd, res.Warnings)
			if asJSON {
				return printJSON(cmd, installOut{
					User: res.User, Password: res.Password, PasswordChanged: res.PasswordChanged, Host: res.Host, Port: res.Port,
					ImplicitPort: res.ImplicitPort, FTPS: "explicit", PassivePorts: res.PassivePorts, Root: res.Root, Owner: res.Owner,
					CertSHA256: res.CertSHA256, SFTPPort: res.SFTPPort, SFTPHostKeyFingerprints: res.HostKeyFingerprints,
				})
			}
			password := res.Password
			switch {
			case password != "":
			case res.PasswordChanged:
				password = "set to the one given on standard input"
			default:
				password = "unchanged (ftpctl install --reset-password makes a new one)"
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			ftps := "explicit (AUTH TLS)"
			if res.ImplicitPort != 0 {
				ftps += fmt.Sprintf("; implicit on port %d", res.ImplicitPort)
			}
			fmt.Fprintf(tw, "FTP user:\t%s\npassword:\t%s\nhost:\t%s\nport:\t%d\nFTPS:\t%s\ncertificate SHA-256:\t%s\npassive ports:\t%s\nroot:\t%s\n",
				res.User, password, res.Host, res.Port, ftps, res.CertSHA256, res.PassivePorts, res.Root)
			if res.SFTPPort != 0 {
				fmt.Fprintf(tw, "SFTP port:\t%d\n", res.SFTPPort)
				for _, fp := range res.HostKeyFingerprints {
					fmt.Fprintf(tw, "SSH host key:\t%s\n", fp)
				}
			}
			return tw.Flush()
		},
	}
	f := cmd.Flags()
	f.StringVar(&req.Root, "root", "", "the FTP root (default: the node's web root, else "+agent.FallbackRoot+")")
	f.StringVar(&req.Owner, "owner", "", "the account, or %group, allowed to change FTP passwords with sudo (default: detected: %"+agent.PlatformOwnerGroup+", else "+agent.PlatformOwnerAccount+", else the account with UID 700)")
	f.StringVar(&req.User, "user", "", "the FTP user to create (default: "+agent.DefaultFTPUser+")")
	f.StringVar(&req.Listen, "listen", "", `control connection address, host:port (default ":21")`)
	f.StringVar(&implicitTLS, "implicit-tls-listen", "", `also serve implicit FTPS (TLS from the first byte, for clients that only do port 990) on host:port, such as ":990"; "" turns it off (default off)`)
	f.StringVar(&sftpListen, "sftp-listen", "", `SFTP service address, host:port (default ":2022"; "" turns SFTP off)`)
	f.StringVar(&req.PassivePorts, "passive-ports", "", "passive data port range first-last (default 10100-12000)")
	f.StringVar(&req.PublicHost, "public-host", "", "IPv4 address, or host name this node resolves, announced in PASV replies and given to clients (behind NAT)")
	f.StringVar(&req.TLSCert, "tls-cert", "", "PEM certificate chain to use instead of a self-signed one")
	f.StringVar(&req.TLSKey, "tls-key", "", "PEM private key of --tls-cert")
	f.BoolVar(&requireTLS, "require-tls", false, "refuse logins and transfers without TLS")
	f.DurationVar(&req.IdleTimeout, "idle-timeout", 0, "close idle control connections after this long (default 5m)")
	f.BoolVar(&req.NoStart, "no-start", false, "set everything up but neither start nor restart the service")
	f.BoolVar(&req.OnDemand, "on-demand", false, "let systemd hold the ports and start the service on a connection; it stops after idle_exit (default 15m) without a session")
	f.BoolVar(&req.ResetPassword, "reset-password", false, "give the existing FTP user a new password (generated, or --password-stdin)")
	f.BoolVar(&pwStdin, "password-stdin", false, "read the new FTP user's password (or --reset-password's) from standard input, one line; every node of a layer gets the same")
	f.BoolVar(&asJSON, "json", false, "print the connection details as one JSON object")
	cmd.MarkFlagsRequiredTogether("tls-cert", "tls-key")
	layoutFlags(cmd, &lc.Layout)
	return cmd
}

func newUninstallCmd() *cobra.Command {
	var purge bool
	lc := agent.NewLifecycle()
	cmd := &cobra.Command{
		Use:   "uninstall [--purge]",
		Short: "Stop the service and remove the FTP users, their group and sudo rules; the files stay",
		Long: `Stop and disable the service, delete every FTP account (UID 700 in group
jelastic-ftp), the group and the owner's sudo rules. Every file in the FTP root
stays. --purge also removes /etc/jelastic-ftp, the certificate and the logs.`,
		Args: exactArgs(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			res, err := lc.Uninstall(context.Background(), purge)
			printWarnings(cmd, res.Warnings)
			for _, d := range res.Done {
				fmt.Fprintln(cmd.OutOrStdout(), d)
			}
			if err != nil {
				return requestError(err)
			}
			if len(res.Done) == 0 {
				fmt.Fprintln(cmd.OutOrStdout(), "nothing to do: jelastic-ftp is not installed")
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&purge, "purge", false, "also remove the settings, the certificate and the logs")
	layoutFlags(cmd, &lc.Layout)
	return cmd
}
