package tsig

import (
	"bytes"
	"crypto/hmac"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

var now = time.Unix(1_700_000_000, 0)

const secret64 = "c2VjcmV0LWtleS1mb3ItdGFwZG5zLXRlc3RzLTAxMjM0NTY3ODk="

func mustKey(t testing.TB, s string) *Key {
	t.Helper()
	k, err := ParseKey(s)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func mustRing(t testing.TB, keys ...*Key) *Keyring {
	t.Helper()
	r, err := NewKeyring(keys...)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// query returns a packed query for qname/qtype with ID id.
func query(t testing.TB, qname string, qtype uint16, id uint16) []byte {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(qname, qtype)
	m.Id = id
	m.SetEdns0(1232, false)
	b, err := m.Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// miekgSign signs m as miekg/dns does, at time ts.
func miekgSign(t testing.TB, m *dns.Msg, key, alg, secret string, ts time.Time, reqMAC string, timersOnly bool) ([]byte, string) {
	t.Helper()
	m.SetTsig(key, alg, 300, ts.Unix())
	b, mac, err := dns.TsigGenerate(m, secret, reqMAC, timersOnly)
	if err != nil {
		t.Fatal(err)
	}
	return b, mac
}

func TestParseKey(t *testing.T) {
	tests := []struct {
		in      string
		name    string
		alg     Algorithm
		wantErr string
	}{
		{in: "k1:hmac-sha256:" + secret64, name: "\x02k1\x00", alg: HMACSHA256},
		{in: "Key.Example.:HMAC-SHA512.:" + secret64, name: "\x03key\x07example\x00", alg: HMACSHA512},
		{in: "k:hmac-sha1:" + secret64, name: "\x01k\x00", alg: HMACSHA1},
		{in: "k:hmac-sha384:" + secret64, name: "\x01k\x00", alg: HMACSHA384},
		{in: "k:hmac-md5:" + secret64, wantErr: "unknown TSIG algorithm"},
		{in: "k:hmac-sha256", wantErr: "want NAME:ALGORITHM:BASE64SECRET"},
		{in: "k:hmac-sha256:not*base64", wantErr: "not base64"},
		{in: "k:hmac-sha256:", wantErr: "empty secret"},
		{in: ":hmac-sha256:" + secret64, wantErr: "empty name"},
		{in: "a..b:hmac-sha256:" + secret64, wantErr: "empty label"},
	}
	for _, tt := range tests {
		k, err := ParseKey(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseKey(%q) = %v, want error containing %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseKey(%q): %v", tt.in, err)
			continue
		}
		if k.Name != tt.name || k.Algorithm != tt.alg {
			t.Errorf("ParseKey(%q) = %q %v, want %q %v", tt.in, k.Name, k.Algorithm, tt.name, tt.alg)
		}
	}
	if _, err := NewKeyring(mustKey(t, "k:hmac-sha1:"+secret64), mustKey(t, "K.:hmac-sha256:"+secret64)); err == nil {
		t.Error("NewKeyring accepted two keys of the same name")
	}
}

// TestRequestInterop: requests signed by miekg/dns verify here, ours verify
// there, and each failure gives the error RFC 8945 5.2 prescribes.
func TestRequestInterop(t *testing.T) {
	for _, alg := range []string{dns.HmacSHA1, dns.HmacSHA256, dns.HmacSHA384, dns.HmacSHA512} {
		t.Run(alg, func(t *testing.T) {
			key := mustKey(t, "tkey.example.:"+strings.TrimSuffix(alg, ".")+":"+secret64)
			ring := mustRing(t, key)

			m := new(dns.Msg)
			m.SetQuestion("example.", dns.TypeAXFR)
			m.Id = 4242
			signed, _ := miekgSign(t, m, "tkey.example.", alg, secret64, now, "", false)
			s, err := ring.Verify(signed, now.Add(100*time.Second))
			if err != nil || s == nil || s.Err() != NoError || s.Key() != key {
				t.Fatalf("Verify(miekg request) = %v, %v; want a NoError session", s, err)
			}

			// Ours, verified by miekg/dns.
			ours, _, err := SignRequest(query(t, "example.", dns.TypeSOA, 7), key, time.Now())
			if err != nil {
				t.Fatal(err)
			}
			if err := dns.TsigVerify(clone(ours), secret64, "", false); err != nil {
				t.Errorf("miekg TsigVerify(our request): %v", err)
			}
			// And by ourselves.
			if s, err := ring.Verify(ours, time.Now()); err != nil || s.Err() != NoError {
				t.Errorf("Verify(our request) = %v, %v", s, err)
			}

			tests := []struct {
				name string
				msg  []byte
				at   time.Time
				want Error
			}{
				{"skew", signed, now.Add(301 * time.Second), BadTime},
				{"skew back", signed, now.Add(-301 * time.Second), BadTime},
				{"tampered", tamper(signed, 13), now, BadSig},
				{"unknown key", func() []byte {
					m := new(dns.Msg)
					m.SetQuestion("example.", dns.TypeSOA)
					b, _ := miekgSign(t, m, "other.", alg, secret64, now, "", false)
					return b
				}(), now, BadKey},
				{"wrong secret", func() []byte {
					m := new(dns.Msg)
					m.SetQuestion("example.", dns.TypeSOA)
					b, _ := miekgSign(t, m, "tkey.example.", alg, base64.StdEncoding.EncodeToString([]byte("wrong")), now, "", false)
					return b
				}(), now, BadSig},
			}
			for _, tt := range tests {
				s, err := ring.Verify(tt.msg, tt.at)
				if err != nil || s == nil {
					t.Errorf("%s: Verify = %v, %v", tt.name, s, err)
					continue
				}
				if s.Err() != tt.want {
					t.Errorf("%s: Err() = %v, want %v", tt.name, s.Err(), tt.want)
				}
			}
		})
	}
}

// TestWrongAlgorithm: a known key name with another algorithm is BADKEY.
func TestWrongAlgorithm(t *testing.T) {
	ring := mustRing(t, mustKey(t, "k.:hmac-sha256:"+secret64))
	m := new(dns.Msg)
	m.SetQuestion("example.", dns.TypeSOA)
	b, _ := miekgSign(t, m, "k.", dns.HmacSHA512, secret64, now, "", false)
	s, err := ring.Verify(b, now)
	if err != nil || s.Err() != BadKey {
		t.Fatalf("Verify = %v, %v; want BADKEY", s, err)
	}
}

// clone copies b for miekg/dns's TsigVerify, which rewrites the message
// it checks.
func clone(b []byte) []byte { return append([]byte(nil), b...) }

func tamper(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x20
	return c
}

// TestResponsesInterop: a multi-message response signed here verifies with
// miekg/dns (first message with the request MAC, later ones timers only),
// and one signed by miekg/dns verifies here.
func TestResponsesInterop(t *testing.T) {
	key := mustKey(t, "k.:hmac-sha256:"+secret64)
	ring := mustRing(t, key)
	m := new(dns.Msg)
	m.SetQuestion("example.", dns.TypeAXFR)
	req, reqMAC := miekgSign(t, m, "k.", dns.HmacSHA256, secret64, time.Now(), "", false)

	s, err := ring.Verify(req, time.Now())
	if err != nil || s.Err() != NoError {
		t.Fatalf("Verify: %v %v", s, err)
	}
	prev := reqMAC
	for i := 0; i < 4; i++ {
		r := new(dns.Msg)
		r.SetReply(m)
		r.Answer = append(r.Answer, &dns.A{Hdr: dns.RR_Header{Name: "a.example.", Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60}, A: []byte{198, 18, 0, byte(i)}})
		wire, err := r.Pack()
		if err != nil {
			t.Fatal(err)
		}
		signed, err := s.Sign(wire, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		if err := dns.TsigVerify(clone(signed), secret64, prev, i > 0); err != nil {
			t.Fatalf("message %d: miekg TsigVerify: %v", i, err)
		}
		var parsed dns.Msg
		if err := parsed.Unpack(signed); err != nil {
			t.Fatal(err)
		}
		prev = parsed.IsTsig().MAC
	}

	// miekg/dns as the server, us as the client.
	out, cs, err := SignRequest(query(t, "example.", dns.TypeAXFR, 99), key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var qm dns.Msg
	if err := qm.Unpack(out); err != nil {
		t.Fatal(err)
	}
	prev = qm.IsTsig().MAC
	for i := 0; i < 3; i++ {
		r := new(dns.Msg)
		r.SetReply(&qm)
		r.Extra = nil
		r.Answer = append(r.Answer, &dns.TXT{Hdr: dns.RR_Header{Name: "example.", Rrtype: dns.TypeTXT, Class: dns.ClassINET}, Txt: []string{"m"}})
		b, mac := miekgSign(t, r, "k.", dns.HmacSHA256, secret64, time.Now(), prev, i > 0)
		if err := cs.Verify(b, time.Now()); err != nil {
			t.Fatalf("response %d: Verify: %v", i, err)
		}
		prev = mac
	}
	if err := cs.Done(); err != nil {
		t.Errorf("Done: %v", err)
	}
}

// TestUnsignedIntermediate: a client accepts unsigned messages between
// signed ones and checks the next signed one over all of them (RFC 8945
// 5.3.1, as NSD sends transfers), and refuses an exchange ending unsigned.
func TestUnsignedIntermediate(t *testing.T) {
	key := mustKey(t, "k.:hmac-sha256:"+secret64)
	req, cs, err := SignRequest(query(t, "example.", dns.TypeAXFR, 1), key, now)
	if err != nil {
		t.Fatal(err)
	}
	ring := mustRing(t, key)
	ss, err := ring.Verify(req, now)
	if err != nil || ss.Err() != NoError {
		t.Fatal(ss, err)
	}
	// Response messages: headers only, told apart by their flags' low byte.
	msg := func(i byte) []byte { return []byte{0, 1, 0x84, i, 0, 0, 0, 0, 0, 0, 0, 0} }
	first, err := ss.Sign(msg(0), now)
	if err != nil {
		t.Fatal(err)
	}
	if err := cs.Verify(first, now); err != nil {
		t.Fatal(err)
	}
	rec, _, _ := Find(first)
	m1, m2, m3 := msg(1), msg(2), msg(3)
	for i, m := range [][]byte{m1, m2} {
		if err := cs.Verify(m, now); err != nil {
			t.Fatalf("unsigned %d: %v", i+1, err)
		}
	}
	if cs.Done() == nil {
		t.Error("Done after unsigned messages = nil, want an error")
	}
	// The server's MAC: prior MAC, m1, m2, m3, then the timers.
	h := key.Algorithm.newHMAC(key.Secret)
	writeMAC(h, rec.MAC)
	h.Write(m1)
	h.Write(m2)
	h.Write(m3)
	writeTimers(h, unix(now), DefaultFudge)
	sum := h.Sum(nil)
	signed := func(mac []byte) []byte {
		return appendRecord(msg(3), []byte(key.Name), key.Algorithm.wireName(), unix(now), DefaultFudge, mac, 1, NoError, nil)
	}
	if err := cs.Verify(signed(sum), now); err != nil {
		t.Fatalf("signed after unsigned: %v", err)
	}
	if err := cs.Done(); err != nil {
		t.Errorf("Done: %v", err)
	}

	// A MAC over m3 alone (the unsigned messages left out) fails.
	req2, cs2, _ := SignRequest(query(t, "example.", dns.TypeAXFR, 1), key, now)
	ss2, _ := ring.Verify(req2, now)
	first2, _ := ss2.Sign(msg(0), now)
	rec2, _, _ := Find(first2)
	if err := cs2.Verify(first2, now); err != nil {
		t.Fatal(err)
	}
	for _, m := range [][]byte{m1, m2} {
		if err := cs2.Verify(m, now); err != nil {
			t.Fatal(err)
		}
	}
	h2 := key.Algorithm.newHMAC(key.Secret)
	writeMAC(h2, rec2.MAC)
	h2.Write(m3)
	writeTimers(h2, unix(now), DefaultFudge)
	var re *ResponseError
	if err := cs2.Verify(signed(h2.Sum(nil)), now); !errors.As(err, &re) || re.Err != BadSig {
		t.Errorf("MAC without the unsigned messages: %v, want BADSIG", err)
	}
}

// TestUnsignedLimit: 100 unsigned messages in a row are refused.
func TestUnsignedLimit(t *testing.T) {
	key := mustKey(t, "k.:hmac-sha256:"+secret64)
	req, cs, _ := SignRequest(query(t, "example.", dns.TypeAXFR, 1), key, now)
	ss, _ := mustRing(t, key).Verify(req, now)
	first, _ := ss.Sign(make([]byte, 12), now)
	if err := cs.Verify(first, now); err != nil {
		t.Fatal(err)
	}
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = cs.Verify(make([]byte, 12), now)
	}
	if !errors.Is(err, ErrUnsigned) {
		t.Errorf("100 unsigned messages: %v, want ErrUnsigned", err)
	}
	// The first response must be signed.
	_, cs, _ = SignRequest(query(t, "example.", dns.TypeAXFR, 1), key, now)
	if err := cs.Verify(make([]byte, 12), now); !errors.Is(err, ErrUnsigned) {
		t.Errorf("unsigned first response: %v, want ErrUnsigned", err)
	}
}

// TestErrorResponses checks the shape of the §5.2 answers: BADKEY and
// BADSIG unsigned with MAC size 0, BADTIME signed (miekg/dns verifies its
// MAC and only objects to the time) with the request's Time Signed and the
// server's time in Other Data.
func TestErrorResponses(t *testing.T) {
	key := mustKey(t, "k.:hmac-sha256:"+secret64)
	ring := mustRing(t, key)
	old := now.Add(-time.Hour)
	m := new(dns.Msg)
	m.SetQuestion("example.", dns.TypeSOA)
	req, reqMAC := miekgSign(t, m, "k.", dns.HmacSHA256, secret64, old, "", false)

	s, err := ring.Verify(req, now)
	if err != nil || s.Err() != BadTime {
		t.Fatalf("Verify = %v %v, want BADTIME", s, err)
	}
	resp := new(dns.Msg)
	resp.SetRcode(m, dns.RcodeNotAuth)
	resp.Extra = nil
	wire, _ := resp.Pack()
	signed, err := s.Sign(wire, now)
	if err != nil {
		t.Fatal(err)
	}
	var got dns.Msg
	if err := got.Unpack(signed); err != nil {
		t.Fatal(err)
	}
	ts := got.IsTsig()
	if ts == nil || ts.Error != dns.RcodeBadTime || ts.TimeSigned != uint64(old.Unix()) || ts.OtherLen != 6 || ts.MACSize != 32 {
		t.Errorf("BADTIME TSIG = %v", ts)
	}
	if want := hex.EncodeToString(appendTime(nil, unix(now))); ts != nil && ts.OtherData != want {
		t.Errorf("BADTIME Other Data = %s, want %s", ts.OtherData, want)
	}
	// miekg/dns refuses to check any NOTAUTH message, so it checks the
	// same signature over the message with rcode NOERROR.
	s, _ = ring.Verify(req, now)
	resp.Rcode = dns.RcodeSuccess
	wire0, _ := resp.Pack()
	signed0, err := s.Sign(wire0, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := dns.TsigVerify(signed0, secret64, reqMAC, false); !errors.Is(err, dns.ErrTime) {
		t.Errorf("miekg TsigVerify(BADTIME response) = %v, want ErrTime (MAC good, time old)", err)
	}

	for _, tt := range []struct {
		name string
		req  []byte
		want Error
	}{
		{"BADSIG", tamper(req, 21), BadSig},
		{"BADKEY", func() []byte {
			m := new(dns.Msg)
			m.SetQuestion("example.", dns.TypeSOA)
			b, _ := miekgSign(t, m, "nokey.", dns.HmacSHA256, secret64, now, "", false)
			return b
		}(), BadKey},
	} {
		s, err := ring.Verify(tt.req, now)
		if err != nil || s.Err() != tt.want {
			t.Errorf("%s: Verify = %v %v", tt.name, s, err)
			continue
		}
		signed, err := s.Sign(wire, now)
		if err != nil {
			t.Fatal(err)
		}
		var got dns.Msg
		if err := got.Unpack(signed); err != nil {
			t.Fatal(err)
		}
		ts := got.IsTsig()
		if ts == nil || ts.Error != uint16(tt.want) || ts.MACSize != 0 || ts.MAC != "" {
			t.Errorf("%s: TSIG = %v, want error %v and no MAC", tt.name, ts, tt.want)
		}
	}
	if len(signed) > len(wire)+s.Overhead() {
		t.Errorf("signed grew by %d, Overhead says %d", len(signed)-len(wire), s.Overhead())
	}
}

// TestTruncatedMAC: MACs truncated to at least max(10, half) verify; shorter
// or longer ones are FORMERR (RFC 8945 5.2.2.1).
func TestTruncatedMAC(t *testing.T) {
	key := mustKey(t, "k.:hmac-sha256:"+secret64)
	ring := mustRing(t, key)
	base := query(t, "example.", dns.TypeSOA, 5)
	full := key.Algorithm.newHMAC(key.Secret)
	full.Write(base)
	writeVariables(full, []byte(key.Name), key.Algorithm.wireName(), unix(now), 300, NoError, nil)
	sum := full.Sum(nil)
	for _, tt := range []struct {
		n    int
		want error
	}{{32, nil}, {16, nil}, {15, ErrFormat}, {10, ErrFormat}, {33, ErrFormat}} {
		mac := append([]byte(nil), sum...)
		if tt.n > 32 {
			mac = append(mac, 0)
		} else {
			mac = mac[:tt.n]
		}
		msg := appendRecord(append([]byte(nil), base...), []byte(key.Name), key.Algorithm.wireName(), unix(now), 300, mac, 5, NoError, nil)
		s, err := ring.Verify(msg, now)
		if err != tt.want {
			t.Errorf("MAC of %d octets: Verify err = %v, want %v", tt.n, err, tt.want)
			continue
		}
		if err == nil && s.Err() != NoError {
			t.Errorf("MAC of %d octets: %v", tt.n, s.Err())
		}
		if err == nil && !hmac.Equal(s.mac, mac) {
			t.Errorf("MAC of %d octets: session keeps %x", tt.n, s.mac)
		}
	}
}

// TestFindPlacement: a TSIG record that is not the last record is FORMERR.
func TestFindPlacement(t *testing.T) {
	key := mustKey(t, "k.:hmac-sha256:"+secret64)
	signed, _, _ := SignRequest(query(t, "example.", dns.TypeSOA, 1), key, now)
	rec, ok, err := Find(signed)
	if !ok || err != nil {
		t.Fatalf("Find = %v %v", ok, err)
	}
	// Append an A record after the TSIG.
	extra := append(append([]byte(nil), signed...), 0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4)
	extra[11]++
	if _, ok, err := Find(extra); !ok || err != ErrFormat {
		t.Errorf("TSIG not last: Find = %v %v, want ErrFormat", ok, err)
	}
	// Two TSIGs.
	two := append(append([]byte(nil), signed...), signed[rec.Offset:]...)
	two[11]++
	if _, _, err := Find(two); err != ErrFormat {
		t.Errorf("two TSIGs: Find err = %v, want ErrFormat", err)
	}
	// A TSIG in the answer section: move the count.
	ans := append([]byte(nil), signed...)
	ans[7], ans[11] = 1, ans[11]-1
	// the OPT then the TSIG: the answer section now holds the OPT; the TSIG
	// is the last record of the additional section still. Make the TSIG
	// the only answer instead.
	ans = append([]byte(nil), signed[:12]...)
	ans[6], ans[7], ans[10], ans[11] = 0, 1, 0, 0
	q := signed[12:]
	qn := bytes.IndexByte(q, 0) + 5
	ans = append(ans, q[:qn]...)
	ans = append(ans, signed[rec.Offset:]...)
	if _, _, err := Find(ans); err != ErrFormat {
		t.Errorf("TSIG in the answer section: Find err = %v, want ErrFormat", err)
	}
	if _, ok, err := Find(query(t, "example.", dns.TypeSOA, 1)); ok || err != nil {
		t.Errorf("no TSIG: Find = %v %v", ok, err)
	}
}

func TestNilKeyring(t *testing.T) {
	var r *Keyring
	m := new(dns.Msg)
	m.SetQuestion("example.", dns.TypeSOA)
	b, _ := miekgSign(t, m, "k.", dns.HmacSHA256, secret64, now, "", false)
	s, err := r.Verify(b, now)
	if err != nil || s.Err() != BadKey {
		t.Errorf("nil keyring: %v %v, want BADKEY", s, err)
	}
}

func TestErrorString(t *testing.T) {
	for e, want := range map[Error]string{BadSig: "BADSIG", BadKey: "BADKEY", BadTime: "BADTIME", BadTrunc: "BADTRUNC", NoError: "NOERROR", 9: "RCODE9"} {
		if got := e.String(); got != want {
			t.Errorf("Error(%d).String() = %q, want %q", uint16(e), got, want)
		}
	}
	if HMACSHA384.String() != "hmac-sha384" || Algorithm(9).String() != "Algorithm(9)" {
		t.Error("Algorithm.String")
	}
}
