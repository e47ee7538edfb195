// Package perm names what an FTP account may do in its home. The monitor stores a
// set per user (users.toml) and hands it to the worker with each login; the worker
// refuses any command that needs a permission the set lacks.
package perm

import (
	"errors"
	"fmt"
	"strings"
)

// Perm is one permission.
type Perm uint16

// The permissions, in the order they are written.
const (
	List      Perm = 1 << iota // list folders and see file details (LIST, NLST, MLSD, MLST, SIZE, MDTM)
	Download                   // read files (RETR)
	Upload                     // create files (STOR of a new name, STOU)
	Overwrite                  // replace or append to existing files (STOR over, APPE, REST+STOR)
	Delete                     // remove files (DELE)
	Rename                     // rename files and folders (RNFR/RNTO)
	Mkdir                      // create folders (MKD)
	Rmdir                      // remove folders (RMD)
	Chmod                      // change modes (SITE CHMOD)
	Mtime                      // set modification times (MFMT, MDTM with a time)
	every     = 1<<iota - 1
)

// names are in the order of the constants.
var names = [...]string{"list", "download", "upload", "overwrite", "delete", "rename", "mkdir", "rmdir", "chmod", "mtime"}

func (p Perm) String() string {
	for i, n := range names {
		if p == 1<<i {
			return n
		}
	}
	return fmt.Sprintf("perm(%#x)", uint16(p))
}

// Set is a set of permissions. Its zero value holds every permission, so that an
// account without any restriction on record, and any code that does not know
// about permissions, gets what every account had before sets existed.
type Set struct {
	denied Perm
}

// All holds every permission.
var All = Set{}

// ReadOnly is what `--read-only` grants: listing and downloading.
var ReadOnly = Of(List, Download)

// Of returns the set holding exactly ps.
func Of(ps ...Perm) Set {
	var granted Perm
	for _, p := range ps {
		granted |= p
	}
	return Set{denied: every &^ granted}
}

// Has reports whether s holds p.
func (s Set) Has(p Perm) bool { return s.denied&p == 0 }

// Empty reports whether s holds no permission at all.
func (s Set) Empty() bool { return s.denied&every == every }

// ChangesNothing reports whether s holds nothing beyond listing and downloading:
// a session with it cannot change a file.
func (s Set) ChangesNothing() bool { return (every&^s.denied)&^(List|Download) == 0 }

// Names lists the permissions of s in their canonical order.
func (s Set) Names() []string {
	out := []string{}
	for i, n := range names {
		if s.Has(1 << i) {
			out = append(out, n)
		}
	}
	return out
}

// String is "*" for every permission, else the names joined by commas: the form
// Parse reads.
func (s Set) String() string {
	if s == All {
		return "*"
	}
	return strings.Join(s.Names(), ",")
}

// Valid lists the names Parse accepts, for messages.
const Valid = "list, download, upload, overwrite, delete, rename, mkdir, rmdir, chmod, mtime, or * for all"

// Parse reads a comma-separated list of permission names, or "*" for all. Blanks
// around names are ignored; an unknown name, a repeated one or an empty list is an
// error: a login that may do nothing is what disabling the account is for.
func Parse(text string) (Set, error) {
	text = strings.TrimSpace(text)
	if text == "*" {
		return All, nil
	}
	if text == "" {
		return Set{}, errors.New("the permission list is empty; give at least one of " + Valid)
	}
	var granted Perm
	for _, field := range strings.Split(text, ",") {
		field = strings.TrimSpace(field)
		p, ok := lookup(field)
		switch {
		case field == "*":
			return Set{}, errors.New("\"*\" stands alone: it already means every permission")
		case !ok:
			return Set{}, fmt.Errorf("unknown permission %q: use %s", field, Valid)
		case granted&p != 0:
			return Set{}, fmt.Errorf("permission %q is listed twice", field)
		}
		granted |= p
	}
	return Set{denied: every &^ granted}, nil
}

func lookup(name string) (Perm, bool) {
	for i, n := range names {
		if n == name {
			return 1 << i, true
		}
	}
	return 0, false
}

// MarshalText writes s as String does, for JSON and the privsep channel.
func (s Set) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads what MarshalText wrote.
func (s *Set) UnmarshalText(text []byte) error {
	parsed, err := Parse(string(text))
	if err != nil {
		return err
	}
	*s = parsed
	return nil
}
