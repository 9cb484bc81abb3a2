// Command zonegen writes a deterministic, realistic benchmark zone and a
// matching query file.
//
// For -n names it writes about 1.8 resource records per name: hosts with A
// and often AAAA, TXT and MX, CNAMEs to hosts, delegations with two NS and
// in-zone glue, and wildcards. The same -seed always gives the same bytes.
// The last name in the file is always a host with an A record; the header
// comment names it ("; last: NAME A ADDR") so that load-time tools can wait
// for it. Addresses come from the benchmark ranges 198.18.0.0/15 and
// 2001:2::/48: the zone is data, nothing ever sends to them.
//
// Usage:
//
//	zonegen [-n 1000000] [-origin bench.test.] [-seed 1] [-o zone.db] [-queries q.txt -nq 100000]
//
// The query file has one "name TYPE" per line, the format both kxdpgun -i
// and dnsperf -d read.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
)

// Kinds of names.
const (
	kindHost = iota
	kindCNAME
	kindDeleg
	kindWild
)

type gen struct {
	origin string
	rnd    *rand.Rand
	kinds  []byte // kind of name i
	hasV6  []bool
	hosts  []int32 // indices of host names so far
	rrs    int
}

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "zonegen:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("zonegen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 1000000, "number of names")
	origin := fs.String("origin", "bench.test.", "zone origin (absolute)")
	seed := fs.Uint64("seed", 1, "random seed")
	out := fs.String("o", "-", "zone file to write (- for stdout)")
	qfile := fs.String("queries", "", "query file to write (empty: none)")
	nq := fs.Int("nq", 100000, "number of queries in the query file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n < 1 || *nq < 1 {
		return fmt.Errorf("-n and -nq must be positive")
	}
	if !strings.HasSuffix(*origin, ".") || len(*origin) < 2 {
		return fmt.Errorf("-origin %q must be absolute (end in a dot)", *origin)
	}
	g := &gen{
		origin: *origin,
		rnd:    rand.New(rand.NewPCG(*seed, 0x7a6f6e6567656e)),
		kinds:  make([]byte, *n),
		hasV6:  make([]bool, *n),
	}
	w := stdout
	var f *os.File
	if *out != "-" {
		var err error
		if f, err = os.Create(*out); err != nil {
			return err
		}
		defer f.Close()
		w = f
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	g.zone(bw, *n, *seed)
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write zone: %w", err)
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return fmt.Errorf("write zone: %w", err)
		}
	}
	fmt.Fprintf(stderr, "zonegen: %d names, %d RRs, origin %s, seed %d\n", *n, g.rrs, *origin, *seed)
	if *qfile != "" {
		qf, err := os.Create(*qfile)
		if err != nil {
			return err
		}
		qw := bufio.NewWriter(qf)
		g.queries(qw, *nq, *seed)
		if err := qw.Flush(); err != nil {
			qf.Close()
			return fmt.Errorf("write queries: %w", err)
		}
		if err := qf.Close(); err != nil {
			return fmt.Errorf("write queries: %w", err)
		}
	}
	return nil
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

func (g *gen) zone(w *bufio.Writer, n int, seed uint64) {
	last := n - 1
	var b []byte
	b = append(b, "; zonegen names="...)
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, " seed="...)
	b = strconv.AppendUint(b, seed, 10)
	b = append(b, "\n; last: h"...)
	b = strconv.AppendInt(b, int64(last), 10)
	b = append(b, '.')
	b = append(b, g.origin...)
	b = append(b, " A "...)
	b = v4(b, last)
	b = append(b, "\n$ORIGIN "...)
	b = append(b, g.origin...)
	b = append(b, "\n$TTL 3600\n"...)
	b = append(b, "@\tSOA\tns1 hostmaster 2026112901 7200 3600 1209600 3600\n"...)
	b = append(b, "@\tNS\tns1\n@\tNS\tns2\n@\tA\t198.18.255.1\n@\tMX\t10 mail\n"...)
	b = append(b, "ns1\tA\t198.18.255.2\nns2\tA\t198.18.255.3\nmail\tA\t198.18.255.4\n"...)
	g.rrs += 8
	w.Write(b)

	for i := 0; i < n; i++ {
		b = b[:0]
		k := g.rnd.IntN(100)
		switch {
		case i == last || k < 70 || len(g.hosts) == 0:
			g.kinds[i] = kindHost
			b = rr(b, "h", i, "A")
			b = v4(b, i)
			b = append(b, '\n')
			g.rrs++
			if g.rnd.IntN(100) < 40 {
				g.hasV6[i] = true
				b = rr(b, "h", i, "AAAA")
				b = v6(b, i)
				b = append(b, '\n')
				g.rrs++
			}
			if g.rnd.IntN(100) < 20 {
				b = rr(b, "h", i, "TXT")
				b = append(b, "\"v=bench1 k="...)
				b = strconv.AppendUint(b, g.rnd.Uint64(), 36)
				b = append(b, "\"\n"...)
				g.rrs++
			}
			if g.rnd.IntN(100) < 10 {
				b = rr(b, "h", i, "MX")
				b = append(b, "10 "...)
				if len(g.hosts) > 0 {
					b = append(b, 'h')
					b = strconv.AppendInt(b, int64(g.hosts[g.rnd.IntN(len(g.hosts))]), 10)
				} else {
					b = append(b, "mail"...)
				}
				b = append(b, '\n')
				g.rrs++
			}
			g.hosts = append(g.hosts, int32(i))
		case k < 85:
			g.kinds[i] = kindCNAME
			b = rr(b, "c", i, "CNAME")
			b = append(b, 'h')
			b = strconv.AppendInt(b, int64(g.hosts[g.rnd.IntN(len(g.hosts))]), 10)
			b = append(b, '\n')
			g.rrs++
		case k < 95:
			g.kinds[i] = kindDeleg
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
			g.rrs += 4
		default:
			g.kinds[i] = kindWild
			b = rr(b, "*.w", i, "A")
			b = v4(b, i)
			b = append(b, '\n')
			b = rr(b, "*.w", i, "TXT")
			b = append(b, "\"wildcard "...)
			b = strconv.AppendInt(b, int64(i), 10)
			b = append(b, "\"\n"...)
			g.rrs += 2
		}
		w.Write(b)
	}
}

// queries writes a mix of about 45% A, 15% AAAA, 5% TXT, 5% MX for hosts,
// 10% CNAME names (asked for A), 8% wildcard hits, 7% referrals and 5%
// NXDOMAIN.
func (g *gen) queries(w *bufio.Writer, nq int, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 0x7175657279))
	n := len(g.kinds)
	pick := func(kind byte) int {
		for range 64 {
			if i := r.IntN(n); g.kinds[i] == kind {
				return i
			}
		}
		return int(g.hosts[r.IntN(len(g.hosts))])
	}
	var b []byte
	for range nq {
		b = b[:0]
		k := r.IntN(100)
		switch {
		case k < 45:
			b = fmt.Appendf(b, "h%d.%s A\n", pick(kindHost), g.origin)
		case k < 60:
			b = fmt.Appendf(b, "h%d.%s AAAA\n", pick(kindHost), g.origin)
		case k < 65:
			b = fmt.Appendf(b, "h%d.%s TXT\n", pick(kindHost), g.origin)
		case k < 70:
			b = fmt.Appendf(b, "h%d.%s MX\n", pick(kindHost), g.origin)
		case k < 80:
			i := pick(kindCNAME)
			if g.kinds[i] == kindCNAME {
				b = fmt.Appendf(b, "c%d.%s A\n", i, g.origin)
			} else {
				b = fmt.Appendf(b, "h%d.%s A\n", i, g.origin)
			}
		case k < 88:
			i := pick(kindWild)
			if g.kinds[i] == kindWild {
				b = fmt.Appendf(b, "x%d.w%d.%s A\n", r.IntN(1000), i, g.origin)
			} else {
				b = fmt.Appendf(b, "h%d.%s A\n", i, g.origin)
			}
		case k < 95:
			i := pick(kindDeleg)
			if g.kinds[i] == kindDeleg {
				b = fmt.Appendf(b, "www.d%d.%s A\n", i, g.origin)
			} else {
				b = fmt.Appendf(b, "h%d.%s A\n", i, g.origin)
			}
		default:
			b = fmt.Appendf(b, "nx%d.%s A\n", r.IntN(1<<30), g.origin)
		}
		w.Write(b)
	}
}
