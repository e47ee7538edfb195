package agent

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/internal/privsep"
)

// Where the add-on keeps what is not configuration, and what its service is called.
const (
	DefaultStateDir = config.DefaultStateDir  // the self-signed certificate
	DefaultLogDir   = "/var/log/jelastic-ftp" // the service's log when systemd does not run it
	DefaultRunDir   = "/run"                  // the PID file; systemd's marker lives below it
	ServiceName     = "jelastic-ftp"
	// DefaultFTPUser is the account install creates.
	DefaultFTPUser = "jelastic-ftp"
	// PackagedUnit is where the Debian package installs its unit file.
	PackagedUnit = "/lib/systemd/system/" + ServiceName + ".service"
)

const (
	// readyTimeout bounds the wait for a started service to greet a client.
	readyTimeout = 20 * time.Second
	// stopTimeout covers the shutdown grace the monitor gives running transfers on
	// SIGTERM, as the unit's TimeoutStopSec does.
	stopTimeout = privsep.ShutdownGrace + 10*time.Second
	// systemctlTimeout bounds one systemctl call, `enable --now` included.
	systemctlTimeout = 2 * time.Minute
)

// ErrInvalidRequest marks errors in what was asked (the command line), as opposed to
// failures of the system while doing it.
var ErrInvalidRequest = errors.New("invalid request")

type requestError struct{ msg string }

func (e requestError) Error() string        { return e.msg }
func (e requestError) Is(target error) bool { return target == ErrInvalidRequest }

func badRequest(format string, args ...any) error {
	return requestError{fmt.Sprintf(format, args...)}
}

// Layout locates what install and uninstall write besides the account databases and
// ftpd.toml. Tests point it at temporary folders.
type Layout struct {
	StateDir string
	LogDir   string
	RunDir   string
	// UnitDir is where install writes its own unit file when the package did not
	// install one at PackagedUnit.
	UnitDir      string
	PackagedUnit string
	// FSRoot is the file system DetectRoot looks at.
	FSRoot string
}

// DefaultLayout is the real system's.
func DefaultLayout() Layout {
	return Layout{
		StateDir:     config.StateDir(), // tests and unusual layouts name another with config.StateDirEnv
		LogDir:       DefaultLogDir,
		RunDir:       DefaultRunDir,
		UnitDir:      "/etc/systemd/system",
		PackagedUnit: PackagedUnit,
		FSRoot:       "/",
	}
}

// PIDFile names the running service when systemd does not manage it.
func (l Layout) PIDFile() string { return filepath.Join(l.RunDir, ServiceName+".pid") }

// LogFile receives the service's output when systemd does not manage it.
func (l Layout) LogFile() string { return filepath.Join(l.LogDir, "ftpd.log") }

// CertFile and KeyFile are the self-signed pair install makes.
func (l Layout) CertFile() string { return filepath.Join(l.StateDir, "cert.pem") }
func (l Layout) KeyFile() string  { return filepath.Join(l.StateDir, "key.pem") }

// certHostFile records the host name the certificate was made for, so that a clone,
// which gets a new host name, gets a new certificate.
func (l Layout) certHostFile() string { return filepath.Join(l.StateDir, "cert-host") }

// StateCopy is the copy of `ftpctl state export` that every change refreshes and that
// the manifest lists in /etc/jelastic/redeploy.conf, so that a redeploy keeps it.
func (l Layout) StateCopy() string { return filepath.Join(l.StateDir, "state.json") }

func (l Layout) unitFile() string { return filepath.Join(l.UnitDir, ServiceName+".service") }

// rootDropIn lets the hardened unit write to an FTP root it does not name.
func (l Layout) rootDropIn() string {
	return filepath.Join(l.UnitDir, ServiceName+".service.d", "root.conf")
}

// Systemd reports whether systemd is the init system (sd_booted(3)'s test).
func (l Layout) Systemd() bool { return isDir(filepath.Join(l.RunDir, "systemd", "system")) }

func (l Layout) validate() error {
	for _, d := range []string{l.StateDir, l.LogDir, l.RunDir, l.UnitDir} {
		if !filepath.IsAbs(d) || filepath.Clean(d) != d || d == "/" {
			return badRequest("%q cannot hold the add-on's files: give a clean absolute path other than /", d)
		}
	}
	return nil
}
