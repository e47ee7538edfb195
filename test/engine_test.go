package e2e

import (
	"bytes"
	"context"
	"fmt"
	mrand "math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/internal/testtool"
)

// These tests drive the server's own FTP engine with the clients people use
// where it differs from a library's: TLS session reuse across a client's
// connections, killed uploads, and the limits before login.

// TestEngineFtplibWithoutReuseStaysInStep: Python's ftplib as shipped does not
// resume TLS sessions on data connections; with reuse required, each transfer
// gets 522 saying what to set, and the next command's reply is its own.
func TestEngineFtplibWithoutReuseStaysInStep(t *testing.T) {
	testtool.Require(t, "python3")
	e := NewEnv(t)
	home := addFTPUser(t, e, "alice", ftpPassword)
	require.NoError(t, os.WriteFile(filepath.Join(home, "file.bin"), []byte("data"), 0o644))
	s := startFTP(t, e, nil)
	for _, version := range []string{"1.2", "1.3"} {
		t.Run("TLS "+version, func(t *testing.T) {
			rs := s.ftplib(t, pyConn{TLS: "noreuse", TLSMax: version}, pyLogin("alice", ftpPassword),
				pyLines("LIST"), pyCmd("NOOP"), pyRetr("file.bin", filepath.Join(t.TempDir(), "f")), pyCmd("PWD"))
			pyOK(t, rs, 0)
			for _, i := range []int{1, 3} {
				require.False(t, rs[i].OK, "step %d: %+v", i, rs[i])
				require.True(t, strings.HasPrefix(rs[i].Error, "522 "), "step %d: %+v", i, rs[i])
				require.Contains(t, rs[i].Error, "require_session_reuse")
			}
			require.Equal(t, "200 OK", rs[2].Reply, "NOOP after a refused LIST")
			require.True(t, strings.HasPrefix(rs[4].Reply, `257 "/"`), "PWD after a refused RETR: %+v", rs[4])
		})
	}
}

// TestEngineRcloneOverFTPS runs rclone with its defaults (explicit FTPS, four
// connections, one TLS session cache for all of them) with session reuse
// required: copy, check, sync and purge of many small files.
func TestEngineRcloneOverFTPS(t *testing.T) {
	testtool.Require(t, "rclone")
	e := NewEnv(t)
	home := addFTPUser(t, e, "alice", ftpPassword)
	s := startFTP(t, e, nil)
	local := t.TempDir()
	const files = 500
	for i := range files {
		name := filepath.Join(local, fmt.Sprintf("d%d", i%10), fmt.Sprintf("f%03d.txt", i))
		require.NoError(t, os.MkdirAll(filepath.Dir(name), 0o755))
		require.NoError(t, os.WriteFile(name, bytes.Repeat([]byte{byte(i)}, 100+i), 0o644))
	}
	obscured := runTool(t, "", "rclone", "obscure", ftpPassword)
	require.Equal(t, 0, obscured.Code, obscured.String())
	remote := fmt.Sprintf(":ftp,host=127.0.0.1,port=%d,user=alice,pass=%s,explicit_tls=true,no_check_certificate=true:site",
		s.Port, strings.TrimSpace(obscured.Stdout))
	rclone := func(args ...string) {
		t.Helper()
		r := runTool(t, "", "rclone", append([]string{"--config", "/dev/null", "--low-level-retries", "1", "--retries", "1"}, args...)...)
		require.Equal(t, 0, r.Code, "rclone %s: %s\nserver log:\n%s", args[0], r, s.Log())
	}
	rclone("copy", local, remote)
	rclone("check", local, remote)
	require.NoError(t, os.Remove(filepath.Join(local, "d3", "f003.txt")))
	require.NoError(t, os.WriteFile(filepath.Join(local, "d4", "f004.txt"), []byte("changed"), 0o644))
	rclone("sync", local, remote)
	rclone("check", local, remote)
	require.NoFileExists(t, filepath.Join(home, "site", "d3", "f003.txt"))
	require.Equal(t, "changed", string(mustRead(t, filepath.Join(home, "site", "d4", "f004.txt"))))
	rclone("purge", remote)
	require.NoDirExists(t, filepath.Join(home, "site"))
	require.NotContains(t, s.Log(), "TLS data connection refused")
}

// TestEngineKilledUploadsLeaveTheOldFile kills plain-FTP uploads over an
// existing file at random points, curl with SIGKILL: the old file stays byte
// for byte every time. Then uploads that complete replace it.
func TestEngineKilledUploadsLeaveTheOldFile(t *testing.T) {
	testtool.Require(t, "curl")
	e := NewEnv(t)
	home := addFTPUser(t, e, "alice", ftpPassword)
	target := filepath.Join(home, "app.php")
	old := randomFile(t, home, "app.php", 64<<10)
	require.NoError(t, os.Chown(old, 700, ftpGID(t, e)))
	want := mustRead(t, target)
	s := startFTP(t, e, nil)
	big := randomFile(t, t.TempDir(), "big.bin", 256<<20)
	curlPath := testtool.Require(t, "curl")

	killed := 0
	for i := range 20 {
		mark := len(s.Log())
		// At most 20 MB/s: the kill comes within the first 4 MB or so.
		cmd := exec.Command(curlPath, s.curlArgs("alice", ftpPassword, "app.php", "--limit-rate", "20M", "-T", big)...)
		require.NoError(t, cmd.Start())
		waited := make(chan error, 1)
		go func() { waited <- cmd.Wait() }()
		s.waitLog(mark, "msg=login", "user=alice")
		timer := time.NewTimer(time.Duration(100+mrand.IntN(200)) * time.Millisecond)
		select {
		case <-timer.C:
		case err := <-waited:
			t.Fatalf("round %d: curl ended before it was killed: %v", i, err)
		}
		require.NoError(t, cmd.Process.Signal(syscall.SIGKILL))
		<-waited
		s.waitLog(mark, `msg="session closed"`, "user=alice")
		// A kill may come before curl sent STOR; most come during the upload.
		if line := findLine(s.Log()[mark:], "msg=transfer", "path=/app.php"); line != "" {
			if !strings.Contains(line, "status=aborted") {
				// The README's one gap: an upload that took under 5 ms only looks
				// at its control connection once, and a kill in its last
				// microseconds can be published. Anything longer must be caught.
				require.Less(t, transferDuration(t, line), 5*time.Millisecond, "round %d: %s", i, line)
				want = mustRead(t, target)
				continue
			}
			killed++
		}
		require.Equal(t, want, mustRead(t, target), "round %d: the old file must stay", i)
	}
	require.GreaterOrEqual(t, killed, 15, "uploads killed in the middle")
	for i := range 20 {
		content := randomFile(t, t.TempDir(), "new.php", 1000+i)
		r := s.curl(t, "alice", ftpPassword, "app.php", "-T", content)
		require.Equal(t, 0, r.Code, r.String())
		requireSameFile(t, content, target)
	}
}

// transferDuration reads the duration= field of a transfer log line.
func transferDuration(t *testing.T, line string) time.Duration {
	t.Helper()
	_, rest, ok := strings.Cut(line, " duration=")
	require.True(t, ok, "no duration in %s", line)
	field, _, _ := strings.Cut(rest, " ")
	d, err := time.ParseDuration(field)
	require.NoError(t, err, "duration in %s", line)
	return d
}

// TestEngineSessionsBeforeLoginCannotLockOthersOut holds 200 sessions from ten
// addresses that never log in and send NOOPs; a client from another address
// still logs in, and the waiting sessions are closed at the login deadline.
func TestEngineSessionsBeforeLoginCannotLockOthersOut(t *testing.T) {
	e := NewEnv(t)
	addFTPUser(t, e, "alice", ftpPassword)
	s := startFTP(t, e, ftpConf{"login_timeout": `"5s"`})
	var (
		mu       sync.Mutex
		admitted []net.Conn
		refused  int
	)
	var wg sync.WaitGroup
	for i := range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := fmt.Sprintf("127.0.0.%d", 2+i%10)
			d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}}
			conn, err := d.Dial("tcp", s.Addr)
			if err != nil {
				return
			}
			_ = conn.SetDeadline(time.Now().Add(20 * time.Second))
			buf := make([]byte, 512)
			n, _ := conn.Read(buf)
			mu.Lock()
			defer mu.Unlock()
			if strings.HasPrefix(string(buf[:n]), "220") {
				admitted = append(admitted, conn)
			} else {
				refused++
				conn.Close()
			}
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range admitted {
			c.Close()
		}
	})
	require.Equal(t, 200, len(admitted)+refused)
	require.LessOrEqual(t, len(admitted), 150, "at most max_sessions_before_login wait")
	// They keep sending NOOPs, which do not extend their deadline.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	for _, c := range admitted {
		go func() {
			for ctx.Err() == nil {
				if _, err := c.Write([]byte("NOOP\r\n")); err != nil {
					return
				}
				select {
				case <-ctx.Done():
				case <-time.After(time.Second):
				}
			}
		}()
	}

	start := time.Now()
	rs := s.ftplib(t, pyConn{Source: "127.0.0.1"}, pyLogin("alice", ftpPassword), pyCmd("NOOP"))
	pyOK(t, rs, 0)
	pyOK(t, rs, 1)

	// Every waiting session is closed at its deadline (5 s after it connected).
	for _, c := range admitted {
		_ = c.SetReadDeadline(start.Add(20 * time.Second))
		var all bytes.Buffer
		buf := make([]byte, 4096)
		for {
			n, err := c.Read(buf)
			all.Write(buf[:n])
			if err != nil {
				break
			}
		}
		require.Contains(t, all.String(), "421 Login timeout (5 seconds)")
	}
	require.Less(t, time.Since(start), 15*time.Second)
}

// TestEngineListingMemoryIsBounded lists a folder of 200,000 entries with LIST
// and MLSD from several clients at once and measures the worker's resident
// memory: it must stay far below the size of the listings.
func TestEngineListingMemoryIsBounded(t *testing.T) {
	testtool.Require(t, "curl")
	e := NewEnv(t)
	home := addFTPUser(t, e, "alice", ftpPassword)
	const entries = 200_000
	emptyFiles(t, filepath.Join(home, "big"), "entry-with-a-long-name-", ".php", entries)
	s := startFTP(t, e, nil)
	worker := s.workerPID()
	before := vmRSS(t, worker)

	peak := peakRSS(t, worker, func() {
		var wg sync.WaitGroup
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := "LIST"
				if i%2 == 1 {
					cmd = "MLSD"
				}
				r := s.curl(t, "alice", ftpPassword, "big/", "-X", cmd, "-o", "/dev/null")
				require.Equal(t, 0, r.Code, r.String())
			}()
		}
		wg.Wait()
	})
	// The listings are 8 × ~15 MB; formatted whole they took ~40 MB each.
	t.Logf("worker VmRSS %d KiB before, %d KiB at the peak of 8 listings of %d entries", before, peak, entries)
	require.Less(t, peak-before, int64(24<<10), "the listings must stream in bounded batches")
}

// peakRSS runs work in a goroutine and returns the highest resident memory of the
// process pid, in KiB, sampled every 20 ms until work returns.
func peakRSS(t *testing.T, pid int, work func()) int64 {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		work()
	}()
	peak := vmRSS(t, pid)
	for waiting := true; waiting; {
		select {
		case <-done:
			waiting = false
		case <-time.After(20 * time.Millisecond):
		}
		peak = max(peak, vmRSS(t, pid))
	}
	return peak
}

// vmRSS reads a process's resident memory in KiB from /proc.
func vmRSS(t *testing.T, pid int) int64 {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	require.NoError(t, err)
	for line := range strings.SplitSeq(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			require.NoError(t, err)
			return kb
		}
	}
	t.Fatalf("no VmRSS in /proc/%d/status", pid)
	return 0
}
