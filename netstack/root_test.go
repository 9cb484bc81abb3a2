package netstack

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapdns/tapdns/internal/labtest"
)

// metaHandler answers "echo:<client>|udp|<query>", so tests see what the
// stack reported about each datagram.
type metaHandler struct{}

func (metaHandler) HandlePacket(dst, query []byte, m Meta) []byte {
	dst = append(dst, marker...)
	dst = m.Client.AppendTo(dst)
	dst = append(dst, "|udp|"...)
	return append(dst, query...)
}

func wantReply(local net.Addr, proto string, q []byte) []byte {
	var ap netip.AddrPort
	switch a := local.(type) {
	case *net.UDPAddr:
		ap = a.AddrPort()
	case *net.TCPAddr:
		ap = a.AddrPort()
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap().WithZone(""), ap.Port())
	return []byte(fmt.Sprintf("%s%s|%s|%s", marker, ap, proto, q))
}

// labStack starts a Stack inside ns on tap (created by the caller or not)
// and returns it with a function that stops Run and returns its error.
func labStack(t *testing.T, ns *labtest.NS, cfg Config) (*Stack, func() error) {
	t.Helper()
	return labStackWith(t, ns, cfg, metaHandler{})
}

// labStackWith is labStack with the Handler h.
func labStackWith(t *testing.T, ns *labtest.NS, cfg Config, h Handler) (*Stack, func() error) {
	t.Helper()
	var s *Stack
	if err := ns.Do(func() (err error) {
		s, err = New(cfg, h, nil)
		return err
	}); err != nil {
		t.Fatalf("New in %s: %v", ns.Name, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(ctx) }()
	echo := startTCPEcho(t, s, cfg)
	var once sync.Once
	var err error
	stop := func() error {
		once.Do(func() {
			cancel()
			select {
			case err = <-runErr:
			case <-time.After(5 * time.Second):
				err = errors.New("Run did not return within 5 s of cancel")
			}
			echo()
		})
		return err
	}
	t.Cleanup(func() {
		stop()
		s.Close()
	})
	return s, stop
}

func labConfig(tap string) Config {
	return Config{
		TAP:   tap,
		Addr:  netip.MustParsePrefix("198.18.0.2/24"),
		Addr6: netip.MustParsePrefix("2001:2::2/64"),
	}
}

func udpExchange(t *testing.T, ns *labtest.NS, addr string, q []byte) {
	t.Helper()
	c, err := ns.Dial("udp", addr)
	if err != nil {
		t.Fatalf("dial udp %s: %v", addr, err)
	}
	defer c.Close()
	buf := make([]byte, 65536)
	// The first datagram may wait for neighbour resolution; retry a little.
	for try := 0; try < 3; try++ {
		if _, err := c.Write(q); err != nil {
			t.Fatalf("udp write: %v", err)
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.Read(buf)
		if err != nil {
			continue
		}
		if want := wantReply(c.LocalAddr(), "udp", q); !bytes.Equal(buf[:n], want) {
			t.Fatalf("udp %s: reply %q, want %q", addr, buf[:n], want)
		}
		return
	}
	t.Fatalf("udp %s: no reply after 3 tries", addr)
}

// startTCPEcho listens on port 53 of the stack's addresses with ListenTCP
// and echoes what each connection sends; the returned function closes the
// listeners and connections and waits for the goroutines.
func startTCPEcho(t *testing.T, s *Stack, cfg Config) func() {
	t.Helper()
	var lns []net.Listener
	for _, p := range []netip.Prefix{cfg.Addr, cfg.Addr6} {
		if !p.IsValid() {
			continue
		}
		ln, err := s.ListenTCP(netip.AddrPortFrom(p.Addr(), 53))
		if err != nil {
			t.Fatalf("ListenTCP: %v", err)
		}
		lns = append(lns, ln)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var conns []net.Conn
	for _, ln := range lns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer c.Close()
					_, _ = io.Copy(c, c)
				}()
			}
		}()
	}
	var once sync.Once
	return func() {
		once.Do(func() {
			for _, ln := range lns {
				ln.Close()
			}
			mu.Lock()
			for _, c := range conns {
				c.Close()
			}
			mu.Unlock()
			wg.Wait()
		})
	}
}

// tcpEcho sends n chunks (growing in size) in one write on one connection
// and checks they come back in order.
func tcpEcho(t *testing.T, ns *labtest.NS, addr string, n int) {
	t.Helper()
	c, err := ns.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial tcp %s: %v", addr, err)
	}
	defer c.Close()
	var out []byte
	for i := 0; i < n; i++ {
		out = append(out, fmt.Sprintf("tcp-chunk-%d-%s|", i, strings.Repeat("x", i*100))...)
	}
	if _, err := c.Write(out); err != nil {
		t.Fatalf("tcp write: %v", err)
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(out))
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatalf("tcp %s: echo: %v", addr, err)
	}
	if !bytes.Equal(got, out) {
		t.Fatalf("tcp %s: echo differs from what was sent", addr)
	}
}

// injectJunk sends frames from the kernel side of tap through an AF_PACKET
// socket: unicast to a foreign MAC (as a bridge floods them), and frames to
// our MAC with an EtherType we do not speak. (Runts cannot be injected this
// way: the kernel refuses frames shorter than an Ethernet header with
// EINVAL; the fake-TAP test covers them.)
func injectJunk(t *testing.T, ns *labtest.NS, tap string, ourMAC [6]byte, foreign, otherType int) {
	t.Helper()
	withPacketSocket(t, ns, tap, func(sendFrame func([]byte) error) {
		send := func(f []byte) {
			if err := sendFrame(f); err != nil {
				t.Fatalf("inject %d-byte frame: %v", len(f), err)
			}
		}
		f := udp4Frame([6]byte{0x02, 0xde, 0xad, 0xbe, 0xef, 0x01}, ourIP4, 40000, 53, []byte("for another host"))
		for i := 0; i < foreign; i++ {
			send(f)
		}
		f = udp4Frame(ourMAC, ourIP4, 40000, 53, []byte("local experimental ethertype"))
		f[12], f[13] = 0x88, 0xb5
		for i := 0; i < otherType; i++ {
			send(f)
		}
	})
}

func TestLabTAP(t *testing.T) {
	labtest.RequireRoot(t)
	labtest.RequireTools(t, "ping")
	ns := labtest.NewNS(t, "netstack")
	ns.AddTAP(t, "tap0", "198.18.0.1/24", "2001:2::1/64")
	s, stop := labStack(t, ns, labConfig("tap0"))

	t.Run("arp", func(t *testing.T) {
		ns.MustRun(t, "ping", "-c1", "-W2", "198.18.0.2")
		out := ns.MustRun(t, "ip", "neigh", "show", "198.18.0.2", "dev", "tap0")
		if mac := net.HardwareAddr(s.mac[:]).String(); !strings.Contains(out, mac) {
			t.Errorf("ip neigh = %q, want our MAC %s", out, mac)
		}
	})
	t.Run("ping4", func(t *testing.T) { ns.MustRun(t, "ping", "-c1", "-W2", "198.18.0.2") })
	t.Run("ping6", func(t *testing.T) { ns.MustRun(t, "ping", "-6", "-c1", "-W2", "2001:2::2") })
	t.Run("ping6 link-local", func(t *testing.T) {
		ll := netip.AddrFrom16(linkLocal(s.mac))
		ns.MustRun(t, "ping", "-6", "-c1", "-W2", ll.String()+"%tap0")
	})
	t.Run("udp4", func(t *testing.T) { udpExchange(t, ns, "198.18.0.2:53", []byte("q4")) })
	t.Run("udp6", func(t *testing.T) { udpExchange(t, ns, "[2001:2::2]:53", []byte("q6")) })
	t.Run("udp6 link-local", func(t *testing.T) {
		ll := netip.AddrFrom16(linkLocal(s.mac)).WithZone("tap0")
		udpExchange(t, ns, netip.AddrPortFrom(ll, 53).String(), []byte("qll"))
	})
	t.Run("udp4 fragmented both ways", func(t *testing.T) {
		udpExchange(t, ns, "198.18.0.2:53", bytes.Repeat([]byte("f"), 4000))
	})
	t.Run("udp6 fragmented both ways", func(t *testing.T) {
		udpExchange(t, ns, "[2001:2::2]:53", bytes.Repeat([]byte("g"), 4000))
	})
	t.Run("tcp4 large", func(t *testing.T) { tcpEcho(t, ns, "198.18.0.2:53", 60) })
	t.Run("tcp4", func(t *testing.T) { tcpEcho(t, ns, "198.18.0.2:53", 8) })
	t.Run("tcp6", func(t *testing.T) { tcpEcho(t, ns, "[2001:2::2]:53", 8) })
	t.Run("junk does not stop the reader", func(t *testing.T) {
		before := s.Stats()
		injectJunk(t, ns, "tap0", s.mac, 20, 5)
		udpExchange(t, ns, "198.18.0.2:53", []byte("after junk"))
		st := waitStats(s, func(st Stats) bool {
			return st.DropForeignMAC-before.DropForeignMAC >= 20 && st.DropEtherType-before.DropEtherType >= 5
		})
		if got := st.DropForeignMAC - before.DropForeignMAC; got != 20 {
			t.Errorf("foreign-MAC drops = %d, want 20", got)
		}
		if got := st.DropEtherType - before.DropEtherType; got != 5 {
			t.Errorf("EtherType drops = %d, want 5", got)
		}
	})
	st := s.Stats()
	t.Logf("stats: %+v", st)
	if st.UDPQueries == 0 {
		t.Errorf("stats missing traffic: %+v", st)
	}

	start := time.Now()
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("stop and Close took %v, want well under 2 s", d)
	}
	if !ns.LinkExists(t, "tap0") {
		t.Fatalf("pre-existing tap0 was removed by Close")
	}
	if out := ns.MustRun(t, "ip", "-d", "link", "show", "tap0"); !strings.Contains(out, "persist on") {
		t.Errorf("tap0 lost its persist flag: %s", out)
	}
	// It can be attached to again.
	_, stop2 := labStack(t, ns, labConfig("tap0"))
	if err := stop2(); err != nil {
		t.Errorf("second Run: %v", err)
	}
}

func TestLabCreatedTAPRemoved(t *testing.T) {
	ns := labtest.NewNS(t, "netstack")
	if ns.LinkExists(t, "tapnew0") {
		t.Fatal("tapnew0 exists before the test")
	}
	s, stop := labStack(t, ns, labConfig("tapnew0"))
	if !ns.LinkExists(t, "tapnew0") {
		t.Fatal("New did not create tapnew0")
	}
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if ns.LinkExists(t, "tapnew0") {
		t.Errorf("tapnew0, created by New, still exists after Close")
	}
}

func TestLabTAPDeletedEndsRun(t *testing.T) {
	ns := labtest.NewNS(t, "netstack")
	ns.AddTAP(t, "tapdel0", "198.18.0.1/24", "")
	var s *Stack
	if err := ns.Do(func() (err error) { s, err = New(labConfig("tapdel0"), metaHandler{}, nil); return err }); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(context.Background()) }()
	time.Sleep(100 * time.Millisecond)
	ns.MustRun(t, "ip", "link", "del", "tapdel0")
	select {
	case err := <-runErr:
		if err == nil {
			t.Fatal("Run = nil after the TAP was deleted, want an error")
		}
		t.Logf("Run: %v", err)
	case <-time.After(5 * time.Second):
		t.Fatal("Run still running 5 s after the TAP was deleted")
	}
}

func TestLabAttachErrors(t *testing.T) {
	ns := labtest.NewNS(t, "netstack")
	ns.AddTAP(t, "tapbusy0", "", "")
	_, _ = labStack(t, ns, labConfig("tapbusy0"))
	err := ns.Do(func() error { _, err := New(labConfig("tapbusy0"), metaHandler{}, nil); return err })
	if err == nil || !strings.Contains(err.Error(), "busy") {
		t.Errorf("second attach: %v, want a device-busy error", err)
	}
	ns.MustRun(t, "ip", "link", "add", "veth0", "type", "veth", "peer", "name", "veth1")
	err = ns.Do(func() error { _, err := New(labConfig("veth0"), metaHandler{}, nil); return err })
	if err == nil || !strings.Contains(err.Error(), "not a TAP") {
		t.Errorf("attach to a veth: %v, want a not-a-TAP error", err)
	}
}

func TestLabFastPath(t *testing.T) {
	ns := labtest.NewNS(t, "netstack")
	ns.AddTAP(t, "tap0", "198.18.0.1/24", "2001:2::1/64")
	cfg := labConfig("tap0")
	cfg.FastPath = true
	cfg.Gateway = netip.MustParseAddr("198.18.0.1")
	cfg.Gateway6 = netip.MustParseAddr("2001:2::1")
	s, stop := labStack(t, ns, cfg)
	// Run resolves the gateways at once; the fast path needs their MACs
	// for off-link clients.
	deadline := time.Now().Add(3 * time.Second)
	for {
		m4, m6, ok4, ok6 := s.gw.get()
		if ok4 && ok6 {
			t.Logf("gateway MACs: %x %x", m4, m6)
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("gateways not resolved after 3 s: v4 %v v6 %v", ok4, ok6)
		}
		time.Sleep(10 * time.Millisecond)
	}
	ns.MustRun(t, "ping", "-c1", "-W2", "198.18.0.2")
	udpExchange(t, ns, "198.18.0.2:53", []byte("fast4"))
	udpExchange(t, ns, "[2001:2::2]:53", []byte("fast6"))
	tcpEcho(t, ns, "198.18.0.2:53", 3)
	st := waitStats(s, func(st Stats) bool { return st.FastAnswered >= 2 })
	if st.FastAnswered < 2 {
		t.Errorf("fast path answered %d UDP queries, want >= 2 (stats %+v)", st.FastAnswered, st)
	}
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
}

func TestLabMultiQueue(t *testing.T) {
	ns := labtest.NewNS(t, "netstack")
	// An existing multi-queue device, as `ip tuntap add ... multi_queue`
	// makes it; the namespace's deletion removes it.
	ns.MustRun(t, "ip", "tuntap", "add", "dev", "tapmq0", "mode", "tap", "multi_queue")
	ns.MustRun(t, "ip", "addr", "add", "198.18.0.1/24", "dev", "tapmq0")
	ns.MustRun(t, "ip", "link", "set", "tapmq0", "up")
	cfg := labConfig("tapmq0")
	cfg.Addr6 = netip.Prefix{}
	cfg.Queues = 3
	s, stop := labStack(t, ns, cfg)
	if got := len(s.link.queues); got != 3 {
		t.Fatalf("%d queues, want 3", got)
	}
	ns.MustRun(t, "ping", "-c1", "-W2", "198.18.0.2")
	for i := 0; i < 4; i++ {
		udpExchange(t, ns, "198.18.0.2:53", []byte(fmt.Sprintf("mq%d", i)))
	}
	tcpEcho(t, ns, "198.18.0.2:53", 3)
	if err := stop(); err != nil {
		t.Errorf("Run: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if !ns.LinkExists(t, "tapmq0") {
		t.Errorf("pre-existing multi-queue tapmq0 removed by Close")
	}

	// A single-queue attach to a multi-queue device is refused clearly.
	err := ns.Do(func() error { _, err := New(labConfig("tapmq0"), metaHandler{}, nil); return err })
	if err == nil || !strings.Contains(err.Error(), "multi-queue") {
		t.Errorf("single-queue attach to tapmq0: %v, want a multi-queue mismatch error", err)
	}
}
