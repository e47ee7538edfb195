package sftpd

import (
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/pkg/sftp"
	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/users/perm"
)

// packet frames an SFTP packet of type typ with body.
func packet(typ byte, body ...[]byte) []byte {
	b := []byte{0, 0, 0, 0, typ}
	for _, part := range body {
		b = append(b, part...)
	}
	binary.BigEndian.PutUint32(b, uint32(len(b)-4))
	return b
}

func sshString(s string) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(s))), s...)
}

func readPacket(t *testing.T, r io.Reader) []byte {
	t.Helper()
	var head [4]byte
	_, err := io.ReadFull(r, head[:])
	require.NoError(t, err)
	body := make([]byte, binary.BigEndian.Uint32(head[:]))
	_, err = io.ReadFull(r, body)
	require.NoError(t, err)
	return body
}

// TestLimitsExtension speaks to pkg/sftp's request server through limitsConn as
// OpenSSH's sftp does: the VERSION names limits@openssh.com, the request for it is
// answered with the lengths pkg/sftp accepts, and the packets after it reach pkg/sftp
// whole; a read of more than 32 KiB is answered in full.
func TestLimitsExtension(t *testing.T) {
	home := t.TempDir()
	client, server := net.Pipe()
	defer client.Close()
	h := listHandler(t, home)
	h.perms = perm.Of(perm.List, perm.Download)
	h.s = &session{transfers: map[*transfer]struct{}{}, log: slog.New(slog.DiscardHandler), conf: &Settings{}}
	rs := sftp.NewRequestServer(newLimitsConn(server), h.handlers(), sftp.WithRSMaxTxPacket(maxData))
	served := make(chan error, 1)
	go func() { served <- rs.Serve() }()
	require.NoError(t, client.SetDeadline(time.Now().Add(10*time.Second)))
	data := make([]byte, maxData)
	for i := range data {
		data[i] = byte(i * 7)
	}
	require.NoError(t, os.WriteFile(filepath.Join(home, "big.bin"), data, 0o644))

	_, err := client.Write(packet(1, binary.BigEndian.AppendUint32(nil, 3)))
	require.NoError(t, err)
	version := readPacket(t, client)
	require.Equal(t, byte(fxpVersion), version[0])
	require.Contains(t, string(version), limitsExtension+"\x00\x00\x00\x011", "the VERSION names the extension")

	_, err = client.Write(packet(fxpExtended, binary.BigEndian.AppendUint32(nil, 7), sshString(limitsExtension)))
	require.NoError(t, err)
	reply := readPacket(t, client)
	require.Equal(t, byte(fxpExtendedReply), reply[0])
	require.Equal(t, uint32(7), binary.BigEndian.Uint32(reply[1:]))
	require.Len(t, reply, 1+4+4*8)
	var limits [4]uint64
	for i := range limits {
		limits[i] = binary.BigEndian.Uint64(reply[5+8*i:])
	}
	require.Equal(t, [4]uint64{maxPacket, maxData, maxData, 0}, limits)

	// OPEN big.bin for reading, then one READ of maxData bytes.
	_, err = client.Write(packet(3, binary.BigEndian.AppendUint32(nil, 8), sshString("big.bin"),
		binary.BigEndian.AppendUint32(nil, 1), binary.BigEndian.AppendUint32(nil, 0)))
	require.NoError(t, err)
	opened := readPacket(t, client)
	require.Equal(t, byte(102), opened[0], "SSH_FXP_HANDLE: %q", opened)
	handle := opened[5:] // an SSH string
	_, err = client.Write(packet(5, binary.BigEndian.AppendUint32(nil, 9), handle,
		binary.BigEndian.AppendUint64(nil, 0), binary.BigEndian.AppendUint32(nil, maxData)))
	require.NoError(t, err)
	got := readPacket(t, client)
	require.Equal(t, byte(103), got[0], "SSH_FXP_DATA")
	require.Equal(t, uint32(maxData), binary.BigEndian.Uint32(got[5:]))
	require.Equal(t, data, got[9:])

	client.Close()
	require.Error(t, <-served)
}
