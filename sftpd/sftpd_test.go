package sftpd

import (
	"io"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/ssh"

	"github.com/jelastic/jelastic-ftp/users/perm"
)

func TestSubsystem(t *testing.T) {
	tests := []struct {
		payload []byte
		want    string
	}{
		{ssh.Marshal(struct{ Name string }{"sftp"}), "sftp"},
		{ssh.Marshal(struct{ Name string }{"sftp-server"}), "sftp-server"},
		{[]byte{0, 0, 0, 9, 's', 'f', 't', 'p'}, ""}, // length beyond the payload
		{[]byte{0, 0, 0, 2, 's', 'f', 't', 'p'}, ""}, // bytes after the string
		{[]byte{0, 0}, ""},
		{nil, ""},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, subsystem(tt.payload), "%q", tt.payload)
	}
}

func TestNeedNamesThePermission(t *testing.T) {
	h := &handler{perms: perm.Of(perm.List)}
	require.NoError(t, h.need(perm.List))
	err := h.need(perm.Overwrite)
	require.EqualError(t, err, `permission denied: the account lacks the "overwrite" permission`)
	require.ErrorIs(t, status(err), err)
}

func TestListerAt(t *testing.T) {
	infos := make(listerAt, 5)
	tests := []struct {
		buf, off, want int
		eof            bool
	}{
		{2, 0, 2, false},
		{3, 2, 3, false},
		{4, 3, 2, true},
		{4, 5, 0, true},
	}
	for _, tt := range tests {
		n, err := infos.ListAt(make([]os.FileInfo, tt.buf), int64(tt.off))
		require.Equal(t, tt.want, n)
		require.Equal(t, tt.eof, err == io.EOF)
	}
}

func TestSettingsRefused(t *testing.T) {
	good := Settings{IdleTimeout: time.Minute, LoginAttemptsPerSession: 1}
	require.ErrorContains(t, good.validate(), "no SSH host key")
	require.ErrorContains(t, good.validate(), "no admission gate")
	_, err := New(good, nil)
	require.ErrorContains(t, err, "Authenticator")
}
