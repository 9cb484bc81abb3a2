package resolver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"
	"github.com/tapdns/tapdns/cache"
	"github.com/tapdns/tapdns/dnssvc"
	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/internal/kernelnet"
	"github.com/tapdns/tapdns/zone"
)

// A lab is a small fake Internet on loopback: authoritative servers
// (dnssvc answering from zone files) on 127.A.B.n, all on one port, and a
// resolver whose root hints point at the lab's root. Nothing leaves the
// loopback interface.
type lab struct {
	t       testing.TB
	prefix  [3]byte // 127.A.B
	port    uint16
	servers map[int]*authServer
	replies chan udpReply
	now     atomic.Int64 // fake clock offset for the cache, ns
}

// udpReply is a datagram the resolver sent a client with SendUDP.
type udpReply struct {
	src, dst netip.AddrPort
	msg      []byte
}

// labNet is kernelnet on loopback, with SendUDP captured.
type labNet struct {
	kernelnet.Net
	replies chan udpReply
}

func (n labNet) SendUDP(src, dst netip.AddrPort, payload []byte) error {
	select {
	case n.replies <- udpReply{src, dst, append([]byte(nil), payload...)}:
		return nil
	default:
		return errors.New("reply channel full")
	}
}

func newLab(t testing.TB) *lab {
	t.Helper()
	l := &lab{t: t, servers: map[int]*authServer{}, replies: make(chan udpReply, 1024)}
	l.prefix = [3]byte{127, byte(1 + rand.IntN(250)), byte(1 + rand.IntN(250))}
	// A port free on the first address; the others are nearly always
	// free too (nothing else binds these addresses).
	for i := 0; ; i++ {
		p := uint16(20000 + rand.IntN(40000))
		a := netip.AddrPortFrom(l.ip(1), p)
		u, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(a))
		if err == nil {
			tl, err := net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(a))
			u.Close()
			if err == nil {
				tl.Close()
				l.port = p
				break
			}
		}
		if i > 50 {
			t.Fatalf("no free port on %v: %v", l.ip(1), err)
		}
	}
	return l
}

// ip returns the lab address of server n.
func (l *lab) ip(n int) netip.Addr {
	return netip.AddrFrom4([4]byte{l.prefix[0], l.prefix[1], l.prefix[2], byte(n)})
}

// expand replaces $1..$99 in zone text by the servers' addresses.
func (l *lab) expand(text string) string {
	for n := 99; n >= 1; n-- {
		text = strings.ReplaceAll(text, fmt.Sprintf("$%d", n), l.ip(n).String())
	}
	return text
}

// rootZone is the usual lab root: its server is 1 (ns.rootsrv.), and it
// delegates test. to servers 2 and 3 and other. to server 4.
const rootZone = `
$ORIGIN .
$TTL 86400
.            SOA ns.rootsrv. host.rootsrv. 1 3600 600 86400 300
.            NS  ns.rootsrv.
ns.rootsrv.  A   $1
test.        NS  ns1.test.
test.        NS  ns2.test.
ns1.test.    A   $2
ns2.test.    A   $3
other.       NS  ns.other.
ns.other.    A   $4
`

// hints returns root hints for server 1.
func (l *lab) hints() []Hint {
	return []Hint{{Name: "ns.rootsrv.", Addrs: []netip.Addr{l.ip(1)}}}
}

// authServer is one fake authoritative server: dnssvc answering its
// zones over UDP and TCP, with a hook that can change what it does.
type authServer struct {
	l    *lab
	addr netip.AddrPort
	auth atomic.Pointer[dnssvc.Server]
	udp  *net.UDPConn
	tcp  *net.TCPListener

	// hook, when set, handles a UDP query instead of the server
	// (return false to fall through to the normal answer).
	hook atomic.Pointer[func(s *authServer, q []byte, from netip.AddrPort) bool]
	// tcpHook likewise for TCP: it returns the response to send.
	tcpHook atomic.Pointer[func(s *authServer, q []byte) []byte]

	udpQueries, tcpQueries atomic.Int64
	mu                     sync.Mutex
	log                    []string // "name type" of every query, in order
}

// serve starts server n with the zones (text with $n addresses).
func (l *lab) serve(n int, zones ...string) *authServer {
	l.t.Helper()
	s := &authServer{l: l, addr: netip.AddrPortFrom(l.ip(n), l.port)}
	s.setZones(zones...)
	var err error
	if s.udp, err = net.ListenUDP("udp4", net.UDPAddrFromAddrPort(s.addr)); err != nil {
		l.t.Fatalf("server %d: %v", n, err)
	}
	if s.tcp, err = net.ListenTCP("tcp4", net.TCPAddrFromAddrPort(s.addr)); err != nil {
		l.t.Fatalf("server %d: %v", n, err)
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); s.serveUDP() }()
	go func() { defer wg.Done(); s.serveTCP() }()
	l.t.Cleanup(func() {
		s.udp.Close()
		s.tcp.Close()
		wg.Wait()
	})
	l.servers[n] = s
	return s
}

func (s *authServer) setZones(zones ...string) {
	s.l.t.Helper()
	var zs []*zone.Zone
	for i, text := range zones {
		z, err := zone.Parse(strings.NewReader(s.l.expand(text)), fmt.Sprintf("zone%d", i), "")
		if err != nil {
			s.l.t.Fatalf("zone: %v", err)
		}
		zs = append(zs, z)
	}
	set, err := zone.NewSet(zs...)
	if err != nil {
		s.l.t.Fatal(err)
	}
	s.auth.Store(dnssvc.New(dnssvc.Config{}, set, nil))
}

func (s *authServer) record(q []byte) {
	var m dns.Msg
	if m.Unpack(q) == nil && len(m.Question) == 1 {
		s.mu.Lock()
		s.log = append(s.log, strings.ToLower(m.Question[0].Name)+" "+dns.TypeToString[m.Question[0].Qtype])
		s.mu.Unlock()
	}
}

// queries returns the questions the server was asked.
func (s *authServer) queries() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.log...)
}

// respond is the server's normal answer to q.
func (s *authServer) respond(q []byte, tcp bool) []byte {
	return s.auth.Load().Respond(make([]byte, 0, 65535), q, dnssvc.Request{TCP: tcp})
}

func (s *authServer) serveUDP() {
	buf := make([]byte, 65535)
	for {
		n, from, err := s.udp.ReadFromUDPAddrPort(buf)
		if err != nil {
			return
		}
		q := append([]byte(nil), buf[:n]...)
		s.udpQueries.Add(1)
		s.record(q)
		if h := s.hook.Load(); h != nil && (*h)(s, q, from) {
			continue
		}
		if r := s.respond(q, false); len(r) > 0 {
			s.udp.WriteToUDPAddrPort(r, from)
		}
	}
}

func (s *authServer) serveTCP() {
	for {
		c, err := s.tcp.Accept()
		if err != nil {
			return
		}
		go func() {
			defer c.Close()
			c.SetDeadline(time.Now().Add(5 * time.Second))
			var lb [2]byte
			for {
				if _, err := io.ReadFull(c, lb[:]); err != nil {
					return
				}
				q := make([]byte, int(lb[0])<<8|int(lb[1]))
				if _, err := io.ReadFull(c, q); err != nil {
					return
				}
				s.tcpQueries.Add(1)
				s.record(q)
				r := s.respond(q, true)
				if h := s.tcpHook.Load(); h != nil {
					r = (*h)(s, q)
				}
				if r == nil {
					return
				}
				c.Write(append([]byte{byte(len(r) >> 8), byte(len(r))}, r...))
			}
		}()
	}
}

// setHook installs a UDP hook.
func (s *authServer) setHook(h func(s *authServer, q []byte, from netip.AddrPort) bool) {
	s.hook.Store(&h)
}

// dead makes the server drop every UDP query and close TCP connections.
func (s *authServer) dead() {
	s.setHook(func(*authServer, []byte, netip.AddrPort) bool { return true })
	h := func(*authServer, []byte) []byte { return nil }
	s.tcpHook.Store(&h)
}

// alive undoes dead.
func (s *authServer) alive() {
	s.hook.Store(nil)
	s.tcpHook.Store(nil)
}

// clock returns the lab's fake clock for the cache.
func (l *lab) clock() time.Time {
	return time.Unix(1_800_000_000, 0).Add(time.Duration(l.now.Load()))
}

// advance moves the cache clock on.
func (l *lab) advance(d time.Duration) { l.now.Add(int64(d)) }

// resolver returns a running Server for the lab: root hints at server 1,
// IPv4 only, the lab's port, cache on the lab's clock unless cfg has one.
func (l *lab) resolver(cfg Config, ccfg cache.Config) *Server {
	l.t.Helper()
	if ccfg.Now == nil {
		ccfg.Now = l.clock
	}
	c, err := cache.New(ccfg)
	if err != nil {
		l.t.Fatal(err)
	}
	cfg.Cache = c
	cfg.Network = labNet{replies: l.replies}
	if cfg.RootHints == nil && cfg.Forward == nil {
		cfg.RootHints = l.hints()
	}
	cfg.DisableIPv6 = true
	if cfg.TimeBudget == 0 {
		cfg.TimeBudget = 3 * time.Second
	}
	s, err := New(cfg, nil)
	if err != nil {
		l.t.Fatal(err)
	}
	s.authPort = l.port
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	l.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			l.t.Errorf("Run: %v", err)
		}
		s.Close()
	})
	return s
}

// qopts changes a query before it is asked.
type qopt func(*dns.Msg)

func withEDNS(size uint16) qopt {
	return func(m *dns.Msg) { m.SetEdns0(size, false) }
}

func noRD() qopt { return func(m *dns.Msg) { m.RecursionDesired = false } }

var clientCounter atomic.Uint32

// ask sends a query to the resolver as a UDP client would (through
// Answer; a deferred reply is awaited on the captured SendUDP) and returns
// the reply.
func (l *lab) ask(s *Server, name string, qtype uint16, opts ...qopt) *dns.Msg {
	l.t.Helper()
	r, _ := l.askRaw(s, name, qtype, false, opts...)
	return r
}

// askTCP asks as a TCP client: Answer blocks.
func (l *lab) askTCP(s *Server, name string, qtype uint16, opts ...qopt) *dns.Msg {
	l.t.Helper()
	r, _ := l.askRaw(s, name, qtype, true, opts...)
	return r
}

// askRaw returns the reply and whether it came at once (a cache hit).
func (l *lab) askRaw(s *Server, name string, qtype uint16, tcp bool, opts ...qopt) (*dns.Msg, bool) {
	l.t.Helper()
	q := new(dns.Msg)
	q.SetQuestion(name, qtype)
	q.Id = dns.Id()
	for _, o := range opts {
		o(q)
	}
	wire, err := q.Pack()
	if err != nil {
		l.t.Fatal(err)
	}
	rq := l.request(wire, tcp)
	out := s.Answer(make([]byte, 0, 65535), rq)
	if out != nil {
		return unpack(l.t, out), true
	}
	if tcp {
		l.t.Fatalf("%s %s: TCP Answer returned nil", name, dns.TypeToString[qtype])
	}
	deadline := time.After(10 * time.Second)
	for {
		select {
		case r := <-l.replies:
			if r.dst != rq.Client {
				continue // a late reply to an earlier client
			}
			if r.src != rq.Local {
				l.t.Errorf("reply from %v, want %v", r.src, rq.Local)
			}
			return unpack(l.t, r.msg), false
		case <-deadline:
			l.t.Fatalf("%s %s: no reply in 10s", name, dns.TypeToString[qtype])
			return nil, false
		}
	}
}

// request wraps a query message as dnssvc would pass it.
func (l *lab) request(wire []byte, tcp bool) *dnssvc.RecursiveQuery {
	l.t.Helper()
	var q dnswire.Query
	if st := dnswire.ParseQuery(wire, &q); st != dnswire.StatusOK {
		l.t.Fatalf("ParseQuery: %v", st)
	}
	limit := 512
	if q.EDNS {
		limit = min(int(q.UDPSize), 1232)
	}
	if tcp {
		limit = 65535
	}
	n := clientCounter.Add(1)
	return &dnssvc.RecursiveQuery{
		Msg: wire, Query: &q,
		Client:  netip.AddrPortFrom(netip.AddrFrom4([4]byte{198, 18, byte(n >> 8), byte(n)}), uint16(10000+n%50000)),
		Local:   netip.MustParseAddrPort("198.18.0.2:53"),
		TCP:     tcp,
		Limit:   limit,
		UDPSize: 1232,
	}
}

func unpack(t testing.TB, b []byte) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatalf("unpack reply: %v", err)
	}
	return m
}

// answers returns the answer section as "name ttl type rdata" strings
// without the TTL (TTLs are checked on their own).
func answers(m *dns.Msg) []string {
	var out []string
	for _, rr := range m.Answer {
		h := rr.Header()
		out = append(out, strings.ToLower(h.Name)+" "+dns.TypeToString[h.Rrtype]+" "+strings.TrimPrefix(rr.String(), h.String()))
	}
	return out
}

// ede returns the Extended DNS Error info-code of m, or EDENone.
func ede(m *dns.Msg) dnswire.EDE {
	if o := m.IsEdns0(); o != nil {
		for _, opt := range o.Option {
			if e, ok := opt.(*dns.EDNS0_EDE); ok {
				return dnswire.EDE(e.InfoCode)
			}
		}
	}
	return dnswire.EDENone
}
