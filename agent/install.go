package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/internal/atomicfile"
	"github.com/jelastic/jelastic-ftp/internal/certfp"
	"github.com/jelastic/jelastic-ftp/internal/hostkeys"
	"github.com/jelastic/jelastic-ftp/internal/selfsigned"
	"github.com/jelastic/jelastic-ftp/users"
	"github.com/jelastic/jelastic-ftp/users/etcdb"
	"github.com/jelastic/jelastic-ftp/users/passhash"
)

// Lifecycle installs and removes the whole add-on: accounts, configuration,
// certificate and the running service.
type Lifecycle struct {
	Admin  *Admin
	Layout Layout
	// Executable is the ftpctl binary the service runs; "" = this one.
	Executable string
	Hostname   func() (string, error)
	// Systemctl runs systemctl with args; tests replace it.
	Systemctl func(ctx context.Context, args ...string) error
}

// NewLifecycle returns a Lifecycle for the running system.
func NewLifecycle() *Lifecycle {
	return &Lifecycle{Admin: NewAdmin(), Layout: DefaultLayout(), Hostname: os.Hostname, Systemctl: runSystemctl}
}

func runSystemctl(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, systemctlTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "systemctl", args...).CombinedOutput()
	if err != nil {
		msg := strings.Join(strings.Fields(string(out)), " ")
		return fmt.Errorf("systemctl %s: %w: %s", strings.Join(args, " "), err, msg)
	}
	return nil
}

// InstallRequest holds what the command line asked for; empty fields keep what
// ftpd.toml already says, or take the defaults on a first install.
type InstallRequest struct {
	Root         string
	Owner        string
	User         string // "" = DefaultFTPUser
	Listen       string
	SFTPListen   *string // nil = keep; "" = no SFTP
	PassivePorts string  // "first-last"
	PublicHost   string
	TLSCert      string
	TLSKey       string
	RequireTLS   *bool
	IdleTimeout  time.Duration
	// ImplicitTLSListen, when not nil, sets implicit_tls_listen ("" turns it off).
	ImplicitTLSListen *string
	// NoStart leaves the service alone: nothing is started or restarted.
	NoStart bool
	// OnDemand has systemd hold the port and start the service on a connection
	// (jelastic-ftp.socket), and the service stop after idle_exit without a
	// session, instead of running all the time.
	OnDemand bool
	// ResetPassword gives an existing FTP user a new password: Password, or a generated one.
	ResetPassword bool
	// Password is for a new account or ResetPassword; "" = generate one. A layer's
	// nodes get the same one (ftpctl install --password-stdin).
	Password string
}

// InstallResult is what the platform mails to the owner, plus what install did.
type InstallResult struct {
	User string
	// Password is set only when the account was created or its password reset with
	// a generated one.
	Password     string
	Host         string
	Port         int
	ImplicitPort int // the implicit FTPS port; 0 = off
	PassivePorts string
	Root         string
	// PasswordChanged: the account was created or its password reset, with Password
	// or the one given.
	PasswordChanged bool
	// Owner may change FTP passwords with sudo (an account or "%group"; "" = none
	// found), for OwnerReason.
	Owner       string
	OwnerReason string
	// CertSHA256 is the Fingerprint of the certificate the service presents, for the
	// owner to compare with what an FTP client shows.
	CertSHA256 string
	// SFTPPort is the SFTP service's port, 0 when it is off; HostKeyFingerprints
	// describe its SSH host keys as `ssh-keygen -l` does, for clients to compare.
	SFTPPort            int
	HostKeyFingerprints []string
	// Notes say, one sentence each, which root was chosen and why, what happened to the
	// certificate and to the service.
	Notes    []string
	Warnings Warnings
}

// installPlan is everything Install decided before changing anything.
type installPlan struct {
	user       string
	exists     bool // the FTP account is already there
	cfg        config.Config
	owner      OwnerChoice
	oldConfig  []byte
	newConfig  []byte
	root       RootChoice
	ownCert    bool   // the certificate is ours to make and keep
	certReason string // why a new certificate is needed; "" = keep the current one
	hostname   string
	hosts      []string // names and addresses the certificate is for
	exe        string
	restored   bool // the state copy was just restored: the service must see it
}

// Install sets up the add-on or brings an existing installation in line with req. It
// checks everything it can before changing anything; run twice with the same request
// it changes nothing.
func (l *Lifecycle) Install(ctx context.Context, req InstallRequest) (InstallResult, error) {
	if os.Geteuid() != 0 {
		return InstallResult{}, errors.New("ftpctl install must run as root: it edits /etc/passwd and /etc/shadow and starts the service")
	}
	if req.Password != "" {
		if err := CheckPassword(req.Password); err != nil {
			return InstallResult{}, badRequest("%v; nothing was changed", err)
		}
	}
	restored, ok, err := l.restoreCopy(ctx)
	if err != nil {
		return InstallResult{}, err
	}
	p, err := l.plan(ctx, req)
	if err != nil {
		return InstallResult{}, err
	}
	p.restored = ok
	res, err := l.apply(ctx, req, p)
	if ok {
		res.Notes = append([]string{fmt.Sprintf("restored the add-on from the state copy %s (the accounts were gone, as after a redeploy): %s", l.Layout.StateCopy(), strings.Join(restored.Changed, "; "))}, res.Notes...)
		res.Warnings = append(restored.Warnings, res.Warnings...)
	}
	if err == nil {
		if serr := l.SaveCopy(); serr != nil {
			res.Warnings = append(res.Warnings, fmt.Sprintf("the state copy %s was not refreshed: %v", l.Layout.StateCopy(), serr))
		}
	}
	return res, err
}

func (l *Lifecycle) plan(ctx context.Context, req InstallRequest) (*installPlan, error) {
	if err := l.Layout.validate(); err != nil {
		return nil, err
	}
	p := &installPlan{user: req.User}
	if p.user == "" {
		p.user = DefaultFTPUser
	}
	if err := users.ValidateName(p.user); err != nil {
		return nil, badRequest("--user: %v", err)
	}
	cfg, found, err := config.LoadFound(l.Admin.ConfigPath)
	if err != nil {
		return nil, fmt.Errorf("%w; fix the file or remove it to start from the defaults", err)
	}
	if found {
		if p.oldConfig, err = os.ReadFile(l.Admin.ConfigPath); err != nil {
			return nil, fmt.Errorf("read settings: %w", err)
		}
	}
	if err := l.chooseRoot(req, &cfg, found, p); err != nil {
		return nil, err
	}
	if req.OnDemand && !l.Layout.Systemd() {
		return nil, badRequest("--on-demand needs systemd, which starts the service on a connection; this container has no systemd")
	}
	if err := applyFlags(req, &cfg); err != nil {
		return nil, err
	}
	staleOwner := req.Owner == "" && cfg.Owner == PlatformOwnerAccount && !l.Admin.accountExists(cfg.Owner)
	if staleOwner {
		// The default of older installs, which real stacks lack: detect instead.
		cfg.Owner = ""
	}
	if err := l.planTLS(req, &cfg, found, p); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, badRequest("%v", err)
	}
	if _, err := config.PublicAddress(ctx, cfg.PublicHost); err != nil {
		return nil, badRequest("%v", err)
	}
	if p.newConfig, err = config.Marshal(cfg); err != nil {
		return nil, err
	}
	p.cfg = cfg
	if p.owner, err = l.Admin.ChooseOwner(cfg.Owner); err != nil {
		return nil, err
	}
	switch {
	case req.Owner != "":
		p.owner.Reason = "given with --owner"
	case staleOwner:
		p.owner.Reason += fmt.Sprintf("; the owner %s that %s named does not exist", PlatformOwnerAccount, l.Admin.ConfigPath)
	}
	if err := l.checkAccount(p); err != nil {
		return nil, err
	}
	if p.exe, err = l.executable(); err != nil {
		return nil, err
	}
	if !req.NoStart {
		if err := l.checkListens(ctx, cfg); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (l *Lifecycle) chooseRoot(req InstallRequest, cfg *config.Config, found bool, p *installPlan) error {
	switch {
	case req.Root != "":
		if !filepath.IsAbs(req.Root) || filepath.Clean(req.Root) != req.Root {
			return badRequest("--root %q must be a clean absolute path", req.Root)
		}
		if !isDir(req.Root) {
			return fmt.Errorf("the FTP root %s given with --root does not exist or is not a folder; create it first", req.Root)
		}
		p.root = RootChoice{Path: req.Root, Reason: "given with --root"}
	case found && isDir(cfg.Root):
		p.root = RootChoice{Path: cfg.Root, Reason: "kept from " + l.Admin.ConfigPath}
	case found:
		// Most likely a default nobody chose, in a file from a package or an older
		// install; what the node offers now beats a folder that is not there.
		p.root = DetectRoot(l.Layout.FSRoot)
		p.root.Reason = fmt.Sprintf("%s (the root %s in %s does not exist)", p.root.Reason, cfg.Root, l.Admin.ConfigPath)
	default:
		p.root = DetectRoot(l.Layout.FSRoot)
	}
	cfg.Root = p.root.Path
	return nil
}

// applyFlags puts the command line's settings into cfg; Validate checks the values.
func applyFlags(req InstallRequest, cfg *config.Config) error {
	if req.Owner != "" {
		cfg.Owner = req.Owner
	}
	if req.Listen != "" {
		cfg.Listen = req.Listen
	}
	if req.ImplicitTLSListen != nil {
		cfg.ImplicitTLS = *req.ImplicitTLSListen
	}
	if req.SFTPListen != nil {
		cfg.SFTPListen = *req.SFTPListen
	}
	if req.PassivePorts != "" {
		r, err := parsePortRange(req.PassivePorts)
		if err != nil {
			return err
		}
		cfg.PassivePorts = r
	}
	if req.PublicHost != "" {
		cfg.PublicHost = req.PublicHost
	}
	if req.IdleTimeout != 0 {
		cfg.IdleTimeout = req.IdleTimeout
	}
	if req.RequireTLS != nil {
		cfg.TLS.RequireTLS = *req.RequireTLS
	}
	if req.OnDemand && cfg.IdleExit == 0 {
		cfg.IdleExit = OnDemandIdleExit
	}
	return nil
}

func parsePortRange(s string) (config.PortRange, error) {
	first, last, ok := strings.Cut(s, "-")
	a, errA := strconv.Atoi(first)
	b, errB := strconv.Atoi(last)
	if !ok || errA != nil || errB != nil {
		return config.PortRange{}, badRequest("--passive-ports %q: give two ports joined by '-', such as 10100-12000", s)
	}
	return config.PortRange{First: a, Last: b}, nil
}

// planTLS decides which certificate the service uses: the one given on the command
// line, one given on an earlier install, or a self-signed one of ours.
func (l *Lifecycle) planTLS(req InstallRequest, cfg *config.Config, found bool, p *installPlan) error {
	if (req.TLSCert == "") != (req.TLSKey == "") {
		return badRequest("--tls-cert and --tls-key go together")
	}
	if req.TLSCert != "" {
		cert, err := filepath.Abs(req.TLSCert)
		if err != nil {
			return badRequest("--tls-cert: %v", err)
		}
		key, err := filepath.Abs(req.TLSKey)
		if err != nil {
			return badRequest("--tls-key: %v", err)
		}
		if err := checkPair(cert, key); err != nil {
			return err
		}
		cfg.TLS.Cert, cfg.TLS.Key = cert, key
		return nil
	}
	ours := cfg.TLS.Cert == l.Layout.CertFile() && cfg.TLS.Key == l.Layout.KeyFile()
	if found && cfg.TLS.Enabled() && !ours {
		return checkPair(cfg.TLS.Cert, cfg.TLS.Key)
	}
	cfg.TLS.Cert, cfg.TLS.Key = l.Layout.CertFile(), l.Layout.KeyFile()
	p.ownCert = true
	host, err := l.Hostname()
	if err != nil {
		return fmt.Errorf("find the host name for the certificate: %w", err)
	}
	if host == "" {
		return errors.New("the host name is empty, so no certificate can be made for it; set one or give --tls-cert and --tls-key")
	}
	p.hostname = host
	p.hosts = selfsigned.Hosts(host)
	certPEM, _ := os.ReadFile(l.Layout.CertFile())
	keyPEM, _ := os.ReadFile(l.Layout.KeyFile())
	recorded, _ := os.ReadFile(l.Layout.certHostFile())
	p.certReason = renewalReason(certPEM, keyPEM, strings.TrimSpace(string(recorded)), host, time.Now())
	return nil
}

func checkPair(cert, key string) error {
	certPEM, err := os.ReadFile(cert)
	if err != nil {
		return fmt.Errorf("read the TLS certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(key)
	if err != nil {
		return fmt.Errorf("read the TLS key: %w", err)
	}
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return fmt.Errorf("TLS certificate %s and key %s do not form a pair: %w", cert, key, err)
	}
	return nil
}

// renewalReason says why the self-signed certificate must be made anew, or "" when the
// current one can stay.
func renewalReason(certPEM, keyPEM []byte, recordedHost, host string, now time.Time) string {
	if len(certPEM) == 0 || len(keyPEM) == 0 {
		return "there was none"
	}
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return "the old certificate and key do not form a pair"
	}
	leaf, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return "the old certificate cannot be read"
	}
	if now.Add(selfsigned.RenewBefore).After(leaf.NotAfter) {
		return "the old one expires on " + leaf.NotAfter.Format("2006-01-02")
	}
	if selfsigned.TooLong(leaf) {
		return "the old one lives until " + leaf.NotAfter.Format("2006-01-02") + ", longer than a certificate should"
	}
	if recordedHost != host {
		if recordedHost == "" {
			return "the host name it was made for is not recorded"
		}
		return fmt.Sprintf("the host name changed from %s", recordedHost)
	}
	return ""
}

// checkAccount refuses to take over an account that is not an FTP account, or one
// whose home lies outside the (new) FTP root.
func (l *Lifecycle) checkAccount(p *installPlan) error {
	data, err := os.ReadFile(filepath.Join(l.Admin.Etc, "passwd"))
	if err != nil {
		return fmt.Errorf("read the accounts: %w", err)
	}
	db, err := etcdb.Parse(etcdb.Passwd, data)
	if err != nil {
		return fmt.Errorf("parse %s: %w", filepath.Join(l.Admin.Etc, "passwd"), err)
	}
	if _, err := db.Lookup(p.user); errors.Is(err, etcdb.ErrNotFound) {
		return nil
	} else if err != nil {
		return err
	}
	info, err := l.Admin.GetUser(p.user)
	if err != nil {
		return fmt.Errorf("the account %s exists and is not an FTP account (UID %d, group %s); choose another name with --user", p.user, users.UID, users.GroupName)
	}
	if !users.Within(info.Home, p.cfg.Root) {
		return fmt.Errorf("the FTP user %s has its home %s outside the FTP root %s; delete it with `ftpctl user del %s` or keep the old root", p.user, info.Home, p.cfg.Root, p.user)
	}
	p.exists = true
	return nil
}

func (l *Lifecycle) executable() (string, error) {
	if l.Executable != "" {
		return l.Executable, nil
	}
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("find the ftpctl binary to run as the service: %w", err)
	}
	return exe, nil
}

// checkListens checks the FTP port and, when they are on, the implicit FTPS and the
// SFTP ports.
func (l *Lifecycle) checkListens(ctx context.Context, cfg config.Config) error {
	if err := l.checkListen(ctx, cfg.Listen, "--listen", "another FTP server?"); err != nil {
		return err
	}
	if cfg.ImplicitTLS != "" {
		if err := l.checkListen(ctx, cfg.ImplicitTLS, "--implicit-tls-listen", "another FTPS server?"); err != nil {
			return err
		}
	}
	if cfg.SFTPListen == "" {
		return nil
	}
	return l.checkListen(ctx, cfg.SFTPListen, "--sftp-listen", "another SSH server?")
}

// checkListen makes sure the service will be able to open its port: either our service
// holds it already, or it is free. Another FTP server there is the usual conflict.
func (l *Lifecycle) checkListen(ctx context.Context, addr, flag, usual string) error {
	if l.Layout.Systemd() {
		// The running service holds its ports, and so does its socket unit (on
		// demand) while the service is stopped by idle_exit.
		if l.Systemctl(ctx, "is-active", "--quiet", ServiceName) == nil || l.Systemctl(ctx, "is-active", "--quiet", socketUnit) == nil {
			return nil
		}
	} else if _, ok := l.ServicePID(); ok {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("the service could not listen on %s (%v); stop the program using that port (%s) or choose %s", addr, errors.Unwrap(err), usual, flag)
	}
	return ln.Close()
}

func (l *Lifecycle) apply(ctx context.Context, req InstallRequest, p *installPlan) (InstallResult, error) {
	res := InstallResult{
		User:         p.user,
		Root:         p.cfg.Root,
		PassivePorts: p.cfg.PassivePorts.String(),
		Host:         publicHost(p.cfg.PublicHost, p.hostname),
		Owner:        p.owner.Owner,
		OwnerReason:  p.owner.Reason,
	}
	_, port, _ := net.SplitHostPort(p.cfg.Listen)
	res.Port, _ = strconv.Atoi(port)
	if _, port, err := net.SplitHostPort(p.cfg.ImplicitTLS); err == nil {
		res.ImplicitPort, _ = strconv.Atoi(port)
	}
	note := func(format string, args ...any) { res.Notes = append(res.Notes, fmt.Sprintf(format, args...)) }

	gid, err := l.ensureGroup(ctx)
	if err != nil {
		return res, err
	}
	rootNote := fmt.Sprintf("FTP root %s: %s", p.root.Path, p.root.Reason)
	if p.root.Create {
		if err := makeRoot(p.root.Path, gid); err != nil {
			return res, err
		}
		rootNote += " (created)"
	}
	res.Notes = append(res.Notes, rootNote)
	if w := uploadWarning(p.root.Path, gid); w != "" {
		res.Warnings = append(res.Warnings, w)
	}
	if w := passiveRangeWarning(p.cfg); w != "" {
		res.Warnings = append(res.Warnings, w)
	}

	configChanged := p.restored || !bytes.Equal(p.oldConfig, p.newConfig)
	if configChanged {
		if err := os.MkdirAll(filepath.Dir(l.Admin.ConfigPath), 0o755); err != nil {
			return res, fmt.Errorf("create %s: %w", filepath.Dir(l.Admin.ConfigPath), err)
		}
		if err := atomicfile.Write(l.Admin.ConfigPath, p.newConfig, 0o644); err != nil {
			return res, err
		}
	}

	certChanged, err := l.ensureCertificate(p)
	if err != nil {
		return res, err
	}
	if certChanged {
		note("made a self-signed certificate for %s in %s (%s)", strings.Join(p.hosts, ", "), l.Layout.StateDir, p.certReason)
	}
	if res.CertSHA256, err = certfp.File(p.cfg.TLS.Cert); err != nil {
		return res, err
	}
	if err := l.ensureHostKeys(p.cfg, &res); err != nil {
		return res, err
	}

	warn, err := l.ensureAccount(ctx, req, p, &res)
	res.Warnings = append(res.Warnings, warn...)
	if err != nil {
		return res, err
	}
	if p.owner.Owner != "" {
		note("%s may change FTP passwords with sudo passwd (%s)", p.owner.Owner, p.owner.Reason)
	}

	// A running service may still have settings from before a hand edit that left
	// nothing for install to write: it gets the file as it is too.
	msg, err := l.ensureService(ctx, req, p, configChanged || l.serviceStale(p.newConfig), certChanged)
	if err != nil {
		return res, err
	}
	note("%s", msg)
	return res, nil
}

func (l *Lifecycle) ensureGroup(ctx context.Context) (int, error) {
	tx, err := l.Admin.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Close()
	gid, err := tx.EnsureGroup()
	if err != nil {
		return 0, err
	}
	return gid, tx.Commit()
}

// makeRoot creates an FTP root that no stack provides, owned by the FTP users so that
// they can upload into it.
func makeRoot(root string, gid int) error {
	if err := os.MkdirAll(root, 0o755); err != nil {
		return fmt.Errorf("create the FTP root: %w", err)
	}
	if err := os.Chown(root, users.UID, gid); err != nil {
		return fmt.Errorf("give the FTP root %s to the FTP users: %w", root, err)
	}
	return nil
}

// uploadWarning tells the operator when FTP users (UID 700) will be able to log in
// but not to upload into the root. Install never changes the owner of an existing
// folder: it belongs to the web server.
func uploadWarning(root string, gid int) string {
	fi, err := os.Stat(root)
	if err != nil {
		return ""
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return ""
	}
	perm := fi.Mode().Perm()
	writable := st.Uid == users.UID && perm&0o200 != 0 ||
		int(st.Gid) == gid && perm&0o020 != 0 ||
		perm&0o002 != 0
	if writable {
		return ""
	}
	return fmt.Sprintf("FTP users (UID %d) can download from %s but not upload into it: it belongs to UID %d with mode %04o", users.UID, root, st.Uid, perm)
}

// ensureCertificate makes the self-signed pair when planTLS found it missing or stale.
func (l *Lifecycle) ensureCertificate(p *installPlan) (changed bool, err error) {
	if !p.ownCert {
		return false, nil
	}
	if err := os.MkdirAll(l.Layout.StateDir, 0o755); err != nil {
		return false, fmt.Errorf("create %s: %w", l.Layout.StateDir, err)
	}
	if p.certReason == "" {
		// Only root may read the key; put that right if someone loosened it.
		return false, os.Chmod(l.Layout.KeyFile(), 0o600)
	}
	if _, err := selfsigned.WriteNew(l.Layout.CertFile(), l.Layout.KeyFile(), p.hosts); err != nil {
		return false, err
	}
	return true, atomicfile.Write(l.Layout.certHostFile(), []byte(p.hostname+"\n"), 0o644)
}

// ensureHostKeys makes the SSH host keys that are missing, kept across installs
// whether SFTP is on or not, so that turning it on or exporting the layer's state
// finds them.
func (l *Lifecycle) ensureHostKeys(cfg config.Config, res *InstallResult) error {
	if err := os.MkdirAll(l.Layout.StateDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", l.Layout.StateDir, err)
	}
	keys, made, err := hostkeys.Ensure(l.Layout.StateDir)
	if err != nil {
		return err
	}
	if len(made) > 0 {
		res.Notes = append(res.Notes, fmt.Sprintf("made the SSH host keys in %s", l.Layout.StateDir))
	}
	if cfg.SFTPListen == "" {
		return nil
	}
	_, port, _ := net.SplitHostPort(cfg.SFTPListen)
	res.SFTPPort, _ = strconv.Atoi(port)
	res.HostKeyFingerprints, err = keys.Fingerprints()
	return err
}

func (l *Lifecycle) ensureAccount(ctx context.Context, req InstallRequest, p *installPlan, res *InstallResult) (Warnings, error) {
	if !p.exists {
		pw, err := req.password(res)
		if err != nil {
			return nil, err
		}
		warn, err := l.Admin.AddUser(ctx, AddUserRequest{Name: p.user, Password: pw, GrantOwner: true})
		if err != nil {
			res.Password = ""
			return warn, err
		}
		res.PasswordChanged = true
		return append(warn, l.Admin.adoptGrants(p.owner.Owner)...), nil
	}
	warn := l.Admin.adoptGrants(p.owner.Owner)
	warn = append(warn, l.Admin.grant(p.cfg.Owner, p.user)...)
	if req.Password != "" && !req.ResetPassword {
		res.Notes = append(res.Notes, fmt.Sprintf("kept the password of %s: the one given sets a new account's, or the existing one's with --reset-password", p.user))
	}
	if req.ResetPassword {
		pw, err := req.password(res)
		if err != nil {
			return warn, err
		}
		if err := l.Admin.SetPassword(ctx, p.user, pw); err != nil {
			res.Password = ""
			return warn, err
		}
		res.PasswordChanged = true
	}
	return warn, nil
}

// password is the one given, or a generated one, which the result then shows once.
func (req InstallRequest) password(res *InstallResult) (string, error) {
	if req.Password != "" {
		return req.Password, nil
	}
	pw, err := passhash.Generate()
	res.Password = pw
	return pw, err
}
