package xfr

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/tsig"
	"github.com/tapdns/tapdns/zone"
)

// Config is the zone-transfer configuration. The zero value transfers
// nothing: no secondaries, AXFR and IXFR refused, no NOTIFY sent.
type Config struct {
	// Keys are the TSIG keys (--tsig); rules and remotes refer to them.
	Keys *tsig.Keyring
	// AllowTransfer says who may transfer the zones we serve
	// (--allow-transfer); empty refuses everyone.
	AllowTransfer ACL
	// AllowNotify says who, besides a zone's own primary, may send
	// NOTIFY for a secondary zone (--allow-notify).
	AllowNotify ACL
	// Notify are the targets told of every serial change (--notify).
	Notify []Remote
	// Secondaries are the zones pulled from primaries (--secondary).
	Secondaries []Remote
	// Catalogs are the catalog zones consumed (--catalog); their members
	// become secondaries pulled from the catalog's primary.
	Catalogs []Remote
	// StateDir, when set, keeps each secondary zone and its journal
	// across restarts (--state-dir).
	StateDir string
	// JournalDiffs and JournalBytes bound each zone's journal; 0 means
	// DefaultJournalDiffs and DefaultJournalBytes.
	JournalDiffs, JournalBytes int
	// MaxTransferBytes bounds one incoming transfer; 0 means
	// DefaultMaxTransferBytes.
	MaxTransferBytes int
	// Now is the clock (TSIG times, timers); nil means time.Now.
	Now func() time.Time
}

// Installer puts a secondary zone into service, or takes it out (z nil),
// and gives the origins of the secondary zones not being served (never
// loaded, or expired), whose names must be answered SERVFAIL
// (dnssvc.Server.SetUnavailable). Calls are serialized; the function must
// not call back into the Service.
type Installer func(origin []byte, z *zone.Zone, unavailable [][]byte)

// Service runs the zone-transfer side of a server: it serves AXFR and IXFR
// of the zones it is shown (ZonesChanged and the secondaries), keeps their
// journals, sends NOTIFY, and runs the secondaries and catalogs. Its
// methods are safe for concurrent use; the query-path ones (Notify,
// Unavailable, AllowTransfer) never block.
type Service struct {
	cfg     Config
	log     *slog.Logger
	client  *client
	install Installer
	notify  *notifier

	installMu sync.Mutex // serializes install

	mu          sync.Mutex
	journals    map[string]*Journal // by origin: zones served (both roles)
	primaries   map[string]uint32   // origin -> serial of the primary zones shown
	counters    map[string]*zoneCounters
	secondaries map[string]*secondary // by origin, catalogs included
	running     context.Context       // nil until Run; then its context
	wg          sync.WaitGroup        // secondaries, catalog members, diff worker
	changes     []zoneChange          // primary reloads waiting for the diff worker
	changed     chan struct{}         // wakes the diff worker
	closed      bool

	// unavailable holds the origins of the secondary zones that are not
	// being served (never loaded, or expired): queries below them get
	// SERVFAIL. Replaced whole under mu.
	unavailable atomic.Pointer[map[string]struct{}]
}

// zoneChange is one primary zone replaced by a reload.
type zoneChange struct{ old, new *zone.Zone }

// New checks cfg and returns a Service. It loads the secondaries' saved
// state (cfg.StateDir) and installs what it can at once, so that a restart
// serves without waiting for the primaries; everything else starts with
// Run.
func New(cfg Config, network Network, install Installer, logger *slog.Logger) (*Service, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.MaxTransferBytes <= 0 {
		cfg.MaxTransferBytes = DefaultMaxTransferBytes
	}
	if install == nil {
		install = func([]byte, *zone.Zone, [][]byte) {}
	}
	if (len(cfg.Secondaries) > 0 || len(cfg.Catalogs) > 0 || len(cfg.Notify) > 0) && network == nil {
		return nil, errors.New("xfr: secondaries, catalogs and NOTIFY need a network")
	}
	seen := map[string]bool{}
	for _, r := range slices.Concat(cfg.Secondaries, cfg.Catalogs) {
		if seen[string(r.Zone)] {
			return nil, fmt.Errorf("zone %s is given twice (--secondary, --catalog)", nameText(r.Zone))
		}
		seen[string(r.Zone)] = true
	}
	if cfg.StateDir != "" {
		if err := os.MkdirAll(cfg.StateDir, 0o750); err != nil {
			return nil, fmt.Errorf("--state-dir: %w", err)
		}
	}
	s := &Service{
		cfg:         cfg,
		log:         logger,
		install:     install,
		client:      &client{net: network, now: cfg.Now, maxBytes: cfg.MaxTransferBytes},
		journals:    map[string]*Journal{},
		primaries:   map[string]uint32{},
		counters:    map[string]*zoneCounters{},
		secondaries: map[string]*secondary{},
		changed:     make(chan struct{}, 1),
	}
	s.notify = newNotifier(s.client, cfg.Notify, s.zoneCounters, logger)
	s.unavailable.Store(&map[string]struct{}{})
	for _, r := range cfg.Secondaries {
		s.addSecondary(r, RoleSecondary, nil, "")
	}
	for _, r := range cfg.Catalogs {
		s.addSecondary(r, RoleCatalog, nil, "")
	}
	return s, nil
}

// Run starts the secondaries, the catalogs and NOTIFY, and returns when
// ctx is done and every goroutine it started has ended.
func (s *Service) Run(ctx context.Context) error {
	s.mu.Lock()
	if s.running != nil || s.closed {
		s.mu.Unlock()
		return errors.New("xfr: Run called twice, or after Close")
	}
	s.running = ctx
	for _, sec := range s.secondaries {
		s.startLocked(sec)
	}
	s.wg.Add(1)
	go s.diffWorker(ctx)
	s.mu.Unlock()
	var nwg sync.WaitGroup
	nwg.Add(1)
	go func() { defer nwg.Done(); s.notify.run(ctx) }()
	<-ctx.Done()
	s.wg.Wait()
	nwg.Wait()
	return nil
}

// Close stops a Service that never ran; after Run it is a no-op (Run's
// context stops everything). It is idempotent.
func (s *Service) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	return nil
}

func (s *Service) zoneCounters(origin string) *zoneCounters {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.countersLocked(origin)
}

func (s *Service) countersLocked(origin string) *zoneCounters {
	c := s.counters[origin]
	if c == nil {
		c = &zoneCounters{}
		s.counters[origin] = c
	}
	return c
}

// setUnavailableLocked marks a secondary origin as served (false) or not.
func (s *Service) setUnavailableLocked(origin string, unavailable bool) {
	old := *s.unavailable.Load()
	if _, ok := old[origin]; ok == unavailable {
		return
	}
	m := make(map[string]struct{}, len(old)+1)
	for k := range old {
		m[k] = struct{}{}
	}
	if unavailable {
		m[origin] = struct{}{}
	} else {
		delete(m, origin)
	}
	s.unavailable.Store(&m)
}

// unavailableList returns the origins of the secondary zones not being
// served, sorted.
func (s *Service) unavailableList() [][]byte {
	m := *s.unavailable.Load()
	out := make([][]byte, 0, len(m))
	for o := range m {
		out = append(out, []byte(o))
	}
	slices.SortFunc(out, compareNames)
	return out
}

// AllowTransfer reports whether a client (with the TSIG key it was
// verified with, nil when unsigned) may transfer zones (--allow-transfer).
func (s *Service) AllowTransfer(client netip.Addr, key *tsig.Key) bool {
	return s.cfg.AllowTransfer.Allows(client, key)
}

// Notify handles a NOTIFY for zone from client (key: the TSIG key it was
// verified with, nil when unsigned) and returns the rcode to answer:
// NOERROR when it triggers a check of a secondary zone, NOTAUTH for a zone
// that is not one of our secondaries, REFUSED for a sender that is neither
// the zone's primary nor allowed by --allow-notify. It never blocks.
func (s *Service) Notify(zoneName []byte, client netip.AddrPort, key *tsig.Key) dnswire.Rcode {
	s.mu.Lock()
	sec := s.secondaries[string(zoneName)]
	s.mu.Unlock()
	if sec == nil {
		s.log.Debug("NOTIFY for a zone that is not a secondary", "zone", nameText(zoneName), "client", client.String())
		return dnswire.RcodeNotAuth
	}
	fromPrimary := client.Addr().Unmap() == sec.remote.Addr.Addr() && (sec.remote.Key == nil || key == sec.remote.Key)
	if !fromPrimary && !s.cfg.AllowNotify.Allows(client.Addr(), key) {
		s.log.Info("NOTIFY refused", "zone", nameText(zoneName), "client", client.String(), "err", errNotifyDenied)
		return dnswire.RcodeRefused
	}
	sec.ctr.notifyIn.Add(1)
	s.log.Debug("NOTIFY received", "zone", nameText(zoneName), "client", client.String())
	sec.kickNow()
	return dnswire.RcodeSuccess
}

// ZonesChanged tells the Service about a new set of primary zones (loaded
// from files): for each zone whose serial changed it computes the
// difference into the zone's journal and then sends NOTIFY; a zone that
// is new sends NOTIFY too. The work is done in the background, so a
// reload is never held up by a diff: until it is ready, IXFR requests get
// AXFR. old is the set before (nil at startup).
func (s *Service) ZonesChanged(old, new *zone.Set) {
	var changes []zoneChange
	for _, z := range new.Zones() {
		var oz *zone.Zone
		if old != nil {
			oz = old.Zone([]byte(z.Origin))
			if oz != nil && oz.Origin != z.Origin {
				oz = nil // a parent zone, not this one
			}
		}
		if oz == z {
			continue
		}
		changes = append(changes, zoneChange{old: oz, new: z})
	}
	if len(changes) == 0 {
		return
	}
	s.mu.Lock()
	for _, c := range changes {
		s.primaries[c.new.Origin] = c.new.Serial
		s.countersLocked(c.new.Origin)
	}
	s.changes = append(s.changes, changes...)
	s.mu.Unlock()
	select {
	case s.changed <- struct{}{}:
	default:
	}
}

// diffWorker turns primary reloads into journal entries and NOTIFY.
func (s *Service) diffWorker(ctx context.Context) {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		changes := s.changes
		s.changes = nil
		s.mu.Unlock()
		for _, c := range changes {
			if ctx.Err() != nil {
				return
			}
			s.primaryChanged(c.old, c.new)
		}
		select {
		case <-ctx.Done():
			return
		case <-s.changed:
		}
	}
}

// primaryChanged records one primary zone's new version.
func (s *Service) primaryChanged(old, new *zone.Zone) {
	origin := new.Origin
	switch {
	case old == nil:
		s.setJournal(origin, nil)
	case old.Serial == new.Serial:
		// Changed without a new serial: secondaries cannot see it, and
		// the journal no longer leads to what is served.
		s.log.Warn("zone changed but its serial did not; secondaries will not transfer it", "zone", nameText([]byte(origin)), "serial", new.Serial)
		s.setJournal(origin, nil)
		return
	case serialLess(new.Serial, old.Serial) || old.Serial+(1<<31) == new.Serial:
		s.log.Warn("zone serial went backwards; its journal is reset and secondaries will not transfer it", "zone", nameText([]byte(origin)), "old", old.Serial, "new", new.Serial)
		s.setJournal(origin, nil)
	default:
		start := time.Now()
		d := zoneDiff(old, new)
		s.mu.Lock()
		j := s.journals[origin].With(d, s.cfg.JournalDiffs, s.cfg.JournalBytes)
		s.journals[origin] = j
		s.mu.Unlock()
		s.log.Info("zone journal updated", "zone", nameText([]byte(origin)), "from", old.Serial, "to", new.Serial,
			"deleted", len(d.Del), "added", len(d.Add), "differences", j.Len(), "took", time.Since(start).Round(time.Millisecond).String())
	}
	s.notify.queue([]byte(origin), soaOf(new))
}

func (s *Service) setJournal(origin string, j *Journal) {
	s.mu.Lock()
	s.journals[origin] = j
	s.mu.Unlock()
}

// journal returns the zone's journal if it leads to serial, nil otherwise.
func (s *Service) journal(origin string, serial uint32) *Journal {
	s.mu.Lock()
	j := s.journals[origin]
	s.mu.Unlock()
	if js, ok := j.Serial(); ok && js == serial {
		return j
	}
	return nil
}

// ServeTransfer answers the AXFR or IXFR query msg over TCP for z, the
// zone being served whose apex the query names (it implements
// dnssvc.Transfers): refused unless --allow-transfer allows the client;
// otherwise the zone (AXFR), the differences from the client's serial
// (IXFR), or the whole zone when the journal does not reach back that
// far. sess is the verified TSIG session of a signed query (nil when
// unsigned); every message is signed with it. It returns the first write
// error.
func (s *Service) ServeTransfer(w MsgWriter, z *zone.Zone, msg []byte, client netip.AddrPort, sess *tsig.Session) error {
	var q dnswire.Query
	if dnswire.ParseQuery(msg, &q) != dnswire.StatusOK || (q.QType != dnswire.TypeAXFR && q.QType != dnswire.TypeIXFR) {
		return errors.New("xfr: ServeTransfer: not an AXFR or IXFR query")
	}
	var key *tsig.Key
	if sess != nil {
		key = sess.Key()
	}
	ctr := s.zoneCounters(z.Origin)
	name := nameText([]byte(z.Origin))
	if !s.AllowTransfer(client.Addr(), key) {
		ctr.xfrOutRefused.Add(1)
		s.log.Info("transfer refused", "zone", name, "type", typeText(q.QType), "client", client.String(), "key", keyText(key))
		return writeError(w, sess, s.cfg.Now, q.ID, q.Flags, q.Question, dnswire.RcodeRefused)
	}
	x := newXfrWriter(w, sess, s.cfg.Now, q.ID, q.Question)
	kind := "AXFR"
	var err error
	if q.QType == dnswire.TypeIXFR {
		var a arena
		m, perr := parseMessage(msg, &a)
		var have *RR
		if perr == nil {
			for i := range m.auth {
				if m.auth[i].Type == dnswire.TypeSOA && string(m.auth[i].Owner) == z.Origin {
					have = &m.auth[i]
				}
			}
		}
		if have == nil {
			// RFC 1995 3: the query carries the client's SOA.
			return writeError(w, sess, s.cfg.Now, q.ID, q.Flags, q.Question, dnswire.RcodeFormErr)
		}
		switch serial := soaSerial(have); {
		case !serialLess(serial, z.Serial):
			kind, err = "IXFR", writeIXFR(x, z, nil) // up to date
		default:
			if d := s.journal(z.Origin, z.Serial).Since(serial); d != nil {
				kind, err = "IXFR", writeIXFR(x, z, d)
			} else {
				err = writeAXFR(x, z)
			}
		}
	} else {
		err = writeAXFR(x, z)
	}
	ctr.bytesOut.Add(uint64(x.bytes))
	if err != nil {
		s.log.Info("transfer failed", "zone", name, "type", kind, "client", client.String(), "err", err)
		return err
	}
	if kind == "IXFR" {
		ctr.xfrOutIXFR.Add(1)
	} else {
		ctr.xfrOutAXFR.Add(1)
	}
	s.log.Info("transfer served", "zone", name, "query", typeText(q.QType), "answer", kind, "serial", z.Serial,
		"client", client.String(), "key", keyText(key), "messages", x.msgs, "records", x.recs, "bytes", x.bytes)
	return nil
}

func keyText(k *tsig.Key) string {
	if k == nil {
		return ""
	}
	return k.NameText()
}

// Stats returns a snapshot of every zone's transfer state, sorted by
// zone name.
func (s *Service) Stats() []ZoneStats {
	s.mu.Lock()
	out := make([]ZoneStats, 0, len(s.counters)+len(s.secondaries))
	done := map[string]bool{}
	for origin, sec := range s.secondaries {
		st := sec.stats()
		out = append(out, st)
		done[origin] = true
	}
	for origin, c := range s.counters {
		if done[origin] {
			continue
		}
		st := ZoneStats{Zone: nameText([]byte(origin)), Role: RolePrimary, Serial: s.primaries[origin], Loaded: true}
		c.fill(&st)
		out = append(out, st)
	}
	s.mu.Unlock()
	slices.SortFunc(out, func(a, b ZoneStats) int {
		wa, _ := ParseName(a.Zone)
		wb, _ := ParseName(b.Zone)
		return compareNames(wa, wb)
	})
	return out
}

// Secondaries returns the origins of the secondary zones (catalog
// members included, catalogs not), for a startup message.
func (s *Service) Secondaries() [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out [][]byte
	for _, sec := range s.secondaries {
		if sec.role == RoleSecondary {
			out = append(out, sec.origin)
		}
	}
	slices.SortFunc(out, compareNames)
	return out
}
