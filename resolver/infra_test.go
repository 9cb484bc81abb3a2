package resolver

import (
	"net/netip"
	"testing"
	"time"
)

func TestInfraPick(t *testing.T) {
	a := netip.MustParseAddrPort("198.18.0.1:53")
	b := netip.MustParseAddrPort("198.18.0.2:53")
	c := netip.MustParseAddrPort("198.18.0.3:53")
	zone := []byte("\x04test\x00")
	none := func(netip.AddrPort) bool { return false }
	count := func(i *infra, addrs []netip.AddrPort, skip func(netip.AddrPort) bool) map[netip.AddrPort]int {
		n := map[netip.AddrPort]int{}
		for range 200 {
			got, _ := i.pick(addrs, zone, skip, defaultInitialRTO)
			n[got]++
		}
		return n
	}

	// Unknown servers are all within the band: each is chosen.
	i := newInfra()
	if n := count(i, []netip.AddrPort{a, b, c}, none); n[a] == 0 || n[b] == 0 || n[c] == 0 {
		t.Errorf("unknown servers: %v, want each chosen", n)
	}
	// A fast server beats a slow one by more than the band: always it.
	i.sample(a, 10*time.Millisecond)
	i.sample(b, 900*time.Millisecond)
	if n := count(i, []netip.AddrPort{a, b}, none); n[a] != 200 {
		t.Errorf("fast and slow: %v, want the fast one only", n)
	}
	// Lame for the zone: skipped, for that zone only.
	i.markLame(a, zone)
	if n := count(i, []netip.AddrPort{a, b}, none); n[a] != 0 {
		t.Errorf("lame server chosen %d times", n[a])
	}
	if got, _ := i.pick([]netip.AddrPort{a, b}, []byte("\x05other\x00"), none, defaultInitialRTO); got != a {
		t.Errorf("lame for test. but asked for other.: got %v", got)
	}
	// Skipped (already tried) servers are not chosen; none left: invalid.
	if got, _ := i.pick([]netip.AddrPort{a, b}, zone, func(x netip.AddrPort) bool { return x == b }, defaultInitialRTO); got.IsValid() {
		t.Errorf("all lame or tried: got %v", got)
	}
}

func TestInfraBackoff(t *testing.T) {
	a := netip.MustParseAddrPort("198.18.0.1:53")
	b := netip.MustParseAddrPort("198.18.0.2:53")
	none := func(netip.AddrPort) bool { return false }
	i := newInfra()
	i.sample(a, time.Millisecond)
	rtos := []time.Duration{}
	for range deadAfter {
		i.timeout(a, defaultInitialRTO)
		_, rto := i.pick([]netip.AddrPort{a}, nil, none, defaultInitialRTO)
		rtos = append(rtos, rto)
	}
	// The timeout doubles: 50ms (the floor) -> 100 -> 200 -> 400.
	want := []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond}
	for k := range want {
		if rtos[k] != want[k] {
			t.Errorf("RTO after %d timeouts: %v, want %v", k+1, rtos[k], want[k])
		}
	}
	// Backed off: the other server, even if slow, is chosen...
	i.sample(b, 2*time.Second)
	if got, _ := i.pick([]netip.AddrPort{a, b}, nil, none, defaultInitialRTO); got != b {
		t.Errorf("backed-off server chosen over a live one")
	}
	// ...but a backed-off server is still asked when it is the only one.
	if got, _ := i.pick([]netip.AddrPort{a}, nil, none, defaultInitialRTO); got != a {
		t.Errorf("only server in backoff not chosen")
	}
	// An answer ends the backoff.
	i.sample(a, time.Millisecond)
	if got, _ := i.pick([]netip.AddrPort{a, b}, nil, none, defaultInitialRTO); got != a {
		t.Errorf("server not back after an answer")
	}
	st := i.snapshot(defaultInitialRTO)
	if len(st) != 2 || st[0].Addr != a || st[0].Timeouts != deadAfter || st[0].Queries != deadAfter+2 {
		t.Errorf("snapshot %+v", st)
	}
}
