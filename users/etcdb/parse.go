// Package etcdb reads and rewrites /etc/passwd, /etc/shadow, /etc/group and
// /etc/gshadow the way shadow-utils does: every line the program does not change is
// written back byte for byte, the files are locked with the same protocol as
// useradd, passwd and PAM, and replaced by an atomic rename (or, for a
// bind-mounted file, rewritten in place as WriteFile describes).
package etcdb

import (
	"errors"
	"fmt"
	"strings"
)

// Kind says which account database a File holds.
type Kind int

// The zero Kind is invalid, so a forgotten kind is an error rather than passwd.
const (
	Passwd  Kind = iota + 1 // name:pw:uid:gid:gecos:home:shell
	Shadow                  // name:pw:lastchg:min:max:warn:inact:expire:flag
	Group                   // name:pw:gid:members
	GShadow                 // name:pw:admins:members
)

func (k Kind) String() string {
	switch k {
	case Passwd:
		return "passwd"
	case Shadow:
		return "shadow"
	case Group:
		return "group"
	case GShadow:
		return "gshadow"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Fields is the number of colon-separated fields of an entry of this kind, or 0 for
// an invalid Kind.
func (k Kind) Fields() int {
	switch k {
	case Passwd:
		return 7
	case Shadow:
		return 9
	case Group, GShadow:
		return 4
	}
	return 0
}

// svr3ShadowFields is the old System V shadow layout (name:pw:lastchg:min:max) that
// shadow-utils still reads; its missing fields mean "unset", like empty ones.
const svr3ShadowFields = 5

var (
	// ErrNotFound means no line of the file holds an entry with that name.
	ErrNotFound = errors.New("no such entry")
	// ErrExists means Add was given a name the file already has.
	ErrExists = errors.New("entry already exists")
	// ErrAmbiguous means the name is on more than one line, or on a line that
	// does not parse, so no single entry can be changed safely.
	ErrAmbiguous = errors.New("ambiguous entry")
	// ErrInvalidEntry means an entry cannot be written without changing the
	// file's structure (wrong field count, or a separator inside a field).
	ErrInvalidEntry = errors.New("invalid entry")
)

// Entry is one parsed line: its fields in file order, Entry[0] being the name.
type Entry []string

// Name is the entry's first field, or "" for an empty Entry.
func (e Entry) Name() string {
	if len(e) == 0 {
		return ""
	}
	return e[0]
}

// line is one line of the file without its '\n'. raw is what Bytes writes; fields
// is nil for lines kept verbatim without being parsed (comments, blank lines, NIS
// lines, malformed lines).
type line struct {
	raw    string
	fields []string
	// key is the name a malformed line appears to carry. Such a line makes that
	// name ambiguous: glibc or another tool might read it as the entry.
	key string
	nis bool
}

// File is an account database held as lines so that it can be written back with
// only the edited lines changed.
//
// Bytes of an unmodified File is exactly the parsed input. Once anything changed,
// the output always ends with '\n', even if the input's last line had none:
// shadow-utils 4.20+ refuses files without one. Lines are never normalised; a '\r'
// before the '\n' stays part of the last field, so entries of a CRLF file can be
// read but not replaced (Replace refuses the '\r'). A File is not safe for
// concurrent use.
type File struct {
	kind           Kind
	lines          []line
	noFinalNewline bool
	changed        bool
}

// Parse splits data into lines and parses every line that holds a well-formed
// entry of kind. It fails only for an invalid kind: malformed lines are kept.
//
// A line is kept unparsed when it is blank, a comment (first non-space byte '#'),
// an NIS line ('+' or '-' first), starts with white space, or has the wrong number
// of fields or an empty name. A malformed line still blocks the name it seems to
// carry (its text before the first ':'): Lookup, Add, Replace and Remove refuse
// that name with ErrAmbiguous, since glibc or another tool may read the line as
// the entry. Shadow lines in the 5-field SVR3 layout are parsed
// and padded with empty (unset) fields to 9, as shadow-utils does; they are
// rewritten with 9 fields only if replaced. Field values are not checked (numeric
// IDs and the like are the caller's concern).
func Parse(kind Kind, data []byte) (*File, error) {
	if kind.Fields() == 0 {
		return nil, fmt.Errorf("parse account database: unknown kind %d", int(kind))
	}
	f := &File{kind: kind}
	text := string(data)
	if text == "" {
		return f, nil
	}
	if strings.HasSuffix(text, "\n") {
		text = text[:len(text)-1]
	} else {
		f.noFinalNewline = true
	}
	raws := strings.Split(text, "\n")
	f.lines = make([]line, len(raws))
	for i, raw := range raws {
		f.lines[i] = parseLine(kind, raw)
	}
	return f, nil
}

// spaceChars are the bytes glibc's isspace skips before a line's first field.
const spaceChars = " \t\v\f\r"

func parseLine(kind Kind, raw string) line {
	l := line{raw: raw}
	trimmed := strings.TrimLeft(raw, spaceChars)
	if trimmed == "" || trimmed[0] == '#' {
		return l
	}
	if trimmed[0] == '+' || trimmed[0] == '-' {
		l.nis = true
		return l
	}
	fields := strings.Split(raw, ":")
	if trimmed != raw || fields[0] == "" {
		// glibc skips leading white space and would read this line as the
		// entry named by the trimmed text.
		l.key, _, _ = strings.Cut(trimmed, ":")
		return l
	}
	switch {
	case len(fields) == kind.Fields():
		l.fields = fields
	case kind == Shadow && len(fields) == svr3ShadowFields:
		l.fields = append(fields, make([]string, kind.Fields()-svr3ShadowFields)...)
	default:
		l.key = fields[0]
	}
	return l
}

// Kind is the kind the File was parsed as.
func (f *File) Kind() Kind { return f.kind }

// Bytes is the file's content: the parsed input itself while nothing changed.
func (f *File) Bytes() []byte {
	n := 0
	for _, l := range f.lines {
		n += len(l.raw) + 1
	}
	out := make([]byte, 0, n)
	for _, l := range f.lines {
		out = append(out, l.raw...)
		out = append(out, '\n')
	}
	if f.noFinalNewline && !f.changed && len(out) > 0 {
		out = out[:len(out)-1]
	}
	return out
}

// Changed reports whether Add, Replace or Remove modified the file.
func (f *File) Changed() bool { return f.changed }

// Entries returns copies of the parsed entries in file order.
func (f *File) Entries() []Entry {
	var out []Entry
	for _, l := range f.lines {
		if l.fields != nil {
			out = append(out, Entry(append([]string(nil), l.fields...)))
		}
	}
	return out
}

// Lookup returns a copy of the entry named name. It returns ErrNotFound when there
// is none and ErrAmbiguous when the name is on several lines or on a malformed line.
func (f *File) Lookup(name string) (Entry, error) {
	i, err := f.find(name)
	if err != nil {
		return nil, err
	}
	return Entry(append([]string(nil), f.lines[i].fields...)), nil
}

// find returns the index of the single well-formed line named name.
func (f *File) find(name string) (int, error) {
	found, count, malformed := -1, 0, 0
	for i, l := range f.lines {
		switch {
		case l.fields != nil && l.fields[0] == name:
			found = i
			count++
		case l.fields == nil && l.key != "" && l.key == name:
			malformed++
		}
	}
	switch {
	case malformed > 0:
		return -1, fmt.Errorf("%s has a malformed line for %q; fix it (pwck/grpck can help) before changing this entry: %w", f.kind, name, ErrAmbiguous)
	case count > 1:
		return -1, fmt.Errorf("%s has multiple entries named %q; remove the duplicates (pwck/grpck can help) before changing this entry: %w", f.kind, name, ErrAmbiguous)
	case count == 0:
		return -1, fmt.Errorf("%s has no entry named %q: %w", f.kind, name, ErrNotFound)
	}
	return found, nil
}

// Add appends e, before the first NIS line if there is one (where shadow-utils puts
// new entries). It fails if e is invalid or its name is already present.
func (f *File) Add(e Entry) error {
	if err := f.validate(e); err != nil {
		return err
	}
	_, err := f.find(e.Name())
	switch {
	case err == nil:
		return fmt.Errorf("%s already has an entry named %q: %w", f.kind, e.Name(), ErrExists)
	case !errors.Is(err, ErrNotFound):
		return err
	}
	at := len(f.lines)
	for i, l := range f.lines {
		if l.nis {
			at = i
			break
		}
	}
	nl := line{raw: strings.Join(e, ":"), fields: append([]string(nil), e...)}
	f.lines = append(f.lines, line{})
	copy(f.lines[at+1:], f.lines[at:])
	f.lines[at] = nl
	f.changed = true
	return nil
}

// Replace overwrites the line of the entry named e.Name() with e, keeping its
// position. Renaming is Remove plus Add. Replacing an entry by an equal one
// (same text) changes nothing.
func (f *File) Replace(e Entry) error {
	if err := f.validate(e); err != nil {
		return err
	}
	i, err := f.find(e.Name())
	if err != nil {
		return err
	}
	raw := strings.Join(e, ":")
	if raw == f.lines[i].raw {
		return nil
	}
	f.lines[i] = line{raw: raw, fields: append([]string(nil), e...)}
	f.changed = true
	return nil
}

// Remove deletes the entry named name. It reports false, and no error, when there
// is no such entry.
func (f *File) Remove(name string) (bool, error) {
	i, err := f.find(name)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	f.lines = append(f.lines[:i], f.lines[i+1:]...)
	f.changed = true
	return true, nil
}

// validate is the injection barrier: an entry that passes is written as exactly
// one line that parses back to the same entry, for every reader.
func (f *File) validate(e Entry) error {
	if len(e) != f.kind.Fields() {
		return fmt.Errorf("%s entry %q has %d fields instead of %d: %w", f.kind, e.Name(), len(e), f.kind.Fields(), ErrInvalidEntry)
	}
	name := e.Name()
	switch {
	case name == "":
		return fmt.Errorf("%s entry has an empty name: %w", f.kind, ErrInvalidEntry)
	case strings.ContainsAny(name[:1], "+-#"+spaceChars):
		// Such a line would read back as an NIS line, a comment, or under
		// another name.
		return fmt.Errorf("%s entry name %q must not start with %q: %w", f.kind, name, name[:1], ErrInvalidEntry)
	case strings.Contains(name, ","):
		// Member lists are comma-separated, so the name could not be listed.
		return fmt.Errorf("%s entry name %q must not contain a comma: %w", f.kind, name, ErrInvalidEntry)
	}
	for i, v := range e {
		if j := strings.IndexAny(v, ":\n\r\x00"); j >= 0 {
			return fmt.Errorf("%s entry %q: field %d contains the forbidden character %q: %w", f.kind, name, i+1, v[j], ErrInvalidEntry)
		}
	}
	return nil
}

// SplitList splits a comma-separated member or administrator list, dropping empty
// items. Items are not trimmed: a space is part of a name for glibc.
func SplitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item != "" {
			out = append(out, item)
		}
	}
	return out
}

// JoinList joins names into a member list, dropping empty ones. The names must be
// valid account names (no ',', ':' or white space); Add and Replace catch ':' and
// line breaks, but a ',' would silently list two names.
func JoinList(names []string) string {
	var kept []string
	for _, n := range names {
		if n != "" {
			kept = append(kept, n)
		}
	}
	return strings.Join(kept, ",")
}
