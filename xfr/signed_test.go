package xfr

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/zone"
)

// TestSignedZoneTransfer: an AXFR of a signed zone carries every DNSSEC
// record (DNSKEY, RRSIG with the TTL of the RRset each covers, NSEC,
// NSEC3, NSEC3PARAM, DS), and the zone a secondary builds from it is
// signed and holds the same records.
func TestSignedZoneTransfer(t *testing.T) {
	files, err := filepath.Glob("../zone/testdata/signed/*.zone")
	if err != nil || len(files) == 0 {
		t.Fatalf("no signed test zones: %v", err)
	}
	now := func() time.Time { return time.Unix(1_700_000_000, 0) }
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			src, err := zone.LoadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if !src.Signed() {
				t.Fatalf("%s does not load as a signed zone", f)
			}
			origin := []byte(src.Origin)
			q := newQuery(9, dnswire.OpcodeQuery, origin, dnswire.TypeAXFR, nil, nil)
			var w capture
			if err := writeAXFR(newXfrWriter(&w, nil, now, 9, q[12:12+len(origin)+4]), src); err != nil {
				t.Fatal(err)
			}
			st := &inStream{zone: origin, qtype: dnswire.TypeAXFR}
			var a arena
			sigs := 0
			for i, m := range w.msgs {
				pm, err := checkResponse(m, 9, dnswire.OpcodeQuery, nil, now(), &a)
				if err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
				for j := range pm.answer {
					if pm.answer[j].Type == dnswire.TypeRRSIG {
						sigs++
					}
					if err := st.add(&pm.answer[j]); err != nil {
						t.Fatalf("message %d: %v", i, err)
					}
				}
				st.endOfMessage()
			}
			if !st.done {
				t.Fatal("stream not complete")
			}
			if sigs == 0 {
				t.Fatal("no RRSIG records in the transfer")
			}
			got, err := buildZone(origin, "test", st.first, st.records)
			if err != nil {
				t.Fatal(err)
			}
			if !got.Signed() {
				t.Error("the transferred zone is not signed")
			}
			sameZone(t, got, src)
		})
	}
}
