// Package lastlogin keeps each FTP user's last successful login (when, from where,
// over what) in the service's state directory. The monitor records logins in memory
// and writes them out at most every FlushEvery, so a login costs no fsync; a crash
// loses at most that much, never the file, which is replaced atomically.
package lastlogin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/jelastic/jelastic-ftp/agent/config"
	"github.com/jelastic/jelastic-ftp/internal/atomicfile"
)

// FileName is the file in the state directory.
const FileName = "lastlogin.json"

// FlushEvery is the longest a recorded login waits in memory.
const FlushEvery = 2 * time.Second

// Login is one user's last successful login.
type Login struct {
	Time     time.Time `json:"time"`
	Address  string    `json:"address"`
	Protocol string    `json:"protocol"`
}

// Path is the file of the state directory in force (config.StateDir).
func Path() string { return filepath.Join(config.StateDir(), FileName) }

// Book collects logins and writes them to its file.
type Book struct {
	path    func() string
	mu      sync.Mutex
	pending map[string]Login
	timer   *time.Timer
}

// NewBook returns a Book writing to path.
func NewBook(path string) *Book { return &Book{path: func() string { return path }} }

// Record notes a successful login; it is written within FlushEvery.
func (b *Book) Record(user string, addr netip.Addr, proto string, at time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.pending == nil {
		b.pending = map[string]Login{}
	}
	b.pending[user] = Login{Time: at.UTC().Truncate(time.Second), Address: addr.Unmap().String(), Protocol: proto}
	if b.timer == nil {
		b.timer = time.AfterFunc(FlushEvery, func() {
			if err := b.Flush(); err != nil {
				slog.Default().Error("write the last logins; keeping them for the next try", "err", err)
			}
		})
	}
}

// Flush writes the recorded logins now. Logins it could not write stay pending.
func (b *Book) Flush() error {
	b.mu.Lock()
	pending := b.pending
	b.pending = nil
	if b.timer != nil {
		b.timer.Stop()
		b.timer = nil
	}
	b.mu.Unlock()
	if len(pending) == 0 {
		return nil
	}
	err := update(b.path(), func(all map[string]Login) {
		for user, l := range pending {
			if l.Time.After(all[user].Time) {
				all[user] = l
			}
		}
	})
	if err != nil {
		b.mu.Lock()
		defer b.mu.Unlock()
		for user, l := range pending {
			if _, newer := b.pending[user]; !newer {
				if b.pending == nil {
					b.pending = map[string]Login{}
				}
				b.pending[user] = l
			}
		}
	}
	return err
}

// The service's own book, so that recording a login is one call where it is decided.
// Its file is looked up at each write, so tests can point config.StateDirEnv elsewhere.
var book = sync.OnceValue(func() *Book { return &Book{path: Path} })

// Record notes a successful login in the service's book (Path).
func Record(user string, addr netip.Addr, proto string, at time.Time) {
	book().Record(user, addr, proto, at)
}

// Flush writes the service's book now; the service calls it when it stops.
func Flush() error { return book().Flush() }

// Read returns the last login of every user in the file at path; a missing file
// holds none.
func Read(path string) (map[string]Login, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]Login{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the last logins: %w", err)
	}
	all := map[string]Login{}
	if err := json.Unmarshal(data, &all); err != nil {
		return nil, fmt.Errorf("read the last logins: %s is not valid: %w", path, err)
	}
	return all, nil
}

// Forget removes user's last login from the file at path, for an account that is
// deleted: an account made later with the same name starts without one.
func Forget(path, user string) error {
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return update(path, func(all map[string]Login) { delete(all, user) })
}

// update changes the file under an exclusive lock, which the service's flushes and
// ftpctl's Forget both take, so neither undoes the other.
func update(path string, change func(map[string]Login)) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create %s: %w", filepath.Dir(path), err)
	}
	lock, err := os.OpenFile(path+".lock", os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("lock the last logins: %w", err)
	}
	defer lock.Close()
	if err := unix.Flock(int(lock.Fd()), unix.LOCK_EX); err != nil {
		return fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	all, err := Read(path)
	if err != nil {
		return err
	}
	change(all)
	data, err := json.MarshalIndent(all, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.Write(path, append(data, '\n'), 0o640)
}
