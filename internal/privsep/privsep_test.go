package privsep

import (
	"strings"
	"testing"

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
		{Kind: KindAuthReply, ID: 7, Reply: &AuthReply{OK: true, Home: "site1"}},
		{Kind: KindAuthReply, ID: 8, Reply: &AuthReply{Failure: FailureBanned}},
		{Kind: KindSweep, Sweep: &SweepState{Cursor: "site1/uploads"}},
		{Kind: KindSweep, Sweep: &SweepState{}},
		{Kind: KindXferlog, Line: "Sat Nov 21 23:00:00 2026 1 127.0.0.1 6 /up.txt b _ i r alice ftp 0 * c\n"},
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
