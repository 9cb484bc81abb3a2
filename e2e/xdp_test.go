package e2e

import (
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tapdns/tapdns/internal/labtest"
)

// An AF_XDP lab is two namespaces joined by a veth pair: the generator
// holds vg0 (198.18.0.1, 2001:2::1) and runs dig and ping; the server
// holds vs0, where tapdns --xdp claims 198.18.0.2 and 2001:2::2 and the
// server's kernel keeps 198.18.0.3 and 2001:2::3 on the same interface.
const (
	xdpHost4 = "198.18.0.3"
	xdpHost6 = "2001:2::3"
)

type xdpLab struct {
	gen, srv *labtest.NS
	bin      string
}

func newXDPLab(t *testing.T, queues int) *xdpLab {
	t.Helper()
	requireLab(t)
	labtest.RequireTools(t, "ethtool", "ping")
	l := &xdpLab{bin: labtest.BuildTapdns(t), gen: labtest.NewNS(t, "e2exg"), srv: labtest.NewNS(t, "e2exs")}
	l.gen.AddVeth(t, "vg0", l.srv, "vs0", queues)
	l.gen.AddAddr(t, "vg0", kernel4)
	l.gen.AddAddr(t, "vg0", kernel6)
	l.srv.AddAddr(t, "vs0", xdpHost4+"/24")
	l.srv.AddAddr(t, "vs0", xdpHost6+"/64")
	// The generator's kernel leaves UDP and TCP checksums to the veth's
	// "hardware"; through AF_XDP tapdns would see partial sums (README).
	l.gen.MustRun(t, "ethtool", "-K", "vg0", "tx", "off")
	return l
}

// start starts tapdns --xdp on dev (vs0 when empty) with args added.
func (l *xdpLab) start(t *testing.T, dev string, args ...string) *labtest.Proc {
	t.Helper()
	if dev == "" {
		dev = "vs0"
	}
	return l.srv.StartTapdns(t, l.bin, append([]string{"--xdp", dev, "--ip", appliance4 + "/24", "--ip6", appliance6 + "/64"}, args...)...)
}

// attached reports whether dev in the server namespace has an XDP program.
func (l *xdpLab) attached(t *testing.T, dev string) bool {
	t.Helper()
	return strings.Contains(l.srv.MustRun(t, "ip", "-d", "link", "show", "dev", dev), "prog/xdp")
}

// TestXDP serves DNS over UDP and TCP, IPv4 and IPv6, answers ARP, NDP and
// ping through AF_XDP while the server's kernel keeps using the same
// interface; it counts fast-path answers, captures frames with --pcap,
// runs as nobody after start (--user), and detaches on SIGTERM.
func TestXDP(t *testing.T) {
	l := newXDPLab(t, 1)
	pcapFile := filepath.Join(t.TempDir(), "xdp.pcap")
	p := l.start(t, "", "--zone", testdata(t, "example.zone"), "--metrics", metricsAddr, "--pcap", pcapFile, "--user", "nobody")
	p.WaitReadyFrom(t, l.gen, appliance4)
	p.WaitReadyFrom(t, l.gen, appliance6)
	if !l.attached(t, "vs0") {
		t.Fatal("no XDP program on vs0 while tapdns runs")
	}
	if !strings.Contains(p.Stderr(), "mode=native") {
		t.Errorf("want native mode on a veth; stderr:\n%s", p.Stderr())
	}

	for _, server := range []string{appliance4, appliance6} {
		for _, tr := range []string{"+notcp", "+tcp"} {
			r := dig(t, l.gen, server, "www.example.test", "A", tr)
			if r.Status != "NOERROR" || !r.Flags["aa"] || len(r.Answer) != 2 {
				t.Errorf("dig @%s %s www.example.test A: %s aa=%v %v", server, tr, r.Status, r.Flags["aa"], r.Answer)
			}
		}
	}
	// ARP: the generator resolved us to the interface's own MAC.
	ifc := l.srv.MustRun(t, "cat", "/sys/class/net/vs0/address")
	neigh := l.gen.MustRun(t, "ip", "neigh", "show", appliance4, "dev", "vg0")
	if !strings.Contains(neigh, strings.TrimSpace(ifc)) {
		t.Errorf("ARP entry for %s = %q, want the interface's MAC %s", appliance4, neigh, ifc)
	}
	// Ping us (gVisor) and the server's kernel (another flow on the same
	// interface, which XDP passes on).
	for _, a := range []string{appliance4, appliance6, xdpHost4, xdpHost6} {
		if out, err := l.gen.Run(t, "ping", "-c", "1", "-W", "2", a); err != nil {
			t.Errorf("ping %s: %v\n%s", a, err, out)
		}
	}
	var ln net.Listener
	if err := l.srv.Do(func() (err error) { ln, err = net.Listen("tcp", xdpHost4+":8080"); return err }); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		if c, err := ln.Accept(); err == nil {
			c.Write([]byte("kernel"))
			c.Close()
		}
	}()
	if c, err := l.gen.Dial("tcp", xdpHost4+":8080"); err != nil {
		t.Errorf("TCP to the server's kernel beside tapdns: %v", err)
	} else {
		buf := make([]byte, 16)
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, _ := io.ReadFull(c, buf[:6])
		if string(buf[:n]) != "kernel" {
			t.Errorf("TCP to the server's kernel read %q, want %q", buf[:n], "kernel")
		}
		c.Close()
	}

	m := scrape(t, l.srv)
	if v := m["tapdns_fastpath_answered_total"]; v < 2 {
		t.Errorf("tapdns_fastpath_answered_total = %v, want >= 2 (UDP queries over AF_XDP)", v)
	}
	if v := m[`tapdns_tcp_replies_total`]; v < 2 {
		t.Errorf("tapdns_tcp_replies_total = %v, want >= 2", v)
	}
	if v, ok := m[`tapdns_xdp_syscalls_total{dir="tx"}`]; !ok || v < 1 {
		t.Errorf(`tapdns_xdp_syscalls_total{dir="tx"} = %v (present %v), want >= 1`, v, ok)
	}
	if v, ok := m[`tapdns_xdp_drops_total{reason="rx_ring_full"}`]; !ok || v != 0 {
		t.Errorf(`tapdns_xdp_drops_total{reason="rx_ring_full"} = %v (present %v), want 0`, v, ok)
	}

	stopWithin(t, p, syscall.SIGTERM)
	if l.attached(t, "vs0") {
		t.Error("XDP program still attached after SIGTERM")
	}
	if out := l.srv.MustRun(t, "ip", "maddr", "show", "dev", "vs0"); strings.Contains(out, "33:33:ff:00:00:02") {
		t.Errorf("our solicited-node group still in vs0's filter after exit:\n%s", out)
	}
	if n := countPcap(t, pcapFile); n < 10 {
		t.Errorf("--pcap captured %d frames, want the queries, answers, ARP and pings (>= 10)", n)
	}
}

// TestXDPKilled: after SIGKILL no program stays attached (the kernel
// releases the bpf_link with the process), and tapdns starts again at once.
func TestXDPKilled(t *testing.T) {
	l := newXDPLab(t, 1)
	p := l.start(t, "")
	p.WaitReadyFrom(t, l.gen, appliance4)
	if err := p.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	p.Wait(5 * time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for l.attached(t, "vs0") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if l.attached(t, "vs0") {
		t.Fatal("XDP program still attached 5 s after SIGKILL")
	}
	if out := l.srv.MustRun(t, "ip", "maddr", "show", "dev", "vs0"); strings.Contains(out, "33:33:ff:00:00:02") {
		t.Errorf("our solicited-node group still in vs0's filter after SIGKILL:\n%s", out)
	}
	p2 := l.start(t, "")
	p2.WaitReadyFrom(t, l.gen, appliance4)
	stopWithin(t, p2, syscall.SIGTERM)
}

// TestXDPGenericFallback: on a macvlan, which has no native XDP, tapdns
// says so and serves in generic mode.
func TestXDPGenericFallback(t *testing.T) {
	l := newXDPLab(t, 1)
	l.srv.MustRun(t, "ip", "link", "add", "mv0", "link", "vs0", "type", "macvlan", "mode", "bridge")
	l.srv.MustRun(t, "ip", "link", "set", "mv0", "up")
	p := l.start(t, "mv0")
	p.WaitReadyFrom(t, l.gen, appliance4)
	p.WaitReadyFrom(t, l.gen, appliance6)
	if !strings.Contains(p.Stderr(), "generic (SKB) mode") || !strings.Contains(p.Stderr(), "mode=generic") {
		t.Errorf("no generic-mode fallback line; stderr:\n%s", p.Stderr())
	}
	r := dig(t, l.gen, appliance4, "ns0.tapdns.test", "A", "+tcp")
	if r.Status != "NOERROR" {
		t.Errorf("TCP over generic XDP: %s", r.Status)
	}
	stopWithin(t, p, syscall.SIGTERM)
	if l.attached(t, "mv0") {
		t.Error("XDP program still attached to mv0 after SIGTERM")
	}
}

// TestXDPErrors: bad setups exit 2 (usage) or 1 (the interface) with a
// message that says what is wrong, and leave nothing attached.
func TestXDPErrors(t *testing.T) {
	l := newXDPLab(t, 1)
	cases := []struct {
		name string
		args []string
		code int
		want string
	}{
		{"no such interface", []string{"--xdp", "nosuch0"}, 1, "no such interface"},
		{"loopback", []string{"--xdp", "lo"}, 1, "not an Ethernet interface"},
		{"queue out of range", []string{"--xdp", "vs0", "--queues", "2"}, 1, "queue out of range"},
		{"with --tap", []string{"--xdp", "vs0", "--tap", "tap0"}, 2, "--xdp and --tap are exclusive"},
		{"with --mac", []string{"--xdp", "vs0", "--mac", "02:00:00:00:00:01"}, 2, "--mac cannot be used with --xdp"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := l.srv.StartTapdns(t, l.bin, append(tc.args, "--ip", appliance4+"/24")...)
			code, ok := p.Wait(10 * time.Second)
			if !ok || code != tc.code || !strings.Contains(p.Stderr(), tc.want) {
				t.Errorf("exit %d (exited %v), want %d with %q; stderr:\n%s", code, ok, tc.code, tc.want, p.Stderr())
			}
		})
	}
	t.Run("without privileges", func(t *testing.T) {
		labtest.RequireTools(t, "setpriv")
		// The test binary's directory is private to root: run a copy.
		src, err := os.ReadFile(l.bin)
		if err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(publicDir(t), "tapdns")
		if err := os.WriteFile(bin, src, 0o755); err != nil {
			t.Fatal(err)
		}
		p := l.srv.Start(t, "setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
			bin, "--xdp", "vs0", "--ip", appliance4+"/24")
		code, ok := p.Wait(10 * time.Second)
		if !ok || code != 1 || !strings.Contains(p.Stderr(), "permission denied") {
			t.Errorf("exit %d (exited %v), want 1 with 'permission denied'; stderr:\n%s", code, ok, p.Stderr())
		}
	})
	if l.attached(t, "vs0") {
		t.Error("an XDP program is attached after the failed starts")
	}
}

// TestXDPInterfaceRemoved: when the interface goes away, tapdns notices
// (the kernel does not wake AF_XDP readers for it) and exits with status 1.
func TestXDPInterfaceRemoved(t *testing.T) {
	l := newXDPLab(t, 1)
	p := l.start(t, "")
	p.WaitReadyFrom(t, l.gen, appliance4)
	l.gen.MustRun(t, "ip", "link", "del", "vg0")
	code, ok := p.Wait(10 * time.Second)
	if !ok || code != 1 || !strings.Contains(p.Stderr(), "interface removed?") {
		t.Errorf("exit %d (exited %v), want 1 with 'interface removed?'; stderr:\n%s", code, ok, p.Stderr())
	}
}
