package dnswire

// Status is ParseQuery's verdict on a message.
type Status uint8

const (
	// StatusOK: an opcode QUERY message with exactly one question, sections
	// well-formed, at most one OPT (root-owned, in the additional section).
	StatusOK Status = iota
	// StatusDrop: shorter than a header or a response (QR=1). Never
	// answered, so that two servers cannot loop.
	StatusDrop
	// StatusFormErr: the message is malformed. Query.Question is non-nil
	// when the question itself parsed and may be echoed; Query.EDNS is set
	// only when the other sections, OPT included, were well-formed (the
	// error was in the header counts or the question).
	StatusFormErr
	// StatusNotImp: the opcode is not QUERY. The rest of the message was
	// parsed as far as it goes, to echo the question (Query.Question may be
	// nil) and the OPT (Query.EDNS, as for StatusFormErr).
	StatusNotImp
)

// String names the status for tests and logs.
func (s Status) String() string {
	switch s {
	case StatusOK:
		return "OK"
	case StatusDrop:
		return "Drop"
	case StatusFormErr:
		return "FormErr"
	case StatusNotImp:
		return "NotImp"
	}
	return "Status(?)"
}

// Query is a parsed query. Its slices point into the message passed to
// ParseQuery, which must stay unchanged while they are used; the canonical
// name is a copy held in the Query itself, so a Query on the stack parses
// a message without allocating. The zero value is an empty query.
type Query struct {
	ID    uint16
	Flags uint16 // the header's second word as received
	// Counts of the four sections as received.
	QDCount, ANCount, NSCount, ARCount uint16

	// Question is the question entry exactly as received (name in its
	// original case, type, class), for echoing; nil when it did not parse.
	Question []byte
	QType    uint16
	QClass   uint16

	name    [MaxNameLen]byte // canonical (lower-cased) copy of the question name
	nameLen uint8            // wire length of name; 0 when no question parsed

	// EDNS is true when the additional section held a valid OPT record;
	// the fields below describe it (RFC 6891 section 6.1.3).
	EDNS      bool
	UDPSize   uint16 // the requestor's payload size, raised to 512 if lower
	ExtRcode  uint8  // upper eight bits of the extended rcode (0 in queries)
	Version   uint8
	EDNSFlags uint16 // DO and the reserved Z bits
	NSID      bool   // the NSID option (RFC 5001) was present
}

// Opcode returns the query's opcode.
func (q *Query) Opcode() Opcode { return FlagsOpcode(q.Flags) }

// Name returns the canonical (lower-cased, uncompressed) question name. It
// aliases storage inside q; nil when no question was parsed.
func (q *Query) Name() []byte {
	if q.nameLen == 0 {
		return nil
	}
	return q.name[:q.nameLen]
}

// DO reports the DNSSEC OK bit of the query's OPT record.
func (q *Query) DO() bool { return q.EDNS && q.EDNSFlags&EDNSFlagDO != 0 }

// ParseQuery parses msg as a query into q and returns what to do with it.
// It never reads outside msg and never allocates.
//
// The question name must be uncompressed (a compression pointer in the
// question is FORMERR: there is nothing earlier in the message to point to).
// Answer and authority records are skipped, bounds-checked; records other
// than OPT in the additional section are skipped too. Bytes after the last
// counted record are ignored, as NSD does.
func ParseQuery(msg []byte, q *Query) Status {
	// Field by field rather than *q = Query{}: the name buffer is only
	// read through nameLen and need not be cleared.
	q.ID, q.Flags, q.QDCount, q.ANCount, q.NSCount, q.ARCount = 0, 0, 0, 0, 0, 0
	q.Question, q.QType, q.QClass, q.nameLen = nil, 0, 0, 0
	q.EDNS, q.UDPSize, q.ExtRcode, q.Version, q.EDNSFlags, q.NSID = false, 0, 0, 0, 0, false
	if len(msg) < HeaderLen {
		return StatusDrop
	}
	q.ID = u16(msg[0:])
	q.Flags = u16(msg[2:])
	if q.Flags&FlagQR != 0 {
		return StatusDrop
	}
	q.QDCount = u16(msg[4:])
	q.ANCount = u16(msg[6:])
	q.NSCount = u16(msg[8:])
	q.ARCount = u16(msg[10:])

	bad := StatusFormErr
	if FlagsOpcode(q.Flags) != OpcodeQuery {
		// RFC 1035 4.1.1: NOTIMP whatever the rest says; parse on only to
		// be able to echo the question and OPT.
		bad = StatusNotImp
	}
	if q.QDCount > 1 {
		return bad
	}
	off := HeaderLen
	if q.QDCount == 1 {
		n := CanonicalName(&q.name, msg[off:])
		if n < 0 || off+n+4 > len(msg) {
			return bad
		}
		q.nameLen = uint8(n)
		q.QType = u16(msg[off+n:])
		q.QClass = u16(msg[off+n+2:])
		q.Question = msg[off : off+n+4 : off+n+4]
		off += n + 4
	}
	if !parseSections(msg, off, q) {
		// Like Knot DNS, no OPT in the response when the sections are
		// malformed: the OPT we saw may not be the client's only one.
		q.EDNS = false
		return bad
	}
	if bad == StatusNotImp || q.QDCount != 1 {
		return bad
	}
	return StatusOK
}

// parseSections checks the answer, authority and additional sections that
// start at off and fills in q's EDNS fields from the OPT record.
func parseSections(msg []byte, off int, q *Query) bool {
	// RFC 6891 6.1.1: OPT only in the additional section.
	for i := 0; i < int(q.ANCount)+int(q.NSCount); i++ {
		var typ uint16
		off, typ = skipRR(msg, off)
		if off < 0 || typ == TypeOPT {
			return false
		}
	}
	for i := 0; i < int(q.ARCount); i++ {
		start := off
		var typ uint16
		off, typ = skipRR(msg, off)
		if off < 0 {
			return false
		}
		if typ != TypeOPT {
			continue
		}
		if q.EDNS || !parseOPT(msg[start:off], q) {
			// A second OPT, or one not owned by the root (RFC 6891 6.1.1).
			return false
		}
	}
	return true
}

// skipRR returns the offset after the resource record at off and its type,
// or -1. The owner may be compressed; pointers are not followed.
func skipRR(msg []byte, off int) (int, uint16) {
	off = SkipName(msg, off)
	if off < 0 || off+10 > len(msg) {
		return -1, 0
	}
	typ := u16(msg[off:])
	rdlen := int(u16(msg[off+8:]))
	off += 10 + rdlen
	if off > len(msg) {
		return -1, 0
	}
	return off, typ
}

// parseOPT fills q's EDNS fields from rr, a complete OPT record as
// delimited by skipRR, and reports whether it is valid.
func parseOPT(rr []byte, q *Query) bool {
	if len(rr) < optFixedLen || rr[0] != 0 {
		return false
	}
	nsid := false
	opts := rr[optFixedLen:]
	for len(opts) > 0 {
		if len(opts) < optionHdrLen {
			return false
		}
		code := u16(opts)
		n := int(u16(opts[2:]))
		if optionHdrLen+n > len(opts) {
			return false
		}
		if code == OptionNSID {
			nsid = true
		}
		opts = opts[optionHdrLen+n:]
	}
	q.EDNS = true
	q.UDPSize = u16(rr[3:])
	if q.UDPSize < MinUDPSize {
		q.UDPSize = MinUDPSize // RFC 6891 6.2.3
	}
	q.ExtRcode = rr[5]
	q.Version = rr[6]
	q.EDNSFlags = u16(rr[7:])
	q.NSID = nsid
	return true
}
