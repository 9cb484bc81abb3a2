package zone

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// walked is one record as Walk reports it.
type walked struct {
	owner string
	typ   uint16
	ttl   uint32
	rdata string
}

func walkAll(z *Zone) []walked {
	var out []walked
	z.Walk(func(owner []byte, typ uint16, ttl uint32, rdata []byte) bool {
		out = append(out, walked{string(owner), typ, ttl, string(rdata)})
		return true
	})
	return out
}

// buildFrom builds a zone with a Builder from the records miekg/dns reads
// in a zone file.
func buildFrom(t *testing.T, file, origin string) (*Zone, error) {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zp := dns.NewZoneParser(f, origin, file)
	zp.SetIncludeAllowed(true)
	zp.SetDefaultTTL(defaultTTL)
	var zb *Builder
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		if zb == nil {
			o := origin
			if o == "" {
				o = rr.Header().Name
			}
			zb = NewBuilder(wireName(t, o), file)
		}
		h := rr.Header()
		if err := zb.Add(packName(t, h.Name), h.Rrtype, h.Class, h.Ttl, packRR(t, rr)); err != nil {
			return nil, err
		}
	}
	if err := zp.Err(); err != nil {
		t.Fatal(err)
	}
	return zb.Finish()
}

// packName is the wire form of a presentation name, case kept.
func packName(t testing.TB, s string) []byte {
	t.Helper()
	var buf [256]byte
	n, err := dns.PackDomainName(dns.Fqdn(s), buf[:], 0, nil, false)
	if err != nil {
		t.Fatalf("PackDomainName(%q): %v", s, err)
	}
	return slices.Clone(buf[:n])
}

// sameZone checks that two zones hold the same nodes and RRsets.
func sameZone(t *testing.T, got, want *Zone) {
	t.Helper()
	if got.Origin != want.Origin || got.Serial != want.Serial || got.NegTTL != want.NegTTL || got.Records() != want.Records() || got.Len() != want.Len() {
		t.Fatalf("zone (%s, serial %d, negTTL %d, %d records, %d nodes), want (%s, %d, %d, %d, %d)",
			nameText(got.Origin), got.Serial, got.NegTTL, got.Records(), got.Len(),
			nameText(want.Origin), want.Serial, want.NegTTL, want.Records(), want.Len())
	}
	for i := range want.nodes {
		w := &want.nodes[i]
		g := got.Node([]byte(w.Name))
		if g == nil {
			t.Errorf("%s: missing", nameText(w.Name))
			continue
		}
		if g.Cut != w.Cut || len(g.RRsets) != len(w.RRsets) {
			t.Errorf("%s: cut %v, %d RRsets; want %v, %d", nameText(w.Name), g.Cut, len(g.RRsets), w.Cut, len(w.RRsets))
			continue
		}
		for j := range w.RRsets {
			if g.RRsets[j].Type != w.RRsets[j].Type || g.RRsets[j].TTL != w.RRsets[j].TTL ||
				g.RRsets[j].Count != w.RRsets[j].Count || !bytes.Equal(g.RRsets[j].Rdata, w.RRsets[j].Rdata) {
				t.Errorf("%s %s: got %+v, want %+v", nameText(w.Name), TypeText(w.RRsets[j].Type), g.RRsets[j], w.RRsets[j])
			}
		}
	}
}

func TestBuilderMatchesFile(t *testing.T) {
	for _, tt := range []struct{ file, origin string }{
		{"testdata/example.zone", ""},
		{"testdata/rfc4592.zone", ""},
		{"testdata/noorigin.zone", "example.org."},
		{"testdata/parent.zone", ""},
		{"testdata/child.zone", ""},
		{"testdata/include/main.zone", ""},
	} {
		t.Run(tt.file, func(t *testing.T) {
			want := mustLoad(t, tt.file)
			got, err := buildFrom(t, tt.file, tt.origin)
			if err != nil {
				t.Fatalf("Builder: %v", err)
			}
			sameZone(t, got, want)
			if got.File != tt.file {
				t.Errorf("File = %q, want %q", got.File, tt.file)
			}
			checkZone(t, got)
		})
	}
}

// canonicalKey is an independent rendering of RFC 4034 section 6.1
// order as a string: the labels from the root down, each octet
// lower-cased (ASCII only) and written as 1 and the octet, each label
// ended by a 0, which sorts a label before any longer one it begins.
func canonicalKey(wire string) string {
	var labels []string
	for i := 0; wire[i] != 0; i += 1 + int(wire[i]) {
		labels = append(labels, wire[i+1:i+1+int(wire[i])])
	}
	slices.Reverse(labels)
	var b strings.Builder
	for _, l := range labels {
		for k := 0; k < len(l); k++ {
			c := l[k]
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			b.WriteByte(1)
			b.WriteByte(c)
		}
		b.WriteByte(0)
	}
	return b.String()
}

func TestCanonicalNameOrder(t *testing.T) {
	// RFC 4034 section 6.1's example, in order.
	want := []string{"example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.", "zABC.a.EXAMPLE.",
		"z.example.", "\\001.z.example.", "*.z.example.", "\\200.z.example."}
	var wires []string
	for _, s := range want {
		wires = append(wires, string(wireName(t, s)))
	}
	shuffled := slices.Clone(wires)
	slices.Reverse(shuffled)
	shuffled[0], shuffled[4] = shuffled[4], shuffled[0]
	slices.SortFunc(shuffled, compareNames)
	if !slices.Equal(shuffled, wires) {
		var got []string
		for _, w := range shuffled {
			got = append(got, nameText(w))
		}
		t.Errorf("order %q, want %q", got, want)
	}
	// The reference key agrees on the example too.
	for i := 1; i < len(wires); i++ {
		if canonicalKey(wires[i-1]) >= canonicalKey(wires[i]) {
			t.Errorf("canonicalKey does not order %s before %s", nameText(wires[i-1]), nameText(wires[i]))
		}
	}
	// Both on a label that begins another at the same level: a zero
	// octet must not sort like the end of a label.
	for _, pair := range [][2]string{{"b.a.example.", `a\000.example.`}, {`a\000.example.`, `a\000\000.example.`}, {"z.a.example.", `A\001.example.`}} {
		x, y := string(wireName(t, pair[0])), string(wireName(t, pair[1]))
		if compareNames(x, y) >= 0 || compareNames(y, x) <= 0 {
			t.Errorf("compareNames does not order %s before %s", pair[0], pair[1])
		}
		if canonicalKey(x) >= canonicalKey(y) {
			t.Errorf("canonicalKey does not order %s before %s", pair[0], pair[1])
		}
	}
}

func TestWalk(t *testing.T) {
	for _, file := range []string{"testdata/example.zone", "testdata/rfc4592.zone", "testdata/include/main.zone"} {
		t.Run(file, func(t *testing.T) {
			z := mustLoad(t, file)
			recs := walkAll(z)
			if len(recs) != z.Records() {
				t.Fatalf("Walk gave %d records, zone has %d", len(recs), z.Records())
			}
			if recs[0].typ != dns.TypeSOA || recs[0].owner != z.Origin {
				t.Fatalf("first record %s %s, want the SOA", nameText(recs[0].owner), TypeText(recs[0].typ))
			}
			seen := map[walked]bool{}
			for i, r := range recs {
				if seen[r] {
					t.Errorf("record %d (%s %s) walked twice", i, nameText(r.owner), TypeText(r.typ))
				}
				seen[r] = true
				if i > 0 && r.typ == dns.TypeSOA {
					t.Errorf("SOA repeated at %d", i)
				}
				if i < 2 {
					continue
				}
				p := recs[i-1]
				kp, kr := canonicalKey(p.owner), canonicalKey(r.owner)
				switch {
				case kp > kr:
					t.Errorf("%s before %s: names out of canonical order", nameText(p.owner), nameText(r.owner))
				case kp == kr && p.typ > r.typ:
					t.Errorf("%s: type %d before %d", nameText(r.owner), p.typ, r.typ)
				case kp == kr && p.typ == r.typ:
					if p.ttl != r.ttl {
						t.Errorf("%s %s: TTLs differ within an RRset", nameText(r.owner), TypeText(r.typ))
					}
					if c := bytes.Compare(canonicalRdata(nil, r.typ, []byte(p.rdata)), canonicalRdata(nil, r.typ, []byte(r.rdata))); c >= 0 {
						t.Errorf("%s %s: rdata out of canonical order", nameText(r.owner), TypeText(r.typ))
					}
				}
				n := z.Node([]byte(r.owner))
				if n == nil || n.RRset(r.typ) == nil || !slices.Contains(rdatas(n.RRset(r.typ)), r.rdata) || n.RRset(r.typ).TTL != r.ttl {
					t.Errorf("walked record %s %s not in the zone", nameText(r.owner), TypeText(r.typ))
				}
			}
			// Walking a zone built from the walk gives the same walk.
			zb := NewBuilder([]byte(z.Origin), "rebuilt")
			for _, r := range recs {
				if err := zb.Add([]byte(r.owner), r.typ, 1, r.ttl, []byte(r.rdata)); err != nil {
					t.Fatal(err)
				}
			}
			z2, err := zb.Finish()
			if err != nil {
				t.Fatal(err)
			}
			if again := walkAll(z2); !slices.Equal(again, recs) {
				t.Errorf("walk of the rebuilt zone differs")
			}
			// Stopping early.
			n := 0
			z.Walk(func([]byte, uint16, uint32, []byte) bool { n++; return n < 3 })
			if n != 3 {
				t.Errorf("Walk went on after false: %d calls", n)
			}
		})
	}
}

// TestWalkRdataOrder: records of an RRset come in canonical order, with
// names in rdata compared lower-cased for the types RFC 4034 6.2 lists
// and as they are for others (NSEC, RFC 6840 5.1).
func TestWalkRdataOrder(t *testing.T) {
	text := `$ORIGIN o.example.
@ 60 SOA ns hm 1 2 3 4 5
@ NS ns-b.o.example.
@ NS NS-A.o.example.
@ NS ns-c.o.example.
x TXT "b"
x TXT "a" "z"
x TXT "a"
x NSEC b.o.example. A
x NSEC B.o.example. A
`
	z, err := Parse(strings.NewReader(text), "order.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	z.Walk(func(owner []byte, typ uint16, ttl uint32, rdata []byte) bool {
		rr, _, err := dns.UnpackRRWithHeader(dns.RR_Header{Name: nameText(string(owner)), Rrtype: typ, Class: 1, Ttl: ttl, Rdlength: uint16(len(rdata))}, rdata, 0)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.ReplaceAll(rr.String(), "\t", " "))
		return true
	})
	want := []string{
		"o.example. 60 IN SOA ns.o.example. hm.o.example. 1 2 3 4 5",
		"o.example. 60 IN NS NS-A.o.example.",
		"o.example. 60 IN NS ns-b.o.example.",
		"o.example. 60 IN NS ns-c.o.example.",
		`x.o.example. 60 IN TXT "a"`,
		`x.o.example. 60 IN TXT "a" "z"`,
		`x.o.example. 60 IN TXT "b"`,
		"x.o.example. 60 IN NSEC B.o.example. A",
		"x.o.example. 60 IN NSEC b.o.example. A",
	}
	if !slices.Equal(got, want) {
		t.Errorf("walk:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestBuilderErrors(t *testing.T) {
	origin := "\x07example\x00"
	soa := packRdata(t, "example. SOA ns.example. hm.example. 1 2 3 4 5")
	ns := packRdata(t, "example. NS ns.example.")
	type rr struct {
		owner string
		typ   uint16
		class uint16
		rdata []byte
	}
	head := []rr{{origin, dns.TypeSOA, 1, soa}, {origin, dns.TypeNS, 1, ns}}
	tests := []struct {
		name   string
		origin string
		recs   []rr
		want   string
	}{
		{"class CH", origin, append(head, rr{"\x01a" + origin, dns.TypeA, 3, []byte{1, 2, 3, 4}}), "zone b.zone: record 3: class CH not supported (only IN)"},
		{"bad owner", origin, append(head, rr{"\x05a" + origin, dns.TypeA, 1, []byte{1, 2, 3, 4}}), `zone b.zone: record 3: bad owner name "\x05a\aexample\x00"`},
		{"short A", origin, append(head, rr{"\x01a" + origin, dns.TypeA, 1, []byte{1, 2, 3}}), "zone b.zone: record 3: bad A record at a.example.: rdata too short"},
		{"long A", origin, append(head, rr{"\x01a" + origin, dns.TypeA, 1, []byte{1, 2, 3, 4, 5}}), "zone b.zone: record 3: bad A record at a.example.: data after the last field"},
		{"compressed NS", origin, append(head, rr{"\x01a" + origin, dns.TypeNS, 1, []byte{0xc0, 12}}), "zone b.zone: record 3: bad NS record at a.example.: compressed or malformed name"},
		{"short MX", origin, append(head, rr{"\x01a" + origin, dns.TypeMX, 1, []byte{0, 10, 3, 'f'}}), "zone b.zone: record 3: bad MX record at a.example.: rdata too short"},
		{"bad bitmap", origin, append(head, rr{"\x01a" + origin, dns.TypeNSEC, 1, []byte{0, 0, 0}}), "zone b.zone: record 3: bad NSEC record at a.example.: bad type bit map window length"},
		{"meta type", origin, append(head, rr{"\x01a" + origin, dns.TypeOPT, 1, nil}), "zone b.zone: record 3: bad OPT record at a.example.: meta type OPT cannot be in a zone"},
		{"out of zone", origin, append(head, rr{"\x01a\x03org\x00", dns.TypeA, 1, []byte{1, 2, 3, 4}}), "zone b.zone: record 3: a.org. is out of zone example."},
		{"no SOA", origin, head[1:], "zone b.zone: no SOA record at the zone apex example."},
		{"empty", origin, nil, "zone b.zone: empty zone (no records)"},
		{"no NS", origin, head[:1], "zone b.zone: record 1: the zone apex example. has no NS records (a zone needs NS records at its apex)"},
		{"SOA below apex", origin, append(head, rr{"\x01a" + origin, dns.TypeSOA, 1, soa}), "zone b.zone: record 3: SOA record at a.example., not at the zone apex example."},
		{"two SOAs", origin, append(head, rr{origin, dns.TypeSOA, 1, soa}), "zone b.zone: record 3: more than one SOA record (first at b.zone record 1)"},
		{"CNAME and A", origin, append(head, rr{"\x01a" + origin, dns.TypeCNAME, 1, ns}, rr{"\x01a" + origin, dns.TypeA, 1, []byte{1, 2, 3, 4}}),
			"zone b.zone: record 4: A record at a.example. beside a CNAME (record 3)"},
		{"bad origin", "\x07example", head, `zone b.zone: bad origin "\aexample"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			zb := NewBuilder([]byte(tt.origin), "b.zone")
			var err error
			for _, r := range tt.recs {
				if err = zb.Add([]byte(r.owner), r.typ, r.class, 300, r.rdata); err != nil {
					break
				}
			}
			z, ferr := zb.Finish()
			if err == nil {
				err = ferr
			} else if ferr == nil || ferr.Error() != err.Error() {
				t.Errorf("Finish after a failed Add: %v, want the same error", ferr)
			}
			if err == nil {
				t.Fatalf("built a zone of %d records, want error %q", z.Records(), tt.want)
			}
			if err.Error() != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", err, tt.want)
			}
		})
	}
}

func TestBuilderWarnings(t *testing.T) {
	zb := NewBuilder([]byte("\x07example\x00"), "w.zone")
	add := func(owner string, typ uint16, ttl uint32, text string) {
		t.Helper()
		if err := zb.Add([]byte(owner), typ, 1, ttl, packRdata(t, "x. "+text)); err != nil {
			t.Fatal(err)
		}
	}
	add("\x07EXAMPLE\x00", dns.TypeSOA, 300, "SOA ns.example. hm.example. 1 2 3 4 5")
	add("\x07example\x00", dns.TypeNS, 300, "NS ns.example.")
	add("\x01a\x07example\x00", dns.TypeA, 300, "A 192.0.2.1")
	add("\x01A\x07example\x00", dns.TypeA, 60, "A 192.0.2.2")
	z, err := zb.Finish()
	if err != nil {
		t.Fatal(err)
	}
	if err := zb.Add([]byte("\x07example\x00"), dns.TypeA, 1, 1, []byte{1, 2, 3, 4}); err == nil {
		t.Errorf("Add after Finish succeeded")
	}
	ws, n := z.Warnings(), z.WarningCount()
	want := "zone w.zone: record 4: warning: TTL 60 of this A record at a.example. differs from the TTL 300 of its RRset (record 3); the RRset is served with 300"
	if n != 1 || len(ws) != 1 || ws[0].String() != want {
		t.Errorf("warnings %d %v, want one: %s", n, ws, want)
	}
	if rs := z.Node(wireName(t, "a.example.")).RRset(dns.TypeA); rs.TTL != 300 || rs.Count != 2 {
		t.Errorf("a.example. A: TTL %d, %d records; want 300, 2", rs.TTL, rs.Count)
	}
}

func TestTypeText(t *testing.T) {
	for typ := range 65536 {
		got := TypeText(uint16(typ))
		want := dns.Type(typ).String()
		if d := types[uint16(typ)]; d == nil && got != want && typ != 0 && typ != 65535 {
			t.Errorf("TypeText(%d) = %s, miekg %s", typ, got, want)
		}
		if d := types[uint16(typ)]; d != nil {
			if n, ok := dns.StringToType[got]; ok && int(n) != typ {
				t.Errorf("TypeText(%d) = %s, which miekg reads as %d", typ, got, n)
			}
		}
	}
	if fmt.Sprint(TypeText(65280)) != "TYPE65280" {
		t.Errorf("TypeText(65280) = %s", TypeText(65280))
	}
}

// TestWalkSigned: Walk gives back a signed zone's records exactly, RRSIG
// TTLs included (those of the RRsets they cover, not one per owner).
// The owners of an NSEC3 chain, which Node does not find, are walked too.
func TestWalkSigned(t *testing.T) {
	for _, tc := range []struct{ file, origin string }{
		{"testdata/corpus/signed-nsec.zone", "signed.example."},
		{"testdata/corpus/signed-nsec3.zone", "signed.example."},
		{"testdata/signed/nsec.zone", ""},
		{"testdata/signed/nsec3.zone", ""},
		{"testdata/signed/optout.zone", ""},
		{"testdata/signed/wildapex.zone", ""},
	} {
		file := tc.file
		t.Run(file, func(t *testing.T) {
			z, err := LoadFileOrigin(file, tc.origin)
			if err != nil {
				t.Fatal(err)
			}
			if ws, n := z.Warnings(), z.WarningCount(); n != 0 {
				t.Errorf("warnings for a signed zone: %v", ws)
			}
			if !z.Signed() {
				t.Errorf("zone not signed")
			}
			nsec3Owners := 0
			for _, r := range walkAll(z) {
				if r.typ == dns.TypeNSEC3 && z.Node([]byte(r.owner)) == nil {
					nsec3Owners++
				}
			}
			if z.NSEC3() && nsec3Owners == 0 {
				t.Errorf("NSEC3 zone: no NSEC3 records walked at owners that Node leaves out")
			}
			origin := tc.origin
			if origin == "" {
				origin = nameText(z.Origin)
			}
			// The same records through a Builder: the same DNSSEC indexes.
			zb, err := buildFrom(t, file, origin)
			if err != nil {
				t.Fatal(err)
			}
			if zb.Signed() != z.Signed() || zb.NSEC3() != z.NSEC3() || zb.WarningCount() != 0 {
				t.Errorf("built: signed %v nsec3 %v warnings %v; loaded: %v %v", zb.Signed(), zb.NSEC3(), zb.Warnings(), z.Signed(), z.NSEC3())
			}
			want := map[walked]bool{}
			f, err := os.Open(file)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			zp := dns.NewZoneParser(f, origin, file)
			for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
				h := rr.Header()
				want[walked{string(wireName(t, h.Name)), h.Rrtype, h.Ttl, string(packRR(t, rr))}] = true
			}
			if err := zp.Err(); err != nil {
				t.Fatal(err)
			}
			got := map[walked]bool{}
			for _, r := range walkAll(z) {
				got[r] = true
				if !want[r] {
					t.Errorf("walked %s %s TTL %d, not in the file", nameText(r.owner), TypeText(r.typ), r.ttl)
				}
			}
			if len(got) != len(want) {
				t.Errorf("walked %d records, the file has %d", len(got), len(want))
			}
		})
	}
	text := scanHead + "www A 192.0.2.1\nwww RRSIG A 8 3 300 20300101000000 20200101000000 1 example.com. AQID\nwww 60 RRSIG NSEC 8 3 300 20300101000000 20200101000000 1 example.com. AQID\nwww 60 NSEC x.example.com. A RRSIG NSEC\nwww 90 RRSIG TXT 8 3 300 20300101000000 20200101000000 1 example.com. AQID\nwww TXT x\n"
	z, err := Parse(strings.NewReader(text), "s.zone", "")
	if err != nil {
		t.Fatal(err)
	}
	ws, n := z.Warnings(), z.WarningCount()
	want := []string{
		"zone s.zone: line 9: warning: TTL 90 of this RRSIG record at www.example.com. differs from the TTL 300 of the TXT RRset it covers (RFC 4034 section 3)",
		"zone s.zone: line 6: warning: RRSIG record, but none at the zone apex example.com.: the zone is served unsigned",
	}
	if n != len(want) || len(ws) != len(want) || ws[0].String() != want[0] || ws[1].String() != want[1] {
		t.Errorf("warnings %v, want: %q", ws, want)
	}
}
