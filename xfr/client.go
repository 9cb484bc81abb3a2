package xfr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"time"

	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/tsig"
)

// Network is how the package reaches other servers: the userspace stack in
// the appliance (*netstack.Stack), kernel sockets in tests
// (internal/kernelnet). See docs/ARCHITECTURE.md.
type Network interface {
	// ListenUDP opens a UDP socket; an unspecified address picks the
	// family and lets the stack choose the source, port 0 a random port.
	ListenUDP(laddr netip.AddrPort) (net.PacketConn, error)
	// DialTCP connects to raddr.
	DialTCP(ctx context.Context, raddr netip.AddrPort) (net.Conn, error)
}

// Client timeouts. A UDP query gets udpTries tries of udpTimeout each (an
// SOA query is then asked again over TCP: NSD, for one, stops answering
// UDP for seconds around a reload); a TCP exchange fails when the other
// side sends nothing for ioTimeout.
const (
	udpTimeout = time.Second
	udpTries   = 2
	ioTimeout  = 30 * time.Second
)

// DefaultMaxTransferBytes bounds what one incoming transfer may carry, so
// that a broken or hostile primary cannot exhaust memory.
const DefaultMaxTransferBytes = 1 << 30

// client pulls zones and sends queries.
type client struct {
	net      Network
	now      func() time.Time
	maxBytes int
}

// rcodeError is a response with an rcode other than NOERROR.
type rcodeError struct {
	rcode dnswire.Rcode
	what  string
}

func (e *rcodeError) Error() string { return fmt.Sprintf("%s answered %s", e.what, e.rcode.String()) }

// newQuery builds a query for name/qtype; with auth set (an SOA record) it
// goes in the authority section (IXFR, RFC 1995 section 3). opcode is
// QUERY or NOTIFY; answer (NOTIFY's SOA) goes in the answer section.
func newQuery(id uint16, opcode dnswire.Opcode, name []byte, qtype uint16, answer, auth *RR) []byte {
	flags := dnswire.FlagsWith(0, opcode, 0)
	if opcode == dnswire.OpcodeNotify {
		flags |= dnswire.FlagAA // RFC 1996 3.7
	}
	var b dnswire.Builder
	b.Start(make([]byte, 0, 512), id, flags, dnswire.MaxMsgLen)
	q := append(append([]byte(nil), name...), byte(qtype>>8), byte(qtype), 0, byte(dnswire.ClassIN))
	b.Question(q)
	if answer != nil {
		b.AddRR(dnswire.Answer, answer.Owner, answer.Type, dnswire.ClassIN, answer.TTL, answer.Rdata)
	}
	if auth != nil {
		b.AddRR(dnswire.Authority, auth.Owner, auth.Type, dnswire.ClassIN, auth.TTL, auth.Rdata)
	}
	return b.Finish()
}

func newID() uint16 { return uint16(rand.Uint32()) }

// sign signs msg with key when there is one.
func sign(msg []byte, key *tsig.Key, now time.Time) ([]byte, *tsig.Session, error) {
	if key == nil {
		return msg, nil, nil
	}
	return tsig.SignRequest(msg, key, now)
}

// checkResponse checks that resp answers a query with id and (when sess
// is set) verifies its TSIG. It returns the parsed message.
func checkResponse(resp []byte, id uint16, opcode dnswire.Opcode, sess *tsig.Session, now time.Time, a *arena) (*message, error) {
	m, err := parseMessage(resp, a)
	if err != nil {
		return nil, err
	}
	if m.id != id || m.flags&dnswire.FlagQR == 0 || dnswire.FlagsOpcode(m.flags) != opcode {
		return nil, malformed("not a response to our query (ID %d, flags %#04x)", m.id, m.flags)
	}
	if sess != nil {
		if err := sess.Verify(resp, now); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// exchangeUDP sends query to addr over UDP and returns the verified
// response, retrying on timeouts. truncated reports TC=1.
func (c *client) exchangeUDP(ctx context.Context, addr netip.AddrPort, query []byte, id uint16, opcode dnswire.Opcode, sess *tsig.Session, a *arena) (m *message, raw []byte, err error) {
	laddr := netip.AddrPortFrom(netip.IPv4Unspecified(), 0)
	if addr.Addr().Is6() {
		laddr = netip.AddrPortFrom(netip.IPv6Unspecified(), 0)
	}
	pc, err := c.net.ListenUDP(laddr)
	if err != nil {
		return nil, nil, err
	}
	defer pc.Close()
	stop := context.AfterFunc(ctx, func() { pc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, dnswire.MaxMsgLen)
	dst := net.UDPAddrFromAddrPort(addr)
	for try := 0; try < udpTries; try++ {
		if _, err := pc.WriteTo(query, dst); err != nil {
			return nil, nil, err
		}
		deadline := time.Now().Add(udpTimeout)
		pc.SetReadDeadline(deadline)
		for {
			n, from, rerr := pc.ReadFrom(buf)
			if rerr != nil {
				if ctx.Err() != nil {
					return nil, nil, ctx.Err()
				}
				var ne net.Error
				if errors.As(rerr, &ne) && ne.Timeout() {
					err = fmt.Errorf("no answer from %s within %v", addr, udpTimeout)
					break
				}
				return nil, nil, rerr
			}
			if ua, ok := from.(*net.UDPAddr); !ok || ua.AddrPort().Addr().Unmap() != addr.Addr() || n < 2 || u16(buf) != id {
				continue // not our answer: keep waiting
			}
			raw = append([]byte(nil), buf[:n]...)
			m, err = checkResponse(raw, id, opcode, sess, c.now(), a)
			return m, raw, err
		}
	}
	return nil, nil, err
}

// querySOA asks remote for the zone's SOA record over UDP (over TCP when
// the answer is truncated, or does not come or is not good) and returns
// it.
func (c *client) querySOA(ctx context.Context, zoneName []byte, remote Remote) (RR, error) {
	id := newID()
	q, sess, err := sign(newQuery(id, dnswire.OpcodeQuery, zoneName, dnswire.TypeSOA, nil, nil), remote.Key, c.now())
	if err != nil {
		return RR{}, err
	}
	var a arena
	m, _, err := c.exchangeUDP(ctx, remote.Addr, q, id, dnswire.OpcodeQuery, sess, &a)
	if ctx.Err() == nil && (err != nil || m.flags&dnswire.FlagTC != 0 || m.rcode() != dnswire.RcodeSuccess) {
		// Truncated, or no good answer over UDP: ask again over TCP, as
		// NSD's xfrd does (Knot DNS refuses UDP queries for a catalog it
		// generates, unsigned).
		if mt, terr := c.exchangeTCP(ctx, remote, zoneName, dnswire.TypeSOA); terr == nil || err == nil {
			m, err = mt, terr
		}
	}
	if err != nil {
		return RR{}, fmt.Errorf("SOA query to %s: %w", remote.Addr, err)
	}
	if m.rcode() != dnswire.RcodeSuccess {
		return RR{}, &rcodeError{m.rcode(), "SOA query to " + remote.Addr.String()}
	}
	for _, rr := range m.answer {
		if rr.Type == dnswire.TypeSOA && string(rr.Owner) == string(zoneName) {
			if _, ok := parseSOA(rr.Rdata); ok {
				return rr, nil
			}
		}
	}
	return RR{}, fmt.Errorf("SOA query to %s: no SOA record for %s in the answer", remote.Addr, nameText(zoneName))
}

// exchangeTCP sends a single-answer query over TCP (an SOA query whose
// UDP answer was truncated).
func (c *client) exchangeTCP(ctx context.Context, remote Remote, name []byte, qtype uint16) (*message, error) {
	id := newID()
	q, sess, err := sign(newQuery(id, dnswire.OpcodeQuery, name, qtype, nil, nil), remote.Key, c.now())
	if err != nil {
		return nil, err
	}
	conn, err := c.dial(ctx, remote.Addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	if err := writeTCP(conn, q); err != nil {
		return nil, err
	}
	resp, err := readTCP(conn, make([]byte, 0, 4096))
	if err != nil {
		return nil, err
	}
	var a arena
	return checkResponse(resp, id, dnswire.OpcodeQuery, sess, c.now(), &a)
}

func (c *client) dial(ctx context.Context, addr netip.AddrPort) (net.Conn, error) {
	dctx, cancel := context.WithTimeout(ctx, ioTimeout)
	defer cancel()
	conn, err := c.net.DialTCP(dctx, addr)
	if err != nil {
		return nil, fmt.Errorf("connect to %s: %w", addr, err)
	}
	return conn, nil
}

func writeTCP(conn net.Conn, msg []byte) error {
	conn.SetWriteDeadline(time.Now().Add(ioTimeout))
	_, err := conn.Write(append([]byte{byte(len(msg) >> 8), byte(len(msg))}, msg...))
	return err
}

// readTCP reads one length-prefixed message into buf[:0].
func readTCP(conn net.Conn, buf []byte) ([]byte, error) {
	conn.SetReadDeadline(time.Now().Add(ioTimeout))
	var l [2]byte
	if _, err := io.ReadFull(conn, l[:]); err != nil {
		return nil, err
	}
	n := int(u16(l[:]))
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(conn, buf); err != nil {
		return nil, fmt.Errorf("reading a %d-octet message: %w", n, err)
	}
	return buf, nil
}

// inResult is what an incoming transfer brought.
type inResult struct {
	// kind is "AXFR" or "IXFR" (incremental), as received.
	kind string
	// upToDate: the primary's serial is not newer than ours (an IXFR
	// answer of the SOA alone).
	upToDate bool
	soa      RR // the primary's current SOA
	// full holds the zone's records other than the SOA for an AXFR (or
	// an IXFR answered in AXFR form); diffs the differences otherwise.
	full        []RR
	diffs       []*Diff
	msgs, bytes int
}

// transfer pulls zoneName from remote: IXFR from have (our current SOA)
// when have is set, AXFR otherwise. An IXFR may come back in AXFR form.
func (c *client) transfer(ctx context.Context, zoneName []byte, remote Remote, have *RR) (*inResult, error) {
	qtype := dnswire.TypeAXFR
	if have != nil {
		qtype = dnswire.TypeIXFR
	}
	id := newID()
	q, sess, err := sign(newQuery(id, dnswire.OpcodeQuery, zoneName, qtype, nil, have), remote.Key, c.now())
	if err != nil {
		return nil, err
	}
	conn, err := c.dial(ctx, remote.Addr)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := writeTCP(conn, q); err != nil {
		return nil, err
	}
	st := &inStream{zone: zoneName, qtype: qtype}
	if have != nil {
		s, _ := parseSOA(have.Rdata)
		st.have = s.Serial
	}
	var a arena
	buf := make([]byte, 0, dnswire.MaxMsgLen)
	res := &inResult{}
	for !st.done {
		resp, err := readTCP(conn, buf)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			return nil, fmt.Errorf("after %d messages: %w", res.msgs, err)
		}
		res.msgs++
		res.bytes += len(resp) + 2
		if c.maxBytes > 0 && res.bytes > c.maxBytes {
			return nil, fmt.Errorf("transfer larger than %d octets", c.maxBytes)
		}
		m, err := checkResponse(resp, id, dnswire.OpcodeQuery, sess, c.now(), &a)
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", res.msgs, err)
		}
		if m.rcode() != dnswire.RcodeSuccess {
			return nil, &rcodeError{m.rcode(), typeText(qtype) + " from " + remote.Addr.String()}
		}
		if m.flags&dnswire.FlagTC != 0 {
			return nil, malformed("message %d is truncated (TC)", res.msgs)
		}
		if res.msgs == 1 && m.qname != nil && (string(m.qname) != string(zoneName) || m.qtype != qtype) {
			return nil, malformed("the answer's question is %s %s", nameText(m.qname), typeText(m.qtype))
		}
		for i := range m.answer {
			if err := st.add(&m.answer[i]); err != nil {
				return nil, fmt.Errorf("message %d: %w", res.msgs, err)
			}
		}
		st.endOfMessage()
		if len(m.answer) == 0 {
			return nil, malformed("message %d has no records", res.msgs)
		}
	}
	if sess != nil {
		if err := sess.Done(); err != nil {
			return nil, err
		}
	}
	res.soa = st.first
	switch {
	case st.upToDate:
		res.kind, res.upToDate = "IXFR", true
	case st.incremental:
		res.kind, res.diffs = "IXFR", st.diffs
	default:
		res.kind, res.full = "AXFR", st.records
	}
	return res, nil
}

// inStream follows the records of an AXFR or IXFR answer (RFC 5936
// section 2.2, RFC 1995 section 4) and tells when it is complete.
type inStream struct {
	zone  []byte
	qtype uint16
	have  uint32 // our serial (IXFR)

	state       int
	first       RR // the first SOA: the version being transferred
	serial      uint32
	records     []RR
	diffs       []*Diff
	cur         *Diff
	incremental bool
	upToDate    bool
	done        bool
}

const (
	stFirst  = iota // expecting the first SOA
	stSecond        // IXFR: after the first SOA
	stAXFR          // records until the closing SOA
	stDel           // IXFR: deletions until the new SOA
	stAdd           // IXFR: additions until the next SOA
)

func (s *inStream) add(rr *RR) error {
	if s.done {
		return malformed("record %s after the end of the transfer", rrText(rr))
	}
	if rr.Class != dnswire.ClassIN {
		return malformed("record %s: class %d", nameText(rr.Owner), rr.Class)
	}
	if !isSubdomain(rr.Owner, s.zone) {
		return malformed("record %s is outside the zone %s", rrText(rr), nameText(s.zone))
	}
	isSOA := rr.Type == dnswire.TypeSOA
	var serial uint32
	if isSOA {
		soa, ok := parseSOA(rr.Rdata)
		if !ok || string(rr.Owner) != string(s.zone) {
			return malformed("bad SOA record %s", rrText(rr))
		}
		serial = soa.Serial
	}
	switch s.state {
	case stFirst:
		if !isSOA {
			return malformed("the first record is %s, not the zone's SOA", rrText(rr))
		}
		s.first, s.serial = *rr, serial
		s.state = stAXFR
		if s.qtype == dnswire.TypeIXFR {
			s.state = stSecond
		}
	case stSecond:
		if isSOA {
			if serial != s.have {
				return malformed("IXFR difference starts at serial %d, we have %d", serial, s.have)
			}
			s.incremental = true
			s.cur = &Diff{OldSOA: *rr}
			s.state = stDel
			return nil
		}
		s.records = append(s.records, *rr)
		s.state = stAXFR
	case stAXFR:
		if !isSOA {
			s.records = append(s.records, *rr)
			return nil
		}
		if serial != s.serial {
			return malformed("closing SOA serial %d differs from the first, %d", serial, s.serial)
		}
		s.done = true
	case stDel:
		if !isSOA {
			s.cur.Del = append(s.cur.Del, *rr)
			return nil
		}
		s.cur.NewSOA = *rr
		s.state = stAdd
	case stAdd:
		if !isSOA {
			s.cur.Add = append(s.cur.Add, *rr)
			return nil
		}
		to := s.cur.To()
		s.diffs = append(s.diffs, s.cur)
		if serial == s.serial && to == s.serial {
			s.done = true
			return nil
		}
		if serial != to {
			return malformed("IXFR difference starts at serial %d after one that ends at %d", serial, to)
		}
		s.cur = &Diff{OldSOA: *rr}
		s.state = stDel
	}
	return nil
}

// endOfMessage is called after each message: an IXFR answer that ends
// after its first SOA says that we are up to date (RFC 1995 section 4).
func (s *inStream) endOfMessage() {
	if s.state == stSecond && !serialLess(s.have, s.serial) {
		s.upToDate, s.done = true, true
	}
}
