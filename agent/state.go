package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"

	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/internal/atomicfile"
	"github.com/jelastic/jelastic-ftp/internal/hostkeys"
	"github.com/jelastic/jelastic-ftp/sudoers"
	"github.com/jelastic/jelastic-ftp/users"
)

// StateSchema is the version of the state's JSON. Import refuses any other: a state
// it cannot read whole must not be half applied.
const StateSchema = 1

// MaxStateSize bounds what import reads: a layer's accounts, two small TOML files and
// a certificate chain fit many times over.
const MaxStateSize = 16 << 20

// State is everything that makes one node's add-on, as `ftpctl state export` prints
// it and `ftpctl state import` applies it: what a new node of the layer, or this node
// after a redeploy, needs to serve the same accounts with the same passwords.
type State struct {
	Schema int `json:"schema"`
	// Host is the host name of the node that exported: its public_host and its
	// self-signed certificate are its own, and only that node takes them back.
	Host     string         `json:"host"`
	Accounts []users.Record `json:"accounts"`
	// Settings and UserOptions are ftpd.toml and users.toml as they are, so that every
	// option the files can hold travels without this code knowing it.
	Settings    string      `json:"ftpd_toml"`
	UserOptions string      `json:"users_toml"`
	SudoGrants  []StateRule `json:"sudo_grants"`
	TLS         *StateTLS   `json:"tls,omitempty"`
	// SSHHostKeys are the SFTP service's host keys (OpenSSH PEM, in the order of
	// hostkeys.Kinds). Unlike a self-signed certificate they are the layer's, not a
	// host's: every node presents the same keys, so that a client behind the load
	// balancer never sees the server's key change. Absent when never made.
	SSHHostKeys []string `json:"ssh_host_keys,omitempty"`
}

// StateRule is one of the owner's sudo rules: owner may set user's password. The
// passwd path is the importing node's own.
type StateRule struct {
	Owner string `json:"owner"`
	User  string `json:"user"`
}

// StateTLS is the certificate the service uses, with its key.
type StateTLS struct {
	// SelfSigned is true for the certificate install makes in the state directory;
	// it is made for one host (Host), so another host makes its own. Its PEMs are
	// empty when it was not made yet.
	SelfSigned bool   `json:"self_signed"`
	Host       string `json:"host,omitempty"`
	CertPEM    string `json:"cert_pem"`
	KeyPEM     string `json:"key_pem"`
}

// Export reads this node's add-on: accounts and hashes from shadow now, the settings,
// the per-user options, our sudo rules and the certificate.
func (l *Lifecycle) Export() (*State, error) {
	if os.Geteuid() != 0 {
		return nil, errors.New("ftpctl state export must run as root: it reads /etc/shadow and the TLS key")
	}
	settings, err := os.ReadFile(l.Admin.ConfigPath)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("jelastic-ftp is not set up on this node (no %s); run `ftpctl install` first", l.Admin.ConfigPath)
	}
	if err != nil {
		return nil, fmt.Errorf("read settings: %w", err)
	}
	cfg, err := config.Parse(l.Admin.ConfigPath, settings)
	if err != nil {
		return nil, err
	}
	host, err := l.Hostname()
	if err != nil {
		return nil, fmt.Errorf("read the host name: %w", err)
	}
	st := &State{Schema: StateSchema, Host: host, Settings: string(settings)}
	if st.Accounts, err = users.Records(l.Admin.Etc); err != nil {
		return nil, err
	}
	opts, err := os.ReadFile(l.Admin.UsersPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read user options: %w", err)
	}
	st.UserOptions = string(opts)
	grants, err := l.Admin.Sudoers.Grants()
	if err != nil {
		return nil, err
	}
	st.SudoGrants = []StateRule{}
	for _, g := range grants {
		st.SudoGrants = append(st.SudoGrants, StateRule{Owner: g.Owner, User: g.User})
	}
	if cfg.TLS.Enabled() {
		if st.TLS, err = l.exportTLS(cfg.TLS); err != nil {
			return nil, err
		}
	}
	keys, err := hostkeys.Load(l.Layout.StateDir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		// Not made yet: install makes them, and an importer its own.
	case err != nil:
		return nil, err
	default:
		for _, k := range keys {
			st.SSHHostKeys = append(st.SSHHostKeys, string(k))
		}
	}
	return st, nil
}

func (l *Lifecycle) exportTLS(t config.TLS) (*StateTLS, error) {
	certPEM, err := os.ReadFile(t.Cert)
	if errors.Is(err, fs.ErrNotExist) && l.ownCert(t) {
		// Not made yet: install makes it, and an importer its own.
		return &StateTLS{SelfSigned: true}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the TLS certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(t.Key)
	if err != nil {
		return nil, fmt.Errorf("read the TLS key: %w", err)
	}
	out := &StateTLS{SelfSigned: l.ownCert(t), CertPEM: string(certPEM), KeyPEM: string(keyPEM)}
	if out.SelfSigned {
		recorded, _ := os.ReadFile(l.Layout.certHostFile())
		out.Host = string(bytes.TrimSpace(recorded))
	}
	return out, nil
}

func (l *Lifecycle) ownCert(t config.TLS) bool {
	return t.Cert == l.Layout.CertFile() && t.Key == l.Layout.KeyFile()
}

// MarshalState is the JSON form export prints and the copy holds.
func MarshalState(st *State) ([]byte, error) {
	return json.MarshalIndent(st, "", "  ")
}

// SaveCopy refreshes the state copy (Layout.StateCopy, mode 0600) from the node as it
// is now. It does nothing where the add-on is not set up (no ftpd.toml), and rewrites
// nothing that did not change.
func (l *Lifecycle) SaveCopy() error {
	if _, err := os.Stat(l.Admin.ConfigPath); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err := l.Layout.validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(l.Layout.StateDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", l.Layout.StateDir, err)
	}
	st, err := l.Export()
	if err != nil {
		return err
	}
	data, err := MarshalState(st)
	if err != nil {
		return err
	}
	data = append(data, '\n')
	path := l.Layout.StateCopy()
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return os.Chmod(path, 0o600)
	}
	return atomicfile.Write(path, data, 0o600)
}

// ParseState reads a state as import takes it: one whole JSON object of the schema
// this ftpctl writes, nothing unknown, nothing after it.
func ParseState(data []byte) (*State, error) {
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, errors.New("no state on standard input: pipe the output of `ftpctl state export` into it")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var st State
	if err := dec.Decode(&st); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return nil, errors.New("the state ends too early (truncated?): nothing was changed")
		}
		return nil, fmt.Errorf("the state is not the JSON `ftpctl state export` prints (%v): nothing was changed", err)
	}
	if dec.More() {
		return nil, errors.New("the state has data after its JSON object: nothing was changed")
	}
	if st.Schema != StateSchema {
		return nil, fmt.Errorf("the state has schema %d, this ftpctl reads schema %d: nothing was changed", st.Schema, StateSchema)
	}
	return &st, nil
}

// ImportResult lists what import changed, one sentence each, and how the service is.
type ImportResult struct {
	Changed  []string
	Notes    []string
	Warnings Warnings
}

// importPlan is everything import decided and checked before writing anything.
type importPlan struct {
	st        *State
	cfg       config.Config
	settings  []byte
	oldConfig []byte
	options   []byte
	oldOpts   []byte
	grants    []sudoers.Grant
	passwd    string // this node's passwd, the command of every sudo rule
	// certPEM and keyPEM are written to cfg.TLS's paths; nil = leave them (a
	// self-signed certificate of another host: install makes this node's own).
	certPEM, keyPEM []byte
	hostKeys        hostkeys.Set // nil = leave this node's
	hostname        string
}

// Import makes this node match st: the same FTP accounts with the same hashes (extra
// ones removed), per-user options, sudo rules, settings and certificate, then the
// service (re)started when something it reads changed. Everything is checked before
// anything is written; applied twice, the second run changes nothing. This node keeps
// the addresses it listens on (listen, sftp_listen, implicit_tls_listen) and, unless
// it exported st itself, its own public_host.
func (l *Lifecycle) Import(ctx context.Context, st *State, noStart bool) (ImportResult, error) {
	var res ImportResult
	if os.Geteuid() != 0 {
		return res, errors.New("ftpctl state import must run as root: it edits /etc/passwd and /etc/shadow and starts the service")
	}
	if err := l.Layout.validate(); err != nil {
		return res, err
	}
	p, err := l.planImport(st)
	if err != nil {
		return res, err
	}
	if !noStart {
		if err := l.checkListens(ctx, p.cfg); err != nil {
			return res, err
		}
	}
	restart, err := l.applyImport(ctx, p, &res)
	if err != nil {
		return res, err
	}
	if len(res.Changed) == 0 {
		res.Notes = append(res.Notes, "nothing to change: this node already matches the state")
	}
	ip, err := l.plan(ctx, InstallRequest{NoStart: noStart})
	if err != nil {
		return res, err
	}
	certChanged, err := l.ensureCertificate(ip)
	if err != nil {
		return res, err
	}
	if certChanged {
		res.Changed = append(res.Changed, fmt.Sprintf("made a self-signed certificate for %s (%s)", ip.hosts[0], ip.certReason))
	}
	if !noStart {
		msg, err := l.ensureService(ctx, InstallRequest{}, ip, restart, certChanged)
		if err != nil {
			return res, err
		}
		res.Notes = append(res.Notes, msg)
	}
	if err := l.SaveCopy(); err != nil {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the state copy %s was not refreshed: %v", l.Layout.StateCopy(), err))
	}
	return res, nil
}

func (l *Lifecycle) planImport(st *State) (*importPlan, error) {
	p := &importPlan{st: st}
	fail := func(format string, args ...any) error {
		return fmt.Errorf("the state cannot be applied, nothing was changed: "+format, args...)
	}
	var err error
	if p.hostname, err = l.Hostname(); err != nil {
		return nil, fmt.Errorf("read the host name: %w", err)
	}
	if p.cfg, err = config.Parse("ftpd_toml", []byte(st.Settings)); err != nil {
		return nil, fail("%v", err)
	}
	// The addresses it listens on and public_host belong to the node: each listens on
	// and announces its own.
	local, found, err := config.LoadFound(l.Admin.ConfigPath)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%w; fix the file or remove it to take the state's settings", err)
	case found:
		p.cfg.Listen, p.cfg.SFTPListen, p.cfg.ImplicitTLS, p.cfg.PublicHost = local.Listen, local.SFTPListen, local.ImplicitTLS, local.PublicHost
		if p.oldConfig, err = os.ReadFile(l.Admin.ConfigPath); err != nil {
			return nil, fmt.Errorf("read settings: %w", err)
		}
	case st.Host != p.hostname:
		p.cfg.PublicHost = ""
	}
	if err := l.planImportTLS(p); err != nil {
		return nil, err
	}
	if len(st.SSHHostKeys) > 0 {
		for _, k := range st.SSHHostKeys {
			p.hostKeys = append(p.hostKeys, []byte(k))
		}
		if _, err := p.hostKeys.Signers(); err != nil {
			return nil, fail("%v", err)
		}
	}
	if err := p.cfg.Validate(); err != nil {
		return nil, fail("%v", err)
	}
	if p.settings, err = config.Marshal(p.cfg); err != nil {
		return nil, err
	}
	if _, err := config.ParseUsers("users_toml", []byte(st.UserOptions)); err != nil {
		return nil, fail("%v", err)
	}
	p.options = []byte(st.UserOptions)
	p.oldOpts, err = os.ReadFile(l.Admin.UsersPath)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read user options: %w", err)
	}
	names := map[string]bool{}
	for _, r := range st.Accounts {
		if err := r.Validate(p.cfg.Root); err != nil {
			return nil, fail("%v", err)
		}
		if names[r.Name] {
			return nil, fail("the user %s appears twice", r.Name)
		}
		names[r.Name] = true
	}
	if len(st.SudoGrants) > 0 {
		if p.passwd, err = sudoers.PasswdPath(); err != nil {
			return nil, err
		}
	}
	for _, r := range st.SudoGrants {
		g := sudoers.Grant{Owner: r.Owner, User: r.User, Command: p.passwd}
		if err := g.Validate(); err != nil {
			return nil, fail("sudo rule for %s: %v", r.User, err)
		}
		if !names[r.User] {
			return nil, fail("a sudo rule names %s, which is not among the accounts", r.User)
		}
		p.grants = append(p.grants, g)
	}
	if err := l.checkTakeover(st.Accounts); err != nil {
		return nil, fail("%v", err)
	}
	return p, nil
}

// planImportTLS decides where the certificate goes: a self-signed one into this
// node's state directory when it was made for this host (a redeploy), else nowhere
// (install makes one for this host); any other one to the paths the settings name.
func (l *Lifecycle) planImportTLS(p *importPlan) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("the state cannot be applied, nothing was changed: "+format, args...)
	}
	t := p.st.TLS
	switch {
	case t == nil && p.cfg.TLS.Enabled():
		return fail("its settings name the certificate %s but it carries none", p.cfg.TLS.Cert)
	case t == nil:
		return nil
	case !p.cfg.TLS.Enabled():
		return fail("it carries a certificate its settings do not use")
	case t.SelfSigned:
		// Ours lives in this node's state directory, wherever the exporter kept it.
		p.cfg.TLS.Cert, p.cfg.TLS.Key = l.Layout.CertFile(), l.Layout.KeyFile()
		if t.CertPEM == "" && t.KeyPEM == "" || t.Host != p.hostname {
			return nil
		}
	}
	if _, err := tls.X509KeyPair([]byte(t.CertPEM), []byte(t.KeyPEM)); err != nil {
		return fail("its certificate and key do not form a pair: %v", err)
	}
	p.certPEM, p.keyPEM = []byte(t.CertPEM), []byte(t.KeyPEM)
	return nil
}

// checkTakeover refuses a state whose account names this node uses for accounts that
// are not FTP accounts: import never turns a system account into an FTP one.
func (l *Lifecycle) checkTakeover(records []users.Record) error {
	ftp, err := users.Snapshot(l.Admin.Etc)
	if err != nil {
		return err
	}
	data, err := os.ReadFile(filepath.Join(l.Admin.Etc, "passwd"))
	if err != nil {
		return fmt.Errorf("read the accounts: %w", err)
	}
	for _, r := range records {
		if slices.ContainsFunc(ftp, func(a users.Account) bool { return a.Name == r.Name }) {
			continue
		}
		if accountListed(data, r.Name) {
			return fmt.Errorf("the account %s exists on this node and is not an FTP account", r.Name)
		}
	}
	return nil
}

func accountListed(passwd []byte, name string) bool {
	for _, line := range bytes.Split(passwd, []byte("\n")) {
		if bytes.HasPrefix(line, []byte(name+":")) {
			return true
		}
	}
	return false
}

// applyImport writes what planImport decided and reports whether the service must
// restart to see it.
func (l *Lifecycle) applyImport(ctx context.Context, p *importPlan, res *ImportResult) (restart bool, err error) {
	changed := func(format string, args ...any) { res.Changed = append(res.Changed, fmt.Sprintf(format, args...)) }
	gid, err := l.importAccounts(ctx, p, changed)
	if err != nil {
		return false, err
	}
	if !isDir(p.cfg.Root) {
		// A fresh node of a stack without the folder, as install's fallback root.
		if err := makeRoot(p.cfg.Root, gid); err != nil {
			return false, err
		}
		changed("created the FTP root %s", p.cfg.Root)
	}
	for _, r := range p.st.Accounts {
		created, err := makeHome(p.cfg.Root, r.Home, gid)
		if err != nil {
			return false, err
		}
		if len(created) > 0 {
			changed("created the home %s of %s", r.Home, r.Name)
		}
	}
	if !bytes.Equal(p.oldConfig, p.settings) {
		if err := os.MkdirAll(filepath.Dir(l.Admin.ConfigPath), 0o755); err != nil {
			return false, fmt.Errorf("create %s: %w", filepath.Dir(l.Admin.ConfigPath), err)
		}
		if err := atomicfile.Write(l.Admin.ConfigPath, p.settings, 0o644); err != nil {
			return false, err
		}
		changed("wrote the settings %s", l.Admin.ConfigPath)
		restart = true
	}
	if !bytes.Equal(p.oldOpts, p.options) {
		if err := atomicfile.Write(l.Admin.UsersPath, p.options, 0o644); err != nil {
			return false, err
		}
		changed("wrote the per-user options %s", l.Admin.UsersPath)
		restart = true
	}
	if p.certPEM != nil {
		wrote, err := writePair(p.cfg.TLS, p.certPEM, p.keyPEM)
		if err != nil {
			return false, err
		}
		if wrote {
			changed("wrote the certificate %s and its key", p.cfg.TLS.Cert)
			restart = true
		}
		if p.st.TLS.SelfSigned {
			if _, err := writeIfDifferent(l.Layout.certHostFile(), []byte(p.hostname+"\n"), 0o644); err != nil {
				return false, err
			}
		}
	}
	if p.hostKeys != nil {
		if err := os.MkdirAll(l.Layout.StateDir, 0o755); err != nil {
			return false, fmt.Errorf("create %s: %w", l.Layout.StateDir, err)
		}
		wrote, err := hostkeys.Write(l.Layout.StateDir, p.hostKeys)
		if err != nil {
			return false, err
		}
		if wrote {
			changed("wrote the SSH host keys in %s", l.Layout.StateDir)
			restart = true
		}
	}
	warn, err := l.importGrants(p, changed)
	res.Warnings = append(res.Warnings, warn...)
	return restart, err
}

// importAccounts puts every account of the state, removes the FTP accounts it does
// not list, in one transaction of the account databases.
func (l *Lifecycle) importAccounts(ctx context.Context, p *importPlan, changed func(string, ...any)) (int, error) {
	tx, err := l.Admin.begin(ctx)
	if err != nil {
		return 0, err
	}
	defer tx.Close()
	gid, err := tx.EnsureGroup()
	if err != nil {
		return 0, err
	}
	keep := map[string]bool{}
	for _, r := range p.st.Accounts {
		keep[r.Name] = true
		c, err := tx.Put(r, l.Admin.Now())
		if err != nil {
			return 0, err
		}
		if c {
			changed("set the FTP user %s (home %s) with its password hash", r.Name, r.Home)
		}
	}
	current, err := tx.List()
	if err != nil {
		return 0, err
	}
	for _, a := range current {
		if keep[a.Name] {
			continue
		}
		if err := tx.Delete(a.Name); err != nil {
			return 0, err
		}
		changed("deleted the FTP user %s, which the state does not have (its files stay)", a.Name)
	}
	return gid, tx.Commit()
}

// importGrants makes our sudo rules exactly the state's, with this node's passwd.
func (l *Lifecycle) importGrants(p *importPlan, changed func(string, ...any)) (Warnings, error) {
	current, err := l.Admin.Sudoers.Grants()
	if err != nil {
		return nil, err
	}
	var warn Warnings
	for _, g := range current {
		if slices.Contains(p.grants, g) {
			continue
		}
		c, err := l.Admin.Sudoers.Revoke(g.Owner, g.User, g.Command)
		if errors.Is(err, sudoers.ErrNotValidated) {
			warn = append(warn, err.Error())
		} else if err != nil {
			return warn, err
		}
		if c {
			changed("removed the sudo rule letting %s set the password of %s", g.Owner, g.User)
		}
	}
	checked := map[string]sudoers.Report{}
	for _, g := range p.grants {
		rep, ok := checked[g.Owner]
		if !ok {
			rep = l.Admin.sudoCheck(g.Owner)
			checked[g.Owner] = rep
			warn = append(warn, rep.Warnings...)
		}
		if !rep.OwnerExists {
			continue // Check's warning names the missing owner; sudo would ignore the rule
		}
		c, err := l.Admin.Sudoers.Grant(g.Owner, g.User, g.Command)
		if errors.Is(err, sudoers.ErrNotValidated) {
			warn = append(warn, err.Error())
		} else if err != nil {
			return warn, err
		}
		if c {
			changed("let %s set the password of %s with sudo", g.Owner, g.User)
		}
	}
	return warn, nil
}

// writePair writes a certificate and its key where t names them, the key first (see
// ensureCertificate), and reports whether either changed.
func writePair(t config.TLS, certPEM, keyPEM []byte) (bool, error) {
	for _, dir := range []string{filepath.Dir(t.Cert), filepath.Dir(t.Key)} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return false, fmt.Errorf("create %s: %w", dir, err)
		}
	}
	k, err := writeIfDifferent(t.Key, keyPEM, 0o600)
	if err != nil {
		return false, err
	}
	c, err := writeIfDifferent(t.Cert, certPEM, 0o644)
	return k || c, err
}

func writeIfDifferent(path string, data []byte, mode os.FileMode) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, os.Chmod(path, mode)
	}
	return true, atomicfile.Write(path, data, mode)
}

// restoreCopy brings back the state copy when this node has it but no FTP account:
// what a redeploy leaves (the copy is listed in /etc/jelastic/redeploy.conf, the
// account databases are the new image's). It reports what it did; the service is
// left to the install that called it.
func (l *Lifecycle) restoreCopy(ctx context.Context) (ImportResult, bool, error) {
	data, err := os.ReadFile(l.Layout.StateCopy())
	if errors.Is(err, fs.ErrNotExist) {
		return ImportResult{}, false, nil
	}
	if err != nil {
		return ImportResult{}, false, fmt.Errorf("read the state copy: %w", err)
	}
	accounts, err := users.Snapshot(l.Admin.Etc)
	if err != nil || len(accounts) > 0 {
		return ImportResult{}, false, err
	}
	st, err := ParseState(data)
	if err != nil {
		return ImportResult{}, false, fmt.Errorf("the state copy %s: %w", l.Layout.StateCopy(), err)
	}
	res, err := l.Import(ctx, st, true)
	return res, err == nil, err
}
