package agent

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/internal/selfsigned"
	"github.com/jelastic/jelastic-ftp/packaging"
)

func TestRenewalReason(t *testing.T) {
	now := time.Now()
	certPEM, keyPEM, err := selfsigned.New([]string{"node1"}, selfsigned.Validity)
	require.NoError(t, err)
	otherCert, _, err := selfsigned.New([]string{"node1"}, selfsigned.Validity)
	require.NoError(t, err)
	soonCert, soonKey, err := selfsigned.New([]string{"node1"}, 10*24*time.Hour)
	require.NoError(t, err)
	longCert, longKey, err := selfsigned.New([]string{"node1"}, 10*365*24*time.Hour)
	require.NoError(t, err)
	cases := []struct {
		name          string
		cert, key     []byte
		recorded, now string
		want          string // a part of the reason; "" = keep
	}{
		{"valid and same host", certPEM, keyPEM, "node1", "node1", ""},
		{"none yet", nil, nil, "", "node1", "there was none"},
		{"key missing", certPEM, nil, "node1", "node1", "there was none"},
		{"not a pair", otherCert, keyPEM, "node1", "node1", "do not form a pair"},
		{"garbage", []byte("junk"), []byte("junk"), "node1", "node1", "do not form a pair"},
		{"cloned node", certPEM, keyPEM, "node1", "node2", "changed from node1"},
		{"host not recorded", certPEM, keyPEM, "", "node1", "not recorded"},
		{"expires soon", soonCert, soonKey, "node1", "node1", "expires on"},
		{"made for ten years", longCert, longKey, "node1", "node1", "longer than a certificate should"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := renewalReason(tc.cert, tc.key, tc.recorded, tc.now, now)
			if tc.want == "" {
				require.Empty(t, got)
			} else {
				require.Contains(t, got, tc.want)
			}
		})
	}
}

func TestParsePortRange(t *testing.T) {
	cases := []struct {
		in   string
		want config.PortRange
		ok   bool
	}{
		{"10100-12000", config.PortRange{First: 10100, Last: 12000}, true},
		{"2000-1000", config.PortRange{First: 2000, Last: 1000}, true}, // ordered by Validate
		{"10100", config.PortRange{}, false},
		{"a-b", config.PortRange{}, false},
		{"1-2-3", config.PortRange{}, false},
		{"", config.PortRange{}, false},
	}
	for _, tc := range cases {
		got, err := parsePortRange(tc.in)
		if !tc.ok {
			require.ErrorIs(t, err, ErrInvalidRequest, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got)
	}
}

func TestDialAddr(t *testing.T) {
	for listen, want := range map[string]string{
		":21":              "127.0.0.1:21",
		"0.0.0.0:2121":     "127.0.0.1:2121",
		"[::]:21":          "[::1]:21",
		"192.0.2.10:21":    "192.0.2.10:21",
		"127.0.0.1:24021":  "127.0.0.1:24021",
		"[2001:db8::1]:21": "[2001:db8::1]:21",
	} {
		require.Equal(t, want, dialAddr(listen), listen)
	}
}

func TestRenderUnit(t *testing.T) {
	unit, err := renderUnit("/usr/local/bin/ftpctl", config.DefaultPath)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(unit), unitMarker))
	require.Contains(t, string(unit), "\nExecStart=/usr/local/bin/ftpctl serve --config /etc/jelastic-ftp/ftpd.toml\n")
	require.Contains(t, string(unit), "\nType=notify\n")

	for _, bad := range []string{"/opt/my ftp/ftpctl", "/usr/bin/ftpctl;rm", "/usr/bin/%n"} {
		_, err := renderUnit(bad, config.DefaultPath)
		require.Error(t, err, bad)
	}
}

// fakeServe starts a process whose command line reads "ftpctl serve": a shell running
// a script file named "serve" that waits for its standard input to close.
func fakeServe(t *testing.T) *exec.Cmd {
	t.Helper()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "serve"), []byte("read line\n"), 0o644))
	r, w, err := os.Pipe()
	require.NoError(t, err)
	cmd := &exec.Cmd{Path: "/bin/sh", Args: []string{"ftpctl", "serve"}, Dir: dir, Stdin: r}
	require.NoError(t, cmd.Start())
	r.Close()
	t.Cleanup(func() {
		w.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	return cmd
}

func TestServicePID(t *testing.T) {
	serve := fakeServe(t)
	dead := exec.Command("true")
	require.NoError(t, dead.Run())
	cases := []struct {
		name    string
		content string // "" = no PID file
		wantOK  bool
	}{
		{"no PID file", "", false},
		{"garbage", "not a number\n", false},
		{"init", "1\n", false},
		{"a process that ended", strconv.Itoa(dead.Process.Pid) + "\n", false},
		{"some other process", strconv.Itoa(os.Getpid()) + "\n", false},
		{"ftpctl serve", strconv.Itoa(serve.Process.Pid) + "\n", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := &Lifecycle{Layout: Layout{RunDir: t.TempDir()}}
			if tc.content != "" {
				require.NoError(t, os.WriteFile(l.Layout.PIDFile(), []byte(tc.content), 0o644))
			}
			pid, ok := l.ServicePID()
			require.Equal(t, tc.wantOK, ok)
			if ok {
				require.Equal(t, serve.Process.Pid, pid)
			}
		})
	}
}

func TestStopProcess(t *testing.T) {
	serve := fakeServe(t)
	pid := serve.Process.Pid
	require.True(t, isServe(pid))
	require.NoError(t, stopProcess(pid))
	// Our own child stays a zombie until reaped, and a zombie no longer serves.
	require.False(t, alive(pid))
	require.False(t, isServe(pid))
}

// fakeSystemctl records the systemctl calls and answers is-active and is-enabled,
// for the service and, apart, for its socket unit.
type fakeSystemctl struct {
	calls   []string
	active  bool
	enabled bool
	// socket is jelastic-ftp.socket's state: active and enabled, or neither.
	socket bool
}

func (f *fakeSystemctl) run(_ context.Context, args ...string) error {
	call := strings.Join(args, " ")
	f.calls = append(f.calls, call)
	active, enabled := &f.active, &f.enabled
	if strings.HasSuffix(call, ".socket") {
		active, enabled = &f.socket, &f.socket
	}
	switch {
	case strings.HasPrefix(call, "is-active"):
		if !*active {
			return errors.New("inactive")
		}
	case strings.HasPrefix(call, "is-enabled"):
		if !*enabled {
			return errors.New("disabled")
		}
	case strings.HasPrefix(call, "enable --now"):
		*active, *enabled = true, true
	case strings.HasPrefix(call, "disable --now"):
		*active, *enabled = false, false
	}
	return nil
}

func systemdLifecycle(t *testing.T) (*Lifecycle, *fakeSystemctl) {
	t.Helper()
	base := t.TempDir()
	l := &Lifecycle{
		Admin: &Admin{ConfigPath: config.DefaultPath},
		Layout: Layout{
			StateDir:     filepath.Join(base, "state"),
			LogDir:       filepath.Join(base, "log"),
			RunDir:       filepath.Join(base, "run"),
			UnitDir:      filepath.Join(base, "etc/systemd/system"),
			PackagedUnit: filepath.Join(base, "lib/systemd/system", ServiceName+".service"),
		},
	}
	require.NoError(t, os.MkdirAll(filepath.Join(l.Layout.RunDir, "systemd", "system"), 0o755))
	require.True(t, l.Layout.Systemd())
	fake := &fakeSystemctl{}
	l.Systemctl = fake.run
	return l, fake
}

func TestSystemdService(t *testing.T) {
	plan := &installPlan{exe: "/usr/local/bin/ftpctl", cfg: config.Config{Root: "/var/www/webroot"}}
	cases := []struct {
		name            string
		packaged        bool
		active          bool
		ownUnit         bool // our unit file is already in place
		noStart         bool
		configChanged   bool
		certChanged     bool
		wantCalls       []string
		wantUnitWritten bool
		wantMsg         string
	}{
		{
			name:      "first install",
			wantCalls: []string{"daemon-reload", "is-active --quiet jelastic-ftp", "enable --now jelastic-ftp"},
			wantMsg:   "enabled and started", wantUnitWritten: true,
		},
		{
			name: "nothing changed", active: true, ownUnit: true,
			wantCalls: []string{"is-active --quiet jelastic-ftp", "enable --now jelastic-ftp"},
			wantMsg:   "is running",
		},
		{
			name: "settings changed", active: true, ownUnit: true, configChanged: true,
			wantCalls: []string{"is-active --quiet jelastic-ftp", "enable --now jelastic-ftp", "restart jelastic-ftp"},
			wantMsg:   "restarted",
		},
		{
			name: "new certificate", active: true, ownUnit: true, certChanged: true,
			wantCalls: []string{"is-active --quiet jelastic-ftp", "enable --now jelastic-ftp", "reload-or-restart jelastic-ftp"},
			wantMsg:   "reloads",
		},
		{
			name: "packaged unit", packaged: true,
			wantCalls: []string{"is-active --quiet jelastic-ftp", "enable --now jelastic-ftp"},
			wantMsg:   "enabled and started",
		},
		{
			name: "no start", noStart: true,
			wantCalls: []string{"daemon-reload"},
			wantMsg:   "neither enabled nor started", wantUnitWritten: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, fake := systemdLifecycle(t)
			fake.active, fake.enabled = tc.active, tc.active
			if tc.packaged {
				require.NoError(t, os.MkdirAll(filepath.Dir(l.Layout.PackagedUnit), 0o755))
				require.NoError(t, os.WriteFile(l.Layout.PackagedUnit, packaging.Unit, 0o644))
			}
			if tc.ownUnit {
				unit, err := renderUnit(plan.exe, l.Admin.ConfigPath)
				require.NoError(t, err)
				require.NoError(t, os.MkdirAll(l.Layout.UnitDir, 0o755))
				require.NoError(t, os.WriteFile(l.Layout.unitFile(), unit, 0o644))
			}
			msg, err := l.ensureService(context.Background(), InstallRequest{NoStart: tc.noStart}, plan, tc.configChanged, tc.certChanged)
			require.NoError(t, err)
			require.Contains(t, msg, tc.wantMsg)
			// Without --on-demand, install first asks whether the node is on demand.
			require.Equal(t, append([]string{"is-enabled --quiet jelastic-ftp.socket"}, tc.wantCalls...), fake.calls)
			_, err = os.Stat(l.Layout.unitFile())
			require.Equal(t, tc.wantUnitWritten || tc.ownUnit, err == nil)
		})
	}
}

func TestSystemdOnDemand(t *testing.T) {
	plan := &installPlan{exe: "/usr/local/bin/ftpctl", cfg: config.Config{Root: "/var/www/webroot", Listen: ":21"}}
	// What a node that never had the socket on goes through.
	enableSocket := []string{"daemon-reload", "is-active --quiet jelastic-ftp", "is-active --quiet jelastic-ftp.socket", "is-enabled --quiet jelastic-ftp", "enable --now jelastic-ftp.socket"}
	cases := []struct {
		name           string
		service        bool // jelastic-ftp.service active and enabled, as a plain install leaves it
		socket         bool
		listen         string
		sftp, implicit string
		configChanged  bool
		noStart        bool
		withoutFlag    bool // install runs again without --on-demand, as the platform's events do
		packaged       bool // the package installed jelastic-ftp.socket
		wantCalls      []string
		wantMsg        string
		wantStream     string // the listen drop-in's addresses; "" = no drop-in
	}{
		{
			name:      "first install",
			wantCalls: enableSocket,
			wantMsg:   "enabled jelastic-ftp.socket",
		},
		{
			name: "from a running service, which holds the port", service: true,
			wantCalls: []string{"daemon-reload", "is-active --quiet jelastic-ftp", "is-active --quiet jelastic-ftp.socket", "disable --now jelastic-ftp", "enable --now jelastic-ftp.socket"},
			wantMsg:   "its sessions ended",
		},
		{
			name: "again, the service started by the socket", service: true, socket: true,
			wantCalls: []string{"daemon-reload", "is-active --quiet jelastic-ftp", "is-active --quiet jelastic-ftp.socket", "is-enabled --quiet jelastic-ftp", "disable jelastic-ftp", "enable --now jelastic-ftp.socket", "restart jelastic-ftp"},
			wantMsg:   "restarted jelastic-ftp",
		},
		{
			name: "another address", listen: "127.0.0.1:2121",
			wantCalls:  enableSocket,
			wantMsg:    "enabled jelastic-ftp.socket",
			wantStream: "127.0.0.1:2121",
		},
		{
			name: "another port on every address", listen: ":2121",
			wantCalls:  enableSocket,
			wantMsg:    "enabled jelastic-ftp.socket",
			wantStream: "2121",
		},
		{
			name: "SFTP on its default port", sftp: ":2022",
			wantCalls:  enableSocket,
			wantMsg:    "enabled jelastic-ftp.socket",
			wantStream: "21\nListenStream=2022",
		},
		{
			name: "every port on an address", listen: "127.0.0.1:2121", sftp: "127.0.0.1:2122", implicit: "[::1]:2990",
			wantCalls:  enableSocket,
			wantMsg:    "enabled jelastic-ftp.socket",
			wantStream: "127.0.0.1:2121\nListenStream=127.0.0.1:2122\nListenStream=[::1]:2990",
		},
		{
			name: "no start", noStart: true,
			wantCalls: []string{"daemon-reload"},
			wantMsg:   "nothing was enabled or started",
		},
		{
			name: "again without the flag: the node stays on demand", service: true, socket: true, withoutFlag: true, sftp: ":2022",
			wantCalls:  []string{"is-enabled --quiet jelastic-ftp.socket", "daemon-reload", "is-active --quiet jelastic-ftp", "is-active --quiet jelastic-ftp.socket", "is-enabled --quiet jelastic-ftp", "disable jelastic-ftp", "enable --now jelastic-ftp.socket", "restart jelastic-ftp"},
			wantMsg:    "restarted jelastic-ftp",
			wantStream: "21\nListenStream=2022",
		},
		{
			name: "the package's socket unit", packaged: true,
			wantCalls: enableSocket,
			wantMsg:   "enabled jelastic-ftp.socket",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, fake := systemdLifecycle(t)
			fake.active, fake.enabled, fake.socket = tc.service, tc.service, tc.socket
			if tc.packaged {
				require.NoError(t, os.MkdirAll(filepath.Dir(l.Layout.packagedSocket()), 0o755))
				require.NoError(t, os.WriteFile(l.Layout.packagedSocket(), packaging.Socket, 0o644))
			}
			p := *plan
			if tc.listen != "" {
				p.cfg.Listen = tc.listen
			}
			p.cfg.SFTPListen, p.cfg.ImplicitTLS = tc.sftp, tc.implicit
			msg, err := l.ensureService(context.Background(), InstallRequest{OnDemand: !tc.withoutFlag, NoStart: tc.noStart}, &p, tc.configChanged, false)
			require.NoError(t, err)
			require.Contains(t, msg, tc.wantMsg)
			require.Equal(t, tc.wantCalls, fake.calls)
			if tc.packaged {
				require.NoFileExists(t, l.Layout.socketFile(), "the package's unit serves")
			} else {
				unit, err := os.ReadFile(l.Layout.socketFile())
				require.NoError(t, err, "no package installed the socket unit: install writes it")
				require.Contains(t, string(unit), "ListenStream=21")
			}
			dropIn, err := os.ReadFile(l.Layout.listenDropIn())
			if tc.wantStream == "" {
				require.ErrorIs(t, err, os.ErrNotExist)
			} else {
				require.NoError(t, err)
				require.True(t, strings.HasSuffix(string(dropIn), "[Socket]\nListenStream=\nListenStream="+tc.wantStream+"\n"), "drop-in:\n%s", dropIn)
			}

			// Uninstall takes all of it away.
			require.NoError(t, l.stopService(context.Background(), func(string, ...any) {}))
			for _, f := range []string{l.Layout.socketFile(), l.Layout.listenDropIn(), l.Layout.unitFile()} {
				require.NoFileExists(t, f)
			}
			require.False(t, fake.socket, "the socket is stopped and disabled")
		})
	}
}

func TestOnDemandNeedsSystemd(t *testing.T) {
	l, _ := systemdLifecycle(t)
	require.NoError(t, os.RemoveAll(filepath.Join(l.Layout.RunDir, "systemd")))
	l.Admin.ConfigPath = filepath.Join(t.TempDir(), "ftpd.toml")
	_, err := l.plan(context.Background(), InstallRequest{OnDemand: true, Root: t.TempDir()})
	require.ErrorIs(t, err, ErrInvalidRequest)
	require.EqualError(t, err, "--on-demand needs systemd, which starts the service on a connection; this container has no systemd")
	require.NoFileExists(t, l.Admin.ConfigPath, "nothing written")
}

func TestOnDemandSetsIdleExit(t *testing.T) {
	for _, tc := range []struct {
		name     string
		onDemand bool
		before   time.Duration
		want     time.Duration
	}{
		{"on demand, none set", true, 0, OnDemandIdleExit},
		{"on demand, one set", true, time.Hour, time.Hour},
		{"always running", false, 0, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := config.Default()
			cfg.IdleExit = tc.before
			require.NoError(t, applyFlags(InstallRequest{OnDemand: tc.onDemand}, &cfg))
			require.Equal(t, tc.want, cfg.IdleExit)
		})
	}
}

func TestSystemdStop(t *testing.T) {
	socketGone := []string{"is-active --quiet jelastic-ftp.socket", "is-enabled --quiet jelastic-ftp.socket"}
	cases := []struct {
		name      string
		active    bool
		socket    bool
		ownUnit   bool
		wantCalls []string
		wantDone  int
	}{
		{"running with our unit", true, false, true, append(socketGone, "is-active --quiet jelastic-ftp", "is-enabled --quiet jelastic-ftp", "disable --now jelastic-ftp", "daemon-reload"), 2},
		{"already gone", false, false, false, socketGone, 0},
		{"socket-activated: the socket goes first", true, true, true, []string{"is-active --quiet jelastic-ftp.socket", "disable --now jelastic-ftp.socket", "is-active --quiet jelastic-ftp", "is-enabled --quiet jelastic-ftp", "disable --now jelastic-ftp", "daemon-reload"}, 3},
		{"socket only, service stopped by idle_exit", false, true, true, []string{"is-active --quiet jelastic-ftp.socket", "disable --now jelastic-ftp.socket", "is-active --quiet jelastic-ftp", "is-enabled --quiet jelastic-ftp", "daemon-reload"}, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l, fake := systemdLifecycle(t)
			fake.active, fake.enabled, fake.socket = tc.active, tc.active, tc.socket
			if tc.ownUnit {
				unit, err := renderUnit("/usr/bin/ftpctl", config.DefaultPath)
				require.NoError(t, err)
				require.NoError(t, os.MkdirAll(l.Layout.UnitDir, 0o755))
				require.NoError(t, os.WriteFile(l.Layout.unitFile(), unit, 0o644))
			}
			var done []string
			err := l.stopService(context.Background(), func(f string, a ...any) { done = append(done, f) })
			require.NoError(t, err)
			require.Equal(t, tc.wantCalls, fake.calls)
			require.Len(t, done, tc.wantDone)
			require.NoFileExists(t, l.Layout.unitFile())
		})
	}
}

func TestRootDropIn(t *testing.T) {
	unit, err := renderUnit("/usr/local/bin/ftpctl", "/etc/jelastic-ftp/ftpd.toml")
	require.NoError(t, err)
	require.Contains(t, string(unit), "\nExecStart=/usr/local/bin/ftpctl serve --config /etc/jelastic-ftp/ftpd.toml\n")
	require.True(t, strings.HasPrefix(string(unit), unitMarker))
	require.Contains(t, string(unit), "ProtectSystem=strict", "the unit install writes is the hardened one")
	tests := []struct {
		root, want string
	}{
		{"/var/www/webroot/ROOT", ""},
		{"/var/ftp/webroot", ""},
		{"/opt/tomcat/webapps", ""},
		{"/home/jelastic/ROOT", ""},
		{"/srv/site", "ReadWritePaths=/srv/site"},
		{"/var/wwwx", "ReadWritePaths=/var/wwwx"},
		{"/home/other/site", "BindPaths=/home/other/site"},
		{"/root/site", "BindPaths=/root/site"},
		{"/srv/my site/100%", `ReadWritePaths=/srv/my\x20site/100%%`},
	}
	for _, tt := range tests {
		got := rootDropIn(unit, tt.root)
		if tt.want == "" {
			require.Nil(t, got, tt.root)
			continue
		}
		require.Contains(t, string(got), "\n[Service]\n"+tt.want+"\n", tt.root)
		require.True(t, strings.HasPrefix(string(got), unitMarker), "uninstall must recognise it")
	}
}

func TestSameListen(t *testing.T) {
	cases := []struct {
		a, b string
		want bool
	}{
		{":21", "[::]:21", true},
		{"0.0.0.0:21", "[::]:21", true},
		{":21", "0.0.0.0:21", true},
		{"127.0.0.1:2121", "127.0.0.1:2121", true},
		{"127.0.0.1:2121", "[::ffff:127.0.0.1]:2121", true},
		{":21", "[::]:2121", false},
		{"127.0.0.1:21", "[::]:21", false},
		{":21", "127.0.0.1:21", false},
		{"127.0.0.1:21", "127.0.0.2:21", false},
		{"bad", "[::]:21", false},
	}
	for _, tc := range cases {
		require.Equal(t, tc.want, sameListen(tc.a, tc.b), "%s vs %s", tc.a, tc.b)
	}
}

// TestCheckListensHeldBySystemd: a port that the running service or, while idle_exit
// has stopped it, its socket unit holds is ours; one that something else holds is
// refused with the flag to change.
func TestCheckListensHeldBySystemd(t *testing.T) {
	held, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer held.Close()
	cfg := config.Config{Listen: held.Addr().String()}
	for _, tc := range []struct {
		name            string
		service, socket bool
		wantErr         string
	}{
		{"the service runs", true, false, ""},
		{"the socket holds the ports, the service stopped by idle_exit", false, true, ""},
		{"another program", false, false, "could not listen on " + cfg.Listen},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, fake := systemdLifecycle(t)
			fake.active, fake.socket = tc.service, tc.socket
			err := l.checkListens(context.Background(), cfg)
			if tc.wantErr == "" {
				require.NoError(t, err)
			} else {
				require.ErrorContains(t, err, tc.wantErr)
				require.ErrorContains(t, err, "--listen")
			}
		})
	}
}
