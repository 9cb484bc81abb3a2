package xfr

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/tsig"
	"github.com/tapdns/tapdns/zone"
)

func soaRR(t testing.TB, serial uint32) RR {
	t.Helper()
	return soaOf(exampleZone(t, serial))
}

func TestJournal(t *testing.T) {
	d := func(from, to uint32) *Diff { return &Diff{OldSOA: soaRR(t, from), NewSOA: soaRR(t, to)} }
	var j *Journal
	for s := uint32(1); s < 10; s++ {
		j = j.With(d(s, s+1), 5, 0)
	}
	if j.Len() != 5 {
		t.Fatalf("Len = %d, want 5 (bounded)", j.Len())
	}
	if got, ok := j.Serial(); !ok || got != 10 {
		t.Errorf("Serial = %d %v, want 10", got, ok)
	}
	if got := j.Since(4); got != nil {
		t.Errorf("Since(4) = %d diffs, want nil (trimmed)", len(got))
	}
	if got := j.Since(7); len(got) != 3 || got[0].From() != 7 || got[2].To() != 10 {
		t.Errorf("Since(7) = %v", got)
	}
	if got := j.Since(10); got != nil {
		t.Errorf("Since(current) = %v, want nil", got)
	}
	// A gap resets the history.
	j2 := j.With(d(20, 21), 5, 0)
	if j2.Len() != 1 || j.Len() != 5 {
		t.Errorf("after a gap: new Len %d (want 1), old Len %d (want 5, immutable)", j2.Len(), j.Len())
	}
	// Byte bound: keeps the newest, at least one.
	big := d(10, 11)
	big.Add = []RR{{Owner: []byte("\x01a\x07example\x00"), Type: 16, Class: 1, Rdata: make([]byte, 1000)}}
	j3 := j.With(big, 100, 500)
	if j3.Len() != 1 {
		t.Errorf("byte bound: Len %d, want 1", j3.Len())
	}
	var nilJ *Journal
	if nilJ.Since(1) != nil || nilJ.Len() != 0 {
		t.Error("nil journal is not empty")
	}
}

// mutate returns zone text lines changed at random: some records removed,
// some added, a TTL changed.
func randomVersions(t testing.TB, r *rand.Rand, n int) []*zone.Zone {
	lines := map[string]bool{}
	for i := 0; i < 30; i++ {
		lines[fmt.Sprintf("h%d IN A 198.18.%d.%d", i, i/250, i%250)] = true
	}
	var zones []*zone.Zone
	for v := 0; v < n; v++ {
		var extra []string
		for l := range lines {
			extra = append(extra, l)
		}
		zones = append(zones, exampleZone(t, uint32(100+v), extra...))
		for k := 0; k < 5; k++ {
			i := r.IntN(40)
			l := fmt.Sprintf("h%d IN A 198.18.%d.%d", i, i/250, i%250)
			lines[l] = !lines[l]
			if !lines[l] {
				delete(lines, l)
			}
			lines[fmt.Sprintf("t%d %d IN TXT \"v%d\"", r.IntN(5), 60+r.IntN(3), v)] = true
		}
	}
	return zones
}

// TestDiffApply: the difference between two versions, applied to the
// first, gives the second; a chain of differences applies in one go.
func TestDiffApply(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	zones := randomVersions(t, r, 8)
	var diffs []*Diff
	for i := 1; i < len(zones); i++ {
		d := zoneDiff(zones[i-1], zones[i])
		diffs = append(diffs, d)
		got, err := applyDiffs(zones[i-1], "test", []*Diff{d})
		if err != nil {
			t.Fatalf("version %d: %v", i, err)
		}
		sameZone(t, got, zones[i])
	}
	got, err := applyDiffs(zones[0], "test", diffs)
	if err != nil {
		t.Fatal(err)
	}
	sameZone(t, got, zones[len(zones)-1])

	// A deletion of a record that is not there fails.
	bad := *diffs[0]
	bad.Del = append([]RR{{Owner: []byte("\x07missing\x07example\x00"), Type: dnswire.TypeA, Class: 1, TTL: 300, Rdata: []byte{1, 2, 3, 4}}}, bad.Del...)
	if _, err := applyDiffs(zones[0], "test", []*Diff{&bad}); err == nil || !strings.Contains(err.Error(), "missing.example.") {
		t.Errorf("deleting a missing record: err = %v", err)
	}
	// A difference from another serial does not apply.
	if _, err := applyDiffs(zones[1], "test", diffs[2:3]); err == nil {
		t.Error("a difference from another serial applied")
	}
}

// TestTransferRoundTrip writes AXFR and IXFR answers (signed) as a primary
// does and reads them back as a secondary does.
func TestTransferRoundTrip(t *testing.T) {
	key, _ := tsig.ParseKey("k:hmac-sha256:" + "c2VjcmV0LWtleS1mb3ItdGFwZG5zLXRlc3RzLTAxMjM0NTY3ODk=")
	ring, _ := tsig.NewKeyring(key)
	now := func() time.Time { return time.Unix(1_700_000_000, 0) }
	r := rand.New(rand.NewPCG(3, 4))
	zones := randomVersions(t, r, 4)
	// Pad the last version so that its AXFR needs several messages.
	var extra []string
	for i := 0; i < 3000; i++ {
		extra = append(extra, fmt.Sprintf("pad%d IN TXT \"%s\"", i, strings.Repeat("x", 40)))
	}
	big := exampleZone(t, 200, extra...)

	origin := []byte("\x07example\x00")
	run := func(t *testing.T, z *zone.Zone, qtype uint16, have *RR, diffs []*Diff) *inResult {
		t.Helper()
		id := uint16(77)
		q := newQuery(id, dnswire.OpcodeQuery, origin, qtype, nil, have)
		signed, cs, err := tsig.SignRequest(q, key, now())
		if err != nil {
			t.Fatal(err)
		}
		ss, err := ring.Verify(signed, now())
		if err != nil || ss.Err() != tsig.NoError {
			t.Fatal(ss, err)
		}
		var w capture
		x := newXfrWriter(&w, ss, now, id, q[12:12+len(origin)+4])
		if qtype == dnswire.TypeAXFR || (diffs == nil && have != nil && serialLess(soaSerial(have), z.Serial)) {
			err = writeAXFR(x, z)
		} else {
			err = writeIXFR(x, z, diffs)
		}
		if err != nil {
			t.Fatal(err)
		}
		st := &inStream{zone: origin, qtype: qtype}
		if have != nil {
			st.have = soaSerial(have)
		}
		var a arena
		for i, m := range w.msgs {
			if len(m) > dnswire.MaxMsgLen {
				t.Fatalf("message %d: %d octets", i, len(m))
			}
			pm, err := checkResponse(m, id, dnswire.OpcodeQuery, cs, now(), &a)
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			for j := range pm.answer {
				if err := st.add(&pm.answer[j]); err != nil {
					t.Fatalf("message %d: %v", i, err)
				}
			}
			st.endOfMessage()
		}
		if !st.done {
			t.Fatal("stream not complete")
		}
		if err := cs.Done(); err != nil {
			t.Fatal(err)
		}
		return &inResult{upToDate: st.upToDate, full: st.records, diffs: st.diffs, soa: st.first, msgs: len(w.msgs)}
	}

	t.Run("AXFR", func(t *testing.T) {
		res := run(t, big, dnswire.TypeAXFR, nil, nil)
		if res.msgs < 2 {
			t.Errorf("%d messages, want several", res.msgs)
		}
		got, err := buildZone(origin, "test", res.soa, res.full)
		if err != nil {
			t.Fatal(err)
		}
		sameZone(t, got, big)
	})
	t.Run("IXFR", func(t *testing.T) {
		var diffs []*Diff
		for i := 1; i < len(zones); i++ {
			diffs = append(diffs, zoneDiff(zones[i-1], zones[i]))
		}
		have := soaOf(zones[0])
		last := zones[len(zones)-1]
		res := run(t, last, dnswire.TypeIXFR, &have, diffs)
		if len(res.diffs) != len(diffs) {
			t.Fatalf("%d differences, want %d", len(res.diffs), len(diffs))
		}
		got, err := applyDiffs(zones[0], "test", res.diffs)
		if err != nil {
			t.Fatal(err)
		}
		sameZone(t, got, last)
	})
	t.Run("IXFR up to date", func(t *testing.T) {
		have := soaOf(zones[3])
		res := run(t, zones[3], dnswire.TypeIXFR, &have, nil)
		if !res.upToDate {
			t.Error("not up to date")
		}
	})
	t.Run("IXFR as AXFR", func(t *testing.T) {
		have := soaOf(zones[0])
		res := run(t, big, dnswire.TypeIXFR, &have, nil)
		if res.diffs != nil || res.full == nil {
			t.Fatal("not an AXFR-form answer")
		}
		got, err := buildZone(origin, "test", res.soa, res.full)
		if err != nil {
			t.Fatal(err)
		}
		sameZone(t, got, big)
	})
}

// TestInStreamErrors: broken answers are refused.
func TestInStreamErrors(t *testing.T) {
	origin := []byte("\x07example\x00")
	soa1, soa2 := soaRR(t, 1), soaRR(t, 2)
	a := RR{Owner: []byte("\x01a\x07example\x00"), Type: dnswire.TypeA, Class: 1, TTL: 60, Rdata: []byte{1, 2, 3, 4}}
	out := RR{Owner: []byte("\x01a\x05other\x00"), Type: dnswire.TypeA, Class: 1, TTL: 60, Rdata: []byte{1, 2, 3, 4}}
	ch := a
	ch.Class = 3
	tests := []struct {
		name  string
		qtype uint16
		rrs   []RR
	}{
		{"AXFR without SOA first", dnswire.TypeAXFR, []RR{a, soa1}},
		{"AXFR closing serial differs", dnswire.TypeAXFR, []RR{soa2, a, soa1}},
		{"record after the end", dnswire.TypeAXFR, []RR{soa1, a, soa1, a}},
		{"out of zone", dnswire.TypeAXFR, []RR{soa1, out, soa1}},
		{"class CH", dnswire.TypeAXFR, []RR{soa1, ch, soa1}},
		{"IXFR from another serial", dnswire.TypeIXFR, []RR{soa2, soa2, soa2}},
	}
	for _, tt := range tests {
		st := &inStream{zone: origin, qtype: tt.qtype, have: 1}
		var err error
		for i := range tt.rrs {
			if err = st.add(&tt.rrs[i]); err != nil {
				break
			}
		}
		if err == nil {
			t.Errorf("%s: accepted", tt.name)
		}
	}
}
