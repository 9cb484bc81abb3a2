// Package benchzone generates the benchmark zone and its query mix: the
// data bench/cmd/zonegen writes for the packet benchmarks and the Go
// benchmarks replay, so that both measure the same traffic.
//
// For n names the zone has about 1.8 resource records per name: hosts with
// A and often AAAA, TXT and MX, CNAMEs to hosts, delegations with two NS and
// in-zone glue, and wildcards. The same seed always gives the same bytes.
// The last name is always a host with an A record; the header comment names
// it ("; last: NAME A ADDR") so that load-time tools can wait for it.
// Addresses come from the benchmark ranges 198.18.0.0/15 and 2001:2::/48:
// the zone is data, nothing ever sends to them.
package benchzone

import (
	"bufio"
	"fmt"
	"io"
	"math/rand/v2"
	"strconv"
)

// Kind is what a generated name is, and so what a query for it gets.
type Kind uint8

// Kinds of names. KindNX is only ever a query: a name the zone lacks.
const (
	KindHost  Kind = iota // A, often AAAA, sometimes TXT and MX
	KindCNAME             // a CNAME to a host
	KindDeleg             // a delegation: two NS with glue below the cut
	KindWild              // a wildcard's parent: *.wN has A and TXT
	KindNX                // no such name: NXDOMAIN
)

// String returns the kind's name ("host").
func (k Kind) String() string {
	switch k {
	case KindHost:
		return "host"
	case KindCNAME:
		return "cname"
	case KindDeleg:
		return "delegation"
	case KindWild:
		return "wildcard"
	case KindNX:
		return "nxdomain"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Zone is a generated zone: what Write wrote, and what Queries needs to
// pick names from it. It is not safe for concurrent use.
type Zone struct {
	Origin string // absolute, as given to Write
	Names  int    // generated names (the apex and its hosts not counted)
	RRs    int    // resource records written

	kinds []Kind  // kind of name i
	hosts []int32 // indices of host names
}

// Query is one line of the query mix: an absolute name, a type mnemonic,
// and the kind of name asked for.
type Query struct {
	Name string
	Type string
	Kind Kind
}

// v4 and v6 are deterministic addresses in the benchmark ranges.
func v4(b []byte, i int) []byte {
	x := uint32(i) % (1 << 17)
	b = append(b, "198."...)
	b = strconv.AppendUint(b, uint64(18+x>>16), 10)
	b = append(b, '.')
	b = strconv.AppendUint(b, uint64(x>>8&0xff), 10)
	b = append(b, '.')
	return strconv.AppendUint(b, uint64(x&0xff), 10)
}

func v6(b []byte, i int) []byte {
	b = append(b, "2001:2:0:"...)
	b = strconv.AppendUint(b, uint64(i>>16&0xffff), 16)
	b = append(b, "::"...)
	return strconv.AppendUint(b, uint64(i&0xffff), 16)
}

func rr(b []byte, owner string, i int, typ string) []byte {
	b = append(b, owner...)
	if i >= 0 {
		b = strconv.AppendInt(b, int64(i), 10)
	}
	b = append(b, '\t')
	b = append(b, typ...)
	b = append(b, '\t')
	return b
}

// Write writes the zone of n names under origin (absolute, ending in a dot)
// for seed to w. It returns the zone's description, or the first error
// from w.
func Write(w io.Writer, n int, origin string, seed uint64) (*Zone, error) {
	if n < 1 {
		return nil, fmt.Errorf("benchzone: %d names: want at least 1", n)
	}
	if len(origin) < 2 || origin[len(origin)-1] != '.' {
		return nil, fmt.Errorf("benchzone: origin %q must be absolute (end in a dot)", origin)
	}
	g := &Zone{Origin: origin, Names: n, kinds: make([]Kind, n)}
	bw := bufio.NewWriterSize(w, 1<<20)
	g.zone(bw, n, seed)
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("benchzone: write zone: %w", err)
	}
	return g, nil
}

func (g *Zone) zone(w *bufio.Writer, n int, seed uint64) {
	rnd := rand.New(rand.NewPCG(seed, 0x7a6f6e6567656e))
	last := n - 1
	var b []byte
	b = append(b, "; zonegen names="...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, " seed="...)
	b = strconv.AppendUint(b, seed, 10)
	b = append(b, "\n; last: h"...)
	b = strconv.AppendInt(b, int64(last), 10)
	b = append(b, '.')
	b = append(b, g.Origin...)
	b = append(b, " A "...)
	b = v4(b, last)
	b = append(b, "\n$ORIGIN "...)
	b = append(b, g.Origin...)
	b = append(b, "\n$TTL 3600\n"...)
	b = append(b, "@\tSOA\tns1 hostmaster 2026112901 7200 3600 1209600 3600\n"...)
	b = append(b, "@\tNS\tns1\n@\tNS\tns2\n@\tA\t198.18.255.1\n@\tMX\t10 mail\n"...)
	b = append(b, "ns1\tA\t198.18.255.2\nns2\tA\t198.18.255.3\nmail\tA\t198.18.255.4\n"...)
	g.RRs += 8
	w.Write(b)

	for i := 0; i < n; i++ {
		b = b[:0]
		k := rnd.IntN(100)
		switch {
		case i == last || k < 70 || len(g.hosts) == 0:
			g.kinds[i] = KindHost
			b = rr(b, "h", i, "A")
			b = v4(b, i)
			b = append(b, '\n')
			g.RRs++
			if rnd.IntN(100) < 40 {
				b = rr(b, "h", i, "AAAA")
				b = v6(b, i)
				b = append(b, '\n')
				g.RRs++
			}
			if rnd.IntN(100) < 20 {
				b = rr(b, "h", i, "TXT")
				b = append(b, "\"v=bench1 k="...)
				b = strconv.AppendUint(b, rnd.Uint64(), 36)
				b = append(b, "\"\n"...)
				g.RRs++
			}
			if rnd.IntN(100) < 10 {
				b = rr(b, "h", i, "MX")
				b = append(b, "10 "...)
				if len(g.hosts) > 0 {
					b = append(b, 'h')
					b = strconv.AppendInt(b, int64(g.hosts[rnd.IntN(len(g.hosts))]), 10)
				} else {
					b = append(b, "mail"...)
				}
				b = append(b, '\n')
				g.RRs++
			}
			g.hosts = append(g.hosts, int32(i))
		case k < 85:
			g.kinds[i] = KindCNAME
			b = rr(b, "c", i, "CNAME")
			b = append(b, 'h')
			b = strconv.AppendInt(b, int64(g.hosts[rnd.IntN(len(g.hosts))]), 10)
			b = append(b, '\n')
			g.RRs++
		case k < 95:
			g.kinds[i] = KindDeleg
			b = rr(b, "d", i, "NS")
			b = append(b, "ns1.d"...)
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, '\n')
			b = rr(b, "d", i, "NS")
			b = append(b, "ns2.d"...)
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, '\n')
			b = rr(b, "ns1.d", i, "A")
			b = v4(b, i)
			b = append(b, '\n')
			b = rr(b, "ns2.d", i, "A")
			b = v4(b, i+1)
			b = append(b, '\n')
			g.RRs += 4
		default:
			g.kinds[i] = KindWild
			b = rr(b, "*.w", i, "A")
			b = v4(b, i)
			b = append(b, '\n')
			b = rr(b, "*.w", i, "TXT")
			b = append(b, "\"wildcard "...)
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, "\"\n"...)
			g.RRs += 2
		}
		w.Write(b)
	}
}

// Queries returns nq queries for seed: about 45% A, 15% AAAA, 5% TXT, 5% MX
// for hosts (many of which have no AAAA, TXT or MX: NODATA), 10% CNAME
// names (asked for A), 8% wildcard hits, 7% names below a delegation
// (referrals) and 5% names the zone lacks (NXDOMAIN, random labels).
func (g *Zone) Queries(nq int, seed uint64) []Query {
	r := rand.New(rand.NewPCG(seed, 0x7175657279))
	n := len(g.kinds)
	pick := func(kind Kind) int {
		for range 64 {
			if i := r.IntN(n); g.kinds[i] == kind {
				return i
			}
		}
		return int(g.hosts[r.IntN(len(g.hosts))])
	}
	host := func(i int) string { return "h" + strconv.Itoa(i) + "." + g.Origin }
	qs := make([]Query, 0, nq)
	for range nq {
		var q Query
		k := r.IntN(100)
		switch {
		case k < 45:
			q = Query{host(pick(KindHost)), "A", KindHost}
		case k < 60:
			q = Query{host(pick(KindHost)), "AAAA", KindHost}
		case k < 65:
			q = Query{host(pick(KindHost)), "TXT", KindHost}
		case k < 70:
			q = Query{host(pick(KindHost)), "MX", KindHost}
		case k < 80:
			i := pick(KindCNAME)
			q = Query{host(i), "A", KindHost}
			if g.kinds[i] == KindCNAME {
				q = Query{"c" + strconv.Itoa(i) + "." + g.Origin, "A", KindCNAME}
			}
		case k < 88:
			i := pick(KindWild)
			q = Query{host(i), "A", KindHost}
			if g.kinds[i] == KindWild {
				q = Query{"x" + strconv.Itoa(r.IntN(1000)) + ".w" + strconv.Itoa(i) + "." + g.Origin, "A", KindWild}
			}
		case k < 95:
			i := pick(KindDeleg)
			q = Query{host(i), "A", KindHost}
			if g.kinds[i] == KindDeleg {
				q = Query{"www.d" + strconv.Itoa(i) + "." + g.Origin, "A", KindDeleg}
			}
		default:
			q = Query{"nx" + strconv.Itoa(r.IntN(1<<30)) + "." + g.Origin, "A", KindNX}
		}
		qs = append(qs, q)
	}
	return qs
}

// WriteQueries writes Queries(nq, seed) to w, one "name TYPE" per line:
// the format both kxdpgun -i and dnsperf -d read.
func (g *Zone) WriteQueries(w io.Writer, nq int, seed uint64) error {
	bw := bufio.NewWriter(w)
	for _, q := range g.Queries(nq, seed) {
		bw.WriteString(q.Name)
		bw.WriteByte(' ')
		bw.WriteString(q.Type)
		bw.WriteByte('\n')
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("benchzone: write queries: %w", err)
	}
	return nil
}
