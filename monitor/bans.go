package monitor

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/jelastic/jelastic-ftp/internal/admission"
	"github.com/jelastic/jelastic-ftp/internal/atomicfile"
	"github.com/jelastic/jelastic-ftp/internal/privsep"
)

// StateDirEnv names the folder where the monitor keeps its bans across restarts:
// systemd sets it from the unit's StateDirectory=, install's detached start to the
// add-on's state folder. Without it bans last as long as the process.
const StateDirEnv = "STATE_DIRECTORY"

// bansFileName is the file in the state folder that holds the running bans.
const bansFileName = "bans.json"

// maxBansFile bounds what is read back: admission.MaxBans records of about 80 bytes.
const maxBansFile = 16 << 20

// savedBan is one ban as the state file keeps it.
type savedBan struct {
	Client netip.Addr `json:"client"`
	Until  time.Time  `json:"until"`
}

// stateDir is where bans are kept: the option, else systemd's (the first of a list).
func stateDir(option string) string {
	if option != "" {
		return option
	}
	dir, _, _ := strings.Cut(os.Getenv(StateDirEnv), ":")
	return dir
}

// snapshot returns the bans in force at now, oldest first, and whether they changed
// since the last snapshot.
func (t *throttle) snapshot(now time.Time) ([]savedBan, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	changed := t.changed
	t.changed = false
	out := []savedBan{}
	for _, b := range t.bans.All() {
		if now.Before(b.until) {
			out = append(out, savedBan{Client: b.client, Until: b.until})
		}
	}
	return out, changed
}

// running returns the bans in force at now, oldest first, as the worker takes them.
func (t *throttle) running(now time.Time) []privsep.Ban {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]privsep.Ban, 0, t.bans.Len())
	for src, b := range t.bans.All() {
		if now.Before(b.until) {
			out = append(out, privsep.Ban{Source: src, Until: b.until})
		}
	}
	return out
}

// banOf returns the ban on addr's source, if any.
func (t *throttle) banOf(addr netip.Addr) (privsep.Ban, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	src := admission.Source(addr)
	b, ok := t.bans.Peek(src)
	return privsep.Ban{Source: src, Until: b.until}, ok
}

// restore puts back bans saved by an earlier monitor that still run at now, none
// longer than the ban duration in force, and returns how many.
func (t *throttle) restore(saved []savedBan, now time.Time) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := 0
	for _, s := range saved {
		if !s.Client.IsValid() || !now.Before(s.Until) {
			continue
		}
		until := s.Until
		if limit := now.Add(t.banFor); until.After(limit) {
			until = limit
		}
		t.bans.Put(admission.Source(s.Client), ban{client: s.Client.Unmap(), until: until})
		n++
	}
	return n
}

// saveBans writes the running bans to dir when they changed (or always, with force).
func (m *monitor) saveBans(dir string, now time.Time, force bool) {
	if dir == "" {
		return
	}
	m.mu.Lock()
	th := m.throttle
	m.mu.Unlock()
	// One save at a time (housekeeping, an unban, the stop), so that an older
	// snapshot never replaces a newer one.
	m.saveMu.Lock()
	defer m.saveMu.Unlock()
	bans, changed := th.snapshot(now)
	if !changed && !force {
		return
	}
	data, err := json.Marshal(bans)
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err == nil {
		err = atomicfile.Write(filepath.Join(dir, bansFileName), data, 0o600)
	}
	if err != nil {
		m.log.Error("cannot save the bans; they last until the service stops", "err", err)
	}
}

// loadBans restores the bans an earlier monitor saved in dir.
func (m *monitor) loadBans(dir string, now time.Time) error {
	if dir == "" {
		return nil
	}
	path := filepath.Join(dir, bansFileName)
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("read the saved bans: %w", err)
	}
	defer f.Close()
	var saved []savedBan
	if err := json.NewDecoder(io.LimitReader(f, maxBansFile)).Decode(&saved); err != nil {
		return fmt.Errorf("read the saved bans in %s: %w", path, err)
	}
	if n := m.throttle.restore(saved[:min(len(saved), admission.MaxBans)], now); n > 0 {
		m.log.Info("restored bans from before the restart", "bans", n, "file", path)
	}
	return nil
}
