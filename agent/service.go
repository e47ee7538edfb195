package agent

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/internal/atomicfile"
	"github.com/jelastic/jelastic-ftp/internal/privsep"
	"github.com/jelastic/jelastic-ftp/monitor"
	"github.com/jelastic/jelastic-ftp/packaging"
	"github.com/jelastic/jelastic-ftp/users"
)

// unitMarker identifies a unit file or drop-in install wrote, which uninstall may remove.
const unitMarker = `# Written by "ftpctl install"`

// ownHeader opens every unit file and drop-in install writes.
const ownHeader = unitMarker + `; "ftpctl uninstall" removes it.` + "\n"

// renderUnit is the packaged, hardened unit, run from where the binary really is.
func renderUnit(exe, configPath string) ([]byte, error) {
	for _, p := range []string{exe, configPath} {
		if strings.ContainsAny(p, " \t\n\"'\\%$;") {
			return nil, fmt.Errorf("the path %q cannot go into a systemd unit as it is; install ftpctl and its settings under plain paths", p)
		}
	}
	if !bytes.Contains(packaging.Unit, []byte(packaging.UnitExecStart+"\n")) {
		return nil, errors.New("the embedded unit has no " + packaging.UnitExecStart + " line")
	}
	start := fmt.Sprintf("ExecStart=%s serve --config %s", exe, configPath)
	unit := bytes.Replace(packaging.Unit, []byte(packaging.UnitExecStart), []byte(start), 1)
	return append([]byte(ownHeader), unit...), nil
}

// unitPath escapes a path for a unit file the way systemd-escape --path would for
// the few bytes that matter: white space, quotes, backslash and the specifier '%'.
func unitPath(p string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '%':
			b.WriteString("%%")
		case c <= ' ' || c == '"' || c == '\'' || c == '\\' || c >= 0x7f:
			fmt.Fprintf(&b, "\\x%02x", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// rootDropIn opens the FTP root to the service when the unit's ProtectSystem=strict or
// ProtectHome=tmpfs would hide it; nil when the unit already allows it.
func rootDropIn(unit []byte, root string) []byte {
	if root == "" {
		return nil
	}
	for _, line := range strings.Split(string(unit), "\n") {
		key, value, ok := strings.Cut(line, "=")
		if !ok || key != "ReadWritePaths" && key != "BindPaths" {
			continue
		}
		for _, p := range strings.Fields(value) {
			if users.Within(root, filepath.Clean(strings.TrimPrefix(p, "-"))) {
				return nil
			}
		}
	}
	key := "ReadWritePaths"
	if users.Within(root, "/home") || users.Within(root, "/root") || users.Within(root, "/run/user") {
		key = "BindPaths" // ProtectHome=tmpfs hides these; a bind mount brings the root back
	}
	return fmt.Appendf(nil, "%s[Service]\n%s=%s\n", ownHeader, key, unitPath(root))
}

func (l *Lifecycle) ensureService(ctx context.Context, req InstallRequest, p *installPlan, configChanged, certChanged bool) (string, error) {
	if l.Layout.Systemd() {
		return l.ensureSystemdService(ctx, req, p, configChanged, certChanged)
	}
	pid, running := l.ServicePID()
	switch {
	case req.NoStart && running:
		return fmt.Sprintf("--no-start: ftpctl serve (PID %d) was left as it was", pid), nil
	case req.NoStart:
		return "--no-start: the service was not started; start it with `ftpctl install`", nil
	case running && (configChanged || binaryReplaced(pid)):
		why := "the new settings"
		if !configChanged {
			why = "the new ftpctl binary"
		}
		if err := stopProcess(pid); err != nil {
			return "", err
		}
		newPID, err := l.startDetached(p)
		if err != nil {
			return "", err
		}
		return fmt.Sprintf("no systemd: restarted ftpctl serve for %s (PID %d); it will not restart after a reboot — add `ftpctl install` to the container's start script", why, newPID), nil
	case running && certChanged:
		if err := syscall.Kill(pid, syscall.SIGHUP); err != nil {
			return "", fmt.Errorf("tell ftpctl serve (PID %d) to load the new certificate: %w", pid, err)
		}
		return fmt.Sprintf("ftpctl serve (PID %d) reloads the new certificate", pid), nil
	case running:
		return fmt.Sprintf("ftpctl serve is running (PID %d)", pid), nil
	}
	newPID, err := l.startDetached(p)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("no systemd: started ftpctl serve (PID %d); it will not restart after a reboot — add `ftpctl install` to the container's start script", newPID), nil
}

func (l *Lifecycle) ensureSystemdService(ctx context.Context, req InstallRequest, p *installPlan, configChanged, certChanged bool) (string, error) {
	unitChanged := false
	unit, err := os.ReadFile(l.Layout.PackagedUnit)
	if err != nil {
		if unit, err = renderUnit(p.exe, l.Admin.ConfigPath); err != nil {
			return "", err
		}
		if unitChanged, err = writeIfChanged(l.Layout.unitFile(), unit); err != nil {
			return "", err
		}
	}
	dropIn := rootDropIn(unit, p.cfg.Root)
	if dropIn == nil {
		changed, err := removeOwn(l.Layout.rootDropIn())
		if err != nil {
			return "", err
		}
		unitChanged = unitChanged || changed
	} else {
		changed, err := writeIfChanged(l.Layout.rootDropIn(), dropIn)
		if err != nil {
			return "", err
		}
		unitChanged = unitChanged || changed
	}
	// A node switched to on demand stays so when install runs again without the flag
	// (the platform's events and state import do), until its socket is disabled.
	onDemand := req.OnDemand || l.Systemctl(ctx, "is-enabled", "--quiet", socketUnit) == nil
	if onDemand {
		changed, err := l.ensureSocketUnits(p.cfg)
		if err != nil {
			return "", err
		}
		unitChanged = unitChanged || changed
	}
	if unitChanged {
		if err := l.Systemctl(ctx, "daemon-reload"); err != nil {
			return "", err
		}
	}
	switch {
	case req.NoStart && onDemand:
		return "--no-start: the systemd units are in place but nothing was enabled or started; run `systemctl enable --now " + socketUnit + "`", nil
	case req.NoStart:
		return "--no-start: the systemd unit " + ServiceName + " is in place but was neither enabled nor started; run `systemctl enable --now " + ServiceName + "`", nil
	case onDemand:
		return l.startOnDemand(ctx, configChanged || unitChanged, certChanged)
	}
	wasActive := l.Systemctl(ctx, "is-active", "--quiet", ServiceName) == nil
	if err := l.Systemctl(ctx, "enable", "--now", ServiceName); err != nil {
		return "", err
	}
	switch {
	case !wasActive:
		return "systemd: enabled and started " + ServiceName, nil
	case configChanged || unitChanged:
		if err := l.Systemctl(ctx, "restart", ServiceName); err != nil {
			return "", err
		}
		return "systemd: restarted " + ServiceName + " for the new settings", nil
	case certChanged:
		if err := l.Systemctl(ctx, "reload-or-restart", ServiceName); err != nil {
			return "", err
		}
		return "systemd: " + ServiceName + " reloads the new certificate", nil
	}
	return "systemd: " + ServiceName + " is running", nil
}

// writeIfChanged writes a unit file or drop-in unless it already holds data.
func writeIfChanged(path string, data []byte) (bool, error) {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return false, nil
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return false, fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	return true, atomicfile.Write(path, data, 0o644)
}

// removeOwn removes a unit file or drop-in that install wrote, and nothing else.
func removeOwn(path string) (bool, error) {
	own, err := os.ReadFile(path)
	if err != nil || !bytes.HasPrefix(own, []byte(unitMarker)) {
		return false, nil
	}
	if err := os.Remove(path); err != nil {
		return false, fmt.Errorf("remove %s: %w", path, err)
	}
	os.Remove(filepath.Dir(path)) // the drop-in folder, when it is empty now
	return true, nil
}

// startDetached runs `ftpctl serve` in a session of its own, so that it outlives the
// installing shell, with its output in the log file, and waits until it greets clients.
func (l *Lifecycle) startDetached(p *installPlan) (int, error) {
	if err := os.MkdirAll(l.Layout.LogDir, 0o750); err != nil {
		return 0, fmt.Errorf("create %s: %w", l.Layout.LogDir, err)
	}
	logf, err := os.OpenFile(l.Layout.LogFile(), os.O_WRONLY|os.O_APPEND|os.O_CREATE|syscall.O_NOFOLLOW, 0o640)
	if err != nil {
		return 0, fmt.Errorf("open the service log: %w", err)
	}
	defer logf.Close()
	logStart, _ := logf.Seek(0, io.SeekEnd)

	cmd := exec.Command(p.exe, "serve", "--config", l.Admin.ConfigPath)
	cmd.Args[0] = "ftpctl" // what ServicePID recognises, whatever the binary's file name
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Dir = "/"
	// A clean environment: nothing like LISTEN_FDS or NOTIFY_SOCKET from whatever ran
	// install may reach the service.
	cmd.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		monitor.RunDirEnv + "=" + filepath.Join(l.Layout.RunDir, ServiceName),
		// The bans (systemd's variable) and the last logins and state copy (ours) go
		// to the one state folder install used, as under systemd.
		monitor.StateDirEnv + "=" + l.Layout.StateDir,
		config.StateDirEnv + "=" + l.Layout.StateDir,
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	// Nothing install's caller left open reaches the service.
	if err := privsep.CloseInherited(); err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start ftpctl serve: %w", err)
	}
	pid := cmd.Process.Pid
	exited := make(chan struct{})
	go func() {
		cmd.Wait()
		close(exited)
	}()
	fail := func(err error) (int, error) {
		cmd.Process.Kill()
		os.Remove(l.Layout.PIDFile())
		return 0, err
	}
	if err := os.MkdirAll(l.Layout.RunDir, 0o755); err != nil {
		return fail(fmt.Errorf("create %s: %w", l.Layout.RunDir, err))
	}
	if err := atomicfile.Write(l.Layout.PIDFile(), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return fail(err)
	}
	addr := dialAddr(p.cfg.Listen)
	deadline := time.Now().Add(readyTimeout)
	for !Greets(addr) {
		select {
		case <-exited:
			return fail(fmt.Errorf("ftpctl serve stopped at once: %s (the log is %s)", lastLogLine(l.Layout.LogFile(), logStart), l.Layout.LogFile()))
		case <-time.After(50 * time.Millisecond): // polling the port: nothing else says it is ready
		}
		if time.Now().After(deadline) {
			return fail(fmt.Errorf("ftpctl serve did not answer on %s within %s; see %s", addr, readyTimeout, l.Layout.LogFile()))
		}
	}
	return pid, nil
}

// dialAddr is where to reach a server listening on listen from this host.
func dialAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	ip, err := netip.ParseAddr(host)
	switch {
	case host == "" || err == nil && ip.Is4() && ip.IsUnspecified():
		host = "127.0.0.1"
	case err == nil && ip.IsUnspecified():
		host = "::1"
	}
	return net.JoinHostPort(host, port)
}

// Greets reports whether an FTP server at addr sends its 220 greeting.
func Greets(addr string) bool {
	conn, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return false
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "220") {
		return false
	}
	_, _ = conn.Write([]byte("QUIT\r\n"))
	return true
}

// lastLogLine is the service's last words after offset: its error, when it failed.
func lastLogLine(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return "no log"
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return "no log"
	}
	data, _ := io.ReadAll(io.LimitReader(f, 1<<20))
	last := "no output"
	for line := range strings.Lines(string(data)) {
		if line = strings.TrimSpace(line); line != "" {
			last = line
		}
	}
	if len(last) > 400 {
		last = last[:400] + "…"
	}
	return last
}

// ServicePID returns the PID of the service started without systemd, when the PID
// file names a live `ftpctl serve`.
func (l *Lifecycle) ServicePID() (int, bool) {
	data, err := os.ReadFile(l.Layout.PIDFile())
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid <= 1 {
		return 0, false
	}
	return pid, isServe(pid)
}

// isServe checks that pid is a live `ftpctl serve`: a PID file can outlive its
// process, and the number may since belong to anything else.
func isServe(pid int) bool {
	if !alive(pid) {
		return false
	}
	cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(cmdline), "\x00")
	return len(args) >= 2 && filepath.Base(args[0]) == "ftpctl" && args[1] == "serve"
}

// alive reports whether pid runs; a zombie has stopped serving, whoever reaps it.
func alive(pid int) bool {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// "pid (comm) state ..."; comm may contain spaces and parentheses.
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return false
	}
	state := stat[i+2]
	return state != 'Z' && state != 'X'
}

// binaryReplaced reports whether pid runs a binary file that has since been replaced,
// as by an upgrade: such a service must be restarted to run the new code.
func binaryReplaced(pid int) bool {
	exe, err := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return err == nil && strings.HasSuffix(exe, " (deleted)")
}

// stopProcess ends the service with SIGTERM, which lets running transfers finish, and
// SIGKILL when that takes too long.
func stopProcess(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("stop ftpctl serve (PID %d): %w", pid, err)
	}
	if waitExit(pid, stopTimeout) {
		return nil
	}
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("kill ftpctl serve (PID %d): %w", pid, err)
	}
	if waitExit(pid, 5*time.Second) {
		return nil
	}
	return fmt.Errorf("ftpctl serve (PID %d) does not stop, even after SIGKILL", pid)
}

func waitExit(pid int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for alive(pid) {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond) // not our child: /proc is all there is to watch
	}
	return true
}
