package rootfs

import (
	"io"
	"io/fs"
	"os"
	"path"
	"syscall"
)

// List calls fn with the entries of the directory name, in batches of at
// most a few thousand that it reuses: memory stays bounded whatever the
// directory's size (see readBatches). LIST, NLST, MLSD and STAT stream their
// replies from it.
//
// Temporary upload files are left out. A symlink is shown with the info of
// what it leads to when that is inside the home, and as a symlink when it
// leads outside or nowhere.
func (fsys *FS) List(name string, fn func([]Entry) error) error {
	rel, shown, err := resolve("readdir", name)
	if err != nil {
		return err
	}
	dir, err := fsys.root.OpenFile(rel, os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return pathError("readdir", shown, err)
	}
	defer dir.Close()
	var fnErr error
	err = readBatches(dir, func(batch []Entry) error {
		kept := batch[:0]
		for _, e := range batch {
			// Only a name that starts with a dot can be one (no string made
			// for the others).
			if e.Name[0] == '.' && isUploadTemp(string(e.Name)) {
				continue
			}
			if e.Mode&fs.ModeSymlink != 0 {
				if target, err := fsys.root.Stat(path.Join(rel, string(e.Name))); err == nil {
					e.Size, e.Mtime, e.Mode = target.Size(), target.ModTime().UnixNano(), target.Mode()
				}
			}
			kept = append(kept, e)
		}
		if len(kept) == 0 {
			return nil
		}
		fnErr = fn(kept)
		return fnErr
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return pathError("readdir", shown, err)
	}
	return nil
}

// ReadDir lists the directory name whole.
//
// Temporary upload files are left out. A symlink is shown with the info of
// what it leads to when that is inside the home, and as a symlink when it
// leads outside or nowhere: it is never followed out of the home, and it
// never makes the whole listing fail.
func (fsys *FS) ReadDir(name string) ([]os.FileInfo, error) {
	rel, shown, err := resolve("readdir", name)
	if err != nil {
		return nil, err
	}
	// O_DIRECTORY so that naming a FIFO fails instead of waiting for a writer.
	dir, err := fsys.root.OpenFile(rel, os.O_RDONLY|syscall.O_DIRECTORY, 0)
	if err != nil {
		return nil, pathError("readdir", shown, err)
	}
	defer dir.Close()
	// One fstatat per entry, relative to the directory's descriptor: no
	// path walk.
	infos, err := readEntries(dir)
	if err != nil {
		return nil, pathError("readdir", shown, err)
	}
	return fsys.visible(rel, infos), nil
}

// visible filters infos, entries of the directory rel, in place.
func (fsys *FS) visible(rel string, infos []os.FileInfo) []os.FileInfo {
	kept := infos[:0]
	for _, fi := range infos {
		if isUploadTemp(fi.Name()) {
			continue
		}
		if fi.Mode()&fs.ModeSymlink != 0 {
			if target, err := fsys.root.Stat(path.Join(rel, fi.Name())); err == nil {
				fi = target
			}
		}
		kept = append(kept, fi)
	}
	return kept
}

// dirFile is a directory opened with Open or OpenFile. Its listings are
// those of ReadDir, and its name is the client path.
type dirFile struct {
	*os.File
	fsys  *FS
	rel   string
	shown string
}

func (d *dirFile) Name() string { return d.shown }

// Readdir keeps the contract of (*os.File).Readdir for n > 0: an empty
// result comes with an error, so it reads on while every entry read is
// hidden. Each round consumes entries, so the directory's size bounds it.
func (d *dirFile) Readdir(n int) ([]os.FileInfo, error) {
	for {
		infos, err := d.File.Readdir(n)
		infos = d.fsys.visible(d.rel, infos)
		if err != nil && err != io.EOF {
			err = pathError("readdir", d.shown, err)
		}
		if len(infos) > 0 || err != nil || n <= 0 {
			return infos, err
		}
	}
}

// Readdirnames is Readdir for names only, with the same bound.
func (d *dirFile) Readdirnames(n int) ([]string, error) {
	for {
		names, err := d.File.Readdirnames(n)
		kept := names[:0]
		for _, name := range names {
			if !isUploadTemp(name) {
				kept = append(kept, name)
			}
		}
		if err != nil && err != io.EOF {
			err = pathError("readdir", d.shown, err)
		}
		if len(kept) > 0 || err != nil || n <= 0 {
			return kept, err
		}
	}
}
