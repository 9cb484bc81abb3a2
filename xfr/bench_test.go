package xfr

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/zone"
)

// benchZone builds a zone of n hosts (A, AAAA and TXT each).
func benchZone(b testing.TB, n int) *zone.Zone {
	var sb strings.Builder
	sb.WriteString("$ORIGIN bench.test.\n$TTL 300\n@ IN SOA ns1 hostmaster 1 3600 600 86400 60\n@ IN NS ns1\nns1 IN A 198.18.0.1\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&sb, "h%d IN A 198.18.%d.%d\nh%d IN AAAA 2001:2::%x\nh%d IN TXT \"host %d\"\n", i, i/250%256, i%250, i, i, i, i)
	}
	return parseZone(b, "bench.test.", sb.String())
}

// BenchmarkTransferOut measures writing an AXFR answer (records/s).
func BenchmarkTransferOut(b *testing.B) {
	z := benchZone(b, 20000)
	now := func() time.Time { return time.Unix(1_700_000_000, 0) }
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var w discard
		x := newXfrWriter(&w, nil, now, 1, nil)
		if err := writeAXFR(x, z); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(z.Records()*b.N)/b.Elapsed().Seconds(), "records/s")
}

type discard struct{ n int }

func (d *discard) WriteMsg(m []byte) error { d.n += len(m); return nil }

// BenchmarkTransferIn measures what a secondary does with an AXFR answer:
// parse every message, follow the stream, build the zone (records/s).
func BenchmarkTransferIn(b *testing.B) {
	z := benchZone(b, 20000)
	now := func() time.Time { return time.Unix(1_700_000_000, 0) }
	var w capture
	if err := writeAXFR(newXfrWriter(&w, nil, now, 1, nil), z); err != nil {
		b.Fatal(err)
	}
	origin := []byte(z.Origin)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		st := &inStream{zone: origin, qtype: dnswire.TypeAXFR}
		var a arena
		for _, m := range w.msgs {
			pm, err := parseMessage(m, &a)
			if err != nil {
				b.Fatal(err)
			}
			for j := range pm.answer {
				if err := st.add(&pm.answer[j]); err != nil {
					b.Fatal(err)
				}
			}
		}
		if _, err := buildZone(origin, "bench", st.first, st.records); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(z.Records()*b.N)/b.Elapsed().Seconds(), "records/s")
}
