package resolver

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/tapdns/tapdns/cache"
	"github.com/tapdns/tapdns/internal/fakenet"
	"github.com/tapdns/tapdns/internal/kernelnet"
	"github.com/tapdns/tapdns/internal/labtest"
)

// nsNet opens kernel sockets inside a test namespace.
type nsNet struct {
	ns      *labtest.NS
	replies chan udpReply
}

func (n nsNet) ListenUDP(laddr netip.AddrPort) (net.PacketConn, error) {
	var pc net.PacketConn
	err := n.ns.Do(func() error {
		var err error
		pc, err = kernelnet.Net{}.ListenUDP(laddr)
		return err
	})
	return pc, err
}

func (n nsNet) DialTCP(ctx context.Context, raddr netip.AddrPort) (net.Conn, error) {
	var c net.Conn
	err := n.ns.Do(func() error {
		var err error
		c, err = kernelnet.Net{}.DialTCP(ctx, raddr)
		return err
	})
	return c, err
}

func (n nsNet) SendUDP(src, dst netip.AddrPort, payload []byte) error {
	n.replies <- udpReply{src, dst, append([]byte(nil), payload...)}
	return nil
}

// TestFakenet resolves the fake Internet's expected-answer table (NSD and
// Knot serving a root, TLDs and leaf zones with lame, dead and glueless
// servers, DNAME, CNAME chains and truncated answers) inside a test
// namespace, over UDP and TCP clients.
func TestFakenet(t *testing.T) {
	ns := labtest.NewNS(t, "resfn")
	fn := fakenet.Start(t, ns, fakenet.Options{})
	hints, err := LoadRootHints(fn.Hints)
	if err != nil {
		t.Fatal(err)
	}
	c, err := cache.New(cache.Config{})
	if err != nil {
		t.Fatal(err)
	}
	replies := make(chan udpReply, 64)
	s, err := New(Config{Network: nsNet{ns, replies}, Cache: c, RootHints: hints, TimeBudget: 6 * time.Second}, nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	l := &lab{t: t, replies: replies}
	for _, tcp := range []bool{false, true} {
		for _, e := range fn.Expect {
			t.Run(map[bool]string{false: "udp/", true: "tcp/"}[tcp]+e.String(), func(t *testing.T) {
				l.t = t
				r, _ := l.askRaw(s, e.Name, e.Type, tcp, withEDNS(1232))
				if r.Truncated && !tcp {
					// As a client does: the answer is too large for UDP.
					r, _ = l.askRaw(s, e.Name, e.Type, true, withEDNS(1232))
				}
				if err := e.Check(r); err != nil {
					t.Error(err)
				}
				if r.Authoritative || !r.RecursionAvailable {
					t.Errorf("AA %v RA %v", r.Authoritative, r.RecursionAvailable)
				}
			})
		}
	}
	st := s.Stats()
	t.Logf("upstream queries %d, timeouts %d, TCP %d, lame %d, SERVFAIL %v", st.UpstreamQueries, st.UpstreamTimeouts, st.UpstreamTCP, st.Lame, st.ServFail)
}
