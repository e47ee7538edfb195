package rootfs

import (
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
