// Package zone loads RFC 1035 master files, validates them, and compiles them
// into an immutable structure that answers lookups without allocating.
//
// Zone files are read by the package's own scanner (scan.go: lexing and
// directives; rdatatext.go and rdataspecial.go: the text of each record
// type, described in types.go), which hands every record in wire form to
// the builder (compile.go); Builder does the same for records that arrive
// in wire form (zone transfers). The builder's finish step validates the
// zone and lays it out; Zone.Walk gives the records back in canonical
// order.
//
// Names inside this package are canonical wire-format names: uncompressed,
// lower-cased (ASCII only), ending with the root label. They are used as map
// keys (as strings) and compared bytewise. Record data (rdata) keeps the case
// of the zone file, as NSD and Knot DNS do, and is stored uncompressed.
//
// A *Set and everything reachable from it is never modified after it is
// built, so any number of goroutines may read it while another goroutine
// builds its replacement; callers swap whole sets atomically (see dnssvc).
package zone

import (
	"hash/maphash"
)

// Result is the outcome of a lookup in a Set.
type Result uint8

// Lookup results. The zero value is Refused so that an unset Match never
// claims authority.
const (
	// Refused: the name is in none of the zones of the set.
	Refused Result = iota
	// Success: Match.Node owns an RRset of the query type, or a CNAME
	// (Match.CNAME is then set and the query type is not CNAME).
	Success
	// NoData: the name exists (possibly as an empty non-terminal or through
	// a wildcard) but has no RRset of the query type and no CNAME.
	NoData
	// NXDomain: the name does not exist and no wildcard covers it.
	NXDomain
	// Delegation: the name is at or below a zone cut (a non-apex NS RRset);
	// Match.Node is the cut node. DS queries at the cut itself are answered
	// by the parent and never give Delegation.
	Delegation
)

// String returns the result's name, for logs and tests.
func (r Result) String() string {
	switch r {
	case Refused:
		return "Refused"
	case Success:
		return "Success"
	case NoData:
		return "NoData"
	case NXDomain:
		return "NXDomain"
	case Delegation:
		return "Delegation"
	}
	return "Result(?)"
}

// RRset is the set of records of one type at one owner name.
//
// Rdata holds the records' data back to back, each preceded by its length
// as a big-endian uint16, in wire format without compression. Names inside
// rdata keep the case of the zone file. The records are in zone-file order
// with exact duplicates removed.
type RRset struct {
	Type  uint16
	Count uint16 // number of records in Rdata
	// TTL: RFC 2181 5.2, one TTL per RRset; the first record's wins.
	// RRSIGs at one owner cover different RRsets and take the TTL of the
	// one each covers (RFC 4034 section 3): see Zone.Walk.
	TTL   uint32
	Rdata []byte
	// The field order packs the struct into 32 bytes: a zone has about one
	// RRset per record.
}

// Records calls f for each record's data in order, stopping early when f
// returns false. It does not allocate.
func (rs *RRset) Records(f func(rdata []byte) bool) {
	b := rs.Rdata
	for len(b) >= 2 {
		n := int(b[0])<<8 | int(b[1])
		if len(b) < 2+n {
			return
		}
		if !f(b[2 : 2+n]) {
			return
		}
		b = b[2+n:]
	}
}

// Node is one owner name in a zone and all of its RRsets.
type Node struct {
	// Name is the canonical wire-format owner name.
	Name string
	// RRsets, sorted by Type, no two with the same Type. Empty for an
	// empty non-terminal (a name that exists only because names below it do).
	RRsets []RRset
	// Cut is true at a delegation point: a non-apex node with an NS RRset.
	Cut bool
}

// RRset returns the node's RRset of type t, or nil.
func (n *Node) RRset(t uint16) *RRset {
	for i := range n.RRsets {
		if n.RRsets[i].Type == t {
			return &n.RRsets[i]
		}
	}
	return nil
}

// Zone is one compiled zone.
type Zone struct {
	// Origin is the canonical wire-format apex name.
	Origin string
	// File is the path the zone was loaded from ("" for an embedded zone),
	// for messages and metrics.
	File string
	// Serial is the SOA serial.
	Serial uint32
	// Apex is the node at Origin; it always holds an SOA and an NS RRset.
	Apex *Node
	// NegTTL is min(SOA TTL, SOA MINIMUM), the TTL of the SOA record in
	// negative answers (RFC 2308 section 3).
	NegTTL uint32

	// nodes holds every node of the zone, the apex included, in one
	// allocation; table is an open-addressing hash index into it (see
	// index.go). flags[i] describes nodes[i].
	nodes []Node
	table []uint32
	flags []uint8
	seed  maphash.Seed
	rrs   int // number of records, duplicates removed

	// sec indexes the NSEC or NSEC3 chain of a signed zone; nil when the
	// zone is not signed (see dnssec.go).
	sec *dnssec
	// warnings found while loading (see warning.go): the first
	// maxWarnings, and how many in all.
	warnings  []Warning
	nwarnings int
	included  []string
}

// Included returns the paths of the files the zone's file included
// ($INCLUDE), as opened, in the order they were read. The slice must not
// be modified.
func (z *Zone) Included() []string { return z.included }

// Node returns the node with exactly this canonical wire-format name, ignoring
// zone cuts (so that glue below a cut is found), or nil. The owner names of
// NSEC3 records are not names of the zone (RFC 5155 7.1): Node returns nil
// for them (see NSEC3). It does not allocate.
func (z *Zone) Node(name []byte) *Node {
	if i := z.find(name); i >= 0 && z.flags[i]&flagNSEC3 == 0 {
		return &z.nodes[i]
	}
	return nil
}

// Len returns the number of nodes in the zone, empty non-terminals included.
func (z *Zone) Len() int { return len(z.nodes) }

// Records returns the number of records in the zone, duplicates removed.
func (z *Zone) Records() int { return z.rrs }

// Match is the result of Set.Lookup. It is a plain value; its pointers refer
// into the immutable Set.
type Match struct {
	Result Result
	// Zone is the most specific zone containing the name; nil for Refused.
	Zone *Zone
	// Node is the node that answers: the exact node, the wildcard node for a
	// wildcard match, or the cut node for Delegation. Nil for NXDomain and
	// Refused.
	Node *Node
	// Wildcard is true when Node is a wildcard ("*") node matched by RFC 4592
	// synthesis: the owner of answers is then the query name.
	Wildcard bool
	// Answer is the RRset of the query type at Node for Success; for a CNAME
	// match it is the CNAME RRset. Nil otherwise.
	Answer *RRset
	// CNAME is true when Answer is a CNAME RRset returned in place of the
	// query type.
	CNAME bool
}

// Set is an immutable collection of zones with distinct origins. The zero
// value is an empty set that refuses everything.
type Set struct {
	zones map[string]*Zone
	list  []*Zone // sorted by origin, for listing
	// byLen[n] is the zone whose origin is n bytes long when it is the
	// only one, and shared[n] is true when several are: Lookup hashes no
	// suffix that cannot be an origin, and none when lengths are unique.
	byLen  [256]*Zone
	shared [256]bool
}

// Zones returns the zones of the set sorted by origin. The slice must not be
// modified.
func (s *Set) Zones() []*Zone { return s.list }
