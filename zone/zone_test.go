package zone

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// wireName converts a presentation name to the canonical wire form that
// Lookup expects.
func wireName(t testing.TB, s string) []byte {
	t.Helper()
	w, ok := canonicalName(s)
	if !ok {
		t.Fatalf("bad test name %q", s)
	}
	return w
}

func mustLoad(t testing.TB, path string) *Zone {
	t.Helper()
	z, err := LoadFile(path)
	if err != nil {
		t.Fatalf("LoadFile(%s): %v", path, err)
	}
	return z
}

func mustSet(t testing.TB, zones ...*Zone) *Set {
	t.Helper()
	s, err := NewSet(zones...)
	if err != nil {
		t.Fatalf("NewSet: %v", err)
	}
	return s
}

// rdatas returns the records of rs as strings of bytes, for comparisons.
func rdatas(rs *RRset) []string {
	var out []string
	rs.Records(func(rd []byte) bool {
		out = append(out, string(rd))
		return true
	})
	return out
}

// packRdata returns the uncompressed wire rdata of a record given in
// presentation format, packed by miekg/dns.
func packRdata(t testing.TB, text string) []byte {
	t.Helper()
	rr, err := dns.NewRR(text)
	if err != nil {
		t.Fatalf("dns.NewRR(%q): %v", text, err)
	}
	return packRR(t, rr)
}

func packRR(t testing.TB, rr dns.RR) []byte {
	t.Helper()
	buf := make([]byte, 70000)
	end, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		t.Fatalf("PackRR(%v): %v", rr, err)
	}
	return buf[end-int(rr.Header().Rdlength) : end]
}

func TestLoadExample(t *testing.T) {
	z := mustLoad(t, "testdata/example.zone")
	if got, want := z.Origin, string(wireName(t, "example.com.")); got != want {
		t.Errorf("Origin = %q, want %q", got, want)
	}
	if z.File != "testdata/example.zone" {
		t.Errorf("File = %q, want testdata/example.zone", z.File)
	}
	if z.Serial != 2024010101 {
		t.Errorf("Serial = %d, want 2024010101", z.Serial)
	}
	if z.NegTTL != 300 {
		t.Errorf("NegTTL = %d, want min(3600, 300) = 300", z.NegTTL)
	}
	if z.Apex == nil || z.Apex.Name != z.Origin || z.Apex.RRset(dns.TypeSOA) == nil || z.Apex.RRset(dns.TypeNS) == nil {
		t.Fatalf("Apex = %+v, want the apex node with SOA and NS", z.Apex)
	}
	// 25 lines of records, one an exact duplicate (www A 192.0.2.10).
	if got, want := z.Records(), 24; got != want {
		t.Errorf("Records() = %d, want %d", got, want)
	}

	tests := []struct {
		name  string
		typ   uint16
		ttl   uint32
		rdata []string // presentation records, in order
	}{
		{"www.example.com.", dns.TypeA, 300, []string{"www.example.com. A 192.0.2.10", "www.example.com. A 192.0.2.11"}},
		{"mail.example.com.", dns.TypeA, 3600, []string{"mail.example.com. A 192.0.2.25"}},
		{"www.mixed.example.com.", dns.TypeA, 3600, []string{"x. A 192.0.2.12"}},
		{"example.com.", dns.TypeSOA, 3600, []string{"example.com. SOA ns1.example.com. hostmaster.Example.COM. 2024010101 7200 3600 1209600 300"}},
		{"example.com.", dns.TypeNS, 3600, []string{"x. NS ns1.example.com.", "x. NS ns2.example.net."}},
		{"unk.example.com.", 65280, 3600, []string{"x. TYPE65280 \\# 4 0A000001"}},
		{"gen.example.com.", dns.TypeA, 3600, []string{"x. A 192.0.2.2"}},
		{"a.b.c.deep.example.com.", dns.TypeTXT, 3600, []string{`x. TXT "deep name" "two strings"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name+"/"+dns.Type(tt.typ).String(), func(t *testing.T) {
			n := z.Node(wireName(t, tt.name))
			if n == nil {
				t.Fatalf("Node(%s) = nil", tt.name)
			}
			rs := n.RRset(tt.typ)
			if rs == nil {
				t.Fatalf("RRset(%d) = nil", tt.typ)
			}
			if rs.TTL != tt.ttl {
				t.Errorf("TTL = %d, want %d", rs.TTL, tt.ttl)
			}
			var want []string
			for _, s := range tt.rdata {
				want = append(want, string(packRdata(t, s)))
			}
			got := rdatas(rs)
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("rdata = %q, want %q", got, want)
			}
			if int(rs.Count) != len(want) {
				t.Errorf("Count = %d, want %d", rs.Count, len(want))
			}
		})
	}
}

func TestNodesSortedAndENT(t *testing.T) {
	z := mustLoad(t, "testdata/example.zone")
	for i := range z.nodes {
		n := &z.nodes[i]
		for j := 1; j < len(n.RRsets); j++ {
			if n.RRsets[j-1].Type >= n.RRsets[j].Type {
				t.Errorf("%s: RRsets not sorted by type: %d before %d", nameText(n.Name), n.RRsets[j-1].Type, n.RRsets[j].Type)
			}
		}
		if got := z.Node([]byte(n.Name)); got != n {
			t.Errorf("Node(%s) = %p, want %p", nameText(n.Name), got, n)
		}
	}
	for _, name := range []string{"deep.example.com.", "c.deep.example.com.", "b.c.deep.example.com.", "wild.example.com.", "mixed.example.com."} {
		n := z.Node(wireName(t, name))
		if n == nil {
			t.Errorf("empty non-terminal %s missing", name)
			continue
		}
		if len(n.RRsets) != 0 {
			t.Errorf("%s: %d RRsets, want 0", name, len(n.RRsets))
		}
	}
	for _, tt := range []struct {
		name string
		cut  bool
	}{{"example.com.", false}, {"sub.example.com.", true}, {"nods.example.com.", true}, {"ns.sub.example.com.", false}, {"www.example.com.", false}} {
		if n := z.Node(wireName(t, tt.name)); n == nil || n.Cut != tt.cut {
			t.Errorf("Node(%s).Cut = %v, want %v", tt.name, n != nil && n.Cut, tt.cut)
		}
	}
}

func TestParseErrors(t *testing.T) {
	const head = "$ORIGIN example.com.\n$TTL 300\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\n" // lines 1-4
	tests := []struct {
		name   string
		text   string
		origin string
		want   string
	}{
		{"bad A", head + "www A 300.1.2.3\n", "", "zone bad.zone: line 5: bad A record: 300.1.2.3 is not an IPv4 address"},
		{"bad MX", head + "\n\nwww MX x mail\n", "", "zone bad.zone: line 7: bad MX record: x is not a number from 0 to 65535"},
		{"unknown type", head + "www FOO bar\n", "", "zone bad.zone: line 5: FOO is neither a TTL, a class nor a record type"},
		{"class CH", head + "www CH A 1.2.3.4\n", "", "zone bad.zone: line 5: class CH not supported (only IN)"},
		{"class after multi-line", head + "a TXT \"x;\n y\" (\n )\nb A 1.2.3.4\n$TTL 5\n\n  ; x\n\nc CH A 1.2.3.4\n", "",
			"zone bad.zone: line 13: class CH not supported (only IN)"},
		{"line after quoted specials", head + "a TXT \"semi;colon ( \\\" (\"\nb CH A 1.2.3.4\n", "", "zone bad.zone: line 6: class CH not supported (only IN)"},
		{"line after comment paren", head + "; comment (\nb CH A 1.2.3.4\n", "", "zone bad.zone: line 6: class CH not supported (only IN)"},
		{"CRLF", head + "a A 1.2.3.4\r\nb CH A 1.2.3.4\r\n", "", "zone bad.zone: line 6: class CH not supported (only IN)"},
		{"blank owner continues", head + "a A 1.2.3.4\n  CH A 1.2.3.5\n", "", "zone bad.zone: line 6: class CH not supported (only IN)"},
		{"out of zone", head + "www.example.org. A 1.2.3.4\n", "", "zone bad.zone: line 5: www.example.org. is out of zone example.com."},
		{"out of zone suffix", head + "wwwexample.com. A 1.2.3.4\n", "", "zone bad.zone: line 5: wwwexample.com. is out of zone example.com."},
		{"out of zone before SOA",
			"www.example.org. 300 A 1.2.3.4\nexample.com. 300 SOA ns.example.com. hm.example.com. 1 2 3 4 5\nexample.com. 300 NS ns.example.com.\n", "",
			"zone bad.zone: line 1: www.example.org. is out of zone example.com."},
		{"CNAME after A", head + "www A 1.2.3.4\nwww CNAME x\n", "", "zone bad.zone: line 6: CNAME at www.example.com. beside other data (A record at line 5)"},
		{"A after CNAME", head + "www CNAME x\n; c\nwww A 1.2.3.4\n", "", "zone bad.zone: line 7: A record at www.example.com. beside a CNAME (line 5)"},
		{"two CNAMEs", head + "www CNAME x\n\nwww CNAME y\n", "", "zone bad.zone: line 7: more than one CNAME record at www.example.com. (first at line 5)"},
		{"CNAME at apex", head + "@ CNAME x\n", "", "zone bad.zone: line 5: CNAME at the zone apex example.com."},
		{"SOA below apex", head + "sub SOA ns hm 1 2 3 4 5\n", "", "zone bad.zone: line 5: SOA record at sub.example.com., not at the zone apex example.com."},
		{"second SOA", head + "@ SOA ns hm 2 2 3 4 5\n", "", "zone bad.zone: line 5: more than one SOA record (first at bad.zone line 3)"},
		{"SOA not at given origin", head, "example.net.", "zone bad.zone: line 3: SOA record at example.com., not at the zone apex example.net."},
		{"no SOA", "$ORIGIN example.com.\n@ 300 NS ns\n", "", "zone bad.zone: no SOA record"},
		{"no SOA at origin", "@ 300 NS ns\n", "example.com", "zone bad.zone: no SOA record at the zone apex example.com."},
		{"no NS", "$ORIGIN example.com.\n$TTL 300\n\n@ SOA ns hm 1 2 3 4 5\nwww A 1.2.3.4\n", "", "zone bad.zone: line 4: the zone apex example.com. has no NS records (a zone needs NS records at its apex)"},
		{"NS only below apex", "$ORIGIN example.com.\n$TTL 300\n@ SOA ns hm 1 2 3 4 5\nsub NS ns\n", "", "zone bad.zone: line 3: the zone apex example.com. has no NS records (a zone needs NS records at its apex)"},
		{"empty", "", "", "zone bad.zone: empty zone file (no records)"},
		{"only comments", "; nothing\n\n$TTL 300\n", "", "zone bad.zone: empty zone file (no records)"},
		{"relative name without origin", "@ 300 SOA ns hm 1 2 3 4 5\n", "", "zone bad.zone: line 1: relative name @, but no origin is known: put $ORIGIN before this line or give the zone's origin"},
		{"bad origin", head, "exa..mple", `zone bad.zone: bad origin "exa..mple"`},
		{"include not allowed outside", head + "$INCLUDE /nonexistent/zone/file\n", "", "zone bad.zone: line 5: $INCLUDE /nonexistent/zone/file: open /nonexistent/zone/file: no such file or directory"},
		{"include of a device", head + "$INCLUDE /dev/null\n", "", "zone bad.zone: line 5: $INCLUDE /dev/null: open /dev/null: not a regular file"},
		{"no NS, multi-line SOA", "$ORIGIN example.com.\n$TTL 300\n@ SOA ns hm (\n 1 2 3\n 4 5 )\nwww A 1.2.3.4\n", "", "zone bad.zone: line 3: the zone apex example.com. has no NS records (a zone needs NS records at its apex)"},
		{"data below DNAME", head + "old DNAME new.example.net.\nwww.old A 1.2.3.4\n", "", "zone bad.zone: line 6: A record at www.old.example.com. below the DNAME at old.example.com. (line 5)"},
		{"data below apex DNAME", head + "@ DNAME example.net.\nwww A 1.2.3.4\n", "", "zone bad.zone: line 6: A record at www.example.com. below the DNAME at example.com. (line 5)"},
		{"garbage after rdata", head + "www A 1.2.3.4 5.6.7.8\n", "", `zone bad.zone: line 5: bad A record: unexpected 5.6.7.8 after the last field`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z, err := Parse(strings.NewReader(tt.text), "bad.zone", tt.origin)
			if err == nil {
				t.Fatalf("Parse succeeded (origin %q, %d nodes), want error %q", z.Origin, z.Len(), tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	const head = "$ORIGIN example.com.\n$TTL 300\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\n"
	tests := []struct {
		name string
		text string
		node string
		typ  uint16
		ttl  uint32
		n    int
	}{
		{"duplicate CNAME", head + "www CNAME x\nwww CNAME x\n", "www.example.com.", dns.TypeCNAME, 300, 1},
		{"CNAME with RRSIG and NSEC", head + "www CNAME x\nwww RRSIG CNAME 8 3 300 20300101000000 20200101000000 12345 example.com. AAAA\nwww NSEC x.example.com. CNAME RRSIG NSEC\n",
			"www.example.com.", dns.TypeCNAME, 300, 1},
		{"no TTL anywhere", "$ORIGIN example.com.\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\n", "example.com.", dns.TypeNS, defaultTTL, 1},
		{"TTL carried from previous record", "$ORIGIN example.com.\n@ 77 SOA ns hm 1 2 3 4 5\n@ NS ns\n", "example.com.", dns.TypeNS, 77, 1},
		{"$TTL", "$ORIGIN example.com.\n$TTL 1h\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\n", "example.com.", dns.TypeNS, 3600, 1},
		{"first TTL wins", head + "www 10 A 1.2.3.4\nwww 20 A 1.2.3.5\n", "www.example.com.", dns.TypeA, 10, 2},
		{"interleaved RRsets", head + "www A 1.2.3.4\nftp A 1.2.3.9\nwww TXT x\nwww A 1.2.3.5\nwww A 1.2.3.4\n", "www.example.com.", dns.TypeA, 300, 2},
		{"case-insensitive owners", head + "WWW A 1.2.3.4\nwww A 1.2.3.5\nWwW TXT x\n", "www.example.com.", dns.TypeA, 300, 2},
		{"generic type", head + "x TYPE4660 \\# 3 010203\n", "x.example.com.", 4660, 300, 1},
		{"generic known type", head + "x TYPE1 \\# 4 01020304\n", "x.example.com.", dns.TypeA, 300, 1},
		{"escaped owner", head + "a\\.b A 1.2.3.4\n", "a\\.b.example.com.", dns.TypeA, 300, 1},
		{"class before TTL", head + "x IN 5 A 1.2.3.4\n", "x.example.com.", dns.TypeA, 5, 1},
		{"$GENERATE takes $TTL", head + "$GENERATE 1-3 h$ A 10.0.0.$\n", "h2.example.com.", dns.TypeA, 300, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			z, err := Parse(strings.NewReader(tt.text), "ok.zone", "")
			if err != nil {
				t.Fatalf("Parse: %v", err)
			}
			n := z.Node(wireName(t, tt.node))
			if n == nil {
				t.Fatalf("Node(%s) = nil", tt.node)
			}
			rs := n.RRset(tt.typ)
			if rs == nil {
				t.Fatalf("%s: no RRset of type %d", tt.node, tt.typ)
			}
			if rs.TTL != tt.ttl || int(rs.Count) != tt.n || len(rdatas(rs)) != tt.n {
				t.Errorf("TTL %d, Count %d, %d records; want TTL %d, %d records", rs.TTL, rs.Count, len(rdatas(rs)), tt.ttl, tt.n)
			}
		})
	}
}

func TestOriginFromSOA(t *testing.T) {
	z := mustLoad(t, "testdata/noorigin.zone")
	if got, want := nameText(z.Origin), "example.org."; got != want {
		t.Errorf("origin = %s, want %s", got, want)
	}
	if z.NegTTL != 300 || z.Serial != 7 {
		t.Errorf("NegTTL, Serial = %d, %d, want 300, 7", z.NegTTL, z.Serial)
	}
	if z.Node(wireName(t, "www.example.org.")) == nil {
		t.Errorf("record before the SOA lost")
	}
	// The same file with the origin given.
	f, err := os.Open("testdata/noorigin.zone")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := Parse(f, "testdata/noorigin.zone", "EXAMPLE.org"); err != nil {
		t.Errorf("Parse with origin: %v", err)
	}
}

func TestInclude(t *testing.T) {
	z := mustLoad(t, "testdata/include/main.zone")
	for _, tt := range []struct {
		name string
		typ  uint16
	}{
		{"ns.inc.example.", dns.TypeA},
		{"nested.inc.example.", dns.TypeTXT},
		{"www.inc.example.", dns.TypeA},
		{"after.inc.example.", dns.TypeA},
		{"other.inc.example.", dns.TypeA},
		{"x.other.inc.example.", dns.TypeA},
		{"last.inc.example.", dns.TypeA},
	} {
		if n := z.Node(wireName(t, tt.name)); n == nil || n.RRset(tt.typ) == nil {
			t.Errorf("%s %s missing", tt.name, dns.Type(tt.typ))
		}
	}
	// An absolute path for the top file works the same.
	abs, err := filepath.Abs("testdata/include/main.zone")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := LoadFile(abs); err != nil {
		t.Errorf("LoadFile(%s): %v", abs, err)
	}

	errs := []struct {
		file string
		want string
	}{
		{"testdata/include/badinc.zone", "zone testdata/include/sub/bad.zone: line 3: CNAME at www.inc.example. beside other data (A record at line 1)"},
		{"testdata/include/syntax.zone", "zone testdata/include/sub/syntax.zone: line 2: bad A record: 192.0.2.256 is not an IPv4 address"},
		{"testdata/include/badafter.zone", "zone testdata/include/badafter.zone: line 6: class CH not supported (only IN)"},
	}
	for _, tt := range errs {
		t.Run(tt.file, func(t *testing.T) {
			_, err := LoadFile(tt.file)
			if err == nil || err.Error() != tt.want {
				t.Errorf("error\n got: %v\nwant: %s", err, tt.want)
			}
		})
	}

	t.Run("missing", func(t *testing.T) {
		_, err := LoadFile("testdata/include/missing.zone")
		if err == nil {
			t.Fatal("LoadFile succeeded, want an error")
		}
		want := "zone testdata/include/missing.zone: line 5: $INCLUDE sub/nothere.zone: open testdata/include/sub/nothere.zone: no such file or directory"
		if err.Error() != want {
			t.Errorf("error\n got: %v\nwant: %s", err, want)
		}
		if !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("errors.Is(err, fs.ErrNotExist) = false for %v", err)
		}
	})
}

func TestLoadFileMissing(t *testing.T) {
	_, err := LoadFile("testdata/does-not-exist.zone")
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want a wrapped fs.ErrNotExist", err)
	}
	if want := "zone testdata/does-not-exist.zone: open testdata/does-not-exist.zone: no such file or directory"; err.Error() != want {
		t.Errorf("error\n got: %s\nwant: %s", err, want)
	}
}

// TestAgainstMiekg checks every record of the test zones, as parsed and
// packed by miekg/dns, against the compiled zone.
func TestAgainstMiekg(t *testing.T) {
	for _, file := range []string{"testdata/example.zone", "testdata/rfc4592.zone", "testdata/noorigin.zone",
		"testdata/parent.zone", "testdata/child.zone", "testdata/include/main.zone"} {
		t.Run(file, func(t *testing.T) {
			z := mustLoad(t, file)
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			crossCheck(t, z, dns.NewZoneParser(f, "", file))
		})
	}
}

// crossCheck checks that every record zp yields is in z, with exactly
// miekg's rdata, and that z has no other records.
func crossCheck(t *testing.T, z *Zone, zp *dns.ZoneParser) {
	t.Helper()
	zp.SetIncludeAllowed(true)
	zp.SetDefaultTTL(defaultTTL)
	seen := map[string]bool{}
	sets := map[*RRset]map[string]bool{}
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		h := rr.Header()
		name := wireName(t, h.Name)
		n := z.Node(name)
		if n == nil {
			t.Errorf("%s: no node", h.Name)
			continue
		}
		rs := n.RRset(h.Rrtype)
		if rs == nil {
			t.Errorf("%s %s: no RRset", h.Name, dns.Type(h.Rrtype))
			continue
		}
		want := string(packRR(t, rr))
		if sets[rs] == nil {
			sets[rs] = map[string]bool{}
			for _, got := range rdatas(rs) {
				sets[rs][got] = true
			}
		}
		if !sets[rs][want] {
			t.Errorf("%v: rdata %x not in compiled RRset", rr, want)
		}
		seen[string(name)+"/"+dns.Type(h.Rrtype).String()+"/"+want] = true
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	if z.Records() != len(seen) {
		t.Errorf("compiled zone has %d records, miekg found %d distinct", z.Records(), len(seen))
	}
}

// TestLargeAndInterleaved covers RRsets that span rdata chunks, RRsets
// whose records are not contiguous in the file, and duplicates among them.
func TestLargeAndInterleaved(t *testing.T) {
	var b strings.Builder
	b.WriteString("$ORIGIN big.example.\n$TTL 60\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\n")
	for i := range 6000 { // about 1.2 MB of TXT at one name: several chunks
		fmt.Fprintf(&b, "big TXT \"%04d %s\"\n", i, strings.Repeat("x", 190))
	}
	for i := range 3000 {
		fmt.Fprintf(&b, "a%d A 10.0.%d.%d\n", i%7, i%5, i%11) // interleaved, with duplicates
		if i%500 == 0 {
			fmt.Fprintf(&b, "big TXT \"%04d %s\"\n", i, strings.Repeat("x", 190)) // duplicate, out of place
		}
	}
	z, err := Parse(strings.NewReader(b.String()), "big.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	crossCheck(t, z, dns.NewZoneParser(strings.NewReader(b.String()), "", "big.zone"))
	if rs := z.Node(wireName(t, "big.big.example.")).RRset(dns.TypeTXT); rs.Count != 6000 {
		t.Errorf("big TXT: Count = %d, want 6000", rs.Count)
	}
	// i ≡ 3 (mod 7) meets all 55 pairs (i mod 5, i mod 11) below 3000.
	if rs := z.Node(wireName(t, "a3.big.example.")).RRset(dns.TypeA); rs.Count != 55 || len(rdatas(rs)) != 55 {
		t.Errorf("a3 A: Count = %d, %d records, want 55", rs.Count, len(rdatas(rs)))
	}
}

func TestNewSetDuplicate(t *testing.T) {
	a := mustLoad(t, "testdata/parent.zone")
	b, err := Parse(strings.NewReader("$ORIGIN example.NET.\n@ 1 SOA ns hm 1 2 3 4 5\n@ 1 NS ns\n"), "again.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewSet(a, b)
	if want := "zone set: zone example.net. defined twice, in testdata/parent.zone and in again.zone"; err == nil || err.Error() != want {
		t.Errorf("NewSet error\n got: %v\nwant: %s", err, want)
	}
	if _, err := NewSet(a, nil); err == nil {
		t.Errorf("NewSet with a nil zone succeeded")
	}
	s := mustSet(t, mustLoad(t, "testdata/child.zone"), a)
	if len(s.Zones()) != 2 || s.Zones()[0].Origin > s.Zones()[1].Origin {
		t.Errorf("Zones() not sorted by origin: %q", []string{s.Zones()[0].Origin, s.Zones()[1].Origin})
	}
}

func TestRecordsIterator(t *testing.T) {
	rs := &RRset{Rdata: []byte{0, 1, 'a', 0, 2, 'b', 'c', 0, 9, 'x'}} // last one truncated
	var got []string
	rs.Records(func(rd []byte) bool { got = append(got, string(rd)); return true })
	if strings.Join(got, ",") != "a,bc" {
		t.Errorf("Records = %q, want [a bc]", got)
	}
	got = nil
	rs.Records(func(rd []byte) bool { got = append(got, string(rd)); return false })
	if len(got) != 1 {
		t.Errorf("Records did not stop early: %q", got)
	}
}

func TestRdataKeepsCase(t *testing.T) {
	z := mustLoad(t, "testdata/example.zone")
	soa := z.Apex.RRset(dns.TypeSOA)
	if !bytes.Contains(soa.Rdata, []byte("\x0ahostmaster\x07Example\x03COM\x00")) {
		t.Errorf("SOA rdata %q lost the case of the zone file", soa.Rdata)
	}
}

// onlyReader hides the Len and Stat methods that Parse sizes its tables by.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

// TestGrowth loads a zone whose size Parse cannot know in advance, so that
// the name index grows many times while records stream in.
func TestGrowth(t *testing.T) {
	text, rrs := genZone(20000)
	z, err := Parse(onlyReader{bytes.NewReader(text)}, "grow.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	if z.Records() != rrs {
		t.Errorf("Records() = %d, want %d", z.Records(), rrs)
	}
	crossCheck(t, z, dns.NewZoneParser(bytes.NewReader(text), "", "grow.zone"))
	for i := range z.nodes {
		if n := &z.nodes[i]; z.Node([]byte(n.Name)) != n {
			t.Fatalf("Node(%s) not found", nameText(n.Name))
		}
	}
	if z.Len() < 20000 {
		t.Errorf("Len() = %d, want at least 20000", z.Len())
	}
}

func TestNameText(t *testing.T) {
	for _, tc := range []struct{ wire, want string }{
		{"", "."},
		{"\x00", "."},
		{"\x06tapdns\x04test\x00", "tapdns.test."},
		{"\x01*\x01a\x00", "*.a."},
		{"\x03a.b\x00", `a\.b.`},
		{"\x03a b\x00", `a\ b.`},
		{"\x02a\x01\x00", `a\001.`},
	} {
		if got := NameText(tc.wire); got != tc.want {
			t.Errorf("NameText(%q) = %q, want %q", tc.wire, got, tc.want)
		}
	}
}
