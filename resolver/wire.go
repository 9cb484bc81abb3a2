package resolver

import (
	"errors"

	"github.com/tapdns/tapdns/dnswire"
)

// rr is one record of a parsed response. Names are canonical and
// uncompressed, in rdata too (for the types whose rdata holds names).
type rr struct {
	name  []byte
	typ   uint16
	class uint16
	ttl   uint32
	data  []byte
}

// msg is a parsed response. Its slices point into memory of its own, not
// into the message it was parsed from.
type msg struct {
	id     uint16
	flags  uint16
	rcode  dnswire.Rcode // extended with the OPT's upper bits
	qname  []byte
	qtype  uint16
	qclass uint16
	qd     int // questions (0 or 1)
	an     []rr
	ns     []rr
	ar     []rr
	edns   bool

	arena []byte
}

func (m *msg) aa() bool { return m.flags&dnswire.FlagAA != 0 }
func (m *msg) tc() bool { return m.flags&dnswire.FlagTC != 0 }

// Errors of parseMsg.
var (
	errShort     = errors.New("message shorter than its header")
	errNotResp   = errors.New("not a response")
	errQuestions = errors.New("more than one question")
	errName      = errors.New("malformed name")
	errTruncRR   = errors.New("record runs past the message")
	errRdata     = errors.New("malformed rdata")
	errOPT       = errors.New("misplaced or repeated OPT")
)

// parseMsg parses the response b into m. It never reads outside b. A
// response may carry no question only when its rcode is not NOERROR
// (some servers answer FORMERR that way).
func parseMsg(b []byte, m *msg) error {
	*m = msg{}
	if len(b) < dnswire.HeaderLen {
		return errShort
	}
	m.id = u16(b)
	m.flags = u16(b[2:])
	m.rcode = dnswire.FlagsRcode(m.flags)
	if m.flags&dnswire.FlagQR == 0 {
		return errNotResp
	}
	qd, an, ns, ar := int(u16(b[4:])), int(u16(b[6:])), int(u16(b[8:])), int(u16(b[10:]))
	if qd > 1 {
		return errQuestions
	}
	// Every record takes at least 11 octets: bound the work and the
	// slices by the message, not by the counts.
	if (an+ns+ar)*11 > len(b) {
		return errTruncRR
	}
	m.arena = make([]byte, 0, 2*len(b)+256)
	off := dnswire.HeaderLen
	if qd == 1 {
		var name []byte
		var err error
		name, off, err = m.readName(b, off)
		if err != nil {
			return err
		}
		if off+4 > len(b) {
			return errTruncRR
		}
		m.qname, m.qtype, m.qclass, m.qd = name, u16(b[off:]), u16(b[off+2:]), 1
		off += 4
	}
	var err error
	if m.an, off, err = m.readRRs(b, off, an, false); err != nil {
		return err
	}
	if m.ns, off, err = m.readRRs(b, off, ns, false); err != nil {
		return err
	}
	if m.ar, _, err = m.readRRs(b, off, ar, true); err != nil {
		return err
	}
	return nil
}

// readRRs reads n records at off. OPT is taken out of the additional
// section (opt true) into m's EDNS fields; elsewhere it is an error.
func (m *msg) readRRs(b []byte, off, n int, opt bool) ([]rr, int, error) {
	if n == 0 {
		return nil, off, nil
	}
	rrs := make([]rr, 0, n)
	for range n {
		var r rr
		var err error
		r.name, off, err = m.readName(b, off)
		if err != nil {
			return nil, 0, err
		}
		if off+10 > len(b) {
			return nil, 0, errTruncRR
		}
		r.typ, r.class = u16(b[off:]), u16(b[off+2:])
		ttl := uint32(u16(b[off+4:]))<<16 | uint32(u16(b[off+6:]))
		rdlen := int(u16(b[off+8:]))
		off += 10
		if off+rdlen > len(b) {
			return nil, 0, errTruncRR
		}
		if r.typ == dnswire.TypeOPT {
			if !opt || m.edns || len(r.name) != 1 {
				return nil, 0, errOPT
			}
			// The TTL holds the extended rcode's upper bits, the
			// version and the flags (RFC 6891 section 6.1.3).
			m.edns = true
			m.rcode |= dnswire.Rcode(ttl>>24) << 4
			off += rdlen
			continue
		}
		r.ttl = ttl
		if r.ttl > 0x7FFFFFFF {
			r.ttl = 0 // RFC 2181 section 8
		}
		if r.data, err = m.readRdata(b, off, rdlen, r.typ); err != nil {
			return nil, 0, err
		}
		off += rdlen
		rrs = append(rrs, r)
	}
	return rrs, off, nil
}

// alloc returns n octets of m's arena. Slices handed out are never moved:
// a full arena is replaced, not grown.
func (m *msg) alloc(n int) []byte {
	if len(m.arena)+n > cap(m.arena) {
		m.arena = make([]byte, 0, max(n, 2*cap(m.arena)))
	}
	s := len(m.arena)
	m.arena = m.arena[:s+n]
	return m.arena[s : s+n : s+n]
}

// readName reads the possibly compressed name at off and returns its
// canonical uncompressed copy and the offset after it (dnswire.ReadName:
// pointers must point before the octet that holds them).
func (m *msg) readName(b []byte, off int) ([]byte, int, error) {
	var buf [dnswire.MaxNameLen]byte
	n, end := dnswire.ReadName(b, off, buf[:0], true)
	if n == nil {
		return nil, 0, errName
	}
	name := m.alloc(len(n))
	copy(name, n)
	return name, end, nil
}

// rdataNames describes where names sit in the rdata of a type: the fixed
// octets before the first name, the number of names, and the fixed octets
// after the last (-1: anything, copied as is). Types not listed are copied
// verbatim. These are the types whose embedded names may arrive
// compressed (RFC 3597 section 4, and DNAME to be tolerant).
func rdataNames(t uint16) (pre, names, post int, ok bool) {
	switch t {
	case dnswire.TypeNS, dnswire.TypeCNAME, dnswire.TypePTR, dnswire.TypeDNAME,
		dnswire.TypeMD, dnswire.TypeMF, dnswire.TypeMB, dnswire.TypeMG, dnswire.TypeMR:
		return 0, 1, 0, true
	case dnswire.TypeSOA:
		return 0, 2, 20, true
	case dnswire.TypeMX, dnswire.TypeAFSDB, dnswire.TypeRT, dnswire.TypeKX:
		return 2, 1, 0, true
	case dnswire.TypeMINFO, dnswire.TypeRP:
		return 0, 2, 0, true
	case dnswire.TypePX:
		return 2, 2, 0, true
	case dnswire.TypeSRV:
		return 6, 1, 0, true
	}
	return 0, 0, 0, false
}

// readRdata returns a copy of the rdata at off with its names decompressed
// and lower-cased, after checking its layout.
func (m *msg) readRdata(b []byte, off, rdlen int, t uint16) ([]byte, error) {
	end := off + rdlen
	switch t {
	case dnswire.TypeA:
		if rdlen != 4 {
			return nil, errRdata
		}
	case dnswire.TypeAAAA:
		if rdlen != 16 {
			return nil, errRdata
		}
	}
	pre, names, post, ok := rdataNames(t)
	if !ok {
		d := m.alloc(rdlen)
		copy(d, b[off:end])
		return d, nil
	}
	if pre > rdlen {
		return nil, errRdata
	}
	var parts [2][]byte
	total := pre
	p := off + pre
	for i := range names {
		name, next, err := m.readName(b[:end], p)
		if err != nil {
			return nil, errRdata
		}
		parts[i] = name
		total += len(name)
		p = next
	}
	if end-p != post {
		return nil, errRdata
	}
	total += post
	d := m.alloc(total)
	n := copy(d, b[off:off+pre])
	for _, part := range parts[:names] {
		n += copy(d[n:], part)
	}
	copy(d[n:], b[p:end])
	return d, nil
}

// appendQuery appends a query for the canonical name and type with the
// given ID: RD as asked, and an OPT advertising udpSize unless it is 0.
func appendQuery(dst []byte, id uint16, name []byte, qtype uint16, rd bool, udpSize uint16) []byte {
	var flags uint16
	if rd {
		flags = dnswire.FlagRD
	}
	var ar byte
	if udpSize > 0 {
		ar = 1
	}
	dst = append(dst, byte(id>>8), byte(id), byte(flags>>8), byte(flags), 0, 1, 0, 0, 0, 0, 0, ar)
	dst = append(dst, name...)
	dst = append(dst, byte(qtype>>8), byte(qtype), 0, byte(dnswire.ClassIN))
	if udpSize > 0 {
		dst = dnswire.AppendOPT(dst, udpSize, 0, 0, nil)
	}
	return dst
}

func u16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

// Name helpers. All names are canonical uncompressed wire names.

// isSubdomain is dnswire.IsSubdomain under the short name the iteration
// code uses.
func isSubdomain(name, parent []byte) bool { return dnswire.IsSubdomain(name, parent) }

// labels returns the number of labels of name, the root not counted.
func labels(name []byte) int {
	n := 0
	for i := 0; i < len(name) && name[i] != 0; i += 1 + int(name[i]) {
		n++
	}
	return n
}

// suffix returns the last k labels of name (the root label included).
func suffix(name []byte, k int) []byte {
	drop := labels(name) - k
	i := 0
	for ; drop > 0; drop-- {
		i += 1 + int(name[i])
	}
	return name[i:]
}

// parent returns name without its first label; the root is its own
// parent.
func parent(name []byte) []byte {
	if len(name) <= 1 {
		return name
	}
	return name[1+int(name[0]):]
}
