package difftest

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tapdns/tapdns/internal/labtest"
)

// maxReported bounds the failures printed in full; the rest get one line
// each (all of them go to $DIFFTEST_REPORT when set).
const maxReported = 40

// outcome is what one case gave.
type outcome struct {
	c     qcase
	views map[string]view
	sizes map[string]int
	raw   map[string][]byte
	errs  []string
	exc   *exception
	// repeat notes tapdns instances whose answer changed when the query was
	// sent a second time (after every other case): the answer cache must not
	// change answers.
	repeat []string
}

// TestDifferential sends every case to NSD, Knot and tapdns and fails on
// any difference that the exceptions table does not explain.
//
// Environment: DIFFTEST_REPORT=FILE writes every failure in full to FILE;
// DIFFTEST_DUMP=FILE writes every case with each server's answer to FILE;
// DIFFTEST_REFERENCE_ONLY=1 compares NSD with Knot only (for work on the
// case list while tapdns does not run; the test then says so and skips
// the tapdns comparison, it does not pass it).
func TestDifferential(t *testing.T) {
	labtest.RequireRoot(t)
	labtest.RequireTools(t, append([]string{"nsd", "nsd-checkconf", "knotd", "knotc", "ethtool"}, signers...)...)
	refOnly := os.Getenv("DIFFTEST_REFERENCE_ONLY") != ""
	start := time.Now()

	ns := labtest.NewNS(t, "diff")
	signed := signZones(t, t.TempDir())
	zones := append([]testZone{}, testZones...)
	for _, z := range signed {
		zones = append(zones, z.testZone)
	}
	servers := startServers(t, ns, zones, !refOnly)
	cases := append(allCases(), signedCases(signed)...)

	outcomes := make([]outcome, len(cases))
	for i, c := range cases {
		outcomes[i] = run(ns, servers, c)
	}
	// Everything again to tapdns alone: by now most answers come from its
	// cache, and they must not differ from the first ones.
	var taps []*server
	for _, s := range servers {
		if slices.Contains(tapdnsNames(), s.name) {
			taps = append(taps, s)
		}
	}
	for i, c := range cases {
		again := run(ns, taps, c)
		o := &outcomes[i]
		for _, s := range taps {
			if d := diff(o.views[s.name], again.views[s.name]); len(d) > 0 {
				o.repeat = append(o.repeat, fmt.Sprintf("%s answered differently the second time (%s):\n%s",
					s.name, strings.Join(d, ", "), again.views[s.name]))
			}
		}
		o.errs = append(o.errs, again.errs...)
	}

	var (
		passed   int
		failures []string
		used     = map[*exception]bool{}
	)
	for i := range outcomes {
		o := &outcomes[i]
		msg := judge(o, refOnly)
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
			failures = append(failures, fmt.Sprintf("exception %q matched no case where NSD and Knot differ: remove it or fix its patterns", exceptions[i].id))
		}
	}

	for i, f := range failures {
		if i < maxReported {
			t.Error(f)
		} else {
			t.Error(strings.SplitN(f, "\n", 2)[0])
		}
	}
	if p := os.Getenv("DIFFTEST_REPORT"); p != "" {
		if err := os.WriteFile(p, []byte(strings.Join(failures, "\n\n")+"\n"), 0o644); err != nil {
			t.Errorf("write report: %v", err)
		}
	}
	if p := os.Getenv("DIFFTEST_DUMP"); p != "" {
		if err := os.WriteFile(p, []byte(dump(outcomes)), 0o644); err != nil {
			t.Errorf("write dump: %v", err)
		}
	}
	// On a line of its own, for people and scripts.
	fmt.Printf("difftest: %d cases, %d exceptions used, %v\n", len(cases), len(used), time.Since(start).Round(time.Millisecond))
	fmt.Printf("%d passed, %d failed\n", passed, len(failures))
	if refOnly && !t.Failed() {
		t.Skip("DIFFTEST_REFERENCE_ONLY is set: NSD and Knot compared, tapdns not started or compared")
	}
}

// run sends one case to every server at once and collects the answers.
func run(ns *labtest.NS, servers []*server, c qcase) outcome {
	o := outcome{c: c, views: map[string]view{}, sizes: map[string]int{}, raw: map[string][]byte{}}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, s := range servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			addr := s.addr
			if c.tr == udp6 || c.tr == tcp6 {
				addr = s.six
			}
			resp, note, err := exchange(ns, addr, c.tr, c.query)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				o.errs = append(o.errs, fmt.Sprintf("%s: %v", s.name, err))
				return
			}
			v := viewOf(c.query, resp)
			if note != "" {
				v.add(fPipelined, note)
			}
			o.views[s.name] = v
			o.sizes[s.name] = len(resp)
			o.raw[s.name] = resp
		}()
	}
	wg.Wait()
	return o
}

// judge returns "" when the outcome is explained, else a report.
func judge(o *outcome, refOnly bool) string {
	head := fmt.Sprintf("case %s (%s, query %x)", o.c.name, o.c.tr, o.c.query)
	if len(o.errs) > 0 {
		return head + ": client errors: " + strings.Join(o.errs, "; ")
	}
	nsd, knot := o.views["nsd"], o.views["knot"]
	o.exc = findException(o.c.name)
	want := nsd
	if d := diff(nsd, knot); len(d) > 0 {
		if o.exc == nil {
			return fmt.Sprintf("%s: NSD and Knot differ in %s and no exception covers the case\nNSD:\n%sKnot:\n%s",
				head, strings.Join(d, ", "), nsd, knot)
		}
		if o.exc.follow == "knot" {
			want = knot
		}
		want = want.with(o.exc.set)
	} else {
		// Only exceptions that explain a real difference count as used.
		o.exc = nil
	}
	if refOnly {
		return ""
	}
	if len(o.repeat) > 0 {
		return head + ": " + strings.Join(o.repeat, "\n")
	}
	// Each tapdns instance must give the expected answer; when both fail
	// alike the report says so once.
	var fails []string
	var names []string
	for _, name := range tapdnsNames() {
		if _, ok := o.views[name]; !ok {
			continue
		}
		m := checkTapdns(o, name, want)
		if m == "" {
			continue
		}
		if len(fails) > 0 && m == fails[len(fails)-1] {
			names[len(names)-1] += " and " + name
			continue
		}
		fails = append(fails, m)
		names = append(names, name)
	}
	var b strings.Builder
	for i, m := range fails {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s: %s: %s", head, names[i], m)
	}
	return b.String()
}

// checkTapdns compares one tapdns instance's answer with want and returns
// "" or the difference, without the instance's name.
func checkTapdns(o *outcome, name string, want view) string {
	got := o.views[name]
	if o.exc != nil && len(o.exc.ignore) > 0 {
		want, got = want.without(o.exc.ignore), got.without(o.exc.ignore)
	}
	if d := diff(want, got); len(d) > 0 {
		src := "NSD and Knot agree"
		if o.exc != nil {
			src = fmt.Sprintf("following %s per exception %q", o.exc.follow, o.exc.id)
		}
		return fmt.Sprintf("differs in %s (%s)\nwant:\n%sgot:\n%s", strings.Join(d, ", "), src, want, got)
	}
	// The same answer must not be bigger than both references made it:
	// that would mean missing name compression.
	if ts, ns, ks := o.sizes[name], o.sizes["nsd"], o.sizes["knot"]; ts > max(ns, ks) {
		return fmt.Sprintf("response is %d bytes, NSD's %d, Knot's %d (name compression?)", ts, ns, ks)
	}
	return ""
}

// findException returns the first exception with a pattern matching the
// case name.
func findException(name string) *exception {
	for i := range exceptions {
		for _, p := range exceptions[i].cases {
			if globMatch(p, name) {
				return &exceptions[i]
			}
		}
	}
	return nil
}

// globMatch reports whether name matches pattern, where "*" matches any
// run of characters ("/" included), `\*` matches a star, and everything
// else matches itself.
func globMatch(pattern, name string) bool {
	switch {
	case pattern == "":
		return name == ""
	case strings.HasPrefix(pattern, `\*`):
		return strings.HasPrefix(name, "*") && globMatch(pattern[2:], name[1:])
	case pattern[0] == '*':
		for i := 0; i <= len(name); i++ {
			if globMatch(pattern[1:], name[i:]) {
				return true
			}
		}
		return false
	}
	return name != "" && name[0] == pattern[0] && globMatch(pattern[1:], name[1:])
}

// dump formats every outcome with every server's answer.
func dump(outcomes []outcome) string {
	var b strings.Builder
	for _, o := range outcomes {
		fmt.Fprintf(&b, "case %s (%s, query %x)\n", o.c.name, o.c.tr, o.c.query)
		for _, name := range append([]string{"nsd", "knot"}, tapdnsNames()...) {
			if v, ok := o.views[name]; ok {
				fmt.Fprintf(&b, "%s (%d bytes):\n%s\traw: %x\n", name, o.sizes[name], v, o.raw[name])
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}
