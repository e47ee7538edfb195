// Package testtool lets tests use the real tools the product lives beside (visudo,
// useradd, lftp, ...): a developer without one gets a skip, CI a failure.
package testtool

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// RequiredEnv, set to 1 by scripts/test.sh, turns a missing tool into a failure, so CI
// can never go green by skipping what it was meant to check.
const RequiredEnv = "JFTP_REQUIRE_TOOLS"

// Require returns the path of the tool, looked up in PATH and then in the sbin
// directories a non-login root shell may lack.
func Require(t testing.TB, name string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin"} {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	if os.Getenv(RequiredEnv) == "1" {
		t.Fatalf("%s is not installed; scripts/test.sh installs it (%s=1 makes this a failure)", name, RequiredEnv)
	}
	t.Skipf("%s is not installed", name)
	return ""
}
