package tsig

import (
	"testing"
	"time"

	"github.com/miekg/dns"
)

// FuzzVerify feeds arbitrary messages to the server's and the client's
// checks: no panic, no out-of-range read, and a verdict consistent with
// Find.
func FuzzVerify(f *testing.F) {
	key := mustKey(f, "k.:hmac-sha256:"+secret64)
	ring := mustRing(f, key)
	signed, _, _ := SignRequest(query(f, "example.", dns.TypeAXFR, 1), key, now)
	f.Add(signed)
	f.Add(query(f, "example.", dns.TypeSOA, 2))
	m := new(dns.Msg)
	m.SetQuestion("example.", dns.TypeSOA)
	b, _ := miekgSign(f, m, "other.", dns.HmacSHA1, secret64, now, "", false)
	f.Add(b)
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		rec, ok, err := Find(msg)
		if ok && err == nil && (rec.Offset < 12 || rec.Offset >= len(msg)) {
			t.Fatalf("Find: offset %d outside a %d-octet message", rec.Offset, len(msg))
		}
		s, verr := ring.Verify(msg, now)
		if !ok && (s != nil || verr != nil) {
			t.Fatalf("no TSIG found but Verify = %v, %v", s, verr)
		}
		if s != nil {
			// Whatever the verdict, the answer can be signed.
			resp := []byte{msg[0], msg[1], 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0}
			out, err := s.Sign(resp, now)
			if err != nil {
				t.Fatal(err)
			}
			if _, ok, err := Find(out); !ok || err != nil {
				t.Fatalf("our signed answer: Find = %v, %v", ok, err)
			}
		}
		// As a client that sent signed and gets msg back.
		_, cs, _ := SignRequest(query(t, "example.", dns.TypeAXFR, 1), key, time.Unix(0, 0))
		_ = cs.Verify(msg, now)
		_ = cs.Verify(msg, now)
	})
}
