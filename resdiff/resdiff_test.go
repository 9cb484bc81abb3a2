package resdiff

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/internal/fakenet"
	"github.com/tapdns/tapdns/internal/labtest"
)

// Addresses. The reference resolvers listen on lo in 198.19.53.0/24 and
// 2001:2:0:153::/64, which the fake Internet leaves free; tapdns is on a
// TAP whose kernel side (the test's client and tapdns's gateway) is
// 198.18.0.1 and 2001:2::1, and a second tapdns, with --fastpath=false,
// on another whose kernel side is 198.18.1.1 and 2001:2:1::1.
var (
	unboundV4 = netip.MustParseAddr("198.19.53.1")
	unboundV6 = netip.MustParseAddr("2001:2:0:153::1")
	kresdV4   = netip.MustParseAddr("198.19.53.2")
	kresdV6   = netip.MustParseAddr("2001:2:0:153::2")
	tapdnsV4  = netip.MustParseAddr("198.18.0.2")
	tapdnsV6  = netip.MustParseAddr("2001:2::2")
	// The second tapdns, without the link-layer fast path, on tap1.
	gvisorV4 = netip.MustParseAddr("198.18.1.2")
	gvisorV6 = netip.MustParseAddr("2001:2:1::2")
)

const (
	kernel4       = "198.18.0.1/24"
	kernel6       = "2001:2::1/64"
	gvisorKernel4 = "198.18.1.1/24"
	gvisorKernel6 = "2001:2:1::1/64"
	// maxReported bounds the failures printed in full; the rest get one
	// line each (all go to $RESDIFF_REPORT when set).
	maxReported = 30
)

// The resolvers compared: the references, then the tapdns instances.
var (
	tapdnsNames   = []string{"tapdns", "tapdns-gvisor"}
	resolverNames = append([]string{"unbound", "kresd"}, tapdnsNames...)
)

// resolver is one of the resolvers compared.
type resolver struct {
	name   string // "unbound", "kresd", or one of tapdnsNames
	v4, v6 netip.Addr
}

func (r resolver) addr(tr transport) netip.AddrPort {
	if tr == udp6 || tr == tcp6 {
		return netip.AddrPortFrom(r.v6, 53)
	}
	return netip.AddrPortFrom(r.v4, 53)
}

// answer is one resolver's response to one case.
type answer struct {
	view view
	msg  *dns.Msg // nil when there was no response or it did not parse
	// sent and got are when the query went out and the answer came.
	sent, got time.Time
	err       error
}

// outcome is what one case gave, on both passes.
type outcome struct {
	c      qcase
	first  map[string]answer
	second map[string]answer
	exc    *exception
}

// TestResolverDifferential sends every case to Unbound, kresd and tapdns
// --resolve, twice (the second pass comes from the caches), and fails on
// any difference the exceptions table does not explain, on TTLs out of
// bounds or not counting down, and on any answer that differs from the
// fake Internet's expected-answer table.
//
// Environment: RESDIFF_REPORT=FILE writes every failure in full to FILE;
// RESDIFF_DUMP=FILE writes every case with each resolver's answers.
func TestResolverDifferential(t *testing.T) {
	labtest.RequireRoot(t)
	labtest.RequireTools(t, "nsd", "knotd", "unbound", "kresd")
	start := time.Now()
	bin := labtest.BuildTapdns(t)
	built := time.Now()

	ns := labtest.NewNS(t, "rdiff")
	ns.AddTAP(t, "tap0", kernel4, kernel6)
	ns.AddTAP(t, "tap1", gvisorKernel4, gvisorKernel6)
	n := fakenet.Start(t, ns, fakenet.Options{})
	dir := t.TempDir()
	hosts := filepath.Join(dir, "hosts")
	block := filepath.Join(dir, "block")
	writeFile(t, hosts, hostedA+" "+strings.TrimSuffix(hostedName, ".")+"\n")
	writeFile(t, block, "# blocked names and everything below them\n"+strings.TrimSuffix(blockedName, ".")+"\n")

	var wg sync.WaitGroup
	wg.Add(2)
	// Unbound and kresd start in parallel with tapdns: each waits until
	// it resolves ". NS", which takes a moment.
	go func() {
		defer wg.Done()
		n.StartUnboundWith(t, unboundLocal(), unboundV4, unboundV6)
	}()
	go func() {
		defer wg.Done()
		n.StartKresdWith(t, kresdLocal(hosts), kresdV4, kresdV6)
	}()
	flags := []string{"--resolve", "--root-hints", n.Hints,
		"--override", strings.TrimSuffix(overrideName, ".") + "=" + overrideA,
		"--override", strings.TrimSuffix(overrideName, ".") + "=" + overrideAAAA,
		"--override", strings.TrimSuffix(shadowName, ".") + "=" + shadowA,
		"--hosts", hosts, "--block", block}
	p := ns.StartTapdns(t, bin, append([]string{"--tap", "tap0", "--ip", tapdnsV4.String() + "/24", "--gateway", "198.18.0.1",
		"--ip6", tapdnsV6.String() + "/64", "--gateway6", "2001:2::1"}, flags...)...)
	pg := ns.StartTapdns(t, bin, append([]string{"--tap", "tap1", "--ip", gvisorV4.String() + "/24", "--gateway", "198.18.1.1",
		"--ip6", gvisorV6.String() + "/64", "--gateway6", "2001:2:1::1", "--fastpath=false"}, flags...)...)
	p.WaitReady(t, tapdnsV4.String())
	pg.WaitReady(t, gvisorV4.String())
	wg.Wait()
	if t.Failed() {
		return
	}
	resolvers := []resolver{
		{"unbound", unboundV4, unboundV6},
		{"kresd", kresdV4, kresdV6},
		{"tapdns", tapdnsV4, tapdnsV6},
		{"tapdns-gvisor", gvisorV4, gvisorV6},
	}
	ready := time.Now()

	cases := allCases(n.Expect)
	outcomes := make([]outcome, len(cases))
	for i, c := range cases {
		outcomes[i] = outcome{c: c, first: ask(ns, resolvers, &c)}
	}
	for i := range outcomes {
		outcomes[i].second = ask(ns, resolvers, &outcomes[i].c)
	}

	var (
		passed   int
		failures []string
		used     = map[*exception]bool{}
	)
	for i := range outcomes {
		o := &outcomes[i]
		msg := judge(o)
		if o.exc != nil {
			used[o.exc] = true
		}
		if msg == "" {
			passed++
			continue
		}
		failures = append(failures, msg)
	}
	for i := range exceptions {
		if !used[&exceptions[i]] {
			failures = append(failures, fmt.Sprintf("exception %q explains no difference in this run: remove it or fix its patterns", exceptions[i].id))
		}
	}
	for i, f := range failures {
		if i < maxReported {
			t.Error(f)
		} else {
			t.Error(strings.SplitN(f, "\n", 2)[0])
		}
	}
	if path := os.Getenv("RESDIFF_REPORT"); path != "" {
		writeFile(t, path, strings.Join(failures, "\n\n")+"\n")
	}
	if path := os.Getenv("RESDIFF_DUMP"); path != "" {
		writeFile(t, path, dump(outcomes))
	}
	fmt.Printf("resdiff: %d cases, %d exceptions used; build %v, lab up %v, queries %v\n", len(cases), len(used),
		built.Sub(start).Round(time.Millisecond), ready.Sub(built).Round(time.Millisecond), time.Since(ready).Round(time.Millisecond))
	fmt.Printf("%d passed, %d failed\n", passed, len(failures))
}

// ask sends one case to every resolver at once, with one query ID.
func ask(ns *labtest.NS, resolvers []resolver, c *qcase) map[string]answer {
	query := c.query(uint16(rand.N(1 << 16)))
	out := map[string]answer{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, r := range resolvers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			sent := time.Now()
			resp, err := exchange(ns, r.addr(c.tr), c.tr, query)
			a := answer{view: viewOf(query, resp), sent: sent, got: time.Now(), err: err}
			if resp != nil {
				m := new(dns.Msg)
				if m.Unpack(resp) == nil {
					a.msg = m
				}
			}
			mu.Lock()
			out[r.name] = a
			mu.Unlock()
		}()
	}
	wg.Wait()
	return out
}

// judge returns "" when the outcome is explained, else a report.
func judge(o *outcome) string {
	head := fmt.Sprintf("case %s", o.c.id)
	var errs []string
	for _, pass := range []map[string]answer{o.first, o.second} {
		for _, name := range resolverNames {
			if err := pass[name].err; err != nil {
				errs = append(errs, fmt.Sprintf("%s: %v", name, err))
			}
		}
	}
	if len(errs) > 0 {
		return head + ": client errors: " + strings.Join(errs, "; ")
	}
	ub, kr := o.first["unbound"].view, o.first["kresd"].view
	var problems []string
	want, src := ub, "Unbound and kresd agree"
	o.exc = findException(o.c.id)
	if d := diff(ub, kr); len(d) > 0 {
		if o.exc == nil || o.exc.follow == "" {
			return fmt.Sprintf("%s: Unbound and kresd differ in %s and no exception covers the case\nUnbound:\n%skresd:\n%stapdns:\n%s",
				head, strings.Join(d, ", "), ub, kr, o.first["tapdns"].view)
		}
		if o.exc.follow == "kresd" {
			want = kr
		}
		want = want.with(o.exc.set)
		src = fmt.Sprintf("following %s per exception %q", o.exc.follow, o.exc.id)
	} else if o.exc != nil && len(diff(want, want.with(o.exc.set))) > 0 {
		// Both peers agree and tapdns deliberately answers otherwise.
		want = want.with(o.exc.set)
		src = fmt.Sprintf("Unbound and kresd agree, changed per exception %q", o.exc.id)
	} else {
		o.exc = nil // only exceptions that explain a real difference count as used
	}
	for _, name := range tapdnsNames {
		tp := o.first[name].view
		if d := diff(want, tp); len(d) > 0 {
			problems = append(problems, fmt.Sprintf("%s differs in %s (%s)\nwant:\n%sgot:\n%s", name, strings.Join(d, ", "), src, want, tp))
		}
		if d := diff(tp, o.second[name].view); len(d) > 0 {
			problems = append(problems, fmt.Sprintf("%s answered differently the second time (%s):\n%s", name, strings.Join(d, ", "), o.second[name].view))
		}
		problems = append(problems, checkTTLs(name, o.first[name], o.second[name])...)
	}
	if e := o.c.expect; e != nil {
		for _, name := range resolverNames {
			a := o.first[name]
			if a.msg == nil {
				problems = append(problems, fmt.Sprintf("%s: no parsable response for the expected-answer row %s (%s)", name, e, e.Case))
			} else if a.msg.Truncated {
				continue // the TCP case of the same question checks it
			} else if err := e.Check(a.msg); err != nil {
				problems = append(problems, fmt.Sprintf("%s: expected-answer row (%s): %v", name, e.Case, err))
			}
		}
	}
	if len(problems) == 0 {
		return ""
	}
	return head + ": " + strings.Join(problems, "\n")
}

// checkTTLs checks tapdns's TTLs: every record's TTL is at most what the
// fake Internet's zones give it (fakenet.TTL; fakenet.NegativeTTL for the
// SOA of a negative answer), and on the second pass it has counted down by
// the time between the two queries (within a second either way: TTLs are
// whole seconds), except for local data (AA=1), which does not expire.
func checkTTLs(name string, a1, a2 answer) []string {
	if a1.msg == nil || a2.msg == nil {
		return nil
	}
	var out []string
	neg := a1.msg.Rcode == dns.RcodeNameError || a1.msg.Rcode == dns.RcodeSuccess && len(a1.msg.Answer) == 0
	for _, r := range a1.view.ttls {
		ceiling := uint32(fakenet.TTL)
		if neg && strings.HasPrefix(r.key, "ns ") && strings.Contains(r.key, " SOA ") {
			ceiling = fakenet.NegativeTTL
		}
		if r.ttl > ceiling {
			out = append(out, fmt.Sprintf("%s: TTL %d above the zone's %d: %s", name, r.ttl, ceiling, r.key))
		}
	}
	// Each TTL was read at some moment while its query was out: the
	// clock moved between the two readings by at least lo, at most hi.
	lo, hi := a2.sent.Sub(a1.got).Seconds(), a2.got.Sub(a1.sent).Seconds()
	second := map[string]uint32{}
	for _, r := range a2.view.ttls {
		second[r.key] = r.ttl
	}
	for _, r := range a1.view.ttls {
		t2, ok := second[r.key]
		if !ok {
			continue // reported as a difference between the passes
		}
		if a1.msg.Authoritative {
			if t2 != r.ttl {
				out = append(out, fmt.Sprintf("%s: local data TTL changed from %d to %d: %s", name, r.ttl, t2, r.key))
			}
			continue
		}
		// TTLs are whole seconds, each rounded down: a second either way.
		if down := float64(r.ttl) - float64(t2); down < lo-1 || down > hi+1 {
			out = append(out, fmt.Sprintf("%s: TTL %d, then %d %.1f to %.1f s later: want it counting down with the clock: %s", name, r.ttl, t2, lo, hi, r.key))
		}
	}
	return out
}

// dump formats every outcome with each resolver's answers.
func dump(outcomes []outcome) string {
	var b strings.Builder
	for _, o := range outcomes {
		fmt.Fprintf(&b, "case %s (%s)\n", o.c.id, o.c.expectCase())
		for _, name := range resolverNames {
			for i, pass := range []map[string]answer{o.first, o.second} {
				a := pass[name]
				fmt.Fprintf(&b, "%s pass %d", name, i+1)
				if a.err != nil {
					fmt.Fprintf(&b, " error: %v", a.err)
				}
				b.WriteString(":\n")
				b.WriteString(a.view.String())
				var ttls []string
				for _, r := range a.view.ttls {
					ttls = append(ttls, fmt.Sprint(r.ttl))
				}
				fmt.Fprintf(&b, "\tttls: %s\n", strings.Join(ttls, " "))
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func (c *qcase) expectCase() string {
	if c.expect == nil {
		return "-"
	}
	return c.expect.Case
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// unboundLocal is the local data in Unbound's terms: local-data for the
// overrides and the hosts entry (with its PTR), an always_nxdomain zone
// for the block list.
func unboundLocal() string {
	return fmt.Sprintf(`server:
  local-data: "%[1]s 3600 IN A %[2]s"
  local-data: "%[1]s 3600 IN AAAA %[3]s"
  local-data: "%[4]s 3600 IN A %[5]s"
  local-data: "%[6]s 3600 IN A %[7]s"
  local-data-ptr: "%[7]s 3600 %[6]s"
  local-zone: "%[8]s" always_nxdomain
`, overrideName, overrideA, overrideAAAA, shadowName, shadowA, hostedName, hostedA, blockedName)
}

// kresdLocal is the local data in Knot Resolver's terms: the hints module
// (already loaded by fakenet's configuration) for the overrides and the
// hosts file, with Unbound's local-data TTL, and a DENY policy for the
// block list.
func kresdLocal(hosts string) string {
	return fmt.Sprintf(`hints.ttl(3600)
hints.set('%[1]s %[2]s')
hints.set('%[1]s %[3]s')
hints.set('%[4]s %[5]s')
hints.add_hosts('%[6]s')
policy.add(policy.suffix(policy.DENY, { todname('%[7]s') }))
`, strings.TrimSuffix(overrideName, "."), overrideA, overrideAAAA, strings.TrimSuffix(shadowName, "."), shadowA, hosts, blockedName)
}
