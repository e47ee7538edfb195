package agent

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/template"
	"time"

	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/internal/atomicfile"
	"github.com/jelastic/jelastic-ftp/sudoers"
	"github.com/jelastic/jelastic-ftp/users"
	"github.com/jelastic/jelastic-ftp/users/etcdb"
	"github.com/jelastic/jelastic-ftp/users/passhash"
)

// Where the add-on keeps what is not configuration, and what its service is called.
const (
	DefaultStateDir = "/var/lib/jelastic-ftp" // the self-signed certificate
	DefaultLogDir   = "/var/log/jelastic-ftp" // the service's log when systemd does not run it
	DefaultRunDir   = "/run"                  // the PID file; systemd's marker lives below it
	ServiceName     = "jelastic-ftp"
	// DefaultFTPUser is the account install creates.
	DefaultFTPUser = "jelastic-ftp"
	// PackagedUnit is where the Debian package installs its unit file.
	PackagedUnit = "/lib/systemd/system/" + ServiceName + ".service"
)

const (
	// certValidity is long because a self-signed certificate is never verified
	// anyway; install still renews one that is about to expire.
	certValidity = 10 * 365 * 24 * time.Hour
	certRenewal  = 30 * 24 * time.Hour
	// readyTimeout bounds the wait for a started service to greet a client.
	readyTimeout = 20 * time.Second
	// stopTimeout covers the 30 s the monitor gives running transfers on SIGTERM.
	stopTimeout = 40 * time.Second
	// systemctlTimeout bounds one systemctl call, `enable --now` included.
	systemctlTimeout = 2 * time.Minute
)

// ErrInvalidRequest marks errors in what was asked (the command line), as opposed to
// failures of the system while doing it.
var ErrInvalidRequest = errors.New("invalid request")

type requestError struct{ msg string }

func (e requestError) Error() string        { return e.msg }
func (e requestError) Is(target error) bool { return target == ErrInvalidRequest }

func badRequest(format string, args ...any) error {
	return requestError{fmt.Sprintf(format, args...)}
}

// Layout locates what install and uninstall write besides the account databases and
// ftpd.toml. Tests point it at temporary folders.
type Layout struct {
	StateDir string
	LogDir   string
	RunDir   string
	// UnitDir is where install writes its own unit file when the package did not
	// install one at PackagedUnit.
	UnitDir      string
	PackagedUnit string
	// FSRoot is the file system DetectRoot looks at.
	FSRoot string
}

// DefaultLayout is the real system's.
func DefaultLayout() Layout {
	return Layout{
		StateDir:     DefaultStateDir,
		LogDir:       DefaultLogDir,
		RunDir:       DefaultRunDir,
		UnitDir:      "/etc/systemd/system",
		PackagedUnit: PackagedUnit,
		FSRoot:       "/",
	}
}

// PIDFile names the running service when systemd does not manage it.
func (l Layout) PIDFile() string { return filepath.Join(l.RunDir, ServiceName+".pid") }

// LogFile receives the service's output when systemd does not manage it.
func (l Layout) LogFile() string { return filepath.Join(l.LogDir, "ftpd.log") }

// CertFile and KeyFile are the self-signed pair install makes.
func (l Layout) CertFile() string { return filepath.Join(l.StateDir, "cert.pem") }
func (l Layout) KeyFile() string  { return filepath.Join(l.StateDir, "key.pem") }

// certHostFile records the host name the certificate was made for, so that a clone,
// which gets a new host name, gets a new certificate.
func (l Layout) certHostFile() string { return filepath.Join(l.StateDir, "cert-host") }

func (l Layout) unitFile() string { return filepath.Join(l.UnitDir, ServiceName+".service") }

// Systemd reports whether systemd is the init system (sd_booted(3)'s test).
func (l Layout) Systemd() bool { return isDir(filepath.Join(l.RunDir, "systemd", "system")) }

func (l Layout) validate() error {
	for _, d := range []string{l.StateDir, l.LogDir, l.RunDir, l.UnitDir} {
		if !filepath.IsAbs(d) || filepath.Clean(d) != d || d == "/" {
			return badRequest("%q cannot hold the add-on's files: give a clean absolute path other than /", d)
		}
	}
	return nil
}

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
	PassivePorts string // "first-last"
	PublicHost   string
	TLSCert      string
	TLSKey       string
	RequireTLS   *bool
	IdleTimeout  time.Duration
	// NoStart leaves the service alone: nothing is started or restarted.
	NoStart bool
	// ResetPassword gives an existing FTP user a new generated password.
	ResetPassword bool
}

// InstallResult is what the platform mails to the owner, plus what install did.
type InstallResult struct {
	User string
	// Password is set only when the account was created or its password reset.
	Password     string
	Host         string
	Port         int
	PassivePorts string
	Root         string
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
	oldOwner   string // the owner of an existing ftpd.toml
	oldConfig  []byte
	newConfig  []byte
	root       RootChoice
	ownCert    bool   // the certificate is ours to make and keep
	certReason string // why a new certificate is needed; "" = keep the current one
	hostname   string
	hosts      []string // names and addresses the certificate is for
	exe        string
}

// Install sets up the add-on or brings an existing installation in line with req. It
// checks everything it can before changing anything; run twice with the same request
// it changes nothing.
func (l *Lifecycle) Install(ctx context.Context, req InstallRequest) (InstallResult, error) {
	if os.Geteuid() != 0 {
		return InstallResult{}, errors.New("ftpctl install must run as root: it edits /etc/passwd and /etc/shadow and starts the service")
	}
	p, err := l.plan(ctx, req)
	if err != nil {
		return InstallResult{}, err
	}
	return l.apply(ctx, req, p)
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
		p.oldOwner = cfg.Owner
		if p.oldConfig, err = os.ReadFile(l.Admin.ConfigPath); err != nil {
			return nil, fmt.Errorf("read settings: %w", err)
		}
	}
	if err := l.chooseRoot(req, &cfg, found, p); err != nil {
		return nil, err
	}
	if err := applyFlags(req, &cfg); err != nil {
		return nil, err
	}
	if err := l.planTLS(req, &cfg, found, p); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, badRequest("%v", err)
	}
	if p.newConfig, err = config.Marshal(cfg); err != nil {
		return nil, err
	}
	p.cfg = cfg
	if err := l.checkAccount(p); err != nil {
		return nil, err
	}
	if p.exe, err = l.executable(); err != nil {
		return nil, err
	}
	if !req.NoStart {
		if err := l.checkListen(ctx, cfg.Listen); err != nil {
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
	p.hosts = append([]string{host}, hostAddresses()...)
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
	if now.Add(certRenewal).After(leaf.NotAfter) {
		return "the old one expires on " + leaf.NotAfter.Format("2006-01-02")
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

// checkListen makes sure the service will be able to open its port: either our service
// holds it already, or it is free. Another FTP server there is the usual conflict.
func (l *Lifecycle) checkListen(ctx context.Context, addr string) error {
	if l.Layout.Systemd() {
		if l.Systemctl(ctx, "is-active", "--quiet", ServiceName) == nil {
			return nil
		}
	} else if _, ok := l.ServicePID(); ok {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("the service could not listen on %s (%v); stop the program using that port (another FTP server?) or choose --listen", addr, errors.Unwrap(err))
	}
	return ln.Close()
}

func (l *Lifecycle) apply(ctx context.Context, req InstallRequest, p *installPlan) (InstallResult, error) {
	res := InstallResult{
		User:         p.user,
		Root:         p.cfg.Root,
		PassivePorts: p.cfg.PassivePorts.String(),
		Host:         publicHost(p.cfg.PublicHost, p.hostname),
	}
	_, port, _ := net.SplitHostPort(p.cfg.Listen)
	res.Port, _ = strconv.Atoi(port)
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

	configChanged := !bytes.Equal(p.oldConfig, p.newConfig)
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

	warn, err := l.ensureAccount(ctx, req, p, &res)
	res.Warnings = append(res.Warnings, warn...)
	if err != nil {
		return res, err
	}

	msg, err := l.ensureService(ctx, req, p, configChanged, certChanged)
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
	certPEM, keyPEM, err := SelfSigned(p.hosts, certValidity)
	if err != nil {
		return false, err
	}
	// The key goes first: a crash in between leaves a pair that does not match, which
	// the next install replaces, never an old key with a new certificate in use.
	if err := atomicfile.Write(l.Layout.KeyFile(), keyPEM, 0o600); err != nil {
		return false, err
	}
	if err := atomicfile.Write(l.Layout.CertFile(), certPEM, 0o644); err != nil {
		return false, err
	}
	return true, atomicfile.Write(l.Layout.certHostFile(), []byte(p.hostname+"\n"), 0o644)
}

func (l *Lifecycle) ensureAccount(ctx context.Context, req InstallRequest, p *installPlan, res *InstallResult) (Warnings, error) {
	if !p.exists {
		pw, err := passhash.Generate()
		if err != nil {
			return nil, err
		}
		warn, err := l.Admin.AddUser(ctx, AddUserRequest{Name: p.user, Password: pw, GrantOwner: true})
		if err != nil {
			return warn, err
		}
		res.Password = pw
		return warn, nil
	}
	var warn Warnings
	if p.oldOwner != "" && p.oldOwner != p.cfg.Owner {
		if passwd, err := sudoers.PasswdPath(); err == nil {
			if _, err := l.Admin.Sudoers.Revoke(p.oldOwner, p.user, passwd); err != nil && !errors.Is(err, sudoers.ErrNotValidated) {
				warn = append(warn, fmt.Sprintf("the old owner %s may still change the password of %s with sudo: %v", p.oldOwner, p.user, err))
			}
		}
	}
	warn = append(warn, l.Admin.grant(p.cfg.Owner, p.user)...)
	if req.ResetPassword {
		pw, err := passhash.Generate()
		if err != nil {
			return warn, err
		}
		if err := l.Admin.SetPassword(ctx, p.user, pw); err != nil {
			return warn, err
		}
		res.Password = pw
	}
	return warn, nil
}

// publicHost is what clients connect to: the configured public address, else the
// container's primary address, else its host name.
func publicHost(configured, hostname string) string {
	if configured != "" {
		return configured
	}
	if ip := primaryIPv4(); ip != "" {
		return ip
	}
	if hostname == "" {
		hostname, _ = os.Hostname()
	}
	return hostname
}

// primaryIPv4 is the first IPv4 address of the first interface that is up and not a
// loopback, the address the platform gives the container.
func primaryIPv4() string {
	for _, a := range interfaceAddrs() {
		if a.Is4() {
			return a.String()
		}
	}
	return ""
}

// hostAddresses are the addresses a self-signed certificate names.
func hostAddresses() []string {
	var out []string
	for _, a := range interfaceAddrs() {
		out = append(out, a.String())
	}
	return out
}

// interfaceAddrs lists global unicast addresses of interfaces that are up, in
// interface order.
func interfaceAddrs() []netip.Addr {
	ifaces, err := net.Interfaces()
	if err != nil {
		return nil
	}
	var out []netip.Addr
	for _, ifc := range ifaces {
		if ifc.Flags&net.FlagUp == 0 || ifc.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, err := ifc.Addrs()
		if err != nil {
			continue
		}
		for _, a := range addrs {
			ipnet, ok := a.(*net.IPNet)
			if !ok {
				continue
			}
			ip, ok := netip.AddrFromSlice(ipnet.IP)
			if ok && ip.Unmap().IsGlobalUnicast() {
				out = append(out, ip.Unmap())
			}
		}
	}
	return out
}

// ---- the service ----

// unitTemplate is the unit install writes when the package did not install one.
var unitTemplate = template.Must(template.New("unit").Parse(`# Written by "ftpctl install"; "ftpctl uninstall" removes it.
[Unit]
Description=jelastic-ftp FTP/FTPS service
After=network-online.target
Wants=network-online.target

[Service]
Type=notify
ExecStart={{.Exe}} serve --config {{.Config}}
ExecReload=/bin/kill -HUP $MAINPID
Restart=on-failure
RestartSec=2s
KillMode=mixed
TimeoutStopSec=40s

[Install]
WantedBy=multi-user.target
`))

// unitMarker identifies a unit file install wrote, which uninstall may remove.
const unitMarker = `# Written by "ftpctl install"`

func renderUnit(exe, configPath string) ([]byte, error) {
	for _, p := range []string{exe, configPath} {
		if strings.ContainsAny(p, " \t\n\"'\\%$;") {
			return nil, fmt.Errorf("the path %q cannot go into a systemd unit as it is; install ftpctl and its settings under plain paths", p)
		}
	}
	var b bytes.Buffer
	err := unitTemplate.Execute(&b, struct{ Exe, Config string }{exe, configPath})
	return b.Bytes(), err
}

func (l *Lifecycle) ensureService(ctx context.Context, req InstallRequest, p *installPlan, configChanged, certChanged bool) (string, error) {
	if l.Layout.Systemd() {
		return l.ensureSystemdService(ctx, req, p, configChanged, certChanged)
	}
	pid, running := l.ServicePID()
	switch {
	case req.NoStart && running:
		return fmt.Sprintf("--no-start: ftpctl serve (PID %d) was left as it was", pid), nil
	case req.NoStart:
		return "--no-start: the service was not started; start it with `ftpctl install`", nil
	case running && (configChanged || binaryReplaced(pid)):
		why := "the new settings"
		if !configChanged {
			why = "the new ftpctl binary"
		}
		if err := stopProcess(pid); err != nil {
			return "", err
		}
		newPID, err := l.startDetached(p)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("no systemd: restarted ftpctl serve for %s (PID %d); it will not restart after a reboot — add `ftpctl install` to the container's start script", why, newPID), nil
	case running && certChanged:
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			return "", fmt.Errorf("tell ftpctl serve (PID %d) to load the new certificate: %w", pid, err)
		}
		return fmt.Sprintf("ftpctl serve (PID %d) reloads the new certificate", pid), nil
	case running:
		return fmt.Sprintf("ftpctl serve is running (PID %d)", pid), nil
	}
	newPID, err := l.startDetached(p)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("no systemd: started ftpctl serve (PID %d); it will not restart after a reboot — add `ftpctl install` to the container's start script", newPID), nil
}

func (l *Lifecycle) ensureSystemdService(ctx context.Context, req InstallRequest, p *installPlan, configChanged, certChanged bool) (string, error) {
	unitChanged := false
	if _, err := os.Stat(l.Layout.PackagedUnit); err != nil {
		unit, err := renderUnit(p.exe, l.Admin.ConfigPath)
		if err != nil {
			return "", err
		}
		old, _ := os.ReadFile(l.Layout.unitFile())
		if !bytes.Equal(old, unit) {
			if err := os.MkdirAll(l.Layout.UnitDir, 0o755); err != nil {
				return "", fmt.Errorf("create %s: %w", l.Layout.UnitDir, err)
			}
			if err := atomicfile.Write(l.Layout.unitFile(), unit, 0o644); err != nil {
				return "", err
			}
			unitChanged = true
		}
	}
	if unitChanged {
		if err := l.Systemctl(ctx, "daemon-reload"); err != nil {
			return "", err
		}
	}
	if req.NoStart {
		return "--no-start: the systemd unit " + ServiceName + " is in place but was neither enabled nor started; run `systemctl enable --now " + ServiceName + "`", nil
	}
	wasActive := l.Systemctl(ctx, "is-active", "--quiet", ServiceName) == nil
	if err := l.Systemctl(ctx, "enable", "--now", ServiceName); err != nil {
		return "", err
	}
	switch {
	case !wasActive:
		return "systemd: enabled and started " + ServiceName, nil
	case configChanged || unitChanged:
		if err := l.Systemctl(ctx, "restart", ServiceName); err != nil {
			return "", err
		}
		return "systemd: restarted " + ServiceName + " for the new settings", nil
	case certChanged:
		if err := l.Systemctl(ctx, "reload-or-restart", ServiceName); err != nil {
			return "", err
		}
		return "systemd: " + ServiceName + " reloads the new certificate", nil
	}
	return "systemd: " + ServiceName + " is running", nil
}

// startDetached runs `ftpctl serve` in a session of its own, so that it outlives the
// installing shell, with its output in the log file, and waits until it greets clients.
func (l *Lifecycle) startDetached(p *installPlan) (int, error) {
	if err := os.MkdirAll(l.Layout.LogDir, 0o750); err != nil {
		return 0, fmt.Errorf("create %s: %w", l.Layout.LogDir, err)
	}
	logf, err := os.OpenFile(l.Layout.LogFile(), os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o640)
	if err != nil {
		return 0, fmt.Errorf("open the service log: %w", err)
	}
	defer logf.Close()
	logStart, _ := logf.Seek(0, io.SeekEnd)

	cmd := exec.Command(p.exe, "serve", "--config", l.Admin.ConfigPath)
	cmd.Args[0] = "ftpctl" // what ServicePID recognises, whatever the binary's file name
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = "/"
	// A clean environment: nothing like LISTEN_FDS or NOTIFY_SOCKET from whatever ran
	// install may reach the service.
	cmd.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		RunDirEnv + "=" + filepath.Join(l.Layout.RunDir, ServiceName),
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start ftpctl serve: %w", err)
	}
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	fail := func(err error) (int, error) {
		cmd.Process.Kill()
		os.Remove(l.Layout.PIDFile())
		return 0, err
	}
	if err := os.MkdirAll(l.Layout.RunDir, 0o755); err != nil {
		return fail(fmt.Errorf("create %s: %w", l.Layout.RunDir, err))
	}
	if err := atomicfile.Write(l.Layout.PIDFile(), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return fail(err)
	}
	addr := dialAddr(p.cfg.Listen)
	deadline := time.Now().Add(readyTimeout)
	for !greets(addr) {
		select {
		case <-exited:
			return fail(fmt.Errorf("ftpctl serve stopped at once: %s (the log is %s)", lastLogLine(l.Layout.LogFile(), logStart), l.Layout.LogFile()))
		case <-time.After(50 * time.Millisecond): // polling the port: nothing else says it is ready
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("ftpctl serve did not answer on %s within %s; see %s", addr, readyTimeout, l.Layout.LogFile()))
		}
	}
	return pid, nil
}

// dialAddr is where to reach a server listening on listen from this host.
func dialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	ip, err := netip.ParseAddr(host)
	switch {
	case host == "" || err == nil && ip.Is4() && ip.IsUnspecified():
		host = "127.0.0.1"
	case err == nil && ip.IsUnspecified():
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// greets reports whether an FTP server at addr sends its 220 greeting.
func greets(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "220") {
		return false
	}
	_, _ = conn.Write([]byte("QUIT\r\n"))
	return true
}

// lastLogLine is the service's last words after offset: its error, when it failed.
func lastLogLine(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return "no log"
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return "no log"
	}
	data, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	last := "no output"
	for line := range strings.Lines(string(data)) {
		if line = strings.TrimSpace(line); line != "" {
			last = line
		}
	}
	if len(last) > 400 {
		last = last[:400] + "…"
	}
	return last
}

// ServicePID returns the PID of the service started without systemd, when the PID
// file names a live `ftpctl serve`.
func (l *Lifecycle) ServicePID() (int, bool) {
	data, err := os.ReadFile(l.Layout.PIDFile())
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return 0, false
	}
	return pid, isServe(pid)
}

// isServe checks that pid is a live `ftpctl serve`: a PID file can outlive its
// process, and the number may since belong to anything else.
func isServe(pid int) bool {
	if !alive(pid) {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(cmdline), "\x00")
	return len(args) >= 2 && filepath.Base(args[0]) == "ftpctl" && args[1] == "serve"
}

// alive reports whether pid runs; a zombie has stopped serving, whoever reaps it.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// "pid (comm) state ..."; comm may contain spaces and parentheses.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return false
	}
	state := stat[i+2]
	return state != 'Z' && state != 'X'
}

// binaryReplaced reports whether pid runs a binary file that has since been replaced,
// as by an upgrade: such a service must be restarted to run the new code.
func binaryReplaced(pid int) bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return err == nil && strings.HasSuffix(exe, " (deleted)")
}

// stopProcess ends the service with SIGTERM, which lets running transfers finish, and
// SIGKILL when that takes too long.
func stopProcess(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop ftpctl serve (PID %d): %w", pid, err)
	}
	if waitExit(pid, stopTimeout) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill ftpctl serve (PID %d): %w", pid, err)
	}
	if waitExit(pid, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("ftpctl serve (PID %d) does not stop, even after SIGKILL", pid)
}

func waitExit(pid int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond) // not our child: /proc is all there is to watch
	}
	return true
}

// ---- uninstall ----

// UninstallResult lists what uninstall did, one sentence each; empty when there was
// nothing to do.
type UninstallResult struct {
	Done     []string
	Warnings Warnings
}

// Uninstall stops and disables the service and removes the FTP accounts, the group
// and the sudo rules. The files in the FTP root always stay; purge also removes the
// settings, the certificate and the logs. Run again, it finds nothing to do.
func (l *Lifecycle) Uninstall(ctx context.Context, purge bool) (UninstallResult, error) {
	var res UninstallResult
	if os.Geteuid() != 0 {
		return res, errors.New("ftpctl uninstall must run as root: it edits /etc/passwd and /etc/shadow and stops the service")
	}
	if err := l.Layout.validate(); err != nil {
		return res, err
	}
	done := func(format string, args ...any) { res.Done = append(res.Done, fmt.Sprintf(format, args...)) }

	if err := l.stopService(ctx, done); err != nil {
		return res, err
	}
	list, err := l.Admin.ListUsers()
	if err != nil {
		return res, err
	}
	for _, u := range list {
		warn, err := l.Admin.DeleteUser(ctx, u.Name)
		res.Warnings = append(res.Warnings, warn...)
		if err != nil {
			return res, err
		}
		done("deleted FTP user %s and its sudo rules", u.Name)
	}
	if err := l.removeGroup(ctx, done, &res.Warnings); err != nil {
		return res, err
	}
	if err := l.revokeAll(done, &res.Warnings); err != nil {
		return res, err
	}
	if len(list) > 0 {
		if cfg, err := config.Load(l.Admin.ConfigPath); err == nil {
			done("kept every file in the FTP root %s", cfg.Root)
		}
	}
	if purge {
		for _, dir := range []string{filepath.Dir(l.Admin.ConfigPath), l.Layout.StateDir, l.Layout.LogDir} {
			if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err := os.RemoveAll(dir); err != nil {
				return res, fmt.Errorf("remove %s: %w", dir, err)
			}
			done("removed %s", dir)
		}
	}
	return res, nil
}

func (l *Lifecycle) stopService(ctx context.Context, done func(string, ...any)) error {
	if l.Layout.Systemd() {
		_, errPkg := os.Stat(l.Layout.PackagedUnit)
		_, errOwn := os.Stat(l.Layout.unitFile())
		if errPkg == nil || errOwn == nil {
			active := l.Systemctl(ctx, "is-active", "--quiet", ServiceName) == nil
			enabled := l.Systemctl(ctx, "is-enabled", "--quiet", ServiceName) == nil
			if active || enabled {
				if err := l.Systemctl(ctx, "disable", "--now", ServiceName); err != nil {
					return err
				}
				done("stopped and disabled the systemd service %s", ServiceName)
			}
		}
		if own, err := os.ReadFile(l.Layout.unitFile()); err == nil && bytes.HasPrefix(own, []byte(unitMarker)) {
			if err := os.Remove(l.Layout.unitFile()); err != nil {
				return fmt.Errorf("remove the unit file: %w", err)
			}
			if err := l.Systemctl(ctx, "daemon-reload"); err != nil {
				return err
			}
			done("removed %s", l.Layout.unitFile())
		}
	}
	// Also where systemd runs now: the service may have been started before it did.
	pid, running := l.ServicePID()
	if running {
		if err := stopProcess(pid); err != nil {
			return err
		}
		done("stopped ftpctl serve (PID %d)", pid)
	}
	if err := os.Remove(l.Layout.PIDFile()); err == nil && !running {
		done("removed the stale PID file %s", l.Layout.PIDFile())
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the PID file: %w", err)
	}
	// The folder of the service's control socket, which the service leaves behind
	// when it stops; only while empty, in case someone else's serve still uses it.
	os.Remove(filepath.Join(l.Layout.RunDir, ServiceName))
	return nil
}

func (l *Lifecycle) removeGroup(ctx context.Context, done func(string, ...any), warn *Warnings) error {
	tx, err := l.Admin.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Close()
	removed, err := tx.RemoveGroup()
	if errors.Is(err, users.ErrGroupInUse) {
		*warn = append(*warn, fmt.Sprintf("kept the group %s: %v", users.GroupName, err))
		return nil
	}
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if removed {
		done("removed the group %s", users.GroupName)
	}
	return nil
}

// revokeAll removes every rule of ours left in the drop-in, such as those of accounts
// deleted with userdel; the drop-in goes when nothing else is in it.
func (l *Lifecycle) revokeAll(done func(string, ...any), warn *Warnings) error {
	grants, err := l.Admin.Sudoers.Grants()
	if err != nil {
		return err
	}
	var revoked []string
	for _, g := range grants {
		if slices.Contains(revoked, g.User) {
			continue
		}
		if _, err := l.Admin.Sudoers.RevokeUser(g.User); errors.Is(err, sudoers.ErrNotValidated) {
			*warn = append(*warn, err.Error())
		} else if err != nil {
			return err
		}
		revoked = append(revoked, g.User)
	}
	if len(revoked) > 0 {
		done("removed the sudo rules for %s", strings.Join(revoked, ", "))
	}
	return nil
}
