package users

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func ptr[T any](v T) *T { return &v }

func TestModify(t *testing.T) {
	h := "$6$salt$" + strings.Repeat("x", 86)
	expiry := time.Date(2027, 1, 31, 0, 0, 0, 0, time.UTC) // day 20849
	tests := []struct {
		name       string
		shadow     string // alice's hash and fields after her name; "" for the added ones
		change     Change
		wantPasswd string // alice's passwd line
		wantShadow string // alice's shadow line
		wantErr    string
	}{
		{name: "home", change: Change{Home: ptr("/srv/new")},
			wantPasswd: "alice:x:700:700:" + GECOS + ":/srv/new:" + Shell(), wantShadow: "alice:" + h + ":20778::::::"},
		{name: "description", change: Change{Description: ptr("Alice Smith (design team)")},
			wantPasswd: "alice:x:700:700:Alice Smith (design team):/srv:" + Shell(), wantShadow: "alice:" + h + ":20778::::::"},
		{name: "empty description puts the marker back", shadow: "", change: Change{Description: ptr("")},
			wantPasswd: "alice:x:700:700:" + GECOS + ":/srv:" + Shell(), wantShadow: "alice:" + h + ":20778::::::"},
		{name: "disable", change: Change{Disabled: ptr(true)}, wantShadow: "alice:!" + h + ":20778::::::"},
		{name: "disable twice keeps one lock", shadow: "!" + h + ":20778::::::", change: Change{Disabled: ptr(true)}, wantShadow: "alice:!" + h + ":20778::::::"},
		{name: "enable", shadow: "!" + h + ":20778::::::", change: Change{Disabled: ptr(false)}, wantShadow: "alice:" + h + ":20778::::::"},
		{name: "enable after passwd -l twice", shadow: "!!" + h + ":20778::::::", change: Change{Disabled: ptr(false)}, wantShadow: "alice:" + h + ":20778::::::"},
		{name: "enable an enabled account", change: Change{Disabled: ptr(false)}, wantShadow: "alice:" + h + ":20778::::::"},
		{name: "enable without password", shadow: "!:20778::::::", change: Change{Disabled: ptr(false)}, wantErr: ErrNothingToEnable.Error()},
		{name: "enable a star", shadow: "!*:20778::::::", change: Change{Disabled: ptr(false)}, wantErr: ErrNothingToEnable.Error()},
		{name: "expires", change: Change{Expires: &expiry}, wantShadow: "alice:" + h + ":20778:::::20849:"},
		{name: "expires never", shadow: h + ":20778:0:90:7::20849:", change: Change{Expires: &time.Time{}}, wantShadow: "alice:" + h + ":20778:0:90:7:::"},
		{name: "max days", shadow: h + ":20778:0::7:::", change: Change{PasswordMaxDays: ptr(30)}, wantShadow: "alice:" + h + ":20778:0:30:7:::"},
		{name: "max days never", shadow: h + ":20778:0:90:7:::", change: Change{PasswordMaxDays: ptr(-1)}, wantShadow: "alice:" + h + ":20778:0::7:::"},
		{name: "several at once", change: Change{Home: ptr("/srv/b"), Disabled: ptr(true), Expires: &expiry, PasswordMaxDays: ptr(5)},
			wantPasswd: "alice:x:700:700:" + GECOS + ":/srv/b:" + Shell(), wantShadow: "alice:!" + h + ":20778::5:::20849:"},
		{name: "colon in description", change: Change{Description: ptr("a:b")}, wantErr: "contains ':', ',' or '='"},
		{name: "comma in description", change: Change{Description: ptr("Alice,Room 5")}, wantErr: "contains ':', ',' or '='"},
		{name: "equals in description", change: Change{Description: ptr("team=web")}, wantErr: "contains ':', ',' or '='"},
		{name: "newline in description", change: Change{Description: ptr("a\nroot::0:0")}, wantErr: "contains ':', ',' or '='"},
		{name: "tab in description", change: Change{Description: ptr("a\tb")}, wantErr: "control character"},
		{name: "invalid UTF-8 description", change: Change{Description: ptr("a\xffb")}, wantErr: "UTF-8"},
		{name: "long description", change: Change{Description: ptr(strings.Repeat("a", 129))}, wantErr: "longer than 128"},
		{name: "newline in home", change: Change{Home: ptr("/srv\nx")}, wantErr: "a newline"},
		{name: "failure of one field changes no other", change: Change{Home: ptr("/srv/ok"), Disabled: ptr(false), Description: ptr("a:b")}, wantErr: "contains ':'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newEtc(t)
			require.NoError(t, change(t, dir, func(tx *Tx) error { return tx.Add("alice", "/srv", h, now) }))
			if tt.shadow != "" {
				require.NoError(t, change(t, dir, func(tx *Tx) error {
					sh, _ := tx.Shadow.Lookup("alice")
					return tx.Shadow.Replace(append(sh[:1:1], strings.Split(tt.shadow, ":")...))
				}))
			}
			before := read(t, dir, "passwd") + read(t, dir, "shadow")
			err := change(t, dir, func(tx *Tx) error { return tx.Modify("alice", tt.change) })
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				require.Equal(t, before, read(t, dir, "passwd")+read(t, dir, "shadow"), "nothing written")
				return
			}
			require.NoError(t, err)
			if tt.wantPasswd == "" {
				tt.wantPasswd = "alice:x:700:700:" + GECOS + ":/srv:" + Shell()
			}
			require.Contains(t, read(t, dir, "passwd"), "\n"+tt.wantPasswd+"\n")
			require.Contains(t, read(t, dir, "shadow"), "\n"+tt.wantShadow+"\n")
		})
	}
}

func TestModifyRefusesOtherAccounts(t *testing.T) {
	dir := newEtc(t)
	require.NoError(t, change(t, dir, func(tx *Tx) error { return tx.Add("alice", "/srv", hash(t, "pw-alice-1"), now) }))
	before := read(t, dir, "passwd") + read(t, dir, "shadow")
	for _, name := range []string{"root", "nobody", "ghost", "Bad"} {
		err := change(t, dir, func(tx *Tx) error { return tx.Modify(name, Change{Disabled: ptr(true)}) })
		require.Error(t, err, name)
	}
	require.Equal(t, before, read(t, dir, "passwd")+read(t, dir, "shadow"))
}

func TestAccountFields(t *testing.T) {
	h := hash(t, "pw-alice-1")
	tests := []struct {
		name    string
		gecos   string
		shadow  string
		check   func(t *testing.T, a Account)
		agedOut bool
		expired bool
	}{
		{"plain", GECOS, h + ":20778::::::", func(t *testing.T, a Account) {
			require.Empty(t, a.Description)
			require.False(t, a.Disabled)
			require.True(t, a.Expires.IsZero())
			require.Equal(t, -1, a.PasswordMaxDays)
			require.True(t, a.PasswordExpires().IsZero())
		}, false, false},
		{"described", "Alice Smith", h + ":20778::::::", func(t *testing.T, a Account) {
			require.Equal(t, "Alice Smith", a.Description)
		}, false, false},
		{"disabled", GECOS, "!" + h + ":20778::::::", func(t *testing.T, a Account) {
			require.True(t, a.Disabled)
			require.True(t, a.Locked)
		}, false, false},
		{"star is locked, not disabled", GECOS, "*:20778::::::", func(t *testing.T, a Account) {
			require.False(t, a.Disabled)
			require.True(t, a.Locked)
		}, false, false},
		{"expires today", GECOS, h + ":20778:::::20778:", func(t *testing.T, a Account) {
			require.Equal(t, "2026-11-21", a.Expires.Format(time.DateOnly))
		}, false, true},
		{"expires tomorrow", GECOS, h + ":20778:::::20779:", nil, false, false},
		{"ages out", GECOS, h + ":20768:0:10:7:::", func(t *testing.T, a Account) {
			require.Equal(t, 10, a.PasswordMaxDays)
			require.Equal(t, "2026-11-21", a.PasswordExpires().Format(time.DateOnly), "chage -l's Password expires")
		}, false, false},
		{"99999 is no maximum, as for chage", GECOS, h + ":20778:0:99999:7:::", func(t *testing.T, a Account) {
			require.Equal(t, 99999, a.PasswordMaxDays)
			require.True(t, a.PasswordExpires().IsZero())
		}, false, false},
		{"aged out", GECOS, h + ":20767:0:10:7:::", func(t *testing.T, a Account) {
			require.Equal(t, "2026-11-20", a.PasswordExpires().Format(time.DateOnly))
		}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := newEtc(t)
			require.NoError(t, change(t, dir, func(tx *Tx) error {
				if err := tx.Add("alice", "/srv", h, now); err != nil {
					return err
				}
				pw, _ := tx.Passwd.Lookup("alice")
				pw = append(pw[:4:4], tt.gecos, pw[5], pw[6])
				sh, _ := tx.Shadow.Lookup("alice")
				return errors.Join(tx.Passwd.Replace(pw), tx.Shadow.Replace(append(sh[:1:1], strings.Split(tt.shadow, ":")...)))
			}))
			list, err := Snapshot(dir)
			require.NoError(t, err)
			require.Len(t, list, 1)
			if tt.check != nil {
				tt.check(t, list[0])
			}
			require.Equal(t, tt.agedOut, list[0].PasswordAgedOut(now), "aged out")
			require.Equal(t, tt.expired, list[0].Expired(now), "expired")
			_, err = Authenticate(dir, "alice", "pw-alice-1", loopback, anyAddress{}, now)
			require.Equal(t, tt.agedOut || tt.expired || list[0].Locked, err != nil, "Authenticate agrees with the fields: %v", err)
		})
	}
}

func TestSetPasswordKeepsDisabled(t *testing.T) {
	dir := newEtc(t)
	require.NoError(t, change(t, dir, func(tx *Tx) error { return tx.Add("alice", "/srv", hash(t, "pw-alice-1"), now) }))
	require.NoError(t, change(t, dir, func(tx *Tx) error { return tx.Modify("alice", Change{Disabled: ptr(true)}) }))
	require.NoError(t, change(t, dir, func(tx *Tx) error { return tx.SetPassword("alice", hash(t, "pw-alice-2"), now) }))
	_, err := Authenticate(dir, "alice", "pw-alice-2", loopback, anyAddress{}, now)
	require.ErrorContains(t, err, "account disabled")
	require.NoError(t, change(t, dir, func(tx *Tx) error { return tx.Modify("alice", Change{Disabled: ptr(false)}) }))
	_, err = Authenticate(dir, "alice", "pw-alice-2", loopback, anyAddress{}, now)
	require.NoError(t, err, "enabled with the password set while disabled")
}

func TestAuthenticateGateCostsNoHash(t *testing.T) {
	dir := newEtc(t)
	require.NoError(t, change(t, dir, func(tx *Tx) error { return tx.Add("alice", "/srv", hash(t, "pw-alice-1"), now) }))
	gate := onlyFrom(netip.MustParseAddr("127.0.0.2"))

	before := PasswordChecks()
	_, err := Authenticate(dir, "alice", "pw-alice-1", loopback, gate, now)
	require.ErrorIs(t, err, ErrBadLogin)
	require.ErrorContains(t, err, "127.0.0.1 is not in the account's allow_from")
	require.Equal(t, before, PasswordChecks(), "a refused address computes no hash")

	_, err = Authenticate(dir, "alice", "pw-alice-1", netip.MustParseAddr("127.0.0.2"), gate, now)
	require.NoError(t, err)
	require.Equal(t, before+1, PasswordChecks())

	_, err = Authenticate(dir, "alice", "pw-alice-1", loopback, failingGate{}, now)
	require.ErrorContains(t, err, "users.toml is broken")
	require.NotErrorIs(t, err, ErrBadLogin, "a gate that cannot decide is an error, not a refusal")
}

type failingGate struct{}

func (failingGate) Admits(string, netip.Addr) (bool, error) {
	return false, errors.New("users.toml is broken")
}
