// Package e2e holds the end-to-end tests: the real ftpctl binary against real
// shadow-utils, sudo and FTP clients, as root. Each test gets its own copy of /etc that
// every command it runs sees as /etc (a bind mount in a private mount namespace per
// command), so tests cannot touch the machine's /etc nor each other's.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/internal/testtool"
	"github.com/jelastic/jelastic-ftp/monitor"
)

// ftpctlBin is the binary under test, built once by TestMain.
var ftpctlBin string

func TestMain(m *testing.M) {
	if os.Getenv("JFTP_E2E") != "1" || os.Geteuid() != 0 {
		fmt.Println("end-to-end tests skipped: run them through scripts/test.sh as root")
		os.Exit(0)
	}
	dir, err := os.MkdirTemp("", "jftp-bin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ftpctlBin = filepath.Join(dir, "ftpctl")
	build := exec.Command("go", "build", "-o", ftpctlBin, "github.com/jelastic/jelastic-ftp/cmd/ftpctl")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build ftpctl:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Env is one test's private world: a copy of the machine's /etc and a temporary FTP root.
type Env struct {
	t *testing.T
	// Etc is where the copy lives on the host; commands run through Env see it as /etc.
	Etc string
	// Root is a temporary FTP root, configured in the copy's /etc/jelastic-ftp/ftpd.toml.
	Root string
	// RunDir replaces /run/jelastic-ftp (the service's control socket) for this test.
	RunDir string
	// StateDir replaces /var/lib/jelastic-ftp (the certificate and the state copy) for
	// every command, unless one names another with --state-dir.
	StateDir string
	// binds are more folders mounted in each command's namespace, and hostname its
	// host name (in a UTS namespace of its own): what makes an Env a node of a layer.
	binds    []bind
	hostname string
}

// bind mounts Src over Dst in every command of an Env.
type bind struct{ Src, Dst string }

// cmdTimeout bounds every command a test runs, so a hung tool fails the test instead of CI.
const cmdTimeout = 2 * time.Minute

// NewEnv copies /etc for one test.
func NewEnv(t *testing.T) *Env {
	t.Helper()
	base := t.TempDir()
	e := &Env{t: t, Etc: filepath.Join(base, "etc"), Root: filepath.Join(base, "webroot"), RunDir: filepath.Join(base, "run"), StateDir: filepath.Join(base, "state")}
	require.NoError(t, os.MkdirAll(e.Root, 0o755))
	out, err := exec.Command("cp", "-a", "/etc", e.Etc).CombinedOutput()
	require.NoError(t, err, "copy /etc: %s", out)
	// Start from a state without any add-on leftovers the machine may carry.
	for _, p := range []string{"jelastic-ftp", "sudoers.d/jelastic"} {
		require.NoError(t, os.RemoveAll(filepath.Join(e.Etc, p)))
	}
	require.NoError(t, os.MkdirAll(filepath.Join(e.Etc, "jelastic-ftp"), 0o755))
	e.WriteEtc("jelastic-ftp/ftpd.toml", fmt.Sprintf("root = %q\n", e.Root), 0o644)
	return e
}

// Command prepares name+args to run with the test's /etc copy mounted over /etc, and
// the Env's other binds and host name (a node of a layer). A namespace that cannot be
// set up makes the command exit 125.
func (e *Env) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	script := `mount --bind "$0" /etc || exit 125`
	pos := []string{e.Etc}
	for _, b := range e.binds {
		script += fmt.Sprintf("\nmount --bind \"${%d}\" \"${%d}\" || exit 125", len(pos), len(pos)+1)
		pos = append(pos, b.Src, b.Dst)
	}
	flags := []string{"--mount", "--propagation", "private"}
	if e.hostname != "" {
		flags = append(flags, "--uts")
		script += fmt.Sprintf("\necho \"${%d}\" >/proc/sys/kernel/hostname || exit 125", len(pos))
		pos = append(pos, e.hostname)
	}
	script += fmt.Sprintf("\nshift %d\nexec \"$@\"", len(pos)-1)
	full := append(append(append(flags, "--", "sh", "-c", script), pos...), name)
	cmd := exec.CommandContext(ctx, "unshare", append(full, args...)...)
	cmd.Env = append(os.Environ(), "LC_ALL=C", monitor.RunDirEnv+"="+e.RunDir, config.StateDirEnv+"="+e.StateDir)
	return cmd
}

// Result is what a finished command printed and returned.
type Result struct {
	Stdout, Stderr string
	Code           int
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
}

// Run runs a command to completion with stdin, within cmdTimeout.
func (e *Env) Run(stdin string, name string, args ...string) Result {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cmdTimeout)
	defer cancel()
	return e.finish(ctx, e.Command(ctx, name, args...), stdin)
}

// finish runs a prepared command to completion with stdin and collects its result.
func (e *Env) finish(ctx context.Context, cmd *exec.Cmd, stdin string) Result {
	e.t.Helper()
	r, err := runCommand(cmd, stdin)
	require.NoError(e.t, err)
	require.NoError(e.t, ctx.Err(), "%v did not finish within %s", cmd.Args, cmdTimeout)
	return r
}

// runCommand runs cmd to completion with stdin. A command that ran and exited, with
// any status, is a Result; one that could not be started is an error.
func runCommand(cmd *exec.Cmd, stdin string) (Result, error) {
	var out, errb bytes.Buffer
	cmd.Stdin = strings.NewReader(stdin)
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := Result{Stdout: out.String(), Stderr: errb.String()}
	var exit *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &exit):
		r.Code = exit.ExitCode()
	default:
		return r, fmt.Errorf("run %v: %w", cmd.Args, err)
	}
	return r, nil
}

// MustRun runs a command and fails the test unless it exits 0.
func (e *Env) MustRun(stdin string, name string, args ...string) Result {
	e.t.Helper()
	r := e.Run(stdin, name, args...)
	require.Equal(e.t, 0, r.Code, "%s %v failed:\nstdout: %s\nstderr: %s", name, args, r.Stdout, r.Stderr)
	return r
}

// Ftpctl runs the binary under test.
func (e *Env) Ftpctl(stdin string, args ...string) Result {
	e.t.Helper()
	return e.Run(stdin, ftpctlBin, args...)
}

// ReadEtc returns a file of the test's /etc copy.
func (e *Env) ReadEtc(name string) string {
	e.t.Helper()
	b, err := os.ReadFile(filepath.Join(e.Etc, name))
	require.NoError(e.t, err)
	return string(b)
}

// WriteEtc writes a file into the test's /etc copy.
func (e *Env) WriteEtc(name, content string, mode os.FileMode) {
	e.t.Helper()
	require.NoError(e.t, os.WriteFile(filepath.Join(e.Etc, name), []byte(content), mode))
}

// accountFiles are the databases every account change must keep consistent.
var accountFiles = []string{"passwd", "shadow", "group", "gshadow"}

// Snapshot returns the bytes of the account databases and our drop-in, to prove that
// a refused command changed nothing.
func (e *Env) Snapshot() map[string]string {
	e.t.Helper()
	snap := map[string]string{}
	for _, f := range append(accountFiles, "sudoers.d/jelastic", "jelastic-ftp/users.toml") {
		b, err := os.ReadFile(filepath.Join(e.Etc, f))
		if errors.Is(err, os.ErrNotExist) {
			snap[f] = "<absent>"
			continue
		}
		require.NoError(e.t, err)
		snap[f] = string(b)
	}
	return snap
}

// baseline holds what pwck and grpck already complain about on this machine's /etc
// (system accounts whose homes do not exist, say), so tests can tell our mistakes apart.
var baseline struct {
	once  sync.Once
	lines []string
}

// checkLines runs pwck -r and grpck -r and returns their complaints.
func (e *Env) checkLines() []string {
	e.t.Helper()
	var lines []string
	for _, tool := range []string{"pwck", "grpck"} {
		r := e.Run("", tool, "-r")
		require.Contains(e.t, []int{0, 2}, r.Code, "%s -r: %s%s", tool, r.Stdout, r.Stderr)
		for _, l := range strings.Split(r.Stdout+r.Stderr, "\n") {
			if l != "" && !strings.HasSuffix(l, "no changes") {
				lines = append(lines, l)
			}
		}
	}
	return lines
}

// RequireConsistent fails unless pwck and grpck find nothing wrong beyond what they
// already found on the untouched copy of /etc.
func (e *Env) RequireConsistent() {
	e.t.Helper()
	testtool.Require(e.t, "pwck")
	baseline.once.Do(func() { baseline.lines = NewEnv(e.t).checkLines() })
	for _, l := range e.checkLines() {
		require.True(e.t, slices.Contains(baseline.lines, l), "pwck/grpck: %s", l)
	}
}
