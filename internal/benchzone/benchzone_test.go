package benchzone

import (
	"bytes"
	"io"
	"strings"
	"testing"
)

func TestQueriesMatchTheirKinds(t *testing.T) {
	var zb bytes.Buffer
	z, err := Write(&zb, 5000, "bench.test.", 1)
	if err != nil {
		t.Fatal(err)
	}
	owners := map[string]bool{}
	for _, l := range strings.Split(zb.String(), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && !strings.HasPrefix(l, ";") && !strings.HasPrefix(l, "$") {
			owners[f[0]+"."+z.Origin] = true
		}
	}
	qs := z.Queries(20000, 1)
	count := map[Kind]int{}
	for _, q := range qs {
		count[q.Kind]++
		rel := strings.TrimSuffix(q.Name, "."+z.Origin)
		var ok bool
		switch q.Kind {
		case KindHost:
			ok = strings.HasPrefix(rel, "h") && owners[q.Name]
		case KindCNAME:
			ok = strings.HasPrefix(rel, "c") && owners[q.Name]
		case KindWild:
			_, parent, _ := strings.Cut(rel, ".")
			ok = owners["*."+parent+"."+z.Origin] && !owners[q.Name]
		case KindDeleg:
			_, cut, _ := strings.Cut(rel, ".")
			ok = owners[cut+"."+z.Origin] && !owners[q.Name]
		case KindNX:
			ok = strings.HasPrefix(rel, "nx") && !owners[q.Name]
		}
		if !ok {
			t.Fatalf("query %s %s has kind %v, which the zone does not bear out", q.Name, q.Type, q.Kind)
		}
	}
	// The documented shares, with room for sampling noise and for picks
	// that fall back to a host.
	for _, tc := range []struct {
		k        Kind
		min, max float64
	}{
		{KindHost, 0.68, 0.74}, {KindCNAME, 0.08, 0.12}, {KindWild, 0.06, 0.10},
		{KindDeleg, 0.05, 0.09}, {KindNX, 0.04, 0.06},
	} {
		if got := float64(count[tc.k]) / float64(len(qs)); got < tc.min || got > tc.max {
			t.Errorf("%v: %.3f of the queries, want %.2f-%.2f", tc.k, got, tc.min, tc.max)
		}
	}
}

func TestDeterministic(t *testing.T) {
	gen := func() []byte {
		var b bytes.Buffer
		z, err := Write(&b, 1000, "bench.test.", 9)
		if err != nil {
			t.Fatal(err)
		}
		if err := z.WriteQueries(&b, 1000, 9); err != nil {
			t.Fatal(err)
		}
		return b.Bytes()
	}
	if !bytes.Equal(gen(), gen()) {
		t.Error("the same seed gave different bytes")
	}
}

func TestWriteErrors(t *testing.T) {
	for _, tc := range []struct {
		n      int
		origin string
	}{{0, "bench.test."}, {10, "bench.test"}, {10, "."}} {
		if _, err := Write(io.Discard, tc.n, tc.origin, 1); err == nil {
			t.Errorf("Write(%d, %q): no error", tc.n, tc.origin)
		}
	}
}
