package xfr

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tapdns/tapdns/dnswire"
	"github.com/tapdns/tapdns/zone"
)

// parseZone compiles zone file text.
func parseZone(t testing.TB, origin, text string) *zone.Zone {
	t.Helper()
	z, err := zone.Parse(strings.NewReader(text), "test.zone", origin)
	if err != nil {
		t.Fatalf("parse zone %s: %v", origin, err)
	}
	return z
}

// exampleZone returns a small zone at serial with extra lines appended.
func exampleZone(t testing.TB, serial uint32, extra ...string) *zone.Zone {
	t.Helper()
	text := fmt.Sprintf(`$ORIGIN example.
$TTL 300
@	3600 IN SOA ns1 hostmaster %d 2 1 3600 60
	IN NS ns1
	IN NS ns2.Example.
	IN MX 10 mail
ns1	IN A 198.18.0.53
ns2	IN A 198.18.0.54
mail	IN A 198.18.0.25
www	IN A 198.18.0.80
	IN AAAA 2001:db8::80
alias	IN CNAME www
txt	IN TXT "hello" "world"
sub	IN NS ns.sub
ns.sub	IN A 198.18.1.1
`, serial)
	return parseZone(t, "example.", text+strings.Join(extra, "\n")+"\n")
}

// zoneText lists a zone's records in presentation format, SOA first, the
// rest sorted: two zones with the same content give the same text.
func zoneText(z *zone.Zone) []string {
	var out []string
	z.Walk(func(owner []byte, typ uint16, ttl uint32, rdata []byte) bool {
		rr := RR{Owner: owner, Type: typ, Class: dnswire.ClassIN, TTL: ttl, Rdata: rdata}
		out = append(out, rrText(&rr))
		return true
	})
	slices.Sort(out[1:])
	return out
}

func sameZone(t testing.TB, got, want *zone.Zone) {
	t.Helper()
	g, w := zoneText(got), zoneText(want)
	if slices.Equal(g, w) {
		return
	}
	in := func(l []string) map[string]bool {
		m := map[string]bool{}
		for _, s := range l {
			m[s] = true
		}
		return m
	}
	gm, wm := in(g), in(w)
	var diff []string
	for _, s := range g {
		if !wm[s] {
			diff = append(diff, "+ "+s)
		}
	}
	for _, s := range w {
		if !gm[s] {
			diff = append(diff, "- "+s)
		}
	}
	if len(diff) > 20 {
		diff = append(diff[:20], "...")
	}
	t.Errorf("zones differ (%d vs %d records; + got, - want):\n%s", len(g), len(w), strings.Join(diff, "\n"))
}

// capture is a MsgWriter that keeps copies of the messages written.
type capture struct {
	mu   sync.Mutex
	msgs [][]byte
}

func (c *capture) WriteMsg(m []byte) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.msgs = append(c.msgs, bytes.Clone(m))
	return nil
}
