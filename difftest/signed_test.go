package difftest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// Signed zones: testdata/signed.zone.in and testdata/signed-wild.zone.in
// are signed while the test runs, each under its own origin and by its
// own signer, so that the signatures are always valid and the test covers
// what two independent signers produce:
//
//	nsec.     BIND dnssec-signzone, NSEC, KSK + ZSK
//	nsec3.    ldns-signzone, NSEC3 (salt, 2 extra iterations), one key
//	optout.   BIND dnssec-signzone, NSEC3 with opt-out (no NSEC3 for the
//	          delegation without DS), KSK + ZSK
//	wildapex. ldns-signzone, NSEC3, a wildcard at the apex (NSEC3 owner
//	          names must not block it)
//
// Keys are ECDSAP256SHA256 (algorithm 13): fast to make and to check.

// signedOrigins are the origins of the signed zones, in signing order.
var signedOrigins = []string{"nsec.", "nsec3.", "optout.", "wildapex."}

// signedZone is one zone signed for the test.
type signedZone struct {
	testZone
	// ds is the DS record of the key signing key, in presentation format:
	// the trust anchor of the validation tests.
	ds string
	// nsec3 holds the zone's NSEC3 parameters, nil for NSEC.
	nsec3 *dns.NSEC3PARAM
}

// signers are the tools signing needs.
var signers = []string{"dnssec-keygen", "dnssec-signzone", "dnssec-dsfromkey", "ldns-keygen", "ldns-signzone"}

// signZones signs the zones into dir (a fresh directory) and returns them.
func signZones(t *testing.T, dir string) []signedZone {
	t.Helper()
	start := time.Now()
	zones := []signedZone{
		signBIND(t, dir, "nsec.", "signed.zone.in", false),
		signLDNS(t, dir, "nsec3.", "signed.zone.in"),
		signBIND(t, dir, "optout.", "signed.zone.in", true),
		signLDNS(t, dir, "wildapex.", "signed-wild.zone.in"),
	}
	for i := range zones {
		z := &zones[i]
		z.ds = strings.Join(strings.Fields(z.ds), " ")
		if z.origin != signedOrigins[i] {
			t.Fatalf("signed zone %d is %s, want %s", i, z.origin, signedOrigins[i])
		}
		if z.nsec3 = nsec3Param(t, z.src); z.nsec3 == nil && z.origin != "nsec." {
			t.Fatalf("%s: signed zone %s has no NSEC3PARAM", z.origin, z.src)
		}
	}
	t.Logf("signed %d zones in %v", len(zones), time.Since(start).Round(time.Millisecond))
	return zones
}

// run runs a signing tool in dir and returns its standard output.
func runIn(t *testing.T, dir string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := exec.CommandContext(ctx, args[0], args[1:]...)
	c.Dir = dir
	var stderr strings.Builder
	c.Stderr = &stderr
	out, err := c.Output()
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// signBIND signs src under origin with dnssec-signzone (NSEC, or NSEC3
// with opt-out).
func signBIND(t *testing.T, dir, origin, src string, optout bool) signedZone {
	t.Helper()
	kd := filepath.Join(dir, "keys-"+strings.TrimSuffix(origin, "."))
	if err := os.Mkdir(kd, 0o755); err != nil {
		t.Fatal(err)
	}
	ksk := strings.TrimSpace(runIn(t, kd, "dnssec-keygen", "-q", "-K", kd, "-a", "ECDSAP256SHA256", "-f", "KSK", "-n", "ZONE", origin))
	runIn(t, kd, "dnssec-keygen", "-q", "-K", kd, "-a", "ECDSAP256SHA256", "-n", "ZONE", origin)
	in, err := filepath.Abs(filepath.Join("testdata", src))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, strings.TrimSuffix(origin, ".")+".zone")
	args := []string{"dnssec-signzone", "-q", "-S", "-K", kd, "-d", kd, "-o", origin, "-f", out}
	if optout {
		args = append(args, "-3", "ab01", "-A", "-H", "0")
	}
	runIn(t, kd, append(args, in)...)
	ds := strings.TrimSpace(runIn(t, kd, "dnssec-dsfromkey", "-2", filepath.Join(kd, ksk+".key")))
	return signedZone{testZone: testZone{origin: origin, file: filepath.Base(out), src: out}, ds: ds}
}

// signLDNS signs src under origin with ldns-signzone, NSEC3.
func signLDNS(t *testing.T, dir, origin, src string) signedZone {
	t.Helper()
	kd := filepath.Join(dir, "keys-"+strings.TrimSuffix(origin, "."))
	if err := os.Mkdir(kd, 0o755); err != nil {
		t.Fatal(err)
	}
	key := strings.TrimSpace(runIn(t, kd, "ldns-keygen", "-a", "ECDSAP256SHA256", "-k", origin))
	in, err := filepath.Abs(filepath.Join("testdata", src))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, strings.TrimSuffix(origin, ".")+".zone")
	runIn(t, kd, "ldns-signzone", "-n", "-s", "c0ffee", "-t", "2", "-o", origin, "-f", out, in, key)
	ds, err := os.ReadFile(filepath.Join(kd, key+".ds"))
	if err != nil {
		t.Fatal(err)
	}
	return signedZone{testZone: testZone{origin: origin, file: filepath.Base(out), src: out}, ds: strings.TrimSpace(string(ds))}
}

// nsec3Param returns the NSEC3PARAM record of a signed zone file, or nil.
func nsec3Param(t *testing.T, file string) *dns.NSEC3PARAM {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zp := dns.NewZoneParser(f, "", file)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if p, ok := rr.(*dns.NSEC3PARAM); ok {
			return p
		}
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return nil
}

// hashName returns the NSEC3 owner name of name in z (which uses NSEC3).
func (z *signedZone) hashName(name string) string {
	p := z.nsec3
	return strings.ToLower(dns.HashName(name, p.Hash, p.Iterations, p.Salt)) + "." + z.origin
}

// signedNames are the queries sent for each signed zone built from
// signed.zone.in: names relative to the origin ("@" for the apex).
var signedNames = []struct {
	name     string
	types    []uint16
	variants []variant
}{
	{"@", qtypes(dns.TypeSOA, dns.TypeNS, dns.TypeDNSKEY, dns.TypeMX, dns.TypeA, dns.TypeTXT), signedVariants},
	{"@", qtypes(dns.TypeNSEC3PARAM, dns.TypeNSEC, dns.TypeRRSIG, dns.TypeANY, dns.TypeDS, dns.TypeAAAA, dns.TypeCDS), doVariants},
	{"ns1", qtypes(dns.TypeA, dns.TypeAAAA, dns.TypeMX), signedVariants},
	{"www", qtypes(dns.TypeA, dns.TypeAAAA, dns.TypeTXT, dns.TypeMX), signedVariants},
	{"www", qtypes(dns.TypeRRSIG, dns.TypeNSEC, dns.TypeANY, dns.TypeNSEC3), doVariants},
	{"WwW", qtypes(dns.TypeA), doVariants},
	{"mx", qtypes(dns.TypeMX), signedVariants},
	{"_sip._tcp", qtypes(dns.TypeSRV), doVariants},
	// CNAME and DNAME.
	{"cname", qtypes(dns.TypeA, dns.TypeCNAME, dns.TypeMX), signedVariants},
	{"cnamenx", qtypes(dns.TypeA), signedVariants},
	{"cnamenodata", qtypes(dns.TypeMX), signedVariants},
	{"cnamewild", qtypes(dns.TypeA, dns.TypeMX), signedVariants},
	{"cnameout", qtypes(dns.TypeA), doVariants},
	{"cnamedeleg", qtypes(dns.TypeA), doVariants},
	{"c1", qtypes(dns.TypeA, dns.TypeAAAA), signedVariants},
	{"c2", qtypes(dns.TypeA), doVariants},
	{"n1", qtypes(dns.TypeA), signedVariants},
	{"dname", qtypes(dns.TypeDNAME, dns.TypeA), doVariants},
	{"www.dname", qtypes(dns.TypeA, dns.TypeMX), signedVariants},
	{"nx.dname", qtypes(dns.TypeA), doVariants},
	// Wildcards.
	{"x.wild", qtypes(dns.TypeA, dns.TypeTXT, dns.TypeMX, dns.TypeANY), signedVariants},
	{"a.b.wild", qtypes(dns.TypeA, dns.TypeMX), doVariants},
	{"host.wild", qtypes(dns.TypeA, dns.TypeMX), doVariants},
	{"*.wild", qtypes(dns.TypeA, dns.TypeMX), doVariants},
	{"wild", qtypes(dns.TypeA), doVariants},
	{"ent.wild", qtypes(dns.TypeA), doVariants},
	{"sub.ent.wild", qtypes(dns.TypeA, dns.TypeMX), doVariants},
	{"x.sub.ent.wild", qtypes(dns.TypeA), doVariants},
	{"foo.wcname", qtypes(dns.TypeA, dns.TypeCNAME), signedVariants},
	// Empty non-terminals and names that do not exist.
	{"ent", qtypes(dns.TypeA), signedVariants},
	{"leaf.ent", qtypes(dns.TypeA, dns.TypeMX), doVariants},
	{"x.leaf.ent", qtypes(dns.TypeA), doVariants},
	{"deepent", qtypes(dns.TypeTXT), doVariants},
	{"y.deepent", qtypes(dns.TypeTXT), doVariants},
	{"x.y.deepent", qtypes(dns.TypeTXT, dns.TypeA), doVariants},
	{"nothere", qtypes(dns.TypeA, dns.TypeMX), signedVariants},
	{"a.b.nothere", qtypes(dns.TypeA), doVariants},
	{"0", qtypes(dns.TypeA), doVariants},
	{"zzzz", qtypes(dns.TypeA), doVariants},
	{"mail0", qtypes(dns.TypeA), doVariants},
	// Delegations.
	{"secure", qtypes(dns.TypeNS, dns.TypeA, dns.TypeDS, dns.TypeDNSKEY, dns.TypeANY), signedVariants},
	{"www.secure", qtypes(dns.TypeA, dns.TypeDS), signedVariants},
	{"ns.secure", qtypes(dns.TypeA), doVariants},
	{"insecure", qtypes(dns.TypeNS, dns.TypeA, dns.TypeDS), signedVariants},
	{"www.insecure", qtypes(dns.TypeA, dns.TypeDS), signedVariants},
	{"ns.insecure", qtypes(dns.TypeA, dns.TypeAAAA), doVariants},
	{"extdeleg", qtypes(dns.TypeA, dns.TypeDS), doVariants},
	// Sizes.
	{"big", qtypes(dns.TypeTXT), signedSizeVariants},
	{"@", qtypes(dns.TypeDNSKEY, dns.TypeNS), []variant{{do512, udp4}, {doSize0, udp4}}},
	{"nothere", qtypes(dns.TypeA), []variant{{do512, udp4}}},
	{"x.wild", qtypes(dns.TypeMX), []variant{{do512, udp4}}},
	{"cnamewild", qtypes(dns.TypeA), []variant{{do512, udp4}}},
	{"www.insecure", qtypes(dns.TypeA), []variant{{do512, udp4}}},
	{"insecure", qtypes(dns.TypeDS), []variant{{do512, udp4}}},
	{"n1", qtypes(dns.TypeA), []variant{{do512, udp4}}},
}

// wildApexNames are the queries for wildapex. (signed-wild.zone.in).
var wildApexNames = []struct {
	name  string
	types []uint16
}{
	{"@", qtypes(dns.TypeSOA, dns.TypeA, dns.TypeNSEC3PARAM)},
	{"host", qtypes(dns.TypeA, dns.TypeMX)},
	{"x", qtypes(dns.TypeA, dns.TypeTXT, dns.TypeMX)},
	{"a.b", qtypes(dns.TypeA)},
	{"x.host", qtypes(dns.TypeA)},
}

var (
	do      = ednsVariant{tag: "do", edns: true, size: 1232, do: true}
	do512   = ednsVariant{tag: "do512", edns: true, size: 512, do: true}
	doSize0 = ednsVariant{tag: "do-size0", edns: true, size: 0, do: true}
)

// signedVariants compares DO=1 and DO=0 over UDP and DO=1 over TCP.
var signedVariants = []variant{{do, udp4}, {edns, udp4}, {do, tcp4}}

// doVariants are the DO=1 and DO=0 queries over UDP.
var doVariants = []variant{{do, udp4}, {edns, udp4}}

// signedSizeVariants add the truncation limits.
var signedSizeVariants = []variant{{do, udp4}, {do512, udp4}, {edns512, udp4}, {plain, udp4}, {do4096, udp4}, {do, tcp4}, {edns, udp6}}

// signedCases returns the queries for the signed zones.
func signedCases(zones []signedZone) []qcase {
	var cs []qcase
	add := func(name string, t uint16, v variant) {
		cname := fmt.Sprintf("%s/%s/%s/%s", name, typeName(t), v.e.tag, v.tr)
		m := newQuery(name, t, dns.ClassINET)
		m.Id = caseID(cname)
		m.RecursionDesired = v.e.rd
		if v.e.edns {
			setEDNS(m, v.e.size, v.e.do)
		}
		cs = append(cs, qcase{name: cname, tr: v.tr, query: mustPack(m)})
	}
	abs := func(z *signedZone, rel string) string {
		if rel == "@" {
			return z.origin
		}
		return rel + "." + z.origin
	}
	for i := range zones {
		z := &zones[i]
		if z.origin == "wildapex." {
			for _, n := range wildApexNames {
				for _, t := range n.types {
					for _, v := range doVariants {
						add(abs(z, n.name), t, v)
					}
				}
			}
			// NSEC3 owner names are not names of the zone: the wildcard
			// answers for them.
			for _, n := range []string{"@", "host"} {
				h := z.hashName(abs(z, n))
				add(h, dns.TypeA, variant{do, udp4})
				add(h, dns.TypeNSEC3, variant{do, udp4})
			}
			continue
		}
		for _, n := range signedNames {
			for _, t := range n.types {
				for _, v := range n.variants {
					add(abs(z, n.name), t, v)
				}
			}
		}
		if z.nsec3 != nil {
			// NSEC3 owner names answer NXDOMAIN (with proof), whatever
			// the type.
			for _, n := range []string{"www", "@"} {
				h := z.hashName(abs(z, n))
				for _, t := range qtypes(dns.TypeA, dns.TypeNSEC3, dns.TypeRRSIG) {
					add(h, t, variant{do, udp4})
				}
				add(h, dns.TypeNSEC3, variant{edns, udp4})
			}
		}
	}
	return cs
}
