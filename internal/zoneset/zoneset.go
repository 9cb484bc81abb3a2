// Package zoneset keeps the set of zones a server answers from in step with
// the zone files on disk: it loads them at startup, reloads them on demand
// (SIGHUP) or when a file changes (Watch), and installs each new set as a
// whole through a callback (dnssvc.Server.SetZones), so that a query sees
// either the old set or the new one, never a mix.
//
// A reload never makes things worse: a file that fails to load keeps the
// version of its zone that was being served, and the failure is logged
// ("zone FILE: line N: reason") and counted. Only the startup load is
// strict, as a server must not start with a zone missing.
package zoneset

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/tapdns/tapdns/zone"
)

// Loader loads one zone file. zone.LoadFile is the real one; tests inject
// others.
type Loader func(path string) (*zone.Zone, error)

// Manager owns the zone files of a server. Its methods are safe for
// concurrent use; reloads are serialized.
type Manager struct {
	files   []string
	load    Loader
	install func(*zone.Set)
	log     *slog.Logger

	mu      sync.Mutex // serializes Reload; guards zones, sums and st
	zones   []*zone.Zone
	sums    [][sha256.Size]byte // content hash of each file as last loaded
	set     *zone.Set
	st      Stats
	watchWG sync.WaitGroup
}

// Stats describes the reloads done so far.
type Stats struct {
	// Reloads counts reload attempts (not the startup load).
	Reloads uint64
	// ReloadFailures counts reloads in which at least one file failed
	// (those files kept their old zone).
	ReloadFailures uint64
	// FileFailures counts files that failed to load, over all reloads.
	FileFailures uint64
	// LastReload is when the last reload finished (zero: none yet; the
	// startup load is not a reload).
	LastReload time.Time
	// LastOK is true when the last reload (or the startup load) loaded
	// every file.
	LastOK bool
	// LastError is the first error of the last reload, "" when it had none.
	LastError string
}

// New loads every file with load (strictly: the first error is returned and
// nothing is installed), builds the set and installs it with install. files
// must not be empty. logger may be nil.
func New(files []string, load Loader, install func(*zone.Set), logger *slog.Logger) (*Manager, error) {
	if len(files) == 0 {
		return nil, errors.New("zoneset: no zone files")
	}
	if load == nil {
		load = zone.LoadFile
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{files: append([]string(nil), files...), load: load, install: install, log: logger}
	m.zones = make([]*zone.Zone, len(files))
	m.sums = make([][sha256.Size]byte, len(files))
	for i, f := range files {
		z, err := load(f)
		if err != nil {
			return nil, err
		}
		m.zones[i] = z
		m.sums[i], _ = fileSum(f)
		logWarnings(m.log, z)
	}
	set, err := zone.NewSet(m.zones...)
	if err != nil {
		return nil, err
	}
	m.set = set
	m.st.LastOK = true
	if install != nil {
		install(set)
	}
	return m, nil
}

// Set returns the set installed last.
func (m *Manager) Set() *zone.Set {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.set
}

// Stats returns a snapshot of the reload statistics.
func (m *Manager) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.st
}

// Reload re-reads every zone file and installs the resulting set. A file
// that fails keeps its previous zone; if the new zones cannot form a set
// (two files now hold the same origin) the whole previous set stays. It
// returns the errors met, joined (nil when every file loaded), and logs
// each one at level Error.
func (m *Manager) Reload() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reloadLocked(nil)
}

// reloadLocked reloads. sums, when not nil, are the content hashes already
// read by the watcher for each file; they are stored for the files that
// load.
func (m *Manager) reloadLocked(sums [][sha256.Size]byte) error {
	start := time.Now()
	zones := make([]*zone.Zone, len(m.files))
	newSums := append([][sha256.Size]byte(nil), m.sums...)
	var errs []error
	changed := 0
	for i, f := range m.files {
		var sum [sha256.Size]byte
		var sumErr error
		if sums != nil {
			sum = sums[i]
		} else {
			sum, sumErr = fileSum(f)
		}
		z, err := m.load(f)
		if err != nil {
			errs = append(errs, err)
			m.log.Error("zone reload failed; the old version stays in service", "err", err.Error(),
				"zone", originText(m.zones[i]), "serial", m.zones[i].Serial)
			zones[i] = m.zones[i]
			continue
		}
		if sumErr == nil {
			newSums[i] = sum
		}
		zones[i] = z
		logWarnings(m.log, z)
		if z.Serial != m.zones[i].Serial || z.Origin != m.zones[i].Origin {
			changed++
		}
	}
	set, err := zone.NewSet(zones...)
	if err != nil {
		errs = append(errs, err)
		m.log.Error("zone reload failed; the old zones stay in service", "err", err.Error())
	} else {
		m.zones, m.sums, m.set = zones, newSums, set
		if m.install != nil {
			m.install(set)
		}
	}
	m.st.Reloads++
	m.st.LastReload = time.Now()
	m.st.LastOK = len(errs) == 0
	m.st.LastError = ""
	if len(errs) > 0 {
		m.st.ReloadFailures++
		m.st.FileFailures += uint64(len(errs))
		m.st.LastError = errs[0].Error()
	}
	m.log.Info("zones reloaded", "files", len(m.files), "failed", len(errs), "new_serials", changed,
		"took", time.Since(start).Round(time.Microsecond))
	return errors.Join(errs...)
}

func originText(z *zone.Zone) string {
	if z == nil {
		return ""
	}
	return zone.NameText(z.Origin)
}

// fileSum hashes a file's content.
func fileSum(path string) ([sha256.Size]byte, error) {
	var sum [sha256.Size]byte
	f, err := os.Open(path)
	if err != nil {
		return sum, err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return sum, err
	}
	copy(sum[:], h.Sum(nil))
	return sum, nil
}

// Watch bounds.
const (
	MinWatchInterval = 100 * time.Millisecond
	MaxWatchInterval = time.Hour
	// DefaultDebounce is how long a file must stay unchanged after a
	// change is seen before the reload: editors and deploy tools write in
	// several steps.
	DefaultDebounce = time.Second
)

// fileState is what the watcher compares between polls.
type fileState struct {
	size  int64
	mtime time.Time
	ino   uint64
	err   bool
}

// Watch polls the zone files every interval (clamped to
// [MinWatchInterval, MaxWatchInterval]) and reloads when one has changed:
// its size, modification time or inode differs, and once the file has been
// still for debounce, its content hash differs from the version last
// loaded (so touching a file does not reload it). It returns when ctx is
// done. Call it at most once at a time; Wait waits for it.
func (m *Manager) Watch(ctx context.Context, interval, debounce time.Duration) {
	m.watchWG.Add(1)
	defer m.watchWG.Done()
	interval = min(max(interval, MinWatchInterval), MaxWatchInterval)
	if debounce < 0 {
		debounce = 0
	}
	states := make([]fileState, len(m.files))
	for i, f := range m.files {
		states[i] = statFile(f)
	}
	// when the last change was seen; zero: none pending. The first check
	// is due at once: a file may have changed between New and Watch.
	pendingSince := time.Now()
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for i, f := range m.files {
			s := statFile(f)
			if s != states[i] {
				states[i] = s
				pendingSince = time.Now()
			}
		}
		if pendingSince.IsZero() || time.Since(pendingSince) < debounce {
			continue
		}
		pendingSince = time.Time{}
		m.reloadIfChanged()
	}
}

// reloadIfChanged reloads when some file's content differs from what was
// loaded last (or cannot be read, so that the failure is reported).
func (m *Manager) reloadIfChanged() {
	m.mu.Lock()
	defer m.mu.Unlock()
	sums := make([][sha256.Size]byte, len(m.files))
	changed := false
	for i, f := range m.files {
		sum, err := fileSum(f)
		if err != nil || sum != m.sums[i] {
			changed = true
		}
		sums[i] = sum
	}
	if !changed {
		m.log.Debug("zone files touched but unchanged; no reload")
		return
	}
	m.log.Info("zone file changed; reloading")
	_ = m.reloadLocked(sums)
}

// Wait waits for a running Watch to return (after its ctx is done).
func (m *Manager) Wait() { m.watchWG.Wait() }

func statFile(path string) fileState {
	fi, err := os.Stat(path)
	if err != nil {
		return fileState{err: true}
	}
	s := fileState{size: fi.Size(), mtime: fi.ModTime()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		s.ino = st.Ino
	}
	return s
}

// Summary describes a loaded zone in one line: file, origin, serial and
// record count, as `tapdns check` prints it.
func Summary(z *zone.Zone) string {
	file := z.File
	if file == "" {
		file = "(embedded)"
	}
	return fmt.Sprintf("zone %s: origin %s serial %d records %d", file, zone.NameText(z.Origin), z.Serial, z.Records())
}
