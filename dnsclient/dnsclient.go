// Package dnsclient sends DNS queries the way dig does, over whatever
// network it is given (the appliance's userspace stack in `tapdns dig`),
// and prints the responses in dig's format: one query with retries and a
// TCP retry on truncation, or a trace of the delegations from the root
// (+trace). It is a client tool, not the server's query path, so it uses
// miekg/dns to build, parse and print messages.
package dnsclient

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Network is what the client needs from a network stack.
type Network interface {
	ListenUDP(laddr netip.AddrPort) (net.PacketConn, error)
	DialTCP(ctx context.Context, raddr netip.AddrPort) (net.Conn, error)
}

// Options are dig's query options.
type Options struct {
	TCP     bool          // +tcp: query over TCP only
	NoRec   bool          // +norec: RD=0
	DNSSEC  bool          // +dnssec: DO=1
	Timeout time.Duration // per try; 0 means 5 s (dig's +time)
	Tries   int           // UDP tries; 0 means 3 (dig's +tries)
	UDPSize uint16        // EDNS buffer size; 0 means 1232
}

func (o Options) timeout() time.Duration {
	if o.Timeout <= 0 {
		return 5 * time.Second
	}
	return o.Timeout
}

func (o Options) tries() int {
	if o.Tries <= 0 {
		return 3
	}
	return o.Tries
}

// Result is one response and how it was obtained.
type Result struct {
	Msg    *dns.Msg
	Size   int // octets received
	RTT    time.Duration
	Server netip.AddrPort
	TCP    bool
	When   time.Time
}

// ErrTimeout is returned when no response came within the tries.
var ErrTimeout = errors.New("connection timed out; no servers could be reached")

// NewQuery builds the query dig would send for name and qtype.
func NewQuery(name string, qtype uint16, o Options) *dns.Msg {
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), qtype)
	m.Id = randomID()
	m.RecursionDesired = !o.NoRec
	size := o.UDPSize
	if size == 0 {
		size = 1232
	}
	m.SetEdns0(size, o.DNSSEC)
	m.AuthenticatedData = true // as dig does (+adflag by default)
	return m
}

func randomID() uint16 {
	var b [2]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint16(b[:])
}

// Exchange sends q to server and returns the response: over UDP with
// retries, then again over TCP when the answer is truncated (or only over
// TCP with o.TCP). A response is accepted only from server with q's ID and
// question.
func Exchange(ctx context.Context, n Network, server netip.AddrPort, q *dns.Msg, o Options) (*Result, error) {
	wire, err := q.Pack()
	if err != nil {
		return nil, fmt.Errorf("pack query: %w", err)
	}
	if !o.TCP {
		r, err := exchangeUDP(ctx, n, server, q, wire, o)
		if err != nil || !r.Msg.Truncated {
			return r, err
		}
	}
	return exchangeTCP(ctx, n, server, q, wire, o)
}

func exchangeUDP(ctx context.Context, n Network, server netip.AddrPort, q *dns.Msg, wire []byte, o Options) (*Result, error) {
	any := netip.IPv4Unspecified()
	if server.Addr().Is6() && !server.Addr().Is4In6() {
		any = netip.IPv6Unspecified()
	}
	c, err := n.ListenUDP(netip.AddrPortFrom(any, 0))
	if err != nil {
		return nil, fmt.Errorf("udp socket: %w", err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	buf := make([]byte, 65535)
	dst := net.UDPAddrFromAddrPort(server)
	for try := 0; try < o.tries(); try++ {
		start := time.Now()
		if _, err := c.WriteTo(wire, dst); err != nil {
			return nil, fmt.Errorf("send to %v: %w", server, err)
		}
		deadline := start.Add(o.timeout())
		c.SetReadDeadline(deadline)
		for {
			k, from, err := c.ReadFrom(buf)
			if err != nil {
				if ctx.Err() != nil {
					return nil, ctx.Err()
				}
				var ne net.Error
				if errors.As(err, &ne) && ne.Timeout() {
					break // next try
				}
				return nil, fmt.Errorf("receive: %w", err)
			}
			ua, ok := from.(*net.UDPAddr)
			if !ok || ua.AddrPort().Addr().Unmap() != server.Addr().Unmap() || ua.AddrPort().Port() != server.Port() {
				continue // not from the server asked
			}
			m, ok := matches(q, buf[:k])
			if !ok {
				continue
			}
			return &Result{Msg: m, Size: k, RTT: time.Since(start), Server: server, When: start}, nil
		}
	}
	return nil, ErrTimeout
}

func exchangeTCP(ctx context.Context, n Network, server netip.AddrPort, q *dns.Msg, wire []byte, o Options) (*Result, error) {
	ctx, cancel := context.WithTimeout(ctx, o.timeout())
	defer cancel()
	start := time.Now()
	c, err := n.DialTCP(ctx, server)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ErrTimeout
		}
		return nil, fmt.Errorf("connect to %v: %w", server, err)
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	msg := binary.BigEndian.AppendUint16(nil, uint16(len(wire)))
	if _, err := c.Write(append(msg, wire...)); err != nil {
		return nil, fmt.Errorf("send to %v: %w", server, err)
	}
	for {
		var hdr [2]byte
		if _, err := io.ReadFull(c, hdr[:]); err != nil {
			if ctx.Err() != nil {
				return nil, ErrTimeout
			}
			return nil, fmt.Errorf("receive from %v: %w", server, err)
		}
		buf := make([]byte, binary.BigEndian.Uint16(hdr[:]))
		if _, err := io.ReadFull(c, buf); err != nil {
			return nil, fmt.Errorf("receive from %v: %w", server, err)
		}
		if m, ok := matches(q, buf); ok {
			return &Result{Msg: m, Size: len(buf), RTT: time.Since(start), Server: server, TCP: true, When: start}, nil
		}
	}
}

// matches parses b and reports whether it answers q (a response with q's
// ID and question).
func matches(q *dns.Msg, b []byte) (*dns.Msg, bool) {
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil || !m.Response || m.Id != q.Id {
		return nil, false
	}
	if len(m.Question) > 0 && len(q.Question) > 0 {
		a, b := m.Question[0], q.Question[0]
		if !strings.EqualFold(a.Name, b.Name) || a.Qtype != b.Qtype || a.Qclass != b.Qclass {
			return nil, false
		}
	}
	return m, true
}

// Print writes r as dig does: the header comments, the sections, and the
// query time, server and size. short prints only the answers' rdata
// (+short).
func Print(w io.Writer, r *Result, short bool) {
	if short {
		for _, rr := range r.Msg.Answer {
			fmt.Fprintln(w, rdataText(rr))
		}
		return
	}
	fmt.Fprintln(w, ";; Got answer:")
	fmt.Fprint(w, digText(r.Msg))
	proto := "UDP"
	if r.TCP {
		proto = "TCP"
	}
	fmt.Fprintf(w, "\n;; Query time: %d msec\n", r.RTT.Milliseconds())
	fmt.Fprintf(w, ";; SERVER: %s#%d(%s) (%s)\n", r.Server.Addr(), r.Server.Port(), r.Server.Addr(), proto)
	fmt.Fprintf(w, ";; WHEN: %s\n", r.When.Format("Mon Jan 02 15:04:05 MST 2006"))
	fmt.Fprintf(w, ";; MSG SIZE  rcvd: %d\n\n", r.Size)
}

// digText is miekg's rendering of m made to read as dig's: the header
// line is marked ->>HEADER<<- and question lines are laid out as dig does.
func digText(m *dns.Msg) string {
	text := strings.Replace(m.String(), ";; opcode:", ";; ->>HEADER<<- opcode:", 1)
	lines := strings.Split(text, "\n")
	inQuestion := false
	for i, l := range lines {
		switch {
		case l == ";; QUESTION SECTION:":
			inQuestion = true
		case l == "":
			inQuestion = false
		case inQuestion && strings.HasPrefix(l, ";"):
			if f := strings.Fields(l); len(f) == 3 {
				lines[i] = f[0] + "\t\t" + f[1] + "\t" + f[2]
			}
		}
	}
	return strings.Join(lines, "\n")
}

// rdataText is an RR's presentation form after its header.
func rdataText(rr dns.RR) string {
	return strings.TrimPrefix(rr.String(), rr.Header().String())
}
