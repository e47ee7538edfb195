package users

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRemoveGroup(t *testing.T) {
	const (
		ftpGroup = "jelastic-ftp:x:700:\n"
		ftpGShad = "jelastic-ftp:!::\n"
	)
	cases := []struct {
		name                string
		passwd, group, gsh  string // appended to the base files
		noGShadow           bool
		wantRemoved         bool
		wantErr             error
		wantGroup, wantGShd string // appended to the base files after the change
	}{
		{name: "absent", wantRemoved: false},
		{name: "present", group: ftpGroup, gsh: ftpGShad, wantRemoved: true},
		{name: "only in group", group: ftpGroup, wantRemoved: true},
		{name: "without gshadow", group: ftpGroup, noGShadow: true, wantRemoved: true},
		{
			name:   "primary group of an account",
			passwd: "\nalice:x:700:700::/srv:/bin/false\n", group: ftpGroup, gsh: ftpGShad,
			wantErr: ErrGroupInUse, wantGroup: ftpGroup, wantGShd: ftpGShad,
		},
		{
			// Supplementary membership does not block groupdel either.
			name:  "with supplementary members",
			group: "jelastic-ftp:x:700:bob\n", gsh: "jelastic-ftp:!::bob\n",
			wantRemoved: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := newEtc(t)
			appendFile(t, dir, "passwd", tc.passwd)
			appendFile(t, dir, "group", tc.group)
			if tc.noGShadow {
				require.NoError(t, os.Remove(filepath.Join(dir, "gshadow")))
			} else {
				appendFile(t, dir, "gshadow", tc.gsh)
			}
			var removed bool
			err := change(t, dir, func(tx *Tx) error {
				var err error
				removed, err = tx.RemoveGroup()
				return err
			})
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
			} else {
				require.NoError(t, err)
			}
			require.Equal(t, tc.wantRemoved, removed)
			require.Equal(t, baseGroup+tc.wantGroup, read(t, dir, "group"))
			if !tc.noGShadow {
				require.Equal(t, baseGShad+tc.wantGShd, read(t, dir, "gshadow"))
			}
		})
	}
}

func appendFile(t *testing.T, dir, name, text string) {
	t.Helper()
	if text == "" {
		return
	}
	f, err := os.OpenFile(filepath.Join(dir, name), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString(text)
	require.NoError(t, errors.Join(err, f.Close()))
}
