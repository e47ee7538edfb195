package etcdb

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const debianPasswd = `root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sys:x:3:3:sys:/dev:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
games:x:5:60:games:/usr/games:/usr/sbin/nologin
man:x:6:12:man:/var/cache/man:/usr/sbin/nologin
lp:x:7:7:lp:/var/spool/lpd:/usr/sbin/nologin
mail:x:8:8:mail:/var/mail:/usr/sbin/nologin
news:x:9:9:news:/var/spool/news:/usr/sbin/nologin
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
backup:x:34:34:backup:/var/backups:/usr/sbin/nologin
list:x:38:38:Mailing List Manager:/var/list:/usr/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
_apt:x:42:65534::/nonexistent:/usr/sbin/nologin
`

const debianShadow = `root:*:19000:0:99999:7:::
daemon:*:19000:0:99999:7:::
bin:*:19000:0:99999:7:::
nobody:*:19000:0:99999:7:::
_apt:*:19000:0:99999:7:::
alice:$y$j9T$abc$def:20778:0:99999:7:::
`

const debianGroup = `root:x:0:
daemon:x:1:
sudo:x:27:alice,bob
users:x:100:
nogroup:x:65534:
jelastic-ftp:x:700:
`

const debianGShadow = `root:*::
daemon:*::
sudo:*::alice,bob
users:*::
nogroup:*::
jelastic-ftp:!::
`

// layouts are files every test runs over, per kind.
var layouts = map[Kind][]string{
	Passwd: {
		"",
		"\n",
		"\n\n\n",
		debianPasswd,
		strings.TrimSuffix(debianPasswd, "\n"),
		strings.ReplaceAll(debianPasswd, "\n", "\r\n"),
		"# comment\n\nroot:x:0:0:root:/root:/bin/bash\n  # indented comment\n",
		"root:x:0:0:root:/root:/bin/bash\n+@netgroup:x:::::\n-baduser:::::::\n+::::::\n",
		"root:x:0:0:root:/root:/bin/bash\nbroken line\nshort:x:1\nlong:x:1:1:g:/h:/s:extra\n\x00binary\xff\n",
		"root:x:0:0:root:/root:/bin/bash\n\tspaced:x:0:0::/:/bin/sh\n:x:0:0::/:/bin/sh\n",
		"a:b:c:d:e:f:g",
	},
	Shadow: {
		debianShadow,
		strings.TrimSuffix(debianShadow, "\n"),
		"old:$1$salt$hash:19000:0:99999\n" + debianShadow,
		"+@netgroup::::::::\n" + debianShadow,
		"root:*:19000:0:99999:7:::\r\n",
	},
	Group: {
		debianGroup,
		"# groups\n" + debianGroup + "+:::\n",
		strings.TrimSuffix(debianGroup, "\n"),
	},
	GShadow: {
		debianGShadow,
		"\n" + debianGShadow + "-nis::\n",
	},
}

// sample returns a valid entry of kind named name.
func sample(kind Kind, name string) Entry {
	switch kind {
	case Passwd:
		return Entry{name, "x", "700", "700", "FTP user", "/home/" + name, "/usr/sbin/nologin"}
	case Shadow:
		return Entry{name, "!", "20778", "0", "99999", "7", "", "", ""}
	case Group:
		return Entry{name, "x", "701", "alice,bob"}
	default:
		return Entry{name, "!", "", "alice,bob"}
	}
}

func TestKind(t *testing.T) {
	for _, tc := range []struct {
		kind   Kind
		name   string
		fields int
	}{
		{Passwd, "passwd", 7},
		{Shadow, "shadow", 9},
		{Group, "group", 4},
		{GShadow, "gshadow", 4},
		{Kind(0), "Kind(0)", 0},
	} {
		require.Equal(t, tc.name, tc.kind.String())
		require.Equal(t, tc.fields, tc.kind.Fields())
	}
	_, err := Parse(Kind(0), nil)
	require.Error(t, err)
}

func TestRoundTripUnmodified(t *testing.T) {
	for kind, files := range layouts {
		for i, data := range files {
			t.Run(fmt.Sprintf("%s/%d", kind, i), func(t *testing.T) {
				f, err := Parse(kind, []byte(data))
				require.NoError(t, err)
				require.Equal(t, data, string(f.Bytes()))
				require.False(t, f.Changed())
			})
		}
	}
}

func TestAddRemoveRestoresInput(t *testing.T) {
	for kind, files := range layouts {
		for i, data := range files {
			t.Run(fmt.Sprintf("%s/%d", kind, i), func(t *testing.T) {
				f, err := Parse(kind, []byte(data))
				require.NoError(t, err)
				e := sample(kind, "jftpuser")
				require.NoError(t, f.Add(e))
				require.True(t, f.Changed())
				got, err := f.Lookup("jftpuser")
				require.NoError(t, err)
				require.Equal(t, e, got)

				again, err := Parse(kind, f.Bytes())
				require.NoError(t, err)
				got, err = again.Lookup("jftpuser")
				require.NoError(t, err)
				require.Equal(t, e, got)

				removed, err := f.Remove("jftpuser")
				require.NoError(t, err)
				require.True(t, removed)
				require.Equal(t, withFinalNewline(data), string(f.Bytes()))
			})
		}
	}
}

// withFinalNewline is the output rule for a changed file.
func withFinalNewline(s string) string {
	if s != "" && !strings.HasSuffix(s, "\n") {
		return s + "\n"
	}
	return s
}

func TestAddPosition(t *testing.T) {
	for _, tc := range []struct {
		name, in, want string
	}{
		{"end", "a:x:1:\n", "a:x:1:\nnew:x:701:alice,bob\n"},
		{"empty", "", "new:x:701:alice,bob\n"},
		{"no final newline", "a:x:1:", "a:x:1:\nnew:x:701:alice,bob\n"},
		{"before first NIS line", "a:x:1:\n+nis:::\nb:x:2:\n-other:::\n", "a:x:1:\nnew:x:701:alice,bob\n+nis:::\nb:x:2:\n-other:::\n"},
		{"NIS only", "+:::\n", "new:x:701:alice,bob\n+:::\n"},
		{"after trailing comment", "a:x:1:\n# end\n", "a:x:1:\n# end\nnew:x:701:alice,bob\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(Group, []byte(tc.in))
			require.NoError(t, err)
			require.NoError(t, f.Add(sample(Group, "new")))
			require.Equal(t, tc.want, string(f.Bytes()))
		})
	}
}

func TestReplace(t *testing.T) {
	in := "# keep me\nroot:*:19000:0:99999:7:::\nalice:!:20000:0:99999:7:::\nold:$1$s$h:19000:0:99999\n+@nis::::::::\n"
	for _, tc := range []struct {
		name    string
		entry   Entry
		want    string
		changed bool
	}{
		{"password", Entry{"alice", "$y$hash", "20778", "0", "99999", "7", "", "", ""},
			"# keep me\nroot:*:19000:0:99999:7:::\nalice:$y$hash:20778:0:99999:7:::\nold:$1$s$h:19000:0:99999\n+@nis::::::::\n", true},
		{"same text is no change", Entry{"alice", "!", "20000", "0", "99999", "7", "", "", ""}, in, false},
		{"SVR3 line becomes 9 fields", Entry{"old", "$y$new", "20778", "0", "99999", "", "", "", ""},
			"# keep me\nroot:*:19000:0:99999:7:::\nalice:!:20000:0:99999:7:::\nold:$y$new:20778:0:99999::::\n+@nis::::::::\n", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(Shadow, []byte(in))
			require.NoError(t, err)
			require.NoError(t, f.Replace(tc.entry))
			require.Equal(t, tc.want, string(f.Bytes()))
			require.Equal(t, tc.changed, f.Changed())
		})
	}

	f, err := Parse(Shadow, []byte(in))
	require.NoError(t, err)
	require.ErrorIs(t, f.Replace(sample(Shadow, "nobody")), ErrNotFound)
	old, err := f.Lookup("old")
	require.NoError(t, err)
	require.Equal(t, Entry{"old", "$1$s$h", "19000", "0", "99999", "", "", "", ""}, old)
}

func TestRemove(t *testing.T) {
	in := "a:x:1:\n# c\nb:x:2:m\n+:::\n"
	f, err := Parse(Group, []byte(in))
	require.NoError(t, err)
	removed, err := f.Remove("zzz")
	require.NoError(t, err)
	require.False(t, removed)
	require.False(t, f.Changed())
	removed, err = f.Remove("b")
	require.NoError(t, err)
	require.True(t, removed)
	require.Equal(t, "a:x:1:\n# c\n+:::\n", string(f.Bytes()))
	require.Len(t, f.Entries(), 1)
}

func TestAmbiguous(t *testing.T) {
	for _, tc := range []struct {
		name, in string
	}{
		{"duplicate", "dup:x:1:\nother:x:2:\ndup:x:3:\n"},
		{"split group lines", "dup:x:1:a,b\ndup:x:1:c\n"},
		{"malformed line with the name", "dup:x:1:\ndup:broken\n"},
		{"malformed only", "dup:x:1::extra\n"},
		{"indented line glibc would read", "\t dup:x:0:\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(Group, []byte(tc.in))
			require.NoError(t, err)
			_, err = f.Lookup("dup")
			require.ErrorIs(t, err, ErrAmbiguous)
			require.Contains(t, err.Error(), "group")
			require.Contains(t, err.Error(), `"dup"`)
			require.ErrorIs(t, f.Add(sample(Group, "dup")), ErrAmbiguous)
			require.ErrorIs(t, f.Replace(sample(Group, "dup")), ErrAmbiguous)
			_, err = f.Remove("dup")
			require.ErrorIs(t, err, ErrAmbiguous)
			require.False(t, f.Changed())
			require.Equal(t, tc.in, string(f.Bytes()))
		})
	}
}

func TestAddExisting(t *testing.T) {
	f, err := Parse(Passwd, []byte(debianPasswd))
	require.NoError(t, err)
	require.ErrorIs(t, f.Add(sample(Passwd, "nobody")), ErrExists)
	require.False(t, f.Changed())
}

func TestInjectionRefused(t *testing.T) {
	for kind := Passwd; kind <= GShadow; kind++ {
		for field := range kind.Fields() {
			for _, bad := range []string{":", "\n", "\r", "\x00", "a:b", "x\nroot::0:0::/:/bin/sh"} {
				t.Run(fmt.Sprintf("%s/%d/%q", kind, field, bad), func(t *testing.T) {
					f, err := Parse(kind, []byte(layouts[kind][0]))
					require.NoError(t, err)
					e := sample(kind, "jftpuser")
					e[field] += bad
					require.ErrorIs(t, f.Add(e), ErrInvalidEntry)
					if field > 0 {
						require.NoError(t, f.Add(sample(kind, "jftpuser")))
						require.ErrorIs(t, f.Replace(e), ErrInvalidEntry)
					}
				})
			}
		}
	}
}

func TestInvalidEntries(t *testing.T) {
	for _, tc := range []struct {
		name  string
		entry Entry
	}{
		{"too few fields", Entry{"a", "x", "1"}},
		{"too many fields", Entry{"a", "x", "1", "", ""}},
		{"nil", nil},
		{"empty name", Entry{"", "x", "1", ""}},
		{"NIS plus", Entry{"+a", "x", "1", ""}},
		{"NIS minus", Entry{"-a", "x", "1", ""}},
		{"comment", Entry{"#a", "x", "1", ""}},
		{"leading space", Entry{" a", "x", "1", ""}},
		{"leading tab", Entry{"\ta", "x", "1", ""}},
		{"comma in name", Entry{"a,b", "x", "1", ""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f, err := Parse(Group, []byte(debianGroup))
			require.NoError(t, err)
			require.ErrorIs(t, f.Add(tc.entry), ErrInvalidEntry)
			require.ErrorIs(t, f.Replace(tc.entry), ErrInvalidEntry)
			require.False(t, f.Changed())
		})
	}
}

func TestEntriesAreCopies(t *testing.T) {
	f, err := Parse(Group, []byte(debianGroup))
	require.NoError(t, err)
	all := f.Entries()
	require.Len(t, all, 6)
	require.Equal(t, Entry{"sudo", "x", "27", "alice,bob"}, all[2])
	all[2][3] = "mallory"
	e, err := f.Lookup("sudo")
	require.NoError(t, err)
	e[3] = "mallory"
	e, err = f.Lookup("sudo")
	require.NoError(t, err)
	require.Equal(t, "alice,bob", e[3])
	require.Equal(t, debianGroup, string(f.Bytes()))
}

func TestUnparsedLinesAreNotEntries(t *testing.T) {
	f, err := Parse(Passwd, []byte(layouts[Passwd][8]))
	require.NoError(t, err)
	require.Equal(t, []Entry{{"root", "x", "0", "0", "root", "/root", "/bin/bash"}}, f.Entries())
	_, err = f.Lookup("broken line")
	require.ErrorIs(t, err, ErrAmbiguous)
	_, err = f.Lookup("nobody")
	require.ErrorIs(t, err, ErrNotFound)
}

func TestCRLFKeepsCarriageReturn(t *testing.T) {
	f, err := Parse(Passwd, []byte("a:x:1:1::/h:/bin/sh\r\n"))
	require.NoError(t, err)
	e, err := f.Lookup("a")
	require.NoError(t, err)
	require.Equal(t, "/bin/sh\r", e[6])
	require.ErrorIs(t, f.Replace(e), ErrInvalidEntry)
}

func TestLists(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"a", []string{"a"}},
		{"a,b", []string{"a", "b"}},
		{",a,,b,", []string{"a", "b"}},
		{"a b", []string{"a b"}},
	} {
		require.Equal(t, tc.want, SplitList(tc.in), tc.in)
	}
	require.Equal(t, "a,b", JoinList([]string{"", "a", "", "b"}))
	require.Equal(t, "", JoinList(nil))
}

// FuzzParse checks, for every kind, that parsing and writing back is byte-exact
// and that adding then removing an entry restores the input.
func FuzzParse(f *testing.F) {
	for kind, files := range layouts {
		for _, data := range files {
			f.Add(uint8(kind), []byte(data))
		}
	}
	f.Fuzz(func(t *testing.T, k uint8, data []byte) {
		kind := Kind(k%4 + 1)
		file, err := Parse(kind, data)
		require.NoError(t, err)
		require.Equal(t, data, file.Bytes())
		before := len(file.Entries())

		name := "jftpfuzz"
		if _, err := file.Lookup(name); !errors.Is(err, ErrNotFound) {
			return
		}
		e := sample(kind, name)
		require.NoError(t, file.Add(e))
		reparsed, err := Parse(kind, file.Bytes())
		require.NoError(t, err)
		require.Len(t, reparsed.Entries(), before+1)
		got, err := reparsed.Lookup(name)
		require.NoError(t, err)
		require.Equal(t, e, got)

		removed, err := file.Remove(name)
		require.NoError(t, err)
		require.True(t, removed)
		want := data
		if len(data) > 0 && !bytes.HasSuffix(data, []byte("\n")) {
			want = append(bytes.Clone(data), '\n')
		}
		require.Equal(t, want, file.Bytes())
	})
}

// FuzzAdd checks the injection barrier: an entry Add accepts reads back as exactly
// that entry, and no other entry of the file changes.
func FuzzAdd(f *testing.F) {
	f.Add(uint8(Passwd), []byte(debianPasswd), "u|x|700|700|g|/h|/bin/sh")
	f.Add(uint8(Shadow), []byte(debianShadow), "u|!|1|0|99999|7|||")
	f.Add(uint8(Group), []byte(debianGroup), "g|x|1|a\n+b")
	f.Add(uint8(GShadow), []byte(debianGShadow), "g|!|a:b|c")
	f.Fuzz(func(t *testing.T, k uint8, data []byte, fields string) {
		kind := Kind(k%4 + 1)
		file, err := Parse(kind, data)
		require.NoError(t, err)
		before := file.Entries()
		e := Entry(strings.Split(fields, "|"))
		if err := file.Add(e); err != nil {
			require.Equal(t, data, file.Bytes())
			return
		}
		reparsed, err := Parse(kind, file.Bytes())
		require.NoError(t, err)
		got, err := reparsed.Lookup(e.Name())
		require.NoError(t, err)
		require.Equal(t, e, got)
		var others []Entry
		for _, x := range reparsed.Entries() {
			if x.Name() != e.Name() {
				others = append(others, x)
			}
		}
		require.Equal(t, before, others)
	})
}

func BenchmarkParseAddBytes(b *testing.B) {
	var buf strings.Builder
	for i := range 10000 {
		fmt.Fprintf(&buf, "user%d:x:%d:%d:User %d:/home/user%d:/bin/bash\n", i, 1000+i, 1000+i, i, i)
	}
	data := []byte(buf.String())
	e := sample(Passwd, "jftpbench")
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		f, err := Parse(Passwd, data)
		if err != nil {
			b.Fatal(err)
		}
		if err := f.Add(e); err != nil {
			b.Fatal(err)
		}
		if len(f.Bytes()) <= len(data) {
			b.Fatal("entry not added")
		}
	}
}
