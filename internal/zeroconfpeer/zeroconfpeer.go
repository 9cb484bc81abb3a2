// Package zeroconfpeer runs python-zeroconf, a third-party mDNS
// implementation, as the peer of the mDNS tests: the script
// mdns/testdata/peer.py (its usage is at its top) under Debian's python3,
// inside a network namespace the test made. It prints one JSON object per
// line; the commands that keep running print one with "ready" once up.
package zeroconfpeer

import (
	"bufio"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tapdns/tapdns/internal/labtest"
)

// Python is Debian's python3, which has python3-zeroconf (a pyenv python3
// earlier on PATH does not).
const Python = "/usr/bin/python3"

// Require skips the test, or fails it under CI, unless Python can import
// zeroconf.
func Require(t testing.TB) {
	t.Helper()
	if err := exec.Command(Python, "-c", "import zeroconf").Run(); err != nil {
		labtest.SkipOrFailf(t, "%s cannot import zeroconf (scripts/setup.sh installs python3-zeroconf): %v", Python, err)
	}
}

// Script returns the absolute path of peer.py in the module that contains
// the current directory.
func Script(t testing.TB) string {
	t.Helper()
	gomod, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	mod := strings.TrimSpace(string(gomod))
	if mod == "" || mod == os.DevNull {
		t.Fatalf("not inside a Go module (go env GOMOD: %q)", mod)
	}
	return filepath.Join(filepath.Dir(mod), "mdns", "testdata", "peer.py")
}

// Run runs peer.py with args in ns to completion and returns the JSON
// objects it printed.
func Run(t testing.TB, ns *labtest.NS, args ...string) []map[string]any {
	t.Helper()
	out, err := ns.Run(t, append([]string{Python, Script(t)}, args...)...)
	if err != nil {
		t.Fatalf("peer.py %v: %v", args, err)
	}
	return Lines(t, out)
}

// Start starts peer.py with args in ns and waits (at most 10 s) until its
// output has "ready" in it. It runs until it is signalled or the test
// ends.
func Start(t testing.TB, ns *labtest.NS, args ...string) *labtest.Proc {
	t.Helper()
	p := ns.Start(t, append([]string{Python, Script(t)}, args...)...)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(p.Stdout(), "ready") {
		if time.Now().After(deadline) {
			t.Fatalf("peer.py %v not ready: %s %s", args, p.Stdout(), p.Stderr())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return p
}

// Lines parses what peer.py printed: one JSON object per line.
func Lines(t testing.TB, out string) []map[string]any {
	t.Helper()
	var objs []map[string]any
	sc := bufio.NewScanner(strings.NewReader(out))
	for sc.Scan() {
		var o map[string]any
		if err := json.Unmarshal(sc.Bytes(), &o); err != nil {
			t.Fatalf("peer.py printed %q: %v", sc.Text(), err)
		}
		objs = append(objs, o)
	}
	return objs
}

// Strings returns v, a JSON array of strings as Lines decodes it, as a
// []string. It panics, failing the test, if v is anything else.
func Strings(v any) []string {
	var s []string
	for _, x := range v.([]any) {
		s = append(s, x.(string))
	}
	return s
}
