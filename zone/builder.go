package zone

import (
	"bytes"
	"slices"
	"strconv"
)

// Builder builds a zone from records in wire form, for zones that do not
// come from a zone file (zone transfers, tests). Finish applies the same
// checks as loading a zone file; messages give the position of a record
// as its number in the order of Add calls ("zone FILE: record 12: ...").
//
// A zone has exactly one SOA record: the SOA that closes an AXFR stream
// (RFC 5936 section 2.2) must not be added again. A Builder is not safe
// for concurrent use. The first error of Add is sticky: later calls of
// Add and Finish return it.
type Builder struct {
	b     *builder
	n     uint32 // records added
	err   error
	owner [255]byte
	done  bool
}

// NewBuilder returns a Builder for the zone whose apex is origin, a
// canonical wire-format name (uncompressed, lower case). file names the
// zone in messages and becomes Zone.File.
func NewBuilder(origin []byte, file string) *Builder {
	zb := &Builder{b: newBuilder(file)}
	zb.b.unit = "record"
	if !validName(origin) {
		zb.err = zb.b.errZone("bad origin %q", origin)
		return zb
	}
	o := slices.Clone(origin)
	lower(o)
	zb.b.setOrigin(o)
	return zb
}

// Add adds one record. owner is an uncompressed wire-format name (any
// case: it is lower-cased); rdata is the record's data in wire form
// without compression, which must be well-formed for types whose layout
// this package knows. Only class IN (1) is accepted. Add copies what it
// keeps; exact duplicates are removed by Finish. The zone's RRsets take
// the TTL of their first record (RFC 2181 section 5.2); a differing TTL
// becomes a warning (Zone.Warnings).
func (zb *Builder) Add(owner []byte, typ, class uint16, ttl uint32, rdata []byte) error {
	if zb.err != nil {
		return zb.err
	}
	if zb.done {
		return zb.b.errZone("Add after Finish")
	}
	zb.n++
	b, f, l := zb.b, uint16(0), zb.n
	switch {
	case class != classIN:
		zb.err = b.errAt(f, l, "class %s not supported (only IN)", classText(class))
	case !validName(owner):
		zb.err = b.errAt(f, l, "bad owner name %q", owner)
	case len(rdata) > 0xffff:
		zb.err = b.errAt(f, l, "%s record data longer than 65535 octets", TypeText(typ))
	}
	if zb.err != nil {
		return zb.err
	}
	if err := checkRdata(typ, rdata); err != nil {
		zb.err = b.errAt(f, l, "bad %s record at %s: %v", TypeText(typ), nameText(string(owner)), err)
		return zb.err
	}
	o := zb.owner[:copy(zb.owner[:], owner)]
	lower(o)
	zb.err = b.add(o, typ, ttl, rdata, f, l)
	return zb.err
}

// Finish checks the zone as a whole (an SOA and NS records at the apex,
// CNAME and DNAME rules, as for a zone file) and returns it. The Builder
// must not be used after.
func (zb *Builder) Finish() (*Zone, error) {
	if zb.err != nil {
		return nil, zb.err
	}
	if zb.done {
		return nil, zb.b.errZone("Finish called twice")
	}
	zb.done = true
	return zb.b.finish()
}

// Class IN, the only class a zone holds.
const classIN uint16 = 1

func classText(c uint16) string {
	switch c {
	case 1:
		return "IN"
	case 3:
		return "CH"
	case 4:
		return "HS"
	case 254:
		return "NONE"
	case 255:
		return "ANY"
	}
	return "CLASS" + strconv.Itoa(int(c))
}

// Walk calls f for every record of the zone: the SOA record first, then
// every other record in the canonical order of RFC 4034 section 6 (names
// in canonical order, then types in numeric order, then rdata in
// canonical form as octet strings). It stops when f returns false. owner
// is the canonical (lower-case) wire name and is valid only during the
// call; rdata is the stored record data and must not be modified. The SOA
// record is not repeated at its canonical position. An RRSIG record is
// reported with the TTL of the RRset it covers (Node.SigTTL, RFC 4034
// section 3), as signers write it; RRset.TTL of an RRSIG RRset is only its
// first record's. The records of an NSEC3 chain are reported at their
// owners like any other, although Node and lookups do not find those
// owners (they are not names of the zone, RFC 5155 section 7.1).
//
// Walk sorts the zone's names, so it allocates about 4 bytes per name and
// takes O(n log n); it is meant for zone transfers and checks, not for
// the query path.
func (z *Zone) Walk(f func(owner []byte, typ uint16, ttl uint32, rdata []byte) bool) {
	var owner []byte
	owner = append(owner, z.Origin...)
	soa := z.Apex.RRset(typeSOA)
	if soa == nil {
		return // not a zone from a Builder or a file
	}
	stop := false
	soa.Records(func(rd []byte) bool {
		stop = !f(owner, typeSOA, soa.TTL, rd)
		return false
	})
	if stop {
		return
	}
	order := make([]uint32, len(z.nodes))
	for i := range order {
		order[i] = uint32(i)
	}
	slices.SortFunc(order, func(a, b uint32) int {
		return compareNames(z.nodes[a].Name, z.nodes[b].Name)
	})
	var recs [][]byte
	var canon []byte
	for _, i := range order {
		n := &z.nodes[i]
		owner = append(owner[:0], n.Name...)
		for j := range n.RRsets {
			rs := &n.RRsets[j]
			if rs.Type == typeSOA && n == z.Apex {
				continue
			}
			recs = recs[:0]
			rs.Records(func(rd []byte) bool { recs = append(recs, rd); return true })
			if len(recs) > 1 {
				sortCanonical(recs, rs.Type, &canon)
			}
			for _, rd := range recs {
				ttl := rs.TTL
				if rs.Type == typeRRSIG {
					ttl = n.SigTTL(rd, ttl)
				}
				if !f(owner, rs.Type, ttl, rd) {
					return
				}
			}
		}
	}
}

// sortCanonical sorts the rdata of one RRset by their canonical forms.
func sortCanonical(recs [][]byte, t uint16, scratch *[]byte) {
	if d := types[t]; d == nil || !d.lower {
		slices.SortFunc(recs, bytes.Compare)
		return
	}
	// Canonical forms side by side in one buffer, sorted as pairs.
	type pair struct{ canon, rd []byte }
	buf := (*scratch)[:0]
	offs := make([]int, 0, len(recs)+1)
	for _, rd := range recs {
		offs = append(offs, len(buf))
		buf = canonicalRdata(buf, t, rd)
	}
	offs = append(offs, len(buf))
	*scratch = buf
	pairs := make([]pair, len(recs))
	for i, rd := range recs {
		pairs[i] = pair{buf[offs[i]:offs[i+1]], rd}
	}
	slices.SortStableFunc(pairs, func(a, b pair) int { return bytes.Compare(a.canon, b.canon) })
	for i := range pairs {
		recs[i] = pairs[i].rd
	}
}
