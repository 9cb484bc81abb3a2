// Package e2e runs the real tapdns binary inside network namespaces of its
// own and queries it with the real dig and ping from the kernel side of its
// TAP device. The tests need root, ip(8) and dig; they skip, saying why,
// without them.
//
// Every lab is one namespace holding a persistent TAP tap0 whose kernel side
// is 198.18.0.1/24 and 2001:2::1/64; tapdns is 198.18.0.2 and 2001:2::2.
package e2e

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tapdns/tapdns/internal/labtest"
)

const (
	kernel4    = "198.18.0.1/24"
	kernel6    = "2001:2::1/64"
	appliance4 = "198.18.0.2"
	appliance6 = "2001:2::2"
)

// requireLab skips the test unless it can run labs.
func requireLab(t *testing.T) {
	t.Helper()
	labtest.RequireRoot(t)
	labtest.RequireTools(t, "dig")
}

// testdata returns the absolute path of a file in testdata/, for a process
// whose working directory is not ours to rely on.
func testdata(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// startTapdns makes a lab and starts tapdns on its TAP with args added to
// the addresses, and waits until it answers on both addresses.
func startTapdns(t *testing.T, args ...string) (*labtest.NS, *labtest.Proc) {
	t.Helper()
	requireLab(t)
	bin := labtest.BuildTapdns(t)
	ns := labtest.NewNS(t, "e2e")
	ns.AddTAP(t, "tap0", kernel4, kernel6)
	p := ns.StartTapdns(t, bin, append([]string{"--tap", "tap0", "--ip", appliance4 + "/24", "--ip6", appliance6 + "/64"}, args...)...)
	p.WaitReady(t, appliance4)
	p.WaitReady(t, appliance6)
	return ns, p
}

// digResult is what dig printed about one response.
type digResult struct {
	Status                        string          // NOERROR, NXDOMAIN, ...
	Flags                         map[string]bool // qr, aa, tc, rd, ra, ...
	Answer, Authority, Additional []string        // records, fields joined by one space
}

// dig runs dig inside ns against server with the given arguments (name,
// type, options) and parses its output.
func dig(t *testing.T, ns *labtest.NS, server string, args ...string) digResult {
	t.Helper()
	full := append([]string{"dig", "+norec", "+time=2", "+tries=2", "@" + server}, args...)
	full = append(full, "+noall", "+comments", "+answer", "+authority", "+additional")
	out, err := ns.Run(t, full...)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	r, err := parseDig(out)
	if err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(full, " "), err, out)
	}
	return r
}

// parseDig parses the output of dig +noall +comments +answer +authority
// +additional for exactly one response.
func parseDig(out string) (digResult, error) {
	r := digResult{Flags: map[string]bool{}}
	var section *[]string
	headers := 0
	for line := range strings.Lines(out) {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
			section = nil
		case strings.Contains(line, "->>HEADER<<-"):
			headers++
			_, rest, ok := strings.Cut(line, "status: ")
			if !ok {
				return r, fmt.Errorf("no status in %q", line)
			}
			r.Status, _, _ = strings.Cut(rest, ",")
		case strings.HasPrefix(line, ";; flags:"):
			flags, _, _ := strings.Cut(strings.TrimPrefix(line, ";; flags:"), ";")
			for _, f := range strings.Fields(flags) {
				r.Flags[f] = true
			}
		case line == ";; ANSWER SECTION:":
			section = &r.Answer
		case line == ";; AUTHORITY SECTION:":
			section = &r.Authority
		case line == ";; ADDITIONAL SECTION:":
			section = &r.Additional
		case strings.HasPrefix(line, ";"):
			// Other comments: ";; Got answer:", the OPT pseudosection.
			if strings.HasSuffix(line, "SECTION:") {
				section = nil
			}
		case section != nil:
			*section = append(*section, strings.Join(strings.Fields(line), " "))
		default:
			return r, fmt.Errorf("unexpected line outside a section: %q", line)
		}
	}
	if headers != 1 {
		return r, fmt.Errorf("got %d responses, want 1", headers)
	}
	return r, nil
}

// sameRecords compares record lists as sets (RRset order is not fixed).
func sameRecords(got, want []string) bool {
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	return slices.Equal(g, w)
}

func TestParseDig(t *testing.T) {
	const out = `;; Got answer:
;; ->>HEADER<<- opcode: QUERY, status: NXDOMAIN, id: 40360
;; flags: qr aa; QUERY: 1, ANSWER: 0, AUTHORITY: 1, ADDITIONAL: 1

;; OPT PSEUDOSECTION:
; EDNS: version: 0, flags:; udp: 1232
;; AUTHORITY SECTION:
example.test.		300	IN	SOA	ns1.example.test. hostmaster.example.test. 2026112901 7200 3600 1209600 300

`
	r, err := parseDig(out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Status != "NXDOMAIN" || !r.Flags["qr"] || !r.Flags["aa"] || r.Flags["ra"] || len(r.Answer) != 0 ||
		!slices.Equal(r.Authority, []string{"example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 2026112901 7200 3600 1209600 300"}) {
		t.Errorf("parseDig = %+v", r)
	}
	if _, err := parseDig(";; communications error to 198.18.0.2#53: timed out\n"); err == nil {
		t.Error("parseDig accepted output without a response")
	}
}
