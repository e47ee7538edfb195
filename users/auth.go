package users

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jelastic/jelastic-ftp/users/etcdb"
	"github.com/jelastic/jelastic-ftp/users/passhash"
)

// ErrBadLogin is the only answer a client gets for a failed login, whatever the reason,
// so that it learns nothing about which accounts exist.
var ErrBadLogin = errors.New("login incorrect")

// dummyHash is verified when the user does not exist, so that a wrong name costs the
// same time as a wrong password. It is made on first use: most ftpctl commands never
// check a password.
var dummyHash = sync.OnceValue(func() string {
	h, err := passhash.Hash("no such user")
	if err != nil {
		panic(err)
	}
	return h
})

// Gate decides whether a user may try to log in from an address, before any
// password is checked.
type Gate interface {
	Admits(name string, client netip.Addr) (bool, error)
}

// passwordChecks counts the hashes Authenticate computes, real or dummy.
var passwordChecks atomic.Uint64

// PasswordChecks is how many password hashes this process has computed to decide
// logins: each costs tens of milliseconds, and the count shows which refusals cost none.
func PasswordChecks() uint64 { return passwordChecks.Load() }

func verify(hash, password string) bool {
	passwordChecks.Add(1)
	return passhash.Verify(hash, password)
}

// Authenticate checks an FTP login from client against passwd and shadow in dir
// (normally /etc). Like getspnam it reads without locking: every writer replaces the
// files by rename, so a read sees one whole version. Only FTP accounts can log in,
// from an address gate admits, and only with a password that is set, unlocked, not
// expired and not aged out. An address the gate refuses costs no hash. The reason for
// a refusal is in the error for the log; the client must only be told ErrBadLogin.
func Authenticate(dir, name, password string, client netip.Addr, gate Gate, now time.Time) (Account, error) {
	fail := func(reason string) (Account, error) {
		return Account{}, fmt.Errorf("%w: %s", ErrBadLogin, reason)
	}
	tx, pw, sh, refusal, err := loginEntries(dir, name, client, gate)
	if err != nil {
		return Account{}, err
	}
	if refusal.reason != "" {
		if !refusal.gate {
			verify(dummyHash(), password)
		}
		return fail(refusal.reason)
	}
	if !verify(sh[1], password) {
		if strings.HasPrefix(sh[1], lockPrefix) {
			return fail("account disabled")
		}
		return fail("wrong password")
	}
	if reason := aging(sh, day(now)); reason != "" {
		return fail(reason)
	}
	return tx.account(pw), nil
}

// Admit decides a login that proves itself other than by the password, an SFTP public
// key: the checks of Authenticate but the password's — an FTP account, from an address
// gate admits, neither disabled (a lock on the hash, as usermod -L and passwd -l make)
// nor expired. An aged-out password does not stop it, as it does not stop sshd.
func Admit(dir, name string, client netip.Addr, gate Gate, now time.Time) (Account, error) {
	fail := func(reason string) (Account, error) {
		return Account{}, fmt.Errorf("%w: %s", ErrBadLogin, reason)
	}
	tx, pw, sh, refusal, err := loginEntries(dir, name, client, gate)
	if err != nil {
		return Account{}, err
	}
	if refusal.reason != "" {
		return fail(refusal.reason)
	}
	if strings.HasPrefix(sh[1], lockPrefix) {
		return fail("account disabled")
	}
	if accountExpired(sh, day(now)) {
		return fail("account expired")
	}
	return tx.account(pw), nil
}

// aging applies shadow's date fields the way pam_unix does, stricter where it is
// lenient: a login that would have to change its password cannot do so over FTP.
func aging(sh etcdb.Entry, today int64) string {
	num := func(i int) (int64, bool) {
		n, err := strconv.ParseInt(sh[i], 10, 64)
		return n, err == nil && n >= 0
	}
	if accountExpired(sh, today) {
		return "account expired"
	}
	last, hasLast := num(2)
	if hasLast && last == 0 {
		return "password must be changed (last change is 0)"
	}
	if max, ok := num(4); ok && hasLast && today > last+max {
		return "password aged out"
	}
	return ""
}

// refusal is why a login cannot succeed whatever it proves; gate is set when the
// address was refused, before anything was looked up.
type refusal struct {
	reason string
	gate   bool
}

// loginEntries reads the passwd and shadow entries of an FTP account name logging in
// from client, unless the name is invalid, gate refuses the address, or there is no
// such account.
func loginEntries(dir, name string, client netip.Addr, gate Gate) (tx *Tx, pw, sh etcdb.Entry, r refusal, err error) {
	if ValidateName(name) != nil {
		return nil, nil, nil, refusal{reason: "invalid user name"}, nil
	}
	if ok, err := gate.Admits(name, client); err != nil || !ok {
		return nil, nil, nil, refusal{reason: "address " + client.String() + " is not in the account's allow_from", gate: true}, err
	}
	if tx, err = snapshot(dir); err != nil {
		return nil, nil, nil, refusal{}, err
	}
	if pw, err = tx.ftpEntry(name); err != nil {
		return nil, nil, nil, refusal{reason: err.Error()}, nil
	}
	if sh, err = tx.Shadow.Lookup(name); err != nil {
		return nil, nil, nil, refusal{reason: "no usable shadow entry: " + err.Error()}, nil
	}
	return tx, pw, sh, refusal{}, nil
}

// accountExpired reads shadow's account expiry, as chage -E writes it.
func accountExpired(sh etcdb.Entry, today int64) bool {
	expire, err := strconv.ParseInt(sh[7], 10, 64)
	return err == nil && expire >= 0 && today >= expire
}

// snapshot reads passwd, group and shadow without locking.
func snapshot(dir string) (*Tx, error) {
	tx := &Tx{dir: dir, orig: map[string][]byte{}}
	for _, name := range []string{"passwd", "group", "shadow"} {
		if err := tx.read(name); err != nil {
			return nil, err
		}
	}
	return tx, nil
}

// Snapshot returns the FTP accounts without taking the lock, for read-only views.
func Snapshot(dir string) ([]Account, error) {
	tx, err := snapshot(dir)
	if err != nil {
		return nil, err
	}
	return tx.List()
}

// GroupGID returns the GID of the FTP group in dir's /etc/group.
func GroupGID(dir string) (int, error) {
	tx := &Tx{dir: dir, orig: map[string][]byte{}}
	if err := tx.read("group"); err != nil {
		return 0, err
	}
	gid, ok, err := tx.groupGID()
	if err != nil {
		return 0, err
	}
	if !ok {
		return 0, fmt.Errorf("the group %s does not exist; create an FTP user first (ftpctl user add)", GroupName)
	}
	return gid, nil
}
