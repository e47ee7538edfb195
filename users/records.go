package users

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/jelastic/jelastic-ftp/users/etcdb"
)

// Record is an FTP account as it moves between nodes: enough to recreate it with the
// same password, whatever tool last changed it.
type Record struct {
	Name string `json:"name"`
	Home string `json:"home"`
	// Hash is the password field of shadow as it is: a crypt hash, or a lock marker.
	Hash string `json:"hash"`
	// Description is the GECOS field, "" when it holds only our marker.
	Description string `json:"description,omitempty"`
	// Aging is shadow's date fields as they are, so that an account expired or aged
	// out on one node is so on every node; nil (a state made before it was carried)
	// leaves them as a new password sets them.
	Aging *Aging `json:"aging,omitempty"`
}

// Aging is fields 3 to 8 of a shadow line, each a number of days or "" (none), as
// shadow(5) defines them.
type Aging struct {
	LastChange string `json:"last_change"`
	MinDays    string `json:"min_days"`
	MaxDays    string `json:"max_days"`
	WarnDays   string `json:"warn_days"`
	Inactive   string `json:"inactive_days"`
	Expires    string `json:"expires"`
}

// fields are a's values in shadow's order, from field 3 on.
func (a *Aging) fields() []*string {
	return []*string{&a.LastChange, &a.MinDays, &a.MaxDays, &a.WarnDays, &a.Inactive, &a.Expires}
}

// agingOf reads fields 3 to 8 of shadow line sh.
func agingOf(sh etcdb.Entry) *Aging {
	a := &Aging{}
	for i, f := range a.fields() {
		*f = sh[2+i]
	}
	return a
}

// validate refuses anything but "" or a small decimal number, so that no field can
// carry a separator into shadow.
func (a *Aging) validate() error {
	for _, f := range a.fields() {
		if *f == "" {
			continue
		}
		if n, err := strconv.ParseInt(*f, 10, 64); err != nil || n < 0 || n > maxAgingDays || strconv.FormatInt(n, 10) != *f {
			return fmt.Errorf("shadow date field %q is not a number of days", *f)
		}
	}
	return nil
}

// maxAgingDays bounds a shadow day count (the year 2,700 or so; chage takes 99999 for never).
const maxAgingDays = 1 << 20

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
		r := Record{Name: a.Name, Home: a.Home, Hash: missingHash, Description: a.Description}
		if sh, err := tx.Shadow.Lookup(a.Name); err == nil {
			r.Hash, r.Aging = sh[1], agingOf(sh)
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
	if err := ValidateDescription(r.Description); err != nil {
		return fmt.Errorf("user %s: %w", r.Name, err)
	}
	if r.Aging != nil {
		if err := r.Aging.validate(); err != nil {
			return fmt.Errorf("user %s: %w", r.Name, err)
		}
	}
	return nil
}

// Put makes r an FTP account: created when missing, its home, description, hash and
// shadow dates set in place when they differ. It reports whether anything changed. A
// name taken by an account that is not an FTP account is refused.
func (tx *Tx) Put(r Record, now time.Time) (changed bool, err error) {
	// The caller checked the home against the FTP root; "/" checks everything else.
	if err := r.Validate("/"); err != nil {
		return false, err
	}
	pw, err := tx.ftpEntry(r.Name)
	if errors.Is(err, ErrNoSuchUser) {
		if err := tx.Add(r.Name, r.Home, r.Hash, now); err != nil {
			return false, err
		}
		changed = true
		if pw, err = tx.ftpEntry(r.Name); err != nil {
			return false, err
		}
	} else if err != nil {
		return false, err
	}
	if gecos := cmp.Or(r.Description, GECOS); pw[5] != r.Home || pw[4] != gecos {
		pw = slices.Clone(pw)
		pw[4], pw[5] = gecos, r.Home
		if err := tx.Passwd.Replace(pw); err != nil {
			return false, fmt.Errorf("set the home and description of %s: %w", r.Name, err)
		}
		changed = true
	}
	sh, err := tx.Shadow.Lookup(r.Name)
	if err != nil {
		return false, fmt.Errorf("user %s has no shadow entry to change: %w", r.Name, err)
	}
	want := slices.Clone(sh)
	want[1] = r.Hash
	switch {
	case r.Aging != nil:
		for i, f := range r.Aging.fields() {
			want[2+i] = *f
		}
	case sh[1] != r.Hash:
		want[2] = strconv.FormatInt(max(day(now), 1), 10)
	}
	if slices.Equal(sh, want) {
		return changed, nil
	}
	if err := tx.Shadow.Replace(want); err != nil {
		return false, fmt.Errorf("set the password of %s: %w", r.Name, err)
	}
	return true, nil
}
