package resolver

import (
	"context"
	"net/netip"
	"time"

	"github.com/tapdns/tapdns/cache"
	"github.com/tapdns/tapdns/dnswire"
)

// Bounds of one resolution besides Config's.
const (
	// maxChain bounds the CNAME and DNAME links followed for one query
	// (Unbound restarts at most 11 times; Knot Resolver stops at 13).
	maxChain = 12
	// maxReferrals bounds the referrals and minimisation steps of one
	// iteration.
	maxReferrals = 32
	// maxMinimiseCount and minimiseOneLab are RFC 9156 section 2.3's
	// MAX_MINIMISE_COUNT and MINIMISE_ONE_LAB.
	maxMinimiseCount = 10
	minimiseOneLab   = 4
	// maxNSNames bounds the NS names of one delegation that are used.
	maxNSNames = 13
	// maxRetryRounds bounds the extra rounds over servers that timed
	// out (a lost datagram, a slow moment): their timeouts double each
	// time, and the budget bounds them too.
	maxRetryRounds = 3
)

// request is the state of one resolution (a client's question, with the
// glueless sub-resolutions it starts, which share its bounds).
type request struct {
	s       *Server
	ctx     context.Context
	queries *int     // upstream queries sent, shared with sub-requests
	depth   int      // glueless nesting
	stack   [][]byte // NS names being resolved by this request's ancestors
	refresh bool     // a prefetch: do not answer from the cache
}

// result is the outcome of a resolution.
type result struct {
	rcode     dnswire.Rcode
	answer    []cache.RR // CNAME/DNAME chain, then the answer
	authority []cache.RR // the SOA of a negative answer
	cause     Cause      // why, when rcode is SERVFAIL
}

func failed(c Cause) result { return result{rcode: dnswire.RcodeServFail, cause: c} }

// stepKind is what one round of asking servers gave.
type stepKind uint8

const (
	stepDone   stepKind = iota // the answer (positive or negative) is complete
	stepFollow                 // the chain goes on at target, elsewhere
	stepFail
)

type step struct {
	kind      stepKind
	rcode     dnswire.Rcode
	records   []cache.RR
	authority []cache.RR
	target    []byte
	cause     Cause
}

// resolve answers the canonical name and type from the cache and the
// network, following CNAME and DNAME chains.
func (r *request) resolve(qname []byte, qtype uint16) result {
	var res result
	cur := qname
	seen := make([][]byte, 0, 4)
	for hop := 0; ; hop++ {
		if hop > maxChain {
			return failed(CauseLoop)
		}
		for _, n := range seen {
			if string(n) == string(cur) {
				return failed(CauseLoop)
			}
		}
		seen = append(seen, cur)
		if !r.refresh {
			if next, done := r.fromCache(&res, cur, qtype); done {
				return res
			} else if next != nil {
				cur = next
				continue
			}
		}
		var st step
		if len(r.s.cfg.Forward) > 0 {
			st = r.forward(cur, qtype)
		} else {
			st = r.iterate(cur, qtype)
		}
		res.answer = append(res.answer, st.records...)
		switch st.kind {
		case stepFail:
			return failed(st.cause)
		case stepFollow:
			cur = st.target
			continue
		}
		res.rcode, res.authority = st.rcode, st.authority
		return res
	}
}

// fromCache answers cur from the cache: the RRset, a CNAME to follow
// (returned), or a negative answer (done).
func (r *request) fromCache(res *result, cur []byte, qtype uint16) (next []byte, done bool) {
	c := r.s.cache
	if qtype != dnswire.TypeANY {
		if rs, ok := c.GetRRset(cur, qtype); ok && rs.Rank >= cache.RankAnswer {
			res.answer = appendRRset(res.answer, rs)
			return nil, true
		}
	}
	if qtype != dnswire.TypeCNAME {
		if rs, ok := c.GetRRset(cur, dnswire.TypeCNAME); ok && rs.Rank >= cache.RankAnswer {
			res.answer = appendRRset(res.answer, rs)
			for rd := range rs.Records {
				return rd, false
			}
		}
	}
	if neg, ok := c.GetNegative(cur, qtype); ok {
		res.rcode = dnswire.RcodeSuccess
		if neg.NXDomain {
			res.rcode = dnswire.RcodeNXDomain
		}
		res.authority = []cache.RR{{Name: neg.SOAName, Type: dnswire.TypeSOA, TTL: neg.TTL, Data: neg.SOA}}
		return nil, true
	}
	return nil, false
}

func appendRRset(dst []cache.RR, rs cache.RRset) []cache.RR {
	for rd := range rs.Records {
		dst = append(dst, cache.RR{Name: rs.Name, Type: rs.Type, TTL: rs.TTL, Data: rd})
	}
	return dst
}

// nsSet is a delegation being asked: the zone, the addresses of its
// servers, and NS names with no address known yet (glueless, resolved
// when the known addresses run out).
type nsSet struct {
	zone    []byte
	addrs   []netip.AddrPort
	pending [][]byte
}

// iterate resolves name and type from the closest delegation known,
// following referrals down.
func (r *request) iterate(name []byte, qtype uint16) step {
	ns := r.findCut(name, qtype)
	minimise := !r.s.cfg.NoQNameMinimisation
	qmin, qcount := labels(ns.zone), 0
	nl := labels(name)
	for range maxReferrals {
		q := question{name: name, qtype: qtype}
		if minimise {
			if k := nextMinimised(qmin, nl, qcount); k < nl {
				// RFC 9156 section 2.1: QTYPE A for the steps before the
				// last (what Unbound sends).
				q = question{name: suffix(name, k), qtype: dnswire.TypeA}
			}
		}
		m, kind, cause := r.queryZone(ns, q)
		if m == nil {
			return step{kind: stepFail, cause: cause}
		}
		if kind == respReferral {
			ns = r.takeReferral(m, ns.zone, q)
			qmin, qcount = labels(ns.zone), 0
			continue
		}
		if len(q.name) != len(name) {
			if kind == respNXDomain {
				// Some servers deny empty non-terminals: ask the full
				// name rather than trust this (Unbound's relaxed mode).
				minimise = false
			} else {
				qmin, qcount = labels(q.name), qcount+1
			}
			continue
		}
		return r.takeAnswer(m, ns.zone, name, qtype, false)
	}
	return step{kind: stepFail, cause: CauseLimit}
}

// nextMinimised returns the number of labels of the next minimised query
// name after qmin labels and count steps (RFC 9156 section 2.3): one more
// label for the first steps, then larger strides so that a long name
// takes at most maxMinimiseCount queries.
func nextMinimised(qmin, nl, count int) int {
	if qmin >= nl || count >= maxMinimiseCount {
		return nl
	}
	if count < minimiseOneLab {
		return qmin + 1
	}
	return min(nl, qmin+max(1, (nl-qmin)/(maxMinimiseCount-count)))
}

// findCut returns the deepest delegation in the cache above name (above
// its parent for DS, which the parent zone answers) that has servers to
// ask, or the root's.
func (r *request) findCut(name []byte, qtype uint16) *nsSet {
	n := name
	if qtype == dnswire.TypeDS && len(n) > 1 {
		n = parent(n)
	}
	for len(n) > 1 {
		if set := r.cachedSet(n); set != nil {
			return set
		}
		n = parent(n)
	}
	return r.rootSet()
}

// cachedSet returns the cached delegation of zone, or nil when none is
// cached or none of its servers can be reached without asking the zone
// itself (its glue was evicted: the parent will give it again).
func (r *request) cachedSet(zone []byte) *nsSet {
	rs, ok := r.s.cache.GetRRset(zone, dnswire.TypeNS)
	if !ok {
		return nil
	}
	var names [][]byte
	for rd := range rs.Records {
		if len(names) == maxNSNames {
			break
		}
		names = append(names, rd)
	}
	set := r.nsSetFrom(zone, names)
	if len(set.addrs) == 0 && len(set.pending) == 0 {
		return nil
	}
	return set
}

// nsSetFrom builds the delegation of zone to the NS names, with the
// addresses the cache has for them. Names inside zone without an address
// cannot be resolved through it and are left out.
func (r *request) nsSetFrom(zone []byte, names [][]byte) *nsSet {
	set := &nsSet{zone: zone}
	for _, n := range names {
		if !r.addAddrs(set, n) && !isSubdomain(n, zone) {
			set.pending = append(set.pending, n)
		}
	}
	return set
}

// addAddrs adds the cached addresses of the NS name n to set and reports
// whether there were any.
func (r *request) addAddrs(set *nsSet, n []byte) bool {
	found := false
	for _, t := range [2]uint16{dnswire.TypeA, dnswire.TypeAAAA} {
		if t == dnswire.TypeA && r.s.cfg.DisableIPv4 || t == dnswire.TypeAAAA && r.s.cfg.DisableIPv6 {
			continue
		}
		rs, ok := r.s.cache.GetRRset(n, t)
		if !ok {
			continue
		}
		for rd := range rs.Records {
			if a, ok := netip.AddrFromSlice(rd); ok {
				ap := netip.AddrPortFrom(a.Unmap(), r.s.authPort)
				if !containsAddr(set.addrs, ap) {
					set.addrs = append(set.addrs, ap)
				}
				found = true
			}
		}
	}
	return found
}

func containsAddr(s []netip.AddrPort, a netip.AddrPort) bool {
	for _, x := range s {
		if x == a {
			return true
		}
	}
	return false
}

// rootSet returns the root's delegation: the cached root NS set once
// primed (RFC 8109), the hints otherwise.
func (r *request) rootSet() *nsSet {
	if set := r.cachedSet(r.s.root); set != nil {
		return set
	}
	r.prime()
	if set := r.cachedSet(r.s.root); set != nil {
		return set
	}
	return r.hintSet()
}

func (r *request) hintSet() *nsSet {
	set := &nsSet{zone: r.s.root}
	for _, h := range r.s.hints {
		for _, a := range h.addrs {
			set.addrs = append(set.addrs, netip.AddrPortFrom(a, r.s.authPort))
		}
	}
	return set
}

// prime asks the hint servers for the root NS set and caches it with the
// addresses in the response, once at a time: concurrent requests wait
// for the one priming (or for their own budget).
func (r *request) prime() {
	s := r.s
	s.primeMu.Lock()
	if ch := s.primeDone; ch != nil {
		s.primeMu.Unlock()
		select {
		case <-ch:
		case <-r.ctx.Done():
		}
		return
	}
	ch := make(chan struct{})
	s.primeDone = ch
	s.primeMu.Unlock()
	defer func() {
		s.primeMu.Lock()
		s.primeDone = nil
		s.primeMu.Unlock()
		close(ch)
	}()
	m, kind, _ := r.queryZone(r.hintSet(), question{name: s.root, qtype: dnswire.TypeNS})
	if m == nil || kind != respAnswer {
		s.log.Debug("root priming failed; using the hints")
		return
	}
	names, ttl := rrsetOf(m.an, s.root, dnswire.TypeNS)
	if len(names) == 0 {
		return
	}
	s.cache.PutRRset(s.root, dnswire.TypeNS, ttl, cache.RankAuthAnswer, names)
	r.takeGlue(m, s.root, names)
}

// rrsetOf returns the data of the records of rrs owned by name of type t
// and their smallest TTL.
func rrsetOf(rrs []rr, name []byte, t uint16) ([][]byte, uint32) {
	var out [][]byte
	ttl := uint32(0)
	for _, x := range rrs {
		if x.typ == t && x.class == dnswire.ClassIN && string(x.name) == string(name) {
			if len(out) == 0 || x.ttl < ttl {
				ttl = x.ttl
			}
			out = append(out, x.data)
		}
	}
	return out, ttl
}

// respKind classifies a response to a question asked of a zone's server.
type respKind uint8

const (
	respAnswer   respKind = iota // data for the name (or a chain from it)
	respNXDomain                 // the name does not exist
	respNoData                   // the name exists, without the type
	respReferral                 // a delegation further down
	respLame                     // not an answer this server should give
	respServFail                 // the server failed
)

// classify says what the response m to q from a server of zone is. A
// forwarder's answers need no AA bit and have no referrals.
func (s *Server) classify(m *msg, zone []byte, q question, forward bool) respKind {
	switch m.rcode {
	case dnswire.RcodeSuccess, dnswire.RcodeNXDomain, dnswire.RcodeYXDomain:
	case dnswire.RcodeServFail:
		return respServFail
	default:
		return respLame // REFUSED, NOTAUTH, NOTIMP, FORMERR without EDNS
	}
	auth := m.aa() || forward
	if hasAnswer(m, q) || m.rcode == dnswire.RcodeYXDomain {
		if auth {
			return respAnswer
		}
		return respLame
	}
	if m.rcode == dnswire.RcodeNXDomain {
		if auth {
			return respNXDomain
		}
		return respLame
	}
	if auth {
		return respNoData
	}
	if referralChild(m, zone, q) != nil {
		return respReferral
	}
	s.stats.badReferral.Add(1)
	return respLame
}

// hasAnswer reports whether m's answer section answers q or starts a
// chain from it.
func hasAnswer(m *msg, q question) bool {
	for _, x := range m.an {
		if x.class != dnswire.ClassIN {
			continue
		}
		if string(x.name) == string(q.name) && (x.typ == q.qtype || x.typ == dnswire.TypeCNAME || q.qtype == dnswire.TypeANY) {
			return true
		}
		if x.typ == dnswire.TypeDNAME && len(x.name) < len(q.name) && isSubdomain(q.name, x.name) {
			return true
		}
	}
	return false
}

// referralChild returns the owner of the NS RRset of a referral from a
// server of zone for q: strictly below zone, at or above the name asked
// (and not the name itself for DS, which the parent answers). The deepest
// such owner wins.
func referralChild(m *msg, zone []byte, q question) []byte {
	var child []byte
	for _, x := range m.ns {
		if x.typ != dnswire.TypeNS || x.class != dnswire.ClassIN {
			continue
		}
		if len(x.name) <= len(zone) || !isSubdomain(x.name, zone) || !isSubdomain(q.name, x.name) {
			continue
		}
		if q.qtype == dnswire.TypeDS && len(x.name) == len(q.name) {
			continue
		}
		if len(x.name) > len(child) {
			child = x.name
		}
	}
	return child
}

// takeReferral caches a referral's NS RRset and its glue and returns the
// new delegation.
func (r *request) takeReferral(m *msg, zone []byte, q question) *nsSet {
	child := referralChild(m, zone, q)
	names, ttl := rrsetOf(m.ns, child, dnswire.TypeNS)
	if len(names) > maxNSNames {
		names = names[:maxNSNames]
	}
	r.s.cache.PutRRset(child, dnswire.TypeNS, ttl, cache.RankReferral, names)
	r.takeGlue(m, zone, names)
	return r.nsSetFrom(child, names)
}

// takeGlue caches the addresses in m's additional section that belong to
// one of the NS names and lie inside the bailiwick of the server that sent
// them (zone). Everything else there is dropped: an address for a name
// outside the zone is not the server's to give.
func (r *request) takeGlue(m *msg, zone []byte, names [][]byte) {
	for i, x := range m.ar {
		if x.typ != dnswire.TypeA && x.typ != dnswire.TypeAAAA || x.class != dnswire.ClassIN {
			continue
		}
		isNS := false
		for _, n := range names {
			isNS = isNS || string(n) == string(x.name)
		}
		if !isNS || !isSubdomain(x.name, zone) {
			r.s.stats.glueRejected.Add(1)
			continue
		}
		dup := false
		for _, y := range m.ar[:i] {
			dup = dup || y.typ == x.typ && string(y.name) == string(x.name)
		}
		if dup {
			continue // cached with the first record of its RRset
		}
		set, ttl := rrsetOf(m.ar, x.name, x.typ)
		r.s.cache.PutRRset(x.name, x.typ, ttl, cache.RankGlue, set)
	}
}

// queryZone asks the servers of ns the question until one gives a usable
// response: the best by RTT first, then the others; lame ones are marked,
// glueless names resolved when the known addresses run out, and the
// timed-out ones asked again in up to maxRetryRounds more rounds (with
// their timeouts doubled each time) while the budget lasts. It returns the
// response and its kind, or nil and why none came.
func (r *request) queryZone(ns *nsSet, q question) (*msg, respKind, Cause) {
	s := r.s
	tried := map[netip.AddrPort]bool{}
	skip := func(a netip.AddrPort) bool { return tried[a] }
	last := CauseNoAddress
	rounds := 0
	for {
		if r.ctx.Err() != nil {
			return nil, 0, r.budgetCause()
		}
		a, rto := s.infra.pick(ns.addrs, ns.zone, skip, s.initialRTO)
		if !a.IsValid() {
			if len(ns.pending) > 0 {
				n := ns.pending[0]
				ns.pending = ns.pending[1:]
				r.resolveNS(ns, n)
				continue
			}
			if rounds < maxRetryRounds && last == CauseTimeout {
				rounds++
				clear(tried)
				continue
			}
			return nil, 0, last
		}
		tried[a] = true
		m, err := r.exchange(a, q, false, r.attemptTimeout(rto))
		if err != nil {
			switch err {
			case errBudget:
				return nil, 0, r.budgetCause()
			case errLimit:
				return nil, 0, CauseLimit
			}
			last = causeOf(err)
			continue
		}
		switch kind := s.classify(m, ns.zone, q, false); kind {
		case respLame:
			s.stats.lame.Add(1)
			s.infra.markLame(a, ns.zone)
			last = CauseLame
		case respServFail:
			last = CauseLame
		default:
			return m, kind, CauseNone
		}
	}
}

// budgetCause is the cause when the budget ran out: shutdown, or the
// clock.
func (r *request) budgetCause() Cause {
	if r.s.ctx.Err() != nil {
		return CauseShutdown
	}
	return CauseBudget
}

// attemptTimeout bounds one UDP wait by the server's RTO and what is left
// of the budget.
func (r *request) attemptTimeout(rto time.Duration) time.Duration {
	if d, ok := r.ctx.Deadline(); ok {
		return max(min(rto, time.Until(d)), time.Millisecond)
	}
	return rto
}

// resolveNS resolves the addresses of the glueless NS name n on the side
// (within the depth bound, never a name already being resolved above) and
// adds them to ns.
func (r *request) resolveNS(ns *nsSet, n []byte) {
	if r.depth >= r.s.cfg.MaxDepth {
		return
	}
	for _, x := range r.stack {
		if string(x) == string(n) {
			return
		}
	}
	if r.addAddrs(ns, n) {
		return // another request resolved it meanwhile
	}
	sub := &request{s: r.s, ctx: r.ctx, queries: r.queries, depth: r.depth + 1, stack: append(r.stack[:len(r.stack):len(r.stack)], n)}
	for _, t := range [2]uint16{dnswire.TypeA, dnswire.TypeAAAA} {
		if t == dnswire.TypeA && r.s.cfg.DisableIPv4 || t == dnswire.TypeAAAA && r.s.cfg.DisableIPv6 {
			continue
		}
		res := sub.resolve(n, t)
		found := false
		for _, x := range res.answer {
			if x.Type != t {
				continue
			}
			if a, ok := netip.AddrFromSlice(x.Data); ok {
				ap := netip.AddrPortFrom(a.Unmap(), r.s.authPort)
				if !containsAddr(ns.addrs, ap) {
					ns.addrs = append(ns.addrs, ap)
				}
				found = true
			}
		}
		if found {
			return // one family is enough to go on
		}
	}
}

// takeAnswer turns an answer (positive, negative, or a chain) from a
// server of zone into a step, caching what is inside the zone's
// bailiwick: the chain's records, the final RRset, the negative answer.
// Records for names outside the zone are never taken from it: the chain
// goes on from there with a new query.
func (r *request) takeAnswer(m *msg, zone, qname []byte, qtype uint16, forward bool) step {
	c := r.s.cache
	rank := cache.RankAuthAnswer
	if !m.aa() || forward {
		rank = cache.RankAnswer
	}
	var st step
	cur := qname
	hop := 0
	for ; ; hop++ {
		if hop > maxChain {
			return step{kind: stepFail, cause: CauseLoop}
		}
		if !isSubdomain(cur, zone) {
			st.kind, st.target = stepFollow, cur
			return st
		}
		// A DNAME above cur comes first: cur is then occluded (RFC 6672
		// section 2.4), so a CNAME the server put at cur is the one it
		// synthesised, and what answers is the DNAME with the CNAME
		// synthesised here, for every type, CNAME included. Caching the
		// server's CNAME as an RRset of cur would later answer from it
		// without the DNAME, as neither Unbound nor Knot Resolver does.
		if owner, target, ttl, ok := dnameOver(m.an, cur, zone); ok {
			c.PutRRset(owner, dnswire.TypeDNAME, ttl, rank, [][]byte{target})
			st.records = append(st.records, cache.RR{Name: owner, Type: dnswire.TypeDNAME, TTL: ttl, Data: target})
			next := synthesize(cur, owner, target)
			if next == nil {
				st.rcode = dnswire.RcodeYXDomain // RFC 6672 section 2.2
				return st
			}
			st.records = append(st.records, cache.RR{Name: cur, Type: dnswire.TypeCNAME, TTL: ttl, Data: next})
			if qtype == dnswire.TypeCNAME {
				return st
			}
			cur = next
			continue
		}
		if qtype == dnswire.TypeANY {
			n := len(st.records)
			for _, x := range m.an {
				if x.class == dnswire.ClassIN && string(x.name) == string(cur) && x.typ != dnswire.TypeCNAME {
					st.records = append(st.records, cache.RR{Name: cur, Type: x.typ, TTL: x.ttl, Data: x.data})
				}
			}
			if len(st.records) > n {
				return st // not cached as RRsets: ANY need not return them all
			}
		} else if set, ttl := rrsetOf(m.an, cur, qtype); len(set) > 0 {
			c.PutRRset(cur, qtype, ttl, rank, set)
			st.records = appendSet(st.records, cur, qtype, ttl, set)
			return st
		}
		if qtype != dnswire.TypeCNAME {
			if set, ttl := rrsetOf(m.an, cur, dnswire.TypeCNAME); len(set) > 0 {
				set = set[:1] // a CNAME RRset has one record (RFC 2181 10.1)
				c.PutRRset(cur, dnswire.TypeCNAME, ttl, rank, set)
				st.records = appendSet(st.records, cur, dnswire.TypeCNAME, ttl, set)
				cur = set[0]
				continue
			}
		}
		break
	}
	// No data for cur. A negative answer needs the zone's SOA; after a
	// chain without one, ask about cur anew (the server may have
	// stopped at a zone cut or not followed at all).
	soa := soaFor(m.ns, zone, cur)
	if soa == nil && hop > 0 {
		st.kind, st.target = stepFollow, cur
		return st
	}
	nx := m.rcode == dnswire.RcodeNXDomain
	if nx {
		st.rcode = dnswire.RcodeNXDomain
	}
	if soa != nil {
		ttl := min(soa.ttl, u32(soa.data[len(soa.data)-4:]))
		c.PutNegative(cur, qtype, nx, ttl, soa.name, soa.data)
		st.authority = []cache.RR{{Name: soa.name, Type: dnswire.TypeSOA, TTL: ttl, Data: soa.data}}
	}
	return st
}

func appendSet(dst []cache.RR, name []byte, t uint16, ttl uint32, set [][]byte) []cache.RR {
	for _, d := range set {
		dst = append(dst, cache.RR{Name: name, Type: t, TTL: ttl, Data: d})
	}
	return dst
}

// dnameOver returns the DNAME in rrs whose owner is strictly above cur and
// inside zone.
func dnameOver(rrs []rr, cur, zone []byte) (owner, target []byte, ttl uint32, ok bool) {
	for _, x := range rrs {
		if x.typ == dnswire.TypeDNAME && x.class == dnswire.ClassIN && len(x.name) < len(cur) &&
			isSubdomain(cur, x.name) && isSubdomain(x.name, zone) && len(x.name) > len(owner) {
			owner, target, ttl, ok = x.name, x.data, x.ttl, true
		}
	}
	return
}

// synthesize returns cur with its suffix owner replaced by target (RFC
// 6672), or nil when the result would be longer than 255 octets.
func synthesize(cur, owner, target []byte) []byte {
	p := len(cur) - len(owner)
	if p+len(target) > dnswire.MaxNameLen {
		return nil
	}
	out := make([]byte, 0, p+len(target))
	return append(append(out, cur[:p]...), target...)
}

// soaFor returns the SOA in the authority section that can prove a
// negative answer for cur from a server of zone: owned by an ancestor of
// cur inside zone, with well-formed data.
func soaFor(rrs []rr, zone, cur []byte) *rr {
	for i := range rrs {
		x := &rrs[i]
		if x.typ == dnswire.TypeSOA && x.class == dnswire.ClassIN && len(x.data) >= 22 &&
			isSubdomain(x.name, zone) && isSubdomain(cur, x.name) {
			return x
		}
	}
	return nil
}

func u32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// forward asks the forwarders for name and type: the one with the best
// RTT first, the others when it fails, and again after timeouts (as
// queryZone).
func (r *request) forward(name []byte, qtype uint16) step {
	s := r.s
	q := question{name: name, qtype: qtype}
	tried := map[netip.AddrPort]bool{}
	skip := func(a netip.AddrPort) bool { return tried[a] }
	last := CauseTimeout
	rounds := 0
	for {
		if r.ctx.Err() != nil {
			return step{kind: stepFail, cause: r.budgetCause()}
		}
		a, rto := s.infra.pick(s.cfg.Forward, s.root, skip, s.initialRTO)
		if !a.IsValid() {
			if rounds < maxRetryRounds && last == CauseTimeout {
				rounds++
				clear(tried)
				continue
			}
			return step{kind: stepFail, cause: last}
		}
		tried[a] = true
		m, err := r.exchange(a, q, true, r.attemptTimeout(rto))
		if err != nil {
			switch err {
			case errBudget:
				return step{kind: stepFail, cause: r.budgetCause()}
			case errLimit:
				return step{kind: stepFail, cause: CauseLimit}
			}
			last = causeOf(err)
			continue
		}
		switch s.classify(m, s.root, q, true) {
		case respAnswer, respNXDomain, respNoData:
			return r.takeAnswer(m, s.root, name, qtype, true)
		}
		last = CauseLame
	}
}
