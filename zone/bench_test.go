package zone

import (
	"bytes"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/metrics"
	"strconv"
	"testing"
	"time"
)

// genZone writes a deterministic zone of n names with about 1.8 records
// per name, in the mix of bench/cmd/zonegen: hosts with A and often AAAA,
// TXT, MX; CNAMEs; delegations with two NS and glue; wildcards. It returns
// the text and the number of records.
func genZone(n int) ([]byte, int) {
	rnd := rand.New(rand.NewPCG(1, 2))
	var b []byte
	b = append(b, "$ORIGIN bench.test.\n$TTL 3600\n@\tSOA\tns1 hostmaster 2026112901 7200 3600 1209600 3600\n"...)
	b = append(b, "@\tNS\tns1\n@\tNS\tns2\nns1\tA\t198.18.255.2\nns2\tA\t198.18.255.3\n"...)
	rrs := 5
	v4 := func(i int) {
		x := uint32(i) % (1 << 17)
		b = append(b, "198."...)
		b = strconv.AppendUint(b, uint64(18+x>>16), 10)
		b = append(b, '.')
		b = strconv.AppendUint(b, uint64(x>>8&0xff), 10)
		b = append(b, '.')
		b = strconv.AppendUint(b, uint64(x&0xff), 10)
		b = append(b, '\n')
	}
	line := func(owner string, i int, typ string) {
		b = append(b, owner...)
		b = strconv.AppendInt(b, int64(i), 10)
		b = append(b, '\t')
		b = append(b, typ...)
		b = append(b, '\t')
		rrs++
	}
	var hosts []int
	for i := 0; i < n; i++ {
		k := rnd.IntN(100)
		switch {
		case k < 70 || len(hosts) == 0:
			line("h", i, "A")
			v4(i)
			if rnd.IntN(100) < 40 {
				line("h", i, "AAAA")
				b = append(b, "2001:2:0:"...)
				b = strconv.AppendUint(b, uint64(i>>16&0xffff), 16)
				b = append(b, "::"...)
				b = strconv.AppendUint(b, uint64(i&0xffff), 16)
				b = append(b, '\n')
			}
			if rnd.IntN(100) < 20 {
				line("h", i, "TXT")
				b = append(b, "\"v=bench1 k="...)
				b = strconv.AppendUint(b, rnd.Uint64(), 36)
				b = append(b, "\"\n"...)
			}
			if rnd.IntN(100) < 10 {
				line("h", i, "MX")
				b = append(b, "10 h"...)
				b = strconv.AppendInt(b, int64(hosts[rnd.IntN(len(hosts))]), 10)
				b = append(b, '\n')
			}
			hosts = append(hosts, i)
		case k < 85:
			line("c", i, "CNAME")
			b = append(b, 'h')
			b = strconv.AppendInt(b, int64(hosts[rnd.IntN(len(hosts))]), 10)
			b = append(b, '\n')
		case k < 95:
			for _, ns := range []string{"ns1.d", "ns2.d"} {
				line("d", i, "NS")
				b = append(b, ns...)
				b = strconv.AppendInt(b, int64(i), 10)
				b = append(b, '\n')
			}
			line("ns1.d", i, "A")
			v4(i)
			line("ns2.d", i, "A")
			v4(i + 1)
		default:
			line("*.w", i, "A")
			v4(i)
			line("*.w", i, "TXT")
			b = append(b, "\"wildcard "...)
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, "\"\n"...)
		}
	}
	return b, rrs
}

func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// BenchmarkLoad parses and compiles a generated zone. ZONE_BENCH_NAMES sets
// the number of names (default 100000); ZONE_BENCH_FILE loads that file
// instead. It reports the resident heap of one compiled zone per record
// (bytes/RR) and the load rate.
func BenchmarkLoad(b *testing.B) {
	n := 100000
	if s := os.Getenv("ZONE_BENCH_NAMES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("ZONE_BENCH_NAMES: %v", err)
		}
		n = v
	}
	file := os.Getenv("ZONE_BENCH_FILE")
	var text []byte
	if file != "" {
		var err error
		if text, err = os.ReadFile(file); err != nil {
			b.Fatal(err)
		}
	} else {
		text, _ = genZone(n)
	}
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	var z *Zone
	for b.Loop() {
		var err error
		z, err = Parse(bytes.NewReader(text), "bench.zone", "")
		if err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	z = nil
	before := heapInUse()
	z, err := Parse(bytes.NewReader(text), "bench.zone", "")
	if err != nil {
		b.Fatal(err)
	}
	after := heapInUse()
	b.ReportMetric(float64(after-before)/float64(z.Records()), "bytes/RR")
	b.ReportMetric(float64(z.Records()), "RRs")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(z.Records()), "ns/RR")
	runtime.KeepAlive(z)
	runtime.KeepAlive(text) // or the GC in heapInUse frees it and skews bytes/RR
}

// BenchmarkReloadPeak loads a zone while another copy of it is live, as a
// reload does, and reports the peak heap (objects and free space in heap
// spans, sampled every millisecond) as a multiple of the live size of one
// zone (peak/live), and in bytes per record. ZONE_BENCH_NAMES and
// ZONE_BENCH_FILE choose the zone as for BenchmarkLoad. The process's
// resident peak (bench/zoneload.sh) adds the runtime's own overhead.
func BenchmarkReloadPeak(b *testing.B) {
	n := 100000
	if s := os.Getenv("ZONE_BENCH_NAMES"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil {
			b.Fatalf("ZONE_BENCH_NAMES: %v", err)
		}
		n = v
	}
	var text []byte
	if file := os.Getenv("ZONE_BENCH_FILE"); file != "" {
		var err error
		if text, err = os.ReadFile(file); err != nil {
			b.Fatal(err)
		}
	} else {
		text, _ = genZone(n)
	}
	old, err := Parse(bytes.NewReader(text), "bench.zone", "")
	if err != nil {
		b.Fatal(err)
	}
	text2 := text
	var worst uint64
	for b.Loop() {
		stop := make(chan struct{})
		done := make(chan uint64)
		go func() {
			s := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/memory/classes/heap/unused:bytes"}}
			var peak uint64
			t := time.NewTicker(time.Millisecond)
			defer t.Stop()
			for {
				metrics.Read(s)
				peak = max(peak, s[0].Value.Uint64()+s[1].Value.Uint64())
				select {
				case <-stop:
					done <- peak
					return
				case <-t.C:
				}
			}
		}()
		z, err := Parse(bytes.NewReader(text2), "bench.zone", "")
		close(stop)
		peak := <-done
		if err != nil {
			b.Fatal(err)
		}
		worst = max(worst, peak)
		runtime.KeepAlive(z)
		z = nil
		runtime.GC()
	}
	b.StopTimer()
	// The live size of one zone: the heap with the old zone minus the
	// heap without it.
	withOld := heapInUse()
	runtime.KeepAlive(old)
	old = nil
	withoutOld := heapInUse()
	live := withOld - withoutOld
	rrs := float64(1)
	if z, err := Parse(bytes.NewReader(text2), "bench.zone", ""); err == nil {
		rrs = float64(z.Records())
	}
	b.ReportMetric(float64(worst-withoutOld)/float64(live), "peak/live")
	b.ReportMetric(float64(worst-withoutOld)/rrs, "peak-bytes/RR")
	b.ReportMetric(float64(live)/rrs, "live-bytes/RR")
	runtime.KeepAlive(text2)
}
