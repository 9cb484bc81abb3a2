package xfr

import (
	"bytes"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

// testRecords are records of many types, in presentation format.
var testRecords = []string{
	"example. 3600 IN SOA ns1.Example. hostmaster.example. 2024010101 7200 3600 1209600 300",
	"example. 3600 IN NS ns1.example.",
	"example. 3600 IN NS NS2.example.",
	"example. 300 IN MX 10 mail.example.",
	"Www.Example. 300 IN A 198.18.0.10",
	"www.example. 300 IN AAAA 2001:db8::10",
	"alias.example. 300 IN CNAME www.EXAMPLE.",
	"_sip._tcp.example. 300 IN SRV 0 5 5060 sip.example.",
	"example. 300 IN TXT \"v=spf1 -all\" \"second string\"",
	"rp.example. 300 IN RP admin.example. text.example.",
	"naptr.example. 300 IN NAPTR 100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.",
	"afs.example. 300 IN AFSDB 1 afs.example.",
	"d.example. 300 IN DNAME target.example.",
	"x.example. 300 IN TYPE65534 \\# 3 010203",
	"example. 300 IN CAA 0 issue \"ca.example\"",
	"ptr.example. 300 IN PTR www.example.",
	"kx.example. 300 IN KX 5 www.example.",
}

func mustRRs(t testing.TB, texts ...string) []dns.RR {
	t.Helper()
	var out []dns.RR
	for _, s := range texts {
		rr, err := dns.NewRR(s)
		if err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		out = append(out, rr)
	}
	return out
}

// wireRR converts a miekg record to our form: owner canonical, rdata
// uncompressed.
func wireRR(t testing.TB, rr dns.RR) RR {
	t.Helper()
	buf := make([]byte, 65536)
	n, err := dns.PackRR(rr, buf, 0, nil, false)
	if err != nil {
		t.Fatal(err)
	}
	var a arena
	var out RR
	if _, err := readRR(buf[:n], 0, &out, &a, false); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestParseMessage: records in a compressed message parse to the same
// uncompressed records as miekg/dns packs them one by one.
func TestParseMessage(t *testing.T) {
	rrs := mustRRs(t, testRecords...)
	m := new(dns.Msg)
	m.SetQuestion("Example.", dns.TypeAXFR)
	m.Response = true
	m.Answer = rrs
	m.Compress = true
	wire, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	var a arena
	got, err := parseMessage(wire, &a)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.qname) != "\x07example\x00" || got.qtype != dns.TypeAXFR {
		t.Errorf("question = %q %d", got.qname, got.qtype)
	}
	if len(got.answer) != len(rrs) {
		t.Fatalf("got %d records, want %d", len(got.answer), len(rrs))
	}
	for i, rr := range rrs {
		want := wireRR(t, rr)
		g := got.answer[i]
		if !bytes.Equal(g.Owner, want.Owner) || g.Type != want.Type || g.TTL != want.TTL || !bytes.Equal(g.Rdata, want.Rdata) {
			t.Errorf("record %d: got %s, want %s", i, rrText(&g), rrText(&want))
		}
		// The rdata round-trips to the same text as the source (names keep
		// their case; the owner is lower-cased).
		if gs, ws := rrText(&g), strings.ToLower(rr.Header().Name); !strings.HasPrefix(gs, ws) {
			t.Errorf("record %d: %s does not start with %s", i, gs, ws)
		}
	}
	if !strings.Contains(rrText(&got.answer[0]), "ns1.Example.") {
		t.Errorf("SOA rdata lost its case: %s", rrText(&got.answer[0]))
	}
}

func TestParseMessageErrors(t *testing.T) {
	m := new(dns.Msg)
	m.SetQuestion("example.", dns.TypeAXFR)
	m.Answer = mustRRs(t, "a.example. 60 IN MX 10 b.example.")
	good, _ := m.Pack()
	tests := []struct {
		name string
		msg  []byte
	}{
		{"short", good[:11]},
		{"truncated record", good[:len(good)-2]},
		{"forward pointer", func() []byte {
			b := append([]byte(nil), good...)
			// The owner of the answer is a pointer to the question (0xC00C);
			// point it at itself instead.
			i := bytes.Index(b[12:], []byte{0xC0, 0x0C}) + 12
			b[i], b[i+1] = 0xC0|byte(i>>8), byte(i)
			return b
		}()},
		{"MX too short", func() []byte {
			m := new(dns.Msg)
			m.SetQuestion("example.", dns.TypeAXFR)
			rr := &dns.RFC3597{Hdr: dns.RR_Header{Name: "a.example.", Rrtype: dns.TypeMX, Class: dns.ClassINET, Ttl: 60}, Rdata: "00"}
			m.Answer = []dns.RR{rr}
			b, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			return b
		}()},
		{"SOA with trailing octet", func() []byte {
			m := new(dns.Msg)
			m.SetQuestion("example.", dns.TypeAXFR)
			soa := wireRR(t, mustRRs(t, testRecords[0])[0])
			rr := &dns.RFC3597{Hdr: dns.RR_Header{Name: "example.", Rrtype: dns.TypeSOA, Class: dns.ClassINET, Ttl: 60}, Rdata: hexString(append(soa.Rdata, 0))}
			m.Answer = []dns.RR{rr}
			b, err := m.Pack()
			if err != nil {
				t.Fatal(err)
			}
			return b
		}()},
	}
	for _, tt := range tests {
		var a arena
		if _, err := parseMessage(tt.msg, &a); err == nil {
			t.Errorf("%s: parseMessage succeeded", tt.name)
		}
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	out := make([]byte, 0, 2*len(b))
	for _, c := range b {
		out = append(out, digits[c>>4], digits[c&15])
	}
	return string(out)
}

func TestCompareNames(t *testing.T) {
	// RFC 4034 section 6.1's example, in order.
	names := []string{"example.", "a.example.", "yljkjljk.a.example.", "Z.a.example.", "zABC.a.EXAMPLE.", "z.example.", "\\001.z.example.", "*.z.example.", "\\200.z.example."}
	var wires [][]byte
	for _, n := range names {
		w, err := ParseName(n)
		if err != nil {
			t.Fatal(err)
		}
		wires = append(wires, w)
	}
	for i := range wires {
		for j := range wires {
			got := compareNames(wires[i], wires[j])
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got != want {
				t.Errorf("compareNames(%s, %s) = %d, want %d", names[i], names[j], got, want)
			}
		}
	}
}

func TestSerialLess(t *testing.T) {
	tests := []struct {
		a, b uint32
		want bool
	}{
		{1, 2, true}, {2, 1, false}, {1, 1, false},
		{0xFFFFFFFF, 0, true}, {0, 0xFFFFFFFF, false},
		{0, 1 << 31, false}, {1 << 31, 0, false}, // undefined: neither
		{0, 1<<31 - 1, true},
	}
	for _, tt := range tests {
		if got := serialLess(tt.a, tt.b); got != tt.want {
			t.Errorf("serialLess(%d, %d) = %v, want %v", tt.a, tt.b, got, tt.want)
		}
	}
}

func TestIsSubdomain(t *testing.T) {
	w := func(s string) []byte { b, _ := ParseName(s); return b }
	tests := []struct {
		name, parent string
		want         bool
	}{
		{"a.example.", "example.", true},
		{"example.", "example.", true},
		{"aexample.", "example.", false},
		{"example.", "a.example.", false},
		{"x.y.", ".", true},
	}
	for _, tt := range tests {
		if got := isSubdomain(w(tt.name), w(tt.parent)); got != tt.want {
			t.Errorf("isSubdomain(%s, %s) = %v", tt.name, tt.parent, got)
		}
	}
}

// FuzzParseMessage: arbitrary messages never crash the parser, and what it
// accepts it accepts consistently (the decompressed records re-pack and
// parse to themselves).
func FuzzParseMessage(f *testing.F) {
	m := new(dns.Msg)
	m.SetQuestion("example.", dns.TypeAXFR)
	m.Answer = mustRRs(f, testRecords...)
	m.Compress = true
	b, _ := m.Pack()
	f.Add(b)
	f.Add(b[:40])
	f.Fuzz(func(t *testing.T, msg []byte) {
		var a arena
		pm, err := parseMessage(msg, &a)
		if err != nil {
			return
		}
		for _, rr := range pm.answer {
			wire := packRR(nil, &rr)
			var again RR
			var a2 arena
			if _, err := readRR(wire, 0, &again, &a2, false); err != nil {
				t.Fatalf("record %s does not parse once uncompressed: %v", rrText(&rr), err)
			}
			if !bytes.Equal(again.Rdata, rr.Rdata) || !bytes.Equal(again.Owner, rr.Owner) {
				t.Fatalf("record changed on a second parse: %x vs %x", again.Rdata, rr.Rdata)
			}
		}
	})
}
