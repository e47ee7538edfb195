// Package sudoers keeps the sudoers drop-in that lets the container owner set an FTP
// user's password with `sudo /usr/bin/passwd FTPUSER`. The drop-in holds one rule per
// FTP user, of exactly this form, the owner being an account or a %group:
//
//	jelastic ALL = NOPASSWD: /usr/bin/passwd jelastic-ftp
//	%ssh-access ALL = NOPASSWD: /usr/bin/passwd jelastic-ftp
//
// Only lines of exactly that form are ever added or removed; every other byte of the
// file is kept. A line someone else wrote that grants the same (the platform writes
// "%ssh-access ALL=NOPASSWD: /usr/bin/passwd jelastic-ftp" into the same file) counts
// as the grant, so it is not added twice. Names are restricted so tightly that no
// sudoers syntax (aliases, lists, negation, escapes, #uid, +netgroup, %:group,
// wildcards) can be smuggled into a rule, and every new version of the file must pass
// `visudo -cf` before it replaces the old.
package sudoers

import (
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
)

// lazyRegexp compiles a pattern on first use. Every process of the service links this
// package, and the counted repetitions make the rule pattern costly to compile (about
// 100 KB of heap), which the FTP worker would pay at start for nothing.
func lazyRegexp(pattern string) func() *regexp.Regexp {
	return sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(pattern) })
}

// namePattern is narrower than sudoers' WORD: no character of it is special to sudo
// (upper case is excluded because an all-caps word is an alias, e.g. ALL).
var namePattern = lazyRegexp(`^[a-z_][a-z0-9_-]{0,31}$`)

// commandPattern keeps the command free of spaces, commas, escapes and wildcards, any of
// which would widen what the rule allows.
var commandPattern = lazyRegexp(`^/[A-Za-z0-9/_.-]+$`)

// rulePattern recognises our rule lines; anything else in the file is someone else's.
var rulePattern = lazyRegexp(`^(%?[a-z_][a-z0-9_-]{0,31}) ALL = NOPASSWD: (/[A-Za-z0-9/_.-]+) ([a-z_][a-z0-9_-]{0,31})$`)

// equivalentPattern recognises a line of someone else's that grants what one of our
// rules would: the same user list of one name, any host, running as root (the default,
// or named), no password, the one command with the one argument. Spacing may differ.
var equivalentPattern = lazyRegexp(`^[ \t]*(%?[a-z_][a-z0-9_-]{0,31})[ \t]+ALL[ \t]*=[ \t]*(?:\([ \t]*root[ \t]*\)[ \t]*)?NOPASSWD[ \t]*:[ \t]*(/[A-Za-z0-9/_.-]+)[ \t]+([a-z_][a-z0-9_-]{0,31})[ \t]*$`)

// groupPrefix makes an owner a group of accounts in sudoers.
const groupPrefix = "%"

// ValidName reports why s cannot be an owner or FTP user name in a rule, or nil.
func ValidName(s string) error {
	if !namePattern().MatchString(s) {
		return fmt.Errorf("%q cannot go into a sudoers rule: a name must be 1 to 32 characters among lower-case letters, digits, '_' and '-', starting with a letter or '_'", s)
	}
	return nil
}

// ValidOwner reports why s cannot be the owner of a rule, or nil: an account name, or a
// group name after one '%'.
func ValidOwner(s string) error {
	if name, ok := strings.CutPrefix(s, groupPrefix); ok {
		if err := ValidName(name); err != nil {
			return fmt.Errorf("group %w", err)
		}
		return nil
	}
	return ValidName(s)
}

// OwnerGroup returns the group an owner names, and whether it names one.
func OwnerGroup(owner string) (string, bool) { return strings.CutPrefix(owner, groupPrefix) }

// GroupOwner is the owner that names every member of group.
func GroupOwner(group string) string { return groupPrefix + group }

// ValidCommand reports why p cannot be the passwd command of a rule, or nil.
func ValidCommand(p string) error {
	// "/" or a path ending in "/" would mean "any command in that directory" to sudo;
	// Clean rejects both, and "." or ".." components too.
	if !commandPattern().MatchString(p) || filepath.Clean(p) != p || p == "/" {
		return fmt.Errorf("%q cannot be the command of a sudoers rule: it must be a clean absolute path of letters, digits, '/', '_', '.' and '-'", p)
	}
	return nil
}

// Grant is one of our rules: Owner may run Command with the single argument User.
type Grant struct {
	Owner   string
	User    string
	Command string
}

// Validate reports why g cannot be written as a rule, or nil.
func (g Grant) Validate() error {
	if err := ValidOwner(g.Owner); err != nil {
		return fmt.Errorf("owner: %w", err)
	}
	if err := ValidName(g.User); err != nil {
		return fmt.Errorf("FTP user: %w", err)
	}
	return ValidCommand(g.Command)
}

// String is the rule line, without its newline. Only call it on a validated Grant.
func (g Grant) String() string {
	return g.Owner + " ALL = NOPASSWD: " + g.Command + " " + g.User
}

// line is one line of the drop-in with its newline (the last one may lack it).
type line struct {
	text  string
	grant Grant
	ours  bool // written by us, in our exact form: ours to remove
	// grants is true for our lines and for someone else's that grant the same.
	grants bool
}

// parse splits content into lines and recognises our rules. A line that follows one
// ending in a backslash is never ours, because sudo joins the two into one entry (that is
// how a rule-looking line can be the tail of someone else's Defaults string).
func parse(content string) []line {
	var lines []line
	continued := false
	for text := range strings.Lines(content) {
		body := strings.TrimSuffix(text, "\n")
		l := line{text: text}
		if !continued {
			l.grant, l.ours, l.grants = parseRule(body)
		}
		continued = endsWithBackslash(body)
		lines = append(lines, l)
	}
	return lines
}

func parseRule(body string) (g Grant, ours, grants bool) {
	if m := rulePattern().FindStringSubmatch(body); m != nil {
		g = Grant{Owner: m[1], Command: m[2], User: m[3]}
		if g.Validate() == nil {
			return g, true, true
		}
	}
	if m := equivalentPattern().FindStringSubmatch(body); m != nil {
		g = Grant{Owner: m[1], Command: m[2], User: m[3]}
		if g.Validate() == nil {
			return g, false, true
		}
	}
	return Grant{}, false, false
}

// endsWithBackslash is deliberately rougher than sudo's lexer (which ignores an escaped
// backslash or one inside a comment): treating too many lines as continued only makes
// us keep a line or add a blank one, never misread a rule.
func endsWithBackslash(body string) bool {
	return strings.HasSuffix(strings.TrimRight(body, " \t"), `\`)
}

// appendRule adds g as the last line, on a line of its own.
func appendRule(lines []line, g Grant) []line {
	if n := len(lines); n > 0 {
		last := &lines[n-1]
		if !strings.HasSuffix(last.text, "\n") {
			last.text += "\n"
		}
		if endsWithBackslash(strings.TrimSuffix(last.text, "\n")) {
			// An empty line ends the continuation, so the rule stands on its own.
			lines = append(lines, line{text: "\n"})
		}
	}
	return append(lines, line{text: g.String() + "\n", grant: g, ours: true, grants: true})
}

func join(lines []line) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.text)
	}
	return b.String()
}
