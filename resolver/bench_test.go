package resolver

import (
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/miekg/dns"
	"github.com/tapdns/tapdns/cache"
)

// BenchmarkResolveMemory resolves b.N distinct names (hostN.example.test.
// A, one record each, from a fake authoritative server on loopback) into
// an empty cache and reports what they cost: acctB/name is the growth of
// the memory the cache accounts against its bound, heapB/name the growth
// of the live heap. Each name leaves an A RRset and a message in the
// cache, as in Unbound's rrset and message caches (bench/resolver-mem.sh
// compares the two). Run it with a fixed count: -benchtime=100000x.
func BenchmarkResolveMemory(b *testing.B) {
	l := newLab(b)
	l.serve(1, rootZone)
	var z strings.Builder
	z.WriteString("$ORIGIN test.\n$TTL 3600\n@ SOA ns1 host 1 3600 600 86400 300\n@ NS ns1\n@ NS ns2\nns1 A $2\nns2 A $3\n")
	z.WriteString("example NS ns.example\nns.example A $5\n")
	l.serve(2, z.String())
	l.serve(3, z.String())
	z.Reset()
	z.WriteString("$ORIGIN example.test.\n$TTL 3600\n@ SOA ns host 1 3600 600 86400 300\n@ NS ns\nns A $5\n")
	for i := range b.N {
		fmt.Fprintf(&z, "host%d A 192.0.%d.%d\n", i, i>>8&255, i&255)
	}
	l.serve(5, z.String())
	s := l.resolver(Config{NoPrefetch: true}, cache.Config{MaxBytes: max(64<<20, int64(b.N)*1024)})
	l.askTCP(s, "ns.example.test.", dns.TypeA) // the delegations
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	bytes0 := s.Cache().Stats().Bytes
	b.ResetTimer()
	var wg sync.WaitGroup
	const workers = 16
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < b.N; i += workers {
				r, _ := l.askRaw(s, fmt.Sprintf("host%d.example.test.", i), dns.TypeA, true, withEDNS(1232))
				if len(r.Answer) != 1 {
					b.Errorf("host%d: %s EDE %d %v", i, dns.RcodeToString[r.Rcode], ede(r), r.Answer)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.StopTimer()
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := s.Cache().Stats()
	if st.Evictions != 0 {
		b.Fatalf("cache too small: %+v", st)
	}
	b.ReportMetric(float64(st.Bytes-bytes0)/float64(b.N), "acctB/name")
	b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(b.N), "heapB/name")
	b.ReportMetric(float64(st.RRsets), "rrsets")
	b.ReportMetric(float64(st.Messages), "messages")
}
