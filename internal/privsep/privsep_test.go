package privsep

import (
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// pair returns both ends as Conns.
func pair(t *testing.T) (*Conn, *Conn) {
	t.Helper()
	a, bf, err := Pair()
	require.NoError(t, err)
	b, err := FromFile(bf)
	require.NoError(t, err)
	bf.Close()
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestRoundTrip(t *testing.T) {
	a, b := pair(t)
	msgs := []Message{
		{Kind: KindConfig, Config: &WorkerConfig{Root: "/srv", UID: 700, CertPEM: []byte(strings.Repeat("x", 40_000))}},
		{Kind: KindAuth, ID: 7, Auth: &AuthRequest{User: "u", Password: "p:w\n", Client: "127.0.0.1", Protocol: ProtocolFTP}},
		{Kind: KindAuth, ID: 9, Auth: &AuthRequest{User: "u", Password: "p", Client: "::1", Protocol: ProtocolSFTP}},
		{Kind: KindAuth, ID: 10, Auth: &AuthRequest{User: "u", Client: "::1", Protocol: ProtocolSFTP, PublicKey: []byte{0, 0, 0, 11}}},
		{Kind: KindConfig, Config: &WorkerConfig{Root: "/srv", SFTP: true, HostKeysPEM: [][]byte{[]byte("k1"), []byte("k2")}}},
		{Kind: KindConfig, Config: &WorkerConfig{Root: "/srv", BanBatches: MaxBanBatches}},
		{Kind: KindAuthReply, ID: 7, Reply: &AuthReply{OK: true, Home: "site1"}},
		{Kind: KindAuthReply, ID: 8, Reply: &AuthReply{Failure: FailureBanned}},
		{Kind: KindSweep, Sweep: &SweepState{Cursor: "site1/uploads"}},
		{Kind: KindSweep, Sweep: &SweepState{}},
		{Kind: KindXferlog, Line: "Sat Nov 21 23:00:00 2026 1 127.0.0.1 6 /up.txt b _ i r alice ftp 0 * c\n"},
		{Kind: KindAuth, ID: 9, Auth: &AuthRequest{User: "u", Password: "p", Client: "127.0.0.1", Protocol: ProtocolFTP, TLS: true}},
		{Kind: KindEnd, ID: 10, End: &EndSessions{User: "alice", Reason: EndDeleted}},
		{Kind: KindEnd, ID: 11, End: &EndSessions{User: "alice", Reason: EndChanged, Keep: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32"), netip.MustParsePrefix("2001:db8::/32")}}},
		{Kind: KindEnd, ID: 11, End: &EndSessions{User: "alice", Reason: EndChanged, Ended: 3}},
		{Kind: KindBans, Bans: []Ban{
			{Source: netip.MustParsePrefix("203.0.113.7/32"), Until: time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)},
			{Source: netip.MustParsePrefix("2001:db8:1:2::/64"), Until: time.Date(2026, 5, 1, 12, 0, 0, 1, time.UTC)},
		}},
		{Kind: KindUnban, ID: 12, Unban: &Unban{Sources: []netip.Prefix{netip.MustParsePrefix("203.0.113.7/32"), netip.MustParsePrefix("2001:db8:1:2::/64")}}},
		{Kind: KindUnban, ID: 13, Unban: &Unban{All: true}},
		{Kind: KindUnban, ID: 13}, // the worker's answer
	}
	for _, m := range msgs {
		require.NoError(t, a.Send(m))
		got, err := b.Recv()
		require.NoError(t, err)
		require.Equal(t, m, got)
	}
}

func TestRecvRejectsMalformed(t *testing.T) {
	tests := []struct {
		name, packet string
	}{
		{"not json", "hello"},
		{"unknown field", `{"kind":"auth","id":1,"auth":{"user":"u","password":"p","client":"1.2.3.4","uid":0}}`},
		{"unknown kind", `{"kind":"exec","id":1}`},
		{"auth without payload", `{"kind":"auth","id":1}`},
		{"auth without id", `{"kind":"auth","auth":{"user":"u","password":"p","client":"x","protocol":"ftp"}}`},
		{"auth without protocol", `{"kind":"auth","id":1,"auth":{"user":"u","password":"p","client":"x"}}`},
		{"key over FTP", `{"kind":"auth","id":1,"auth":{"user":"u","password":"","client":"x","protocol":"ftp","public_key":"AAAA"}}`},
		{"key with a password", `{"kind":"auth","id":1,"auth":{"user":"u","password":"p","client":"x","protocol":"sftp","public_key":"AAAA"}}`},
		{"auth with unknown protocol", `{"kind":"auth","id":1,"auth":{"user":"u","password":"p","client":"x","protocol":"scp"}}`},
		{"two payloads", `{"kind":"auth","id":1,"auth":{"user":"u"},"reply":{"ok":true}}`},
		{"second value", `{"kind":"config","config":{}} {"kind":"config","config":{}}`},
		{"trailing garbage", `{"kind":"config","config":{}} x`},
		{"two log lines", `{"kind":"xferlog","line":"a\nforged\n"}`},
		{"log line without newline", `{"kind":"xferlog","line":"a"}`},
		{"log line with CR", `{"kind":"xferlog","line":"a\rb\n"}`},
		{"refusal without failure", `{"kind":"auth-reply","id":1,"reply":{"ok":false}}`},
		{"unknown failure", `{"kind":"auth-reply","id":1,"reply":{"failure":"maybe"}}`},
		{"sweep without state", `{"kind":"sweep"}`},
		{"sweep cursor with newline", `{"kind":"sweep","sweep":{"cursor":"a\nb"}}`},
		{"sweep with a second payload", `{"kind":"sweep","sweep":{"cursor":"a"},"line":"x\n"}`},
		{"success with failure", `{"kind":"auth-reply","id":1,"reply":{"ok":true,"failure":"banned"}}`},
		{"end without payload", `{"kind":"end-sessions","id":1}`},
		{"end without id", `{"kind":"end-sessions","end":{"user":"u","reason":"deleted"}}`},
		{"end without user", `{"kind":"end-sessions","id":1,"end":{"user":"","reason":"deleted"}}`},
		{"end with a control character", `{"kind":"end-sessions","id":1,"end":{"user":"u\n","reason":"deleted"}}`},
		{"end for no reason", `{"kind":"end-sessions","id":1,"end":{"user":"u","reason":"whim"}}`},
		{"end keeping a bad block", `{"kind":"end-sessions","id":1,"end":{"user":"u","reason":"changed","keep":["10.0.0.0/33"]}}`},
		{"end with a negative count", `{"kind":"end-sessions","id":1,"end":{"user":"u","reason":"changed","ended":-1}}`},
		{"end with a second payload", `{"kind":"end-sessions","id":1,"end":{"user":"u","reason":"deleted"},"line":"x\n"}`},
		{"bans without payload", `{"kind":"bans"}`},
		{"too many ban batches", `{"kind":"config","config":{"ban_batches":` + strconv.Itoa(MaxBanBatches+1) + `}}`},
		{"negative ban batches", `{"kind":"config","config":{"ban_batches":-1}}`},
		{"bans empty", `{"kind":"bans","bans":[]}`},
		{"bans with an id", `{"kind":"bans","id":1,"bans":[{"source":"10.0.0.1/32","until":"2026-05-01T12:00:00Z"}]}`},
		{"ban of a /24", `{"kind":"bans","bans":[{"source":"10.0.0.0/24","until":"2026-05-01T12:00:00Z"}]}`},
		{"ban of an IPv6 /48", `{"kind":"bans","bans":[{"source":"2001:db8::/48","until":"2026-05-01T12:00:00Z"}]}`},
		{"ban of an IPv6 /64 not masked", `{"kind":"bans","bans":[{"source":"2001:db8::1/64","until":"2026-05-01T12:00:00Z"}]}`},
		{"ban of a mapped address", `{"kind":"bans","bans":[{"source":"::ffff:10.0.0.1/128","until":"2026-05-01T12:00:00Z"}]}`},
		{"ban of an address without a prefix", `{"kind":"bans","bans":[{"source":"10.0.0.1","until":"2026-05-01T12:00:00Z"}]}`},
		{"ban without a source", `{"kind":"bans","bans":[{"until":"2026-05-01T12:00:00Z"}]}`},
		{"ban without an end", `{"kind":"bans","bans":[{"source":"10.0.0.1/32"}]}`},
		{"ban with a bad time", `{"kind":"bans","bans":[{"source":"10.0.0.1/32","until":"soon"}]}`},
		{"ban with an unknown field", `{"kind":"bans","bans":[{"source":"10.0.0.1/32","until":"2026-05-01T12:00:00Z","user":"x"}]}`},
		{"bans not a list", `{"kind":"bans","bans":{"source":"10.0.0.1/32","until":"2026-05-01T12:00:00Z"}}`},
		{"bans with a second payload", `{"kind":"bans","bans":[{"source":"10.0.0.1/32","until":"2026-05-01T12:00:00Z"}],"line":"x\n"}`},
		{"bans in another kind", `{"kind":"sweep","sweep":{"cursor":"a"},"bans":[{"source":"10.0.0.1/32","until":"2026-05-01T12:00:00Z"}]}`},
		{"too many bans", `{"kind":"bans","bans":[` + strings.Repeat(`{"source":"10.0.0.1/32","until":"2026-05-01T12:00:00Z"},`, MaxBansPerMessage) + `{"source":"10.0.0.1/32","until":"2026-05-01T12:00:00Z"}]}`},
		{"unban without id", `{"kind":"unban","unban":{"all":true}}`},
		{"unban answer without id", `{"kind":"unban"}`},
		{"unban of nothing", `{"kind":"unban","id":1,"unban":{}}`},
		{"unban of an empty list", `{"kind":"unban","id":1,"unban":{"sources":[]}}`},
		{"unban of all and a list", `{"kind":"unban","id":1,"unban":{"all":true,"sources":["10.0.0.1/32"]}}`},
		{"unban of a /24", `{"kind":"unban","id":1,"unban":{"sources":["10.0.0.0/24"]}}`},
		{"unban of an IPv6 /64 not masked", `{"kind":"unban","id":1,"unban":{"sources":["2001:db8::1/64"]}}`},
		{"unban of a mapped address", `{"kind":"unban","id":1,"unban":{"sources":["::ffff:10.0.0.1/128"]}}`},
		{"unban of an address without a prefix", `{"kind":"unban","id":1,"unban":{"sources":["10.0.0.1"]}}`},
		{"unban of null", `{"kind":"unban","id":1,"unban":{"sources":[null]}}`},
		{"unban of a number", `{"kind":"unban","id":1,"unban":{"sources":[7]}}`},
		{"unban with all as a string", `{"kind":"unban","id":1,"unban":{"all":"yes"}}`},
		{"unban with an unknown field", `{"kind":"unban","id":1,"unban":{"all":true,"until":"2026-05-01T12:00:00Z"}}`},
		{"unban with a second payload", `{"kind":"unban","id":1,"unban":{"all":true},"line":"x\n"}`},
		{"unban in another kind", `{"kind":"sweep","sweep":{"cursor":"a"},"unban":{"all":true}}`},
		{"unban in a bans message", `{"kind":"bans","unban":{"all":true}}`},
		{"too many unbans", `{"kind":"unban","id":1,"unban":{"sources":[` + strings.Repeat(`"10.0.0.1/32",`, MaxBansPerMessage) + `"10.0.0.1/32"]}}`},
		{"end keeping too many", `{"kind":"end-sessions","id":1,"end":{"user":"u","reason":"changed","keep":[` + strings.Repeat(`"10.0.0.0/8",`, MaxKeep) + `"10.0.0.0/8"]}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := pair(t)
			_, err := a.c.Write([]byte(tt.packet))
			require.NoError(t, err)
			_, err = b.Recv()
			require.Error(t, err)
		})
	}
}

func TestOversizedPacket(t *testing.T) {
	a, b := pair(t)
	err := a.Send(Message{Kind: KindConfig, Config: &WorkerConfig{CertPEM: make([]byte, MaxMessage)}})
	require.ErrorContains(t, err, "exceeds")
	// A raw packet above the bound is refused by the reader too.
	_, err = a.c.Write(make([]byte, MaxMessage+10))
	require.NoError(t, err)
	_, err = b.Recv()
	require.ErrorContains(t, err, "larger than")
}

// TestFullBanBatchFits: a batch of MaxBansPerMessage bans of the longest form fits a
// packet.
func TestFullBanBatchFits(t *testing.T) {
	a, b := pair(t)
	zone := time.FixedZone("", 5*3600+45*60)
	bans := make([]Ban, MaxBansPerMessage)
	for i := range bans {
		bans[i] = Ban{
			Source: netip.MustParsePrefix("ffff:ffff:ffff:ffff::/64"),
			Until:  time.Date(2026, 12, 31, 23, 59, 59, 999_999_999, zone),
		}
	}
	m := Message{Kind: KindBans, Bans: bans}
	require.NoError(t, a.Send(m))
	got, err := b.Recv()
	require.NoError(t, err)
	require.Len(t, got.Bans, MaxBansPerMessage)
}

// TestExtraFiles: each file lands at its descriptor number; a descriptor without one
// is nil, which os/exec closes in the child.
func TestExtraFiles(t *testing.T) {
	lf, ch := os.Stdin, os.Stderr // any two files
	extra := ExtraFiles(map[int]*os.File{ListenerFD: lf, ChannelFD: ch, ImplicitTLSListenerFD: nil})
	require.Len(t, extra, endFD-3)
	require.Same(t, lf, extra[ListenerFD-3])
	require.Same(t, ch, extra[ChannelFD-3])
	require.Nil(t, extra[ImplicitTLSListenerFD-3])
}

func TestEndSessionsStays(t *testing.T) {
	e := EndSessions{User: "u", Reason: EndChanged, Keep: []netip.Prefix{netip.MustParsePrefix("127.0.0.2/32"), netip.MustParsePrefix("10.0.0.0/8")}}
	require.True(t, e.Stays(netip.MustParseAddr("127.0.0.2")))
	require.True(t, e.Stays(netip.MustParseAddr("::ffff:10.1.2.3")), "IPv4 in IPv6 is compared as IPv4")
	require.False(t, e.Stays(netip.MustParseAddr("127.0.0.1")))
	require.False(t, (&EndSessions{User: "u", Reason: EndDeleted}).Stays(netip.MustParseAddr("127.0.0.2")), "without Keep none stays")
	for _, r := range []EndReason{EndDeleted, EndDisabled, EndPassword, EndChanged} {
		require.NotEmpty(t, r.Sentence())
	}
}

// TestFullUnbanFits: an unban of MaxBansPerMessage sources of the longest form fits a
// packet, and so in the control socket's bound.
func TestFullUnbanFits(t *testing.T) {
	a, b := pair(t)
	u := &Unban{Sources: make([]netip.Prefix, MaxBansPerMessage)}
	for i := range u.Sources {
		u.Sources[i] = netip.MustParsePrefix("ffff:ffff:ffff:ffff::/64")
	}
	require.NoError(t, a.Send(Message{Kind: KindUnban, ID: 1<<64 - 1, Unban: u}))
	got, err := b.Recv()
	require.NoError(t, err)
	require.Len(t, got.Unban.Sources, MaxBansPerMessage)
}
