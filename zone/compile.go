package zone

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/maphash"
	"slices"
	"strconv"
	"unsafe"
)

// The builder compiles records as they arrive (from the scanner or from
// Builder.Add): a record becomes a 20-byte rec plus its rdata in an
// append-only arena. finish then groups the recs by node and type into the
// final, immutable layout:
//
//   - one []Node for all nodes, one []RRset for all RRsets, node names as
//     substrings of one string, rdata in large shared chunks;
//   - an RRset whose records were contiguous in the input (the usual case:
//     zone files list an owner's records together) points straight into
//     the chunk its records were read into; others are copied once.
//
// So the compiled zone has no per-record heap objects and only a handful
// of allocations per zone, whatever its size.
//
// finish is a pipeline of small steps (see its body); a step that derives
// more from the zone is one more call there, as the DNSSEC indexes of a
// signed zone are (dnssec_build.go).

const (
	chunkBits  = 20
	maxChunk   = 1 << chunkBits
	firstChunk = 4 << 10
)

// rec is one record as read, before grouping.
type rec struct {
	node uint32 // index of the owner node
	ttl  uint32
	line uint32 // line in file, or record number for a Builder
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
	// files names the inputs for messages: files[0] is the top-level one.
	files []string
	// included lists the paths of $INCLUDEd files as opened.
	included []string
	// unit names what rec.line counts: "line" for files, "record" for a
	// Builder.
	unit string

	// nodes under construction: node i is named
	// names[nameOff[i]:nameOff[i+1]].
	names   []byte
	nameOff []uint32
	table   []uint32
	seed    maphash.Seed

	parent []uint32 // parent node of each node, or noParent

	recs   []rec
	chunks [][]byte

	lastOwner []byte // canonical owner of the previous record
	lastNode  uint32

	soa struct {
		seen   bool
		rec    int // index in recs
		serial uint32
		ttl    uint32
		minTTL uint32
	}

	warnings  []Warning
	nwarnings int
}

func newBuilder(file string) *builder {
	display := file
	if display == "" {
		display = "(input)"
	}
	return &builder{
		file:      file,
		files:     []string{display},
		unit:      "line",
		nameOff:   []uint32{0},
		seed:      maphash.MakeSeed(),
		table:     make([]uint32, 1024),
		lastOwner: make([]byte, 0, 256),
	}
}

func (b *builder) setOrigin(wire []byte) { b.origin = wire }

// presize reserves room for a zone file of size bytes, to spare the
// copying of growing slices (a grown slice costs its old and new copies
// at once, and peak memory matters on a reload). Records take 25 bytes or
// more in a file; names, counted with the empty non-terminals, about 36,
// and about 21 bytes each in wire form.
func (b *builder) presize(size int64) {
	if size <= 0 || size > 1<<32 {
		return
	}
	b.recs = make([]rec, 0, size/25)
	names := int(size / 36)
	b.nameOff = make([]uint32, 1, names+1)
	b.parent = make([]uint32, 0, names)
	b.names = make([]byte, 0, names*21)
	b.table = make([]uint32, max(len(b.table), 2*names))
}

// at formats a position: "FILE: line N".
func (b *builder) at(file uint16, line uint32) string {
	return b.files[file] + ": " + b.unit + " " + strconv.Itoa(int(line))
}

// ref formats a position inside a message: "line N", or "FILE line N" for
// another file than from.
func (b *builder) ref(from uint16, r *rec) string {
	if r.file != from {
		return b.files[r.file] + " " + b.unit + " " + strconv.Itoa(int(r.line))
	}
	return b.unit + " " + strconv.Itoa(int(r.line))
}

// errAt formats a validation error at a position.
func (b *builder) errAt(file uint16, line uint32, format string, args ...any) error {
	return fmt.Errorf("zone %s: %s", b.at(file, line), fmt.Sprintf(format, args...))
}

// errZone formats a validation error about the zone as a whole.
func (b *builder) errZone(format string, args ...any) error {
	return fmt.Errorf("zone %s: %s", b.files[0], fmt.Sprintf(format, args...))
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
			return 0, errors.New("more than 4 GiB of record data")
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

// add adds one record. owner is a canonical wire name (lower case); rdata
// is well-formed wire rdata of type typ, which add copies. f and l are its
// position for messages.
func (b *builder) add(owner []byte, typ uint16, ttl uint32, rdata []byte, f uint16, l uint32) error {
	var node uint32
	if len(b.recs) > 0 && bytes.Equal(owner, b.lastOwner) {
		node = b.lastNode
	} else {
		if typ == typeSOA && b.origin != nil && !bytes.Equal(owner, b.origin) {
			return b.errAt(f, l, "SOA record at %s, not at the zone apex %s", nameText(string(owner)), nameText(string(b.origin)))
		}
		if b.origin != nil && !b.inZone(owner) {
			return b.errAt(f, l, "%s is out of zone %s", nameText(string(owner)), nameText(string(b.origin)))
		}
		var created bool
		var err error
		if node, created, err = b.intern(owner); err != nil {
			return b.errAt(f, l, "zone too large: %v", err)
		}
		if created && b.origin != nil {
			if err := b.ancestors(node); err != nil {
				return b.errAt(f, l, "zone too large: %v", err)
			}
		}
		b.lastOwner = append(b.lastOwner[:0], owner...)
		b.lastNode = node
	}
	if typ == typeSOA {
		if err := b.addSOA(node, ttl, rdata, f, l); err != nil {
			return err
		}
	}
	off, err := b.store(rdata)
	if err != nil {
		return b.errAt(f, l, "%v", err)
	}
	b.recs = append(b.recs, rec{node: node, ttl: ttl, line: l, off: off, typ: typ, file: f})
	return nil
}

// addSOA notes the SOA record about to be added at node; the first one
// sets the origin when none was given.
func (b *builder) addSOA(node, ttl uint32, rdata []byte, f uint16, l uint32) error {
	apex := b.nodeName(node)
	if b.origin != nil && !bytes.Equal(apex, b.origin) {
		return b.errAt(f, l, "SOA record at %s, not at the zone apex %s", nameText(string(apex)), nameText(string(b.origin)))
	}
	if b.soa.seen {
		r := &b.recs[b.soa.rec]
		return b.errAt(f, l, "more than one SOA record (first at %s)", b.files[r.file]+" "+b.unit+" "+strconv.Itoa(int(r.line)))
	}
	if len(rdata) < 20 {
		return b.errAt(f, l, "bad SOA record: rdata too short")
	}
	if b.origin == nil {
		b.origin = append([]byte(nil), apex...)
		// Nodes created so far have no parents yet: finish links them.
	}
	b.soa.seen = true
	b.soa.rec = len(b.recs)
	b.soa.ttl = ttl
	b.soa.serial = binary.BigEndian.Uint32(rdata[len(rdata)-20:])
	b.soa.minTTL = binary.BigEndian.Uint32(rdata[len(rdata)-4:])
	return nil
}

// grouping is the records of the zone grouped by node and, within a node,
// sorted by type (stably: input order within a type).
type grouping struct {
	order []uint32 // indexes into recs
	start []uint32 // node n's records are order[start[n]:start[n+1]]
	sets  int      // number of (node, type) groups
}

func (g *grouping) node(n int) []uint32 { return g.order[g.start[n]:g.start[n+1]] }

// finish validates the zone as a whole and builds the compiled form.
func (b *builder) finish() (*Zone, error) {
	if err := b.checkSOA(); err != nil {
		return nil, err
	}
	if err := b.completeTree(); err != nil {
		return nil, err
	}
	// Each build temporary is dropped as soon as it has served: on a
	// reload the old zone is live too, and the peak is what counts.
	apex := uint32(b.lookup(b.origin))
	b.table = nil
	g := b.group()
	z := b.newZone(apex)
	b.nameOff = nil
	if err := b.buildNodes(z, g, apex); err != nil {
		return nil, err
	}
	if err := b.checkDNAME(z, g, apex); err != nil {
		return nil, err
	}
	// A signed zone's checks report positions: its records stay until
	// they have run (dnssec_build.go).
	sec := b.dnssecInput(z, g, apex) // nil unless the zone is signed
	b.recs, g = nil, nil
	b.markCuts(z, apex)
	z.buildTable()
	// Indexes derived from the finished zone are one more step here.
	if sec != nil {
		sec.build(z, b.parent)
	}
	b.parent = nil
	z.warnings, z.nwarnings = b.warnings, b.nwarnings
	return z, nil
}

// checkSOA checks what can only be checked once every record is in: that
// there is an SOA, and that records read before it (when it gave the
// origin) are in the zone.
func (b *builder) checkSOA() error {
	if len(b.recs) == 0 {
		if b.unit == "line" {
			return b.errZone("empty zone file (no records)")
		}
		return b.errZone("empty zone (no records)")
	}
	if !b.soa.seen {
		if b.origin != nil {
			return b.errZone("no SOA record at the zone apex %s", nameText(string(b.origin)))
		}
		return b.errZone("no SOA record")
	}
	for i := range b.recs[:b.soa.rec] {
		r := &b.recs[i]
		if name := b.nodeName(r.node); !b.inZone(name) {
			return b.errAt(r.file, r.line, "%s is out of zone %s", nameText(string(name)), nameText(string(b.origin)))
		}
	}
	return nil
}

// completeTree creates the empty non-terminals: every name between an
// owner and the apex exists. add has created them for owners it saw once
// the origin was known; new nodes are appended, and so processed too.
func (b *builder) completeTree() error {
	for n := uint32(0); n < uint32(len(b.nameOff)-1); n++ {
		if err := b.ancestors(n); err != nil {
			return b.errZone("too large: %v", err)
		}
	}
	return nil
}

// group sorts the records by node (counting sort, stable), then by type.
func (b *builder) group() *grouping {
	nnodes := len(b.nameOff) - 1
	g := &grouping{start: make([]uint32, nnodes+1), order: make([]uint32, len(b.recs))}
	for i := range b.recs {
		g.start[b.recs[i].node+1]++
	}
	for i := 1; i <= nnodes; i++ {
		g.start[i] += g.start[i-1]
	}
	fill := slices.Clone(g.start[:nnodes])
	for i := range b.recs {
		n := b.recs[i].node
		g.order[fill[n]] = uint32(i)
		fill[n]++
	}
	byType := func(x, y uint32) int {
		return int(b.recs[x].typ) - int(b.recs[y].typ)
	}
	for n := range nnodes {
		recs := g.node(n)
		if !slices.IsSortedFunc(recs, byType) {
			slices.SortStableFunc(recs, byType)
		}
		for i := range recs {
			if i == 0 || b.recs[recs[i]].typ != b.recs[recs[i-1]].typ {
				g.sets++
			}
		}
	}
	return g
}

// newZone allocates the zone's nodes and moves the names into one string.
func (b *builder) newZone(apex uint32) *Zone {
	nnodes := len(b.nameOff) - 1
	z := &Zone{
		File:   b.file,
		Serial: b.soa.serial,
		NegTTL: min(b.soa.ttl, b.soa.minTTL),
		seed:   b.seed,
		nodes:  make([]Node, nnodes),
		flags:  make([]uint8, nnodes),
	}
	names := b.nameString()
	for n := range z.nodes {
		z.nodes[n].Name = names[b.nameOff[n]:b.nameOff[n+1]]
	}
	z.Origin = z.nodes[apex].Name
	z.Apex = &z.nodes[apex]
	return z
}

// nameString turns the node names into the one string the nodes' names
// are substrings of. When the build buffer is nearly full it becomes that
// string without a copy (peak memory matters on a reload, where the old
// zone is live too); the builder never writes to it again.
func (b *builder) nameString() string {
	buf := b.names
	b.names = nil
	if len(buf) == 0 {
		return ""
	}
	if cap(buf)-len(buf) > len(buf)/8 {
		return string(buf) // too much slack to keep
	}
	return unsafe.String(unsafe.SliceData(buf), len(buf))
}

// rrsetBuilder holds the state shared by the RRsets of one zone.
type rrsetBuilder struct {
	sets  []RRset
	extra []byte // arena for RRsets that must be copied
	seen  map[string]struct{}
}

// buildNodes builds every node's RRsets and checks each node.
func (b *builder) buildNodes(z *Zone, g *grouping, apex uint32) error {
	rb := &rrsetBuilder{sets: make([]RRset, 0, g.sets)}
	for n := range z.nodes {
		node := &z.nodes[n]
		recs := g.node(n)
		first := len(rb.sets)
		for i := 0; i < len(recs); {
			j := i + 1
			for j < len(recs) && b.recs[recs[j]].typ == b.recs[recs[i]].typ {
				j++
			}
			rs, err := b.rrset(rb, node, recs[i:j])
			if err != nil {
				return err
			}
			z.rrs += int(rs.Count)
			rb.sets = append(rb.sets, rs)
			i = j
		}
		if len(rb.sets) > first {
			node.RRsets = rb.sets[first:len(rb.sets):len(rb.sets)]
		}
		if err := b.check(node, uint32(n) == apex, recs); err != nil {
			return err
		}
		b.checkSigTTLs(node, recs)
		if uint32(n) != apex && node.RRset(typeNS) != nil {
			node.Cut = true
		}
	}
	return nil
}

// rrset builds the RRset of one node and type from its records (in input
// order), removing exact duplicates and warning of TTLs that differ from
// the first record's, which the RRset takes (RFC 2181 section 5.2).
func (b *builder) rrset(rb *rrsetBuilder, node *Node, group []uint32) (RRset, error) {
	r0 := &b.recs[group[0]]
	rs := RRset{Type: r0.typ, TTL: r0.ttl}
	for _, x := range group[1:] {
		// RRSIGs take the TTL of the RRset each covers: checkSigTTLs.
		if r := &b.recs[x]; r.ttl != r0.ttl && !isSig(r.typ) {
			b.warn(r.file, r.line, "TTL %d of this %s record at %s differs from the TTL %d of its RRset (%s); the RRset is served with %d",
				r.ttl, TypeText(r.typ), nameText(node.Name), r0.ttl, b.ref(r.file, r0), r0.ttl)
		}
	}
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
	if contiguous && !b.hasDuplicates(rb, group) {
		if len(group) > 0xffff {
			return rs, b.errAt(r0.file, r0.line, "more than 65535 %s records at %s", TypeText(r0.typ), nameText(node.Name))
		}
		// The last record ends inside the chunk, so next-1 is in it.
		c := b.chunks[r0.off>>chunkBits]
		from, to := r0.off&(maxChunk-1), (next-1)&(maxChunk-1)+1
		rs.Rdata = c[from:to:to]
		rs.Count = uint16(len(group))
		return rs, nil
	}
	need := 0
	for _, x := range group {
		need += 2 + len(b.rdata(&b.recs[x]))
	}
	// Never let append move the arena: earlier RRsets keep pointing into
	// it, and a moved copy would be waste.
	if cap(rb.extra)-len(rb.extra) < need {
		rb.extra = make([]byte, 0, max(maxChunk/4, need))
	}
	from := len(rb.extra)
	count := 0
	clear(rb.seen)
	for _, x := range group {
		rd := b.rdata(&b.recs[x])
		dup := false
		if len(group) <= 16 {
			for q := rb.extra[from:]; len(q) >= 2; {
				m := int(q[0])<<8 | int(q[1])
				if bytes.Equal(q[2:2+m], rd) {
					dup = true
					break
				}
				q = q[2+m:]
			}
		} else {
			if rb.seen == nil {
				rb.seen = make(map[string]struct{})
			}
			if _, dup = rb.seen[string(rd)]; !dup {
				rb.seen[string(rd)] = struct{}{}
			}
		}
		if dup {
			continue
		}
		rb.extra = append(rb.extra, byte(len(rd)>>8), byte(len(rd)))
		rb.extra = append(rb.extra, rd...)
		count++
	}
	if count > 0xffff {
		return rs, b.errAt(r0.file, r0.line, "more than 65535 %s records at %s", TypeText(r0.typ), nameText(node.Name))
	}
	rs.Rdata = rb.extra[from:len(rb.extra):len(rb.extra)]
	rs.Count = uint16(count)
	return rs, nil
}

// isSig reports whether t is RRSIG or SIG, whose records at one owner
// cover different types and so may have different TTLs.
func isSig(t uint16) bool { return t == typeRRSIG || t == typeSIG }

// checkSigTTLs warns of RRSIG records whose TTL is not that of the RRset
// they cover (RFC 4034 section 3).
func (b *builder) checkSigTTLs(node *Node, recs []uint32) {
	for _, x := range recs {
		r := &b.recs[x]
		if r.typ != typeRRSIG {
			continue
		}
		rd := b.rdata(r)
		covered := uint16(rd[0])<<8 | uint16(rd[1])
		if rs := node.RRset(covered); rs != nil && rs.TTL != r.ttl {
			b.warn(r.file, r.line, "TTL %d of this RRSIG record at %s differs from the TTL %d of the %s RRset it covers (RFC 4034 section 3)",
				r.ttl, nameText(node.Name), rs.TTL, TypeText(covered))
		}
	}
}

// hasDuplicates reports whether two records of group have the same rdata.
func (b *builder) hasDuplicates(rb *rrsetBuilder, group []uint32) bool {
	if len(group) < 2 {
		return false
	}
	if len(group) <= 16 {
		for x := 1; x < len(group); x++ {
			for y := 0; y < x; y++ {
				if bytes.Equal(b.rdata(&b.recs[group[x]]), b.rdata(&b.recs[group[y]])) {
					return true
				}
			}
		}
		return false
	}
	clear(rb.seen)
	if rb.seen == nil {
		rb.seen = make(map[string]struct{})
	}
	for _, x := range group {
		k := string(b.rdata(&b.recs[x]))
		if _, ok := rb.seen[k]; ok {
			return true
		}
		rb.seen[k] = struct{}{}
	}
	return false
}

// markCuts flags the nodes that lie at or below a cut: those that are a
// cut or have an ancestor below the apex that is. Parents may come after
// children in nodes, so each chain is resolved once, top-down.
func (b *builder) markCuts(z *Zone, apex uint32) {
	parent := b.parent
	done := make([]bool, len(z.nodes))
	done[apex] = true
	var chain []uint32
	for n := range uint32(len(z.nodes)) {
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
}

// check applies the per-node rules once the node's RRsets are built. recs
// are the node's records sorted by type, for positions in messages.
func (b *builder) check(node *Node, apex bool, recs []uint32) error {
	if apex && node.RRset(typeNS) == nil {
		r := &b.recs[b.soa.rec]
		return b.errAt(r.file, r.line, "the zone apex %s has no NS records (a zone needs NS records at its apex)", nameText(node.Name))
	}
	cname := node.RRset(typeCNAME)
	if cname == nil {
		return nil
	}
	var first, second, other *rec
	for _, x := range recs {
		r := &b.recs[x]
		switch r.typ {
		case typeCNAME:
			if first == nil {
				first = r
			} else if second == nil && cname.Count > 1 {
				second = r
			}
		case typeRRSIG, typeNSEC:
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
			if r.typ == typeCNAME && !bytes.Equal(b.rdata(r), b.rdata(first)) {
				second = r
				break
			}
		}
		return b.errAt(second.file, second.line, "more than one CNAME record at %s (first at %s)", nameText(node.Name), b.ref(second.file, first))
	}
	if other != nil {
		if other.file == first.file && other.line < first.line {
			return b.errAt(first.file, first.line, "CNAME at %s beside other data (%s record at %s)", nameText(node.Name), TypeText(other.typ), b.ref(first.file, other))
		}
		return b.errAt(other.file, other.line, "%s record at %s beside a CNAME (%s)", TypeText(other.typ), nameText(node.Name), b.ref(other.file, first))
	}
	return nil
}

// checkDNAME rejects data below a DNAME (RFC 6672 section 2.4: a DNAME
// owner has no descendants), as NSD and Knot DNS do at load time: such data
// could never be answered.
func (b *builder) checkDNAME(z *Zone, g *grouping, apex uint32) error {
	has := false
	for n := range z.nodes {
		if z.nodes[n].RRset(typeDNAME) != nil {
			has = true
			break
		}
	}
	if !has {
		return nil
	}
	for n := range z.nodes {
		if len(z.nodes[n].RRsets) == 0 {
			continue
		}
		for p := uint32(n); p != apex; {
			p = b.parent[p]
			if z.nodes[p].RRset(typeDNAME) == nil {
				continue
			}
			r := &b.recs[g.order[g.start[n]]]
			d := r
			for _, x := range g.node(int(p)) {
				if b.recs[x].typ == typeDNAME {
					d = &b.recs[x]
					break
				}
			}
			return b.errAt(r.file, r.line, "%s record at %s below the DNAME at %s (%s)",
				TypeText(r.typ), nameText(z.nodes[n].Name), nameText(z.nodes[p].Name), b.ref(r.file, d))
		}
	}
	return nil
}
