package sudoers

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
)

// DefaultSudoers is the main sudoers file.
const DefaultSudoers = "/etc/sudoers"

// DefaultAccounts is the account database the owner is looked up in.
const DefaultAccounts = "/etc/passwd"

// DefaultGroups is the group database a %group owner is looked up in.
const DefaultGroups = "/etc/group"

// maxIncludeDepth bounds how far Check follows @include chains (sudo's own limit is 128).
const maxIncludeDepth = 8

// Checker inspects whether rules in the drop-in can take effect. Its zero value looks at
// the real system; tests point the fields at a temporary tree.
type Checker struct {
	DropIn DropIn
	// Sudoers is the main sudoers file; "" means DefaultSudoers.
	Sudoers string
	// Accounts is the passwd file the owner must be in; "" means DefaultAccounts.
	Accounts string
	// Groups is the group file a %group owner must be in; "" means DefaultGroups.
	Groups string
	// Sudo is the sudo binary; "" means look it up in PATH, /usr/sbin and /sbin.
	Sudo string
}

// Report is what Check found. Nothing in it is fatal: callers print Warnings, and skip
// Grant (with a warning) when OwnerExists is false.
type Report struct {
	Sudo   string // the sudo binary, "" when not installed
	Visudo string // the visudo binary, "" when not installed
	// Included is true when the main sudoers file reads the drop-in (directly or through
	// simple nested includes).
	Included bool
	// OwnerExists is true when the owner account, or the owner %group, exists.
	OwnerExists bool
	// ConfigValid is true when `visudo -c` accepted the whole configuration; false also
	// when it could not run.
	ConfigValid bool
	Warnings    []string
}

// Check looks at the real system for owner; see Checker.Check.
func Check(owner string) Report {
	return Checker{}.Check(owner)
}

// Check reports whether sudo is installed and sane, whether the main sudoers file reads
// the drop-in, whether owner exists (unless it is ""), whether the drop-in itself has a mode and owner sudo
// accepts, and whether the whole configuration passes `visudo -c`.
func (c Checker) Check(owner string) Report {
	var r Report
	warn := func(format string, args ...any) {
		r.Warnings = append(r.Warnings, fmt.Sprintf(format, args...))
	}
	sudoersFile := orDefault(c.Sudoers, DefaultSudoers)
	accounts := orDefault(c.Accounts, DefaultAccounts)
	what, db, name := "account", accounts, owner
	if group, ok := OwnerGroup(owner); ok {
		what, db, name = "group", orDefault(c.Groups, DefaultGroups), group
	}

	r.Sudo = c.sudo()
	if r.Sudo == "" {
		warn("sudo is not installed, so the owner cannot change FTP passwords with it; install the sudo package")
	} else if err := checkSetuidRoot(r.Sudo); err != nil {
		warn("%v, so sudo cannot work", err)
	}
	if v, found := c.DropIn.visudo(); found && isExecutableFile(v) {
		r.Visudo = v
	} else {
		warn("visudo is not installed, so the sudoers drop-in cannot be checked before it is installed")
	}

	path, err := c.DropIn.path()
	if err != nil {
		warn("%v", err)
	} else {
		r.Included, err = includes(sudoersFile, path, 0, map[string]bool{})
		switch {
		case err != nil:
			warn("cannot tell whether sudo reads %s: %v", path, err)
		case !r.Included:
			warn("%s does not include %s (add the line \"@includedir %s\"), so sudo ignores the rules there", sudoersFile, filepath.Dir(path), filepath.Dir(path))
		}
		r.Warnings = append(r.Warnings, dropInProblems(path)...)
	}

	if owner != "" { // "": no owner was found, and the caller says why
		if err := ValidOwner(owner); err != nil {
			warn("owner: %v", err)
		} else if r.OwnerExists, err = entryExists(db, name); err != nil {
			warn("cannot tell whether the owner %s %q exists: %v", what, name, err)
		} else if !r.OwnerExists {
			warn("the owner %s %q does not exist in %s, so it cannot be allowed to change FTP passwords", what, name, db)
		}
	}

	if r.Visudo != "" {
		complaint, err := runVisudo(r.Visudo, sudoersFile)
		switch {
		case err != nil:
			warn("cannot check the sudo configuration: %v", err)
		case complaint != "":
			warn("visudo -c finds problems in the sudo configuration, so some rules may not work: %s", complaint)
		default:
			r.ConfigValid = true
		}
	}
	return r
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (c Checker) sudo() string {
	if c.Sudo != "" {
		if isExecutableFile(c.Sudo) {
			return c.Sudo
		}
		return ""
	}
	return findTool("sudo")
}

func checkSetuidRoot(p string) error {
	fi, err := os.Stat(p)
	if err != nil {
		return err
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok || st.Uid != 0 || fi.Mode()&fs.ModeSetuid == 0 {
		return fmt.Errorf("%s is not setuid root", p)
	}
	return nil
}

// dropInProblems lists what would make sudo or visudo complain about the drop-in file
// and its directory.
func dropInProblems(path string) []string {
	var problems []string
	dir := filepath.Dir(path)
	if fi, err := os.Stat(dir); err == nil {
		st, ok := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm()&0o002 != 0 || (ok && st.Uid != 0) {
			problems = append(problems, fmt.Sprintf("sudo ignores the whole directory %s: it must be owned by root and not world-writable", dir))
		}
	}
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return problems
	case err != nil:
		return append(problems, err.Error())
	case !fi.Mode().IsRegular():
		return append(problems, fmt.Sprintf("%s is not a regular file; remove it so it can be recreated", path))
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	mode := fi.Mode() & (fs.ModePerm | fs.ModeSetuid | fs.ModeSetgid | fs.ModeSticky)
	if mode != fileMode || (ok && (st.Uid != 0 || st.Gid != 0)) {
		owner := ""
		if ok {
			owner = fmt.Sprintf(", owner %d:%d", st.Uid, st.Gid)
		}
		problems = append(problems, fmt.Sprintf("%s has mode %04o%s, but sudo wants 0440 root:root (granting a user rewrites it)", path, mode, owner))
	}
	return problems
}

// includeLine matches sudo's include directives; the old '#' spelling still works.
var includeLine = lazyRegexp(`^[ \t]*[#@](include|includedir)[ \t]+(\S.*?)[ \t]*$`)

// includes reports whether file reads target, directly or through @include/@includedir
// directives. Only simple paths are followed: no %h escapes, no backslashes, no quotes
// inside; a relative path is taken from file's directory, as sudo ≥ 1.9.1 does.
func includes(file, target string, depth int, seen map[string]bool) (bool, error) {
	if depth > maxIncludeDepth || seen[file] {
		return false, nil
	}
	seen[file] = true
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		m := includeLine().FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		p := m[2]
		if len(p) >= 2 && strings.HasPrefix(p, `"`) && strings.HasSuffix(p, `"`) {
			p = p[1 : len(p)-1]
		}
		if strings.ContainsAny(p, "%\\\" \t") {
			continue
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(filepath.Dir(file), p)
		}
		p = filepath.Clean(p)
		if m[1] == "includedir" {
			if p == filepath.Dir(target) {
				return true, nil
			}
			continue
		}
		if p == target {
			return true, nil
		}
		// A nested file that cannot be read is sudo's problem, reported by visudo -c.
		if ok, _ := includes(p, target, depth+1, seen); ok {
			return true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("read %s: %w", file, err)
	}
	return false, nil
}

// entryExists looks name up in a passwd- or group-format file. Only the file is read,
// on purpose: the rule is for a local account or group, and NSS lookups could hang on
// LDAP.
func entryExists(file, name string) (bool, error) {
	f, err := os.Open(file)
	if err != nil {
		return false, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if user, _, ok := strings.Cut(sc.Text(), ":"); ok && user == name {
			return true, nil
		}
	}
	if err := sc.Err(); err != nil {
		return false, fmt.Errorf("read %s: %w", file, err)
	}
	return false, nil
}
