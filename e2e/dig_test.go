package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/tapdns/tapdns/internal/labtest"
)

// digLab puts the appliance (tap0, 198.18.0.2) and a second TAP for
// `tapdns dig` (tapc) on one bridge in a lab namespace whose kernel side
// is 198.18.0.1/24, and starts the appliance with args.
func digLab(t *testing.T, args ...string) (*labtest.NS, string) {
	t.Helper()
	requireLab(t)
	bin := labtest.BuildTapdns(t)
	ns := labtest.NewNS(t, "dig")
	for _, c := range [][]string{
		{"ip", "link", "add", "br0", "type", "bridge"},
		{"ip", "addr", "add", kernel4, "dev", "br0"},
		{"ip", "addr", "add", kernel6, "dev", "br0", "nodad"},
		{"ip", "tuntap", "add", "dev", "tap0", "mode", "tap"},
		{"ip", "tuntap", "add", "dev", "tapc", "mode", "tap"},
		{"ip", "link", "set", "tap0", "master", "br0"},
		{"ip", "link", "set", "tapc", "master", "br0"},
		{"ip", "link", "set", "lo", "up"},
		{"ip", "link", "set", "br0", "up"},
		{"ip", "link", "set", "tap0", "up"},
		{"ip", "link", "set", "tapc", "up"},
	} {
		ns.MustRun(t, c...)
	}
	p := ns.StartTapdns(t, bin, append([]string{"--tap", "tap0", "--ip", appliance4 + "/24", "--ip6", appliance6 + "/64"}, args...)...)
	p.WaitReady(t, appliance4)
	return ns, bin
}

// tapdnsDig runs `tapdns dig` on tapc and returns its output and exit code.
func tapdnsDig(t *testing.T, ns *labtest.NS, bin string, args ...string) (string, int) {
	t.Helper()
	p := ns.Start(t, append([]string{bin, "dig", "--tap", "tapc", "--ip", "198.18.0.3/24", "--ip6", "2001:2::3/64", "--timeout", "1s", "--tries", "2"}, args...)...)
	code, ok := p.Wait(20 * time.Second)
	if !ok {
		t.Fatalf("tapdns dig %q still running after 20 s", args)
	}
	return p.Stdout() + p.Stderr(), code
}

func TestTapdnsDig(t *testing.T) {
	ns, bin := digLab(t, "--zone", testdata(t, "example.zone"))
	t.Run("A over UDP", func(t *testing.T) {
		out, code := tapdnsDig(t, ns, bin, "@"+appliance4, "www.example.test", "A")
		if code != 0 {
			t.Fatalf("exit %d:\n%s", code, out)
		}
		body := out[strings.Index(out, ";; Got answer:"):]
		body = body[:strings.Index(body, ";; Query time")]
		r, err := parseDig(strings.ReplaceAll(body, ";; Got answer:\n", ""))
		if err != nil {
			t.Fatalf("output is not dig's format: %v\n%s", err, out)
		}
		if r.Status != "NOERROR" || !r.Flags["aa"] || !sameRecords(r.Answer, []string{"www.example.test. 3600 IN A 198.18.0.80", "www.example.test. 3600 IN A 198.18.0.81"}) {
			t.Errorf("got %+v", r)
		}
		for _, want := range []string{";; SERVER: 198.18.0.2#53(198.18.0.2) (UDP)", ";; Query time: ", ";; MSG SIZE  rcvd: "} {
			if !strings.Contains(out, want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
	})
	t.Run("TCP, IPv6, +short", func(t *testing.T) {
		out, code := tapdnsDig(t, ns, bin, "@"+appliance6, "mail.example.test", "A", "+tcp", "+short")
		if code != 0 || strings.TrimSpace(out) != "198.18.0.25" {
			t.Errorf("exit %d, output %q; want 0 and 198.18.0.25", code, out)
		}
	})
	t.Run("+norec NXDOMAIN", func(t *testing.T) {
		out, code := tapdnsDig(t, ns, bin, "@"+appliance4, "nope.example.test", "AAAA", "+norec")
		if code != 0 || !strings.Contains(out, "status: NXDOMAIN") || strings.Contains(out, "flags: qr aa rd") {
			t.Errorf("exit %d:\n%s", code, out)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		out, code := tapdnsDig(t, ns, bin, "@198.18.0.99", "www.example.test")
		if code != 1 || !strings.Contains(out, "timed out") {
			t.Errorf("exit %d, output %q; want 1 and a timeout", code, out)
		}
	})
	t.Run("usage", func(t *testing.T) {
		out, code := tapdnsDig(t, ns, bin, "www.example.test")
		if code != 2 || !strings.Contains(out, "no server") {
			t.Errorf("exit %d, output %q; want 2 and no server", code, out)
		}
	})
	if !ns.LinkExists(t, "tapc") {
		t.Error("tapdns dig removed the TAP it did not create")
	}
}
