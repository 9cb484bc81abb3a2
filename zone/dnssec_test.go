package zone

import (
	"encoding/base32"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// The signed zones in testdata/signed/ are made by scripts/sign-testdata.sh
// (BIND's dnssec-signzone and ldns-signzone, valid until 2090).

// readRRs parses a zone file with miekg/dns, the reference parser.
func readRRs(t testing.TB, path string) []dns.RR {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var rrs []dns.RR
	zp := dns.NewZoneParser(f, "", path)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs = append(rrs, rr)
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	return rrs
}

// zoneText writes records one per line (record i on line i+1).
func zoneText(rrs []dns.RR) string {
	var b strings.Builder
	for _, rr := range rrs {
		b.WriteString(rr.String())
		b.WriteByte('\n')
	}
	return b.String()
}

func mustParse(t testing.TB, text string) *Zone {
	t.Helper()
	z, err := Parse(strings.NewReader(text), "test.zone", "")
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return z
}

func TestSignedZonesLoad(t *testing.T) {
	for _, tt := range []struct {
		file  string
		nsec3 bool
	}{
		{"testdata/signed/nsec.zone", false},
		{"testdata/signed/nsec3.zone", true},
		{"testdata/signed/optout.zone", true},
		{"testdata/signed/wildapex.zone", true},
	} {
		z := mustLoad(t, tt.file)
		if !z.Signed() || z.NSEC3() != tt.nsec3 {
			t.Errorf("%s: Signed() = %v, NSEC3() = %v, want true, %v", tt.file, z.Signed(), z.NSEC3(), tt.nsec3)
		}
		if z.WarningCount() != 0 {
			t.Errorf("%s: %d warnings, want none: %v", tt.file, z.WarningCount(), z.Warnings())
		}
	}
	z := mustLoad(t, "testdata/example.zone")
	if z.Signed() || z.NSEC3() || z.NSECCover(wireName(t, "a.example.com.")) != nil {
		t.Errorf("unsigned zone: Signed() = %v, NSEC3() = %v", z.Signed(), z.NSEC3())
	}
	if n, _ := z.NSEC3Find(wireName(t, "a.example.com.")); n != nil {
		t.Errorf("unsigned zone: NSEC3Find = %s, want nil", n.Name)
	}
}

// TestNSEC3OwnersAreNoNames checks the two bugs of issue 12: an NSEC3
// owner name is not a name of the zone (NXDOMAIN, not NODATA), and it does
// not block a wildcard.
func TestNSEC3OwnersAreNoNames(t *testing.T) {
	for _, tt := range []struct {
		file, name string
		want       Result
		wild       bool
	}{
		{"testdata/signed/nsec3.zone", "www.nsec3.", NXDomain, false},
		{"testdata/signed/nsec3.zone", "nsec3.", NXDomain, false},
		{"testdata/signed/optout.zone", "www.optout.", NXDomain, false},
		{"testdata/signed/wildapex.zone", "host.wildapex.", Success, true},
		{"testdata/signed/wildapex.zone", "wildapex.", Success, true},
	} {
		z := mustLoad(t, tt.file)
		set := mustSet(t, z)
		sec := z.sec
		p := nsec3ParamOf(t, z)
		hashed := strings.ToLower(dns.HashName(tt.name, dns.SHA1, p.Iterations, p.Salt)) + "." + NameText(z.Origin)
		for _, qt := range []uint16{dns.TypeA, dns.TypeNSEC3} {
			want := tt.want
			if qt == dns.TypeNSEC3 && tt.wild {
				want = NoData // the wildcard has no NSEC3 RRset
			}
			m := set.Lookup(wireName(t, hashed), qt)
			if m.Result != want || m.Wildcard != tt.wild {
				t.Errorf("%s: Lookup(%s, %s) = %v wildcard %v, want %v wildcard %v", tt.file, hashed, dns.Type(qt), m.Result, m.Wildcard, want, tt.wild)
			}
		}
		if n := z.Node(wireName(t, hashed)); n != nil {
			t.Errorf("%s: Node(%s) = %s, want nil", tt.file, hashed, n.Name)
		}
		// The chain still holds it.
		if n, exact := z.NSEC3Find(wireName(t, tt.name)); !exact || NameText(n.Name) != hashed {
			t.Errorf("%s: NSEC3Find(%s) = %v, %v, want %s exact", tt.file, tt.name, n, exact, hashed)
		}
		if len(sec.nsec3) == 0 {
			t.Errorf("%s: empty NSEC3 chain", tt.file)
		}
	}
}

func nsec3ParamOf(t testing.TB, z *Zone) *dns.NSEC3PARAM {
	t.Helper()
	return &dns.NSEC3PARAM{Hash: z.sec.hashAlg, Iterations: z.sec.iterations, Salt: strings.ToUpper(fmt.Sprintf("%x", z.sec.salt)),
		SaltLength: uint8(len(z.sec.salt))}
}

// names returns every owner name of the zone file and names around them:
// children, siblings before and after, wildcards.
func probeNames(rrs []dns.RR, origin string) []string {
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		n = strings.ToLower(dns.Fqdn(n))
		if !seen[n] && dns.IsSubDomain(origin, n) {
			if _, ok := dns.IsDomainName(n); ok && len(n) < 200 {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	for _, rr := range rrs {
		n := rr.Header().Name
		add(n)
		for _, p := range []string{"0.", "zz.", "*.", "a.b.", "-."} {
			add(p + n)
		}
		if l := dns.SplitDomainName(n); len(l) > 0 {
			rest := strings.TrimPrefix(n, l[0]+".")
			add(l[0] + "a." + rest)
			add(l[0][:len(l[0])-1] + "." + rest)
		}
	}
	return out
}

// TestNSEC3FindAgainstMiekg checks NSEC3Find against miekg/dns's
// NSEC3.Match and NSEC3.Cover for every name near the zone's names.
func TestNSEC3FindAgainstMiekg(t *testing.T) {
	for _, file := range []string{"testdata/signed/nsec3.zone", "testdata/signed/optout.zone", "testdata/signed/wildapex.zone"} {
		rrs := readRRs(t, file)
		z := mustLoad(t, file)
		origin := NameText(z.Origin)
		byOwner := map[string]*dns.NSEC3{}
		for _, rr := range rrs {
			if n, ok := rr.(*dns.NSEC3); ok {
				// miekg compares hashes as text, in upper case; ldns
				// writes them in lower case.
				n.NextDomain = strings.ToUpper(n.NextDomain)
				byOwner[strings.ToLower(n.Hdr.Name)] = n
			}
		}
		for _, name := range probeNames(rrs, origin) {
			n, exact := z.NSEC3Find(wireName(t, name))
			rec := byOwner[NameText(n.Name)]
			if rec == nil {
				t.Fatalf("%s: NSEC3Find(%s) = %s, not an NSEC3 owner", file, name, NameText(n.Name))
			}
			if exact != rec.Match(name) || !exact && !rec.Cover(name) {
				t.Errorf("%s: NSEC3Find(%s) = %s, exact %v; miekg: match %v, cover %v", file, name, rec.Hdr.Name, exact, rec.Match(name), rec.Cover(name))
			}
		}
	}
}

// canonicalLess orders presentation names by canonicalKey, written
// independently of compareNames (and packed by miekg/dns).
func canonicalLess(a, b string) int {
	wire := func(s string) string {
		w := make([]byte, 256)
		n, err := dns.PackDomainName(dns.Fqdn(s), w, 0, nil, false)
		if err != nil {
			panic(err)
		}
		return string(w[:n])
	}
	return strings.Compare(canonicalKey(wire(a)), canonicalKey(wire(b)))
}

// TestNSECCoverAgainstOrder checks NSECCover: the NSEC record returned
// matches the name or is the last one before it in canonical order.
func TestNSECCoverAgainstOrder(t *testing.T) {
	const file = "testdata/signed/nsec.zone"
	rrs := readRRs(t, file)
	z := mustLoad(t, file)
	var owners []string
	for _, rr := range rrs {
		if rr.Header().Rrtype == dns.TypeNSEC {
			owners = append(owners, strings.ToLower(rr.Header().Name))
		}
	}
	slices.SortFunc(owners, canonicalLess)
	for _, name := range probeNames(rrs, NameText(z.Origin)) {
		want := owners[len(owners)-1]
		for _, o := range owners {
			if canonicalLess(o, name) <= 0 {
				want = o
			}
		}
		if got := NameText(z.NSECCover(wireName(t, name)).Name); got != want {
			t.Errorf("NSECCover(%s) = %s, want %s", name, got, want)
		}
	}
}

func TestCompareNames(t *testing.T) {
	// RFC 4034 6.1's example, in order.
	names := []string{"example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.", "zABC.a.EXAMPLE.",
		"z.example.", `\001.z.example.`, "*.z.example.", `\200.z.example.`}
	for i := range names {
		for j := range names {
			a, b := wireName(t, names[i]), wireName(t, names[j])
			got := compareNames(a, string(b))
			want := 0
			switch {
			case i < j:
				want = -1
			case i > j:
				want = 1
			}
			if got != want {
				t.Errorf("compareNames(%s, %s) = %d, want %d", names[i], names[j], got, want)
			}
		}
	}
}

func TestEncodeBase32Hex(t *testing.T) {
	for _, in := range [][]byte{{}, {0}, {0xff}, []byte("hello, world"), make([]byte, 20), {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}} {
		want := strings.ToLower(base32.HexEncoding.WithPadding(base32.NoPadding).EncodeToString(in))
		dst := make([]byte, 64)
		if got := string(dst[:encodeBase32Hex(dst, in)]); got != want {
			t.Errorf("encodeBase32Hex(%x) = %q, want %q", in, got, want)
		}
	}
}

// TestDNSSECWarnings checks what loading a signed zone warns about, with
// the position of the record concerned. The zone still loads.
func TestDNSSECWarnings(t *testing.T) {
	nsec := readRRs(t, "testdata/signed/nsec.zone")
	nsec3 := readRRs(t, "testdata/signed/nsec3.zone")
	without := func(rrs []dns.RR, drop func(dns.RR) bool) []dns.RR {
		var out []dns.RR
		for _, rr := range rrs {
			if !drop(rr) {
				out = append(out, rr)
			}
		}
		return out
	}
	lineOf := func(rrs []dns.RR, match func(dns.RR) bool) int {
		for i, rr := range rrs {
			if match(rr) {
				return i + 1
			}
		}
		t.Fatal("no such record")
		return 0
	}
	isType := func(name string, typ uint16) func(dns.RR) bool {
		return func(rr dns.RR) bool {
			return strings.EqualFold(rr.Header().Name, name) && rr.Header().Rrtype == typ
		}
	}
	extra, _ := dns.NewRR("extra.nsec. 3600 IN A 198.18.9.9")
	withExtra := append(slices.Clone(nsec), extra)
	noMailNSEC := without(nsec, isType("mail.nsec.", dns.TypeNSEC))
	wwwHash := strings.ToLower(dns.HashName("www.nsec3.", dns.SHA1, 2, "C0FFEE")) + ".nsec3."
	noWWWNSEC3 := without(nsec3, func(rr dns.RR) bool { return strings.EqualFold(rr.Header().Name, wwwHash) })
	noTXTSig := without(nsec, func(rr dns.RR) bool {
		s, ok := rr.(*dns.RRSIG)
		return ok && s.TypeCovered == dns.TypeTXT && strings.EqualFold(s.Hdr.Name, "www.nsec.")
	})

	tests := []struct {
		name string
		text string
		want []string // substrings of the warnings, in order, with "line N: warning: " when known
	}{
		{"valid", zoneText(nsec), nil},
		{"unsigned record", zoneText(withExtra), []string{
			fmt.Sprintf("line %d: warning: broken NSEC chain: no NSEC record at extra.nsec.", len(withExtra)),
			fmt.Sprintf("line %d: warning: A RRset at extra.nsec. has no RRSIG", len(withExtra)),
		}},
		{"NSEC removed", zoneText(noMailNSEC), []string{
			fmt.Sprintf("line %d: warning: broken NSEC chain: the NSEC record at insecure.nsec. points to mail.nsec., but the next name in the zone is mx.nsec.",
				lineOf(noMailNSEC, isType("insecure.nsec.", dns.TypeNSEC))),
			fmt.Sprintf("line %d: warning: broken NSEC chain: no NSEC record at mail.nsec.", lineOf(noMailNSEC, isType("mail.nsec.", dns.TypeA))),
		}},
		{"RRSIG removed", zoneText(noTXTSig), []string{
			fmt.Sprintf("line %d: warning: TXT RRset at www.nsec. has no RRSIG", lineOf(noTXTSig, isType("www.nsec.", dns.TypeTXT))),
		}},
		{"NSEC3 removed", zoneText(noWWWNSEC3), []string{
			"broken NSEC3 chain: the NSEC3 record at ",
			fmt.Sprintf("line %d: warning: broken NSEC3 chain: no NSEC3 record for www.nsec3.", lineOf(noWWWNSEC3, isType("www.nsec3.", dns.TypeA))),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z := mustParse(t, tt.text)
			if !z.Signed() {
				t.Fatal("not signed")
			}
			var got []string
			for _, w := range z.Warnings() {
				got = append(got, w.String())
			}
			if len(got) != len(tt.want) || z.WarningCount() != len(tt.want) {
				t.Fatalf("%d warnings (count %d):\n%s\nwant %d:\n%s", len(got), z.WarningCount(), strings.Join(got, "\n"), len(tt.want), strings.Join(tt.want, "\n"))
			}
			for i, w := range tt.want {
				if !strings.Contains(got[i], w) || !strings.HasPrefix(got[i], "zone test.zone: ") {
					t.Errorf("warning %d = %q, want it to contain %q", i, got[i], w)
				}
			}
		})
	}
}

// TestSignatureValidityWarnings loads zones signed with validity periods
// in the past and in the future: one warning per signature, at its line.
func TestSignatureValidityWarnings(t *testing.T) {
	for _, tt := range []struct {
		file, want string
	}{
		{"testdata/signed/expired.zone", "expired on 2020-02-01 00:00:00 UTC"},
		{"testdata/signed/future.zone", "is not valid before 2080-01-01 00:00:00 UTC"},
	} {
		z := mustLoad(t, tt.file)
		sigs := 0
		for _, rr := range readRRs(t, tt.file) {
			if rr.Header().Rrtype == dns.TypeRRSIG {
				sigs++
			}
		}
		if z.WarningCount() != sigs || len(z.Warnings()) != sigs {
			t.Errorf("%s: %d warnings, want %d (one per RRSIG)", tt.file, z.WarningCount(), sigs)
		}
		for _, w := range z.Warnings() {
			if !strings.Contains(w.Message, tt.want) || w.Line == 0 || w.File != tt.file {
				t.Errorf("%s: warning %q, want file:line and %q", tt.file, w, tt.want)
			}
		}
	}
}

func TestUnsignedZoneWithSignatures(t *testing.T) {
	// RRSIG records below the apex only: the zone is served unsigned, and
	// says so.
	z := mustParse(t, `$ORIGIN x.
@ 3600 IN SOA ns hostmaster 1 2 3 4 5
@ 3600 IN NS ns
ns 3600 IN A 198.18.0.1
ns 3600 IN RRSIG A 13 2 3600 20900101000000 20260101000000 1 x. AAAA
`)
	if z.Signed() || z.WarningCount() != 1 || !strings.Contains(z.Warnings()[0].String(), "line 5: warning: RRSIG record, but none at the zone apex x.") {
		t.Errorf("Signed() = %v, warnings %v", z.Signed(), z.Warnings())
	}
}

func TestManyWarningsCapped(t *testing.T) {
	rrs := readRRs(t, "testdata/signed/nsec.zone")
	for i := range 2 * maxWarnings {
		rr, _ := dns.NewRR(fmt.Sprintf("u%d.nsec. 3600 IN A 198.18.9.%d", i, i%250))
		rrs = append(rrs, rr)
	}
	z := mustParse(t, zoneText(rrs))
	// Each unsigned name: no NSEC, no RRSIG.
	if len(z.Warnings()) != maxWarnings || z.WarningCount() != 4*maxWarnings {
		t.Errorf("%d warnings kept, %d counted; want %d, %d", len(z.Warnings()), z.WarningCount(), maxWarnings, 4*maxWarnings)
	}
}

func TestNSEC3FindAllocs(t *testing.T) {
	z := mustLoad(t, "testdata/signed/nsec3.zone")
	name := wireName(t, "nothere.nsec3.")
	zn := mustLoad(t, "testdata/signed/nsec.zone")
	name2 := wireName(t, "nothere.nsec.")
	if n := testing.AllocsPerRun(100, func() {
		z.NSEC3Find(name)
		zn.NSECCover(name2)
	}); n != 0 {
		t.Errorf("NSEC3Find and NSECCover: %v allocations, want 0", n)
	}
}
