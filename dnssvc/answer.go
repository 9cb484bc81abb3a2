package dnssvc

import (
	"slices"
	"unsafe"

	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/zone"
)

// questionOff is where the question name starts; answers owned by the
// query name point there (0xC00C).
const questionOff = dnswire.HeaderLen

// responder holds the state of one response while it is built. It lives on
// Respond's stack.
type responder struct {
	s    *Server
	st   *state
	b    *dnswire.Builder
	q    *dnswire.Query
	tcp  bool
	qend dnswire.Mark // after the question: where truncation cuts back to

	tc      bool        // the answer did not fit: TC to be set
	dropped bool        // optional additional records were left out
	ede     dnswire.EDE // Extended DNS Error info-code for the OPT, or dnswire.EDENone

	// do is the query's DO bit: answers from signed zones carry DNSSEC
	// records (see dnssec.go), whose proofs wait in proofs until the
	// answer section is complete.
	do      bool
	proofs  [maxProofs]proof
	nproofs int

	unavail map[string]struct{} // secondary zones not served (xfr.go); nil: none
}

// answer fills in the answer to a well-formed QUERY and returns the rcode
// and whether the cache may keep the answer once it is complete.
func (r *responder) answer() (dnswire.Rcode, bool) {
	q := r.q
	switch q.QClass {
	case dnswire.ClassIN, dnswire.ClassANY:
		// QCLASS * is answered from the IN data, like NSD and Knot
		// DNS, but without AA (as NSD): we do not hold every class.
	case dnswire.ClassCH:
		return r.chaos(), false
	default:
		// No EDE, like Knot DNS, which also echoes the question (NSD
		// sends neither the question nor the OPT, but EDE 21 when the
		// query had one; the union of the two would be larger than both).
		return dnswire.RcodeRefused, false
	}
	if q.QType == dnswire.TypeAXFR || q.QType == dnswire.TypeIXFR {
		return r.transfer(), false
	}
	m := r.st.set.Lookup(q.Name(), q.QType)
	if unavailableIn(r.unavail, q.Name(), m.Zone) {
		return dnswire.RcodeServFail, false // xfr.go: a secondary zone not served
	}
	switch m.Result {
	case zone.Refused:
		// NSD and Knot DNS both say why: Extended DNS Error 20 (Not
		// Authoritative), RFC 8914 4.21.
		r.ede = dnswire.EDENotAuthoritative
		return dnswire.RcodeRefused, false
	case zone.Delegation:
		r.referral(m.Zone, m.Node) // not authoritative: AA stays clear
		return dnswire.RcodeSuccess, q.QClass == dnswire.ClassIN
	}
	if q.QClass != dnswire.ClassIN {
		return r.resolve(m), false
	}
	r.b.SetFlags(r.b.Flags() | dnswire.FlagAA)
	// Everything resolve writes depends only on the canonical name, type
	// and DO bit (see cache); ANY is left out as the one
	// transport-dependent answer by policy.
	rcode := r.resolve(m)
	if !r.tc {
		r.flush() // proofs not written yet: the chain ended early
	}
	return rcode, q.QType != dnswire.TypeANY
}

// transfer answers the AXFR and IXFR queries that ServeTransfer and
// respondXFR (xfr.go) leave, i.e. all of them without Config.Transfers. Over UDP AXFR
// is NOTIMP (RFC 5936 4.2: AXFR is a TCP exchange), as NSD and Knot DNS
// answer. For a name that is not the apex of one of our zones both answer
// NOTAUTH: we are not authoritative for a zone of that name. For an apex,
// refuse as an ACL that allows no one would, with Extended DNS Error 18
// (Prohibited, RFC 8914 4.19) like NSD (Knot DNS answers NOTAUTH).
func (r *responder) transfer() dnswire.Rcode {
	name := r.q.Name()
	if r.q.QType == dnswire.TypeAXFR && !r.tcp {
		return dnswire.RcodeNotImp
	}
	if z := r.st.set.Zone(name); z == nil || z.Origin != string(name) {
		if unavailableIn(r.unavail, name, z) {
			return dnswire.RcodeServFail // xfr.go: a secondary zone not served
		}
		return dnswire.RcodeNotAuth
	}
	r.ede = dnswire.EDEProhibited
	return dnswire.RcodeRefused
}

// resolve writes the answer for m, following CNAMEs and DNAMEs, and
// returns the rcode of the last step (RFC 6604).
func (r *responder) resolve(m zone.Match) dnswire.Rcode {
	// The names followed, canonical: hop i writes its target into
	// names[i%2] while cur (the name of hop i) is in the other one.
	var names [2][dnswire.MaxNameLen]byte
	cur := r.q.Name()
	var owner []byte // nil: the question name (questionOff)
	// seen[i] identifies the CNAME record written at hop i (see hop).
	// Hops 0 to maxCNAMEHops-1 may write a CNAME; hop maxCNAMEHops only
	// answers for the last target, unless that takes another CNAME.
	var seen [maxCNAMEHops]hop
	var prev *zone.RRset // the CNAME or DNAME RRset of the previous hop
	first := m.Zone
	for i := 0; ; i++ {
		next := &names[i%2]
		n := 0
		switch m.Result {
		case zone.NoData:
			if m.Wildcard {
				r.proveWildcardNoData(m.Zone, cur, m.Node)
			} else {
				r.proveNoData(m.Zone, cur, m.Node)
			}
			return r.negative(m.Zone, dnswire.RcodeSuccess)
		case zone.NXDomain:
			dn, d := dnameAbove(m.Zone, cur)
			if d == nil {
				r.proveNXDomain(m.Zone, cur)
				return r.negative(m.Zone, dnswire.RcodeNXDomain)
			}
			if i == maxCNAMEHops {
				return dnswire.RcodeSuccess // it would take a sixth CNAME
			}
			// RFC 6672 3.2: the DNAME, then a CNAME synthesised from
			// it with the DNAME's TTL, then the answer for its target.
			// A DNAME met again (its target is below its owner) is not
			// repeated; the CNAMEs go on to the hop limit (Knot DNS).
			if !slices.ContainsFunc(seen[:i], func(h hop) bool { return h.rs == d }) {
				if _, ok := r.addSigned(dnswire.Answer, bytesOf(dn.Name), 0, m.Zone, dn, d); !ok {
					return r.truncate(dnswire.RcodeSuccess)
				}
			}
			if n = synthesize(next, cur, len(dn.Name), firstRecord(d)); n < 0 {
				return dnswire.RcodeYXDomain // the new name would be too long
			}
			if !r.addCNAME(owner, d.TTL, next[:n]) {
				return r.truncate(dnswire.RcodeSuccess)
			}
			seen[i] = hop{rs: d, from: prev, wild: true}
			prev = d
			if r.q.QType == dnswire.TypeCNAME {
				return dnswire.RcodeSuccess // the CNAME is the answer
			}
		case zone.Delegation:
			// Only after a CNAME: the chain leaves our authority.
			r.referral(m.Zone, m.Node)
			return dnswire.RcodeSuccess
		case zone.Success:
			if m.CNAME && i == maxCNAMEHops {
				return dnswire.RcodeSuccess // a sixth CNAME: the resolver goes on
			}
			if m.Wildcard {
				r.proveWildcard(m.Zone, cur, m.Node)
			}
			if m.Answer == nil { // ANY
				return r.any(owner, m.Zone, m.Node)
			}
			ok := false
			if m.Answer.Type == dnswire.TypeRRSIG && !m.CNAME {
				ok = r.addRRSIGs(owner, questionOff, m.Node, m.Answer)
			} else {
				_, ok = r.addSigned(dnswire.Answer, owner, questionOff, m.Zone, m.Node, m.Answer)
			}
			if !ok {
				return r.truncate(dnswire.RcodeSuccess)
			}
			if !m.CNAME {
				if r.flush() {
					r.additional(m.Zone, m.Answer)
				}
				return dnswire.RcodeSuccess
			}
			seen[i] = hopOf(m, prev)
			prev = m.Answer
			rd := firstRecord(m.Answer)
			if n = dnswire.CanonicalName(next, rd); n < 0 || n != len(rd) {
				return dnswire.RcodeSuccess
			}
		default:
			return dnswire.RcodeSuccess
		}
		target := next[:n]
		nm := r.st.set.Lookup(target, r.q.QType)
		if nm.Result == zone.Refused {
			return dnswire.RcodeSuccess
		}
		if nm.Zone != first && !r.s.cfg.CNAMEAcrossZones {
			// The target is in a more specific zone we also serve. Inside
			// the zone of the query name it is at or below a cut: answer
			// the referral (RFC 1034 4.3.2 step 3b), as Knot DNS does.
			if cut := cutAbove(first, target); cut != nil {
				r.referral(first, cut)
			}
			return dnswire.RcodeSuccess
		}
		if nm.Result == zone.Success && nm.CNAME && slices.Contains(seen[:i+1], hopOf(nm, prev)) {
			return dnswire.RcodeSuccess // a loop: answer what we have
		}
		owner, cur, m = target, target, nm
	}
}

// addCNAME adds a CNAME record synthesised from a DNAME, owned by owner
// (nil: the question name) with the canonical target.
func (r *responder) addCNAME(owner []byte, ttl uint32, target []byte) bool {
	if owner == nil {
		return r.b.AddRRAt(dnswire.Answer, questionOff, dnswire.TypeCNAME, dnswire.ClassIN, ttl, target)
	}
	return r.b.AddRR(dnswire.Answer, owner, dnswire.TypeCNAME, dnswire.ClassIN, ttl, target)
}

// dnameAbove returns the closest encloser of the canonical name in z, a
// name that does not exist in z, with its DNAME RRset when it has one
// (RFC 6672 2.3: the DNAME redirects every name below its owner), or nils.
// Lookup found no node for the name, so this walk costs what its own did,
// on negative answers only.
func dnameAbove(z *zone.Zone, name []byte) (*zone.Node, *zone.RRset) {
	for i := 0; len(name)-i > len(z.Origin); {
		i += 1 + int(name[i])
		n := z.Apex // the usual closest encloser: no hashing for it
		if len(name)-i != len(z.Origin) {
			n = z.Node(name[i:])
		}
		if n != nil {
			if d := n.RRset(dnswire.TypeDNAME); d != nil {
				return n, d
			}
			return nil, nil
		}
	}
	return nil, nil
}

// synthesize writes into dst the canonical name cur with its last
// ownerLen octets (the DNAME owner) replaced by target (the DNAME's rdata,
// lower-cased) and returns its length, or -1 when that name would be
// longer than 255 octets or target is malformed.
func synthesize(dst *[dnswire.MaxNameLen]byte, cur []byte, ownerLen int, target []byte) int {
	p := len(cur) - ownerLen
	t := dnswire.NameLen(target)
	if p < 0 || t < 0 || t != len(target) || p+t > dnswire.MaxNameLen {
		return -1
	}
	copy(dst[:p], cur)
	for j, c := range target {
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst[p+j] = c
	}
	return p + t
}

// hop identifies a CNAME record of a chain for loop detection: the RRset
// and, for a wildcard match, where its synthesised owner came from (the
// CNAME RRset whose target it is; nil for the question name). A chain
// stops before it would write a record equal to an earlier one. This is
// what NSD and Knot DNS do: for "*.w CNAME b.w" a query for a.w gets
// a.w and b.w (2 records), one for b.w gets b.w twice (the question name's
// record, then the one synthesised from the CNAME target), and plain loops
// stop at the first RRset that repeats.
type hop struct {
	rs   *zone.RRset
	from *zone.RRset
	wild bool
}

// hopOf returns the hop for a CNAME match m reached through the CNAME
// RRset prev (nil for the question name).
func hopOf(m zone.Match, prev *zone.RRset) hop {
	if !m.Wildcard {
		return hop{rs: m.Answer}
	}
	return hop{rs: m.Answer, from: prev, wild: true}
}

// cutAbove returns the highest zone cut of z at or above the canonical
// name, which must be below z's origin, or nil when there is none.
func cutAbove(z *zone.Zone, name []byte) *zone.Node {
	if !isSubdomain(name, bytesOf(z.Origin)) {
		return nil
	}
	var cut *zone.Node
	for i := 0; len(name)-i > len(z.Origin); i += 1 + int(name[i]) {
		if n := z.Node(name[i:]); n != nil && n.Cut {
			cut = n // keep walking up: the highest cut wins
		}
	}
	return cut
}

// any answers qtype ANY at node n with one RRset, the node's first by
// type (RFC 8482 4.2), over UDP and TCP alike. Knot DNS answers the same
// (NSD also answers one RRset, but prefers the SOA at an apex).
func (r *responder) any(owner []byte, z *zone.Zone, n *zone.Node) dnswire.Rcode {
	if len(n.RRsets) == 0 {
		return dnswire.RcodeSuccess
	}
	rs := &n.RRsets[0]
	if _, ok := r.addSigned(dnswire.Answer, owner, questionOff, z, n, rs); !ok {
		return r.truncate(dnswire.RcodeSuccess)
	}
	// The addresses of NS, MX and SRV targets, as for a query of that
	// type (Knot DNS does the same).
	if r.flush() {
		r.additional(z, rs)
	}
	return dnswire.RcodeSuccess
}

// negative adds the zone's SOA to the authority section (RFC 2308 3) with
// the negative TTL, then the queued proofs, and returns rcode. The SOA's
// signatures get the same TTL, as NSD and Knot DNS send them.
func (r *responder) negative(z *zone.Zone, rcode dnswire.Rcode) dnswire.Rcode {
	soa := z.Apex.RRset(dnswire.TypeSOA)
	if soa == nil {
		return rcode
	}
	m := r.b.Mark()
	if !r.b.AddRR(dnswire.Authority, bytesOf(z.Origin), dnswire.TypeSOA, dnswire.ClassIN, z.NegTTL, firstRecord(soa)) {
		return r.truncate(rcode)
	}
	if r.secure(z) {
		var owner []byte
		at := r.b.LastOwner()
		if at == 0 {
			owner = bytesOf(z.Origin)
		}
		if !r.addSigs(dnswire.Authority, owner, at, z.Apex, dnswire.TypeSOA, z.NegTTL) {
			r.b.Rollback(m)
			return r.truncate(rcode)
		}
	}
	r.flush()
	return rcode
}

// referral adds the cut's NS RRset to the authority section and the glue
// addresses to the additional section. Glue for targets below the cut is
// required (RFC 9471): if it does not fit, TC is set and the glue left out
// (the NS RRset stays, as Knot DNS does). Other addresses of targets in the
// zone (sibling glue) are optional: what fits is added.
func (r *responder) referral(z *zone.Zone, cut *zone.Node) {
	ns := cut.RRset(dnswire.TypeNS)
	if ns == nil {
		return
	}
	if _, ok := r.addRRset(dnswire.Authority, bytesOf(cut.Name), 0, ns); !ok {
		r.truncate(0)
		return
	}
	// DNSSEC: the DS RRset with its signatures, or the proof that there
	// is none (RFC 4035 3.1.4, RFC 5155 7.2.7).
	if r.secure(z) {
		if ds := cut.RRset(dnswire.TypeDS); ds != nil {
			if _, ok := r.addSigned(dnswire.Authority, bytesOf(cut.Name), 0, z, cut, ds); !ok {
				r.truncate(0)
				return
			}
		} else {
			r.proveNoDS(z, cut)
		}
	}
	if !r.flush() {
		return
	}
	var canon [dnswire.MaxNameLen]byte
	cutName := bytesOf(cut.Name)
	afterNS := r.b.Mark()
	for rd := range records(ns) {
		n := dnswire.CanonicalName(&canon, rd)
		if n < 0 || n != len(rd) || !isSubdomain(canon[:n], cutName) {
			continue
		}
		if node := z.Node(canon[:n]); node != nil && !r.addAddrs(rd, z, node) {
			r.b.Rollback(afterNS)
			r.tc = true
			return
		}
	}
	// The other addresses (sibling glue) as NSD adds them: the A RRset of
	// every name that still fits, then, if they all did, the AAAA RRsets
	// that still fit. So a resolver gets an IPv4 address for as many
	// name servers as possible (one root-zone referral: 13 A records and
	// one AAAA in 512 octets).
	for _, t := range [2]uint16{dnswire.TypeA, dnswire.TypeAAAA} {
		for rd := range records(ns) {
			n := dnswire.CanonicalName(&canon, rd)
			if n < 0 || n != len(rd) || isSubdomain(canon[:n], cutName) {
				continue
			}
			node := z.Node(canon[:n])
			if node == nil || node.RRset(t) == nil {
				continue
			}
			if _, ok := r.addSigned(dnswire.Additional, rd, 0, z, node, node.RRset(t)); !ok {
				r.dropped = true
			}
		}
		if r.dropped {
			return
		}
	}
}

// additional adds the addresses of the targets of NS, MX and SRV answers
// found in zone z (RFC 1035 4.3.2 step 6, RFC 2782). It is optional data:
// what does not fit is left out without setting TC.
func (r *responder) additional(z *zone.Zone, rs *zone.RRset) {
	skip := 0
	switch rs.Type {
	case dnswire.TypeNS:
	case dnswire.TypeMX:
		skip = 2
	case dnswire.TypeSRV:
		skip = 6
	default:
		return
	}
	// NSD's order: the A RRsets of every target that still fit, then,
	// if they all did, the AAAA RRsets that still fit; an RRset goes with
	// its signatures or not at all.
	var canon [dnswire.MaxNameLen]byte
	for _, at := range [2]uint16{dnswire.TypeA, dnswire.TypeAAAA} {
		var done [16]*zone.Node
		ndone := 0
		for rd := range records(rs) {
			if len(rd) <= skip {
				continue
			}
			t := rd[skip:]
			n := dnswire.CanonicalName(&canon, t)
			if n < 0 || n != len(t) {
				continue
			}
			node := z.Node(canon[:n])
			if node == nil || node.Cut || node.RRset(at) == nil {
				continue
			}
			dup := false
			for _, d := range done[:ndone] {
				dup = dup || d == node
			}
			if dup {
				continue
			}
			if ndone < len(done) {
				done[ndone] = node
				ndone++
			}
			if _, ok := r.addSigned(dnswire.Additional, t, 0, z, node, node.RRset(at)); !ok {
				r.dropped = true
			}
		}
		if r.dropped {
			return
		}
	}
}

// addAddrs adds node's A and AAAA RRsets of zone z, owned by name, to the
// additional section, with their signatures in a DNSSEC answer; all or
// nothing.
func (r *responder) addAddrs(name []byte, z *zone.Zone, node *zone.Node) bool {
	m := r.b.Mark()
	owner, at := name, 0
	for _, t := range [2]uint16{dnswire.TypeA, dnswire.TypeAAAA} {
		rs := node.RRset(t)
		if rs == nil {
			continue
		}
		off, ok := r.addSigned(dnswire.Additional, owner, at, z, node, rs)
		if !ok {
			r.b.Rollback(m)
			return false
		}
		if off != 0 {
			owner, at = nil, off
		}
	}
	return true
}

// addRRset adds all records of rs to section sec, owned by the name owner
// or, when owner is nil, by the name at offset at in the message; all or
// nothing. The owner is compressed once: later records point at the first
// one's. It returns the offset that more records of this owner may point
// at (0 for none).
func (r *responder) addRRset(sec dnswire.Section, owner []byte, at int, rs *zone.RRset) (int, bool) {
	m := r.b.Mark()
	for rd := range records(rs) {
		var ok bool
		if owner == nil {
			ok = r.b.AddRRAt(sec, at, rs.Type, dnswire.ClassIN, rs.TTL, rd)
		} else {
			ok = r.b.AddRR(sec, owner, rs.Type, dnswire.ClassIN, rs.TTL, rd)
		}
		if !ok {
			r.b.Rollback(m)
			return 0, false
		}
		if off := r.b.LastOwner(); off != 0 {
			owner, at = nil, off
		}
	}
	if owner != nil {
		return 0, true
	}
	return at, true
}

// truncate marks the response truncated (RFC 2181 9: the client retries
// over TCP) after an RRset did not fit; the caller has rolled that RRset
// back. The complete RRsets before it stay, as NSD and Knot DNS keep the
// CNAMEs of a chain whose last RRset does not fit; when the first answer
// RRset does not fit, that leaves the question alone (the OPT is added
// later).
func (r *responder) truncate(rcode dnswire.Rcode) dnswire.Rcode {
	r.tc = true
	return rcode
}

// chaos answers the CHAOS-class server identification queries. Other
// CHAOS queries are refused with Extended DNS Error 21 (Not Supported,
// RFC 8914 4.22), as NSD does (Knot DNS sends no EDE).
func (r *responder) chaos() dnswire.Rcode {
	q := r.q
	if !r.s.cfg.Chaos || (q.QType != dnswire.TypeTXT && q.QType != dnswire.TypeANY) {
		r.ede = dnswire.EDENotSupported
		return dnswire.RcodeRefused
	}
	var txt []byte
	switch string(q.Name()) {
	case "\x07version\x04bind\x00", "\x07version\x06server\x00":
		txt = r.s.version
	case "\x08hostname\x04bind\x00", "\x02id\x06server\x00":
		txt = r.s.identity
	default:
		r.ede = dnswire.EDENotSupported
		return dnswire.RcodeRefused
	}
	// Not AA: NSD and Knot DNS both answer these without it.
	if !r.b.AddRRAt(dnswire.Answer, questionOff, dnswire.TypeTXT, dnswire.ClassCH, 0, txt) {
		return r.truncate(dnswire.RcodeSuccess)
	}
	return dnswire.RcodeSuccess
}

// records iterates over the record data of rs (see zone.RRset.Rdata).
func records(rs *zone.RRset) func(yield func([]byte) bool) {
	return func(yield func([]byte) bool) {
		b := rs.Rdata
		for len(b) >= 2 {
			n := int(b[0])<<8 | int(b[1])
			if len(b) < 2+n || !yield(b[2:2+n]) {
				return
			}
			b = b[2+n:]
		}
	}
}

// firstRecord returns the data of rs's first record (nil if none).
func firstRecord(rs *zone.RRset) []byte {
	for rd := range records(rs) {
		return rd
	}
	return nil
}

// isSubdomain reports whether the canonical name is parent or below it.
func isSubdomain(name, parent []byte) bool {
	if len(name) < len(parent) {
		return false
	}
	for i := 0; i < len(name); i += 1 + int(name[i]) {
		if len(name)-i == len(parent) {
			return string(name[i:]) == string(parent)
		}
		if name[i] == 0 {
			break
		}
	}
	return false
}

// bytesOf views a string held by the immutable zone set as bytes without
// copying. The result must never be written to.
func bytesOf(s string) []byte {
	return unsafe.Slice(unsafe.StringData(s), len(s))
}
