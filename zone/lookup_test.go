package zone

import (
	"bytes"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// lookupCase is one query and the expected Match, described by names so
// that failures read well.
type lookupCase struct {
	qname    string
	qtype    uint16
	result   Result
	zone     string // origin of Match.Zone; "" for none
	node     string // name of Match.Node; "" for nil
	answer   uint16 // type of Match.Answer; 0 for nil
	wildcard bool
	cname    bool
}

func runLookups(t *testing.T, s *Set, cases []lookupCase) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.qname+"/"+dns.Type(tt.qtype).String(), func(t *testing.T) {
			m := s.Lookup(wireName(t, tt.qname), tt.qtype)
			var zone, node string
			var answer uint16
			if m.Zone != nil {
				zone = nameText(m.Zone.Origin)
			}
			if m.Node != nil {
				node = nameText(m.Node.Name)
			}
			if m.Answer != nil {
				answer = m.Answer.Type
			}
			if m.Result != tt.result || zone != tt.zone || node != tt.node || answer != tt.answer || m.Wildcard != tt.wildcard || m.CNAME != tt.cname {
				t.Errorf("Lookup(%s, %s)\n got: %v zone=%q node=%q answer=%s wildcard=%v cname=%v\nwant: %v zone=%q node=%q answer=%s wildcard=%v cname=%v",
					tt.qname, dns.Type(tt.qtype),
					m.Result, zone, node, dns.Type(answer), m.Wildcard, m.CNAME,
					tt.result, tt.zone, tt.node, dns.Type(tt.answer), tt.wildcard, tt.cname)
			}
			if m.Answer != nil && m.Node.RRset(m.Answer.Type) != m.Answer {
				t.Errorf("Answer does not point into Node")
			}
		})
	}
}

func TestLookupExample(t *testing.T) {
	s := mustSet(t, mustLoad(t, "testdata/example.zone"))
	const ex = "example.com."
	const (
		A, AAAA, NS, CNAME, SOA, MX, TXT, DS, ANY = dns.TypeA, dns.TypeAAAA, dns.TypeNS, dns.TypeCNAME, dns.TypeSOA, dns.TypeMX, dns.TypeTXT, dns.TypeDS, dns.TypeANY
	)
	runLookups(t, s, []lookupCase{
		// Exact matches.
		{"example.com.", SOA, Success, ex, "example.com.", SOA, false, false},
		{"example.com.", NS, Success, ex, "example.com.", NS, false, false},
		{"example.com.", A, NoData, ex, "example.com.", 0, false, false},
		{"example.com.", DS, NoData, ex, "example.com.", 0, false, false},
		{"www.example.com.", A, Success, ex, "www.example.com.", A, false, false},
		{"WWW.Example.COM.", A, Success, ex, "www.example.com.", A, false, false}, // wireName lower-cases, as dnswire will
		{"www.mixed.example.com.", A, Success, ex, "www.mixed.example.com.", A, false, false},
		{"www.example.com.", AAAA, NoData, ex, "www.example.com.", 0, false, false},
		{"unk.example.com.", 65280, Success, ex, "unk.example.com.", 65280, false, false},
		// CNAME.
		{"alias.example.com.", A, Success, ex, "alias.example.com.", CNAME, false, true},
		{"alias.example.com.", CNAME, Success, ex, "alias.example.com.", CNAME, false, false},
		{"alias.example.com.", ANY, Success, ex, "alias.example.com.", 0, false, false},
		// Empty non-terminals.
		{"deep.example.com.", A, NoData, ex, "deep.example.com.", 0, false, false},
		{"c.deep.example.com.", TXT, NoData, ex, "c.deep.example.com.", 0, false, false},
		{"c.deep.example.com.", ANY, NoData, ex, "c.deep.example.com.", 0, false, false},
		{"x.c.deep.example.com.", TXT, NXDomain, ex, "", 0, false, false},
		{"a.b.c.deep.example.com.", TXT, Success, ex, "a.b.c.deep.example.com.", TXT, false, false},
		// NXDOMAIN.
		{"nx.example.com.", A, NXDomain, ex, "", 0, false, false},
		{"nx.example.com.", ANY, NXDomain, ex, "", 0, false, false},
		{"a.nx.example.com.", A, NXDomain, ex, "", 0, false, false},
		// ANY.
		{"example.com.", ANY, Success, ex, "example.com.", 0, false, false},
		// Wildcards.
		{"x.wild.example.com.", A, Success, ex, "*.wild.example.com.", A, true, false},
		{"x.wild.example.com.", MX, Success, ex, "*.wild.example.com.", MX, true, false},
		{"y.x.wild.example.com.", A, Success, ex, "*.wild.example.com.", A, true, false},
		{"x.wild.example.com.", AAAA, NoData, ex, "*.wild.example.com.", 0, true, false},
		{"x.wild.example.com.", ANY, Success, ex, "*.wild.example.com.", 0, true, false},
		{"*.wild.example.com.", A, Success, ex, "*.wild.example.com.", A, false, false},
		{"wild.example.com.", A, NoData, ex, "wild.example.com.", 0, false, false},
		{"q.cwild.example.com.", A, Success, ex, "*.cwild.example.com.", CNAME, true, true},
		{"q.cwild.example.com.", CNAME, Success, ex, "*.cwild.example.com.", CNAME, true, false},
		// Delegations.
		{"sub.example.com.", A, Delegation, ex, "sub.example.com.", 0, false, false},
		{"sub.example.com.", NS, Delegation, ex, "sub.example.com.", 0, false, false},
		{"sub.example.com.", ANY, Delegation, ex, "sub.example.com.", 0, false, false},
		{"sub.example.com.", DS, Success, ex, "sub.example.com.", DS, false, false},
		{"ns.sub.example.com.", A, Delegation, ex, "sub.example.com.", 0, false, false},
		{"ns.sub.example.com.", DS, Delegation, ex, "sub.example.com.", 0, false, false},
		{"below.sub.example.com.", A, Delegation, ex, "sub.example.com.", 0, false, false},
		{"nx.sub.example.com.", A, Delegation, ex, "sub.example.com.", 0, false, false}, // *.sub is never applied
		{"a.b.sub.example.com.", A, Delegation, ex, "sub.example.com.", 0, false, false},
		{"nods.example.com.", DS, NoData, ex, "nods.example.com.", 0, false, false},
		{"nods.example.com.", A, Delegation, ex, "nods.example.com.", 0, false, false},
		// Not ours.
		{"org.", A, Refused, "", "", 0, false, false},
		{".", NS, Refused, "", "", 0, false, false},
		{"com.", NS, Refused, "", "", 0, false, false},
		{"example.net.", A, Refused, "", "", 0, false, false},
		{"xexample.com.", A, Refused, "", "", 0, false, false},
	})

	// Glue below a cut is found by Zone.Node.
	z := s.Zone(wireName(t, "ns.sub.example.com."))
	if z == nil || nameText(z.Origin) != "example.com." {
		t.Fatalf("Set.Zone(ns.sub.example.com.) = %v", z)
	}
	glue := z.Node(wireName(t, "ns.sub.example.com."))
	if glue == nil || glue.RRset(dns.TypeA) == nil {
		t.Errorf("glue ns.sub.example.com. A not found by Zone.Node")
	}
}

// TestRFC4592 checks the examples of RFC 4592 section 2.2.1.
func TestRFC4592(t *testing.T) {
	s := mustSet(t, mustLoad(t, "testdata/rfc4592.zone"))
	const ex = "example."
	runLookups(t, s, []lookupCase{
		// "The following responses would be synthesized from one of the
		// wildcards in the zone."
		{"host3.example.", dns.TypeMX, Success, ex, "*.example.", dns.TypeMX, true, false},
		{"host3.example.", dns.TypeA, NoData, ex, "*.example.", 0, true, false},
		{"foo.bar.example.", dns.TypeTXT, Success, ex, "*.example.", dns.TypeTXT, true, false},
		// "The following responses would not be synthesized."
		{"host1.example.", dns.TypeMX, NoData, ex, "host1.example.", 0, false, false},
		{"sub.*.example.", dns.TypeMX, NoData, ex, "sub.*.example.", 0, false, false},
		{"_telnet._tcp.host1.example.", dns.TypeSRV, NXDomain, ex, "", 0, false, false},
		{"host.subdel.example.", dns.TypeA, Delegation, ex, "subdel.example.", 0, false, false},
		{"ghost.*.example.", dns.TypeMX, NXDomain, ex, "", 0, false, false},
		// And around them.
		{"_tcp.host1.example.", dns.TypeSRV, NoData, ex, "_tcp.host1.example.", 0, false, false},
		{"_ssh._tcp.host2.example.", dns.TypeSRV, Success, ex, "_ssh._tcp.host2.example.", dns.TypeSRV, false, false},
		{"host2.example.", dns.TypeA, NoData, ex, "host2.example.", 0, false, false}, // an empty non-terminal blocks the wildcard
		{"*.example.", dns.TypeTXT, Success, ex, "*.example.", dns.TypeTXT, false, false},
	})
}

// TestWildcardENT: a wildcard that exists only as an empty non-terminal
// matches and gives NoData.
func TestWildcardENT(t *testing.T) {
	z, err := Parse(strings.NewReader("$ORIGIN example.\n$TTL 60\n@ SOA ns hm 1 2 3 4 5\n@ NS ns\nsub.*.example. TXT x\nns A 192.0.2.1\n"), "w.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	s := mustSet(t, z)
	runLookups(t, s, []lookupCase{
		{"q.example.", dns.TypeA, NoData, "example.", "*.example.", 0, true, false},
		{"q.example.", dns.TypeANY, NoData, "example.", "*.example.", 0, true, false},
		{"ns.example.", dns.TypeA, Success, "example.", "ns.example.", dns.TypeA, false, false},
	})
}

func TestParentChild(t *testing.T) {
	parent, child := mustLoad(t, "testdata/parent.zone"), mustLoad(t, "testdata/child.zone")
	for _, order := range [][]*Zone{{parent, child}, {child, parent}} {
		s := mustSet(t, order...)
		const p, c = "example.net.", "child.example.net."
		runLookups(t, s, []lookupCase{
			{"www.example.net.", dns.TypeA, Success, p, "www.example.net.", dns.TypeA, false, false},
			// The child zone answers for its names...
			{"child.example.net.", dns.TypeSOA, Success, c, "child.example.net.", dns.TypeSOA, false, false},
			{"child.example.net.", dns.TypeNS, Success, c, "child.example.net.", dns.TypeNS, false, false},
			{"child.example.net.", dns.TypeA, NoData, c, "child.example.net.", 0, false, false},
			{"www.child.example.net.", dns.TypeA, Success, c, "www.child.example.net.", dns.TypeA, false, false},
			{"ns1.child.example.net.", dns.TypeA, Success, c, "ns1.child.example.net.", dns.TypeA, false, false},
			{"nx.child.example.net.", dns.TypeA, NXDomain, c, "", 0, false, false},
			{"www.child.example.net.", dns.TypeDS, NoData, c, "www.child.example.net.", 0, false, false},
			// ...except DS at its apex, which the parent answers.
			{"child.example.net.", dns.TypeDS, Success, p, "child.example.net.", dns.TypeDS, false, false},
			// A delegation whose child is not in the set.
			{"other.example.net.", dns.TypeDS, Success, p, "other.example.net.", dns.TypeDS, false, false},
			{"x.other.example.net.", dns.TypeA, Delegation, p, "other.example.net.", 0, false, false},
		})
	}
	// Without the parent, the child answers DS at its apex itself.
	runLookups(t, mustSet(t, child), []lookupCase{
		{"child.example.net.", dns.TypeDS, NoData, "child.example.net.", "child.example.net.", 0, false, false},
		{"example.net.", dns.TypeDS, Refused, "", "", 0, false, false},
	})
	s := mustSet(t, parent, child)
	for _, tt := range []struct{ name, zone string }{
		{"a.b.child.example.net.", "child.example.net."},
		{"child.example.net.", "child.example.net."},
		{"hild.example.net.", "example.net."},
		{"example.net.", "example.net."},
		{"net.", ""},
	} {
		z := s.Zone(wireName(t, tt.name))
		got := ""
		if z != nil {
			got = nameText(z.Origin)
		}
		if got != tt.zone {
			t.Errorf("Set.Zone(%s) = %q, want %q", tt.name, got, tt.zone)
		}
	}
}

func TestLookupZeroValues(t *testing.T) {
	name := wireName(t, "www.example.com.")
	var empty Set
	if m := empty.Lookup(name, dns.TypeA); m != (Match{}) || m.Result != Refused {
		t.Errorf("zero Set: Lookup = %+v, want the zero Match (Refused)", m)
	}
	var nilSet *Set
	if m := nilSet.Lookup(name, dns.TypeA); m.Result != Refused {
		t.Errorf("nil Set: Lookup = %v, want Refused", m.Result)
	}
	if z := nilSet.Zone(name); z != nil {
		t.Errorf("nil Set: Zone = %v, want nil", z)
	}
	if len(empty.Zones()) != 0 {
		t.Errorf("zero Set has zones")
	}
	var z Zone
	if n := z.Node(name); n != nil {
		t.Errorf("zero Zone: Node = %v, want nil", n)
	}
	var m Match
	if m.Result != Refused || m.Result.String() != "Refused" {
		t.Errorf("zero Match result = %v", m.Result)
	}
	var n Node
	if n.RRset(dns.TypeA) != nil {
		t.Errorf("zero Node has an RRset")
	}
}

func TestLookupMalformed(t *testing.T) {
	s := mustSet(t, mustLoad(t, "testdata/example.zone"))
	for _, name := range [][]byte{
		nil,
		{},
		{3, 'w', 'w'},      // truncated label
		{3, 'w', 'w', 'w'}, // no root label
		{0, 0},             // bytes after the root
		{64},               // label too long
		append([]byte{7}, "example\x03com\x00\x00"...),
		make([]byte, 256),
		append(bytes.Repeat([]byte("\x03abc"), 100), "\x07example\x03com\x00"...), // too long, ends in a zone
	} {
		if m := s.Lookup(name, dns.TypeA); m.Result != Refused {
			t.Errorf("Lookup(%q) = %v, want Refused", name, m.Result)
		}
		if z := s.Zone(name); z != nil {
			t.Errorf("Zone(%q) = %v, want nil", name, z)
		}
	}
}

func TestResultString(t *testing.T) {
	for r, want := range map[Result]string{Refused: "Refused", Success: "Success", NoData: "NoData", NXDomain: "NXDomain", Delegation: "Delegation", 99: "Result(?)"} {
		if got := r.String(); got != want {
			t.Errorf("Result(%d).String() = %q, want %q", r, got, want)
		}
	}
}

func TestLookupAllocs(t *testing.T) {
	parent, child := mustLoad(t, "testdata/parent.zone"), mustLoad(t, "testdata/child.zone")
	s := mustSet(t, mustLoad(t, "testdata/example.zone"), parent, child)
	queries := []struct {
		name string
		typ  uint16
	}{
		{"www.example.com.", dns.TypeA},          // Success
		{"alias.example.com.", dns.TypeA},        // CNAME
		{"nx.example.com.", dns.TypeA},           // NXDomain
		{"a.b.x.wild.example.com.", dns.TypeA},   // wildcard
		{"a.ns.sub.example.com.", dns.TypeA},     // Delegation
		{"sub.example.com.", dns.TypeDS},         // DS at a cut
		{"child.example.net.", dns.TypeDS},       // DS from the parent zone
		{"www.child.example.net.", dns.TypeAAAA}, // NoData in a child zone
		{"org.", dns.TypeA},                      // Refused
	}
	for _, q := range queries {
		name := wireName(t, q.name)
		if allocs := testing.AllocsPerRun(100, func() {
			s.Lookup(name, q.typ)
			s.Zone(name)
		}); allocs != 0 {
			t.Errorf("Lookup(%s, %d): %v allocations, want 0", q.name, q.typ, allocs)
		}
	}
}

func BenchmarkLookup(b *testing.B) {
	text, _ := genZone(100000)
	z, err := Parse(bytes.NewReader(text), "bench.zone", "")
	if err != nil {
		b.Fatal(err)
	}
	s := mustSet(b, z)
	var names [][]byte
	for _, n := range []string{"h99.bench.test.", "c5.bench.test.", "x.w20.bench.test.", "nx.bench.test.", "ns1.d13.bench.test."} {
		names = append(names, wireName(b, n))
	}
	for _, n := range names {
		b.Run(nameText(string(n)), func(b *testing.B) {
			for b.Loop() {
				s.Lookup(n, dns.TypeA)
			}
		})
	}
}
