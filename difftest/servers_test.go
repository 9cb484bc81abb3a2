package difftest

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/internal/labtest"
)

// server is one DNS server under test, reachable from inside the namespace.
type server struct {
	name string
	addr netip.AddrPort // IPv4 address
	six  netip.AddrPort // IPv6 address
	proc *labtest.Proc
	// from, when set, is where the server is reachable from for the
	// readiness probe (an --xdp instance runs in a namespace of its own).
	from *labtest.NS
}

// Addresses inside the test namespace. NSD and Knot listen on loopback, each
// on its own port; the tapdns instances own addresses on their TAPs.
var (
	nsdAddr   = netip.MustParseAddrPort("127.0.0.1:5301")
	nsdAddr6  = netip.MustParseAddrPort("[::1]:5301")
	knotAddr  = netip.MustParseAddrPort("127.0.0.1:5302")
	knotAddr6 = netip.MustParseAddrPort("[::1]:5302")
)

// tapdnsNet is the addressing of one tapdns instance and its TAP.
type tapdnsNet struct {
	name, tap        string
	kernel4, kernel6 string // kernel side of the TAP, with prefix
	ip4, gw4, ip6    string // tapdns flags
	addr, addr6      netip.AddrPort
	extra            []string
	// xdp: tap is a veth whose peer is in a namespace of its own, where
	// tapdns attaches through AF_XDP (--xdp) instead of a TAP.
	xdp bool
}

// tapdnsNets are the tapdns instances: "tapdns" with its defaults (the
// link-layer fast path answers plain UDP queries), "tapdns-stack" with
// --fastpath=false (everything through gVisor), and "tapdns-xdp" with its
// defaults on a veth through AF_XDP. All must give the expected answer.
var tapdnsNets = []tapdnsNet{
	{name: "tapdns", tap: "tap0", kernel4: "198.18.0.1/24", kernel6: "2001:2::1/64",
		ip4: "198.18.0.2/24", gw4: "198.18.0.1", ip6: "2001:2::2/64",
		addr:  netip.MustParseAddrPort("198.18.0.2:53"),
		addr6: netip.MustParseAddrPort("[2001:2::2]:53")},
	{name: "tapdns-stack", tap: "tap1", kernel4: "198.19.0.1/24", kernel6: "2001:2:1::1/64",
		ip4: "198.19.0.2/24", gw4: "198.19.0.1", ip6: "2001:2:1::2/64",
		addr:  netip.MustParseAddrPort("198.19.0.2:53"),
		addr6: netip.MustParseAddrPort("[2001:2:1::2]:53"),
		extra: []string{"--fastpath=false"}},
	{name: "tapdns-xdp", tap: "vx0", kernel4: "198.18.2.1/24", kernel6: "2001:2:2::1/64",
		ip4: "198.18.2.2/24", gw4: "198.18.2.1", ip6: "2001:2:2::2/64",
		addr:  netip.MustParseAddrPort("198.18.2.2:53"),
		addr6: netip.MustParseAddrPort("[2001:2:2::2]:53"),
		xdp:   true},
}

// testZone is one zone served by every server.
type testZone struct {
	origin string // with the trailing dot
	file   string // base name of the file the servers load
	src    string // where to copy it from; "" for testdata/file
}

// tapdnsNames returns the names of the tapdns instances.
func tapdnsNames() []string {
	var names []string
	for _, n := range tapdnsNets {
		names = append(names, n.name)
	}
	return names
}

var testZones = []testZone{
	{origin: "example.", file: "example.zone"},
	{origin: "child.example.", file: "child.example.zone"},
	{origin: "example.net.", file: "example.net.zone"},
}

// Identity strings returned for CHAOS queries by every server.
const (
	chaosVersion  = "difftest"
	chaosIdentity = "difftest.example"
)

// copyZones copies zones into dir and returns dir.
func copyZones(t *testing.T, dir string, zones []testZone) string {
	t.Helper()
	for _, z := range zones {
		src := z.src
		if src == "" {
			src = filepath.Join("testdata", z.file)
		}
		b, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, z.file), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// nsdConfig returns NSD's configuration: everything in dir, foreground,
// no rate limiting, no transfers, minimal responses (like Knot and tapdns,
// no NS RRset in the authority section of positive answers).
func nsdConfig(dir string, zones []testZone) string {
	var b strings.Builder
	fmt.Fprintf(&b, `server:
  ip-address: %s@%d
  ip-address: %s@%d
  do-ip4: yes
  do-ip6: yes
  server-count: 1
  username: ""
  chroot: ""
  database: ""
  zonesdir: %q
  zonelistfile: %q
  xfrdfile: %q
  xfrdir: %q
  pidfile: %q
  verbosity: 1
  minimal-responses: yes
  refuse-any: no
  hide-version: no
  hide-identity: no
  version: %q
  identity: %q
  ipv4-edns-size: 1232
  ipv6-edns-size: 1232
  rrl-ratelimit: 0
  rrl-whitelist-ratelimit: 0
  round-robin: no
  tcp-count: 50
remote-control:
  control-enable: no
`, nsdAddr.Addr(), nsdAddr.Port(), nsdAddr6.Addr(), nsdAddr6.Port(),
		dir, filepath.Join(dir, "nsd-zone.list"), filepath.Join(dir, "nsd-xfrd.state"),
		dir, filepath.Join(dir, "nsd.pid"), chaosVersion, chaosIdentity)
	for _, z := range zones {
		fmt.Fprintf(&b, "zone:\n  name: %q\n  zonefile: %q\n", z.origin, z.file)
	}
	return b.String()
}

// knotConfig returns Knot's configuration: everything in dir, no modules
// (so no rrl), no zone file or journal writes, no transfers.
func knotConfig(dir string, zones []testZone) string {
	var b strings.Builder
	fmt.Fprintf(&b, `server:
  listen: [ %s@%d, %s@%d ]
  rundir: %q
  pidfile: %q
  user: root:root
  identity: %q
  version: %q
  nsid: ""
  udp-max-payload: 1232
  udp-workers: 1
  tcp-workers: 1
  background-workers: 1
log:
  - target: stderr
    any: notice
database:
  storage: %q
template:
  - id: default
    storage: %q
    zonefile-sync: -1
    zonefile-load: whole
    journal-content: none
    semantic-checks: off
zone:
`, knotAddr.Addr(), knotAddr.Port(), knotAddr6.Addr(), knotAddr6.Port(),
		dir, filepath.Join(dir, "knot.pid"), chaosIdentity, chaosVersion, dir, dir)
	for _, z := range zones {
		fmt.Fprintf(&b, "  - domain: %q\n    file: %q\n", z.origin, z.file)
	}
	return b.String()
}

// startServers starts NSD, Knot and tapdns inside ns and waits until each
// answers. The namespace's cleanup stops them by PID and, if the test
// failed, logs their output.
func startServers(t *testing.T, ns *labtest.NS, zones []testZone, withTapdns bool) []*server {
	t.Helper()
	// NSD and Knot listen on loopback (127.0.0.1 and ::1).
	ns.MustRun(t, "ip", "link", "set", "lo", "up")

	nsdDir := copyZones(t, t.TempDir(), zones)
	nsdConf := filepath.Join(nsdDir, "nsd.conf")
	if err := os.WriteFile(nsdConf, []byte(nsdConfig(nsdDir, zones)), 0o644); err != nil {
		t.Fatal(err)
	}
	knotDir := copyZones(t, t.TempDir(), zones)
	knotConf := filepath.Join(knotDir, "knot.conf")
	if err := os.WriteFile(knotConf, []byte(knotConfig(knotDir, zones)), 0o644); err != nil {
		t.Fatal(err)
	}
	tapDir := copyZones(t, t.TempDir(), zones)

	// Check the configurations first: a bad one is reported with the
	// daemon's own words rather than as a timeout.
	if out, err := ns.Run(t, "nsd-checkconf", nsdConf); err != nil {
		t.Fatalf("nsd-checkconf: %v\n%s", err, out)
	}
	if out, err := ns.Run(t, "knotc", "-c", knotConf, "conf-check"); err != nil {
		t.Fatalf("knotc conf-check: %v\n%s", err, out)
	}

	nsd := &server{name: "nsd", addr: nsdAddr, six: nsdAddr6,
		proc: ns.Start(t, "nsd", "-d", "-c", nsdConf)}
	knot := &server{name: "knot", addr: knotAddr, six: knotAddr6,
		proc: ns.Start(t, "knotd", "-c", knotConf)}
	servers := []*server{nsd, knot}
	if withTapdns {
		bin := labtest.BuildTapdns(t)
		for _, n := range tapdnsNets {
			servers = append(servers, startTapdns(t, ns, bin, n, tapDir, zones))
		}
	}
	for _, s := range servers {
		if s.from != nil {
			s.proc.WaitReadyFrom(t, s.from, s.addr.String())
		} else {
			s.proc.WaitReady(t, s.addr.String())
		}
		waitZones(t, ns, s, zones)
	}
	return servers
}

// waitZones waits until s answers the SOA query of every test zone
// authoritatively: Knot answers queries while it is still loading zones in
// the background, and early answers would be REFUSED.
func waitZones(t *testing.T, ns *labtest.NS, s *server, zones []testZone) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, z := range zones {
		q := newQuery(z.origin, dns.TypeSOA, dns.ClassINET)
		q.Id = caseID("ready " + z.origin)
		query := mustPack(q)
		for {
			resp, _, err := exchange(ns, s.addr, udp4, query)
			m := new(dns.Msg)
			if err == nil && resp != nil && m.Unpack(resp) == nil && m.Rcode == dns.RcodeSuccess && m.Authoritative {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s does not answer %s SOA authoritatively after 10 s (last: err %v, response %x)", s.name, z.origin, err, resp)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

// startTapdns starts bin on a new TAP as n says, serving the zones in dir
// and answering CHAOS identity queries like NSD and Knot are configured to.
func startTapdns(t *testing.T, ns *labtest.NS, bin string, n tapdnsNet, dir string, zones []testZone) *server {
	t.Helper()
	if n.xdp {
		return startTapdnsXDP(t, ns, bin, n, dir, zones)
	}
	ns.AddTAP(t, n.tap, n.kernel4, n.kernel6)
	args := []string{"--tap", n.tap, "--ip", n.ip4, "--gateway", n.gw4, "--ip6", n.ip6}
	args = append(args, tapdnsArgs(n, dir, zones)...)
	return &server{name: n.name, addr: n.addr, six: n.addr6, proc: ns.StartTapdns(t, bin, args...)}
}

// tapdnsArgs are the zone, CHAOS and extra flags of every instance.
func tapdnsArgs(n tapdnsNet, dir string, zones []testZone) []string {
	var args []string
	for _, z := range zones {
		args = append(args, "--zone", filepath.Join(dir, z.file))
	}
	args = append(args, "--chaos", "--chaos-version", chaosVersion, "--chaos-identity", chaosIdentity)
	return append(args, n.extra...)
}

// startTapdnsXDP starts bin with --xdp in a namespace of its own, on the
// far end of a veth whose near end, n.tap in ns, has n's kernel
// addresses. The near end's TX checksum offload is off: through AF_XDP
// tapdns would see the partial checksums a veth passes on.
func startTapdnsXDP(t *testing.T, ns *labtest.NS, bin string, n tapdnsNet, dir string, zones []testZone) *server {
	t.Helper()
	srv := labtest.NewNS(t, "diffx")
	ns.AddVeth(t, n.tap, srv, "vs0", 1)
	ns.AddAddr(t, n.tap, n.kernel4)
	ns.AddAddr(t, n.tap, n.kernel6)
	ns.MustRun(t, "ethtool", "-K", n.tap, "tx", "off")
	args := append([]string{"--xdp", "vs0", "--ip", n.ip4, "--gateway", n.gw4, "--ip6", n.ip6}, tapdnsArgs(n, dir, zones)...)
	return &server{name: n.name, addr: n.addr, six: n.addr6, proc: srv.StartTapdns(t, bin, args...), from: ns}
}
