// Package agent is the privileged side of the add-on: it manages FTP accounts and their
// options, the owner's sudo rule, and later the service's lifecycle and its monitor.
package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/internal/atomicfile"
	"github.com/jelastic/jelastic-ftp/internal/privsep"
	"github.com/jelastic/jelastic-ftp/monitor"
	"github.com/jelastic/jelastic-ftp/sudoers"
	"github.com/jelastic/jelastic-ftp/users"
	"github.com/jelastic/jelastic-ftp/users/allowfrom"
	"github.com/jelastic/jelastic-ftp/users/lastlogin"
	"github.com/jelastic/jelastic-ftp/users/passhash"
	"github.com/jelastic/jelastic-ftp/users/perm"
)

// lockWait bounds how long we wait for useradd, passwd or PAM to release the account
// databases. shadow-utils gives up after 15 s, so we stay below that and never make a
// concurrent useradd fail because of us.
const lockWait = 10 * time.Second

// Admin changes FTP accounts together with everything that belongs to them: the home
// folder, per-user options and the owner's sudo rule. Its paths default to the real
// system's; tests point them elsewhere.
type Admin struct {
	Etc        string // directory of passwd, shadow, group, gshadow
	ConfigPath string // ftpd.toml
	UsersPath  string // per-user options
	LastLogins string // the service's record of last logins
	Sudoers    sudoers.DropIn
	Now        func() time.Time
	// ControlSocket is where the running service takes requests to end sessions.
	ControlSocket string
}

// NewAdmin returns an Admin for the running system.
func NewAdmin() *Admin {
	return &Admin{
		Etc:        "/etc",
		ConfigPath: config.DefaultPath,
		UsersPath:  config.DefaultUsersPath,
		LastLogins: lastlogin.Path(),
		Sudoers:    sudoers.Default(),
		Now:        time.Now,

		ControlSocket: monitor.ControlSocket(),
	}
}

// UserInfo is an FTP account with its add-on options and last login, as `ftpctl user
// list` shows it.
type UserInfo struct {
	users.Account
	config.UserOptions
	LastLogin *lastlogin.Login // nil: no login recorded
}

// LastUsed is when the account was last used: its last login, else the last change of
// its password, which is also the day it was created; zero when neither is known.
func (u UserInfo) LastUsed() time.Time {
	if u.LastLogin != nil {
		return u.LastLogin.Time
	}
	return u.PasswordChanged
}

// UserSettings are what `ftpctl user add` and `user mod` set; nil fields are left
// as they are (on add: the defaults). Values arrive parsed; what depends on the
// system (the home against the FTP root) is checked here.
type UserSettings struct {
	Home            *string
	Description     *string
	Permissions     *perm.Set
	Disabled        *bool
	Expires         *time.Time // the zero time: never
	PasswordMaxDays *int       // -1: never
	AllowFrom       *allowfrom.List
	MaxSessions     *int // 0: no limit of the user's own
}

// change is the part of s that lives in passwd and shadow.
func (s UserSettings) change() users.Change {
	return users.Change{Home: s.Home, Description: s.Description, Disabled: s.Disabled, Expires: s.Expires, PasswordMaxDays: s.PasswordMaxDays}
}

// apply sets the part of s that lives in users.toml.
func (s UserSettings) apply(opts *config.UserOptions) {
	if s.Permissions != nil {
		opts.Permissions = *s.Permissions
	}
	if s.AllowFrom != nil {
		opts.AllowFrom = *s.AllowFrom
	}
	if s.MaxSessions != nil {
		opts.MaxSessions = *s.MaxSessions
	}
}

// AddUserRequest describes a new FTP account.
type AddUserRequest struct {
	Name     string
	Password string
	UserSettings
	// GrantOwner adds the sudo rule that lets the container owner change the password.
	GrantOwner bool
}

// Warnings are problems that did not stop the command but that the operator should see.
type Warnings []string

// begin locks the account databases for one change.
func (a *Admin) begin(ctx context.Context) (*users.Tx, error) {
	ctx, cancel := context.WithTimeout(ctx, lockWait)
	defer cancel()
	return users.Begin(ctx, a.Etc)
}

// AddUser creates an FTP account. On error nothing on disk has changed.
func (a *Admin) AddUser(ctx context.Context, req AddUserRequest) (Warnings, error) {
	if err := users.ValidateName(req.Name); err != nil {
		return nil, err
	}
	cfg, err := config.Load(a.ConfigPath)
	if err != nil {
		return nil, err
	}
	home := cfg.Root
	if req.Home != nil && *req.Home != "" {
		home = *req.Home
	}
	if err := users.ValidateHome(home, cfg.Root); err != nil {
		return nil, badRequest("%v", err)
	}
	hash, err := hashPassword(req.Password)
	if err != nil {
		return nil, err
	}
	tx, err := a.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Close()
	if err := tx.Add(req.Name, home, hash, a.Now()); err != nil {
		return nil, err
	}
	change := req.change()
	change.Home = nil
	if err := tx.Modify(req.Name, change); err != nil {
		return nil, err
	}
	gid, err := tx.EnsureGroup()
	if err != nil {
		return nil, err
	}
	created, err := makeHome(cfg.Root, home, gid)
	if err != nil {
		return nil, err
	}
	undoHome := func() {
		for i := len(created) - 1; i >= 0; i-- {
			os.Remove(created[i])
		}
	}
	var opts config.UserOptions
	req.apply(&opts)
	restoreOpts, err := a.setOptions(req.Name, &opts)
	if err != nil {
		undoHome()
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		undoHome()
		return nil, errors.Join(err, restoreOpts())
	}
	var warn Warnings
	if req.GrantOwner {
		warn = a.grant(cfg.Owner, req.Name)
	}
	return warn, nil
}

// ErrNothingToChange is returned by ModifyUser when given no setting.
var ErrNothingToChange = requestError{"nothing to change: give at least one option (see ftpctl user mod --help)"}

// ModifyUser changes an FTP account's settings in one transaction: passwd, shadow and
// users.toml change together or not at all. A new home is checked as on add and made
// when missing; the files in the old one stay where they are. It returns what the
// change means for the account's live sessions (EndSessions ends them).
func (a *Admin) ModifyUser(ctx context.Context, name string, s UserSettings) (SessionEnd, error) {
	if err := users.ValidateName(name); err != nil {
		return SessionEnd{}, err
	}
	if s == (UserSettings{}) {
		return SessionEnd{}, ErrNothingToChange
	}
	cfg, err := config.Load(a.ConfigPath)
	if err != nil {
		return SessionEnd{}, err
	}
	if s.Home != nil {
		if err := users.ValidateHome(*s.Home, cfg.Root); err != nil {
			return SessionEnd{}, badRequest("%v", err)
		}
	}
	tx, err := a.begin(ctx)
	if err != nil {
		return SessionEnd{}, err
	}
	defer tx.Close()
	before, err := tx.Get(name)
	if err != nil {
		return SessionEnd{}, err
	}
	if err := tx.Modify(name, s.change()); err != nil {
		return SessionEnd{}, err
	}
	after, err := tx.Get(name)
	if err != nil {
		return SessionEnd{}, err
	}
	var created []string
	if s.Home != nil {
		gid, err := tx.EnsureGroup()
		if err != nil {
			return SessionEnd{}, err
		}
		if created, err = makeHome(cfg.Root, *s.Home, gid); err != nil {
			return SessionEnd{}, err
		}
	}
	undoHome := func() {
		for i := len(created) - 1; i >= 0; i-- {
			os.Remove(created[i])
		}
	}
	store, err := config.LoadUsers(a.UsersPath)
	if err != nil {
		undoHome()
		return SessionEnd{}, err
	}
	oldOpts := store[name]
	opts := oldOpts
	s.apply(&opts)
	restoreOpts, err := a.setOptions(name, &opts)
	if err != nil {
		undoHome()
		return SessionEnd{}, err
	}
	if err := tx.Commit(); err != nil {
		undoHome()
		return SessionEnd{}, errors.Join(err, restoreOpts())
	}
	return sessionEnd(s, before, after, oldOpts, opts, a.Now()), nil
}

// SessionEnd is what a change of an account means for its live sessions: nothing (the
// zero value), or why they end, except those from the address blocks in Keep.
type SessionEnd struct {
	Reason privsep.EndReason
	Keep   allowfrom.List
}

// sessionEnd decides what a change does to the account's sessions. Access taken away
// ends them: disabling, expiry, a new home or a permission less end them all; a new
// allow-from list ends those from addresses it does not admit.
func sessionEnd(s UserSettings, before, after users.Account, oldOpts, newOpts config.UserOptions, now time.Time) SessionEnd {
	barred := func(a users.Account) bool { return a.Disabled || a.Expired(now) || a.PasswordAgedOut(now) }
	switch {
	case s.Disabled != nil && *s.Disabled, barred(after) && !barred(before):
		return SessionEnd{Reason: privsep.EndDisabled}
	case after.Home != before.Home:
		return SessionEnd{Reason: privsep.EndChanged}
	}
	for _, name := range oldOpts.Permissions.Names() {
		if !slices.Contains(newOpts.Permissions.Names(), name) {
			return SessionEnd{Reason: privsep.EndChanged}
		}
	}
	if s.AllowFrom != nil && newOpts.AllowFrom != nil {
		return SessionEnd{Reason: privsep.EndChanged, Keep: newOpts.AllowFrom}
	}
	return SessionEnd{}
}

// sessionsTimeout bounds a request to the running service to end sessions; the
// service ends them within 2 seconds.
const sessionsTimeout = 5 * time.Second

// EndSessions has the running service end name's live sessions as end says and
// returns how many ended; an error wrapping monitor.ErrNotRunning means no service
// runs, so there are none.
func (a *Admin) EndSessions(name string, end SessionEnd) (int, error) {
	if end.Reason == "" {
		return 0, nil
	}
	var keep []netip.Prefix
	if len(end.Keep) <= privsep.MaxKeep {
		keep = end.Keep // a longer list ends every session rather than none
	}
	return monitor.EndSessionsAt(a.ControlSocket, privsep.EndSessions{User: name, Reason: end.Reason, Keep: keep}, sessionsTimeout)
}

// hashPassword checks a new password and hashes it.
func hashPassword(pw string) (string, error) {
	if err := CheckPassword(pw); err != nil {
		return "", err
	}
	return passhash.Hash(pw)
}

// MinPasswordLength matches what PAM's obscure check asks of passwd users, plus a margin
// because FTP passwords travel in the clear when a client does not use TLS.
const MinPasswordLength = 8

// maxPasswordLength bounds hashing work and what a typo of a pipe can feed us.
const maxPasswordLength = 1024

// CheckPassword refuses passwords that cannot be stored or are too weak to offer.
func CheckPassword(pw string) error {
	switch {
	case len(pw) < MinPasswordLength:
		return fmt.Errorf("the password is shorter than %d characters", MinPasswordLength)
	case len(pw) > maxPasswordLength:
		return fmt.Errorf("the password is longer than %d bytes", maxPasswordLength)
	case strings.ContainsAny(pw, "\x00\n\r"):
		return errors.New("the password contains a NUL byte or a line break")
	}
	return nil
}

// makeHome creates home and any missing folders between the FTP root and it, each 0755
// and owned by the FTP UID and group, through an os.Root so that a symlink planted in
// the webroot cannot send a root-owned mkdir outside it. It returns what it created,
// outermost first.
func makeHome(root, home string, gid int) ([]string, error) {
	if fi, err := os.Stat(root); err != nil || !fi.IsDir() {
		return nil, fmt.Errorf("the FTP root %s does not exist or is not a folder; create it or set root in %s", root, config.DefaultPath)
	}
	rel, err := filepath.Rel(root, home)
	if err != nil {
		return nil, err
	}
	r, err := os.OpenRoot(root)
	if err != nil {
		return nil, fmt.Errorf("open FTP root: %w", err)
	}
	defer r.Close()
	var created []string
	cur := ""
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		if part == "." {
			break
		}
		cur = filepath.Join(cur, part)
		err := r.Mkdir(cur, 0o755)
		if errors.Is(err, fs.ErrExist) {
			fi, serr := r.Stat(cur)
			if serr != nil || !fi.IsDir() {
				return undo(r, created, fmt.Errorf("home %s: %s exists and is not a folder", home, filepath.Join(root, cur)))
			}
			continue
		}
		if err != nil {
			return undo(r, created, fmt.Errorf("create home %s: %w", home, err))
		}
		created = append(created, cur)
		if err := r.Chown(cur, users.UID, gid); err != nil {
			return undo(r, created, fmt.Errorf("chown home %s: %w", home, err))
		}
	}
	abs := make([]string, len(created))
	for i, c := range created {
		abs[i] = filepath.Join(root, c)
	}
	return abs, nil
}

func undo(r *os.Root, created []string, err error) ([]string, error) {
	for i := len(created) - 1; i >= 0; i-- {
		r.Remove(created[i])
	}
	return nil, err
}

// setOptions writes name's options (nil removes them) and returns how to undo it.
func (a *Admin) setOptions(name string, opts *config.UserOptions) (func() error, error) {
	old, err := os.ReadFile(a.UsersPath)
	existed := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("read %s: %w", a.UsersPath, err)
	}
	store, err := config.LoadUsers(a.UsersPath)
	if err != nil {
		return nil, err
	}
	if opts == nil {
		if _, ok := store[name]; !ok {
			return func() error { return nil }, nil
		}
		delete(store, name)
	} else {
		store[name] = *opts
	}
	if err := os.MkdirAll(filepath.Dir(a.UsersPath), 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", filepath.Dir(a.UsersPath), err)
	}
	if err := atomicfile.Write(a.UsersPath, config.MarshalUsers(store), 0o644); err != nil {
		return nil, err
	}
	return func() error {
		if !existed {
			return os.Remove(a.UsersPath)
		}
		return atomicfile.Write(a.UsersPath, old, 0o644)
	}, nil
}

// grant adds the owner's sudo rule for user, the owner as configured ("" = detect);
// problems become warnings because the FTP account works without it.
func (a *Admin) grant(configured, user string) Warnings {
	choice, err := a.ChooseOwner(configured)
	if err != nil {
		return Warnings{fmt.Sprintf("no sudo rule for %s: %v", user, err)}
	}
	if choice.Owner == "" {
		return Warnings{fmt.Sprintf("no sudo rule for %s, as no owner was found: %s", user, choice.Reason)}
	}
	owner := choice.Owner
	rep := a.sudoCheck(owner)
	warn := Warnings(rep.Warnings)
	if !rep.OwnerExists {
		return warn // Check's warning already names the missing owner
	}
	passwd, err := sudoers.PasswdPath()
	if err != nil {
		return append(warn, fmt.Sprintf("no sudo rule for %s: %v", user, err))
	}
	if _, err := a.Sudoers.Grant(owner, user, passwd); errors.Is(err, sudoers.ErrNotValidated) {
		return append(warn, err.Error())
	} else if err != nil {
		return append(warn, fmt.Sprintf("no sudo rule for %s: %v", user, err))
	}
	return warn
}

func (a *Admin) sudoCheck(owner string) sudoers.Report {
	return sudoers.Checker{DropIn: a.Sudoers, Accounts: filepath.Join(a.Etc, "passwd"), Groups: filepath.Join(a.Etc, "group")}.Check(owner)
}

// SetPassword changes an FTP account's password.
func (a *Admin) SetPassword(ctx context.Context, name, password string) error {
	if err := users.ValidateName(name); err != nil {
		return err
	}
	hash, err := hashPassword(password)
	if err != nil {
		return err
	}
	tx, err := a.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Close()
	if err := tx.SetPassword(name, hash, a.Now()); err != nil {
		return err
	}
	return tx.Commit()
}

// DeleteUser removes an FTP account, its options and its sudo rules; its files stay.
func (a *Admin) DeleteUser(ctx context.Context, name string) (Warnings, error) {
	if err := users.ValidateName(name); err != nil {
		return nil, err
	}
	tx, err := a.begin(ctx)
	if err != nil {
		return nil, err
	}
	defer tx.Close()
	if err := tx.Delete(name); err != nil {
		return nil, err
	}
	restoreOpts, err := a.setOptions(name, nil)
	if err != nil {
		return nil, err
	}
	if err := tx.Commit(); err != nil {
		return nil, errors.Join(err, restoreOpts())
	}
	var warn Warnings
	if _, err := a.Sudoers.RevokeUser(name); err != nil && !errors.Is(err, sudoers.ErrNotValidated) {
		warn = append(warn, fmt.Sprintf("the sudo rule for %s may remain: %v", name, err))
	}
	if err := lastlogin.Forget(a.LastLogins, name); err != nil {
		warn = append(warn, fmt.Sprintf("the last login of %s may remain: %v", name, err))
	}
	return warn, nil
}

// ListUsers returns every FTP account with its options.
func (a *Admin) ListUsers() ([]UserInfo, error) {
	accounts, err := users.Snapshot(a.Etc)
	if err != nil {
		return nil, err
	}
	store, err := config.LoadUsers(a.UsersPath)
	if err != nil {
		return nil, err
	}
	logins, err := lastlogin.Read(a.LastLogins)
	if err != nil {
		return nil, err
	}
	out := make([]UserInfo, 0, len(accounts))
	for _, acc := range accounts {
		u := UserInfo{Account: acc, UserOptions: store[acc.Name]}
		if l, ok := logins[acc.Name]; ok {
			u.LastLogin = &l
		}
		out = append(out, u)
	}
	return out, nil
}

// GetUser returns one FTP account with its options.
func (a *Admin) GetUser(name string) (UserInfo, error) {
	list, err := a.ListUsers()
	if err != nil {
		return UserInfo{}, err
	}
	for _, u := range list {
		if u.Name == name {
			return u, nil
		}
	}
	if err := users.ValidateName(name); err != nil {
		return UserInfo{}, err
	}
	return UserInfo{}, fmt.Errorf("%s is not an FTP account", name)
}

// UserJSON is the one JSON form of an FTP account in every answer of ftpctl (user
// add, mod, list, show and passwd, status): the account's name is always "user", as in
// install's answer. Dates are YYYY-MM-DD (shadow keeps days), times RFC 3339; null
// means never, none or unknown.
type UserJSON struct {
	User               string           `json:"user"`
	Home               string           `json:"home"`
	Description        string           `json:"description"`
	Permissions        perm.Set         `json:"permissions"`
	ReadOnly           bool             `json:"read_only"`
	Disabled           bool             `json:"disabled"`
	Locked             bool             `json:"locked"`
	Expires            *string          `json:"expires"`
	Expired            bool             `json:"expired"`
	LastPasswordChange *string          `json:"last_password_change"`
	PasswordMaxDays    *int             `json:"password_max_days"`
	PasswordExpires    *string          `json:"password_expires"`
	PasswordAgedOut    bool             `json:"password_aged_out"`
	AllowFrom          []string         `json:"allow_from"`
	MaxSessions        *int             `json:"max_sessions"`
	LastLogin          *lastlogin.Login `json:"last_login"`
	// Password is there only when ftpctl generated it just now.
	Password string `json:"password,omitempty"`
}

// JSON returns u's JSON form at now.
func (u UserInfo) JSON(now time.Time) UserJSON {
	date := func(t time.Time) *string {
		if t.IsZero() {
			return nil
		}
		d := t.Format(time.DateOnly)
		return &d
	}
	out := UserJSON{
		User: u.Name, Home: u.Home, Description: u.Description, Permissions: u.Permissions,
		ReadOnly: u.ReadOnly(), Disabled: u.Disabled, Locked: u.Locked,
		Expires: date(u.Expires), Expired: u.Expired(now),
		LastPasswordChange: date(u.PasswordChanged),
		PasswordExpires:    date(u.PasswordExpires()), PasswordAgedOut: u.PasswordAgedOut(now),
		LastLogin: u.LastLogin,
	}
	if u.PasswordMaxDays >= 0 {
		out.PasswordMaxDays = &u.PasswordMaxDays
	}
	if u.AllowFrom != nil {
		out.AllowFrom = u.AllowFrom.Strings()
	}
	if u.MaxSessions > 0 {
		out.MaxSessions = &u.MaxSessions
	}
	return out
}

// MarshalJSON writes the JSON form, so that reports embedding accounts print them
// the same way.
func (u UserInfo) MarshalJSON() ([]byte, error) { return json.Marshal(u.JSON(time.Now())) }
