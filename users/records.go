package users

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Record is an FTP account as it moves between nodes: enough to recreate it with the
// same password, whatever tool last changed it.
type Record struct {
	Name string `json:"name"`
	Home string `json:"home"`
	// Hash is the password field of shadow as it is: a crypt hash, or a lock marker.
	Hash string `json:"hash"`
}

// missingHash stands for an account without a shadow line: locked, as Authenticate
// already treats it.
const missingHash = "!"

// Records returns every FTP account with its password hash, read from shadow now, so
// a password changed with passwd behind ftpctl's back is included.
func Records(dir string) ([]Record, error) {
	tx, err := snapshot(dir)
	if err != nil {
		return nil, err
	}
	list, err := tx.List()
	if err != nil {
		return nil, err
	}
	out := make([]Record, 0, len(list))
	for _, a := range list {
		r := Record{Name: a.Name, Home: a.Home, Hash: missingHash}
		if sh, err := tx.Shadow.Lookup(a.Name); err == nil {
			r.Hash = sh[1]
		}
		out = append(out, r)
	}
	return out, nil
}

// Validate checks a record the way Add would, against the FTP root.
func (r Record) Validate(root string) error {
	if err := ValidateName(r.Name); err != nil {
		return err
	}
	if err := ValidateHome(r.Home, root); err != nil {
		return fmt.Errorf("user %s: %w", r.Name, err)
	}
	if err := ValidateHash(r.Hash); err != nil {
		return fmt.Errorf("user %s: %w", r.Name, err)
	}
	return nil
}

// Put makes r an FTP account: created when missing, its home and hash set in place
// when they differ. It reports whether anything changed. A name taken by an account
// that is not an FTP account is refused.
func (tx *Tx) Put(r Record, now time.Time) (changed bool, err error) {
	pw, err := tx.ftpEntry(r.Name)
	if errors.Is(err, ErrNoSuchUser) {
		return true, tx.Add(r.Name, r.Home, r.Hash, now)
	}
	if err != nil {
		return false, err
	}
	if strings.ContainsAny(r.Home, ":\n\r\x00") {
		return false, fmt.Errorf("home %q contains ':', a newline or NUL", r.Home)
	}
	if err := ValidateHash(r.Hash); err != nil {
		return false, err
	}
	if pw[5] != r.Home {
		pw = slices.Clone(pw)
		pw[5] = r.Home
		if err := tx.Passwd.Replace(pw); err != nil {
			return false, fmt.Errorf("set the home of %s: %w", r.Name, err)
		}
		changed = true
	}
	sh, err := tx.Shadow.Lookup(r.Name)
	if err == nil && sh[1] == r.Hash {
		return changed, nil
	}
	return true, tx.SetPassword(r.Name, r.Hash, now)
}
