package e2e

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	mrand "math/rand/v2"
	"net"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/agent"

	"github.com/jelastic/jelastic-ftp/internal/admission"
	"github.com/jelastic/jelastic-ftp/internal/testtool"
)

// These tests run the real `ftpctl serve` (the root monitor and its chrooted worker)
// inside each test's private /etc, and drive it with clients written elsewhere: curl
// (OpenSSL), lftp (GnuTLS) and Python's ftplib, plus a raw control connection for what
// no client would send.

const (
	ftpPassword = "Ftp-Secret-42"
	// clientTimeout bounds every client run; the largest transfer takes seconds.
	clientTimeout = 90 * time.Second
	// stopTimeout is how long ftpctl serve may take to exit after SIGTERM.
	stopTimeout = 20 * time.Second
)

// ftpConf maps keys of ftpd.toml, dotted for tables ("limits.ban_after_failures"), to
// values written as TOML ("\"10s\"", "true").
type ftpConf map[string]string

func (c ftpConf) render() string {
	var top []string
	tables := map[string][]string{}
	for _, k := range slices.Sorted(maps.Keys(c)) {
		table, key, dotted := strings.Cut(k, ".")
		if !dotted {
			top = append(top, k+" = "+c[k])
			continue
		}
		tables[table] = append(tables[table], key+" = "+c[k])
	}
	var b strings.Builder
	for _, l := range top {
		b.WriteString(l + "\n")
	}
	for _, table := range slices.Sorted(maps.Keys(tables)) {
		b.WriteString("\n[" + table + "]\n")
		for _, l := range tables[table] {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

// ftpServer is one running `ftpctl serve`.
type ftpServer struct {
	t    *testing.T
	e    *Env
	Port int
	Addr string
	conf ftpConf

	cmd     *exec.Cmd
	log     *testtool.SyncBuffer
	exited  chan struct{}
	waitErr error
	stopped bool // by the test itself, before cleanup
}

// portBlock is how many consecutive ports a server takes: the control port, then its
// passive range.
const portBlock = 32 // rclone opens a dozen passive ports at once

var portMu sync.Mutex

// freePorts finds portBlock consecutive free ports below the kernel's ephemeral range,
// where no client connection can take one of them in the meantime.
func freePorts(t *testing.T) int {
	t.Helper()
	portMu.Lock()
	defer portMu.Unlock()
	const lo, hi = 20000, 32000
	for range 200 {
		base := lo + mrand.IntN((hi-lo)/portBlock)*portBlock
		var held []net.Listener
		ok := true
		for p := base; p < base+portBlock && ok; p++ {
			// Passive listeners may take any address; keep the port free on all.
			l, err := net.Listen("tcp", fmt.Sprintf(":%d", p))
			if err != nil {
				ok = false
				break
			}
			held = append(held, l)
		}
		for _, l := range held {
			l.Close()
		}
		if ok {
			return base
		}
	}
	t.Fatal("no block of free ports found between 20000 and 32000")
	return 0
}

// startFTP writes ftpd.toml (root, a free port on 127.0.0.1, a passive range, and a
// short failed-login delay and no banning unless conf says otherwise), starts ftpctl
// serve and waits for its greeting. The server is stopped, and must exit cleanly, when
// the test ends.
func startFTP(t *testing.T, e *Env, conf ftpConf) *ftpServer {
	t.Helper()
	return startFTPWith(t, e, conf, nil)
}

// startFTPWith is startFTP with a chance to adjust the command (its environment,
// inherited files) before it starts.
func startFTPWith(t *testing.T, e *Env, conf ftpConf, prepare func(s *ftpServer)) *ftpServer {
	t.Helper()
	port := freePorts(t)
	s := &ftpServer{
		t:      t,
		e:      e,
		Port:   port,
		Addr:   fmt.Sprintf("127.0.0.1:%d", port),
		log:    &testtool.SyncBuffer{},
		exited: make(chan struct{}),
	}
	s.conf = ftpConf{
		"root":                      strconv.Quote(e.Root),
		"listen":                    strconv.Quote(s.Addr),
		"passive_ports":             strconv.Quote(fmt.Sprintf("%d-%d", port+1, port+portBlock-1)),
		"limits.failed_login_delay": `"100ms"`,
		"limits.ban_after_failures": "0",
		"sftp_listen":               `""`, // the SFTP tests give it a port of the block
	}
	maps.Copy(s.conf, conf)
	s.writeConfig()

	ctx, cancel := context.WithCancel(context.Background())
	s.cmd = e.Command(ctx, ftpctlBin, "serve")
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	// The worker inherits stderr; should it outlive serve, Wait must not hang on it.
	s.cmd.WaitDelay = 5 * time.Second
	if prepare != nil {
		prepare(s)
	}
	require.NoError(t, s.cmd.Start())
	go func() {
		s.waitErr = s.cmd.Wait()
		close(s.exited)
	}()
	t.Cleanup(func() {
		s.stop()
		cancel()
	})
	s.waitReady()
	return s
}

func (s *ftpServer) writeConfig() {
	s.e.WriteEtc("jelastic-ftp/ftpd.toml", s.conf.render(), 0o644)
}

// PID is the monitor's process: unshare and sh exec into ftpctl.
func (s *ftpServer) PID() int { return s.cmd.Process.Pid }

func (s *ftpServer) Log() string { return s.log.String() }

// URL is a curl URL of path, relative to the login folder.
func (s *ftpServer) URL(path string) string { return "ftp://" + s.Addr + "/" + path }

func (s *ftpServer) running() bool {
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

// waitReady polls until a connection gets the 220 greeting, which needs the worker up.
func (s *ftpServer) waitReady() {
	s.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		if !s.running() {
			s.t.Fatalf("ftpctl serve exited before serving: %v\n%s", s.waitErr, s.Log())
		}
		if agent.Greets(s.Addr) {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("ftpctl serve sent no greeting on %s within 20s\n%s", s.Addr, s.Log())
		}
		select {
		case <-s.exited:
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM and requires serve to exit with status 0, and its worker with it.
func (s *ftpServer) stop() {
	t := s.t
	if s.stopped {
		return
	}
	s.stopped = true
	if !s.running() {
		t.Errorf("ftpctl serve exited during the test: %v\n%s", s.waitErr, s.Log())
		return
	}
	worker := s.workerPID()
	require.NoError(t, syscall.Kill(s.PID(), syscall.SIGTERM))
	select {
	case <-s.exited:
	case <-time.After(stopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.exited
		t.Errorf("ftpctl serve did not exit within %s of SIGTERM\n%s", stopTimeout, s.Log())
		return
	}
	if s.waitErr != nil {
		t.Errorf("ftpctl serve exited with %v after SIGTERM\n%s", s.waitErr, s.Log())
	}
	if worker != 0 && !waitGone(worker, 10*time.Second) {
		t.Errorf("worker %d still runs after ftpctl serve exited", worker)
	}
	// cobra prints "ftpctl: <error>" when a command fails, the worker included.
	for _, l := range strings.Split(s.Log(), "\n") {
		if strings.HasPrefix(l, "ftpctl: ") {
			t.Errorf("ftpctl reported an error: %s", l)
		}
	}
}

func waitGone(pid int, within time.Duration) bool {
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); errors.Is(err, os.ErrNotExist) {
			return true
		}
		time.Sleep(10 * time.Millisecond) // polling /proc: nothing to wait on
	}
	return false
}

// workerPID finds the worker among serve's children by the name it gives itself; 0 if
// there is none.
func (s *ftpServer) workerPID() int { return workerOf(s.PID()) }

// workerOf finds the worker child of the monitor with PID monitor; 0 if there is none.
func workerOf(monitor int) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, en := range entries {
		pid, err := strconv.Atoi(en.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
		open, closing := bytes.IndexByte(stat, '('), bytes.LastIndexByte(stat, ')')
		if open < 0 || closing < open {
			continue
		}
		fields := strings.Fields(string(stat[closing+1:]))
		if string(stat[open+1:closing]) == "ftpctl-worker" && len(fields) > 1 && fields[1] == strconv.Itoa(monitor) {
			return pid
		}
	}
	return 0
}

// requireWorker waits for a worker other than not (0: any) and returns its PID.
func (s *ftpServer) requireWorker(not int) int {
	s.t.Helper()
	var pid int
	require.Eventually(s.t, func() bool {
		pid = s.workerPID()
		return pid != 0 && pid != not
	}, 15*time.Second, 20*time.Millisecond, "no new ftpctl-worker child of serve %d\n%s", s.PID(), s.Log())
	return pid
}

// waitLog waits for a log line after byte offset from that contains every part, and
// returns it.
func (s *ftpServer) waitLog(from int, parts ...string) string {
	s.t.Helper()
	var found string
	ok := waitFor(10*time.Second, func() bool {
		found = findLine(s.Log()[from:], parts...)
		return found != ""
	})
	require.True(s.t, ok, "no log line with %q after offset %d:\n%s", parts, from, s.Log())
	return found
}

func findLine(log string, parts ...string) string {
	for _, l := range strings.Split(log, "\n") {
		if containsAll(l, parts...) {
			return l
		}
	}
	return ""
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

// waitFor polls cond until it holds or within passes.
func waitFor(within time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(within)
	for {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(20 * time.Millisecond) // polling: the server offers nothing to wait on
	}
}

// addFTPUser creates an FTP account with its home at e.Root/name, or where a --home
// among the extra arguments to `ftpctl user add` says.
func addFTPUser(t *testing.T, e *Env, name, password string, extra ...string) string {
	t.Helper()
	home := filepath.Join(e.Root, name)
	if i := slices.Index(extra, "--home"); i >= 0 && i+1 < len(extra) {
		home = extra[i+1]
	} else {
		extra = append(extra, "--home", home)
	}
	args := append([]string{"user", "add", name, "--password-stdin"}, extra...)
	r := e.Ftpctl(password+"\n", args...)
	require.Equal(t, 0, r.Code, "ftpctl user add %s: %s", name, r.Stderr)
	return home
}

// ftpGID is the jelastic-ftp group's GID in the test's /etc.
func ftpGID(t *testing.T, e *Env) int {
	t.Helper()
	fields := strings.Split(strings.TrimSpace(e.MustRun("", "getent", "group", "jelastic-ftp").Stdout), ":")
	gid, err := strconv.Atoi(fields[2])
	require.NoError(t, err)
	return gid
}

// ---- clients ----

// Result is what a client printed and returned.
// runTool runs a client on the host within clientTimeout. Clients need none of the
// test's /etc.
func runTool(t *testing.T, stdin, name string, args ...string) Result {
	t.Helper()
	r, err := execTool(t.TempDir(), stdin, name, args...)
	require.NoError(t, err)
	return r
}

// execTool is runTool for goroutines other than the test's, which must not fail it.
func execTool(home, stdin, name string, args ...string) (Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), clientTimeout)
	defer cancel()
	c := exec.CommandContext(ctx, name, args...)
	// HOME keeps the clients away from any rc file of the machine's root.
	c.Env = append(os.Environ(), "LC_ALL=C.UTF-8", "HOME="+home)
	r, err := runCommand(c, stdin)
	if ctx.Err() != nil {
		return r, fmt.Errorf("%s %q did not finish within %s:\n%s", name, args, clientTimeout, r)
	}
	return r, err
}

// curlTLS are curl's options for explicit FTPS with PROT P and our self-signed
// certificate.
var curlTLS = []string{"--ssl-reqd", "-k"}

// curl runs curl as user on path (relative to the login folder) with args.
func (s *ftpServer) curl(t *testing.T, user, password, path string, args ...string) Result {
	t.Helper()
	return runTool(t, "", "curl", s.curlArgs(user, password, path, args...)...)
}

func (s *ftpServer) curlArgs(user, password, path string, args ...string) []string {
	base := []string{"-sS", "--connect-timeout", "5", "--max-time", "60", "-u", user + ":" + password}
	return append(append(base, args...), s.URL(path))
}

// lftpPlain and lftpTLS select clear FTP or FTPS with encrypted data; lftp would
// otherwise use AUTH TLS whenever FEAT offers it and leave data in clear.
const (
	lftpPlain = "set ftp:ssl-allow no"
	lftpTLS   = "set ftp:ssl-force yes; set ftp:ssl-protect-data yes; set ftp:ssl-protect-list yes"
)

// lftp logs in as user and runs commands with lftp's debug output on stderr.
func (s *ftpServer) lftp(t *testing.T, user, password, settings, commands string) Result {
	t.Helper()
	script := "set net:timeout 10; set net:max-retries 1; set net:reconnect-interval-base 1; " +
		"set ssl:verify-certificate no; set cmd:fail-exit yes; set xfer:clobber yes; " +
		settings + "; " + fmt.Sprintf("open -u %s,%s -p %d 127.0.0.1; ", user, password, s.Port) + commands
	return runTool(t, "", "lftp", "-d", "-c", script)
}

// pyConn is how ftp_steps.py connects.
type pyConn struct {
	TLS    string `json:"tls"`     // "none", "noreuse" (ftplib as shipped) or "reuse"
	TLSMax string `json:"tls_max"` // "", "1.2" or "1.3"
	EPSV   bool   `json:"epsv"`
	Source string `json:"source"` // local address to bind
}

// pyResult is the outcome of one step; see testdata/ftp_steps.py.
type pyResult struct {
	OK    bool     `json:"ok"`
	Reply string   `json:"reply"`
	Error string   `json:"error"`
	Lines []string `json:"lines"`
}

// Code is the reply code of the step's last reply, success or not.
func (r pyResult) Code() string {
	text := r.Reply
	if !r.OK {
		text = r.Error
	}
	if len(text) >= 3 {
		return text[:3]
	}
	return text
}

type pyStep []any

// ftplib runs steps in one FTP session with Python's ftplib.
func (s *ftpServer) ftplib(t *testing.T, c pyConn, steps ...pyStep) []pyResult {
	t.Helper()
	if c.TLS == "" {
		c.TLS = "none"
	}
	req := struct {
		pyConn
		Host  string   `json:"host"`
		Port  int      `json:"port"`
		Steps []pyStep `json:"steps"`
	}{c, "127.0.0.1", s.Port, steps}
	in, err := json.Marshal(req)
	require.NoError(t, err)
	r := runTool(t, string(in), "python3", "testdata/ftp_steps.py")
	require.Equal(t, 0, r.Code, "ftp_steps.py: %s", r)
	var results []pyResult
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &results), "ftp_steps.py printed %s", r)
	require.Len(t, results, len(steps))
	return results
}

func pyLogin(user, password string) pyStep    { return pyStep{"login", user, password} }
func pyCmd(line string) pyStep                { return pyStep{"cmd", line} }
func pyLines(command string) pyStep           { return pyStep{"lines", command} }
func pyRetr(remote, local string) pyStep      { return pyStep{"retr", remote, local, 0} }
func pyStor(remote, local string) pyStep      { return pyStep{"stor", remote, local, 0} }
func pyOK(t *testing.T, rs []pyResult, i int) { require.True(t, rs[i].OK, "step %d: %+v", i, rs[i]) }

// ---- raw control connection, for what no client sends ----

type rawFTP struct {
	t    *testing.T
	conn net.Conn
	tp   *textproto.Conn
}

// dialRaw opens a control connection from local ("" for any address) and reads the
// greeting.
func dialRaw(t *testing.T, addr, local string) *rawFTP {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if local != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(local)}
	}
	conn, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	c := &rawFTP{t: t, conn: conn, tp: textproto.NewConn(conn)}
	t.Cleanup(func() { conn.Close() })
	code, msg, err := c.read(10 * time.Second)
	require.NoError(t, err)
	require.Equal(t, 220, code, msg)
	return c
}

// read reads one reply, multi-line or not.
func (c *rawFTP) read(within time.Duration) (int, string, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(within))
	return c.tp.ReadResponse(0)
}

// do sends a command and returns the reply.
func (c *rawFTP) do(format string, args ...any) (int, string) {
	c.t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	require.NoError(c.t, c.tp.PrintfLine(format, args...))
	code, msg, err := c.read(20 * time.Second)
	require.NoError(c.t, err, "reply to %q", fmt.Sprintf(format, args...))
	return code, msg
}

func (c *rawFTP) expect(want int, format string, args ...any) string {
	c.t.Helper()
	code, msg := c.do(format, args...)
	require.Equal(c.t, want, code, "%s: %d %s", fmt.Sprintf(format, args...), code, msg)
	return msg
}

// startTLS upgrades the control connection with AUTH TLS and returns the TLS
// connection, to inspect what the server presented.
func (c *rawFTP) startTLS(cfg *tls.Config) *tls.Conn {
	c.t.Helper()
	c.expect(234, "AUTH TLS")
	tc := tls.Client(c.conn, cfg)
	_ = tc.SetDeadline(time.Now().Add(10 * time.Second))
	require.NoError(c.t, tc.Handshake())
	_ = tc.SetDeadline(time.Time{})
	c.conn, c.tp = tc, textproto.NewConn(tc)
	return tc
}

func (c *rawFTP) login(user, password string) {
	c.t.Helper()
	c.expect(331, "USER %s", user)
	c.expect(230, "PASS %s", password)
}

// waitClosed waits for the server to close the connection and returns what it sent
// before, failing if it is still open after within.
func (c *rawFTP) waitClosed(within time.Duration) string {
	c.t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(within))
	got, err := io.ReadAll(c.conn)
	var netErr net.Error
	require.False(c.t, errors.As(err, &netErr) && netErr.Timeout(), "connection still open after %s; read %q", within, got)
	return string(got)
}

// passive sends PASV and opens the data connection, which the test's end closes.
func (c *rawFTP) passive() net.Conn {
	c.t.Helper()
	port := pasvPort(c.t, c.expect(227, "PASV"))
	data, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), 5*time.Second)
	require.NoError(c.t, err)
	c.t.Cleanup(func() { data.Close() })
	return data
}

// pasvPort parses "227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)".
func pasvPort(t *testing.T, msg string) int {
	t.Helper()
	m := regexp.MustCompile(`\((\d+),(\d+),(\d+),(\d+),(\d+),(\d+)\)`).FindStringSubmatch(msg)
	require.NotNil(t, m, "PASV reply %q", msg)
	hi, _ := strconv.Atoi(m[5])
	lo, _ := strconv.Atoi(m[6])
	return hi<<8 | lo
}

// ---- files ----

func randomFile(t *testing.T, dir, name string, size int) string {
	t.Helper()
	b := make([]byte, size)
	_, err := rand.Read(b)
	require.NoError(t, err)
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, b, 0o644))
	return p
}

func fileSHA256(t *testing.T, p string) string {
	t.Helper()
	f, err := os.Open(p)
	require.NoError(t, err)
	defer f.Close()
	h := sha256.New()
	_, err = io.Copy(h, f)
	require.NoError(t, err)
	return hex.EncodeToString(h.Sum(nil))
}

func requireSameFile(t *testing.T, want, got string) {
	t.Helper()
	wi, err := os.Stat(want)
	require.NoError(t, err)
	gi, err := os.Stat(got)
	require.NoError(t, err, "%s was not written", got)
	require.Equal(t, wi.Size(), gi.Size(), "size of %s", got)
	require.Equal(t, fileSHA256(t, want), fileSHA256(t, got), "SHA-256 of %s", got)
}

// ---- tests ----

// ftpClient logs in with one client and lists the login folder.
type ftpClient struct {
	name  string
	tls   bool
	login func(t *testing.T, s *ftpServer, user, password string) (bool, string)
}

var loginClients = []ftpClient{
	{"curl", false, func(t *testing.T, s *ftpServer, user, password string) (bool, string) {
		r := s.curl(t, user, password, "")
		return r.Code == 0, r.String()
	}},
	{"curl FTPS", true, func(t *testing.T, s *ftpServer, user, password string) (bool, string) {
		r := s.curl(t, user, password, "", curlTLS...)
		return r.Code == 0, r.String()
	}},
	{"lftp", false, func(t *testing.T, s *ftpServer, user, password string) (bool, string) {
		r := s.lftp(t, user, password, lftpPlain, "ls")
		return r.Code == 0, r.String()
	}},
	{"lftp FTPS", true, func(t *testing.T, s *ftpServer, user, password string) (bool, string) {
		r := s.lftp(t, user, password, lftpTLS, "ls")
		return r.Code == 0, r.String()
	}},
	{"ftplib", false, func(t *testing.T, s *ftpServer, user, password string) (bool, string) {
		rs := s.ftplib(t, pyConn{}, pyLogin(user, password), pyLines("LIST"))
		return rs[0].OK && rs[1].OK, fmt.Sprintf("%+v", rs)
	}},
	{"ftplib FTPS", true, func(t *testing.T, s *ftpServer, user, password string) (bool, string) {
		rs := s.ftplib(t, pyConn{TLS: "reuse"}, pyLogin(user, password), pyLines("LIST"))
		return rs[0].OK && rs[1].OK, fmt.Sprintf("%+v", rs)
	}},
}

func requireClients(t *testing.T) {
	t.Helper()
	for _, tool := range []string{"curl", "lftp", "python3"} {
		testtool.Require(t, tool)
	}
}

func TestFTPLogin(t *testing.T) {
	requireClients(t)
	testtool.Require(t, "chpasswd")
	testtool.Require(t, "useradd")
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	// root and a system account get the FTP user's password, so that only what they
	// are can be why they are refused.
	e.MustRun("", "useradd", "-M", "-s", "/bin/sh", "websys")
	e.MustRun("root:"+ftpPassword+"\nwebsys:"+ftpPassword+"\n", "chpasswd")
	s := startFTP(t, e, nil)

	refused := []struct{ user, password string }{
		{"alice", "Wrong-Secret-42"},
		{"root", ftpPassword},
		{"websys", ftpPassword},
		{"ghost", ftpPassword},
	}
	for _, c := range loginClients {
		t.Run(c.name, func(t *testing.T) {
			mark := len(s.Log())
			ok, out := c.login(t, s, "alice", ftpPassword)
			require.True(t, ok, out)
			s.waitLog(mark, "msg=login ", "user=alice", fmt.Sprintf("tls=%v", c.tls))
			for _, r := range refused {
				mark := len(s.Log())
				ok, out := c.login(t, s, r.user, r.password)
				require.False(t, ok, "%s logged in: %s", r.user, out)
				require.Contains(t, out, "530", r.user)
				s.waitLog(mark, `msg="login refused"`, "user="+r.user, "client=127.0.0.1")
			}
		})
	}
}

// transferClient uploads and downloads one file with one client, in one data
// connection mode, and returns the client's protocol trace when it has one.
type transferClient struct {
	name     string
	dataCmd  string // PASV or EPSV, which the trace must show
	upload   func(t *testing.T, s *ftpServer, src, remote string) string
	download func(t *testing.T, s *ftpServer, remote, dst string) string
}

func curlTransfer(name, dataCmd string, extra ...string) transferClient {
	if dataCmd == "PASV" {
		extra = append(extra, "--disable-epsv")
	}
	return transferClient{
		name:    name,
		dataCmd: dataCmd,
		upload: func(t *testing.T, s *ftpServer, src, remote string) string {
			r := s.curl(t, "alice", ftpPassword, remote, append([]string{"-v", "-T", src}, extra...)...)
			require.Equal(t, 0, r.Code, r.String())
			return r.Stderr
		},
		download: func(t *testing.T, s *ftpServer, remote, dst string) string {
			r := s.curl(t, "alice", ftpPassword, remote, append([]string{"-v", "-o", dst}, extra...)...)
			require.Equal(t, 0, r.Code, r.String())
			return r.Stderr
		},
	}
}

func lftpTransfer(name, dataCmd, settings string) transferClient {
	settings += fmt.Sprintf("; set ftp:prefer-epsv %v", dataCmd == "EPSV")
	return transferClient{
		name:    name,
		dataCmd: dataCmd,
		upload: func(t *testing.T, s *ftpServer, src, remote string) string {
			r := s.lftp(t, "alice", ftpPassword, settings, fmt.Sprintf("put %s -o %s", src, remote))
			require.Equal(t, 0, r.Code, r.String())
			return r.Stderr
		},
		download: func(t *testing.T, s *ftpServer, remote, dst string) string {
			r := s.lftp(t, "alice", ftpPassword, settings, fmt.Sprintf("get %s -o %s", remote, dst))
			require.Equal(t, 0, r.Code, r.String())
			return r.Stderr
		},
	}
}

func ftplibTransfer(name string, c pyConn) transferClient {
	return transferClient{
		name: name,
		// ftp_steps.py prints no trace; the mode is what it was told.
		upload: func(t *testing.T, s *ftpServer, src, remote string) string {
			rs := s.ftplib(t, c, pyLogin("alice", ftpPassword), pyStor(remote, src))
			pyOK(t, rs, 0)
			pyOK(t, rs, 1)
			return ""
		},
		download: func(t *testing.T, s *ftpServer, remote, dst string) string {
			rs := s.ftplib(t, c, pyLogin("alice", ftpPassword), pyRetr(remote, dst))
			pyOK(t, rs, 0)
			pyOK(t, rs, 1)
			return ""
		},
	}
}

func TestFTPTransfers(t *testing.T) {
	requireClients(t)
	e := NewEnv(t)
	home := addFTPUser(t, e, "alice", ftpPassword)
	gid := ftpGID(t, e)
	xferlog := filepath.Join(t.TempDir(), "xferlog")
	s := startFTP(t, e, ftpConf{"transfer_log": strconv.Quote(xferlog)})
	local := t.TempDir()
	sizes := []struct {
		name string
		size int
	}{{"empty", 0}, {"one", 1}, {"64MiB", 64 << 20}}
	for _, sz := range sizes {
		randomFile(t, local, sz.name+".src", sz.size)
	}
	clients := []transferClient{
		curlTransfer("curl PASV", "PASV"),
		curlTransfer("curl FTPS EPSV", "EPSV", curlTLS...),
		lftpTransfer("lftp EPSV", "EPSV", lftpPlain),
		lftpTransfer("lftp FTPS PASV", "PASV", lftpTLS),
		ftplibTransfer("ftplib PASV", pyConn{}),
		ftplibTransfer("ftplib FTPS EPSV", pyConn{TLS: "reuse", EPSV: true}),
	}
	for i, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			for _, sz := range sizes {
				src := filepath.Join(local, sz.name+".src")
				remote := fmt.Sprintf("c%d-%s.bin", i, sz.name)
				trace := c.upload(t, s, src, remote)
				requireSameFile(t, src, filepath.Join(home, remote))
				dst := filepath.Join(local, remote+".down")
				trace += c.download(t, s, remote, dst)
				requireSameFile(t, src, dst)
				if trace != "" {
					other := map[string]string{"PASV": "EPSV", "EPSV": "PASV"}[c.dataCmd]
					require.Regexp(t, `(?m)^(> |---> )`+c.dataCmd+`\r?$`, trace)
					require.NotRegexp(t, `(?m)^(> |---> )`+other+`\r?$`, trace)
				}
				fi, err := os.Stat(filepath.Join(home, remote))
				require.NoError(t, err)
				st := fi.Sys().(*syscall.Stat_t)
				require.Equal(t, [2]uint32{700, uint32(gid)}, [2]uint32{st.Uid, st.Gid}, "owner of an upload")
				require.NoError(t, os.Remove(dst))
			}
		})
	}

	// One xferlog(5) line per transfer, with the bytes moved, the direction (i/o),
	// the user and "c" for complete.
	for i := range clients {
		for _, sz := range sizes {
			for _, dir := range []string{"i", "o"} {
				re := regexp.MustCompile(fmt.Sprintf(`(?m) 127\.0\.0\.1 %d /c%d-%s\.bin b _ %s r alice ftp 0 \* c$`, sz.size, i, sz.name, dir))
				ok := waitFor(10*time.Second, func() bool {
					b, _ := os.ReadFile(xferlog)
					return re.Match(b)
				})
				b, _ := os.ReadFile(xferlog)
				require.True(t, ok, "no xferlog line %s in:\n%s", re, b)
			}
		}
	}
}

// TestFTPResume interrupts nothing: it starts transfers from an offset, as a client
// resuming after a cut would, and requires the joined file to be byte-exact.
func TestFTPResume(t *testing.T) {
	requireClients(t)
	for _, atomic := range []bool{true, false} {
		t.Run(fmt.Sprintf("atomic_uploads=%v", atomic), func(t *testing.T) {
			e := NewEnv(t)
			home := addFTPUser(t, e, "alice", ftpPassword)
			s := startFTP(t, e, ftpConf{"atomic_uploads": strconv.FormatBool(atomic)})
			local := t.TempDir()
			const size, cut = 5<<20 + 3, 2<<20 + 1
			full := randomFile(t, local, "full.bin", size)
			data, err := os.ReadFile(full)
			require.NoError(t, err)
			prefix := filepath.Join(local, "prefix.bin")
			require.NoError(t, os.WriteFile(prefix, data[:cut], 0o644))
			// partial is a local file holding the first cut bytes, as an interrupted
			// download leaves it.
			partial := func(name string) string {
				p := filepath.Join(local, name)
				require.NoError(t, os.WriteFile(p, data[:cut], 0o644))
				return p
			}
			// remotePrefix uploads the first cut bytes as remote.
			remotePrefix := func(remote string) {
				rs := s.ftplib(t, pyConn{}, pyLogin("alice", ftpPassword), pyStor(remote, prefix))
				pyOK(t, rs, 1)
				requireSameFile(t, prefix, filepath.Join(home, remote))
			}
			rest := fmt.Sprintf("REST %d", cut)
			require.NoError(t, os.WriteFile(filepath.Join(home, "full.bin"), data, 0o644))
			require.NoError(t, os.Chown(filepath.Join(home, "full.bin"), 700, ftpGID(t, e)))

			t.Run("curl REST+RETR", func(t *testing.T) {
				dst := partial("curl-down.bin")
				r := s.curl(t, "alice", ftpPassword, "full.bin", "-v", "-C", "-", "-o", dst)
				require.Equal(t, 0, r.Code, r.String())
				require.Contains(t, r.Stderr, "> "+rest)
				requireSameFile(t, full, dst)
			})
			t.Run("curl FTPS resumed upload", func(t *testing.T) {
				remotePrefix("curl-up.bin")
				r := s.curl(t, "alice", ftpPassword, "curl-up.bin", append([]string{"-v", "-C", "-", "-T", full}, curlTLS...)...)
				require.Equal(t, 0, r.Code, r.String())
				require.Contains(t, r.Stderr, "> APPE curl-up.bin")
				requireSameFile(t, full, filepath.Join(home, "curl-up.bin"))
			})
			t.Run("lftp reget and reput", func(t *testing.T) {
				dst := partial("lftp-down.bin")
				r := s.lftp(t, "alice", ftpPassword, lftpTLS, "get -c full.bin -o "+dst)
				require.Equal(t, 0, r.Code, r.String())
				require.Contains(t, r.Stderr, "---> "+rest)
				requireSameFile(t, full, dst)

				remotePrefix("lftp-up.bin")
				r = s.lftp(t, "alice", ftpPassword, lftpTLS, "put -c "+full+" -o lftp-up.bin")
				require.Equal(t, 0, r.Code, r.String())
				require.Regexp(t, `---> (`+rest+`|APPE lftp-up\.bin)`, r.Stderr)
				requireSameFile(t, full, filepath.Join(home, "lftp-up.bin"))
			})
			t.Run("ftplib REST+RETR, REST+STOR and APPE", func(t *testing.T) {
				dst := partial("py-down.bin")
				remotePrefix("py-rest.bin")
				remotePrefix("py-appe.bin")
				rs := s.ftplib(t, pyConn{TLS: "reuse"}, pyLogin("alice", ftpPassword),
					pyStep{"retr", "full.bin", dst, cut},
					pyStep{"stor", "py-rest.bin", full, cut},
					pyStep{"appe", "py-appe.bin", full, cut})
				for i := range rs {
					pyOK(t, rs, i)
				}
				requireSameFile(t, full, dst)
				requireSameFile(t, full, filepath.Join(home, "py-rest.bin"))
				requireSameFile(t, full, filepath.Join(home, "py-appe.bin"))
			})
		})
	}
}

func TestFTPCommands(t *testing.T) {
	testtool.Require(t, "python3")
	e := NewEnv(t)
	home := addFTPUser(t, e, "alice", ftpPassword)
	s := startFTP(t, e, nil)
	local := t.TempDir()
	hello := filepath.Join(local, "hello.txt")
	require.NoError(t, os.WriteFile(hello, []byte("hello world\n"), 0o644))
	const utf8Name = "привет мир ü.txt"

	t.Run("FEAT", func(t *testing.T) {
		rs := s.ftplib(t, pyConn{}, pyCmd("FEAT"))
		pyOK(t, rs, 0)
		for _, feat := range []string{"UTF8", "MLST", "EPSV", "AUTH TLS", "PBSZ", "PROT", "REST STREAM", "SIZE", "MDTM", "MFMT"} {
			require.Regexp(t, `(?m)^ `+feat+`\b`, rs[0].Reply, "FEAT lists %s", feat)
		}
	})

	t.Run("files and folders", func(t *testing.T) {
		rs := s.ftplib(t, pyConn{TLS: "reuse"},
			pyLogin("alice", ftpPassword),          // 0
			pyCmd("OPTS UTF8 ON"),                  // 1
			pyCmd("PWD"),                           // 2
			pyCmd("MKD docs"),                      // 3
			pyCmd("CWD docs"),                      // 4
			pyCmd("PWD"),                           // 5
			pyStor("hello.txt", hello),             // 6
			pyCmd("SIZE hello.txt"),                // 7
			pyCmd("MDTM hello.txt"),                // 8
			pyCmd("MFMT 20200102030405 hello.txt"), // 9
			pyCmd("MDTM hello.txt"),                // 10
			pyCmd("MLST hello.txt"),                // 11
			pyLines("MLSD"),                        // 12
			pyLines("LIST"),                        // 13
			pyLines("NLST"),                        // 14
			pyCmd("RNFR hello.txt"),                // 15
			pyCmd("RNTO renamed.txt"),              // 16
			pyStor(utf8Name, hello),                // 17
			pyLines("NLST"),                        // 18
			pyCmd("SIZE missing.txt"),              // 19
			pyCmd("CDUP"),                          // 20
			pyCmd("PWD"),                           // 21
			pyCmd("RMD docs"),                      // 22: not empty
		)
		for i := range 19 {
			pyOK(t, rs, i)
		}
		require.Equal(t, "200", rs[1].Code())
		require.True(t, strings.HasPrefix(rs[2].Reply, `257 "/"`), rs[2].Reply)
		require.True(t, strings.HasPrefix(rs[5].Reply, `257 "/docs"`), rs[5].Reply)
		require.Equal(t, "213 12", rs[7].Reply)
		require.Regexp(t, `^213 \d{14}$`, rs[8].Reply)
		require.Equal(t, "213", rs[9].Code())
		require.Equal(t, "213 20200102030405", rs[10].Reply)
		require.Equal(t, "250", rs[11].Code())
		mlst := strings.ToLower(rs[11].Reply)
		require.Contains(t, mlst, "type=file;")
		require.Contains(t, mlst, "size=12;")
		require.Contains(t, mlst, "modify=20200102030405")
		require.Len(t, rs[12].Lines, 1, "MLSD %q", rs[12].Lines)
		require.Regexp(t, `(?i)type=file;.*size=12;.* hello\.txt$`, rs[12].Lines[0])
		require.Len(t, rs[13].Lines, 1, "LIST %q", rs[13].Lines)
		require.Regexp(t, `^-.* 12 .* hello\.txt$`, rs[13].Lines[0])
		require.Equal(t, []string{"hello.txt"}, rs[14].Lines)
		require.Equal(t, "350", rs[15].Code())
		require.Equal(t, "250", rs[16].Code())
		require.ElementsMatch(t, []string{"renamed.txt", utf8Name}, rs[18].Lines)
		require.Equal(t, "550", rs[19].Code(), "SIZE of a missing file: %+v", rs[19])
		require.True(t, rs[20].OK, "CDUP: %+v", rs[20])
		require.True(t, strings.HasPrefix(rs[21].Reply, `257 "/"`), rs[21].Reply)
		require.Equal(t, "550", rs[22].Code(), "RMD of a folder that is not empty: %+v", rs[22])

		// What the server did, seen from the host.
		fi, err := os.Stat(filepath.Join(home, "docs", "renamed.txt"))
		require.NoError(t, err)
		require.Equal(t, time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC), fi.ModTime().UTC(), "MFMT sets the time in UTC")
		require.NoFileExists(t, filepath.Join(home, "docs", "hello.txt"))
		requireSameFile(t, hello, filepath.Join(home, "docs", utf8Name))
	})

	// RFC 959: RNTO must directly follow a successful RNFR; a failed RNFR must not
	// leave an earlier one's source armed for the next RNTO.
	t.Run("RNTO needs the RNFR just before", func(t *testing.T) {
		rs := s.ftplib(t, pyConn{},
			pyLogin("alice", ftpPassword),
			pyStor("x.txt", hello),
			pyCmd("RNFR x.txt"),
			pyCmd("RNTO no-such-dir/y.txt"),
			pyCmd("RNFR no-such-file.txt"),
			pyCmd("RNTO z.txt"),
			pyCmd("NOOP"),
			pyCmd("RNTO z.txt"),
			pyCmd("DELE x.txt"),
			pyCmd("DELE z.txt"),
		)
		got := []string{}
		for _, r := range rs {
			got = append(got, r.Code())
		}
		// The RNTO after a failed RNFR must not rename the file of an earlier RNFR
		// (550: nothing to rename), and an RNTO not right after RNFR is a bad sequence.
		require.Equal(t, []string{"230", "226", "350", "550", "550", "550", "200", "503", "250", "550"}, got, "%+v", rs)
	})

	t.Run("delete", func(t *testing.T) {
		rs := s.ftplib(t, pyConn{},
			pyLogin("alice", ftpPassword),
			pyCmd("DELE docs/renamed.txt"),
			pyCmd("DELE /docs/"+utf8Name),
			pyCmd("DELE docs/renamed.txt"),
			pyCmd("RMD docs"),
			pyLines("NLST"),
		)
		require.Equal(t, []string{"230", "250", "250", "550", "250"}, []string{rs[0].Code(), rs[1].Code(), rs[2].Code(), rs[3].Code(), rs[4].Code()}, "%+v", rs)
		require.Empty(t, rs[5].Lines)
		require.NoDirExists(t, filepath.Join(home, "docs"))
	})
}

// TestFTPConfinement tries every way out of a home: "..", absolute paths, and symlinks
// planted by someone with a shell on the host (to /etc/shadow, to a sibling's home,
// to the FTP root), for reads, writes and metadata.
func TestFTPConfinement(t *testing.T) {
	requireClients(t)
	e := NewEnv(t)
	site1 := addFTPUser(t, e, "alice", ftpPassword, "--home", filepath.Join(e.Root, "site1"))
	site2 := addFTPUser(t, e, "bob", ftpPassword, "--home", filepath.Join(e.Root, "site2"))
	s := startFTP(t, e, nil)

	const bobSecret, rootSecret = "BOB-SECRET-CONTENT\n", "ROOT-LEVEL-SECRET\n"
	require.NoError(t, os.WriteFile(filepath.Join(site1, "a.txt"), []byte("alice's file\n"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(site2, "b-secret.txt"), []byte(bobSecret), 0o600))
	require.NoError(t, os.Chown(filepath.Join(site2, "b-secret.txt"), 700, ftpGID(t, e)))
	require.NoError(t, os.WriteFile(filepath.Join(e.Root, "top-secret.txt"), []byte(rootSecret), 0o644))
	links := map[string]string{
		"shadow":    "/etc/shadow",
		"shadow-up": "../../../../../../../../etc/shadow",
		"bob-file":  "../site2/b-secret.txt",
		"bob-dir":   "../site2",
		"bob-abs":   filepath.Join(site2, "b-secret.txt"),
		"top":       "../top-secret.txt",
	}
	for name, target := range links {
		require.NoError(t, os.Symlink(target, filepath.Join(site1, name)))
	}
	secrets := []string{"BOB-SECRET", "ROOT-LEVEL-SECRET", "root:"}
	before := treeState(t, e.Root, site1)

	local := t.TempDir()
	reads := []string{
		"../site2/b-secret.txt", "/../site2/b-secret.txt", "../top-secret.txt", "/etc/shadow",
		"../../../../etc/shadow", "/../../etc/passwd", "bob-dir/b-secret.txt",
	}
	for name := range links {
		reads = append(reads, name)
	}
	var steps []pyStep
	for i, p := range reads {
		steps = append(steps, pyRetr(p, filepath.Join(local, fmt.Sprintf("read%d", i))))
	}
	refusedMeta := []string{
		"SIZE ../site2/b-secret.txt", "SIZE bob-file", "MDTM bob-abs", "MDTM ../top-secret.txt",
		"CWD bob-dir", "CWD /../site2", "MLST bob-file", "MLST ../site2/b-secret.txt",
	}
	for _, c := range refusedMeta {
		steps = append(steps, pyCmd(c))
	}
	writes := []pyStep{
		pyStor("../site2/evil.txt", filepath.Join(local, "read0")),
		pyStor("bob-dir/evil.txt", filepath.Join(local, "read0")),
		pyStor("/../top-evil.txt", filepath.Join(local, "read0")), // lands in the home
		pyStep{"appe", "bob-file", filepath.Join(local, "read0"), 0},
		pyCmd("MKD ../site2/newdir"),
		pyCmd("MKD bob-dir/newdir"),
		pyCmd("DELE ../site2/b-secret.txt"),
		pyCmd("DELE bob-dir/b-secret.txt"),
		pyCmd("RMD ../site2"),
		pyCmd("SITE CHMOD 777 bob-file"),
		pyCmd("SITE CHMOD 777 ../site2/b-secret.txt"),
		pyCmd("MFMT 20000101000000 bob-abs"),
		pyCmd("RNFR ../site2/b-secret.txt"), pyCmd("RNTO stolen.txt"),
		pyCmd("RNFR a.txt"), pyCmd("RNTO ../site2/a.txt"),
		pyCmd("RNFR a.txt"), pyCmd("RNTO bob-dir/a.txt"),
	}
	steps = append(steps, writes...)
	listings := []pyStep{pyLines("NLST /"), pyLines("LIST /.."), pyLines("LIST bob-dir"), pyLines("NLST ../site2"), pyCmd("CWD .."), pyCmd("PWD"), pyLines("NLST")}
	steps = append(steps, listings...)

	rs := s.ftplib(t, pyConn{}, append([]pyStep{pyLogin("alice", ftpPassword)}, steps...)...)
	pyOK(t, rs, 0)
	rs = rs[1:]
	for i, p := range reads {
		require.False(t, rs[i].OK, "RETR %s succeeded: %+v", p, rs[i])
		got, _ := os.ReadFile(filepath.Join(local, fmt.Sprintf("read%d", i)))
		require.Empty(t, got, "RETR %s wrote data", p)
	}
	rs = rs[len(reads):]
	for i, c := range refusedMeta {
		require.False(t, rs[i].OK, "%s succeeded: %+v", c, rs[i])
		require.True(t, strings.HasPrefix(rs[i].Code(), "5"), "%s: %+v", c, rs[i])
	}
	rs = rs[len(refusedMeta):]
	require.Equal(t, before, treeState(t, e.Root, site1), "writes through .. or symlinks changed files outside the home: %+v", rs[:len(writes)])
	rs = rs[len(writes):]
	for _, r := range rs {
		for _, secret := range []string{"b-secret", "top-secret", "site2", "site1"} {
			require.NotContains(t, strings.Join(r.Lines, "\n")+r.Reply, secret, "listing shows what lies outside the home: %+v", rs)
		}
	}
	require.True(t, strings.HasPrefix(rs[5].Reply, `257 "/"`), "PWD after CWD .. at the top: %+v", rs[5])
	require.Contains(t, rs[6].Lines, "a.txt")

	t.Run("curl and lftp", func(t *testing.T) {
		for _, path := range []string{"%2Fetc/shadow", "../site2/b-secret.txt", "bob-file", "top"} {
			r := s.curl(t, "alice", ftpPassword, path)
			require.NotEqual(t, 0, r.Code, "curl %s: %s", path, r)
			for _, secret := range secrets {
				require.NotContains(t, r.Stdout, secret, path)
			}
		}
		// lftp's cat hangs after a failed RETR, whatever the server; get does not.
		dst := filepath.Join(local, "lftp-read")
		r := s.lftp(t, "alice", ftpPassword, lftpPlain, "get ../site2/b-secret.txt -o "+dst)
		require.NotEqual(t, 0, r.Code, r.String())
		got, _ := os.ReadFile(dst)
		require.Empty(t, got)
	})

	t.Run("each user sees only their home", func(t *testing.T) {
		rs := s.ftplib(t, pyConn{TLS: "reuse"}, pyLogin("bob", ftpPassword), pyLines("NLST /"), pyRetr("../site1/a.txt", filepath.Join(local, "bob-read")))
		pyOK(t, rs, 1)
		require.Equal(t, []string{"b-secret.txt"}, rs[1].Lines)
		require.False(t, rs[2].OK, "bob read alice's file: %+v", rs[2])
		rs = s.ftplib(t, pyConn{}, pyLogin("alice", ftpPassword), pyLines("NLST /"))
		pyOK(t, rs, 1)
		require.ElementsMatch(t, append(slices.Collect(maps.Keys(links)), "a.txt", "top-evil.txt"), rs[1].Lines)
	})
}

// treeState describes every file under root but those in skip: type, mode, size,
// modification time and symlink target or content hash, to prove that a series of
// commands changed nothing.
func treeState(t *testing.T, root, skip string) map[string]string {
	t.Helper()
	state := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == skip {
			return filepath.SkipDir
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		desc := fmt.Sprintf("%v %d %d", fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		switch {
		case fi.Mode()&os.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			desc += " -> " + target
		case fi.Mode().IsRegular():
			desc += " " + fileSHA256(t, p)
		}
		state[p] = desc
		return nil
	})
	require.NoError(t, err)
	return state
}

// requireWorkerConfined checks the worker from outside, in /proc: UID 700 and the
// jelastic-ftp group only, no capabilities, no_new_privs, and the FTP root as its root.
func requireWorkerConfined(t *testing.T, e *Env, worker int) {
	t.Helper()
	gid := ftpGID(t, e)
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", worker))
	require.NoError(t, err)
	field := func(name string) string {
		m := regexp.MustCompile(`(?m)^` + name + `:[ \t]*(.*)$`).FindStringSubmatch(string(status))
		require.NotNil(t, m, "%s in /proc/%d/status", name, worker)
		return strings.Join(strings.Fields(m[1]), " ")
	}
	require.Equal(t, "700 700 700 700", field("Uid"), "real, effective, saved and file-system UID")
	g := strconv.Itoa(gid)
	require.Equal(t, g+" "+g+" "+g+" "+g, field("Gid"))
	require.Equal(t, "", field("Groups"), "no supplementary groups")
	for _, c := range []string{"CapInh", "CapPrm", "CapEff", "CapAmb"} {
		require.Equal(t, "0000000000000000", field(c), c)
	}
	require.Equal(t, "1", field("NoNewPrivs"))
	root, err := os.Readlink(fmt.Sprintf("/proc/%d/root", worker))
	require.NoError(t, err)
	want, err := filepath.EvalSymlinks(e.Root)
	require.NoError(t, err)
	require.Equal(t, want, root, "the worker's root directory")
}

// TestFTPWorkerConfined checks the worker from outside, in /proc: chrooted into the
// FTP root, UID 700 and the jelastic-ftp group only, no capabilities, no_new_privs.
func TestFTPWorkerConfined(t *testing.T) {
	testtool.Require(t, "curl")
	e := NewEnv(t)
	home := addFTPUser(t, e, "alice", ftpPassword)
	gid := ftpGID(t, e)
	s := startFTP(t, e, nil)
	worker := s.requireWorker(0)
	requireWorkerConfined(t, e, worker)

	// Every thread of the worker, the Go runtime's own included, wakes from timed
	// sleeps with the worker's timer slack (see agent.workerTimerSlack).
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", worker))
	require.NoError(t, err)
	for _, task := range tasks {
		slack, err := os.ReadFile(filepath.Join("/proc", task.Name(), "timerslack_ns"))
		require.NoError(t, err)
		require.Equal(t, "1000000", strings.TrimSpace(string(slack)), "thread %s", task.Name())
	}

	// The monitor keeps root: it alone reads /etc/shadow.
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.PID()))
	require.NoError(t, err)
	require.Regexp(t, `(?m)^Uid:\s+0\s`, string(status))

	// What the worker creates belongs to the FTP user and group, with the umask applied.
	src := randomFile(t, t.TempDir(), "up.bin", 1000)
	r := s.curl(t, "alice", ftpPassword, "made/up.bin", "--ftp-create-dirs", "-T", src)
	require.Equal(t, 0, r.Code, r.String())
	for name, mode := range map[string]os.FileMode{"made": os.ModeDir | 0o755, "made/up.bin": 0o644} {
		fi, err := os.Stat(filepath.Join(home, name))
		require.NoError(t, err)
		st := fi.Sys().(*syscall.Stat_t)
		require.Equal(t, [2]uint32{700, uint32(gid)}, [2]uint32{st.Uid, st.Gid}, "owner of %s", name)
		require.Equal(t, mode, fi.Mode(), "mode of %s", name)
	}
}

func TestFTPReadOnlyUser(t *testing.T) {
	requireClients(t)
	e := NewEnv(t)
	home := addFTPUser(t, e, "reader", ftpPassword, "--read-only")
	s := startFTP(t, e, nil)
	local := t.TempDir()
	src := randomFile(t, local, "page.html", 4096)
	require.NoError(t, os.WriteFile(filepath.Join(home, "page.html"), mustRead(t, src), 0o644))
	require.NoError(t, os.Mkdir(filepath.Join(home, "dir"), 0o755))
	before := treeState(t, e.Root, "")

	rs := s.ftplib(t, pyConn{TLS: "reuse"},
		pyLogin("reader", ftpPassword),
		pyRetr("page.html", filepath.Join(local, "down.html")),
		pyLines("NLST"),
		pyLines("MLSD"),
		pyCmd("SIZE page.html"),
	)
	for i := range rs {
		pyOK(t, rs, i)
	}
	requireSameFile(t, src, filepath.Join(local, "down.html"))
	require.ElementsMatch(t, []string{"page.html", "dir"}, rs[2].Lines)

	changes := []pyStep{
		pyStor("new.html", src),
		pyStor("page.html", src),
		pyStep{"stor", "page.html", src, 10},
		pyStep{"appe", "page.html", src, 0},
		pyCmd("DELE page.html"),
		pyCmd("MKD newdir"),
		pyCmd("RMD dir"),
		pyCmd("RNFR page.html"),
		pyCmd("RNTO moved.html"),
		pyCmd("MFMT 20000101000000 page.html"),
		pyCmd("SITE CHMOD 777 page.html"),
	}
	rs = s.ftplib(t, pyConn{}, append([]pyStep{pyLogin("reader", ftpPassword)}, changes...)...)
	pyOK(t, rs, 0)
	var allowed []string
	for i, r := range rs[1:] {
		if r.OK || !strings.HasPrefix(r.Code(), "5") {
			allowed = append(allowed, fmt.Sprintf("%v: %s%s", changes[i], r.Reply, r.Error))
		}
	}
	require.Equal(t, before, treeState(t, e.Root, ""), "a read-only user changed files")

	r := s.curl(t, "reader", ftpPassword, "curl.bin", append([]string{"-T", src}, curlTLS...)...)
	require.NotEqual(t, 0, r.Code, "curl upload by a read-only user: %s", r)
	require.NoFileExists(t, filepath.Join(home, "curl.bin"))
	require.Empty(t, allowed, "a read-only user must be refused these")
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}

// TestFTPPasswordChange changes a password behind the running server, with ftpctl and
// with shadow-utils' chpasswd (which is what passwd does to /etc/shadow): the next
// login sees it, without a restart.
func TestFTPPasswordChange(t *testing.T) {
	testtool.Require(t, "curl")
	testtool.Require(t, "chpasswd")
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	s := startFTP(t, e, nil)
	worker := s.requireWorker(0)
	loginWorks := func(password string) bool {
		r := s.curl(t, "alice", password, "")
		require.Contains(t, []int{0, 67}, r.Code, "curl: %s", r)
		return r.Code == 0
	}
	require.True(t, loginWorks(ftpPassword))

	const second, third = "Second-Secret-7", "Third-Secret-8"
	r := e.Ftpctl(second+"\n", "user", "passwd", "alice", "--password-stdin")
	require.Equal(t, 0, r.Code, r.Stderr)
	require.False(t, loginWorks(ftpPassword), "old password after ftpctl user passwd")
	require.True(t, loginWorks(second), "new password after ftpctl user passwd")

	e.MustRun("alice:"+third+"\n", "chpasswd")
	require.False(t, loginWorks(second), "old password after chpasswd")
	require.True(t, loginWorks(third), "new password after chpasswd")

	require.Equal(t, worker, s.workerPID(), "the worker was not restarted")
}

// TestFTPBan storms the server with wrong passwords from 127.0.0.1 until the monitor
// bans the address: then it is refused at connect, before it can try the right
// password, while 127.0.0.2 still logs in.
func TestFTPBan(t *testing.T) {
	testtool.Require(t, "curl")
	testtool.Require(t, "python3")
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	const banAfter = 5
	s := startFTP(t, e, ftpConf{
		"limits.ban_after_failures": strconv.Itoa(banAfter),
		"limits.ban_window":         `"1m"`,
		"limits.ban_duration":       `"10m"`,
		"limits.failed_login_delay": `"100ms"`,
	})

	// Twice as many wrong passwords as needed, from concurrent connections.
	type outcome struct {
		r   Result
		err error
	}
	var wg sync.WaitGroup
	outcomes := make(chan outcome, 2*banAfter)
	home := t.TempDir()
	for range 2 * banAfter {
		wg.Go(func() {
			r, err := execTool(home, "", "curl", s.curlArgs("alice", "Wrong-Secret-1", "")...)
			outcomes <- outcome{r, err}
		})
	}
	wg.Wait()
	close(outcomes)
	refusedAtAccept := 0
	for o := range outcomes {
		require.NoError(t, o.err)
		// Connections made once the ban is set are refused at accept with 421,
		// which curl reports as a timeout (28).
		require.Contains(t, []int{67, 28}, o.r.Code, "wrong password: %s", o.r)
		if o.r.Code == 28 {
			refusedAtAccept++
		}
	}
	require.LessOrEqual(t, refusedAtAccept, banAfter, "the first %d were refused at login", banAfter)
	s.waitLog(0, "client banned after repeated failed logins", "client=127.0.0.1")

	r := s.curl(t, "alice", ftpPassword, "")
	require.Equal(t, 28, r.Code, "right password from a banned address: %s", r)
	requireBannedAtAccept(t, s.Addr, "127.0.0.1")
	s.waitLog(0, `msg="connection refused: client banned" client=127.0.0.1 source=127.0.0.1/32`)

	r = s.curl(t, "alice", ftpPassword, "", "--interface", "127.0.0.2")
	require.Equal(t, 0, r.Code, "curl from 127.0.0.2: %s", r)
	rs := s.ftplib(t, pyConn{Source: "127.0.0.2", TLS: "reuse"}, pyLogin("alice", ftpPassword), pyLines("LIST"))
	pyOK(t, rs, 0)
	pyOK(t, rs, 1)
	rs = s.ftplib(t, pyConn{Source: "127.0.0.1"}, pyLogin("alice", ftpPassword))
	require.False(t, rs[0].OK)
	require.Equal(t, "connect: 421 "+admission.ReasonBanned, rs[0].Error, "ftplib from the banned address")
}

// TestFTPDataConnections checks who may connect to or be connected by a data
// connection: a passive port only serves the client's own address, and active mode,
// when enabled, only connects back to the client's address and to ports from 1024.
func TestFTPDataConnections(t *testing.T) {
	testtool.Require(t, "curl")
	e := NewEnv(t)
	home := addFTPUser(t, e, "alice", ftpPassword)
	secret := randomFile(t, home, "secret.bin", 100<<10)
	require.NoError(t, os.Chown(secret, 700, ftpGID(t, e)))
	want := mustRead(t, secret)
	s := startFTP(t, e, nil)

	for _, mode := range []string{"PASV", "EPSV"} {
		t.Run("stolen "+mode+" connection", func(t *testing.T) {
			mark := len(s.Log())
			c := dialRaw(t, s.Addr, "127.0.0.1")
			c.login("alice", ftpPassword)
			c.expect(200, "TYPE I")
			var port int
			if mode == "PASV" {
				port = pasvPort(t, c.expect(227, "PASV"))
			} else {
				m := regexp.MustCompile(`\(\|\|\|(\d+)\|\)`).FindStringSubmatch(c.expect(229, "EPSV"))
				require.NotNil(t, m)
				port, _ = strconv.Atoi(m[1])
			}
			dataAddr := fmt.Sprintf("127.0.0.1:%d", port)
			thief := dialFrom(t, "127.0.0.2", dataAddr)
			require.NoError(t, c.tp.PrintfLine("RETR secret.bin"))
			// The thief is connected before the transfer starts: were it taken as the data
			// connection, the file would flow to it now.
			_ = thief.SetReadDeadline(time.Now().Add(5 * time.Second))
			stolen, err := io.ReadAll(thief)
			require.Empty(t, stolen, "data reached a connection from 127.0.0.2")
			var netErr net.Error
			require.False(t, errors.As(err, &netErr) && netErr.Timeout(), "the server left the foreign connection open")
			s.waitLog(mark, "passive data connection from another address refused", "from=127.0.0.2")

			// The real client still gets its file.
			data := dialFrom(t, "127.0.0.1", dataAddr)
			_ = data.SetReadDeadline(time.Now().Add(20 * time.Second))
			got, err := io.ReadAll(data)
			require.NoError(t, err)
			require.Equal(t, want, got)
			code, msg, err := c.read(10 * time.Second)
			require.NoError(t, err)
			require.Equal(t, 150, code, msg)
			code, msg, err = c.read(10 * time.Second)
			require.NoError(t, err)
			require.Equal(t, 226, code, msg)
		})
	}

	t.Run("active mode off", func(t *testing.T) {
		c := dialRaw(t, s.Addr, "")
		c.login("alice", ftpPassword)
		c.expect(502, "PORT 127,0,0,1,100,100")
		c.expect(502, "EPRT |1|127.0.0.1|25700|")
		r := s.curl(t, "alice", ftpPassword, "secret.bin", "-P", "-", "-o", "/dev/null")
		require.Equal(t, 30, r.Code, "curl in active mode must fail with CURLE_FTP_PORT_FAILED: %s", r)
	})

	t.Run("active mode on", func(t *testing.T) {
		e := NewEnv(t)
		home := addFTPUser(t, e, "alice", ftpPassword)
		require.NoError(t, os.WriteFile(filepath.Join(home, "secret.bin"), want, 0o644))
		s := startFTP(t, e, ftpConf{"active_mode": "true"})
		c := dialRaw(t, s.Addr, "127.0.0.1")
		c.login("alice", ftpPassword)
		c.expect(501, "PORT 127,0,0,3,100,100")
		c.expect(501, "EPRT |1|127.0.0.3|25700|")
		c.expect(504, "PORT 127,0,0,1,0,80")
		c.expect(504, "EPRT |1|127.0.0.1|22|")
		for _, extra := range [][]string{nil, {"--disable-eprt"}} {
			dst := filepath.Join(t.TempDir(), "down.bin")
			r := s.curl(t, "alice", ftpPassword, "secret.bin", append([]string{"-v", "-P", "127.0.0.1", "-o", dst}, extra...)...)
			require.Equal(t, 0, r.Code, r.String())
			require.Regexp(t, `(?m)^> (PORT|EPRT) `, r.Stderr)
			require.Equal(t, want, mustRead(t, dst))
		}
	})
}

func dialFrom(t *testing.T, local, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
	conn, err := d.Dial("tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestFTPLongLine sends a 1 MiB command without a newline, before and after login:
// the server closes that connection and goes on serving others.
func TestFTPLongLine(t *testing.T) {
	testtool.Require(t, "curl")
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	s := startFTP(t, e, nil)
	for _, loggedIn := range []bool{false, true} {
		t.Run(fmt.Sprintf("logged in %v", loggedIn), func(t *testing.T) {
			mark := len(s.Log())
			c := dialRaw(t, s.Addr, "")
			if loggedIn {
				c.login("alice", ftpPassword)
			}
			go func() {
				// Fails with EPIPE or a reset once the server closes; the reading side
				// below is what the test checks.
				_ = c.conn.SetWriteDeadline(time.Now().Add(20 * time.Second))
				_, _ = c.conn.Write(bytes.Repeat([]byte("A"), 1<<20))
			}()
			got := c.waitClosed(20 * time.Second)
			if got != "" {
				require.True(t, strings.HasPrefix(got, "500 "), "last reply %q", got)
			}
			s.waitLog(mark, "command line too long; closing")
			r := s.curl(t, "alice", ftpPassword, "")
			require.Equal(t, 0, r.Code, "another client after the long line: %s", r)
		})
	}
}

// makeCert writes a self-signed certificate for common name cn and its key into the
// test's /etc/jelastic-ftp, and returns their paths as the server sees them.
func makeCert(t *testing.T, e *Env, cn string) (cert, key string) {
	t.Helper()
	testtool.Require(t, "openssl")
	dir := filepath.Join(e.Etc, "jelastic-ftp")
	r := runTool(t, "", "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
		"-nodes", "-days", "2", "-subj", "/CN="+cn,
		"-keyout", filepath.Join(dir, cn+".key"), "-out", filepath.Join(dir, cn+".pem"))
	require.Equal(t, 0, r.Code, r.String())
	return "/etc/jelastic-ftp/" + cn + ".pem", "/etc/jelastic-ftp/" + cn + ".key"
}

var insecureTLS = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}

// TestFTPReload changes the idle timeout and the certificate and sends SIGHUP: new
// sessions get both, a session opened before keeps its settings and its connection.
// It also checks the idle timeout itself, before and after login, and that a broken
// file is refused on reload without stopping the service.
func TestFTPReload(t *testing.T) {
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	cert1, key1 := makeCert(t, e, "jftp-first")
	cert2, key2 := makeCert(t, e, "jftp-second")
	s := startFTP(t, e, ftpConf{
		"idle_timeout": `"60s"`,
		"tls.cert":     strconv.Quote(cert1),
		"tls.key":      strconv.Quote(key1),
	})
	cn := func(tc *tls.Conn) string { return tc.ConnectionState().PeerCertificates[0].Subject.CommonName }

	old := dialRaw(t, s.Addr, "")
	require.Equal(t, "jftp-first", cn(old.startTLS(insecureTLS)))
	old.login("alice", ftpPassword)

	s.conf["idle_timeout"] = `"10s"`
	s.conf["tls.cert"], s.conf["tls.key"] = strconv.Quote(cert2), strconv.Quote(key2)
	s.writeConfig()
	mark := len(s.Log())
	require.NoError(t, syscall.Kill(s.PID(), syscall.SIGHUP))
	s.waitLog(mark, "configuration reloaded")

	start := time.Now()
	idleUser := dialRaw(t, s.Addr, "")
	require.Equal(t, "jftp-second", cn(idleUser.startTLS(insecureTLS)))
	idleUser.login("alice", ftpPassword)
	idleAnon := dialRaw(t, s.Addr, "")
	for name, c := range map[string]*rawFTP{"logged in": idleUser, "before login": idleAnon} {
		got := c.waitClosed(30 * time.Second)
		// The server cannot close earlier than the timeout; 1s of slack for rounding.
		require.GreaterOrEqual(t, time.Since(start), 9*time.Second, "%s: closed before the idle timeout", name)
		require.Contains(t, got, "421", name)
	}

	// The session from before the reload has been idle just as long, and lives on.
	require.GreaterOrEqual(t, time.Since(start), 10*time.Second)
	old.expect(200, "NOOP")
	old.expect(257, "PWD")

	t.Run("broken file", func(t *testing.T) {
		e.WriteEtc("jelastic-ftp/ftpd.toml", s.conf.render()+"idle_timeout = [\n", 0o644)
		mark := len(s.Log())
		require.NoError(t, syscall.Kill(s.PID(), syscall.SIGHUP))
		s.waitLog(mark, "reload failed; keeping the running configuration")
		c := dialRaw(t, s.Addr, "")
		require.Equal(t, "jftp-second", cn(c.startTLS(insecureTLS)))
		c.login("alice", ftpPassword)
		old.expect(200, "NOOP")
	})
}

// TestFTPWorkerRestart kills the worker with SIGKILL: the monitor starts a new one
// and logins work again.
func TestFTPWorkerRestart(t *testing.T) {
	testtool.Require(t, "curl")
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	s := startFTP(t, e, nil)
	for round := range 2 {
		first := s.requireWorker(0)
		mark := len(s.Log())
		require.NoError(t, syscall.Kill(first, syscall.SIGKILL))
		second := s.requireWorker(first)
		s.waitLog(mark, "worker stopped; starting a new one")
		var r Result
		ok := waitFor(15*time.Second, func() bool {
			r = s.curl(t, "alice", ftpPassword, "")
			return r.Code == 0
		})
		require.True(t, ok, "round %d: no login after the worker restart: %s\n%s", round, r, s.Log())
		status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", second))
		require.NoError(t, err)
		require.Regexp(t, `(?m)^Uid:\s+700\s+700\s+700\s+700$`, string(status), "the new worker is confined too")
	}
}

// TestFTPWorkerRestartSweepsUploads kills the worker in the middle of an atomic
// upload: the hidden temporary file it leaves is removed by the next worker before it
// serves, and the file the upload was to replace is untouched.
func TestFTPWorkerRestartSweepsUploads(t *testing.T) {
	e := NewEnv(t)
	home := addFTPUser(t, e, "alice", ftpPassword)
	require.NoError(t, os.WriteFile(filepath.Join(home, "index.php"), []byte("old"), 0o644))
	require.NoError(t, os.Chown(filepath.Join(home, "index.php"), 700, ftpGID(t, e)))
	s := startFTP(t, e, nil)
	c := dialRaw(t, s.Addr, "")
	c.login("alice", ftpPassword)
	data := c.passive()
	require.NoError(t, c.tp.PrintfLine("STOR index.php"))
	code, msg, err := c.read(10 * time.Second)
	require.NoError(t, err)
	require.Equal(t, 150, code, msg)
	_, err = data.Write([]byte("<?php half of it"))
	require.NoError(t, err)
	var temps []string
	require.True(t, waitFor(10*time.Second, func() bool {
		temps, _ = filepath.Glob(filepath.Join(home, ".index.php.ftpupload-*"))
		return len(temps) == 1
	}), "no temporary upload file in %s", home)

	first := s.requireWorker(0)
	mark := len(s.Log())
	require.NoError(t, syscall.Kill(first, syscall.SIGKILL))
	s.requireWorker(first)
	s.waitLog(mark, "removed leftovers of interrupted uploads", "files=1", "complete=true")
	_, err = os.Lstat(temps[0])
	require.True(t, os.IsNotExist(err), "the temporary file is still there: %v", err)
	got, err := os.ReadFile(filepath.Join(home, "index.php"))
	require.NoError(t, err)
	require.Equal(t, "old", string(got))
}

// TestFTPAtomicUploadsAsTheWorker: the confined worker (UID 700, threads that each
// carry their own credentials after the drop) publishes many new files from sessions
// running at once, each byte-exact and with nothing left beside it, replaces files in
// place of the old ones, and refuses an upload into a folder it cannot write before
// it answers 150, leaving the folder as it was.
func TestFTPAtomicUploadsAsTheWorker(t *testing.T) {
	requireClients(t)
	e := NewEnv(t)
	home := addFTPUser(t, e, "alice", ftpPassword)
	locked := filepath.Join(home, "locked")
	require.NoError(t, os.Mkdir(locked, 0o755)) // root's: the worker cannot write here
	s := startFTP(t, e, nil)
	local := t.TempDir()
	const sessions, files = 4, 150
	var wg sync.WaitGroup
	results := make([][]pyResult, sessions)
	for i := range sessions {
		src := randomFile(t, local, fmt.Sprintf("src%d.bin", i), 1000+i)
		steps := []pyStep{pyLogin("alice", ftpPassword), pyCmd(fmt.Sprintf("MKD s%d", i))}
		for j := range files {
			steps = append(steps, pyStor(fmt.Sprintf("s%d/f%03d.bin", i, j), src))
		}
		steps = append(steps, pyStor(fmt.Sprintf("s%d/f000.bin", i), filepath.Join(local, "src0.bin")))
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = s.ftplib(t, pyConn{}, steps...)
		}()
	}
	wg.Wait()
	for i, rs := range results {
		for j := range rs {
			pyOK(t, rs, j)
		}
		entries, err := os.ReadDir(filepath.Join(home, fmt.Sprintf("s%d", i)))
		require.NoError(t, err)
		require.Len(t, entries, files, "session %d: only the uploaded files", i)
		for j := 1; j < files; j++ {
			requireSameFile(t, filepath.Join(local, fmt.Sprintf("src%d.bin", i)), filepath.Join(home, fmt.Sprintf("s%d/f%03d.bin", i, j)))
		}
		// The last upload replaced the first file.
		requireSameFile(t, filepath.Join(local, "src0.bin"), filepath.Join(home, fmt.Sprintf("s%d/f000.bin", i)))
	}

	c := dialRaw(t, s.Addr, "")
	c.login("alice", ftpPassword)
	c.passive()
	msg := c.expect(550, "STOR locked/x.bin")
	require.Contains(t, msg, "permission denied")
	entries, err := os.ReadDir(locked)
	require.NoError(t, err)
	require.Empty(t, entries)
}

// TestFTPSlowUploadsOutlastTheIdleTimeout: lftp, held to 10 kB/s, uploads for longer
// than two idle timeouts, plain, over FTPS and in active mode: an upload that moves keeps
// its session, whatever path its bytes take through the server (spliced in chunks, or
// copied from TLS or from a connection the server dialled).
func TestFTPSlowUploadsOutlastTheIdleTimeout(t *testing.T) {
	testtool.Require(t, "lftp")
	e := NewEnv(t)
	home := addFTPUser(t, e, "alice", ftpPassword)
	s := startFTP(t, e, ftpConf{"idle_timeout": `"10s"`, "active_mode": "true"})
	want := randomFile(t, t.TempDir(), "slow.bin", 240<<10) // 24 s at 10 kB/s
	for _, tt := range []struct{ name, settings string }{
		{"passive", lftpPlain},
		{"FTPS", lftpTLS},
		{"active", lftpPlain + "; set ftp:passive-mode no"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r := s.lftp(t, "alice", ftpPassword, tt.settings+"; set net:limit-rate 0:10000",
				fmt.Sprintf("put %s -o slow-%s.bin", want, tt.name))
			require.Equal(t, 0, r.Code, "%s\n%s", r, s.Log())
			requireSameFile(t, want, filepath.Join(home, "slow-"+tt.name+".bin"))
			require.NotContains(t, s.Log(), "transfer stalled")
		})
	}
}

// TestFTPTLSSessionReuse runs FTPS with PROT P on TLS 1.2 and 1.3 with clients that
// resume the control connection's TLS session on data connections (lftp, curl, ftplib
// taught to), and ftplib as shipped, which does not and is refused while
// require_session_reuse is on.
func TestFTPTLSSessionReuse(t *testing.T) {
	requireClients(t)
	e := NewEnv(t)
	home := addFTPUser(t, e, "alice", ftpPassword)
	want := randomFile(t, home, "file.bin", 300<<10)
	require.NoError(t, os.Chown(want, 700, ftpGID(t, e)))
	s := startFTP(t, e, nil)

	// curl turns TLS session tickets off and resumes TLS 1.2 sessions by session ID,
	// which Go's TLS server does not offer: with the reuse check on, curl's TLS 1.2
	// data connections are refused (a documented limit; TLS 1.3, curl's default, works).
	versions := []struct {
		name                string
		curl                []string
		lftp, python, trace string
		curlResumes         bool
	}{
		{"TLS 1.2", []string{"--tls-max", "1.2"}, `set ssl:priority "NORMAL:-VERS-ALL:+VERS-TLS1.2"`, "1.2", "TLSv1.2", false},
		{"TLS 1.3", []string{"--tlsv1.3"}, `set ssl:priority "NORMAL:-VERS-ALL:+VERS-TLS1.3"`, "1.3", "TLSv1.3", true},
	}
	for _, v := range versions {
		t.Run(v.name, func(t *testing.T) {
			local := t.TempDir()
			t.Run("curl", func(t *testing.T) {
				dst := filepath.Join(local, "curl.bin")
				mark := len(s.Log())
				r := s.curl(t, "alice", ftpPassword, "file.bin", append(append([]string{"-v", "-o", dst}, curlTLS...), v.curl...)...)
				if !v.curlResumes {
					require.NotEqual(t, 0, r.Code, "curl cannot resume a TLS 1.2 session here: %s", r)
					s.waitLog(mark, "TLS data connection refused: it did not resume the control connection's session")
					return
				}
				require.Equal(t, 0, r.Code, r.String())
				require.Contains(t, r.Stderr, "SSL connection using "+v.trace)
				require.Contains(t, r.Stderr, "> PROT P")
				requireSameFile(t, want, dst)
			})
			t.Run("lftp", func(t *testing.T) {
				dst := filepath.Join(local, "lftp.bin")
				r := s.lftp(t, "alice", ftpPassword, lftpTLS+"; "+v.lftp, "ls; get file.bin -o "+dst)
				require.Equal(t, 0, r.Code, r.String())
				require.Contains(t, r.Stderr, "---> PROT P")
				requireSameFile(t, want, dst)
			})
			t.Run("ftplib resuming", func(t *testing.T) {
				dst := filepath.Join(local, "py.bin")
				rs := s.ftplib(t, pyConn{TLS: "reuse", TLSMax: v.python}, pyLogin("alice", ftpPassword),
					pyStep{"tls_version"}, pyLines("LIST"), pyRetr("file.bin", dst))
				for i := range rs {
					pyOK(t, rs, i)
				}
				require.Equal(t, v.trace, rs[1].Reply)
				requireSameFile(t, want, dst)
			})
			t.Run("ftplib not resuming", func(t *testing.T) {
				mark := len(s.Log())
				rs := s.ftplib(t, pyConn{TLS: "noreuse", TLSMax: v.python}, pyLogin("alice", ftpPassword),
					pyStep{"tls_version"}, pyLines("LIST"), pyRetr("file.bin", filepath.Join(local, "py-noreuse.bin")), pyCmd("NOOP"))
				pyOK(t, rs, 0)
				require.Equal(t, v.trace, rs[1].Reply)
				require.False(t, rs[2].OK, "LIST over a data connection without session reuse: %+v", rs[2])
				require.False(t, rs[3].OK, "RETR over a data connection without session reuse: %+v", rs[3])
				got, _ := os.ReadFile(filepath.Join(local, "py-noreuse.bin"))
				require.Empty(t, got)
				s.waitLog(mark, "TLS data connection refused: it did not resume the control connection's session")
			})
		})
	}

	t.Run("reuse not required", func(t *testing.T) {
		e := NewEnv(t)
		home := addFTPUser(t, e, "alice", ftpPassword)
		require.NoError(t, os.WriteFile(filepath.Join(home, "file.bin"), mustRead(t, want), 0o644))
		s := startFTP(t, e, ftpConf{"tls.require_session_reuse": "false"})
		dst := filepath.Join(t.TempDir(), "curl.bin")
		r := s.curl(t, "alice", ftpPassword, "file.bin", append([]string{"-o", dst, "--tls-max", "1.2"}, curlTLS...)...)
		require.Equal(t, 0, r.Code, r.String())
		requireSameFile(t, want, dst)
		for _, version := range []string{"1.2", "1.3"} {
			dst := filepath.Join(t.TempDir(), "py.bin")
			rs := s.ftplib(t, pyConn{TLS: "noreuse", TLSMax: version}, pyLogin("alice", ftpPassword), pyLines("LIST"), pyRetr("file.bin", dst))
			for i := range rs {
				pyOK(t, rs, i)
			}
			requireSameFile(t, want, dst)
		}
	})

	t.Run("min_version 1.3", func(t *testing.T) {
		e := NewEnv(t)
		addFTPUser(t, e, "alice", ftpPassword)
		s := startFTP(t, e, ftpConf{"tls.min_version": `"1.3"`})
		r := s.curl(t, "alice", ftpPassword, "", append([]string{"--tls-max", "1.2"}, curlTLS...)...)
		require.Equal(t, 35, r.Code, "TLS 1.2 against min_version 1.3 must fail the handshake: %s", r)
		r = s.curl(t, "alice", ftpPassword, "", curlTLS...)
		require.Equal(t, 0, r.Code, r.String())
	})
}

// TestFTPSessionLimits fills the per-address and total session limits, and uses up a
// session's login attempts.
func TestFTPSessionLimits(t *testing.T) {
	testtool.Require(t, "python3")
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	s := startFTP(t, e, ftpConf{
		"limits.max_sessions":               "3",
		"limits.max_sessions_per_ip":        "2",
		"limits.login_attempts_per_session": "2",
	})
	refused := func(local, want string) {
		t.Helper()
		conn := dialFrom(t, local, s.Addr)
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		got, err := io.ReadAll(conn)
		require.NoError(t, err)
		require.Equal(t, "421 "+want+"\r\n", string(got))
	}
	rs := s.ftplib(t, pyConn{},
		pyLogin("alice", "Wrong-Secret-1"), pyLogin("alice", "Wrong-Secret-2"), pyLogin("alice", ftpPassword))
	require.Equal(t, []string{"530", "530"}, []string{rs[0].Code(), rs[1].Code()}, "%+v", rs)
	require.False(t, rs[2].OK, "a third attempt in a session limited to two: %+v", rs[2])

	// hold opens a session and keeps it; the ftplib session above may take a moment
	// to be counted out, so a 421 is retried.
	hold := func(local string) {
		t.Helper()
		require.Eventually(t, func() bool {
			conn := dialFrom(t, local, s.Addr)
			_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
			line, err := bufio.NewReader(conn).ReadString('\n')
			if err == nil && strings.HasPrefix(line, "220 ") {
				return true
			}
			conn.Close()
			return false
		}, 10*time.Second, 20*time.Millisecond)
	}
	hold("127.0.0.1")
	hold("127.0.0.1")
	refused("127.0.0.1", "Too many connections from your address.")
	hold("127.0.0.2")
	refused("127.0.0.3", "Too many connections, try again later.")
}
