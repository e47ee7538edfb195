package rootfs

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path"
)

// List calls fn with the entries of the directory name, in batches of at
// most a few thousand that it reuses: memory stays bounded whatever the
// directory's size (see dirReader). LIST, NLST, MLSD and STAT stream their
// replies from it; SFTP, which asks for a listing a piece at a time, reads
// it through OpenList.
//
// Temporary upload files are left out. A symlink is shown with the info of
// what it leads to when that is inside the home, and as a symlink when it
// leads outside or nowhere.
func (fsys *FS) List(name string, fn func([]Entry) error) error {
	l, err := fsys.OpenList(name)
	if err != nil {
		return err
	}
	defer l.Close()
	for {
		batch, err := l.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := fn(batch); err != nil {
			return err
		}
	}
}

// Lister reads a directory as List does, a batch each time its caller asks:
// between calls it holds the directory open and one batch, whatever the
// directory's size.
type Lister struct {
	fsys       *FS
	rel, shown string
	dir        *os.File
	r          *dirReader
}

// OpenList opens the directory name to be read with Next, and closed.
func (fsys *FS) OpenList(name string) (*Lister, error) {
	rel, shown, err := resolve("readdir", name)
	if err != nil {
		return nil, err
	}
	dir, err := fsys.openDir(rel)
	if err != nil {
		return nil, pathError("readdir", shown, err)
	}
	r, err := newDirReader(dir)
	if err != nil {
		dir.Close()
		return nil, pathError("readdir", shown, err)
	}
	return &Lister{fsys: fsys, rel: rel, shown: shown, dir: dir, r: r}, nil
}

// Next returns the next batch of entries, valid until the next call, or
// io.EOF after the last.
func (l *Lister) Next() ([]Entry, error) {
	for {
		batch, err := l.r.next()
		if errors.Is(err, io.EOF) {
			return nil, io.EOF
		}
		if err != nil {
			return nil, pathError("readdir", l.shown, err)
		}
		kept := batch[:0]
		for _, e := range batch {
			// Only a name that starts with a dot can be one (no string made
			// for the others).
			if e.Name[0] == '.' && isUploadTemp(string(e.Name)) {
				continue
			}
			if e.Mode&fs.ModeSymlink != 0 {
				if target, err := l.fsys.root.Stat(path.Join(l.rel, string(e.Name))); err == nil {
					e.Size, e.Mtime, e.Mode = target.Size(), target.ModTime().UnixNano(), target.Mode()
				}
			}
			kept = append(kept, e)
		}
		if len(kept) > 0 {
			return kept, nil
		}
	}
}

// Close closes the directory.
func (l *Lister) Close() error { return l.dir.Close() }
