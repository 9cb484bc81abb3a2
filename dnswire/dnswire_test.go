package dnswire

import (
	"bytes"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func pack(tb testing.TB, m *dns.Msg) []byte {
	tb.Helper()
	b, err := m.Pack()
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestParseQuery(t *testing.T) {
	q := new(dns.Msg)
	q.Id = 7
	q.RecursionDesired = true
	q.CheckingDisabled = true
	q.Question = []dns.Question{{Name: "WwW.Example.COM.", Qtype: dns.TypeAAAA, Qclass: dns.ClassINET}}
	q.SetEdns0(300, true)
	q.IsEdns0().Option = append(q.IsEdns0().Option, &dns.EDNS0_NSID{Code: dns.EDNS0NSID},
		&dns.EDNS0_LOCAL{Code: 65001, Data: []byte{1, 2, 3}})
	msg := pack(t, q)

	var got Query
	if st := ParseQuery(msg, &got); st != StatusOK {
		t.Fatalf("ParseQuery = %v, want OK", st)
	}
	if got.ID != 7 || got.Flags&FlagRD == 0 || got.Flags&FlagCD == 0 || got.Opcode() != OpcodeQuery {
		t.Errorf("header: %+v", got)
	}
	if want := []byte("\x03www\x07example\x03com\x00"); !bytes.Equal(got.Name(), want) {
		t.Errorf("Name = %q, want %q", got.Name(), want)
	}
	if want := msg[12 : 12+17+4]; !bytes.Equal(got.Question, want) {
		t.Errorf("Question = % x, want % x (original case)", got.Question, want)
	}
	if got.QType != dns.TypeAAAA || got.QClass != dns.ClassINET {
		t.Errorf("qtype/qclass = %d/%d", got.QType, got.QClass)
	}
	if !got.EDNS || got.UDPSize != 512 || !got.DO() || !got.NSID || got.Version != 0 {
		t.Errorf("EDNS = %v size %d DO %v NSID %v version %d; want true 512 (raised from 300) true true 0",
			got.EDNS, got.UDPSize, got.DO(), got.NSID, got.Version)
	}
}

func TestParseQueryStatus(t *testing.T) {
	hdr := func(flags, qd, an, ns, ar uint16) []byte {
		return []byte{0, 1, byte(flags >> 8), byte(flags), 0, byte(qd), 0, byte(an), 0, byte(ns), 0, byte(ar)}
	}
	question := []byte("\x01a\x00\x00\x01\x00\x01")
	opt := []byte{0, 0, 41, 2, 0, 0, 0, 0, 0, 0, 0}
	cat := func(bs ...[]byte) []byte { return bytes.Join(bs, nil) }
	max := strings.Repeat("\x3f"+strings.Repeat("x", 63), 3) + "\x3d" + strings.Repeat("y", 61) + "\x00" // 255 octets
	tests := []struct {
		name     string
		msg      []byte
		want     Status
		question bool
		edns     bool
	}{
		{"short", hdr(0, 1, 0, 0, 0)[:11], StatusDrop, false, false},
		{"response", cat(hdr(FlagQR, 1, 0, 0, 0), question), StatusDrop, false, false},
		{"ok", cat(hdr(0, 1, 0, 0, 0), question), StatusOK, true, false},
		{"ok with OPT", cat(hdr(0, 1, 0, 0, 1), question, opt), StatusOK, true, true},
		{"name of 255 octets", cat(hdr(0, 1, 0, 0, 0), []byte(max), question[3:]), StatusOK, true, false},
		{"name of 256 octets", cat(hdr(0, 1, 0, 0, 0), []byte("\x01z"+max), question[3:]), StatusFormErr, false, false},
		{"label of 64", cat(hdr(0, 1, 0, 0, 0), []byte("\x40"+strings.Repeat("x", 64)+"\x00"), question[3:]), StatusFormErr, false, false},
		{"no question", hdr(0, 0, 0, 0, 0), StatusFormErr, false, false},
		{"no question, OPT", cat(hdr(0, 0, 0, 0, 1), opt), StatusFormErr, false, true},
		{"two questions", cat(hdr(0, 2, 0, 0, 0), question, question), StatusFormErr, false, false},
		{"pointer", cat(hdr(0, 1, 0, 0, 0), []byte{0xc0, 12, 0, 1, 0, 1}), StatusFormErr, false, false},
		{"OPT in answer", cat(hdr(0, 1, 1, 0, 0), question, opt), StatusFormErr, true, false},
		{"two OPTs", cat(hdr(0, 1, 0, 0, 2), question, opt, opt), StatusFormErr, true, false},
		{"missing record", cat(hdr(0, 1, 0, 0, 1), question), StatusFormErr, true, false},
		{"notify", cat(hdr(uint16(OpcodeNotify)<<11, 1, 0, 0, 1), question, opt), StatusNotImp, true, true},
		{"notify, no question", hdr(uint16(OpcodeNotify)<<11, 0, 0, 0, 0), StatusNotImp, false, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var q Query
			if got := ParseQuery(tc.msg, &q); got != tc.want {
				t.Errorf("status = %v, want %v", got, tc.want)
			}
			if tc.want == StatusDrop {
				return
			}
			if (q.Question != nil) != tc.question || q.EDNS != tc.edns {
				t.Errorf("question parsed %v, EDNS %v; want %v, %v", q.Question != nil, q.EDNS, tc.question, tc.edns)
			}
		})
	}
}

func TestParseQueryAllocs(t *testing.T) {
	q := new(dns.Msg)
	q.SetQuestion("www.example.com.", dns.TypeA)
	q.SetEdns0(1232, true)
	msg := pack(t, q)
	var pq Query
	if n := testing.AllocsPerRun(100, func() { ParseQuery(msg, &pq) }); n != 0 {
		t.Errorf("ParseQuery: %v allocations, want 0", n)
	}
}

func TestBuilderCompression(t *testing.T) {
	question := []byte("\x03WWW\x07example\x03com\x00\x00\x01\x00\x01")
	var b Builder
	b.Start(make([]byte, 0, 512), 1, FlagQR|FlagAA, 512)
	b.Question(question)
	ns := []byte("\x03ns1\x07example\x03com\x00")
	srv := []byte("\x00\x01\x00\x02\x00\x03\x03sip\x07example\x03com\x00")
	soa := append([]byte("\x03ns1\x07example\x03com\x00\x04host\x07example\x03com\x00"), make([]byte, 20)...)
	ok := b.AddRRAt(Answer, 12, TypeA, ClassIN, 60, []byte{1, 2, 3, 4}) &&
		b.AddRR(Authority, []byte("\x07example\x03com\x00"), TypeNS, ClassIN, 60, ns) &&
		b.AddRR(Authority, []byte("\x07example\x03com\x00"), TypeSOA, ClassIN, 60, soa) &&
		b.AddRR(Additional, []byte("\x04_sip\x07example\x03com\x00"), TypeSRV, ClassIN, 60, srv) &&
		b.AddRR(Additional, []byte("\x03NS1\x07example\x03com\x00"), TypeA, ClassIN, 60, []byte{5, 6, 7, 8})
	if !ok {
		t.Fatal("AddRR failed")
	}
	msg := b.Finish()
	var m dns.Msg
	if err := m.Unpack(msg); err != nil {
		t.Fatalf("unpack: %v", err)
	}
	want := []string{
		"WWW.example.com.\t60\tIN\tA\t1.2.3.4",
		"example.com.\t60\tIN\tNS\tns1.example.com.",
		"example.com.\t60\tIN\tSOA\tns1.example.com. host.example.com. 0 0 0 0 0",
		"_sip.example.com.\t60\tIN\tSRV\t1 2 3 sip.example.com.",
		"ns1.example.com.\t60\tIN\tA\t5.6.7.8",
	}
	var got []string
	for _, rr := range append(append(m.Answer, m.Ns...), m.Extra...) {
		got = append(got, rr.String())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("records:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// The SRV target must be written as stored (RFC 3597 section 4).
	if !bytes.Contains(msg, srv) {
		t.Errorf("SRV rdata was compressed")
	}
	// Compression must make the message smaller than miekg without it.
	m.Compress = false
	plain, _ := m.Pack()
	if len(msg) >= len(plain) {
		t.Errorf("compressed length %d, uncompressed %d", len(msg), len(plain))
	}
	// The same message compressed by miekg is no smaller than ours.
	m.Compress = true
	theirs, _ := m.Pack()
	if len(msg) > len(theirs) {
		t.Errorf("our message is %d octets, miekg's %d", len(msg), len(theirs))
	}
}

func TestBuilderLimit(t *testing.T) {
	var b Builder
	b.Start(make([]byte, 0, 64), 1, FlagQR, 40)
	b.Question([]byte("\x01a\x00\x00\x01\x00\x01"))
	m := b.Mark()
	if !b.AddRRAt(Answer, 12, TypeA, ClassIN, 1, []byte{1, 2, 3, 4}) {
		t.Fatal("first record must fit in 40 octets")
	}
	if b.AddRRAt(Answer, 12, TypeA, ClassIN, 1, []byte{1, 2, 3, 5}) {
		t.Fatal("second record must not fit")
	}
	if b.Len() != 19+16 || b.Count(Answer) != 1 {
		t.Errorf("after refused record: len %d count %d, want 35, 1", b.Len(), b.Count(Answer))
	}
	b.Rollback(m)
	if b.Len() != 19 || b.Count(Answer) != 0 {
		t.Errorf("after rollback: len %d count %d", b.Len(), b.Count(Answer))
	}
	if b.AddRR(Question, []byte{0}, TypeA, ClassIN, 1, nil) {
		t.Error("record added to the question section")
	}
	if b.AddRR(Answer, []byte{1, 'a'}, TypeA, ClassIN, 1, nil) {
		t.Error("record with invalid owner added")
	}
}

// TestBuilderExactFit checks that a record that fits only thanks to
// compression against its own owner name is accepted at the exact limit.
func TestBuilderExactFit(t *testing.T) {
	owner := []byte("\x01a\x01b\x00")
	rdata := []byte("\x01c\x01a\x01b\x00")
	const hdrQ = 12 + 5 // header and the question "\x00" + type + class
	const rec = 5 + 10 + 4
	for _, tc := range []struct {
		limit int
		want  bool
	}{{hdrQ + rec, true}, {hdrQ + rec - 1, false}} {
		var b Builder
		b.Start(make([]byte, 0, 64), 1, FlagQR, tc.limit)
		b.Question([]byte{0, 0, 1, 0, 1})
		if got := b.AddRR(Answer, owner, TypeCNAME, ClassIN, 1, rdata); got != tc.want {
			t.Errorf("limit %d: AddRR = %v, want %v (len %d)", tc.limit, got, tc.want, b.Len())
		}
		if tc.want && b.Len() != tc.limit {
			t.Errorf("limit %d: message is %d octets", tc.limit, b.Len())
		}
	}
}

func TestBuilderAllocs(t *testing.T) {
	dst := make([]byte, 0, 512)
	q := []byte("\x03www\x07example\x03com\x00\x00\x0f\x00\x01")
	mx := []byte("\x00\x0a\x04mail\x07example\x03com\x00")
	n := testing.AllocsPerRun(100, func() {
		var b Builder
		b.Start(dst, 1, FlagQR, 512)
		b.Question(q)
		b.AddRRAt(Answer, 12, TypeMX, ClassIN, 60, mx)
		b.AddRR(Additional, []byte("\x04mail\x07example\x03com\x00"), TypeA, ClassIN, 60, []byte{1, 2, 3, 4})
		b.AddOPT(1232, 0, EDNSFlagDO, []byte("nsid"))
		b.Finish()
	})
	if n != 0 {
		t.Errorf("Builder: %v allocations, want 0", n)
	}
}

// TestBuilderPointsIntoSRV checks that a name written uncompressed inside
// SRV rdata (RFC 2782 forbids compressing it) is still a compression
// target for later names, and that the SRV target itself stays as stored.
func TestBuilderPointsIntoSRV(t *testing.T) {
	target := []byte("\x03sip\x07example\x00")
	srv := append([]byte{0, 10, 0, 60, 0x13, 0xc4}, target...)
	for _, tc := range []struct {
		typ    uint16
		rdata  []byte
		nameAt int // offset of the name in rdata
	}{
		{TypeSRV, srv, 6},
		{TypeKX, append([]byte{0, 10}, target...), 2},
	} {
		var b Builder
		b.Start(nil, 1, FlagQR, MaxMsgLen)
		b.Question([]byte("\x04_sip\x04_tcp\x07example\x00\x00\x21\x00\x01"))
		if !b.AddRRAt(Answer, HeaderLen, tc.typ, ClassIN, 60, tc.rdata) {
			t.Fatal("AddRRAt failed")
		}
		rdAt := b.Len() - len(tc.rdata)
		if !bytes.Equal(b.Bytes()[rdAt:], tc.rdata) {
			t.Errorf("type %d: rdata written as % x, want as stored % x", tc.typ, b.Bytes()[rdAt:], tc.rdata)
		}
		before := b.Len()
		if !b.AddRR(Additional, []byte("\x03SIP\x07example\x00"), TypeA, ClassIN, 60, []byte{1, 2, 3, 4}) {
			t.Fatal("AddRR failed")
		}
		ptr := rdAt + tc.nameAt
		if got, want := b.Bytes()[before:before+2], []byte{0xC0 | byte(ptr>>8), byte(ptr)}; !bytes.Equal(got, want) {
			t.Errorf("type %d: owner written as % x, want pointer % x", tc.typ, got, want)
		}
		var m dns.Msg
		if err := m.Unpack(b.Finish()); err != nil {
			t.Fatalf("type %d: unpack: %v", tc.typ, err)
		}
		if len(m.Extra) != 1 || m.Extra[0].Header().Name != "sip.example." {
			t.Errorf("type %d: additional = %v", tc.typ, m.Extra)
		}
	}
}

func TestAppendOPTEDE(t *testing.T) {
	for _, tc := range []struct {
		name string
		nsid []byte
		ede  EDE
		want string // hex of the OPT record
	}{
		{"none", nil, EDENone, "0000290400000080000000"},
		{"ede 20", nil, EDENotAuthoritative, "0000290400000080000006" + "000f00020014"},
		{"nsid and ede 18", []byte("ns"), EDEProhibited, "000029040000008000000c" + "00030002" + "6e73" + "000f00020012"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := AppendOPTEDE(nil, 1024, 0, EDNSFlagDO, tc.nsid, tc.ede)
			if h := hexString(got); h != tc.want {
				t.Errorf("AppendOPTEDE = %s, want %s", h, tc.want)
			}
			extra := 0
			if tc.ede != EDENone {
				extra = EDELen
			}
			if len(got) != OPTLen(len(tc.nsid))+extra {
				t.Errorf("length %d, OPTLen %d + %d", len(got), OPTLen(len(tc.nsid)), extra)
			}
		})
	}
}

func hexString(b []byte) string {
	const digits = "0123456789abcdef"
	s := make([]byte, 0, 2*len(b))
	for _, c := range b {
		s = append(s, digits[c>>4], digits[c&15])
	}
	return string(s)
}

// TestBuilderLowersRdataNames checks that names inside the rdata of the
// RFC 4034 section 6.2 types are written in lower case (as NSD and Knot
// DNS send them), owner names and other rdata as given.
func TestBuilderLowersRdataNames(t *testing.T) {
	name := "\x04MaIl\x07ExAmPlE\x00"
	low := "\x04mail\x07example\x00"
	for _, tc := range []struct {
		typ         uint16
		rdata, want string
	}{
		{TypeMX, "\x00\x0a" + name, "\x00\x0a" + low},
		{TypeCNAME, name, low},
		{TypeSRV, "\x00\x01\x00\x02\x00\x03" + name, "\x00\x01\x00\x02\x00\x03" + low},
		{TypeKX, "\x00\x01" + name, "\x00\x01" + low},
		{TypeRP, name + "\x03TxT\x00", low + "\x03txt\x00"},
		{TypePX, "\x00\x01" + name + "\x02Px\x00", "\x00\x01" + low + "\x02px\x00"},
		{TypeNAPTR, "\x00\x01\x00\x02\x01S\x03E2U\x00" + name, "\x00\x01\x00\x02\x01S\x03E2U\x00" + low},
		{TypeDNAME, name, low},
		{TypeTXT, name, name},                                           // not a name
		{TypeSVCB, "\x00\x01" + name, "\x00\x01" + name},                // not in RFC 4034 6.2 (Knot keeps the case)
		{TypeSRV, "\x00\x01\x00\x02" + name, "\x00\x01\x00\x02" + name}, // malformed: as stored
	} {
		var b Builder
		b.Start(nil, 1, FlagQR, MaxMsgLen)
		b.Question([]byte("\x00\x00\x01\x00\x01")) // the root: nothing to point at
		owner := []byte("\x02Ab\x00")
		if !b.AddRR(Answer, owner, tc.typ, ClassIN, 60, []byte(tc.rdata)) {
			t.Fatalf("type %d: AddRR failed", tc.typ)
		}
		msg := b.Finish()
		rr := msg[12+5:]
		if got := string(rr[:len(owner)]); got != string(owner) {
			t.Errorf("type %d: owner %q, want %q as given", tc.typ, got, owner)
		}
		if got := string(rr[len(owner)+10:]); got != tc.want {
			t.Errorf("type %d: rdata %q, want %q", tc.typ, got, tc.want)
		}
	}
}
