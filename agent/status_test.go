package agent

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNotRunning: a service that does not answer is a problem, unless systemd
// holds its port (socket activation, where idle_exit stops it between
// connections).
func TestNotRunning(t *testing.T) {
	down := errors.New("the service does not answer on /run/jelastic-ftp/control.sock")
	for socket, want := range map[string]string{
		"":         "the FTP service is not running: " + down.Error(),
		"inactive": "the FTP service is not running: " + down.Error(),
		"failed":   "the FTP service is not running: " + down.Error(),
		"active":   "",
	} {
		require.Equal(t, want, notRunning(down, socket), "socket unit %q", socket)
	}
}
