package fakenet

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
)

// MaxBenchZones bounds Options.BenchZones: each bench zone takes 64
// addresses of 198.18.128.0/17 for its data.
const MaxBenchZones = 500

// Bench zone shape: benchHosts hosts h0..h<n-1> (A; AAAA for even n),
// benchCNAMEs names c0.. that point to www in the next bench zone, and a
// wildcard *.w.
const (
	benchHosts  = 40
	benchCNAMEs = 4
)

// benchOrigin returns the origin of bench zone i: even ones under lab.,
// odd ones under test., so that both TLDs and both TLD servers are used.
func benchOrigin(i int) string {
	if i%2 == 0 {
		return fmt.Sprintf("z%03d.lab.", i)
	}
	return fmt.Sprintf("z%03d.test.", i)
}

// benchAddr returns data address k of bench zone i (k < 64).
func benchAddr(i, k int) (netip.Addr, netip.Addr) {
	n := 32768 + i*64 + k // offset in 198.18.0.0/15
	v4 := netip.AddrFrom4([4]byte{198, 18 + byte(n>>16), byte(n >> 8), byte(n)})
	v6 := netip.MustParseAddr(fmt.Sprintf("2001:2:0:20::%x:%x", i, k))
	return v4, v6
}

// benchZones returns n generated leaf zones for the benchmark mix: a third
// on NSD only, a third on Knot only, a third on both.
func benchZones(n int) []zoneSpec {
	out := make([]zoneSpec, 0, n)
	for i := range n {
		origin := benchOrigin(i)
		var servers []string
		var ns []nsSpec
		if i%3 != 1 {
			servers = append(servers, "leaf1")
			ns = append(ns, nsSpec{"ns1." + origin, []netip.Addr{leaf1V4, leaf1V6}})
		}
		if i%3 != 0 {
			servers = append(servers, "leaf2")
			ns = append(ns, nsSpec{"ns2." + origin, []netip.Addr{leaf2V4, leaf2V6}})
		}
		var b strings.Builder
		v4, _ := benchAddr(i, 60)
		fmt.Fprintf(&b, "@\tMX\t10 mail\nwww\tA\t%s\nmail\tA\t%s\n", v4, v4)
		for k := range benchHosts {
			v4, v6 := benchAddr(i, k)
			fmt.Fprintf(&b, "h%d\tA\t%s\n", k, v4)
			if k%2 == 0 {
				fmt.Fprintf(&b, "h%d\tAAAA\t%s\n", k, v6)
			}
		}
		for k := range benchCNAMEs {
			fmt.Fprintf(&b, "c%d\tCNAME\twww.%s\n", k, benchOrigin((i+1)%n))
		}
		v4, _ = benchAddr(i, 61)
		fmt.Fprintf(&b, "*.w\tA\t%s\n", v4)
		out = append(out, zoneSpec{origin: origin, servers: servers, ns: ns, body: b.String()})
	}
	return out
}

// Query is one query of a benchmark mix and the response code a correct
// resolver returns for it.
type Query struct {
	Name  string // absolute, lower case
	Type  uint16
	Rcode int
}

// String returns the query as a line of a dnsperf/resperf/kxdpgun query
// file: "name TYPE".
func (q Query) String() string {
	return q.Name + " " + dns.TypeToString[q.Type]
}

// Mix returns n distinct queries over the bench zones of l (see
// Options.BenchZones), the same for the same seed: about 60% existing A
// records, 10% existing AAAA, 5% NODATA, 10% NXDOMAIN in an existing
// zone, 5% NXDOMAIN for a zone that does not exist, 5% CNAMEs into
// another zone, 3% wildcard answers, 1% DNAME to NXDOMAIN, 1% names in
// the fixed zones' wildcard. It fails if the zones hold fewer than n such
// names.
func (l *Layout) Mix(n int, seed uint64) ([]Query, error) {
	z := l.BenchZones
	if z == 0 {
		return nil, fmt.Errorf("fakenet: Mix needs bench zones (Options.BenchZones)")
	}
	// Distinct names available per category, bounded well above what is
	// asked so that the loop below finishes quickly.
	if max := z * benchHosts; n > max {
		return nil, fmt.Errorf("fakenet: Mix(%d) with %d bench zones: at most %d distinct names", n, z, max)
	}
	rnd := rand.New(rand.NewPCG(seed, 0x66616b656e6574))
	seen := make(map[Query]bool, n)
	out := make([]Query, 0, n)
	for tries := 0; len(out) < n; tries++ {
		if tries > 50*n {
			return nil, fmt.Errorf("fakenet: Mix(%d): could not find enough distinct names in %d bench zones", n, z)
		}
		i := rnd.IntN(z)
		zone := benchOrigin(i)
		k := rnd.IntN(benchHosts)
		var q Query
		switch p := rnd.IntN(100); {
		case p < 60:
			q = Query{fmt.Sprintf("h%d.%s", k, zone), dns.TypeA, dns.RcodeSuccess}
		case p < 70:
			q = Query{fmt.Sprintf("h%d.%s", k&^1, zone), dns.TypeAAAA, dns.RcodeSuccess}
		case p < 75:
			q = Query{fmt.Sprintf("h%d.%s", k|1, zone), dns.TypeAAAA, dns.RcodeSuccess} // NODATA
		case p < 85:
			q = Query{fmt.Sprintf("nx%d.%s", rnd.IntN(1000), zone), dns.TypeA, dns.RcodeNameError}
		case p < 90:
			q = Query{fmt.Sprintf("noz%d.%s", rnd.IntN(100000), zone[strings.IndexByte(zone, '.')+1:]), dns.TypeA, dns.RcodeNameError}
		case p < 95:
			q = Query{fmt.Sprintf("c%d.%s", rnd.IntN(benchCNAMEs), zone), dns.TypeA, dns.RcodeSuccess}
		case p < 98:
			q = Query{fmt.Sprintf("r%d.w.%s", rnd.IntN(1000), zone), dns.TypeA, dns.RcodeSuccess}
		case p < 99:
			q = Query{fmt.Sprintf("nx%d.olddomain.lab.", rnd.IntN(100000)), dns.TypeA, dns.RcodeNameError}
		default:
			q = Query{fmt.Sprintf("r%d.wild.lab.", rnd.IntN(100000)), dns.TypeA, dns.RcodeSuccess}
		}
		if seen[q] {
			continue
		}
		seen[q] = true
		out = append(out, q)
	}
	return out, nil
}
