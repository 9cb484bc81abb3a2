// Command fakenet writes the fake Internet of internal/fakenet to a
// directory, for the benchmark and lab scripts (bench/fakenet.sh brings it
// up inside a namespace): zone files, NSD and Knot configurations, root
// hints, the manifest fakenet.env and the expected-answer table
// expect.txt. It starts nothing and sends nothing.
//
// Usage:
//
//	fakenet -dir DIR [-bench-zones N] [-mix N [-seed S] [-mix-out FILE]]
//	        [-unbound ADDR[,ADDR]] [-kresd ADDR[,ADDR]]
//
// -mix writes N distinct queries over the bench zones ("name TYPE" a line,
// the format of dnsperf, resperf and kxdpgun) to DIR/mix.txt or -mix-out,
// and their expected response codes to the same name with .rcodes
// appended. -unbound and -kresd write resolver configurations
// (DIR/unbound/unbound.conf, DIR/kresd/kresd.conf) listening on the given
// addresses with the fake root hints.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"strings"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/internal/fakenet"
)

func main() {
	if err := run(os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "fakenet:", err)
		os.Exit(1)
	}
}

func run(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("fakenet", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("dir", "", "directory to write the fake Internet to (created if missing)")
	benchZones := fs.Int("bench-zones", 0, fmt.Sprintf("generated leaf zones for -mix (at most %d)", fakenet.MaxBenchZones))
	mix := fs.Int("mix", 0, "write this many distinct queries over the bench zones")
	seed := fs.Uint64("seed", 1, "seed of the query mix")
	mixOut := fs.String("mix-out", "", "query file to write (default DIR/mix.txt)")
	unbound := fs.String("unbound", "", "write DIR/unbound/unbound.conf listening on these addresses (comma-separated)")
	kresd := fs.String("kresd", "", "write DIR/kresd/kresd.conf listening on these addresses (comma-separated)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() > 0 {
		return fmt.Errorf("usage: fakenet -dir DIR [flags] (see -h)")
	}
	if *mix > 0 && *benchZones == 0 {
		return fmt.Errorf("-mix needs -bench-zones")
	}
	unboundAddrs, err := addrs("-unbound", *unbound)
	if err != nil {
		return err
	}
	kresdAddrs, err := addrs("-kresd", *kresd)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	l, err := fakenet.Write(*dir, fakenet.Options{BenchZones: *benchZones})
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "fakenet: %d zones on %d servers in %s (manifest %s)\n",
		len(l.Zones), len(l.Servers), l.Dir, filepath.Join(l.Dir, "fakenet.env"))
	if *mix > 0 {
		qs, err := l.Mix(*mix, *seed)
		if err != nil {
			return err
		}
		out := *mixOut
		if out == "" {
			out = filepath.Join(l.Dir, "mix.txt")
		}
		if err := writeMix(out, qs); err != nil {
			return err
		}
		fmt.Fprintf(stderr, "fakenet: %d queries in %s\n", len(qs), out)
	}
	if len(unboundAddrs) > 0 {
		d := filepath.Join(l.Dir, "unbound")
		if err := writeConf(d, "unbound.conf", fakenet.UnboundConfig(d, l.Hints, unboundAddrs)); err != nil {
			return err
		}
	}
	if len(kresdAddrs) > 0 {
		d := filepath.Join(l.Dir, "kresd")
		if err := writeConf(d, "kresd.conf", fakenet.KresdConfig(d, l.Hints, kresdAddrs)); err != nil {
			return err
		}
	}
	return nil
}

func addrs(flagName, s string) ([]netip.Addr, error) {
	var out []netip.Addr
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flagName, err)
		}
		out = append(out, a)
	}
	return out, nil
}

func writeConf(dir, name, conf string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, name), []byte(conf), 0o644)
}

// writeMix writes the query file and, next to it, "name TYPE RCODE" lines
// saying what a correct resolver answers.
func writeMix(path string, qs []fakenet.Query) error {
	for _, p := range []struct {
		path   string
		rcodes bool
	}{{path, false}, {path + ".rcodes", true}} {
		f, err := os.Create(p.path)
		if err != nil {
			return err
		}
		w := bufio.NewWriter(f)
		for _, q := range qs {
			w.WriteString(q.String())
			if p.rcodes {
				w.WriteString(" " + dns.RcodeToString[q.Rcode])
			}
			w.WriteByte('\n')
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}
