package zone

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"slices"

	"github.com/miekg/dns"
)

// The builder compiles records as they stream out of the parser, so that
// each miekg RR is garbage as soon as it is packed: a record becomes a
// 24-byte rec plus its rdata in an append-only arena. finish then groups
// the recs by node and type into the final, immutable layout:
//
//   - one []Node for all nodes, one []RRset for all RRsets, node names as
//     substrings of one string, rdata in large shared chunks;
//   - an RRset whose records were contiguous in the input (the usual case:
//     zone files list an owner's records together) points straight into
//     the chunk its records were read into; others are copied once.
//
// So the compiled zone has no per-record heap objects and only a handful
// of allocations per zone, whatever its size.

const (
	chunkBits  = 20
	maxChunk   = 1 << chunkBits
	firstChunk = 4 << 10
)

// rec is one record as read, before grouping.
type rec struct {
	node uint32 // index of the owner node
	ttl  uint32
	line uint32
	off  uint32 // of the length-prefixed rdata: chunk<<chunkBits | offset in chunk
	typ  uint16
	file uint16
}

// node flags (Zone.flags).
const (
	flagCut   uint8 = 1 << iota // the node is a cut or lies below one
	flagNSEC3                   // the node holds only an NSEC3 chain entry (dnssec.go)
)

type builder struct {
	file   string // Zone.File
	origin []byte // canonical; nil until known
	files  *sources

	// nodes under construction: node i is named
	// names[nameOff[i]:nameOff[i+1]].
	names   []byte
	nameOff []uint32
	table   []uint32
	seed    maphash.Seed

	parent []uint32 // parent node of each node, or noParent

	recs   []rec
	chunks [][]byte

	lastOwner string // presentation owner of the previous record
	lastNode  uint32

	soa struct {
		seen   bool
		rec    int // index in recs
		serial uint32
		ttl    uint32
		minTTL uint32
	}

	pack  []byte // PackRR scratch
	owner []byte // canonical owner scratch
}

func newBuilder(file string) *builder {
	return &builder{
		file:    file,
		nameOff: []uint32{0},
		seed:    maphash.MakeSeed(),
		pack:    make([]byte, 64<<10+512),
		table:   make([]uint32, 1024),
		owner:   make([]byte, 0, 256),
	}
}

func (b *builder) setOrigin(wire []byte) { b.origin = wire }

// presize reserves room for a zone file of size bytes, to spare the
// copying of growing slices. Records take 25 bytes or more in a file;
// names, counted with the empty non-terminals, about 40.
func (b *builder) presize(size int64) {
	if size <= 0 || size > 1<<32 {
		return
	}
	b.recs = make([]rec, 0, size/25)
	names := int(size / 40)
	b.nameOff = make([]uint32, 1, names+1)
	b.names = make([]byte, 0, names*20)
	b.table = make([]uint32, max(len(b.table), 2*names))
}

// errAt formats a validation error at a file position.
func (b *builder) errAt(file uint16, line uint32, format string, args ...any) error {
	return fmt.Errorf("zone %s: line %d: %s", b.files.name(int(file)), line, fmt.Sprintf(format, args...))
}

// errZone formats a validation error about the zone as a whole.
func (b *builder) errZone(format string, args ...any) error {
	return fmt.Errorf("zone %s: %s", b.files.name(0), fmt.Sprintf(format, args...))
}

func (b *builder) nodeName(i uint32) []byte {
	return b.names[b.nameOff[i]:b.nameOff[i+1]]
}

// intern returns the index of the node named name (canonical wire),
// creating it when needed, and whether it did.
func (b *builder) intern(name []byte) (uint32, bool, error) {
	h := maphash.Bytes(b.seed, name)
	tag := slotTag(h)
	i := slotStart(h, len(b.table))
	for {
		s := b.table[i]
		if s == 0 {
			break
		}
		if s&^slotIndex == tag && bytes.Equal(b.nodeName(s&slotIndex-1), name) {
			return s&slotIndex - 1, false, nil
		}
		if i++; i == len(b.table) {
			i = 0
		}
	}
	n := uint32(len(b.nameOff) - 1)
	if n+1 > slotIndex {
		return 0, false, fmt.Errorf("more than %d names", slotIndex-1)
	}
	b.names = append(b.names, name...)
	b.nameOff = append(b.nameOff, uint32(len(b.names)))
	b.parent = append(b.parent, noParent)
	b.table[i] = tag | (n + 1)
	if 10*int(n+1) > 7*len(b.table) {
		b.rehash(2 * len(b.table))
	}
	return n, true, nil
}

// noParent marks a node whose parent is not known yet.
const noParent = ^uint32(0)

// lookup returns the index of the node named name, or -1.
func (b *builder) lookup(name []byte) int {
	h := maphash.Bytes(b.seed, name)
	tag := slotTag(h)
	for i := slotStart(h, len(b.table)); ; {
		s := b.table[i]
		if s == 0 {
			return -1
		}
		if s&^slotIndex == tag && bytes.Equal(b.nodeName(s&slotIndex-1), name) {
			return int(s&slotIndex - 1)
		}
		if i++; i == len(b.table) {
			i = 0
		}
	}
}

func (b *builder) rehash(size int) {
	t := make([]uint32, size)
	for n := uint32(0); n < uint32(len(b.nameOff)-1); n++ {
		h := maphash.Bytes(b.seed, b.nodeName(n))
		i := slotStart(h, size)
		for t[i] != 0 {
			if i++; i == size {
				i = 0
			}
		}
		t[i] = slotTag(h) | (n + 1)
	}
	b.table = t
}

// ancestors creates the missing nodes between node n and the apex (empty
// non-terminals, unless records come later) and records parents.
func (b *builder) ancestors(n uint32) error {
	for b.parent[n] == noParent {
		name := b.nodeName(n)
		if len(name) <= len(b.origin) {
			b.parent[n] = n // the apex is its own parent
			return nil
		}
		// intern may grow b.names; up then still points into the old,
		// unchanged array.
		up := name[1+int(name[0]):]
		p, created, err := b.intern(up)
		if err != nil {
			return err
		}
		b.parent[n] = p
		if !created {
			return nil
		}
		n = p
	}
	return nil
}

// store appends length-prefixed rdata to the chunk arena.
func (b *builder) store(rdata []byte) (off uint32, err error) {
	need := 2 + len(rdata)
	if len(b.chunks) == 0 || cap(b.chunks[len(b.chunks)-1])-len(b.chunks[len(b.chunks)-1]) < need {
		size := firstChunk
		if len(b.chunks) > 0 {
			size = min(2*cap(b.chunks[len(b.chunks)-1]), maxChunk)
		}
		size = max(size, need)
		if len(b.chunks) >= 1<<(32-chunkBits) {
			return 0, fmt.Errorf("more than 4 GiB of record data")
		}
		b.chunks = append(b.chunks, make([]byte, 0, size))
	}
	c := &b.chunks[len(b.chunks)-1]
	off = uint32(len(b.chunks)-1)<<chunkBits | uint32(len(*c))
	*c = append(*c, byte(len(rdata)>>8), byte(len(rdata)))
	*c = append(*c, rdata...)
	return off, nil
}

// rdata returns the stored rdata of r without its length prefix.
func (b *builder) rdata(r *rec) []byte {
	c, o := b.chunks[r.off>>chunkBits], int(r.off&(maxChunk-1))
	n := int(c[o])<<8 | int(c[o+1])
	return c[o+2 : o+2+n]
}

// inZone reports whether name is at or below the origin.
func (b *builder) inZone(name []byte) bool {
	return isSubdomain(name, b.origin)
}

// isSubdomain reports whether the canonical wire name is equal to or below
// parent. Both must be well-formed.
func isSubdomain(name, parent []byte) bool {
	for len(name) > len(parent) {
		name = name[1+int(name[0]):]
	}
	return bytes.Equal(name, parent)
}

// add packs one parsed record.
func (b *builder) add(rr dns.RR, file int, line int) error {
	h := rr.Header()
	f, l := uint16(file), uint32(line)
	if h.Class != dns.ClassINET {
		return b.errAt(f, l, "class %s not supported (only IN)", dns.Class(h.Class))
	}
	owner := h.Name

	var node uint32
	if len(b.recs) > 0 && owner == b.lastOwner {
		node = b.lastNode
	} else {
		n, err := dns.PackDomainName(owner, b.owner[:cap(b.owner)], 0, nil, false)
		if err != nil {
			return b.errAt(f, l, "bad owner name %s: %v", owner, err)
		}
		b.owner = b.owner[:n]
		lower(b.owner)
		if _, soa := rr.(*dns.SOA); soa && b.origin != nil && !bytes.Equal(b.owner, b.origin) {
			return b.errAt(f, l, "SOA record at %s, not at the zone apex %s", owner, nameText(string(b.origin)))
		}
		if b.origin != nil && !b.inZone(b.owner) {
			return b.errAt(f, l, "%s is out of zone %s", owner, nameText(string(b.origin)))
		}
		var created bool
		if node, created, err = b.intern(b.owner); err != nil {
			return b.errAt(f, l, "zone too large: %v", err)
		}
		if created && b.origin != nil {
			if err := b.ancestors(node); err != nil {
				return b.errAt(f, l, "zone too large: %v", err)
			}
		}
		b.lastOwner, b.lastNode = owner, node
	}

	// The owner is packed already: let PackRR pack the root instead. The
	// RR is garbage after this call.
	h.Name = "."
	end, err := dns.PackRR(rr, b.pack, 0, nil, false)
	h.Name = owner
	if err != nil {
		return b.errAt(f, l, "cannot encode %s record: %v", dns.Type(h.Rrtype), err)
	}
	rdata := b.pack[end-int(h.Rdlength) : end]

	if soa, ok := rr.(*dns.SOA); ok {
		apex := b.nodeName(node)
		switch {
		case b.origin != nil && !bytes.Equal(apex, b.origin):
			return b.errAt(f, l, "SOA record at %s, not at the zone apex %s", owner, nameText(string(b.origin)))
		case b.soa.seen:
			r := &b.recs[b.soa.rec]
			return b.errAt(f, l, "more than one SOA record (first at %s line %d)", b.files.name(int(r.file)), r.line)
		}
		if b.origin == nil {
			b.origin = append([]byte(nil), apex...)
		}
		b.soa.seen = true
		b.soa.rec = len(b.recs)
		b.soa.serial, b.soa.ttl, b.soa.minTTL = soa.Serial, h.Ttl, soa.Minttl
	}

	off, err := b.store(rdata)
	if err != nil {
		return b.errAt(f, l, "%v", err)
	}
	b.recs = append(b.recs, rec{node: node, ttl: h.Ttl, line: l, off: off, typ: h.Rrtype, file: f})
	return nil
}

// finish validates the zone as a whole and builds the compiled form.
func (b *builder) finish() (*Zone, error) {
	if len(b.recs) == 0 {
		return nil, b.errZone("empty zone file (no records)")
	}
	if !b.soa.seen {
		if b.origin != nil {
			return nil, b.errZone("no SOA record at the zone apex %s", nameText(string(b.origin)))
		}
		return nil, b.errZone("no SOA record")
	}
	// Records read before the SOA could not be checked against the origin
	// when it came from the SOA.
	for i := range b.recs[:b.soa.rec] {
		r := &b.recs[i]
		if name := b.nodeName(r.node); !b.inZone(name) {
			return nil, b.errAt(r.file, r.line, "%s is out of zone %s", nameText(string(name)), nameText(string(b.origin)))
		}
	}
	apex := uint32(b.lookup(b.origin))

	// Empty non-terminals: every name between an owner and the apex
	// exists. add has created them for owners it saw once the origin was
	// known; new nodes are appended, and so processed too.
	for n := uint32(0); n < uint32(len(b.nameOff)-1); n++ {
		if err := b.ancestors(n); err != nil {
			return nil, b.errZone("too large: %v", err)
		}
	}
	parent := b.parent
	nnodes := len(b.nameOff) - 1

	// Group records by node (counting sort, stable), then by type.
	start := make([]uint32, nnodes+1)
	for i := range b.recs {
		start[b.recs[i].node+1]++
	}
	for i := 1; i <= nnodes; i++ {
		start[i] += start[i-1]
	}
	order := make([]uint32, len(b.recs))
	fill := slices.Clone(start[:nnodes])
	for i := range b.recs {
		n := b.recs[i].node
		order[fill[n]] = uint32(i)
		fill[n]++
	}
	fill = nil
	byType := func(x, y uint32) int {
		return int(b.recs[x].typ) - int(b.recs[y].typ)
	}
	nsets := 0
	for n := 0; n < nnodes; n++ {
		recs := order[start[n]:start[n+1]]
		if !slices.IsSortedFunc(recs, byType) {
			slices.SortStableFunc(recs, byType)
		}
		for i := range recs {
			if i == 0 || b.recs[recs[i]].typ != b.recs[recs[i-1]].typ {
				nsets++
			}
		}
	}

	z := &Zone{
		File:   b.file,
		Serial: b.soa.serial,
		NegTTL: min(b.soa.ttl, b.soa.minTTL),
		seed:   b.seed,
		nodes:  make([]Node, nnodes),
		flags:  make([]uint8, nnodes),
	}
	names := string(b.names)
	b.names = nil // free the build copy at the next GC: peak memory matters on reload
	z.Origin = names[b.nameOff[apex]:b.nameOff[apex+1]]
	z.Apex = &z.nodes[apex]
	sets := make([]RRset, 0, nsets)
	var extra []byte // arena for RRsets that must be copied
	var seen map[string]struct{}
	hasDNAME := false

	for n := 0; n < nnodes; n++ {
		node := &z.nodes[n]
		node.Name = names[b.nameOff[n]:b.nameOff[n+1]]
		recs := order[start[n]:start[n+1]]
		first := len(sets)
		for i := 0; i < len(recs); {
			j := i + 1
			for j < len(recs) && b.recs[recs[j]].typ == b.recs[recs[i]].typ {
				j++
			}
			group := recs[i:j]
			i = j
			r0 := &b.recs[group[0]]
			rs := RRset{Type: r0.typ, TTL: r0.ttl}

			// Contiguous in one chunk and free of duplicates: share.
			contiguous := true
			next := r0.off
			for _, x := range group {
				r := &b.recs[x]
				if r.off != next || r.off>>chunkBits != r0.off>>chunkBits {
					contiguous = false
					break
				}
				next += 2 + uint32(len(b.rdata(r)))
			}
			dups := false
			if len(group) > 1 {
				if len(group) <= 16 {
				small:
					for x := 1; x < len(group); x++ {
						for y := 0; y < x; y++ {
							if bytes.Equal(b.rdata(&b.recs[group[x]]), b.rdata(&b.recs[group[y]])) {
								dups = true
								break small
							}
						}
					}
				} else {
					clear(seen)
					if seen == nil {
						seen = make(map[string]struct{})
					}
					for _, x := range group {
						k := string(b.rdata(&b.recs[x]))
						if _, ok := seen[k]; ok {
							dups = true
							break
						}
						seen[k] = struct{}{}
					}
				}
			}
			if contiguous && !dups {
				// The last record ends inside the chunk, so next-1 is in it.
				c := b.chunks[r0.off>>chunkBits]
				from, to := r0.off&(maxChunk-1), (next-1)&(maxChunk-1)+1
				rs.Rdata = c[from:to:to]
				rs.Count = uint16(len(group))
				if len(group) > 0xffff {
					return nil, b.errAt(r0.file, r0.line, "more than 65535 %s records at %s", dns.Type(r0.typ), nameText(node.Name))
				}
			} else {
				need := 0
				for _, x := range group {
					need += 2 + len(b.rdata(&b.recs[x]))
				}
				// Never let append move the arena: earlier RRsets keep
				// pointing into it, and a moved copy would be waste.
				if cap(extra)-len(extra) < need {
					extra = make([]byte, 0, max(maxChunk/4, need))
				}
				from := len(extra)
				count := 0
				clear(seen)
				for _, x := range group {
					rd := b.rdata(&b.recs[x])
					dup := false
					if len(group) <= 16 {
						for q := extra[from:]; len(q) >= 2; {
							m := int(q[0])<<8 | int(q[1])
							if bytes.Equal(q[2:2+m], rd) {
								dup = true
								break
							}
							q = q[2+m:]
						}
					} else {
						if seen == nil {
							seen = make(map[string]struct{})
						}
						if _, dup = seen[string(rd)]; !dup {
							seen[string(rd)] = struct{}{}
						}
					}
					if dup {
						continue
					}
					extra = append(extra, byte(len(rd)>>8), byte(len(rd)))
					extra = append(extra, rd...)
					count++
				}
				if count > 0xffff {
					return nil, b.errAt(r0.file, r0.line, "more than 65535 %s records at %s", dns.Type(r0.typ), nameText(node.Name))
				}
				rs.Rdata = extra[from:len(extra):len(extra)]
				rs.Count = uint16(count)
			}
			z.rrs += int(rs.Count)
			sets = append(sets, rs)
		}
		if len(sets) > first {
			node.RRsets = sets[first:len(sets):len(sets)]
		}
		if err := b.check(node, uint32(n) == apex, recs); err != nil {
			return nil, err
		}
		if uint32(n) != apex && node.RRset(dns.TypeNS) != nil {
			node.Cut = true
		}
		if node.RRset(dns.TypeDNAME) != nil {
			hasDNAME = true
		}
	}

	if hasDNAME {
		if err := b.checkDNAME(z, parent, apex, order, start); err != nil {
			return nil, err
		}
	}
	sec := b.dnssecInput(z, apex, order, start) // nil unless the zone is signed
	b.recs, b.nameOff, order, start = nil, nil, nil, nil

	// A node lies at or below a cut when it or an ancestor below the apex
	// is a cut. Parents may come after children in nodes, so resolve each
	// chain once, top-down.
	done := make([]bool, nnodes)
	done[apex] = true
	var chain []uint32
	for n := uint32(0); n < uint32(nnodes); n++ {
		chain = chain[:0]
		for p := n; !done[p]; p = parent[p] {
			chain = append(chain, p)
		}
		for i := len(chain) - 1; i >= 0; i-- {
			c := chain[i]
			if z.nodes[c].Cut || z.flags[parent[c]]&flagCut != 0 {
				z.flags[c] |= flagCut
			}
			done[c] = true
		}
	}

	if 10*nnodes >= 4*len(b.table) {
		z.table = b.table // dense enough: keep it
	} else {
		b.table = nil
		z.buildTable()
	}
	if sec != nil {
		sec.build(z, parent)
	}
	return z, nil
}

// check applies the per-node rules once the node's RRsets are built. recs
// are the node's records sorted by type, for positions in messages.
func (b *builder) check(node *Node, apex bool, recs []uint32) error {
	if apex && node.RRset(dns.TypeNS) == nil {
		r := &b.recs[b.soa.rec]
		return b.errAt(r.file, r.line, "no NS records at the zone apex %s", nameText(node.Name))
	}
	cname := node.RRset(dns.TypeCNAME)
	if cname == nil {
		return nil
	}
	var first, second, other *rec
	for _, x := range recs {
		r := &b.recs[x]
		switch r.typ {
		case dns.TypeCNAME:
			if first == nil {
				first = r
			} else if second == nil && cname.Count > 1 {
				second = r
			}
		case dns.TypeRRSIG, dns.TypeNSEC:
		default:
			if other == nil || r.line < other.line {
				other = r
			}
		}
	}
	if apex {
		return b.errAt(first.file, first.line, "CNAME at the zone apex %s", nameText(node.Name))
	}
	if second != nil {
		// The second distinct CNAME: skip exact duplicates of the first.
		for _, x := range recs {
			r := &b.recs[x]
			if r.typ == dns.TypeCNAME && !bytes.Equal(b.rdata(r), b.rdata(first)) {
				second = r
				break
			}
		}
		return b.errAt(second.file, second.line, "more than one CNAME record at %s (first at line %d)", nameText(node.Name), first.line)
	}
	if other != nil {
		if other.file == first.file && other.line < first.line {
			return b.errAt(first.file, first.line, "CNAME at %s beside other data (%s record at line %d)", nameText(node.Name), dns.Type(other.typ), other.line)
		}
		return b.errAt(other.file, other.line, "%s record at %s beside a CNAME (line %d)", dns.Type(other.typ), nameText(node.Name), first.line)
	}
	return nil
}

// checkDNAME rejects data below a DNAME (RFC 6672 section 2.4: a DNAME
// owner has no descendants), as NSD and Knot DNS do at load time: such data
// could never be answered. It runs only for zones that hold a DNAME.
func (b *builder) checkDNAME(z *Zone, parent []uint32, apex uint32, order, start []uint32) error {
	for n := range z.nodes {
		if len(z.nodes[n].RRsets) == 0 {
			continue
		}
		for p := uint32(n); p != apex; {
			p = parent[p]
			if z.nodes[p].RRset(dns.TypeDNAME) == nil {
				continue
			}
			r := &b.recs[order[start[n]]]
			d := r
			for _, x := range order[start[p]:start[p+1]] {
				if b.recs[x].typ == dns.TypeDNAME {
					d = &b.recs[x]
					break
				}
			}
			return b.errAt(r.file, r.line, "%s record at %s below the DNAME at %s (line %d)",
				dns.Type(r.typ), nameText(z.nodes[n].Name), nameText(z.nodes[p].Name), d.line)
		}
	}
	return nil
}
