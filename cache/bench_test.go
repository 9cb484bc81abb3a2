package cache

import (
	"runtime"
	"strconv"
	"testing"

	"github.com/tapdns/tapdns/dnswire"
)

// BenchmarkMemoryPerRRset reports the memory one cached RRset costs: an A
// RRset of one record owned by hostNNNNNNN.example.com. (the shape of
// Unbound's figure: rrset-cache memory over the RRsets it holds). Run it
// with a fixed count, e.g. -benchtime=200000x: b.N RRsets are inserted
// into one cache big enough to hold them all, then
//   - heapB/rrset is the growth of the live heap (after GC) per RRset,
//     the slot table included;
//   - acctB/rrset is what the cache accounts against MaxBytes per RRset.
func BenchmarkMemoryPerRRset(b *testing.B) {
	names := make([][]byte, b.N)
	for i := range names {
		names[i] = append([]byte(nil), wire("host"+strconv.Itoa(1000000+i)+".example.com.")...)
	}
	rd := [][]byte{{192, 0, 2, 1}}
	maxBytes := max(MinMaxBytes, int64(b.N)*400)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	c, err := New(Config{MaxBytes: maxBytes})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		c.PutRRset(names[i], dnswire.TypeA, 3600, RankAuthAnswer, rd)
	}
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := c.Stats()
	if st.Evictions != 0 || st.RRsets != int64(b.N) {
		b.Fatalf("cache too small: %+v", st)
	}
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(b.N), "heapB/rrset")
	b.ReportMetric(float64(st.Bytes)/float64(b.N), "acctB/rrset")
	runtime.KeepAlive(c)
	runtime.KeepAlive(names)
}

// BenchmarkLookupHit is the message cache's part of a cache hit: hash,
// probe, and the copy with TTLs counted down.
func BenchmarkLookupHit(b *testing.B) {
	c, err := New(Config{})
	if err != nil {
		b.Fatal(err)
	}
	c.Put(sampleMsg(b, c))
	name := wire("www.example.")
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		m, _ := c.Lookup(name, dnswire.TypeA)
		buf = m.AppendSections(buf[:0], false)
	}
}

// BenchmarkPutRRset is the cost of caching one RRset (the miss path).
func BenchmarkPutRRset(b *testing.B) {
	c, err := New(Config{MaxBytes: 16 << 20})
	if err != nil {
		b.Fatal(err)
	}
	names := make([][]byte, 1<<16)
	for i := range names {
		names[i] = wire("host" + strconv.Itoa(i) + ".example.com.")
	}
	rd := [][]byte{{192, 0, 2, 1}}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		c.PutRRset(names[i&(len(names)-1)], dnswire.TypeA, 3600, RankAuthAnswer, rd)
		i++
	}
}
