package xfr

import (
	"errors"
	"fmt"

	"github.com/tapdns/tapdns/dnswire"
)

// RR is one resource record in the form zones hold: the owner canonical
// (lower-case, uncompressed wire format), the rdata uncompressed with the
// case of the names inside it kept.
type RR struct {
	Owner []byte
	Type  uint16
	Class uint16
	TTL   uint32
	Rdata []byte
}

// errMalformed wraps every message parsing failure.
var errMalformed = errors.New("malformed message")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
}

// message is a parsed DNS message: the header, the question when there is
// exactly one, and the answer and authority records. Record slices point
// into the arena passed to parseMessage, never into the message itself.
type message struct {
	id, flags      uint16
	qd, an, ns, ar uint16
	qname          []byte // canonical; nil without a (single) question
	qtype, qclass  uint16
	answer, auth   []RR
}

func (m *message) rcode() dnswire.Rcode { return dnswire.FlagsRcode(m.flags) }

// arena hands out copies of byte strings from large chunks, so that the
// records of a transfer cost a few allocations, not two per record.
type arena struct{ buf []byte }

const arenaChunk = 256 << 10

func (a *arena) copy(b []byte) []byte {
	if len(b) > arenaChunk/4 {
		return append([]byte(nil), b...)
	}
	if cap(a.buf)-len(a.buf) < len(b) {
		a.buf = make([]byte, 0, arenaChunk)
	}
	n := len(a.buf)
	a.buf = append(a.buf, b...)
	return a.buf[n:len(a.buf):len(a.buf)]
}

// parseMessage parses msg. Names are decompressed (pointers must point
// backwards); records of the additional section are checked for form but
// not returned (the TSIG record there is the tsig package's business).
func parseMessage(msg []byte, a *arena) (*message, error) {
	if len(msg) < dnswire.HeaderLen {
		return nil, malformed("%d octets, shorter than a header", len(msg))
	}
	m := &message{
		id: u16(msg), flags: u16(msg[2:]),
		qd: u16(msg[4:]), an: u16(msg[6:]), ns: u16(msg[8:]), ar: u16(msg[10:]),
	}
	off := dnswire.HeaderLen
	var name [dnswire.MaxNameLen]byte
	for i := 0; i < int(m.qd); i++ {
		n, next := readName(msg, off, name[:0], true)
		if n == nil || next+4 > len(msg) {
			return nil, malformed("question %d", i+1)
		}
		if m.qd == 1 {
			m.qname = a.copy(n)
			m.qtype, m.qclass = u16(msg[next:]), u16(msg[next+2:])
		}
		off = next + 4
	}
	if m.an > 0 {
		m.answer = make([]RR, 0, m.an)
	}
	var err error
	for i := 0; i < int(m.an)+int(m.ns)+int(m.ar); i++ {
		var rr RR
		if off, err = readRR(msg, off, &rr, a, i >= int(m.an)+int(m.ns)); err != nil {
			return nil, fmt.Errorf("record %d: %w", i+1, err)
		}
		switch {
		case i < int(m.an):
			m.answer = append(m.answer, rr)
		case i < int(m.an)+int(m.ns):
			m.auth = append(m.auth, rr)
		}
	}
	return m, nil
}

// readRR reads the record at off into rr and returns the offset after it.
// With skip the record is only checked, not copied.
func readRR(msg []byte, off int, rr *RR, a *arena, skip bool) (int, error) {
	var buf [dnswire.MaxNameLen]byte
	owner, next := readName(msg, off, buf[:0], true)
	if owner == nil || next+10 > len(msg) {
		return 0, malformed("owner name or header")
	}
	typ := u16(msg[next:])
	rdStart := next + 10
	rdEnd := rdStart + int(u16(msg[next+8:]))
	if rdEnd > len(msg) {
		return 0, malformed("rdata past the end")
	}
	if skip {
		return rdEnd, nil
	}
	rr.Owner = a.copy(owner)
	rr.Type, rr.Class, rr.TTL = typ, u16(msg[next+2:]), u32(msg[next+4:])
	rd, err := readRdata(msg, rdStart, rdEnd, typ)
	if err != nil {
		return 0, fmt.Errorf("%s %s: %w", nameText(owner), typeText(typ), err)
	}
	rr.Rdata = a.copy(rd)
	return rdEnd, nil
}

// rdataNames describes where names sit in the rdata of the types whose
// names a sender may compress: RFC 1035's types and those RFC 3597 section
// 4 asks receivers to decompress. Each step is "skip fixed octets" (>0),
// "a name" (0) or "a character-string" (-1); tail is the number of octets
// that must follow the last step (-1: any).
type rdataLayout struct {
	steps []int8
	tail  int
}

var layouts = map[uint16]rdataLayout{
	dnswire.TypeNS:    {[]int8{0}, 0},
	dnswire.TypeMD:    {[]int8{0}, 0},
	dnswire.TypeMF:    {[]int8{0}, 0},
	dnswire.TypeCNAME: {[]int8{0}, 0},
	dnswire.TypeMB:    {[]int8{0}, 0},
	dnswire.TypeMG:    {[]int8{0}, 0},
	dnswire.TypeMR:    {[]int8{0}, 0},
	dnswire.TypePTR:   {[]int8{0}, 0},
	dnswire.TypeDNAME: {[]int8{0}, 0},
	dnswire.TypeSOA:   {[]int8{0, 0}, 20},
	dnswire.TypeMINFO: {[]int8{0, 0}, 0},
	dnswire.TypeRP:    {[]int8{0, 0}, 0},
	dnswire.TypeMX:    {[]int8{2, 0}, 0},
	dnswire.TypeAFSDB: {[]int8{2, 0}, 0},
	dnswire.TypeRT:    {[]int8{2, 0}, 0},
	dnswire.TypeKX:    {[]int8{2, 0}, 0},
	dnswire.TypePX:    {[]int8{2, 0, 0}, 0},
	dnswire.TypeSRV:   {[]int8{6, 0}, 0},
	dnswire.TypeNAPTR: {[]int8{4, -1, -1, -1, 0}, 0},
}

// readRdata returns the rdata at msg[start:end] with its names
// decompressed. It returns a slice of msg itself when there is nothing to
// decompress, and a scratch copy otherwise (the caller copies it).
func readRdata(msg []byte, start, end int, typ uint16) ([]byte, error) {
	l, ok := layouts[typ]
	if !ok {
		return msg[start:end], nil
	}
	var out []byte
	off := start
	for _, st := range l.steps {
		switch {
		case st > 0:
			if off+int(st) > end {
				return nil, malformed("rdata too short")
			}
			out = append(out, msg[off:off+int(st)]...)
			off += int(st)
		case st < 0:
			if off >= end || off+1+int(msg[off]) > end {
				return nil, malformed("character-string past the rdata")
			}
			n := 1 + int(msg[off])
			out = append(out, msg[off:off+n]...)
			off += n
		default:
			var buf [dnswire.MaxNameLen]byte
			name, next := readName(msg[:end], off, buf[:0], false)
			if name == nil {
				return nil, malformed("name in rdata")
			}
			out = append(out, name...)
			off = next
		}
	}
	if l.tail >= 0 && end-off != l.tail {
		return nil, malformed("rdata of %d octets where %d were expected", end-start, off-start+l.tail)
	}
	return append(out, msg[off:end]...), nil
}

// readName decompresses the name at off into dst (canonical when lower)
// and returns it with the offset after the name as it appears at off. It
// returns nil for a bad name: a label type other than 0 and 0xC0, a
// pointer that does not point backwards, more than 255 octets, or a name
// running past msg.
func readName(msg []byte, off int, dst []byte, lower bool) ([]byte, int) {
	end := -1
	for {
		if off >= len(msg) {
			return nil, 0
		}
		l := int(msg[off])
		switch {
		case l == 0:
			if end < 0 {
				end = off + 1
			}
			return append(dst, 0), end
		case l&0xC0 == 0xC0:
			if off+2 > len(msg) {
				return nil, 0
			}
			p := int(u16(msg[off:]) & 0x3FFF)
			if p >= off {
				return nil, 0 // forward or self pointers could loop
			}
			if end < 0 {
				end = off + 2
			}
			off = p
			continue
		case l > dnswire.MaxLabelLen:
			return nil, 0
		}
		if off+1+l > len(msg) || len(dst)+1+l+1 > dnswire.MaxNameLen {
			return nil, 0
		}
		dst = append(dst, msg[off:off+1+l]...)
		if lower {
			for i := len(dst) - l; i < len(dst); i++ {
				if c := dst[i]; 'A' <= c && c <= 'Z' {
					dst[i] = c + 'a' - 'A'
				}
			}
		}
		off += 1 + l
	}
}

func u16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

func u32(b []byte) uint32 {
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// nameText renders a wire-format name for messages and logs.
func nameText(w []byte) string {
	if len(w) <= 1 {
		return "."
	}
	b := make([]byte, 0, len(w)+4)
	for len(w) > 1 && int(w[0]) < len(w) {
		for _, c := range w[1 : 1+w[0]] {
			switch {
			case c == '.' || c == '\\':
				b = append(b, '\\', c)
			case c < 0x21 || c > 0x7E:
				b = append(b, '\\', '0'+c/100, '0'+c/10%10, '0'+c%10)
			default:
				b = append(b, c)
			}
		}
		b = append(b, '.')
		w = w[1+w[0]:]
	}
	return string(b)
}

// typeText names a record type for messages.
func typeText(t uint16) string {
	switch t {
	case dnswire.TypeSOA:
		return "SOA"
	case dnswire.TypeNS:
		return "NS"
	case dnswire.TypeA:
		return "A"
	case dnswire.TypeAAAA:
		return "AAAA"
	case dnswire.TypeAXFR:
		return "AXFR"
	case dnswire.TypeIXFR:
		return "IXFR"
	case dnswire.TypePTR:
		return "PTR"
	case dnswire.TypeTXT:
		return "TXT"
	}
	return fmt.Sprintf("TYPE%d", t)
}
