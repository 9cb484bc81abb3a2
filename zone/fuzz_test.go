package zone

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// FuzzParse feeds arbitrary zone text to the parser ($INCLUDE disabled).
// It must never panic; a zone it accepts must be consistent: every node is
// found by its name, and a lookup of each of its RRsets agrees with it.
func FuzzParse(f *testing.F) {
	for _, file := range []string{"testdata/example.zone", "testdata/rfc4592.zone", "testdata/noorigin.zone", "testdata/parent.zone", "testdata/child.zone",
		"testdata/signed/wildapex.zone", "testdata/signed/expired.zone"} {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b), "")
	}
	f.Add("$ORIGIN example.\n@ 60 SOA ns hm 1 2 3 4 5\n@ NS ns\n*.a CNAME b\nb.c.d TXT x\n", "")
	f.Add("@ 60 SOA ns hm 1 2 3 4 5\n@ NS ns\nx TYPE99 \\# 2 0102\n", "example.")
	f.Add("", "")
	f.Fuzz(func(t *testing.T, text, origin string) {
		z, err := parse(strings.NewReader(text), "fuzz.zone", origin, false)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "zone fuzz.zone: ") {
				t.Errorf("error without the file prefix: %v", err)
			}
			return
		}
		checkZone(t, z)
	})
}

// checkZone checks the invariants of a compiled zone.
func checkZone(t *testing.T, z *Zone) {
	t.Helper()
	s, err := NewSet(z)
	if err != nil {
		t.Fatalf("NewSet: %v", err)
	}
	if z.Apex == nil || z.Apex.Name != z.Origin || z.Apex.RRset(dns.TypeSOA) == nil || z.Apex.RRset(dns.TypeNS) == nil {
		t.Fatalf("bad apex")
	}
	records := 0
	for i := range z.nodes {
		n := &z.nodes[i]
		name := []byte(n.Name)
		if !validName(name) || !isSubdomain(name, []byte(z.Origin)) {
			t.Fatalf("node %q is not a valid name in the zone", n.Name)
		}
		if z.flags[i]&flagNSEC3 != 0 {
			// An NSEC3 chain entry: not a name of the zone (dnssec.go).
			if z.Node(name) != nil || s.Lookup(name, dns.TypeANY).Node == n {
				t.Fatalf("NSEC3 owner %s found as a name of the zone", nameText(n.Name))
			}
			if m, _ := z.NSEC3Find(name); m == nil {
				t.Fatalf("NSEC3Find(%s) = nil in a zone with an NSEC3 chain", nameText(n.Name))
			}
			for j := range n.RRsets {
				records += int(n.RRsets[j].Count)
			}
			continue
		}
		if got := z.Node(name); got != n {
			t.Fatalf("Node(%s) = %p, want %p", nameText(n.Name), got, n)
		}
		if z.Signed() && len(z.sec.nsec) > 0 && z.NSECCover(name) == nil {
			t.Fatalf("NSECCover(%s) = nil in a zone with an NSEC chain", nameText(n.Name))
		}
		if n.Name != z.Origin {
			up := name[1+int(name[0]):]
			if z.Node(up) == nil {
				t.Fatalf("%s has no parent node", nameText(n.Name))
			}
		}
		for j := range n.RRsets {
			rs := &n.RRsets[j]
			if j > 0 && n.RRsets[j-1].Type >= rs.Type {
				t.Fatalf("%s: RRsets not sorted", nameText(n.Name))
			}
			count := 0
			rest := len(rs.Rdata)
			rs.Records(func(rd []byte) bool { count++; rest -= 2 + len(rd); return true })
			if count != int(rs.Count) || rest != 0 || count == 0 {
				t.Fatalf("%s type %d: Count %d, %d records, %d bytes left over", nameText(n.Name), rs.Type, rs.Count, count, rest)
			}
			records += count
			m := s.Lookup(name, rs.Type)
			want := slowLookup(s, name, rs.Type)
			if m != want {
				t.Fatalf("Lookup(%s, %d) = %+v, reference %+v", nameText(n.Name), rs.Type, m, want)
			}
			if z.flags[i]&flagCut == 0 && (m.Result != Success || m.Answer != rs || m.Node != n || m.CNAME) {
				t.Fatalf("Lookup(%s, %d) = %+v, want Success with its RRset", nameText(n.Name), rs.Type, m)
			}
		}
		if m := s.Lookup(name, dns.TypeANY); m.Result == Refused || m.Result == NXDomain {
			t.Fatalf("Lookup(%s, ANY) = %v for an existing node", nameText(n.Name), m.Result)
		}
	}
	if records != z.Records() {
		t.Fatalf("Records() = %d, counted %d", z.Records(), records)
	}
}

// FuzzLookup looks up arbitrary names (raw bytes, and names made of
// arbitrary labels under the test zones' origins) and compares with a
// slow reference. It must never panic or allocate.
func FuzzLookup(f *testing.F) {
	var zones []*Zone
	for _, file := range []string{"testdata/example.zone", "testdata/rfc4592.zone", "testdata/parent.zone", "testdata/child.zone"} {
		z, err := LoadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		zones = append(zones, z)
	}
	s, err := NewSet(zones...)
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte("www"), uint8(0), uint16(dns.TypeA))
	f.Add([]byte("x.wild"), uint8(0), uint16(dns.TypeMX))
	f.Add([]byte("a.ns.sub"), uint8(0), uint16(dns.TypeDS))
	f.Add([]byte("sub"), uint8(0), uint16(dns.TypeDS))
	f.Add([]byte("ghost.*"), uint8(1), uint16(dns.TypeMX))
	f.Add([]byte("child"), uint8(2), uint16(dns.TypeDS))
	f.Add([]byte(""), uint8(3), uint16(dns.TypeANY))
	f.Add([]byte("\x03www\x07example\x03com\x00"), uint8(255), uint16(1))
	f.Add(append(bytes.Repeat([]byte("\x03abc"), 100), "\x07example\x03com\x00"...), uint8(255), uint16(1))
	origins := []string{"example.com.", "example.", "example.net.", "child.example.net."}
	f.Fuzz(func(t *testing.T, labels []byte, which uint8, qtype uint16) {
		var name []byte
		if int(which) < len(origins) {
			// A canonical name: labels split on '.', under an origin.
			for _, l := range bytes.Split(labels, []byte(".")) {
				if len(l) == 0 || len(l) > 63 {
					continue
				}
				name = append(name, byte(len(l)))
				name = append(name, bytes.ToLower(l)...)
			}
			name = append(name, wireName(t, origins[which])...)
			if len(name) > 255 {
				return
			}
		} else {
			name = labels // raw bytes, often malformed
		}
		m := s.Lookup(name, qtype)
		if z := s.Zone(name); (z == nil) != (m.Result == Refused) {
			t.Fatalf("Zone(%q) = %v, but Lookup gives %v", name, z, m.Result)
		}
		if want := slowLookup(s, name, qtype); m != want {
			t.Fatalf("Lookup(%q, %d) = %+v, reference %+v", name, qtype, m, want)
		}
		if allocs := testing.AllocsPerRun(1, func() { s.Lookup(name, qtype) }); allocs != 0 {
			t.Fatalf("Lookup(%q, %d) allocated %v times", name, qtype, allocs)
		}
	})
}

// slowLookup is a straightforward reference for Set.Lookup: it finds the
// zone by comparing with every origin, then walks down from the apex one
// label at a time, using nothing but Zone.Node.
func slowLookup(s *Set, name []byte, qtype uint16) Match {
	if !validName(name) {
		return Match{}
	}
	var z, parent *Zone
	for _, c := range s.Zones() {
		if isSubdomain(name, []byte(c.Origin)) && (z == nil || len(c.Origin) > len(z.Origin)) {
			z = c
		}
	}
	if z == nil {
		return Match{}
	}
	if qtype == dns.TypeDS && string(name) == z.Origin {
		for _, c := range s.Zones() {
			if c != z && isSubdomain(name, []byte(c.Origin)) && (parent == nil || len(c.Origin) > len(parent.Origin)) {
				parent = c
			}
		}
		if parent != nil {
			z = parent
		}
	}
	// The ancestors of name below the apex, top-down.
	var chain [][]byte
	for p := name; len(p) > len(z.Origin); p = p[1+int(p[0]):] {
		chain = append([][]byte{p}, chain...)
	}
	ce := z.Apex
	for _, a := range chain {
		n := z.Node(a)
		if n == nil {
			break
		}
		if n.Cut {
			if string(a) == string(name) && qtype == dns.TypeDS {
				if ds := n.RRset(dns.TypeDS); ds != nil {
					return Match{Result: Success, Zone: z, Node: n, Answer: ds}
				}
				return Match{Result: NoData, Zone: z, Node: n}
			}
			return Match{Result: Delegation, Zone: z, Node: n}
		}
		ce = n
	}
	if ce.Name == string(name) {
		return refAnswer(z, ce, qtype, false)
	}
	w := z.Node(append([]byte{1, '*'}, ce.Name...))
	if w == nil {
		return Match{Result: NXDomain, Zone: z}
	}
	if w.Cut {
		return Match{Result: Delegation, Zone: z, Node: w, Wildcard: true}
	}
	return refAnswer(z, w, qtype, true)
}

func refAnswer(z *Zone, n *Node, qtype uint16, wild bool) Match {
	m := Match{Result: NoData, Zone: z, Node: n, Wildcard: wild}
	if qtype == dns.TypeANY {
		if len(n.RRsets) > 0 {
			m.Result = Success
		}
		return m
	}
	for i := range n.RRsets {
		if n.RRsets[i].Type == qtype {
			m.Result, m.Answer = Success, &n.RRsets[i]
			return m
		}
	}
	if qtype != dns.TypeCNAME {
		if c := n.RRset(dns.TypeCNAME); c != nil {
			m.Result, m.Answer, m.CNAME = Success, c, true
		}
	}
	return m
}
