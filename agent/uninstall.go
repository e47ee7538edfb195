package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/sudoers"
	"github.com/jelastic/jelastic-ftp/users"
)

// UninstallResult lists what uninstall did, one sentence each; empty when there was
// nothing to do.
type UninstallResult struct {
	Done     []string
	Warnings Warnings
}

// Uninstall stops and disables the service and removes the FTP accounts, the group
// and the sudo rules. The files in the FTP root always stay; purge also removes the
// settings, the certificate and the logs. Run again, it finds nothing to do.
func (l *Lifecycle) Uninstall(ctx context.Context, purge bool) (UninstallResult, error) {
	var res UninstallResult
	if os.Geteuid() != 0 {
		return res, errors.New("ftpctl uninstall must run as root: it edits /etc/passwd and /etc/shadow and stops the service")
	}
	if err := l.Layout.validate(); err != nil {
		return res, err
	}
	done := func(format string, args ...any) { res.Done = append(res.Done, fmt.Sprintf(format, args...)) }

	if err := l.stopService(ctx, done); err != nil {
		return res, err
	}
	list, err := l.Admin.ListUsers()
	if err != nil {
		return res, err
	}
	for _, u := range list {
		warn, err := l.Admin.DeleteUser(ctx, u.Name)
		res.Warnings = append(res.Warnings, warn...)
		if err != nil {
			return res, err
		}
		done("deleted FTP user %s and its sudo rules", u.Name)
	}
	if err := l.removeGroup(ctx, done, &res.Warnings); err != nil {
		return res, err
	}
	if err := l.revokeAll(done, &res.Warnings); err != nil {
		return res, err
	}
	// The copy would otherwise bring the accounts back at the next install.
	if err := os.Remove(l.Layout.StateCopy()); err == nil {
		done("removed the state copy %s", l.Layout.StateCopy())
	} else if !errors.Is(err, fs.ErrNotExist) {
		return res, fmt.Errorf("remove the state copy: %w", err)
	}
	if len(list) > 0 {
		if cfg, err := config.Load(l.Admin.ConfigPath); err == nil {
			done("kept every file in the FTP root %s", cfg.Root)
		}
	}
	if purge {
		for _, dir := range []string{filepath.Dir(l.Admin.ConfigPath), l.Layout.StateDir, l.Layout.LogDir} {
			if _, err := os.Lstat(dir); errors.Is(err, fs.ErrNotExist) {
				continue
			}
			if err := os.RemoveAll(dir); err != nil {
				return res, fmt.Errorf("remove %s: %w", dir, err)
			}
			done("removed %s", dir)
		}
	}
	return res, nil
}

func (l *Lifecycle) stopService(ctx context.Context, done func(string, ...any)) error {
	if l.Layout.Systemd() {
		// First the socket, where socket activation is on (install --on-demand):
		// it would start the service again on the next connection.
		if l.Systemctl(ctx, "is-active", "--quiet", socketUnit) == nil || l.Systemctl(ctx, "is-enabled", "--quiet", socketUnit) == nil {
			if err := l.Systemctl(ctx, "disable", "--now", socketUnit); err != nil {
				return err
			}
			done("stopped and disabled the systemd socket %s", socketUnit)
		}
		_, errPkg := os.Stat(l.Layout.PackagedUnit)
		_, errOwn := os.Stat(l.Layout.unitFile())
		if errPkg == nil || errOwn == nil {
			active := l.Systemctl(ctx, "is-active", "--quiet", ServiceName) == nil
			enabled := l.Systemctl(ctx, "is-enabled", "--quiet", ServiceName) == nil
			if active || enabled {
				if err := l.Systemctl(ctx, "disable", "--now", ServiceName); err != nil {
					return err
				}
				done("stopped and disabled the systemd service %s", ServiceName)
			}
		}
		reload := false
		for _, f := range []string{l.Layout.unitFile(), l.Layout.rootDropIn(), l.Layout.socketFile(), l.Layout.listenDropIn()} {
			removed, err := removeOwn(f)
			if err != nil {
				return err
			}
			if removed {
				done("removed %s", f)
				reload = true
			}
		}
		if reload {
			if err := l.Systemctl(ctx, "daemon-reload"); err != nil {
				return err
			}
		}
	}
	// Also where systemd runs now: the service may have been started before it did.
	pid, running := l.ServicePID()
	if running {
		if err := stopProcess(pid); err != nil {
			return err
		}
		done("stopped ftpctl serve (PID %d)", pid)
	}
	if err := os.Remove(l.Layout.PIDFile()); err == nil && !running {
		done("removed the stale PID file %s", l.Layout.PIDFile())
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("remove the PID file: %w", err)
	}
	// The folder of the service's control socket, which the service leaves behind
	// when it stops; only while empty, in case someone else's serve still uses it.
	os.Remove(filepath.Join(l.Layout.RunDir, ServiceName))
	return nil
}

func (l *Lifecycle) removeGroup(ctx context.Context, done func(string, ...any), warn *Warnings) error {
	tx, err := l.Admin.begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Close()
	removed, err := tx.RemoveGroup()
	if errors.Is(err, users.ErrGroupInUse) {
		*warn = append(*warn, fmt.Sprintf("kept the group %s: %v", users.GroupName, err))
		return nil
	}
	if err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if removed {
		done("removed the group %s", users.GroupName)
	}
	return nil
}

// revokeAll removes every rule of ours left in the drop-in, such as those of accounts
// deleted with userdel; the drop-in goes when nothing else is in it.
func (l *Lifecycle) revokeAll(done func(string, ...any), warn *Warnings) error {
	grants, err := l.Admin.Sudoers.Grants()
	if err != nil {
		return err
	}
	var seen, revoked []string
	for _, g := range grants {
		if slices.Contains(seen, g.User) {
			continue
		}
		seen = append(seen, g.User)
		// Unchanged: the grant is a line of the platform's, which stays.
		changed, err := l.Admin.Sudoers.RevokeUser(g.User)
		if errors.Is(err, sudoers.ErrNotValidated) {
			*warn = append(*warn, err.Error())
		} else if err != nil {
			return err
		}
		if changed {
			revoked = append(revoked, g.User)
		}
	}
	if len(revoked) > 0 {
		done("removed the sudo rules for %s", strings.Join(revoked, ", "))
	}
	return nil
}
