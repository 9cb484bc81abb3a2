package xdp

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf"
	"github.com/cilium/ebpf/asm"
	"golang.org/x/sys/unix"

	"github.com/tapdns/tapdns/internal/labtest"
)

// The lab: a veth pair between a generator namespace (kernel side,
// 198.18.0.1 and 2001:2::1) and a server namespace, where the AF_XDP
// link claims 198.18.0.2 and 2001:2::2 and the server's kernel keeps
// 198.18.0.3 and 2001:2::3 on the same interface.
var (
	genAddr4  = netip.MustParseAddr("198.18.0.1")
	ourAddr4  = netip.MustParseAddr("198.18.0.2")
	hostAddr4 = netip.MustParseAddr("198.18.0.3")
	ourAddr6  = netip.MustParseAddr("2001:2::2")
	hostAddr6 = netip.MustParseAddr("2001:2::3")
)

type lab struct {
	gen, srv *labtest.NS
	dev      string // the server side of the pair
}

func newLab(t testing.TB, queues int) *lab {
	t.Helper()
	labtest.RequireTools(t, "ethtool", "ping")
	l := &lab{gen: labtest.NewNS(t, "xdpg"), srv: labtest.NewNS(t, "xdps"), dev: "vs0"}
	l.gen.AddVeth(t, "vg0", l.srv, l.dev, queues)
	// A veth hands the peer's locally made frames over with the checksum
	// left to "hardware" (CHECKSUM_PARTIAL): through AF_XDP we would see
	// the partial sum. Real NICs deliver complete checksums.
	l.gen.MustRun(t, "ethtool", "-K", "vg0", "tx", "off")
	l.gen.AddAddr(t, "vg0", "198.18.0.1/24")
	l.gen.AddAddr(t, "vg0", "2001:2::1/64")
	l.srv.AddAddr(t, l.dev, "198.18.0.3/24")
	l.srv.AddAddr(t, l.dev, "2001:2::3/64")
	return l
}

// open opens a Link in the server namespace and closes it at cleanup.
func (l *lab) open(t testing.TB, cfg Config) (*Link, error) {
	t.Helper()
	if cfg.Interface == "" {
		cfg.Interface = l.dev
	}
	if cfg.Addrs == nil {
		cfg.Addrs = []netip.Addr{ourAddr4, ourAddr6}
	}
	var lk *Link
	err := l.srv.Do(func() (err error) {
		lk, err = Open(cfg, testLogger(t))
		return err
	})
	if err == nil {
		t.Cleanup(func() { lk.Close() })
	}
	return lk, err
}

// xdpState returns the XDP state of dev in ns.
func xdpState(t *testing.T, ns *labtest.NS, dev string) linkInfo {
	t.Helper()
	var li linkInfo
	if err := ns.Do(func() error {
		ifc, err := net.InterfaceByName(dev)
		if err != nil {
			return err
		}
		nl, err := openRtnl()
		if err != nil {
			return err
		}
		defer nl.close()
		li, err = nl.getLink(ifc.Index)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	return li
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// responder serves one socket like a minimal host at ourAddr4: it answers
// ARP requests and echoes UDP datagrams to port 7 (and 53) back to their sender
// (the Go reflector's rewrite). Every frame it receives is recorded.
type responder struct {
	s    *Socket
	mac  [6]byte
	ip   [4]byte
	stop atomic.Bool
	done chan error

	mu     sync.Mutex
	frames [][]byte
	bad    int // IPv4 UDP frames with a wrong checksum
}

func startResponder(t *testing.T, s *Socket, mac net.HardwareAddr) *responder {
	r := &responder{s: s, ip: ourAddr4.As4(), done: make(chan error, 1)}
	copy(r.mac[:], mac)
	descs := make([]unix.XDPDesc, 64)
	go func() {
		r.done <- s.RawConn().Read(func(uintptr) bool {
			for !r.stop.Load() {
				n := s.Receive(descs)
				if n == 0 {
					return false
				}
				for _, d := range descs[:n] {
					if f := s.Frame(d); f != nil {
						r.handle(f)
					}
					s.Recycle(d)
				}
				s.Refill()
				if err := s.Flush(); err != nil {
					t.Errorf("Flush: %v", err)
				}
			}
			return true
		})
	}()
	t.Cleanup(func() { r.close(t) })
	return r
}

func (r *responder) close(t *testing.T) {
	if r.stop.Swap(true) {
		return
	}
	r.s.SetReadDeadline(time.Unix(1, 0))
	select {
	case <-r.done:
	case <-time.After(5 * time.Second):
		t.Error("responder did not stop")
	}
}

func (r *responder) handle(f []byte) {
	r.mu.Lock()
	r.frames = append(r.frames, append([]byte(nil), f...))
	r.mu.Unlock()
	tx := r.s.TakeTX()
	if tx == nil {
		return
	}
	n := copy(tx, f)
	r.s.SendTX(tx, reflectFrame(tx[:n], r.mac, r.ip, &r.bad))
}

// received returns copies of the frames received so far.
func (r *responder) received() [][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]byte(nil), r.frames...)
}

// reflectFrame turns f in place into the answer to an ARP request for ip
// or a UDP echo, returning its length (0: no answer).
func reflectFrame(f []byte, mac [6]byte, ip [4]byte, bad *int) int {
	if len(f) < 42 {
		return 0
	}
	switch binary.BigEndian.Uint16(f[12:14]) {
	case 0x0806:
		a := f[14:42]
		if binary.BigEndian.Uint16(a[6:8]) != 1 || [4]byte(a[24:28]) != ip {
			return 0
		}
		copy(f[0:6], f[6:12])
		copy(f[6:12], mac[:])
		a[7] = 2
		copy(a[18:28], a[8:18])
		copy(a[8:14], mac[:])
		copy(a[14:18], ip[:])
		return 42
	case 0x0800:
		ih := f[14:]
		if ih[0] != 0x45 || ih[9] != 17 || [4]byte(ih[16:20]) != ip {
			return 0
		}
		tl := int(binary.BigEndian.Uint16(ih[2:4]))
		if tl > len(ih) || tl < 28 {
			return 0
		}
		u := ih[20:tl]
		if ck := binary.BigEndian.Uint16(u[6:8]); ck != 0 && checksum(pseudo4(ih[12:16], ih[16:20], len(u)), u) != 0xffff {
			*bad++
		}
		if p := binary.BigEndian.Uint16(u[2:4]); p != 7 && p != 53 {
			return 0
		}
		var m [6]byte
		copy(m[:], f[6:12])
		copy(f[6:12], f[0:6])
		copy(f[0:6], m[:])
		var a [4]byte
		copy(a[:], ih[12:16])
		copy(ih[12:16], ih[16:20])
		copy(ih[16:20], a[:])
		sp := binary.BigEndian.Uint16(u[0:2])
		copy(u[0:2], u[2:4])
		binary.BigEndian.PutUint16(u[2:4], sp)
		u[6], u[7] = 0, 0 // no checksum (IPv4)
		return 14 + tl
	}
	return 0
}

func pseudo4(src, dst []byte, n int) uint32 {
	return uint32(binary.BigEndian.Uint16(src[0:2])) + uint32(binary.BigEndian.Uint16(src[2:4])) +
		uint32(binary.BigEndian.Uint16(dst[0:2])) + uint32(binary.BigEndian.Uint16(dst[2:4])) + 17 + uint32(n)
}

func checksum(sum uint32, b []byte) uint16 {
	for len(b) >= 2 {
		sum += uint32(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint32(b[0]) << 8
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return uint16(sum)
}

// udpEcho sends msg from the generator to dst and returns the reply.
func udpEcho(t *testing.T, ns *labtest.NS, dst netip.AddrPort, msg string) (string, error) {
	t.Helper()
	c, err := ns.Dial("udp", dst.String())
	if err != nil {
		return "", err
	}
	defer c.Close()
	buf := make([]byte, 2048)
	for try := 0; try < 5; try++ { // the first may wait for ARP
		if _, err := c.Write([]byte(msg)); err != nil {
			return "", err
		}
		c.SetReadDeadline(time.Now().Add(time.Second))
		n, err := c.Read(buf)
		if err == nil {
			return string(buf[:n]), nil
		}
	}
	return "", fmt.Errorf("no UDP reply from %v", dst)
}

// kernelEcho runs a UDP echo server on the server's kernel at addr.
func kernelEcho(t *testing.T, ns *labtest.NS, addr netip.AddrPort) {
	t.Helper()
	pc, err := ns.ListenPacket("udp", addr.String())
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 2048)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				return
			}
			pc.WriteTo(buf[:n], from)
		}
	}()
	t.Cleanup(func() { pc.Close(); <-done })
}

func TestRoundTrip(t *testing.T) {
	for _, mode := range []Mode{ModeNative, ModeGeneric} {
		t.Run(mode.String(), func(t *testing.T) {
			lb := newLab(t, 1)
			lk, err := lb.open(t, Config{Mode: mode})
			if err != nil {
				t.Fatal(err)
			}
			if lk.Mode() != mode {
				t.Errorf("Mode() = %v, want %v", lk.Mode(), mode)
			}
			li := xdpState(t, lb.srv, lb.dev)
			want := uint8(xdpAttachedDrv)
			if mode == ModeGeneric {
				want = xdpAttachedSKB
			}
			if li.attached != want {
				t.Errorf("IFLA_XDP_ATTACHED = %d, want %d", li.attached, want)
			}
			// The NIC accepts our solicited-node group (the kernel, which
			// lacks our address, did not join it).
			const snMAC = "33:33:ff:00:00:02"
			if out := lb.srv.MustRun(t, "ip", "maddr", "show", "dev", lb.dev); !strings.Contains(out, snMAC) {
				t.Errorf("ip maddr show %s lacks %s:\n%s", lb.dev, snMAC, out)
			}
			r := startResponder(t, lk.Sockets()[0], lk.MAC())
			kernelEcho(t, lb.srv, netip.AddrPortFrom(hostAddr4, 7))
			kernelEcho(t, lb.srv, netip.AddrPortFrom(hostAddr6, 7))

			// ARP and UDP for our address reach the socket and our
			// answers reach the generator's kernel.
			got, err := udpEcho(t, lb.gen, netip.AddrPortFrom(ourAddr4, 7), "to tapdns")
			if err != nil || got != "to tapdns" {
				t.Fatalf("UDP echo via AF_XDP = %q, %v; want %q", got, err, "to tapdns")
			}
			// The kernel's own addresses on the same interface still work,
			// ARP and neighbour discovery included.
			for _, a := range []netip.Addr{hostAddr4, hostAddr6} {
				got, err := udpEcho(t, lb.gen, netip.AddrPortFrom(a, 7), "to the host")
				if err != nil || got != "to the host" {
					t.Errorf("UDP echo to the host's %v = %q, %v; want %q", a, got, err, "to the host")
				}
			}
			if _, err := lb.gen.Run(t, "ping", "-c", "1", "-W", "2", hostAddr4.String()); err != nil {
				t.Errorf("ping the host: %v", err)
			}

			// A neighbour solicitation for our IPv6 address is ours; the
			// ones for the host's address (same solicited-node group
			// prefix) were not: the host answered them above.
			lb.gen.Run(t, "ping", "-c", "1", "-W", "1", ourAddr6.String()) // no answer: the responder speaks no NDP
			var ns6, host6, arp, udp int
			for _, f := range r.received() {
				switch binary.BigEndian.Uint16(f[12:14]) {
				case 0x86dd:
					if len(f) >= 78 && f[20] == 58 && f[54] == 135 {
						switch netip.AddrFrom16([16]byte(f[62:78])) {
						case ourAddr6:
							ns6++
						case hostAddr6:
							host6++
						}
					}
				case 0x0806:
					arp++
				case 0x0800:
					if [4]byte(f[30:34]) != ourAddr4.As4() {
						t.Errorf("socket got IPv4 for %v", netip.AddrFrom4([4]byte(f[30:34])))
					}
					udp++
				}
			}
			if ns6 == 0 || host6 != 0 || arp == 0 || udp == 0 {
				t.Errorf("socket got %d NS for us, %d NS for the host, %d ARP, %d IPv4; want >0, 0, >0, >0", ns6, host6, arp, udp)
			}
			if r.bad != 0 {
				t.Errorf("%d UDP datagrams with a bad checksum", r.bad)
			}
			st := lk.Sockets()[0].Stats()
			if st.RXFrames == 0 || st.TXFrames == 0 || st.TXKickErrs != 0 {
				t.Errorf("socket stats %+v: want frames both ways and no kick errors", st)
			}
			if ks := lk.Sockets()[0].KernelStats(); !ks.Enabled || ks.RXDropped != 0 {
				t.Errorf("kernel stats %+v: want enabled, nothing dropped", ks)
			}

			r.close(t)
			if err := lk.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if li := xdpState(t, lb.srv, lb.dev); li.attached != xdpAttachedNone {
				t.Errorf("after Close: IFLA_XDP_ATTACHED = %d, want none", li.attached)
			}
			if out := lb.srv.MustRun(t, "ip", "maddr", "show", "dev", lb.dev); strings.Contains(out, snMAC) {
				t.Errorf("after Close: ip maddr show %s still has %s:\n%s", lb.dev, snMAC, out)
			}
			if err := lk.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
		})
	}
}

// TestGenericFallback: on a macvlan, which has no native XDP, ModeAuto
// ends in generic mode and still works.
func TestGenericFallback(t *testing.T) {
	lb := newLab(t, 1)
	lb.srv.MustRun(t, "ip", "link", "add", "mv0", "link", lb.dev, "type", "macvlan", "mode", "bridge")
	lb.srv.MustRun(t, "ip", "link", "set", "mv0", "up")
	lk, err := lb.open(t, Config{Interface: "mv0"})
	if err != nil {
		t.Fatal(err)
	}
	if lk.Mode() != ModeGeneric || lk.nativeErr == nil {
		t.Fatalf("Mode() = %v (native error %v), want generic after a native failure", lk.Mode(), lk.nativeErr)
	}
	r := startResponder(t, lk.Sockets()[0], lk.MAC())
	if got, err := udpEcho(t, lb.gen, netip.AddrPortFrom(ourAddr4, 7), "via macvlan"); err != nil || got != "via macvlan" {
		t.Fatalf("UDP echo through generic XDP = %q, %v", got, err)
	}
	r.close(t)
	lk.Close()
	if _, err := lb.open(t, Config{Interface: "mv0", Mode: ModeNative}); !errors.Is(err, ErrNotSupported) {
		t.Errorf("ModeNative on a macvlan: %v, want ErrNotSupported", err)
	}
}

func TestOpenErrors(t *testing.T) {
	lb := newLab(t, 1)
	cases := []struct {
		name string
		cfg  Config
		want error
		text string
	}{
		{"no interface", Config{Interface: "nosuch0"}, ErrNoInterface, "no such interface"},
		{"loopback", Config{Interface: "lo"}, ErrNotSupported, "not an Ethernet interface"},
		{"queue range", Config{Queues: 2}, ErrQueueRange, "1 RX queues"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := lb.open(t, c.cfg)
			if !errors.Is(err, c.want) || !strings.Contains(err.Error(), c.text) {
				t.Fatalf("Open: %v; want %v containing %q", err, c.want, c.text)
			}
		})
	}

	t.Run("queue busy", func(t *testing.T) {
		lk, err := lb.open(t, Config{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = lb.open(t, Config{})
		if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "another running tapdns") {
			t.Errorf("second Open: %v; want ErrBusy naming another tapdns", err)
		}
		lk.Close()
	})

	t.Run("foreign program", func(t *testing.T) {
		var other *ebpf.Program
		err := lb.srv.Do(func() error {
			var err error
			other, err = ebpf.NewProgram(&ebpf.ProgramSpec{Name: "someone_else", Type: ebpf.XDP, License: "GPL",
				Instructions: asm.Instructions{asm.Mov.Imm(asm.R0, xdpPass), asm.Return()}})
			if err != nil {
				return err
			}
			ifc, err := net.InterfaceByName(lb.dev)
			if err != nil {
				return err
			}
			nl, err := openRtnl()
			if err != nil {
				return err
			}
			defer nl.close()
			return nl.setLinkXDP(ifc.Index, other.FD(), unix.XDP_FLAGS_SKB_MODE)
		})
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		_, err = lb.open(t, Config{})
		if !errors.Is(err, ErrBusy) || !strings.Contains(err.Error(), "someone_else") {
			t.Errorf("Open with a foreign program attached: %v; want ErrBusy naming it", err)
		}
		if li := xdpState(t, lb.srv, lb.dev); li.attached != xdpAttachedSKB {
			t.Errorf("the foreign program was detached (IFLA_XDP_ATTACHED = %d)", li.attached)
		}
		lb.srv.MustRun(t, "ip", "link", "set", "dev", lb.dev, "xdpgeneric", "off")
	})
}

// TestLeftoverDetached: a program of ours attached through netlink stays
// when its process dies; the next Open detaches it.
func TestLeftoverDetached(t *testing.T) {
	lb := newLab(t, 1)
	lk, err := lb.open(t, Config{legacyAttach: true})
	if err != nil {
		t.Fatal(err)
	}
	if !lk.legacy {
		t.Fatal("legacy attach not used")
	}
	// Die without detaching: close every fd, as the kernel does for a
	// killed process.
	for _, s := range lk.socks {
		s.Close()
	}
	lk.prog.close()
	lk.nl.close()
	lk.closed = true
	li := xdpState(t, lb.srv, lb.dev)
	if li.attached == xdpAttachedNone {
		t.Fatal("a netlink attachment went away with its fds; the test cannot simulate a leftover")
	}
	if name, err := progName(li.progID); err != nil || name != ProgramName {
		t.Fatalf("leftover program name = %q, %v", name, err)
	}

	lk2, err := lb.open(t, Config{})
	if err != nil {
		t.Fatalf("Open over a leftover: %v", err)
	}
	if lk2.legacy || lk2.lnk == nil {
		t.Error("second Open did not attach through a bpf_link")
	}
	if li2 := xdpState(t, lb.srv, lb.dev); li2.progID == li.progID {
		t.Error("the leftover program is still attached")
	}
	lk2.Close()
	if li := xdpState(t, lb.srv, lb.dev); li.attached != xdpAttachedNone {
		t.Errorf("after Close: IFLA_XDP_ATTACHED = %d, want none", li.attached)
	}
}

// helperEnv makes the test binary, run by TestKilledProcessDetaches, open a
// Link on the interface it names and wait to be killed.
const helperEnv = "TAPDNS_XDP_TEST_HOLD"

func TestMain(m *testing.M) {
	if dev := os.Getenv(helperEnv); dev != "" {
		lk, err := Open(Config{Interface: dev, Addrs: []netip.Addr{ourAddr4}}, nil)
		if err != nil {
			fmt.Println("open:", err)
			os.Exit(1)
		}
		fmt.Println("attached", lk.Mode())
		time.Sleep(time.Minute) // killed long before
		os.Exit(3)
	}
	os.Exit(m.Run())
}

// TestKilledProcessDetaches: after a SIGKILL nothing of ours stays
// attached, and the interface can be attached to again at once.
func TestKilledProcessDetaches(t *testing.T) {
	lb := newLab(t, 1)
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := lb.srv.Cmd(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+lb.dev)
	cmd.Stderr = cmd.Stdout
	pipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line := make(chan string, 1)
	go func() {
		b, _ := bufio.NewReader(pipe).ReadString('\n')
		line <- b
	}()
	deadline := time.Now().Add(20 * time.Second)
	var first string
	select {
	case first = <-line:
	case <-time.After(20 * time.Second):
	}
	if li := xdpState(t, lb.srv, lb.dev); !strings.HasPrefix(first, "attached") || li.attached == xdpAttachedNone {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper did not attach: %q", first)
	}
	cmd.Process.Kill()
	cmd.Wait()
	// The kernel releases the bpf_link with the process's last fd.
	for time.Now().Before(deadline) {
		if xdpState(t, lb.srv, lb.dev).attached == xdpAttachedNone {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if li := xdpState(t, lb.srv, lb.dev); li.attached != xdpAttachedNone {
		t.Fatalf("after SIGKILL: program %d still attached", li.progID)
	}
	if _, err := lb.open(t, Config{}); err != nil {
		t.Fatalf("Open after SIGKILL: %v", err)
	}
}

// TestBurstAllocs: receiving, answering and recycling a burst allocates
// nothing.
func TestBurstAllocs(t *testing.T) {
	lb := newLab(t, 1)
	lk, err := lb.open(t, Config{})
	if err != nil {
		t.Fatal(err)
	}
	s := lk.Sockets()[0]
	mac := [6]byte(lk.MAC())
	// A static neighbour entry: the generator sends at once.
	lb.gen.MustRun(t, "ip", "neigh", "replace", ourAddr4.String(), "lladdr", lk.MAC().String(), "dev", "vg0")
	const runs, per = 20, 4
	c, err := lb.gen.Dial("udp", netip.AddrPortFrom(ourAddr4, 7).String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := 0; i < (runs+1)*per; i++ {
		c.Write([]byte("burst"))
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.rx.avail() < (runs+1)*per && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := s.rx.avail(); n < (runs+1)*per {
		t.Fatalf("only %d frames arrived", n)
	}
	descs := make([]unix.XDPDesc, per)
	var bad, answered int
	allocs := testing.AllocsPerRun(runs, func() {
		n := s.Receive(descs)
		for _, d := range descs[:n] {
			if tx := s.TakeTX(); tx != nil {
				m := copy(tx, s.Frame(d))
				if m = reflectFrame(tx[:m], mac, ourAddr4.As4(), &bad); m > 0 {
					answered++
				}
				s.SendTX(tx, m)
			}
			s.Recycle(d)
		}
		s.Refill()
		s.Flush()
	})
	if allocs != 0 {
		t.Errorf("%v allocations per burst of %d frames, want 0", allocs, per)
	}
	if answered != (runs+1)*per {
		t.Errorf("answered %d frames, want %d", answered, (runs+1)*per)
	}
	buf := make([]byte, 64)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	if n, err := c.Read(buf); err != nil || string(buf[:n]) != "burst" {
		t.Errorf("reply = %q, %v", buf[:n], err)
	}
}
