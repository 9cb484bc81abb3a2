package xfr

import (
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/tapdns/tapdns/dnssvc"
	"github.com/tapdns/tapdns/tsig"
	"github.com/tapdns/tapdns/zone"
)

const testSecret = "c2VjcmV0LWtleS1mb3ItdGFwZG5zLXRlc3RzLTAxMjM0NTY3ODk="

func testKeys(t testing.TB) (*tsig.Keyring, *tsig.Key) {
	t.Helper()
	k, err := tsig.ParseKey("xfr-key:hmac-sha256:" + testSecret)
	if err != nil {
		t.Fatal(err)
	}
	other, _ := tsig.ParseKey("other-key:hmac-sha256:" + testSecret)
	r, err := tsig.NewKeyring(k, other)
	if err != nil {
		t.Fatal(err)
	}
	return r, k
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug})).With("test", t.Name())
	}
	return nil
}

func mustSet(t testing.TB, zones ...*zone.Zone) *zone.Set {
	t.Helper()
	s, err := zone.NewSet(zones...)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// primary is a tapdns-like primary on loopback: zone files shown to an xfr
// Service, served by dnssvc.
type primary struct {
	ts  *testServer
	svc *dnssvc.Server
	x   *Service
	set *zone.Set
}

func startPrimary(t testing.TB, e env, cfg Config, zones ...*zone.Zone) *primary {
	t.Helper()
	p := &primary{ts: startServer(t, e.listen, "127.0.0.1")}
	x, err := New(cfg, e.net, nil, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	p.x = x
	p.set = mustSet(t, zones...)
	p.svc = dnssvc.New(dnssvc.Config{TSIG: cfg.Keys, Transfers: x}, p.set, nil)
	x.ZonesChanged(nil, p.set)
	p.ts.set(p.svc)
	runService(t, x)
	return p
}

// reload replaces the primary's zones, as a SIGHUP does.
func (p *primary) reload(t testing.TB, zones ...*zone.Zone) {
	old := p.set
	p.set = mustSet(t, zones...)
	p.svc.SetZones(p.set)
	p.x.ZonesChanged(old, p.set)
}

type secondaryServer struct {
	ts  *testServer
	svc *dnssvc.Server
	x   *Service
}

// startSecondary starts a secondary Service on ts (started beforehand, so
// that its address can be a NOTIFY target) with cfg.
func startSecondary(t testing.TB, e env, ts *testServer, cfg Config) *secondaryServer {
	t.Helper()
	s := &secondaryServer{ts: ts}
	c := newComposer()
	x, err := New(cfg, e.net, c.install, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	s.x = x
	s.svc = dnssvc.New(dnssvc.Config{TSIG: cfg.Keys, Transfers: x}, nil, nil)
	c.attach(s.svc)
	ts.set(s.svc)
	runService(t, x)
	return s
}

func zoneStats(x *Service, name string) ZoneStats {
	for _, st := range x.Stats() {
		if st.Zone == name {
			return st
		}
	}
	return ZoneStats{}
}

// TestPrimarySecondary runs a tapdns primary and a tapdns secondary on
// loopback with a TSIG key: the secondary pulls by AXFR, a reload on the
// primary reaches it by NOTIFY and IXFR, unsigned and wrongly signed
// transfers are refused, and a restart from the state directory serves the
// zone with the primary gone.
func TestPrimarySecondary(t *testing.T) {
	keys, key := testKeys(t)
	secTS := startServer(t, loopback, "127.0.0.1")
	v1 := exampleZone(t, 1)
	p := startPrimary(t, loopbackEnv, Config{Keys: keys, AllowTransfer: ACL{{Key: key.Name}},
		Notify: []Remote{{Addr: secTS.Addr, Key: key}}}, v1)

	state := t.TempDir()
	scfg := Config{Keys: keys, StateDir: state,
		Secondaries: []Remote{{Zone: []byte("\x07example\x00"), Addr: p.ts.Addr, Key: key}}}
	s := startSecondary(t, loopbackEnv, secTS, scfg)

	waitSerial(t, loopbackEnv, secTS.Addr, "example.", 1, 10*time.Second)
	if st := zoneStats(s.x, "example."); st.XfrInAXFR != 1 || !st.Loaded {
		t.Errorf("after the first pull: %+v, want one AXFR", st)
	}
	r, err := query(t, loopbackEnv, secTS.Addr, "www.example.", dns.TypeA)
	if err != nil || len(r.Answer) != 1 || !r.Authoritative {
		t.Fatalf("www.example. A from the secondary: %v %v", r, err)
	}

	// A one-record change reaches the secondary by NOTIFY and IXFR.
	v2 := exampleZone(t, 2, "new IN A 198.18.0.99")
	start := time.Now()
	p.reload(t, v2)
	waitSerial(t, loopbackEnv, secTS.Addr, "example.", 2, 10*time.Second)
	t.Logf("reload to serial 2 served by the secondary in %v", time.Since(start))
	if st := zoneStats(s.x, "example."); st.XfrInIXFR != 1 || st.NotifyReceived < 1 {
		t.Errorf("after the change: %+v, want one IXFR after a NOTIFY", st)
	}
	if st := zoneStats(p.x, "example."); st.XfrOutIXFR != 1 || st.NotifySent < 1 {
		t.Errorf("primary: %+v, want one IXFR served and a NOTIFY acknowledged", st)
	}
	if r, err := query(t, loopbackEnv, secTS.Addr, "new.example.", dns.TypeA); err != nil || len(r.Answer) != 1 {
		t.Errorf("new.example. A from the secondary: %v %v", r, err)
	}

	// Transfers: unsigned refused, unknown key NOTAUTH/BADKEY, the right
	// key gives exactly the zone.
	unsigned := new(dns.Msg)
	unsigned.SetAxfr("example.")
	if r, err := exchange(t, loopbackEnv, p.ts.Addr, unsigned, true, nil); err != nil || r.Rcode != dns.RcodeRefused {
		t.Errorf("unsigned AXFR: %v %v, want REFUSED", r, err)
	}
	bad := new(dns.Msg)
	bad.SetAxfr("example.")
	bad.SetTsig("nokey.", dns.HmacSHA256, 300, time.Now().Unix())
	if r, err := exchange(t, loopbackEnv, p.ts.Addr, bad, true, map[string]string{"nokey.": testSecret}); r == nil || r.Rcode != dns.RcodeNotAuth || r.IsTsig() == nil || r.IsTsig().Error != dns.RcodeBadKey {
		t.Errorf("AXFR with an unknown key: %v %v, want NOTAUTH/BADKEY", r, err)
	}
	rrs, err := axfr(t, loopbackEnv, p.ts.Addr, "example.", "xfr-key.", testSecret)
	if err != nil {
		t.Fatalf("signed AXFR: %v", err)
	}
	sameRecords(t, rrs, v2)
	// The secondary serves the same zone, and the restart below too.
	sec2 := s.x.Stats()[0]
	if sec2.Serial != 2 {
		t.Errorf("stats serial = %d", sec2.Serial)
	}
	// Saved after the zone is served: wait for the last file.
	waitFor(t, 5*time.Second, "state files", func() error {
		for _, f := range []string{"example.zone", "example.meta", "example.journal"} {
			if _, err := os.Stat(filepath.Join(state, f)); err != nil {
				return err
			}
		}
		m, err := readMetaFile(filepath.Join(state, "example.meta"))
		if err == nil && m.Serial != 2 {
			err = fmt.Errorf("meta serial %d", m.Serial)
		}
		return err
	})

	// Restart from the state directory, the primary unreachable.
	restartTS := startServer(t, loopback, "127.0.0.1")
	dead := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 9) // discard: nothing answers
	rcfg := scfg
	rcfg.Secondaries = []Remote{{Zone: []byte("\x07example\x00"), Addr: dead, Key: key}}
	s2 := startSecondary(t, loopbackEnv, restartTS, rcfg)
	got, rcode, err := serialOf(t, loopbackEnv, restartTS.Addr, "example.")
	if err != nil || got != 2 {
		t.Fatalf("restarted secondary: serial %d rcode %d err %v, want serial 2 at once", got, rcode, err)
	}
	sameZone(t, s2.svc.Zones().Zones()[0], v2)
}

// TestNeverLoadedAndExpiry: a secondary that never reached its primary
// answers SERVFAIL; one whose primary goes away serves until the SOA
// expire time and then answers SERVFAIL too.
func TestNeverLoadedAndExpiry(t *testing.T) {
	dead := netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), 9)
	ts := startServer(t, loopback, "127.0.0.1")
	startSecondary(t, loopbackEnv, ts, Config{Secondaries: []Remote{{Zone: []byte("\x07example\x00"), Addr: dead}}})
	for _, name := range []string{"example.", "www.example."} {
		r, err := query(t, loopbackEnv, ts.Addr, name, dns.TypeA)
		if err != nil || r.Rcode != dns.RcodeServerFailure {
			t.Errorf("%s before any transfer: %v %v, want SERVFAIL", name, r, err)
		}
	}
	if r, err := query(t, loopbackEnv, ts.Addr, "other.", dns.TypeA); err != nil || r.Rcode != dns.RcodeRefused {
		t.Errorf("a name outside: %v %v, want REFUSED", r, err)
	}

	// Refresh 2 s, retry 2 s, expire 3 s (the bounds are 2 s).
	text := strings.Replace(exampleZoneText(7), "2 1 3600 60", "2 2 3 60", 1)
	z := parseZone(t, "example.", text)
	p := startPrimary(t, loopbackEnv, Config{AllowTransfer: ACL{{Prefix: netip.MustParsePrefix("127.0.0.0/8")}}}, z)
	ts2 := startServer(t, loopback, "127.0.0.1")
	startSecondary(t, loopbackEnv, ts2, Config{Secondaries: []Remote{{Zone: []byte("\x07example\x00"), Addr: p.ts.Addr}}})
	waitFor(t, 10*time.Second, "secondary serves serial 7", func() error {
		_, _, err := serialOf(t, loopbackEnv, ts2.Addr, "example.")
		return err
	})
	p.ts.close() // the primary goes away
	waitFor(t, 10*time.Second, "expiry", func() error {
		r, err := query(t, loopbackEnv, ts2.Addr, "www.example.", dns.TypeA)
		if err == nil && r.Rcode != dns.RcodeServerFailure {
			err = fmt.Errorf("rcode %s", dns.RcodeToString[r.Rcode])
		}
		return err
	})
}

// sameRecords checks that an AXFR (miekg/dns records, the closing SOA
// included) holds exactly the records of z.
func sameRecords(t testing.TB, rrs []dns.RR, z *zone.Zone) {
	t.Helper()
	if len(rrs) < 2 {
		t.Fatalf("AXFR of %d records", len(rrs))
	}
	if rrs[0].String() != rrs[len(rrs)-1].String() || rrs[0].Header().Rrtype != dns.TypeSOA {
		t.Errorf("AXFR does not start and end with the same SOA: %v ... %v", rrs[0], rrs[len(rrs)-1])
	}
	got := []string{rrs[0].String()}
	for _, rr := range rrs[1 : len(rrs)-1] {
		got = append(got, rr.String())
	}
	slices.Sort(got[1:])
	want := zoneText(z)
	if !slices.Equal(got, want) {
		t.Errorf("AXFR differs from the zone:\ngot:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func exampleZoneText(serial uint32) string {
	return fmt.Sprintf(`$ORIGIN example.
$TTL 300
@	3600 IN SOA ns1 hostmaster %d 2 1 3600 60
	IN NS ns1
ns1	IN A 198.18.0.53
www	IN A 198.18.0.80
`, serial)
}
