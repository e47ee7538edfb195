package e2e

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/monitor"
)

// TestImplicitFTPS: with --implicit-tls-listen, the installed service also serves
// implicit FTPS (curl's ftps://) on that port, uploads and downloads included, while
// plain FTP and explicit FTPS go on working on listen; status names both, and the
// setting turned off again closes the port.
func TestImplicitFTPS(t *testing.T) {
	ie := newInstallEnv(t)
	implicitPort := ie.Port + portBlock - 1 // the last port of the test's block, kept out of the passive range
	implicit := fmt.Sprintf("127.0.0.1:%d", implicitPort)
	passive := fmt.Sprintf("%d-%d", ie.Port+1, ie.Port+portBlock-2)
	out := parseInstallOut(t, ie.install("--json", "--passive-ports", passive, "--implicit-tls-listen", implicit))
	require.EqualValues(t, implicitPort, out.Fields["implicit_ftps_port"], "%s", out.Fields)
	require.Contains(t, string(mustRead(t, filepath.Join(ie.Etc, "jelastic-ftp/ftpd.toml"))), fmt.Sprintf("\nimplicit_tls_listen = %q\n", implicit))

	up := filepath.Join(out.Root, "up") // a folder the FTP users may write to
	require.NoError(t, os.Mkdir(up, 0o755))
	require.NoError(t, os.Chown(up, 700, ftpGID(t, ie.Env)))
	data := make([]byte, 3<<20)
	_, err := rand.Read(data)
	require.NoError(t, err)
	src := filepath.Join(t.TempDir(), "up.bin")
	require.NoError(t, os.WriteFile(src, data, 0o644))
	curl := func(url string, args ...string) Result {
		t.Helper()
		return runTool(t, "", "curl", append([]string{"-sS", "-k", "--connect-timeout", "5", "--max-time", "30", "-u", out.User + ":" + out.Password}, append(args, url)...)...)
	}

	r := curl("ftps://"+implicit+"/up/implicit.bin", "-T", src)
	require.Equal(t, 0, r.Code, "upload over implicit FTPS: %s", r)
	require.Equal(t, data, mustRead(t, filepath.Join(up, "implicit.bin")))
	got := filepath.Join(t.TempDir(), "down.bin")
	r = curl("ftps://"+implicit+"/up/implicit.bin", "-o", got)
	require.Equal(t, 0, r.Code, "download over implicit FTPS: %s", r)
	require.Equal(t, data, mustRead(t, got))
	require.Contains(t, string(mustRead(t, filepath.Join(ie.Log, "ftpd.log"))), `msg="listening for implicit FTPS" addr=`+implicit)

	// The explicit port is unchanged: AUTH TLS, and plain FTP.
	r = curl("ftp://"+ie.Addr+"/up/explicit.bin", append([]string{"-T", src}, curlTLS...)...)
	require.Equal(t, 0, r.Code, "upload over explicit FTPS: %s", r)
	require.Equal(t, data, mustRead(t, filepath.Join(up, "explicit.bin")))
	r = curl("ftp://"+ie.Addr+"/up/implicit.bin", "-o", got)
	require.Equal(t, 0, r.Code, "plain download: %s", r)
	require.Equal(t, data, mustRead(t, got))

	r = ie.Env.Run("", "env", monitor.RunDirEnv+"="+filepath.Join(ie.Run, "jelastic-ftp"), ftpctlBin, "status", "--json")
	var st struct {
		Service struct {
			Listen      string `json:"listen"`
			ImplicitTLS string `json:"implicit_tls_listen"`
		} `json:"service"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &st), "%s", r)
	require.Equal(t, ie.Addr, st.Service.Listen)
	require.Equal(t, implicit, st.Service.ImplicitTLS)

	// Off again: the service restarts without the port.
	r = ie.install("--passive-ports", passive, "--implicit-tls-listen", "")
	require.Equal(t, 0, r.Code, "%s", r)
	requireRefused(t, implicit)
	ie.requireLogin(out.User, out.Password)
}

// TestImplicitFTPSRefusedOnListen: an implicit FTPS address that takes listen's port
// is refused with one line naming the key, and nothing changes.
func TestImplicitFTPSRefusedOnListen(t *testing.T) {
	ie := newInstallEnv(t)
	require.Equal(t, 0, ie.install().Code)
	before := ie.systemFiles()
	pid := ie.pid()
	r := ie.install("--implicit-tls-listen", fmt.Sprintf(":%d", ie.Port))
	require.Equal(t, 2, r.Code, "%s", r)
	requireOneLine(t, r.Stderr)
	require.Contains(t, r.Stderr, fmt.Sprintf(`implicit_tls_listen: ":%d": must differ from listen ("%s")`, ie.Port, ie.Addr))
	require.Equal(t, before, ie.systemFiles())
	require.Equal(t, pid, ie.pid(), "the service was not restarted")
}
