package xfr

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/dnssvc"
	"github.com/tapdns/tapdns/dnstcp"
	"github.com/tapdns/tapdns/internal/kernelnet"
	"github.com/tapdns/tapdns/zone"
)

// testServer serves a dnssvc.Server over kernel UDP and TCP sockets (on
// loopback, or inside a test's namespace), the way the appliance serves it
// over the userspace stack: UDP through Respond, TCP through dnstcp with
// transfers handed to ServeTransfer first.
type testServer struct {
	Addr netip.AddrPort
	svc  atomic.Pointer[dnssvc.Server]
	udp  net.PacketConn
	tcp  *dnstcp.Server
	wg   sync.WaitGroup
}

// listenFunc opens the sockets (kernelnet in a namespace, or loopback).
type listenFunc struct {
	udp func(string) (net.PacketConn, error)
	tcp func(string) (net.Listener, error)
}

var loopback = listenFunc{
	udp: func(a string) (net.PacketConn, error) { return net.ListenPacket("udp", a) },
	tcp: func(a string) (net.Listener, error) { return net.Listen("tcp", a) },
}

// startServer listens on ip (port chosen by the kernel, the same for UDP
// and TCP) and serves whatever Server is set with set.
func startServer(t testing.TB, lf listenFunc, ip string) *testServer {
	t.Helper()
	ts := &testServer{}
	var ln net.Listener
	for try := 0; ; try++ {
		pc, err := lf.udp(net.JoinHostPort(ip, "0"))
		if err != nil {
			t.Fatal(err)
		}
		ap := pc.LocalAddr().(*net.UDPAddr).AddrPort()
		ln, err = lf.tcp(ap.String())
		if err == nil {
			ts.udp, ts.Addr = pc, netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
			break
		}
		pc.Close()
		if try > 20 {
			t.Fatal(err)
		}
	}
	srv, err := dnstcp.New(dnstcp.Config{}, ts, nil)
	if err != nil {
		t.Fatal(err)
	}
	ts.tcp = srv
	if err := srv.Serve(ln); err != nil {
		t.Fatal(err)
	}
	ts.wg.Add(1)
	go func() {
		defer ts.wg.Done()
		buf := make([]byte, 65535)
		out := make([]byte, 0, 65535)
		for {
			n, from, err := ts.udp.ReadFrom(buf)
			if err != nil {
				return
			}
			svc := ts.svc.Load()
			if svc == nil {
				continue
			}
			ua := from.(*net.UDPAddr).AddrPort()
			resp := svc.Respond(out[:0], buf[:n], dnssvc.Request{Client: netip.AddrPortFrom(ua.Addr().Unmap(), ua.Port()), Local: ts.Addr})
			if len(resp) > 0 {
				ts.udp.WriteTo(resp, from)
			}
		}
	}()
	t.Cleanup(ts.close)
	return ts
}

func (ts *testServer) set(svc *dnssvc.Server) { ts.svc.Store(svc) }

func (ts *testServer) close() {
	ts.udp.Close()
	ts.tcp.Close()
	ts.wg.Wait()
}

// ServeTCP implements dnstcp.Handler as cmd/tapdns does.
func (ts *testServer) ServeTCP(w dnstcp.MsgWriter, query []byte, m dnstcp.Meta) bool {
	svc := ts.svc.Load()
	if svc == nil {
		return false
	}
	req := dnssvc.Request{Client: m.Client, Local: m.Local, TCP: true}
	if handled, keep := svc.ServeTransfer(w, query, req); handled {
		return keep
	}
	resp := svc.Respond(make([]byte, 0, 65535), query, req)
	return len(resp) == 0 || w.WriteMsg(resp) == nil
}

// composer is the Installer of a test secondary: the set served is the
// secondary zones installed, as cmd/tapdns composes it with file zones.
// It keeps what it is given until attach names the Server.
type composer struct {
	mu          sync.Mutex
	zones       map[string]*zone.Zone
	unavailable [][]byte
	svc         *dnssvc.Server
}

func newComposer() *composer { return &composer{zones: map[string]*zone.Zone{}} }

func (c *composer) install(origin []byte, z *zone.Zone, unavailable [][]byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if z == nil {
		delete(c.zones, string(origin))
	} else {
		c.zones[string(origin)] = z
	}
	c.unavailable = unavailable
	c.applyLocked()
}

func (c *composer) attach(svc *dnssvc.Server) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.svc = svc
	c.applyLocked()
}

func (c *composer) applyLocked() {
	if c.svc == nil {
		return
	}
	var all []*zone.Zone
	for _, z := range c.zones {
		all = append(all, z)
	}
	set, err := zone.NewSet(all...)
	if err != nil {
		panic(err)
	}
	c.svc.SetZones(set)
	c.svc.SetUnavailable(c.unavailable)
}

// env is where a test runs: the listeners and dialers of the test's
// servers and clients, and the Network of its xfr Services (loopback, or
// kernel sockets inside a namespace the test made).
type env struct {
	listen listenFunc
	dial   func(network, addr string) (net.Conn, error)
	net    Network
}

var loopbackEnv = env{listen: loopback, dial: net.Dial, net: kernelnet.Net{}}

// exchange sends m to addr over UDP (or TCP) and returns the answer.
// tsigSecret (name -> base64) signs and checks when m carries a TSIG.
func exchange(t testing.TB, e env, addr netip.AddrPort, m *dns.Msg, tcp bool, tsigSecret map[string]string) (*dns.Msg, error) {
	t.Helper()
	network := "udp"
	if tcp {
		network = "tcp"
	}
	c, err := e.dial(network, addr.String())
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	co := &dns.Conn{Conn: c, TsigSecret: tsigSecret, UDPSize: 65535}
	if err := co.WriteMsg(m); err != nil {
		return nil, err
	}
	for {
		r, err := co.ReadMsg()
		if err != nil {
			return r, err
		}
		if r.Id == m.Id {
			return r, nil
		}
	}
}

// query asks addr for name/qtype over UDP.
func query(t testing.TB, e env, addr netip.AddrPort, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	return exchange(t, e, addr, m, false, nil)
}

// axfr transfers zoneName from addr (signed with the key when name is not
// empty) and returns the records, the closing SOA included.
func axfr(t testing.TB, e env, addr netip.AddrPort, zoneName, keyName, secret string) ([]dns.RR, error) {
	t.Helper()
	c, err := e.dial("tcp", addr.String())
	if err != nil {
		return nil, err
	}
	c.SetDeadline(time.Now().Add(10 * time.Second))
	tr := &dns.Transfer{Conn: &dns.Conn{Conn: c}}
	m := new(dns.Msg)
	m.SetAxfr(zoneName)
	if keyName != "" {
		tr.TsigSecret = map[string]string{keyName: secret}
		m.SetTsig(keyName, dns.HmacSHA256, 300, time.Now().Unix())
	}
	ch, err := tr.In(m, addr.String())
	if err != nil {
		return nil, err
	}
	var rrs []dns.RR
	for env := range ch {
		if env.Error != nil {
			return rrs, env.Error
		}
		rrs = append(rrs, env.RR...)
	}
	return rrs, nil
}

// waitFor polls f every 20 ms until it returns nil or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var err error
	for time.Now().Before(deadline) {
		if err = f(); err == nil {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within %v: %v", what, timeout, err)
}

// serialOf asks addr for the zone's SOA serial over UDP.
func serialOf(t testing.TB, e env, addr netip.AddrPort, zoneName string) (uint32, int, error) {
	r, err := query(t, e, addr, zoneName, dns.TypeSOA)
	if err != nil {
		return 0, 0, err
	}
	for _, rr := range r.Answer {
		if soa, ok := rr.(*dns.SOA); ok {
			return soa.Serial, r.Rcode, nil
		}
	}
	return 0, r.Rcode, errors.New("no SOA in the answer: " + dns.RcodeToString[r.Rcode])
}

// waitSerial waits until addr serves zoneName at serial.
func waitSerial(t testing.TB, e env, addr netip.AddrPort, zoneName string, serial uint32, timeout time.Duration) {
	t.Helper()
	waitFor(t, timeout, fmt.Sprintf("%s serves %s at serial %d", addr, zoneName, serial), func() error {
		got, _, err := serialOf(t, e, addr, zoneName)
		if err == nil && got != serial {
			err = fmt.Errorf("serial %d", got)
		}
		return err
	})
}

// runService runs s until the test ends.
func runService(t testing.TB, s *Service) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Service.Run did not return within 10 s of its context's end")
		}
	})
}
