package dnssvc

import (
	"net/netip"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/tsig"
	"github.com/tapdns/tapdns/zone"
)

const xfrSecret = "c2VjcmV0LWtleS1mb3ItdGFwZG5zLXRlc3RzLTAxMjM0NTY3ODk="

// fakeTransfers records what the query front asks of the transfer side.
type fakeTransfers struct {
	notifyRcode dnswire.Rcode
	notified    []string
	notifyKey   *tsig.Key
	allow       bool
	served      int
}

func (f *fakeTransfers) Notify(z []byte, _ netip.AddrPort, key *tsig.Key) dnswire.Rcode {
	f.notified = append(f.notified, zone.NameText(string(z)))
	f.notifyKey = key
	return f.notifyRcode
}

func (f *fakeTransfers) AllowTransfer(netip.Addr, *tsig.Key) bool { return f.allow }

func (f *fakeTransfers) ServeTransfer(w MsgWriter, z *zone.Zone, msg []byte, _ netip.AddrPort, sess *tsig.Session) error {
	f.served++
	return w.WriteMsg([]byte("transfer"))
}

func xfrKeyring(t testing.TB) *tsig.Keyring {
	k, err := tsig.ParseKey("k1.:hmac-sha256:" + xfrSecret)
	if err != nil {
		t.Fatal(err)
	}
	r, err := tsig.NewKeyring(k)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// signedQuery packs a query signed by miekg/dns with key name keyName.
func signedQuery(t testing.TB, name string, qtype uint16, keyName string, at time.Time, opts ...qopt) ([]byte, string) {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.Id = 0x1234
	for _, o := range opts {
		o(m)
	}
	m.SetTsig(keyName, dns.HmacSHA256, 300, at.Unix())
	b, mac, err := dns.TsigGenerate(m, xfrSecret, "", false)
	if err != nil {
		t.Fatal(err)
	}
	return b, mac
}

func unpack(t testing.TB, b []byte) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	if err := m.Unpack(b); err != nil {
		t.Fatalf("unpack %x: %v", b, err)
	}
	return m
}

var xfrClient = Request{Client: netip.MustParseAddrPort("198.18.0.9:5300")}

// TestTSIGQueries: signed queries are checked whether or not transfers
// are configured; failures get NOTAUTH with the TSIG error (ISC's EDNS
// compliance test "dnswkk" expects NOTAUTH/BADKEY for an unknown key), and
// good ones a signed answer.
func TestTSIGQueries(t *testing.T) {
	now := time.Now()
	for _, tt := range []struct {
		name   string
		keys   *tsig.Keyring
		key    string
		at     time.Time
		rcode  int
		terr   uint16
		answer bool
	}{
		{"no keys", nil, "k1.", now, dns.RcodeNotAuth, dns.RcodeBadKey, false},
		{"unknown key", xfrKeyring(t), "k2.", now, dns.RcodeNotAuth, dns.RcodeBadKey, false},
		{"clock skew", xfrKeyring(t), "k1.", now.Add(-time.Hour), dns.RcodeNotAuth, dns.RcodeBadTime, false},
		{"good", xfrKeyring(t), "k1.", now, dns.RcodeSuccess, 0, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s := New(Config{TSIG: tt.keys}, testSet(t), nil)
			q, mac := signedQuery(t, "www.example.com.", dns.TypeA, tt.key, tt.at, withEDNS(1232, false))
			resp := unpack(t, s.Respond(nil, q, xfrClient))
			ts := resp.IsTsig()
			if resp.Rcode != tt.rcode || ts == nil || ts.Error != tt.terr {
				t.Fatalf("rcode %s TSIG %v, want %s error %d", dns.RcodeToString[resp.Rcode], ts, dns.RcodeToString[tt.rcode], tt.terr)
			}
			if got := len(resp.Answer) > 0; got != tt.answer {
				t.Errorf("answer records: %v, want %v", resp.Answer, tt.answer)
			}
			if tt.answer {
				raw := s.Respond(nil, q, xfrClient)
				if err := dns.TsigVerify(raw, xfrSecret, mac, false); err != nil {
					t.Errorf("answer signature: %v", err)
				}
				if resp.IsEdns0() == nil {
					t.Error("signed answer lost its OPT")
				}
			}
		})
	}
	// A TSIG record that is not the last one is FORMERR.
	s := New(Config{TSIG: xfrKeyring(t)}, testSet(t), nil)
	q, _ := signedQuery(t, "www.example.com.", dns.TypeA, "k1.", now)
	q = append(q, 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4) // an A record after the TSIG
	q[11]++
	if resp := unpack(t, s.Respond(nil, q, xfrClient)); resp.Rcode != dns.RcodeFormatError {
		t.Errorf("misplaced TSIG: %s, want FORMERR", dns.RcodeToString[resp.Rcode])
	}
}

// TestTSIGTruncation: a signed UDP answer keeps room for its TSIG record.
func TestTSIGTruncation(t *testing.T) {
	s := New(Config{TSIG: xfrKeyring(t)}, testSet(t), nil)
	for _, qt := range []uint16{dns.TypeA, dns.TypeTXT, dns.TypeANY, dns.TypeNS} {
		q, _ := signedQuery(t, "example.com.", qt, "k1.", time.Now())
		raw := s.Respond(nil, q, xfrClient)
		if len(raw) > 512 {
			t.Errorf("%s: a %d-octet UDP answer to a query without EDNS", dns.TypeToString[qt], len(raw))
		}
		if unpack(t, raw).IsTsig() == nil {
			t.Errorf("%s: answer not signed", dns.TypeToString[qt])
		}
	}
}

func TestNotify(t *testing.T) {
	q := packQuery(t, "example.com.", dns.TypeSOA, withOpcode(dns.OpcodeNotify))
	// Without transfers: NOTIMP, as before.
	s := New(Config{}, testSet(t), nil)
	if resp := unpack(t, s.Respond(nil, q, xfrClient)); resp.Rcode != dns.RcodeNotImplemented {
		t.Errorf("NOTIFY without transfers: %s, want NOTIMP", dns.RcodeToString[resp.Rcode])
	}
	f := &fakeTransfers{notifyRcode: dnswire.RcodeSuccess}
	s = New(Config{TSIG: xfrKeyring(t), Transfers: f}, testSet(t), nil)
	resp := unpack(t, s.Respond(nil, q, xfrClient))
	if resp.Rcode != dns.RcodeSuccess || resp.Opcode != dns.OpcodeNotify || !resp.Response || !resp.Authoritative || len(f.notified) != 1 || f.notified[0] != "example.com." {
		t.Errorf("NOTIFY: %v (notified %v)", resp, f.notified)
	}
	// Signed: the key reaches Notify and the answer is signed.
	sq, mac := signedQuery(t, "example.com.", dns.TypeSOA, "k1.", time.Now(), withOpcode(dns.OpcodeNotify))
	raw := s.Respond(nil, sq, xfrClient)
	if f.notifyKey == nil || f.notifyKey.NameText() != "k1." {
		t.Errorf("Notify got key %v", f.notifyKey)
	}
	if err := dns.TsigVerify(raw, xfrSecret, mac, false); err != nil {
		t.Errorf("NOTIFY answer signature: %v", err)
	}
	// A NOTIFY not about an SOA is FORMERR.
	f.notified = nil
	bad := packQuery(t, "example.com.", dns.TypeA, withOpcode(dns.OpcodeNotify))
	if resp := unpack(t, s.Respond(nil, bad, xfrClient)); resp.Rcode != dns.RcodeFormatError || f.notified != nil {
		t.Errorf("NOTIFY for A: %s, want FORMERR", dns.RcodeToString[resp.Rcode])
	}
}

func TestIXFROverUDP(t *testing.T) {
	q := packQuery(t, "example.com.", dns.TypeIXFR)
	f := &fakeTransfers{}
	s := New(Config{Transfers: f}, testSet(t), nil)
	resp := unpack(t, s.Respond(nil, q, xfrClient))
	if resp.Rcode != dns.RcodeRefused {
		t.Errorf("IXFR not allowed: %s, want REFUSED", dns.RcodeToString[resp.Rcode])
	}
	f.allow = true
	resp = unpack(t, s.Respond(nil, q, xfrClient))
	if resp.Rcode != dns.RcodeSuccess || len(resp.Answer) != 1 || resp.Answer[0].Header().Rrtype != dns.TypeSOA || !resp.Authoritative {
		t.Errorf("IXFR over UDP: %v, want the SOA alone", resp)
	}
	// Not an apex: NOTAUTH.
	if resp := unpack(t, s.Respond(nil, packQuery(t, "www.example.com.", dns.TypeIXFR), xfrClient)); resp.Rcode != dns.RcodeNotAuth {
		t.Errorf("IXFR below the apex: %s, want NOTAUTH", dns.RcodeToString[resp.Rcode])
	}
}

type msgs [][]byte

func (m *msgs) WriteMsg(b []byte) error { *m = append(*m, append([]byte(nil), b...)); return nil }

func TestServeTransferRouting(t *testing.T) {
	f := &fakeTransfers{}
	s := New(Config{Transfers: f, TSIG: xfrKeyring(t)}, testSet(t), nil)
	tcp := Request{Client: xfrClient.Client, TCP: true}
	var w msgs
	for _, tt := range []struct {
		name    string
		q       []byte
		handled bool
	}{
		{"AXFR at an apex", packQuery(t, "example.com.", dns.TypeAXFR), true},
		{"IXFR at an apex", packQuery(t, "example.org.", dns.TypeIXFR), true},
		{"AXFR below an apex", packQuery(t, "www.example.com.", dns.TypeAXFR), false},
		{"an A query", packQuery(t, "example.com.", dns.TypeA), false},
		{"AXFR with an unknown key", func() []byte { q, _ := signedQuery(t, "example.com.", dns.TypeAXFR, "k9.", time.Now()); return q }(), false},
	} {
		handled, keep := s.ServeTransfer(&w, tt.q, tcp)
		if handled != tt.handled || !keep {
			t.Errorf("%s: handled %v keep %v, want %v true", tt.name, handled, keep, tt.handled)
		}
	}
	if f.served != 2 || len(w) != 2 {
		t.Errorf("served %d, wrote %d, want 2 and 2", f.served, len(w))
	}
	// Without Transfers nothing is handled and Respond refuses.
	s = New(Config{}, testSet(t), nil)
	if handled, _ := s.ServeTransfer(&w, packQuery(t, "example.com.", dns.TypeAXFR), tcp); handled {
		t.Error("handled a transfer without Transfers")
	}
}

func TestUnavailable(t *testing.T) {
	s := New(Config{}, testSet(t), nil)
	// example.com. is served from a file; a secondary below it and one
	// outside everything are not loaded.
	s.SetUnavailable([][]byte{[]byte("\x03sec\x07example\x03com\x00"), []byte("\x05other\x00")})
	for _, tt := range []struct {
		name  string
		rcode int
	}{
		{"www.sec.example.com.", dns.RcodeServerFailure},
		{"sec.example.com.", dns.RcodeServerFailure},
		{"host.example.com.", dns.RcodeSuccess},
		{"a.other.", dns.RcodeServerFailure},
		{"child.example.com.", dns.RcodeSuccess}, // a zone of its own, more specific
		{"nowhere.", dns.RcodeRefused},
	} {
		resp := unpack(t, s.Respond(nil, packQuery(t, tt.name, dns.TypeSOA), xfrClient))
		if resp.Rcode != tt.rcode {
			t.Errorf("%s: %s, want %s", tt.name, dns.RcodeToString[resp.Rcode], dns.RcodeToString[tt.rcode])
		}
	}
	if resp := unpack(t, s.Respond(nil, packQuery(t, "other.", dns.TypeAXFR), Request{TCP: true})); resp.Rcode != dns.RcodeServerFailure {
		t.Errorf("AXFR of an unavailable zone: %s, want SERVFAIL", dns.RcodeToString[resp.Rcode])
	}
	s.SetUnavailable(nil)
	if resp := unpack(t, s.Respond(nil, packQuery(t, "a.other.", dns.TypeA), xfrClient)); resp.Rcode != dns.RcodeRefused {
		t.Errorf("after SetUnavailable(nil): %s, want REFUSED", dns.RcodeToString[resp.Rcode])
	}
}

// TestRespondStillZeroAlloc: the hooks cost the plain query path nothing.
func TestRespondStillZeroAlloc(t *testing.T) {
	s := New(Config{TSIG: xfrKeyring(t), Transfers: &fakeTransfers{}}, testSet(t), nil)
	s.SetUnavailable([][]byte{[]byte("\x05other\x00")})
	dst := make([]byte, 0, 4096)
	for _, q := range [][]byte{
		packQuery(t, "host.example.com.", dns.TypeA, withEDNS(1232, false)),
		packQuery(t, "nx.example.com.", dns.TypeA),
		packQuery(t, "a.other.", dns.TypeA),
	} {
		if n := testing.AllocsPerRun(1000, func() { s.Respond(dst, q, xfrClient) }); n != 0 {
			t.Errorf("Respond(%x...): %v allocations, want 0", q[12:20], n)
		}
	}
}
