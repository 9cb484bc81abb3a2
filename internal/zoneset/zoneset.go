// Package zoneset keeps the set of zones a server answers from in step with
// the zone files on disk: it loads them at startup, reloads them on demand
// (SIGHUP) or when a file changes (Watch), and installs each new set as a
// whole through a callback (dnssvc.Server.SetZones), so that a query sees
// either the old set or the new one, never a mix.
//
// A reload never makes things worse: a file that fails to load keeps the
// version of its zone that was being served, and the failure is logged at
// WARN with the zone and the reason ("zone FILE: line N: reason") and
// counted. Only the startup load is strict, as a server must not start
// with a zone missing. A reload reads only the files whose content (or
// that of a file they $INCLUDE) changed since they were last loaded, as
// NSD and Knot DNS do: an unchanged file gives the same zone.
package zoneset

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tapdns/tapdns/internal/filewatch"
	"github.com/tapdns/tapdns/zone"
)

// Source is one zone to serve: its file and, when given, its origin.
type Source struct {
	File   string
	Origin string // presentation format; "" takes it from the file
}

// ParseSource parses a --zone argument: FILE, or ORIGIN=FILE. The origin
// part ends at the first '='; an argument whose text before the first '='
// contains a '/' is a file name (so ./a=b.zone names the file a=b.zone).
func ParseSource(arg string) (Source, error) {
	origin, file, ok := strings.Cut(arg, "=")
	if !ok || strings.Contains(origin, "/") {
		if arg == "" {
			return Source{}, errors.New("empty file name")
		}
		return Source{File: arg}, nil
	}
	if file == "" {
		return Source{}, fmt.Errorf("%q: no file after %q (give ORIGIN=FILE)", arg, origin+"=")
	}
	if origin == "" {
		return Source{}, fmt.Errorf("%q: empty origin before '=' (give ORIGIN=FILE)", arg)
	}
	if _, err := zone.CanonicalName(origin); err != nil {
		return Source{}, fmt.Errorf("%q: bad origin %q: %v", arg, origin, err)
	}
	return Source{File: file, Origin: origin}, nil
}

// Load loads the zone a --zone argument (FILE or ORIGIN=FILE) names. When
// the file uses a relative name with no origin known, the error says how
// to give one.
func Load(arg string) (*zone.Zone, error) {
	src, err := ParseSource(arg)
	if err != nil {
		return nil, err
	}
	z, err := zone.LoadFileOrigin(src.File, src.Origin)
	if err != nil && errors.Is(err, zone.ErrNoOrigin) {
		return nil, fmt.Errorf("%w (--zone ORIGIN=FILE, such as --zone example.com.=%s)", err, src.File)
	}
	return z, err
}

// Loader loads the zone of one --zone argument (FILE or ORIGIN=FILE). Load
// is the real one; tests inject others.
type Loader func(arg string) (*zone.Zone, error)

// entry is one zone source and what was last loaded from it.
type entry struct {
	arg   string
	src   Source
	zone  *zone.Zone
	files []string          // src.File and what it included, as last loaded
	sum   [sha256.Size]byte // content hash of files when last loaded
	ok    bool              // sum is valid
}

// Manager owns the zone files of a server. Its methods are safe for
// concurrent use; reloads are serialized.
type Manager struct {
	load    Loader
	install func(*zone.Set)
	log     *slog.Logger

	mu      sync.Mutex // serializes reloads; guards entries, set and st
	entries []*entry
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

// maxLoggedWarnings bounds the warnings logged per zone load.
const maxLoggedWarnings = 10

// New loads every zone source (FILE or ORIGIN=FILE) with load (strictly:
// the first error is returned and nothing is installed), builds the set
// and installs it with install. args must not be empty; load nil means
// Load; logger may be nil. Warnings found in the zones are logged.
func New(args []string, load Loader, install func(*zone.Set), logger *slog.Logger) (*Manager, error) {
	if len(args) == 0 {
		return nil, errors.New("zoneset: no zone files")
	}
	if load == nil {
		load = Load
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	m := &Manager{load: load, install: install, log: logger}
	zones := make([]*zone.Zone, len(args))
	for i, arg := range args {
		src, err := ParseSource(arg)
		if err != nil {
			return nil, err
		}
		e := &entry{arg: arg, src: src}
		// Hash first: a change made during the load is seen by the next
		// reload.
		e.sum, e.ok = sumFiles([]string{src.File})
		z, err := load(arg)
		if err != nil {
			return nil, err
		}
		m.loaded(e, z)
		m.logWarnings(z)
		m.entries = append(m.entries, e)
		zones[i] = z
	}
	set, err := zone.NewSet(zones...)
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

// loaded records z as e's zone. When the zone's files differ from the
// ones hashed before the load (an $INCLUDE was added or removed), they
// are hashed now.
func (m *Manager) loaded(e *entry, z *zone.Zone) {
	files := append([]string{e.src.File}, z.Included()...)
	if !slices.Equal(files, e.files) && len(z.Included()) > 0 {
		e.sum, e.ok = sumFiles(files)
	}
	e.zone, e.files = z, files
}

// logWarnings logs the warnings of a freshly loaded zone.
func (m *Manager) logWarnings(z *zone.Zone) {
	ws, n := z.Warnings(), z.WarningCount()
	for i, w := range ws {
		if i == maxLoggedWarnings {
			break
		}
		m.log.Warn(w.String(), "zone", zone.NameText(z.Origin))
	}
	if n > maxLoggedWarnings {
		m.log.Warn("more zone warnings not logged; run tapdns check to see them all", "zone", zone.NameText(z.Origin), "file", z.File, "warnings", n)
	}
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

// Reload re-reads every zone file whose content (or that of a file it
// includes) changed since it was last loaded, and installs the resulting
// set. A file that fails keeps its previous zone; if the new zones cannot
// form a set (two files now hold the same origin) the whole previous set
// stays. It returns the errors met, joined (nil when every file loaded),
// and logs each one at WARN.
func (m *Manager) Reload() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.reloadLocked()
}

func (m *Manager) reloadLocked() error {
	start := time.Now()
	zones := make([]*zone.Zone, len(m.entries))
	type change struct {
		e    *entry
		z    *zone.Zone
		sum  [sha256.Size]byte
		ok   bool
		same bool // content unchanged: not reloaded
	}
	changes := make([]change, len(m.entries))
	var errs []error
	var failed []string
	reloaded := 0
	for i, e := range m.entries {
		c := &changes[i]
		c.e = e
		c.sum, c.ok = sumFiles(e.files)
		zones[i] = e.zone
		if c.ok && e.ok && c.sum == e.sum {
			c.same = true
			m.log.Debug("zone file unchanged; not reloaded", "zone", zone.NameText(e.zone.Origin), "file", e.src.File)
			continue
		}
		z, err := m.load(e.arg)
		if err != nil {
			errs = append(errs, err)
			failed = append(failed, zone.NameText(e.zone.Origin))
			m.log.Warn("zone reload failed; the old version stays in service", "zone", zone.NameText(e.zone.Origin),
				"file", e.src.File, "serial", e.zone.Serial, "err", err.Error())
			continue
		}
		c.z = z
		zones[i] = z
		reloaded++
	}
	// With no zone reloaded the set in service stays, and with it the
	// server's answer cache, which a new set would start afresh.
	if reloaded > 0 {
		set, err := zone.NewSet(zones...)
		if err != nil {
			errs = append(errs, err)
			m.log.Warn("zone reload failed; the old zones stay in service", "err", err.Error())
		} else {
			for i := range changes {
				c := &changes[i]
				if c.z == nil {
					continue
				}
				old := c.e.zone
				c.e.sum, c.e.ok = c.sum, c.ok
				m.loaded(c.e, c.z)
				m.logChange(c.e.src.File, old, c.z)
				m.logWarnings(c.z)
			}
			m.set = set
			if m.install != nil {
				m.install(set)
			}
		}
	}
	m.st.Reloads++
	m.st.LastReload = time.Now()
	m.st.LastOK = len(errs) == 0
	m.st.LastError = ""
	took := time.Since(start).Round(time.Microsecond)
	if len(errs) > 0 {
		m.st.ReloadFailures++
		m.st.FileFailures += uint64(len(failed))
		m.st.LastError = errs[0].Error()
		m.log.Warn("zones reloaded with failures", "zones", len(m.entries), "reloaded", reloaded,
			"failed", len(errs), "failed_zones", failed, "took", took)
	} else {
		m.log.Info("zones reloaded", "zones", len(m.entries), "reloaded", reloaded,
			"unchanged", len(m.entries)-reloaded, "took", took)
	}
	return errors.Join(errs...)
}

// logChange logs what a reload changed in one file's zone.
func (m *Manager) logChange(file string, old, z *zone.Zone) {
	switch {
	case old.Origin != z.Origin:
		// A file given without an origin may now hold another zone: the
		// old one is no longer served.
		m.log.Warn("zone file now holds another zone; the old zone is no longer served",
			"file", file, "old_zone", zone.NameText(old.Origin), "new_zone", zone.NameText(z.Origin), "serial", z.Serial)
	case old.Serial != z.Serial:
		m.log.Info("zone reloaded", "zone", zone.NameText(z.Origin), "file", file,
			"serial", fmt.Sprintf("%d -> %d", old.Serial, z.Serial), "records", z.Records())
	default:
		// Secondaries that transfer the zone go by the serial.
		m.log.Warn("zone file changed but its SOA serial did not; secondaries will not see the change",
			"zone", zone.NameText(z.Origin), "file", file, "serial", z.Serial)
	}
}

// sumFiles hashes the content of files; false when one cannot be read.
func sumFiles(files []string) ([sha256.Size]byte, bool) {
	var sum [sha256.Size]byte
	h := sha256.New()
	for _, path := range files {
		f, err := os.Open(path)
		if err != nil {
			return sum, false
		}
		_, err = io.Copy(h, f)
		f.Close()
		if err != nil {
			return sum, false
		}
		h.Write([]byte{0}) // a boundary: moving bytes between files is a change
	}
	copy(sum[:], h.Sum(nil))
	return sum, true
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

// Watch polls the zone files and the files they include every interval
// (clamped to [MinWatchInterval, MaxWatchInterval]) and reloads when one
// has changed: its size, modification time or inode differs, and once the
// files have been still for debounce, the content of one differs from the
// version last loaded (so touching a file does not reload it). It returns
// when ctx is done. Call it at most once at a time; Wait waits for it.
func (m *Manager) Watch(ctx context.Context, interval, debounce time.Duration) {
	m.watchWG.Add(1)
	defer m.watchWG.Done()
	interval = min(max(interval, MinWatchInterval), MaxWatchInterval)
	if debounce < 0 {
		debounce = 0
	}
	var files filewatch.Files
	check := func() bool { return files.Changed(m.watchedFiles()) }
	check() // record the current state
	filewatch.Loop(ctx, interval, debounce, check, m.reloadIfChanged)
}

// watchedFiles returns the files of every zone as last loaded: each zone
// file and the files it includes.
func (m *Manager) watchedFiles() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	var files []string
	for _, e := range m.entries {
		files = append(files, e.files...)
	}
	return files
}

// reloadIfChanged reloads when some file's content differs from what was
// loaded last (or cannot be read, so that the failure is reported).
func (m *Manager) reloadIfChanged() {
	m.mu.Lock()
	defer m.mu.Unlock()
	changed := false
	for _, e := range m.entries {
		if sum, ok := sumFiles(e.files); !ok || !e.ok || sum != e.sum {
			changed = true
			break
		}
	}
	if !changed {
		m.log.Debug("zone files touched but unchanged; no reload")
		return
	}
	m.log.Info("zone file changed; reloading")
	_ = m.reloadLocked()
}

// Wait waits for a running Watch to return (after its ctx is done).
func (m *Manager) Wait() { m.watchWG.Wait() }

// Summary describes a loaded zone in one line: file, origin, serial and
// record count, as `tapdns check` prints it.
func Summary(z *zone.Zone) string {
	file := z.File
	if file == "" {
		file = "(embedded)"
	}
	return fmt.Sprintf("zone %s: origin %s serial %d records %d", file, zone.NameText(z.Origin), z.Serial, z.Records())
}
