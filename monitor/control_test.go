package monitor

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
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
	ch, worker := channel(t)

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
		requireNoAnswer(t, bad)
	}

	keep := []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")}
	n, err := EndSessionsAt(ControlSocket(), privsep.EndSessions{User: "alice", Reason: privsep.EndChanged, Keep: keep}, 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, 2, n)
	require.Equal(t, privsep.EndSessions{User: "alice", Reason: privsep.EndChanged, Keep: keep}, <-got)
}

// TestControlUnban: ftpctl's unban on the control socket lifts the bans in the
// throttle, rewrites bans.json, and reaches the worker, whose answer the reply waits
// for; status lists the bans still running, ending last first. Malformed requests
// get no answer and change nothing.
func TestControlUnban(t *testing.T) {
	t.Setenv(RunDirEnv, t.TempDir())
	m := loginWorld(t)
	m.opts.StateDir = t.TempDir()
	a, b, c := netip.MustParseAddr("203.0.113.9"), netip.MustParseAddr("2001:db8:1:2::7"), netip.MustParseAddr("198.51.100.4")
	now := time.Now()
	for i, addr := range []netip.Addr{a, b, c} {
		for range 3 {
			m.throttle.fail(addr, "alice", now.Add(time.Duration(i)*time.Second))
		}
	}
	m.saveBans(m.opts.StateDir, now, false)
	bansFile := filepath.Join(m.opts.StateDir, bansFileName)
	saved, err := os.ReadFile(bansFile)
	require.NoError(t, err)
	require.Contains(t, string(saved), `"client":"203.0.113.9"`)

	ch, worker := channel(t)
	m.ch, m.banCh = ch, ch
	go m.serveChannel(ch)
	got := make(chan privsep.Unban, 10)
	go func() {
		for {
			msg, err := worker.Recv()
			if err != nil {
				close(got)
				return
			}
			switch msg.Kind {
			case privsep.KindUnban:
				got <- *msg.Unban
				worker.Send(privsep.Message{Kind: privsep.KindUnban, ID: msg.ID})
			case privsep.KindSessions:
				worker.Send(privsep.Message{Kind: privsep.KindSessions, ID: msg.ID, Sessions: &privsep.SessionList{}})
			}
		}
	}()
	stop, err := m.serveControl(context.Background())
	require.NoError(t, err)
	t.Cleanup(stop)

	st, err := QueryStatusAt(ControlSocket(), 5*time.Second)
	require.NoError(t, err)
	require.Len(t, st.Bans, 3)
	require.Equal(t, "198.51.100.4/32", st.Bans[0].Source.String(), "the ban ending last first")
	require.Equal(t, "203.0.113.9/32", st.Bans[2].Source.String())

	for _, bad := range []string{
		`{"op":"unban"}`,
		`{"op":"unban","unban":{}}`,
		`{"op":"unban","unban":{"sources":["203.0.113.0/24"]}}`,
		`{"op":"unban","unban":{"sources":["203.0.113.9"]}}`,
		`{"op":"unban","unban":{"all":true,"sources":["203.0.113.9/32"]}}`,
		`{"op":"status","unban":{"all":true}}`,
		`{"op":"unban","unban":{"all":true},"end":{"user":"alice","reason":"deleted"}}`,
	} {
		requireNoAnswer(t, bad)
	}
	require.Equal(t, 3, m.throttle.bans.Len(), "malformed requests lift nothing")
	require.Empty(t, got, "nor reach the worker")

	u := privsep.Unban{Sources: []netip.Prefix{netip.MustParsePrefix("203.0.113.9/32"), netip.MustParsePrefix("2001:db8:1:2::/64"), netip.MustParsePrefix("192.0.2.1/32")}}
	reply, err := UnbanAt(ControlSocket(), u, 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, []netip.Prefix{u.Sources[0], u.Sources[1]}, reply.Lifted)
	require.Equal(t, []netip.Prefix{u.Sources[2]}, reply.NotBanned)
	require.Equal(t, u, <-got, "the worker is told every source named")
	saved, err = os.ReadFile(bansFile)
	require.NoError(t, err)
	require.NotContains(t, string(saved), "203.0.113.9", "bans.json rewritten before the reply")
	require.NotContains(t, string(saved), "2001:db8:1:2::7")
	require.Contains(t, string(saved), "198.51.100.4")
	require.True(t, m.checkLogin(&privsep.AuthRequest{User: "alice", Password: "Right-Pass-1", Client: "203.0.113.9", Protocol: privsep.ProtocolFTP}).OK)

	reply, err = UnbanAt(ControlSocket(), privsep.Unban{All: true}, 5*time.Second)
	require.NoError(t, err)
	require.Equal(t, []netip.Prefix{netip.MustParsePrefix("198.51.100.4/32")}, reply.Lifted)
	require.Empty(t, reply.NotBanned)
	require.Equal(t, privsep.Unban{All: true}, <-got)
	st, err = QueryStatusAt(ControlSocket(), 5*time.Second)
	require.NoError(t, err)
	require.Empty(t, st.Bans)
	saved, err = os.ReadFile(bansFile)
	require.NoError(t, err)
	require.JSONEq(t, `[]`, string(saved))

	// No service: the caller is told, as for ending sessions.
	_, err = UnbanAt(filepath.Join(t.TempDir(), "none.sock"), privsep.Unban{All: true}, time.Second)
	require.ErrorIs(t, err, ErrNotRunning)
}

// requireNoAnswer sends a malformed request on the control socket and requires that
// the service closes the connection without an answer.
func requireNoAnswer(t *testing.T, request string) {
	t.Helper()
	c, err := net.Dial("unix", ControlSocket())
	require.NoError(t, err)
	defer c.Close()
	require.NoError(t, c.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = io.WriteString(c, request)
	require.NoError(t, err)
	require.NoError(t, c.(*net.UnixConn).CloseWrite())
	var answer json.RawMessage
	require.Error(t, json.NewDecoder(c).Decode(&answer), "no answer to %s", request)
}

// channel returns the monitor's end of a new privsep channel and the worker's, closed
// when the test ends.
func channel(t *testing.T) (monitorEnd, worker *privsep.Conn) {
	t.Helper()
	monitorEnd, child, err := privsep.Pair()
	require.NoError(t, err)
	worker, err = privsep.FromFile(child)
	require.NoError(t, err)
	child.Close()
	t.Cleanup(func() { monitorEnd.Close(); worker.Close() })
	return monitorEnd, worker
}
