package monitor

import (
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/agent/config"
)

// TestOpenListenersClosesWhatItOpenedOnError: when a later port cannot be opened,
// the error names its setting and the ports opened before it are free again.
func TestOpenListenersClosesWhatItOpenedOnError(t *testing.T) {
	t.Setenv("LISTEN_FDS", "")
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer busy.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	ftpAddr := free.Addr().String()
	require.NoError(t, free.Close())

	cfg := config.Config{Listen: ftpAddr, SFTPListen: busy.Addr().String()}
	ls, err := openListeners(cfg)
	require.Nil(t, ls)
	require.ErrorContains(t, err, "(sftp_listen)")
	again, err := net.Listen("tcp", ftpAddr)
	require.NoError(t, err, "the FTP port opened first is closed again")
	again.Close()
}
