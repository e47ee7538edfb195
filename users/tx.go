package users

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/jelastic/jelastic-ftp/users/etcdb"
)

// The databases in the order shadow-utils locks them; gshadow is optional because some
// minimal images ship without it.
var databases = []struct {
	name     string
	kind     etcdb.Kind
	optional bool
}{
	{"passwd", etcdb.Passwd, false},
	{"group", etcdb.Group, false},
	{"gshadow", etcdb.GShadow, true},
	{"shadow", etcdb.Shadow, false},
}

// Tx is a locked, in-memory view of passwd, shadow, group and gshadow. Changes are
// written by Commit; Close releases the locks and must always be called.
type Tx struct {
	dir     string
	lock    *etcdb.Locks
	Passwd  *etcdb.File
	Shadow  *etcdb.File
	Group   *etcdb.File
	GShadow *etcdb.File // nil when the system has no /etc/gshadow
	orig    map[string][]byte
	// accounts is how many entries passwd had when read: Commit's write order depends
	// on whether accounts were added.
	accounts int
}

// Begin locks the account databases in dir (normally /etc) the way shadow-utils and
// PAM do and reads them. The context's deadline bounds the wait for other tools.
func Begin(ctx context.Context, dir string) (*Tx, error) {
	var names []string
	for _, db := range databases {
		if db.optional && !exists(filepath.Join(dir, db.name)) {
			continue
		}
		names = append(names, db.name)
	}
	lock, err := etcdb.Lock(ctx, dir, names...)
	if err != nil {
		return nil, err
	}
	tx := &Tx{dir: dir, lock: lock, orig: map[string][]byte{}}
	for _, name := range names {
		if err := tx.read(name); err != nil {
			lock.Unlock()
			return nil, err
		}
	}
	return tx, nil
}

func exists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func (tx *Tx) read(name string) error {
	p := filepath.Join(tx.dir, name)
	data, err := os.ReadFile(p)
	if err != nil {
		return fmt.Errorf("read %s: %w", p, err)
	}
	var kind etcdb.Kind
	for _, db := range databases {
		if db.name == name {
			kind = db.kind
		}
	}
	f, err := etcdb.Parse(kind, data)
	if err != nil {
		return fmt.Errorf("parse %s: %w", p, err)
	}
	tx.orig[name] = data
	switch name {
	case "passwd":
		tx.Passwd = f
		tx.accounts = len(f.Entries())
	case "shadow":
		tx.Shadow = f
	case "group":
		tx.Group = f
	case "gshadow":
		tx.GShadow = f
	}
	return nil
}

func (tx *Tx) file(name string) *etcdb.File {
	switch name {
	case "passwd":
		return tx.Passwd
	case "shadow":
		return tx.Shadow
	case "group":
		return tx.Group
	default:
		return tx.GShadow
	}
}

// Commit writes every changed database. The order keeps a crash harmless: an account
// appears in passwd only after its shadow and group entries exist, and leaves passwd
// before them, so no moment has a passwd entry without its password line. When a
// write fails, the files already written get their old content back.
func (tx *Tx) Commit() error {
	order := []string{"passwd", "shadow", "gshadow", "group"}
	if len(tx.Passwd.Entries()) > tx.accounts {
		order = []string{"group", "gshadow", "shadow", "passwd"}
	}
	var written []string
	for _, name := range order {
		f := tx.file(name)
		if f == nil || !f.Changed() {
			continue
		}
		p := filepath.Join(tx.dir, name)
		if err := etcdb.WriteFile(p, f.Bytes()); err != nil {
			return errors.Join(fmt.Errorf("write %s: %w", p, err), tx.restore(written))
		}
		written = append(written, name)
	}
	return nil
}

// restore puts back the original content of files Commit already replaced.
func (tx *Tx) restore(names []string) error {
	var errs []error
	for i := len(names) - 1; i >= 0; i-- {
		p := filepath.Join(tx.dir, names[i])
		if err := etcdb.WriteFile(p, tx.orig[names[i]]); err != nil {
			errs = append(errs, fmt.Errorf("put back the old %s after a failed change: %w", p, err))
		}
	}
	return errors.Join(errs...)
}

// Close releases the locks; it is safe to call more than once.
func (tx *Tx) Close() error {
	if tx.lock == nil {
		return nil
	}
	err := tx.lock.Unlock()
	tx.lock = nil
	return err
}
