package users

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRecordsAndPut(t *testing.T) {
	dir := newEtc(t)
	h1, h2 := hash(t, "first-pass-1"), hash(t, "second-pass-2")
	require.NoError(t, change(t, dir, func(tx *Tx) error { return tx.Add("ann", "/srv/a", h1, now) }))

	recs, err := Records(dir)
	require.NoError(t, err)
	require.Equal(t, []Record{{Name: "ann", Home: "/srv/a", Hash: h1}}, recs)

	tests := []struct {
		name    string
		rec     Record
		changed bool
		err     string
	}{
		{"same", Record{"ann", "/srv/a", h1}, false, ""},
		{"new hash", Record{"ann", "/srv/a", h2}, true, ""},
		{"new home", Record{"ann", "/srv/b", h2}, true, ""},
		{"new account", Record{"bob", "/srv", h1}, true, ""},
		{"system account", Record{"root", "/srv", h1}, false, "not an FTP account"},
		{"plain password", Record{"ann", "/srv/b", "not a hash"}, false, "malformed"},
		{"home with colon", Record{"ann", "/srv:/x", h2}, false, "':'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var changed bool
			err := change(t, dir, func(tx *Tx) error {
				var err error
				changed, err = tx.Put(tt.rec, now)
				return err
			})
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.changed, changed)
			recs, err := Records(dir)
			require.NoError(t, err)
			require.Contains(t, recs, tt.rec)
		})
	}
	require.NotContains(t, read(t, dir, "shadow"), "not a hash")
}

func TestRecordValidate(t *testing.T) {
	h := hash(t, "pw-valid-12")
	require.NoError(t, Record{"ann", "/srv/a", h}.Validate("/srv"))
	require.NoError(t, Record{"ann", "/srv/a", "!"}.Validate("/srv"), "a locked account moves locked")
	for _, r := range []Record{
		{"Ann", "/srv", h},
		{"ann", "/etc", h},
		{"ann", "/srv/../etc", h},
		{"ann", "/srv", ""},
		{"ann", "/srv", h + ":0"},
	} {
		require.Error(t, r.Validate("/srv"), "%+v", r)
	}
}
