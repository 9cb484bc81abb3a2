package dnswire

// Sections of a message, in the order records must be added.
const (
	Question   Section = 0
	Answer     Section = 1
	Authority  Section = 2
	Additional Section = 3
)

// compTableSize bounds the compression table. When it is full, further
// names are written uncompressed past the known suffixes: still correct,
// only larger. 128 suffixes cover far more than a UDP response.
const compTableSize = 128

// compEntry records where a name suffix starts in the message.
type compEntry struct {
	off uint16 // offset of the suffix's first label (< 0x4000)
	rem uint16 // uncompressed length of the suffix, root label included
}

// Builder appends a DNS message to a caller-owned buffer, compressing
// names (RFC 1035 4.1.4) against the names already written. Records are
// added section by section; Mark and Rollback cut a message back to a
// record boundary, which is how responses are truncated.
//
// A Builder holds its compression table inline and never allocates, except
// that appending grows the buffer when its capacity is below the limit.
// The zero value must be initialised with Start before use.
type Builder struct {
	buf    []byte
	limit  int
	owner  int // where the last record's owner name can be pointed at
	counts [4]uint16
	sec    Section
	ncomp  int
	comp   [compTableSize]compEntry
}

// Mark is a record boundary of a Builder's message.
type Mark struct {
	n      int
	counts [4]uint16
	sec    Section
	ncomp  int
}

// Start begins a message in dst[:0] with the given ID and header flags.
// Records are refused once the message would exceed limit octets (the
// header and question are always written).
func (b *Builder) Start(dst []byte, id, flags uint16, limit int) {
	b.buf = append(dst[:0], byte(id>>8), byte(id), byte(flags>>8), byte(flags), 0, 0, 0, 0, 0, 0, 0, 0)
	b.limit = limit
	b.counts = [4]uint16{}
	b.sec = Question
	b.ncomp = 0
	b.owner = 0
}

// Flags returns the header flags written so far.
func (b *Builder) Flags() uint16 { return u16(b.buf[2:]) }

// SetFlags replaces the header flags.
func (b *Builder) SetFlags(flags uint16) { b.buf[2], b.buf[3] = byte(flags>>8), byte(flags) }

// Len returns the message's current length.
func (b *Builder) Len() int { return len(b.buf) }

// Limit returns the size limit for records.
func (b *Builder) Limit() int { return b.limit }

// SetLimit changes the size limit for records added from now on.
func (b *Builder) SetLimit(limit int) { b.limit = limit }

// Count returns the number of records in section sec.
func (b *Builder) Count(sec Section) int { return int(b.counts[sec]) }

// Bytes returns the message as written so far (counts not yet in the
// header until Finish). It aliases the Builder's buffer.
func (b *Builder) Bytes() []byte { return b.buf }

// Len returns the message length at the mark.
func (m Mark) Len() int { return m.n }

// Mark returns the current record boundary.
func (b *Builder) Mark() Mark {
	return Mark{n: len(b.buf), counts: b.counts, sec: b.sec, ncomp: b.ncomp}
}

// Rollback removes everything added after m.
func (b *Builder) Rollback(m Mark) {
	b.buf = b.buf[:m.n]
	b.counts = m.counts
	b.sec = m.sec
	b.ncomp = m.ncomp
}

// Question appends the question entry q (an uncompressed name, type and
// class, e.g. Query.Question) as received and makes its name available for
// compression. It must be called before any record is added.
func (b *Builder) Question(q []byte) {
	off := len(b.buf)
	b.buf = append(b.buf, q...)
	b.counts[Question]++
	if n := NameLen(q); n > 0 {
		b.register(off, n)
	}
}

// Finish writes the section counts into the header and returns the message.
func (b *Builder) Finish() []byte {
	for i, c := range b.counts {
		b.buf[4+2*i] = byte(c >> 8)
		b.buf[5+2*i] = byte(c)
	}
	return b.buf
}

// AddRR appends a record owned by the uncompressed name owner to section
// sec. It reports false, and adds nothing, if the record would not fit
// under the limit, if sec precedes the current section, or if owner is
// not a valid name. Names in rdata are compressed only for the RFC 1035
// types (see CompressibleRdata); other rdata is copied as is.
func (b *Builder) AddRR(sec Section, owner []byte, typ, class uint16, ttl uint32, rdata []byte) bool {
	n := NameLen(owner)
	if n < 0 || n != len(owner) {
		return false
	}
	return b.addRR(sec, owner, 0, typ, class, ttl, rdata)
}

// AddRRAt is AddRR with the owner given as a compression pointer to an
// earlier name in the message (for example 12, the question name).
func (b *Builder) AddRRAt(sec Section, ownerOff int, typ, class uint16, ttl uint32, rdata []byte) bool {
	if ownerOff < HeaderLen || ownerOff >= len(b.buf) || ownerOff >= 0x4000 {
		return false
	}
	return b.addRR(sec, nil, ownerOff, typ, class, ttl, rdata)
}

func (b *Builder) addRR(sec Section, owner []byte, ownerOff int, typ, class uint16, ttl uint32, rdata []byte) bool {
	if sec < b.sec || sec < Answer || sec > Additional || len(rdata) > 0xFFFF {
		return false
	}
	// Cheap upper bound first; compute the exact compressed size only when
	// that bound does not fit, so that we never append past the limit
	// (which could grow the caller's buffer) and never refuse a record
	// that fits.
	upper := len(owner) + 2 + 10 + len(rdata)
	if len(b.buf)+upper > b.limit && len(b.buf)+b.estimate(owner, typ, rdata) > b.limit {
		return false
	}
	m := b.Mark()
	ownerAt := ownerOff
	if owner == nil {
		b.buf = append(b.buf, 0xC0|byte(ownerOff>>8), byte(ownerOff))
	} else {
		ownerAt = b.writeName(owner, false)
	}
	b.buf = append(b.buf, byte(typ>>8), byte(typ), byte(class>>8), byte(class),
		byte(ttl>>24), byte(ttl>>16), byte(ttl>>8), byte(ttl), 0, 0)
	rdStart := len(b.buf)
	if !CompressibleRdata(typ) {
		b.buf = append(b.buf, rdata...)
		b.rdataNames(typ, rdStart)
	} else if !b.writeRdataNames(typ, rdata) {
		b.buf = append(b.buf[:rdStart], rdata...)
	}
	rdlen := len(b.buf) - rdStart
	if len(b.buf) > b.limit || rdlen > 0xFFFF {
		b.Rollback(m)
		return false
	}
	b.buf[rdStart-2], b.buf[rdStart-1] = byte(rdlen>>8), byte(rdlen)
	b.sec = sec
	b.counts[sec]++
	b.owner = ownerAt
	return true
}

// LastOwner returns an offset that AddRRAt can use to give the next record
// the owner of the last record added (so the records of an RRset compress
// their owner once), or 0 when there is none (call AddRR then).
func (b *Builder) LastOwner() int {
	if b.owner >= 0x4000 {
		return 0
	}
	return b.owner
}

// estimate returns the exact size addRR writes for the record, as long as
// the compression table has room: names are compressed against the table
// and against the names written before them in the same record.
func (b *Builder) estimate(owner []byte, typ uint16, rdata []byte) int {
	n := 2 + 10
	if owner != nil {
		n = b.compressedLen(owner, nil, nil) + 10
	}
	if !CompressibleRdata(typ) {
		return n + len(rdata)
	}
	fixed, names := rdataLayout(typ)
	rest := rdata
	var prev []byte
	total := 0
	for i := 0; i < names; i++ {
		if len(rest) < fixed[i] {
			return n + len(rdata)
		}
		total += fixed[i]
		rest = rest[fixed[i]:]
		l := NameLen(rest)
		if l < 0 {
			return n + len(rdata)
		}
		total += b.compressedLen(rest[:l], owner, prev)
		prev = rest[:l]
		rest = rest[l:]
	}
	if !rdataTailOK(typ, rest) {
		return n + len(rdata) // written as stored
	}
	return n + total + len(rest)
}

// rdataTailOK reports whether rest, what follows the names of a
// compressible type's rdata, has the expected length.
func rdataTailOK(typ uint16, rest []byte) bool {
	if typ == TypeSOA {
		return len(rest) == 20
	}
	return len(rest) == 0
}

// rdataLayout describes the compressible types: the number of names and
// the fixed octets before each of them.
func rdataLayout(typ uint16) (fixed [2]int, names int) {
	switch typ {
	case TypeSOA, TypeMINFO:
		return [2]int{0, 0}, 2
	case TypeMX:
		return [2]int{2, 0}, 1
	}
	return [2]int{0, 0}, 1
}

// rdataNames lowercases the names inside the rdata just written at
// rdStart for the types of RFC 4034 section 6.2 whose names must not be
// compressed (RFC 3597 section 4), and makes them available as
// compression targets: a later name may still point at them (Knot DNS
// does so, e.g. for the owner of an SRV target's address). Rdata that
// does not have the type's layout is left alone.
//
// NSD and Knot DNS both send these names in lower case whatever the zone
// file says (they keep the case of owner names and of other rdata); the
// names of the RFC 1035 types get the same treatment in writeName.
func (b *Builder) rdataNames(typ uint16, rdStart int) {
	rd := b.buf[rdStart:]
	var at [2]int // offsets of the names in rd
	n := 0
	switch typ {
	case TypeSRV:
		at[0], n = 6, 1 // priority, weight, port
	case TypeAFSDB, TypeRT, TypeKX:
		at[0], n = 2, 1 // subtype or preference
	case TypeDNAME:
		at[0], n = 0, 1
	case TypeRP:
		at[0], n = 0, 2
	case TypePX:
		at[0], n = 2, 2
	case TypeNAPTR:
		// order, preference, then flags, services and regexp as
		// character-strings, then the replacement name.
		i := 4
		for k := 0; k < 3 && i < len(rd); k++ {
			i += 1 + int(rd[i])
		}
		at[0], n = i, 1
	default:
		return
	}
	// Check the whole layout before changing anything.
	end := at[0]
	for k := 0; k < n; k++ {
		if end > len(rd) {
			return
		}
		l := NameLen(rd[end:])
		if l < 0 {
			return
		}
		if k+1 < n {
			at[k+1] = end + l
		}
		end += l
	}
	if end != len(rd) {
		return
	}
	for k := 0; k < n; k++ {
		l := NameLen(rd[at[k]:])
		for i := at[k]; i < at[k]+l; i++ {
			rd[i] = lower(rd[i])
		}
		b.register(rdStart+at[k], l)
	}
}

// writeRdataNames appends rdata with its names compressed and reports
// whether rdata had the expected layout; if not, the caller copies it.
func (b *Builder) writeRdataNames(typ uint16, rdata []byte) bool {
	fixed, names := rdataLayout(typ)
	start := len(b.buf)
	ncomp := b.ncomp
	rest := rdata
	for i := 0; i < names; i++ {
		l := NameLen(rest[min(fixed[i], len(rest)):])
		if len(rest) < fixed[i] || l < 0 {
			b.buf, b.ncomp = b.buf[:start], ncomp
			return false
		}
		b.buf = append(b.buf, rest[:fixed[i]]...)
		rest = rest[fixed[i]:]
		b.writeName(rest[:l], true)
		rest = rest[l:]
	}
	if !rdataTailOK(typ, rest) {
		b.buf, b.ncomp = b.buf[:start], ncomp
		return false
	}
	b.buf = append(b.buf, rest...)
	return true
}

// writeName appends the valid uncompressed name, replacing its longest
// suffix already in the message by a pointer, and registers the suffixes
// it writes out. It returns the offset of a copy of the name in the
// message (the name itself, or what its leading pointer points to). With
// lowerCase the labels written out are lower-cased (names in rdata, see
// rdataNames); owner names are written as given.
func (b *Builder) writeName(name []byte, lowerCase bool) int {
	start := len(b.buf)
	i := 0
	for name[i] != 0 {
		if off, ok := b.find(name[i:]); ok {
			b.appendLabels(name[:i], lowerCase)
			b.buf = append(b.buf, 0xC0|byte(off>>8), byte(off))
			b.registerPrefix(start, name, i)
			if i == 0 {
				return off
			}
			return start
		}
		i += 1 + int(name[i])
	}
	b.appendLabels(name, lowerCase)
	b.registerPrefix(start, name, len(name)-1)
	return start
}

// appendLabels appends the wire-format labels s, lower-cased when
// lowerCase is set. Length octets (at most 63) are never changed by
// lower-casing.
func (b *Builder) appendLabels(s []byte, lowerCase bool) {
	n := len(b.buf)
	buf := append(b.buf, s...)
	if lowerCase {
		t := buf[n:]
		for i, c := range t {
			if c-'A' < 26 {
				t[i] = c + ('a' - 'A')
			}
		}
	}
	b.buf = buf
}

// compressedLen returns how long writeName would make name after the
// names a and b (either may be nil) were written.
func (b *Builder) compressedLen(name, a, c []byte) int {
	i := 0
	for name[i] != 0 {
		s := name[i:]
		if _, ok := b.find(s); ok || hasSuffix(a, s) || hasSuffix(c, s) {
			return i + 2
		}
		i += 1 + int(name[i])
	}
	return len(name)
}

// hasSuffix reports whether the uncompressed name s is a label-aligned
// suffix of the uncompressed name n, ignoring ASCII case.
func hasSuffix(n, s []byte) bool {
	for i := 0; i < len(n) && len(n)-i >= len(s); i += 1 + int(n[i]) {
		if len(n)-i == len(s) {
			for j := range s {
				if lower(n[i+j]) != lower(s[j]) {
					return false
				}
			}
			return true
		}
		if n[i] == 0 {
			break
		}
	}
	return false
}

// registerPrefix registers the labels of name before end, written at start.
func (b *Builder) registerPrefix(start int, name []byte, end int) {
	for i := 0; i < end; i += 1 + int(name[i]) {
		b.add(start+i, len(name)-i)
	}
}

// register registers every non-root suffix of the uncompressed name of
// length n at off in the message.
func (b *Builder) register(off, n int) {
	for i := 0; i < n-1; i += 1 + int(b.buf[off+i]) {
		b.add(off+i, n-i)
	}
}

func (b *Builder) add(off, rem int) {
	if off >= 0x4000 || b.ncomp == compTableSize {
		return
	}
	b.comp[b.ncomp] = compEntry{off: uint16(off), rem: uint16(rem)}
	b.ncomp++
}

// find returns the offset of a name in the message equal (ignoring ASCII
// case) to the uncompressed suffix s.
func (b *Builder) find(s []byte) (int, bool) {
	for _, e := range b.comp[:b.ncomp] {
		if int(e.rem) == len(s) && b.equalAt(int(e.off), s) {
			return int(e.off), true
		}
	}
	return 0, false
}

// equalAt compares the (possibly compressed) name at off in the message
// with the uncompressed name s, ignoring ASCII case.
func (b *Builder) equalAt(off int, s []byte) bool {
	msg := b.buf
	i := 0
	for hops := 0; hops < maxPtrHops; {
		if off >= len(msg) || i >= len(s) {
			return false
		}
		l := int(msg[off])
		if l&0xC0 == 0xC0 {
			if off+1 >= len(msg) {
				return false
			}
			off = (l&0x3F)<<8 | int(msg[off+1])
			hops++
			continue
		}
		if int(s[i]) != l {
			return false
		}
		if l == 0 {
			return true
		}
		if off+1+l > len(msg) || i+1+l > len(s) {
			return false
		}
		for j := 1; j <= l; j++ {
			if lower(msg[off+j]) != lower(s[i+j]) {
				return false
			}
		}
		off += 1 + l
		i += 1 + l
	}
	return false
}

// OPTLen returns the size of the OPT record AddOPT writes for an NSID of
// length nsidLen (0 for none). An Extended DNS Error option (AddOPTEDE)
// adds EDELen octets.
func OPTLen(nsidLen int) int {
	if nsidLen > 0 {
		return optFixedLen + optionHdrLen + nsidLen
	}
	return optFixedLen
}

// EDELen is the size of an Extended DNS Error option without extra text,
// as AddOPTEDE writes it.
const EDELen = optionHdrLen + 2

// AddOPT appends an OPT record (RFC 6891) to the additional section,
// ignoring the limit: callers reserve OPTLen octets when they set it. The
// NSID option is included when nsid is non-empty.
func (b *Builder) AddOPT(udpSize uint16, extRcode uint8, flags uint16, nsid []byte) {
	b.AddOPTEDE(udpSize, extRcode, flags, nsid, EDENone)
}

// AddOPTEDE is AddOPT with an Extended DNS Error option (RFC 8914) of
// info-code ede and no extra text, unless ede is EDENone. The option adds
// EDELen octets beyond OPTLen.
func (b *Builder) AddOPTEDE(udpSize uint16, extRcode uint8, flags uint16, nsid []byte, ede EDE) {
	b.buf = AppendOPTEDE(b.buf, udpSize, extRcode, flags, nsid, ede)
	b.sec = Additional
	b.counts[Additional]++
}

// AppendOPT appends an OPT record (RFC 6891) with EDNS version 0 to msg:
// the payload size, the upper bits of the extended rcode, the flags (DO)
// and, when nsid is non-empty, an NSID option. Callers count it in ARCOUNT.
func AppendOPT(msg []byte, udpSize uint16, extRcode uint8, flags uint16, nsid []byte) []byte {
	return AppendOPTEDE(msg, udpSize, extRcode, flags, nsid, EDENone)
}

// AppendOPTEDE is AppendOPT with an Extended DNS Error option (RFC 8914)
// of info-code ede and no extra text after the NSID option, unless ede is
// EDENone (or outside 0..65535).
func AppendOPTEDE(msg []byte, udpSize uint16, extRcode uint8, flags uint16, nsid []byte, ede EDE) []byte {
	withEDE := ede >= 0 && ede <= 0xFFFF
	rdlen := 0
	if len(nsid) > 0 {
		rdlen = optionHdrLen + len(nsid)
	}
	if withEDE {
		rdlen += EDELen
	}
	msg = append(msg, 0, byte(TypeOPT>>8), byte(TypeOPT), byte(udpSize>>8), byte(udpSize),
		extRcode, 0, byte(flags>>8), byte(flags), byte(rdlen>>8), byte(rdlen))
	if len(nsid) > 0 {
		msg = append(msg, byte(OptionNSID>>8), byte(OptionNSID), byte(len(nsid)>>8), byte(len(nsid)))
		msg = append(msg, nsid...)
	}
	if withEDE {
		msg = append(msg, byte(OptionEDE>>8), byte(OptionEDE), 0, 2, byte(ede>>8), byte(ede))
	}
	return msg
}

// AppendSections appends pre-encoded answer, authority and additional
// records (for example a cached copy of an earlier response's sections)
// and adds their counts. The compression table is not updated, so only
// AddOPT may follow.
func (b *Builder) AppendSections(data []byte, an, ns, ar uint16) {
	b.buf = append(b.buf, data...)
	b.counts[Answer] += an
	b.counts[Authority] += ns
	b.counts[Additional] += ar
	b.sec = Additional
	b.ncomp = 0
}
