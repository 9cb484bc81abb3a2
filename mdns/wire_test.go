package mdns

import (
	"bytes"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/tapdns/tapdns/dnswire"
)

// wn returns the wire form of a presentation name ("a.local." or "a.local").
func wn(s string) []byte {
	var b []byte
	for _, l := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if l != "" {
			b = append(b, byte(len(l)))
			b = append(b, l...)
		}
	}
	return append(b, 0)
}

// rr describes a record for build.
type rr struct {
	name  string
	typ   uint16
	class uint16 // with the cache-flush bit when wanted
	ttl   uint32
	data  []byte
}

// q describes a question for build.
type q struct {
	name  string
	typ   uint16
	class uint16 // with the QU bit when wanted
}

// build encodes a message with our Builder (names compressed where it may).
func build(id, flags uint16, qs []q, an, ns, ar []rr) []byte {
	var b dnswire.Builder
	b.Start(nil, id, flags, MaxMsgLen)
	for _, x := range qs {
		b.Question(appendQuestion(nil, wn(x.name), x.typ, x.class))
	}
	for sec, rs := range [][]rr{an, ns, ar} {
		for _, r := range rs {
			if !addRR(&b, dnswire.Section(sec+1), wn(r.name), r.typ, r.class, r.ttl, r.data) {
				panic("build: record does not fit")
			}
		}
	}
	return b.Finish()
}

func a4(s string) []byte { return netip.MustParseAddr(s).AsSlice() }

func srvData(port uint16, target string) []byte {
	return append([]byte{0, 0, 0, 0, byte(port >> 8), byte(port)}, wn(target)...)
}

func TestParseZeroconf(t *testing.T) {
	b, err := os.ReadFile("testdata/zeroconf-response.bin")
	if err != nil {
		t.Fatal(err)
	}
	var m Message
	if err := m.Parse(b); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if !m.Response() || len(m.Answers()) != 1 || len(m.Additional()) != 4 {
		t.Fatalf("got response %v, %d answers, %d additional; want a response, 1, 4", m.Response(), len(m.Answers()), len(m.Additional()))
	}
	want := []struct {
		name  string
		typ   uint16
		flush bool
		ttl   uint32
		data  []byte
	}{
		{"_http._tcp.local", dnswire.TypePTR, false, 4500, wn("Printer._http._tcp.local")},
		{"printer._http._tcp.local", dnswire.TypeSRV, true, 120, srvData(631, "printer.local")},
		{"printer._http._tcp.local", dnswire.TypeTXT, true, 4500, []byte("\x07path=/p\x04rp=x")},
		{"printer.local", dnswire.TypeA, true, 120, a4("198.18.0.1")},
	}
	for i, w := range want {
		g := m.Records[i]
		if !bytes.Equal(g.Name, wn(w.name)) || g.Type != w.typ || g.Class != dnswire.ClassIN || g.Flush != w.flush || g.TTL != w.ttl || !bytes.Equal(g.Data, w.data) {
			t.Errorf("record %d: got %q %d class %d flush %v ttl %d %q, want %q %d IN flush %v ttl %d %q",
				i, g.Name, g.Type, g.Class, g.Flush, g.TTL, g.Data, wn(w.name), w.typ, w.flush, w.ttl, w.data)
		}
	}
	// The NSEC: next name compressed, bitmaps with an empty window block.
	nsec := m.Records[4]
	if nsec.Type != dnswire.TypeNSEC || !bytes.HasPrefix(nsec.Data, wn("printer.local")) {
		t.Fatalf("got NSEC %d %q, want NSEC with next name printer.local", nsec.Type, nsec.Data)
	}
	if !nsecHas(nsec.Data, dnswire.TypeA) || nsecHas(nsec.Data, dnswire.TypeAAAA) {
		t.Errorf("NSEC bitmap: got A %v AAAA %v, want A listed and AAAA not", nsecHas(nsec.Data, dnswire.TypeA), nsecHas(nsec.Data, dnswire.TypeAAAA))
	}
}

func TestParseQuestions(t *testing.T) {
	b, err := os.ReadFile("testdata/zeroconf-query.bin")
	if err != nil {
		t.Fatal(err)
	}
	var m Message
	if err := m.Parse(b); err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if len(m.Questions) != 2 || len(m.Answers()) != 1 {
		t.Fatalf("got %d questions, %d answers; want 2, 1", len(m.Questions), len(m.Answers()))
	}
	q0, q1 := m.Questions[0], m.Questions[1]
	if !bytes.Equal(q0.Name, wn("_http._tcp.local")) || q0.Type != dnswire.TypePTR || q0.QU {
		t.Errorf("question 0: got %q %d QU %v", q0.Name, q0.Type, q0.QU)
	}
	if !bytes.Equal(q1.Name, wn("tapdns.local")) || q1.Type != dnswire.TypeA || !q1.QU || q1.Class != dnswire.ClassIN {
		t.Errorf("question 1: got %q %d class %d QU %v, want tapdns.local A IN QU", q1.Name, q1.Type, q1.Class, q1.QU)
	}
	ka := m.Answers()[0]
	if !bytes.Equal(ka.Data, wn("Other._http._tcp.local")) {
		t.Errorf("known answer: got %q, want the PTR target in its case", ka.Data)
	}
}

func TestParseCase(t *testing.T) {
	msg := build(0, 0, []q{{"TapDNS.Local", dnswire.TypeA, dnswire.ClassIN}}, nil, nil, nil)
	var m Message
	if err := m.Parse(msg); err != nil {
		t.Fatal(err)
	}
	if got := m.Questions[0]; string(got.Name) != string(wn("tapdns.local")) || string(got.Orig) != string(wn("TapDNS.Local")) {
		t.Errorf("got name %q orig %q, want canonical and original", got.Name, got.Orig)
	}
}

func TestParseErrors(t *testing.T) {
	good := build(0, dnswire.FlagQR, nil, []rr{{"a.local", dnswire.TypePTR, dnswire.ClassIN, 10, wn("b.a.local")}}, nil, nil)
	tests := []struct {
		name string
		msg  []byte
	}{
		{"empty", nil},
		{"short header", good[:11]},
		{"truncated record", good[:len(good)-1]},
		{"count beyond message", func() []byte { b := bytes.Clone(good); b[7] = 2; return b }()},
		{"forward pointer", []byte{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 14, 0, 0, 1, 0, 1}},
		{"self pointer", []byte{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xC0, 12, 0, 1, 0, 1}},
		{"label type 0x40", []byte{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0x41, 'a', 0, 0, 1, 0, 1}},
		{"label past end", []byte{0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 5, 'a', 'b'}},
		{"huge counts", []byte{0, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0}},
		{"srv too short", build(0, dnswire.FlagQR, nil, []rr{{"a.local", dnswire.TypeSRV, dnswire.ClassIN, 10, []byte{0, 0, 0}}}, nil, nil)},
		{"soa tail wrong", build(0, dnswire.FlagQR, nil, []rr{{"a.local", dnswire.TypeSOA, dnswire.ClassIN, 10, append(append(wn("a.local"), wn("b.local")...), 1, 2, 3)}}, nil, nil)},
		{"name in rdata past rdlength", build(0, dnswire.FlagQR, nil, []rr{{"a.local", dnswire.TypeCNAME, dnswire.ClassIN, 10, []byte{3, 'a', 'b'}}}, nil, nil)},
		{"too big", make([]byte, MaxMsgLen+1)},
	}
	for _, tc := range tests {
		var m Message
		if err := m.Parse(tc.msg); err == nil {
			t.Errorf("%s: Parse accepted % x", tc.name, tc.msg)
		}
	}
	var m Message
	if err := m.Parse(good); err != nil {
		t.Errorf("good message: %v", err)
	}
}

// A long chain of pointers, each adding a label, must stay within the
// name length and the arena.
func TestParseExpansionBounded(t *testing.T) {
	msg := []byte{0, 0, 0x84, 0, 0, 0, 0, 0, 0, 0, 0, 0}
	// A name of 60 labels "a", then records whose owners point at it.
	base := len(msg)
	for range 60 {
		msg = append(msg, 1, 'a')
	}
	msg = append(msg, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 1, 2, 3, 4)
	n := 1
	for len(msg)+16 < MaxMsgLen {
		msg = append(msg, 0xC0|byte(base>>8), byte(base), 0, 12, 0, 1, 0, 0, 0, 1, 0, 2, 0xC0|byte(base>>8), byte(base))
		n++
	}
	msg[6], msg[7] = byte(n>>8), byte(n)
	var m Message
	err := m.Parse(msg)
	if err != nil && err != errArena {
		t.Fatalf("got %v, want success or the arena limit", err)
	}
	if cap(m.arena) != arenaCap {
		t.Errorf("arena grew to %d, want it fixed at %d", cap(m.arena), arenaCap)
	}
}

func TestNSEC(t *testing.T) {
	d := appendNSEC(nil, wn("h.local"), []uint16{dnswire.TypeA, dnswire.TypeAAAA, dnswire.TypeCAA})
	for _, tc := range []struct {
		typ  uint16
		want bool
	}{{dnswire.TypeA, true}, {dnswire.TypeAAAA, true}, {dnswire.TypeCAA, true}, {dnswire.TypeTXT, false}, {dnswire.TypeSRV, false}, {1000, false}} {
		if got := nsecHas(d, tc.typ); got != tc.want {
			t.Errorf("type %d: got %v, want %v", tc.typ, got, tc.want)
		}
	}
	// Window 0 of A and AAAA: 4 octets (AAAA is 28); window 1 of CAA (257): 1 octet.
	want := append(wn("h.local"), 0, 4, 0x40, 0, 0, 0x08, 1, 1, 0x40)
	if !bytes.Equal(d, want) {
		t.Errorf("got % x, want % x", d, want)
	}
	for _, bad := range [][]byte{nil, {5, 'a'}, append(wn("a"), 0, 40), append(wn("a"), 0, 3, 0xFF)} {
		if nsecHas(bad, dnswire.TypeA) {
			t.Errorf("nsecHas(% x) listed A", bad)
		}
	}
}

func TestUnderLocal(t *testing.T) {
	for _, tc := range []struct {
		name string
		want bool
	}{{"local", true}, {"a.local", true}, {"A.LOCAL", true}, {"a.b.local", true}, {"xlocal", false}, {"local.com", false}, {"a.xlocal", false}, {".", false}} {
		if got := underLocal(wn(tc.name)); got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	// A label that contains "\x05local" must not count.
	tricky := append([]byte{7, 'x', 5, 'l', 'o', 'c', 'a', 'l'}, 0)
	if underLocal(tricky) {
		t.Errorf("underLocal(% x) = true, want false", tricky)
	}
}

func TestCompareSets(t *testing.T) {
	rec := func(typ uint16, d ...byte) Record { return Record{Type: typ, Class: 1, Data: d} }
	tests := []struct {
		a, b []Record
		want int
	}{
		{[]Record{rec(1, 198, 18, 0, 2)}, []Record{rec(1, 198, 18, 0, 3)}, -1},
		{[]Record{rec(1, 198, 18, 0, 3)}, []Record{rec(1, 198, 18, 0, 2)}, 1},
		{[]Record{rec(1, 1, 2, 3, 4)}, []Record{rec(1, 1, 2, 3, 4)}, 0},
		{[]Record{rec(28, 0)}, []Record{rec(1, 255)}, 1},
		{[]Record{rec(1, 1, 2, 3, 4)}, []Record{rec(1, 1, 2, 3, 4), rec(28, 0)}, -1},
		// Sorted first: the order given does not matter.
		{[]Record{rec(28, 9), rec(1, 5)}, []Record{rec(1, 5), rec(28, 8)}, 1},
		{[]Record{{Type: 1, Class: 2}}, []Record{{Type: 28, Class: 1}}, 1},
	}
	for i, tc := range tests {
		if got := compareSets(tc.a, tc.b); got != tc.want {
			t.Errorf("%d: got %d, want %d", i, got, tc.want)
		}
	}
}

func TestRdataEqual(t *testing.T) {
	if !rdataEqual(dnswire.TypeSRV, srvData(53, "Host.local"), srvData(53, "host.LOCAL")) {
		t.Error("SRV targets differing in case compared unequal")
	}
	if rdataEqual(dnswire.TypeSRV, srvData(53, "host.local"), srvData(54, "host.local")) {
		t.Error("SRV ports differing compared equal")
	}
	if rdataEqual(dnswire.TypeTXT, []byte("\x01A"), []byte("\x01a")) {
		t.Error("TXT differing in case compared equal")
	}
}
