package netstack

import (
	"bytes"
	"context"
	"encoding/binary"
	"net"
	"net/netip"
	"os"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
	"gvisor.dev/gvisor/pkg/tcpip"
	"gvisor.dev/gvisor/pkg/tcpip/checksum"
	"gvisor.dev/gvisor/pkg/tcpip/header"
	"gvisor.dev/gvisor/pkg/tcpip/stack"
)

func TestClassify(t *testing.T) {
	mac := [6]byte{0x02, 1, 2, 3, 4, 5}
	frame := func(dst [6]byte, et uint16, n int) []byte {
		b := make([]byte, n)
		copy(b, dst[:])
		copy(b[6:], []byte{0x02, 9, 9, 9, 9, 9})
		if n >= 14 {
			binary.BigEndian.PutUint16(b[12:], et)
		}
		return b
	}
	bcast := [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	mcast6 := [6]byte{0x33, 0x33, 0xff, 0, 0, 2}
	foreign := [6]byte{0x02, 1, 2, 3, 4, 6}
	tests := []struct {
		name   string
		frame  []byte
		wantET uint16
		want   dropReason
	}{
		{"empty", nil, 0, dropRunt},
		{"13 bytes", frame(mac, 0x0800, 13), 0, dropRunt},
		{"ipv4 to us", frame(mac, 0x0800, 60), 0x0800, keep},
		{"header only", frame(mac, 0x0800, 14), 0x0800, keep},
		{"ipv6 to us", frame(mac, 0x86dd, 60), 0x86dd, keep},
		{"arp broadcast", frame(bcast, 0x0806, 60), 0x0806, keep},
		{"ipv6 multicast", frame(mcast6, 0x86dd, 80), 0x86dd, keep},
		{"foreign unicast", frame(foreign, 0x0800, 60), 0, dropForeignMAC},
		{"foreign before ethertype", frame(foreign, 0x1234, 60), 0, dropForeignMAC},
		{"vlan tag", frame(mac, 0x8100, 64), 0, dropEtherType},
		{"lldp", frame(mac, 0x88cc, 60), 0, dropEtherType},
		{"length field", frame(bcast, 0x0040, 60), 0, dropEtherType},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			et, got := classify(tt.frame, &mac)
			if got != tt.want || et != tt.wantET {
				t.Errorf("classify = (%#04x, %d), want (%#04x, %d)", et, got, tt.wantET, tt.want)
			}
		})
	}
}

func TestDefaultMAC(t *testing.T) {
	a, b := DefaultMAC("tap0"), DefaultMAC("tap0")
	if !bytes.Equal(a, b) {
		t.Errorf("DefaultMAC not stable: %v vs %v", a, b)
	}
	if c := DefaultMAC("tap1"); bytes.Equal(a, c) {
		t.Errorf("DefaultMAC(tap0) == DefaultMAC(tap1) == %v", a)
	}
	for _, name := range []string{"tap0", "tap1", "x", "dns-appliance-1"} {
		m := DefaultMAC(name)
		if len(m) != 6 || m[0]&0x02 == 0 || m[0]&0x01 != 0 {
			t.Errorf("DefaultMAC(%q) = %v: want 6 bytes, locally administered, unicast", name, m)
		}
	}
}

func TestNormalize(t *testing.T) {
	base := Config{TAP: "tap0", Addr: netip.MustParsePrefix("198.18.0.2/24")}
	mod := func(f func(*Config)) Config { c := base; f(&c); return c }
	bad := []struct {
		name string
		cfg  Config
	}{
		{"no tap", mod(func(c *Config) { c.TAP = "" })},
		{"long tap", mod(func(c *Config) { c.TAP = "0123456789abcdef" })},
		{"multicast mac", mod(func(c *Config) { c.MAC = net.HardwareAddr{1, 2, 3, 4, 5, 6} })},
		{"short mac", mod(func(c *Config) { c.MAC = net.HardwareAddr{2, 2, 3} })},
		{"small mtu", mod(func(c *Config) { c.MTU = 576 })},
		{"huge mtu", mod(func(c *Config) { c.MTU = 70000 })},
		{"no addr", mod(func(c *Config) { c.Addr = netip.Prefix{} })},
		{"v6 in Addr", mod(func(c *Config) { c.Addr = netip.MustParsePrefix("2001:2::2/64") })},
		{"gateway off-link", mod(func(c *Config) { c.Gateway = netip.MustParseAddr("198.19.0.1") })},
		{"gateway is us", mod(func(c *Config) { c.Gateway = netip.MustParseAddr("198.18.0.2") })},
		{"v4 in Addr6", mod(func(c *Config) { c.Addr6 = netip.MustParsePrefix("198.18.0.3/24") })},
		{"link-local Addr6", mod(func(c *Config) { c.Addr6 = netip.MustParsePrefix("fe80::2/64") })},
		{"gateway6 off-link", mod(func(c *Config) {
			c.Addr6 = netip.MustParsePrefix("2001:2::2/64")
			c.Gateway6 = netip.MustParseAddr("2001:3::1")
		})},
		{"queues", mod(func(c *Config) { c.Queues = 1000 })},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.cfg.Normalize(); err == nil {
				t.Errorf("normalize(%+v) = nil error, want one", tt.cfg)
			}
		})
	}
	got, err := (mod(func(c *Config) {
		c.Gateway = netip.MustParseAddr("198.18.0.1")
		c.Addr6 = netip.MustParsePrefix("2001:2::2/64")
		c.Gateway6 = netip.MustParseAddr("fe80::1")
	})).Normalize()
	if err != nil {
		t.Fatalf("valid.Normalize() = %v", err)
	}
	if got.MTU != 1500 || got.Port != 53 || got.Queues != 1 || !bytes.Equal(got.MAC, DefaultMAC("tap0")) {
		t.Errorf("defaults: MTU %d Port %d Queues %d MAC %v; want 1500 53 1 %v", got.MTU, got.Port, got.Queues, got.MAC, DefaultMAC("tap0"))
	}
}

func TestGatewayMACs(t *testing.T) {
	var g gatewayMACs
	g.gw4 = tcpip.AddrFrom4([4]byte{198, 18, 0, 1})
	mac := tcpip.LinkAddress([]byte{0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee})
	if _, _, ok4, ok6 := g.get(); ok4 || ok6 {
		t.Fatalf("fresh gatewayMACs resolved: %v %v", ok4, ok6)
	}
	g.update(stack.NeighborEntry{Addr: g.gw4, LinkAddr: mac, State: stack.Incomplete})
	if _, _, ok4, _ := g.get(); ok4 {
		t.Errorf("incomplete entry counted as resolved")
	}
	g.update(stack.NeighborEntry{Addr: g.gw4, LinkAddr: mac, State: stack.Reachable})
	m4, _, ok4, ok6 := g.get()
	if !ok4 || ok6 || string(m4[:]) != string(mac) {
		t.Errorf("get = %x %v %v, want %x true false", m4, ok4, ok6, []byte(mac))
	}
	g.set(tcpip.AddrFrom4([4]byte{198, 18, 0, 9}), 0) // another neighbour
	if _, _, ok4, _ := g.get(); !ok4 {
		t.Errorf("unrelated neighbour cleared the gateway")
	}
	g.set(g.gw4, 0)
	if _, _, ok4, _ := g.get(); ok4 {
		t.Errorf("removed gateway still resolved")
	}
}

// --- a Stack on a socket pair: the test plays the kernel side ---

var (
	peerMAC = [6]byte{0x02, 0x00, 0x00, 0x00, 0x00, 0x01}
	peerIP4 = netip.MustParseAddr("198.18.0.1")
	ourIP4  = netip.MustParseAddr("198.18.0.2")
	peerIP6 = netip.MustParseAddr("2001:2::1")
	ourIP6  = netip.MustParseAddr("2001:2::2")
)

// echoHandler answers with a marker followed by the query.
type echoHandler struct{}

var marker = []byte("echo:")

func (echoHandler) HandlePacket(dst, query []byte, m Meta) []byte {
	dst = append(dst, marker...)
	return append(dst, query...)
}

// wire is the far end of a fake TAP.
type wire struct {
	t  testing.TB
	fd int
}

func (w *wire) send(frame []byte) {
	w.t.Helper()
	if _, err := unix.Write(w.fd, frame); err != nil {
		w.t.Fatalf("wire write: %v", err)
	}
}

// recv returns the next frame for which keep returns true, answering ARP
// requests for the peer on the way, or fails after the timeout.
func (w *wire) recv(keep func([]byte) bool) []byte {
	w.t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	buf := make([]byte, frameBufSize)
	for time.Now().Before(deadline) {
		fds := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN}}
		if n, err := unix.Poll(fds, 100); err != nil && err != unix.EINTR {
			w.t.Fatalf("poll: %v", err)
		} else if n == 0 {
			continue
		}
		n, err := unix.Read(w.fd, buf)
		if err != nil {
			if err == unix.EAGAIN || err == unix.EINTR {
				continue
			}
			w.t.Fatalf("wire read: %v", err)
		}
		f := buf[:n]
		if keep(f) {
			return append([]byte(nil), f...)
		}
	}
	w.t.Fatalf("no matching frame within 3 s")
	return nil
}

func newFakeStack(t testing.TB, cfg Config, h Handler) (*Stack, *wire) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatalf("socketpair: %v", err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	for _, fd := range fds {
		// Room for bursts, like a TAP's queue.
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, 4<<20)
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
	}
	dev := &tapDevice{name: "fake0", files: []*os.File{os.NewFile(uintptr(fds[0]), "fake0")}}
	cfg, err = cfg.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	s, err := newStack(cfg, h, nil, dev)
	if err != nil {
		unix.Close(fds[1])
		t.Fatalf("newStack: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := s.Run(ctx); err != nil {
			t.Errorf("Run: %v", err)
		}
	}()
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		if err := s.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		unix.Close(fds[1])
	})
	return s, &wire{t: t, fd: fds[1]}
}

func fakeConfig() Config {
	return Config{
		TAP:   "fake0",
		Addr:  netip.MustParsePrefix("198.18.0.2/24"),
		Addr6: netip.MustParsePrefix("2001:2::2/64"),
	}
}

func ethHeader(b []byte, dst, src [6]byte, et tcpip.NetworkProtocolNumber) {
	header.Ethernet(b).Encode(&header.EthernetFields{
		DstAddr: tcpip.LinkAddress(dst[:]), SrcAddr: tcpip.LinkAddress(src[:]), Type: et,
	})
}

func arpRequest(target netip.Addr) []byte {
	b := make([]byte, 14+header.ARPSize)
	ethHeader(b, [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, peerMAC, header.ARPProtocolNumber)
	a := header.ARP(b[14:])
	a.SetIPv4OverEthernet()
	a.SetOp(header.ARPRequest)
	copy(a.HardwareAddressSender(), peerMAC[:])
	p4, t4 := peerIP4.As4(), target.As4()
	copy(a.ProtocolAddressSender(), p4[:])
	copy(a.ProtocolAddressTarget(), t4[:])
	return b
}

// udp4Frame builds an IPv4/UDP frame from the peer to dst with payload.
func udp4Frame(dstMAC [6]byte, dst netip.Addr, sport, dport uint16, payload []byte) []byte {
	b := make([]byte, 14+header.IPv4MinimumSize+header.UDPMinimumSize+len(payload))
	ethHeader(b, dstMAC, peerMAC, header.IPv4ProtocolNumber)
	ip := header.IPv4(b[14:])
	src, d := tcpip.AddrFrom4(peerIP4.As4()), tcpip.AddrFrom4(dst.As4())
	ip.Encode(&header.IPv4Fields{
		TotalLength: uint16(len(b) - 14), TTL: 64, Protocol: uint8(header.UDPProtocolNumber),
		SrcAddr: src, DstAddr: d,
	})
	ip.SetChecksum(^ip.CalculateChecksum())
	u := header.UDP(b[14+header.IPv4MinimumSize:])
	u.Encode(&header.UDPFields{SrcPort: sport, DstPort: dport, Length: uint16(header.UDPMinimumSize + len(payload))})
	copy(u.Payload(), payload)
	xsum := header.PseudoHeaderChecksum(header.UDPProtocolNumber, src, d, uint16(len(u)))
	u.SetChecksum(^u.CalculateChecksum(checksum.Checksum(payload, xsum)))
	return b
}

func isARPReply(f []byte) bool {
	return len(f) >= 14+header.ARPSize && binary.BigEndian.Uint16(f[12:]) == uint16(header.ARPProtocolNumber) &&
		header.ARP(f[14:]).Op() == header.ARPReply
}

// udp4Reply reports whether f is an IPv4/UDP datagram to the peer's port
// and returns its payload.
func udp4Payload(f []byte, port uint16) ([]byte, bool) {
	if len(f) < 14+header.IPv4MinimumSize+header.UDPMinimumSize || binary.BigEndian.Uint16(f[12:]) != uint16(header.IPv4ProtocolNumber) {
		return nil, false
	}
	ip := header.IPv4(f[14:])
	if !ip.IsValid(len(f)-14) || ip.TransportProtocol() != header.UDPProtocolNumber {
		return nil, false
	}
	u := header.UDP(ip.Payload())
	if u.DestinationPort() != port {
		return nil, false
	}
	return u.Payload(), true
}

// exchange sends one UDP query through the stack path and returns the reply.
func exchange(w *wire, mac [6]byte, sport uint16, q []byte) []byte {
	w.send(udp4Frame(mac, ourIP4, sport, 53, q))
	f := w.recv(func(f []byte) bool { _, ok := udp4Payload(f, sport); return ok })
	p, _ := udp4Payload(f, sport)
	return p
}

func TestFakeTAPUDPAndDrops(t *testing.T) {
	s, w := newFakeStack(t, fakeConfig(), echoHandler{})
	mac := s.mac

	w.send(arpRequest(ourIP4))
	reply := w.recv(isARPReply)
	if got := header.ARP(reply[14:]).HardwareAddressSender(); !bytes.Equal(got, mac[:]) {
		t.Fatalf("ARP reply says %x, want %x", got, mac)
	}

	q := []byte("query-1")
	if got, want := exchange(w, mac, 40001, q), append(append([]byte(nil), marker...), q...); !bytes.Equal(got, want) {
		t.Fatalf("reply %q, want %q", got, want)
	}

	// Junk that must be dropped without stopping the reader.
	foreign := [6]byte{0x02, 0x11, 0x22, 0x33, 0x44, 0x55}
	for i := 0; i < 5; i++ {
		w.send(udp4Frame(foreign, ourIP4, 40002, 53, []byte("not for us")))
		w.send([]byte{1, 2, 3})
	}
	vlan := udp4Frame(mac, ourIP4, 40003, 53, []byte("vlan"))
	vlan[12], vlan[13] = 0x81, 0x00
	w.send(vlan)

	q = []byte("query-2")
	if got := exchange(w, mac, 40004, q); !bytes.HasSuffix(got, q) {
		t.Fatalf("after junk: reply %q, want suffix %q", got, q)
	}
	st := waitStats(s, func(st Stats) bool { return st.UDPReplies == 2 && st.FramesOut >= 3 })
	if st.DropForeignMAC != 5 || st.DropRunt != 5 || st.DropEtherType != 1 {
		t.Errorf("drops: foreign %d runt %d ethertype %d, want 5 5 1", st.DropForeignMAC, st.DropRunt, st.DropEtherType)
	}
	if st.UDPQueries != 2 || st.UDPReplies != 2 {
		t.Errorf("UDP queries/replies = %d/%d, want 2/2", st.UDPQueries, st.UDPReplies)
	}
	if st.FramesIn < 14 || st.FramesOut < 3 {
		t.Errorf("frames in/out = %d/%d, want >= 14/3", st.FramesIn, st.FramesOut)
	}
}

// waitStats returns the first snapshot for which ok is true, or the last one
// after 2 s: counters are bumped just after the frame they count is written.
func waitStats(s *Stack, ok func(Stats) bool) Stats {
	deadline := time.Now().Add(2 * time.Second)
	for {
		st := s.Stats()
		if ok(st) || time.Now().After(deadline) {
			return st
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestFakeTAPCloseIsPrompt(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	unix.SetNonblock(fds[0], true)
	dev := &tapDevice{name: "fake0", files: []*os.File{os.NewFile(uintptr(fds[0]), "fake0")}}
	cfg, _ := fakeConfig().Normalize()
	s, err := newStack(cfg, echoHandler{}, nil, dev)
	if err != nil {
		t.Fatal(err)
	}
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(context.Background()) }()
	time.Sleep(50 * time.Millisecond)
	start := time.Now()
	if err := s.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := <-runErr; err != nil {
		t.Errorf("Run after Close = %v, want nil", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v", d)
	}
	if err := s.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := s.Run(context.Background()); err != ErrClosed {
		t.Errorf("Run after Close = %v, want ErrClosed", err)
	}
}

func TestFakeTAPPeerGoneEndsRun(t *testing.T) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	unix.SetNonblock(fds[0], true)
	dev := &tapDevice{name: "fake0", files: []*os.File{os.NewFile(uintptr(fds[0]), "fake0")}}
	cfg, _ := fakeConfig().Normalize()
	s, err := newStack(cfg, echoHandler{}, nil, dev)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runErr := make(chan error, 1)
	go func() { runErr <- s.Run(context.Background()) }()
	// The peer's close makes reads return 0 bytes (EOF), which must end Run
	// with an error rather than spin.
	unix.Close(fds[1])
	select {
	case err := <-runErr:
		if err == nil {
			t.Errorf("Run = nil after the device went away, want an error")
		}
	case <-time.After(3 * time.Second):
		t.Fatalf("Run still running 3 s after the device went away")
	}
}

func FuzzClassify(f *testing.F) {
	mac := [6]byte{0x02, 1, 2, 3, 4, 5}
	f.Add(udp4Frame(mac, ourIP4, 1, 53, []byte("x")))
	f.Add(arpRequest(ourIP4))
	f.Add([]byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, frame []byte) {
		et, why := classify(frame, &mac)
		switch why {
		case keep:
			if len(frame) < 14 {
				t.Fatalf("kept a %d-byte frame", len(frame))
			}
			if et != 0x0800 && et != 0x86dd && et != 0x0806 {
				t.Fatalf("kept EtherType %#04x", et)
			}
			if frame[0]&1 == 0 && !bytes.Equal(frame[:6], mac[:]) {
				t.Fatalf("kept unicast to %x", frame[:6])
			}
		case dropRunt:
			if len(frame) >= 14 {
				t.Fatalf("%d-byte frame called a runt", len(frame))
			}
		}
	})
}
