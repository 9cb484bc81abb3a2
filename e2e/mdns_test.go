package e2e

// --mdns against python-zeroconf (Debian python3-zeroconf), a third-party
// mDNS implementation, on the kernel side of the lab's TAP. The peer runs
// mdns/testdata/peer.py (see its usage) inside the lab namespace.

import (
	"encoding/hex"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tapdns/tapdns/internal/labtest"
	"github.com/tapdns/tapdns/internal/zeroconfpeer"
)

// requireZeroconf skips the test, or fails it under CI, unless the lab
// can run and python-zeroconf is installed.
func requireZeroconf(t *testing.T) {
	t.Helper()
	requireLab(t)
	zeroconfpeer.Require(t)
}

// resolved returns the IPv4 addresses python-zeroconf finds for host.
func resolved(t *testing.T, ns *labtest.NS, host string) []string {
	t.Helper()
	var s []string
	for _, a := range zeroconfpeer.Run(t, ns, "resolve", "198.18.0.1", host)[0]["addrs"].([]any) {
		s = append(s, a.(string))
	}
	return s
}

func TestMDNS(t *testing.T) {
	requireZeroconf(t)
	ns, p := startTapdns(t, "--mdns", "--metrics", metricsAddr)
	listener := zeroconfpeer.Start(t, ns, "listen", "198.18.0.1")

	t.Run("PeerResolvesTapdns", func(t *testing.T) {
		if got := resolved(t, ns, "tapdns.local."); !slices.Equal(got, []string{appliance4}) {
			t.Errorf("python-zeroconf resolved tapdns.local. to %v, want [%s]", got, appliance4)
		}
	})

	t.Run("DNSSDBrowsable", func(t *testing.T) {
		got := zeroconfpeer.Run(t, ns, "browse", "198.18.0.1", "_domain._udp.local.")
		if len(got) != 2 || got[0]["name"] != "tapdns._domain._udp.local." || got[0]["server"] != "tapdns.local." ||
			got[0]["port"] != 53.0 || len(got[0]["addrs"].([]any)) != 1 || got[0]["addrs"].([]any)[0] != appliance4 {
			t.Errorf("browse found %v, want tapdns._domain._udp.local. on tapdns.local. port 53 at %s", got, appliance4)
		}
	})

	t.Run("LegacyQueryOverIPv6", func(t *testing.T) {
		got := zeroconfpeer.Run(t, ns, "legacy6", "tap0", "tapdns.local.", "28")[0]
		if got["timeout"] != nil {
			t.Fatal("no answer to a one-shot query to [ff02::fb]:5353")
		}
		var addrs []string
		for _, a := range got["answers"].([]any) {
			a := a.(map[string]any)
			if a["ttl"].(float64) > 10 || a["flush"] == true {
				t.Errorf("answer %v: want TTL <= 10 and no cache-flush", a)
			}
			if a["type"] == 28.0 {
				addrs = append(addrs, a["data"].(string))
			}
		}
		if got["id"] != float64(0x4242) || len(addrs) != 2 || !strings.Contains(strings.Join(addrs, " "), appliance6) ||
			!strings.Contains(strings.Join(addrs, " "), "fe80::") {
			t.Errorf("one-shot AAAA query: %v, want ID 0x4242, %s and the link-local address", got, appliance6)
		}
	})

	t.Run("DigPeerNames", func(t *testing.T) {
		zeroconfpeer.Start(t, ns, "publish", "198.18.0.1", "printer")
		r := dig(t, ns, appliance4, "printer.local", "A")
		if r.Status != "NOERROR" || len(r.Answer) != 1 || !strings.HasSuffix(r.Answer[0], "IN A 198.18.0.1") {
			t.Fatalf("dig printer.local: %s %v, want the peer's address", r.Status, r.Answer)
		}
		if ttl, err := strconv.Atoi(strings.Fields(r.Answer[0])[1]); err != nil || ttl > 10 {
			t.Errorf("TTL in %q: want at most 10", r.Answer[0])
		}
		// python-zeroconf says by NSEC that printer has no AAAA.
		start := time.Now()
		r = dig(t, ns, appliance4, "printer.local", "AAAA")
		if r.Status != "NOERROR" || len(r.Answer) != 0 {
			t.Errorf("dig printer.local AAAA: %s %v, want NODATA", r.Status, r.Answer)
		}
		if d := time.Since(start); d > 900*time.Millisecond {
			t.Errorf("NODATA took %v: python-zeroconf's NSEC (cached with the A) should answer at once", d)
		}
		r = dig(t, ns, appliance4, "_http._tcp.local", "PTR")
		if len(r.Answer) != 1 || !strings.HasSuffix(r.Answer[0], "PTR printer._http._tcp.local.") {
			t.Errorf("dig _http._tcp.local PTR: %v", r.Answer)
		}
		r = dig(t, ns, appliance4, "nobody-here.local", "A")
		if r.Status != "NXDOMAIN" {
			t.Errorf("dig nobody-here.local: %s, want NXDOMAIN", r.Status)
		}
		r = dig(t, ns, appliance4, "tapdns.local", "A")
		if r.Status != "NOERROR" || len(r.Answer) != 1 || !strings.HasSuffix(r.Answer[0], "IN A "+appliance4) || !r.Flags["aa"] {
			t.Errorf("dig tapdns.local: %s %v %v, want our own address, AA", r.Status, r.Flags, r.Answer)
		}
		r = dig(t, ns, appliance6, "+tcp", "printer.local", "A")
		if len(r.Answer) != 1 {
			t.Errorf("dig +tcp over IPv6: %v", r.Answer)
		}
	})

	t.Run("DroppedAndCounted", func(t *testing.T) {
		ns.MustRun(t, "ip", "addr", "add", "198.19.0.1/32", "dev", "tap0")
		query := "000000000001000000000000" + hex.EncodeToString([]byte("\x06tapdns\x05local\x00")) + "00010001"
		huge := query + strings.Repeat("00", 9100)
		for _, c := range []struct{ src, hex string }{
			{"198.19.0.1", query},
			{"198.18.0.1", "0000000000010000"},
			{"198.18.0.1", huge},
		} {
			zeroconfpeer.Run(t, ns, "send", c.src, c.hex)
		}
		for _, reason := range []string{"off_link", "malformed", "huge"} {
			waitMetric(t, ns, `tapdns_mdns_dropped_total{reason="`+reason+`"}`, func(v float64) bool { return v >= 1 })
		}
		if r := dig(t, ns, appliance4, "tapdns.local", "A"); len(r.Answer) != 1 {
			t.Errorf("not answering after the bad packets: %v", r.Answer)
		}
		m := scrape(t, ns)
		if metric(t, m, "tapdns_mdns_gateway_queries_total") == 0 || metric(t, m, `tapdns_mdns_name_info{name="tapdns.local."}`) != 1 {
			t.Errorf("gateway and name metrics missing")
		}
		// Every probe, announcement and answer went out, on IPv6 too.
		if n := metric(t, m, "tapdns_mdns_send_errors_total"); n != 0 {
			t.Errorf("%v mDNS sends failed", n)
		}
		if n := metric(t, m, `tapdns_mdns_sent_total{kind="announcement"}`); n < 4 {
			t.Errorf("%v announcements sent, want at least 2 on each of IPv4 and IPv6", n)
		}
	})

	t.Run("GoodbyeOnExit", func(t *testing.T) {
		if err := p.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if code, ok := p.Wait(10 * time.Second); !ok || code != 0 {
			t.Fatalf("tapdns exit: %d %v, want 0", code, ok)
		}
		deadline := time.Now().Add(3 * time.Second)
		for {
			var goodbye, announced bool
			for _, o := range zeroconfpeer.Lines(t, listener.Stdout()) {
				if o["src"] != appliance4 {
					continue
				}
				if o["error"] != nil {
					t.Errorf("python-zeroconf could not read a message of ours: %v", o["error"])
				}
				if o["name"] == "tapdns.local." && o["type"] == 1.0 {
					switch o["ttl"] {
					case 0.0:
						goodbye = true
					case 120.0:
						announced = announced || o["flush"] == true
					}
				}
			}
			if goodbye && announced {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("goodbye %v, announcement (TTL 120, cache-flush) %v; heard:\n%s", goodbye, announced, listener.Stdout())
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

func TestMDNSConflict(t *testing.T) {
	requireZeroconf(t)
	requireLab(t)
	bin := labtest.BuildTapdns(t)
	ns := labtest.NewNS(t, "e2e")
	ns.AddTAP(t, "tap0", kernel4, kernel6)
	// The peer holds tapdns.local before tapdns starts.
	zeroconfpeer.Start(t, ns, "defend", "198.18.0.1", "tapdns.local.")
	p := ns.StartTapdns(t, bin, "--tap", "tap0", "--ip", appliance4+"/24", "--ip6", appliance6+"/64", "--mdns", "--mdns-name", "tapdns")
	p.WaitReady(t, appliance4)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Stderr(), "renamed") {
		if time.Now().After(deadline) {
			t.Fatalf("no rename logged:\n%s", p.Stderr())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(p.Stderr(), "new=tapdns-2.local") {
		t.Errorf("rename log does not name tapdns-2.local:\n%s", p.Stderr())
	}
	if got := resolved(t, ns, "tapdns-2.local."); !slices.Equal(got, []string{appliance4}) {
		t.Errorf("python-zeroconf resolved tapdns-2.local. to %v, want [%s]", got, appliance4)
	}
	if r := dig(t, ns, appliance4, "tapdns.local", "A"); len(r.Answer) != 1 || !strings.HasSuffix(r.Answer[0], "IN A 198.18.0.1") {
		t.Errorf("dig tapdns.local: %v, want the peer's address (the gateway asks the link)", r.Answer)
	}
}

// TestMDNSLocalZone: a zone whose origin is local., given with --zone, is
// published on the link by mDNS: python-zeroconf resolves its names, and
// unicast DNS answers them authoritatively from the zone.
func TestMDNSLocalZone(t *testing.T) {
	requireZeroconf(t)
	dir := t.TempDir()
	zf := dir + "/local.zone"
	if err := os.WriteFile(zf, []byte("$ORIGIN local.\n$TTL 120\n@ SOA ns.local. hostmaster.local. 1 3600 600 86400 60\n@ NS ns.local.\nns A 198.18.0.2\nnas A 198.18.0.77\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ns, _ := startTapdns(t, "--mdns", "--zone", zf)
	if got := resolved(t, ns, "nas.local."); !slices.Equal(got, []string{"198.18.0.77"}) {
		t.Errorf("python-zeroconf resolved nas.local. to %v, want [198.18.0.77]", got)
	}
	if r := dig(t, ns, appliance4, "nas.local", "A"); !r.Flags["aa"] || len(r.Answer) != 1 || !strings.HasSuffix(r.Answer[0], "IN A 198.18.0.77") {
		t.Errorf("dig nas.local: %+v, want the zone's answer with AA", r)
	}
}
