package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/miekg/dns"
)

func TestZoneDeterministicAndValid(t *testing.T) {
	dir := t.TempDir()
	gen := func(name string) []byte {
		t.Helper()
		z, q := filepath.Join(dir, name+".zone"), filepath.Join(dir, name+".q")
		if err := run([]string{"-n", "2000", "-seed", "7", "-o", z, "-queries", q, "-nq", "500"}, io.Discard, io.Discard); err != nil {
			t.Fatal(err)
		}
		zb, err := os.ReadFile(z)
		if err != nil {
			t.Fatal(err)
		}
		qb, err := os.ReadFile(q)
		if err != nil {
			t.Fatal(err)
		}
		return append(zb, qb...)
	}
	if a, b := gen("a"), gen("b"); !bytes.Equal(a, b) {
		t.Fatal("same seed gave different output")
	}

	zb, _ := os.ReadFile(filepath.Join(dir, "a.zone"))
	zp := dns.NewZoneParser(bytes.NewReader(zb), "", "a.zone")
	owners := map[string]map[uint16]bool{}
	var last dns.RR
	rrs := 0
	for rr, ok := zp.Next(); ok; rr, ok = zp.Next() {
		rrs++
		h := rr.Header()
		if owners[h.Name] == nil {
			owners[h.Name] = map[uint16]bool{}
		}
		owners[h.Name][h.Rrtype] = true
		last = rr
	}
	if err := zp.Err(); err != nil {
		t.Fatalf("miekg/dns rejects the zone: %v", err)
	}
	if rrs < 3400 || rrs > 4000 {
		t.Errorf("%d RRs for 2000 names, want about 1.8 per name", rrs)
	}
	for name, types := range owners {
		if types[dns.TypeCNAME] && len(types) > 1 {
			t.Errorf("%s: CNAME and other data", name)
		}
	}
	// The header names the last name and its address.
	var hdr string
	for _, l := range strings.Split(string(zb), "\n") {
		if strings.HasPrefix(l, "; last: ") {
			hdr = l
			break
		}
	}
	f := strings.Fields(hdr)
	if len(f) != 5 {
		t.Fatalf("header %q, want \"; last: NAME A ADDR\"", hdr)
	}
	a, ok := owners[f[2]]
	if !ok || !a[dns.TypeA] {
		t.Fatalf("header names %s, which has no A record", f[2])
	}
	if last.Header().Name != f[2] {
		t.Errorf("last owner in the file is %s, header says %s", last.Header().Name, f[2])
	}
	var lastA string
	for _, l := range strings.Split(string(zb), "\n") {
		if fl := strings.Fields(l); len(fl) == 3 && fl[1] == "A" && fl[0]+".bench.test." == f[2] {
			lastA = fl[2]
		}
	}
	if lastA != f[4] {
		t.Errorf("last name's A is %q, header says %q", lastA, f[4])
	}
}
