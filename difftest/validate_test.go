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

// TestDNSSECValidation has tapdns serve the signed zones and two
// validators check its answers with the zones' key signing keys as trust
// anchors: BIND's delv (asking tapdns directly) and a validating Unbound
// (with a stub zone per signed zone pointing at tapdns). Every answer —
// positive, CNAME chain, DNAME, wildcard, NXDOMAIN, NODATA, wildcard
// NODATA, DS and no-DS — must validate as secure; the one delegation that
// NSEC3 opt-out leaves unsigned must validate as insecure (the correct
// verdict for it, RFC 5155 6), never as bogus.
func TestDNSSECValidation(t *testing.T) {
	labtest.RequireRoot(t)
	labtest.RequireTools(t, append([]string{"unbound", "delv"}, signers...)...)
	ns := labtest.NewNS(t, "dnsval")
	ns.MustRun(t, "ip", "link", "set", "lo", "up")
	dir := t.TempDir()
	signed := signZones(t, filepath.Join(dir))
	var zones []testZone
	for _, z := range signed {
		zones = append(zones, z.testZone)
	}
	tapDir := copyZones(t, t.TempDir(), zones)
	n := tapdnsNets[0]
	tap := startTapdns(t, ns, labtest.BuildTapdns(t), n, tapDir, zones)
	tap.proc.WaitReady(t, tap.addr.String())
	waitZones(t, ns, tap, zones)

	ub := startUnbound(t, ns, signed, n.addr.Addr())

	// Verdicts: the rcode and whether the answer is negative, and whether
	// it validates as secure.
	const (
		pos     = iota // data
		nodata         // NOERROR, no data (delv: a negative response)
		nx             // NXDOMAIN
		cnameNX        // a CNAME chain to a name that does not exist
		cnameND        // a CNAME chain to a name without the type
	)
	type check struct {
		name   string // relative to the origin, "@" for the apex
		qtype  uint16
		kind   int
		secure bool // else: secure or insecure, never bogus
	}
	// In optout. every NSEC3 record has the opt-out flag (dnssec-signzone
	// -A sets it on all of them), so an answer whose proof needs an NSEC3
	// record covering a name (NXDOMAIN, wildcard answers, wildcard NODATA,
	// a delegation without DS) cannot rule out an insecure delegation
	// there (RFC 5155 8.3, 9.2): validators may call it insecure. Unbound
	// does; BIND calls the negative ones secure. Such answers must validate
	// either way, never as bogus. Answers proved by a matching record, and
	// all positive answers, must be secure.
	optout := false
	proofs := func(int) bool { return !optout }
	common := func() []check {
		return []check{
			{"@", dns.TypeSOA, pos, true},
			{"@", dns.TypeDNSKEY, pos, true},
			{"@", dns.TypeMX, pos, true},
			{"@", dns.TypeNS, pos, true},
			{"www", dns.TypeA, pos, true},
			{"www", dns.TypeAAAA, pos, true},
			{"www", dns.TypeTXT, pos, true},
			{"www", dns.TypeMX, nodata, true},
			{"mx", dns.TypeMX, pos, true},
			{"nothere", dns.TypeA, nx, proofs(nx)},
			{"a.b.nothere", dns.TypeA, nx, proofs(nx)},
			{"zzzz", dns.TypeA, nx, proofs(nx)},
			{"ent", dns.TypeA, nodata, true}, // empty non-terminal
			{"x.y.deepent", dns.TypeA, nodata, true},
			{"x.leaf.ent", dns.TypeA, nx, proofs(nx)},
			{"x.wild", dns.TypeA, pos, proofs(pos)}, // wildcard
			{"a.b.wild", dns.TypeTXT, pos, proofs(pos)},
			{"x.wild", dns.TypeMX, nodata, proofs(nodata)}, // wildcard NODATA
			{"x.sub.ent.wild", dns.TypeA, nx, proofs(nx)},
			{"foo.wcname", dns.TypeA, pos, proofs(pos)}, // wildcard CNAME
			{"cname", dns.TypeA, pos, true},
			{"cnamenx", dns.TypeA, cnameNX, proofs(nx)},
			{"cnamewild", dns.TypeA, pos, proofs(pos)},
			{"c1", dns.TypeA, pos, true},     // five CNAMEs, then A
			{"n1", dns.TypeA, cnameND, true}, // five CNAMEs, then NODATA
			{"www.dname", dns.TypeA, pos, true},
			{"big", dns.TypeTXT, pos, true},
			{"secure", dns.TypeDS, pos, true},
			// Delegations without DS: in optout. they have no NSEC3
			// record, and the opt-out range covering them proves them
			// insecure.
			{"extdeleg", dns.TypeDS, nodata, proofs(nodata)},
			{"insecure", dns.TypeDS, nodata, proofs(nodata)},
		}
	}
	for _, z := range signed {
		optout = z.origin == "optout."
		checks := common()
		if z.origin == "wildapex." {
			checks = []check{
				{"@", dns.TypeSOA, pos, true},
				{"host", dns.TypeA, pos, true},
				{"x", dns.TypeA, pos, true},
				{"x", dns.TypeMX, nodata, true},
				{"a.b", dns.TypeTXT, pos, true},
				{"x.host", dns.TypeA, nx, true},
				// An NSEC3 owner name: the wildcard answers for it.
				{strings.TrimSuffix(z.hashName("host."+z.origin), "."+z.origin), dns.TypeA, pos, true},
			}
		}
		for _, c := range checks {
			name := z.origin
			if c.name != "@" {
				name = c.name + "." + z.origin
			}
			what := fmt.Sprintf("%s %s", name, dns.TypeToString[c.qtype])
			t.Run(strings.TrimSuffix(what, ".")+"/unbound", func(t *testing.T) {
				m := unboundQuery(t, ns, ub, name, c.qtype)
				rcode, answers := dns.RcodeSuccess, c.kind != nodata && c.kind != nx
				if c.kind == nx || c.kind == cnameNX {
					rcode = dns.RcodeNameError
				}
				if m.Rcode != rcode || (len(m.Answer) > 0) != answers {
					t.Fatalf("Unbound: %s: rcode %s with %d answers, want %s (answers: %v)\n%v", what,
						dns.RcodeToString[m.Rcode], len(m.Answer), dns.RcodeToString[rcode], answers, m)
				}
				if c.secure && !m.AuthenticatedData {
					t.Errorf("Unbound: %s: not secure (AD clear)\n%v", what, m)
				}
			})
			t.Run(strings.TrimSuffix(what, ".")+"/delv", func(t *testing.T) {
				delvCheck(t, ns, n.addr.Addr(), &z, name, c.qtype, c.kind == nodata || c.kind == nx, c.secure)
			})
		}
	}
}

// startUnbound starts a validating Unbound on 127.0.0.1:5310 inside ns
// with a stub zone and a trust anchor (the DS of the key signing key) for
// each signed zone. Its root hints name only server, inside the lab: it
// never reaches anything else.
func startUnbound(t *testing.T, ns *labtest.NS, zones []signedZone, server netip.Addr) netip.AddrPort {
	t.Helper()
	dir := t.TempDir()
	addr := netip.MustParseAddrPort("127.0.0.1:5310")
	hints := filepath.Join(dir, "root.hints")
	if err := os.WriteFile(hints, []byte(fmt.Sprintf(".  3600000 NS lab-root.\nlab-root. 3600000 A %s\n", server)), 0o644); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, `server:
  interface: %s@%d
  port: %d
  do-ip6: no
  username: ""
  chroot: ""
  directory: %q
  pidfile: %q
  use-syslog: no
  logfile: ""
  verbosity: 1
  val-log-level: 2
  num-threads: 1
  root-hints: %q
  module-config: "validator iterator"
  qname-minimisation: no
  aggressive-nsec: no
  harden-referral-path: no
  trust-anchor-signaling: no
  root-key-sentinel: no
  do-not-query-localhost: no
`, addr.Addr(), addr.Port(), addr.Port(), dir, filepath.Join(dir, "unbound.pid"), hints)
	for _, z := range zones {
		fmt.Fprintf(&b, "  trust-anchor: %q\n", z.ds)
	}
	for _, z := range zones {
		fmt.Fprintf(&b, "stub-zone:\n  name: %q\n  stub-addr: %s\n", z.origin, server)
	}
	conf := filepath.Join(dir, "unbound.conf")
	if err := os.WriteFile(conf, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := ns.Run(t, "unbound-checkconf", conf); err != nil {
		t.Fatalf("unbound-checkconf: %v\n%s\n%s", err, out, b.String())
	}
	p := ns.Start(t, "unbound", "-d", "-c", conf)
	p.WaitReady(t, addr.String())
	return addr
}

// unboundQuery asks Unbound (recursion desired, DO set) and returns the
// answer.
func unboundQuery(t *testing.T, ns *labtest.NS, ub netip.AddrPort, name string, qtype uint16) *dns.Msg {
	t.Helper()
	q := newQuery(name, qtype, dns.ClassINET)
	q.Id = caseID("validate " + name)
	q.RecursionDesired = true
	setEDNS(q, 4096, true)
	query := mustPack(q)
	var lastErr error
	for range 3 { // Unbound may be busy validating: ask again
		resp, _, err := exchange(ns, ub, tcp4, query)
		if err == nil && resp != nil {
			m := new(dns.Msg)
			if err := m.Unpack(resp); err != nil {
				t.Fatalf("Unbound's answer for %s: %v", name, err)
			}
			return m
		}
		lastErr = err
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("no answer from Unbound for %s: %v", name, lastErr)
	return nil
}

// delvCheck validates one answer with delv, querying server directly
// with the zone's key signing key as the trust anchor: secure, or when
// secure is false secure or insecure, but never bogus.
func delvCheck(t *testing.T, ns *labtest.NS, server netip.Addr, z *signedZone, name string, qtype uint16, negative, secure bool) {
	t.Helper()
	anchors := filepath.Join(t.TempDir(), "anchors.conf")
	f := strings.Fields(z.ds) // owner [ttl] [class] DS tag alg digest-type digest...
	i := 0
	for i < len(f) && f[i] != "DS" {
		i++
	}
	if i+4 >= len(f) {
		t.Fatalf("cannot read the DS record %q", z.ds)
	}
	conf := fmt.Sprintf("trust-anchors {\n  %q static-ds %s %s %s %q;\n};\n", z.origin, f[i+1], f[i+2], f[i+3], strings.Join(f[i+4:], ""))
	if err := os.WriteFile(anchors, []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := ns.Run(t, "delv", "@"+server.String(), "-a", anchors, "+root="+z.origin, "+nomtrace", "+norrcomments",
		"-t", dns.TypeToString[qtype], "-q", name)
	text := out
	if err != nil {
		text += "\n" + err.Error()
	}
	want := []string{"; fully validated"}
	if negative {
		want[0] = "; negative response, fully validated"
	}
	if !secure {
		want = append(want, strings.Replace(want[0], "fully validated", "unsigned answer", 1))
	}
	ok := false
	for _, w := range want {
		ok = ok || strings.HasPrefix(text, w+"\n")
	}
	if !ok || strings.Contains(text, "resolution failed") {
		t.Errorf("delv %s %s: want its output to start with %q:\n%s", name, dns.TypeToString[qtype], want, text)
	}
}
