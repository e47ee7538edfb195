package agent

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/agent/config"
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

func TestPassiveRangeWarning(t *testing.T) {
	for _, tt := range []struct {
		first, last, sessions int
		warn                  bool
	}{
		{10100, 12000, 200, false},
		{30000, 30199, 200, false},
		{30000, 30198, 200, true},
		{30001, 30007, 200, true},
		{30001, 30007, 7, false},
	} {
		cfg := config.Default()
		cfg.PassivePorts = config.PortRange{First: tt.first, Last: tt.last}
		cfg.Limits.MaxSessions = tt.sessions
		w := passiveRangeWarning(cfg)
		require.Equal(t, tt.warn, w != "", "%d-%d for %d sessions: %q", tt.first, tt.last, tt.sessions, w)
		if tt.warn {
			require.Contains(t, w, fmt.Sprintf("%d-%d has %d ports, fewer than max_sessions (%d)", tt.first, tt.last, tt.last-tt.first+1, tt.sessions))
		}
	}
}
