package agent

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/internal/privsep"
	"github.com/jelastic/jelastic-ftp/monitor"
	"github.com/jelastic/jelastic-ftp/users"
	"github.com/jelastic/jelastic-ftp/users/allowfrom"
	"github.com/jelastic/jelastic-ftp/users/perm"
)

// TestSessionEnd: access taken away ends the sessions, access given or kept
// does not.
func TestSessionEnd(t *testing.T) {
	now := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	yes, no := true, false
	home := "/srv/other"
	narrow, _ := allowfrom.Parse("127.0.0.2")
	anyAddr, _ := allowfrom.Parse("any")
	upload := perm.Of(perm.List, perm.Download, perm.Upload)
	base := users.Account{Name: "alice", Home: "/srv/site", PasswordMaxDays: -1, PasswordChanged: now.AddDate(0, 0, -10)}
	with := func(change func(*users.Account)) users.Account {
		a := base
		change(&a)
		return a
	}
	tests := []struct {
		name          string
		s             UserSettings
		after         users.Account
		oldOpt, newOp config.UserOptions
		want          SessionEnd
	}{
		{"disable", UserSettings{Disabled: &yes}, with(func(a *users.Account) { a.Disabled = true }), config.UserOptions{}, config.UserOptions{}, SessionEnd{Reason: privsep.EndDisabled}},
		{"enable", UserSettings{Disabled: &no}, base, config.UserOptions{}, config.UserOptions{}, SessionEnd{}},
		{"expired now", UserSettings{Expires: &now}, with(func(a *users.Account) { a.Expires = now.AddDate(0, 0, -1) }), config.UserOptions{}, config.UserOptions{}, SessionEnd{Reason: privsep.EndDisabled}},
		{"password aged out", UserSettings{}, with(func(a *users.Account) { a.PasswordMaxDays = 1 }), config.UserOptions{}, config.UserOptions{}, SessionEnd{Reason: privsep.EndDisabled}},
		{"new home", UserSettings{Home: &home}, with(func(a *users.Account) { a.Home = home }), config.UserOptions{}, config.UserOptions{}, SessionEnd{Reason: privsep.EndChanged}},
		{"permission taken away", UserSettings{}, base, config.UserOptions{Permissions: perm.All}, config.UserOptions{Permissions: upload}, SessionEnd{Reason: privsep.EndChanged}},
		{"permission given", UserSettings{}, base, config.UserOptions{Permissions: perm.ReadOnly}, config.UserOptions{Permissions: upload}, SessionEnd{}},
		{"allow-from", UserSettings{AllowFrom: &narrow}, base, config.UserOptions{}, config.UserOptions{AllowFrom: narrow}, SessionEnd{Reason: privsep.EndChanged, Keep: narrow}},
		{"allow-from any", UserSettings{AllowFrom: &anyAddr}, base, config.UserOptions{AllowFrom: narrow}, config.UserOptions{}, SessionEnd{}},
		{"description", UserSettings{Description: &home}, base, config.UserOptions{}, config.UserOptions{}, SessionEnd{}},
	}
	for _, tt := range tests {
		got := sessionEnd(tt.s, base, tt.after, tt.oldOpt, tt.newOp, now)
		require.Equal(t, tt.want, got, tt.name)
	}
}

// TestEndSessionsWithoutService: with no service running there is nothing to end,
// and that is told apart from a failure.
func TestEndSessionsWithoutService(t *testing.T) {
	a := &Admin{ControlSocket: t.TempDir() + "/control.sock"}
	n, err := a.EndSessions("alice", SessionEnd{})
	require.NoError(t, err)
	require.Zero(t, n)
	_, err = a.EndSessions("alice", SessionEnd{Reason: privsep.EndDeleted})
	require.ErrorIs(t, err, monitor.ErrNotRunning)
}
