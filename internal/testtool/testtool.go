// Package testtool lets tests use the real tools the product lives beside (visudo,
// useradd, lftp, ...): a developer without one gets a skip, CI a failure.
package testtool

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
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

// SyncBuffer collects what several goroutines write (a server's log, a running
// client's output) while the test reads it.
type SyncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
