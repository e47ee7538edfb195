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
	if ValidateName(name) != nil {
		verify(dummyHash(), password)
		return fail("invalid user name")
	}
	if ok, err := gate.Admits(name, client); err != nil {
		return Account{}, err
	} else if !ok {
		return fail("address " + client.String() + " is not in the account's allow_from")
	}
	tx, err := snapshot(dir)
	if err != nil {
		return Account{}, err
	}
	pw, err := tx.ftpEntry(name)
	if err != nil {
		verify(dummyHash(), password)
		return fail(err.Error())
	}
	sh, err := tx.Shadow.Lookup(name)
	if err != nil {
		verify(dummyHash(), password)
		return fail("no usable shadow entry: " + err.Error())
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

// aging applies shadow's date fields the way pam_unix does, stricter where it is
// lenient: a login that would have to change its password cannot do so over FTP.
func aging(sh etcdb.Entry, today int64) string {
	num := func(i int) (int64, bool) {
		n, err := strconv.ParseInt(sh[i], 10, 64)
		return n, err == nil && n >= 0
	}
	if expire, ok := num(7); ok && today >= expire {
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
