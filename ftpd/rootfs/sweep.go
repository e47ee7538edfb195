package rootfs

import (
	"context"
	"io/fs"
	"os"
	"strings"
	"time"
)

// SweepOptions pace SweepUploads, which runs beside serving, and say where it starts.
type SweepOptions struct {
	// From is the last path an earlier sweep visited (slash-separated, relative to the
	// folder swept): the sweep goes on after it to the end, then from the start up to
	// it. "" starts at the beginning.
	From string
	// Batch is how many entries are visited between pauses; Pause keeps the disk
	// for the sessions meanwhile.
	Batch int
	Pause time.Duration
	// Progress is told after each batch the last path visited, for a later sweep's
	// From, and "" once the whole tree was visited.
	Progress func(cursor string)
}

// SweepResult says what SweepUploads did.
type SweepResult struct {
	Removed  int  // temporary upload files removed
	Complete bool // the whole tree was visited
}

// SweepUploads removes the temporary files of atomic uploads left under dir
// by a worker that did not finish them: killed, out of memory, or cut by a
// host crash. They are hidden from FTP listings, so nobody else would.
//
// Only regular files with an upload temporary name that last changed before
// the cutoff go, the cutoff being when this worker started: every upload of its own
// made its file later, so a live upload's file is never taken. Symlinks are not
// followed, and unreadable folders are skipped. It runs until the whole tree was
// visited or ctx ends.
func SweepUploads(ctx context.Context, dir string, cutoff time.Time, o SweepOptions) (SweepResult, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return SweepResult{}, err
	}
	defer root.Close()
	s := sweep{ctx: ctx, root: root, cutoff: cutoff, o: o}
	// After From to the end, then from the start up to From.
	if err := s.walk(o.From, ""); err != nil || o.From == "" {
		return s.result(err)
	}
	return s.result(s.walk("", o.From))
}

type sweep struct {
	ctx     context.Context
	root    *os.Root
	cutoff  time.Time
	o       SweepOptions
	res     SweepResult
	visited int
}

func (s *sweep) result(err error) (SweepResult, error) {
	if err == nil && s.ctx.Err() == nil {
		s.res.Complete = true
		if s.o.Progress != nil {
			s.o.Progress("")
		}
	}
	return s.res, err
}

// walk visits the entries after from (exclusive; "" for the first) up to until
// (inclusive; "" for the last), in fs.WalkDir's order.
func (s *sweep) walk(from, until string) error {
	err := fs.WalkDir(s.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if p == "." {
			return nil
		}
		if until != "" && walksBefore(until, p) {
			return fs.SkipAll
		}
		if p == from {
			return nil // visited before; what a folder holds comes after it
		}
		if from != "" && walksBefore(p, from) {
			if d != nil && d.IsDir() && !isAncestor(p, from) {
				return fs.SkipDir // all of it comes before from
			}
			return nil
		}
		if err := s.pace(p); err != nil {
			return err
		}
		if err == nil && d.Type().IsRegular() && isUploadTemp(d.Name()) {
			if info, err := d.Info(); err == nil && info.ModTime().Before(s.cutoff) && s.root.Remove(p) == nil {
				s.res.Removed++
			}
		}
		return nil
	})
	if s.ctx.Err() != nil {
		return nil
	}
	return err
}

// pace counts a visited entry and pauses after each batch.
func (s *sweep) pace(p string) error {
	s.visited++
	if s.o.Batch <= 0 || s.visited%s.o.Batch != 0 {
		return nil
	}
	if s.o.Progress != nil {
		s.o.Progress(p)
	}
	select {
	case <-s.ctx.Done():
		return fs.SkipAll
	case <-time.After(s.o.Pause):
		return nil
	}
}

// walksBefore reports whether fs.WalkDir visits path a before path b: folder by
// folder, each folder's entries in lexical order, a folder before what it holds.
func walksBefore(a, b string) bool {
	for {
		ha, ra, moreA := strings.Cut(a, "/")
		hb, rb, moreB := strings.Cut(b, "/")
		if ha != hb {
			return ha < hb
		}
		if !moreA || !moreB {
			return !moreA && moreB // the folder itself comes first
		}
		a, b = ra, rb
	}
}

// isAncestor reports whether folder dir holds path p.
func isAncestor(dir, p string) bool { return strings.HasPrefix(p, dir+"/") }
