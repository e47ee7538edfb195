package users

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestRecordsAndPut(t *testing.T) {
	dir := newEtc(t)
	h1, h2 := hash(t, "first-pass-1"), hash(t, "second-pass-2")
	require.NoError(t, change(t, dir, func(tx *Tx) error { return tx.Add("ann", "/srv/a", h1, now) }))
	today := Aging{LastChange: "20778"} // now's day

	recs, err := Records(dir)
	require.NoError(t, err)
	require.Equal(t, []Record{{Name: "ann", Home: "/srv/a", Hash: h1, Aging: &today}}, recs)

	expired := Aging{LastChange: "18000", MaxDays: "90", Expires: "19000"}
	tests := []struct {
		name    string
		rec     Record
		want    *Record // the record read back, when not rec itself
		changed bool
		err     string
	}{
		{"same", Record{Name: "ann", Home: "/srv/a", Hash: h1, Aging: &today}, nil, false, ""},
		{"same without dates", Record{Name: "ann", Home: "/srv/a", Hash: h1}, &Record{Name: "ann", Home: "/srv/a", Hash: h1, Aging: &today}, false, ""},
		{"new hash, dates as a new password sets them", Record{Name: "ann", Home: "/srv/a", Hash: h2}, &Record{Name: "ann", Home: "/srv/a", Hash: h2, Aging: &today}, true, ""},
		{"new home", Record{Name: "ann", Home: "/srv/b", Hash: h2, Aging: &today}, nil, true, ""},
		{"description", Record{Name: "ann", Home: "/srv/b", Hash: h2, Description: "Ann from sales", Aging: &today}, nil, true, ""},
		{"expiry and aging kept exactly", Record{Name: "ann", Home: "/srv/b", Hash: h2, Description: "Ann from sales", Aging: &expired}, nil, true, ""},
		{"disabled moves disabled", Record{Name: "ann", Home: "/srv/b", Hash: "!" + h2, Aging: &expired}, nil, true, ""},
		{"new account", Record{Name: "bob", Home: "/srv", Hash: h1, Aging: &expired}, nil, true, ""},
		{"system account", Record{Name: "root", Home: "/srv", Hash: h1}, nil, false, "not an FTP account"},
		{"plain password", Record{Name: "ann", Home: "/srv/b", Hash: "not a hash"}, nil, false, "malformed"},
		{"home with colon", Record{Name: "ann", Home: "/srv:/x", Hash: h2}, nil, false, "':'"},
		{"description with colon", Record{Name: "ann", Home: "/srv/b", Hash: h2, Description: "a:b"}, nil, false, "description"},
		{"date with a separator", Record{Name: "ann", Home: "/srv/b", Hash: h2, Aging: &Aging{Expires: "1:2"}}, nil, false, "not a number of days"},
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
			want := tt.rec
			if tt.want != nil {
				want = *tt.want
			}
			require.Contains(t, recs, want)
		})
	}
	shadow := read(t, dir, "shadow")
	require.NotContains(t, shadow, "not a hash")
	require.Contains(t, shadow, "\nann:!"+h2+":18000::90:::19000:", "shadow holds the dates as given")
}

func TestRecordValidate(t *testing.T) {
	h := hash(t, "pw-valid-12")
	require.NoError(t, Record{Name: "ann", Home: "/srv/a", Hash: h}.Validate("/srv"))
	require.NoError(t, Record{Name: "ann", Home: "/srv/a", Hash: "!"}.Validate("/srv"), "a locked account moves locked")
	require.NoError(t, Record{Name: "ann", Home: "/srv/a", Hash: h, Aging: &Aging{LastChange: "0", Expires: "99999"}}.Validate("/srv"))
	for _, r := range []Record{
		{Name: "Ann", Home: "/srv", Hash: h},
		{Name: "ann", Home: "/etc", Hash: h},
		{Name: "ann", Home: "/srv/../etc", Hash: h},
		{Name: "ann", Home: "/srv", Hash: ""},
		{Name: "ann", Home: "/srv", Hash: h + ":0"},
		{Name: "ann", Home: "/srv", Hash: h, Description: "line\nbreak"},
		{Name: "ann", Home: "/srv", Hash: h, Aging: &Aging{MaxDays: "-1"}},
		{Name: "ann", Home: "/srv", Hash: h, Aging: &Aging{MaxDays: "007"}},
		{Name: "ann", Home: "/srv", Hash: h, Aging: &Aging{Inactive: "9999999999"}},
	} {
		require.Error(t, r.Validate("/srv"), "%+v", r)
	}
}
