// Command zonegen writes a deterministic, realistic benchmark zone and a
// matching query file (package internal/benchzone describes both; the Go
// benchmarks replay the same data).
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
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/tapdns/tapdns/internal/benchzone"
)

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
	z, err := benchzone.Write(w, *n, *origin, *seed)
	if err != nil {
		return err
	}
	if f != nil {
		if err := f.Close(); err != nil {
			return fmt.Errorf("write zone: %w", err)
		}
	}
	fmt.Fprintf(stderr, "zonegen: %d names, %d RRs, origin %s, seed %d\n", *n, z.RRs, *origin, *seed)
	if *qfile != "" {
		qf, err := os.Create(*qfile)
		if err != nil {
			return err
		}
		if err := z.WriteQueries(qf, *nq, *seed); err != nil {
			qf.Close()
			return err
		}
		if err := qf.Close(); err != nil {
			return fmt.Errorf("write queries: %w", err)
		}
	}
	return nil
}
