package users

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// nameRE is the intersection of the rules of every shadow-utils we meet (upstream,
// Debian's relaxed patch, Fedora's goodname) and of sudoers' WORD grammar: a name that
// passes is valid for useradd everywhere and safe to write into a sudoers rule. The
// trailing '$' shadow-utils allows is for Samba machine accounts, never an FTP user.
// It is compiled on first use, not by every process that links the package.
var nameRE = sync.OnceValue(func() *regexp.Regexp { return regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`) })

// ValidateName reports why name cannot be an account name, or nil.
func ValidateName(name string) error {
	switch {
	case name == "":
		return errors.New("the user name is empty")
	case len(name) > 32:
		return fmt.Errorf("user name %.40q is longer than 32 characters", name)
	case !nameRE().MatchString(name):
		return fmt.Errorf("user name %q is not valid: use lower-case letters, digits, '_' and '-', starting with a letter or '_'", name)
	}
	return nil
}

// ValidateHome checks that home is an absolute, clean path inside root (or root
// itself) and contains nothing that could corrupt /etc/passwd.
func ValidateHome(home, root string) error {
	if strings.ContainsAny(home, ":\n\r\x00") {
		return fmt.Errorf("home %q contains ':', a newline or NUL, which /etc/passwd cannot hold", home)
	}
	if !path.IsAbs(home) {
		return fmt.Errorf("home %q is not an absolute path", home)
	}
	if path.Clean(home) != home {
		return fmt.Errorf("home %q is not a clean path (write it as %q)", home, path.Clean(home))
	}
	if !Within(home, root) {
		return fmt.Errorf("home %s is outside the FTP root %s", home, root)
	}
	return nil
}

// Within reports whether p is root or lies below it; both must be clean absolute paths.
func Within(p, root string) bool {
	if root == "/" {
		return strings.HasPrefix(p, "/")
	}
	return p == root || strings.HasPrefix(p, root+"/")
}

// maxDescription bounds a description: passwd lines stay short enough for every tool.
const maxDescription = 128

// ValidateDescription reports why text cannot be an account's description (the GECOS
// field), or nil. Besides passwd's ':' and line breaks it refuses ',' and '=', which
// split GECOS into subfields for chfn and finger, and every control character.
func ValidateDescription(text string) error {
	switch {
	case len(text) > maxDescription:
		return fmt.Errorf("the description is longer than %d bytes", maxDescription)
	case !utf8.ValidString(text):
		return errors.New("the description is not valid UTF-8")
	case strings.ContainsAny(text, ":,="):
		return fmt.Errorf("the description %q contains ':', ',' or '=', which /etc/passwd uses as separators", text)
	case strings.ContainsFunc(text, unicode.IsControl):
		return fmt.Errorf("the description %q contains a line break or another control character", text)
	}
	return nil
}
