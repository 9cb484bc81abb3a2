package dnssvc

import (
	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/zone"
)

// DNSSEC answers from pre-signed zones (RFC 4035 3.1, RFC 5155 7.2), as NSD
// and Knot DNS give them. Only for queries with DO=1 and only for data of a
// signed zone (zone.Zone.Signed):
//
//   - every RRset written from a zone comes with the RRSIG records at its
//     owner that cover its type, with the RRset's TTL (addSigned);
//   - negative answers, wildcard answers and referrals without DS carry the
//     NSEC or NSEC3 records that prove them, each with its RRSIGs. The
//     proofs go in the authority section, so resolve queues the nodes that
//     hold them (prove) while it writes the answer section, and flush
//     writes them after it, before the additional section.
//
// Proof RRsets and their signatures are required data: what does not fit
// truncates the answer (TC), as for the answer section. In the additional
// section an address RRset and its signatures are added together or not
// at all, as NSD does.

// maxProofs bounds the proof RRsets of one answer: a wildcard proof per
// CNAME hop, and at most three NSEC3 records for the end of the chain.
const maxProofs = 2*maxCNAMEHops + 4

// proof is an NSEC or NSEC3 RRset to write in the authority section.
type proof struct {
	z *zone.Zone
	n *zone.Node
	t uint16
}

// secure reports whether the answer from z carries DNSSEC records.
func (r *responder) secure(z *zone.Zone) bool { return r.do && z != nil && z.Signed() }

// addSigned adds rs like addRRset and, when the answer from z is secure,
// the RRSIG records at node n that cover rs's type, with the same owner;
// all or nothing.
func (r *responder) addSigned(sec dnswire.Section, owner []byte, at int, z *zone.Zone, n *zone.Node, rs *zone.RRset) (int, bool) {
	m := r.b.Mark()
	off, ok := r.addRRset(sec, owner, at, rs)
	if !ok || !r.secure(z) || n == nil {
		return off, ok
	}
	if off != 0 {
		owner, at = nil, off
	}
	if !r.addSigs(sec, owner, at, n, rs.Type, rs.TTL) {
		r.b.Rollback(m)
		return 0, false
	}
	return off, true
}

// addSigs adds the RRSIG records at node n that cover type t, with TTL
// ttl, owned by owner (or the name at offset at when owner is nil).
func (r *responder) addSigs(sec dnswire.Section, owner []byte, at int, n *zone.Node, t uint16, ttl uint32) bool {
	sigs := n.RRset(dnswire.TypeRRSIG)
	if sigs == nil {
		return true
	}
	for rd := range records(sigs) {
		if len(rd) < 2 || uint16(rd[0])<<8|uint16(rd[1]) != t {
			continue
		}
		var ok bool
		if owner == nil {
			ok = r.b.AddRRAt(sec, at, dnswire.TypeRRSIG, dnswire.ClassIN, ttl, rd)
		} else {
			ok = r.b.AddRR(sec, owner, dnswire.TypeRRSIG, dnswire.ClassIN, ttl, rd)
		}
		if !ok {
			return false
		}
		if off := r.b.LastOwner(); off != 0 {
			owner, at = nil, off
		}
	}
	return true
}

// addRRSIGs answers a query for type RRSIG at node n: every RRSIG record
// there, each with the TTL of the RRset it covers (RFC 4034 3), as NSD
// does. A record covering a type the node lacks keeps the RRSIG RRset's
// TTL. All or nothing.
func (r *responder) addRRSIGs(owner []byte, at int, n *zone.Node, sigs *zone.RRset) bool {
	m := r.b.Mark()
	for rd := range records(sigs) {
		ttl := n.SigTTL(rd, sigs.TTL)
		var ok bool
		if owner == nil {
			ok = r.b.AddRRAt(dnswire.Answer, at, dnswire.TypeRRSIG, dnswire.ClassIN, ttl, rd)
		} else {
			ok = r.b.AddRR(dnswire.Answer, owner, dnswire.TypeRRSIG, dnswire.ClassIN, ttl, rd)
		}
		if !ok {
			r.b.Rollback(m)
			return false
		}
		if off := r.b.LastOwner(); off != 0 {
			owner, at = nil, off
		}
	}
	return true
}

// prove queues the NSEC or NSEC3 RRset at n (which may be nil) for the
// authority section, once.
func (r *responder) prove(z *zone.Zone, n *zone.Node, t uint16) {
	if n == nil || n.RRset(t) == nil {
		return
	}
	for _, p := range r.proofs[:r.nproofs] {
		if p.n == n && p.t == t {
			return
		}
	}
	if r.nproofs < len(r.proofs) {
		r.proofs[r.nproofs] = proof{z: z, n: n, t: t}
		r.nproofs++
	}
}

// flush writes the queued proofs to the authority section. It returns
// false, with TC set, when one does not fit.
func (r *responder) flush() bool {
	for _, p := range r.proofs[:r.nproofs] {
		if _, ok := r.addSigned(dnswire.Authority, bytesOf(p.n.Name), 0, p.z, p.n, p.n.RRset(p.t)); !ok {
			r.nproofs = 0
			r.tc = true
			return false
		}
	}
	r.nproofs = 0
	return true
}

// proveNXDomain queues the proof that the canonical name does not exist
// in z and that no wildcard covers it (RFC 4035 3.1.3.2, RFC 5155 7.2.2).
func (r *responder) proveNXDomain(z *zone.Zone, name []byte) {
	if !r.secure(z) {
		return
	}
	ce := closestEncloser(z, name)
	var wild [2 + dnswire.MaxNameLen]byte
	wild[0], wild[1] = 1, '*'
	w := wild[:2+copy(wild[2:], name[ce:])]
	if !z.NSEC3() {
		r.prove(z, z.NSECCover(name), dnswire.TypeNSEC)
		if len(w) <= dnswire.MaxNameLen {
			r.prove(z, z.NSECCover(w), dnswire.TypeNSEC)
		}
		return
	}
	ce = r.proveEncloser(z, name, ce)
	w = wild[:2+copy(wild[2:], name[ce:])]
	if len(w) <= dnswire.MaxNameLen {
		n, _ := z.NSEC3Find(w)
		r.prove(z, n, dnswire.TypeNSEC3)
	}
}

// proveNoData queues the proof that node n, named name, has no RRset of
// the query type (RFC 4035 3.1.3.1, RFC 5155 7.2.3 and 7.2.4); n is an
// empty non-terminal or a node without that type (DS at a cut included).
func (r *responder) proveNoData(z *zone.Zone, name []byte, n *zone.Node) {
	if !r.secure(z) {
		return
	}
	if !z.NSEC3() {
		if n.RRset(dnswire.TypeNSEC) != nil {
			r.prove(z, n, dnswire.TypeNSEC)
		} else {
			// An empty non-terminal: the NSEC before it shows that
			// nothing is there.
			r.prove(z, z.NSECCover(name), dnswire.TypeNSEC)
		}
		return
	}
	if m, exact := z.NSEC3Find(name); exact {
		r.prove(z, m, dnswire.TypeNSEC3)
		return
	}
	// No NSEC3 for the name: it was opted out (an insecure delegation, or
	// an empty non-terminal above only such). The closest provable
	// encloser and the opt-out record covering the next closer name show
	// that (RFC 5155 7.2.4).
	if len(name) > len(z.Origin) {
		r.proveEncloser(z, name, 1+int(name[0]))
	}
}

// proveWildcard queues the proof that the canonical name, answered from
// the wildcard node w, does not exist itself (RFC 4035 3.1.3.3, RFC 5155
// 7.2.6).
func (r *responder) proveWildcard(z *zone.Zone, name []byte, w *zone.Node) {
	if !r.secure(z) {
		return
	}
	if !z.NSEC3() {
		r.prove(z, z.NSECCover(name), dnswire.TypeNSEC)
		return
	}
	// The closest encloser is the wildcard's parent; the next closer name
	// is the suffix of name one label longer.
	if nc := nextCloser(name, len(w.Name)-2); nc >= 0 {
		n, _ := z.NSEC3Find(name[nc:])
		r.prove(z, n, dnswire.TypeNSEC3)
	}
}

// proveWildcardNoData queues the proof that the name, covered by the
// wildcard node w, has no RRset of the query type, and that the wildcard
// has none either (RFC 4035 3.1.3.4, RFC 5155 7.2.5).
func (r *responder) proveWildcardNoData(z *zone.Zone, name []byte, w *zone.Node) {
	if !r.secure(z) {
		return
	}
	if !z.NSEC3() {
		r.prove(z, z.NSECCover(name), dnswire.TypeNSEC)
		r.prove(z, w, dnswire.TypeNSEC)
		return
	}
	r.proveEncloser(z, name, len(name)-(len(w.Name)-2))
	n, _ := z.NSEC3Find(bytesOf(w.Name))
	r.prove(z, n, dnswire.TypeNSEC3)
}

// proveNoDS queues the proof, for a referral to the cut node n, that the
// delegation has no DS RRset.
func (r *responder) proveNoDS(z *zone.Zone, n *zone.Node) {
	r.proveNoData(z, bytesOf(n.Name), n)
}

// proveEncloser queues the NSEC3 closest encloser proof for the canonical
// name, whose closest encloser starts at offset ce: the NSEC3 record that
// matches the closest provable encloser (ce, or the first ancestor of it
// that has one, past names that opt-out left out) and the one that covers
// the next closer name (RFC 5155 7.2.1). It returns the offset of the
// provable encloser.
func (r *responder) proveEncloser(z *zone.Zone, name []byte, ce int) int {
	for {
		if n, exact := z.NSEC3Find(name[ce:]); exact {
			r.prove(z, n, dnswire.TypeNSEC3)
			break
		}
		if len(name)-ce <= len(z.Origin) {
			break // not even the apex has one: a broken chain
		}
		ce += 1 + int(name[ce])
	}
	if nc := nextCloser(name, len(name)-ce); nc >= 0 {
		n, _ := z.NSEC3Find(name[nc:])
		r.prove(z, n, dnswire.TypeNSEC3)
	}
	return ce
}

// closestEncloser returns the offset in the canonical name of its longest
// ancestor that exists in z (the apex at worst). name itself must not
// exist.
func closestEncloser(z *zone.Zone, name []byte) int {
	for i := 0; len(name)-i > len(z.Origin); {
		i += 1 + int(name[i])
		if len(name)-i == len(z.Origin) || z.Node(name[i:]) != nil {
			return i
		}
	}
	return len(name) - len(z.Origin)
}

// nextCloser returns the offset in name of its suffix one label longer
// than its suffix of length encloserLen, or -1 when there is none.
func nextCloser(name []byte, encloserLen int) int {
	for i := 0; i < len(name) && name[i] != 0; i += 1 + int(name[i]) {
		if len(name)-(i+1+int(name[i])) == encloserLen {
			return i
		}
	}
	return -1
}
