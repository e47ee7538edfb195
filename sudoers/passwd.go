package sudoers

import (
	"fmt"
	"os/exec"
	"path/filepath"
)

// passwdCandidates come before PATH. /usr/bin/passwd is first because on merged-/usr
// systems /bin/passwd is the same file, and /usr/bin/passwd is what the owner types.
var passwdCandidates = []string{"/usr/bin/passwd", "/bin/passwd"}

// PasswdPath returns the absolute path of the passwd program to name in rules.
func PasswdPath() (string, error) {
	return findPasswd(passwdCandidates)
}

func findPasswd(candidates []string) (string, error) {
	for _, p := range candidates {
		if isExecutableFile(p) {
			return p, nil
		}
	}
	p, err := exec.LookPath("passwd")
	if err != nil {
		return "", fmt.Errorf("passwd is not in %v nor in PATH; install the passwd package: %w", candidates, err)
	}
	// A relative PATH entry yields a relative result, which sudo would not accept.
	if p, err = filepath.Abs(p); err != nil {
		return "", fmt.Errorf("passwd found in PATH: %w", err)
	}
	if !isExecutableFile(p) {
		return "", fmt.Errorf("passwd found at %s is not a regular executable file", p)
	}
	if err := ValidCommand(p); err != nil {
		return "", fmt.Errorf("passwd found in PATH: %w", err)
	}
	return p, nil
}
