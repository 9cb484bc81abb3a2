package mdns

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/netip"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/internal/kernelnet"
	"github.com/tapdns/tapdns/internal/labtest"
)

// The tests below run python-zeroconf, a third-party mDNS implementation,
// against the Responder on kernel sockets. Two namespaces made by the test
// are joined by a veth pair: the peer's side (vp) has 198.18.0.1/24 and
// the Responder's (vu) 198.18.0.2/24, with fixed link-local addresses.
// Nothing is sent anywhere else.

const python = "/usr/bin/python3" // Debian's, which has python3-zeroconf

// requirePeer skips the test, or fails it under CI, unless root, ip(8)
// and python-zeroconf are there.
func requirePeer(t *testing.T) {
	t.Helper()
	labtest.RequireRoot(t)
	if err := exec.Command(python, "-c", "import zeroconf").Run(); err != nil {
		labtest.SkipOrFailf(t, "%s cannot import zeroconf (scripts/setup.sh installs python3-zeroconf): %v", python, err)
	}
}

// nsNet is the Net of a namespace: kernel sockets opened on a thread
// switched into it (a socket keeps its namespace afterwards). SendUDP
// opens its socket there too, so nothing leaks into the caller's
// namespace.
type nsNet struct {
	ns *labtest.NS
	k  kernelnet.Net
}

func (n nsNet) ListenMulticastUDP(group netip.AddrPort) (pc net.PacketConn, err error) {
	err = n.ns.Do(func() error {
		pc, err = n.k.ListenMulticastUDP(group)
		return err
	})
	return pc, err
}

func (n nsNet) SendUDP(src, dst netip.AddrPort, b []byte) error {
	return n.ns.Do(func() error { return n.k.SendUDP(src, dst, b) })
}

// lab is the two namespaces and the link between them.
type lab struct {
	peer, us *labtest.NS
	net      nsNet
	script   string
}

func newLab(t *testing.T) *lab {
	t.Helper()
	requirePeer(t)
	l := &lab{peer: labtest.NewNS(t, "mdnsp"), us: labtest.NewNS(t, "mdnsu")}
	script, err := filepath.Abs("testdata/peer.py")
	if err != nil {
		t.Fatal(err)
	}
	l.script = script
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	ip("-n", l.peer.Name, "link", "add", "vp", "type", "veth", "peer", "name", "vu", "netns", l.us.Name)
	for _, side := range []struct {
		ns        *labtest.NS
		dev, host string
	}{{l.peer, "vp", "1"}, {l.us, "vu", "2"}} {
		n := side.ns.Name
		ip("-n", n, "link", "set", side.dev, "addrgenmode", "none")
		ip("-n", n, "addr", "add", "198.18.0."+side.host+"/24", "dev", side.dev)
		ip("-n", n, "addr", "add", "2001:2::"+side.host+"/64", "dev", side.dev, "nodad")
		ip("-n", n, "addr", "add", "fe80::"+side.host+"/64", "dev", side.dev, "nodad")
		ip("-n", n, "link", "set", "lo", "up")
		ip("-n", n, "link", "set", side.dev, "up")
	}
	// A source off our link, for the off-link test: 198.19.0.1 is in the
	// benchmark range but not in 198.18.0.0/24.
	ip("-n", l.peer.Name, "addr", "add", "198.19.0.1/32", "dev", "vp")
	// IPv6 multicast needs the ff00::/8 route the kernel adds once the
	// link is up on both ends; until then a send to ff02::fb fails.
	deadline := time.Now().Add(10 * time.Second)
	for _, side := range []struct {
		ns  *labtest.NS
		dev string
	}{{l.peer, "vp"}, {l.us, "vu"}} {
		for {
			out, err := exec.Command("ip", "-n", side.ns.Name, "-6", "route", "get", "ff02::fb").CombinedOutput()
			if err == nil && strings.Contains(string(out), "dev "+side.dev) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no IPv6 multicast route on %s after 10 s: %v: %s", side.dev, err, out)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	l.net = nsNet{ns: l.us, k: kernelnet.Net{Interface: "vu"}}
	return l
}

func (l *lab) config(name string) Config {
	c := cfgFor(name, "198.18.0.2/24", "2001:2::2/64", "fe80::2/64")
	c.Timeout = 1500 * time.Millisecond
	c.timing = nil // a real peer: the real intervals
	return c
}

// run runs peer.py to completion in the peer namespace and returns the
// JSON objects it printed.
func (l *lab) run(t *testing.T, args ...string) []map[string]any {
	t.Helper()
	out, err := l.peer.Run(t, append([]string{python, l.script}, args...)...)
	if err != nil {
		t.Fatalf("peer.py %v: %v", args, err)
	}
	return parseLines(t, out)
}

// start starts peer.py in the peer namespace; it runs until the test ends
// (or is signalled) and its first line must come within 10 s.
func (l *lab) start(t *testing.T, args ...string) *labtest.Proc {
	t.Helper()
	p := l.peer.Start(t, append([]string{python, l.script}, args...)...)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Stdout(), "ready") {
		if time.Now().After(deadline) {
			t.Fatalf("peer.py %v not ready: %s %s", args, p.Stdout(), p.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

func parseLines(t *testing.T, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var o map[string]any
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("peer.py printed %q: %v", sc.Text(), err)
		}
		objs = append(objs, o)
	}
	return objs
}

func strs(v any) []string {
	var s []string
	for _, x := range v.([]any) {
		s = append(s, x.(string))
	}
	return s
}

func TestZeroconfPeer(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	listener := l.start(t, "listen", "198.18.0.1")
	r := start(t, l.config("tapdns"), l.net)
	waitReady(t, r, 2)
	if n := r.Stats().SendErrors; n != 0 {
		t.Errorf("%d sends failed while probing and announcing", n)
	}

	t.Run("PeerResolvesUs", func(t *testing.T) {
		got := l.run(t, "resolve", "198.18.0.1", "tapdns.local.")
		if a := strs(got[0]["addrs"]); !slices.Equal(a, []string{"198.18.0.2"}) {
			t.Errorf("python-zeroconf resolved tapdns.local. to %v, want [198.18.0.2]", a)
		}
	})

	t.Run("DNSSDBrowsable", func(t *testing.T) {
		got := l.run(t, "browse", "198.18.0.1", "_domain._udp.local.")
		if len(got) != 2 {
			t.Fatalf("browse printed %v, want one instance and done", got)
		}
		inst := got[0]
		if inst["name"] != "tapdns._domain._udp.local." || inst["server"] != "tapdns.local." || inst["port"] != 53.0 ||
			!slices.Equal(strs(inst["addrs"]), []string{"198.18.0.2"}) {
			t.Errorf("browse found %v, want tapdns._domain._udp.local. on tapdns.local. port 53 at 198.18.0.2", inst)
		}
	})

	t.Run("LegacyUnicastIPv6", func(t *testing.T) {
		got := l.run(t, "legacy6", "vp", "tapdns.local.", "28")[0]
		if got["timeout"] != nil {
			t.Fatal("no answer to a one-shot IPv6 query")
		}
		if got["id"] != float64(0x4242) || !slices.Equal(strs(got["questions"]), []string{"tapdns.local."}) {
			t.Errorf("reply ID %v questions %v, want 0x4242 and the question", got["id"], got["questions"])
		}
		var addrs []string
		for _, a := range got["answers"].([]any) {
			a := a.(map[string]any)
			if a["ttl"].(float64) > LegacyTTL || a["flush"] == true {
				t.Errorf("legacy answer %v: want TTL <= 10 and no cache-flush", a)
			}
			if a["type"] == 28.0 {
				addrs = append(addrs, a["data"].(string))
			}
		}
		if len(addrs) != 2 || !strings.Contains(strings.Join(addrs, " "), "2001:2::2") || !strings.Contains(strings.Join(addrs, " "), "fe80::2") {
			t.Errorf("AAAA answers %v, want 2001:2::2 and the link-local fe80::2", addrs)
		}
	})

	t.Run("GatewayAsksPeer", func(t *testing.T) {
		pub := l.start(t, "publish", "198.18.0.1", "printer")
		out := r.Answer(nil, recursive(t, 1, "printer.local", dnswire.TypeA, true))
		rep := parseReply(t, out, 1)
		if a := rep.m.Answers(); rep.rcode != dnswire.RcodeSuccess || len(a) != 1 || netip.AddrFrom4([4]byte(a[0].Data)) != netip.MustParseAddr("198.18.0.1") {
			t.Fatalf("printer.local A: rcode %d answers %+v, want 198.18.0.1", rep.rcode, a)
		}
		out = r.Answer(nil, recursive(t, 2, "_http._tcp.local", dnswire.TypePTR, true))
		rep = parseReply(t, out, 2)
		if a := rep.m.Answers(); len(a) != 1 || !equalFold(a[0].Data, wn("printer._http._tcp.local")) {
			t.Fatalf("_http._tcp.local PTR: %+v, want printer._http._tcp.local", a)
		}
		out = r.Answer(nil, recursive(t, 3, "printer._http._tcp.local", dnswire.TypeSRV, true))
		rep = parseReply(t, out, 3)
		if a := rep.m.Answers(); len(a) != 1 || !rdataEqual(dnswire.TypeSRV, a[0].Data, srvData(631, "printer.local")) {
			t.Errorf("SRV: %+v, want port 631 on printer.local", a)
		}
		// The peer unregisters: its goodbyes empty the cache, and the
		// name is gone.
		if err := pub.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if _, ok := pub.Wait(10 * time.Second); !ok {
			t.Fatal("publisher did not exit")
		}
		waitFor(t, "printer.local gone", func() bool {
			out := r.Answer(nil, recursive(t, 4, "printer.local", dnswire.TypeA, true))
			return parseReply(t, out, 4).rcode == dnswire.RcodeNXDomain
		})
	})

	t.Run("DroppedAndCounted", func(t *testing.T) {
		before := r.Stats()
		query := build(0, 0, []q{{"tapdns.local", dnswire.TypeA, dnswire.ClassIN}}, nil, nil, nil)
		huge := make([]byte, MaxMsgLen+100)
		copy(huge, query)
		for _, c := range []struct{ src, hex string }{
			{"198.19.0.1", hex.EncodeToString(query)},
			{"198.18.0.1", "0000000000010000"},
			{"198.18.0.1", hex.EncodeToString(huge)},
		} {
			l.run(t, "send", c.src, c.hex)
		}
		waitStat(t, r, "dropped", func(s Stats) uint64 {
			return (s.OffLink - before.OffLink) + (s.Malformed - before.Malformed) + (s.Huge - before.Huge)
		}, 3)
		s := r.Stats()
		if s.OffLink-before.OffLink != 1 || s.Malformed-before.Malformed != 1 || s.Huge-before.Huge != 1 {
			t.Errorf("off-link %d, malformed %d, huge %d; want 1 each",
				s.OffLink-before.OffLink, s.Malformed-before.Malformed, s.Huge-before.Huge)
		}
	})

	t.Run("GoodbyeSeen", func(t *testing.T) {
		r.stop()
		waitFor(t, "goodbye heard", func() bool {
			for _, o := range parseLines(t, listener.Stdout()) {
				if o["src"] == "198.18.0.2" && o["name"] == "tapdns.local." && o["type"] == 1.0 && o["ttl"] == 0.0 {
					return true
				}
			}
			return false
		})
		// Everything the listener heard from us parsed in python-zeroconf,
		// and the announcements carried host records with TTL 120 and
		// the cache-flush bit.
		announced := false
		for _, o := range parseLines(t, listener.Stdout()) {
			if o["src"] != "198.18.0.2" {
				continue
			}
			if o["error"] != nil {
				t.Errorf("python-zeroconf could not read our message: %v", o["error"])
			}
			if o["name"] == "tapdns.local." && o["type"] == 1.0 && o["ttl"] == 120.0 && o["flush"] == true {
				announced = true
			}
		}
		if !announced {
			t.Errorf("no announcement of tapdns.local. A with TTL 120 and cache-flush heard:\n%s", listener.Stdout())
		}
	})
}

func TestZeroconfConflict(t *testing.T) {
	t.Parallel()
	l := newLab(t)
	l.start(t, "defend", "198.18.0.1", "tapdns.local.")
	r := start(t, l.config("tapdns"), l.net)
	waitReady(t, r, 2)
	if got := r.Name(); got != "tapdns-2.local." {
		t.Fatalf("Name: got %s, want tapdns-2.local. (tapdns.local. is held by the peer)", got)
	}
	if !strings.Contains(r.log.String(), "renamed") {
		t.Errorf("rename not logged:\n%s", r.log.String())
	}
	got := l.run(t, "resolve", "198.18.0.1", "tapdns-2.local.")
	if a := strs(got[0]["addrs"]); !slices.Equal(a, []string{"198.18.0.2"}) {
		t.Errorf("python-zeroconf resolved tapdns-2.local. to %v, want [198.18.0.2]", a)
	}
	got = l.run(t, "browse", "198.18.0.1", "_domain._udp.local.")
	if len(got) < 1 || got[0]["name"] != "tapdns-2._domain._udp.local." || got[0]["server"] != "tapdns-2.local." {
		t.Errorf("browse found %v, want the renamed service tapdns-2._domain._udp.local. on tapdns-2.local.", got)
	}
}
