package xfr

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/internal/kernelnet"
	"github.com/tapdns/tapdns/internal/labtest"
)

// Interoperability with NSD and Knot DNS, both ways, inside a network
// namespace made by each test: every server listens on the namespace's
// loopback, and the xfr Services and test clients open their sockets there
// (nsEnv).

// nsNet is the Network of an xfr Service inside a namespace.
type nsNet struct{ ns *labtest.NS }

func (n nsNet) ListenUDP(laddr netip.AddrPort) (pc net.PacketConn, err error) {
	err = n.ns.Do(func() (e error) { pc, e = kernelnet.Net{}.ListenUDP(laddr); return e })
	return pc, err
}

func (n nsNet) DialTCP(ctx context.Context, raddr netip.AddrPort) (c net.Conn, err error) {
	err = n.ns.Do(func() (e error) { c, e = kernelnet.Net{}.DialTCP(ctx, raddr); return e })
	return c, err
}

func nsEnv(ns *labtest.NS) env {
	return env{
		listen: listenFunc{
			udp: func(a string) (pc net.PacketConn, err error) {
				err = ns.Do(func() (e error) { pc, e = net.ListenPacket("udp", a); return e })
				return pc, err
			},
			tcp: func(a string) (ln net.Listener, err error) {
				err = ns.Do(func() (e error) { ln, e = net.Listen("tcp", a); return e })
				return ln, err
			},
		},
		dial: ns.Dial,
		net:  nsNet{ns},
	}
}

// lab is one test's namespace with loopback up.
func newLab(t *testing.T, tools ...string) (*labtest.NS, env) {
	t.Helper()
	labtest.RequireRoot(t)
	labtest.RequireTools(t, tools...)
	ns := labtest.NewNS(t, "xfr")
	ns.MustRun(t, "ip", "link", "set", "lo", "up")
	return ns, nsEnv(ns)
}

// Ports of the peers inside a lab's namespace.
var (
	nsdAddr     = netip.MustParseAddrPort("127.0.0.1:5301")
	knotAddr    = netip.MustParseAddrPort("127.0.0.1:5302")
	knotSecAddr = netip.MustParseAddrPort("127.0.0.1:5303")
)

func writeFile(t testing.TB, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// interopZone is the zone the peers serve, at serial with extra lines.
func interopZone(origin string, serial uint32, extra ...string) string {
	return fmt.Sprintf(`$ORIGIN %s
$TTL 300
@	3600 IN SOA ns1 hostmaster %d 3600 600 86400 60
	IN NS ns1
	IN MX 10 mail
ns1	IN A 198.18.0.53
mail	IN A 198.18.0.25
www	IN A 198.18.0.80
	IN AAAA 2001:db8::80
txt	IN TXT "hello" "world"
sub	IN NS ns.sub
ns.sub	IN A 198.18.1.1
%s
`, origin, serial, strings.Join(extra, "\n"))
}

// nsdPrimary starts NSD serving example. with the test key, transfers
// allowed with it, NOTIFY sent to notify (signed).
func nsdPrimary(t *testing.T, ns *labtest.NS, dir string, notify netip.AddrPort) *labtest.Proc {
	t.Helper()
	conf := fmt.Sprintf(`server:
  ip-address: %s@%d
  do-ip6: no
  server-count: 1
  username: ""
  chroot: ""
  database: ""
  zonesdir: %q
  zonelistfile: %q
  xfrdfile: %q
  xfrdir: %q
  pidfile: %q
  verbosity: 2
remote-control:
  control-enable: no
key:
  name: "xfr-key"
  algorithm: hmac-sha256
  secret: %q
zone:
  name: "example."
  zonefile: "example.zone"
  provide-xfr: 127.0.0.0/8 xfr-key
  notify: %s@%d xfr-key
`, nsdAddr.Addr(), nsdAddr.Port(), dir, filepath.Join(dir, "zone.list"), filepath.Join(dir, "xfrd.state"), dir,
		filepath.Join(dir, "nsd.pid"), testSecret, notify.Addr(), notify.Port())
	writeFile(t, filepath.Join(dir, "nsd.conf"), conf)
	p := ns.Start(t, "nsd", "-d", "-c", filepath.Join(dir, "nsd.conf"))
	p.WaitReady(t, nsdAddr.String())
	return p
}

// knotConf writes a Knot configuration: the server part, the test key,
// then rest (remotes, acls, templates, zones).
func knotConf(dir string, listen netip.AddrPort, rest string) string {
	return fmt.Sprintf(`server:
  listen: %s@%d
  rundir: %q
  pidfile: %q
  user: root:root
  background-workers: 1
control:
  listen: %q
log:
  - target: stderr
    any: info
database:
  storage: %q
key:
  - id: xfr-key
    algorithm: hmac-sha256
    secret: %s
%s`, listen.Addr(), listen.Port(), dir, filepath.Join(dir, "knot.pid"), filepath.Join(dir, "knot.sock"), dir, testSecret, rest)
}

func knotc(t *testing.T, ns *labtest.NS, dir string, args ...string) {
	t.Helper()
	ns.MustRun(t, append([]string{"knotc", "-s", filepath.Join(dir, "knot.sock")}, args...)...)
}

// TestNSDPrimary: tapdns secondaries pull from NSD with a TSIG key and
// follow a change announced by NOTIFY (NSD 4.6 answers IXFR in AXFR form).
func TestNSDPrimary(t *testing.T) {
	ns, e := newLab(t, "nsd")
	keys, key := testKeys(t)
	secTS := startServer(t, e.listen, "127.0.0.1")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "example.zone"), interopZone("example.", 1))
	nsd := nsdPrimary(t, ns, dir, secTS.Addr)

	s := startSecondary(t, e, secTS, Config{Keys: keys, StateDir: t.TempDir(), AllowTransfer: ACL{{Key: key.Name}},
		Secondaries: []Remote{{Zone: []byte("\x07example\x00"), Addr: nsdAddr, Key: key}}})
	waitSerial(t, e, secTS.Addr, "example.", 1, 10*time.Second)

	writeFile(t, filepath.Join(dir, "example.zone"), interopZone("example.", 2, "new IN A 198.18.0.99"))
	start := time.Now()
	if err := nsd.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitSerial(t, e, secTS.Addr, "example.", 2, 10*time.Second)
	t.Logf("NSD reload to serial 2 served by the tapdns secondary in %v", time.Since(start))
	st := zoneStats(s.x, "example.")
	if st.NotifyReceived < 1 || st.XfrInAXFR+st.XfrInIXFR != 2 {
		t.Errorf("secondary stats %+v: want a NOTIFY received and two transfers", st)
	}
	if r, err := query(t, e, secTS.Addr, "new.example.", dns.TypeA); err != nil || len(r.Answer) != 1 {
		t.Errorf("new.example. A: %v %v", r, err)
	}
	// What the secondary serves is what NSD serves.
	ours, err := axfrFrom(t, e, secTS.Addr)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := axfr(t, e, nsdAddr, "example.", "xfr-key.", testSecret)
	if err != nil {
		t.Fatal(err)
	}
	compareAXFR(t, ours, theirs)
}

// axfrFrom transfers example. from a test secondary (allowed with the
// test key).
func axfrFrom(t *testing.T, e env, addr netip.AddrPort) ([]dns.RR, error) {
	return axfr(t, e, addr, "example.", "xfr-key.", testSecret)
}

// compareAXFR checks that two AXFRs hold the same records.
func compareAXFR(t *testing.T, a, b []dns.RR) {
	t.Helper()
	text := func(rrs []dns.RR) []string {
		var out []string
		for _, rr := range rrs {
			out = append(out, strings.ToLower(rr.String()))
		}
		return out
	}
	ta, tb := text(a), text(b)
	if len(ta) != len(tb) {
		t.Errorf("AXFRs of %d and %d records", len(ta), len(tb))
	}
	in := map[string]int{}
	for _, s := range ta {
		in[s]++
	}
	for _, s := range tb {
		in[s]--
	}
	for s, n := range in {
		if n != 0 {
			t.Errorf("record %q: %+d", s, n)
		}
	}
}

// TestKnotPrimary: tapdns secondaries pull from Knot DNS with a TSIG key
// and receive a one-record change by NOTIFY and IXFR.
func TestKnotPrimary(t *testing.T) {
	ns, e := newLab(t, "knotd", "knotc")
	keys, key := testKeys(t)
	secTS := startServer(t, e.listen, "127.0.0.1")
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "example.zone"), interopZone("example.", 1))
	writeFile(t, filepath.Join(dir, "knot.conf"), knotConf(dir, knotAddr, fmt.Sprintf(`remote:
  - id: tapdns
    address: %s@%d
    key: xfr-key
acl:
  - id: xfr
    address: 127.0.0.0/8
    key: xfr-key
    action: transfer
template:
  - id: default
    storage: %q
    zonefile-sync: -1
    zonefile-load: difference
    journal-content: changes
    semantic-checks: off
zone:
  - domain: example.
    file: example.zone
    notify: tapdns
    acl: xfr
`, secTS.Addr.Addr(), secTS.Addr.Port(), dir)))
	knot := ns.Start(t, "knotd", "-c", filepath.Join(dir, "knot.conf"))
	knot.WaitReady(t, knotAddr.String())

	s := startSecondary(t, e, secTS, Config{Keys: keys, AllowTransfer: ACL{{Key: key.Name}},
		Secondaries: []Remote{{Zone: []byte("\x07example\x00"), Addr: knotAddr, Key: key}}})
	waitSerial(t, e, secTS.Addr, "example.", 1, 10*time.Second)

	writeFile(t, filepath.Join(dir, "example.zone"), interopZone("example.", 2, "new IN A 198.18.0.99"))
	start := time.Now()
	knotc(t, ns, dir, "zone-reload", "example.")
	waitSerial(t, e, secTS.Addr, "example.", 2, 10*time.Second)
	t.Logf("Knot reload to serial 2 served by the tapdns secondary in %v", time.Since(start))
	if st := zoneStats(s.x, "example."); st.NotifyReceived < 1 || st.XfrInAXFR != 1 || st.XfrInIXFR != 1 {
		t.Errorf("secondary stats %+v: want a NOTIFY received, one AXFR then one IXFR", st)
	}
	ours, err := axfrFrom(t, e, secTS.Addr)
	if err != nil {
		t.Fatal(err)
	}
	theirs, err := axfr(t, e, knotAddr, "example.", "xfr-key.", testSecret)
	if err != nil {
		t.Fatal(err)
	}
	compareAXFR(t, ours, theirs)
}

// TestKnotSecondary: Knot DNS is a secondary of a tapdns primary: it
// transfers the zone with the key, and a one-record change on tapdns
// reaches it by NOTIFY and IXFR, not AXFR.
func TestKnotSecondary(t *testing.T) {
	ns, e := newLab(t, "knotd", "knotc")
	keys, key := testKeys(t)
	v1 := exampleZone(t, 1)
	p := startPrimary(t, e, Config{Keys: keys, AllowTransfer: ACL{{Key: key.Name}},
		Notify: []Remote{{Addr: knotSecAddr, Key: key}}}, v1)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "knot.conf"), knotConf(dir, knotSecAddr, fmt.Sprintf(`remote:
  - id: tapdns
    address: %s@%d
    key: xfr-key
acl:
  - id: notify
    address: 127.0.0.0/8
    key: xfr-key
    action: notify
template:
  - id: default
    storage: %q
    zonefile-sync: -1
    journal-content: changes
    semantic-checks: off
zone:
  - domain: example.
    file: example.zone
    master: tapdns
    acl: notify
`, p.ts.Addr.Addr(), p.ts.Addr.Port(), dir)))
	knot := ns.Start(t, "knotd", "-c", filepath.Join(dir, "knot.conf"))
	knot.WaitReady(t, knotSecAddr.String())
	waitSerial(t, e, knotSecAddr, "example.", 1, 10*time.Second)

	v2 := exampleZone(t, 2, "new IN A 198.18.0.99")
	p.reload(t, v2)
	waitSerial(t, e, knotSecAddr, "example.", 2, 10*time.Second)
	if r, err := query(t, e, knotSecAddr, "new.example.", dns.TypeA); err != nil || len(r.Answer) != 1 {
		t.Errorf("new.example. A from Knot: %v %v", r, err)
	}
	st := zoneStats(p.x, "example.")
	if st.XfrOutAXFR != 1 || st.XfrOutIXFR != 1 {
		t.Errorf("primary stats %+v: want one AXFR, then one IXFR", st)
	}
	waitFor(t, 5*time.Second, "Knot logs an incoming IXFR", func() error {
		if !strings.Contains(knot.Stderr(), "IXFR, incoming") {
			return fmt.Errorf("no IXFR in Knot's log")
		}
		return nil
	})
	if strings.Count(knot.Stderr(), "AXFR, incoming, remote "+p.ts.Addr.Addr().String()+"@"+fmt.Sprint(p.ts.Addr.Port())+", started") != 1 {
		t.Errorf("Knot transferred the change by AXFR:\n%s", knot.Stderr())
	}
	theirs, err := axfr(t, e, p.ts.Addr, "example.", "xfr-key.", testSecret)
	if err != nil {
		t.Fatal(err)
	}
	sameRecords(t, theirs, v2)
}

// TestKnotCatalog: tapdns consumes a catalog zone that Knot DNS generates
// (catalog-role: generate): members are added as secondaries, and one
// that leaves the catalog stops being served.
func TestKnotCatalog(t *testing.T) {
	ns, e := newLab(t, "knotd", "knotc")
	keys, key := testKeys(t)
	secTS := startServer(t, e.listen, "127.0.0.1")
	dir := t.TempDir()
	for _, m := range []string{"m1", "m2", "m3"} {
		writeFile(t, filepath.Join(dir, m+".zone"), interopZone(m+".example.", 1))
	}
	conf := func(members ...string) string {
		var zones strings.Builder
		for _, m := range members {
			fmt.Fprintf(&zones, "  - domain: %s.example.\n    file: %s.zone\n    template: member\n", m, m)
		}
		return knotConf(dir, knotAddr, fmt.Sprintf(`remote:
  - id: tapdns
    address: %s@%d
    key: xfr-key
acl:
  - id: xfr
    address: 127.0.0.0/8
    key: xfr-key
    action: transfer
template:
  - id: default
    storage: %q
    zonefile-sync: -1
    semantic-checks: off
    acl: xfr
  - id: member
    storage: %q
    zonefile-sync: -1
    semantic-checks: off
    acl: xfr
    notify: tapdns
    catalog-role: member
    catalog-zone: catalog.
zone:
  - domain: catalog.
    catalog-role: generate
    notify: tapdns
%s`, secTS.Addr.Addr(), secTS.Addr.Port(), dir, dir, zones.String()))
	}
	writeFile(t, filepath.Join(dir, "knot.conf"), conf("m1", "m2"))
	knot := ns.Start(t, "knotd", "-c", filepath.Join(dir, "knot.conf"))
	knot.WaitReady(t, knotAddr.String())

	s := startSecondary(t, e, secTS, Config{Keys: keys,
		Catalogs: []Remote{{Zone: []byte("\x07catalog\x00"), Addr: knotAddr, Key: key}}})
	waitSerial(t, e, secTS.Addr, "m1.example.", 1, 10*time.Second)
	waitSerial(t, e, secTS.Addr, "m2.example.", 1, 10*time.Second)
	if r, err := query(t, e, secTS.Addr, "catalog.", dns.TypeSOA); err != nil || r.Rcode != dns.RcodeRefused {
		t.Errorf("the catalog zone itself: %v %v, want REFUSED (not served)", r, err)
	}

	// m3 joins and m1 leaves.
	writeFile(t, filepath.Join(dir, "knot.conf"), conf("m2", "m3"))
	knotc(t, ns, dir, "reload")
	waitSerial(t, e, secTS.Addr, "m3.example.", 1, 15*time.Second)
	waitFor(t, 15*time.Second, "m1 leaves", func() error {
		r, err := query(t, e, secTS.Addr, "www.m1.example.", dns.TypeA)
		if err == nil && r.Rcode != dns.RcodeRefused {
			err = fmt.Errorf("rcode %s", dns.RcodeToString[r.Rcode])
		}
		return err
	})
	var members []string
	for _, o := range s.x.Secondaries() {
		members = append(members, nameText(o))
	}
	if strings.Join(members, " ") != "m2.example. m3.example." {
		t.Errorf("secondaries %v, want m2 and m3", members)
	}
}
