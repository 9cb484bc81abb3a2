package netstack

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/netip"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tapdns/tapdns/internal/labtest"
)

// xdpLab is a veth pair: the generator's end vg0 (198.18.0.1, 2001:2::1)
// in one namespace, and vs0 in the server namespace, where a Stack attaches
// through AF_XDP as 198.18.0.2 and 2001:2::2.
type xdpLab struct {
	gen, srv *labtest.NS
}

func newXDPLab(t *testing.T, queues int) *xdpLab {
	t.Helper()
	labtest.RequireTools(t, "ethtool")
	l := &xdpLab{gen: labtest.NewNS(t, "nxg"), srv: labtest.NewNS(t, "nxs")}
	l.gen.AddVeth(t, "vg0", l.srv, "vs0", queues)
	l.gen.AddAddr(t, "vg0", "198.18.0.1/24")
	l.gen.AddAddr(t, "vg0", "2001:2::1/64")
	// The generator's kernel leaves UDP/TCP checksums to the "hardware"
	// on a veth; AF_XDP would hand us the partial sums.
	l.gen.MustRun(t, "ethtool", "-K", "vg0", "tx", "off")
	return l
}

func xdpConfig(queues int) Config {
	return Config{
		XDP:      "vs0",
		Addr:     netip.MustParsePrefix("198.18.0.2/24"),
		Addr6:    netip.MustParsePrefix("2001:2::2/64"),
		Queues:   queues,
		FastPath: true,
	}
}

// udpClient is a connected UDP socket in the generator namespace driven
// with raw system calls, so that the client allocates nothing.
type udpClient struct {
	tb  testing.TB
	fd  int
	q   []byte
	buf []byte
	fds []unix.PollFd
}

func newUDPClient(tb testing.TB, ns *labtest.NS, dst netip.AddrPort, sport int) *udpClient {
	tb.Helper()
	c := &udpClient{tb: tb, q: []byte("query"), buf: make([]byte, 2048), fds: make([]unix.PollFd, 1)}
	err := ns.Do(func() error {
		fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		c.fd = fd
		if sport != 0 {
			if err := unix.Bind(fd, &unix.SockaddrInet4{Port: sport}); err != nil {
				return err
			}
		}
		return unix.Connect(fd, &unix.SockaddrInet4{Addr: dst.Addr().As4(), Port: int(dst.Port())})
	})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { unix.Close(c.fd) })
	return c
}

// once sends a query and waits up to timeout for the echo; it reports
// whether one came.
func (c *udpClient) once(timeout time.Duration) bool {
	if _, err := unix.Write(c.fd, c.q); err != nil {
		c.tb.Fatalf("write: %v", err)
	}
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		c.fds[0] = unix.PollFd{Fd: int32(c.fd), Events: unix.POLLIN}
		if n, err := unix.Poll(c.fds, 100); err != nil || n == 0 {
			continue
		}
		n, err := unix.Read(c.fd, c.buf)
		if err == nil && bytes.HasPrefix(c.buf[:n], marker) {
			return true
		}
	}
	return false
}

func (c *udpClient) mustOnce() {
	if !c.once(3 * time.Second) {
		c.tb.Fatal("no UDP reply within 3 s")
	}
}

// xdpStack starts a Stack on the lab's vs0 and stops it at cleanup.
func xdpStack(t *testing.T, l *xdpLab, cfg Config) *Stack {
	t.Helper()
	var s *Stack
	if err := l.srv.Do(func() (err error) {
		s, err = New(cfg, echoHandler{}, nil)
		return err
	}); err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Error("Run did not return within 5 s")
		}
		s.Close()
	})
	return s
}

// TestXDPFastPathAllocs: a query answered on the fast path over AF_XDP
// allocates nothing, anywhere in the process.
func TestXDPFastPathAllocs(t *testing.T) {
	l := newXDPLab(t, 1)
	s := xdpStack(t, l, xdpConfig(1))
	c := newUDPClient(t, l.gen, netip.MustParseAddrPort("198.18.0.2:53"), 0)
	for i := 0; i < 20; i++ { // ARP, then warm up
		if c.once(time.Second) {
			break
		}
	}
	c.mustOnce()
	allocs := testing.AllocsPerRun(200, c.mustOnce)
	if allocs != 0 {
		t.Errorf("%v allocations per query on the AF_XDP fast path, want 0", allocs)
	}
	if st := s.Stats(); st.FastAnswered < 200 {
		t.Errorf("fast path answered %d queries, want >= 200 (%+v)", st.FastAnswered, st)
	}
}

// TestXDPQueues: with two RX queues, one socket and one fast path per
// queue, and flows that hash apart, both queues answer.
func TestXDPQueues(t *testing.T) {
	l := newXDPLab(t, 2)
	s := xdpStack(t, l, xdpConfig(2))
	if got := len(s.link.queues); got != 2 {
		t.Fatalf("%d queues, want 2", got)
	}
	dst := netip.MustParseAddrPort("198.18.0.2:53")
	for i := 0; i < 32; i++ {
		c := newUDPClient(t, l.gen, dst, 40000+i)
		for try := 0; try < 10 && !c.once(time.Second); try++ {
		}
		if s.link.queues[0].ctr.fastAnswered.Load() > 0 && s.link.queues[1].ctr.fastAnswered.Load() > 0 {
			return
		}
	}
	t.Errorf("fast answers per queue: %d, %d; want both > 0 (32 flows)",
		s.link.queues[0].ctr.fastAnswered.Load(), s.link.queues[1].ctr.fastAnswered.Load())
}

// TestXDPConfigErrors: bad XDP setups fail in New with a clear error.
func TestXDPConfigErrors(t *testing.T) {
	l := newXDPLab(t, 1)
	cases := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"no interface", func(c *Config) { c.XDP = "nosuch0" }, "no such interface"},
		{"with TAP", func(c *Config) { c.TAP = "tap0" }, "exclusive"},
		{"foreign MAC", func(c *Config) { c.MAC = []byte{2, 0, 0, 0, 0, 1} }, "interface's own address"},
		{"MTU too large", func(c *Config) { c.MTU = 9000 }, "larger than vs0's MTU"},
		{"queues", func(c *Config) { c.Queues = 2 }, "queue out of range"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := xdpConfig(1)
			tc.mod(&cfg)
			err := l.srv.Do(func() error {
				s, err := New(cfg, echoHandler{}, nil)
				if err == nil {
					s.Close()
					return errors.New("no error")
				}
				return err
			})
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(tc.want)) {
				t.Errorf("New: %v; want an error containing %q", err, tc.want)
			}
		})
	}
	// Nothing stays attached after the failures.
	out := l.srv.MustRun(t, "ip", "-d", "link", "show", "vs0")
	if bytes.Contains([]byte(out), []byte("prog/xdp")) {
		t.Errorf("an XDP program is attached after failed New calls:\n%s", out)
	}
}

// TestXDPMulticast: a joined group's datagrams reach the stack over
// AF_XDP (the program redirects the group, the NIC filter accepts it).
func TestXDPMulticast(t *testing.T) {
	l := newXDPLab(t, 1)
	s := xdpStack(t, l, xdpConfig(1))
	group := netip.MustParseAddrPort("224.0.0.251:5353")
	pc, err := s.ListenMulticastUDP(group)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	if out := l.srv.MustRun(t, "ip", "maddr", "show", "dev", "vs0"); !strings.Contains(out, "01:00:5e:00:00:fb") {
		t.Errorf("ip maddr show vs0 lacks 01:00:5e:00:00:fb:\n%s", out)
	}
	l.gen.MustRun(t, "ip", "route", "add", "224.0.0.0/4", "dev", "vg0")
	c, err := l.gen.Dial("udp4", group.String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	buf := make([]byte, 64)
	for try := 0; try < 10; try++ {
		c.Write([]byte("mdns?"))
		pc.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		n, from, err := pc.ReadFrom(buf)
		if err == nil {
			if string(buf[:n]) != "mdns?" || !strings.HasPrefix(from.String(), "198.18.0.1:") {
				t.Errorf("got %q from %v, want %q from 198.18.0.1", buf[:n], from, "mdns?")
			}
			return
		}
	}
	t.Error("no multicast datagram reached the stack")
}

// TestXDPTCP: a TCP stream through gVisor over AF_XDP, whose segments are
// sent from gVisor's goroutines while the reader receives (the two sides
// of a socket's rings in use at once, for -race), with UDP queries beside
// it on the fast path.
func TestXDPTCP(t *testing.T) {
	l := newXDPLab(t, 1)
	s := xdpStack(t, l, xdpConfig(1))
	ln, err := s.ListenTCP(netip.MustParseAddrPort("198.18.0.2:5300"))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	c, err := l.gen.Dial("tcp", "198.18.0.2:5300")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	u := newUDPClient(t, l.gen, netip.MustParseAddrPort("198.18.0.2:53"), 0)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := 0; i < 50; i++ {
			u.once(time.Second)
		}
	}()
	msg := bytes.Repeat([]byte("0123456789abcdef"), 1<<12) // 64 KiB
	c.SetDeadline(time.Now().Add(10 * time.Second))
	go c.Write(msg)
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
		t.Errorf("TCP echo of %d bytes over AF_XDP: %v (equal %v)", len(msg), err, bytes.Equal(got, msg))
	}
	<-done
	if st := s.Stats(); st.FastAnswered == 0 {
		t.Errorf("no UDP query answered on the fast path beside the TCP stream: %+v", st)
	}
}
