package mdns

import (
	"errors"

	"github.com/tapdns/tapdns/dnswire"
)

// MaxMsgLen is the largest mDNS message accepted or sent (RFC 6762
// section 17: a message may use up to 9000 octets of payload, the size of
// a jumbo Ethernet frame). Larger datagrams are dropped and counted as huge.
const MaxMsgLen = 9000

// Class bits peculiar to mDNS (RFC 6762 sections 5.4 and 10.2): the top bit
// of a question's class asks for a unicast response (QU), the top bit of a
// record's class is the cache-flush bit.
const (
	classQU    uint16 = 0x8000
	classFlush uint16 = 0x8000
	classMask  uint16 = 0x7FFF
)

// arenaCap bounds the decompressed names and rdata of one message. A 9000
// octet message whose every two-octet pointer expands to a long name could
// need far more; real messages need a few times their size.
const arenaCap = 64 << 10

// maxRecords bounds the questions plus records of one message: each takes
// at least 5 octets (a question with a root name) of a MaxMsgLen message.
const maxRecords = MaxMsgLen / 5

// Parse errors. They name the first problem found; Parse reads nothing
// outside the message whatever its content.
var (
	errShort   = errors.New("mdns: message shorter than its counts say")
	errName    = errors.New("mdns: malformed name")
	errRdata   = errors.New("mdns: malformed rdata")
	errArena   = errors.New("mdns: names expand beyond the decompression limit")
	errCounts  = errors.New("mdns: more records than the message can hold")
	errMsgSize = errors.New("mdns: message larger than 9000 octets")
)

// Question is one question of a parsed message.
type Question struct {
	// Name is the question name, canonical: uncompressed and lower-cased
	// ASCII. It aliases the Message's storage.
	Name []byte
	// Orig is the question name in its original case, for echoing.
	Orig  []byte
	Type  uint16
	Class uint16 // without the QU bit
	QU    bool   // a unicast response is asked for (RFC 6762 section 5.4)
}

// Record is one resource record of a parsed message.
type Record struct {
	// Name is the owner, canonical (uncompressed, lower-cased ASCII).
	Name  []byte
	Type  uint16
	Class uint16 // without the cache-flush bit
	Flush bool   // the cache-flush bit (RFC 6762 section 10.2)
	TTL   uint32
	// Data is the rdata with the names of the types that may carry
	// compressed names (NS, CNAME, PTR, DNAME, MX, SRV, SOA, NSEC)
	// uncompressed and in their original case; other rdata as received.
	// It aliases the Message's storage.
	Data []byte
}

// Message is a parsed mDNS message. Its slices alias storage owned by the
// Message and are valid until the next Parse. The zero value is ready to
// use; a Message reused for every datagram stops allocating once its
// buffers have grown.
type Message struct {
	ID, Flags uint16
	Questions []Question
	// Records holds the answer, authority and additional sections in that
	// order; NAnswer and NAuthority say where each ends.
	Records             []Record
	NAnswer, NAuthority int
	arena               []byte
}

// Response reports whether the message is a response (QR set).
func (m *Message) Response() bool { return m.Flags&dnswire.FlagQR != 0 }

// Answers returns the answer section.
func (m *Message) Answers() []Record { return m.Records[:m.NAnswer] }

// Authority returns the authority section.
func (m *Message) Authority() []Record { return m.Records[m.NAnswer : m.NAnswer+m.NAuthority] }

// Additional returns the additional section.
func (m *Message) Additional() []Record { return m.Records[m.NAnswer+m.NAuthority:] }

// Parse reads msg into m. Names may be compressed anywhere (RFC 6762
// section 18.14); compression pointers must point backwards, so that
// decompression always ends. Trailing octets after the last counted record
// are ignored. NSEC rdata is accepted as long as its next-domain name
// parses: python-zeroconf writes malformed type bitmaps.
func (m *Message) Parse(msg []byte) error {
	m.ID, m.Flags = 0, 0
	m.Questions = m.Questions[:0]
	m.Records = m.Records[:0]
	m.NAnswer, m.NAuthority = 0, 0
	if m.arena == nil {
		m.arena = make([]byte, 0, arenaCap)
	}
	m.arena = m.arena[:0]
	if len(msg) > MaxMsgLen {
		return errMsgSize
	}
	if len(msg) < dnswire.HeaderLen {
		return errShort
	}
	m.ID = u16(msg)
	m.Flags = u16(msg[2:])
	qd, an, ns, ar := int(u16(msg[4:])), int(u16(msg[6:])), int(u16(msg[8:])), int(u16(msg[10:]))
	if qd+an+ns+ar > maxRecords {
		return errCounts
	}
	off := dnswire.HeaderLen
	for range qd {
		name, next, err := m.name(msg, off, true)
		if err != nil {
			return err
		}
		orig, _, err := m.name(msg, off, false)
		if err != nil {
			return err
		}
		if next+4 > len(msg) {
			return errShort
		}
		c := u16(msg[next+2:])
		m.Questions = append(m.Questions, Question{Name: name, Orig: orig, Type: u16(msg[next:]), Class: c & classMask, QU: c&classQU != 0})
		off = next + 4
	}
	for range an + ns + ar {
		var err error
		if off, err = m.record(msg, off); err != nil {
			return err
		}
	}
	m.NAnswer = an
	m.NAuthority = ns
	return nil
}

// record parses the record at off and returns the offset after it.
func (m *Message) record(msg []byte, off int) (int, error) {
	name, next, err := m.name(msg, off, true)
	if err != nil {
		return 0, err
	}
	if next+10 > len(msg) {
		return 0, errShort
	}
	typ := u16(msg[next:])
	c := u16(msg[next+2:])
	ttl := uint32(u16(msg[next+4:]))<<16 | uint32(u16(msg[next+6:]))
	rdlen := int(u16(msg[next+8:]))
	start := next + 10
	end := start + rdlen
	if end > len(msg) {
		return 0, errShort
	}
	data, err := m.rdata(msg, start, end, typ)
	if err != nil {
		return 0, err
	}
	m.Records = append(m.Records, Record{Name: name, Type: typ, Class: c & classMask, Flush: c&classFlush != 0, TTL: ttl, Data: data})
	return end, nil
}

// rdata returns the rdata of a record of type typ at msg[start:end], with
// the names of the types that may compress them expanded.
func (m *Message) rdata(msg []byte, start, end int, typ uint16) ([]byte, error) {
	var fixed, names, tail int // octets before the names, names, anything after
	switch typ {
	case dnswire.TypeNS, dnswire.TypeCNAME, dnswire.TypePTR, dnswire.TypeDNAME,
		dnswire.TypeMB, dnswire.TypeMD, dnswire.TypeMF, dnswire.TypeMG, dnswire.TypeMR:
		names = 1
	case dnswire.TypeMX, dnswire.TypeKX, dnswire.TypeAFSDB, dnswire.TypeRT:
		fixed, names = 2, 1
	case dnswire.TypeSRV:
		fixed, names = 6, 1
	case dnswire.TypeSOA:
		names, tail = 2, 20
	case dnswire.TypeNSEC:
		names, tail = 1, -1 // the type bitmaps, whatever their form
	default:
		return msg[start:end:end], nil
	}
	a := len(m.arena)
	if start+fixed > end {
		return nil, errRdata
	}
	if !m.grow(fixed) {
		return nil, errArena
	}
	m.arena = append(m.arena, msg[start:start+fixed]...)
	off := start + fixed
	for range names {
		// The name is appended to the arena, after the fixed part.
		_, next, err := m.name(msg[:end], off, false)
		if err != nil {
			return nil, errRdata
		}
		off = next
	}
	switch {
	case tail < 0:
		tail = end - off
	case off+tail != end:
		return nil, errRdata
	}
	if !m.grow(tail) {
		return nil, errArena
	}
	m.arena = append(m.arena, msg[off:end]...)
	return m.arena[a:len(m.arena):len(m.arena)], nil
}

// grow reports whether n more octets fit in the arena without
// reallocating it (which would move the slices already handed out).
func (m *Message) grow(n int) bool { return len(m.arena)+n <= cap(m.arena) }

// name decompresses the name at off, appends it to the arena (lower-cased
// when canonical) and returns it and the offset after it in msg.
func (m *Message) name(msg []byte, off int, canonical bool) ([]byte, int, error) {
	start := len(m.arena)
	next := -1
	total := 0
	for hops := 0; ; hops++ {
		if off >= len(msg) {
			return nil, 0, errName
		}
		l := int(msg[off])
		switch {
		case l == 0:
			if !m.grow(1) {
				return nil, 0, errArena
			}
			m.arena = append(m.arena, 0)
			if next < 0 {
				next = off + 1
			}
			return m.arena[start:len(m.arena):len(m.arena)], next, nil
		case l&0xC0 == 0xC0:
			if off+1 >= len(msg) {
				return nil, 0, errName
			}
			ptr := (l&0x3F)<<8 | int(msg[off+1])
			if next < 0 {
				next = off + 2
			}
			// Strictly backwards, so every pointer followed lowers
			// the offset and decompression ends.
			if ptr >= off {
				return nil, 0, errName
			}
			off = ptr
			continue
		case l > dnswire.MaxLabelLen:
			return nil, 0, errName // 0x40 and 0x80: unknown label types
		}
		total += 1 + l
		if total+1 > dnswire.MaxNameLen || off+1+l > len(msg) {
			return nil, 0, errName
		}
		if !m.grow(1 + l) {
			return nil, 0, errArena
		}
		m.arena = append(m.arena, msg[off:off+1+l]...)
		if canonical {
			lowerASCII(m.arena[len(m.arena)-l:])
		}
		off += 1 + l
	}
}

func u16(b []byte) uint16 { return uint16(b[0])<<8 | uint16(b[1]) }

func lowerASCII(b []byte) {
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + ('a' - 'A')
		}
	}
}

// equalFold reports whether two wire names are equal ignoring ASCII case.
func equalFold(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// rdataEqual reports whether two uncompressed rdata of type typ are the
// same record data, comparing the names in them without regard to ASCII
// case (RFC 6762 section 16).
func rdataEqual(typ uint16, a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	from, to := nameSpan(typ, a)
	if from < 0 {
		return string(a) == string(b)
	}
	return string(a[:from]) == string(b[:from]) && equalFold(a[from:to], b[from:to]) && string(a[to:]) == string(b[to:])
}

// nameSpan returns where the names of uncompressed rdata of type typ start
// and end, or -1 for types without names (or rdata that does not parse).
func nameSpan(typ uint16, d []byte) (int, int) {
	from, names := 0, 0
	switch typ {
	case dnswire.TypeNS, dnswire.TypeCNAME, dnswire.TypePTR, dnswire.TypeDNAME, dnswire.TypeNSEC:
		names = 1
	case dnswire.TypeMX:
		from, names = 2, 1
	case dnswire.TypeSRV:
		from, names = 6, 1
	case dnswire.TypeSOA:
		names = 2
	default:
		return -1, -1
	}
	to := from
	for range names {
		if to > len(d) {
			return -1, -1
		}
		n := dnswire.NameLen(d[to:])
		if n < 0 {
			return -1, -1
		}
		to += n
	}
	return from, to
}

// nsecHas reports whether the type bitmaps of NSEC rdata (after the next
// domain name) list typ. It reads the RFC 4034 format and tolerates the
// empty window blocks python-zeroconf writes; anything it cannot read
// lists nothing.
func nsecHas(data []byte, typ uint16) bool {
	n := dnswire.NameLen(data)
	if n < 0 {
		return false
	}
	b := data[n:]
	win, bit := byte(typ>>8), int(typ&0xFF)
	for len(b) >= 2 {
		w, l := b[0], int(b[1])
		if l > 32 || 2+l > len(b) {
			return false
		}
		if w == win && bit/8 < l && b[2+bit/8]&(0x80>>(bit%8)) != 0 {
			return true
		}
		b = b[2+l:]
	}
	return false
}

// appendNSEC appends the rdata of an NSEC record (RFC 6762 section 6.1):
// next is the owner itself, and the bitmaps list types.
func appendNSEC(dst, owner []byte, types []uint16) []byte {
	dst = append(dst, owner...)
	var win [256][32]byte
	var used [256]int // octets used per window, 0: none
	for _, t := range types {
		w, b := t>>8, t&0xFF
		win[w][b/8] |= 0x80 >> (b % 8)
		used[w] = max(used[w], int(b/8)+1)
	}
	for w := range used {
		if used[w] > 0 {
			dst = append(dst, byte(w), byte(used[w]))
			dst = append(dst, win[w][:used[w]]...)
		}
	}
	return dst
}

// question appends a question entry (uncompressed name, type, class).
func appendQuestion(dst, name []byte, typ, class uint16) []byte {
	dst = append(dst, name...)
	return append(dst, byte(typ>>8), byte(typ), byte(class>>8), byte(class))
}

// typeVerbatim is a private-use type (RFC 6895) that dnswire.Builder
// copies as is; addRR writes every record under it and then puts the real
// type in place.
const typeVerbatim uint16 = 65534

// addRR adds a record to b with its rdata exactly as given. dnswire's
// Builder lower-cases the names inside rdata, as NSD and Knot DNS do, but
// in mDNS they are names people read: RFC 6763 instance names such as
// "Office Printer._ipp._tcp.local" keep their case. The rdata is not
// compressed, which RFC 6762 section 18.14 allows.
func addRR(b *dnswire.Builder, sec dnswire.Section, owner []byte, typ, class uint16, ttl uint32, data []byte) bool {
	if !b.AddRR(sec, owner, typeVerbatim, class, ttl, data) {
		return false
	}
	buf := b.Bytes()
	at := len(buf) - len(data) - 10
	buf[at], buf[at+1] = byte(typ>>8), byte(typ)
	return true
}

// addRRAt is addRR with the owner given as a compression pointer.
func addRRAt(b *dnswire.Builder, sec dnswire.Section, ownerOff int, typ, class uint16, ttl uint32, data []byte) bool {
	if !b.AddRRAt(sec, ownerOff, typeVerbatim, class, ttl, data) {
		return false
	}
	buf := b.Bytes()
	at := len(buf) - len(data) - 10
	buf[at], buf[at+1] = byte(typ>>8), byte(typ)
	return true
}
