package zone

import (
	"slices"
	"strings"
	"time"
)

// secBuild carries what the DNSSEC index of a signed zone needs from the
// builder past the point where finish lets go of it: the records with
// their positions, for warnings.
type secBuild struct {
	b    *builder
	recs []rec
	g    *grouping // the records by node, by type within a node
	apex uint32
	now  uint32 // seconds since the epoch, modulo 2^32 (RFC 4034 3.1.5)
}

// dnssecInput returns what build needs when the zone is signed (its apex
// holds RRSIG records), or nil. An unsigned zone with RRSIG records
// elsewhere gets a warning: it is served without DNSSEC.
func (b *builder) dnssecInput(z *Zone, g *grouping, apex uint32) *secBuild {
	if z.nodes[apex].RRset(typeRRSIG) == nil {
		for i := range b.recs {
			if r := &b.recs[i]; r.typ == typeRRSIG {
				b.warn(r.file, r.line, "RRSIG record, but none at the zone apex %s: the zone is served unsigned",
					nameText(z.Origin))
				break
			}
		}
		return nil
	}
	return &secBuild{b: b, recs: b.recs, g: g, apex: apex, now: uint32(time.Now().Unix())}
}

// build indexes the chains of the signed zone z and checks it, adding
// warnings. parent[n] is the parent node of node n (the apex is its own).
func (s *secBuild) build(z *Zone, parent []uint32) {
	sec := &dnssec{}
	z.sec = sec
	s.nsec3Chain(z, parent)
	s.nsecChain(z)
	s.checkNames(z)
	s.checkSignatures(z)
}

// recOf returns the first record of type t at node n (the line to report).
func (s *secBuild) recOf(n int, t uint16) *rec {
	recs := s.g.node(n)
	for _, x := range recs {
		if s.recs[x].typ == t {
			return &s.recs[x]
		}
	}
	return &s.recs[recs[0]]
}

func (s *secBuild) warnAt(r *rec, format string, args ...any) {
	s.b.warn(r.file, r.line, format, args...)
}

// nsec3Param is the part of NSEC3 and NSEC3PARAM rdata that names a chain.
type nsec3Param struct {
	alg        uint8
	iterations uint16
	salt       []byte
	rest       []byte // after the salt (NSEC3: hash length, next hash, types)
	flags      uint8
}

// parseNSEC3Param reads the leading fields common to NSEC3 and NSEC3PARAM
// rdata (RFC 5155 3.2 and 4.2).
func parseNSEC3Param(rd []byte) (nsec3Param, bool) {
	if len(rd) < 5 || len(rd) < 5+int(rd[4]) {
		return nsec3Param{}, false
	}
	return nsec3Param{alg: rd[0], flags: rd[1], iterations: uint16(rd[2])<<8 | uint16(rd[3]),
		salt: rd[5 : 5+int(rd[4])], rest: rd[5+int(rd[4]):]}, true
}

func (p nsec3Param) sameChain(q nsec3Param) bool {
	return p.alg == q.alg && p.iterations == q.iterations && string(p.salt) == string(q.salt)
}

// nextHash returns the next hashed owner of NSEC3 rdata parsed by
// parseNSEC3Param.
func (p nsec3Param) nextHash() ([]byte, bool) {
	if len(p.rest) < 1 || len(p.rest) < 1+int(p.rest[0]) {
		return nil, false
	}
	return p.rest[1 : 1+int(p.rest[0])], true
}

// nsec3Chain marks the NSEC3 nodes and indexes the chain NSEC3PARAM names.
func (s *secBuild) nsec3Chain(z *Zone, parent []uint32) {
	sec := z.sec
	apex := &z.nodes[s.apex]
	hasChild := make([]bool, len(z.nodes))
	for n, p := range parent[:len(z.nodes)] {
		if uint32(n) != p {
			hasChild[p] = true
		}
	}
	var candidates []uint32
	for n := range z.nodes {
		node := &z.nodes[n]
		if node.RRset(typeNSEC3) == nil {
			continue
		}
		only := parent[n] == s.apex && uint32(n) != s.apex && !hasChild[n]
		for i := range node.RRsets {
			if t := node.RRsets[i].Type; t != typeNSEC3 && t != typeRRSIG {
				only = false
			}
		}
		if !only {
			s.warnAt(s.recOf(n, typeNSEC3), "NSEC3 record at %s, a name of the zone: not part of the NSEC3 chain",
				nameText(node.Name))
			continue
		}
		z.flags[n] |= flagNSEC3
		candidates = append(candidates, uint32(n))
	}

	var param nsec3Param
	ok := false
	if p := apex.RRset(typeNSEC3PARAM); p != nil {
		if param, ok = parseNSEC3Param(firstRdata(p)); !ok {
			s.warnAt(s.recOf(int(s.apex), typeNSEC3PARAM), "malformed NSEC3PARAM record")
		} else if len(candidates) == 0 {
			s.warnAt(s.recOf(int(s.apex), typeNSEC3PARAM), "NSEC3PARAM record but no NSEC3 records")
		}
	}
	if len(candidates) == 0 {
		return
	}
	if !ok {
		first := &z.nodes[candidates[0]]
		param, ok = parseNSEC3Param(firstRdata(first.RRset(typeNSEC3)))
		if !ok {
			s.warnAt(s.recOf(int(candidates[0]), typeNSEC3), "malformed NSEC3 record")
			return
		}
		s.b.warn(0, 0, "NSEC3 records but no NSEC3PARAM at the zone apex %s: using the chain of %s",
			nameText(z.Origin), nameText(first.Name))
	}
	if param.alg != 1 {
		s.b.warn(0, 0, "NSEC3 hash algorithm %d is not SHA-1: the zone is served without NSEC3 proofs", param.alg)
		return
	}
	if param.iterations > 100 {
		s.warnAt(s.recOf(int(s.apex), typeNSEC3PARAM),
			"NSEC3 with %d extra iterations: RFC 9276 asks for 0, and validators treat more than 100 as insecure",
			param.iterations)
	}
	sec.hashAlg, sec.iterations, sec.salt = param.alg, param.iterations, append([]byte(nil), param.salt...)

	for _, n := range candidates {
		node := &z.nodes[n]
		member := false
		for rd := range recordsOf(node.RRset(typeNSEC3)) {
			if p, ok := parseNSEC3Param(rd); ok && p.sameChain(param) {
				member = true
			}
		}
		if !member {
			continue // another chain (a rollover): not served
		}
		if l := int(node.Name[0]); l != 32 || !isBase32Hex(node.Name[1:1+l]) {
			s.warnAt(s.recOf(int(n), typeNSEC3), "NSEC3 owner %s is not a SHA-1 hash in base32hex: not part of the chain",
				nameText(node.Name))
			continue
		}
		sec.nsec3 = append(sec.nsec3, n)
	}
	byHash := func(a, b uint32) int {
		x, y := z.nodes[a].Name, z.nodes[b].Name
		return strings.Compare(x[1:1+int(x[0])], y[1:1+int(y[0])])
	}
	if !slices.IsSortedFunc(sec.nsec3, byHash) {
		slices.SortFunc(sec.nsec3, byHash)
	}

	// Each record must point at the next hash in order, the last at the
	// first (RFC 5155 3.1.7).
	var enc [64]byte
	for i, n := range sec.nsec3 {
		node := &z.nodes[n]
		want := z.nodes[sec.nsec3[(i+1)%len(sec.nsec3)]].Name
		for rd := range recordsOf(node.RRset(typeNSEC3)) {
			p, ok := parseNSEC3Param(rd)
			if !ok || !p.sameChain(param) {
				continue
			}
			next, ok := p.nextHash()
			got := enc[:0]
			if ok && len(next) <= 40 {
				got = enc[:encodeBase32Hex(enc[:], next)]
			}
			if !ok || compareLabel(want, got) != 0 {
				s.warnAt(s.recOf(int(n), typeNSEC3), "broken NSEC3 chain: the NSEC3 record at %s points to %s, but the next hash in the zone is %s",
					nameText(node.Name), got, want[1:1+int(want[0])])
			}
		}
	}
}

// nsecChain indexes the NSEC chain and checks its links.
func (s *secBuild) nsecChain(z *Zone) {
	sec := z.sec
	for n := range z.nodes {
		if z.flags[n]&flagNSEC3 == 0 && z.nodes[n].RRset(typeNSEC) != nil {
			sec.nsec = append(sec.nsec, uint32(n))
		}
	}
	// Signers write zones in canonical order, and nodes are in file order:
	// the sort is usually skipped.
	canonical := func(a, b uint32) int { return compareNames(z.nodes[a].Name, z.nodes[b].Name) }
	if !slices.IsSortedFunc(sec.nsec, canonical) {
		slices.SortFunc(sec.nsec, canonical)
	}
	var canon [256]byte
	for i, n := range sec.nsec {
		node := &z.nodes[n]
		rd := firstRdata(node.RRset(typeNSEC))
		l, err := wireNameLen(rd)
		want := z.nodes[sec.nsec[(i+1)%len(sec.nsec)]].Name
		if err != nil {
			s.warnAt(s.recOf(int(n), typeNSEC), "malformed NSEC record at %s", nameText(node.Name))
			continue
		}
		next := append(canon[:0], rd[:l]...)
		lower(next)
		if string(next) != want {
			s.warnAt(s.recOf(int(n), typeNSEC), "broken NSEC chain: the NSEC record at %s points to %s, but the next name in the zone is %s",
				nameText(node.Name), nameText(string(next)), nameText(want))
		}
	}
}

// authoritative reports whether node n holds authoritative data: it is
// not below a zone cut (a cut itself is, for DS and NSEC).
func authoritative(z *Zone, n int) bool {
	return z.flags[n]&flagCut == 0 || z.nodes[n].Cut
}

// checkNames warns about names the chain skips: every authoritative name
// needs an NSEC record; with NSEC3 every name and empty non-terminal needs
// a matching NSEC3 record, except those opt-out leaves out (RFC 5155 7.1).
func (s *secBuild) checkNames(z *Zone) {
	sec := z.sec
	nsec3 := len(sec.nsec3) > 0
	if !nsec3 && len(sec.nsec) == 0 {
		s.b.warn(0, 0, "signed zone without NSEC or NSEC3 records: negative answers carry no proof")
		return
	}
	var buf [256]byte
	for n := range z.nodes {
		node := &z.nodes[n]
		if z.flags[n]&flagNSEC3 != 0 || !authoritative(z, n) {
			continue
		}
		if !nsec3 {
			if len(node.RRsets) > 0 && node.RRset(typeNSEC) == nil {
				s.warnAt(s.recOf(n, node.RRsets[0].Type), "broken NSEC chain: no NSEC record at %s", nameText(node.Name))
			}
			continue
		}
		m, exact := z.NSEC3Find(append(buf[:0], node.Name...))
		if exact {
			continue
		}
		if p, ok := parseNSEC3Param(firstRdata(m.RRset(typeNSEC3))); ok && p.flags&1 != 0 &&
			(len(node.RRsets) == 0 || node.Cut && node.RRset(typeDS) == nil) {
			continue // opted out: an insecure delegation or an empty non-terminal
		}
		r := &s.recs[s.g.node(int(s.apex))[0]]
		if len(node.RRsets) > 0 {
			r = s.recOf(n, node.RRsets[0].Type)
		}
		s.warnAt(r, "broken NSEC3 chain: no NSEC3 record for %s", nameText(node.Name))
	}
}

// checkSignatures warns about expired and not yet valid signatures and
// about authoritative RRsets without any.
func (s *secBuild) checkSignatures(z *Zone) {
	var covered []uint16
	for n := range z.nodes {
		node := &z.nodes[n]
		covered = covered[:0]
		for _, x := range s.g.node(n) {
			r := &s.recs[x]
			if r.typ != typeRRSIG {
				continue
			}
			rd := s.b.rdata(r)
			if len(rd) < 18 {
				s.warnAt(r, "malformed RRSIG record at %s", nameText(node.Name))
				continue
			}
			t := uint16(rd[0])<<8 | uint16(rd[1])
			covered = append(covered, t)
			exp := uint32(rd[8])<<24 | uint32(rd[9])<<16 | uint32(rd[10])<<8 | uint32(rd[11])
			inc := uint32(rd[12])<<24 | uint32(rd[13])<<16 | uint32(rd[14])<<8 | uint32(rd[15])
			// Serial number arithmetic (RFC 4034 3.1.5, RFC 1982).
			switch {
			case int32(exp-s.now) < 0:
				s.warnAt(r, "RRSIG %s at %s expired on %s", TypeText(t), nameText(node.Name), s.when(exp))
			case int32(s.now-inc) < 0:
				s.warnAt(r, "RRSIG %s at %s is not valid before %s", TypeText(t), nameText(node.Name), s.when(inc))
			}
		}
		if !authoritative(z, n) {
			continue
		}
		for i := range node.RRsets {
			t := node.RRsets[i].Type
			if t == typeRRSIG || node.Cut && t != typeDS && t != typeNSEC {
				continue // a cut's NS (and glue) belong to the child: not signed here
			}
			found := false
			for _, c := range covered {
				found = found || c == t
			}
			if !found {
				s.warnAt(s.recOf(n, t), "%s RRset at %s has no RRSIG", TypeText(t), nameText(node.Name))
			}
		}
	}
}

// when renders a signature time (RFC 4034 3.1.5: the 32-bit value nearest
// to now).
func (s *secBuild) when(t uint32) string {
	return time.Unix(int64(s.now)+int64(int32(t-s.now)), 0).UTC().Format("2006-01-02 15:04:05 UTC")
}

// firstRdata returns the data of rs's first record (nil if rs is nil).
func firstRdata(rs *RRset) []byte {
	if rs == nil {
		return nil
	}
	for rd := range recordsOf(rs) {
		return rd
	}
	return nil
}

// recordsOf iterates over the record data of rs.
func recordsOf(rs *RRset) func(yield func([]byte) bool) {
	return func(yield func([]byte) bool) {
		if rs != nil {
			rs.Records(yield)
		}
	}
}

func isBase32Hex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('0' <= c && c <= '9' || 'a' <= c && c <= 'v') {
			return false
		}
	}
	return true
}
