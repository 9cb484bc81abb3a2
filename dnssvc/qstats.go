package dnssvc

import (
	"sync/atomic"

	"github.com/tapdns/tapdns/dnswire"
)

// QType buckets of RequestStats: the common query types each have one, and
// every other type counts in the last, "other".
var qtypeBuckets = [...]struct {
	t    uint16
	name string
}{
	{dnswire.TypeA, "A"}, {dnswire.TypeNS, "NS"}, {dnswire.TypeCNAME, "CNAME"},
	{dnswire.TypeSOA, "SOA"}, {dnswire.TypePTR, "PTR"}, {dnswire.TypeMX, "MX"},
	{dnswire.TypeTXT, "TXT"}, {dnswire.TypeAAAA, "AAAA"}, {dnswire.TypeSRV, "SRV"},
	{dnswire.TypeNAPTR, "NAPTR"}, {dnswire.TypeDS, "DS"}, {dnswire.TypeDNSKEY, "DNSKEY"},
	{dnswire.TypeSVCB, "SVCB"}, {dnswire.TypeHTTPS, "HTTPS"}, {dnswire.TypeCAA, "CAA"},
	{dnswire.TypeIXFR, "IXFR"}, {dnswire.TypeAXFR, "AXFR"}, {dnswire.TypeANY, "ANY"},
}

// NumQTypeBuckets is the number of query-type buckets, "other" included.
const NumQTypeBuckets = len(qtypeBuckets) + 1

// QTypeBucketName returns the label of bucket i: a type mnemonic such as
// "AAAA", or "other" for the last.
func QTypeBucketName(i int) string {
	if i >= 0 && i < len(qtypeBuckets) {
		return qtypeBuckets[i].name
	}
	return "other"
}

// qtypeBucket maps a query type to its bucket without allocating.
func qtypeBucket(t uint16) int {
	switch t {
	case dnswire.TypeA:
		return 0
	case dnswire.TypeAAAA:
		return 7
	}
	for i := range qtypeBuckets {
		if qtypeBuckets[i].t == t {
			return i
		}
	}
	return len(qtypeBuckets)
}

// requestCounters count the queries answered (not dropped as unparsable)
// by transport, address family and query type: one atomic add per query.
type requestCounters struct {
	n [2][2][NumQTypeBuckets]atomic.Uint64 // [TCP][IPv6][type bucket]
}

func (c *requestCounters) count(req Request, qtype uint16) {
	tcp, v6 := 0, 0
	if req.TCP {
		tcp = 1
	}
	if a := req.Client.Addr(); a.Is6() && !a.Is4In6() {
		v6 = 1
	}
	c.n[tcp][v6][qtypeBucket(qtype)].Add(1)
}

// RequestStats is a snapshot of the queries Respond parsed (every query not
// counted in Stats.Dropped) by transport, family and query type.
type RequestStats struct {
	// N is indexed [TCP][IPv6][bucket]: TCP is 1 for TCP, IPv6 is 1 for an
	// IPv6 client (an IPv4-mapped or invalid client address counts as
	// IPv4), bucket is as for QTypeBucketName. A query whose question could
	// not be parsed counts under "other".
	N [2][2][NumQTypeBuckets]uint64
}

// RequestStats returns a snapshot of the per-transport, per-type counters.
func (s *Server) RequestStats() RequestStats {
	var r RequestStats
	for i := range r.N {
		for j := range r.N[i] {
			for k := range r.N[i][j] {
				for sh := range s.shards {
					r.N[i][j][k] += s.shards[sh].req.n[i][j][k].Load()
				}
			}
		}
	}
	return r
}
