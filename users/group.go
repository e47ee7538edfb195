package users

import (
	"errors"
	"fmt"
	"strconv"
)

// ErrGroupInUse is returned when the FTP group cannot go because an account still
// has it as its primary group.
var ErrGroupInUse = errors.New("group still in use")

// RemoveGroup deletes the FTP group from group and gshadow, as `groupdel` would, and
// reports whether it was there. Like groupdel it refuses while any account has the
// group as its primary group: that account would be left pointing at a GID no group
// names, and files it creates would get a group nobody can see.
func (tx *Tx) RemoveGroup() (removed bool, err error) {
	gid, ok, err := tx.groupGID()
	if err != nil || !ok {
		return false, err
	}
	for _, pw := range tx.Passwd.Entries() {
		if pw[3] == strconv.Itoa(gid) {
			return false, fmt.Errorf("the group %s is the primary group of %s; delete that account first: %w", GroupName, pw[0], ErrGroupInUse)
		}
	}
	if _, err := tx.Group.Remove(GroupName); err != nil {
		return false, fmt.Errorf("remove group %s: %w", GroupName, err)
	}
	if tx.GShadow != nil {
		if _, err := tx.GShadow.Remove(GroupName); err != nil {
			return false, fmt.Errorf("remove group %s from gshadow: %w", GroupName, err)
		}
	}
	return true, nil
}
