package monitor

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/internal/privsep"
	"github.com/jelastic/jelastic-ftp/users/lastlogin"
	"github.com/jelastic/jelastic-ftp/users/passhash"
	"github.com/jelastic/jelastic-ftp/users/perm"
)

// loginWorld is an /etc with three FTP accounts and a configuration, in temp dirs.
func loginWorld(t *testing.T) *monitor {
	t.Helper()
	dir := t.TempDir()
	// Logins are recorded in a state directory of the test's, written before it goes.
	t.Setenv(config.StateDirEnv, filepath.Join(dir, "state"))
	t.Cleanup(func() { require.NoError(t, lastlogin.Flush()) })
	etc, root := filepath.Join(dir, "etc"), filepath.Join(dir, "webroot")
	require.NoError(t, os.MkdirAll(filepath.Join(etc, "jelastic-ftp"), 0o755))
	require.NoError(t, os.MkdirAll(root, 0o755))
	h, err := passhash.Hash("Right-Pass-1")
	require.NoError(t, err)
	files := map[string]string{
		"passwd": "root:x:0:0:root:/root:/bin/bash\n" +
			"alice:x:700:700::" + root + "/site1:/bin/false\n" +
			"ro:x:700:700::" + root + ":/bin/false\n" +
			"away:x:700:700::/srv/elsewhere:/bin/false\n",
		"shadow":                  "root:" + h + ":20000::::::\nalice:" + h + ":20000::::::\nro:" + h + ":20000::::::\naway:" + h + ":20000::::::\n",
		"group":                   "root:x:0:\njelastic-ftp:x:700:\n",
		"jelastic-ftp/ftpd.toml":  "root = \"" + root + "\"\n[limits]\nban_after_failures = 3\n",
		"jelastic-ftp/users.toml": "[users.ro]\nread_only = true\n",
	}
	for name, content := range files {
		require.NoError(t, os.WriteFile(filepath.Join(etc, name), []byte(content), 0o600))
	}
	m, err := newMonitor(ServeOptions{ConfigPath: filepath.Join(etc, "jelastic-ftp/ftpd.toml"), Etc: etc})
	require.NoError(t, err)
	return m
}

func TestCheckLogin(t *testing.T) {
	m := loginWorld(t)
	tests := []struct {
		user, password, client string
		want                   privsep.AuthReply
	}{
		{"alice", "Right-Pass-1", "127.0.0.1", privsep.AuthReply{OK: true, Home: "site1"}},
		{"ro", "Right-Pass-1", "::ffff:127.0.0.1", privsep.AuthReply{OK: true, Home: ".", Permissions: perm.ReadOnly}},
		{"alice", "wrong", "10.0.0.1", privsep.AuthReply{Failure: privsep.FailureBadLogin}},
		{"root", "Right-Pass-1", "10.0.0.2", privsep.AuthReply{Failure: privsep.FailureBadLogin}},
		{"away", "Right-Pass-1", "10.0.0.2", privsep.AuthReply{Failure: privsep.FailureBadLogin}},
		{"nobody", "Right-Pass-1", "10.0.0.2", privsep.AuthReply{Failure: privsep.FailureBadLogin}},
		{strings.Repeat("a", 70000), "x", "10.0.0.3", privsep.AuthReply{Failure: privsep.FailureBadLogin}},
		{"alice", strings.Repeat("p", 70000), "10.0.0.3", privsep.AuthReply{Failure: privsep.FailureBadLogin}},
		{"alice", "Right-Pass-1", "not an address", privsep.AuthReply{Failure: privsep.FailureError}},
	}
	for _, tt := range tests {
		got := m.checkLogin(&privsep.AuthRequest{User: tt.user, Password: tt.password, Client: tt.client})
		require.Equal(t, tt.want, got, "%.20s from %s", tt.user, tt.client)
	}
}

func TestCheckLoginBans(t *testing.T) {
	m := loginWorld(t)
	bad := &privsep.AuthRequest{User: "alice", Password: "wrong", Client: "203.0.113.9"}
	good := &privsep.AuthRequest{User: "alice", Password: "Right-Pass-1", Client: "203.0.113.9"}
	for range 3 {
		require.Equal(t, privsep.FailureBadLogin, m.checkLogin(bad).Failure)
	}
	require.Equal(t, privsep.FailureBanned, m.checkLogin(good).Failure, "the right password does not lift a ban")
	other := &privsep.AuthRequest{User: "alice", Password: "Right-Pass-1", Client: "203.0.113.10"}
	require.True(t, m.checkLogin(other).OK, "other addresses are not banned")
}

func TestCheckLoginRecordsLastLogin(t *testing.T) {
	for _, proto := range []privsep.Protocol{privsep.ProtocolFTP, privsep.ProtocolSFTP} {
		t.Run(string(proto), func(t *testing.T) {
			m := loginWorld(t)
			require.True(t, m.checkLogin(&privsep.AuthRequest{User: "ro", Password: "Right-Pass-1", Client: "::ffff:127.0.0.2", Protocol: proto}).OK)
			require.Equal(t, privsep.FailureBadLogin, m.checkLogin(&privsep.AuthRequest{User: "alice", Password: "wrong", Client: "127.0.0.3", Protocol: proto}).Failure)
			require.NoError(t, lastlogin.Flush())
			got, err := lastlogin.Read(lastlogin.Path())
			require.NoError(t, err)
			require.Len(t, got, 1, "only successful logins are recorded")
			require.Equal(t, "127.0.0.2", got["ro"].Address)
			require.Equal(t, string(proto), got["ro"].Protocol)
		})
	}

	m := loginWorld(t)
	require.True(t, m.checkLogin(&privsep.AuthRequest{User: "alice", Password: "Right-Pass-1", Client: "127.0.0.4", Protocol: privsep.ProtocolFTP, TLS: true}).OK)
	require.NoError(t, lastlogin.Flush())
	got, err := lastlogin.Read(lastlogin.Path())
	require.NoError(t, err)
	require.Equal(t, "127.0.0.4", got["alice"].Address)
	require.Equal(t, "ftps", got["alice"].Protocol, "a login over TLS is recorded as ftps")
}

// TestBansToWorker: a new worker gets the running bans, in batches that fit a
// packet, right after its settings; then each ban as it is set, before the reply to
// the login that set it.
func TestBansToWorker(t *testing.T) {
	m := loginWorld(t)
	now := time.Now()
	const n = privsep.MaxBansPerMessage + 10
	saved := []savedBan{{Client: netip.MustParseAddr("192.0.2.1"), Until: now.Add(-time.Second)}} // ended: not sent
	for i := range n {
		saved = append(saved, savedBan{Client: netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 0, 0, byte(i >> 8), byte(i), 15: 1}), Until: now.Add(time.Minute)})
	}
	m.throttle.restore(saved, now.Add(-2*time.Second))

	monitorEnd, worker := channel(t)
	sent := make(chan error, 1)
	go func() { sent <- m.sendStart(monitorEnd, privsep.WorkerConfig{Root: "/srv"}) }()

	first, err := worker.Recv()
	require.NoError(t, err)
	require.Equal(t, privsep.KindConfig, first.Kind)
	require.Equal(t, 2, first.Config.BanBatches)
	var got []privsep.Ban
	for range first.Config.BanBatches {
		msg, err := worker.Recv()
		require.NoError(t, err)
		require.Equal(t, privsep.KindBans, msg.Kind)
		got = append(got, msg.Bans...)
	}
	require.NoError(t, <-sent)
	require.Len(t, got, n)
	require.Equal(t, "2001:db8::/64", got[0].Source.String(), "oldest first, each an IPv6 /64")
	require.Equal(t, "2001:db8:0:"+fmt.Sprintf("%x", n-1)+"::/64", got[n-1].Source.String())

	bad := &privsep.AuthRequest{User: "alice", Password: "wrong", Client: "203.0.113.9", Protocol: privsep.ProtocolFTP}
	for range 3 {
		require.Equal(t, privsep.FailureBadLogin, m.checkLogin(bad).Failure)
	}
	msg, err := worker.Recv()
	require.NoError(t, err)
	require.Equal(t, privsep.KindBans, msg.Kind)
	require.Len(t, msg.Bans, 1)
	require.Equal(t, "203.0.113.9/32", msg.Bans[0].Source.String())
	require.WithinDuration(t, time.Now().Add(m.config().Limits.BanDuration), msg.Bans[0].Until, time.Minute)
}
