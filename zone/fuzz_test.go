package zone

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// FuzzParse feeds arbitrary zone text to the scanner ($INCLUDE
// disabled). It must never panic; a zone it accepts must be consistent
// (every node found by its name, lookups agreeing with the RRsets), and
// when miekg/dns accepts the same text, both must read the same records
// (see compareMiekg for the known differences).
func FuzzParse(f *testing.F) {
	for _, file := range []string{"testdata/example.zone", "testdata/rfc4592.zone", "testdata/noorigin.zone", "testdata/parent.zone", "testdata/child.zone",
		"testdata/signed/wildapex.zone", "testdata/signed/expired.zone"} {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(string(b), "")
	}
	if files, err := filepath.Glob("testdata/corpus/*.zone"); err == nil {
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			origin := ""
			if first, _, _ := strings.Cut(string(b), "\n"); strings.HasPrefix(first, "; origin: ") {
				origin = strings.TrimSpace(strings.TrimPrefix(first, "; origin: "))
			}
			f.Add(string(b), origin)
		}
	}
	f.Add("$ORIGIN example.\n@ 60 SOA ns hm 1 2 3 4 5\n@ NS ns\n*.a CNAME b\nb.c.d TXT x\n", "")
	f.Add("@ 60 SOA ns hm 1 2 3 4 5\n@ NS ns\nx TYPE99 \\# 2 0102\n", "example.")
	f.Add("@ 60 SOA ns hm 1 2 3 4 5\n@ NS ns\nx ( 10 TXT \"a\" ; c\n \"b\\\"\" )\ny MX 1 x\n", "example.")
	f.Add("@ 60 SOA ns hm 1 2 3 4 5\n@ NS ns\n$TTL 1h\nx NSEC3 1 0 0 - 2vptu5timamqttgl4luu9kg21e0aor3s A RRSIG\nx SVCB 1 . alpn=h2 port=53\n", "example.")
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
		compareMiekg(t, z, text, origin)
	})
}

// compareMiekg checks that miekg/dns, when it accepts text, reads the
// records of z: the same RRsets with the same rdata and the TTL of their
// first record. Known differences, where miekg is wrong, are skipped:
// $GENERATE (miekg ignores $TTL and drops escaped characters), NXT (miekg
// writes an NSEC bit map), ISDN without a subaddress (miekg adds an empty
// one), AMTRELAY with a name relay (miekg drops the name) and NSEC3 with
// a next hashed owner other than 20 octets (miekg writes length 20), and
// words glued to a parenthesis or a quote ("a)b", "a\"b\"": NSD and
// tapdns read two words, miekg one).
func compareMiekg(t *testing.T, z *Zone, text, origin string) {
	t.Helper()
	if strings.Contains(strings.ToUpper(text), "$GENERATE") || gluedDelimiters(text) {
		return
	}
	if origin != "" {
		origin = dns.Fqdn(origin)
	}
	zp := dns.NewZoneParser(strings.NewReader(text), origin, "")
	zp.SetIncludeAllowed(false)
	zp.SetDefaultTTL(defaultTTL)
	type key struct {
		owner string
		typ   uint16
	}
	want := map[key]map[string]bool{}
	ttl := map[key]uint32{}
	buf := make([]byte, 70000)
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		h := rr.Header()
		switch x := rr.(type) {
		case *dns.NXT:
			return
		case *dns.ISDN:
			return
		case *dns.AMTRELAY:
			if x.GatewayType == 3 {
				return
			}
		case *dns.NSEC3:
			if len(x.NextDomain) != 32 {
				return // miekg writes hash length 20 whatever the hash
			}
		}
		name, ok := canonicalName(h.Name)
		if !ok {
			return
		}
		end, err := dns.PackRR(rr, buf, 0, nil, false)
		if err != nil {
			return // miekg cannot pack what it parsed
		}
		rd := string(buf[end-int(h.Rdlength) : end])
		k := key{string(name), h.Rrtype}
		if want[k] == nil {
			want[k] = map[string]bool{}
			ttl[k] = h.Ttl
		}
		want[k][rd] = true
	}
	if zp.Err() != nil {
		return
	}
	got := map[key]map[string]bool{}
	z.Walk(func(owner []byte, typ uint16, t uint32, rd []byte) bool {
		k := key{string(owner), typ}
		if got[k] == nil {
			got[k] = map[string]bool{}
		}
		got[k][string(rd)] = true
		return true
	})
	for k, w := range want {
		g := got[k]
		if len(g) != len(w) {
			t.Fatalf("%s %s: %d records, miekg %d", nameText(k.owner), TypeText(k.typ), len(g), len(w))
		}
		for rd := range w {
			if !g[rd] {
				t.Fatalf("%s %s: miekg's rdata %x missing (have %d others)", nameText(k.owner), TypeText(k.typ), rd, len(g))
			}
		}
		// By index: Node leaves out the owners of an NSEC3 chain.
		if rs := z.nodes[z.find([]byte(k.owner))].RRset(k.typ); rs.TTL != ttl[k] {
			t.Fatalf("%s %s: TTL %d, miekg %d", nameText(k.owner), TypeText(k.typ), rs.TTL, ttl[k])
		}
	}
	if len(got) != len(want) {
		t.Fatalf("%d RRsets, miekg %d", len(got), len(want))
	}
}

// gluedDelimiters reports whether a parenthesis or a quote touches a
// word in text (outside quotes), or a carriage return is not part of a
// CRLF line end.
func gluedDelimiters(text string) bool {
	word := func(i int) bool {
		if i < 0 || i >= len(text) {
			return false
		}
		c := text[i]
		return c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ';' && c != '(' && c != ')'
	}
	quoted := false
	for i := 0; i < len(text); i++ {
		c := text[i]
		switch {
		case c == '\r' && (i+1 == len(text) || text[i+1] != '\n'):
			return true
		case quoted && c == '\\':
			i++
		case c == '"' && !quoted:
			if word(i - 1) {
				return true
			}
			quoted = true
		case c == '"':
			if word(i + 1) {
				return true
			}
			quoted = false
		case quoted:
		case c == ';':
			for i < len(text) && text[i] != '\n' {
				i++
			}
		case c == '(' || c == ')':
			if word(i-1) || word(i+1) {
				return true
			}
		case c == '\\':
			i++
		}
	}
	return false
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
			// Records of another chain (a rollover) are no names either,
			// but only the served chain is searched.
			if m, _ := z.NSEC3Find(name); z.NSEC3() && m == nil {
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

// FuzzBuilder adds arbitrary wire records to a Builder. It must never
// panic; a zone it accepts must be consistent, and Walk must give back
// every record once.
func FuzzBuilder(f *testing.F) {
	f.Add([]byte("\x07example\x00"), []byte("\x07example\x00\x00\x06\x00\x00\x00\x1c\x02ns\x00\x02hm\x00\x00\x00\x00\x01\x00\x00\x00\x02\x00\x00\x00\x03\x00\x00\x00\x04\x00\x00\x00\x05"+
		"\x07example\x00\x00\x02\x00\x00\x00\x04\x02ns\x00"+"\x01a\x07example\x00\x00\x01\x00\x00\x00\x04\x01\x02\x03\x04"))
	f.Add([]byte("\x00"), []byte("\x00\x00\x06\x00\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, origin, recs []byte) {
		zb := NewBuilder(origin, "fuzz")
		// Each record: owner (wire name), type (2), ttl (2), rdlength (2), rdata.
		for len(recs) > 0 {
			n := 0
			for n < len(recs) && recs[n] != 0 && n < 300 {
				n += 1 + int(recs[n])
			}
			n++
			if n+6 > len(recs) {
				break
			}
			owner := recs[:n]
			typ := uint16(recs[n])<<8 | uint16(recs[n+1])
			ttl := uint32(recs[n+2])<<8 | uint32(recs[n+3])
			l := int(recs[n+4])<<8 | int(recs[n+5])
			recs = recs[n+6:]
			if l > len(recs) {
				l = len(recs)
			}
			if err := zb.Add(owner, typ, 1, ttl, recs[:l]); err != nil {
				if !strings.HasPrefix(err.Error(), "zone fuzz: ") {
					t.Errorf("error without the zone prefix: %v", err)
				}
				return
			}
			recs = recs[l:]
		}
		z, err := zb.Finish()
		if err != nil {
			return
		}
		checkZone(t, z)
		count := 0
		z.Walk(func(owner []byte, typ uint16, ttl uint32, rd []byte) bool {
			count++
			n := z.Node(owner)
			if n == nil || n.RRset(typ) == nil {
				t.Fatalf("walked a record that is not in the zone")
			}
			return true
		})
		if count != z.Records() {
			t.Fatalf("Walk gave %d records, zone has %d", count, z.Records())
		}
	})
}
