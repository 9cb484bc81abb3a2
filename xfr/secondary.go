package xfr

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/tsig"
	"github.com/tapdns/tapdns/zone"
)

// Bounds on the SOA timers a secondary follows (Knot DNS's defaults for
// refresh-min-interval and refresh-max-interval), and the retry schedule
// of a zone never loaded.
const (
	minInterval  = 2 * time.Second
	maxInterval  = 24 * time.Hour
	firstRetry   = 2 * time.Second
	maxFirstWait = 5 * time.Minute
	// minKickGap spaces the refreshes that NOTIFY asks for, so that a
	// flood of (possibly forged, unsigned) NOTIFY cannot turn the
	// secondary into a flood of SOA queries to its primary.
	minKickGap = 250 * time.Millisecond
)

// secondary is one zone pulled from a primary: an explicit --secondary, a
// catalog member, or a catalog itself. Its goroutine (run) owns the
// refreshes; the fields under mu are read by Stats, Notify and the
// catalog code.
type secondary struct {
	svc       *Service
	origin    []byte
	remote    Remote
	role      Role
	catalog   []byte // for members: the catalog's origin
	catalogID string // for members: the unique label in the catalog
	ctr       *zoneCounters
	kick      chan struct{} // cap 1: a NOTIFY arrived
	cancel    context.CancelFunc
	done      chan struct{} // closed when run returns (if it was started)

	mu          sync.Mutex
	z           *zone.Zone // the copy held; nil: never loaded
	lastOK      time.Time  // last successful refresh (or transfer)
	lastRefresh time.Time
	lastResult  string
	expired     bool
}

// kickNow asks for a refresh at once (NOTIFY). It never blocks.
func (sec *secondary) kickNow() {
	select {
	case sec.kick <- struct{}{}:
	default:
	}
}

func (sec *secondary) name() string { return nameText(sec.origin) }

func (sec *secondary) stats() ZoneStats {
	sec.mu.Lock()
	defer sec.mu.Unlock()
	st := ZoneStats{Zone: sec.name(), Role: sec.role, Loaded: sec.z != nil, Expired: sec.expired,
		Primary: sec.remote.Addr.String(), LastRefresh: sec.lastRefresh, LastResult: sec.lastResult, LastOK: sec.lastOK}
	if sec.z != nil {
		st.Serial = sec.z.Serial
	}
	sec.ctr.fill(&st)
	return st
}

// addSecondary registers a secondary zone, loads its saved state and
// serves it if it has not expired, and starts it if the Service runs.
func (s *Service) addSecondary(r Remote, role Role, catalog []byte, catalogID string) *secondary {
	sec := &secondary{svc: s, origin: r.Zone, remote: r, role: role, catalog: catalog, catalogID: catalogID,
		kick: make(chan struct{}, 1), done: make(chan struct{})}
	s.mu.Lock()
	sec.ctr = s.countersLocked(string(r.Zone))
	s.secondaries[string(r.Zone)] = sec
	if role != RoleCatalog {
		s.setUnavailableLocked(string(r.Zone), true)
	}
	s.mu.Unlock()
	if s.cfg.StateDir != "" {
		sec.loadState()
	}
	sec.mu.Lock()
	served := sec.z != nil && !sec.expired
	sec.mu.Unlock()
	if !served {
		// Published at once: SERVFAIL from now on, and no answer a
		// parent zone had cached.
		sec.installZone(nil)
	}
	s.mu.Lock()
	if s.running != nil && s.secondaries[string(r.Zone)] == sec {
		s.startLocked(sec)
	}
	s.mu.Unlock()
	return sec
}

// startLocked starts sec's goroutine with its own context, so that a
// catalog member can be stopped alone.
func (s *Service) startLocked(sec *secondary) {
	ctx, cancel := context.WithCancel(s.running)
	sec.cancel = cancel
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(sec.done)
		defer cancel()
		sec.run(ctx)
	}()
}

// removeSecondary stops a catalog member, takes it out of service and
// deletes its saved state.
func (s *Service) removeSecondary(sec *secondary) {
	s.installMu.Lock()
	s.mu.Lock()
	if s.secondaries[string(sec.origin)] == sec {
		delete(s.secondaries, string(sec.origin))
	}
	s.setUnavailableLocked(string(sec.origin), false)
	delete(s.journals, string(sec.origin))
	started := sec.cancel != nil
	s.mu.Unlock()
	s.install(sec.origin, nil, s.unavailableList())
	s.installMu.Unlock()
	if started {
		sec.cancel()
		<-sec.done
	}
	if s.cfg.StateDir != "" {
		removeState(s.cfg.StateDir, sec.origin)
	}
}

// loadState loads the zone saved in the state directory, if any.
func (sec *secondary) loadState() {
	s := sec.svc
	saved, errs := loadState(s.cfg.StateDir, sec.origin)
	for _, err := range errs {
		s.log.Warn("saved zone state", "zone", sec.name(), "err", err)
	}
	if saved == nil {
		return
	}
	if sec.role == RoleSecondary && sec.catalog != nil && saved.meta.CatalogID != "" && saved.meta.CatalogID != sec.catalogID {
		s.log.Info("catalog member was reset; its saved copy is dropped", "zone", sec.name())
		return
	}
	lastOK := saved.meta.LastOK
	if !saved.metaOK {
		// Unknown: the zone file's age is the safe guess.
		if fi, err := os.Stat(stateBase(s.cfg.StateDir, sec.origin) + ".zone"); err == nil {
			lastOK = fi.ModTime()
		}
	}
	sec.mu.Lock()
	sec.z, sec.lastOK = saved.z, lastOK
	sec.expired = sec.expiredAtLocked(s.cfg.Now())
	sec.mu.Unlock()
	s.mu.Lock()
	s.journals[string(sec.origin)] = saved.journal
	s.mu.Unlock()
	s.log.Info("loaded saved zone", "zone", sec.name(), "serial", saved.z.Serial, "last_ok", lastOK.Format(time.RFC3339),
		"expired", sec.expired, "journal", saved.journal.Len())
	if sec.role == RoleCatalog {
		s.reconcileCatalog(sec, saved.z)
		return
	}
	if !sec.expired {
		sec.installZone(saved.z)
	}
}

// timers returns the SOA's refresh, retry and expire, bounded.
func timers(z *zone.Zone) (refresh, retry, expire time.Duration) {
	soa, _ := parseSOA(soaOf(z).Rdata)
	clamp := func(v uint32) time.Duration {
		return min(max(time.Duration(v)*time.Second, minInterval), maxInterval)
	}
	refresh, retry = clamp(soa.Refresh), clamp(soa.Retry)
	expire = max(time.Duration(soa.Expire)*time.Second, refresh, minInterval)
	return refresh, retry, expire
}

func (sec *secondary) expiredAtLocked(now time.Time) bool {
	if sec.z == nil {
		return false
	}
	_, _, expire := timers(sec.z)
	return now.Sub(sec.lastOK) >= expire
}

// run refreshes the zone at once, then as its SOA timers say, at once on
// NOTIFY, and expires it when the primary stays unreachable.
func (sec *secondary) run(ctx context.Context) {
	next := time.Now()
	wait := firstRetry    // retry interval while never loaded
	var lastEnd time.Time // when the last refresh ended
	for {
		d := time.Until(next)
		sec.mu.Lock()
		if sec.z != nil && !sec.expired {
			_, _, expire := timers(sec.z)
			d = min(d, sec.lastOK.Add(expire).Sub(sec.svc.cfg.Now()))
		}
		sec.mu.Unlock()
		timer := time.NewTimer(max(d, 0))
		kicked := false
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-sec.kick:
			kicked = true
		case <-timer.C:
		}
		timer.Stop()
		sec.checkExpiry()
		if !kicked && time.Now().Before(next) {
			continue // woken to expire the zone
		}
		if gap := minKickGap - time.Since(lastEnd); kicked && gap > 0 {
			select {
			case <-ctx.Done():
				return
			case <-time.After(gap):
			}
		}
		// A refresh that would run past the zone's expiry is cut there, so
		// that the zone expires on time even while the primary is slow.
		rctx, cancel := ctx, context.CancelFunc(func() {})
		sec.mu.Lock()
		if sec.z != nil && !sec.expired {
			_, _, expire := timers(sec.z)
			rctx, cancel = context.WithDeadline(ctx, time.Now().Add(sec.lastOK.Add(expire).Sub(sec.svc.cfg.Now())))
		}
		sec.mu.Unlock()
		ok := sec.refresh(rctx)
		cancel()
		lastEnd = time.Now()
		if ctx.Err() != nil {
			return
		}
		sec.mu.Lock()
		z := sec.z
		sec.mu.Unlock()
		switch {
		case z == nil:
			next = time.Now().Add(wait)
			wait = min(2*wait, maxFirstWait)
		case ok:
			refresh, _, _ := timers(z)
			next = time.Now().Add(refresh)
		default:
			_, retry, _ := timers(z)
			next = time.Now().Add(retry)
		}
	}
}

// checkExpiry takes the zone out of service once it has gone unrefreshed
// for the SOA expire time (RFC 1034 4.3.5).
func (sec *secondary) checkExpiry() {
	sec.mu.Lock()
	if sec.expired || !sec.expiredAtLocked(sec.svc.cfg.Now()) {
		sec.mu.Unlock()
		return
	}
	sec.expired = true
	serial, lastOK := sec.z.Serial, sec.lastOK
	sec.mu.Unlock()
	sec.svc.log.Warn("zone expired: no successful refresh within the SOA expire time; answering SERVFAIL", "zone", sec.name(),
		"serial", serial, "last_ok", lastOK.Format(time.RFC3339))
	if sec.role != RoleCatalog {
		sec.installZone(nil)
	}
}

// installZone serves z (nil: stops serving), unless the secondary has been
// removed meanwhile.
func (sec *secondary) installZone(z *zone.Zone) {
	if sec.role == RoleCatalog {
		return
	}
	s := sec.svc
	s.installMu.Lock()
	defer s.installMu.Unlock()
	s.mu.Lock()
	current := s.secondaries[string(sec.origin)] == sec
	if current {
		s.setUnavailableLocked(string(sec.origin), z == nil)
	}
	s.mu.Unlock()
	if current {
		s.install(sec.origin, z, s.unavailableList())
	}
}

// refresh checks the primary's serial and transfers the zone when it is
// newer. It reports whether the primary was reached and the copy is now
// current.
func (sec *secondary) refresh(ctx context.Context) bool {
	s := sec.svc
	start := s.cfg.Now()
	sec.mu.Lock()
	cur := sec.z
	sec.lastRefresh = start
	sec.mu.Unlock()

	soaRR, err := s.client.querySOA(ctx, sec.origin, sec.remote)
	if err != nil {
		return sec.failed(ctx, "SOA query", err)
	}
	serial := soaSerial(&soaRR)
	if cur != nil && !serialLess(cur.Serial, serial) {
		sec.succeeded(cur, "up to date")
		return true
	}
	nz, kind, res, err := sec.pull(ctx, cur)
	if err != nil {
		sec.ctr.xfrInFailed.Add(1)
		return sec.failed(ctx, "transfer", err)
	}
	sec.ctr.bytesIn.Add(uint64(res.bytes))
	if nz == cur {
		sec.succeeded(cur, "up to date")
		return true
	}
	if kind == "IXFR" {
		sec.ctr.xfrInIXFR.Add(1)
	} else {
		sec.ctr.xfrInAXFR.Add(1)
	}
	s.log.Info("zone transferred", "zone", sec.name(), "type", kind, "serial", nz.Serial, "from", sec.remote.Addr.String(),
		"messages", res.msgs, "bytes", res.bytes, "records", nz.Records(), "took", s.cfg.Now().Sub(start).Round(time.Millisecond).String())
	if n := nz.WarningCount(); n > 0 {
		s.log.Warn("transferred zone has problems", "zone", sec.name(), "count", n, "first", nz.Warnings()[0].String())
	}
	sec.mu.Lock()
	sec.z, sec.expired, sec.lastOK = nz, false, s.cfg.Now()
	sec.mu.Unlock()
	sec.installZone(nz)
	sec.succeeded(nz, kind)
	if sec.role == RoleCatalog {
		s.reconcileCatalog(sec, nz)
	} else {
		s.notify.queue(sec.origin, soaOf(nz))
	}
	sec.save(nz)
	return true
}

// pull transfers the zone (IXFR from cur, AXFR when there is no cur or
// IXFR fails) and builds the new version with the checks of a zone file.
// It returns cur itself when the primary has nothing newer.
func (sec *secondary) pull(ctx context.Context, cur *zone.Zone) (*zone.Zone, string, *inResult, error) {
	s := sec.svc
	file := sec.name() + " from " + sec.remote.Addr.String()
	var have *RR
	if cur != nil {
		soa := soaOf(cur)
		have = &soa
	}
	res, err := s.client.transfer(ctx, sec.origin, sec.remote, have)
	if err == nil && have != nil {
		var nz *zone.Zone
		switch {
		case res.upToDate:
			return cur, "IXFR", res, nil
		case res.diffs != nil:
			if nz, err = applyDiffs(cur, file, res.diffs); err == nil {
				sec.journalAdd(res.diffs...)
				return nz, "IXFR", res, nil
			}
			err = fmt.Errorf("IXFR does not apply: %w", err)
		default:
			if nz, err = buildZone(sec.origin, file, res.soa, res.full); err == nil {
				sec.journalAdd(zoneDiff(cur, nz))
				return nz, "AXFR", res, nil
			}
			return nil, "", nil, err // an AXFR-form answer: retrying gets the same
		}
	}
	if have != nil && err != nil {
		if !fallback(err) {
			return nil, "", nil, err
		}
		s.log.Info("IXFR failed; trying AXFR", "zone", sec.name(), "err", err)
		res, err = s.client.transfer(ctx, sec.origin, sec.remote, nil)
	}
	if err != nil {
		return nil, "", nil, err
	}
	nz, err := buildZone(sec.origin, file, res.soa, res.full)
	if err != nil {
		return nil, "", nil, err
	}
	if cur != nil && sec.role != RoleCatalog {
		sec.journalAdd(zoneDiff(cur, nz))
	} else {
		s.setJournal(string(sec.origin), nil)
	}
	return nz, "AXFR", res, nil
}

// fallback reports whether an IXFR failure is worth an AXFR: not when the
// primary refused us or TSIG failed, or we are stopping.
func fallback(err error) bool {
	var re *rcodeError
	var te *tsig.ResponseError
	switch {
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return false
	case errors.As(err, &re):
		return re.rcode != dnswire.RcodeRefused && re.rcode != dnswire.RcodeNotAuth
	case errors.As(err, &te), errors.Is(err, tsig.ErrUnsigned):
		return false
	}
	return true
}

func (sec *secondary) journalAdd(diffs ...*Diff) {
	if sec.role == RoleCatalog {
		return
	}
	s := sec.svc
	s.mu.Lock()
	j := s.journals[string(sec.origin)]
	for _, d := range diffs {
		j = j.With(d, s.cfg.JournalDiffs, s.cfg.JournalBytes)
	}
	s.journals[string(sec.origin)] = j
	s.mu.Unlock()
}

func (sec *secondary) succeeded(z *zone.Zone, result string) {
	s := sec.svc
	now := s.cfg.Now()
	sec.mu.Lock()
	wasExpired := sec.expired
	sec.lastOK, sec.lastResult, sec.expired = now, result, false
	sec.mu.Unlock()
	if wasExpired && result == "up to date" {
		s.log.Info("expired zone confirmed current by its primary; serving it again", "zone", sec.name(), "serial", z.Serial)
		sec.installZone(z)
	}
	if result == "up to date" && s.cfg.StateDir != "" {
		sec.saveMeta(z, now)
	}
}

func (sec *secondary) failed(ctx context.Context, what string, err error) bool {
	if ctx.Err() != nil {
		return false
	}
	sec.mu.Lock()
	sec.lastResult = what + ": " + err.Error()
	loaded := sec.z != nil
	sec.mu.Unlock()
	sec.svc.log.Warn("zone refresh failed", "zone", sec.name(), "primary", sec.remote.Addr.String(), "step", what, "err", err, "loaded", loaded)
	return false
}

// save writes the zone, its journal and the meta file to the state
// directory.
func (sec *secondary) save(z *zone.Zone) {
	s := sec.svc
	if s.cfg.StateDir == "" {
		return
	}
	base := stateBase(s.cfg.StateDir, sec.origin)
	if err := writeZoneFile(base+".zone", z); err != nil {
		s.log.Error("cannot save zone", "zone", sec.name(), "err", err)
		return
	}
	s.mu.Lock()
	j := s.journals[string(sec.origin)]
	s.mu.Unlock()
	if js, ok := j.Serial(); ok && js == z.Serial {
		if err := writeJournalFile(base+".journal", j); err != nil {
			s.log.Error("cannot save journal", "zone", sec.name(), "err", err)
		}
	} else {
		os.Remove(base + ".journal")
	}
	sec.mu.Lock()
	lastOK := sec.lastOK
	sec.mu.Unlock()
	sec.saveMeta(z, lastOK)
}

func (sec *secondary) saveMeta(z *zone.Zone, lastOK time.Time) {
	s := sec.svc
	m := stateMeta{Zone: sec.name(), Serial: z.Serial, Primary: sec.remote.Addr.String(), LastOK: lastOK, CatalogID: sec.catalogID}
	if err := writeMetaFile(stateBase(s.cfg.StateDir, sec.origin)+".meta", m); err != nil {
		s.log.Error("cannot save zone state", "zone", sec.name(), "err", err)
	}
}
