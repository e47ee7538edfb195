package agent

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/jelastic/jelastic-ftp/sudoers"
	"github.com/jelastic/jelastic-ftp/users"
	"github.com/jelastic/jelastic-ftp/users/etcdb"
)

// Who owns a node differs by stack: the platform's node tooling grants
// `passwd jelastic-ftp` to the group of SSH users, its ops docs name the account
// jelastic, and every stack has a data owner with UID 700 (apache, nginx, tomcat,
// mysql, postgres…), which SSH users share.
const (
	// PlatformOwnerGroup is the group of a node's SSH users.
	PlatformOwnerGroup = "ssh-access"
	// PlatformOwnerAccount is the owner account of older platform versions.
	PlatformOwnerAccount = "jelastic"
)

// OwnerChoice is who may change FTP passwords with sudo, and why.
type OwnerChoice struct {
	// Owner is an account, or a group written "%group"; "" when none was found.
	Owner  string
	Reason string
}

// ChooseOwner returns the owner configured in ftpd.toml, or detects one when it is
// empty: the group ssh-access when it exists, else the account jelastic, else the
// first account with UID 700 that is not an FTP account (the stack's data owner).
// Only the local files are read, never NSS: sudo rules are for local names.
func (a *Admin) ChooseOwner(configured string) (OwnerChoice, error) {
	if configured != "" {
		return OwnerChoice{Owner: configured, Reason: "set in " + a.ConfigPath}, nil
	}
	group, err := readEtc(a.Etc, etcdb.Group)
	if err != nil {
		return OwnerChoice{}, err
	}
	if _, err := group.Lookup(PlatformOwnerGroup); err == nil {
		return OwnerChoice{
			Owner:  sudoers.GroupOwner(PlatformOwnerGroup),
			Reason: fmt.Sprintf("detected: the group %s of the node's SSH users exists", PlatformOwnerGroup),
		}, nil
	}
	passwd, err := readEtc(a.Etc, etcdb.Passwd)
	if err != nil {
		return OwnerChoice{}, err
	}
	if _, err := passwd.Lookup(PlatformOwnerAccount); err == nil {
		return OwnerChoice{
			Owner:  PlatformOwnerAccount,
			Reason: fmt.Sprintf("detected: there is no group %s, and the account %s exists", PlatformOwnerGroup, PlatformOwnerAccount),
		}, nil
	}
	ftpGID := ""
	if g, err := group.Lookup(users.GroupName); err == nil && len(g) > 2 {
		ftpGID = g[2]
	}
	uid := strconv.Itoa(users.UID)
	for _, e := range passwd.Entries() {
		if len(e) > 3 && e[2] == uid && e[3] != ftpGID && sudoers.ValidName(e.Name()) == nil {
			return OwnerChoice{
				Owner: e.Name(),
				Reason: fmt.Sprintf("detected: there is neither a group %s nor an account %s, and %s is the first account with UID %s that is not an FTP user (the stack's data owner)",
					PlatformOwnerGroup, PlatformOwnerAccount, e.Name(), uid),
			}, nil
		}
	}
	return OwnerChoice{Reason: fmt.Sprintf("there is no group %s, no account %s and no account with UID %s besides the FTP users; set owner in %s or give ftpctl install --owner",
		PlatformOwnerGroup, PlatformOwnerAccount, uid, a.ConfigPath)}, nil
}

// accountExists reports whether name is in the passwd file; false when it cannot be read.
func (a *Admin) accountExists(name string) bool {
	passwd, err := readEtc(a.Etc, etcdb.Passwd)
	if err != nil {
		return false
	}
	_, err = passwd.Lookup(name)
	return err == nil
}

// readEtc parses one of the account databases under etc, read without locking: a
// reader sees either the old file or the new one, which every writer renames into place.
func readEtc(etc string, kind etcdb.Kind) (*etcdb.File, error) {
	path := filepath.Join(etc, kind.String())
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) && kind == etcdb.Group {
		data, err = nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	db, err := etcdb.Parse(kind, data)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	return db, nil
}

// adoptGrants moves our rules that name another owner to owner, so that a changed or
// newly detected owner takes over every FTP user's rule. Lines of others stay.
func (a *Admin) adoptGrants(owner string) Warnings {
	if owner == "" {
		return nil
	}
	grants, err := a.Sudoers.Grants()
	if err != nil {
		return Warnings{err.Error()}
	}
	var warn Warnings
	for _, g := range grants {
		if g.Owner == owner {
			continue
		}
		changed, err := a.Sudoers.Revoke(g.Owner, g.User, g.Command)
		if err != nil && !errors.Is(err, sudoers.ErrNotValidated) {
			warn = append(warn, fmt.Sprintf("the former owner %s may still change the password of %s with sudo: %v", g.Owner, g.User, err))
			continue
		}
		if changed {
			warn = append(warn, a.grant(owner, g.User)...)
		}
	}
	return warn
}
