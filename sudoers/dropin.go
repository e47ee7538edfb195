package sudoers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// DefaultPath is the drop-in we own.
const DefaultPath = "/etc/sudoers.d/jelastic"

// fileMode is what sudo and visudo expect of a sudoers file (with owner root:root).
const fileMode = 0o440

// ErrNotValidated is wrapped by the error Grant and Revoke return when visudo is not
// installed: the file was still written (without sudo it grants nothing, and it is ready
// for when sudo arrives), so changed is true. Callers should print it as a warning.
var ErrNotValidated = errors.New("visudo was not found, so the sudoers drop-in was written without being checked (is sudo installed?)")

// lockTimeout bounds the wait for another process editing the same drop-in.
const lockTimeout = 10 * time.Second

// visudoTimeout bounds one visudo run, so a hung visudo cannot hang the caller.
const visudoTimeout = 30 * time.Second

// DropIn is a sudoers drop-in file holding our rules.
//
// Before Grant, callers should run Check and print its warnings; when the owner account
// does not exist (Report.OwnerExists is false), skip Grant with a warning instead of
// failing, since sudo would ignore the rule anyway.
type DropIn struct {
	// Path is the drop-in; "" means DefaultPath. Its name must be one sudo reads: no '.'
	// and no trailing '~'.
	Path string
	// Visudo is the visudo binary; "" means look it up in PATH, /usr/sbin and /sbin.
	Visudo string
}

// Default is the drop-in at DefaultPath, checked by the visudo found on the system.
func Default() DropIn {
	return DropIn{Path: DefaultPath}
}

// Grant ensures the drop-in holds the rule "OWNER ALL = NOPASSWD: PASSWDPATH USER"
// exactly once, creating the file if needed; OWNER is an account or a %group. When the
// rule, or someone else's line granting the same, is already there and the file has the
// right mode and owner, the file is not touched and changed is false.
func (d DropIn) Grant(owner, user, passwdPath string) (changed bool, err error) {
	want := Grant{Owner: owner, User: user, Command: passwdPath}
	if err := want.Validate(); err != nil {
		return false, err
	}
	return d.edit(true, func(lines []line) []line {
		var out []line
		found := false
		for _, l := range lines {
			if l.grants && l.grant == want {
				if found && l.ours {
					continue // a duplicate of ours: "exactly once"
				}
				found = true
			}
			out = append(out, l)
		}
		if !found {
			out = appendRule(out, want)
		}
		return out
	})
}

// Revoke removes our rule "OWNER ALL = NOPASSWD: PASSWDPATH USER"; a line of someone
// else's that grants the same stays, byte for byte. A drop-in left empty is deleted.
func (d DropIn) Revoke(owner, user, passwdPath string) (changed bool, err error) {
	drop := Grant{Owner: owner, User: user, Command: passwdPath}
	if err := drop.Validate(); err != nil {
		return false, err
	}
	return d.remove(func(g Grant) bool { return g == drop })
}

// RevokeUser removes every rule of ours for the FTP user, whoever the owner and
// whatever the passwd path. A drop-in left empty is deleted.
func (d DropIn) RevokeUser(user string) (changed bool, err error) {
	if err := ValidName(user); err != nil {
		return false, fmt.Errorf("FTP user: %w", err)
	}
	return d.remove(func(g Grant) bool { return g.User == user })
}

func (d DropIn) remove(match func(Grant) bool) (bool, error) {
	return d.edit(false, func(lines []line) []line {
		var out []line
		for _, l := range lines {
			if !(l.ours && match(l.grant)) {
				out = append(out, l)
			}
		}
		return out
	})
}

// Grants lists the rules of ours in the drop-in, and the lines of others that grant the
// same, in file order; none when it is missing.
func (d DropIn) Grants() ([]Grant, error) {
	path, err := d.path()
	if err != nil {
		return nil, err
	}
	cur, err := readDropIn(path)
	if err != nil {
		return nil, err
	}
	var grants []Grant
	for _, l := range parse(string(cur.content)) {
		if l.grants {
			grants = append(grants, l.grant)
		}
	}
	return grants, nil
}

func (d DropIn) path() (string, error) {
	p := d.Path
	if p == "" {
		p = DefaultPath
	}
	base := filepath.Base(p)
	switch {
	case !filepath.IsAbs(p) || filepath.Clean(p) != p:
		return "", fmt.Errorf("sudoers drop-in %q must be a clean absolute path", p)
	case strings.Contains(base, ".") || strings.HasSuffix(base, "~"):
		return "", fmt.Errorf("sudoers drop-in %s would be ignored by sudo: its name must contain no '.' and not end with '~'", p)
	}
	return p, nil
}

// edit applies change to the drop-in's lines under a lock and writes the result if it
// differs. Granting (adding) may also create the directory, and rewrites the file when
// its mode or owner is not what sudo wants.
func (d DropIn) edit(granting bool, change func([]line) []line) (bool, error) {
	path, err := d.path()
	if err != nil {
		return false, err
	}
	dir := filepath.Dir(path)
	if granting {
		if err := ensureDir(dir); err != nil {
			return false, err
		}
	}
	dirFile, err := lockDir(dir)
	if !granting && errors.Is(err, fs.ErrNotExist) {
		return false, nil // nothing to revoke
	}
	if err != nil {
		return false, err
	}
	defer dirFile.Close() // releases the lock

	cur, err := readDropIn(path)
	if err != nil {
		return false, err
	}
	next := join(change(parse(string(cur.content))))
	sameContent := cur.exists && next == string(cur.content)
	switch {
	case !cur.exists && next == "":
		return false, nil
	case sameContent && (!granting || cur.secure):
		return false, nil
	case cur.exists && next == "":
		if err := os.Remove(path); err != nil {
			return false, fmt.Errorf("remove the emptied sudoers drop-in: %w", err)
		}
		return true, syncDir(dirFile)
	}
	visudo, found := d.visudo()
	if err := replace(path, []byte(next), visudo); err != nil {
		return false, err
	}
	if err := syncDir(dirFile); err != nil {
		return true, err
	}
	if !found {
		return true, fmt.Errorf("%w: %s", ErrNotValidated, path)
	}
	return true, nil
}

func (d DropIn) visudo() (path string, found bool) {
	if d.Visudo != "" {
		return d.Visudo, true
	}
	p := findTool("visudo")
	return p, p != ""
}

// sbinDirs are searched after PATH, because root's PATH in a container often lacks them.
var sbinDirs = []string{"/usr/sbin", "/sbin"}

// findTool returns the absolute path of an executable named name, or "".
func findTool(name string) string {
	if p, err := exec.LookPath(name); err == nil && filepath.IsAbs(p) {
		return p
	}
	for _, dir := range sbinDirs {
		if p := filepath.Join(dir, name); isExecutableFile(p) {
			return p
		}
	}
	return ""
}

func isExecutableFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// ensureDir creates the drop-in directory when sudo is not installed yet, with the mode
// Debian's sudo package gives it (sudo ignores a world-writable directory).
func ensureDir(dir string) error {
	err := os.Mkdir(dir, 0o755)
	if err == nil || errors.Is(err, fs.ErrExist) {
		return nil
	}
	return fmt.Errorf("create the sudoers drop-in directory: %w", err)
}

// lockDir serialises our own writers: without it two concurrent Grants would each add
// their rule to the same old content and one would be lost. Locking the directory
// leaves no lock file behind; sudo and visudo do not use this lock.
func lockDir(dir string) (*os.File, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("open the sudoers drop-in directory: %w", err)
	}
	deadline := time.Now().Add(lockTimeout)
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return f, nil
		}
		if !errors.Is(err, unix.EWOULDBLOCK) || time.Now().After(deadline) {
			f.Close()
			if errors.Is(err, unix.EWOULDBLOCK) {
				return nil, fmt.Errorf("%s is locked by another process for more than %s; try again", dir, lockTimeout)
			}
			return nil, fmt.Errorf("lock %s: %w", dir, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// current is the drop-in as found on disk.
type current struct {
	exists  bool
	content []byte
	// secure is true when the mode is 0440 and, if we can change it, the owner is root.
	secure bool
}

func readDropIn(path string) (current, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return current{}, nil
	case errors.Is(err, syscall.ELOOP):
		return current{}, fmt.Errorf("sudoers drop-in %s is a symbolic link; refusing to edit it (replace it with a regular file)", path)
	case err != nil:
		return current{}, fmt.Errorf("read the sudoers drop-in: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return current{}, fmt.Errorf("read the sudoers drop-in: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return current{}, fmt.Errorf("sudoers drop-in %s is not a regular file; refusing to edit it", path)
	}
	content, err := io.ReadAll(f)
	if err != nil {
		return current{}, fmt.Errorf("read the sudoers drop-in: %w", err)
	}
	return current{exists: true, content: content, secure: secureMode(fi)}, nil
}

func secureMode(fi fs.FileInfo) bool {
	if fi.Mode()&(fs.ModePerm|fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != fileMode {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	// Without root we cannot chown, so only the mode is ours to fix.
	return !ok || os.Geteuid() != 0 || (st.Uid == 0 && st.Gid == 0)
}

// replace writes content to a temporary file next to path (its name has a '.', so sudo
// never reads it), has visudo check it when visudo is known, and renames it over path.
// On any failure the temporary file is removed and path is untouched.
func replace(path string, content []byte, visudo string) (err error) {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("create a temporary sudoers file: %w", err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if os.Geteuid() == 0 {
		if err := tmp.Chown(0, 0); err != nil {
			return fmt.Errorf("chown the temporary sudoers file: %w", err)
		}
	}
	if err := tmp.Chmod(fileMode); err != nil {
		return fmt.Errorf("chmod the temporary sudoers file: %w", err)
	}
	if _, err := tmp.Write(content); err != nil {
		return fmt.Errorf("write the temporary sudoers file: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("sync the temporary sudoers file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close the temporary sudoers file: %w", err)
	}
	if visudo != "" {
		complaint, err := runVisudo(visudo, tmp.Name())
		if err != nil {
			return fmt.Errorf("check the new %s: %w; nothing was changed", path, err)
		}
		if complaint != "" {
			return fmt.Errorf("visudo rejected the new %s: %s; nothing was changed", path, complaint)
		}
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("install the new sudoers drop-in: %w; nothing was changed", err)
	}
	return nil
}

// runVisudo checks a sudoers file. It returns visudo's own words when visudo rejects
// the file, and an error when visudo could not run at all.
func runVisudo(visudo, file string) (complaint string, err error) {
	ctx, cancel := context.WithTimeout(context.Background(), visudoTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, visudo, "-c", "-f", file).CombinedOutput()
	var exitErr *exec.ExitError
	switch {
	case err == nil:
		return "", nil
	case !errors.As(err, &exitErr) || ctx.Err() != nil:
		return "", fmt.Errorf("run %s: %w", visudo, err)
	}
	if complaint = strings.TrimSpace(string(bytes.ToValidUTF8(out, []byte("?")))); complaint == "" {
		complaint = err.Error()
	}
	return complaint, nil
}

func syncDir(dir *os.File) error {
	if err := dir.Sync(); err != nil {
		return fmt.Errorf("sync the sudoers drop-in directory: %w", err)
	}
	return nil
}
