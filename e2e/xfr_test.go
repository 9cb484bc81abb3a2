package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/internal/labtest"
)

// Zone transfers with the binary: tapdns as the primary of kdig and Knot,
// and as the secondary of NSD, with a TSIG key, through the userspace
// stack. The peers listen on the TAP's kernel side, 198.18.0.1.

const (
	xfrKeyName = "xfr-key"
	xfrSecret  = "c2VjcmV0LWtleS1mb3ItdGFwZG5zLXRlc3RzLTAxMjM0NTY3ODk="
	xfrTSIG    = xfrKeyName + ":hmac-sha256:" + xfrSecret
	peerAddr   = "198.18.0.1"
)

// kdigXFR runs kdig for an AXFR or IXFR of zone from tapdns and returns its
// records (TSIG left out) and what it printed.
func kdigXFR(t *testing.T, ns *labtest.NS, key string, args ...string) ([]dns.RR, string) {
	t.Helper()
	full := []string{"kdig", "@" + appliance4, "+timeout=3", "+retry=0", "+noall", "+answer", "+comments"}
	if key != "" {
		full = append(full, "-y", key)
	}
	out, err := ns.Run(t, append(full, args...)...)
	if err != nil {
		out += "\n" + err.Error() // kdig says why a transfer failed on stderr
	}
	var rrs []dns.RR
	for _, line := range strings.Split(out, "\n") {
		if line == "" || strings.HasPrefix(line, ";") {
			continue
		}
		rr, err := dns.NewRR(line)
		if err != nil || rr == nil || rr.Header().Rrtype == dns.TypeTSIG {
			continue
		}
		rrs = append(rrs, rr)
	}
	return rrs, out
}

// zoneFileRecords reads a zone file with miekg/dns.
func zoneFileRecords(t *testing.T, path, origin string) []dns.RR {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zp := dns.NewZoneParser(f, origin, path)
	var rrs []dns.RR
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	return rrs
}

// rrSet renders records one per line, owners lower-cased (tapdns keeps
// owners canonical; rdata keeps its case), sorted.
func rrSet(rrs []dns.RR) []string {
	var out []string
	for _, rr := range rrs {
		rr = dns.Copy(rr)
		rr.Header().Name = strings.ToLower(rr.Header().Name)
		out = append(out, strings.Join(strings.Fields(rr.String()), " "))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// TestXfrPrimaryKdig: kdig's AXFR from tapdns gives exactly the zone file,
// in several messages for a larger zone; without the key it is REFUSED,
// with an unknown key NOTAUTH/BADKEY, with a wrong secret NOTAUTH/BADSIG.
func TestXfrPrimaryKdig(t *testing.T) {
	labtest.RequireTools(t, "kdig")
	dir := t.TempDir()
	zf := filepath.Join(dir, "big.zone")
	var b strings.Builder
	b.WriteString("$ORIGIN big.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 7 3600 600 86400 60\n@ IN NS ns1\nns1 IN A 198.18.0.2\n")
	for i := 0; i < 5000; i++ {
		fmt.Fprintf(&b, "h%d IN A 198.18.%d.%d\nh%d IN TXT \"record %d\" \"Mixed Case\"\n", i, i/250, i%250, i, i)
	}
	b.WriteString("Upper IN CNAME WWW.Big.Test.\n")
	if err := os.WriteFile(zf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	ns, _ := startTapdns(t, "--zone", testdata(t, "example.zone"), "--zone", zf,
		"--tsig", xfrTSIG, "--allow-transfer", "key="+xfrKeyName)

	for _, z := range []struct{ origin, file string }{{"example.test.", testdata(t, "example.zone")}, {"big.test.", zf}} {
		got, out := kdigXFR(t, ns, "hmac-sha256:"+xfrKeyName+":"+xfrSecret, "AXFR", z.origin)
		if len(got) < 3 || got[0].Header().Rrtype != dns.TypeSOA || got[len(got)-1].String() != got[0].String() {
			t.Fatalf("AXFR %s: not SOA ... SOA:\n%s", z.origin, out)
		}
		want := rrSet(zoneFileRecords(t, z.file, z.origin))
		if g := rrSet(got[:len(got)-1]); !slices.Equal(g, want) || len(got)-1 != len(want) {
			t.Errorf("AXFR %s: %d records, the zone file %d; differences:\n%s", z.origin, len(got)-1, len(want), lineDiff(g, want))
		}
	}
	// Missing, unknown and wrong keys.
	for _, tt := range []struct{ name, key, want string }{
		{"no key", "", "REFUSED"},
		{"unknown key", "hmac-sha256:other-key:" + xfrSecret, "BADKEY"},
		{"wrong secret", "hmac-sha256:" + xfrKeyName + ":d3Jvbmctc2VjcmV0LXdyb25nLXNlY3JldC13cm9uZy0=", "BADSIG"},
	} {
		got, out := kdigXFR(t, ns, tt.key, "AXFR", "example.test.")
		if len(got) != 0 || !strings.Contains(out, tt.want) {
			t.Errorf("AXFR with %s: %d records, want %s:\n%s", tt.name, len(got), tt.want, out)
		}
	}
}

// lineDiff lists the lines only in a (+) or only in b (-), at most 20.
func lineDiff(a, b []string) string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, "+ "+s)
		}
	}
	for _, s := range b {
		if !slices.Contains(a, s) {
			out = append(out, "- "+s)
		}
	}
	if len(out) > 20 {
		out = append(out[:20], "...")
	}
	return strings.Join(out, "\n")
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func peerZone(serial int, extra string) string {
	return fmt.Sprintf(`$ORIGIN example.test.
$TTL 300
@ 3600 IN SOA ns1 hostmaster %d 3600 600 86400 60
  IN NS ns1
ns1 IN A 198.18.0.2
www IN A 198.18.0.80
%s
`, serial, extra)
}

// TestXfrKnotSecondaryOfTapdns: Knot DNS, a secondary of tapdns, follows a
// one-record change (zone file edited, SIGHUP) by NOTIFY and IXFR.
func TestXfrKnotSecondaryOfTapdns(t *testing.T) {
	labtest.RequireTools(t, "knotd", "kdig")
	dir := t.TempDir()
	zf := filepath.Join(dir, "example.zone")
	writeFile(t, zf, peerZone(1, ""))
	ns, p := startTapdns(t, "--zone", zf, "--tsig", xfrTSIG, "--allow-transfer", "key="+xfrKeyName, "--notify", peerAddr+":5303")
	kdir := t.TempDir()
	writeFile(t, filepath.Join(kdir, "knot.conf"), fmt.Sprintf(`server:
  listen: %s@5303
  rundir: %q
  pidfile: %q
  user: root:root
log:
  - target: stderr
    any: info
database:
  storage: %q
key:
  - id: %s
    algorithm: hmac-sha256
    secret: %s
remote:
  - id: tapdns
    address: %s
    key: %s
acl:
  - id: notify
    address: %s
    key: %s
    action: notify
template:
  - id: default
    storage: %q
    zonefile-sync: -1
    journal-content: changes
zone:
  - domain: example.test.
    file: example.zone
    master: tapdns
    acl: notify
`, peerAddr, kdir, filepath.Join(kdir, "knot.pid"), kdir, xfrKeyName, xfrSecret, appliance4, xfrKeyName, appliance4, xfrKeyName, kdir))
	knot := ns.Start(t, "knotd", "-c", filepath.Join(kdir, "knot.conf"))
	knot.WaitReady(t, peerAddr+":5303")
	waitSerialDig(t, ns, peerAddr+":5303", "example.test.", "1")

	writeFile(t, zf, peerZone(2, "new IN A 198.18.0.99"))
	if err := p.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitSerialDig(t, ns, peerAddr+":5303", "example.test.", "2")
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(knot.Stderr(), "IXFR, incoming") && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(knot.Stderr(), "IXFR, incoming") || strings.Count(knot.Stderr(), "AXFR, incoming, remote "+appliance4+"@53, started") != 1 {
		t.Errorf("Knot did not take the change by IXFR (one AXFR at start only):\n%s", knot.Stderr())
	}
	if r := dig(t, ns, peerAddr, "-p", "5303", "new.example.test.", "A"); r.Status != "NOERROR" || len(r.Answer) != 1 {
		t.Errorf("new.example.test. from Knot: %+v", r)
	}
}

// waitSerialDig waits until server answers zone's SOA with serial.
func waitSerialDig(t *testing.T, ns *labtest.NS, server, zone, serial string) {
	t.Helper()
	host, port := server, "53"
	if i := strings.LastIndex(server, ":"); i > 0 {
		host, port = server[:i], server[i+1:]
	}
	deadline := time.Now().Add(15 * time.Second)
	var last string
	for time.Now().Before(deadline) {
		out, _ := ns.Run(t, "dig", "+norec", "+time=1", "+tries=1", "+short", "-p", port, "@"+host, zone, "SOA")
		f := strings.Fields(out)
		if len(f) >= 3 && f[2] == serial {
			return
		}
		last = out
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s did not serve %s at serial %s within 15 s (last: %q)", server, zone, serial, last)
}

// TestXfrSecondaryOfNSD: tapdns, a secondary of NSD with a TSIG key,
// answers SERVFAIL before its first transfer, follows a change by NOTIFY,
// and after a restart serves the saved copy at once with NSD gone.
func TestXfrSecondaryOfNSD(t *testing.T) {
	labtest.RequireTools(t, "nsd")
	requireLab(t)
	bin := labtest.BuildTapdns(t)
	ns := labtest.NewNS(t, "e2e")
	ns.AddTAP(t, "tap0", kernel4, kernel6)
	ndir, state := t.TempDir(), t.TempDir()
	zf := filepath.Join(ndir, "example.zone")
	writeFile(t, zf, peerZone(1, ""))
	writeFile(t, filepath.Join(ndir, "nsd.conf"), fmt.Sprintf(`server:
  ip-address: %s@5301
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
  name: %q
  algorithm: hmac-sha256
  secret: %q
zone:
  name: "example.test."
  zonefile: "example.zone"
  provide-xfr: %s %s
  notify: %s %s
`, peerAddr, ndir, filepath.Join(ndir, "zone.list"), filepath.Join(ndir, "xfrd.state"), ndir, filepath.Join(ndir, "nsd.pid"),
		xfrKeyName, xfrSecret, appliance4, xfrKeyName, appliance4, xfrKeyName))

	args := []string{"--tap", "tap0", "--ip", appliance4 + "/24", "--tsig", xfrTSIG, "--state-dir", state,
		"--secondary", "example.test.@" + peerAddr + ":5301,key=" + xfrKeyName}
	p := ns.StartTapdns(t, bin, args...)
	p.WaitReady(t, appliance4)
	if r := dig(t, ns, appliance4, "www.example.test.", "A"); r.Status != "SERVFAIL" {
		t.Errorf("before the first transfer: %s, want SERVFAIL", r.Status)
	}
	nsd := ns.Start(t, "nsd", "-d", "-c", filepath.Join(ndir, "nsd.conf"))
	nsd.WaitReady(t, peerAddr+":5301")
	waitSerialDig(t, ns, appliance4, "example.test.", "1") // the retry after the first failure

	writeFile(t, zf, peerZone(2, "new IN A 198.18.0.99"))
	start := time.Now()
	if err := nsd.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitSerialDig(t, ns, appliance4, "example.test.", "2")
	t.Logf("NSD reload to tapdns serving serial 2: %v", time.Since(start))

	// Restart with NSD gone: the saved copy is served at once.
	nsd.Signal(syscall.SIGTERM)
	nsd.Wait(5 * time.Second)
	p.Signal(syscall.SIGTERM)
	if code, ok := p.Wait(10 * time.Second); !ok || code != 0 {
		t.Fatalf("tapdns exit: %d %v", code, ok)
	}
	p2 := ns.StartTapdns(t, bin, args...)
	p2.WaitReady(t, appliance4)
	if r := dig(t, ns, appliance4, "new.example.test.", "A"); r.Status != "NOERROR" || len(r.Answer) != 1 {
		t.Errorf("after a restart with the primary down: %+v\n%s", r, p2.Stderr())
	}
}
