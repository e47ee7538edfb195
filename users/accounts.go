// Package users manages FTP accounts: real system accounts sharing UID 700 and the group
// jelastic-ftp, kept in /etc/passwd, /etc/shadow, /etc/group and /etc/gshadow beside
// shadow-utils and PAM.
package users

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jelastic/jelastic-ftp/users/etcdb"
	"github.com/jelastic/jelastic-ftp/users/passhash"
)

const (
	// UID is shared by every FTP account, so that all of them own the files they upload
	// the same way, as the platform's web server and other FTP users expect.
	UID = 700
	// GroupName is the primary group of every FTP account.
	GroupName = "jelastic-ftp"
	// GECOS marks an account as ours for people reading /etc/passwd, when it has
	// no description of its own.
	GECOS = "jelastic-ftp account"
	// lockPrefix is what `usermod -L` puts before a hash to disable the account.
	lockPrefix = "!"
	// preferredGID is used for a new group when free, matching the UID for readability.
	preferredGID = 700
)

// ErrNotFTPAccount is returned when asked to change an account ftpctl does not own.
var ErrNotFTPAccount = errors.New("not an FTP account")

// ErrNoSuchUser is returned for a name that has no passwd entry.
var ErrNoSuchUser = errors.New("no such user")

// Account is an FTP account as the tools show it.
type Account struct {
	Name  string
	Home  string
	Shell string
	// Description is the GECOS field, "" when it holds only our marker.
	Description string
	// Locked is true when the password cannot authenticate: locked with '!' or '*',
	// empty, or with no shadow entry at all.
	Locked bool
	// Disabled is true when the hash carries shadow's lock prefix '!', as
	// `usermod -L`, `passwd -l` and `ftpctl user mod --disable` set it.
	Disabled bool
	// PasswordChanged is the day of the last password change; zero when unknown.
	PasswordChanged time.Time
	// Expires is the day from which the account is refused (shadow's expiry, as
	// `chage -E` sets it); zero when it never expires.
	Expires time.Time
	// PasswordMaxDays is the maximum password age (`chage -M`); -1 when none.
	PasswordMaxDays int
}

// PasswordExpires is the last day the password logs in, as `chage -l` shows it
// ("Password expires"); zero when it never ages out or its last change is unknown.
// Like chage, a maximum of 10000 days or more (useradd's 99999) is no maximum.
func (a Account) PasswordExpires() time.Time {
	if a.PasswordMaxDays < 0 || a.PasswordMaxDays >= 10000 || a.PasswordChanged.IsZero() {
		return time.Time{}
	}
	return a.PasswordChanged.AddDate(0, 0, a.PasswordMaxDays)
}

// Expired reports whether the account is past its expiry date at now.
func (a Account) Expired(now time.Time) bool {
	return !a.Expires.IsZero() && day(now) >= day(a.Expires)
}

// PasswordAgedOut reports whether the password is past its maximum age at now.
func (a Account) PasswordAgedOut(now time.Time) bool {
	last := a.PasswordExpires()
	return !last.IsZero() && day(now) > day(last)
}

// Shell returns the login shell for new accounts: nologin where the system has it (the
// convention of Debian and RHEL for service accounts), else /bin/false.
func Shell() string {
	for _, s := range []string{"/usr/sbin/nologin", "/sbin/nologin", "/bin/false"} {
		if fi, err := os.Stat(s); err == nil && fi.Mode().IsRegular() {
			return s
		}
	}
	return "/bin/false"
}

// day returns t as days since the epoch, the unit of shadow's date fields.
func day(t time.Time) int64 { return t.Unix() / 86400 }

// groupGID returns the GID of the FTP group, or ok=false when it does not exist.
func (tx *Tx) groupGID() (gid int, ok bool, err error) {
	g, err := tx.Group.Lookup(GroupName)
	if errors.Is(err, etcdb.ErrNotFound) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, err
	}
	gid, err = strconv.Atoi(g[2])
	if err != nil {
		return 0, false, fmt.Errorf("group %s has a non-numeric GID %q in /etc/group", GroupName, g[2])
	}
	return gid, true, nil
}

// EnsureGroup creates the FTP group when it is missing and returns its GID. A new group
// gets GID 700 when free, else the highest free system GID, as `groupadd -r` picks.
func (tx *Tx) EnsureGroup() (int, error) {
	gid, ok, err := tx.groupGID()
	if err != nil || ok {
		return gid, err
	}
	used := map[int]bool{}
	for _, g := range tx.Group.Entries() {
		if n, err := strconv.Atoi(g[2]); err == nil {
			used[n] = true
		}
	}
	gid = preferredGID
	for n := 999; used[gid] && n >= 100; n-- {
		gid = n
	}
	if used[gid] {
		return 0, errors.New("no free system GID between 100 and 999 for the group " + GroupName)
	}
	if err := tx.Group.Add(etcdb.Entry{GroupName, "x", strconv.Itoa(gid), ""}); err != nil {
		return 0, fmt.Errorf("add group %s: %w", GroupName, err)
	}
	if tx.GShadow != nil {
		if _, err := tx.GShadow.Lookup(GroupName); errors.Is(err, etcdb.ErrNotFound) {
			if err := tx.GShadow.Add(etcdb.Entry{GroupName, "!", "", ""}); err != nil {
				return 0, fmt.Errorf("add group %s to gshadow: %w", GroupName, err)
			}
		}
	}
	return gid, nil
}

// Add creates an FTP account with the given password hash. home must already be
// validated against the FTP root; the directory itself is the caller's business.
func (tx *Tx) Add(name, home, hash string, now time.Time) error {
	if err := ValidateName(name); err != nil {
		return err
	}
	if strings.ContainsAny(home, ":\n\r\x00") {
		return fmt.Errorf("home %q contains ':', a newline or NUL", home)
	}
	if err := ValidateHash(hash); err != nil {
		return err
	}
	if _, err := tx.Passwd.Lookup(name); !errors.Is(err, etcdb.ErrNotFound) {
		if err == nil {
			return fmt.Errorf("user %s already exists", name)
		}
		return err
	}
	gid, err := tx.EnsureGroup()
	if err != nil {
		return err
	}
	entry := etcdb.Entry{name, "x", strconv.Itoa(UID), strconv.Itoa(gid), GECOS, home, Shell()}
	if err := tx.Passwd.Add(entry); err != nil {
		return fmt.Errorf("add %s to passwd: %w", name, err)
	}
	// A stale shadow line from a half-removed account would otherwise block the add
	// or, worse, hand its old password to the new account.
	if _, err := tx.Shadow.Remove(name); err != nil {
		return fmt.Errorf("clear old shadow entry of %s: %w", name, err)
	}
	sh := etcdb.Entry{name, hash, strconv.FormatInt(day(now), 10), "", "", "", "", "", ""}
	if err := tx.Shadow.Add(sh); err != nil {
		return fmt.Errorf("add %s to shadow: %w", name, err)
	}
	return nil
}

// ValidateHash refuses anything that is not a crypt hash or a lock marker, so a caller
// can never write a plain password or a field separator into shadow.
func ValidateHash(hash string) error {
	if hash == "" || strings.ContainsAny(hash, ":\n\r\x00 ") {
		return errors.New("refusing to store an empty or malformed password hash")
	}
	return nil
}

// ftpEntry returns name's passwd entry if it is an FTP account: UID 700 and the FTP
// group as primary group. Anything else is refused, so ftpctl can never change root.
func (tx *Tx) ftpEntry(name string) (etcdb.Entry, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	pw, err := tx.Passwd.Lookup(name)
	if errors.Is(err, etcdb.ErrNotFound) {
		return nil, fmt.Errorf("user %s: %w", name, ErrNoSuchUser)
	}
	if err != nil {
		return nil, err
	}
	gid, ok, err := tx.groupGID()
	if err != nil {
		return nil, err
	}
	if pw[2] != strconv.Itoa(UID) || !ok || pw[3] != strconv.Itoa(gid) {
		return nil, fmt.Errorf("user %s is %w (it needs UID %d and group %s)", name, ErrNotFTPAccount, UID, GroupName)
	}
	return pw, nil
}

// SetPassword replaces the password hash of an FTP account, records today as the day of
// the change and keeps the aging fields and the lock; a missing shadow line is created.
func (tx *Tx) SetPassword(name, hash string, now time.Time) error {
	if _, err := tx.ftpEntry(name); err != nil {
		return err
	}
	if err := ValidateHash(hash); err != nil {
		return err
	}
	today := strconv.FormatInt(max(day(now), 1), 10)
	sh, err := tx.Shadow.Lookup(name)
	if errors.Is(err, etcdb.ErrNotFound) {
		return tx.Shadow.Add(etcdb.Entry{name, hash, today, "", "", "", "", "", ""})
	}
	if err != nil {
		return err
	}
	sh = slices.Clone(sh)
	if strings.HasPrefix(sh[1], lockPrefix) {
		hash = lockPrefix + hash // a disabled account stays disabled until enabled
	}
	sh[1], sh[2] = hash, today
	return tx.Shadow.Replace(sh)
}

// Delete removes an FTP account from passwd and shadow and from every member list of
// group and gshadow. Files in its home stay. The FTP group stays too: install owns it.
func (tx *Tx) Delete(name string) error {
	if _, err := tx.ftpEntry(name); err != nil {
		return err
	}
	if _, err := tx.Passwd.Remove(name); err != nil {
		return err
	}
	if _, err := tx.Shadow.Remove(name); err != nil {
		return err
	}
	if err := dropMember(tx.Group, name, 3); err != nil {
		return err
	}
	if tx.GShadow != nil {
		for _, field := range []int{2, 3} {
			if err := dropMember(tx.GShadow, name, field); err != nil {
				return err
			}
		}
	}
	return nil
}

// dropMember removes name from the comma-separated list in field of every entry.
func dropMember(f *etcdb.File, name string, field int) error {
	for _, e := range f.Entries() {
		members := etcdb.SplitList(e[field])
		if !slices.Contains(members, name) {
			continue
		}
		e = slices.Clone(e)
		e[field] = etcdb.JoinList(slices.DeleteFunc(members, func(m string) bool { return m == name }))
		if err := f.Replace(e); err != nil {
			return fmt.Errorf("remove %s from group %s: %w", name, e[0], err)
		}
	}
	return nil
}

// List returns the FTP accounts in passwd order.
func (tx *Tx) List() ([]Account, error) {
	gid, ok, err := tx.groupGID()
	if err != nil || !ok {
		return nil, err
	}
	var out []Account
	for _, pw := range tx.Passwd.Entries() {
		if pw[2] != strconv.Itoa(UID) || pw[3] != strconv.Itoa(gid) {
			continue
		}
		out = append(out, tx.account(pw))
	}
	return out, nil
}

// Get returns one FTP account.
func (tx *Tx) Get(name string) (Account, error) {
	pw, err := tx.ftpEntry(name)
	if err != nil {
		return Account{}, err
	}
	return tx.account(pw), nil
}

func (tx *Tx) account(pw etcdb.Entry) Account {
	a := Account{Name: pw[0], Home: pw[5], Shell: pw[6], Locked: true, PasswordMaxDays: -1}
	if pw[4] != GECOS {
		a.Description = pw[4]
	}
	sh, err := tx.Shadow.Lookup(pw[0])
	if err != nil {
		return a
	}
	scheme := passhash.Scheme(sh[1])
	a.Locked = scheme == "locked" || scheme == "none" || scheme == "unknown"
	a.Disabled = strings.HasPrefix(sh[1], lockPrefix)
	if d, ok := shadowDays(sh, 2); ok && d > 0 {
		a.PasswordChanged = fromDay(d)
	}
	if d, ok := shadowDays(sh, 7); ok {
		a.Expires = fromDay(d)
	}
	if d, ok := shadowDays(sh, 4); ok {
		a.PasswordMaxDays = int(min(d, math.MaxInt32))
	}
	return a
}

// shadowDays reads a numeric field of a shadow entry; ok is false when it is empty
// or not a number (both mean "no value" to shadow-utils), or negative.
func shadowDays(sh etcdb.Entry, i int) (int64, bool) {
	n, err := strconv.ParseInt(sh[i], 10, 64)
	return n, err == nil && n >= 0
}

// fromDay is the midnight UTC that starts day d since the epoch.
func fromDay(d int64) time.Time { return time.Unix(d*86400, 0).UTC() }

// Change lists the system-file settings of an account to change; nil fields stay.
type Change struct {
	Home        *string
	Description *string // "" puts our marker back
	Disabled    *bool
	Expires     *time.Time // the zero time: never
	// PasswordMaxDays is the maximum password age in days; -1: none.
	PasswordMaxDays *int
}

// ErrNothingToEnable is returned when enabling an account whose only password is the
// lock itself: removing it would leave a login without a password.
var ErrNothingToEnable = errors.New("the account has no password to enable; set one with ftpctl user passwd")

// Modify applies c to an FTP account's passwd and shadow entries. Values are checked
// again here, so that no caller can write a field separator into the files.
func (tx *Tx) Modify(name string, c Change) error {
	pw, err := tx.ftpEntry(name)
	if err != nil {
		return err
	}
	pw = slices.Clone(pw)
	if c.Home != nil {
		if strings.ContainsAny(*c.Home, ":\n\r\x00") {
			return fmt.Errorf("home %q contains ':', a newline or NUL", *c.Home)
		}
		pw[5] = *c.Home
	}
	if c.Description != nil {
		if err := ValidateDescription(*c.Description); err != nil {
			return err
		}
		pw[4] = cmp.Or(*c.Description, GECOS)
	}
	if err := tx.Passwd.Replace(pw); err != nil {
		return fmt.Errorf("change %s in passwd: %w", name, err)
	}
	if c.Disabled == nil && c.Expires == nil && c.PasswordMaxDays == nil {
		return nil
	}
	sh, err := tx.Shadow.Lookup(name)
	if err != nil {
		return fmt.Errorf("user %s has no shadow entry to change: %w", name, err)
	}
	sh = slices.Clone(sh)
	if c.Disabled != nil {
		locked := strings.HasPrefix(sh[1], lockPrefix)
		switch {
		case *c.Disabled && !locked:
			sh[1] = lockPrefix + sh[1]
		case !*c.Disabled && locked:
			// usermod -U takes one '!' away; passwd -l may have added several.
			hash := strings.TrimLeft(sh[1], lockPrefix)
			if ValidateHash(hash) != nil || passhash.Scheme(hash) == "locked" {
				return ErrNothingToEnable
			}
			sh[1] = hash
		}
	}
	if c.Expires != nil {
		sh[7] = ""
		if !c.Expires.IsZero() {
			sh[7] = strconv.FormatInt(day(*c.Expires), 10)
		}
	}
	if c.PasswordMaxDays != nil {
		sh[4] = ""
		if *c.PasswordMaxDays >= 0 {
			sh[4] = strconv.Itoa(*c.PasswordMaxDays)
		}
	}
	return tx.Shadow.Replace(sh)
}
