package resolver

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"os"
	"time"

	"github.com/tapdns/tapdns/dnswire"
)

// Errors of one exchange with a server.
var (
	errTimeout   = errors.New("timed out")
	errNetwork   = errors.New("network error")
	errMalformed = errors.New("malformed response")
	errBudget    = errors.New("time budget exhausted")
)

// causeOf maps an exchange error to a failure cause.
func causeOf(err error) Cause {
	switch {
	case errors.Is(err, errTimeout):
		return CauseTimeout
	case errors.Is(err, errMalformed):
		return CauseMalformed
	case errors.Is(err, errBudget):
		return CauseBudget
	}
	return CauseNetwork
}

// question identifies what a response must echo.
type question struct {
	name  []byte // canonical
	qtype uint16
}

// exchange asks server the question over UDP (with EDNS unless the server
// is known to reject it), retries without EDNS on FORMERR and over TCP on
// TC=1, and feeds the server's RTT or timeout to server selection. timeout
// bounds the UDP wait; every attempt also ends with ctx.
func (r *request) exchange(server netip.AddrPort, q question, rd bool, timeout time.Duration) (*msg, error) {
	s := r.s
	edns := uint16(s.cfg.EDNSSize)
	if s.infra.noEDNS(server) {
		edns = 0
	}
	for attempt := 0; ; attempt++ {
		if err := r.spend(); err != nil {
			return nil, err
		}
		m, rtt, err := s.udpExchange(r.ctx, server, q, rd, edns, timeout)
		if err != nil {
			if r.ctx.Err() != nil || r.pastDeadline() {
				return nil, errBudget // cut short: no verdict on the server
			}
			if errors.Is(err, errTimeout) {
				s.stats.upTimeouts.Add(1)
				s.infra.timeout(server, s.initialRTO)
			} else if errors.Is(err, errMalformed) {
				s.stats.upMalformed.Add(1)
			} else {
				s.stats.upNetErrors.Add(1)
			}
			return nil, err
		}
		s.infra.sample(server, rtt)
		s.stats.upRcode[m.rcode&0xF].Add(1)
		if m.rcode == dnswire.RcodeFormErr && edns != 0 && attempt == 0 {
			// RFC 6891 section 7: a server that does not know EDNS
			// answers FORMERR; ask again without it.
			s.stats.upNoEDNS.Add(1)
			s.infra.setNoEDNS(server)
			edns = 0
			continue
		}
		if m.tc() {
			if err := r.spend(); err != nil {
				return nil, err
			}
			s.stats.upTCP.Add(1)
			tm, err := s.tcpExchange(r.ctx, server, q, rd, edns, max(2*timeout, time.Second))
			if err != nil {
				if errors.Is(err, errMalformed) {
					s.stats.upMalformed.Add(1)
				} else {
					s.stats.upNetErrors.Add(1)
				}
				return nil, err
			}
			s.stats.upRcode[tm.rcode&0xF].Add(1)
			return tm, nil
		}
		return m, nil
	}
}

// pastDeadline reports whether the budget's deadline has passed (ctx.Err
// follows a moment later, from a timer).
func (r *request) pastDeadline() bool {
	d, ok := r.ctx.Deadline()
	return ok && !time.Now().Before(d)
}

// spend counts one upstream query against the request's bounds.
func (r *request) spend() error {
	if r.ctx.Err() != nil {
		return errBudget
	}
	if *r.queries >= r.s.cfg.MaxQueries {
		return errLimit
	}
	*r.queries++
	r.s.stats.upQueries.Add(1)
	return nil
}

var errLimit = errors.New("query limit reached")

// newID returns a random message ID.
func newID() uint16 { return uint16(rand.Uint32()) }

// unspecified returns the unspecified address of a's family.
func unspecified(a netip.Addr) netip.Addr {
	if a.Is4() {
		return netip.IPv4Unspecified()
	}
	return netip.IPv6Unspecified()
}

// addrPortReader is implemented by *net.UDPConn: a read without
// allocating a net.Addr.
type addrPortReader interface {
	ReadFromUDPAddrPort(b []byte) (int, netip.AddrPort, error)
}

// readFrom reads one datagram and its source, IPv4-mapped addresses
// unmapped.
func readFrom(pc net.PacketConn, b []byte) (int, netip.AddrPort, error) {
	if r, ok := pc.(addrPortReader); ok {
		n, from, err := r.ReadFromUDPAddrPort(b)
		return n, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), err
	}
	n, addr, err := pc.ReadFrom(b)
	if err != nil {
		return n, netip.AddrPort{}, err
	}
	var from netip.AddrPort
	switch a := addr.(type) {
	case *net.UDPAddr:
		from = a.AddrPort()
	default:
		from, _ = netip.ParseAddrPort(addr.String())
	}
	return n, netip.AddrPortFrom(from.Addr().Unmap(), from.Port()), nil
}

// isTimeout reports whether err is a deadline or cancellation.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.As(err, &ne) && ne.Timeout() ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled)
}

// udpExchange sends one query from a fresh socket (a random port) and
// waits for the response: a datagram from server's address and port whose
// ID and question match. Anything else is counted and ignored, so a
// spoofer has to guess the port and the ID within the window.
func (s *Server) udpExchange(ctx context.Context, server netip.AddrPort, q question, rd bool, edns uint16, timeout time.Duration) (*msg, time.Duration, error) {
	pc, err := s.net.ListenUDP(netip.AddrPortFrom(unspecified(server.Addr()), 0))
	if err != nil {
		return nil, 0, errors.Join(errNetwork, err)
	}
	defer pc.Close()
	start := time.Now()
	deadline := start.Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	if !time.Now().Before(deadline) {
		return nil, 0, errTimeout
	}
	// A read deadline only: a write that met the deadline would look
	// like a network error.
	if err := pc.SetReadDeadline(deadline); err != nil {
		return nil, 0, errors.Join(errNetwork, err)
	}
	// Close wakes the read at once instead of at the deadline.
	stop := context.AfterFunc(ctx, func() { _ = pc.SetReadDeadline(time.Now()) })
	defer stop()
	id := newID()
	query := appendQuery(make([]byte, 0, 64+len(q.name)), id, q.name, q.qtype, rd, edns)
	if _, err := pc.WriteTo(query, net.UDPAddrFromAddrPort(server)); err != nil {
		return nil, 0, errors.Join(errNetwork, err)
	}
	bp := s.bufs.Get().(*[]byte)
	defer s.bufs.Put(bp)
	buf := *bp
	for {
		n, from, err := readFrom(pc, buf)
		if err != nil {
			if isTimeout(err) {
				return nil, 0, errTimeout
			}
			// ECONNREFUSED (an ICMP port unreachable) and the like.
			return nil, 0, errors.Join(errNetwork, err)
		}
		if from != server {
			s.stats.wrongSource.Add(1)
			continue
		}
		if n < dnswire.HeaderLen || u16(buf) != id {
			s.stats.wrongID.Add(1)
			continue
		}
		m := new(msg)
		if err := parseMsg(buf[:n], m); err != nil {
			return nil, 0, errors.Join(errMalformed, err)
		}
		if !m.echoes(q) {
			s.stats.wrongQuestion.Add(1)
			continue
		}
		return m, time.Since(start), nil
	}
}

// echoes reports whether m answers q: the same question, or none in an
// error response (FORMERR, NOTIMP) as some servers send.
func (m *msg) echoes(q question) bool {
	if m.qd == 0 {
		return m.rcode != dnswire.RcodeSuccess && m.rcode != dnswire.RcodeNXDomain
	}
	return m.qtype == q.qtype && m.qclass == dnswire.ClassIN && string(m.qname) == string(q.name)
}

// tcpExchange asks server over TCP (RFC 7766), bounded by timeout and ctx.
func (s *Server) tcpExchange(ctx context.Context, server netip.AddrPort, q question, rd bool, edns uint16, timeout time.Duration) (*msg, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	conn, err := s.net.DialTCP(ctx, server)
	if err != nil {
		if isTimeout(err) {
			return nil, errTimeout
		}
		return nil, errors.Join(errNetwork, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	defer stop()
	id := newID()
	query := appendQuery(make([]byte, 2, 66+len(q.name)), id, q.name, q.qtype, rd, edns)
	query[0], query[1] = byte((len(query)-2)>>8), byte(len(query)-2)
	if _, err := conn.Write(query); err != nil {
		return nil, errors.Join(errNetwork, err)
	}
	var lb [2]byte
	if _, err := io.ReadFull(conn, lb[:]); err != nil {
		if isTimeout(err) {
			return nil, errTimeout
		}
		return nil, errors.Join(errNetwork, err)
	}
	buf := make([]byte, u16(lb[:]))
	if _, err := io.ReadFull(conn, buf); err != nil {
		if isTimeout(err) {
			return nil, errTimeout
		}
		return nil, errors.Join(errNetwork, err)
	}
	if len(buf) < dnswire.HeaderLen || u16(buf) != id {
		s.stats.wrongID.Add(1)
		return nil, errMalformed
	}
	m := new(msg)
	if err := parseMsg(buf, m); err != nil {
		return nil, errors.Join(errMalformed, err)
	}
	if !m.echoes(q) {
		s.stats.wrongQuestion.Add(1)
		return nil, errMalformed
	}
	return m, nil
}
