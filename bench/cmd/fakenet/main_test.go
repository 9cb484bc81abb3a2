package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRun(t *testing.T) {
	dir := t.TempDir()
	if err := run([]string{"-dir", dir, "-bench-zones", "10", "-mix", "100", "-unbound", "198.18.1.2, 2001:2::2", "-kresd", "198.18.1.2"}, io.Discard); err != nil {
		t.Fatal(err)
	}
	mix, err := os.ReadFile(filepath.Join(dir, "mix.txt"))
	if err != nil {
		t.Fatal(err)
	}
	rcodes, err := os.ReadFile(filepath.Join(dir, "mix.txt.rcodes"))
	if err != nil {
		t.Fatal(err)
	}
	ml, rl := strings.Split(strings.TrimSpace(string(mix)), "\n"), strings.Split(strings.TrimSpace(string(rcodes)), "\n")
	if len(ml) != 100 || len(rl) != 100 {
		t.Fatalf("%d queries and %d rcode lines, want 100 each", len(ml), len(rl))
	}
	for i := range ml {
		if f := strings.Fields(rl[i]); len(f) != 3 || f[0]+" "+f[1] != ml[i] || (f[2] != "NOERROR" && f[2] != "NXDOMAIN") {
			t.Fatalf("line %d: query %q, rcode line %q", i+1, ml[i], rl[i])
		}
	}
	for _, f := range []string{"fakenet.env", "root.hints", "expect.txt", "unbound/unbound.conf", "kresd/kresd.conf", "zones/root.zone", "zones/z009.test.zone"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Error(err)
		}
	}
	ub, _ := os.ReadFile(filepath.Join(dir, "unbound/unbound.conf"))
	if !strings.Contains(string(ub), "interface: 2001:2::2@53") || !strings.Contains(string(ub), "root-hints: \""+filepath.Join(dir, "root.hints")) {
		t.Errorf("unbound.conf:\n%s", ub)
	}

	for _, args := range [][]string{
		{},
		{"-dir", dir, "-mix", "10"},
		{"-dir", dir, "-unbound", "not-an-address"},
		{"-dir", dir, "-bench-zones", "501"},
		{"-dir", dir, "-bench-zones", "1", "-mix", "1000"},
		{"-dir", dir, "extra"},
	} {
		if err := run(args, io.Discard); err == nil {
			t.Errorf("run(%q): no error", args)
		}
	}
}
