package rootfs

import (
	"io/fs"
	"os"
	"time"
)

// SweepLimits bound SweepUploads, which runs before the worker serves.
type SweepLimits struct {
	Entries  int           // directory entries visited at most
	Duration time.Duration // time spent at most
}

// SweepResult says what SweepUploads did.
type SweepResult struct {
	Removed  int  // temporary upload files removed
	Complete bool // the whole tree was visited within the limits
}

// SweepUploads removes the temporary files of atomic uploads left under dir
// by a worker that did not finish them: killed, out of memory, or cut by a
// host crash. They are hidden from FTP listings, so nobody else would.
//
// Only regular files with an upload temporary name that last changed before
// the cutoff go, the cutoff being when this worker started: it runs before
// the worker serves, so no upload of its own is under way. Symlinks are not
// followed, and unreadable folders are skipped.
func SweepUploads(dir string, cutoff time.Time, limits SweepLimits) (SweepResult, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return SweepResult{}, err
	}
	defer root.Close()
	var res SweepResult
	seen, stop := 0, time.Now().Add(limits.Duration)
	err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if seen++; seen > limits.Entries || time.Now().After(stop) {
			return fs.SkipAll
		}
		if err != nil || !d.Type().IsRegular() || !isUploadTemp(d.Name()) {
			return nil
		}
		if info, err := d.Info(); err != nil || !info.ModTime().Before(cutoff) {
			return nil
		}
		if root.Remove(p) == nil {
			res.Removed++
		}
		return nil
	})
	res.Complete = seen <= limits.Entries && !time.Now().After(stop)
	return res, err
}
