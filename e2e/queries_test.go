package e2e

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tapdns/tapdns/internal/labtest"
	"github.com/tapdns/tapdns/internal/peerconf"
)

// query is one dig invocation against testdata/example.zone and what the
// response must hold.
type query struct {
	name   string
	server string   // appliance4 when empty
	args   []string // dig's name, type and options
	status string
	aa     bool
	answer []string
	// authority and additional are compared only when non-nil: what a
	// positive answer adds there is policy (NSD adds the apex NS and their
	// addresses, Knot does not).
	authority, additional []string
}

const soa = "example.test. 300 IN SOA ns1.example.test. hostmaster.example.test. 2026112901 7200 3600 1209600 300"

var none = []string{}

var queries = []query{
	{name: "A", args: []string{"www.example.test", "A"}, status: "NOERROR", aa: true,
		answer: []string{"www.example.test. 3600 IN A 198.18.0.80", "www.example.test. 3600 IN A 198.18.0.81"}},
	{name: "AAAA", args: []string{"www.example.test", "AAAA"}, status: "NOERROR", aa: true,
		answer: []string{"www.example.test. 3600 IN AAAA 2001:2::80"}},
	{name: "MX", args: []string{"example.test", "MX"}, status: "NOERROR", aa: true,
		answer: []string{"example.test. 3600 IN MX 10 mail.example.test.", "example.test. 3600 IN MX 20 mail2.example.test."}},
	{name: "TXT", args: []string{"txt.example.test", "TXT"}, status: "NOERROR", aa: true,
		answer: []string{`txt.example.test. 3600 IN TXT "first string" "second string"`, `txt.example.test. 3600 IN TXT "single"`}},
	{name: "case insensitive", args: []string{"txt.example.test", "txt"}, status: "NOERROR", aa: true,
		answer: []string{`txt.example.test. 3600 IN TXT "first string" "second string"`, `txt.example.test. 3600 IN TXT "single"`}},
	{name: "own TTL", args: []string{"mail2.example.test", "A"}, status: "NOERROR", aa: true,
		answer: []string{"mail2.example.test. 600 IN A 198.18.0.26"}},
	{name: "NXDOMAIN", args: []string{"nosuch.example.test", "A"}, status: "NXDOMAIN", aa: true,
		answer: none, authority: []string{soa}, additional: none},
	{name: "NODATA", args: []string{"www.example.test", "MX"}, status: "NOERROR", aa: true,
		answer: none, authority: []string{soa}, additional: none},
	{name: "empty non-terminal", args: []string{"ent.example.test", "A"}, status: "NOERROR", aa: true,
		answer: none, authority: []string{soa}, additional: none},
	{name: "REFUSED outside the zones", args: []string{"www.other.test", "A"}, status: "REFUSED", aa: false,
		answer: none, authority: none, additional: none},
	{name: "delegation", args: []string{"www.sub.example.test", "A"}, status: "NOERROR", aa: false,
		answer:    none,
		authority: []string{"sub.example.test. 3600 IN NS ns.sub.example.test.", "sub.example.test. 3600 IN NS ns2.sub.example.test."},
		additional: []string{"ns.sub.example.test. 3600 IN A 198.18.2.53", "ns.sub.example.test. 3600 IN AAAA 2001:2::53",
			"ns2.sub.example.test. 3600 IN A 198.18.2.54"}},
	{name: "CNAME", args: []string{"alias.example.test", "A"}, status: "NOERROR", aa: true,
		answer: []string{"alias.example.test. 3600 IN CNAME www.example.test.",
			"www.example.test. 3600 IN A 198.18.0.80", "www.example.test. 3600 IN A 198.18.0.81"}},
	{name: "wildcard", args: []string{"x.y.wild.example.test", "A"}, status: "NOERROR", aa: true,
		answer: []string{"x.y.wild.example.test. 3600 IN A 198.18.0.99"}},
	{name: "wildcard NODATA", args: []string{"x.wild.example.test", "AAAA"}, status: "NOERROR", aa: true,
		answer: none, authority: []string{soa}},
	{name: "no wildcard over an existing name", args: []string{"exact.wild.example.test", "TXT"}, status: "NOERROR", aa: true,
		answer: none, authority: []string{soa}},
	{name: "TCP", args: []string{"www.example.test", "A", "+tcp"}, status: "NOERROR", aa: true,
		answer: []string{"www.example.test. 3600 IN A 198.18.0.80", "www.example.test. 3600 IN A 198.18.0.81"}},
	{name: "TCP NXDOMAIN", args: []string{"nosuch.example.test", "TXT", "+tcp"}, status: "NXDOMAIN", aa: true,
		answer: none, authority: []string{soa}},
	{name: "IPv6 transport", server: appliance6, args: []string{"ns1.example.test", "AAAA"}, status: "NOERROR", aa: true,
		answer: []string{"ns1.example.test. 3600 IN AAAA 2001:2::2"}},
	{name: "IPv6 transport TCP", server: appliance6, args: []string{"www.example.test", "A", "+tcp"}, status: "NOERROR", aa: true,
		answer: []string{"www.example.test. 3600 IN A 198.18.0.80", "www.example.test. 3600 IN A 198.18.0.81"}},
	{name: "no EDNS", args: []string{"www.example.test", "AAAA", "+noedns"}, status: "NOERROR", aa: true,
		answer: []string{"www.example.test. 3600 IN AAAA 2001:2::80"}},
}

// runQueries runs the table against a server in ns.
func runQueries(t *testing.T, ns *labtest.NS) {
	for _, q := range queries {
		t.Run(q.name, func(t *testing.T) {
			server := q.server
			if server == "" {
				server = appliance4
			}
			r := dig(t, ns, server, q.args...)
			desc := "dig @" + server + " " + strings.Join(q.args, " ")
			if r.Status != q.status {
				t.Errorf("%s: status %s, want %s", desc, r.Status, q.status)
			}
			if !r.Flags["qr"] || r.Flags["aa"] != q.aa || r.Flags["tc"] || r.Flags["ra"] {
				t.Errorf("%s: flags %v, want qr, aa=%v, no tc, no ra", desc, r.Flags, q.aa)
			}
			check := func(section string, got, want []string) {
				if want != nil && !sameRecords(got, want) {
					t.Errorf("%s: %s section:\ngot  %q\nwant %q", desc, section, got, want)
				}
			}
			check("answer", r.Answer, q.answer)
			check("authority", r.Authority, q.authority)
			check("additional", r.Additional, q.additional)
		})
	}
}

// TestQueries runs the table against tapdns with and without the link-layer
// fast path, and pings it over IPv4 and IPv6.
func TestQueries(t *testing.T) {
	requireLab(t)
	for _, fast := range []bool{true, false} {
		t.Run(fmt.Sprintf("fastpath=%v", fast), func(t *testing.T) {
			t.Parallel()
			ns, p := startTapdns(t, "--zone", testdata(t, "example.zone"), fmt.Sprintf("--fastpath=%v", fast), "--log-format", "json")
			runQueries(t, ns)
			ping(t, ns)

			// The mode took effect: the fast path answered the plain UDP
			// queries, or none at all.
			stopWithin(t, p, syscall.SIGTERM)
			stats := stoppedStats(t, p)
			fastAnswered, udp := stats["FastAnswered"], stats["UDPQueries"]
			if fast && (fastAnswered == 0 || udp != 0) {
				t.Errorf("--fastpath=true: FastAnswered=%v UDPQueries=%v, want plain UDP queries answered on the fast path", fastAnswered, udp)
			}
			if !fast && (fastAnswered != 0 || udp == 0) {
				t.Errorf("--fastpath=false: FastAnswered=%v UDPQueries=%v, want every UDP query through gVisor", fastAnswered, udp)
			}
		})
	}
}

// stoppedStats returns the counters tapdns logs as JSON when it stops
// (netstack.Stats).
func stoppedStats(t *testing.T, p *labtest.Proc) map[string]float64 {
	t.Helper()
	for line := range strings.Lines(p.Stderr()) {
		var rec struct {
			Msg   string
			Stats map[string]float64
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "stopped" && rec.Stats != nil {
			return rec.Stats
		}
	}
	t.Fatalf("no \"stopped\" line with stats in stderr:\n%s", p.Stderr())
	return nil
}

// ping checks that the appliance answers ICMP and ICMPv6 echo.
func ping(t *testing.T, ns *labtest.NS) {
	t.Helper()
	for _, addr := range []string{appliance4, appliance6} {
		t.Run("ping "+addr, func(t *testing.T) {
			labtest.RequireTools(t, "ping") // iputils-ping
			// -w: wait up to 5 s for all 3 replies (without it, ping gives up
			// on a late reply after about twice the largest RTT so far).
			out, err := ns.Run(t, "ping", "-c", "3", "-i", "0.2", "-w", "5", addr)
			if err != nil {
				t.Fatalf("ping %s: %v\n%s", addr, err, out)
			}
			if !strings.Contains(out, "3 received") {
				t.Errorf("ping %s: want 3 replies:\n%s", addr, out)
			}
		})
	}
}

// TestQueriesNSD runs the same table against NSD, the reference this project
// is held to, so that the table's expectations are themselves checked. NSD
// listens on the appliance addresses placed on lo inside the namespace.
func TestQueriesNSD(t *testing.T) {
	requireLab(t)
	labtest.RequireTools(t, "nsd")
	dir := t.TempDir()
	conf := filepath.Join(dir, "nsd.conf")
	err := os.WriteFile(conf, []byte(peerconf.NSD{
		Dir:    dir,
		Listen: []netip.AddrPort{netip.AddrPortFrom(netip.MustParseAddr(appliance4), 53), netip.AddrPortFrom(netip.MustParseAddr(appliance6), 53)},
		Server: []string{"rrl-ratelimit: 0"},
		Zones:  []peerconf.Zone{{Name: "example.test.", File: testdata(t, "example.zone")}},
	}.String()), 0o644)
	if err != nil {
		t.Fatal(err)
	}
	ns := labtest.NewNS(t, "nsd")
	ns.MustRun(t, "ip", "link", "set", "lo", "up")
	ns.MustRun(t, "ip", "addr", "add", appliance4+"/32", "dev", "lo")
	ns.MustRun(t, "ip", "addr", "add", appliance6+"/128", "dev", "lo", "nodad")
	p := ns.Start(t, "nsd", "-d", "-c", conf)
	p.WaitReady(t, appliance4)
	p.WaitReady(t, appliance6)
	runQueries(t, ns)
	if err := p.Signal(os.Interrupt); err == nil {
		p.Wait(5 * time.Second)
	}
}
