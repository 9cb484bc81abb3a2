package mdns

import (
	"bytes"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/tapdns/tapdns/dnswire"
)

// Probing and announcing (RFC 6762 sections 8.1 to 8.3); the intervals
// are in timing.
const (
	probeCount    = 3
	announceCount = 2
	conflictBurst = 15               // section 8.1: this many conflicts ...
	conflictSpan  = 10 * time.Second // ... within this span delay the next probe by timing.conflict
)

// timing holds the protocol's intervals. The Responder uses rfcTiming;
// unit tests shrink them (Config.timing).
type timing struct {
	probe    time.Duration // before the first probe (random up to this), and between probes
	announce time.Duration // between announcements
	tieBreak time.Duration // section 8.2: the loser of a simultaneous probe probes again after this
	conflict time.Duration // section 8.1: the wait after conflictBurst conflicts
	mcast    time.Duration // section 6: at most one multicast of a record per this
	defend   time.Duration // ... except when defending a name against a probe
	sharedLo time.Duration // section 6: answers with shared records wait sharedLo-sharedHi
	sharedHi time.Duration
	truncLo  time.Duration // section 7.2: answers to a TC query wait truncLo-truncHi for more known answers
	truncHi  time.Duration
	flush    time.Duration // section 10.2: older records go this long after a cache-flush one
	settle   time.Duration // a gateway lookup answered by shared records listens this much longer
	resend   time.Duration // a gateway lookup asks again after this, then at doubling intervals
}

func rfcTiming() timing {
	return timing{
		probe: 250 * time.Millisecond, announce: time.Second, tieBreak: time.Second, conflict: 5 * time.Second,
		mcast: time.Second, defend: 250 * time.Millisecond, sharedLo: 20 * time.Millisecond, sharedHi: 120 * time.Millisecond,
		truncLo: 400 * time.Millisecond, truncHi: 500 * time.Millisecond, flush: time.Second,
		settle: 200 * time.Millisecond, resend: time.Second,
	}
}

// groupState is where a unique name stands.
type groupState uint8

const (
	probing    groupState = iota // not yet ours: probed, not answered
	announcing                   // ours: announced and answered
	ready                        // ours, announcements done
	withdrawn                    // lost to another host and not renamed: silent
)

// String names the state for logs and tests.
func (s groupState) String() string {
	switch s {
	case probing:
		return "probing"
	case announcing:
		return "announcing"
	case ready:
		return "ready"
	case withdrawn:
		return "withdrawn"
	}
	return "groupState(" + strconv.Itoa(int(s)) + ")"
}

// group is one name the Responder publishes: probed, announced and
// defended together with its records.
type group struct {
	name  []byte // wire name in its published case
	host  bool   // the host set (NAME.local and the DNS-SD instance): renamed on a conflict
	state groupState
	sent  int       // probes or announcements sent in the current state
	next  time.Time // when the next one is due
	// recs are the records announced with the group: those owned by its
	// name (unique unless PTR), its NSEC, and shared records elsewhere
	// that name it (the DNS-SD PTRs).
	recs []*rec
	nsec *rec // the negative record of the name, nil when it has no unique records
}

// uniqueRecs reports whether the group has unique records, so is probed.
func (g *group) probed() bool { return g.nsec != nil }

// live reports whether the group's records are answered.
func (g *group) live() bool { return g.state == announcing || g.state == ready }

// rec is one record the Responder publishes.
type rec struct {
	name   []byte // wire name in its published case
	typ    uint16
	ttl    uint32
	data   []byte // uncompressed
	unique bool   // probed, defended and sent with the cache-flush bit
	nsec   bool   // the group's negative record: only in additional sections
	grp    *group
	// last is when the record was last multicast, by family; it enforces
	// the one-per-second limit and the QU rule of section 5.4.
	last      [2]time.Time
	announced bool // multicast at least once: a goodbye is owed
}

// state is the Responder's protocol state, owned by Run's goroutine.
type state struct {
	r       *Responder
	tm      timing
	base    string // the configured label
	label   string // the label in use
	attempt int    // 1 for base, n for base-n
	groups  []*group
	byName  map[string][]*rec // canonical name -> records
	zone    map[string]bool   // canonical names of the zone records

	conflicts []time.Time // recent conflicts, for the section 8.1 limit
	pend      []pending
	lookups   map[string]*lookup // the gateway's questions on the link
	sweepAt   time.Time          // next cache sweep

	msg   Message
	b     dnswire.Builder
	out   []byte
	key   []byte
	recs1 []*rec // scratch
	recs2 []*rec
}

func newState(r *Responder) *state {
	st := &state{
		r:       r,
		tm:      rfcTiming(),
		base:    r.cfg.Name,
		attempt: 1,
		byName:  make(map[string][]*rec),
		zone:    make(map[string]bool),
		lookups: make(map[string]*lookup),
		out:     make([]byte, 0, MaxMsgLen),
	}
	if r.cfg.timing != nil {
		st.tm = *r.cfg.timing
	}
	st.addZone(r.cfg.Records)
	st.label = st.base
	for st.taken(st.label) {
		st.attempt++
		st.label = renamed(st.base, st.attempt)
	}
	if st.label != st.base {
		r.log.Warn("mdns: host name is also an owner in the local. zone; using another", "name", st.base+".local", "new", st.label+".local")
	}
	st.groups = append(st.groups, st.hostGroups(st.label)...)
	st.index()
	return st
}

// renamed returns the label for rename attempt n (2, 3, ...): base-n,
// with base cut so that the label fits 63 octets.
func renamed(base string, n int) string {
	suf := "-" + strconv.Itoa(n)
	if len(base)+len(suf) > dnswire.MaxLabelLen {
		base = base[:dnswire.MaxLabelLen-len(suf)]
	}
	return base + suf
}

// taken reports whether the host set under label would collide with a
// name of the zone records.
func (st *state) taken(label string) bool {
	for _, n := range [][]byte{hostName(label), instanceName(label)} {
		if st.zone[canon(n)] {
			return true
		}
	}
	return false
}

// Names of the host set.
var (
	labelLocal   = []byte("\x05local\x00")
	domainUDP    = []byte("\x07_domain\x04_udp\x05local\x00")
	servicesName = []byte("\x09_services\x07_dns-sd\x04_udp\x05local\x00")
)

func hostName(label string) []byte {
	return append(append([]byte{byte(len(label))}, label...), labelLocal...)
}

func instanceName(label string) []byte {
	return append(append([]byte{byte(len(label))}, label...), domainUDP...)
}

// canon returns the canonical (lower-case) form of a wire name as a map key.
func canon(name []byte) string {
	b := bytes.Clone(name)
	lowerASCII(b)
	return string(b)
}

// hostGroups builds the host set for label: label.local with the
// addresses, and the DNS-SD service label._domain._udp.local.
func (st *state) hostGroups(label string) []*group {
	host := &group{name: hostName(label), host: true}
	for _, p := range st.r.cfg.Addrs {
		a := p.Addr().WithZone("").Unmap()
		typ := dnswire.TypeA
		if a.Is6() {
			typ = dnswire.TypeAAAA
		}
		host.add(&rec{name: host.name, typ: typ, ttl: HostTTL, data: a.AsSlice(), unique: true})
	}
	host.finish(HostTTL)
	gs := []*group{host}
	if port := st.r.cfg.DNSPort; port != 0 {
		inst := &group{name: instanceName(label), host: true}
		srv := append([]byte{0, 0, 0, 0, byte(port >> 8), byte(port)}, host.name...)
		inst.add(&rec{name: inst.name, typ: dnswire.TypeSRV, ttl: HostTTL, data: srv, unique: true})
		inst.add(&rec{name: inst.name, typ: dnswire.TypeTXT, ttl: OtherTTL, data: []byte{0}, unique: true})
		inst.add(&rec{name: domainUDP, typ: dnswire.TypePTR, ttl: OtherTTL, data: inst.name})
		inst.add(&rec{name: servicesName, typ: dnswire.TypePTR, ttl: OtherTTL, data: domainUDP})
		inst.finish(HostTTL)
		gs = append(gs, inst)
	}
	return gs
}

// addZone makes one group per owner name of the zone records and adds
// them to st.groups.
func (st *state) addZone(zr []ZoneRecord) {
	st.groups = append(st.groups, zoneGroups(zr, st.zone)...)
}

// zoneGroups makes one group per owner name of the zone records and notes
// their canonical names in names.
func zoneGroups(zr []ZoneRecord, names map[string]bool) []*group {
	var groups []*group
	byName := map[string]*group{}
	for _, z := range zr {
		switch z.Type {
		case dnswire.TypeSOA, dnswire.TypeNS, dnswire.TypeOPT, dnswire.TypeRRSIG, dnswire.TypeNSEC,
			dnswire.TypeDNSKEY, dnswire.TypeDS, 50 /* NSEC3 */, 51 /* NSEC3PARAM */, dnswire.TypeTSIG:
			continue
		}
		if equalFold(z.Name, labelLocal) {
			continue
		}
		k := canon(z.Name)
		g := byName[k]
		if g == nil {
			g = &group{name: bytes.Clone(z.Name)}
			byName[k] = g
			groups = append(groups, g)
			names[k] = true
		}
		ttl := uint32(OtherTTL)
		switch z.Type {
		case dnswire.TypeA, dnswire.TypeAAAA, dnswire.TypeSRV:
			ttl = HostTTL
		}
		r := &rec{name: g.name, typ: z.Type, ttl: ttl, data: bytes.Clone(z.Data), unique: z.Type != dnswire.TypePTR}
		if !slices.ContainsFunc(g.recs, func(o *rec) bool { return o.typ == r.typ && rdataEqual(r.typ, o.data, r.data) }) {
			g.add(r)
		}
	}
	for _, g := range groups {
		ttl := uint32(OtherTTL)
		if slices.ContainsFunc(g.recs, func(r *rec) bool { return r.ttl == HostTTL }) {
			ttl = HostTTL
		}
		g.finish(ttl)
	}
	return groups
}

// setZone replaces the zone groups (SetRecords): unchanged names keep
// their state, the others say goodbye or are probed anew.
func (st *state) setZone(zr []ZoneRecord, now time.Time) {
	names := map[string]bool{}
	fresh := zoneGroups(zr, names)
	used := make([]bool, len(fresh))
	var gone []*group
	kept := st.groups[:0:0]
	for _, g := range st.groups {
		if g.host {
			kept = append(kept, g)
			continue
		}
		i := slices.IndexFunc(fresh, func(n *group) bool { return equalFold(n.name, g.name) && sameRecords(n, g) })
		if i >= 0 && !used[i] {
			used[i] = true
			kept = append(kept, g)
			continue
		}
		gone = append(gone, g)
	}
	st.goodbye(func(r *rec) bool { return slices.Contains(gone, r.grp) })
	delay := jitter(0, st.tm.probe)
	added := 0
	for i, g := range fresh {
		if !used[i] {
			st.restart(g, now, delay)
			kept = append(kept, g)
			added++
		}
	}
	st.groups = kept
	st.zone = names
	st.dropPending()
	st.index()
	if st.taken(st.label) {
		st.r.log.Warn("mdns: the local. zone now has an owner named like the host; the host keeps its records", "name", st.label+".local")
	}
	st.r.log.Info("mdns: zone records replaced", "names", len(fresh), "new_or_changed", added, "removed_or_changed", len(gone))
}

// sameRecords reports whether two groups publish the same records.
func sameRecords(a, b *group) bool {
	if len(a.recs) != len(b.recs) {
		return false
	}
	for _, r := range a.recs {
		if !slices.ContainsFunc(b.recs, func(o *rec) bool {
			return o.typ == r.typ && o.unique == r.unique && o.ttl == r.ttl && equalFold(o.name, r.name) && rdataEqual(r.typ, o.data, r.data)
		}) {
			return false
		}
	}
	return true
}

func (g *group) add(r *rec) {
	r.grp = g
	g.recs = append(g.recs, r)
}

// finish adds the group's NSEC record (RFC 6762 section 6.1) when it has
// unique records: it lists the types the name has, for negative answers.
func (g *group) finish(ttl uint32) {
	var types []uint16
	for _, r := range g.recs {
		if r.unique && equalFold(r.name, g.name) && !slices.Contains(types, r.typ) {
			types = append(types, r.typ)
		}
	}
	if len(types) == 0 {
		return
	}
	g.nsec = &rec{name: g.name, typ: dnswire.TypeNSEC, ttl: ttl, data: appendNSEC(nil, g.name, types), unique: true, nsec: true, grp: g}
	g.recs = append(g.recs, g.nsec)
}

// index rebuilds byName from the groups and publishes the names for the
// gateway.
func (st *state) index() {
	clear(st.byName)
	o := &owned{host: nameText(hostName(st.label)), names: map[string][]ownRec{}, uniq: map[string]bool{}}
	for _, g := range st.groups {
		if g.state == withdrawn {
			continue
		}
		for _, r := range g.recs {
			k := canon(r.name)
			st.byName[k] = append(st.byName[k], r)
			switch {
			case r.nsec:
				o.uniq[k] = true
			default:
				o.names[k] = append(o.names[k], ownRec{typ: r.typ, ttl: r.ttl, data: r.data, unique: r.unique})
			}
		}
	}
	st.r.own.Store(o)
}

// groupOf returns the probed group named name (canonical), or nil.
func (st *state) groupOf(name []byte) *group {
	for _, r := range st.byName[string(name)] {
		if r.grp != nil && r.grp.probed() && equalFold(r.grp.name, name) {
			return r.grp
		}
	}
	return nil
}

// start begins probing every group, after a random delay (section 8.1),
// the same for all so that one probe packet carries them all.
func (st *state) start(now time.Time) {
	st.sweepAt = now.Add(sweepEvery)
	delay := jitter(0, st.tm.probe)
	for _, g := range st.groups {
		st.restart(g, now, delay)
	}
}

// restart puts g back to probing after delay; groups without unique
// records need no probe and are announced at once.
func (st *state) restart(g *group, now time.Time, delay time.Duration) {
	g.sent = 0
	g.next = now.Add(delay)
	g.state = probing
	if !g.probed() {
		g.state = announcing
	}
}

// runDue sends the probes and announcements that are due, the pending
// multicast answers, and finishes the gateway lookups that are due.
func (st *state) runDue(now time.Time) {
	probe := st.recs1[:0]
	var probeNames [][]byte
	var announce []*group
	changed := false
	for _, g := range st.groups {
		if g.next.After(now) {
			continue
		}
		switch g.state {
		case probing:
			if g.sent < probeCount {
				g.sent++
				g.next = now.Add(st.tm.probe)
				probeNames = append(probeNames, g.name)
				for _, r := range g.recs {
					if r.unique && !r.nsec && equalFold(r.name, g.name) {
						probe = append(probe, r)
					}
				}
				continue
			}
			// timing.probe after the last probe without a conflict: the
			// name is ours.
			g.state, g.sent = announcing, 0
			changed = true
			st.r.log.Debug("mdns: probing done", "name", nameText(g.name))
			fallthrough
		case announcing:
			g.sent++
			g.next = now.Add(st.tm.announce)
			if g.sent >= announceCount {
				g.state = ready
			}
			announce = append(announce, g)
		}
	}
	st.recs1 = probe
	if len(probeNames) > 0 {
		st.sendProbe(probeNames, probe)
	}
	if len(announce) > 0 {
		st.sendAnnouncement(announce, now)
	}
	if changed {
		st.index()
	}
	st.flushPending(now)
	st.runLookups(now)
	if !now.Before(st.sweepAt) {
		st.r.cache.sweep(now)
		st.sweepAt = now.Add(sweepEvery)
	}
}

// nextEvent returns when runDue next has something to do.
func (st *state) nextEvent(now time.Time) time.Time {
	next := st.sweepAt
	for _, g := range st.groups {
		if (g.state == probing || g.state == announcing) && g.next.Before(next) {
			next = g.next
		}
	}
	for i := range st.pend {
		if st.pend[i].at.Before(next) {
			next = st.pend[i].at
		}
	}
	for _, lk := range st.lookups {
		for _, t := range [...]time.Time{lk.deadline, lk.resend, lk.settle} {
			if !t.IsZero() && t.Before(next) {
				next = t
			}
		}
	}
	if next.Before(now) {
		return now
	}
	return next
}

// sendProbe sends one probe (section 8.1): a QU question of type ANY for
// each name, the proposed records in the authority section.
func (st *state) sendProbe(names [][]byte, recs []*rec) {
	for fam := range st.r.conns {
		if st.r.conns[fam] == nil {
			continue
		}
		b := &st.b
		b.Start(st.out, 0, 0, MaxMsgLen)
		for _, n := range names {
			st.key = appendQuestion(st.key[:0], n, dnswire.TypeANY, dnswire.ClassIN|classQU)
			b.Question(st.key)
		}
		for _, r := range recs {
			addRR(b, dnswire.Authority, r.name, r.typ, dnswire.ClassIN, r.ttl, r.data)
		}
		if st.r.send(fam, b.Finish(), nil) {
			st.r.stats.probes.Add(1)
		}
	}
}

// sendAnnouncement multicasts every record of the groups (section 8.3).
func (st *state) sendAnnouncement(gs []*group, now time.Time) {
	ans := st.recs2[:0]
	var neg []*rec
	for _, g := range gs {
		for _, r := range g.recs {
			if r.nsec {
				neg = append(neg, r)
			} else {
				ans = append(ans, r)
			}
		}
	}
	st.recs2 = ans
	for fam := range st.r.conns {
		if st.r.conns[fam] != nil && st.emit(fam, nil, ans, neg, emitOpts{multicast: true}, now) {
			st.r.stats.announcements.Add(1)
		}
	}
}

// shutdown multicasts goodbyes (TTL 0, section 10.1) for every record
// announced.
func (st *state) shutdown() {
	st.goodbye(func(r *rec) bool { return true })
}

// goodbye multicasts goodbyes for the announced records that keep says.
func (st *state) goodbye(keep func(*rec) bool) {
	var recs []*rec
	for _, g := range st.groups {
		for _, r := range g.recs {
			if r.announced && !r.nsec && keep(r) {
				recs = append(recs, r)
				r.announced = false
			}
		}
	}
	if len(recs) == 0 {
		return
	}
	for fam := range st.r.conns {
		if st.r.conns[fam] != nil && st.emit(fam, nil, recs, nil, emitOpts{goodbye: true}, time.Time{}) {
			st.r.stats.goodbyes.Add(1)
		}
	}
}

// conflict handles another host's claim on g: rename the host set, or
// withdraw a zone name.
func (st *state) conflict(g *group, now time.Time, why string, from netip.AddrPort) {
	st.r.stats.conflicts.Add(1)
	cut := 0
	for cut < len(st.conflicts) && now.Sub(st.conflicts[cut]) > conflictSpan {
		cut++
	}
	st.conflicts = append(st.conflicts[cut:], now)
	if !g.host {
		g.state = withdrawn
		st.r.log.Error("mdns: name in use by another host on the link; not publishing it", "name", nameText(g.name), "reason", why, "from", from)
		st.dropPending()
		st.index()
		return
	}
	old := st.label
	// Whatever of the old names was announced (a conflict after probing,
	// section 9) goes from the caches; goodbyes name our rdata only, so
	// the other host's records stay.
	st.goodbye(func(r *rec) bool { return r.grp.host })
	kept := st.groups[:0]
	for _, h := range st.groups {
		if !h.host {
			kept = append(kept, h)
		}
	}
	st.groups = kept
	for {
		st.attempt++
		st.label = renamed(st.base, st.attempt)
		if !st.taken(st.label) {
			break
		}
	}
	delay := jitter(0, st.tm.probe)
	if len(st.conflicts) >= conflictBurst {
		delay = st.tm.conflict
	}
	for _, h := range st.hostGroups(st.label) {
		st.restart(h, now, delay)
		st.groups = append(st.groups, h)
	}
	st.dropPending()
	st.index()
	st.r.stats.renames.Add(1)
	st.r.log.Warn("mdns: name in use by another host on the link; renamed", "name", old+".local", "new", st.label+".local", "reason", why, "from", from)
}

// reprobe handles a conflict with a name already ours (section 9): probe
// again; a host that really holds it will answer.
func (st *state) reprobe(g *group, now time.Time, from netip.AddrPort) {
	st.r.stats.conflicts.Add(1)
	st.r.log.Info("mdns: conflicting record seen; probing the name again", "name", nameText(g.name), "from", from)
	st.restart(g, now, jitter(0, st.tm.probe))
	st.dropPending()
	st.index()
}

// tiebreak compares the records another host proposes for g's name in
// its probe with ours (section 8.2). If ours are lexicographically
// earlier, we lost: probe again in a second.
func (st *state) tiebreak(g *group, auth []Record, now time.Time, from netip.AddrPort) {
	var theirs []Record
	for _, a := range auth {
		if equalFold(a.Name, g.name) && a.Type != dnswire.TypeOPT {
			theirs = append(theirs, a)
		}
	}
	if len(theirs) == 0 {
		return // a plain question, not a probe for this name
	}
	var ours []Record
	for _, r := range g.recs {
		if r.unique && !r.nsec && equalFold(r.name, g.name) {
			ours = append(ours, Record{Type: r.typ, Class: dnswire.ClassIN, Data: r.data})
		}
	}
	if compareSets(ours, theirs) < 0 {
		st.r.stats.tiebreaksLost.Add(1)
		st.r.log.Debug("mdns: simultaneous probe lost; probing again", "name", nameText(g.name), "from", from)
		g.sent = 0
		g.next = now.Add(st.tm.tieBreak)
	}
}

// compareSets orders two hosts' records for one name as section 8.2 says:
// each sorted by class, type and rdata, then compared pairwise; where one
// runs out first, the other is later. It returns -1, 0 or +1.
func compareSets(a, b []Record) int {
	slices.SortFunc(a, compareRecord)
	slices.SortFunc(b, compareRecord)
	for i := 0; i < len(a) && i < len(b); i++ {
		if c := compareRecord(a[i], b[i]); c != 0 {
			return c
		}
	}
	switch {
	case len(a) < len(b):
		return -1
	case len(a) > len(b):
		return 1
	}
	return 0
}

func compareRecord(a, b Record) int {
	switch {
	case a.Class != b.Class:
		return cmpU16(a.Class, b.Class)
	case a.Type != b.Type:
		return cmpU16(a.Type, b.Type)
	}
	return bytes.Compare(a.Data, b.Data)
}

func cmpU16(a, b uint16) int {
	if a < b {
		return -1
	}
	return 1
}

// nameText renders a wire name for logs.
func nameText(name []byte) string {
	var s []byte
	for i := 0; i < len(name) && name[i] != 0; i += 1 + int(name[i]) {
		end := min(i+1+int(name[i]), len(name))
		s = append(s, name[i+1:end]...)
		s = append(s, '.')
	}
	if len(s) == 0 {
		return "."
	}
	return string(s)
}
