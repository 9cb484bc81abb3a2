package netstack

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/tapdns/tapdns/internal/labtest"
)

// bigHandler answers a query "big:N" with N octets, everything else as
// metaHandler does.
type bigHandler struct{ metaHandler }

func (h bigHandler) HandlePacket(dst, q []byte, m Meta) []byte {
	var n int
	if _, err := fmt.Sscanf(string(q), "big:%d", &n); err == nil {
		return append(dst, bytes.Repeat([]byte{'B'}, n)...)
	}
	return h.metaHandler.HandlePacket(dst, q, m)
}

// TestLabSockets checks the sockets the stack lends the layers above,
// against kernel sockets on the other side of the TAP.
func TestLabSockets(t *testing.T) {
	ns := labtest.NewNS(t, "sockets")
	ns.AddTAP(t, "tap0", "198.18.0.1/24", "2001:2::1/64")
	cfg := labConfig("tap0")
	cfg.FastPath = true
	cfg.Gateway = netip.MustParseAddr("198.18.0.1")
	s, stop := labStackWith(t, ns, cfg, bigHandler{})
	defer stop()
	var capMu sync.Mutex
	var captured [][]byte
	s.SetCapture(captureFunc(func(f []byte, out bool) {
		if out {
			capMu.Lock()
			captured = append(captured, bytes.Clone(f))
			capMu.Unlock()
		}
	}))

	for _, fam := range []struct{ name, kernel, any string }{
		{"v4", "198.18.0.1", "0.0.0.0"},
		{"v6", "2001:2::1", "::"},
	} {
		t.Run("ListenUDP "+fam.name, func(t *testing.T) {
			srv, err := ns.ListenPacket("udp", net.JoinHostPort(fam.kernel, "0"))
			if err != nil {
				t.Fatal(err)
			}
			defer srv.Close()
			go func() { // echo, owned by srv: ends when srv is closed
				buf := make([]byte, 2048)
				for {
					n, a, err := srv.ReadFrom(buf)
					if err != nil {
						return
					}
					srv.WriteTo(buf[:n], a)
				}
			}()
			dst := srv.LocalAddr().(*net.UDPAddr).AddrPort()
			ports := map[int]bool{}
			for i := range 4 {
				c, err := s.ListenUDP(netip.AddrPortFrom(netip.MustParseAddr(fam.any), 0))
				if err != nil {
					t.Fatal(err)
				}
				ports[c.LocalAddr().(*net.UDPAddr).Port] = true
				msg := []byte(fmt.Sprintf("ping %d", i))
				got := udpRoundTrip(t, c, dst, msg)
				c.Close()
				if !bytes.Equal(got, msg) {
					t.Fatalf("echo %q, want %q", got, msg)
				}
			}
			if len(ports) < 3 {
				t.Errorf("4 sockets used ports %v; want random ephemeral ports", ports)
			}
		})
		t.Run("DialTCP "+fam.name, func(t *testing.T) {
			var ln net.Listener
			if err := ns.Do(func() (err error) { ln, err = net.Listen("tcp", net.JoinHostPort(fam.kernel, "0")); return err }); err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				c, err := ln.Accept()
				if err != nil {
					return
				}
				defer c.Close()
				c.Write([]byte("hello from the kernel"))
			}()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, err := s.DialTCP(ctx, ln.Addr().(*net.TCPAddr).AddrPort())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			buf := make([]byte, 64)
			n, _ := c.Read(buf)
			if string(buf[:n]) != "hello from the kernel" {
				t.Errorf("read %q", buf[:n])
			}
		})
		t.Run("SendUDP "+fam.name, func(t *testing.T) {
			dstc, err := ns.ListenPacket("udp", net.JoinHostPort(fam.kernel, "0"))
			if err != nil {
				t.Fatal(err)
			}
			defer dstc.Close()
			src := netip.AddrPortFrom(cfg.Addr.Addr(), 53)
			if fam.name == "v6" {
				src = netip.AddrPortFrom(cfg.Addr6.Addr(), 53)
			}
			for _, size := range []int{20, 3000} { // 3000: fragmented
				payload := bytes.Repeat([]byte{'s'}, size)
				if err := s.SendUDP(src, dstc.LocalAddr().(*net.UDPAddr).AddrPort(), payload); err != nil {
					t.Fatal(err)
				}
				dstc.SetReadDeadline(time.Now().Add(5 * time.Second))
				buf := make([]byte, 4096)
				n, from, err := dstc.ReadFrom(buf)
				if err != nil {
					t.Fatalf("%d octets: %v", size, err)
				}
				if got := from.(*net.UDPAddr).AddrPort(); got.Port() != 53 || got.Addr().Unmap() != src.Addr() || n != size {
					t.Errorf("got %d octets from %v, want %d from %v", n, got, size, src)
				}
			}
		})
	}
	t.Run("SendUDP errors", func(t *testing.T) {
		if err := s.SendUDP(netip.MustParseAddrPort("198.18.0.2:53"), netip.MustParseAddrPort("[2001:2::1]:53"), []byte("x")); err == nil {
			t.Error("mixed families: nil error")
		}
		if err := s.SendUDP(netip.AddrPort{}, netip.MustParseAddrPort("198.18.0.1:53"), []byte("x")); err == nil {
			t.Error("invalid source: nil error")
		}
	})
	t.Run("fast path reply larger than a frame", func(t *testing.T) {
		c, err := ns.Dial("udp", "198.18.0.2:53")
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		before := s.Stats()
		c.Write([]byte("big:3000"))
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 8192)
		n, err := c.Read(buf)
		if err != nil || n != 3000 {
			t.Fatalf("read %d octets, %v; want 3000", n, err)
		}
		// The counters move just after the reply is sent.
		st := waitStats(s, func(st Stats) bool { return st.FastViaStack > before.FastViaStack })
		if st.FastViaStack-before.FastViaStack != 1 || st.FastDropped != before.FastDropped {
			t.Errorf("via stack %d, dropped %d; want 1 and 0 more (stats %+v, fast path %+v)",
				st.FastViaStack-before.FastViaStack, st.FastDropped-before.FastDropped, st, s.FastPathStats())
		}
	})
	t.Run("multicast", func(t *testing.T) {
		group := netip.MustParseAddrPort("224.0.0.251:5353")
		mc, err := s.ListenMulticastUDP(group)
		if err != nil {
			t.Fatal(err)
		}
		defer mc.Close()
		// The kernel side sends to the group on tap0.
		var kc *net.UDPConn
		if err := ns.Do(func() error {
			ifi, err := net.InterfaceByName("tap0")
			if err != nil {
				return err
			}
			kc, err = net.ListenMulticastUDP("udp4", ifi, net.UDPAddrFromAddrPort(group))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer kc.Close()
		if _, err := kc.WriteToUDPAddrPort([]byte("to the group"), group); err != nil {
			t.Fatal(err)
		}
		mc.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 512)
		n, from, err := mc.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "to the group" {
			t.Fatalf("stack read %q from %v, %v", buf[:n], from, err)
		}
		// The stack multicasts back; the kernel's member socket hears it.
		if _, err := mc.WriteTo([]byte("from the stack"), net.UDPAddrFromAddrPort(group)); err != nil {
			t.Fatal(err)
		}
		kc.SetReadDeadline(time.Now().Add(5 * time.Second))
		for {
			n, from, err := kc.ReadFromUDPAddrPort(buf)
			if err != nil {
				t.Fatalf("kernel read: %v", err)
			}
			if from.Addr() == cfg.Addr.Addr() {
				if string(buf[:n]) != "from the stack" {
					t.Errorf("kernel read %q", buf[:n])
				}
				break
			}
		}
		// Joining sent an IGMP membership report (IP protocol 2).
		deadline := time.Now().Add(3 * time.Second)
		for {
			capMu.Lock()
			found := false
			for _, f := range captured {
				if len(f) > 23 && f[12] == 0x08 && f[13] == 0 && f[23] == 2 {
					found = true
				}
			}
			capMu.Unlock()
			if found {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("no IGMP report sent after joining the group")
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	t.Run("multicast IPv6", func(t *testing.T) {
		group := netip.MustParseAddrPort("[ff02::fb]:5353")
		mc, err := s.ListenMulticastUDP(group)
		if err != nil {
			t.Fatal(err)
		}
		defer mc.Close()
		var kc *net.UDPConn
		if err := ns.Do(func() error {
			ifi, err := net.InterfaceByName("tap0")
			if err != nil {
				return err
			}
			kc, err = net.ListenMulticastUDP("udp6", ifi, net.UDPAddrFromAddrPort(group))
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer kc.Close()
		// The stack multicasts (this needs gVisor's IPv6 multicast
		// interface option, apart from the IPv4 one); the kernel hears it.
		if _, err := mc.WriteTo([]byte("from the stack"), net.UDPAddrFromAddrPort(group)); err != nil {
			t.Fatalf("multicast to %v: %v", group, err)
		}
		kc.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 512)
		n, _, err := kc.ReadFromUDPAddrPort(buf)
		if err != nil || string(buf[:n]) != "from the stack" {
			t.Fatalf("kernel read %q, %v", buf[:n], err)
		}
	})
	t.Run("closed stack", func(t *testing.T) {
		if err := stop(); err != nil {
			t.Fatal(err)
		}
		s.Close()
		if _, err := s.ListenUDP(netip.MustParseAddrPort("0.0.0.0:0")); err == nil {
			t.Error("ListenUDP after Close: nil error")
		}
	})
}

// udpRoundTrip writes msg to dst on c and returns the first reply.
func udpRoundTrip(t *testing.T, c net.PacketConn, dst netip.AddrPort, msg []byte) []byte {
	t.Helper()
	buf := make([]byte, 2048)
	// The first datagram may wait for neighbour resolution; retry a little.
	for range 3 {
		if _, err := c.WriteTo(msg, net.UDPAddrFromAddrPort(dst)); err != nil {
			t.Fatalf("write: %v", err)
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		n, _, err := c.ReadFrom(buf)
		if err == nil {
			return buf[:n]
		}
	}
	t.Fatalf("no reply from %v", dst)
	return nil
}

type captureFunc func(frame []byte, outbound bool)

func (f captureFunc) CaptureFrame(frame []byte, outbound bool) { f(frame, outbound) }
