package rootfs

import (
	"bytes"
	"context"
	"os"
	"slices"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// SweepOptions pace SweepUploads, which runs beside serving, and say where it starts.
type SweepOptions struct {
	// From is a folder (slash-separated, relative to the folder swept; "." for that
	// folder itself) where an earlier sweep was: the sweep checks it again and goes on
	// after it to the end, then from the start up to it. "" starts at the beginning.
	From string
	// Batch is how many entries are read between pauses; Pause keeps the disk
	// for the sessions meanwhile.
	Batch int
	Pause time.Duration
	// Progress is told after each batch the folder the sweep is in, for a later
	// sweep's From, and "" once the whole tree was visited.
	Progress func(cursor string)
}

// SweepResult says what SweepUploads did.
type SweepResult struct {
	Removed  int  // temporary upload files removed
	Complete bool // the whole tree was visited
}

// Sweep memory bounds: a folder's entries stream through one getdents buffer of
// direntBuffer bytes and its files are checked as they pass; of its sub-folders, only
// the next sweepChunk names in name order (at most sweepChunkBytes of names) are kept,
// and the folder is read again for the next ones. So a sweep holds at most that many
// names per level of the folder it is in, whatever the number of entries, at the cost
// of reading a folder of n sub-folders about n/sweepChunk times.
const (
	sweepChunk      = 256
	sweepChunkBytes = 16 << 10
	// sweepMaxDepth bounds the open folders (one descriptor and one chunk each); an
	// FTP user cannot go deeper, the current folder being at most 2,048 bytes.
	sweepMaxDepth = 1024
)

// SweepUploads removes the temporary files of atomic uploads left under dir
// by a worker that did not finish them: killed, out of memory, or cut by a
// host crash. They are hidden from FTP listings, so nobody else would.
//
// Only regular files with an upload temporary name that last changed before
// the cutoff go, the cutoff being when this worker started: every upload of its own
// made its file later, so a live upload's file is never taken. Every folder is
// opened relative to its parent with O_NOFOLLOW, so symlinks are not followed and
// nothing outside dir is reached; unreadable folders are skipped. Folders are visited
// parent first, sub-folders in name order, a folder's files in the order the file
// system returns them. It runs until the whole tree was visited or ctx ends.
func SweepUploads(ctx context.Context, dir string, cutoff time.Time, o SweepOptions) (SweepResult, error) {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return SweepResult{}, &os.PathError{Op: "open", Path: dir, Err: err}
	}
	defer unix.Close(fd)
	from := splitCursor(o.From)
	s := sweep{ctx: ctx, cutoff: cutoff.UnixNano(), o: o, buf: make([]byte, direntBuffer), cursor: "."}
	if from != nil {
		s.cursor = strings.Join(from, "/") // until the sweep reaches a folder
	}
	// From on to the end, then from the start up to From.
	s.visit(fd, ".", bound{rest: from, on: from != nil}, bound{}, 0)
	if from != nil && !s.stopped() {
		s.visit(fd, ".", bound{}, bound{rest: from, on: true}, 0)
	}
	if ctx.Err() == nil {
		s.res.Complete = true
		if o.Progress != nil {
			o.Progress("")
		}
	}
	return s.res, nil
}

// splitCursor turns a cursor into folder names; nil for the start.
func splitCursor(c string) []string {
	c = strings.Trim(c, "/")
	if c == "" || c == "." {
		return nil
	}
	return strings.Split(c, "/")
}

// bound is one end of the part of the tree a pass visits, as the names that remain
// of the cursor's path below the folder visited; on is false when that end does not
// constrain this folder.
type bound struct {
	rest []string
	on   bool
}

type sweep struct {
	ctx     context.Context
	cutoff  int64
	o       SweepOptions
	buf     []byte
	cursor  string // the folder whose files were last checked
	res     SweepResult
	done    bool // the pass reached its upper bound
	visited int
}

func (s *sweep) stopped() bool { return s.done || s.ctx.Err() != nil }

// visit sweeps the folder open as fd, at path rel, and what it holds, within the
// bounds: from (visit the cursor's folder and what comes after it) and until (stop
// at the cursor's folder). It returns when its part is done or the sweep stopped.
func (s *sweep) visit(fd int, rel string, from, until bound, depth int) {
	checkFiles := !from.on || len(from.rest) == 0
	if checkFiles {
		s.cursor = rel
	}
	// Sub-folder names at or after low (in name order) are visited; so are all when
	// low is "" and inclusive.
	low, inclusive := "", true
	if from.on && len(from.rest) > 0 {
		low = from.rest[0]
	}
	var c chunk
	for first := true; ; first = false {
		c = chunk{names: c.names[:0]}
		s.subfolders(fd, &c, low, inclusive, first && checkFiles)
		if s.stopped() || len(c.names) == 0 {
			return
		}
		for _, name := range c.names {
			childFrom, childUntil := bound{}, bound{}
			if from.on && len(from.rest) > 0 && name == from.rest[0] {
				childFrom = bound{rest: from.rest[1:], on: true}
			}
			if until.on {
				switch {
				case name > until.rest[0] || name == until.rest[0] && len(until.rest) == 1:
					s.done = true // the cursor's folder and all after it
					return
				case name == until.rest[0]:
					childUntil = bound{rest: until.rest[1:], on: true}
				}
			}
			s.descend(fd, rel, name, childFrom, childUntil, depth)
			if s.stopped() {
				return
			}
		}
		if !c.more {
			return // no need to read the folder again
		}
		low, inclusive = c.names[len(c.names)-1], false
	}
}

// descend opens sub-folder name of fd without following a symlink and visits it.
func (s *sweep) descend(fd int, rel, name string, from, until bound, depth int) {
	if depth+1 >= sweepMaxDepth {
		return
	}
	child, err := unix.Openat(fd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return // gone, replaced by a symlink, or unreadable: skipped
	}
	defer unix.Close(child)
	if rel == "." {
		rel = name
	} else {
		rel += "/" + name
	}
	s.visit(child, rel, from, until, depth+1)
}

// subfolders reads the folder open as fd from its start and keeps in c the first
// sub-folder names after low (at or after it if inclusive). With checkFiles it also
// removes the upload leftovers it reads.
func (s *sweep) subfolders(fd int, c *chunk, low string, inclusive, checkFiles bool) {
	if _, err := unix.Seek(fd, 0, 0); err != nil {
		return
	}
	for !s.stopped() {
		n, err := unix.Getdents(fd, s.buf)
		if err != nil || n <= 0 {
			return // the end, or an unreadable folder: skipped
		}
		for rec := s.buf[:n]; len(rec) > 0; {
			name, typ, recLen := direntNameType(rec)
			rec = rec[recLen:]
			if len(name) == 0 || string(name) == "." || string(name) == ".." {
				continue
			}
			if s.pace(); s.stopped() {
				return
			}
			if typ == unix.DT_UNKNOWN {
				var st unix.Stat_t
				if lstatAt(fd, name, &st) != nil {
					continue
				}
				typ = direntType(st.Mode)
			}
			switch {
			case typ == unix.DT_DIR:
				if string(name) < low || !inclusive && string(name) == low {
					continue
				}
				c.keep(name)
			case checkFiles && typ == unix.DT_REG && name[0] == '.' && bytes.Contains(name, []byte(uploadMarker)):
				s.removeIfLeftover(fd, name)
			}
		}
	}
}

// chunk is the next sub-folder names of a folder to visit, in name order: the
// smallest of those read, at most sweepChunk of them and sweepChunkBytes of names.
type chunk struct {
	names []string
	size  int  // bytes of names
	more  bool // a name was left out: the folder must be read again
}

// keep adds name if it is among the smallest, dropping the largest while over the
// bounds (never the last one). The name is copied only when kept.
func (c *chunk) keep(name []byte) {
	full := len(c.names) >= sweepChunk || c.size+len(name) > sweepChunkBytes
	if full && len(c.names) > 0 && string(name) > c.names[len(c.names)-1] {
		c.more = true
		return
	}
	i, _ := slices.BinarySearch(c.names, string(name))
	c.names = slices.Insert(c.names, i, string(name))
	c.size += len(name)
	for len(c.names) > 1 && (len(c.names) > sweepChunk || c.size > sweepChunkBytes) {
		c.size -= len(c.names[len(c.names)-1])
		c.names = c.names[:len(c.names)-1]
		c.more = true
	}
}

// removeIfLeftover removes name from the folder fd if it is a regular file with an
// upload temporary name that last changed before the cutoff.
func (s *sweep) removeIfLeftover(fd int, name []byte) {
	if !isUploadTemp(string(name)) {
		return
	}
	var st unix.Stat_t
	if lstatAt(fd, name, &st) != nil || st.Mode&unix.S_IFMT != unix.S_IFREG || st.Mtim.Nano() >= s.cutoff {
		return
	}
	if unix.Unlinkat(fd, string(name), 0) == nil {
		s.res.Removed++
	}
}

// pace counts a read entry and, after each batch, reports where the sweep is and
// pauses.
func (s *sweep) pace() {
	s.visited++
	if s.o.Batch <= 0 || s.visited%s.o.Batch != 0 {
		return
	}
	if s.o.Progress != nil {
		s.o.Progress(s.cursor)
	}
	t := time.NewTimer(s.o.Pause)
	defer t.Stop()
	select {
	case <-s.ctx.Done():
	case <-t.C:
	}
}

// direntNameType is direntName with the record's d_type.
func direntNameType(rec []byte) (name []byte, typ uint8, size int) {
	name, size = direntName(rec)
	if len(name) == 0 {
		return nil, 0, size
	}
	return name, rec[unsafe.Offsetof(unix.Dirent{}.Type)], size
}

// direntType turns st_mode into a d_type.
func direntType(mode uint32) uint8 {
	switch mode & unix.S_IFMT {
	case unix.S_IFDIR:
		return unix.DT_DIR
	case unix.S_IFREG:
		return unix.DT_REG
	}
	return unix.DT_UNKNOWN
}
