package mdns

import (
	"bytes"
	"net"
	"net/netip"
	"slices"
	"time"

	"github.com/tapdns/tapdns/dnswire"
)

// Answering (RFC 6762 sections 5 to 7).
const (
	packetLimit    = 1400 // split multicast responses to fit an Ethernet MTU when possible
	legacyLimit    = dnswire.MinUDPSize
	flagsResponse  = dnswire.FlagQR | dnswire.FlagAA
	maxPending     = 1024 // records waiting to be multicast
	classINFlushed = dnswire.ClassIN | classFlush
)

// pending is a record waiting to be multicast on one family.
type pending struct {
	r   *rec
	fam int
	at  time.Time
	// only is the querier whose truncated query (TC) alone asked for
	// the record: its further known answers may still cancel it.
	only netip.Addr
}

// handle processes one datagram read by a reader goroutine.
func (st *state) handle(p packet, now time.Time) {
	m := &st.msg
	if err := m.Parse(p.b); err != nil {
		st.r.stats.malformed.Add(1)
		st.r.log.Debug("mdns: malformed message", "from", p.src, "err", err)
		return
	}
	// Section 18.3 and 18.11: other opcodes and rcodes are ignored.
	if dnswire.FlagsOpcode(m.Flags) != dnswire.OpcodeQuery || dnswire.FlagsRcode(m.Flags) != dnswire.RcodeSuccess {
		st.r.stats.ignored.Add(1)
		return
	}
	if m.Response() {
		// Section 6: responses come from port 5353; others are not mDNS.
		if p.src.Port() != Port {
			st.r.stats.ignored.Add(1)
			return
		}
		st.r.stats.responses.Add(1)
		st.response(p, m, now)
		return
	}
	st.r.stats.queries.Add(1)
	if p.src.Port() != Port {
		st.legacy(p, m)
		return
	}
	st.query(p, m, now)
}

// answers reports whether r answers a question of type qtype.
func answers(r *rec, qtype uint16) bool {
	return !r.nsec && (qtype == dnswire.TypeANY || qtype == r.typ || r.typ == dnswire.TypeCNAME)
}

// knownAnswer reports whether the known-answer list holds r with at least
// half its TTL left (section 7.1).
func knownAnswer(known []Record, r *rec) bool {
	for i := range known {
		k := &known[i]
		if k.Type == r.typ && k.Class == dnswire.ClassIN && k.TTL >= r.ttl/2 &&
			equalFold(k.Name, r.name) && rdataEqual(r.typ, k.Data, r.data) {
			return true
		}
	}
	return false
}

// query answers a query from port 5353.
func (st *state) query(p packet, m *Message, now time.Time) {
	fam := p.fam
	// Known answers cancel what a truncated query from the same host
	// left pending (section 7.2).
	if len(m.Answers()) > 0 {
		st.pend = slices.DeleteFunc(st.pend, func(pd pending) bool {
			if pd.only == p.src.Addr() && knownAnswer(m.Answers(), pd.r) {
				st.r.stats.knownAnswers.Add(1)
				return true
			}
			return false
		})
	}
	probe := m.NAuthority > 0
	truncated := m.Flags&dnswire.FlagTC != 0
	uni := st.recs1[:0]
	var neg []*rec
	for _, q := range m.Questions {
		if q.Class != dnswire.ClassIN && q.Class != dnswire.ClassANY {
			continue
		}
		g := st.groupOf(q.Name)
		if g != nil && g.state == probing {
			if probe {
				st.tiebreak(g, m.Authority(), now, p.src)
			}
			continue
		}
		answered := false
		for _, r := range st.byName[string(q.Name)] {
			if !r.grp.live() || !answers(r, q.Type) {
				continue
			}
			answered = true
			if knownAnswer(m.Answers(), r) {
				st.r.stats.knownAnswers.Add(1)
				continue
			}
			defend := probe && r.unique
			if q.QU && !defend && !r.last[fam].IsZero() && now.Sub(r.last[fam]) < time.Duration(r.ttl)*time.Second/4 {
				// Section 5.4: unicast, unless the record was not
				// multicast within a quarter of its TTL.
				if !slices.Contains(uni, r) {
					uni = append(uni, r)
				}
				continue
			}
			var delay time.Duration
			switch {
			case truncated:
				delay = jitter(st.tm.truncLo, st.tm.truncHi)
			case !r.unique:
				delay = jitter(st.tm.sharedLo, st.tm.sharedHi)
			}
			var only netip.Addr
			if truncated {
				only = p.src.Addr()
			}
			st.schedule(r, fam, now.Add(delay), only, defend)
		}
		if !answered && g != nil && g.live() && q.Type != dnswire.TypeANY {
			// Section 6.1: a unique name we own has no such record.
			if q.QU {
				neg = append(neg, g.nsec)
			} else {
				st.schedule(g.nsec, fam, now, netip.Addr{}, false)
			}
		}
	}
	st.recs1 = uni
	if len(uni) > 0 || len(neg) > 0 {
		if st.emit(fam, net.UDPAddrFromAddrPort(p.src), uni, neg, emitOpts{}, now) {
			st.r.stats.unicastResponses.Add(1)
		}
	}
}

// schedule queues r for a multicast on fam at about at, no sooner than a
// second (a quarter of a second when defending) after its last one.
func (st *state) schedule(r *rec, fam int, at time.Time, only netip.Addr, defend bool) {
	gap := st.tm.mcast
	if defend {
		gap = st.tm.defend
	}
	if l := r.last[fam]; !l.IsZero() && at.Before(l.Add(gap)) {
		at = l.Add(gap)
		st.r.stats.rateLimited.Add(1)
	}
	for i := range st.pend {
		pd := &st.pend[i]
		if pd.r == r && pd.fam == fam {
			if at.Before(pd.at) {
				pd.at = at
			}
			if pd.only != only {
				pd.only = netip.Addr{}
			}
			return
		}
	}
	if len(st.pend) >= maxPending {
		st.r.stats.rateLimited.Add(1)
		return
	}
	st.pend = append(st.pend, pending{r: r, fam: fam, at: at, only: only})
}

// flushPending multicasts the records whose time has come, one response
// per family.
func (st *state) flushPending(now time.Time) {
	for fam := range st.r.conns {
		ans := st.recs2[:0]
		var neg []*rec
		st.pend = slices.DeleteFunc(st.pend, func(pd pending) bool {
			if pd.fam != fam || pd.at.After(now) {
				return false
			}
			if pd.r.nsec {
				neg = append(neg, pd.r)
			} else {
				ans = append(ans, pd.r)
			}
			return true
		})
		st.recs2 = ans
		if len(ans)+len(neg) > 0 && st.emit(fam, nil, ans, neg, emitOpts{multicast: true}, now) {
			st.r.stats.multicastResponses.Add(1)
		}
	}
}

// dropPending forgets pending records no longer answered (their group was
// renamed, withdrawn or is probing again).
func (st *state) dropPending() {
	st.pend = slices.DeleteFunc(st.pend, func(pd pending) bool {
		if !pd.r.grp.live() {
			return true
		}
		for _, g := range st.groups {
			if g == pd.r.grp {
				return false
			}
		}
		return true
	})
}

// response processes a response heard on the link: conflicts with our
// names, duplicate answers, TTL corrections, and the gateway's cache.
func (st *state) response(p packet, m *Message, now time.Time) {
	for i := range m.Records {
		if i >= m.NAnswer && i < m.NAnswer+m.NAuthority {
			continue // responses carry no authority records worth reading
		}
		k := &m.Records[i]
		if k.Type == dnswire.TypeOPT {
			continue
		}
		if mine := st.byName[string(k.Name)]; len(mine) > 0 {
			// After a rename byName holds the new names, which the
			// rest of this message does not name.
			st.checkRecord(k, mine, p, now)
		}
		// Section 7.4: another host multicast what we were about to.
		st.pend = slices.DeleteFunc(st.pend, func(pd pending) bool {
			if pd.fam == p.fam && k.Type == pd.r.typ && k.TTL >= pd.r.ttl/2 &&
				equalFold(k.Name, pd.r.name) && rdataEqual(k.Type, k.Data, pd.r.data) {
				st.r.stats.duplicates.Add(1)
				return true
			}
			return false
		})
	}
	st.normalizeNSEC(m, now)
	st.r.cache.add(m, now, st.tm.flush)
	st.heard(m, now)
}

// normalizeNSEC rewrites NSEC records whose type bitmap leaves out types
// the name is known to have (in this message, or cached with the
// cache-flush bit). RFC 6762 section 6.1 says the bitmap lists the types
// that exist; python-zeroconf 0.47 lists the ones that do not (an A
// record comes with an NSEC listing AAAA). Such an NSEC is read as saying
// that the known types are all there is, so that a query for a missing
// type gets NODATA at once instead of after the timeout.
func (st *state) normalizeNSEC(m *Message, now time.Time) {
	for i := range m.Records {
		k := &m.Records[i]
		n := dnswire.NameLen(k.Data)
		if k.Type != dnswire.TypeNSEC || k.TTL == 0 || n < 0 {
			continue
		}
		var present []uint16
		for j := range m.Records {
			o := &m.Records[j]
			if o.Type != dnswire.TypeNSEC && o.Type != dnswire.TypeOPT && o.TTL > 0 && bytes.Equal(o.Name, k.Name) && !slices.Contains(present, o.Type) {
				present = append(present, o.Type)
			}
		}
		present = st.r.cache.uniqueTypes(k.Name, now, present)
		if slices.ContainsFunc(present, func(t uint16) bool { return !nsecHas(k.Data, t) }) {
			k.Data = appendNSEC(nil, k.Data[:n], present)
			st.r.stats.nsecInverted.Add(1)
		}
	}
}

// checkRecord compares a record heard from another host with ours of the
// same name.
func (st *state) checkRecord(k *Record, mine []*rec, p packet, now time.Time) {
	g := st.groupOf(k.Name)
	if g == nil || k.TTL == 0 || k.Class != dnswire.ClassIN {
		return // shared names cannot conflict; goodbyes never do
	}
	sameType := false
	for _, r := range mine {
		if r.grp != g || r.typ != k.Type || !equalFold(r.name, k.Name) {
			continue
		}
		sameType = true
		if rdataEqual(r.typ, r.data, k.Data) {
			// Our own record from elsewhere (a proxy, a reflection). If
			// its TTL is far too low, correct the caches that took it.
			if g.live() && k.TTL < r.ttl/2 {
				st.schedule(r, p.fam, now, netip.Addr{}, false)
			}
			return
		}
	}
	switch {
	case g.state == probing:
		// Section 8.1: any answer for a name we probe means it is taken.
		st.conflict(g, now, "answer while probing", p.src)
	case g.live() && sameType:
		// Section 9: same name, type and class, other data.
		st.reprobe(g, now, p.src)
	}
}

// legacy answers a query from a port other than 5353 (section 6.7): by
// unicast, with the query's ID and questions, TTLs of at most 10 s and no
// cache-flush bits.
func (st *state) legacy(p packet, m *Message) {
	if len(m.Questions) == 0 {
		return
	}
	ans := st.recs1[:0]
	var neg []*rec
	for _, q := range m.Questions {
		if q.Class != dnswire.ClassIN && q.Class != dnswire.ClassANY {
			continue
		}
		g := st.groupOf(q.Name)
		answered := false
		for _, r := range st.byName[string(q.Name)] {
			if r.grp.live() && answers(r, q.Type) {
				answered = true
				if !slices.Contains(ans, r) {
					ans = append(ans, r)
				}
			}
		}
		if !answered && g != nil && g.live() && q.Type != dnswire.TypeANY && !slices.Contains(neg, g.nsec) {
			neg = append(neg, g.nsec)
		}
	}
	st.recs1 = ans
	if len(ans)+len(neg) == 0 {
		return
	}
	o := emitOpts{legacy: true, id: m.ID, limit: legacyLimit}
	for _, a := range m.Additional() {
		if a.Type == dnswire.TypeOPT && len(a.Name) == 1 {
			o.edns = true
			o.limit = min(max(int(a.Class), legacyLimit), MaxMsgLen)
		}
	}
	o.questions = m.Questions
	if st.emit(p.fam, net.UDPAddrFromAddrPort(p.src), ans, neg, o, time.Time{}) {
		st.r.stats.legacyResponses.Add(1)
	}
}

// emitOpts says what kind of response emit builds.
type emitOpts struct {
	multicast bool // to the group: the records' last-multicast times are set
	goodbye   bool // TTL 0
	legacy    bool // ID, questions, TTL <= LegacyTTL, no cache-flush, one packet (TC if cut)
	edns      bool // legacy: the query had an OPT record
	id        uint16
	limit     int
	questions []Question
}

// emit sends a response with ans in the answer section and neg (NSEC
// records) plus the additional records of ans in the additional section,
// split into several packets where it does not fit one (legacy: cut, TC).
// It reports whether at least one packet was sent.
func (st *state) emit(fam int, dst *net.UDPAddr, ans, neg []*rec, o emitOpts, now time.Time) bool {
	limit := packetLimit
	if o.legacy {
		limit = o.limit
		if o.edns {
			limit -= dnswire.OPTLen(0)
		}
	}
	add := st.additionals(ans, neg)
	sent := false
	b := &st.b
	for i := 0; i < len(ans) || i == 0; {
		b.Start(st.out, o.id, flagsResponse, limit)
		for _, q := range o.questions {
			c := q.Class
			if q.QU {
				c |= classQU
			}
			st.key = appendQuestion(st.key[:0], q.Orig, q.Type, c)
			b.Question(st.key)
		}
		start := i
		for i < len(ans) {
			if !st.addRec(b, dnswire.Answer, ans[i], o) {
				if i == start && !o.legacy {
					if b.Limit() < MaxMsgLen {
						b.SetLimit(MaxMsgLen) // one record too big for a frame: send it anyway
					} else {
						i++ // too big for any message: never sent
					}
					continue
				}
				break
			}
			if o.multicast {
				ans[i].last[fam] = now
				ans[i].announced = true
			}
			i++
		}
		if o.legacy && i < len(ans) {
			b.SetFlags(b.Flags() | dnswire.FlagTC)
			i = len(ans)
		}
		if !o.goodbye {
			for _, r := range add {
				st.addRec(b, dnswire.Additional, r, o) // best effort
			}
		}
		if o.edns {
			b.AddOPT(MaxMsgLen, 0, 0, nil)
		}
		if b.Count(dnswire.Answer)+b.Count(dnswire.Additional) > 0 && st.r.send(fam, b.Finish(), dst) {
			sent = true
		}
		if len(ans) == 0 {
			break
		}
	}
	return sent
}

// addRec adds r to section sec as o says.
func (st *state) addRec(b *dnswire.Builder, sec dnswire.Section, r *rec, o emitOpts) bool {
	ttl, class := r.ttl, dnswire.ClassIN
	switch {
	case o.goodbye:
		ttl = 0
	case o.legacy:
		ttl = min(ttl, LegacyTTL)
	}
	// No cache-flush bit on goodbyes: they remove this one record, and
	// after a conflict the other records of the name are another host's.
	if r.unique && !o.legacy && !o.goodbye {
		class = classINFlushed
	}
	return addRR(b, sec, r.name, r.typ, class, ttl, r.data)
}

// additionals returns the records worth adding to an answer of ans
// (RFC 6762 section 6.2, RFC 6763 section 12): for a PTR the SRV and TXT
// it names, for an SRV the addresses of its target, for one address
// family the other, and the NSEC of a host without one of them; then neg.
func (st *state) additionals(ans, neg []*rec) []*rec {
	var add []*rec
	put := func(r *rec) {
		if r.grp.live() && !slices.Contains(ans, r) && !slices.Contains(add, r) {
			add = append(add, r)
		}
	}
	host := func(name []byte) {
		var a, aaaa bool
		var nsec *rec
		for _, r := range st.byName[canon(name)] {
			switch {
			case r.typ == dnswire.TypeA:
				a = true
				put(r)
			case r.typ == dnswire.TypeAAAA:
				aaaa = true
				put(r)
			case r.nsec:
				nsec = r
			}
		}
		if nsec != nil && (a != aaaa) {
			put(nsec)
		}
	}
	for _, r := range ans {
		switch r.typ {
		case dnswire.TypePTR:
			for _, t := range st.byName[canon(r.data)] {
				if t.typ == dnswire.TypeSRV || t.typ == dnswire.TypeTXT {
					put(t)
					if t.typ == dnswire.TypeSRV && len(t.data) > 6 {
						host(t.data[6:])
					}
				}
			}
		case dnswire.TypeSRV:
			if len(r.data) > 6 {
				host(r.data[6:])
			}
		case dnswire.TypeA, dnswire.TypeAAAA:
			host(r.name)
		}
	}
	for _, r := range neg {
		put(r)
	}
	return add
}
