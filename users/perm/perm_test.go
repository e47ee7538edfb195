package perm

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	tests := []struct {
		in   string
		want Set
		text string
	}{
		{"*", All, "*"},
		{" * ", All, "*"},
		{"list,download", ReadOnly, "list,download"},
		{"download, list", ReadOnly, "list,download"},
		{"upload", Of(Upload), "upload"},
		{"mtime,chmod,rmdir,mkdir,rename,delete,overwrite,upload,download,list", All, "*"},
		{"list,download,upload,overwrite,delete,rename,mkdir,rmdir,chmod", Of(List, Download, Upload, Overwrite, Delete, Rename, Mkdir, Rmdir, Chmod), "list,download,upload,overwrite,delete,rename,mkdir,rmdir,chmod"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
			require.Equal(t, tt.text, got.String())
			again, err := Parse(got.String())
			require.NoError(t, err)
			require.Equal(t, got, again, "String is read back as the same set")
		})
	}
}

func TestParseRefuses(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", "the permission list is empty"},
		{"  ", "the permission list is empty"},
		{"read", `unknown permission "read"`},
		{"list,", `unknown permission ""`},
		{"list,,download", `unknown permission ""`},
		{"LIST", `unknown permission "LIST"`},
		{"list,list", `permission "list" is listed twice`},
		{"list,*", `"*" stands alone`},
		{"all", `unknown permission "all"`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestZeroValueHoldsEverything(t *testing.T) {
	var s Set
	for i := range names {
		require.True(t, s.Has(1<<i), names[i])
	}
	require.Equal(t, All, s)
	require.False(t, s.Empty())
	require.True(t, Of().Empty())
}

func TestHasAndChangesNothing(t *testing.T) {
	tests := []struct {
		set            Set
		has, hasNot    []Perm
		changesNothing bool
	}{
		{All, []Perm{List, Download, Upload, Mtime}, nil, false},
		{ReadOnly, []Perm{List, Download}, []Perm{Upload, Overwrite, Delete, Rename, Mkdir, Rmdir, Chmod, Mtime}, true},
		{Of(List), []Perm{List}, []Perm{Download, Upload}, true},
		{Of(Download, Mkdir), []Perm{Download, Mkdir}, []Perm{List, Rmdir}, false},
		{Of(Mtime), []Perm{Mtime}, []Perm{List, Chmod}, false},
	}
	for _, tt := range tests {
		t.Run(tt.set.String(), func(t *testing.T) {
			for _, p := range tt.has {
				require.True(t, tt.set.Has(p), p.String())
			}
			for _, p := range tt.hasNot {
				require.False(t, tt.set.Has(p), p.String())
			}
			require.Equal(t, tt.changesNothing, tt.set.ChangesNothing())
		})
	}
}

func TestJSON(t *testing.T) {
	type wire struct {
		P Set `json:"permissions"`
	}
	b, err := json.Marshal(wire{ReadOnly})
	require.NoError(t, err)
	require.JSONEq(t, `{"permissions":"list,download"}`, string(b))
	var back wire
	require.NoError(t, json.Unmarshal(b, &back))
	require.Equal(t, ReadOnly, back.P)
	require.Error(t, json.Unmarshal([]byte(`{"permissions":"fly"}`), &back))
}

func TestPermString(t *testing.T) {
	require.Equal(t, "overwrite", Overwrite.String())
	require.Equal(t, "perm(0x3)", (List | Download).String())
}
