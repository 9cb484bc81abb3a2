package mdns

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"
)

// hub is an in-memory link for unit tests: datagrams written to a group go
// to every other member of that family, unicast ones to the member that
// has the address. SendUDP datagrams are kept for the test to read.
type hub struct {
	mu      sync.Mutex
	members []*memConn
	udp     chan dgram // what SendUDP sent
}

type dgram struct {
	src, dst netip.AddrPort
	b        []byte
}

func newHub() *hub { return &hub{udp: make(chan dgram, 64)} }

// memNet is one host on the hub, with one address per family.
type memNet struct {
	h     *hub
	addrs []netip.Addr
}

func (h *hub) host(addrs ...string) *memNet {
	n := &memNet{h: h}
	for _, a := range addrs {
		n.addrs = append(n.addrs, netip.MustParseAddr(a))
	}
	return n
}

func (n *memNet) addr(v6 bool) netip.Addr {
	for _, a := range n.addrs {
		if a.Is6() == v6 {
			return a
		}
	}
	return netip.Addr{}
}

func (n *memNet) ListenMulticastUDP(group netip.AddrPort) (net.PacketConn, error) {
	c := &memConn{h: n.h, local: netip.AddrPortFrom(n.addr(group.Addr().Is6()), group.Port()), in: make(chan dgram, 256), closed: make(chan struct{})}
	n.h.mu.Lock()
	n.h.members = append(n.h.members, c)
	n.h.mu.Unlock()
	return c, nil
}

func (n *memNet) SendUDP(src, dst netip.AddrPort, payload []byte) error {
	n.h.udp <- dgram{src: src, dst: dst, b: append([]byte(nil), payload...)}
	return nil
}

// memConn is a member's socket.
type memConn struct {
	h         *hub
	local     netip.AddrPort
	in        chan dgram
	closeOnce sync.Once
	closed    chan struct{}
}

func (c *memConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case d := <-c.in:
		return copy(b, d.b), net.UDPAddrFromAddrPort(d.src), nil
	case <-c.closed:
		return 0, nil, net.ErrClosed
	}
}

func (c *memConn) WriteTo(b []byte, to net.Addr) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	c.h.deliver(c, c.local, to.(*net.UDPAddr).AddrPort(), b)
	return len(b), nil
}

// deliver hands b to the members it is for, except from.
func (h *hub) deliver(from *memConn, src, dst netip.AddrPort, b []byte) {
	h.mu.Lock()
	defer h.mu.Unlock()
	dst = netip.AddrPortFrom(dst.Addr().WithZone(""), dst.Port())
	for _, m := range h.members {
		if m == from || m.local.Addr().Is6() != dst.Addr().Is6() {
			continue
		}
		if dst.Addr().IsMulticast() || m.local.Addr() == dst.Addr() {
			select {
			case m.in <- dgram{src: src, dst: dst, b: append([]byte(nil), b...)}:
			default: // a member that does not read loses datagrams, as on a link
			}
		}
	}
}

func (c *memConn) Close() error {
	c.closeOnce.Do(func() { close(c.closed) })
	return nil
}
func (c *memConn) LocalAddr() net.Addr              { return net.UDPAddrFromAddrPort(c.local) }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

// peer is a test's own host on the hub: it sees every datagram for it or
// its group and sends what the test builds, from any source it likes.
type peer struct {
	t    testing.TB
	h    *hub
	conn *memConn
}

func (h *hub) peer(t testing.TB, addr string) *peer {
	n := h.host(addr)
	c, _ := n.ListenMulticastUDP(groupFor(n.addrs[0]))
	t.Cleanup(func() { c.Close() })
	return &peer{t: t, h: h, conn: c.(*memConn)}
}

func groupFor(a netip.Addr) netip.AddrPort {
	if a.Is6() {
		return GroupV6
	}
	return GroupV4
}

// send sends b from the peer's address and port to dst.
func (p *peer) send(port uint16, dst netip.AddrPort, b []byte) {
	p.sendFrom(netip.AddrPortFrom(p.conn.local.Addr(), port), dst, b)
}

func (p *peer) sendFrom(src, dst netip.AddrPort, b []byte) {
	p.h.deliver(p.conn, src, dst, b)
}

// recv returns the next datagram that parses and that match accepts,
// failing the test if none comes within d.
func (p *peer) recv(d time.Duration, match func(dgram, *Message) bool) (dgram, *Message) {
	p.t.Helper()
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case g := <-p.conn.in:
			m := new(Message)
			if m.Parse(g.b) != nil {
				continue
			}
			if match == nil || match(g, m) {
				return g, m
			}
		case <-t.C:
			p.t.Fatalf("no matching datagram within %v", d)
			return dgram{}, nil
		}
	}
}

// quiet reports whether no datagram that match accepts arrives within d.
func (p *peer) quiet(d time.Duration, match func(dgram, *Message) bool) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for {
		select {
		case g := <-p.conn.in:
			m := new(Message)
			if m.Parse(g.b) == nil && (match == nil || match(g, m)) {
				return false
			}
		case <-t.C:
			return true
		}
	}
}

// drain discards what has arrived so far.
func (p *peer) drain() {
	for {
		select {
		case <-p.conn.in:
		default:
			return
		}
	}
}

// logBuf collects a Responder's log, shown when the test fails.
type logBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuf) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// running is a Responder started by start.
type running struct {
	*Responder
	log  *logBuf
	stop func() // cancels Run and waits for it (the goodbyes are sent)
}

// start runs a Responder on n until the test ends (or stop is called).
func start(t testing.TB, cfg Config, n Net) *running {
	t.Helper()
	lb := &logBuf{}
	r, err := New(cfg, n, slog.New(slog.NewTextHandler(lb, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Run(ctx) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("Run: %v", err)
			}
			r.Close()
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("responder %s log:\n%s", cfg.Name, lb.String())
		}
	})
	return &running{Responder: r, log: lb, stop: stop}
}
