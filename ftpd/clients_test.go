package ftpd

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// These tests drive the server with clients written elsewhere: lftp
// (GnuTLS), curl (OpenSSL) and Python's ftplib.

const bigSize = 3<<20 + 7

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	_, err := rand.Read(b)
	require.NoError(t, err)
	return b
}

func writeLocal(t *testing.T, dir, name string, content []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	require.NoError(t, os.WriteFile(p, content, 0o644))
	return p
}

func readLocal(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}

func lftp(t *testing.T, ts *testServer, settings, commands string) (string, error) {
	t.Helper()
	script := "set net:timeout 5; set net:max-retries 1; set net:reconnect-interval-base 1; " +
		"set ssl:verify-certificate no; set cmd:fail-exit yes; set xfer:clobber yes; " + settings + "; " +
		fmt.Sprintf("open -u '%s,%s' -p %s %s; ", testUser, testPassword, ts.port, ts.host) + commands
	return runTool(t, "lftp", "-c", script)
}

func curl(t *testing.T, ts *testServer, path string, args ...string) (string, error) {
	t.Helper()
	base := []string{"-sS", "--ssl-reqd", "-k", "--connect-timeout", "5", "--max-time", "15",
		"-u", testUser + ":" + testPassword}
	return runTool(t, "curl", append(append(base, args...), "ftp://"+ts.addr+"/"+path)...)
}

func ftplibClient(t *testing.T, ts *testServer, args ...string) (map[string]any, string, error) {
	t.Helper()
	out, err := runTool(t, "python3", append([]string{"testdata/ftpclient.py", args[0], "--port", ts.port, "--password", testPassword}, args[1:]...)...)
	var result map[string]any
	if err == nil {
		require.NoError(t, json.Unmarshal([]byte(out), &result), "ftpclient.py output: %s", out)
	}
	return result, out, err
}

func TestPythonFtplibLogins(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		passwords []string
		replies   []string
		open      bool
	}{
		{"three failures end the session", []string{"a", "b", "c"},
			[]string{"530 Login incorrect.", "530 Login incorrect.", "530 Login incorrect."}, false},
		{"a failure then the right password", []string{"a", testPassword},
			[]string{"530 Login incorrect.", "230 Login successful."}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t)
			result, out, err := ftplibClient(t, ts, "login", "--passwords", strings.Join(tt.passwords, ","))
			require.NoError(t, err, out)
			replies := make([]string, 0, len(tt.replies))
			for _, r := range result["replies"].([]any) {
				replies = append(replies, r.(string))
			}
			require.Equal(t, tt.replies, replies)
			require.Equal(t, tt.open, result["open"])
			require.Regexp(t, `level=WARN msg="login failed" client=127\.0\.0\.1 user=alice attempt=1`, ts.logs.String())
		})
	}
}

func TestPythonFtplibSuite(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
	}{
		{"plain FTP, PASV", []string{"--tls", "none"}},
		{"plain FTP, EPSV", []string{"--tls", "none", "--epsv"}},
		{"FTPS TLS 1.2, PASV", []string{"--tls", "reuse", "--tls-max", "1.2"}},
		{"FTPS TLS 1.3, EPSV", []string{"--tls", "reuse", "--epsv"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t)
			result, out, err := ftplibClient(t, ts, append([]string{"suite"}, tt.args...)...)
			require.NoError(t, err, out)
			require.Equal(t, true, result["ok"])
			for name, sum := range result["sha256"].(map[string]any) {
				got := sha256.Sum256(ts.readHome(t, "dir/"+name))
				require.Equal(t, sum, hex.EncodeToString(got[:]), "content of %s on the server", name)
			}
			require.NoDirExists(t, filepath.Join(ts.home, "dir", "sub"))
			require.NoFileExists(t, filepath.Join(ts.home, "dir", "moved.txt"))

			logs := ts.logs.String()
			require.Regexp(t, `level=INFO msg=transfer client=127\.0\.0\.1 user=alice direction=upload path=/dir/f3145735\.bin bytes=3145735 duration=\S+ status=ok`, logs)
			require.Regexp(t, `level=INFO msg=transfer client=127\.0\.0\.1 user=alice direction=download path=/dir/f0\.bin bytes=0 duration=\S+ status=ok`, logs)
			require.Regexp(t, `(?m)^\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4} \d+ 127\.0\.0\.1 3145735 /dir/f3145735\.bin b _ i r alice ftp 0 \* c$`, ts.xferlog.String())
		})
	}
}

// TestTLSSessionReuse checks the data connection's resumption of the
// control connection's TLS session with each client. curl cannot pass with
// TLS 1.2: it turns session tickets off there (SSL_OP_NO_TICKET) and relies
// on session IDs, which Go's crypto/tls server does not resume.
func TestTLSSessionReuse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		client       string
		maxVersion   uint16
		requireReuse bool
		wantOK       bool
	}{
		{"ftplib", tls.VersionTLS12, true, false},
		{"ftplib", tls.VersionTLS13, true, false},
		{"ftplib", tls.VersionTLS13, false, true},
		{"ftplib-reuse", tls.VersionTLS12, true, true},
		{"ftplib-reuse", tls.VersionTLS13, true, true},
		{"lftp", tls.VersionTLS12, true, true},
		{"lftp", tls.VersionTLS13, true, true},
		{"curl", tls.VersionTLS13, true, true},
		{"curl", tls.VersionTLS12, true, false},
		{"curl", tls.VersionTLS12, false, true},
	}
	for _, tt := range tests {
		name := fmt.Sprintf("%s TLS 1.%d reuse required %v", tt.client, tt.maxVersion-tls.VersionTLS10, tt.requireReuse)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, func(s *Settings) {
				s.TLS.MaxVersion = tt.maxVersion
				s.RequireSessionReuse = tt.requireReuse
			})
			ts.writeHome(t, "hello.txt", []byte("hello over TLS\n"))
			var ok bool
			var out string
			switch tt.client {
			case "ftplib", "ftplib-reuse":
				mode := map[string]string{"ftplib": "plain", "ftplib-reuse": "reuse"}[tt.client]
				result, output, err := ftplibClient(t, ts, "retr", "--path", "hello.txt", "--tls", mode)
				require.NoError(t, err, output)
				ok, out = result["ok"] == true, output
			case "lftp":
				output, err := lftp(t, ts, "set ftp:ssl-force yes; set ftp:ssl-protect-data yes", "cat hello.txt")
				ok, out = err == nil && output == "hello over TLS\n", output
			case "curl":
				output, err := curl(t, ts, "hello.txt")
				ok, out = err == nil && output == "hello over TLS\n", output
			}
			require.Equal(t, tt.wantOK, ok, "client output: %s", out)
			refusal := `level=WARN msg="TLS data connection refused: it did not resume the control connection's session" client=127.0.0.1 user=alice`
			if tt.wantOK {
				require.NotContains(t, ts.logs.String(), refusal)
			} else {
				require.Contains(t, ts.logs.String(), refusal)
			}
		})
	}
}

func TestCurlTransfers(t *testing.T) {
	t.Parallel()
	for _, epsv := range []bool{true, false} {
		t.Run(fmt.Sprintf("EPSV %v", epsv), func(t *testing.T) {
			t.Parallel()
			ts := startServer(t)
			local := t.TempDir()
			var mode []string
			if !epsv {
				mode = []string{"--ftp-pasv", "--disable-epsv"}
			}
			run := func(path string, args ...string) string {
				t.Helper()
				out, err := curl(t, ts, path, append(mode, args...)...)
				require.NoError(t, err, out)
				return out
			}

			contents := map[string][]byte{"f0.bin": {}, "f1.bin": {'x'}, "big.bin": randomBytes(t, bigSize)}
			for name, content := range contents {
				run("up/"+name, "--ftp-create-dirs", "-T", writeLocal(t, local, name, content))
				require.Equal(t, content, ts.readHome(t, "up/"+name), "uploaded %s", name)
				back := filepath.Join(local, "back-"+name)
				run("up/"+name, "-o", back)
				require.Equal(t, content, readLocal(t, back), "downloaded %s", name)
			}

			run("up/f1.bin", "--append", "-T", writeLocal(t, local, "tail", []byte("yz")))
			require.Equal(t, "xyz", string(ts.readHome(t, "up/f1.bin")))

			big := contents["big.bin"]
			partial := writeLocal(t, local, "partial", big[:1000])
			run("up/big.bin", "-C", "-", "-o", partial)
			require.Equal(t, big, readLocal(t, partial), "resumed download")
			ts.writeHome(t, "up/resumed.bin", big[:5000])
			run("up/resumed.bin", "-C", "-", "-T", filepath.Join(local, "big.bin"))
			require.Equal(t, big, ts.readHome(t, "up/resumed.bin"), "resumed upload")

			require.Contains(t, run("up/"), " big.bin\n") // curl turns the CRLF of ASCII mode into LF
			names := strings.Fields(run("up/", "--list-only"))
			require.ElementsMatch(t, []string{"f0.bin", "f1.bin", "big.bin", "resumed.bin"}, names)

			run("", "-Q", "RNFR up/f1.bin", "-Q", "RNTO up/renamed.bin", "-Q", "DELE up/f0.bin", "-Q", "MKD made", "-Q", "RMD made", "--list-only")
			require.Equal(t, "xyz", string(ts.readHome(t, "up/renamed.bin")))
			require.NoFileExists(t, filepath.Join(ts.home, "up", "f0.bin"))
			require.NoDirExists(t, filepath.Join(ts.home, "made"))
		})
	}
}

// TestActiveMode uses curl without TLS: curl 7.88 fails active FTPS on its
// own ("sa_addr inet_ntop() failed"); lftp covers active mode with TLS.
func TestActiveMode(t *testing.T) {
	t.Parallel()
	for _, active := range []bool{true, false} {
		t.Run(fmt.Sprintf("active mode %v", active), func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, func(s *Settings) { s.ActiveMode = active })
			ts.writeHome(t, "a.txt", []byte("sent actively\n"))
			curlOut, curlErr := runTool(t, "curl", "-sS", "--max-time", "10", "-P", "127.0.0.1",
				"-u", testUser+":"+testPassword, "ftp://"+ts.addr+"/a.txt")
			if !active {
				// The exact reply (502) is checked in protocol_test.go.
				require.Error(t, curlErr, curlOut)
				return
			}
			require.NoError(t, curlErr, curlOut)
			require.Equal(t, "sent actively\n", curlOut)
			lftpOut, lftpErr := lftp(t, ts, "set ftp:passive-mode no; set ftp:ssl-force yes; set ftp:ssl-protect-data yes", "cat a.txt")
			require.NoError(t, lftpErr, lftpOut)
			require.Equal(t, "sent actively\n", lftpOut)
		})
	}
}

func TestLftpTransfers(t *testing.T) {
	t.Parallel()
	for _, epsv := range []string{"yes", "no"} {
		t.Run("prefer EPSV "+epsv, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t)
			local := t.TempDir()
			big := randomBytes(t, bigSize)
			writeLocal(t, local, "f0.bin", nil)
			writeLocal(t, local, "f1.bin", []byte{'x'})
			writeLocal(t, local, "big.bin", big)
			writeLocal(t, local, "part.bin", big)
			ts.writeHome(t, "up/part.bin", big[:7000])
			ts.writeHome(t, "up/dl.bin", big)
			writeLocal(t, local, "dl.bin", big[:3000])

			out, err := lftp(t, ts, "set ftp:ssl-force yes; set ftp:ssl-protect-data yes; set ftp:prefer-epsv "+epsv,
				"lcd "+local+"; cd up; put f0.bin; put f1.bin; put big.bin; "+
					"get f1.bin -o back1.bin; get big.bin -o backbig.bin; get f0.bin -o back0.bin; "+
					"put -c part.bin; get -c dl.bin; "+
					"mv f1.bin one.bin; rm f0.bin; mkdir sub; rmdir sub; quote MFMT 20200102030405 one.bin; "+
					"echo ==nlist; nlist; echo ==cls; cls -1; echo ==ls; ls")
			require.NoError(t, err, out)

			require.Equal(t, big, ts.readHome(t, "up/big.bin"))
			require.Equal(t, "x", string(ts.readHome(t, "up/one.bin")))
			require.Equal(t, big, ts.readHome(t, "up/part.bin"), "continued upload")
			require.Equal(t, big, readLocal(t, filepath.Join(local, "dl.bin")), "continued download")
			require.Equal(t, big, readLocal(t, filepath.Join(local, "backbig.bin")))
			require.Equal(t, "x", string(readLocal(t, filepath.Join(local, "back1.bin"))))
			require.Empty(t, readLocal(t, filepath.Join(local, "back0.bin")))
			require.NoFileExists(t, filepath.Join(ts.home, "up", "f0.bin"))
			require.NoDirExists(t, filepath.Join(ts.home, "up", "sub"))
			info, err := os.Stat(filepath.Join(ts.home, "up", "one.bin"))
			require.NoError(t, err)
			require.Equal(t, time.Date(2020, 1, 2, 3, 4, 5, 0, time.UTC), info.ModTime().UTC())

			sections := strings.Split(out, "==")
			require.Len(t, sections, 4, out)
			wantNames := []string{"big.bin", "dl.bin", "one.bin", "part.bin"}
			require.ElementsMatch(t, wantNames, strings.Fields(strings.TrimPrefix(sections[1], "nlist")))
			require.ElementsMatch(t, wantNames, strings.Fields(strings.TrimPrefix(sections[2], "cls")))
			require.Contains(t, sections[3], " one.bin\n")
		})
	}
}

func TestReadOnlyAccount(t *testing.T) {
	t.Parallel()
	ts := startServer(t)
	ts.writeHome(t, "keep.txt", []byte("keep"))
	out, err := runTool(t, "curl", "-sS", "--ssl-reqd", "-k", "-u", "reader:"+testPassword,
		"-T", writeLocal(t, t.TempDir(), "x", []byte("new")), "ftp://"+ts.addr+"/keep.txt")
	require.Error(t, err, out)
	require.Equal(t, "keep", string(ts.readHome(t, "keep.txt")))
	require.True(t, bytes.Contains([]byte(out), []byte("550")) || bytes.Contains([]byte(out), []byte("553")), out)
}
