// Package fakenet builds a small fake Internet for resolver tests and
// benchmarks: NSD and Knot DNS instances serving a root zone, two TLDs
// (lab. and test.) and leaf zones, on addresses of the benchmark ranges
// (198.19.0.0/16 and 2001:2:0:100::/56) added to the loopback device of a
// network namespace the test created.
//
// The fake Internet holds the cases a resolver has to get right: a lame
// server (listed in NS, answers REFUSED), a dead one (its address is routed
// into a TAP nobody reads, so queries vanish), a glueless delegation, DNAME,
// CNAME chains across zones, answers too large for UDP (TC=1), a delegation
// chain five zones deep, NXDOMAIN and NODATA, wildcards, and a zone whose
// only server has an IPv6 address. Every zone is on NSD, on Knot, or on
// both, so that a resolver meets both implementations. Expect lists names,
// types and the answers a correct resolver gives; Mix generates query mixes
// over extra generated zones for benchmarks.
//
// Write lays the fake Internet out in a directory (zone files, server
// configurations, root hints, a shell manifest) without starting anything;
// bench/cmd/fakenet uses it for the benchmark and lab scripts. Start does
// the same inside a labtest.NS and starts the servers; StartUnbound and
// StartKresd start the reference resolvers with the fake root hints.
//
// A resolver under test on a TAP in the same namespace reaches the servers
// through its gateway, the TAP's kernel side: for tapdns, --ip
// 198.18.0.2/24 --gateway 198.18.0.1 (kernel side 198.18.0.1/24), and
// --ip6 2001:2::2/64 --gateway6 2001:2::1 for the IPv6-only server, with
// --root-hints Layout.Hints. Addresses in 198.19.53.0/24 and
// 2001:2:0:153::/64 are not used by the fake Internet: the package's own
// test runs Unbound and kresd there.
package fakenet

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/miekg/dns"
)

// TTLs of the fake Internet's zones: every record has TTL, and every SOA
// has NegativeTTL as its MINIMUM, so a resolver caches a negative answer
// for NegativeTTL (RFC 2308 section 5: the smaller of the SOA's TTL and
// MINIMUM). A resolver's answers never carry larger TTLs than these.
const (
	TTL         = 3600
	NegativeTTL = 300
)

// Impl is an authoritative server implementation.
type Impl int

// The implementations the fake Internet runs.
const (
	NSD Impl = iota
	Knot
)

// String returns "nsd" or "knot".
func (i Impl) String() string {
	switch i {
	case NSD:
		return "nsd"
	case Knot:
		return "knot"
	}
	return fmt.Sprintf("Impl(%d)", int(i))
}

// Server is one authoritative server process of the fake Internet.
type Server struct {
	// Name is "root1", "root2", "tld1", "tld2", "leaf1" or "leaf2".
	Name string
	Impl Impl
	// Addrs are the addresses it listens on (port 53).
	Addrs []netip.Addr
	// Zones are the origins it serves, absolute and lower case.
	Zones []string
	// Config is the path of its configuration file, Dir its working
	// directory.
	Config, Dir string
}

// Zone is one zone of the fake Internet.
type Zone struct {
	Origin string // absolute, lower case
	// File is the path of its zone file; empty for a zone nobody serves
	// (the all-lame delegation).
	File string
	// Servers are the names of the servers that load it.
	Servers []string
}

// Options change what Write and Start build. The zero value is the fixed
// fake Internet of the tests.
type Options struct {
	// BenchZones adds that many generated leaf zones (z000.lab.,
	// z001.test., ...) for Mix, at most MaxBenchZones.
	BenchZones int
}

// Layout is a fake Internet written to a directory by Write.
type Layout struct {
	// Dir holds everything: zones/, one directory per server, root.hints,
	// fakenet.env and expect.txt.
	Dir string
	// Hints is the path of the root hints file (named.root format) naming
	// the two root servers with their IPv4 and IPv6 addresses.
	Hints   string
	Servers []Server
	Zones   []Zone
	// Roots are the root servers' addresses, as in Hints.
	Roots []netip.Addr
	// Dead are the addresses that never answer; Start routes them into a
	// TAP nothing reads.
	Dead []netip.Addr
	// Expect is the expected-answer table of the fixed zones.
	Expect []Expect
	// BenchZones is Options.BenchZones.
	BenchZones int
}

// Addrs returns every server address (not the dead ones), sorted.
func (l *Layout) Addrs() []netip.Addr {
	var out []netip.Addr
	for _, s := range l.Servers {
		out = append(out, s.Addrs...)
	}
	slices.SortFunc(out, func(a, b netip.Addr) int { return a.Compare(b) })
	return out
}

// Expect is one row of the expected-answer table: what a correct resolver
// answers to a recursive query for Name and Type.
type Expect struct {
	Name  string // absolute, lower case
	Type  uint16
	Rcode int
	// Answer is the answer section in zone-file syntax without TTL and
	// class ("www.example.lab. A 198.18.16.1"), in any order.
	Answer []string
	// Case says what the row exercises.
	Case string
}

// String returns "name TYPE".
func (e Expect) String() string { return e.Name + " " + dns.TypeToString[e.Type] }

// Check compares a resolver's response with the row: the response code and
// the answer section as a set of records (owner, type and data; TTLs,
// order and owner case ignored). It says every difference.
func (e Expect) Check(m *dns.Msg) error {
	var diffs []string
	if m.Rcode != e.Rcode {
		diffs = append(diffs, fmt.Sprintf("rcode %s, want %s", dns.RcodeToString[m.Rcode], dns.RcodeToString[e.Rcode]))
	}
	if len(m.Question) != 1 || !strings.EqualFold(m.Question[0].Name, e.Name) || m.Question[0].Qtype != e.Type {
		diffs = append(diffs, fmt.Sprintf("question %v, want %s", m.Question, e))
	}
	got := make([]string, 0, len(m.Answer))
	for _, rr := range m.Answer {
		got = append(got, RRText(rr))
	}
	want := make([]string, 0, len(e.Answer))
	for _, s := range e.Answer {
		rr, err := dns.NewRR(s)
		if err != nil {
			return fmt.Errorf("expected record %q: %w", s, err)
		}
		want = append(want, RRText(rr))
	}
	sort.Strings(got)
	sort.Strings(want)
	for _, s := range want {
		if _, ok := slices.BinarySearch(got, s); !ok {
			diffs = append(diffs, "missing "+s)
		}
	}
	for _, s := range got {
		if _, ok := slices.BinarySearch(want, s); !ok {
			diffs = append(diffs, "unexpected "+s)
		}
	}
	if len(diffs) > 0 {
		return fmt.Errorf("%s: %s", e, strings.Join(diffs, "; "))
	}
	return nil
}

// RRText returns rr as "owner TYPE rdata" with the owner in lower case and
// no TTL or class: the form Expect.Check compares.
func RRText(rr dns.RR) string {
	h := rr.Header()
	data := strings.TrimPrefix(rr.String(), h.String())
	return strings.ToLower(h.Name) + " " + dns.TypeToString[h.Rrtype] + " " + data
}

// Write lays out the fake Internet in dir (which must exist): zone files,
// one configuration per server, the root hints, a shell manifest
// (fakenet.env: addresses, daemons, readiness probes) and expect.txt. It
// starts nothing.
func Write(dir string, opt Options) (*Layout, error) {
	if opt.BenchZones < 0 || opt.BenchZones > MaxBenchZones {
		return nil, fmt.Errorf("fakenet: BenchZones %d: want 0 to %d", opt.BenchZones, MaxBenchZones)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	specs := append(fixedZones(), benchZones(opt.BenchZones)...)
	files, err := zoneFiles(specs)
	if err != nil {
		return nil, err
	}
	l := &Layout{
		Dir:        dir,
		Hints:      filepath.Join(dir, "root.hints"),
		Dead:       []netip.Addr{deadV4, deadV6},
		Expect:     fixedExpect(),
		BenchZones: opt.BenchZones,
	}
	zdir := filepath.Join(dir, "zones")
	if err := os.MkdirAll(zdir, 0o755); err != nil {
		return nil, err
	}
	served := map[string][]string{} // server name -> origins
	for _, z := range specs {
		zone := Zone{Origin: z.origin, Servers: z.servers}
		if len(z.servers) > 0 {
			zone.File = filepath.Join(zdir, zoneFileName(z.origin))
			if err := os.WriteFile(zone.File, []byte(files[z.origin]), 0o644); err != nil {
				return nil, err
			}
		}
		for _, s := range z.servers {
			served[s] = append(served[s], z.origin)
		}
		l.Zones = append(l.Zones, zone)
	}
	for _, sp := range serverSpecs() {
		s := Server{Name: sp.name, Impl: sp.impl, Addrs: sp.addrs, Zones: served[sp.name],
			Dir: filepath.Join(dir, sp.name)}
		if err := os.MkdirAll(s.Dir, 0o755); err != nil {
			return nil, err
		}
		var conf string
		switch s.Impl {
		case NSD:
			s.Config = filepath.Join(s.Dir, "nsd.conf")
			conf = nsdConfig(s, l.Zones)
		case Knot:
			s.Config = filepath.Join(s.Dir, "knot.conf")
			conf = knotConfig(s, l.Zones)
		}
		if err := os.WriteFile(s.Config, []byte(conf), 0o644); err != nil {
			return nil, err
		}
		l.Servers = append(l.Servers, s)
	}
	var hints strings.Builder
	hints.WriteString("; root hints of the fake Internet (internal/fakenet)\n")
	for _, ns := range specs[0].ns {
		fmt.Fprintf(&hints, ".\t3600000\tNS\t%s\n", ns.name)
	}
	for _, ns := range specs[0].ns {
		for _, a := range ns.addrs {
			fmt.Fprintf(&hints, "%s\t3600000\t%s\t%s\n", ns.name, addrType(a), a)
			l.Roots = append(l.Roots, a)
		}
	}
	if err := os.WriteFile(l.Hints, []byte(hints.String()), 0o644); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "fakenet.env"), []byte(l.manifest()), 0o644); err != nil {
		return nil, err
	}
	var exp strings.Builder
	for _, e := range l.Expect {
		fmt.Fprintf(&exp, "%s %s %s\t; %s\n", e.Name, dns.TypeToString[e.Type], dns.RcodeToString[e.Rcode], e.Case)
		for _, a := range e.Answer {
			fmt.Fprintf(&exp, "\t%s\n", a)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "expect.txt"), []byte(exp.String()), 0o644); err != nil {
		return nil, err
	}
	return l, nil
}

func zoneFileName(origin string) string {
	if origin == "." {
		return "root.zone"
	}
	return strings.TrimSuffix(origin, ".") + ".zone"
}

func addrType(a netip.Addr) string {
	if a.Is4() {
		return "A"
	}
	return "AAAA"
}

// prefix returns a as a host prefix (/32 or /128).
func prefix(a netip.Addr) string {
	return netip.PrefixFrom(a, a.BitLen()).String()
}

// manifest returns fakenet.env: bash arrays that bench/fakenet.sh reads to
// bring the fake Internet up without Go.
func (l *Layout) manifest() string {
	var b strings.Builder
	b.WriteString("# fake Internet manifest (internal/fakenet); sourced by bench/fakenet.sh\n")
	fmt.Fprintf(&b, "FAKENET_DIR=%q\nFAKENET_HINTS=%q\n", l.Dir, l.Hints)
	b.WriteString("FAKENET_ADDRS=(")
	for i, a := range l.Addrs() {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(prefix(a))
	}
	b.WriteString(")\nFAKENET_DEAD=(")
	for i, a := range l.Dead {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(prefix(a))
	}
	b.WriteString(")\n# name impl config\nFAKENET_SERVERS=(")
	for _, s := range l.Servers {
		fmt.Fprintf(&b, "\n\t%q", s.Name+" "+s.Impl.String()+" "+s.Config)
	}
	b.WriteString("\n)\n# address zone: answers the zone's SOA authoritatively once up\nFAKENET_PROBES=(")
	for _, s := range l.Servers {
		for _, z := range s.Zones {
			fmt.Fprintf(&b, "\n\t%q", s.Addrs[0].String()+" "+z)
		}
	}
	b.WriteString("\n)\n")
	return b.String()
}

// zoneFiles renders every served zone: SOA, apex NS, the address records
// of NS names inside the zone (authoritative, or glue below a cut), the
// delegations to child zones with glue for in-bailiwick NS names, then the
// zone's own records.
func zoneFiles(specs []zoneSpec) (map[string]string, error) {
	byOrigin := map[string]*zoneSpec{}
	for i := range specs {
		z := &specs[i]
		if _, dup := byOrigin[z.origin]; dup {
			return nil, fmt.Errorf("fakenet: zone %s defined twice", z.origin)
		}
		byOrigin[z.origin] = z
	}
	// parent returns the closest enclosing zone of name, excluding name
	// itself when self is false.
	parent := func(name string, self bool) string {
		for n := name; ; {
			if (self || n != name) && byOrigin[n] != nil {
				return n
			}
			if n == "." {
				return ""
			}
			if i := strings.IndexByte(n, '.'); i >= 0 && i+1 < len(n) {
				n = n[i+1:]
			} else {
				n = "."
			}
		}
	}
	extra := map[string][]string{} // origin -> records added below the zone's own
	added := map[[2]string]bool{}
	add := func(origin, rr string) {
		if k := [2]string{origin, rr}; !added[k] {
			added[k] = true
			extra[origin] = append(extra[origin], rr)
		}
	}
	for _, z := range specs {
		if len(z.ns) == 0 {
			return nil, fmt.Errorf("fakenet: zone %s has no NS", z.origin)
		}
		p := parent(z.origin, false)
		for _, ns := range z.ns {
			if p != "" {
				add(p, fmt.Sprintf("%s\tNS\t%s", z.origin, ns.name))
			}
			inside := dns.IsSubDomain(z.origin, ns.name)
			if z.glueless && inside {
				return nil, fmt.Errorf("fakenet: glueless zone %s has in-bailiwick NS %s", z.origin, ns.name)
			}
			for _, a := range ns.addrs {
				rr := fmt.Sprintf("%s\t%s\t%s", ns.name, addrType(a), a)
				if inside && p != "" {
					add(p, rr) // glue in the parent
				}
				// Address records where the name lives, and as glue in
				// this zone when the name is inside it (the root's NS
				// names are below lab.).
				if owner := parent(ns.name, true); owner != "" {
					add(owner, rr)
				}
				if inside {
					add(z.origin, rr)
				}
			}
		}
	}
	out := map[string]string{}
	for _, z := range specs {
		if len(z.servers) == 0 {
			continue
		}
		var b strings.Builder
		fmt.Fprintf(&b, "; %s, generated by internal/fakenet\n$ORIGIN %s\n$TTL %d\n", z.origin, z.origin, TTL)
		fmt.Fprintf(&b, "@\tSOA\t%s hostmaster.%s 1 7200 3600 1209600 %d\n", z.ns[0].name, strings.TrimPrefix(z.origin, "."), NegativeTTL)
		for _, ns := range z.ns {
			fmt.Fprintf(&b, "@\tNS\t%s\n", ns.name)
		}
		for _, rr := range extra[z.origin] {
			b.WriteString(rr)
			b.WriteByte('\n')
		}
		b.WriteString(strings.TrimPrefix(z.body, "\n"))
		out[z.origin] = b.String()
	}
	return out, nil
}
