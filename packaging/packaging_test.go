package packaging

import (
	"bytes"
	"debug/elf"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/internal/privsep"
	"github.com/jelastic/jelastic-ftp/internal/testtool"
)

// repoRoot is where scripts/package.sh and nfpm expect to run; tests run in packaging/.
const repoRoot = ".."

// manifest is the part of packaging/manifest.jps the tests look at.
type manifest struct {
	Type        string `yaml:"type"`
	JPSVersion  string `yaml:"jpsVersion"`
	Name        string `yaml:"name"`
	TargetNodes struct {
		NodeGroup []string `yaml:"nodeGroup"`
	} `yaml:"targetNodes"`
	Globals  map[string]string `yaml:"globals"`
	Settings map[string]struct {
		Fields []struct{ Name, Regex string }
	} `yaml:"settings"`
	OnInstall   []any            `yaml:"onInstall"`
	OnUninstall any              `yaml:"onUninstall"`
	Buttons     []map[string]any `yaml:"buttons"`
	Actions     map[string]any   `yaml:"actions"`
}

func loadManifest(t *testing.T) (manifest, map[string]any) {
	t.Helper()
	data, err := os.ReadFile("manifest.jps")
	require.NoError(t, err)
	var m manifest
	require.NoError(t, yaml.Unmarshal(data, &m), "manifest.jps is not valid YAML")
	var raw map[string]any
	require.NoError(t, yaml.Unmarshal(data, &raw))
	return m, raw
}

// shellBlocks returns every command a cmd action of the manifest runs, by where it is.
func shellBlocks(node any, where string, out map[string]string) {
	switch v := node.(type) {
	case map[string]any:
		for k, child := range v {
			if s, ok := child.(string); ok && strings.HasPrefix(k, "cmd[") {
				out[where+"/"+k] = s
				continue
			}
			shellBlocks(child, where+"/"+k, out)
		}
	case []any:
		for i, child := range v {
			shellBlocks(child, where+"/"+strconv.Itoa(i), out)
		}
	}
}

// placeholders stands in for what the platform substitutes before a command runs.
var placeholders = regexp.MustCompile(`\$\{(globals|settings)\.[A-Za-z]+\}`)

func TestManifest(t *testing.T) {
	m, raw := loadManifest(t)
	require.Equal(t, "update", m.Type)
	require.NotEmpty(t, m.JPSVersion)
	require.Equal(t, "FTP/FTPS (jelastic-ftp)", m.Name)
	for _, group := range []string{"cp", "sqldb"} {
		require.Contains(t, m.TargetNodes.NodeGroup, group, "the add-on must offer app servers and databases")
	}
	require.NotEmpty(t, m.OnInstall)
	require.NotEmpty(t, m.OnUninstall)
	require.Regexp(t, `^\d+\.\d+\.\d+$`, m.Globals["version"])
	require.Contains(t, m.Globals["release"], m.Globals["version"], "globals.release must be the release of globals.version")

	t.Run("buttons name actions and forms that exist", func(t *testing.T) {
		var captions []string
		for _, b := range m.Buttons {
			captions = append(captions, b["caption"].(string))
		}
		require.Equal(t, []string{"Reset password", "Add user", "Disable user", "Enable user", "Delete user"}, captions)
		for _, b := range m.Buttons {
			action, _ := b["action"].(string)
			require.Contains(t, m.Actions, action, "button %v", b["caption"])
			if form, ok := b["settings"].(string); ok {
				require.Contains(t, m.Settings, form, "button %v", b["caption"])
			}
		}
	})

	t.Run("custom actions called by name exist", func(t *testing.T) {
		var steps []any
		steps = append(steps, m.OnInstall...)
		for _, a := range m.Actions {
			if list, ok := a.([]any); ok {
				steps = append(steps, list...)
			}
		}
		called := 0
		for _, step := range steps {
			switch s := step.(type) {
			case string:
				require.Contains(t, m.Actions, s)
				called++
			case map[string]any:
				for k := range s {
					if strings.HasPrefix(k, "cmd[") || slices.Contains([]string{"script", "params", "user", "sayYes"}, k) {
						continue
					}
					require.Contains(t, m.Actions, k, "step %v", s)
					called++
				}
			}
		}
		require.GreaterOrEqual(t, called, 4)
	})

	t.Run("the form's checks are the ones the server side repeats", func(t *testing.T) {
		actions := raw["actions"].(map[string]any)
		for form, script := range map[string]string{
			"addUser":  actions["addUser"].([]any)[0].(map[string]any)["script"].(string),
			"pickUser": actions["onEveryNode"].(map[string]any)["script"].(string),
		} {
			for _, f := range m.Settings[form].Fields {
				require.NotEmpty(t, f.Regex, "field %s", f.Name)
				require.Contains(t, script, "/"+strings.ReplaceAll(f.Regex, "/", `\/`)+"/.test("+f.Name+")", "form %s, field %s", form, f.Name)
			}
		}
	})

	t.Run("the user buttons run ftpctl user on every node", func(t *testing.T) {
		actions := raw["actions"].(map[string]any)
		for action, args := range map[string]string{"disableUser": "mod --disable", "enableUser": "mod --enable", "deleteUser": "del"} {
			call := actions[action].(map[string]any)["onEveryNode"].(map[string]any)
			require.Equal(t, args, call["args"], action)
			require.Equal(t, "${settings.name}", call["name"], action)
		}
		script := actions["onEveryNode"].(map[string]any)["script"].(string)
		require.Contains(t, script, `"ftpctl user " + verb[0] + " '" + name + "'"`)
		require.Contains(t, script, `if (node.nodeGroup != group) continue;`, "every node of the layer")
	})

	t.Run("shell commands parse", func(t *testing.T) {
		blocks := map[string]string{}
		shellBlocks(raw, "", blocks)
		require.GreaterOrEqual(t, len(blocks), 5)
		for where, script := range blocks {
			require.NotContains(t, placeholders.ReplaceAllString(script, "x"), "${", "%s: ${...} is a platform placeholder; write shell variables without braces", where)
			out, err := exec.Command("sh", "-n", "-c", placeholders.ReplaceAllString(script, "x")).CombinedOutput()
			require.NoError(t, err, "%s: %s", where, out)
		}
	})
}

func TestUnitHardening(t *testing.T) {
	analyze := testtool.Require(t, "systemd-analyze")
	// --threshold is the exposure level times ten: 3.0 and below is rated "OK".
	out, err := exec.Command(analyze, "security", "--offline=true", "--threshold=30", "jelastic-ftp.service").CombinedOutput()
	require.NoError(t, err, "the unit's exposure level rose above 3.0:\n%s", out)
	require.Contains(t, string(out), "Overall exposure level for jelastic-ftp.service")
}

// TestUnitStopTimeout: systemd waits for the monitor's shutdown grace before it kills.
func TestUnitStopTimeout(t *testing.T) {
	m := regexp.MustCompile(`(?m)^TimeoutStopSec=(\d+)s$`).FindSubmatch(Unit)
	require.NotNil(t, m, "the unit sets TimeoutStopSec in seconds")
	sec, err := strconv.Atoi(string(m[1]))
	require.NoError(t, err)
	require.Greater(t, time.Duration(sec)*time.Second, privsep.ShutdownGrace+5*time.Second,
		"TimeoutStopSec must outlast the shutdown grace and the monitor's wait for its worker")
}

// TestMaintainerScripts runs the scripts nfpm puts in the packages with a systemctl
// that only records its arguments, with and without a running systemd.
func TestMaintainerScripts(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the scripts look for /run/systemd/system, replaced in a private mount namespace")
	}
	unshare := testtool.Require(t, "unshare")
	const (
		reload  = "daemon-reload"
		restart = "try-restart jelastic-ftp.service"
		stop    = "stop jelastic-ftp.socket jelastic-ftp.service"
		disable = "--no-reload disable jelastic-ftp.socket jelastic-ftp.service"
	)
	tests := []struct {
		script  string
		args    []string
		systemd bool
		want    []string
	}{
		{"postinstall", []string{"configure", ""}, true, []string{reload}},
		{"postinstall", []string{"configure", "0.9.0-1"}, true, []string{reload, restart}},
		{"postinstall", []string{"1"}, true, []string{reload}},
		{"postinstall", []string{"2"}, true, []string{reload, restart}},
		{"postinstall", []string{"configure", "0.9.0-1"}, false, nil},
		{"preremove", []string{"remove"}, true, []string{stop, disable}},
		{"preremove", []string{"upgrade", "1.0.0-1"}, true, nil},
		{"preremove", []string{"0"}, true, []string{stop, disable}},
		{"preremove", []string{"1"}, true, nil},
		{"preremove", []string{"remove"}, false, []string{disable}},
		{"postremove", []string{"remove"}, true, []string{reload}},
		{"postremove", []string{"0"}, false, nil},
	}
	for _, tt := range tests {
		mode := "without systemd"
		if tt.systemd {
			mode = "with systemd"
		}
		t.Run(tt.script+" "+strings.Join(tt.args, " ")+" "+mode, func(t *testing.T) {
			dir := t.TempDir()
			calls := filepath.Join(dir, "calls")
			stub := "#!/bin/sh\necho \"$*\" >>" + calls + "\n"
			require.NoError(t, os.WriteFile(filepath.Join(dir, "systemctl"), []byte(stub), 0o755))
			script, err := filepath.Abs(filepath.Join("scripts", tt.script+".sh"))
			require.NoError(t, err)
			setup := "mount -t tmpfs tmpfs /run"
			if tt.systemd {
				setup += " && mkdir -p /run/systemd/system"
			}
			cmd := exec.Command(unshare, append([]string{"--mount", "--propagation", "private", "--", "sh", "-c",
				setup + ` && exec sh "$0" "$@"`, script}, tt.args...)...)
			cmd.Env = append(os.Environ(), "PATH="+dir+":"+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			got, err := os.ReadFile(calls)
			if os.IsNotExist(err) {
				got, err = nil, nil
			}
			require.NoError(t, err)
			var lines []string
			if s := strings.TrimSpace(string(got)); s != "" {
				lines = strings.Split(s, "\n")
			}
			require.Equal(t, tt.want, lines)
		})
	}
}

// built is what one run of scripts/package.sh produced, shared by the tests below.
var built struct {
	once     sync.Once
	dist     string
	deb, rpm string
	err      error
	output   string
}

// buildPackages runs scripts/package.sh once, with the version the manifest downloads.
func buildPackages(t *testing.T) (dist, deb, rpm string) {
	t.Helper()
	if testing.Short() {
		t.Skip("building the packages takes seconds to minutes; not with -short")
	}
	testtool.Require(t, "gzip")
	m, _ := loadManifest(t)
	built.once.Do(func() {
		built.dist, built.err = os.MkdirTemp("", "jftp-dist")
		if built.err != nil {
			return
		}
		cmd := exec.Command("scripts/package.sh")
		cmd.Dir = repoRoot
		cmd.Env = append(os.Environ(), "DIST="+built.dist, "VERSION="+m.Globals["version"])
		out, err := cmd.CombinedOutput()
		built.output, built.err = string(out), err
		for _, line := range strings.Split(strings.TrimSpace(built.output), "\n") {
			switch {
			case strings.HasSuffix(line, ".deb"):
				built.deb = line
			case strings.HasSuffix(line, ".rpm"):
				built.rpm = line
			}
		}
	})
	require.NoError(t, built.err, "scripts/package.sh:\n%s", built.output)
	require.FileExists(t, built.deb, "scripts/package.sh:\n%s", built.output)
	require.FileExists(t, built.rpm, "scripts/package.sh:\n%s", built.output)
	return built.dist, built.deb, built.rpm
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dist != "" {
		os.RemoveAll(built.dist)
	}
	os.Exit(code)
}

// shipped is what both packages must hold, by path in the .deb.
var shipped = []string{
	"/usr/bin/ftpctl",
	"/lib/systemd/system/jelastic-ftp.service",
	"/lib/systemd/system/jelastic-ftp.socket",
	"/usr/share/man/man1/ftpctl.1.gz",
	"/usr/share/man/man1/ftpctl-serve.1.gz",
	"/usr/share/man/man1/ftpctl-install.1.gz",
	"/usr/share/man/man1/ftpctl-user-add.1.gz",
	"/usr/share/bash-completion/completions/ftpctl",
	"/usr/share/zsh/vendor-completions/_ftpctl",
	"/usr/share/fish/vendor_completions.d/ftpctl.fish",
	"/usr/share/doc/jelastic-ftp/ftpd.toml.example",
	"/usr/share/doc/jelastic-ftp/copyright",
	"/etc/fail2ban/filter.d/jelastic-ftp.conf",
	"/etc/fail2ban/jail.d/jelastic-ftp.conf",
}

func run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	require.NoError(t, err, "%s %v: %s", name, args, out)
	return string(out)
}

func TestDebianPackage(t *testing.T) {
	dpkgDeb := testtool.Require(t, "dpkg-deb")
	dist, deb, _ := buildPackages(t)

	listing := run(t, dpkgDeb, "-c", deb)
	for _, path := range shipped {
		require.Regexp(t, `(?m) \.`+regexp.QuoteMeta(path)+`$`, listing)
	}
	require.Regexp(t, `(?m)^-rwxr-xr-x root/root .* \./usr/bin/ftpctl$`, listing)
	for _, hidden := range []string{"ftpctl-worker", "ftpctl-gen-docs", "ftpctl-help"} {
		require.NotContains(t, listing, hidden, "hidden commands get no manual page")
	}

	info := run(t, dpkgDeb, "-I", deb)
	for _, field := range []string{"Package: jelastic-ftp", "Architecture: " + goarch(t), "Recommends: sudo"} {
		require.Contains(t, info, field)
	}

	ctrl := t.TempDir()
	run(t, dpkgDeb, "-e", deb, ctrl)
	for control, script := range map[string]string{"postinst": "postinstall", "prerm": "preremove", "postrm": "postremove"} {
		want, err := os.ReadFile(filepath.Join("scripts", script+".sh"))
		require.NoError(t, err)
		got, err := os.ReadFile(filepath.Join(ctrl, control))
		require.NoError(t, err, "the package has no %s", control)
		require.Equal(t, string(want), string(got), "%s is not scripts/%s.sh", control, script)
	}

	root := t.TempDir()
	run(t, dpkgDeb, "-x", deb, root)
	bin := filepath.Join(root, "usr/bin/ftpctl")

	t.Run("the binary knows the package's version", func(t *testing.T) {
		version := strings.TrimSpace(run(t, dpkgDeb, "-f", deb, "Version"))
		got := strings.TrimSpace(run(t, bin, "--version"))
		require.True(t, strings.HasPrefix(version, strings.TrimPrefix(got, "ftpctl ")+"-"), "package %s, binary %q", version, got)
	})

	t.Run("the binary is static", func(t *testing.T) {
		f, err := elf.Open(bin)
		require.NoError(t, err)
		defer f.Close()
		for _, p := range f.Progs {
			require.NotEqual(t, elf.PT_INTERP, p.Type, "ftpctl needs a dynamic loader; build it with CGO_ENABLED=0")
		}
		require.Contains(t, run(t, bin, "--help"), "ftpctl")
	})

	t.Run("dpkg installs and removes it in a throw-away root", func(t *testing.T) {
		dpkg := testtool.Require(t, "dpkg")
		if os.Geteuid() != 0 {
			t.Skip("dpkg --root needs root")
		}
		target := t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(target, "var/lib/dpkg/info"), 0o755))
		require.NoError(t, os.MkdirAll(filepath.Join(target, "var/lib/dpkg/updates"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(target, "var/lib/dpkg/status"), nil, 0o644))
		// The maintainer scripts run outside the throw-away root and see DPKG_ROOT,
		// which keeps them away from the machine's own systemd.
		dpkgIn := []string{"--root=" + target, "--force-script-chrootless", "--log=/dev/null"}
		run(t, dpkg, append(dpkgIn, "-i", deb)...)
		for _, f := range []string{"usr/bin/ftpctl", "lib/systemd/system/jelastic-ftp.service", "usr/share/man/man1/ftpctl.1.gz"} {
			require.FileExists(t, filepath.Join(target, f))
		}
		require.Contains(t, run(t, dpkg, "--root="+target, "-s", "jelastic-ftp"), "Status: install ok installed")
		run(t, dpkg, append(dpkgIn, "-r", "jelastic-ftp")...)
		require.NoFileExists(t, filepath.Join(target, "usr/bin/ftpctl"))
		require.NoFileExists(t, filepath.Join(target, "lib/systemd/system/jelastic-ftp.service"))
	})

	t.Run("the example settings are the defaults", func(t *testing.T) {
		cfg, err := config.Load(filepath.Join(root, "usr/share/doc/jelastic-ftp/ftpd.toml.example"))
		require.NoError(t, err)
		require.Equal(t, config.Default(), cfg)
	})

	t.Run("the manifest's ftpctl commands exist", func(t *testing.T) {
		data, err := os.ReadFile("manifest.jps")
		require.NoError(t, err)
		tests := []struct {
			text    string
			command []string
			flags   []string
		}{
			{`"ftpctl install" + (String(keepPasswords) == "true" ? "" : " --reset-password") + " --password-stdin --json"`, []string{"install"}, []string{"--reset-password", "--password-stdin", "--json"}},
			{"ftpctl uninstall", []string{"uninstall"}, nil},
			{`"ftpctl user add '" + name + "'" + (home ? " --home '" + home + "'" : "") + " --password-stdin --json"`, []string{"user", "add"}, []string{"--home", "--password-stdin", "--json"}},
			{"ftpctl state export | base64 -w0", []string{"state", "export"}, nil},
			{"base64 -d | ftpctl state import", []string{"state", "import"}, nil},
			{`ftpctl state import <"$copy"`, []string{"state", "import"}, nil},
			{"ftpctl state save", []string{"state", "save"}, nil},
		}
		for _, tt := range tests {
			require.Contains(t, string(data), tt.text)
			help := run(t, bin, append(tt.command, "--help")...)
			for _, flag := range tt.flags {
				require.Contains(t, help, flag+" ", "ftpctl %s has no %s", strings.Join(tt.command, " "), flag)
			}
		}
	})

	t.Run("systemd-analyze verify", func(t *testing.T) {
		analyze := testtool.Require(t, "systemd-analyze")
		testtool.Require(t, "man")
		units := t.TempDir()
		for _, name := range []string{"jelastic-ftp.service", "jelastic-ftp.socket"} {
			data, err := os.ReadFile(filepath.Join(root, "lib/systemd/system", name))
			require.NoError(t, err)
			// verify wants ExecStart= to exist; the package's own binary stands in.
			data = bytes.ReplaceAll(data, []byte("/usr/bin/ftpctl"), []byte(bin))
			require.NoError(t, os.WriteFile(filepath.Join(units, name), data, 0o644))
		}
		cmd := exec.Command(analyze, "verify", filepath.Join(units, "jelastic-ftp.service"), filepath.Join(units, "jelastic-ftp.socket"))
		// Documentation= names man pages; verify looks them up among the package's.
		cmd.Env = append(os.Environ(), "MANPATH="+filepath.Join(root, "usr/share/man"))
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s", out)
		require.NotContains(t, string(out), "jelastic-ftp")
	})

	t.Run("the manifest installs the package it names", func(t *testing.T) {
		testtool.Require(t, "curl")
		testtool.Require(t, "sha256sum")
		m, raw := loadManifest(t)
		script := raw["actions"].(map[string]any)["installPackage"].(map[string]any)["cmd[${this.nodes}]"].(string)
		srv := httptest.NewServer(http.FileServer(http.Dir(dist)))
		defer srv.Close()
		script = strings.NewReplacer("${globals.release}", srv.URL, "${globals.version}", m.Globals["version"]).Replace(script)

		// dpkg and rpm are stand-ins that keep the file they were given.
		stubs := t.TempDir()
		got := filepath.Join(stubs, "installed")
		for _, tool := range []string{"dpkg", "rpm"} {
			stub := "#!/bin/sh\nfor a; do f=$a; done\ncp \"$f\" " + got + "\n"
			require.NoError(t, os.WriteFile(filepath.Join(stubs, tool), []byte(stub), 0o755))
		}
		runScript := func() ([]byte, error) {
			cmd := exec.Command("sh", "-c", script)
			cmd.Env = append(os.Environ(), "PATH="+stubs+":"+os.Getenv("PATH"))
			return cmd.CombinedOutput()
		}
		out, err := runScript()
		require.NoError(t, err, "%s", out)
		installed, err := os.ReadFile(got)
		require.NoError(t, err)
		want := deb
		if _, err := os.Stat("/etc/debian_version"); err != nil {
			want = built.rpm
		}
		wantData, err := os.ReadFile(want)
		require.NoError(t, err)
		require.True(t, bytes.Equal(wantData, installed), "the manifest installed something other than %s", want)

		// A package that does not match SHA256SUMS is never installed.
		require.NoError(t, os.Remove(got))
		sums := filepath.Join(dist, "SHA256SUMS")
		orig, err := os.ReadFile(sums)
		require.NoError(t, err)
		t.Cleanup(func() { os.WriteFile(sums, orig, 0o644) })
		tampered := regexp.MustCompile(`(?m)^[0-9a-f]{64}`).ReplaceAll(orig, bytes.Repeat([]byte("0"), 64))
		require.NoError(t, os.WriteFile(sums, tampered, 0o644))
		out, err = runScript()
		require.Error(t, err, "a package with a wrong checksum was accepted: %s", out)
		require.NoFileExists(t, got)
	})
}

func TestRPMPackage(t *testing.T) {
	rpmTool := testtool.Require(t, "rpm")
	_, _, rpm := buildPackages(t)
	files := run(t, rpmTool, "-qlp", rpm)
	for _, path := range shipped {
		switch {
		case strings.HasPrefix(path, "/lib/systemd/"):
			path = "/usr" + path
		case strings.HasPrefix(path, "/usr/share/zsh/"):
			path = "/usr/share/zsh/site-functions/_ftpctl"
		}
		require.Regexp(t, `(?m)^`+regexp.QuoteMeta(path)+`$`, files)
	}
	require.Equal(t, "MIT", run(t, rpmTool, "-qp", "--queryformat", "%{LICENSE}", rpm))
	scripts := run(t, rpmTool, "-qp", "--scripts", rpm)
	for _, s := range []string{"postinstall scriptlet", "preuninstall scriptlet", "postuninstall scriptlet", "try-restart jelastic-ftp.service"} {
		require.Contains(t, scripts, s)
	}
}

// goarch is the Debian architecture scripts/package.sh builds for by default.
func goarch(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOARCH").Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}
