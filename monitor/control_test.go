package monitor

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/internal/privsep"
)

// TestControlEndSessions: a request on the control socket reaches the worker as an
// end-sessions message, and the worker's count comes back; malformed requests get
// no answer and reach nobody.
func TestControlEndSessions(t *testing.T) {
	t.Setenv(RunDirEnv, t.TempDir())
	ch, child, err := privsep.Pair()
	require.NoError(t, err)
	worker, err := privsep.FromFile(child)
	require.NoError(t, err)
	child.Close()
	t.Cleanup(func() { ch.Close(); worker.Close() })

	m := &monitor{log: slog.New(slog.NewTextHandler(io.Discard, nil)), ch: ch}
	go m.serveChannel(ch)
	got := make(chan privsep.EndSessions, 1)
	go func() {
		msg, err := worker.Recv()
		if err != nil || msg.Kind != privsep.KindEnd {
			close(got)
			return
		}
		got <- *msg.End
		worker.Send(privsep.Message{Kind: privsep.KindEnd, ID: msg.ID, End: &privsep.EndSessions{User: msg.End.User, Reason: msg.End.Reason, Ended: 2}})
	}()
	stop, err := m.serveControl(context.Background())
	require.NoError(t, err)
	t.Cleanup(stop)

	for _, bad := range []string{`{"op":"end-sessions"}`, `{"op":"end-sessions","end":{"user":"a\n","reason":"deleted"}}`, `{"op":"reboot"}`, `{"op":"status","x":1}`} {
		c, err := net.Dial("unix", ControlSocket())
		require.NoError(t, err)
		require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
		_, err = io.WriteString(c, bad)
		require.NoError(t, err)
		require.NoError(t, c.(*net.UnixConn).CloseWrite())
		var answer json.RawMessage
		require.Error(t, json.NewDecoder(c).Decode(&answer), "no answer to %s", bad)
		c.Close()
	}

	keep := []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
	n, err := EndSessionsAt(ControlSocket(), privsep.EndSessions{User: "alice", Reason: privsep.EndChanged, Keep: keep}, 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, privsep.EndSessions{User: "alice", Reason: privsep.EndChanged, Keep: keep}, <-got)
}
