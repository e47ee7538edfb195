package sudoers

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/internal/testtool"
)

// world is a temporary sudo configuration for Checker.
type world struct {
	dir     string
	checker Checker
}

func newWorld(t *testing.T) world {
	t.Helper()
	dir := t.TempDir()
	w := world{dir: dir, checker: Checker{
		DropIn:   DropIn{Path: filepath.Join(dir, "sudoers.d", "jelastic"), Visudo: testtool.Require(t, "visudo")},
		Sudoers:  filepath.Join(dir, "sudoers"),
		Accounts: filepath.Join(dir, "passwd"),
		Groups:   filepath.Join(dir, "group"),
		Sudo:     testtool.Require(t, "sudo"),
	}}
	w.write(t, "sudoers", "root ALL=(ALL:ALL) ALL\n@includedir "+dir+"/sudoers.d\n")
	w.write(t, "passwd", "root:x:0:0:root:/root:/bin/bash\njelastic:x:700:700::/home/jelastic:/bin/bash\n")
	w.write(t, "group", "root:x:0:\nssh-access:x:1001:apache\n")
	_, err := w.checker.DropIn.Grant("jelastic", "ftp-a", passwd)
	require.NoError(t, err)
	return w
}

func (w world) write(t *testing.T, name, content string) {
	t.Helper()
	p := filepath.Join(w.dir, name)
	require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
	// Removed first: without root, a 0440 file of ours cannot be opened for writing.
	require.NoError(t, os.RemoveAll(p))
	require.NoError(t, os.WriteFile(p, []byte(content), 0o440))
}

func TestCheck(t *testing.T) {
	cases := []struct {
		name     string
		setup    func(t *testing.T, w *world)
		owner    string
		notIncl  bool
		noOwner  bool
		invalid  bool
		noSudo   bool
		noVisudo bool
		rootOnly bool     // the warning depends on files being root's
		warnings []string // each is part of one warning, in order
	}{
		{name: "all well"},
		{name: "old #includedir", setup: func(t *testing.T, w *world) {
			w.write(t, "sudoers", "#includedir "+w.dir+"/sudoers.d\n")
		}},
		{name: "nested relative include", setup: func(t *testing.T, w *world) {
			w.write(t, "sudoers", "@include extra\n")
			w.write(t, "extra", "  @includedir \""+w.dir+"/sudoers.d/\"\n")
		}},
		{name: "the drop-in itself is included", setup: func(t *testing.T, w *world) {
			w.write(t, "sudoers", "#include "+w.dir+"/sudoers.d/jelastic\n")
		}},
		{name: "not included", notIncl: true, setup: func(t *testing.T, w *world) {
			w.write(t, "sudoers", "root ALL=(ALL:ALL) ALL\n# includedir "+w.dir+"/sudoers.d\n@includedir "+w.dir+"/other\n")
		}, warnings: []string{"does not include " + "DIR/sudoers.d"}},
		{name: "include loop", notIncl: true, setup: func(t *testing.T, w *world) {
			w.write(t, "sudoers", "@include extra\n")
			w.write(t, "extra", "@include sudoers\n")
		}, invalid: true, warnings: []string{"does not include", "visudo -c finds problems"}},
		{name: "no sudoers file", notIncl: true, invalid: true, setup: func(t *testing.T, w *world) {
			require.NoError(t, os.Remove(w.checker.Sudoers))
		}, warnings: []string{"cannot tell whether sudo reads", "visudo -c finds problems"}},
		{name: "owner missing", owner: "nobody-here", noOwner: true, warnings: []string{`owner account "nobody-here" does not exist`}},
		{name: "owner group", owner: "%ssh-access"},
		{name: "owner group missing", owner: "%wheel", noOwner: true, warnings: []string{`owner group "wheel" does not exist`}},
		{name: "owner group is not an account", owner: "%jelastic", noOwner: true, warnings: []string{`owner group "jelastic" does not exist`}},
		{name: "owner account is not a group", owner: "ssh-access", noOwner: true, warnings: []string{`owner account "ssh-access" does not exist`}},
		{name: "owner invalid", owner: "ALL", noOwner: true, warnings: []string{`owner: "ALL" cannot go into a sudoers rule`}},
		{name: "passwd unreadable", noOwner: true, setup: func(t *testing.T, w *world) {
			require.NoError(t, os.Remove(w.checker.Accounts))
		}, warnings: []string{"cannot tell whether the owner account"}},
		{name: "broken neighbour", invalid: true, setup: func(t *testing.T, w *world) {
			w.write(t, "sudoers.d/broken", "bob ALL = = x\n")
		}, warnings: []string{"visudo -c finds problems in the sudo configuration, so some rules may not work: DIR/sudoers.d/broken:1:11: syntax error"}},
		{name: "drop-in mode", setup: func(t *testing.T, w *world) {
			require.NoError(t, os.Chmod(w.checker.DropIn.Path, 0o644))
		}, warnings: []string{"has mode 0644"}},
		{name: "world-writable directory", rootOnly: true, setup: func(t *testing.T, w *world) {
			require.NoError(t, os.Chmod(filepath.Dir(w.checker.DropIn.Path), 0o777))
		}, warnings: []string{"sudo ignores the whole directory"}},
		{name: "sudo missing", noSudo: true, setup: func(t *testing.T, w *world) {
			w.checker.Sudo = filepath.Join(w.dir, "none")
		}, warnings: []string{"sudo is not installed"}},
		{name: "sudo not setuid", setup: func(t *testing.T, w *world) {
			w.write(t, "sudo", "#!/bin/sh\n")
			require.NoError(t, os.Chmod(filepath.Join(w.dir, "sudo"), 0o755))
			w.checker.Sudo = filepath.Join(w.dir, "sudo")
		}, warnings: []string{"DIR/sudo is not setuid root, so sudo cannot work"}},
		{name: "visudo missing", noVisudo: true, invalid: true, setup: func(t *testing.T, w *world) {
			w.checker.DropIn.Visudo = filepath.Join(w.dir, "none")
		}, warnings: []string{"visudo is not installed"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.rootOnly && os.Geteuid() != 0 {
				t.Skip("needs root")
			}
			w := newWorld(t)
			if tc.setup != nil {
				tc.setup(t, &w)
			}
			owner := tc.owner
			if owner == "" {
				owner = "jelastic" // the account newWorld grants to
			}
			r := w.checker.Check(owner)

			require.Equal(t, !tc.notIncl, r.Included, "Included")
			require.Equal(t, !tc.noOwner, r.OwnerExists, "OwnerExists")
			require.Equal(t, !tc.invalid, r.ConfigValid, "ConfigValid")
			require.Equal(t, tc.noSudo, r.Sudo == "", "Sudo %q", r.Sudo)
			require.Equal(t, tc.noVisudo, r.Visudo == "", "Visudo %q", r.Visudo)

			warnings := r.Warnings
			if os.Geteuid() != 0 {
				// Our temporary files are not root's, which sudo would refuse.
				warnings = dropContaining(warnings, "sudo ignores the whole directory")
				warnings = dropContaining(warnings, "has mode 0440, owner")
			}
			require.Len(t, warnings, len(tc.warnings), "%q", r.Warnings)
			for i, want := range tc.warnings {
				require.Contains(t, warnings[i], strings.ReplaceAll(want, "DIR", w.dir))
			}
		})
	}
}

func dropContaining(list []string, part string) []string {
	var out []string
	for _, s := range list {
		if !strings.Contains(s, part) {
			out = append(out, s)
		}
	}
	return out
}
