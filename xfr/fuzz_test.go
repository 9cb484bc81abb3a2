package xfr

import (
	"encoding/binary"
	"net/netip"
	"os"
	"testing"
	"time"

	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/zone"
)

// frames splits b into length-prefixed messages, as read from TCP.
func frames(b []byte) [][]byte {
	var out [][]byte
	for len(b) >= 2 {
		n := int(binary.BigEndian.Uint16(b))
		b = b[2:]
		if n > len(b) {
			n = len(b)
		}
		out = append(out, b[:n])
		b = b[n:]
	}
	return out
}

func framed(msgs [][]byte) []byte {
	var out []byte
	for _, m := range msgs {
		out = binary.BigEndian.AppendUint16(out, uint16(len(m)))
		out = append(out, m...)
	}
	return out
}

// transferSeeds returns real AXFR and IXFR answers as fuzz seeds.
func transferSeeds(t testing.TB) (base *zone.Zone, seeds [][]byte) {
	v1 := exampleZone(t, 1)
	v2 := exampleZone(t, 2, "new IN A 198.18.0.99", "new IN TXT \"x\"")
	now := func() time.Time { return time.Unix(1_700_000_000, 0) }
	var w capture
	x := newXfrWriter(&w, nil, now, 1, nil)
	if err := writeAXFR(x, v2); err != nil {
		t.Fatal(err)
	}
	seeds = append(seeds, framed(w.msgs))
	w.msgs = nil
	x = newXfrWriter(&w, nil, now, 1, nil)
	if err := writeIXFR(x, v2, []*Diff{zoneDiff(v1, v2)}); err != nil {
		t.Fatal(err)
	}
	seeds = append(seeds, framed(w.msgs))
	return v1, seeds
}

// FuzzTransferIn feeds arbitrary answer streams to what a secondary does
// with them: parse each message, follow the AXFR/IXFR stream, build the
// zone or apply the differences. Nothing may panic, and what is built is
// a zone at the serial the stream announced.
func FuzzTransferIn(f *testing.F) {
	base, seeds := transferSeeds(f)
	for _, s := range seeds {
		f.Add(s, true)
		f.Add(s, false)
	}
	origin := []byte(base.Origin)
	f.Fuzz(func(t *testing.T, stream []byte, ixfr bool) {
		st := &inStream{zone: origin, qtype: dnswire.TypeAXFR}
		if ixfr {
			st.qtype, st.have = dnswire.TypeIXFR, base.Serial
		}
		var a arena
		for _, msg := range frames(stream) {
			m, err := parseMessage(msg, &a)
			if err != nil {
				return
			}
			for i := range m.answer {
				if st.add(&m.answer[i]) != nil {
					return
				}
			}
			st.endOfMessage()
			if st.done {
				break
			}
		}
		if !st.done || st.upToDate {
			return
		}
		var z *zone.Zone
		var err error
		if st.incremental {
			z, err = applyDiffs(base, "fuzz", st.diffs)
		} else {
			z, err = buildZone(origin, "fuzz", st.first, st.records)
		}
		if err == nil && z.Serial != soaSerial(&st.first) {
			t.Fatalf("built serial %d, the stream announced %d", z.Serial, soaSerial(&st.first))
		}
	})
}

// FuzzServeTransfer sends arbitrary queries to the primary's transfer
// code: it answers or refuses, never panics, and what it writes parses.
func FuzzServeTransfer(f *testing.F) {
	v1 := exampleZone(f, 1)
	v2 := exampleZone(f, 2, "new IN A 198.18.0.99")
	s, err := New(Config{AllowTransfer: ACL{{Prefix: netip.MustParsePrefix("0.0.0.0/0")}}}, nil, nil, nil)
	if err != nil {
		f.Fatal(err)
	}
	s.setJournal(v2.Origin, (*Journal)(nil).With(zoneDiff(v1, v2), 0, 0))
	have := soaOf(v1)
	f.Add(newQuery(1, dnswire.OpcodeQuery, []byte(v2.Origin), dnswire.TypeIXFR, nil, &have))
	f.Add(newQuery(2, dnswire.OpcodeQuery, []byte(v2.Origin), dnswire.TypeAXFR, nil, nil))
	f.Add(newQuery(3, dnswire.OpcodeQuery, []byte(v2.Origin), dnswire.TypeIXFR, nil, nil))
	client := netip.MustParseAddrPort("198.18.0.9:5300")
	f.Fuzz(func(t *testing.T, q []byte) {
		var w capture
		if err := s.ServeTransfer(&w, v2, q, client, nil); err != nil {
			return
		}
		var a arena
		for i, m := range w.msgs {
			if _, err := parseMessage(m, &a); err != nil {
				t.Fatalf("message %d of the answer does not parse: %v", i, err)
			}
		}
	})
}

// FuzzJournal: arbitrary journal file contents are refused or read, never
// a panic.
func FuzzJournal(f *testing.F) {
	v1, v2 := exampleZone(f, 1), exampleZone(f, 2, "new IN A 198.18.0.99")
	path := f.TempDir() + "/j"
	if err := writeJournalFile(path, (*Journal)(nil).With(zoneDiff(v1, v2), 0, 0)); err != nil {
		f.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := parseJournal("fuzz", data)
		if err == nil {
			for _, d := range j.Diffs() {
				_ = d.From() + d.To()
			}
		}
	})
}
